"""The JSONL harvesting contract (``source: jsonl``), the tap's default source.

``GET {api_url}/{objects|rights|media}?limit=&cursor=&modified_since=`` answers
newline-delimited JSON, one record per line, each with the ``next_cursor`` that resumes after
it; an empty body ends the harvest. The contract is described in the README ("The JSONL
contract"); the project's reference server implements it.
"""

from __future__ import annotations

import typing as t

from tap_museumcms.dialects.base import Dialect, PageEnd, RawItem
from tap_museumcms.jsonl import decode_json_line, iter_lines
from tap_museumcms.models import source_key
from tap_museumcms.transport import PageRequest

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping


class CmsJsonl(Dialect):
    """Cursor-per-record JSONL pages from three endpoints."""

    name = "jsonl"
    harvested = ("objects", "rights", "media")
    item_cursors = True

    def request(
        self, stream: str, cursor: str | None, since: str | None, window: Mapping[str, t.Any]
    ) -> PageRequest:
        params = [("limit", str(int(self.config.get("page_size", 500))))]
        if cursor:
            params.append(("cursor", cursor))
        if since:
            params.append(("modified_since", since))
        return PageRequest(
            f"{self.api_url}/{stream}", tuple(params), {"Accept": "application/x-ndjson"}
        )

    def read(self, stream: str, chunks: Iterable[bytes], end: PageEnd) -> Iterator[RawItem]:
        """One item per non-blank line; an empty body says the harvest is complete."""
        lines = 0
        for line in iter_lines(chunks, max_line_bytes=self.max_item_bytes):
            lines += 1
            record, error = decode_json_line(line)
            cursor = None
            if record is not None:
                value = record.pop("next_cursor", None)
                cursor = str(value) if value is not None and value != "" else None
            yield RawItem(
                raw=line.data,
                fields=record,
                error=error,
                cursor=cursor,
                key=source_key(stream, record) if record is not None else None,
                size=line.size,
                oversized=line.oversized,
                complete=line.terminated,
            )
        end.complete = lines == 0
