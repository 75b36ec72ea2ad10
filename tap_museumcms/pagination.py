"""Cursor pagination: what a page's cursors mean, and the guards against loops.

Pure and socket-free. The harvest loop feeds it the cursor a page was requested with and the
cursors the page carried; it answers whether the harvest goes on, is complete, or has hit a
server bug where the cursor stops advancing or comes back.

Two kinds of source:

* item cursors (the JSONL contract): every record carries ``next_cursor``, the cursor that
  resumes *after* it; an empty body ends the harvest; pages may overlap after a server-side
  retry (:meth:`CursorGuard.judge`);
* page cursors (an OAI-PMH ``resumptionToken``): the page ends with the cursor of the next
  page, and says itself when the list is complete (:meth:`CursorGuard.judge_page`).
"""

from __future__ import annotations

import enum
import hashlib
import typing as t
from collections import deque
from dataclasses import dataclass


class PageVerdict(enum.Enum):
    """What a finished page means for the harvest."""

    CONTINUE = "continue"  #: request the next page, from the checkpoint
    COMPLETE = "complete"  #: the harvest is done
    REPEAT = "repeat"  #: only re-delivered records, no advance: request the same page again
    STUCK = "stuck"  #: the cursor did not advance: stop, say so, keep state
    LOOP = "loop"  #: the cursor came back to one already requested: stop, say so
    EMPTY = "empty"  #: a page with no item and a new cursor: go on, but it is no progress


@dataclass(frozen=True)
class PageOutcome:
    """The verdict on one page, with a message fit for a log line."""

    verdict: PageVerdict
    message: str = ""


class BoundedSet:
    """A set that forgets its oldest members beyond ``capacity`` (first in, first out).

    Members are stored as 16-byte BLAKE2 digests in a set, with a ring of the same digests
    for the order, so memory is bounded (about 100 bytes a member) whatever is remembered.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: set[bytes] = set()
        self._order: deque[bytes] = deque()

    @staticmethod
    def _digest(value: str | bytes) -> bytes:
        data = value.encode() if isinstance(value, str) else value
        return hashlib.blake2b(data, digest_size=16).digest()

    def add(self, value: str | bytes) -> bool:
        """Remember ``value``; return True if it was new."""
        digest = self._digest(value)
        if digest in self._items:
            return False
        self._items.add(digest)
        self._order.append(digest)
        if len(self._order) > self.capacity:
            self._items.discard(self._order.popleft())
        return True

    def __contains__(self, value: str | bytes) -> bool:
        return self._digest(value) in self._items

    def __len__(self) -> int:
        return len(self._items)


class RecentRecords:
    """The last records emitted, to emit an overlapping re-delivery once.

    A record is identified by its key and its ``modified`` value: a re-delivered record
    that changed in between is *not* a duplicate and is emitted again. The window holds the
    last ``capacity`` identities (many pages' worth), so an overlap that reaches back further
    than one page is still caught; memory stays bounded.
    """

    def __init__(
        self, capacity: int = 10_000, seed: t.Iterable[tuple[str, str | None]] = ()
    ) -> None:
        self._seen = BoundedSet(capacity)
        # What a previous run emitted last (from state), so an overlap right after a resume
        # is not sent again.
        for key, modified in seed:
            self._seen.add(f"{key}\x00{modified}")

    def seen(self, key: str, modified: str | None) -> bool:
        """Return True if (key, modified) was delivered in the window; remember it either way.

        A record re-delivered again and again stays in the window while it keeps coming back.
        """
        return not self._seen.add(f"{key}\x00{modified}")


class CursorGuard:
    """Knows which cursors the harvest has met, and judges each page by its progress.

    Cursors are opaque, so they cannot be ordered. What can be known is whether a cursor was
    met before: requested, or carried by a record already processed. A record whose cursor was
    never met moves the checkpoint forward; one whose cursor was met lies behind it (an
    overlapping page) or points back (a loop). Loop detection is per page.

    Args:
        window: how many cursors to remember.
        seed: cursors a previous run of this harvest met (from state).
    """

    def __init__(self, window: int = 20_000, seed: t.Iterable[str | None] = ()) -> None:
        self._met = BoundedSet(window)
        for cursor in seed:
            self._met.add(_normal(cursor))

    def meet(self, cursor: str | None) -> bool:
        """Note a cursor; return True if it was never met before (it moves forward)."""
        return self._met.add(_normal(cursor))

    def judge(
        self,
        *,
        requested: str | None,
        last_cursor: str | None,
        last_cursor_was_new: bool,
        lines: int,
        valid_records: int,
        new_records: int,
        progressed: bool,
    ) -> PageOutcome:
        """Decide what comes after a page of an item-cursor source.

        Args:
            requested: the cursor the page was requested with (None: from the beginning).
            last_cursor: the ``next_cursor`` of the page's last line that had one, and
                ``last_cursor_was_new`` whether it was met for the first time on this page.
            lines: non-blank lines in the body (0: the body was empty); ``valid_records`` of
                them passed validation, ``new_records`` were not delivered before.
            progressed: whether the checkpoint moved during the page.

        Returns:
            CONTINUE, COMPLETE, REPEAT, STUCK or LOOP, with a message fit for a log line.
        """
        shown = requested if requested is not None else "<start>"
        if lines == 0:
            return PageOutcome(PageVerdict.COMPLETE, message="empty page: harvest complete")
        if new_records == 0 and progressed:
            # Re-delivered records whose cursors lead on, or only quarantined lines.
            return PageOutcome(PageVerdict.CONTINUE)
        if new_records == 0 and valid_records > 0:
            # Only an empty body ends a harvest: a page that re-delivered what was already
            # emitted (a server-side retry) is asked for again.
            return PageOutcome(PageVerdict.REPEAT, message=(
                f"the page requested with cursor {shown!r} re-delivered only records already "
                "emitted and did not advance"))
        if new_records == 0:
            return PageOutcome(PageVerdict.COMPLETE, message=(
                f"page requested with cursor {shown!r} carried no cursor beyond it and no "
                "valid record (only quarantined lines): harvest complete"))
        if last_cursor is None or _normal(last_cursor) == _normal(requested):
            return PageOutcome(PageVerdict.STUCK, message=(
                f"cursor stuck: the page requested with cursor {shown!r} returned "
                f"{valid_records} record(s) whose last next_cursor is the same cursor; "
                "stopping this stream instead of looping (a known CMS server bug)"))
        if not last_cursor_was_new:
            return PageOutcome(PageVerdict.LOOP, message=(
                f"cursor loop: the page requested with cursor {shown!r} ended with cursor "
                f"{last_cursor!r}, which this harvest had already met; stopping this stream "
                "instead of looping"))
        return PageOutcome(PageVerdict.CONTINUE)

    def judge_page(
        self, *, requested: str | None, next_cursor: str | None, complete: bool, items: int
    ) -> PageOutcome:
        """Decide what comes after a page of a page-cursor source.

        Args:
            requested: the cursor the page was requested with (None: the window's start).
            next_cursor: the cursor the page announced for the next one.
            complete: the page said the list ends with it (an empty or absent token).
            items: items on the page (records, deleted headers and unreadable ones).

        Returns:
            COMPLETE, STUCK (the same cursor again), LOOP (a cursor already met), EMPTY (no
            item but a new cursor) or CONTINUE.
        """
        shown = requested if requested is not None else "<start>"
        if complete or not next_cursor:
            return PageOutcome(PageVerdict.COMPLETE, message="the list is complete")
        if _normal(next_cursor) == _normal(requested):
            return PageOutcome(
                PageVerdict.STUCK,
                message=(
                    f"cursor stuck: the page requested with cursor {shown!r} announced the "
                    "same cursor for the next page; stopping this stream instead of looping"
                ),
            )
        if not self.meet(next_cursor):
            return PageOutcome(
                PageVerdict.LOOP,
                message=(
                    f"cursor loop: the page requested with cursor {shown!r} announced cursor "
                    f"{next_cursor!r}, which this harvest had already met; stopping this "
                    "stream instead of looping"
                ),
            )
        if items == 0:
            return PageOutcome(
                PageVerdict.EMPTY,
                message=f"the page requested with cursor {shown!r} held no record",
            )
        return PageOutcome(PageVerdict.CONTINUE)


def _normal(cursor: str | None) -> str:
    """``None``, empty and ``"0"`` all mean "from the beginning"."""
    if cursor is None or cursor in ("", "0"):
        return "\x00start"
    return cursor


def is_start(cursor: str | None) -> bool:
    """Return True if ``cursor`` means "from the beginning"."""
    return _normal(cursor) == "\x00start"


__all__: t.Sequence[str] = (
    "BoundedSet",
    "CursorGuard",
    "PageOutcome",
    "PageVerdict",
    "RecentRecords",
    "is_start",
)
