"""Streams fed by another stream rather than by a request: quarantine, LIDO, IIIF.

A side stream's records are produced while its source stream is read (a rejected line, or a
derived document for each valid object), so memory stays constant: nothing is buffered until
the side stream's own turn. Its SCHEMA is sent before its first record.
"""

from __future__ import annotations

import typing as t

from singer_sdk.streams import Stream

from tap_museumcms.schemas import load_schema

if t.TYPE_CHECKING:
    from collections.abc import Iterable

    from singer_sdk.helpers.types import Context


class SideStream(Stream):
    """A stream whose records are pushed in with :meth:`feed`."""

    def __init__(self, tap: t.Any) -> None:
        super().__init__(tap=tap, schema=load_schema(self.name))
        self._schema_sent = False
        self.fed = 0

    def build(self, source: dict[str, t.Any]) -> dict[str, t.Any] | None:
        """Turn what was fed into this stream's record (None: nothing to emit)."""
        return source

    def feed(self, source: dict[str, t.Any]) -> None:
        """Emit the record built from ``source`` now, if this stream is selected."""
        if not self.selected:
            return
        record = self.build(source)
        if record is None:
            return
        if not self._schema_sent:
            self._write_schema_message()
            self._schema_sent = True
        self._write_record_message(record)
        self.fed += 1

    def get_records(self, context: Context | None) -> Iterable[dict[str, t.Any]]:
        """Nothing of its own to request: every record was fed during its source's sync."""
        return iter(())


class QuarantineStream(SideStream):
    """One record per rejected input line: which stream, why, and the raw text.

    Record shape::

        {"stream": "objects", "raw_sha256": "5e8f...", "key": "1994.127" | null,
         "reason": "title: Field required", "raw": "{\\"ObjectID\\": ...}", "raw_size": 312,
         "cursor": "b64:..." | null, "source_url": "http://cms/objects?limit=500",
         "received_at": "2026-11-29T09:00:00Z"}
    """

    name = "quarantine"
    primary_keys: t.ClassVar[list[str]] = ["stream", "raw_sha256"]
    replication_key = None
