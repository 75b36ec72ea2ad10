"""Rate-limit policy: Retry-After, rate-limit headers, request pacing and retry waits.

Everything here is pure or driven by an injected :class:`~tap_museumcms.clock.Clock`; nothing
opens a socket or reads the real time, so every decision can be tested with a fake clock.

The pieces, in the order the HTTP client uses them::

    pacer = Pacer(clock=clock, max_requests_per_second=20)
    policy = RetryPolicy()
    pacer.wait()                        # sleeps only as long as headers / the ceiling demand
    response = session.send(...)
    pacer.observe(response.headers)     # X-RateLimit-*, RateLimit-* or RateLimit/RateLimit-Policy
    if is_retryable_status(response.status_code):
        retry_after = parse_retry_after(
            response.headers.get("Retry-After"),
            now=clock.time(),
            max_seconds=policy.max_retry_after_seconds,
        )
        if retry_after is not None:
            pacer.block_for(retry_after)  # the next pacer.wait() honours it
        wait = policy.wait_seconds(attempt, retry_after=retry_after, rng=rng)

Header forms understood by :func:`parse_rate_limit` (values as servers send them)::

    X-RateLimit-Limit: 100          X-RateLimit-Remaining: 42     X-RateLimit-Reset: 30
    X-RateLimit-Reset: 1800000060   (a Unix epoch; see RESET_EPOCH_THRESHOLD)
    RateLimit-Limit: 100            RateLimit-Remaining: 42       RateLimit-Reset: 30
    RateLimit: limit=100, remaining=42, reset=30                  (IETF draft 7, one field)
    RateLimit: "default";r=42;t=30  RateLimit-Policy: "default";q=100;w=60   (IETF draft 8+)
    RateLimit-Policy: 100;w=60                                     (older policy form)
"""

from __future__ import annotations

import calendar
import math
import random
import re
import threading
import typing as t
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_tz

if t.TYPE_CHECKING:
    from collections.abc import Mapping

    from tap_museumcms.clock import Clock

__all__ = [
    "RESET_EPOCH_THRESHOLD",
    "RESET_EPOCH_MS_THRESHOLD",
    "RETRYABLE_STATUS",
    "Pacer",
    "RateLimitBudget",
    "RetryPolicy",
    "is_retryable_status",
    "parse_rate_limit",
    "parse_retry_after",
    "reset_to_epoch",
]

#: A reset value above this is a Unix epoch in seconds, not delta-seconds. 10**9 s is 31.7 years:
#: no rate-limit window is that long, and no live server announces a reset before 2001-09-09
#: (epoch 10**9), so the two readings cannot be confused. The rule does not depend on the clock,
#: so it behaves the same under a fake clock that starts at 0.
RESET_EPOCH_THRESHOLD = 10**9
#: A reset value above this is a Unix epoch in *milliseconds* (some vendors send those):
#: 10**12 ms is 2001-09-09 again, while 10**12 s would be the year 33658.
RESET_EPOCH_MS_THRESHOLD = 10**12

#: Statuses worth retrying: throttling and gateway/overload failures. Other 5xx (500, 501, ...)
#: are bugs on the server that a retry rarely fixes; the client decides about those itself.
RETRYABLE_STATUS: frozenset[int] = frozenset({429, 502, 503, 504})

# Budgets whose resets are this close belong to the same window: delta-seconds are whole
# seconds, so two responses of one window can disagree by up to 1 s, plus latency jitter.
_SAME_WINDOW_SLACK = 1.5
# Waits shorter than this are float noise (the ULP of an epoch near 1.8e9 is 2.4e-7 s).
_EPSILON = 1e-6

_NUMBER_RE = re.compile(r"\d+(?:\.\d+)?")
_INT_RE = re.compile(r"[+-]?\d+")
# RFC 850 date: "Sunday, 06-Nov-94 08:49:37 GMT" (two-digit year).
_RFC850_RE = re.compile(r"[A-Za-z]+,\s*\d{1,2}-[A-Za-z]{3}-(\d{2})\s")


# --------------------------------------------------------------------------------------------
# Retry-After
# --------------------------------------------------------------------------------------------


def parse_retry_after(value: str | None, *, now: float, max_seconds: float) -> float | None:
    """Seconds to wait according to a ``Retry-After`` value, clamped to ``[0, max_seconds]``.

    Args:
        value: The header value: delta-seconds (``"120"``; ``"1.5"`` and surrounding spaces are
            tolerated) or an HTTP-date in any form RFC 9110 requires recipients to accept:
            IMF-fixdate ``"Sun, 06 Nov 1994 08:49:37 GMT"``, RFC 850
            ``"Sunday, 06-Nov-94 08:49:37 GMT"`` or asctime ``"Sun Nov  6 08:49:37 1994"``.
        now: The current wall-clock time in epoch seconds (``clock.time()``).
        max_seconds: Upper bound of the result.

    Returns:
        The wait in seconds from ``now``; ``0.0`` for a date in the past; ``None`` for ``None``,
        an empty value, a negative number or anything unparseable. HTTP-dates have one-second
        resolution, so for a date the result is ``date - now`` (fractional only because ``now``
        is); it is not rounded.

    Example:
        >>> parse_retry_after("120", now=0.0, max_seconds=300)
        120.0
        >>> parse_retry_after("Thu, 01 Jan 1970 00:01:00 GMT", now=30.0, max_seconds=300)
        30.0
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if _NUMBER_RE.fullmatch(text):
        seconds = float(text)
    else:
        when = _parse_http_date(text, now=now)
        if when is None:
            return None
        seconds = when - now
    if math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), max_seconds)


def _parse_http_date(text: str, *, now: float) -> float | None:
    """Epoch seconds of an HTTP-date (any of the three forms), or None if it is not one."""
    try:
        parts = parsedate_tz(text)
    except (ValueError, TypeError, IndexError, OverflowError):
        return None
    if parts is None:
        return None
    year, month, day, hour, minute, second = parts[:6]
    offset = parts[9] or 0
    match = _RFC850_RE.match(text)
    if match is not None:
        # RFC 9110 section 5.6.7: a two-digit year that looks more than 50 years in the future
        # is the most recent past year with the same last two digits.
        now_year = datetime.fromtimestamp(now, tz=UTC).year
        year = now_year // 100 * 100 + int(match.group(1))
        if year > now_year + 50:
            year -= 100
    try:
        # Reject impossible dates (Feb 31, hour 25) that timegm would silently roll over;
        # a leap second (:60) is accepted as :59.
        datetime(year, month, day, hour, minute, min(second, 59), tzinfo=UTC)
    except (ValueError, OverflowError):
        return None
    return float(calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)) - offset)


# --------------------------------------------------------------------------------------------
# Rate-limit headers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RateLimitBudget:
    """What a server said about its quota, anchored on the client's clock.

    Attributes:
        limit: Requests allowed per window, when the server says (``X-RateLimit-Limit``,
            ``q`` of ``RateLimit-Policy``); ``None`` when unknown.
        remaining: Requests still allowed in the current window (never negative).
        reset_at: When the window resets, absolute epoch seconds on ``clock.time()``.

    Example:
        ``RateLimitBudget(limit=100, remaining=0, reset_at=1800000030.0)``: no request before
        1800000030.0.
    """

    limit: int | None
    remaining: int
    reset_at: float


def reset_to_epoch(value: float, *, now: float) -> float:
    """Turn a reset value into an absolute epoch: delta-seconds, epoch seconds or epoch ms.

    Rule: above :data:`RESET_EPOCH_MS_THRESHOLD` it is epoch milliseconds, above
    :data:`RESET_EPOCH_THRESHOLD` epoch seconds, otherwise delta-seconds from ``now``.

    Example:
        >>> reset_to_epoch(30, now=1_800_000_000.0)
        1800000030.0
        >>> reset_to_epoch(1_800_000_060, now=1_800_000_000.0)
        1800000060.0
    """
    if value > RESET_EPOCH_MS_THRESHOLD:
        return value / 1000.0
    if value > RESET_EPOCH_THRESHOLD:
        return float(value)
    return now + value


def parse_rate_limit(headers: Mapping[str, str], *, now: float) -> RateLimitBudget | None:
    """Read the rate-limit budget from response headers; the most restrictive one if several.

    Header names are matched case-insensitively, so a plain ``dict`` works as well as requests'
    ``CaseInsensitiveDict``. Every form listed in the module docstring is read; when several
    budgets are present (two header families, or several IETF policies) the one with the smallest
    ``remaining`` wins, and among equal ``remaining`` the one with the latest ``reset_at``.

    A budget needs ``remaining`` and a reset time; ``limit`` is optional (an unreadable limit is
    dropped, not fatal). Resets are read with :func:`reset_to_epoch`. A negative ``remaining``
    (some servers count overshoot) reads as 0. For the structured IETF form, an item without
    ``t`` falls back to its policy's window ``w`` (the reset cannot be later than that).

    Args:
        headers: Response headers.
        now: Current wall-clock time, epoch seconds (``clock.time()``).

    Returns:
        The budget, or ``None`` when no usable rate-limit information is present. Never raises
        on malformed values.

    Example:
        >>> parse_rate_limit({"x-ratelimit-remaining": "0", "X-RateLimit-Reset": "30"}, now=100.0)
        RateLimitBudget(limit=None, remaining=0, reset_at=130.0)
    """
    try:
        lowered = {str(k).strip().lower(): v for k, v in headers.items() if isinstance(v, str)}
    except (AttributeError, TypeError):
        return None
    candidates: list[RateLimitBudget] = []
    for prefix in ("x-ratelimit-", "x-rate-limit-", "ratelimit-"):
        budget = _separate_fields(lowered, prefix, now=now)
        if budget is not None:
            candidates.append(budget)
    combined = lowered.get("ratelimit")
    if combined is not None:
        candidates.extend(_combined_field(combined, lowered.get("ratelimit-policy"), now=now))
    if not candidates:
        return None
    return min(candidates, key=lambda b: (b.remaining, -b.reset_at))


def _separate_fields(
    lowered: Mapping[str, str], prefix: str, *, now: float
) -> RateLimitBudget | None:
    """``<prefix>Limit`` / ``<prefix>Remaining`` / ``<prefix>Reset`` as one budget."""
    remaining = _first_int(lowered.get(prefix + "remaining"))
    reset = _first_number(lowered.get(prefix + "reset"))
    if remaining is None or reset is None:
        return None
    limit = _first_int(lowered.get(prefix + "limit"))
    return RateLimitBudget(
        limit=limit if limit is not None and limit >= 0 else None,
        remaining=max(remaining, 0),
        reset_at=reset_to_epoch(reset, now=now),
    )


def _combined_field(value: str, policy: str | None, *, now: float) -> list[RateLimitBudget]:
    """Budgets in a ``RateLimit`` field: draft-7 dictionary or draft-8+ structured list."""
    raw_members = [m for m in _split_outside_quotes(value, ",") if m]
    if not raw_members:
        return []
    members = [_parse_member(m) for m in raw_members]
    policies = _parse_policies(policy)
    if all(_is_dictionary_member(m) for m in raw_members):
        # Draft 7: "limit=100, remaining=50, reset=30".
        fields = dict(_split_key_value(m[0]) for m in members)
        remaining = _first_int(fields.get("remaining"))
        reset = _first_number(fields.get("reset"))
        if remaining is None or reset is None:
            return []
        limit = _first_int(fields.get("limit"))
        if limit is None and len(policies) == 1:
            limit = next(iter(policies.values()))[0]
        return [RateLimitBudget(limit, max(remaining, 0), reset_to_epoch(reset, now=now))]
    # Draft 8+: '"default";r=50;t=30, "daily";r=900;t=80000'.
    budgets = []
    for name, params in members:
        remaining = _as_int(params.get("r"))
        if remaining is None:
            continue
        quota, window = policies.get(name, (None, None))
        if name not in policies and len(policies) == 1:
            quota, window = next(iter(policies.values()))
        reset = _as_number(params.get("t"))
        if reset is None:
            reset = window
        if reset is None:
            continue
        budgets.append(RateLimitBudget(quota, max(remaining, 0), reset_to_epoch(reset, now=now)))
    return budgets


def _is_dictionary_member(raw: str) -> bool:
    """True for a draft-7 dictionary member such as ``remaining=50`` (not ``"x";r=50``)."""
    head = _split_outside_quotes(raw, ";")[0]
    return "=" in head and not head.startswith('"')


def _parse_policies(value: str | None) -> dict[str, tuple[int | None, float | None]]:
    """``RateLimit-Policy`` as ``{name: (quota, window_seconds)}``.

    Both ``"default";q=100;w=60`` (draft 8+) and ``100;w=60`` (older drafts; the name is ``""``)
    are read.
    """
    if not value:
        return {}
    policies: dict[str, tuple[int | None, float | None]] = {}
    for member in _split_outside_quotes(value, ","):
        bare, params = _parse_member(member)
        quota = _as_int(bare)
        name = "" if quota is not None else bare
        if quota is None:
            quota = _as_int(params.get("q"))
        window = _as_number(params.get("w"))
        if name not in policies:
            policies[name] = (quota if quota is None or quota >= 0 else None, window)
    return policies


def _split_outside_quotes(text: str, sep: str) -> list[str]:
    """Split on ``sep`` except inside double-quoted strings (structured-field strings)."""
    parts: list[str] = []
    start = 0
    in_quotes = False
    escaped = False
    for i, char in enumerate(text):
        if escaped:
            escaped = False
        elif char == "\\" and in_quotes:
            escaped = True
        elif char == '"':
            in_quotes = not in_quotes
        elif char == sep and not in_quotes:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return parts


def _parse_member(member: str) -> tuple[str, dict[str, str]]:
    """``'"name";r=50;t=30'`` -> ``("name", {"r": "50", "t": "30"})``; quotes removed.

    A first segment of the form ``key=value`` (draft-7 dictionary member) is returned as is.
    """
    segments = _split_outside_quotes(member, ";")
    bare = _unquote(segments[0])
    params: dict[str, str] = {}
    for segment in segments[1:]:
        key, _, raw = segment.partition("=")
        params[key.strip().lower()] = _unquote(raw.strip())
    return bare, params


def _split_key_value(text: str) -> tuple[str, str]:
    key, _, value = text.partition("=")
    return key.strip().lower(), value.strip()


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return text


def _first_int(value: str | None) -> int | None:
    """The integer of the first list member (``"100"``, ``"100, 100;w=60"``, ``"50, 50"``)."""
    if value is None:
        return None
    return _as_int(_parse_member(_split_outside_quotes(value, ",")[0])[0])


def _first_number(value: str | None) -> float | None:
    if value is None:
        return None
    return _as_number(_parse_member(_split_outside_quotes(value, ",")[0])[0])


def _as_int(text: str | None) -> int | None:
    if text is None:
        return None
    text = text.strip()
    if not _INT_RE.fullmatch(text) or len(text) > 30:
        return None
    return int(text)


def _as_number(text: str | None) -> float | None:
    """A non-negative decimal number, or None."""
    if text is None:
        return None
    text = text.strip()
    if not _NUMBER_RE.fullmatch(text) or len(text) > 30:
        return None
    return float(text)


# --------------------------------------------------------------------------------------------
# Pacing
# --------------------------------------------------------------------------------------------


class Pacer:
    """Decides how long the next request must wait, from headers and an optional ceiling.

    Three constraints, the longest wins, clamped to ``max_wait_seconds``:

    1. the announced budget is spent (local ``remaining <= 0``) and its reset is in the future:
       wait until ``reset_at`` (wall clock, ``clock.time()``);
    2. a ``Retry-After`` block (:meth:`block_for`) is still active (``clock.monotonic()``);
    3. the requests-per-second ceiling: starts are spaced ``1 / max_requests_per_second`` apart
       (``clock.monotonic()``).

    Accounting: every :meth:`wait` admits one request and decrements the local ``remaining``, so
    a client that sends faster than responses come back cannot overshoot. :meth:`observe` should
    be called once per admitted request (with ``{}`` when no response came); the pacer counts the
    requests still in flight and subtracts them from the server's ``remaining``, because the
    server has not counted those yet. A response from the same window never raises the local
    count (late responses carry stale, higher numbers); a response from a later window replaces
    it. Once a window's reset passes without new headers, the budget is forgotten: only the
    ceiling paces until the next response says more.

    Limitations: a wait is capped at ``max_wait_seconds``; if the server's reset is further away,
    the request goes after the cap (and the server will likely answer 429 with a Retry-After).
    Windows shorter than about 1.5 s cannot be told apart from jitter of delta-second resets;
    the pacer then errs on the side of waiting.

    Thread-safe: admission is decided under a lock; sleeping happens outside it.

    Example:
        >>> clock = FakeClock(start=1_800_000_000.0)  # tests/fakeclock.py
        >>> pacer = Pacer(clock=clock)
        >>> pacer.observe({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "30"})
        >>> pacer.wait()
        30.0
    """

    def __init__(
        self,
        *,
        clock: Clock,
        max_requests_per_second: float | None = None,
        max_wait_seconds: float = 3600.0,
    ) -> None:
        if max_requests_per_second is not None and not max_requests_per_second > 0:
            raise ValueError("max_requests_per_second must be positive or None")
        if not max_wait_seconds >= 0:
            raise ValueError("max_wait_seconds must be >= 0")
        self._clock = clock
        self._interval = 1.0 / max_requests_per_second if max_requests_per_second else 0.0
        self._max_wait = float(max_wait_seconds)
        self._lock = threading.Lock()
        self._budget: RateLimitBudget | None = None
        self._in_flight = 0
        self._blocked_until: float | None = None  # monotonic
        self._last_start: float | None = None  # monotonic
        self._blocked_cause = "retry_after"
        #: What the last computed delay waits for: ``budget``, ``ceiling``, ``retry_after``,
        #: ``backoff`` (or ``none``).
        self.cause = "none"
        #: Number of :meth:`wait` calls that actually slept.
        self.waits = 0
        #: Total seconds slept by :meth:`wait`.
        self.waited_seconds = 0.0

    @property
    def budget(self) -> RateLimitBudget | None:
        """The current budget as the pacer counts it (``remaining`` decremented locally)."""
        with self._lock:
            return self._budget

    def delay(self) -> float:
        """Seconds the next request must wait from now (0.0 if it may go at once)."""
        with self._lock:
            return self._delay_locked()

    def wait(self) -> float:
        """Sleep as long as :meth:`delay` says, then admit one request.

        Returns:
            The seconds slept (0.0 when the request may go at once).
        """
        slept = 0.0
        while True:
            with self._lock:
                delay = self._delay_locked()
                # After one full capped wait, go anyway rather than sleep forever.
                if delay <= 0.0 or slept >= self._max_wait:
                    self._admit_locked()
                    if slept > 0.0:
                        self.waits += 1
                        self.waited_seconds += slept
                    return slept
            self._clock.sleep(delay)
            slept += delay

    def observe(self, headers: Mapping[str, str]) -> None:
        """Take the rate-limit headers of a response into account.

        Args:
            headers: The response headers (``{}`` when the request failed without a response).
        """
        now = self._clock.time()
        fresh = parse_rate_limit(headers, now=now)
        with self._lock:
            self._in_flight = max(self._in_flight - 1, 0)
            self._expire_locked(now)
            if fresh is None or fresh.reset_at <= now:
                return  # nothing said, or a window that is already over
            estimate = max(fresh.remaining - self._in_flight, 0)
            current = self._budget
            if current is not None and fresh.reset_at < current.reset_at + _SAME_WINDOW_SLACK:
                self._budget = RateLimitBudget(
                    limit=fresh.limit if fresh.limit is not None else current.limit,
                    remaining=min(current.remaining, estimate),
                    reset_at=max(current.reset_at, fresh.reset_at),
                )
            else:
                self._budget = RateLimitBudget(fresh.limit, estimate, fresh.reset_at)

    def block_for(self, seconds: float, cause: str = "retry_after") -> None:
        """No request before ``seconds`` from now (a ``Retry-After``, a backoff). Longer wins.

        Args:
            seconds: how long.
            cause: why, as :attr:`cause` reports it (``retry_after``, ``backoff``, ...).
        """
        if not seconds > 0 or math.isinf(seconds):
            return
        with self._lock:
            until = self._clock.monotonic() + seconds
            if self._blocked_until is None or until > self._blocked_until:
                self._blocked_until = until
                self._blocked_cause = cause

    def _delay_locked(self) -> float:
        now = self._clock.time()
        mono = self._clock.monotonic()
        self._expire_locked(now)
        waits = [(0.0, "none")]
        budget = self._budget
        if budget is not None and budget.remaining <= 0:
            waits.append((budget.reset_at - now, "budget"))
        if self._blocked_until is not None:
            waits.append((self._blocked_until - mono, self._blocked_cause))
        if self._interval and self._last_start is not None:
            waits.append((self._last_start + self._interval - mono, "ceiling"))
        delay, self.cause = max(waits, key=lambda pair: pair[0])
        if delay <= _EPSILON:
            return 0.0
        return min(delay, self._max_wait)

    def _admit_locked(self) -> None:
        self._last_start = self._clock.monotonic()
        self._in_flight += 1
        budget = self._budget
        if budget is not None:
            self._budget = RateLimitBudget(
                budget.limit, max(budget.remaining - 1, 0), budget.reset_at
            )

    def _expire_locked(self, now: float) -> None:
        if self._budget is not None and self._budget.reset_at <= now:
            self._budget = None


# --------------------------------------------------------------------------------------------
# Retry waits
# --------------------------------------------------------------------------------------------


def is_retryable_status(code: int) -> bool:
    """True for statuses worth retrying (:data:`RETRYABLE_STATUS`)."""
    return code in RETRYABLE_STATUS


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait before retrying a failed request.

    Attributes:
        max_retries: Retries after the first attempt (attempts 1..max_retries may be retried).
        base_seconds: First backoff ceiling; doubles with each attempt.
        cap_seconds: Largest backoff ceiling.
        max_retry_after_seconds: Largest server-requested wait that is honoured as is.

    Example:
        >>> RetryPolicy().wait_seconds(3, retry_after=12.0, rng=random.Random(0))
        12.0
    """

    max_retries: int = 5
    base_seconds: float = 1.0
    cap_seconds: float = 60.0
    max_retry_after_seconds: float = 300.0

    def wait_seconds(self, attempt: int, *, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait before retry number ``attempt`` (1 for the first retry).

        With ``retry_after`` (seconds, already parsed) the server's word is followed exactly:
        ``min(retry_after, max_retry_after_seconds)``, no jitter. Without it, "full jitter":
        ``uniform(0, min(cap_seconds, base_seconds * 2 ** (attempt - 1)))``.
        """
        if attempt < 1:
            raise ValueError("attempt is 1-based")
        if retry_after is not None and not math.isnan(retry_after):
            return min(max(retry_after, 0.0), self.max_retry_after_seconds)
        # Cap the exponent first: 2 ** 2000 would overflow a float.
        ceiling = min(self.cap_seconds, self.base_seconds * 2.0 ** min(attempt - 1, 64))
        return rng.uniform(0.0, ceiling)
