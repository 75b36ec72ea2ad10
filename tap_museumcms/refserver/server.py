"""The reference server: the Museum CMS harvesting API over HTTP/1.1, with switchable faults.

Stdlib only (``http.server``). Keep-alive is real (one handler per TCP connection, many requests),
bodies are ``Transfer-Encoding: chunked`` framed by hand, time comes from an injected clock.

Endpoints::

    GET  /objects | /rights | /media ?cursor=&limit=&modified_since=   application/x-ndjson
         {"ObjectID": "T00938", ..., "next_cursor": "b64:MQ=="}\\n ...       (empty body = done)
    GET  /_admin/stats                  {"requests": {"/objects": 3}, "connections": 1, ...}
    GET  /_admin/expected?stream=objects {"valid_keys": [...], "invalid_positions": [...], ...}
    POST /_admin/mutate   {"op": "update"|"add"|"delete", "stream": "objects", "key": "...",
                           "fields": {...}}                 → {"line": {...}}
    POST /_admin/faults   {"status_429_every": 3, ...}     → the new fault settings

Errors are JSON: ``{"error": "bad_request", "message": "limit must be an integer"}``.

Fault counters (see :class:`Faults`): ``n`` numbers the *data requests* (authorised, well-formed
GETs of the three endpoints, all endpoints together, from 1; requests refused by the rate limiter
do not advance it). A switch ``x_every = k`` fires when ``n % k == 0``; the status faults win over
the body faults, in the order 429, 503, 502, 504. The page switches (``stuck_cursor_at_page``,
``cursor_loop_at_page``) count the 200 pages of one *harvest* per endpoint: a request without a
cursor (or with ``cursor=0``) starts a new harvest at page 1. Replacing the faults resets every
counter.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import email.utils
import hmac
import json
import math
import socket
import struct
import sys
import threading
import time
import typing as t
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from tap_museumcms.clock import SYSTEM_CLOCK, Clock
from tap_museumcms.refserver.collection import (
    STREAM_KEYS,
    Collection,
    Expected,
    parse_timestamp,
)

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
_CHUNK_TARGET = 32 * 1024
_STREAM_PATHS = {f"/{name}": name for name in STREAM_KEYS}
_SECRET_PARAMS = {"api_key", "apikey", "key", "token", "access_token", "client_secret"}


# --- cursors -----------------------------------------------------------------------------------
def encode_cursor(position: int) -> str:
    """The opaque cursor that resumes at ``position``: ``"b64:" + urlsafe_b64(str(position))``."""
    return "b64:" + base64.urlsafe_b64encode(str(position).encode()).decode()


def decode_cursor(cursor: str | None) -> int:
    """Position of a cursor; absent, empty or ``"0"`` is the beginning.

    Raises:
        ValueError: for anything the server did not issue.
    """
    if cursor in (None, "", "0"):
        return 0
    cursor = t.cast(str, cursor)
    if not cursor.startswith("b64:"):
        raise ValueError("cursor is not one this server issued")
    payload = cursor[4:]
    try:
        text = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ValueError("cursor is not valid base64") from exc
    if not text.isdigit():
        raise ValueError("cursor does not encode a position")
    return int(text)


# --- faults ------------------------------------------------------------------------------------
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
        reset_mid_body_every: every n-th page stops after about half its lines and part of the
            next one, and the connection is closed without the terminating chunk.
        reset_with_rst: close that connection with a TCP RST (``SO_LINGER 0``) instead of a FIN.
        truncate_body_every: every n-th page ends mid-line, but the chunked framing is complete.
        malformed_line_every: insert a non-JSON line (no cursor) after every n-th position; the
            same line at the same place on every request (see ``ReferenceServer.expected``); a
            page that resumes right after it starts with it again.
        blank_lines: sprinkle empty lines through every page.
        stuck_cursor_at_page: page n of a harvest ends with a ``next_cursor`` equal to the cursor
            it was requested with.
        cursor_loop_at_page: page n of a harvest ends with the cursor page n-1 was requested with.
        overlap_every: every n-th page starts ``overlap_records`` positions before its cursor.
        overlap_records: how many records an overlapping page re-delivers.
        rate_limit: ``(limit, window_seconds)``: fixed windows on the server clock; a request
            over budget gets 429 with ``Retry-After`` = time left in the window.
        rate_limit_headers: how the budget is announced on every data response: ``"x-delta"``
            (``X-RateLimit-Limit/Remaining/Reset``, reset in seconds), ``"x-epoch"`` (reset as a
            Unix time), ``"ietf"`` (``RateLimit: limit=10, remaining=9, reset=30`` and
            ``RateLimit-Policy: 10;w=60``), ``"ietf-structured"`` (``RateLimit: "default";r=9;t=30``
            and ``RateLimit-Policy: "default";q=10;w=60``) or None.
        slow_first_byte: real seconds to wait before the status line (real time, for timeouts).
    """

    status_429_every: int = 0
    retry_after: float = 1.0
    retry_after_form: str = "seconds"
    status_503_every: int = 0
    status_502_every: int = 0
    status_504_every: int = 0
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

    def __post_init__(self) -> None:
        if self.retry_after_form not in ("seconds", "date", "alternate"):
            raise ValueError(f"retry_after_form: unknown form {self.retry_after_form!r}")
        forms = (None, "x-delta", "x-epoch", "ietf", "ietf-structured")
        if self.rate_limit_headers not in forms:
            raise ValueError(f"rate_limit_headers: unknown form {self.rate_limit_headers!r}")
        if self.rate_limit is not None:
            limit, window = self.rate_limit
            if int(limit) < 1 or float(window) <= 0:
                raise ValueError("rate_limit must be (limit >= 1, window > 0)")
            self.rate_limit = (int(limit), float(window))

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


def malformed_line(stream: str, position: int) -> bytes:
    """The non-JSON line ``Faults.malformed_line_every`` inserts after ``position`` (no newline)."""
    key = STREAM_KEYS[stream]
    return f'{{"{key}": "junk-{position}", "title": unquoted text after {position}'.encode()


# --- stats -------------------------------------------------------------------------------------
class RequestLog(t.NamedTuple):
    """One request as the server saw it: ``(path, params, status)``; query values as sent (the
    first of each name), credentials-looking parameters removed."""

    path: str
    params: dict[str, str]
    status: int


class ServerStats:
    """Thread-safe counters; every property returns a copy."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._statuses: Counter[int] = Counter()
        self._log: list[RequestLog] = []
        self._connections = 0
        self._bytes_sent = 0

    def record(self, path: str, params: dict[str, str], status: int) -> None:
        with self._lock:
            self._requests[path] += 1
            self._statuses[status] += 1
            self._log.append(RequestLog(path, dict(params), status))

    def connection_opened(self) -> None:
        with self._lock:
            self._connections += 1

    def add_bytes(self, count: int) -> None:
        with self._lock:
            self._bytes_sent += count

    @property
    def requests(self) -> dict[str, int]:
        """Requests per path, e.g. ``{"/objects": 12, "/_admin/stats": 1}``."""
        with self._lock:
            return dict(self._requests)

    @property
    def statuses(self) -> dict[int, int]:
        """Responses per status code."""
        with self._lock:
            return dict(self._statuses)

    @property
    def count_429(self) -> int:
        """How many 429 responses were sent (fault or rate limiter)."""
        with self._lock:
            return self._statuses[429]

    @property
    def log(self) -> list[RequestLog]:
        """Every request in arrival order (of the response)."""
        with self._lock:
            return list(self._log)

    @property
    def connections(self) -> int:
        """TCP connections accepted."""
        with self._lock:
            return self._connections

    @property
    def bytes_sent(self) -> int:
        """Bytes written to sockets (headers, framing and bodies)."""
        with self._lock:
            return self._bytes_sent

    def snapshot(self) -> dict[str, t.Any]:
        """JSON-ready copy, as served by ``GET /_admin/stats``."""
        with self._lock:
            return {
                "requests": dict(self._requests),
                "statuses": {str(k): v for k, v in self._statuses.items()},
                "connections": self._connections,
                "bytes_sent": self._bytes_sent,
                "log": [entry._asdict() for entry in self._log],
            }


# --- request-independent policy ------------------------------------------------------------------
class _FaultState:
    """Counters behind the fault switches (guarded by the server's lock)."""

    def __init__(self) -> None:
        self.data_requests = 0
        self.retry_after_sent = 0
        self.page: dict[str, int] = {}
        self.page_cursors: dict[str, list[str]] = {}
        self.window_index: int | None = None
        self.window_count = 0


class _Reply(t.NamedTuple):
    """What a data request turns into before anything is written."""

    status: int
    headers: list[tuple[str, str]]
    lines: list[bytes]
    body_fault: str | None


class ReferenceServer:
    """The reference CMS server, in a background thread.

    Example:
        >>> with ReferenceServer(GeneratedCollection(1000)) as server:   # doctest: +SKIP
        ...     requests.get(server.url + "/objects", params={"limit": 10})

    Args:
        collection: the data; its ``clock`` is set to ``clock`` so mutations use server time.
        faults: fault switches (default: none).
        token: when set, data requests need ``Authorization: Bearer <token>`` or
            ``X-API-Key: <token>``, else 401. The token is never logged nor echoed.
        host: interface to bind.
        port: 0 picks a free port.
        clock: time for rate windows, ``Retry-After`` dates, ``Date`` and mutations.
        max_limit: page size cap (at most 1000); larger ``limit`` values are capped silently.
        verbose: log one line per request to stderr (path and status, never the query).
    """

    def __init__(
        self,
        collection: Collection,
        *,
        faults: Faults | None = None,
        token: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Clock = SYSTEM_CLOCK,
        max_limit: int = MAX_LIMIT,
        verbose: bool = False,
    ) -> None:
        self.collection = collection
        collection.clock = clock
        self.clock = clock
        self.stats = ServerStats()
        self.max_limit = max(1, min(MAX_LIMIT, max_limit))
        self.verbose = verbose
        self._token = token
        self._host, self._port = host, port
        self._faults = faults or Faults()
        self._state = _FaultState()
        self._lock = threading.Lock()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> ReferenceServer:
        """Bind and serve in a daemon thread; returns self."""
        if self._httpd is not None:
            return self
        httpd = _HTTPServer((self._host, self._port), _Handler)
        httpd.app = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name="refserver",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every open connection."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ReferenceServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:41234``."""
        if self._httpd is None:
            raise RuntimeError("server not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    # --- faults and ground truth -------------------------------------------------------------
    @property
    def faults(self) -> Faults:
        """The current fault settings (a copy: use :meth:`set_faults` to change them)."""
        with self._lock:
            return dataclasses.replace(self._faults)

    def set_faults(self, faults: Faults) -> None:
        """Replace the fault settings and reset every fault counter."""
        with self._lock:
            self._faults = faults
            self._state = _FaultState()

    def expected_malformed(self, stream: str) -> frozenset[bytes]:
        """The lines ``malformed_line_every`` inserts in a full harvest of ``stream``."""
        every = self.faults.malformed_line_every
        if every <= 0:
            return frozenset()
        size = self.collection.size(stream)
        return frozenset(malformed_line(stream, p) for p in range(every - 1, size, every))

    def expected(self, stream: str) -> Expected:
        """The collection's ground truth plus the malformed lines this server inserts."""
        base = self.collection.expected(stream)
        return dataclasses.replace(base, malformed_lines=self.expected_malformed(stream))

    # --- auth --------------------------------------------------------------------------------
    def authorised(self, headers: t.Mapping[str, str]) -> bool:
        """True when no token is configured or the request carries it."""
        if self._token is None:
            return True
        expected = self._token.encode()
        bearer = headers.get("Authorization") or ""
        scheme, _, credentials = bearer.partition(" ")
        offered = credentials.strip().encode()
        if scheme.lower() == "bearer" and hmac.compare_digest(offered, expected):
            return True
        api_key = headers.get("X-API-Key")
        return api_key is not None and hmac.compare_digest(api_key.strip().encode(), expected)

    # --- data requests -----------------------------------------------------------------------
    def _rate_headers(self, *, count_request: bool) -> tuple[bool, list[tuple[str, str]], float]:
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
        reset_delta = max(1, math.ceil(reset))
        w = int(window) if float(window).is_integer() else window
        headers: list[tuple[str, str]] = []
        if form in ("x-delta", "x-epoch"):
            headers = [
                ("X-RateLimit-Limit", str(limit)),
                ("X-RateLimit-Remaining", str(remaining)),
                (
                    "X-RateLimit-Reset",
                    str(reset_delta if form == "x-delta" else math.ceil(window_end)),
                ),
            ]
        elif form == "ietf":
            headers = [
                ("RateLimit", f"limit={limit}, remaining={remaining}, reset={reset_delta}"),
                ("RateLimit-Policy", f"{limit};w={w}"),
            ]
        elif form == "ietf-structured":
            headers = [
                ("RateLimit", f'"default";r={remaining};t={reset_delta}'),
                ("RateLimit-Policy", f'"default";q={limit};w={w}'),
            ]
        return allowed, headers, reset

    def _retry_after(self, seconds: float) -> str:
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

    def _reply(self, stream: str, params: dict[str, str]) -> _Reply:
        """Decide the whole response to a valid data request (status, headers, lines, fault).

        Raises:
            ValueError: on a bad query (the caller answers 400).
        """
        limit = _parse_limit(params.get("limit"), self.max_limit)
        cursor = params.get("cursor")
        position = decode_cursor(cursor)
        since_text = params.get("modified_since")
        since = None
        if since_text:
            try:
                since = parse_timestamp(since_text.replace(" ", "+"))
            except ValueError as exc:
                raise ValueError("modified_since must be an ISO 8601 timestamp") from exc

        allowed, rate_headers, reset = self._rate_headers(count_request=True)
        if not allowed:
            headers = [*rate_headers, ("Retry-After", self._retry_after(reset))]
            return _Reply(429, headers, [], None)
        with self._lock:
            faults, state = self._faults, self._state
            state.data_requests += 1
            n = state.data_requests

        def fires(every: int) -> bool:
            return every > 0 and n % every == 0

        if fires(faults.status_429_every):
            headers = [*rate_headers, ("Retry-After", self._retry_after(faults.retry_after))]
            return _Reply(429, headers, [], None)
        if fires(faults.status_503_every):
            headers = [*rate_headers, ("Retry-After", self._retry_after(faults.retry_after))]
            return _Reply(503, headers, [], None)
        if fires(faults.status_502_every):
            return _Reply(502, rate_headers, [], None)
        if fires(faults.status_504_every):
            return _Reply(504, rate_headers, [], None)

        with self._lock:
            if cursor in (None, "", "0"):
                state.page[stream] = 0
                state.page_cursors[stream] = []
            state.page[stream] = state.page.get(stream, 0) + 1
            page = state.page[stream]
            history = state.page_cursors.setdefault(stream, [])
            history.append(cursor or "0")
            previous = history[-2] if len(history) >= 2 else "0"

        start = position
        if fires(faults.overlap_every):
            start = max(0, position - faults.overlap_records)
        forced_cursor = None
        if faults.stuck_cursor_at_page and page == faults.stuck_cursor_at_page:
            forced_cursor = cursor or "0"
        elif faults.cursor_loop_at_page and page == faults.cursor_loop_at_page:
            forced_cursor = previous
        lines = self._page_lines(stream, start, limit, since, faults, forced_cursor)
        body_fault = None
        if fires(faults.reset_mid_body_every):
            body_fault = "reset"
        elif fires(faults.truncate_body_every):
            body_fault = "truncate"
        headers = [("Content-Type", "application/x-ndjson"), *rate_headers]
        return _Reply(200, headers, lines, body_fault)

    def _page_lines(
        self,
        stream: str,
        start: int,
        limit: int,
        since: float | None,
        faults: Faults,
        forced_cursor: str | None,
    ) -> list[bytes]:
        """The page's lines (each ending in ``\\n``): records with ``next_cursor``, malformed lines
        as they are. A page holds ``limit`` records; malformed lines do not count."""
        lines: list[bytes] = []
        last_record = -1
        records = 0
        every = faults.malformed_line_every
        if every > 0 and start > 0 and start % every == 0:
            # The bad line after the previous record has no cursor of its own: a page that
            # resumes after that record starts with it again (as the contract says of a bad
            # last line), so a body cut in the middle of it does not lose it.
            lines.append(malformed_line(stream, start - 1) + b"\n")
        for position, raw, is_object in self.collection.iter_from(stream, start, since):
            if faults.blank_lines and position % 4 == 0:
                lines.append(b"\n")
            if is_object:
                lines.append(_with_cursor(raw, encode_cursor(position + 1)) + b"\n")
                records += 1
                last_record = len(lines) - 1
            else:
                lines.append(raw + b"\n")
            if every > 0 and (position + 1) % every == 0:
                lines.append(malformed_line(stream, position) + b"\n")
            if records >= limit:
                break
        if forced_cursor is not None and last_record >= 0:
            lines[last_record] = _force_cursor(lines[last_record], forced_cursor)
        return lines


def _parse_limit(value: str | None, cap: int) -> int:
    if value is None or value == "":
        return min(DEFAULT_LIMIT, cap)
    try:
        limit = int(value)
    except ValueError as exc:
        raise ValueError("limit must be an integer") from exc
    if limit < 1:
        raise ValueError("limit must be at least 1")
    return min(limit, cap)


def _with_cursor(raw: bytes, cursor: str) -> bytes:
    """A JSON object line with ``"next_cursor"`` appended; the record's bytes are kept as they are.

    Example:
        >>> _with_cursor(b'{"ObjectID":"a"}', "b64:MQ==")
        b'{"ObjectID":"a","next_cursor":"b64:MQ=="}'
    """
    body = raw.rstrip()
    separator = b"" if body[:-1].strip() == b"{" else b","
    return body[:-1] + separator + b'"next_cursor":"' + cursor.encode() + b'"}'


def _force_cursor(line: bytes, cursor: str) -> bytes:
    record = json.loads(line)
    record["next_cursor"] = cursor
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


# --- HTTP plumbing -----------------------------------------------------------------------------
class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    app: ReferenceServer

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def track(self, sock: socket.socket, opened: bool) -> None:
        with self._open_lock:
            (self._open.add if opened else self._open.discard)(sock)

    def handle_error(self, request: t.Any, client_address: t.Any) -> None:
        """A connection the client dropped or the server aborted is not news; quiet by default."""
        if self.app.verbose:
            super().handle_error(request, client_address)

    def close_connections(self) -> None:
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _CountingWriter:
    """Unbuffered socket writer that counts bytes into the stats."""

    def __init__(self, raw: t.Any, stats: ServerStats) -> None:
        self._raw = raw
        self._stats = stats

    def write(self, data: bytes) -> int:
        self._raw.write(data)
        self._stats.add_bytes(len(data))
        return len(data)

    @property
    def closed(self) -> bool:
        return bool(self._raw.closed)

    def flush(self) -> None:
        self._raw.flush()

    def close(self) -> None:
        self._raw.close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "MuseumCMS-Reference/1.0"
    timeout = 120
    server: _HTTPServer

    @property
    def app(self) -> ReferenceServer:
        return self.server.app

    def setup(self) -> None:
        super().setup()
        # headers and body go out in separate writes: without this, Nagle + delayed ACK add 40 ms
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, True)
        self.app.stats.connection_opened()
        self.wfile = _CountingWriter(self.wfile, self.app.stats)  # type: ignore[assignment]

    def finish(self) -> None:
        self.server.track(self.connection, False)
        with contextlib.suppress(OSError):
            super().finish()

    def version_string(self) -> str:
        return self.server_version

    # logging: quiet unless verbose; never the query string, never headers
    def date_time_string(self, timestamp: float | None = None) -> str:
        return email.utils.formatdate(
            self.app.clock.time() if timestamp is None else timestamp, usegmt=True
        )

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = urlsplit(self.path).path if hasattr(self, "path") else "-"
        self.log_message("%s %s %s", getattr(self, "command", "-"), path, code)

    def log_message(self, format: str, *args: t.Any) -> None:  # noqa: A002
        if self.app.verbose:
            sys.stderr.write(f"refserver {self.address_string()} {format % args}\n")

    # responses
    def _send_json(
        self,
        status: int,
        payload: t.Any,
        headers: t.Iterable[tuple[str, str]] = (),
    ) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _error(
        self, status: int, error: str, message: str, headers: t.Iterable[tuple[str, str]] = ()
    ) -> None:
        self._send_json(status, {"error": error, "message": message}, headers)

    def _discard_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _params(self) -> dict[str, str]:
        query = parse_qs(urlsplit(self.path).query, keep_blank_values=True)
        return {name: values[0] for name, values in query.items()}

    def _record(self, status: int) -> None:
        params = {
            name: value
            for name, value in self._params().items()
            if name.lower() not in _SECRET_PARAMS
        }
        self.app.stats.record(urlsplit(self.path).path, params, status)

    # methods
    def do_GET(self) -> None:  # noqa: N802
        self._discard_body()
        path = urlsplit(self.path).path
        try:
            if path in _STREAM_PATHS:
                self._data(_STREAM_PATHS[path])
            elif path == "/_admin/stats":
                self._record(200)
                self._send_json(200, self.app.stats.snapshot())
            elif path == "/_admin/expected":
                self._admin_expected()
            else:
                self._record(404)
                self._error(404, "not_found", f"no such endpoint: {path}")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def do_POST(self) -> None:  # noqa: N802
        body = self._discard_body()
        path = urlsplit(self.path).path
        try:
            if path == "/_admin/mutate":
                self._admin_mutate(body)
            elif path == "/_admin/faults":
                self._admin_faults(body)
            elif path in _STREAM_PATHS:
                self._record(405)
                self._error(405, "method_not_allowed", "use GET", [("Allow", "GET")])
            else:
                self._record(404)
                self._error(404, "not_found", f"no such endpoint: {path}")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # admin
    def _admin_expected(self) -> None:
        stream = self._params().get("stream", "")
        if stream not in STREAM_KEYS:
            self._record(400)
            self._error(400, "bad_request", f"stream must be one of {sorted(STREAM_KEYS)}")
            return
        expected = self.app.expected(stream)
        self._record(200)
        self._send_json(
            200,
            {
                "valid_keys": sorted(expected.valid_keys),
                "invalid_positions": sorted(expected.invalid_positions),
                "tombstones": sorted(expected.tombstones),
                "malformed_lines": sorted(m.decode() for m in expected.malformed_lines),
            },
        )

    def _admin_mutate(self, body: bytes) -> None:
        try:
            request = json.loads(body or b"{}")
            op, stream = request["op"], request["stream"]
            collection = self.app.collection
            if op == "update":
                line = collection.update(stream, request["key"], **request.get("fields", {}))
            elif op == "add":
                line = collection.add(stream, request.get("record") or request["fields"])
            elif op == "delete":
                line = collection.delete(stream, request["key"])
            else:
                raise ValueError(f"unknown op {op!r}")
        except (ValueError, KeyError, TypeError) as exc:
            self._record(400)
            self._error(400, "bad_request", str(exc))
            return
        self._record(200)
        self._send_json(200, {"line": json.loads(line)})

    def _admin_faults(self, body: bytes) -> None:
        try:
            faults = Faults.from_dict(json.loads(body or b"{}"))
        except (ValueError, TypeError) as exc:
            self._record(400)
            self._error(400, "bad_request", str(exc))
            return
        self.app.set_faults(faults)
        self._record(200)
        self._send_json(200, faults.to_dict())

    # data
    def _data(self, stream: str) -> None:
        app = self.app
        if not app.authorised(self.headers):
            self._record(401)
            _, rate_headers, _ = app._rate_headers(count_request=False)
            self._error(
                401,
                "unauthorized",
                "missing or invalid credentials: send Authorization: Bearer <token> or X-API-Key",
                [("WWW-Authenticate", 'Bearer realm="museumcms"'), *rate_headers],
            )
            return
        try:
            reply = app._reply(stream, self._params())
        except ValueError as exc:
            self._record(400)
            self._error(400, "bad_request", str(exc))
            return
        slow = app.faults.slow_first_byte
        if slow > 0:
            time.sleep(slow)
        if reply.status != 200:
            self._record(reply.status)
            messages = {
                429: ("too_many_requests", "slow down"),
                502: ("bad_gateway", "upstream CMS did not answer"),
                503: ("unavailable", "the CMS is busy"),
                504: ("gateway_timeout", "upstream CMS timed out"),
            }
            error, message = messages[reply.status]
            self._error(reply.status, error, message, reply.headers)
            return
        self._record(200)
        self.send_response(200)
        for name, value in reply.headers:
            self.send_header(name, value)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self._write_body(reply.lines, reply.body_fault)

    def _write_chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _write_body(self, lines: list[bytes], fault: str | None) -> None:
        """Chunked body: lines batched into ~32 KiB chunks, then the terminating chunk.

        ``fault="truncate"`` keeps the first half of the lines and half of the next one (framing
        intact); ``fault="reset"`` sends the same and drops the connection instead of the
        terminating chunk (on an empty page: right after the headers).
        """
        if fault is not None and lines:
            half = len(lines) // 2
            partial = lines[half][: max(1, len(lines[half]) // 2)] if half < len(lines) else b""
            lines = [*lines[:half], partial]
        buffer = bytearray()
        for line in lines:
            buffer += line
            if len(buffer) >= _CHUNK_TARGET:
                self._write_chunk(bytes(buffer))
                buffer.clear()
        self._write_chunk(bytes(buffer))
        if fault == "reset":
            self._abort()
            return
        self.wfile.write(b"0\r\n\r\n")

    def _abort(self) -> None:
        """Drop the connection mid-body (FIN, or RST with ``reset_with_rst``)."""
        self.close_connection = True
        sock = self.connection
        try:
            if self.app.faults.reset_with_rst:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()
            else:
                sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
