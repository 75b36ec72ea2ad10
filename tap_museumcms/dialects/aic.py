"""Art Institute of Chicago public API (``source: aic``), ``api_url`` ``https://api.artic.edu/api/v1``.

A **full harvest** reads the listing endpoint page by page (the database's order, newest
``updated_at`` first); the page number is the cursor::

    GET {api_url}/artworks?page=2&limit=100&fields=id,title,...
    -> {"pagination": {"total": 131066, "limit": 100, "offset": 100, "current_page": 2,
                       "next_url": "https://api.artic.edu/api/v1/artworks?page=3&limit=100&..."},
        "data": [{"id": 27992, "title": "A Sunday on La Grande Jatte — 1884", ...}, ...],
        "info": {"license_text": "The `description` field ... CC-By ...", ...},
        "config": {"iiif_url": "https://www.artic.edu/iiif/2", ...}}

An absent ``next_url`` ends the list. An **incremental harvest** (``since`` set) asks the
search endpoint for ``updated_at >= since``, sorted by ``updated_at`` then ``id`` ascending,
and pages by moving that lower bound past the last record of each page (keyset paging), so
it always asks for the first page of a query and never meets the search endpoint's cap on
``page * limit``; the cursor is ``"<updated_at>|<id>"`` of the last record read::

    GET {api_url}/artworks/search?params={"query": {"bool": {"filter": [{"range":
        {"updated_at": {"gte": "2026-11-20T10:00:00Z"}}}, ...]}}, "sort": [{"updated_at":
        "asc"}, {"id": "asc"}], "limit": 100, "fields": [...]}

A page shorter than ``limit`` ends it. Every record goes through :func:`map_artwork`; the IIIF
Image API base is the API's own ``config.iiif_url`` (read once per run by :meth:`prepare`).
"""

from __future__ import annotations

import json
import typing as t
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

from tap_museumcms import __version__
from tap_museumcms.dialects.base import Dialect, PageEnd, RawItem
from tap_museumcms.dialects.jsonpage import JsonPage, exact_year, json_item, object_key
from tap_museumcms.errors import ConfigurationError
from tap_museumcms.rights import CC0
from tap_museumcms.transport import LOGGER, PageRequest, default_user_agent, read_bounded

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping

    from tap_museumcms.transport import StreamStats, Transport

CC_BY_4 = "http://creativecommons.org/licenses/by/4.0/"
#: The documented IIIF Image API 2.0 base, used until the API's ``config.iiif_url`` is read.
DEFAULT_IIIF_URL = "https://www.artic.edu/iiif/2"
#: The API refuses ``limit`` above 100.
MAX_LIMIT = 100
#: The fields asked for (the API asks clients to name them; it answers faster).
FIELDS = (
    "id", "title", "api_link", "date_display", "date_start", "date_end", "date_qualifier_title",
    "artist_display", "artist_title", "place_of_origin", "artwork_type_title", "medium_display",
    "dimensions", "department_title", "main_reference_number", "description", "credit_line",
    "is_public_domain", "copyright_notice", "image_id", "alt_image_ids", "thumbnail",
    "updated_at",
)
#: Kept as they are, in ``extra_fields``.
EXTRAS = ("api_link", "artist_display", "date_start", "date_end", "date_qualifier_title",
          "place_of_origin", "is_public_domain", "copyright_notice")


class ArtInstituteChicago(Dialect):
    """Listing pages for a full harvest, keyset-paged search for an incremental one."""

    name = "aic"
    harvested = ("objects",)
    item_cursors = False
    pass_errors = True  # the search cap and the limit cap come as 403 with a JSON reason
    default_requests_per_second = 1.0  # 60 requests a minute for anonymous clients

    def __init__(self, config: Mapping[str, t.Any]) -> None:
        super().__init__(config)
        base = self.api_url
        self.base = base[: -len("/artworks")] if base.endswith("/artworks") else base
        self.limit = max(1, min(int(config.get("page_size") or MAX_LIMIT), MAX_LIMIT))
        self.iiif_url = DEFAULT_IIIF_URL
        self.user_agent = str(config.get("user_agent") or default_user_agent(__version__))
        #: What the last request asked for: ("listing", page) or ("search", keyset or None).
        self._sent: tuple[str, t.Any] = ("listing", 1)
        self._total: int | None = None  # the listing's total on the last page read

    def prepare(self, transport: Transport, stats: StreamStats) -> None:
        """Read the API's ``config.iiif_url`` with one small listing request."""
        request = PageRequest(f"{self.base}/artworks", (("limit", "1"), ("fields", "id")),
                              self._headers())
        body = read_bounded(transport.get(request, stats=stats), 1024 * 1024)
        try:
            page = json.loads(body)
        except ValueError:  # a body cut short, most likely: the first page will tell
            LOGGER.warning("aic: could not read config.iiif_url; using %s", self.iiif_url)
            return
        if not isinstance(page, dict) or not isinstance(page.get("pagination"), dict):
            raise ConfigurationError(
                f"api_url {self.base!r} does not answer as the Art Institute of Chicago API "
                "(GET {api_url}/artworks gave no pagination block); use "
                "https://api.artic.edu/api/v1")
        self._note_config(page)

    def _headers(self) -> dict[str, str]:
        # The API asks clients to name themselves in AIC-User-Agent (browsers cannot set
        # User-Agent); the tap's own User-Agent value is used.
        return {"Accept": "application/json", "AIC-User-Agent": self.user_agent}

    def _note_config(self, page: Mapping[str, t.Any]) -> None:
        config = page.get("config")
        url = config.get("iiif_url") if isinstance(config, dict) else None
        if isinstance(url, str) and url.startswith(("http://", "https://")):
            self.iiif_url = url.rstrip("/")
        elif url is not None:
            LOGGER.warning("aic: config.iiif_url %r is not an absolute URL; using %s",
                           url, self.iiif_url)

    def request(
        self, stream: str, cursor: str | None, since: str | None, window: Mapping[str, t.Any]
    ) -> PageRequest:
        if since is None:
            page = cursor_page(cursor)
            self._sent = ("listing", page)
            params = (("page", str(page)), ("limit", str(self.limit)),
                      ("fields", ",".join(FIELDS)))
            return PageRequest(f"{self.base}/artworks", params, self._headers())
        self._sent = ("search", cursor)
        query = search_query(since, parse_keyset(cursor) if cursor else None, self.limit)
        return PageRequest(f"{self.base}/artworks/search",
                           (("params", json.dumps(query, separators=(",", ":"))),),
                           self._headers())

    def following(
        self, stream: str, cursor: str | None, since: str | None, count: int
    ) -> list[str]:
        """A full harvest's next listing pages (an incremental one pages by keyset: none)."""
        if since is not None or (cursor and not cursor.isdigit()):
            return []
        page = int(cursor or 1)
        last = -(-self._total // self.limit) if self._total is not None else None
        return [str(page + k) for k in range(1, count + 1) if last is None or page + k <= last]

    def read(self, stream: str, chunks: Iterable[bytes], end: PageEnd) -> Iterator[RawItem]:
        """One item per element of ``data``; the envelope (or the page's length) ends it."""
        page = JsonPage(("data",), max_item_bytes=self.max_item_bytes,
                        what="a JSON page of this API", required=True)
        count = 0
        keyset: str | None = None  # of the last readable record (the search's next cursor)
        for piece in page.pieces(chunks, end):
            count += 1
            item = json_item(piece, self.map, max_item_bytes=self.max_item_bytes)
            keyset = record_keyset(item.fields) or keyset
            yield item
        if page.envelope is None:
            return
        self._note_config(page.envelope)
        if self._sent[0] == "listing":
            self._listing_ended(page.envelope, end)
        elif count < self.limit:
            end.complete = True
        elif keyset is None:
            end.stop = ("aic: a full search page held no readable record to continue after; "
                        "stopping instead of guessing (run a full harvest to get past it)")
        else:
            end.next_cursor = keyset

    def map(self, record: dict[str, t.Any]) -> dict[str, t.Any]:
        """:func:`map_artwork` with this run's IIIF base."""
        return map_artwork(record, iiif_url=self.iiif_url, api_base=self.base)

    def _listing_ended(self, envelope: Mapping[str, t.Any], end: PageEnd) -> None:
        """Judge a listing page: its pagination block, the next page, a shrinking total."""
        page = int(self._sent[1])
        info = envelope.get("pagination")
        if not isinstance(info, dict):
            end.broken = "the page has no pagination block"
            return
        total, previous = info.get("total"), self._total
        if isinstance(total, int) and not isinstance(total, bool):
            self._total = end.total = total
            if previous is not None and total < previous:
                end.stop = (f"aic: the listing shrank from {previous} to {total} artworks during "
                            f"the harvest (at page {page}): artworks withdrawn meanwhile shift the "
                            "pages, so some could be passed over; run again (the harvest resumes "
                            "here) and let a full harvest (full_harvest_every_days) catch up")
                return
        current = info.get("current_page")
        if isinstance(current, int) and current != page:
            end.stop = f"aic: asked for page {page}, the API answered page {current}"
            return
        next_url = info.get("next_url")
        if not next_url:
            end.complete = True  # the last page has no next_url
            return
        following = _page_of(next_url)
        if following is None or following <= page:
            end.stop = (f"aic: the next_url of page {page} does not advance ({next_url!r}); "
                        "stopping instead of looping")
            return
        end.next_cursor = str(following)

    def explain(self, status: int, body: bytes) -> PageEnd | None:
        """The API's own refusals (HTTP 403 with ``{"error": ..., "detail": ...}``)."""
        try:
            answer = json.loads(body)
        except ValueError:
            return None
        error = answer.get("error") if isinstance(answer, dict) else None
        if error == "Invalid number of results":
            return PageEnd(stop=(
                "aic: the search endpoint refused to page further (HTTP 403 'Invalid number of "
                "results': it serves at most 10,000 results per query); narrow the window with "
                "a later start_date, or run a full harvest, which reads the listing endpoint "
                "(meltano run --full-refresh, or full_harvest_every_days)"))
        if error == "Invalid limit":
            raise ConfigurationError("aic: the API refused the page size (HTTP 403 'Invalid "
                                     "limit'); set page_size to 100 or less")
        return None





def record_keyset(fields: Mapping[str, t.Any] | None) -> str | None:
    """``"<updated_at>|<id>"``: where a keyset-paged search resumes after this (mapped) record."""
    if fields is None:
        return None
    updated, ident = fields.get("modified"), fields.get("ObjectID")
    if isinstance(ident, bool) or not isinstance(ident, int) or not isinstance(updated, str):
        return None
    try:  # the search must be able to compare it: a real ISO 8601 date and time
        datetime.fromisoformat(updated.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return f"{updated.strip()}|{ident}"


def parse_keyset(cursor: str) -> tuple[str, int]:
    """``"2024-12-13T01:23:50-06:00|23"`` -> ``("2024-12-13T01:23:50-06:00", 23)``."""
    updated, _, ident = cursor.rpartition("|")
    if not updated or not ident.isdigit():
        raise _bad_cursor(cursor)
    return updated, int(ident)


def cursor_page(cursor: str | None) -> int:
    """The page number a listing cursor stands for (None: the first page)."""
    if not cursor:
        return 1
    if not cursor.isdigit() or int(cursor) < 1:
        raise _bad_cursor(cursor)
    return int(cursor)


def _bad_cursor(cursor: str) -> ConfigurationError:
    return ConfigurationError(f"aic: the saved cursor {cursor!r} is not one this source "
                              "writes; clear the stream's state (meltano state clear)")


def search_query(since: str, after: tuple[str, int] | None, limit: int) -> dict[str, t.Any]:
    """The search request: ``updated_at >= since``, after the keyset, oldest first.

    Example:
        >>> search_query("2026-01-01T00:00:00Z", None, 100)["sort"]
        [{'updated_at': 'asc'}, {'id': 'asc'}]
    """
    filters: list[dict[str, t.Any]] = [{"range": {"updated_at": {"gte": since}}}]
    if after is not None:
        updated, ident = after
        filters.append({"bool": {"minimum_should_match": 1, "should": [
            {"range": {"updated_at": {"gt": updated}}},
            {"bool": {"filter": [{"term": {"updated_at": updated}},
                                 {"range": {"id": {"gt": ident}}}]}},
        ]}})
    return {"query": {"bool": {"filter": filters}},
            "sort": [{"updated_at": "asc"}, {"id": "asc"}],
            "limit": limit, "fields": list(FIELDS)}


def _page_of(url: t.Any) -> int | None:
    if not isinstance(url, str):
        return None
    values = parse_qs(urlsplit(url).query).get("page")
    try:
        return int(values[0]) if values else None
    except ValueError:
        return None


def map_artwork(record: Mapping[str, t.Any], *, iiif_url: str, api_base: str) -> dict[str, t.Any]:
    """An AIC artwork in the contract's input shape.

    Example (abridged)::

        {"id": 11, "title": "Self-Portrait", "date_start": 1878, "date_end": 1878,
         "date_display": "1878", "artist_title": "Walter Shirlaw", "is_public_domain": true,
         "image_id": "7b7a6f39-...", "thumbnail": {"width": 6125, "height": 8002, ...},
         "updated_at": "2024-12-12T18:41:56-06:00", ...}
        -> {"ObjectID": 11, "title": "Self-Portrait", "creation_date_iso": "1878",
            "maker": "Walter Shirlaw", "rights_uri": CC0, "iiif_manifest_url":
            "https://api.artic.edu/api/v1/artworks/11/manifest.json", "media": [{"MediaID":
            "7b7a6f39-...", "iiif_image_service": "https://www.artic.edu/iiif/2/7b7a6f39-...",
            "width": 6125, "height": 8002, "is_primary": true, ...}], "modified":
            "2024-12-12T18:41:56-06:00", "is_public_domain": true, ...}
    """
    public = record.get("is_public_domain") is True
    fields: dict[str, t.Any] = {
        "ObjectID": record.get("id"),
        "title": record.get("title"),
        "creation_date_iso": exact_year(record.get("date_start"), record.get("date_end")),
        "creation_date_display": record.get("date_display"),
        "maker": _maker(record),
        "object_type": record.get("artwork_type_title"),
        "medium": record.get("medium_display"),
        "dimensions": record.get("dimensions"),
        "department": record.get("department_title"),
        "accession_number": record.get("main_reference_number"),
        "description": record.get("description"),
        "credit_line": record.get("credit_line"),
        "modified": record.get("updated_at"),
    }
    if public:
        fields["rights_uri"] = CC0  # public-domain works: data and images CC0
    media = _media(record, iiif_url, public)
    if media:
        fields["media"] = media
        fields["iiif_manifest_url"] = f"{api_base}/artworks/{object_key(fields)}/manifest.json"
    for name in EXTRAS:
        if record.get(name) is not None:
            fields[name] = record[name]
    if isinstance(record.get("description"), str) and record["description"].strip():
        # The description alone is CC BY 4.0 (the API's info.license_text); the rest is CC0.
        fields["description_license"] = "CC BY 4.0"
        fields["description_license_uri"] = CC_BY_4
    return fields



def _maker(record: Mapping[str, t.Any]) -> t.Any:
    title = record.get("artist_title")
    if isinstance(title, str) and title.strip():
        return title
    display = record.get("artist_display")
    if isinstance(display, str) and display.strip():
        return display.strip().splitlines()[0]
    return None


def _media(record: Mapping[str, t.Any], iiif_url: str, public: bool) -> list[dict[str, t.Any]]:
    """The primary image (``image_id``, sized by ``thumbnail``) and the alternates."""
    primary = record.get("image_id")
    alternates = record.get("alt_image_ids")
    ids = [primary] + (alternates if isinstance(alternates, list) else [])
    thumbnail = record.get("thumbnail") if isinstance(record.get("thumbnail"), dict) else {}
    media: list[dict[str, t.Any]] = []
    for index, image_id in enumerate(ids):
        if not isinstance(image_id, str) or not image_id.strip():
            continue
        if any(item["MediaID"] == image_id for item in media):
            continue
        service = f"{iiif_url}/{image_id.strip()}"
        item: dict[str, t.Any] = {
            "MediaID": image_id, "iiif_image_service": service, "format": "image/jpeg",
            # 843 px wide is the size the API documentation recommends for every image.
            "image_url": f"{service}/full/843,/0/default.jpg", "is_primary": index == 0,
        }
        if index == 0:
            item.update(width=thumbnail.get("width"), height=thumbnail.get("height"),
                        caption=thumbnail.get("alt_text"))
        if public:
            item["rights_uri"] = CC0
        media.append(item)
    return media
