"""Triage: one raw item in, one decision out: emit, quarantine, skip as a duplicate, or cut.

Pure and socket-free: the harvest loop hands every :class:`~tap_museumcms.dialects.base.RawItem`
of a page to :meth:`Triage.judge` and acts on the result (moves the checkpoint, emits,
feeds the quarantine, re-requests a cut body)::

    outcome = triage.judge(item, page)
    match outcome:
        case Emit(record=record, derived=derived): ...      # RECORD, plus rights/media rows
        case Quarantine(entry=entry): ...                   # entry None: quarantined before
        case Duplicate(): ...                               # already emitted: nothing to send
        case Cut(reason=reason): ...                        # the body ended inside the item

Rules (the same for every source):

* An item that could not be read is quarantined with the dialect's reason, except a last
  item the body ended inside: that is usually a body cut short, so the page is requested
  again; only if the very same bytes come back alone on :data:`CUT_FETCHES` fetches in a row
  is it quarantined as a malformed final item.
* A readable item goes through :func:`~tap_museumcms.models.validate_record`; a rejection is
  quarantined with every reason. An item-cursor source must give every record its cursor.
* A valid record already emitted (the overlap window, or unchanged at the bookmark second
  of the previous harvest) is a duplicate.
* A bad item is quarantined once: re-deliveries of the same bytes are recognised by digest.
"""

from __future__ import annotations

import hashlib
import re
import typing as t
from dataclasses import dataclass

from tap_museumcms.models import RecordRejected, ValidationOptions, source_key, validate_record
from tap_museumcms.pagination import BoundedSet, RecentRecords

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from tap_museumcms.checkpoint import Checkpoint
    from tap_museumcms.dialects.base import RawItem

#: Fetches that must return the same cut-off final item, alone, before it is quarantined.
CUT_FETCHES = 3
#: How many raw-item digests a stream remembers to quarantine a bad item once.
QUARANTINE_WINDOW = 100_000

KEY_PROPERTIES = {"objects": "object_id", "rights": "rights_id", "media": "media_id"}


@dataclass(frozen=True, slots=True)
class PageInfo:
    """Where the items being judged came from (for provenance and the quarantine)."""

    url: str
    cursor: str | None
    fetched_at: str


@dataclass(frozen=True, slots=True)
class Emit:
    """A valid record to emit, with the rows derived from it (or their quarantine entries)."""

    record: dict[str, t.Any]
    key: str
    modified: str | None
    digest: str
    derived: tuple[tuple[str, dict[str, t.Any]], ...] = ()
    rejected: tuple[dict[str, t.Any], ...] = ()


@dataclass(frozen=True, slots=True)
class Quarantine:
    """A rejected item; ``entry`` is None when the same bytes were quarantined before."""

    entry: dict[str, t.Any] | None
    key: str | None
    digest: str


@dataclass(frozen=True, slots=True)
class Duplicate:
    """A valid record that was already emitted."""

    key: str
    modified: str | None
    digest: str


@dataclass(frozen=True, slots=True)
class Cut:
    """The body ended inside this item: request the page again."""

    reason: str


Outcome = Emit | Quarantine | Duplicate | Cut


class Triage:
    """Judges the items of one stream's harvest.

    Args:
        stream: the harvested stream (``objects``, ``rights``, ``media``).
        checkpoint: the harvest's checkpoint (what the previous harvest emitted).
        options: validation policies.
        item_cursors: the source gives every item its own cursor.
        derive: for sources that deliver whole objects, the rights/media rows of an object.
        raw_max_bytes: how much of a rejected item's text the quarantine keeps.
    """

    def __init__(
        self,
        stream: str,
        checkpoint: Checkpoint,
        *,
        options: ValidationOptions,
        item_cursors: bool,
        derive: Callable[[Mapping[str, t.Any]], Iterable[tuple[str, Mapping[str, t.Any]]]]
        | None = None,
        raw_max_bytes: int = 65536,
    ) -> None:
        self.stream = stream
        self.checkpoint = checkpoint
        self.options = options
        self.item_cursors = item_cursors
        self.derive = derive
        self.raw_max_bytes = raw_max_bytes
        self.recent = RecentRecords(seed=checkpoint.recent)
        self.quarantined = BoundedSet(QUARANTINE_WINDOW)
        for digest in checkpoint.recent_quarantine:
            self.quarantined.add(digest)
        #: The last cut-off, unreadable item and on how many fetches in a row it came back.
        self._cut: tuple[bytes, int] | None = None

    def page_ok(self) -> None:
        """A page made progress: a cut item seen before was not a final one."""
        self._cut = None

    def judge(self, item: RawItem, page: PageInfo, *, alone: bool) -> Outcome:
        """Decide about one item.

        Args:
            item: the item as the dialect read it.
            page: where it came from.
            alone: it is the only item of its page (a cut final item comes back alone).
        """
        digest = item_digest(item)
        if item.fields is None:
            reason = item.error or "unreadable item"
            if not item.complete and not item.oversized:
                if not self._cut_for_good(item.raw, alone):
                    return Cut(reason)
                reason = (
                    f"the body ended in the middle of this item on {CUT_FETCHES} fetches in a "
                    f"row (a malformed or truncated final item): {reason}"
                )
            return self._quarantine(self.stream, item, digest, reason, item.key, page)
        try:
            record = validate_record(self.stream, item.fields, self.options)
        except RecordRejected as exc:
            key = exc.key if exc.key is not None else item.key
            return self._quarantine(self.stream, item, digest, exc.reason, key, page)
        if self.item_cursors and not item.cursor:
            reason = "record carries no next_cursor (contract violation): it cannot be checkpointed"
            key = source_key(self.stream, item.fields)
            return self._quarantine(self.stream, item, digest, reason, key, page)
        key = str(record[KEY_PROPERTIES[self.stream]])
        modified = record.get("modified")
        if self.recent.seen(key, modified) or self.checkpoint.already_emitted(
            modified, key, digest
        ):
            return Duplicate(key, modified, digest)
        record["_source_url"] = page.url
        record["_source_cursor"] = page.cursor
        record["_fetched_at"] = page.fetched_at
        record["_raw_sha256"] = digest
        if self.derive is None:
            return Emit(record, key, modified, digest)
        derived, rejected = self._derive(record, item, digest, page)
        return Emit(record, key, modified, digest, derived, rejected)

    def _derive(
        self, record: dict[str, t.Any], item: RawItem, digest: str, page: PageInfo
    ) -> tuple[tuple[tuple[str, dict[str, t.Any]], ...], tuple[dict[str, t.Any], ...]]:
        derived: list[tuple[str, dict[str, t.Any]]] = []
        rejected: list[dict[str, t.Any]] = []
        assert self.derive is not None
        for stream, raw in self.derive(record):
            try:
                row = validate_record(stream, raw, self.options)
            except RecordRejected as exc:
                outcome = self._quarantine(stream, item, digest, exc.reason, exc.key, page)
                if isinstance(outcome, Quarantine) and outcome.entry is not None:
                    rejected.append(outcome.entry)
                continue
            for name in ("_source_url", "_source_cursor", "_fetched_at", "_raw_sha256"):
                row[name] = record[name]
            derived.append((stream, row))
        return tuple(derived), tuple(rejected)

    def _cut_for_good(self, data: bytes, alone: bool) -> bool:
        """Usually the body was cut: only the same bytes, alone, on N fetches are final."""
        if alone and self._cut is not None and self._cut[0] == data:
            self._cut = (data, self._cut[1] + 1)
        else:
            self._cut = (data, 1)
        return self._cut[1] >= CUT_FETCHES

    def _quarantine(
        self,
        stream: str,
        item: RawItem,
        digest: str,
        reason: str,
        key: str | None,
        page: PageInfo,
    ) -> Quarantine:
        if stream != self.stream:
            # A derived row: one entry per (item, stream), told apart from the item's own.
            digest = hashlib.sha256(f"{digest}|{stream}".encode()).hexdigest()
        if not self.quarantined.add(digest):
            return Quarantine(None, key, digest)
        limit = self.raw_max_bytes
        text = item.raw[:limit].decode("utf-8", errors="backslashreplace").replace("\x00", "\\x00")
        entry = {
            "stream": stream,
            "raw_sha256": digest,
            "key": key,
            "reason": reason,
            "raw": text,
            "raw_size": item.size or len(item.raw),
            "cursor": page.cursor,
            "source_url": page.url,
            "received_at": page.fetched_at,
        }
        return Quarantine(entry, key, digest)


def item_digest(item: RawItem) -> str:
    """SHA-256 of the item's bytes (an oversized item: of its prefix and its size)."""
    if item.oversized:
        return hashlib.sha256(item.raw + f"|oversized:{item.size}".encode()).hexdigest()
    return hashlib.sha256(item.raw).hexdigest()


_FIELD = re.compile(r"(?:^|; )([A-Za-z_][\w.\[\]]*):")


def reason_category(reason: str) -> str:
    """A short, bounded category for the summary: the fields named, or the first words."""
    fields = _FIELD.findall(reason)
    if fields:
        return "invalid " + ", ".join(sorted(set(fields))[:4])
    return reason.split(":")[0][:60]
