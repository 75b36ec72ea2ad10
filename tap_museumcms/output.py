"""RECORD messages written straight to stdout when nothing would transform them.

The SDK's record path conforms types, walks the record to pop deselected properties, runs the
stream maps, builds a message object, stamps it and flushes stdout, for every record. When a
stream has no stream map, no flattening and every property selected (the usual case), none
of that changes the record, and :class:`RecordWriter` writes the same Singer line itself::

    {"type":"RECORD","stream":"objects","record":{...},"version":1800000000,
     "time_extracted":"2026-11-29T09:00:00Z"}

``time_extracted`` is when the record's page was fetched (its ``_fetched_at``). Lines are not
flushed one by one: the STATE that follows them flushes them, in order, so a STATE still comes
out after the records it covers, and a record a crash did not flush was never committed.
Anything else (a stream map, flattening, a deselected property) takes the SDK's path.
"""

from __future__ import annotations

import sys
import typing as t

import msgspec
from singer_sdk.mapper import SameRecordTransform

if t.TYPE_CHECKING:
    from singer_sdk.streams import Stream

_ENCODER = msgspec.json.Encoder()


class RecordWriter:
    """Writes one stream's RECORD lines (see the module docstring)."""

    def __init__(self, stream: Stream, time_field: str) -> None:
        self.stream = stream
        self.time_field = time_field
        self._prefix = b'{"type":"RECORD","stream":' + _ENCODER.encode(stream.name) + b',"record":'

    @staticmethod
    def applies(stream: Stream) -> bool:
        """True when the SDK's path would write the record unchanged."""
        maps = stream.stream_maps
        if len(maps) != 1 or type(maps[0]) is not SameRecordTransform:
            return False
        if maps[0].stream_alias != stream.name or stream.config.get("flattening_enabled"):
            return False
        return all(stream.mask.values())

    def write(self, record: dict[str, t.Any]) -> None:
        """One RECORD line, unflushed."""
        parts = [self._prefix, _ENCODER.encode(record)]
        version = self.stream._stream_version  # noqa: SLF001 - the SDK's own attribute
        if version is not None:
            parts.append(b',"version":%d' % version)
        extracted = record.get(self.time_field)
        if isinstance(extracted, str):
            parts.append(b',"time_extracted":' + _ENCODER.encode(extracted))
        parts.append(b"}\n")
        sys.stdout.buffer.write(b"".join(parts))


class FastRecords:
    """Mixin for a stream: RECORD lines through a :class:`RecordWriter` when it applies."""

    #: The record field that says when the record was fetched (its ``time_extracted``).
    record_time_field: t.ClassVar[str] = "_fetched_at"
    _record_writer: RecordWriter | None | bool = False  # False: not decided yet

    def _write_record_message(self, record: dict[str, t.Any]) -> None:
        writer = self._record_writer
        if writer is False:
            stream = t.cast("Stream", self)
            writer = self._record_writer = (
                RecordWriter(stream, self.record_time_field)
                if RecordWriter.applies(stream) else None)
        if writer is None:
            super()._write_record_message(record)  # type: ignore[misc]
            return
        writer.write(record)
        self.state_manager.is_flushed = False  # type: ignore[attr-defined]
