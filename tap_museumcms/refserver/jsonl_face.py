"""The JSONL face of the reference server: ``GET /objects | /rights | /media``.

One request is one page of JSON Lines, each record with the opaque cursor that resumes after it::

    GET /objects?cursor=b64:MTA=&limit=2&modified_since=2026-01-01T00:00:00Z
    {"ObjectID": "obj-0000010", ..., "next_cursor": "b64:MTE="}
    {"ObjectID": "obj-0000011", ..., "next_cursor": "b64:MTI="}

An empty body ends the harvest. Bad queries are answered 400 with
``{"error": "bad_request", "message": "limit must be an integer"}``.
"""

from __future__ import annotations

import base64
import binascii
import json
import typing as t

from tap_museumcms.refserver.collection import STREAM_KEYS, Collection, parse_timestamp
from tap_museumcms.refserver.faults import Admission, FaultPolicy, Faults, Reply

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


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


def malformed_line(stream: str, position: int) -> bytes:
    """The non-JSON line ``Faults.malformed_line_every`` inserts after ``position`` (no newline)."""
    key = STREAM_KEYS[stream]
    return f'{{"{key}": "junk-{position}", "title": unquoted text after {position}'.encode()


def json_reply(status: int, payload: t.Any, headers: t.Iterable[tuple[str, str]] = ()) -> Reply:
    """A JSON response with ``Content-Length``."""
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return Reply(status, [("Content-Type", "application/json"), *headers], [body])


def json_error(
    status: int, error: str, message: str, headers: t.Iterable[tuple[str, str]] = ()
) -> Reply:
    """``{"error": "bad_request", "message": "..."}`` with ``status``."""
    return json_reply(status, {"error": error, "message": message}, headers)


_STATUS_ERRORS = {
    302: ("found", "the data moved to another host: see Location"),
    429: ("too_many_requests", "slow down"),
    500: ("internal_error", "the CMS failed"),
    502: ("bad_gateway", "upstream CMS did not answer"),
    503: ("unavailable", "the CMS is busy"),
    504: ("gateway_timeout", "upstream CMS timed out"),
}


class _Query(t.NamedTuple):
    limit: int
    cursor: str | None
    position: int
    since: float | None


class JsonlFace:
    """Builds the replies of the JSONL endpoints.

    Args:
        collection: the data.
        policy: the shared fault switches and counters.
        max_limit: page size cap; larger ``limit`` values are capped silently.
    """

    def __init__(self, collection: Collection, policy: FaultPolicy, max_limit: int) -> None:
        self.collection = collection
        self.policy = policy
        self.max_limit = max_limit

    def expected_malformed(self, stream: str) -> frozenset[bytes]:
        """The lines ``malformed_line_every`` inserts in a full harvest of ``stream``."""
        every = self.policy.faults.malformed_line_every
        if every <= 0:
            return frozenset()
        size = self.collection.size(stream)
        return frozenset(malformed_line(stream, p) for p in range(every - 1, size, every))

    def expected_drifted(self, stream: str) -> frozenset[int]:
        """The positions ``schema_drift_every`` sends drifted (records to quarantine)."""
        every = self.policy.faults.schema_drift_every
        if every <= 0:
            return frozenset()
        return frozenset(range(every - 1, self.collection.size(stream), every))

    def reply(
        self, stream: str, params: dict[str, str], *, redirect_to: str | None = None
    ) -> Reply:
        """The whole response to a data request of ``stream`` (status faults included); a bad
        query is answered 400. ``redirect_to``: where ``redirect_other_host_every`` sends it."""
        try:
            query = self._query(params)
        except ValueError as exc:
            return json_error(400, "bad_request", str(exc))
        admission = self.policy.admit(redirect_to=redirect_to)
        if admission.status != 200:
            error, message = _STATUS_ERRORS[admission.status]
            reply = json_error(admission.status, error, message, admission.headers)
            return reply._replace(number=admission.n)
        lines, abort = self._page(stream, query, admission)
        headers = [("Content-Type", "application/x-ndjson"), *admission.headers]
        return Reply(200, headers, lines, chunked=True, abort=abort, number=admission.n)

    def _query(self, params: dict[str, str]) -> _Query:
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
        return _Query(limit, cursor, position, since)

    def _page(self, stream: str, query: _Query, admission: Admission) -> tuple[list[bytes], bool]:
        """The page's lines after the page faults, and whether to drop the connection after them.

        ``truncate_body_every`` keeps the first half of the lines and half of the next one
        (framing intact); ``reset_mid_body_every`` sends the same and drops the connection instead
        of the terminating chunk (on an empty page: right after the headers).
        """
        faults = admission.faults
        cursor = query.cursor or "0"
        page, previous = self.policy.turn_page(
            stream, cursor, new_harvest=query.cursor in (None, "", "0")
        )
        start = query.position
        if admission.fires(faults.overlap_every):
            start = max(0, start - faults.overlap_records)
        forced_cursor = None
        if faults.stuck_cursor_at_page and page == faults.stuck_cursor_at_page:
            forced_cursor = cursor
        elif faults.cursor_loop_at_page and page == faults.cursor_loop_at_page:
            forced_cursor = previous or "0"
        lines = self._page_lines(stream, start, query, faults, forced_cursor)
        reset = admission.fires(faults.reset_mid_body_every)
        if (reset or admission.fires(faults.truncate_body_every)) and lines:
            half = len(lines) // 2
            partial = lines[half][: max(1, len(lines[half]) // 2)] if half < len(lines) else b""
            lines = [*lines[:half], partial]
        return lines, reset

    def _page_lines(
        self,
        stream: str,
        start: int,
        query: _Query,
        faults: Faults,
        forced_cursor: str | None,
    ) -> list[bytes]:
        """The page's lines (each ending in ``\\n``): records with ``next_cursor``, malformed lines
        as they are. A page holds ``limit`` records; malformed lines do not count."""
        lines: list[bytes] = []
        last_record = -1
        records = 0
        every = faults.malformed_line_every
        drift = faults.schema_drift_every
        if every > 0 and start > 0 and start % every == 0:
            # The bad line after the previous record has no cursor of its own: a page that
            # resumes after that record starts with it again (as the contract says of a bad
            # last line), so a body cut in the middle of it does not lose it.
            lines.append(malformed_line(stream, start - 1) + b"\n")
        for position, raw, is_object in self.collection.iter_from(stream, start, query.since):
            if faults.blank_lines and position % 4 == 0:
                lines.append(b"\n")
            if is_object:
                if drift > 0 and (position + 1) % drift == 0:
                    raw = drifted(raw, STREAM_KEYS[stream])
                lines.append(_with_cursor(raw, encode_cursor(position + 1)) + b"\n")
                records += 1
                last_record = len(lines) - 1
            else:
                lines.append(raw + b"\n")
            if every > 0 and (position + 1) % every == 0:
                lines.append(malformed_line(stream, position) + b"\n")
            if records >= query.limit:
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


def drifted(raw: bytes, key: str) -> bytes:
    """A record line with every field but ``key`` in another shape (``schema_drift_every``).

    Example:
        >>> drifted(b'{"ObjectID":"a","title":"T","width":4,"media":[]}', "ObjectID")
        b'{"ObjectID":"a","title":{"en":"T"},"width":[4],"media":{"items":[]}}'
    """
    record = json.loads(raw)
    for name, value in record.items():
        if name != key:
            record[name] = _drift(value)
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()


def _drift(value: t.Any) -> t.Any:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return {"en": value}
    if isinstance(value, int | float):
        return [value]
    if isinstance(value, list):
        return {"items": value}
    if isinstance(value, dict):
        return [value]
    return value


def _force_cursor(line: bytes, cursor: str) -> bytes:
    record = json.loads(line)
    record["next_cursor"] = cursor
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
