"""The reference server's data: the bundled real sample and generated collections of any size.

A collection holds three streams (``objects``, ``rights``, ``media``). Each stream is a sequence of
raw JSON Lines addressed by *position* (0-based cursor order). The server turns positions into
cursors; the collection never sees a cursor. Generated collections compute line ``i`` from
``(seed, i)`` on demand, so a collection of a million records costs no memory.

Mutations (``update``/``add``/``delete``) live in a small overlay on top of the base lines, for
incremental-sync tests::

    collection.update("objects", "T00938", title="New title")   # same position, modified = now
    collection.add("objects", {"ObjectID": "new-1", "title": "x"})  # appended at the end
    collection.delete("objects", "T00938")                        # becomes a tombstone
    # {"ObjectID": "T00938", "deleted": true, "modified": "2027-01-15T10:00:00Z"}

Reads: ``record_at(stream, position)``, and ``iter_window(stream, start, since, before)`` for the
records with ``since <= modified < before`` (base records outside the window are skipped without
being generated; ``window_size`` counts them the same way).

``expected(stream)`` is the collection's own declaration of what a correct client must end up
with; it is the ground truth of the tests and never depends on the tap's code.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import threading
import time
import typing as t
from collections.abc import Iterator
from importlib import resources

from tap_museumcms.clock import SYSTEM_CLOCK, Clock

STREAM_KEYS: dict[str, str] = {"objects": "ObjectID", "rights": "RightsID", "media": "MediaID"}
"""Stream name → key field, as in the contract."""

_ISO_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_URL_FIELDS: dict[str, tuple[str, ...]] = {
    "objects": ("rights_uri", "iiif_manifest_url"),
    "rights": ("statement_uri",),
    "media": ("iiif_image_service", "iiif_manifest_url"),
}


@dataclasses.dataclass(frozen=True)
class Expected:
    """Ground truth for one stream of a collection (plus what the server's faults add).

    Attributes:
        valid_keys: keys of the records a correct client emits as records (not tombstones).
        invalid_positions: positions whose line the client must quarantine.
        tombstones: keys of deleted records (``{"<Key>": ..., "deleted": true}``).
        malformed_lines: extra non-JSON lines a server fault inserted (no position, no cursor);
            always empty when it comes from a collection alone.
    """

    valid_keys: set[str]
    invalid_positions: set[int]
    tombstones: set[str]
    malformed_lines: frozenset[bytes] = frozenset()


def iso_utc(epoch: float) -> str:
    """Format epoch seconds as the contract's timestamp, e.g. ``"2026-01-01T00:00:00Z"``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(epoch)))


def parse_timestamp(value: str) -> float:
    """Parse an ISO 8601 date or date-time (``Z`` or offset; naive means UTC) into epoch seconds.

    Raises:
        ValueError: when ``value`` is not ISO 8601.
    """
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()


def valid_iso_date(value: str) -> bool:
    """Whether ``value`` is a real calendar date as ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``."""
    match = _ISO_DATE.match(value)
    if not match:
        return False
    year, month, day = (int(g) if g else 1 for g in match.groups())
    try:
        dt.date(year, month, day)
    except ValueError:
        return False
    return True


def absolute_url(value: t.Any) -> bool:
    """Whether ``value`` is an absolute ``http(s)`` URL."""
    return isinstance(value, str) and re.match(r"^https?://[^/\s]+", value) is not None


def line_is_valid(stream: str, line: bytes) -> bool:
    """The server's declaration of which lines a correct client must quarantine (False).

    A line is valid when it is a JSON object whose key field is a non-empty string and, unless it
    is a tombstone, whose ``modified`` is ISO 8601, whose URL fields are absolute ``http(s)`` URLs
    and (objects) whose ``title`` is a non-empty string and ``creation_date_iso`` an ISO 8601
    calendar date (``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``) when present. Control characters in
    text are *not* a reason to quarantine: the client cleans them.
    """
    try:
        record = json.loads(line)
    except ValueError:
        return False
    if not isinstance(record, dict):
        return False
    key = record.get(STREAM_KEYS[stream])
    if not isinstance(key, str) or not key.strip():
        return False
    modified = record.get("modified")
    try:
        parse_timestamp(modified) if isinstance(modified, str) else None
    except ValueError:
        return False
    if not isinstance(modified, str):
        return False
    if record.get("deleted") is True:
        return True
    for field in _URL_FIELDS[stream]:
        if record.get(field) is not None and not absolute_url(record[field]):
            return False
    if stream == "objects":
        title = record.get("title")
        if not isinstance(title, str) or not title.strip():
            return False
        date = record.get("creation_date_iso")
        if date is not None and not (isinstance(date, str) and valid_iso_date(date)):
            return False
        for media in record.get("media") or []:
            service = media.get("iiif_image_service") if isinstance(media, dict) else None
            if service is not None and not absolute_url(service):
                return False
    return True


def line_key(stream: str, line: bytes) -> str | None:
    """The key of a line, or None when the line is not a JSON object with a string key."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    key = record.get(STREAM_KEYS[stream]) if isinstance(record, dict) else None
    return key if isinstance(key, str) else None


def _dump(record: dict[str, t.Any]) -> bytes:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class _Overlay:
    """The base-line hooks and the mutation overlay (updated, deleted and appended records).

    Subclasses provide the base lines: ``_base_size``, ``_base_line``, ``_base_modified``,
    ``_base_position`` (key → position) and, to make windowed reads fast,
    ``_base_first_candidate`` / ``_base_end_candidate`` (the base positions outside
    ``[first, end)`` cannot match a ``since`` / ``before`` bound).
    """

    _base_sorted = False
    """True when base ``modified`` never falls as the position rises."""

    def __init__(self, clock: Clock = SYSTEM_CLOCK) -> None:
        self.clock = clock
        self._lock = threading.RLock()
        # stream -> position -> (line, modified epoch); covers updated/deleted base records
        self._overrides: dict[str, dict[int, tuple[bytes, float]]] = {s: {} for s in STREAM_KEYS}
        self._appended: dict[str, list[tuple[bytes, float]]] = {s: [] for s in STREAM_KEYS}
        self._appended_index: dict[str, dict[str, int]] = {s: {} for s in STREAM_KEYS}

    # --- provided by subclasses -------------------------------------------------------------
    def _base_size(self, stream: str) -> int:
        raise NotImplementedError

    def _base_line(self, stream: str, position: int) -> bytes:
        raise NotImplementedError

    def _base_modified(self, stream: str, position: int) -> float:
        raise NotImplementedError

    def _base_position(self, stream: str, key: str) -> int | None:
        raise NotImplementedError

    def _base_first_candidate(self, stream: str, since: float) -> int:
        return 0

    def _base_end_candidate(self, stream: str, before: float) -> int:
        """A base position from which on no base record is modified before ``before``."""
        return self._base_size(stream)

    def _base_earliest(self, stream: str) -> float | None:
        """The earliest ``modified`` of the base records (default: look at every one)."""
        size = self._base_size(stream)
        return min((self._base_modified(stream, p) for p in range(size)), default=None)

    def record_at(self, stream: str, position: int) -> bytes:
        raise NotImplementedError

    @staticmethod
    def _check(stream: str) -> str:
        if stream not in STREAM_KEYS:
            raise KeyError(f"unknown stream {stream!r}; expected one of {sorted(STREAM_KEYS)}")
        return stream

    # --- mutations --------------------------------------------------------------------------
    def _now(self) -> tuple[str, float]:
        now = int(self.clock.time())
        return iso_utc(now), float(now)

    def _find(self, stream: str, key: str) -> int:
        with self._lock:
            if key in self._appended_index[stream]:
                return self._base_size(stream) + self._appended_index[stream][key]
        position = self._base_position(stream, key)
        if position is None:
            raise KeyError(f"{stream}: no record with key {key!r}")
        return position

    def _put(self, stream: str, position: int, record: dict[str, t.Any], modified: float) -> None:
        base = self._base_size(stream)
        entry = (_dump(record), modified)
        with self._lock:
            if position >= base:
                self._appended[stream][position - base] = entry
            else:
                self._overrides[stream][position] = entry

    def update(self, stream: str, key: str, **fields: t.Any) -> bytes:
        """Change fields of the record ``key`` in place (its position and cursor do not move).

        Returns:
            The new line. ``modified`` is set to the clock's now.
        """
        with self._lock:
            position = self._find(stream, key)
            record = json.loads(self.record_at(stream, position))
            stamp, epoch = self._now()
            record.update(fields, modified=stamp)
            self._put(stream, position, record, epoch)
            return self.record_at(stream, position)

    def add(self, stream: str, record: dict[str, t.Any]) -> bytes:
        """Append a new record at the end of the cursor order; ``modified`` is set to now."""
        key = record.get(STREAM_KEYS[self._check(stream)])
        if not isinstance(key, str) or not key:
            raise ValueError(f"record needs a string {STREAM_KEYS[stream]}")
        with self._lock:
            stamp, epoch = self._now()
            line = _dump({**record, "modified": stamp})
            self._appended_index[stream][key] = len(self._appended[stream])
            self._appended[stream].append((line, epoch))
            return line

    def delete(self, stream: str, key: str) -> bytes:
        """Replace the record ``key`` with a tombstone at the same position."""
        with self._lock:
            position = self._find(stream, key)
            stamp, epoch = self._now()
            tombstone = {STREAM_KEYS[stream]: key, "deleted": True, "modified": stamp}
            self._put(stream, position, tombstone, epoch)
            return self.record_at(stream, position)

    def window_size(
        self, stream: str, since: float | None = None, before: float | None = None
    ) -> int:
        """How many positions have ``since <= modified < before``, without generating lines
        (arithmetic when ``_base_sorted``: base ``modified`` rises with the position)."""
        base = self._base_size(self._check(stream))
        first = 0 if since is None else min(base, self._base_first_candidate(stream, since))
        end = (
            base
            if before is None
            else max(first, min(base, self._base_end_candidate(stream, before)))
        )

        def wanted(modified: float) -> bool:
            return (since is None or modified >= since) and (before is None or modified < before)

        if self._base_sorted:
            count = end - first
        else:
            count = sum(wanted(self._base_modified(stream, p)) for p in range(first, end))
        with self._lock:
            overrides = dict(self._overrides[stream])
            appended = list(self._appended[stream])
        for position, (_line, modified) in overrides.items():
            counted = first <= position < end and wanted(self._base_modified(stream, position))
            count += wanted(modified) - counted
        return count + sum(wanted(modified) for _line, modified in appended)

    def overridden(self, stream: str, position: int) -> bool:
        """Whether a base position was updated or deleted (its line is no longer the base's)."""
        with self._lock:
            return position in self._overrides[self._check(stream)]

    def position_of(self, stream: str, key: str) -> int | None:
        """The position of the record ``key`` (a deleted one included), or None."""
        try:
            return self._find(stream, key)
        except KeyError:
            return None


class Collection(_Overlay):
    """Base of both collections: positions, windowed reads and ``expected()``."""

    def _base_is_object(self, stream: str, position: int) -> bool:
        """Whether the base line is a JSON object (default: parse it)."""
        try:
            return isinstance(json.loads(self._base_line(stream, position)), dict)
        except ValueError:
            return False

    def _base_expected(self, stream: str) -> tuple[Iterator[str], set[int]]:
        """(keys of valid base records, invalid base positions); default: check every line."""
        size = self._base_size(stream)
        invalid = {p for p in range(size) if not line_is_valid(stream, self._base_line(stream, p))}

        def keys() -> Iterator[str]:
            for position in range(self._base_size(stream)):
                if position not in invalid:
                    key = line_key(stream, self._base_line(stream, position))
                    if key is not None:
                        yield key

        return keys(), invalid

    # --- reading ----------------------------------------------------------------------------
    def size(self, stream: str) -> int:
        """Number of positions (lines) in ``stream``, appended records included."""
        self._check(stream)
        with self._lock:
            return self._base_size(stream) + len(self._appended[stream])

    def record_at(self, stream: str, position: int) -> bytes:
        """The raw line at ``position`` without ``next_cursor`` (maybe deliberately malformed).

        Raises:
            IndexError: when ``position`` is outside ``0 .. size(stream) - 1``.
        """
        return self._entry(stream, position)[0]

    def modified_at(self, stream: str, position: int) -> float:
        """Epoch seconds of the record's ``modified`` (what the CMS database knows, even for a line
        that is exported malformed)."""
        return self._entry(stream, position)[1]

    def earliest_modified(self, stream: str) -> float | None:
        """The earliest ``modified`` in ``stream`` (mutations included); None when it is empty."""
        with self._lock:
            overlay = [m for _, m in self._overrides[self._check(stream)].values()]
            overlay += [m for _, m in self._appended[stream]]
        candidates = [*overlay, self._base_earliest(stream)]
        return min((c for c in candidates if c is not None), default=None)

    def _entry(self, stream: str, position: int) -> tuple[bytes, float]:
        self._check(stream)
        base = self._base_size(stream)
        with self._lock:
            if position < 0:
                raise IndexError(position)
            if position >= base:
                return self._appended[stream][position - base]
            override = self._overrides[stream].get(position)
        if override is not None:
            return override
        return self._base_line(stream, position), self._base_modified(stream, position)

    def keys(self, stream: str) -> Iterator[str]:
        """Keys in cursor order, one per line that is a JSON object with a string key."""
        for position in range(self.size(stream)):
            key = line_key(stream, self.record_at(stream, position))
            if key is not None:
                yield key

    def iter_from(
        self, stream: str, start: int, since: float | None = None
    ) -> Iterator[tuple[int, bytes, bool]]:
        """Yield ``(position, line, is_object)`` from ``start`` on, only records modified at or
        after ``since``; ``is_object`` is False for a line that is not a JSON object."""
        for position, line, is_object, _modified in self.iter_window(stream, start, since):
            yield position, line, is_object

    def iter_window(
        self, stream: str, start: int, since: float | None = None, before: float | None = None
    ) -> Iterator[tuple[int, bytes, bool, float]]:
        """Yield ``(position, line, is_object, modified)`` from ``start`` on, only records with
        ``since <= modified < before`` (either bound optional).

        Fast for windowed queries: base positions outside ``_base_first_candidate(since)`` ..
        ``_base_end_candidate(before)`` are skipped without being generated, only the overlay is
        looked at there; inside, a base line is generated only when its ``modified`` matches.
        """
        base = self._base_size(self._check(stream))
        first = 0 if since is None else min(base, self._base_first_candidate(stream, since))
        end = base if before is None else self._base_end_candidate(stream, before)
        end = max(first, min(base, end))

        def wanted(modified: float) -> bool:
            return (since is None or modified >= since) and (before is None or modified < before)

        yield from self._overlay_between(stream, start, first, wanted)
        for position in range(max(start, first), end):
            with self._lock:
                overlay = self._overrides[stream].get(position)
            if overlay is not None:
                if wanted(overlay[1]):
                    yield position, overlay[0], True, overlay[1]
            elif wanted(modified := self._base_modified(stream, position)):
                line = self._base_line(stream, position)
                yield position, line, self._base_is_object(stream, position), modified
        yield from self._overlay_between(stream, max(start, end), base, wanted)
        position = max(start, base)
        while position < self.size(stream):
            with self._lock:
                line, modified = self._appended[stream][position - base]
            if wanted(modified):
                yield position, line, True, modified
            position += 1

    def _overlay_between(
        self, stream: str, low: int, high: int, wanted: t.Callable[[float], bool]
    ) -> Iterator[tuple[int, bytes, bool, float]]:
        """The overridden base records in ``low .. high - 1`` whose ``modified`` is wanted."""
        if low >= high:
            return
        with self._lock:
            positions = sorted(p for p in self._overrides[stream] if low <= p < high)
        for position in positions:
            line, modified = self._entry(stream, position)
            if wanted(modified):
                yield position, line, True, modified

    def object_types(self) -> list[str]:
        """The distinct ``object_type`` values of the live objects (default: read every line)."""
        found: set[str] = set()
        for _position, line, is_object, _modified in self.iter_window("objects", 0):
            record = json.loads(line) if is_object else None
            kind = record.get("object_type") if isinstance(record, dict) else None
            if isinstance(kind, str) and kind.strip():
                found.add(kind)
        return sorted(found)

    # --- ground truth -----------------------------------------------------------------------
    def expected(self, stream: str) -> Expected:
        """What a correct client ends up with after a full harvest of ``stream`` now."""
        self._check(stream)
        with self._lock:
            overlay = dict(self._overrides[stream])
            base = self._base_size(stream)
            overlay.update({base + i: e for i, e in enumerate(self._appended[stream])})
        base_keys, base_invalid = self._base_expected(stream)
        overridden_keys = {
            k for p in overlay if p < base and (k := line_key(stream, self._base_line(stream, p)))
        }
        valid = set(base_keys) - overridden_keys
        invalid = base_invalid - set(overlay)
        tombstones: set[str] = set()
        for position, (line, _modified) in overlay.items():
            key = line_key(stream, line)
            if not line_is_valid(stream, line):
                invalid.add(position)
            elif json.loads(line).get("deleted") is True:
                tombstones.add(t.cast(str, key))
            else:
                valid.add(t.cast(str, key))
        return Expected(
            valid_keys=valid - tombstones, invalid_positions=invalid, tombstones=tombstones
        )


class SampleCollection(Collection):
    """The bundled real sample: 1,010 objects (Tate + AIC, CC0), their rights and 823 images.

    Lines are the committed ``sample/*.jsonl`` files (see ``sample/ATTRIBUTION.md``). About 27% of
    the objects carry a fuzzy ``creation_date_iso`` ("1954-8", "c.1790-1") as the source gives it:
    those are the records a correct client quarantines.
    """

    def __init__(self, clock: Clock = SYSTEM_CLOCK) -> None:
        super().__init__(clock)
        self._lines: dict[str, list[bytes]] = {}
        self._modified: dict[str, list[float]] = {}
        self._index: dict[str, dict[str, int]] = {}
        self._objects: dict[str, list[bool]] = {}
        folder = resources.files("tap_museumcms.refserver") / "sample"
        for stream in STREAM_KEYS:
            data = (folder / f"{stream}.jsonl").read_bytes()
            lines = [line for line in data.split(b"\n") if line.strip()]
            self._lines[stream] = lines
            records = []
            for line in lines:
                try:
                    record = json.loads(line)
                except ValueError:
                    record = None
                records.append(record if isinstance(record, dict) else None)
            self._objects[stream] = [r is not None for r in records]
            self._modified[stream] = [
                parse_timestamp(r["modified"]) if r and isinstance(r.get("modified"), str) else 0.0
                for r in records
            ]
            key = STREAM_KEYS[stream]
            self._index[stream] = {r[key]: i for i, r in enumerate(records) if r and key in r}

    def _base_size(self, stream: str) -> int:
        return len(self._lines[stream])

    def _base_line(self, stream: str, position: int) -> bytes:
        return self._lines[stream][position]

    def _base_modified(self, stream: str, position: int) -> float:
        return self._modified[stream][position]

    def _base_position(self, stream: str, key: str) -> int | None:
        return self._index[stream].get(key)

    def _base_is_object(self, stream: str, position: int) -> bool:
        return self._objects[stream][position]

    def _base_first_candidate(self, stream: str, since: float) -> int:
        latest = max(self._modified[stream], default=0.0)
        return len(self._lines[stream]) if since > latest else 0

    def _base_end_candidate(self, stream: str, before: float) -> int:
        earliest = self._base_earliest(stream)
        return 0 if earliest is None or before <= earliest else len(self._lines[stream])

    def _base_earliest(self, stream: str) -> float | None:
        return min(self._modified[stream], default=None)


# Vocabulary for generated records (written for this project).
_TITLE_SUBJECTS = (
    "Harbour",
    "Orchard",
    "Cathedral",
    "Mill",
    "Bridge",
    "Garden",
    "Lighthouse",
    "Market",
    "Quarry",
    "Riverbank",
    "Vineyard",
    "Courtyard",
    "Shipyard",
    "Meadow",
    "Chapel",
    "Station",
)
_TITLE_FORMS = (
    "{s} at Dawn",
    "Study for the {s}",
    "The {s} in Winter",
    "View of the {s}",
    "{s} with Figures",
    "Sketch of a {s}",
    "The Old {s}",
    "{s} after Rain",
    "Evening, the {s}",
    "Untitled ({s})",
)
_GIVEN = (
    "Ada",
    "Bruno",
    "Clara",
    "Dmitri",
    "Elif",
    "Farid",
    "Greta",
    "Hiroshi",
    "Ines",
    "Jonas",
    "Kwame",
    "Lucía",
    "Mei",
    "Nils",
    "Oona",
    "Pavel",
    "Rosa",
    "Søren",
    "Tomás",
    "Yara",
)
_FAMILY = (
    "Albrecht",
    "Bianchi",
    "Castellanos",
    "Dvořák",
    "Eriksen",
    "Fontaine",
    "Grünewald",
    "Haddad",
    "Ivanova",
    "Jansen",
    "Kowalski",
    "Lindqvist",
    "Moreau",
    "Nakamura",
    "Okafor",
    "Petrović",
    "Quintero",
    "Rasmussen",
    "Sato",
    "Van Doorn",
)
_TYPES = (
    ("painting", "Oil on canvas", "European Paintings"),
    ("painting", "Tempera on panel", "European Paintings"),
    ("drawing", "Graphite on wove paper", "Prints and Drawings"),
    ("print", "Etching on laid paper", "Prints and Drawings"),
    ("photograph", "Gelatin silver print", "Photography"),
    ("sculpture", "Bronze", "Sculpture"),
    ("textile", "Wool and silk, tapestry weave", "Textiles"),
    ("ceramic", "Glazed stoneware", "Decorative Arts"),
)
_RIGHTS = (
    "http://rightsstatements.org/vocab/InC/1.0/",
    "https://rightsstatements.org/vocab/InC/1.0/",
    "http://rightsstatements.org/vocab/InC-EDU/1.0/",
    "http://rightsstatements.org/page/InC/1.0/?language=en",
    "http://rightsstatements.org/vocab/NoC-US/1.0",
    "http://rightsstatements.org/vocab/UND/1.0/",
    "http://creativecommons.org/publicdomain/zero/1.0/",
    "https://creativecommons.org/publicdomain/zero/1.0/",
    "https://creativecommons.org/publicdomain/mark/1.0",
    "http://creativecommons.org/licenses/by/4.0/",
)
_CREDITS = ("Gift of {n}", "Purchased {y}", "Bequest of {n}", "Transferred from the {d} archive")
_INVALID_KINDS = (
    "title_missing",
    "key_empty",
    "date_circa",
    "date_impossible",
    "relative_url",
    "not_json",
    "control_chars",
)
"""The rotation of deliberate faults; the last one (``control_chars``) is valid after cleaning."""


class GeneratedCollection(Collection):
    """A synthetic collection of ``size`` objects, one rights record and one image per object.

    Record ``i`` is computed from ``(seed, i)``; nothing is stored. Keys: ``ObjectID``
    ``"obj-0000042"``, ``RightsID`` ``"r-obj-0000042"``, ``MediaID`` ``"m-obj-0000042"``;
    ``modified`` is ``base_modified + i`` seconds in all three streams.

    With ``invalid_every=k > 0``, object ``i`` with ``(i + 1) % k == 0`` is deliberately bad, the
    kind rotating through ``title_missing``, ``key_empty`` (``"ObjectID": ""``), ``date_circa``
    (``"c. 1850"``), ``date_impossible`` (``"2026-13-45"``), ``relative_url``, ``not_json`` (a line
    that is not JSON) and ``control_chars`` (``\\x00`` and MARC ``\\x1f`` in text: valid once
    cleaned). Rights and media records are always well formed.
    """

    def __init__(
        self,
        size: int,
        *,
        seed: int = 0,
        invalid_every: int = 0,
        base_modified: str = "2026-01-01T00:00:00Z",
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        super().__init__(clock)
        if size < 0 or invalid_every < 0:
            raise ValueError("size and invalid_every must be >= 0")
        self.n = size
        self.seed = seed
        self.invalid_every = invalid_every
        self.base_epoch = parse_timestamp(base_modified)

    _base_sorted = True

    def invalid_kind(self, position: int) -> str | None:
        """The deliberate fault of object ``position`` (one of the rotation), or None."""
        k = self.invalid_every
        if k <= 0 or (position + 1) % k:
            return None
        return _INVALID_KINDS[((position + 1) // k - 1) % len(_INVALID_KINDS)]

    @staticmethod
    def object_id(position: int) -> str:
        """The ``ObjectID`` of object ``position`` (before any deliberate fault)."""
        return f"obj-{position:07d}"

    def _base_size(self, stream: str) -> int:
        return self.n

    def _base_modified(self, stream: str, position: int) -> float:
        return self.base_epoch + position

    def _base_first_candidate(self, stream: str, since: float) -> int:
        return max(0, int(-(-(since - self.base_epoch) // 1)))

    def _base_position(self, stream: str, key: str) -> int | None:
        match = re.fullmatch(r"(?:r-|m-)?obj-(\d{7,})", key)
        if not match:
            return None
        position = int(match.group(1))
        prefix = {"objects": "", "rights": "r-", "media": "m-"}[stream]
        if not key.startswith(prefix + "obj-") or position >= self.n:
            return None
        if stream == "objects" and self.invalid_kind(position) in ("key_empty", "not_json"):
            return None
        return position

    def keys(self, stream: str) -> Iterator[str]:
        """Keys in cursor order, computed without generating the records (overlay included)."""
        prefix = {"objects": "", "rights": "r-", "media": "m-"}[self._check(stream)]
        with self._lock:
            overridden = set(self._overrides[stream])
        for position in range(self.n):
            if position in overridden:
                key = line_key(stream, self.record_at(stream, position))
            elif stream == "objects" and self.invalid_kind(position) == "not_json":
                key = None
            elif stream == "objects" and self.invalid_kind(position) == "key_empty":
                key = ""
            else:
                key = prefix + self.object_id(position)
            if key is not None:
                yield key
        with self._lock:
            appended = list(self._appended[stream])
        for line, _modified in appended:
            if (key := line_key(stream, line)) is not None:
                yield key

    def _base_expected(self, stream: str) -> tuple[Iterator[str], set[int]]:
        bad = ("control_chars", None)
        invalid = set()
        if stream == "objects" and self.invalid_every:
            k = self.invalid_every
            invalid = {p for p in range(k - 1, self.n, k) if self.invalid_kind(p) not in bad}
        prefix = {"objects": "", "rights": "r-", "media": "m-"}[stream]
        keys = (prefix + self.object_id(p) for p in range(self.n) if p not in invalid)
        return keys, invalid

    def _base_line(self, stream: str, position: int) -> bytes:
        if not 0 <= position < self.n:
            raise IndexError(position)
        pick = _Picker(self.seed, position)
        common = _common_fields(pick, self.object_id(position), self.base_epoch + position)
        if stream == "rights":
            return _rights_line(pick, common)
        if stream == "media":
            return _media_line(common)
        record = _object_record(pick, common, position)
        return _object_line(record, self.invalid_kind(position))

    def _base_end_candidate(self, stream: str, before: float) -> int:
        return self._base_first_candidate(stream, before)

    def _base_earliest(self, stream: str) -> float | None:
        return self.base_epoch if self.n else None

    def object_types(self) -> list[str]:
        """The type vocabulary of the generator plus the types of mutated objects (nothing is
        generated: a collection of millions answers at once)."""
        found = {kind for kind, _medium, _department in _TYPES}
        with self._lock:
            lines = [line for line, _ in self._overrides["objects"].values()]
            lines += [line for line, _ in self._appended["objects"]]
        for line in lines:
            kind = json.loads(line).get("object_type")
            if isinstance(kind, str) and kind.strip():
                found.add(kind)
        return sorted(found)

    def _base_is_object(self, stream: str, position: int) -> bool:
        return not (stream == "objects" and self.invalid_kind(position) == "not_json")


_MASK64 = (1 << 64) - 1


class _Picker:
    """Deterministic choices from ``(seed, position)``: splitmix64, much cheaper than a seeded
    ``random.Random`` per record (the server generates records on every request)."""

    __slots__ = ("_state", "_pool")

    def __init__(self, seed: int, position: int) -> None:
        self._state = (seed * 0x9E3779B97F4A7C15 + position) & _MASK64
        self._pool = 0

    def _next(self) -> int:
        self._state = (self._state + 0x9E3779B97F4A7C15) & _MASK64
        z = self._state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        return z ^ (z >> 31)

    def below(self, n: int) -> int:
        """A number in ``0 .. n-1`` (n small: the bias of a 64-bit modulo is negligible)."""
        if self._pool < (1 << 20):
            self._pool = self._next()
        self._pool, value = divmod(self._pool, n)
        return value

    def choice(self, options: t.Sequence[t.Any]) -> t.Any:
        return options[self.below(len(options))]


class _Common(t.NamedTuple):
    """What the three streams of one generated position share."""

    oid: str
    modified: str
    kind: str
    medium: str
    department: str
    year: int
    maker: str
    rights_uri: str
    media: dict[str, t.Any]


def _common_fields(pick: _Picker, oid: str, modified: float) -> _Common:
    """The shared fields, drawn in a fixed order (the order is part of the determinism)."""
    kind, medium, department = pick.choice(_TYPES)
    year = 1480 + pick.below(545)
    maker = f"{pick.choice(_GIVEN)} {pick.choice(_FAMILY)}"
    rights_uri = pick.choice(_RIGHTS)
    width, height = 800 + 10 * pick.below(721), 800 + 10 * pick.below(721)
    media_id = f"m-{oid}"
    media = {
        "MediaID": media_id,
        "iiif_image_service": f"https://img.example.org/iiif/3/{media_id}",
        "width": width,
        "height": height,
        "format": "image/jpeg",
        "is_primary": True,
    }
    stamp = iso_utc(modified)
    return _Common(oid, stamp, kind, medium, department, year, maker, rights_uri, media)


def _manifest_url(oid: str) -> str:
    return f"https://cms.example.org/iiif/{oid}/manifest"


def _rights_line(pick: _Picker, c: _Common) -> bytes:
    public = "publicdomain" in c.rights_uri
    return _dump(
        {
            "RightsID": f"r-{c.oid}",
            "ObjectID": c.oid,
            "statement_uri": c.rights_uri,
            "holder": None if public else f"Estate of {c.maker}",
            "credit_line": None if public else f"© Estate of {c.maker}",
            "valid_from": f"{1990 + pick.below(36)}-01-01",
            "modified": c.modified,
        }
    )


def _media_line(c: _Common) -> bytes:
    return _dump(
        {
            **c.media,
            "ObjectID": c.oid,
            "iiif_manifest_url": _manifest_url(c.oid),
            "caption": "Front",
            "modified": c.modified,
        }
    )


def _object_record(pick: _Picker, c: _Common, position: int) -> dict[str, t.Any]:
    year, maker = c.year, c.maker
    circa = pick.below(10) < 3
    title = pick.choice(_TITLE_FORMS).format(s=pick.choice(_TITLE_SUBJECTS))
    month = 1 + pick.below(12)
    return {
        "ObjectID": c.oid,
        "title": title,
        "creation_date_iso": str(year) if circa else f"{year}-{month:02d}-01",
        "creation_date_display": f"c. {year}" if circa else str(year),
        "maker": maker,
        "object_type": c.kind,
        "medium": c.medium,
        "dimensions": f"{10 + pick.below(241)} x {10 + pick.below(241)} cm",
        "department": c.department,
        "accession_number": f"{year + pick.below(61)}.{position}",
        "description": f"{title} by {maker}.",
        "credit_line": pick.choice(_CREDITS).format(
            n=f"{pick.choice(_GIVEN)} {pick.choice(_FAMILY)}", y=year + 50, d=c.department
        ),
        "rights_uri": c.rights_uri,
        "iiif_manifest_url": _manifest_url(c.oid),
        "media": [c.media],
        "modified": c.modified,
    }


def _object_line(record: dict[str, t.Any], fault: str | None) -> bytes:
    """The object's line with its deliberate fault applied (see ``GeneratedCollection``)."""
    oid = record["ObjectID"]
    if fault == "title_missing":
        del record["title"]
    elif fault == "key_empty":
        record["ObjectID"] = ""
    elif fault == "date_circa":
        record["creation_date_iso"] = "c. 1850"
    elif fault == "date_impossible":
        record["creation_date_iso"] = "2026-13-45"
    elif fault == "relative_url":
        record["iiif_manifest_url"] = f"/iiif/{oid}/manifest"
    elif fault == "not_json":
        return f'{{"ObjectID": "{oid}", "title": {record["title"]} by {record["maker"]}, '.encode()
    elif fault == "control_chars":
        record["title"] = f"{record['title']}\x00"
        record["maker"] = f"{record['maker']}\x1fa(Artist)"
    return _dump(record)
