"""The harvest checkpoint kept in each stream's Singer state.

A stream's state (``bookmarks.<stream>``) looks like this while a harvest is running::

    {"replication_key": "modified",
     "replication_key_value": "2026-11-20T10:00:00Z",      # bookmark of the last complete harvest
     "harvest": {"cursor": "b64:MTk5NC4xMjc=",              # where the harvest resumes
                 "modified_since": "2026-11-20T10:00:00Z",  # the set this harvest asks for
                 "max_modified": "2026-11-27T08:00:00Z",    # newest ``modified`` emitted so far
                 "started_at": "2026-11-29T09:00:00Z"}}     # server time of its first page

and like this once the harvest is complete (the next run is incremental)::

    {"replication_key": "modified", "replication_key_value": "2026-11-27T08:00:00Z"}

Two kinds of cursor, one checkpoint:

* **Item cursors** (the JSONL contract): every record carries the cursor that resumes after
  it. ``cursor`` moves past each record before the record is emitted (:meth:`advance`).
* **Page cursors** (an OAI-PMH ``resumptionToken``, a next-page URL): only a page has a
  cursor. ``cursor`` is the cursor the current page was requested with, ``skip`` how many of
  that page's items were already handled and ``skip_key`` the key of the last one
  (:meth:`note_handled`); a resumed run asks for the same page again and passes over the first
  ``skip`` items, after checking that the last of them still has that key. ``position`` counts
  the items of the window before the current page, so that when the source rejects a cursor
  (an expired token) the harvest restarts its window and passes over ``position + skip``
  items (:meth:`restart_window`) instead of starting from zero. ``window`` holds what the
  dialect needs to ask for the same set again (OAI-PMH: ``until``, ``set``, ``metadataPrefix``).

Rules:

* The checkpoint moves *before* a record is emitted, so any STATE that follows a record
  resumes after it: nothing lost, no record that was followed by a STATE sent again.
* ``modified_since`` is stored with the cursor so a resumed harvest asks for the same set.
* The new bookmark is ``min(max_modified, started_at)``: a record that changed while the harvest
  was running, behind the cursor, is fetched by the next incremental run rather than missed.
  It never moves backwards.
* A resumed harvest must not re-send what the killed run committed even when the server
  re-delivers it, nor take a cursor it already met for progress: the harvest keeps the last
  :data:`RECENT_IN_STATE` emitted records with their cursors (``recent``: key, modified,
  cursor) and the last cursors it requested (``requested``). The digests of the last
  lines quarantined (``recent_quarantine``) sit beside the bookmark, outside the harvest, so
  they outlive it: a bad line after the last record comes back on the next incremental run.
* With ``full_harvest_every_days``, a new harvest is a *full* one (no ``modified_since``) when
  the last one (``last_full_harvest``) is that many days old: it carries a ``version``, its
  records are sent with it, and when it completes the tap sends ACTIVATE_VERSION, so that the
  target marks deleted every row the full harvest did not see again. That is how deletions
  are found at a source that does not report them.
* ``modified_since`` is inclusive, so the next run sees again the records modified exactly at
  the bookmark (a whole day, with an OAI-PMH repository of day granularity). The harvest
  remembers which ones it emitted (a 64-bit digest of key and raw SHA-256, at most
  :data:`MAX_AT_BOOKMARK`) and writes them as ``emitted_at_bookmark`` when it completes; the
  next run skips exactly those, so a record is sent again only if it changed. While the harvest
  runs, the list travels in its STATE (``at_max``) as long as it holds at most
  :data:`AT_MAX_IN_STATE` digests, so a killed and resumed harvest still knows them; beyond
  that it is kept in memory only, and after a kill the records of the newest second emitted
  before it may be sent once more by the next incremental run (they merge on their key).
"""

from __future__ import annotations

import hashlib
import typing as t
from datetime import UTC, datetime

from tap_museumcms.pagination import is_start

if t.TYPE_CHECKING:
    from collections.abc import Callable

REPLICATION_KEY = "modified"
#: How many records sharing the newest ``modified`` are remembered to skip next time.
MAX_AT_BOOKMARK = 5000
#: Up to this many of them also travel in every STATE of the running harvest.
AT_MAX_IN_STATE = 200
#: How many of the last emitted records a harvest keeps in state (overlap after a resume).
RECENT_IN_STATE = 50


def iso_utc(epoch: float) -> str:
    """Format epoch seconds as ``YYYY-MM-DDTHH:MM:SSZ``."""
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _push(items: list[t.Any], item: t.Any) -> None:
    items.append(item)
    if len(items) > RECENT_IN_STATE:
        del items[0]


class Checkpoint:
    """A view on one stream's state dict that owns the ``harvest`` entry.

    Args:
        state: the stream's writable state dict (mutated in place).
        start_date: the ``start_date`` setting, used when there is no bookmark yet.
        new_window: for a new harvest, the dialect's extras for its window, from the
            ``modified_since`` it asks for (stored as ``window``).
        full_every_days: the ``full_harvest_every_days`` setting (None: never).
        now: the current time, epoch seconds (when a full harvest is due, and its version).
    """

    def __init__(
        self,
        state: dict[str, t.Any],
        *,
        start_date: str | None,
        new_window: Callable[[str | None], dict[str, t.Any]] | None = None,
        full_every_days: float | None = None,
        now: float = 0.0,
    ) -> None:
        self.state = state
        harvest = state.get("harvest")
        self.resumed = isinstance(harvest, dict)
        if not self.resumed:
            since = state.get("replication_key_value") or start_date
            harvest = {"cursor": None, "modified_since": since, "max_modified": None,
                       "started_at": None}
            if _full_due(state.get("last_full_harvest"), full_every_days, now):
                harvest.update(modified_since=start_date, version=int(now))
            window = new_window(harvest["modified_since"]) if new_window else {}
            if window:
                harvest["window"] = window
            state["harvest"] = harvest
        self._h: dict[str, t.Any] = harvest  # type: ignore[assignment]
        # What the last complete harvest emitted at the bookmark second (replaced only when
        # this harvest completes): skipped if it comes back identical.
        self._skip = {_identity(item) for item in state.get("emitted_at_bookmark") or []}
        # What this harvest emitted at its newest ``modified`` (None: too many to remember).
        self._at_max = _AtMax(self._h)

    # -- where the harvest stands -------------------------------------------------------

    @property
    def cursor(self) -> str | None:
        """The cursor to request next (None: from the beginning of the window)."""
        cursor = self._h.get("cursor")
        return None if is_start(cursor) else cursor

    @property
    def modified_since(self) -> str | None:
        """The ``modified_since`` this harvest asks for (None: everything)."""
        return self._h.get("modified_since")

    @property
    def window(self) -> dict[str, t.Any]:
        """The dialect's extras of this harvest's window (OAI-PMH: set, prefix, until)."""
        return dict(self._h.get("window") or {})

    @property
    def version(self) -> int | None:
        """The version of a full harvest (sent with its records), None for an incremental one."""
        return self._h.get("version")

    @property
    def skip(self) -> int:
        """Items at the start of the cursor's page that were already handled."""
        return int(self._h.get("skip") or 0)

    @property
    def skip_key(self) -> str | None:
        """Key of the last item handled (checked when a resumed page is passed over)."""
        return self._h.get("skip_key")

    @property
    def bookmark(self) -> str | None:
        """The bookmark of the last complete harvest."""
        return self.state.get("replication_key_value")

    def note_server_time(self, iso: str) -> None:
        """Record when (on the server's clock) the harvest began; the first call wins."""
        if not self._h.get("started_at"):
            self._h["started_at"] = iso

    @property
    def recent(self) -> list[tuple[str, str | None]]:
        """The last emitted records, as ``(key, modified)``."""
        return [(item[0], item[1]) for item in self._h.get("recent") or []]

    @property
    def met_cursors(self) -> list[str | None]:
        """Cursors this harvest is known to have met: requested, or carried by a record."""
        carried = [item[2] for item in self._h.get("recent") or [] if len(item) > 2 and item[2]]
        return [*self._h.get("requested", []), *carried, self._h.get("cursor")]

    def note_requested(self, cursor: str | None) -> None:
        """Note a page request (kept for a resumed run's loop detection)."""
        _push(self._h.setdefault("requested", []), cursor)

    @property
    def recent_quarantine(self) -> list[str]:
        """Digests of the last lines quarantined."""
        return list(self.state.get("recent_quarantine") or [])

    # -- moving on --------------------------------------------------------------------

    def remember(self, key: str, modified: str | None, cursor: str | None) -> None:
        """Note an emitted record and its cursor (call before it is emitted)."""
        _push(self._h.setdefault("recent", []), [key, modified, cursor])

    def note_quarantined(self, digest: str) -> None:
        """Note a quarantined item (call before it is emitted)."""
        _push(self.state.setdefault("recent_quarantine", []), digest)

    def already_emitted(self, modified: str | None, key: str, raw_sha256: str) -> bool:
        """True if the previous harvest emitted this very item at the bookmark second."""
        return modified == self.modified_since and _identity((key, raw_sha256)) in self._skip

    def advance(
        self, cursor: str, modified: str | None, identity: tuple[str, str] | None = None
    ) -> None:
        """Item cursors: move past an item (about to be emitted, skipped or quarantined).

        Args:
            cursor: the item's own cursor (the one that resumes after it).
            modified: the record's ``modified`` (None for a quarantined item).
            identity: ``(key, raw_sha256)`` of the record, to skip it next time if it comes
                back unchanged at the bookmark second.
        """
        self._h["cursor"] = cursor
        self._note_modified(modified, identity)

    def note_handled(
        self, key: str | None, modified: str | None, identity: tuple[str, str] | None = None
    ) -> None:
        """Page cursors: one more item of the current page is handled (call before emitting)."""
        self._h["skip"] = self.skip + 1
        self._h["skip_key"] = key
        self._note_modified(modified, identity)

    def next_page(self, cursor: str, items: int) -> None:
        """Page cursors: the page of ``items`` items was read to its end; go to ``cursor``."""
        self._h["position"] = int(self._h.get("position") or 0) + items
        self._h["skip"] = max(self.skip - items, 0)
        self._h["cursor"] = cursor

    def restart_window(self) -> int:
        """The source rejected the cursor: ask for the window from its start again.

        Returns:
            How many items at the window's start are already handled (passed over).
        """
        handled = int(self._h.get("position") or 0) + self.skip
        self._h.update(cursor=None, position=0, skip=handled, requested=[])
        return handled

    def realign(self) -> None:
        """Items passed over no longer match: read the window again, passing over nothing."""
        self._h.update(cursor=None, position=0, skip=0, skip_key=None, requested=[])

    def _note_modified(self, modified: str | None, identity: tuple[str, str] | None) -> None:
        if not modified:
            return
        newest = self._h.get("max_modified") or ""
        if newest < modified:
            self._h["max_modified"] = modified
            self._at_max.restart(identity)
        elif newest == modified and identity:
            self._at_max.add(identity)

    def complete(self) -> str | None:
        """End the harvest: promote the bookmark and clear the cursor.

        Returns:
            The bookmark now in force.
        """
        harvest = self.state.pop("harvest", None) or {}
        if harvest.get("version") is not None:
            self.state["last_full_harvest"] = harvest.get("started_at") or iso_utc(
                harvest["version"])
        candidates = [v for v in (harvest.get("max_modified"), harvest.get("started_at")) if v]
        if harvest.get("max_modified") and candidates:
            new = min(candidates)
            old = self.state.get("replication_key_value")
            if not old or new >= old:
                self.state["replication_key_value"] = new
                if new == harvest["max_modified"] and self._at_max.items:
                    # Includes what this harvest skipped at the same second: all of it is sent.
                    self.state["emitted_at_bookmark"] = self._at_max.digests
                elif not old or new > old:
                    self.state.pop("emitted_at_bookmark", None)
        if self.state.get("replication_key_value"):
            self.state["replication_key"] = REPLICATION_KEY
        return self.state.get("replication_key_value")


class _AtMax:
    """What the harvest emitted at its newest ``modified``: in memory, and in STATE if small.

    Identities are ``(key, raw_sha256)`` pairs; they become 64-bit digests only when the harvest
    completes (``emitted_at_bookmark``), so no digest is computed per record.
    """

    def __init__(self, harvest: dict[str, t.Any]) -> None:
        self._h = harvest
        #: None: too many share it to remember (they are sent again).
        self.items: dict[tuple[str, str], None] | None = dict.fromkeys(
            tuple(item) for item in harvest.get("at_max") or [] if len(item) == 2)

    @property
    def digests(self) -> list[str]:
        return [_identity(item) for item in self.items or ()]

    def restart(self, identity: tuple[str, str] | None) -> None:
        """A newer ``modified``: only this record (if any) is at it."""
        self.items = {identity: None} if identity else {}
        self._h["at_max"] = [list(identity)] if identity else []

    def add(self, identity: tuple[str, str]) -> None:
        """One more record at the newest ``modified``."""
        if self.items is None or identity in self.items:
            return
        self.items[identity] = None
        if len(self.items) > MAX_AT_BOOKMARK:
            self.items = None
            self._h.pop("at_max", None)
        elif len(self.items) <= AT_MAX_IN_STATE:
            self._h.setdefault("at_max", []).append(list(identity))
        else:
            self._h.pop("at_max", None)  # kept in memory only (see the module notes)


def _full_due(last: str | None, every_days: float | None, now: float) -> bool:
    """Whether a full harvest is due: never done, or done ``every_days`` days ago or more."""
    if every_days is None:
        return False
    if not last:
        return True
    try:
        done = datetime.fromisoformat(last.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return True
    return now - done >= every_days * 86400


def _identity(item: t.Any) -> str:
    """A record's identity at the bookmark: 16 hex digits of its key and raw digest.

    Accepts ``(key, raw_sha256)`` pairs (also as stored by earlier versions) and digests.
    """
    if isinstance(item, str):
        return item
    key, digest = item
    return hashlib.blake2b(f"{key}\x00{digest}".encode(), digest_size=8).hexdigest()
