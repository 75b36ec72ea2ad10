"""What a source dialect is: build the request for a checkpoint, read a body into raw items.

The engine (transport, harvest loop, triage) is the same for every source. A dialect only
knows its protocol::

    request = dialect.request("objects", cursor, modified_since, window)   # a PageRequest
    end = PageEnd()
    for item in dialect.read("objects", response.iter_content(65536), end):
        ...  # one RawItem per record, deleted header or unreadable piece, in order
    end.complete, end.next_cursor, end.restart   # how the page ended

Items are handed over in the shape of the tap's own contract (``ObjectID``, ``title``,
``modified``, ...; see :mod:`tap_museumcms.models`), so validation, quarantine, LIDO and IIIF
are the same whatever the source. A dialect whose records carry everything about an object
(OAI-PMH, the public museum APIs) harvests ``objects`` only; the ``rights`` and ``media`` rows
are then derived from each object (:func:`derived_rows`).
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping

    from tap_museumcms.transport import PageRequest, StreamStats, Transport


@dataclass(slots=True)
class RawItem:
    """One item of a page, as the source sent it, and what the dialect read from it.

    Attributes:
        raw: the item's bytes (a JSONL line, an OAI ``<record>``): digested for provenance and
            kept in the quarantine. For an oversized item, only its first bytes.
        fields: the record in the contract's shape, or None when it could not be read.
        error: why it could not be read (None when ``fields`` is set).
        cursor: item-cursor dialects: the cursor that resumes after this item.
        key: the item's key as far as it could be read (for the quarantine).
        size: the item's full size in bytes.
        oversized: the item was longer than the bound and was not kept.
        complete: False when the body ended inside this item (maybe a body cut short).
        document: the source's own LIDO record (namespaced XML), passed to ``lido_records``.
    """

    raw: bytes
    fields: Mapping[str, t.Any] | None
    error: str | None = None
    cursor: str | None = None
    key: str | None = None
    size: int = 0
    oversized: bool = False
    complete: bool = True
    document: bytes | None = None


@dataclass(slots=True)
class PageEnd:
    """How a page ended, as its dialect read it.

    Attributes:
        complete: the source says the list is complete after this page.
        next_cursor: page-cursor dialects: the cursor of the next page.
        restart: the source rejected the cursor (an expired token): why.
        broken: the body could not be read to its end (its envelope was cut): why.
        stop: the page proves the harvest cannot go on (a total that shrank, a page cap): why.
            The stream stops with that line, its checkpoint kept.
        server_time: the server's clock for this response (ISO), when the body says it.
        total: the size of the whole list as the source announces it (an estimate: progress
            lines only, nothing is computed from it).
        warnings: things worth one log line (a quirk the dialect worked around).
        withdrawn: items the list named that the source no longer serves (the Met's 404 for
            a listed id); passing over them is progress, like handling an item.
    """

    complete: bool = False
    next_cursor: str | None = None
    restart: str | None = None
    broken: str | None = None
    stop: str | None = None
    server_time: str | None = None
    total: int | None = None
    warnings: list[str] = field(default_factory=list)
    withdrawn: int = 0


class Dialect:
    """A source protocol. Subclasses set the class attributes and implement the methods.

    Attributes:
        name: the value of the ``source`` setting.
        harvested: the streams with a harvest of their own; the others are derived.
        item_cursors: True when every item carries its own cursor (else a page cursor).
        pass_errors: True when an HTTP error's body may be a protocol answer to read.
        key_param: the query parameter the API key goes in (None: a header, see
            ``auth_header``).
        state_interval: least seconds between two STATEs (0: before every request). A source
            that answers one record a request sets it, so that STATE does not outweigh data.
        default_requests_per_second: the source's polite ceiling, when the user sets none.
        rate_statuses: statuses that mean "slow down" at this source, retried like 429.
        incremental: False when the source cannot filter by modification time: every run is
            then a full harvest (which also retires what the source no longer lists).
    """

    name: t.ClassVar[str]
    harvested: t.ClassVar[tuple[str, ...]] = ("objects",)
    item_cursors: t.ClassVar[bool] = False
    pass_errors: t.ClassVar[bool] = False
    key_param: t.ClassVar[str | None] = None
    state_interval: t.ClassVar[float] = 0.0
    default_requests_per_second: t.ClassVar[float | None] = None
    rate_statuses: t.ClassVar[frozenset[int]] = frozenset()
    incremental: t.ClassVar[bool] = True

    def __init__(self, config: Mapping[str, t.Any]) -> None:
        self.config = config
        self.api_url = str(config.get("api_url") or "").rstrip("/")
        self.max_item_bytes = int(config.get("max_line_bytes", 16 * 1024 * 1024))

    def prepare(self, transport: Transport, stats: StreamStats) -> None:
        """Once per run, before the first harvest (OAI-PMH: Identify). Default: nothing."""

    def window(self, stream: str, since: str | None) -> dict[str, t.Any]:
        """Extras a new harvest's window needs besides ``modified_since``. Default: none."""
        return {}

    def request(
        self, stream: str, cursor: str | None, since: str | None, window: Mapping[str, t.Any]
    ) -> PageRequest:
        """The request for the page at ``cursor`` (None: the start) of the window."""
        raise NotImplementedError

    def read(self, stream: str, chunks: Iterable[bytes], end: PageEnd) -> Iterator[RawItem]:
        """Split a body into items, in order; fill ``end`` when the body is over."""
        raise NotImplementedError

    def following(
        self, stream: str, cursor: str | None, since: str | None, count: int
    ) -> list[str]:
        """The cursors of up to ``count`` pages after the page at ``cursor``, when they are
        known before that page is read (an offset, a page number, the next ids of a list).

        With ``max_concurrency`` above 1 those pages are requested ahead while the harvester
        reads this one; a guess that turns out wrong only costs a request. Default: none
        (a cursor that the page itself hands over, such as a resumption token).
        """
        return []

    def explain(self, status: int, body: bytes) -> PageEnd | None:
        """Read an HTTP error's body as a protocol answer (with ``pass_errors``).

        Returns:
            How the page ended (an expired cursor, an empty list), or None when the body is
            no answer of the protocol (the error is then reported as an HTTP failure).

        Raises:
            TapError: the answer means the settings cannot work.
        """
        return None


def derived_rows(obj: Mapping[str, t.Any]) -> list[tuple[str, dict[str, t.Any]]]:
    """The ``rights`` and ``media`` rows of a validated object, in the contract's shape.

    For sources that deliver whole objects: the object's rights statement becomes one
    ``rights`` row keyed ``<object_id>#rights``, and each embedded asset one ``media`` row.
    A deleted object withdraws its rights row (its assets' keys are not known any more).

    Example:
        >>> derived_rows({"object_id": "o1", "rights_uri": "http://rightsstatements.org/"
        ...     "vocab/InC/1.0/", "credit_line": "Gift", "modified": "2026-01-01T00:00:00Z",
        ...     "media": None, "deleted": False})[0][1]["RightsID"]
        'o1#rights'
    """
    object_id = obj["object_id"]
    modified = obj.get("modified")
    rights_id = f"{object_id}#rights"
    if obj.get("deleted"):
        return [("rights", {"RightsID": rights_id, "deleted": True, "modified": modified})]
    rows: list[tuple[str, dict[str, t.Any]]] = []
    if obj.get("rights_uri"):
        rows.append(("rights", {
            "RightsID": rights_id, "ObjectID": object_id, "statement_uri": obj["rights_uri"],
            "credit_line": obj.get("credit_line"), "modified": modified,
        }))
    for item in obj.get("media") or ():
        row = {
            "MediaID": item["media_id"], "ObjectID": object_id,
            "iiif_manifest_url": obj.get("iiif_manifest_url"), "modified": modified,
        }
        for name in ("iiif_image_service", "image_url", "format", "width", "height", "caption",
                     "is_primary", "rights_uri"):
            if item.get(name) is not None:
                row[name] = item[name]
        rows.append(("media", row))
    return rows
