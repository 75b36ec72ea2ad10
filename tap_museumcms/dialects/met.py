"""The Met Collection API (``source: met``): the list of object ids, then one request per object.

::

    GET {api_url}/objects?metadataDate=2026-11-20   -> {"total": 2586, "objectIDs": [458998, ...]}
    GET {api_url}/objects/436535                    -> {"objectID": 436535, "title": "Wheat Field
                                                        with Cypresses", "metadataDate": ...}
    GET {api_url}/objects/0                         -> 404 {"message": "ObjectID not found"}

A harvest starts with the id list (all ids, or with ``metadataDate`` only those changed since
the bookmark's day). The list is kept in memory as ``array('q')`` and on disk under the user
cache directory (:func:`cache_dir`), named in the harvest's window, for :data:`LIST_TTL_SECONDS`:
a resumed run reads it there instead of asking for 500,000 ids again. Then one page per object;
the page cursor is ``<list tag>:<position>:<object id>``::

    "3f9a1c2e:1234:436535"   # request object 436535, at position 1234 of list 3f9a1c2e

When the list is gone or expired on resume, it is fetched again and the harvest goes on at the
position of the cursor's object id in the new list (realigned by id, not by position); the new
list has a new tag, so the cursor moves on. An id that is listed but answers 404 (withdrawn
meanwhile) is counted and skipped. ``metadataDate`` has day granularity, so the bookmark day
comes again: what was sent at the bookmark second is skipped by the engine, the rest of that
day is sent once more (it merges on its key). The API tells nothing about deletions: see
``full_harvest_every_days``. 403 is the Met's
firewall saying "slow down" (metmuseum/openaccess#60): retried with backoff like 429.
"""

from __future__ import annotations

import array
import bisect
import contextlib
import hashlib
import json
import os
import re
import sys
import typing as t
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from tap_museumcms.clock import SYSTEM_CLOCK
from tap_museumcms.dialects.base import Dialect, PageEnd, RawItem
from tap_museumcms.dialects.jsonpage import json_item, split_api_url
from tap_museumcms.jsonarray import ArrayBodyError, ArraySplitter
from tap_museumcms.rights import CC0
from tap_museumcms.transport import LOGGER, PageRequest

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping

    from tap_museumcms.clock import Clock
    from tap_museumcms.transport import StreamStats, Transport

#: How long a cached id list serves a resumed harvest (a full harvest at 1 request/s takes
#: about 6 days for 500,000 objects). Older, it is fetched again and the harvest realigned.
LIST_TTL_SECONDS = 7 * 86400
_JSON = {"Accept": "application/json"}
_ISO_DATE = re.compile(r"\d{4}(?:-\d{2}(?:-\d{2})?)?")
_FORMATS = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png",
            ".tif": "image/tiff", ".tiff": "image/tiff", ".gif": "image/gif"}
#: Fields read into the contract's own names (the rest goes to ``extra_fields``).
_MAPPED = {"objectID": "ObjectID", "title": "title", "objectName": "object_type",
           "medium": "medium", "dimensions": "dimensions", "department": "department",
           "accessionNumber": "accession_number", "creditLine": "credit_line",
           "artistDisplayName": "maker", "metadataDate": "modified"}
_USED = {"objectDate", "primaryImage", "primaryImageSmall", "additionalImages"}


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/tap-museumcms``, else ``~/.cache/tap-museumcms``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tap-museumcms"


def iso_epoch(value: t.Any) -> float | None:
    """Epoch seconds of an ISO 8601 datetime (``2026-05-13T04:56:47.627Z``); None if unreadable."""
    if not isinstance(value, str) or len(value) < 19:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("z", "Z"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.timestamp()


@dataclass
class IdList:
    """One fetch of the id list: its tag, when it was fetched, the ids in API order."""

    tag: str
    fetched_at: float
    ids: array.array

    def cursor(self, pos: int) -> str | None:
        """The page cursor of position ``pos`` (None: past the end)."""
        return f"{self.tag}:{pos}:{self.ids[pos]}" if pos < len(self.ids) else None

    def realign(self, pos: int, oid: int) -> int:
        """Where the object the cursor pointed at (``oid``, at ``pos`` before) is now.

        Its position when listed; when it is gone, the first position after it (the Met lists
        ids in ascending order); in a list that is not sorted, the start (nothing is missed).
        """
        ids = self.ids
        if pos < len(ids) and ids[pos] == oid:
            return pos
        try:
            return ids.index(oid)
        except ValueError:
            pass
        if all(ids[i] < ids[i + 1] for i in range(len(ids) - 1)):
            return bisect.bisect_left(ids, oid)
        return 0

    def save(self, path: Path) -> None:
        """Write the list atomically: a JSON header line, then the ids as 8-byte integers."""
        path.parent.mkdir(parents=True, exist_ok=True)
        header = {"format": "tap-museumcms met id list", "version": 1, "tag": self.tag,
                  "fetched_at": self.fetched_at, "count": len(self.ids),
                  "byteorder": sys.byteorder}
        tmp = path.with_name(path.name + f".{uuid.uuid4().hex[:8]}.tmp")
        with tmp.open("wb") as out:
            out.write(json.dumps(header).encode() + b"\n")
            self.ids.tofile(out)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> IdList | None:
        """The list stored at ``path``; None when it is missing or unreadable."""
        try:
            with path.open("rb") as src:
                header = json.loads(src.readline())
                ids = array.array("q")
                ids.frombytes(src.read())
            if len(ids) != header["count"]:
                return None
            if header["byteorder"] != sys.byteorder:
                ids.byteswap()
            return cls(str(header["tag"]), float(header["fetched_at"]), ids)
        except (OSError, ValueError, KeyError, TypeError):
            return None


def prune(directory: Path, now: float) -> None:
    """Remove cached id lists older than the TTL (harvests that were never resumed)."""
    for path in directory.glob("met-*.ids"):
        cached = IdList.load(path)
        if cached is None or now - cached.fetched_at > LIST_TTL_SECONDS:
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)


class MetMuseum(Dialect):
    """The Met: an id list (cached on disk), then one page per object; page cursors."""

    name = "met"
    harvested = ("objects",)
    item_cursors = False
    pass_errors = True  # a 404 for a listed id is an answer: the object is gone
    state_interval = 1.0  # one object per request: a STATE about once a second
    default_requests_per_second = 1.0  # the firewall blocks after ~30 fast requests
    rate_statuses = frozenset({403})

    def __init__(self, config: Mapping[str, t.Any]) -> None:
        super().__init__(config)
        base, params = split_api_url(str(config.get("api_url") or ""))
        self.api_url = base.rstrip("/")
        self.list_params = tuple((k, v) for k, v in params if v)  # departmentIds=11 and such
        self.clock: Clock = SYSTEM_CLOCK
        self.ids: IdList | None = None
        self.gone = 0  # listed ids that answered 404
        self._list_path: Path | None = None
        self._pending: tuple[int, int] | None = None  # a list request realigns this cursor
        self._current: tuple[int, int] | None = None  # the object request in flight

    def prepare(self, transport: Transport, stats: StreamStats) -> None:
        """Take the run's clock (the cached list's age is measured on it)."""
        self.clock = transport.clock

    def window(self, stream: str, since: str | None) -> dict[str, t.Any]:
        """A new harvest: the name of its id list in the cache (``met-<url>-<random>.ids``)."""
        prune(cache_dir(), self.clock.time())
        url = hashlib.sha256(self.api_url.encode()).hexdigest()[:8]
        return {"list": f"met-{url}-{uuid.uuid4().hex[:12]}.ids"}

    def request(
        self, stream: str, cursor: str | None, since: str | None, window: Mapping[str, t.Any]
    ) -> PageRequest:
        self._list_path = cache_dir() / str(window.get("list") or "met-ids.ids")
        self._current = None
        if cursor is None:
            return self._list_request(since, pending=None)
        tag, pos, oid = _parse_cursor(cursor)
        ids = self._usable_list(tag)
        if ids is None:
            return self._list_request(since, pending=(pos, oid))
        self._current = (pos, oid)
        return PageRequest(f"{self.api_url}/objects/{oid}", (), _JSON)

    def _list_request(self, since: str | None, *, pending: tuple[int, int] | None) -> PageRequest:
        self._pending = pending
        params = list(self.list_params)
        if since:
            params.append(("metadataDate", since[:10]))  # day granularity
        return PageRequest(f"{self.api_url}/objects", tuple(params), _JSON)

    def _usable_list(self, tag: str) -> IdList | None:
        """The list the cursor belongs to, from memory or the cache, if it is not expired."""
        if self.ids is None or self.ids.tag != tag:
            assert self._list_path is not None
            self.ids = IdList.load(self._list_path)
        if self.ids is None or self.ids.tag != tag:
            return None
        if self.clock.time() - self.ids.fetched_at > LIST_TTL_SECONDS:
            return None
        return self.ids

    def following(
        self, stream: str, cursor: str | None, since: str | None, count: int
    ) -> list[str]:
        """The next objects of the id list (none before the list is read)."""
        if cursor is None or self.ids is None:
            return []
        tag, pos, _ = _parse_cursor(cursor)
        if tag != self.ids.tag:
            return []
        ahead = (self.ids.cursor(pos + k) for k in range(1, count + 1))
        return [c for c in ahead if c is not None]

    def read(self, stream: str, chunks: Iterable[bytes], end: PageEnd) -> Iterator[RawItem]:
        """The id list (no item: it announces the first object) or one object (one item)."""
        if self._current is None:
            self._read_list(chunks, end)
            return
        yield from self._read_object(chunks, end)

    def _read_list(self, chunks: Iterable[bytes], end: PageEnd) -> None:
        """Read the id list into memory and the cache; announce the first (or realigned) object."""
        ids, total, broken = read_id_list(chunks)
        if broken:
            end.broken = broken
            return
        if total is not None and total != len(ids):
            end.warnings.append(f"the id list says total={total} but holds {len(ids)} ids")
        end.total = len(ids)  # progress lines only
        fresh = IdList(uuid.uuid4().hex[:8], self.clock.time(), ids)
        self.ids = fresh
        pos = 0
        if self._pending is not None:
            before, oid = self._pending
            pos = fresh.realign(before, oid)
            end.warnings.append(
                f"the cached id list was missing or expired: fetched again ({len(ids)} ids) and "
                f"resumed at object {oid} (position {pos}, was {before})")
        end.next_cursor = fresh.cursor(pos)
        if end.next_cursor is None:
            end.complete = True
            self._forget()
        elif self._list_path is not None:
            try:
                fresh.save(self._list_path)
            except OSError as exc:  # a read-only home: the harvest goes on, a resume asks again
                end.warnings.append(f"cannot cache the id list in {self._list_path.parent} "
                                    f"({exc}); a resumed run will fetch it again")

    def _read_object(self, chunks: Iterable[bytes], end: PageEnd) -> Iterator[RawItem]:
        assert self._current is not None
        oid = self._current[1]
        item, broken = read_object(chunks, oid, self.max_item_bytes)
        if broken:
            end.broken = broken
            return
        assert item is not None
        self._next(end, final=item.complete)
        yield item

    def _next(self, end: PageEnd, *, final: bool = True) -> PageEnd:
        """After the object in flight: the next object's cursor, or the end of the list.

        ``final``: the object was read to its end (a cut one is asked for again).
        """
        assert self._current is not None and self.ids is not None
        end.next_cursor = self.ids.cursor(self._current[0] + 1)
        if end.next_cursor is None:
            end.complete = True
        if end.next_cursor is None and final:
            LOGGER.info("objects: the id list is done; %d listed id(s) were gone (HTTP 404)",
                        self.gone)
            self._forget()
        return end

    def _forget(self) -> None:
        """The harvest is over: its cached list is no longer needed."""
        if self._list_path is not None:
            with contextlib.suppress(OSError):
                self._list_path.unlink(missing_ok=True)

    def explain(self, status: int, body: bytes) -> PageEnd | None:
        """A 404 for a listed object: it was withdrawn after the list was made; skip it."""
        if status != 404 or self._current is None:
            return None  # anything else (and a 404 for the list) is an HTTP failure
        self.gone += 1
        LOGGER.warning("objects: object %s is listed but answers HTTP 404 (withdrawn): skipped",
                       self._current[1])
        return self._next(PageEnd(withdrawn=1))


def _parse_cursor(cursor: str) -> tuple[str, int, int]:
    """``"3f9a1c2e:1234:436535"`` -> ``("3f9a1c2e", 1234, 436535)``."""
    tag, pos, oid = cursor.split(":")
    return tag, int(pos), int(oid)


def read_id_list(chunks: Iterable[bytes]) -> tuple[array.array, int | None, str | None]:
    """Stream ``{"total": N, "objectIDs": [...]}`` into an ``array('q')``.

    Returns:
        ``(ids, total, broken)``: ``broken`` says why the body could not be read to its end.
    """
    splitter = ArraySplitter(("objectIDs",), max_item_bytes=64)
    ids = array.array("q")
    try:
        for chunk in chunks:
            for piece in splitter.feed(chunk):
                ids.append(int(piece.data))
        if list(splitter.close()):
            return ids, None, "the id list was cut in the middle of an id"
    except (ArrayBodyError, ValueError) as exc:
        return ids, None, f"the id list is not the JSON this API sends: {exc}"
    envelope = splitter.envelope()
    if not isinstance(envelope, dict):
        return ids, None, "the id list ended before its end"
    total = envelope.get("total")
    return ids, total if isinstance(total, int) else None, None


def read_object(
    chunks: Iterable[bytes], oid: int, max_bytes: int
) -> tuple[RawItem | None, str | None]:
    """One object's body as a raw item (streamed, bounded by ``max_bytes``).

    Returns:
        ``(item, None)``, or ``(None, why)`` when the body is no object answer at all (empty,
        HTML from a firewall) and is worth asking for again.
    """
    splitter = ArraySplitter((), max_item_bytes=max_bytes)
    pieces = list(splitter.feed(b"["))
    first = True
    try:
        for chunk in chunks:
            if first and chunk.strip():
                if not chunk.lstrip().startswith(b"{"):
                    return None, f"the answer for object {oid} is not a JSON object"
                first = False
            pieces.extend(splitter.feed(chunk))
        if first:
            return None, f"the answer for object {oid} is empty"
        if pieces:
            list(splitter.feed(b"]"))
    except ArrayBodyError as exc:
        return None, f"the answer for object {oid} is not the JSON this API sends: {exc}"
    pieces.extend(splitter.close())
    return json_item(pieces[0], map_object, max_item_bytes=max_bytes, key=str(oid)), None


def map_object(obj: Mapping[str, t.Any]) -> dict[str, t.Any]:
    """A Met object in the contract's shape; fields the contract has no name for are kept.

    Example::

        map_object({"objectID": 436535, "title": "Wheat Field with Cypresses",
                    "objectDate": "1889", "isPublicDomain": true,
                    "metadataDate": "2026-05-13T04:56:47.627Z",
                    "primaryImage": "https://images.metmuseum.org/CRDImages/ep/original/DP-42549-001.jpg",
                    "objectURL": "https://www.metmuseum.org/art/collection/search/436535"})
        -> {"ObjectID": 436535, "title": "Wheat Field with Cypresses",
            "modified": "2026-05-13T04:56:47.627Z", "creation_date_display": "1889",
            "creation_date_iso": "1889", "rights_uri": "http://creativecommons.org/publicdomain/zero/1.0/",
            "media": [{"MediaID": "436535/DP-42549-001.jpg", "image_url": "https://images...",
                       "is_primary": true, "format": "image/jpeg", "rights_uri": "http://..."}],
            "isPublicDomain": true, "objectURL": "https://www.metmuseum.org/art/..."}
    """
    fields: dict[str, t.Any] = {name: obj.get(key) for key, name in _MAPPED.items()
                                if obj.get(key) not in (None, "")}
    date = obj.get("objectDate")
    if isinstance(date, str) and date.strip():
        fields["creation_date_display"] = date
        if _ISO_DATE.fullmatch(date.strip()):
            fields["creation_date_iso"] = date.strip()
    public = obj.get("isPublicDomain") is True
    if public:
        fields["rights_uri"] = CC0
    media = _media(obj, public)
    if media:
        fields["media"] = media
    for key, value in obj.items():
        if key not in _MAPPED and key not in _USED and value not in (None, "", []):
            fields[key] = value  # objectURL, isPublicDomain, constituents, tags, ...
    return fields


def _media(obj: Mapping[str, t.Any], public: bool) -> list[dict[str, t.Any]]:
    """``primaryImage`` and ``additionalImages`` as assets (the Met has no IIIF service)."""
    urls = [obj.get("primaryImage")]
    extra = obj.get("additionalImages")
    urls += extra if isinstance(extra, list) else []
    media: list[dict[str, t.Any]] = []
    seen: set[str] = set()
    for index, url in enumerate(urls):
        if url in (None, ""):
            continue
        name = urlsplit(url).path.rsplit("/", 1)[-1] if isinstance(url, str) else str(index)
        media_id = f"{obj.get('objectID')}/{name or index}"
        if media_id in seen:
            media_id = f"{media_id}#{index}"
        seen.add(media_id)
        item: dict[str, t.Any] = {"MediaID": media_id, "image_url": url, "is_primary": index == 0}
        suffix = os.path.splitext(name)[1].lower() if isinstance(url, str) else ""
        if suffix in _FORMATS:
            item["format"] = _FORMATS[suffix]
        if public:
            item["rights_uri"] = CC0
        if index == 0 and obj.get("primaryImageSmall"):
            item["web_large"] = obj["primaryImageSmall"]
        media.append(item)
    return media
