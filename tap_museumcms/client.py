"""The SDK adapter: a harvested stream is a thin REST stream around the harvest engine.

The SDK's own request loop buffers whole bodies, ignores ``Retry-After``, does not retry a
broken streamed body and stops silently on an empty page. A :class:`MuseumCMSStream` replaces
it: :meth:`~MuseumCMSStream.get_records` runs a :class:`~tap_museumcms.harvest.Harvester` with
the run's transport and dialect, and gives it an :class:`_Outlet` for everything that is not
the stream's own records (quarantine entries, derived rows and documents, STATE).

Records are dicts shaped by :func:`tap_museumcms.models.validate_record`, plus provenance::

    {"object_id": "1994.127", ..., "modified": "2026-11-20T10:00:00Z",
     "_source_url": "http://cms/objects?limit=500&cursor=b64:...",
     "_source_cursor": "b64:...", "_fetched_at": "2026-11-29T09:00:00Z",
     "_raw_sha256": "9f2c..."}
"""

from __future__ import annotations

import logging
import sys
import typing as t

from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.streams.rest import RESTStream

from tap_museumcms.errors import TapError
from tap_museumcms.harvest import Harvester
from tap_museumcms.output import FastRecords
from tap_museumcms.run import QuietHoursExit

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from singer_sdk.helpers.types import Context

    from tap_museumcms.dialects.base import RawItem
    from tap_museumcms.transport import StreamStats


class _KnownFailureFilter(logging.Filter):
    """Drops the SDK's generic "unhandled error" line when the error is one of ours.

    The SDK logs it while the exception is being handled, so ``sys.exc_info()`` tells which
    error it is; ours is reported once, clearly, by the tap's ``invoke`` (and a quiet-hours
    exit is no error at all: it ends the run with code 0).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith("An unhandled error occurred while syncing"):
            return not isinstance(sys.exc_info()[1], TapError | QuietHoursExit)
        return True


_KNOWN_FAILURE_FILTER = _KnownFailureFilter()

#: Documents derived from each emitted object.
DOCUMENT_STREAMS = ("lido_records", "iiif_manifests")


class MuseumCMSStream(FastRecords, RESTStream):
    """A stream with a harvest of its own. Subclasses only declare name and keys."""

    replication_key = "modified"
    is_sorted = False
    #: Records leave :func:`~tap_museumcms.models.validate_record` already typed to the schema
    #: (``tests/test_schema_agreement.py`` holds the two together), so the SDK's per-record
    #: type conformance, its largest per-record cost, would only repeat the work.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    #: The counters of the last harvest (for tests and the summary).
    stats: StreamStats | None = None

    @property
    def url_base(self) -> str:
        return str(self.config["api_url"]).rstrip("/")

    def get_new_paginator(self) -> None:
        """Pagination is owned by the harvest engine."""
        return None

    def _increment_stream_state(self, latest_record: t.Any, *, context: t.Any = None) -> None:
        """The bookmark is owned by :class:`~tap_museumcms.checkpoint.Checkpoint`, not the SDK.

        The SDK's progress markers would promote the newest ``modified`` of *this run* only,
        losing the part of a harvest done before a restart.
        """

    def get_records(self, context: Context | None) -> Iterator[dict[str, t.Any]]:
        """Harvest from the checkpoint in state; yield the stream's validated records."""
        self.logger.addFilter(_KNOWN_FAILURE_FILTER)
        tap = self._tap
        harvester = Harvester(
            self.name,
            self.stream_state,
            self.config,
            dialect=tap.dialect,
            transport=tap.transport,
            outlet=_Outlet(self),
            logger=self.logger,
        )
        self.stats = harvester.stats
        yield from harvester.run()


class _Outlet:
    """Sends a harvest's side output to the other streams of the tap."""

    def __init__(self, stream: MuseumCMSStream) -> None:
        self._stream = stream
        self._tap = tap = stream._tap
        self._quarantine = tap.streams.get("quarantine")
        self._documents = [
            side
            for name in DOCUMENT_STREAMS
            if stream.name == "objects" and (side := tap.streams.get(name)) is not None
            and side.selected
        ]

    def write_state(self) -> None:
        _ = self._stream.stream_state  # makes sure the stream's bookmark exists
        self._tap.state_writer.write_state(self._tap.state)

    def quarantine(self, entry: dict[str, t.Any]) -> bool:
        side = self._quarantine
        if side is None or not side.selected:
            return False
        side.feed(entry)
        return True

    def derived(self, stream: str, record: dict[str, t.Any]) -> None:
        side = self._tap.streams.get(stream)
        if side is not None:
            side.feed(record)

    def documents(self, record: dict[str, t.Any], item: RawItem) -> None:
        for side in self._documents:
            side.feed(record, item.document)

    def _versioned(self) -> list[t.Any]:
        """The harvested stream and the selected streams fed from its records."""
        names = [self._stream.name]
        if self._stream.name == "objects":
            names += DOCUMENT_STREAMS
            if self._tap.dialect.harvested == ("objects",):
                names += ["rights", "media"]
        streams = [self._tap.streams.get(name) for name in names]
        return [stream for stream in streams if stream is not None and stream.selected]

    def version(self, version: int | None) -> None:
        for stream in self._versioned():
            stream._stream_version = version  # the SDK sends it with every RECORD

    def activate(self, version: int) -> None:
        for stream in self._versioned():
            stream._write_activate_version_message(version)

    def pause(self, pause: t.Any) -> None:
        run = self._tap.run
        if run is None:
            raise pause
        run.pause(pause)

    def fail(self, message: str) -> None:
        self._tap.failures.append(message)
