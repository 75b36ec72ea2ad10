"""The Europeana Search API (``source: europeana``): cursor pages of whole records.

``api_url`` is the search endpoint with the user's own query parameters, which are kept as
they are (``query``, ``qf``, ``reusability``, ``theme``...); the dialect adds its own::

    GET https://api.europeana.eu/record/v2/search.json?query=DATA_PROVIDER:"Rijksmuseum"
        &rows=100&profile=rich&sort=europeana_id asc&cursor=*          (&wskey=... by the transport)
    -> {"success": true, "totalResults": 27, "itemsCount": 27, "nextCursor": "AoE/...",
        "items": [{"id": "/2022704/lod_..._26229_ent1", "title": ["Claustro del ..."],
                   "rights": ["http://creativecommons.org/publicdomain/zero/1.0/"],
                   "timestamp_update": "2018-01-16T10:52:45.548Z", ...}, ...]}

Paging (Europeana API change log 2.0.14): ``cursor=*`` starts, each answer's ``nextCursor``
is the next page's cursor, and an answer without ``nextCursor`` is the last one. Cursors are
opaque page cursors (``item_cursors = False``): a resumed page is passed over up to the last
record handled. Solr, which serves the API, ends a cursor walk by answering the cursor it was
sent with an empty page: that is read as the end too. ``query`` defaults to ``*``; ``rows``
is ``page_size`` capped at 100 (the API's maximum); ``profile=rich`` and ``sort=europeana_id
asc`` are added unless the URL names its own. Sorting on the record id, which never changes,
makes the cursor walk see every record that exists throughout the harvest exactly once, even
while records are added, updated or removed (Solr's cursor guarantee).

Increments: ``qf=timestamp_update:[<since> TO *]`` (inclusive), a filter query beside the
user's ``query``. The API reports no deletions (docs/sources/europeana.md).

The key goes in ``wskey`` (``key_param``), added by the transport and masked in every URL it
logs. The API also echoes the key back inside records (``link``, ``guid``) and pages
(``apikey``): the engine masks configured secrets in every item before anything sees it
(:class:`tap_museumcms.redact.EchoMask`), and ``link`` is not kept.

Mapping (item field -> contract): ``id`` -> ``ObjectID``; ``title`` (else
``dcTitleLangAware``) -> ``title``; ``year`` -> ``creation_date_display`` and, when it is a real
ISO year or date, ``creation_date_iso``; ``dcCreator`` -> ``maker`` (URIs resolved through the
parallel ``edmAgent``/``edmAgentLabel`` lists); ``dcTypeLangAware`` (else ``type``) ->
``object_type``; ``dcDescriptionLangAware`` (else ``dcDescription``) -> ``description``;
``rights`` -> ``rights_uri`` (the first value the rights table knows; otherwise every value
stays in ``rights``); ``edmIsShownBy`` -> the primary ``media`` item (``image_url``, and its
IIIF Image API service when the URL is a IIIF image request), with ``edmPreview`` as its
``thumbnail_url``; ``timestamp_update`` -> ``modified``; ``iiif_manifest_url`` is the record's
manifest at Europeana's IIIF Presentation API. Kept as extra fields: ``europeana_type``,
``data_provider``, ``provider``, ``country``, ``language``, ``dataset_name``,
``edm_is_shown_at``, ``europeana_url`` (``guid`` without its tracking parameters),
``timestamp_created``, ``completeness``, ``year`` (when several) and ``rights`` (when not
exactly one known value).
"""

from __future__ import annotations

import re
import typing as t
from urllib.parse import urlsplit, urlunsplit

from tap_museumcms.auth import api_keys
from tap_museumcms.dialects.base import Dialect, PageEnd, RawItem
from tap_museumcms.dialects.jsonpage import JsonPage, first, json_item, split_api_url, strings
from tap_museumcms.dialects.lido_in import iso_date
from tap_museumcms.errors import ConfigurationError
from tap_museumcms.rights import UnknownRights, lookup_rights
from tap_museumcms.transport import PageRequest

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping

    from tap_museumcms.transport import StreamStats, Transport

#: The real endpoint (see docs/sources/europeana.md).
SEARCH_URL = "https://api.europeana.eu/record/v2/search.json"
#: The API's largest page.
MAX_ROWS = 100
#: Europeana's IIIF Presentation API serves a manifest per record id.
MANIFEST_URL = "https://iiif.europeana.eu/presentation{id}/manifest"
#: Query parameters the dialect owns: the user's values are dropped.
OWNED = frozenset({"cursor", "start", "rows"})
#: Added when the user's URL does not name them.
DEFAULTS = (("profile", "rich"), ("sort", "europeana_id asc"))

# A IIIF Image API request: {service}/{region}/{size}/{rotation}/{quality}.{format}
_IIIF_IMAGE = re.compile(
    r"(https?://\S+?)/(?:full|square|\d+,\d+,\d+,\d+|pct:[\d.,]+)/(?:full|max|\^?!?\d*,\d*|"
    r"\^?pct:[\d.]+|\^?max)/!?\d+(?:\.\d+)?/(?:default|color|gray|bitonal|native)"
    r"\.(?:jpg|jpeg|png|gif|webp|tif|jp2)",
    re.IGNORECASE,
)
_TRACKING = re.compile(r"^utm_", re.IGNORECASE)
_LANGUAGES = ("en", "def")


class Europeana(Dialect):
    """Europeana Search API pages, walked with ``cursor``/``nextCursor``."""

    name = "europeana"
    harvested = ("objects",)
    item_cursors = False
    key_param = "wskey"
    #: Europeana's fair use policy asks for "a reasonable number" of calls with a wait
    #: between them, without a figure: one request a second (100 records) by default.
    default_requests_per_second = 1.0

    def __init__(self, config: Mapping[str, t.Any]) -> None:
        super().__init__(config)
        self.base_url, self.user_params = split_api_url(str(config.get("api_url") or ""))
        if config.get("api_key"):
            # The transport adds the key: a second wskey from the URL would be ambiguous.
            self.user_params = [(k, v) for k, v in self.user_params if k != "wskey"]
        self.rows = max(1, min(int(config.get("page_size") or MAX_ROWS), MAX_ROWS))
        self.has_key = bool(api_keys(config.get("api_key"))) or any(
            k == "wskey" and v for k, v in self.user_params)
        #: The cursor the last request was sent with ("*" for the first page).
        self._sent = "*"
        #: ``totalResults`` of the first page read in this run.
        self._total: int | None = None

    def prepare(self, transport: Transport, stats: StreamStats) -> None:
        """Refuse to start without a key: the API answers every request without one 401."""
        if not self.has_key:
            raise ConfigurationError(
                "Europeana needs an API key: set api_key (it is sent as the wskey parameter; "
                "get one at https://pro.europeana.eu/pages/get-api)")

    def request(
        self, stream: str, cursor: str | None, since: str | None, window: Mapping[str, t.Any]
    ) -> PageRequest:
        """The user's query parameters, the dialect's defaults, the filter and the cursor.

        Returns:
            e.g. ``PageRequest("https://api.europeana.eu/record/v2/search.json",
            (("query", "*"), ("rows", "100"), ("profile", "rich"),
            ("sort", "europeana_id asc"), ("qf", "timestamp_update:[2026-01-01T00:00:00Z TO *]"),
            ("cursor", "*")))``.
        """
        self._sent = cursor or "*"
        params = [(k, v) for k, v in self.user_params if k not in OWNED]
        named = {k for k, _ in params}
        if "query" not in named:
            params.insert(0, ("query", "*"))
        params.append(("rows", str(self.rows)))
        params += [(k, v) for k, v in DEFAULTS if k not in named]
        if since:
            params.append(("qf", f"timestamp_update:[{since} TO *]"))
        params.append(("cursor", self._sent))
        return PageRequest(self.base_url, tuple(params), {"Accept": "application/json"})

    def read(self, stream: str, chunks: Iterable[bytes], end: PageEnd) -> Iterator[RawItem]:
        """One item per element of ``items``; the envelope says how the page ended."""
        page = JsonPage(("items",), max_item_bytes=self.max_item_bytes,
                        what="a Europeana search page")
        count = 0
        for piece in page.pieces(chunks, end):
            count += 1
            yield json_item(piece, map_item, max_item_bytes=self.max_item_bytes)
        if page.envelope is not None:
            self._ended(page.envelope, count, page.found, end)

    def _ended(self, envelope: dict[str, t.Any], count: int, found: bool, end: PageEnd) -> None:
        """End of page: an error answer, a shrinking total, the next cursor or the end."""
        if envelope.get("success") is False:
            end.stop = (f"Europeana refused the search: {envelope.get('error') or 'no reason'}"
                        "; check the query in api_url")
            return
        total = envelope.get("totalResults")
        if not found and not isinstance(total, int):
            end.stop = ("the answer is not a Europeana search page (no items, no totalResults); "
                        "check api_url")
            return
        if isinstance(total, int):
            end.total = total
            if self._total is not None and total < self._total:
                # Not a stop: a cursor walk sorted on the record id is not shifted by removals.
                end.warnings.append(f"totalResults shrank from {self._total} to {total} during "
                                    "the harvest (records removed at Europeana)")
            self._total = total
        following = envelope.get("nextCursor")
        if not isinstance(following, str) or not following:
            end.complete = True  # no nextCursor: the last page
        elif following == self._sent and count == 0:
            end.complete = True  # Solr's own end of a cursor walk
        else:
            end.next_cursor = following


def map_item(item: Mapping[str, t.Any]) -> dict[str, t.Any]:
    """A search item in the contract's input shape.

    Example::

        {"id": "/9200579/zzwnbyhb", "title": ["Royal Naval Hospital, Greenwich ..."],
         "rights": ["http://creativecommons.org/licenses/by/4.0/"],
         "edmIsShownBy": ["https://iiif.wellcomecollection.org/image/V0013398.jpg/full/512,"
                          "/0/default.jpg"], "timestamp_update": "2019-06-09T11:48:32.594Z"}
        -> {"ObjectID": "/9200579/zzwnbyhb", "title": "Royal Naval Hospital, ...",
            "rights_uri": "http://creativecommons.org/licenses/by/4.0/",
            "media": [{"MediaID": "/9200579/zzwnbyhb#edmIsShownBy", "is_primary": True,
                       "image_url": "https://iiif.wellcomecollection.org/image/V0013398.jpg/...",
                       "iiif_image_service": "https://iiif.wellcomecollection.org/image/V0013398.jpg",
                       "rights_uri": "http://creativecommons.org/licenses/by/4.0/"}],
            "iiif_manifest_url": "https://iiif.europeana.eu/presentation/9200579/zzwnbyhb/manifest",
            "modified": "2019-06-09T11:48:32.594Z", "data_provider": "Wellcome Collection", ...}
    """
    object_id = item.get("id")
    rights_uri, rights = _rights(strings(item.get("rights")))
    years = strings(item.get("year"))
    fields: dict[str, t.Any] = {
        "ObjectID": object_id,
        "title": first(item.get("title")) or first(_lang(item.get("dcTitleLangAware"))),
        "creation_date_display": ", ".join(years) or None,
        "creation_date_iso": iso_date(years[0]) if len(years) == 1 else None,
        "maker": _makers(item),
        "object_type": first(_lang(item.get("dcTypeLangAware"))) or first(item.get("type")),
        "description": "\n".join(_lang(item.get("dcDescriptionLangAware"))
                                 or strings(item.get("dcDescription"))) or None,
        "rights_uri": rights_uri,
        "iiif_manifest_url": (MANIFEST_URL.format(id=object_id)
                              if isinstance(object_id, str) and object_id.startswith("/")
                              else None),
        "media": _media(item, object_id, rights_uri),
        "modified": item.get("timestamp_update"),
    }
    fields.update(_extras(item, years, rights))
    return {name: value for name, value in fields.items() if value is not None}


def _extras(item: Mapping[str, t.Any], years: list[str], rights: list[str] | None
            ) -> dict[str, t.Any]:
    """What is worth keeping besides the contract's fields (``extra_fields``)."""
    guid = first(item.get("guid"))
    return {
        "europeana_type": first(item.get("type")),
        "data_provider": first(item.get("dataProvider")),
        "provider": first(item.get("provider")),
        "country": first(item.get("country")),
        "language": strings(item.get("language")) or None,
        "dataset_name": first(item.get("edmDatasetName")),
        "edm_is_shown_at": first(item.get("edmIsShownAt")),
        "europeana_url": _untracked(guid) if guid else None,
        "timestamp_created": first(item.get("timestamp_created")),
        "completeness": item.get("europeanaCompleteness"),
        "year": years if len(years) > 1 else None,
        "rights": rights,
    }


def _media(item: Mapping[str, t.Any], object_id: t.Any, rights_uri: str | None
           ) -> list[dict[str, t.Any]] | None:
    """``edmIsShownBy`` as the one primary asset (the search API gives no other media)."""
    shown_by = first(item.get("edmIsShownBy"))
    if not shown_by or not isinstance(object_id, str):
        return None
    service = _IIIF_IMAGE.fullmatch(shown_by.strip())
    asset = {
        "MediaID": f"{object_id}#edmIsShownBy",
        "image_url": shown_by,
        "iiif_image_service": service.group(1) if service else None,
        "is_primary": True,
        "rights_uri": rights_uri,
        "thumbnail_url": first(item.get("edmPreview")),
    }
    return [{name: value for name, value in asset.items() if value is not None}]


def _makers(item: Mapping[str, t.Any]) -> str | None:
    """``dcCreator`` values; a URI is replaced by its agent's label when the API gives one."""
    agents = strings(item.get("edmAgent"))
    labels = item.get("edmAgentLabel")
    names: dict[str, str] = {}
    if isinstance(labels, list) and len(labels) == len(agents):
        for uri, label in zip(agents, labels, strict=True):
            text = first(_lang(label)) if isinstance(label, dict) else first(label)
            if text:
                names[uri] = text
    makers: list[str] = []
    for value in strings(item.get("dcCreator")):
        name = names.get(value) or (None if value.startswith(("http://", "https://")) else value)
        if name and name not in makers:
            makers.append(name)
    return "; ".join(makers) or None


def _rights(values: list[str]) -> tuple[str | None, list[str] | None]:
    """The first value the rights table knows, and every value when that is not the only one."""
    known = None
    for value in values:
        try:
            lookup_rights(value)
        except UnknownRights:
            continue
        known = value
        break
    return known, (values if values and (known is None or len(values) > 1) else None)


def _lang(value: t.Any) -> list[str]:
    """A language map's values: English, else the undetermined ``def``, else the first."""
    if not isinstance(value, dict) or not value:
        return []
    for language in _LANGUAGES:
        if strings(value.get(language)):
            return strings(value[language])
    return strings(next(iter(value.values())))




def _untracked(url: str) -> str:
    """``guid`` without its ``utm_*`` parameters (one of them carries the API key)."""
    parts = urlsplit(url)
    query = "&".join(p for p in parts.query.split("&") if p and not _TRACKING.match(p))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
