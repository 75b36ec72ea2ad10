"""The one base stream that owns HTTP: session, auth, streamed pages, retries, checkpoints.

Every CMS resource stream (objects, rights, media) is a :class:`MuseumCMSStream`. It replaces
the SDK's request loop (which buffers whole bodies, ignores ``Retry-After``, does not retry a
broken streamed body and stops silently on an empty page) with one that:

* sends every request through one pooled :class:`requests.Session` per tap run;
* paces requests by the server's rate-limit headers and obeys ``Retry-After``
  (:mod:`tap_museumcms.ratelimit`), waiting only on the injected clock;
* reads each body line by line with a size bound (:mod:`tap_museumcms.jsonl`) and closes it;
* validates each line (:mod:`tap_museumcms.models`) and sends failures to ``quarantine``;
* stores the cursor of each record in state *before* the record is emitted and forces a STATE
  before every page request (:mod:`tap_museumcms.checkpoint`);
* resumes a body that breaks mid-stream from the last emitted cursor;
* stops a stream whose cursor does not advance, says so, and lets the others run
  (:mod:`tap_museumcms.pagination`).
"""

from __future__ import annotations

import hashlib
import logging
import re
import sys
import typing as t
from collections import Counter
from contextlib import closing
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

import requests
import requests.adapters
import urllib3.exceptions
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.streams.rest import HTTPRequest, PageContext, RESTStream

from tap_museumcms.checkpoint import Harvest, iso_utc
from tap_museumcms.clock import SYSTEM_CLOCK, Clock
from tap_museumcms.jsonl import RawLine, decode_json_line, iter_lines
from tap_museumcms.models import RecordRejected, ValidationOptions, source_key, validate_record
from tap_museumcms.pagination import BoundedSet, CursorGuard, PageVerdict, RecentRecords
from tap_museumcms.ratelimit import Pacer, RetryPolicy, is_retryable_status, parse_retry_after
from tap_museumcms.redact import sanitize_url

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from singer_sdk.helpers.types import Context

#: Bytes read from the socket at a time.
CHUNK_BYTES = 64 * 1024
#: Connections kept per host in the shared pool.
POOL_SIZE = 4
#: How many raw-line digests each stream remembers to quarantine a bad line once.
QUARANTINE_WINDOW = 100_000
#: Fetches that must return the same cut-off final line, alone, before it is quarantined.
CUT_FETCHES = 3


class TapError(Exception):
    """An error that ends the run with one clear line (and a non-zero exit)."""


class ConfigurationError(TapError):
    """The settings point at something that cannot work (bad URL, key, host)."""


class SourceError(TapError):
    """The source misbehaved beyond what retries can fix."""


class _KnownFailureFilter(logging.Filter):
    """Drops the SDK's generic "unhandled error" line when the error is one of ours.

    The SDK logs it while the exception is being handled, so ``sys.exc_info()`` tells which
    error it is; ours is reported once, clearly, by the tap's ``invoke``.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith("An unhandled error occurred while syncing"):
            return not isinstance(sys.exc_info()[1], TapError)
        return True


_KNOWN_FAILURE_FILTER = _KnownFailureFilter()


class HeaderAuth(requests.auth.AuthBase):
    """Adds the API key as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``."""

    def __init__(self, key: str | None, header: str = "authorization") -> None:
        self._key = key
        self._header = header

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if self._key:
            if self._header == "x-api-key":
                request.headers["X-API-Key"] = self._key
            else:
                request.headers["Authorization"] = f"Bearer {self._key}"
        return request

    def __repr__(self) -> str:  # never show the key
        return f"HeaderAuth(header={self._header!r}, key=***)"


class _Session(requests.Session):
    """A session that never follows a redirect to another host with the API key."""

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: t.Any) -> None:
        # requests drops ``Authorization`` on a redirect to another host, but not ``X-API-Key``.
        if "X-API-Key" in prepared_request.headers and self.should_strip_auth(
            response.request.url, prepared_request.url
        ):
            del prepared_request.headers["X-API-Key"]
        super().rebuild_auth(prepared_request, response)


def shared_session(tap: t.Any) -> requests.Session:
    """Return the tap run's one pooled session, creating it on first use."""
    session = getattr(tap, "_museumcms_session", None)
    if session is None:
        session = _Session()
        adapter = requests.adapters.HTTPAdapter(
            pool_connections=POOL_SIZE, pool_maxsize=POOL_SIZE, max_retries=0
        )
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.stream = True
        tap._museumcms_session = session
    return session


def tap_clock(tap: t.Any) -> Clock:
    """The tap's clock (tests set ``tap.clock`` to a FakeClock)."""
    return getattr(tap, "clock", None) or SYSTEM_CLOCK


def tap_pacer(tap: t.Any) -> Pacer:
    """One pacer per tap run: the rate limit is the server's, shared by every stream."""
    pacer = getattr(tap, "_museumcms_pacer", None)
    if pacer is None:
        rps = tap.config.get("max_requests_per_second")
        pacer = Pacer(
            clock=tap_clock(tap),
            max_requests_per_second=float(rps) if rps else None,
            max_wait_seconds=float(tap.config.get("max_retry_after_seconds", 300)),
        )
        tap._museumcms_pacer = pacer
    return pacer


@dataclass
class StreamStats:
    """What one stream did, for the end-of-stream summary."""

    pages: int = 0
    records: int = 0
    duplicates_skipped: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)
    retries: Counter[str] = field(default_factory=Counter)
    waited_seconds: float = 0.0


@dataclass
class _Harvesting:
    """What one stream's harvest carries from page to page."""

    harvest: Harvest
    guard: CursorGuard
    recent: RecentRecords
    quarantine_seen: BoundedSet
    options: ValidationOptions
    #: The last unterminated, unparseable line and on how many fetches in a row it came back.
    cut: tuple[bytes, int] | None = None


@dataclass
class _Page:
    """Book-keeping for the page being read."""

    requested: str | None
    url: str
    fetched_at: str
    lines: int = 0
    valid: int = 0
    emitted: int = 0
    quarantined: int = 0
    duplicates: int = 0
    last_cursor: str | None = None
    last_cursor_was_new: bool = False
    broken: str | None = None  # why the body could not be read to its end


class MuseumCMSStream(RESTStream):
    """Base for the CMS resource streams. Subclasses only declare name, path, keys.

    Records are dicts shaped by :func:`tap_museumcms.models.validate_record`, plus provenance::

        {"object_id": "1994.127", ..., "modified": "2026-11-20T10:00:00Z",
         "_source_url": "http://cms/objects?limit=500&cursor=b64:...",
         "_source_cursor": "b64:...", "_fetched_at": "2026-11-29T09:00:00Z",
         "_raw_sha256": "9f2c..."}
    """

    replication_key = "modified"
    is_sorted = False
    #: Records leave :func:`~tap_museumcms.models.validate_record` already typed to the schema
    #: (``tests/test_schema_agreement.py`` holds the two together), so the SDK's per-record
    #: type conformance, its largest per-record cost, would only repeat the work.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    #: Names of side streams fed from each valid record of this stream.
    derived_streams: t.ClassVar[tuple[str, ...]] = ()

    # -- configuration -----------------------------------------------------------------

    @property
    def url_base(self) -> str:
        return str(self.config["api_url"]).rstrip("/")

    @property
    def requests_session(self) -> requests.Session:
        return shared_session(self._tap)

    @property
    def authenticator(self) -> HeaderAuth:
        return HeaderAuth(
            self.config.get("api_key"), self.config.get("auth_header", "authorization")
        )

    @property
    def user_agent(self) -> str:
        from tap_museumcms import __version__

        return self.config.get("user_agent") or f"tap-museumcms/{__version__}"

    @property
    def http_headers(self) -> dict[str, str]:
        return {"Accept": "application/x-ndjson", "User-Agent": self.user_agent}

    @property
    def timeout(self) -> float:  # type: ignore[override]
        return float(self.config.get("request_timeout_seconds", 60))

    @property
    def clock(self) -> Clock:
        return tap_clock(self._tap)

    def get_new_paginator(self) -> None:
        """Pagination is owned by :meth:`get_records` (cursor per record, see module doc)."""
        return None

    def get_url_params(self, context: Context | None, next_page_token: t.Any) -> dict[str, t.Any]:
        """Query parameters: ``limit``, ``cursor`` and ``modified_since``.

        ``next_page_token`` is a ``(cursor, modified_since)`` pair.
        """
        cursor, modified_since = next_page_token or (None, None)
        params: dict[str, t.Any] = {"limit": int(self.config.get("page_size", 500))}
        if cursor:
            params["cursor"] = cursor
        if modified_since:
            params["modified_since"] = modified_since
        return params

    def get_http_request(self, *, page: PageContext) -> HTTPRequest:
        request = super().get_http_request(page=page)
        request.safe_query_chars = ":"
        return request

    def _prepare(self, cursor: str | None, modified_since: str | None) -> requests.PreparedRequest:
        page = PageContext(stream_context=None, next_page_token=(cursor, modified_since))
        request = self.get_http_request(page=page)
        return self.build_prepared_request(
            method=request.method,
            url=request.url,
            params=request.encode_params(),
            headers=request.headers,
        )

    # -- state ---------------------------------------------------------------------

    def _increment_stream_state(self, latest_record: t.Any, *, context: t.Any = None) -> None:
        """The bookmark is owned by :class:`~tap_museumcms.checkpoint.Harvest`, not the SDK.

        The SDK's progress markers would promote the newest ``modified`` of *this run* only,
        losing the part of a harvest done before a restart.
        """

    def _checkpoint(self) -> None:
        """Emit a STATE now, whatever the SDK's own schedule."""
        _ = self.stream_state
        self._tap.state_writer.write_state(self.tap_state)

    # -- HTTP ------------------------------------------------------------------------

    def validate_response(self, response: requests.Response) -> None:
        """Classify a final (non-retryable) response; raise with a clear message.

        Retryable statuses (429, 502, 503, 504) never reach here: :meth:`_send` retries them.
        """
        status = response.status_code
        if status < 400:
            return
        url = sanitize_url(response.request.url or "")
        request_id = response.headers.get("X-Request-Id")
        where = f"GET {url}" + (f" (request id {request_id})" if request_id else "")
        # 401/403: the key is wrong, missing or lacks rights.
        if status in (401, 403):
            raise ConfigurationError(
                f"HTTP {status} from {where}: the CMS refused the credentials; "
                "check the api_key and auth_header settings"
            )
        # 404: the api_url does not point at the CMS harvesting API.
        if status == 404:
            raise ConfigurationError(
                f"HTTP 404 from {where}: no such endpoint; check the api_url setting "
                f"(the tap requests {sanitize_url(self.url_base + self.path)})"
            )
        detail = _excerpt(response)
        raise SourceError(f"HTTP {status} from {where}: {detail}")

    def _send(self, cursor: str | None, modified_since: str | None) -> requests.Response:
        """Send one page request with pacing and retries; return a streamed response."""
        policy: RetryPolicy = self._tap.retry_policy
        pacer = tap_pacer(self._tap)
        prepared = self._prepare(cursor, modified_since)
        url = sanitize_url(prepared.url or "")
        attempt = 0
        while True:
            waited = pacer.wait()
            self.stats.waited_seconds += waited
            try:
                response = self.requests_session.send(
                    prepared, stream=True, timeout=self.timeout, allow_redirects=True
                )
            except requests.exceptions.ConnectionError as exc:
                pacer.observe({})  # the request is no longer in flight
                if _is_name_resolution_error(exc):
                    raise ConfigurationError(
                        f"cannot resolve the host of api_url {sanitize_url(self.url_base)!r}; "
                        "check api_url"
                    ) from None
                cause = type(exc).__name__
                # Nothing has answered yet in this run: most likely a wrong host, fail fast.
                limit = (
                    policy.max_retries if self._tap.seen_response else min(policy.max_retries, 2)
                )
                attempt = self._retry_or_raise(attempt, limit, cause, url, None, exc)
                continue
            except requests.exceptions.Timeout as exc:
                pacer.observe({})
                attempt = self._retry_or_raise(
                    attempt, policy.max_retries, type(exc).__name__, url, None, exc
                )
                continue
            self._tap.seen_response = True
            pacer.observe(response.headers)
            if is_retryable_status(response.status_code):
                retry_after = parse_retry_after(
                    response.headers.get("Retry-After"),
                    now=self.clock.time(),
                    max_seconds=policy.max_retry_after_seconds,
                )
                _drain(response)
                attempt = self._retry_or_raise(
                    attempt, policy.max_retries, f"HTTP {response.status_code}", url, retry_after
                )
                continue
            if response.status_code >= 400:
                with closing(response):
                    self.validate_response(response)
            return response

    def _retry_or_raise(
        self,
        attempt: int,
        limit: int,
        cause: str,
        url: str,
        retry_after: float | None,
        exc: BaseException | None = None,
        *,
        category: str | None = None,
    ) -> int:
        """Count a failed attempt, schedule the wait, or give up with a clear error."""
        attempt += 1
        self.stats.retries[category or cause] += 1
        if attempt > limit:
            connect_failed = isinstance(exc, requests.exceptions.ConnectionError)
            if connect_failed and not self._tap.seen_response:
                raise ConfigurationError(
                    f"cannot connect to api_url {sanitize_url(self.url_base)!r} ({cause} after "
                    f"{attempt} "
                    "attempts); check that the CMS is reachable"
                ) from None
            raise SourceError(
                f"giving up on GET {url} after {attempt} attempts: last error {cause}"
            )
        policy: RetryPolicy = self._tap.retry_policy
        wait = policy.wait_seconds(attempt, retry_after=retry_after, rng=self._tap.rng)
        tap_pacer(self._tap).block_for(wait)
        how = "as told by Retry-After" if retry_after is not None else "backoff with jitter"
        self.logger.warning(
            "%s: %s on GET %s; retry %d of %d in %.2f s (%s)",
            self.name, cause, url, attempt, limit, wait, how,
        )
        return attempt

    # -- the harvest -----------------------------------------------------------------

    def get_records(self, context: Context | None) -> Iterator[dict[str, t.Any]]:
        """Harvest the resource page by page from the checkpointed cursor.

        Yields:
            One validated record (with provenance) per valid source line.
        """
        self.stats = StreamStats()
        self.logger.addFilter(_KNOWN_FAILURE_FILTER)
        #: Side streams fed from each record: only those that exist and are selected.
        self._derived = [
            side for name in self.derived_streams
            if (side := self._tap.streams.get(name)) is not None and side.selected
        ]
        harvest = Harvest(self.stream_state, start_date=self.config.get("start_date"))
        run = _Harvesting(
            harvest=harvest,
            guard=CursorGuard(seed=harvest.met_cursors),
            recent=RecentRecords(seed=harvest.recent),
            quarantine_seen=BoundedSet(QUARANTINE_WINDOW),
            options=ValidationOptions(fuzzy_dates=self.config.get("fuzzy_dates", "quarantine")),
        )
        for digest in harvest.recent_quarantine:
            run.quarantine_seen.add(digest)
        policy: RetryPolicy = self._tap.retry_policy
        if harvest.resumed:
            self.logger.info(
                "%s: resuming harvest at cursor %r (modified_since=%s)",
                self.name, harvest.cursor, harvest.modified_since,
            )
        else:
            self.logger.info(
                "%s: starting %s harvest (modified_since=%s)",
                self.name, "incremental" if harvest.modified_since else "full",
                harvest.modified_since,
            )
        failed_in_a_row = 0  # pages that ended early or repeated themselves, without progress
        started = self.clock.monotonic()
        while True:
            requested = harvest.cursor
            run.guard.meet(requested)
            harvest.note_requested(requested)
            if self.stats.pages:
                # Before every request but the run's first (nothing to lose before it, and a
                # run that fails at once leaves the saved state as it was).
                self._checkpoint()
            response = self._send(requested, harvest.modified_since)
            harvest.note_server_time(_server_time(response, self.clock))
            page = _Page(
                requested=requested,
                url=sanitize_url(response.request.url or ""),
                fetched_at=iso_utc(self.clock.time()),
            )
            yield from self._read_page(response, page, run)
            self.stats.pages += 1
            self._log_page(page, started)
            progressed = harvest.cursor != requested
            if page.broken:
                failed_in_a_row = 1 if progressed else failed_in_a_row + 1
                self._retry_or_raise(
                    failed_in_a_row - 1, policy.max_retries, page.broken, page.url, None,
                    category="body broken",
                )
                continue
            outcome = run.guard.judge(
                requested=requested,
                last_cursor=page.last_cursor,
                last_cursor_was_new=page.last_cursor_was_new,
                lines=page.lines,
                valid_records=page.valid,
                new_records=page.valid - page.duplicates,
                progressed=progressed,
            )
            if outcome.verdict is PageVerdict.REPEAT:
                failed_in_a_row += 1
                if failed_in_a_row <= policy.max_retries:
                    self._retry_or_raise(
                        failed_in_a_row - 1, policy.max_retries, outcome.message, page.url, None,
                        category="page repeated",
                    )
                    continue
            else:
                failed_in_a_row = 0
                run.cut = None
            if outcome.verdict is PageVerdict.CONTINUE:
                continue
            if outcome.verdict is PageVerdict.COMPLETE:
                if page.lines:
                    self.logger.warning("%s: %s", self.name, outcome.message)
                bookmark = harvest.complete()
                self._checkpoint()
                self._log_summary(bookmark, started)
                return
            # STUCK, LOOP or a page that kept repeating itself: stop this stream, keep the last
            # advancing cursor, let the other streams run, fail the run at the end.
            message = outcome.message
            if outcome.verdict is PageVerdict.REPEAT:
                message = f"cursor stuck: {message}, {failed_in_a_row} times in a row"
            self.logger.error("%s: %s", self.name, message)
            self._tap.failures.append(f"{self.name}: {message}")
            self._checkpoint()
            self._log_summary(harvest.bookmark, started)
            return

    def _read_page(
        self, response: requests.Response, page: _Page, run: _Harvesting
    ) -> Iterator[dict[str, t.Any]]:
        """Yield the page's records; note in ``page`` how it went. Always closes the body."""
        with closing(response):
            try:
                lines = iter_lines(
                    response.iter_content(CHUNK_BYTES),
                    max_line_bytes=int(self.config.get("max_line_bytes", 16 * 1024 * 1024)),
                )
                for line in lines:
                    page.lines += 1
                    record = self._process_line(line, page, run)
                    if record is _CUT:
                        page.broken = "the body ended in the middle of a line"
                        return
                    if record is not None:
                        yield record
            except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError,
                    OSError) as exc:
                page.broken = f"{type(exc).__name__} while reading the body"

    def _process_line(self, line: RawLine, page: _Page, run: _Harvesting) -> t.Any:
        """Turn one line into a record to emit, a quarantine entry, or nothing."""
        harvest = run.harvest
        obj, error = decode_json_line(line)
        if obj is None:
            reason = error or "unreadable line"
            if not line.terminated and not line.oversized:
                if not self._cut_for_good(line, page, run):
                    return _CUT
                reason = (
                    f"the body ended in the middle of this line on {CUT_FETCHES} fetches in a "
                    f"row (a malformed or truncated final line): {reason}"
                )
            self._quarantine(line, reason, None, page, run)
            return None
        cursor = obj.pop("next_cursor", None)
        if cursor is not None and not isinstance(cursor, str):
            cursor = str(cursor)
        # Only a cursor never met before moves the checkpoint: one already met lies behind it
        # (an overlapping page) or points back (a loop). The state keeps the last cursor that
        # advanced.
        advances = bool(cursor) and run.guard.meet(cursor)
        if cursor:
            page.last_cursor, page.last_cursor_was_new = cursor, advances
        try:
            record = validate_record(self.name, obj, run.options)
        except RecordRejected as exc:
            self._quarantine(line, exc.reason, exc.key, page, run)
            if advances:
                harvest.advance(cursor, None)
            return None
        if not cursor:
            self._quarantine(
                line,
                "record carries no next_cursor (contract violation): it cannot be checkpointed",
                source_key(self.name, obj),
                page,
                run,
            )
            return None
        page.valid += 1
        key = str(record[self.primary_keys[0]])
        modified = record.get("modified")
        raw_sha256 = hashlib.sha256(line.data).hexdigest()
        identity = (key, raw_sha256)
        if run.recent.seen(key, modified) or harvest.already_emitted(modified, key, raw_sha256):
            # Already emitted: re-delivered by an overlapping page, or sent unchanged by the
            # previous harvest at the bookmark second. A cursor never met still leads on.
            self.stats.duplicates_skipped += 1
            page.duplicates += 1
            if advances:
                harvest.advance(cursor, modified, identity)
            return None
        record["_source_url"] = page.url
        record["_source_cursor"] = page.requested
        record["_fetched_at"] = page.fetched_at
        record["_raw_sha256"] = raw_sha256
        # Before the record is emitted: a STATE written after it resumes after it, and a
        # resumed run skips it if the server delivers it again.
        harvest.remember(key, modified, cursor)
        if advances:
            harvest.advance(cursor, modified, identity)
        for side in self._derived:
            side.feed(record)
        page.emitted += 1
        self.stats.records += 1
        return record

    def _cut_for_good(self, line: RawLine, page: _Page, run: _Harvesting) -> bool:
        """Decide about a last line that ends without a newline and does not parse.

        Usually the body was cut: the page is requested again from the checkpoint and the
        line comes back whole. Only when the very same bytes come back, alone, on
        :data:`CUT_FETCHES` fetches in a row is it a malformed final line, to quarantine.
        """
        if page.lines == 1 and run.cut is not None and run.cut[0] == line.data:
            run.cut = (line.data, run.cut[1] + 1)
        else:
            run.cut = (line.data, 1)
        return run.cut[1] >= CUT_FETCHES

    def _quarantine(
        self, line: RawLine, reason: str, key: str | None, page: _Page, run: _Harvesting
    ) -> bool:
        """Send a rejected line to the ``quarantine`` stream, once per run.

        Returns:
            False if the line was already quarantined (a re-delivery), True otherwise.
        """
        digest = hashlib.sha256(line.data).hexdigest() if not line.oversized else (
            hashlib.sha256(line.data + f"|oversized:{line.size}".encode()).hexdigest()
        )
        page.quarantined += 1
        if not run.quarantine_seen.add(digest):
            return False
        self.stats.quarantined[_reason_category(reason)] += 1
        limit = int(self.config.get("quarantine_raw_max_bytes", 65536))
        text = line.data[:limit].decode("utf-8", errors="backslashreplace").replace("\x00", "\\x00")
        quarantine = self._tap.streams.get("quarantine")
        if quarantine is None or not quarantine.selected:
            return True
        # Before it is emitted: a resumed run that meets this line again skips it.
        run.harvest.note_quarantined(digest)
        quarantine.feed(
            {
                "stream": self.name,
                "raw_sha256": digest,
                "key": key,
                "reason": reason,
                "raw": text,
                "raw_size": line.size,
                "cursor": page.requested,
                "source_url": page.url,
                "received_at": page.fetched_at,
            }
        )
        return True

    # -- logging ---------------------------------------------------------------------

    def _log_page(self, page: _Page, started: float) -> None:
        elapsed = max(self.clock.monotonic() - started, 1e-9)
        self.logger.info(
            "%s page %d: %d records, %d quarantined, %d lines, cursor %r -> %r%s (%.0f records/s)",
            self.name, self.stats.pages, page.emitted, page.quarantined, page.lines,
            page.requested, page.last_cursor,
            f"; interrupted: {page.broken}" if page.broken else "",
            self.stats.records / elapsed,
        )

    def _log_summary(self, bookmark: str | None, started: float) -> None:
        s = self.stats
        quarantined = ", ".join(f"{k}: {v}" for k, v in s.quarantined.most_common()) or "none"
        retries = ", ".join(f"{k}: {v}" for k, v in s.retries.most_common()) or "none"
        self.logger.info(
            "%s summary: %d records in %d pages, %d duplicates skipped; quarantined by reason: "
            "%s; retries: %s; waited %.1f s; bookmark %s; %.1f s",
            self.name, s.records, s.pages, s.duplicates_skipped, quarantined, retries,
            s.waited_seconds, bookmark, self.clock.monotonic() - started,
        )


_CUT = object()  # marker: an unterminated last line that does not parse


def _drain(response: requests.Response, limit: int = 64 * 1024) -> None:
    """Read a small error body to its end so the connection goes back to the pool."""
    try:
        read = 0
        for chunk in response.iter_content(16 * 1024):
            read += len(chunk)
            if read > limit:
                break
    except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError):
        pass
    finally:
        response.close()


def _excerpt(response: requests.Response, limit: int = 200) -> str:
    try:
        text = next(response.iter_content(limit, decode_unicode=False), b"")
    except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError):
        return "(no body)"
    excerpt = text.decode("utf-8", errors="replace").strip().replace("\n", " ")[:limit]
    return excerpt or "(empty body)"


def _server_time(response: requests.Response, clock: Clock) -> str:
    """The server's ``Date`` (its clock decides what "modified since" means), else ours."""
    value = response.headers.get("Date")
    if value:
        try:
            return iso_utc(parsedate_to_datetime(value).timestamp())
        except (TypeError, ValueError, IndexError):
            pass
    return iso_utc(clock.time())


def _is_name_resolution_error(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, urllib3.exceptions.NameResolutionError):
            return True
        if "Name or service not known" in str(current) or "nodename nor servname" in str(current):
            return True
        first = current.args[0] if current.args else None
        nested = first if isinstance(first, BaseException) else None
        current = nested or current.__cause__ or current.__context__
    return False


_FIELD = re.compile(r"(?:^|; )([A-Za-z_][\w.\[\]]*):")


def _reason_category(reason: str) -> str:
    """A short, bounded category for the summary: the fields named, or the first words."""
    fields = _FIELD.findall(reason)
    if fields:
        return "invalid " + ", ".join(sorted(set(fields))[:4])
    return reason.split(":")[0][:60]
