"""The reference server's fault switches and the counters behind them, shared by both faces.

:class:`Faults` is the switchboard; :class:`FaultPolicy` applies it to one request at a time:
the rate budget, the data-request counter and the status faults (429, 503, 502, 504, 500), the
redirect to another host, the page counter of a harvest (stuck or looping cursors),
``Retry-After`` values, and the counters of the connection and credential faults. Faces turn a
request into a :class:`Reply`, which the HTTP handler writes without looking inside.

Counting: ``n`` numbers the *data requests* (authorised, well-formed requests of the JSONL
endpoints and of ``/oai``, all together, from 1; requests refused by the rate limiter do not
advance it). A switch ``x_every = k`` fires when ``n % k == 0`` (the status faults on
``status_burst`` requests in a row from there). The *API requests* (every request to a data
endpoint or to ``/oauth/token``, whatever its fate, from 1) are counted apart: they drive
``refuse_from_request``. Token requests are counted apart as well (``oauth_token_503_every``).
"""

from __future__ import annotations

import dataclasses
import email.utils
import math
import threading
import typing as t
from collections.abc import Iterable

from tap_museumcms.clock import Clock

_RATE_HEADER_FORMS = (None, "x-delta", "x-epoch", "ietf", "ietf-structured")


@dataclasses.dataclass
class Faults:
    """Switchable misbehaviour; every switch independent and deterministic (0/None = off).

    Attributes:
        status_429_every: every n-th data request gets 429 with ``Retry-After``.
        retry_after: seconds announced in ``Retry-After`` by the 429/503 faults.
        retry_after_form: ``"seconds"`` (delta-seconds, rounded up), ``"date"`` (an HTTP-date
            from the server clock, rounded up to the next whole second so a client waiting until
            it is never early) or ``"alternate"`` (seconds, date, seconds, ...).
        status_503_every: every n-th data request gets 503 with ``Retry-After``.
        status_502_every: every n-th data request gets 502 (no ``Retry-After``).
        status_504_every: every n-th data request gets 504 (no ``Retry-After``).
        status_500_every: every n-th data request gets 500 (no ``Retry-After``).
        status_burst: the status faults fire on this many data requests in a row (``n``, ``n+1``,
            ...: ``n % every < status_burst``), e.g. 3 for bursts of three 503s.
        reset_mid_body_every: every n-th page stops after about half its lines (OAI: records) and
            part of the next one, and the connection is closed without the terminating chunk.
        reset_with_rst: close that connection with a TCP RST (``SO_LINGER 0``) instead of a FIN.
        truncate_body_every: every n-th page ends mid-line (OAI: mid-record), but the chunked
            framing is complete.
        malformed_line_every: insert a non-JSON line (no cursor) after every n-th position; the
            same line at the same place on every request (see ``ReferenceServer.expected``); a
            page that resumes right after it starts with it again. OAI: a malformed ``<record>``
            (identifier ``oai:refserver.example:junk-after-<n>``) after position n.
        blank_lines: sprinkle empty lines through every page (JSONL only).
        stuck_cursor_at_page: page n of a harvest ends with a ``next_cursor`` equal to the cursor
            it was requested with (OAI: announces the resumptionToken it was requested with).
        cursor_loop_at_page: page n of a harvest ends with the cursor page n-1 was requested with.
        overlap_every: every n-th page starts ``overlap_records`` positions before its cursor
            (JSONL only).
        overlap_records: how many records an overlapping page re-delivers.
        rate_limit: ``(limit, window_seconds)``: fixed windows on the server clock; a request
            over budget gets 429 with ``Retry-After`` = time left in the window.
        rate_limit_headers: how the budget is announced on every data response: ``"x-delta"``
            (``X-RateLimit-Limit/Remaining/Reset``, reset in seconds), ``"x-epoch"`` (reset as a
            Unix time), ``"ietf"`` (``RateLimit: limit=10, remaining=9, reset=30`` and
            ``RateLimit-Policy: 10;w=60``), ``"ietf-structured"`` (``RateLimit: "default";r=9;t=30``
            and ``RateLimit-Policy: "default";q=10;w=60``) or None.
        slow_first_byte: real seconds to wait before the status line (real time, for timeouts).
        slow_first_byte_every: 0: every data request is slow; n: only every n-th one.
        gzip_bodies: replies to clients whose ``Accept-Encoding`` allows gzip go out gzipped
            (``Content-Encoding: gzip``; a cut body is cut in its compressed form).
        gzip_bomb_every: every n-th data request that would be answered 200 gets a small gzip
            body (about ``gzip_bomb_bytes / 1000``) that inflates to ``gzip_bomb_bytes`` of spaces,
            whatever the client accepts.
        gzip_bomb_bytes: the inflated size of that body (default 2 GiB).
        schema_drift_every: JSONL: the record at every n-th position of each stream is sent with
            every field but its key in another shape (text as ``{"en": ...}``, numbers as lists,
            booleans as ``"yes"``/``"no"``, lists as ``{"items": ...}``, objects in a list):
            a record a client must quarantine (see ``ReferenceServer.expected``).
        refuse_from_request: API requests number ``refuse_from_request`` to
            ``refuse_from_request + refuse_for_requests - 1`` are not answered: the connection is
            closed once the request is read (the client sees a connection error); then the server
            answers again. Logged with status 0.
        refuse_for_requests: how many API requests in a row are refused.
        redirect_other_host_every: every n-th data request is answered 302 to the same path and
            query on ``redirect_host`` instead of ``127.0.0.1`` (another host for a client). While
            this is on, requests for that host are the other host: a public mirror that asks for
            no credentials and never redirects.
        redirect_host: the other host's name (default ``localhost``, which reaches this server;
            any other name only tests what a client does before it connects).
        reject_key: one of the server's accepted keys (its value) that answers
            ``reject_key_status`` from data request ``reject_key_from_request`` on.
        reject_key_from_request: the data request from which ``reject_key`` is refused.
        reject_key_status: 401 (default) or 403.
        oauth_revoke_at_request: when data request n comes, every OAuth2 token issued before it
            is revoked (that request gets 401); tokens issued afterwards are good.
        oauth_token_503_every: every n-th token request gets 503 with ``Retry-After``.
        oauth_wrong_scope: tokens are issued but the data endpoints refuse them (401), as when
            a client asks for the wrong scope.
        oai_bad_token_every: every n-th OAI request that carries a resumptionToken is answered
            ``badResumptionToken`` (as if the token had expired).
        oai_errors_as_http: OAI errors keep their XML body but get an HTTP status: 400
            (badArgument, badVerb, badResumptionToken), 422 (cannotDisseminateFormat), 404
            (noRecordsMatch, idDoesNotExist).
        oai_trailing_garbage: bytes after ``</OAI-PMH>`` (an HTML comment and a line of text).
        oai_identifier_whitespace: identifiers wrapped in newlines and spaces.
        oai_datestamp_ms: record datestamps with milliseconds (``2026-01-01T00:00:05.549Z``)
            although the granularity is seconds.
        oai_first_cursor: the ``cursor`` of the first page's resumptionToken (KENOM says 20);
            later pages count on from it.
        oai_list_size_factor: ``completeListSize`` multiplied by this (a wrong estimate).
        oai_omit_final_token: the last page has no ``<resumptionToken>`` element at all.
        oai_huge_description_bytes: pad every record's description (LIDO ``descriptiveNoteValue``,
            ``dc:description``) to this many bytes; the page is streamed, never built whole.
        oai_bot_403: answer 403 (plain text) to a ``User-Agent`` containing ``python-requests``
            or ``bot`` (any case).
    """

    status_429_every: int = 0
    retry_after: float = 1.0
    retry_after_form: str = "seconds"
    status_503_every: int = 0
    status_502_every: int = 0
    status_504_every: int = 0
    status_500_every: int = 0
    status_burst: int = 1
    reset_mid_body_every: int = 0
    reset_with_rst: bool = False
    truncate_body_every: int = 0
    malformed_line_every: int = 0
    blank_lines: bool = False
    stuck_cursor_at_page: int = 0
    cursor_loop_at_page: int = 0
    overlap_every: int = 0
    overlap_records: int = 3
    rate_limit: tuple[int, float] | None = None
    rate_limit_headers: str | None = None
    slow_first_byte: float = 0.0
    slow_first_byte_every: int = 0
    gzip_bodies: bool = False
    gzip_bomb_every: int = 0
    gzip_bomb_bytes: int = 2 * 1024**3
    schema_drift_every: int = 0
    refuse_from_request: int = 0
    refuse_for_requests: int = 1
    redirect_other_host_every: int = 0
    redirect_host: str = "localhost"
    reject_key: str | None = dataclasses.field(default=None, repr=False)
    reject_key_from_request: int = 1
    reject_key_status: int = 401
    oauth_revoke_at_request: int = 0
    oauth_token_503_every: int = 0
    oauth_wrong_scope: bool = False
    oai_bad_token_every: int = 0
    oai_errors_as_http: bool = False
    oai_trailing_garbage: bool = False
    oai_identifier_whitespace: bool = False
    oai_datestamp_ms: bool = False
    oai_first_cursor: int = 0
    oai_list_size_factor: float = 1.0
    oai_omit_final_token: bool = False
    oai_huge_description_bytes: int = 0
    oai_bot_403: bool = False

    def __post_init__(self) -> None:
        if self.retry_after_form not in ("seconds", "date", "alternate"):
            raise ValueError(f"retry_after_form: unknown form {self.retry_after_form!r}")
        if self.rate_limit_headers not in _RATE_HEADER_FORMS:
            raise ValueError(f"rate_limit_headers: unknown form {self.rate_limit_headers!r}")
        if self.rate_limit is not None:
            limit, window = self.rate_limit
            if int(limit) < 1 or float(window) <= 0:
                raise ValueError("rate_limit must be (limit >= 1, window > 0)")
            self.rate_limit = (int(limit), float(window))
        if self.oai_huge_description_bytes < 0 or self.oai_first_cursor < 0:
            raise ValueError("oai_huge_description_bytes and oai_first_cursor must be >= 0")
        if self.oai_list_size_factor < 0:
            raise ValueError("oai_list_size_factor must be >= 0")
        _check_connection_switches(self)

    @classmethod
    def from_dict(cls, data: dict[str, t.Any]) -> Faults:
        """Build from JSON (``{"status_429_every": 3, "rate_limit": [10, 60]}``).

        Raises:
            ValueError: on an unknown switch or a bad value.
        """
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown fault switches: {', '.join(unknown)}")
        values = dict(data)
        if values.get("rate_limit") is not None:
            values["rate_limit"] = tuple(values["rate_limit"])
        return cls(**values)

    def to_dict(self) -> dict[str, t.Any]:
        """The settings as JSON-ready data."""
        data = dataclasses.asdict(self)
        if self.rate_limit is not None:
            data["rate_limit"] = list(self.rate_limit)
        return data


def _check_connection_switches(faults: Faults) -> None:
    """Values the connection, encoding and credential switches cannot take."""
    if faults.status_burst < 1 or faults.refuse_for_requests < 1:
        raise ValueError("status_burst and refuse_for_requests must be >= 1")
    if faults.gzip_bomb_bytes < 1024 * 1024:
        raise ValueError("gzip_bomb_bytes must be at least 1 MiB")
    if faults.reject_key_status not in (401, 403):
        raise ValueError("reject_key_status must be 401 or 403")


class Reply(t.NamedTuple):
    """What a request turns into before anything is written.

    Attributes:
        status: HTTP status.
        headers: extra headers, ``Content-Type`` included.
        body: the body in pieces (a list, or a generator for streamed pages).
        chunked: ``Transfer-Encoding: chunked`` (pieces regrouped into ~32 KiB chunks) instead of
            ``Content-Length`` (then ``body`` must be a list).
        abort: drop the connection after the body instead of the terminating chunk; with
            status 0, drop it without any answer.
        number: the data request's number ``n`` (0 for anything that is not a data request).
    """

    status: int
    headers: list[tuple[str, str]]
    body: Iterable[bytes]
    chunked: bool = False
    abort: bool = False
    number: int = 0


#: No answer at all: the connection is closed once the request is read.
DROP = Reply(0, [], [], abort=True)


class Admission(t.NamedTuple):
    """A data request past the rate limiter and the status faults.

    Attributes:
        n: the request's number (0 when the rate limiter refused it).
        faults: the fault settings the request is served under.
        headers: rate-limit headers for the response (plus ``Retry-After`` when refused).
        status: 200, or the status fault that fires (429, 503, 502, 504, 500), or 302 (the
            redirect to another host, ``Location`` in ``headers``).
    """

    n: int
    faults: Faults
    headers: list[tuple[str, str]]
    status: int

    def fires(self, every: int) -> bool:
        """Whether a switch ``every`` fires for this request."""
        return every > 0 and self.n > 0 and self.n % every == 0


class _FaultState:
    """Counters behind the fault switches (guarded by the policy's lock)."""

    def __init__(self) -> None:
        self.data_requests = 0
        self.token_requests = 0
        self.retry_after_sent = 0
        self.page: dict[str, int] = {}
        self.page_cursors: dict[str, list[str]] = {}
        self.window_index: int | None = None
        self.window_count = 0
        self.api_requests = 0
        self.oauth_token_requests = 0
        self.revoked = False


class FaultPolicy:
    """Applies :class:`Faults` to requests; thread-safe. Replacing the faults resets every counter.

    Args:
        faults: the switches.
        clock: time for rate windows and ``Retry-After`` dates.
    """

    def __init__(self, faults: Faults, clock: Clock) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._faults = faults
        self._state = _FaultState()

    @property
    def faults(self) -> Faults:
        """A copy of the current settings."""
        with self._lock:
            return dataclasses.replace(self._faults)

    def set_faults(self, faults: Faults) -> None:
        """Replace the settings and reset every counter."""
        with self._lock:
            self._faults = faults
            self._state = _FaultState()

    def admit(self, *, redirect_to: str | None = None) -> Admission:
        """Rate budget, then the data-request counter, then the status faults (in the order 429,
        503, 502, 504, 500), then the redirect to ``redirect_to`` (None: never redirected)."""
        allowed, headers, reset = self.rate_headers(count_request=True)
        if not allowed:
            headers = [*headers, ("Retry-After", self.retry_after(reset))]
            return Admission(0, self.faults, headers, 429)
        with self._lock:
            faults = self._faults
            self._state.data_requests += 1
            n = self._state.data_requests
        admission = Admission(n, faults, headers, 200)
        for every, status in (
            (faults.status_429_every, 429),
            (faults.status_503_every, 503),
            (faults.status_502_every, 502),
            (faults.status_504_every, 504),
            (faults.status_500_every, 500),
        ):
            if every > 0 and n >= every and n % every < faults.status_burst:
                if status in (429, 503):
                    headers = [*headers, ("Retry-After", self.retry_after(faults.retry_after))]
                return Admission(n, faults, headers, status)
        if redirect_to is not None and admission.fires(faults.redirect_other_host_every):
            return Admission(n, faults, [*headers, ("Location", redirect_to)], 302)
        return admission

    def refuse(self) -> bool:
        """Count an API request; True when it is one of those refused (no answer at all)."""
        with self._lock:
            faults, state = self._faults, self._state
            state.api_requests += 1
            first = faults.refuse_from_request
            return first > 0 and first <= state.api_requests < first + faults.refuse_for_requests

    def key_refusal(self, key: str) -> int | None:
        """The status that refuses ``key`` now (``reject_key``), or None when it is good."""
        with self._lock:
            faults, state = self._faults, self._state
            due = state.data_requests + 1 >= faults.reject_key_from_request
        if faults.reject_key is not None and due and key == faults.reject_key:
            return faults.reject_key_status
        return None

    def revocation_due(self) -> bool:
        """True once: when the data request ``oauth_revoke_at_request`` comes (revoke then)."""
        with self._lock:
            faults, state = self._faults, self._state
            at = faults.oauth_revoke_at_request
            if at <= 0 or state.revoked or state.data_requests + 1 < at:
                return False
            state.revoked = True
            return True

    def count_oauth_token_request(self) -> tuple[int, Faults]:
        """Number the token requests (from 1); returns the number and the faults in force."""
        with self._lock:
            self._state.oauth_token_requests += 1
            return self._state.oauth_token_requests, self._faults

    def count_token_request(self) -> int:
        """Number the requests that carry an OAI resumptionToken (from 1)."""
        with self._lock:
            self._state.token_requests += 1
            return self._state.token_requests

    def turn_page(self, key: str, cursor: str, *, new_harvest: bool) -> tuple[int, str | None]:
        """Count a 200 page of the harvest ``key`` requested with ``cursor``.

        Returns:
            ``(page number in the harvest from 1, the cursor the previous page was requested
            with or None on page 1)``.
        """
        with self._lock:
            state = self._state
            if new_harvest:
                state.page[key] = 0
                state.page_cursors[key] = []
            state.page[key] = state.page.get(key, 0) + 1
            history = state.page_cursors.setdefault(key, [])
            history.append(cursor)
            return state.page[key], (history[-2] if len(history) >= 2 else None)

    def rate_headers(self, *, count_request: bool) -> tuple[bool, list[tuple[str, str]], float]:
        """Apply the rate budget. Returns (allowed, headers, seconds until the window resets)."""
        with self._lock:
            faults, state = self._faults, self._state
            if faults.rate_limit is None:
                return True, [], 0.0
            limit, window = faults.rate_limit
            now = self.clock.time()
            index = math.floor(now / window)
            if state.window_index != index:
                state.window_index, state.window_count = index, 0
            allowed = state.window_count < limit
            if allowed and count_request:
                state.window_count += 1
            remaining = max(0, limit - state.window_count)
            window_end = (index + 1) * window
            form = faults.rate_limit_headers
        reset = window_end - now
        return allowed, _budget_headers(form, limit, window, remaining, reset, window_end), reset

    def retry_after(self, seconds: float) -> str:
        """A ``Retry-After`` value in the configured form (dates rounded up to whole seconds)."""
        with self._lock:
            form = self._faults.retry_after_form
            self._state.retry_after_sent += 1
            count = self._state.retry_after_sent
        if form == "alternate":
            form = "seconds" if count % 2 else "date"
        if form == "seconds":
            return str(max(0, math.ceil(seconds)))
        return email.utils.formatdate(math.ceil(self.clock.time() + seconds), usegmt=True)


def _budget_headers(
    form: str | None, limit: int, window: float, remaining: int, reset: float, window_end: float
) -> list[tuple[str, str]]:
    """The rate-limit headers of one response in the announced form (see ``Faults``)."""
    reset_delta = max(1, math.ceil(reset))
    w = int(window) if float(window).is_integer() else window
    if form in ("x-delta", "x-epoch"):
        return [
            ("X-RateLimit-Limit", str(limit)),
            ("X-RateLimit-Remaining", str(remaining)),
            ("X-RateLimit-Reset", str(reset_delta if form == "x-delta" else math.ceil(window_end))),
        ]
    if form == "ietf":
        return [
            ("RateLimit", f"limit={limit}, remaining={remaining}, reset={reset_delta}"),
            ("RateLimit-Policy", f"{limit};w={w}"),
        ]
    if form == "ietf-structured":
        return [
            ("RateLimit", f'"default";r={remaining};t={reset_delta}'),
            ("RateLimit-Policy", f'"default";q={limit};w={w}'),
        ]
    return []
