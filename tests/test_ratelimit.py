"""Unit tests for tap_museumcms.ratelimit: no sockets, no real sleeping (FakeClock)."""

from __future__ import annotations

import calendar
import math
import random
from collections import deque
from email.utils import formatdate

import pytest
from fakeclock import FakeClock
from requests.structures import CaseInsensitiveDict

from tap_museumcms.ratelimit import (
    RETRYABLE_STATUS,
    Pacer,
    RateLimitBudget,
    RetryPolicy,
    is_retryable_status,
    parse_rate_limit,
    parse_retry_after,
)

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z, FakeClock's default start
# 784111777 is the epoch of RFC 9110's example date, Sun, 06 Nov 1994 08:49:37 GMT.
EXAMPLE_EPOCH = calendar.timegm((1994, 11, 6, 8, 49, 37, 0, 0, 0))


# ------------------------------------------------------------------------------------------
# Retry-After
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("0", 0.0),
        ("  7 ", 7.0),
        ("1.5", 1.5),
        ("100000", 300.0),  # clamped to max_seconds
        ("9" * 400, 300.0),  # absurdly large still clamps, does not raise
        (None, None),
        ("", None),
        ("   ", None),
        ("-5", None),
        ("1e3", None),
        ("120s", None),
        ("soon", None),
        ("12:00", None),
        ("Sun, 06 Nov 1994", None),  # a date without a time is not an HTTP-date
        ("Mon, 32 Jan 2026 00:00:00 GMT", None),  # day 32
        ("Tue, 30 Feb 2027 00:00:00 GMT", None),  # rolled over silently by timegm otherwise
    ],
)
def test_retry_after_delta_seconds_and_garbage(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=NOW, max_seconds=300.0) == expected


def _http_dates(epoch: int) -> dict[str, str]:
    """The same instant in the three HTTP-date forms of RFC 9110."""
    imf = formatdate(epoch, usegmt=True)  # "Fri, 15 Jan 2027 08:00:30 GMT"
    weekday, day, month, year, clock_time, _ = imf.replace(",", "").split()
    long_days = {
        "Mon": "Monday",
        "Tue": "Tuesday",
        "Wed": "Wednesday",
        "Thu": "Thursday",
        "Fri": "Friday",
        "Sat": "Saturday",
        "Sun": "Sunday",
    }
    return {
        "imf-fixdate": imf,
        "rfc850": f"{long_days[weekday]}, {day}-{month}-{year[2:]} {clock_time} GMT",
        "asctime": f"{weekday} {month} {int(day):2d} {clock_time} {year}",
    }


@pytest.mark.parametrize("form", ["imf-fixdate", "rfc850", "asctime"])
@pytest.mark.parametrize(
    ("offset", "expected"),
    [(30, 30.0), (299, 299.0), (3600, 300.0), (0, 0.0), (-1, 0.0), (-86400 * 400, 0.0)],
)
def test_retry_after_http_date_forms(form: str, offset: int, expected: float) -> None:
    value = _http_dates(int(NOW) + offset)[form]
    assert parse_retry_after(value, now=NOW, max_seconds=300.0) == expected


def test_retry_after_rfc9110_examples_with_fractional_now() -> None:
    # The three examples of RFC 9110 section 5.6.7, all the same instant.
    for value in (
        "Sun, 06 Nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994",
    ):
        got = parse_retry_after(value, now=EXAMPLE_EPOCH - 10.25, max_seconds=300.0)
        assert got == pytest.approx(10.25), value


def test_retry_after_rfc850_two_digit_year_uses_the_50_year_rule() -> None:
    # Now is January 2027: "-77" is 2077 (50 years ahead at most), "-78" is 1978, not 2078.
    in_2077 = "Friday, 01-Jan-77 00:00:00 GMT"
    in_1978 = "Sunday, 01-Jan-78 00:00:00 GMT"
    far = parse_retry_after(in_2077, now=NOW, max_seconds=math.inf)
    assert far == calendar.timegm((2077, 1, 1, 0, 0, 0, 0, 0, 0)) - NOW
    assert parse_retry_after(in_1978, now=NOW, max_seconds=math.inf) == 0.0
    # The same two digits read a century earlier when "now" is in 1990.
    then = calendar.timegm((1990, 6, 1, 0, 0, 0, 0, 0, 0))
    assert parse_retry_after(in_2077, now=then, max_seconds=math.inf) == 0.0


def test_retry_after_respects_a_numeric_zone_offset() -> None:
    # 09:00:30 +0100 is 08:00:30 GMT, i.e. NOW + 30.
    value = formatdate(NOW + 30 + 3600, usegmt=True).replace("GMT", "+0100")
    assert parse_retry_after(value, now=NOW, max_seconds=300.0) == 30.0


# ------------------------------------------------------------------------------------------
# Rate-limit headers
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param(
            {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "42", "X-RateLimit-Reset": "30"},
            RateLimitBudget(100, 42, NOW + 30),
            id="x-delta",
        ),
        pytest.param(
            {"x-ratelimit-remaining": "0", "X-RATELIMIT-RESET": "1800000060"},
            RateLimitBudget(None, 0, 1_800_000_060.0),
            id="x-epoch-no-limit-any-case",
        ),
        pytest.param(
            {"X-RateLimit-Remaining": "5", "X-RateLimit-Reset": "1800000060500"},
            RateLimitBudget(None, 5, 1_800_000_060.5),
            id="x-epoch-milliseconds",
        ),
        pytest.param(
            {"X-RateLimit-Remaining": "5", "X-RateLimit-Reset": str(10**9)},
            RateLimitBudget(None, 5, NOW + 10**9),
            id="threshold-itself-is-delta",
        ),
        pytest.param(
            {"X-RateLimit-Remaining": "5", "X-RateLimit-Reset": "2.5"},
            RateLimitBudget(None, 5, NOW + 2.5),
            id="x-fractional-delta",
        ),
        pytest.param(
            {"X-RateLimit-Remaining": "-3", "X-RateLimit-Reset": "10", "X-RateLimit-Limit": "x"},
            RateLimitBudget(None, 0, NOW + 10),
            id="negative-remaining-garbled-limit",
        ),
        pytest.param(
            {"X-Rate-Limit-Remaining": "7", "X-Rate-Limit-Reset": "9"},
            RateLimitBudget(None, 7, NOW + 9),
            id="x-rate-limit-spelling",
        ),
        pytest.param(
            {"RateLimit-Limit": "100", "RateLimit-Remaining": "50", "RateLimit-Reset": "30"},
            RateLimitBudget(100, 50, NOW + 30),
            id="ietf-separate-fields",
        ),
        pytest.param(
            {
                "RateLimit-Limit": "10, 10;w=1, 50;w=60",
                "RateLimit-Remaining": "9",
                "RateLimit-Reset": "1",
            },
            RateLimitBudget(10, 9, NOW + 1),
            id="ietf-draft-limit-with-policies",
        ),
        pytest.param(
            {"RateLimit": "limit=100, remaining=50, reset=30"},
            RateLimitBudget(100, 50, NOW + 30),
            id="ietf-draft7-combined",
        ),
        pytest.param(
            {"RateLimit": "remaining=50, reset=30", "RateLimit-Policy": "100;w=60"},
            RateLimitBudget(100, 50, NOW + 30),
            id="ietf-draft7-limit-from-old-policy",
        ),
        pytest.param(
            {"RateLimit": '"default";r=50;t=30', "RateLimit-Policy": '"default";q=100;w=60'},
            RateLimitBudget(100, 50, NOW + 30),
            id="ietf-structured",
        ),
        pytest.param(
            {"RateLimit": "default;r=50;t=30", "RateLimit-Policy": "100;w=60"},
            RateLimitBudget(100, 50, NOW + 30),
            id="ietf-structured-token-name-old-policy",
        ),
        pytest.param(
            {"RateLimit": '"default";r=50', "RateLimit-Policy": '"default";q=100;w=60'},
            RateLimitBudget(100, 50, NOW + 60),
            id="ietf-structured-no-t-falls-back-to-window",
        ),
        pytest.param(
            {
                "RateLimit": '"burst";r=50;t=30, "daily";r=900;t=80000',
                "RateLimit-Policy": '"burst";q=100;w=60, "daily";q=1000;w=86400',
            },
            RateLimitBudget(100, 50, NOW + 30),
            id="ietf-several-policies-smallest-remaining",
        ),
        pytest.param(
            {
                "RateLimit": '"burst";r=0;t=30, "daily";r=0;t=80000',
                "RateLimit-Policy": '"burst";q=100;w=60, "daily";q=1000;w=86400',
            },
            RateLimitBudget(1000, 0, NOW + 80000),
            id="ietf-equal-remaining-latest-reset",
        ),
        pytest.param(
            {"RateLimit": '"a,b";r=3;t=5', "RateLimit-Policy": '"a,b";q=9;w=5'},
            RateLimitBudget(9, 3, NOW + 5),
            id="ietf-quoted-name-with-comma",
        ),
        pytest.param(
            {
                "X-RateLimit-Remaining": "40",
                "X-RateLimit-Reset": "30",
                "RateLimit": "limit=10, remaining=2, reset=5",
            },
            RateLimitBudget(10, 2, NOW + 5),
            id="two-families-most-restrictive",
        ),
        pytest.param({}, None, id="none"),
        pytest.param({"Content-Type": "application/x-ndjson"}, None, id="unrelated"),
        pytest.param({"X-RateLimit-Remaining": "5"}, None, id="no-reset"),
        pytest.param({"X-RateLimit-Reset": "5"}, None, id="no-remaining"),
        pytest.param(
            {"X-RateLimit-Remaining": "five", "X-RateLimit-Reset": "5"},
            None,
            id="garbled-remaining",
        ),
        pytest.param(
            {"X-RateLimit-Remaining": "5", "X-RateLimit-Reset": "-5"}, None, id="negative-reset"
        ),
        pytest.param(
            {"X-RateLimit-Remaining": "5", "X-RateLimit-Reset": "nan"}, None, id="nan-reset"
        ),
        pytest.param(
            {"RateLimit": "limit=100, remaining=lots, reset=30"}, None, id="draft7-garbled"
        ),
        pytest.param({"RateLimit": '"default";q=100;w=60'}, None, id="policy-in-wrong-field"),
        pytest.param(
            {"RateLimit": '"x";r=1;t=1, ;;;=, "'},
            RateLimitBudget(None, 1, NOW + 1),
            id="structured-trailing-junk",
        ),
        pytest.param({"RateLimit": ",,,", "RateLimit-Policy": '"'}, None, id="only-separators"),
    ],
)
def test_parse_rate_limit_forms(headers: dict[str, str], expected: RateLimitBudget | None) -> None:
    assert parse_rate_limit(headers, now=NOW) == expected


def test_parse_rate_limit_accepts_requests_case_insensitive_dict() -> None:
    headers = CaseInsensitiveDict({"x-RateLimit-remaining": "3", "X-RATELIMIT-RESET": "12"})
    assert parse_rate_limit(headers, now=NOW) == RateLimitBudget(None, 3, NOW + 12)


def test_parse_rate_limit_never_raises_on_random_garbage() -> None:
    rng = random.Random(7)
    alphabet = 'ab=;,"\\ 0123456789-.rtqw:?*'
    names = ["RateLimit", "RateLimit-Policy", "X-RateLimit-Reset", "X-RateLimit-Remaining"]
    seen_budget = False
    for _ in range(3000):
        headers = {
            name: "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24))) for name in names
        }
        budget = parse_rate_limit(headers, now=NOW)
        if budget is not None:
            seen_budget = True
            assert budget.remaining >= 0
            assert math.isfinite(budget.reset_at)
    assert seen_budget  # the generator does hit valid values now and then


# ------------------------------------------------------------------------------------------
# Pacer decisions
# ------------------------------------------------------------------------------------------


def _x_headers(remaining: int, reset: float, limit: int | None = None) -> dict[str, str]:
    headers = {"X-RateLimit-Remaining": str(remaining), "X-RateLimit-Reset": str(reset)}
    if limit is not None:
        headers["X-RateLimit-Limit"] = str(limit)
    return headers


def test_pacer_without_information_never_waits() -> None:
    clock = FakeClock(start=NOW)
    pacer = Pacer(clock=clock)
    for _ in range(5):
        assert pacer.wait() == 0.0
        pacer.observe({})
    assert clock.sleeps == []
    assert (pacer.waits, pacer.waited_seconds) == (0, 0.0)


def test_pacer_spent_budget_waits_until_reset() -> None:
    clock = FakeClock(start=NOW)
    pacer = Pacer(clock=clock)
    pacer.observe(_x_headers(remaining=0, reset=30))
    clock.advance(4.0)
    assert pacer.delay() == pytest.approx(26.0)
    assert pacer.wait() == pytest.approx(26.0)
    assert clock.sleeps == [pytest.approx(26.0)]
    assert clock.time() == pytest.approx(NOW + 30)
    assert pacer.budget is None  # the window is over: forgotten until the next response
    assert pacer.delay() == 0.0
    assert (pacer.waits, pacer.waited_seconds) == (1, pytest.approx(26.0))


def test_pacer_epoch_reset_uses_wall_clock() -> None:
    clock = FakeClock(start=NOW)
    pacer = Pacer(clock=clock)
    pacer.observe(_x_headers(remaining=0, reset=int(NOW) + 45))
    assert pacer.delay() == pytest.approx(45.0)


def test_pacer_remaining_one_allows_exactly_one_more_request() -> None:
    clock = FakeClock(start=NOW)
    pacer = Pacer(clock=clock)
    pacer.observe(_x_headers(remaining=1, reset=20))
    assert pacer.wait() == 0.0  # the one request still allowed
    assert pacer.delay() == pytest.approx(20.0)  # no new headers: treated as spent


def test_pacer_remaining_counts_down_locally_without_responses() -> None:
    clock = FakeClock(start=NOW)
    pacer = Pacer(clock=clock)
    pacer.observe(_x_headers(remaining=3, reset=10))
    assert [pacer.wait() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert pacer.wait() == pytest.approx(10.0)


def test_pacer_response_without_headers_keeps_budget_until_its_reset() -> None:
    clock = FakeClock(start=NOW)
    pacer = Pacer(clock=clock)
    pacer.observe(_x_headers(remaining=0, reset=10))
    pacer.observe({"Content-Type": "application/x-ndjson"})
    assert pacer.delay() == pytest.approx(10.0)
    clock.advance(10.0)
    pacer.observe({})
    assert pacer.budget is None
    assert pacer.delay() == 0.0


def test_pacer_ignores_a_budget_whose_reset_is_already_past() -> None:
    clock = FakeClock(start=NOW)
    pacer = Pacer(clock=clock)
    pacer.observe(_x_headers(remaining=0, reset=int(NOW) - 5))  # epoch in the past
    assert pacer.delay() == 0.0


def test_pacer_late_response_of_same_window_does_not_raise_remaining() -> None:
    clock = FakeClock(start=NOW)
    pacer = Pacer(clock=clock)
    pacer.observe(_x_headers(remaining=2, reset=int(NOW) + 60))
    pacer.observe(_x_headers(remaining=9, reset=int(NOW) + 60))  # stale, arrived late
    assert pacer.budget == RateLimitBudget(None, 2, NOW + 60)


def test_pacer_new_window_replaces_budget() -> None:
    clock = FakeClock(start=NOW)
    pacer = Pacer(clock=clock)
    pacer.observe(_x_headers(remaining=0, reset=int(NOW) + 60))
    pacer.observe(_x_headers(remaining=99, reset=int(NOW) + 120, limit=100))
    assert pacer.budget == RateLimitBudget(100, 99, NOW + 120)
    assert pacer.delay() == 0.0


def test_pacer_subtracts_requests_still_in_flight() -> None:
    clock = FakeClock(start=NOW)
    pacer = Pacer(clock=clock)
    for _ in range(3):
        pacer.wait()  # three requests sent, no response yet
    pacer.observe(_x_headers(remaining=2, reset=30))  # counts the first request only
    assert pacer.budget == RateLimitBudget(None, 0, NOW + 30)
    assert pacer.delay() == pytest.approx(30.0)


def test_pacer_retry_after_block() -> None:
    clock = FakeClock(start=NOW)
    pacer = Pacer(clock=clock)
    pacer.block_for(12.0)
    pacer.block_for(3.0)  # a shorter block does not shorten the longer one
    pacer.block_for(-1.0)
    pacer.block_for(float("nan"))
    clock.advance(2.0)
    assert pacer.wait() == pytest.approx(10.0)
    assert pacer.wait() == 0.0


def test_pacer_requests_per_second_ceiling() -> None:
    clock = FakeClock(start=NOW)
    pacer = Pacer(clock=clock, max_requests_per_second=4.0)
    assert pacer.wait() == 0.0  # the first request goes at once
    assert pacer.wait() == pytest.approx(0.25)
    clock.advance(0.1)  # the request itself took 0.1 s
    assert pacer.wait() == pytest.approx(0.15)
    clock.advance(1.0)
    assert pacer.wait() == 0.0  # long enough since the last start
    before = clock.monotonic()
    for _ in range(40):
        pacer.wait()
    assert clock.monotonic() - before == pytest.approx(40 * 0.25)


def test_pacer_takes_the_longest_constraint() -> None:
    clock = FakeClock(start=NOW)
    pacer = Pacer(clock=clock, max_requests_per_second=1.0)
    pacer.wait()
    pacer.observe(_x_headers(remaining=0, reset=5))
    pacer.block_for(3.0)
    assert pacer.delay() == pytest.approx(5.0)
    pacer.block_for(8.0)
    assert pacer.delay() == pytest.approx(8.0)


def test_pacer_clamps_to_max_wait_and_then_goes() -> None:
    clock = FakeClock(start=NOW)
    pacer = Pacer(clock=clock, max_wait_seconds=60.0)
    pacer.observe(_x_headers(remaining=0, reset=7200))
    assert pacer.delay() == 60.0
    assert pacer.wait() == 60.0  # one capped wait, not a loop of them
    assert clock.sleeps == [60.0]


def test_pacer_rejects_nonsense_configuration() -> None:
    with pytest.raises(ValueError):
        Pacer(clock=FakeClock(), max_requests_per_second=0)
    with pytest.raises(ValueError):
        Pacer(clock=FakeClock(), max_wait_seconds=-1)


# ------------------------------------------------------------------------------------------
# The contract: a server that announces its budget never has to send a 429 to a paced client
# ------------------------------------------------------------------------------------------


class BudgetServer:
    """A fixed-window rate limiter that announces its budget and answers 429 past it.

    The window opens with the first request after the previous one closed (so window edges fall
    on fractional seconds). Resets are announced rounded *up* to whole seconds, as HTTP requires
    integers; a 429 carries ``Retry-After``.
    """

    def __init__(self, clock: FakeClock, *, limit: int, window: float, form: str) -> None:
        self.clock = clock
        self.limit = limit
        self.window = window
        self.form = form
        self.window_end = -math.inf
        self.used = 0
        self.served = 0
        self.rejected = 0

    def handle(self) -> tuple[int, dict[str, str]]:
        now = self.clock.time()
        if now >= self.window_end:
            self.window_end = now + self.window
            self.used = 0
        if self.used < self.limit:
            self.used += 1
            self.served += 1
            status = 200
        else:
            self.rejected += 1
            status = 429
        headers = self._budget_headers(now, self.limit - self.used)
        if status == 429:
            headers["Retry-After"] = str(math.ceil(self.window_end - now))
        return status, headers

    def _budget_headers(self, now: float, remaining: int) -> dict[str, str]:
        delta = str(math.ceil(self.window_end - now))
        if self.form == "x-delta":
            return {
                "X-RateLimit-Limit": str(self.limit),
                "X-RateLimit-Remaining": str(remaining),
                "X-RateLimit-Reset": delta,
            }
        if self.form == "x-epoch":
            return {
                "x-ratelimit-limit": str(self.limit),
                "x-ratelimit-remaining": str(remaining),
                "x-ratelimit-reset": str(math.ceil(self.window_end)),
            }
        if self.form == "ietf-fields":
            return {
                "RateLimit-Limit": str(self.limit),
                "RateLimit-Remaining": str(remaining),
                "RateLimit-Reset": delta,
            }
        if self.form == "ietf-draft7":
            return {
                "RateLimit": f"limit={self.limit}, remaining={remaining}, reset={delta}",
                "RateLimit-Policy": f"{self.limit};w={int(self.window)}",
            }
        if self.form == "ietf-structured":
            return {
                "RateLimit": f'"default";r={remaining};t={delta}',
                "RateLimit-Policy": f'"default";q={self.limit};w={int(self.window)}',
            }
        raise AssertionError(self.form)


FORMS = ["x-delta", "x-epoch", "ietf-fields", "ietf-draft7", "ietf-structured"]


def _run_client(
    server: BudgetServer,
    clock: FakeClock,
    pacer: Pacer | None,
    *,
    requests: int,
    latency: float,
    in_flight: int = 0,
) -> None:
    """Send ``requests`` requests; responses are observed ``in_flight`` requests late."""
    pending: deque[tuple[int, dict[str, str]]] = deque()
    for _ in range(requests):
        if pacer is not None:
            pacer.wait()
        pending.append(server.handle())
        clock.advance(latency)
        while len(pending) > in_flight:
            status, headers = pending.popleft()
            if pacer is not None:
                pacer.observe(headers)
                if status == 429:
                    retry_after = parse_retry_after(
                        headers.get("Retry-After"), now=clock.time(), max_seconds=300
                    )
                    pacer.block_for(retry_after or 0.0)


@pytest.mark.parametrize("form", FORMS)
def test_simulated_server_never_needs_429_for_a_paced_client(form: str) -> None:
    clock = FakeClock(start=NOW)
    server = BudgetServer(clock, limit=10, window=60.0, form=form)
    pacer = Pacer(clock=clock)
    _run_client(server, clock, pacer, requests=95, latency=0.0137)
    assert server.rejected == 0
    assert server.served == 95
    # It had to wait (9 full windows), but not much longer than the windows themselves.
    assert pacer.waits == 9
    elapsed = clock.time() - NOW
    assert 9 * 60.0 <= elapsed <= 9 * 61.0 + 95 * 0.0137


@pytest.mark.parametrize("form", FORMS)
def test_simulated_server_rejects_an_unpaced_client(form: str) -> None:
    # Proves the simulation can fail: without the pacer the same client gets 429s.
    clock = FakeClock(start=NOW)
    server = BudgetServer(clock, limit=10, window=60.0, form=form)
    _run_client(server, clock, None, requests=95, latency=0.0137)
    assert server.rejected == 85


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("in_flight", [1, 3])
def test_simulated_server_pipelined_client_never_overshoots(form: str, in_flight: int) -> None:
    # Responses are read `in_flight` requests after they were sent: local counting must hold.
    clock = FakeClock(start=NOW)
    server = BudgetServer(clock, limit=10, window=60.0, form=form)
    pacer = Pacer(clock=clock)
    _run_client(server, clock, pacer, requests=95, latency=0.0137, in_flight=in_flight)
    assert server.rejected == 0
    assert server.served == 95


def test_simulated_server_with_ceiling_and_budget() -> None:
    # 100 requests per 10 s, client ceiling 5 rps: the ceiling binds, the budget never does.
    clock = FakeClock(start=NOW)
    server = BudgetServer(clock, limit=100, window=10.0, form="x-delta")
    pacer = Pacer(clock=clock, max_requests_per_second=5.0)
    _run_client(server, clock, pacer, requests=60, latency=0.01)
    assert server.rejected == 0
    assert clock.monotonic() == pytest.approx(59 * 0.2 + 0.01)


# ------------------------------------------------------------------------------------------
# Retry policy
# ------------------------------------------------------------------------------------------


def test_retryable_statuses() -> None:
    assert {429, 502, 503, 504} == RETRYABLE_STATUS
    assert [
        c for c in (200, 400, 401, 404, 429, 500, 501, 502, 503, 504) if is_retryable_status(c)
    ] == [
        429,
        502,
        503,
        504,
    ]


@pytest.mark.parametrize("retry_after", [0.0, 0.5, 12.0, 299.9, 300.0])
def test_retry_wait_follows_retry_after_exactly(retry_after: float) -> None:
    policy = RetryPolicy()
    rng = random.Random(1)
    state = rng.getstate()
    for attempt in (1, 2, 7):
        assert policy.wait_seconds(attempt, retry_after=retry_after, rng=rng) == retry_after
    assert rng.getstate() == state  # no jitter drawn


def test_retry_wait_caps_retry_after() -> None:
    policy = RetryPolicy(max_retry_after_seconds=120.0)
    assert policy.wait_seconds(1, retry_after=3600.0, rng=random.Random(0)) == 120.0
    assert policy.wait_seconds(1, retry_after=-3.0, rng=random.Random(0)) == 0.0


def test_retry_wait_full_jitter_bounds() -> None:
    policy = RetryPolicy(base_seconds=1.0, cap_seconds=60.0)
    rng = random.Random(20261129)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (6, 32.0), (7, 60.0), (40, 60.0)]:
        waits = [policy.wait_seconds(attempt, retry_after=None, rng=rng) for _ in range(2000)]
        assert all(0.0 <= w <= ceiling for w in waits)
        # Full jitter spreads over the whole range, not a narrow band near the ceiling.
        assert min(waits) < 0.05 * ceiling
        assert max(waits) > 0.95 * ceiling
        assert sum(waits) / len(waits) == pytest.approx(ceiling / 2, rel=0.1)


def test_retry_wait_is_reproducible_with_a_seed_and_survives_huge_attempts() -> None:
    policy = RetryPolicy()
    first = [policy.wait_seconds(a, retry_after=None, rng=random.Random(5)) for a in (1, 3, 9)]
    again = [policy.wait_seconds(a, retry_after=None, rng=random.Random(5)) for a in (1, 3, 9)]
    assert first == again
    assert 0.0 <= policy.wait_seconds(5000, retry_after=None, rng=random.Random(5)) <= 60.0
    with pytest.raises(ValueError):
        policy.wait_seconds(0, retry_after=None, rng=random.Random(5))


