"""Records of the OAI-PMH face: what a collection position becomes, and how pages are cut.

Each position of the collection's ``objects`` stream becomes one :class:`Item`:

- ``live``: a JSON object → a record with metadata; identifier
  ``oai:refserver.example:<ObjectID>``, or ``oai:refserver.example:position-<n>`` when the
  ObjectID is empty or missing;
- ``deleted``: a tombstone ``{"ObjectID": ..., "deleted": true}`` → ``<header status="deleted">``
  (or nothing at all when the repository keeps no deleted records);
- ``junk``: a line that is not JSON → a malformed record, ``oai:refserver.example:junk-<n>``;
- ``injected``: what ``Faults.malformed_line_every`` adds after position n, a malformed record
  ``oai:refserver.example:junk-after-<n>``.

A live record is in the sets ``all`` and ``type:<object_type>``; the others only in ``all``.
"""

from __future__ import annotations

import json
import typing as t
from collections.abc import Iterator

from tap_museumcms.refserver.collection import Collection
from tap_museumcms.refserver.oai_render import (
    ID_PREFIX,
    datestamp,
    dc_parts,
    header_xml,
    junk_record,
    lido_parts,
    padding,
    set_spec,
    text_of,
)
from tap_museumcms.refserver.oai_token import ListState

if t.TYPE_CHECKING:
    from tap_museumcms.refserver.faults import Faults
    from tap_museumcms.refserver.oai import OaiSettings

_EXACT_COUNT_LIMIT = 5000
"""Up to this many positions, completeListSize is counted exactly; above, it is estimated."""


class Item(t.NamedTuple):
    """One position as the OAI face shows it (see the module doc for ``kind``)."""

    kind: str
    position: int
    record: dict[str, t.Any] | None
    line: bytes
    modified: float

    @property
    def local_id(self) -> str:
        """``obj-0000042``, ``position-7``, ``junk-13`` or ``junk-after-20``."""
        if self.kind == "junk":
            return f"junk-{self.position}"
        if self.kind == "injected":
            return f"junk-after-{self.position}"
        key = text_of((self.record or {}).get("ObjectID"))
        return key if key else f"position-{self.position}"

    @property
    def identifier(self) -> str:
        return ID_PREFIX + self.local_id

    @property
    def sets(self) -> list[str]:
        live = self.record if self.kind == "live" else None
        spec = set_spec(live.get("object_type")) if live else None
        return ["all", spec] if spec else ["all"]

    def in_set(self, spec: str | None) -> bool:
        return spec in (None, "all") or spec in self.sets


def classify(position: int, line: bytes, modified: float) -> Item:
    """The :class:`Item` of a collection line."""
    try:
        record = json.loads(line)
    except ValueError:
        record = None
    if not isinstance(record, dict):
        return Item("junk", position, None, line, modified)
    kind = "deleted" if record.get("deleted") is True else "live"
    return Item(kind, position, record, line, modified)


def injected(position: int, modified: float) -> Item:
    """The malformed record ``malformed_line_every`` inserts after ``position``."""
    return Item("injected", position, None, b"", modified)


class RecordWriter:
    """Writes items as XML bytes for one response.

    Args:
        settings: the repository settings (granularity).
        faults: the fault switches in force (identifier whitespace, milliseconds, padding).
        prefix: ``"lido"`` or ``"oai_dc"``.
        headers_only: ListIdentifiers: headers, no records.
    """

    def __init__(
        self, settings: OaiSettings, faults: Faults, prefix: str, *, headers_only: bool = False
    ) -> None:
        self.granularity = settings.granularity
        self.milliseconds = faults.oai_datestamp_ms and settings.granularity == "seconds"
        self.whitespace = faults.oai_identifier_whitespace
        self.pad = faults.oai_huge_description_bytes
        self.prefix = prefix
        self.headers_only = headers_only

    def header(self, item: Item) -> str:
        """The item's ``<header>`` (datestamp in the granularity, sets, deleted status)."""
        stamp = datestamp(item.modified, self.granularity, milliseconds=self.milliseconds)
        return header_xml(
            item.identifier,
            stamp,
            item.sets,
            deleted=item.kind == "deleted",
            whitespace=self.whitespace,
        )

    def pieces(self, item: Item) -> Iterator[bytes]:
        """The item's XML in pieces: the first one ends inside the record; a padded description
        comes in pieces of at most 32 KiB."""
        header = self.header(item)
        if self.headers_only:
            yield _utf8(header + "\n")
            return
        if item.kind in ("junk", "injected"):
            yield self.malformed(item, header) + b"\n"
            return
        if item.kind == "deleted":
            yield _utf8(f"<record>{header}</record>\n")
            return
        record = t.cast(dict[str, t.Any], item.record)
        if self.prefix == "lido":
            parts = lido_parts(record, item.local_id, with_description=self.pad > 0)
        else:
            parts = dc_parts(record, with_description=self.pad > 0)
        yield _utf8(f"<record>{header}<metadata>{parts.head}")
        if parts.description is not None:
            text = _utf8(parts.description)
            yield text
            yield from padding(self.pad - len(text))
        yield _utf8(f"{parts.tail}</metadata></record>\n")

    def malformed(self, item: Item, header: str | None = None) -> bytes:
        """The whole malformed record of a ``junk`` or ``injected`` item."""
        if item.kind == "junk":
            text = item.line.decode("utf-8", "replace")
        else:
            text = f"unquoted text after {item.position}"
        return junk_record(header or self.header(item), self.prefix, item.local_id, text)


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "replace")


class Pager:
    """Cuts list requests into pages and counts the list.

    Args:
        collection: the data (its ``objects`` stream).
        settings: page size and deleted-record policy.
    """

    def __init__(self, collection: Collection, settings: OaiSettings) -> None:
        self.collection = collection
        self.settings = settings

    def visible(self, item: Item) -> bool:
        """Whether the item is listed (a deleted one is not when deletedRecord is ``no``)."""
        return not (item.kind == "deleted" and self.settings.deleted_record == "no")

    def gather(
        self, state: ListState, since: float | None, before: float | None, every: int
    ) -> tuple[list[Item], int | None, int]:
        """The items of the page that starts at ``state.position``.

        A page holds ``page_size`` listed items (live, deleted, junk); the item ``every`` injects
        after a position in the window rides along on the page of that position.

        Returns:
            ``(items, position of the next page or None for the last page, listed items)``.
        """
        items: list[Item] = []
        counted = 0
        for position, line, _is_object, modified in self.collection.iter_window(
            "objects", state.position, since, before
        ):
            item = classify(position, line, modified)
            if not item.in_set(state.set_spec):
                continue
            if self.visible(item):
                if counted == self.settings.page_size:
                    return items, position, counted
                items.append(item)
                counted += 1
            if every > 0 and (position + 1) % every == 0:
                items.append(injected(position, modified))
        return items, None, counted

    def list_size(self, spec: str | None, since: float | None, before: float | None) -> int:
        """``completeListSize``: exact for small collections, an estimate above
        ``_EXACT_COUNT_LIMIT`` positions (positions in the time window, shared out evenly among
        the object types for a ``type:`` set)."""
        collection = self.collection
        if collection.size("objects") <= _EXACT_COUNT_LIMIT:
            return sum(
                1
                for position, line, _is_object, modified in collection.iter_window(
                    "objects", 0, since, before
                )
                if (item := classify(position, line, modified)).in_set(spec) and self.visible(item)
            )
        estimate = collection.window_size("objects", since, before)
        if spec in (None, "all"):
            return estimate
        specs = {set_spec(kind) for kind in collection.object_types()} - {None}
        return estimate // max(1, len(specs)) if spec in specs else 0
