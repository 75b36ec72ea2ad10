"""SMK, the National Gallery of Denmark (``source: smk``): offset pages of whole artworks.

``api_url`` is the search endpoint with the user's own query parameters, kept as they are
(``keys``, ``filters``, ``lang``, ``fields``...); the dialect adds its own::

    GET https://api.smk.dk/api/v1/art/search/?keys=*&filters=[has_image:true]
        &sort=object_number&sort_type=asc&offset=500&rows=500
        (&range=[modified:{2026-01-01T00:00:00Z;*}] for an incremental run)
    -> {"offset": 500, "rows": 500, "found": 80214,
        "items": [{"id": "1170000264_object", "object_number": "KKS1615",
                   "titles": [{"title": "Jomfru Maria med barnet ..."}], "rights": "...cc0/",
                   "modified": "2020-03-22T23:31:17Z", "iiif_manifest": "...", ...}, ...]}

Paging: ``offset``/``rows``; an empty ``items`` ends the list. Each item carries its own
cursor, the offset of the item after it (``item_cursors = True``), so a killed run resumes
exactly after the last record it handled. ``keys`` defaults to ``*``; ``rows`` is
``page_size`` (at most 2,000, the page size known to work); ``sort=object_number&sort_type=asc``
is added unless the URL names its own ``sort``: a stable order on a field that does not
change when a record is edited, so edits made during a harvest do not move records between
pages.

Stops (the stream stops with one line, its checkpoint kept): ``found`` shrinks during the
harvest (records were removed, so the ones after them moved to lower offsets, some of them
behind the checkpoint), the answer names another ``offset`` than the one asked for, or a page
comes back empty before ``offset`` reaches ``found`` (a cap on paging).

Increments: ``range=[modified:{<since>;*}]``, the form of SMK's own API documentation.
The API reports no deletions (docs/sources/smk.md).

Mapping (item field -> contract): ``id`` -> ``ObjectID`` (``object_number`` is not unique);
``titles[0].title`` -> ``title``; ``production_date[0].period`` -> ``creation_date_display``
and, when it is a real ISO year or date, ``creation_date_iso``; ``production[].creator`` ->
``maker``; ``object_names[0].name`` -> ``object_type``; ``techniques`` and ``materials`` ->
``medium``; ``dimensions`` -> ``dimensions`` (``"hojde 64 mm (bladmaal); ..."``);
``responsible_department`` -> ``department``; ``object_number`` -> ``accession_number``;
``content_description`` -> ``description``; ``credit_line`` -> ``credit_line``; ``rights``
-> ``rights_uri`` (through the rights table; an unknown value stays in ``smk_rights``);
``iiif_manifest`` -> ``iiif_manifest_url``; the image (``image_iiif_id``, ``image_native``,
``image_width``, ``image_height``, ``image_thumbnail``) and each of ``alternative_images`` ->
``media``; ``modified`` -> ``modified``. Spaces inside image URLs, which the API sends at
times, are sent on as ``%20``. Kept as extra fields: ``object_url``, ``frontend_url``,
``collection``, ``production_date``, ``production_dates_notes``, ``inscriptions``,
``distinguishing_features``, ``public_domain``, ``has_image``, ``on_display``,
``acquisition_date_precision``, ``created``.
"""

from __future__ import annotations

import typing as t

from tap_museumcms.dialects.base import Dialect, PageEnd, RawItem
from tap_museumcms.dialects.jsonpage import JsonPage, json_item, split_api_url, strings
from tap_museumcms.dialects.lido_in import iso_date
from tap_museumcms.errors import ConfigurationError
from tap_museumcms.rights import UnknownRights, lookup_rights
from tap_museumcms.transport import PageRequest

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping


#: The real endpoint (see docs/sources/smk.md).
SEARCH_URL = "https://api.smk.dk/api/v1/art/search/"
#: The largest page asked for.
MAX_ROWS = 2000
#: Query parameters the dialect owns: the user's values are dropped.
OWNED = frozenset({"offset", "rows"})
#: Extra fields kept as the API sends them.
KEPT = ("object_url", "frontend_url", "collection", "production_date", "production_dates_notes",
        "distinguishing_features", "public_domain", "has_image", "on_display",
        "acquisition_date_precision", "created")


class StatensMuseum(Dialect):
    """SMK art search pages, walked with ``offset``/``rows``; one cursor per artwork."""

    name = "smk"
    harvested = ("objects",)
    item_cursors = True
    #: No documented limit: one request a second (up to ``page_size`` records) by default.
    default_requests_per_second = 1.0

    def __init__(self, config: Mapping[str, t.Any]) -> None:
        super().__init__(config)
        self.base_url, self.user_params = split_api_url(str(config.get("api_url") or ""))
        self.rows = max(1, min(int(config.get("page_size") or 500), MAX_ROWS))
        #: The offset the last request asked for.
        self._offset = 0
        #: ``found`` of the first page read in this run.
        self._found: int | None = None

    def request(
        self, stream: str, cursor: str | None, since: str | None, window: Mapping[str, t.Any]
    ) -> PageRequest:
        """The user's query parameters, the defaults, the offset and the filter.

        Returns:
            e.g. ``PageRequest("https://api.smk.dk/api/v1/art/search/", (("keys", "*"),
            ("sort", "object_number"), ("sort_type", "asc"), ("offset", "500"),
            ("rows", "500"), ("range", "[modified:{2026-01-01T00:00:00Z;*}]")))``.
        """
        if cursor and not cursor.isdigit():
            raise ConfigurationError(
                f"the saved cursor {cursor!r} is not an SMK offset (state from another "
                "source?); clear the state of the objects stream")
        self._offset = int(cursor or 0)
        params = [(k, v) for k, v in self.user_params if k not in OWNED]
        named = {k for k, _ in params}
        if "keys" not in named:
            params.insert(0, ("keys", "*"))
        if "sort" not in named:
            params += [("sort", "object_number"), ("sort_type", "asc")]
        params += [("offset", str(self._offset)), ("rows", str(self.rows))]
        if since:
            params.append(("range", f"[modified:{{{since};*}}]"))
        return PageRequest(self.base_url, tuple(params), {"Accept": "application/json"})

    def following(
        self, stream: str, cursor: str | None, since: str | None, count: int
    ) -> list[str]:
        """The offsets of the next pages (within the list's last known size)."""
        start = int(cursor) if cursor and cursor.isdigit() else 0
        ahead = (start + self.rows * k for k in range(1, count + 1))
        return [str(offset) for offset in ahead if self._found is None or offset < self._found]

    def read(self, stream: str, chunks: Iterable[bytes], end: PageEnd) -> Iterator[RawItem]:
        """One item per element of ``items``, each with the offset that follows it."""
        page = JsonPage(("items",), max_item_bytes=self.max_item_bytes,
                        what="an SMK search page")
        count = 0
        for piece in page.pieces(chunks, end):
            count += 1
            yield json_item(piece, map_item, max_item_bytes=self.max_item_bytes,
                            cursor=str(self._offset + count))
        if page.envelope is not None:
            self._ended(page.envelope, count, page.found, end)

    def _ended(self, envelope: dict[str, t.Any], count: int, found_items: bool,
               end: PageEnd) -> None:
        """Check the page against the request and the list size (an empty page ends it)."""
        found, offset = envelope.get("found"), envelope.get("offset")
        if not found_items and not isinstance(found, int):
            end.stop = ("the answer is not an SMK search page (no items, no found); check "
                        "api_url")
        elif isinstance(offset, int) and offset != self._offset:
            end.stop = (f"asked for offset {self._offset}, the API answered offset {offset}: "
                        "it does not page as documented; stopping instead of reading the "
                        "wrong records")
        elif isinstance(found, int) and self._found is not None and found < self._found:
            end.stop = (
                f"the number of records found shrank from {self._found} to {found} during the "
                f"harvest: records were removed, so up to {self._found - found} of the records "
                "after them moved behind the checkpoint; clear the stream's state (or let "
                "full_harvest_every_days run a full harvest) to read the list again")
        elif count == 0 and isinstance(found, int) and self._offset < found:
            end.stop = (f"the API answered no records at offset {self._offset} although it "
                        f"reports {found}: it does not page that far; stopping instead of "
                        "calling the harvest complete")
        if isinstance(found, int):
            end.total = found
        if isinstance(found, int) and (self._found is None or found > self._found):
            self._found = found


def map_item(item: Mapping[str, t.Any]) -> dict[str, t.Any]:
    """An SMK artwork in the contract's input shape.

    Example::

        {"id": "1170000264_object", "object_number": "KKS1615",
         "titles": [{"title": "Jomfru Maria med barnet og Sankt Anne ved vuggen"}],
         "production": [{"creator": "Altdorfer, Albrecht"}],
         "production_date": [{"period": "1479-1537", "start": "1479-11-29T00:00:00.000Z"}],
         "rights": "https://creativecommons.org/share-your-work/public-domain/cc0/",
         "image_iiif_id": "https://iip.smk.dk/iiif/jp2/kks1615.tif.jp2", "image_width": 3076,
         "image_height": 5141, "modified": "2020-03-22T23:31:17Z", ...}
        -> {"ObjectID": "1170000264_object", "accession_number": "KKS1615",
            "title": "Jomfru Maria med barnet og Sankt Anne ved vuggen",
            "maker": "Altdorfer, Albrecht", "creation_date_display": "1479-1537",
            "rights_uri": "https://creativecommons.org/share-your-work/public-domain/cc0/",
            "media": [{"MediaID": "1170000264_object#image", "width": 3076, "height": 5141,
                       "iiif_image_service": "https://iip.smk.dk/iiif/jp2/kks1615.tif.jp2",
                       "is_primary": True, ...}], "modified": "2020-03-22T23:31:17Z", ...}
    """
    object_id = item.get("id")
    period = _first_of(item.get("production_date"), "period")
    rights_uri, smk_rights = _rights(item.get("rights"))
    fields: dict[str, t.Any] = {
        "ObjectID": object_id,
        "title": _first_of(item.get("titles"), "title"),
        "creation_date_display": period,
        "creation_date_iso": iso_date(period),
        "maker": _joined(_all_of(item.get("production"), "creator"), "; "),
        "object_type": _first_of(item.get("object_names"), "name"),
        "medium": _joined(strings(item.get("techniques")) + strings(item.get("materials")),
                          ", "),
        "dimensions": _dimensions(item.get("dimensions")),
        "department": _text(item.get("responsible_department")),
        "accession_number": _text(item.get("object_number")),
        "description": _joined(strings(item.get("content_description")), "\n"),
        "credit_line": _joined(strings(item.get("credit_line")), "; "),
        "rights_uri": rights_uri,
        "iiif_manifest_url": _url(item.get("iiif_manifest")),
        "media": _media(item, object_id, rights_uri),
        "modified": item.get("modified"),
        "smk_rights": smk_rights,
        "inscriptions": _all_of(item.get("inscriptions"), "content") or None,
    }
    fields.update({name: item[name] for name in KEPT if item.get(name) is not None})
    return {name: value for name, value in fields.items() if value is not None}


def _media(item: Mapping[str, t.Any], object_id: t.Any, rights_uri: str | None
           ) -> list[dict[str, t.Any]] | None:
    """The main image, then each alternative image, as assets."""
    if not isinstance(object_id, str):
        return None
    found = [
        {"MediaID": f"{object_id}#image", "iiif_image_service": _url(item.get("image_iiif_id")),
         "image_url": _url(item.get("image_native")), "width": item.get("image_width"),
         "height": item.get("image_height"), "thumbnail_url": _url(item.get("image_thumbnail")),
         "master_mime_type": _text(item.get("image_mime_type")), "is_primary": True},
    ]
    for number, image in enumerate(item.get("alternative_images") or (), start=1):
        if isinstance(image, dict):
            found.append({
                "MediaID": f"{object_id}#image-{number}", "iiif_image_service":
                _url(image.get("iiif_id")), "image_url": _url(image.get("native")),
                "width": image.get("width"), "height": image.get("height"),
                "thumbnail_url": _url(image.get("thumbnail")),
                "master_mime_type": _text(image.get("mime_type")), "is_primary": False,
            })
    assets = []
    for asset in found:
        if asset["iiif_image_service"] or asset["image_url"]:
            asset["rights_uri"] = rights_uri
            assets.append({name: value for name, value in asset.items() if value is not None})
    return assets or None


def _dimensions(value: t.Any) -> str | None:
    """``[{"type": "hojde", "value": "64", "unit": "mm", "part": "bladmaal"}, ...]`` as text."""
    parts = []
    for entry in value if isinstance(value, list) else ():
        if not isinstance(entry, dict) or entry.get("value") in (None, ""):
            continue
        text = " ".join(str(entry[k]) for k in ("type", "value", "unit") if entry.get(k))
        parts.append(f"{text} ({entry['part']})" if entry.get("part") else text)
    return "; ".join(parts) or None


def _rights(value: t.Any) -> tuple[str | None, t.Any]:
    """The rights value when the rights table knows it, else the value for ``smk_rights``."""
    if not isinstance(value, str) or not value.strip():
        return None, value or None
    try:
        lookup_rights(value)
    except UnknownRights:
        return None, value
    return value, None


def _url(value: t.Any) -> t.Any:
    """A URL as sent, with inner spaces escaped (``"a b.jpg"`` -> ``"a%20b.jpg"``)."""
    if not isinstance(value, str):
        return value
    return value.strip().replace(" ", "%20") or None


def _text(value: t.Any) -> t.Any:
    return (value.strip() or None) if isinstance(value, str) else value



def _all_of(value: t.Any, name: str) -> list[str]:
    """``name`` of every object in a list: ``[{"creator": "A"}, {"creator": "B"}]``."""
    entries = value if isinstance(value, list) else []
    return strings([entry.get(name) for entry in entries if isinstance(entry, dict)])


def _first_of(value: t.Any, name: str) -> str | None:
    found = _all_of(value, name)
    return found[0] if found else None


def _joined(values: list[str], separator: str) -> str | None:
    unique = list(dict.fromkeys(values))
    return separator.join(unique) or None
