"""Cleveland Museum of Art Open Access API (``source: cleveland``).

``api_url`` is ``https://openaccess-api.clevelandart.org/api``. Pages are an offset and a
length; ``info.total`` counts the list and an empty ``data`` ends it::

    GET {api_url}/artworks/?skip=1000&limit=500
    -> {"info": {"total": 68954, "parameters": {"skip": "1000", "limit": "500"}},
        "data": [{"id": 94979, "accession_number": "1915.534", "share_license_status": "CC0",
                  "title": "Nathaniel Hurd", "creation_date": "c. 1765", ...,
                  "images": {"web": {"url": "https://openaccess-cdn.clevelandart.org/...",
                                     "width": "1263", "height": "...", ...}, ...},
                  "updated_at": "2019-11-18 09:03:30.462000"}, ...]}

Every item carries its own exact resume position: the offset of the item after it
(``skip + index + 1``). The API documents no filter on modification time, so ``since`` is
not sent: every run reads the whole list (deletions: see ``full_harvest_every_days``).
"""

from __future__ import annotations

import re
import typing as t

from tap_museumcms.dialects.base import Dialect, PageEnd, RawItem
from tap_museumcms.dialects.jsonpage import JsonPage, exact_year, json_item, object_key
from tap_museumcms.errors import ConfigurationError
from tap_museumcms.rights import CC0
from tap_museumcms.transport import PageRequest

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping

IN_COPYRIGHT = "http://rightsstatements.org/vocab/InC/1.0/"
#: ``share_license_status`` -> the rights URI of the work and its images.
LICENCES = {"CC0": CC0, "Copyrighted": IN_COPYRIGHT}
#: The largest page asked for (the museum's own examples use up to 1,000).
MAX_LIMIT = 1000
#: Kept as they are, in ``extra_fields``.
EXTRAS = ("share_license_status", "copyright", "tombstone", "url", "culture", "collection",
          "current_location", "creation_date_earliest", "creation_date_latest", "creators")
#: Renditions, best first for ``image_url`` (``full`` is an uncompressed TIFF).
RENDITIONS = ("print", "web", "full")
_STEM = re.compile(r"([^/]+?)_(?:web|print|full)\.[A-Za-z0-9]+$")
_FORMATS = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "tif": "image/tiff", "tiff": "image/tiff",
            "png": "image/png"}


class ClevelandMuseum(Dialect):
    """``skip``/``limit`` pages; each item's cursor is the offset after it."""

    name = "cleveland"
    harvested = ("objects",)
    item_cursors = True
    default_requests_per_second = 2.0  # no limit is documented: stay polite
    incremental = False  # no modification filter: every run is a full harvest

    def __init__(self, config: Mapping[str, t.Any]) -> None:
        super().__init__(config)
        base = self.api_url
        self.base = base[: -len("/artworks")] if base.endswith("/artworks") else base
        self.limit = max(1, min(int(config.get("page_size") or MAX_LIMIT), MAX_LIMIT))
        self._skip = 0  # the offset of the page being read
        self._total: int | None = None  # info.total of the last page read
        #: The first artwork of each page read, and its offset (a few hundred pages at most).
        self._firsts: dict[str, int] = {}

    def request(
        self, stream: str, cursor: str | None, since: str | None, window: Mapping[str, t.Any]
    ) -> PageRequest:
        if cursor and not cursor.isdigit():
            raise ConfigurationError(f"cleveland: the saved cursor {cursor!r} is no offset; "
                                     "clear the stream's state (meltano state clear)")
        self._skip = int(cursor) if cursor else 0
        params = (("skip", str(self._skip)), ("limit", str(self.limit)))
        return PageRequest(f"{self.base}/artworks/", params, {"Accept": "application/json"})

    def following(
        self, stream: str, cursor: str | None, since: str | None, count: int
    ) -> list[str]:
        """The offsets of the next pages (within the list's last known size)."""
        start = int(cursor) if cursor and cursor.isdigit() else 0
        ahead = (start + self.limit * k for k in range(1, count + 1))
        return [str(offset) for offset in ahead if self._total is None or offset < self._total]

    def read(self, stream: str, chunks: Iterable[bytes], end: PageEnd) -> Iterator[RawItem]:
        """One item per element of ``data``, each with the offset after it as its cursor."""
        skip, count = self._skip, 0
        page = JsonPage(("data",), max_item_bytes=self.max_item_bytes,
                        what="a JSON page of this API", required=True)
        for piece in page.pieces(chunks, end):
            item = json_item(piece, map_artwork, max_item_bytes=self.max_item_bytes,
                             cursor=str(skip + count + 1))
            if count == 0 and self._repeats(item.key, skip, end):
                return  # before anything of this page is handled: the checkpoint stays
            count += 1
            yield item
        if page.envelope is None:
            return
        self._ended(page.envelope, count, end)

    def _repeats(self, first: str | None, skip: int, end: PageEnd) -> bool:
        """Whether this page begins with the artwork another offset began with (the API
        ignores ``skip``); noted otherwise."""
        if first is None:
            return False
        seen = self._firsts.setdefault(first, skip)
        if seen == skip:
            return False
        end.stop = (f"cleveland: skip={skip} begins with the same artwork ({first}) as "
                    f"skip={seen}: the offset does not advance; stopping instead of looping")
        return True

    def _ended(self, envelope: Mapping[str, t.Any], count: int, end: PageEnd) -> None:
        """Judge the page: the offset echoed, a total that shrank, an early empty page."""
        skip, info = self._skip, envelope.get("info")
        info = info if isinstance(info, dict) else {}
        echoed = info.get("parameters", {}).get("skip") if isinstance(
            info.get("parameters"), dict) else None
        if echoed is not None and str(echoed).strip() != str(skip):
            end.stop = (f"cleveland: asked for skip={skip}, the API answered for skip={echoed!r}"
                        "; stopping instead of reading the same records again")
            return
        total, previous = info.get("total"), self._total
        total = total if isinstance(total, int) and not isinstance(total, bool) else None
        if total is not None:
            self._total = end.total = total
            if previous is not None and total < previous:
                end.stop = (f"cleveland: the list shrank from {previous} to {total} artworks "
                            f"during the harvest (at skip={skip}): withdrawn artworks shift the "
                            "offsets, so some could be passed over; run again (the harvest "
                            "resumes here)")
                return
        if count == 0 and total is not None and skip < total:
            end.broken = (f"an empty page at skip={skip} although info.total is {total}")
            return
        end.complete = count == 0  # informative: an empty page ends an item-cursor list


def map_artwork(record: Mapping[str, t.Any]) -> dict[str, t.Any]:
    """A CMA artwork in the contract's input shape.

    Example (abridged)::

        {"id": 93014, "accession_number": "1335.1917", "share_license_status": "CC0",
         "title": "View of Schroon Mountain, ...", "creation_date": "1838",
         "creation_date_earliest": 1838, "creation_date_latest": 1838,
         "creators": [{"description": "Thomas Cole (American, 1801-1848)", ...}],
         "images": {"print": {"url": ".../1335.1917_print.jpg", "width": "3400", ...}, ...},
         "updated_at": "2019-11-18 09:03:30.462000"}
        -> {"ObjectID": 93014, "title": "View of Schroon Mountain, ...",
            "creation_date_iso": "1838", "maker": "Thomas Cole (American, 1801-1848)",
            "rights_uri": CC0, "media": [{"MediaID": "1335.1917", "image_url":
            ".../1335.1917_print.jpg", "width": "3400", ...}],
            "modified": "2019-11-18 09:03:30.462000", "share_license_status": "CC0", ...}
    """
    rights = LICENCES.get(record.get("share_license_status"))  # type: ignore[arg-type]
    fields: dict[str, t.Any] = {
        "ObjectID": record.get("id"),
        "title": record.get("title"),
        "creation_date_iso": exact_year(record.get("creation_date_earliest"),
                                        record.get("creation_date_latest")),
        "creation_date_display": record.get("creation_date"),
        "maker": _makers(record.get("creators")),
        "object_type": record.get("type"),
        "medium": record.get("technique"),
        "dimensions": record.get("measurements"),
        "department": record.get("department"),
        "accession_number": record.get("accession_number"),
        "description": record.get("wall_description") or record.get("digital_description"),
        "credit_line": record.get("creditline"),
        "modified": _modified(record),
    }
    if rights:
        fields["rights_uri"] = rights
    media = _media(record, rights)
    if media:
        fields["media"] = media
    for name in EXTRAS:
        if record.get(name) not in (None, [], {}):
            fields[name] = record[name]
    return fields


def _makers(creators: t.Any) -> str | None:
    """``"Thomas Cole (American, 1801-1848)"``; several creators joined by ``"; "``."""
    if not isinstance(creators, list):
        return None
    names = [c["description"].strip() for c in creators if isinstance(c, dict)
             and isinstance(c.get("description"), str) and c["description"].strip()]
    return "; ".join(names) or None


def _modified(record: Mapping[str, t.Any]) -> t.Any:
    """``updated_at`` (as the API has sent it: ``"2019-11-18 09:03:30.462000"``, read as
    UTC), else ``last_updated_in_athena`` (the name in the museum's current data dumps)."""
    value = record.get("updated_at") or record.get("last_updated_in_athena")
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        return f"{value.strip()}T00:00:00Z"  # a date alone: its first second
    return value


def _media(record: Mapping[str, t.Any], rights: str | None) -> list[dict[str, t.Any]]:
    """The primary image (``images``) and the ``alternate_images``, one asset each."""
    sets = [(record.get("images"), None)]
    alternates = record.get("alternate_images")
    if isinstance(alternates, list):
        sets += [(alt, alt.get("annotation")) for alt in alternates if isinstance(alt, dict)]
    media: list[dict[str, t.Any]] = []
    for index, (renditions, caption) in enumerate(sets):
        item = _asset(renditions, f"{object_key(record, 'id')}-{index}", index == 0)
        if item is None:
            continue
        if caption:
            item["caption"] = caption
        if rights:
            item["rights_uri"] = rights
        media.append(item)
    return media


def _asset(renditions: t.Any, fallback_id: str, primary: bool) -> dict[str, t.Any] | None:
    """One image from its renditions: the best one as ``image_url``, the others as extras."""
    if not isinstance(renditions, dict):
        return None
    found = {name: renditions[name] for name in RENDITIONS
             if isinstance(renditions.get(name), dict) and renditions[name].get("url")}
    if not found:
        return None
    name = next(n for n in RENDITIONS if n in found)
    best = found[name]
    url = best["url"]
    stem = _STEM.search(url) if isinstance(url, str) else None
    suffix = url.rsplit(".", 1)[-1].lower() if isinstance(url, str) else ""
    item: dict[str, t.Any] = {
        "MediaID": stem.group(1) if stem else fallback_id, "image_url": url,
        "width": best.get("width"), "height": best.get("height"),
        "format": _FORMATS.get(suffix), "is_primary": primary, "rendition": name,
    }
    for other, value in found.items():
        if other != name:
            item[f"{other}_url"] = value["url"]
    return item
