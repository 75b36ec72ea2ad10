"""The harvest checkpoint kept in each stream's Singer state.

A stream's state (``bookmarks.<stream>``) looks like this while a harvest is running::

    {"replication_key": "modified",
     "replication_key_value": "2026-11-20T10:00:00Z",      # bookmark of the last complete harvest
     "harvest": {"cursor": "b64:MTk5NC4xMjc=",              # resume *after* the last emitted record
                 "modified_since": "2026-11-20T10:00:00Z",  # the set this harvest asks for
                 "max_modified": "2026-11-27T08:00:00Z",    # newest ``modified`` emitted so far
                 "started_at": "2026-11-29T09:00:00Z"}}     # server time of its first page

and like this once the harvest is complete (the next run is incremental)::

    {"replication_key": "modified", "replication_key_value": "2026-11-27T08:00:00Z"}

Rules:

* The cursor of a record is stored *before* the record is emitted, so any STATE that follows
  a record resumes after it: nothing lost, no record that was followed by a STATE sent again.
* ``modified_since`` is stored with the cursor so a resumed harvest asks for the same set.
* The new bookmark is ``min(max_modified, started_at)``: a record that changed while the harvest
  was running, behind the cursor, is fetched by the next incremental run rather than missed.
  It never moves backwards.
* A resumed harvest must not re-send what the killed run committed even when the server
  re-delivers it, nor take a cursor it already met for progress: the harvest keeps the last
  :data:`RECENT_IN_STATE` emitted records with their cursors (``recent``: key, modified,
  next_cursor) and the last cursors it requested (``requested``). The digests of the last
  lines quarantined (``recent_quarantine``) sit beside the bookmark, outside the harvest, so
  they outlive it: a bad line after the last record comes back on the next incremental run.
* ``modified_since`` is inclusive, so the next run sees again the records modified exactly at
  the bookmark. The harvest remembers which ones it emitted (key and SHA-256 of the raw line,
  at most :data:`MAX_AT_BOOKMARK`) as ``emitted_at_bookmark``; the next run skips exactly
  those, so a record is sent again only if its line changed.
"""

from __future__ import annotations

import typing as t
from datetime import UTC, datetime

from tap_museumcms.pagination import is_start

REPLICATION_KEY = "modified"
#: How many records sharing the newest ``modified`` second are remembered to skip next time.
MAX_AT_BOOKMARK = 200
#: How many of the last emitted records a harvest keeps in state (overlap after a resume).
RECENT_IN_STATE = 50


def iso_utc(epoch: float) -> str:
    """Format epoch seconds as ``YYYY-MM-DDTHH:MM:SSZ``."""
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Harvest:
    """A view on one stream's state dict that owns the ``harvest`` entry.

    Args:
        state: the stream's writable state dict (mutated in place).
        start_date: the ``start_date`` setting, used when there is no bookmark yet.
    """

    def __init__(self, state: dict[str, t.Any], *, start_date: str | None) -> None:
        self.state = state
        harvest = state.get("harvest")
        self.resumed = isinstance(harvest, dict)
        if not self.resumed:
            harvest = {
                "cursor": None,
                "modified_since": state.get("replication_key_value") or start_date,
                "max_modified": None,
                "started_at": None,
                "at_max": [],
            }
            state["harvest"] = harvest
        self._h: dict[str, t.Any] = harvest  # type: ignore[assignment]
        # What the last complete harvest emitted at the bookmark second (replaced only when
        # this harvest completes): skipped if it comes back identical.
        self._skip = {tuple(item) for item in state.get("emitted_at_bookmark") or []}

    @property
    def cursor(self) -> str | None:
        """The cursor to request next (None: from the beginning)."""
        cursor = self._h.get("cursor")
        return None if is_start(cursor) else cursor

    @property
    def modified_since(self) -> str | None:
        """The ``modified_since`` this harvest asks for (None: everything)."""
        return self._h.get("modified_since")

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
        carried = [item[2] for item in self._h.get("recent") or [] if len(item) > 2]
        return [*self._h.get("requested", []), *carried, self._h.get("cursor")]

    def note_requested(self, cursor: str | None) -> None:
        """Note a page request (kept for a resumed run's loop detection)."""
        requested = self._h.setdefault("requested", [])
        requested.append(cursor)
        if len(requested) > RECENT_IN_STATE:
            del requested[0]

    @property
    def recent_quarantine(self) -> list[str]:
        """Digests of the last lines quarantined."""
        return list(self.state.get("recent_quarantine") or [])

    def remember(self, key: str, modified: str | None, cursor: str | None) -> None:
        """Note an emitted record and its ``next_cursor`` (call before it is emitted)."""
        recent = self._h.setdefault("recent", [])
        recent.append([key, modified, cursor])
        if len(recent) > RECENT_IN_STATE:
            del recent[0]

    def note_quarantined(self, digest: str) -> None:
        """Note a quarantined line (call before it is emitted)."""
        recent = self.state.setdefault("recent_quarantine", [])
        recent.append(digest)
        if len(recent) > RECENT_IN_STATE:
            del recent[0]

    def already_emitted(self, modified: str | None, key: str, raw_sha256: str) -> bool:
        """True if the previous harvest emitted this very line at the bookmark second."""
        return modified == self.modified_since and (key, raw_sha256) in self._skip

    def advance(
        self, cursor: str, modified: str | None, identity: tuple[str, str] | None = None
    ) -> None:
        """Move the cursor past a record that is about to be emitted.

        Args:
            cursor: the record's ``next_cursor``.
            modified: the record's ``modified`` (None for a quarantined line).
            identity: ``(key, raw_sha256)`` of the record, to skip it next time if it comes
                back unchanged at the bookmark second.
        """
        self._h["cursor"] = cursor
        if not modified:
            return
        newest = self._h.get("max_modified") or ""
        if newest < modified:
            self._h["max_modified"] = modified
            self._h["at_max"] = [list(identity)] if identity else []
        elif newest == modified and identity and self._h.get("at_max") is not None:
            at_max = self._h.setdefault("at_max", [])
            # Too many records share the second: remember none (they are sent again).
            self._h["at_max"] = at_max + [list(identity)] if len(at_max) < MAX_AT_BOOKMARK else None

    def complete(self) -> str | None:
        """End the harvest: promote the bookmark and clear the cursor.

        Returns:
            The bookmark now in force.
        """
        harvest = self.state.pop("harvest", None) or {}
        candidates = [v for v in (harvest.get("max_modified"), harvest.get("started_at")) if v]
        if harvest.get("max_modified") and candidates:
            new = min(candidates)
            old = self.state.get("replication_key_value")
            if not old or new >= old:
                self.state["replication_key_value"] = new
                if new == harvest["max_modified"] and harvest.get("at_max"):
                    # Includes what this harvest skipped at the same second: all of it is sent.
                    self.state["emitted_at_bookmark"] = harvest["at_max"]
                elif not old or new > old:
                    self.state.pop("emitted_at_bookmark", None)
        if self.state.get("replication_key_value"):
            self.state["replication_key"] = REPLICATION_KEY
        return self.state.get("replication_key_value")
