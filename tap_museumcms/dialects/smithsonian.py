"""Smithsonian Open Access (``source: smithsonian``): offset pages of EDAN records, newest first.

::

    GET {api_url}/search?q=*&start=0&rows=500&sort=updated&api_key=***
    -> {"status": 200, "responseCode": 1,
        "response": {"rows": [{"id": "edanmdm-nasm_A19710896000", "title": "Wright XR-2120 ...",
                               "unitCode": "NASM", "content": {"descriptiveNonRepeating": {...},
                               "freetext": {...}, "indexedStructured": {...}},
                               "lastTimeUpdated": 1590307907, ...}, ...],
                     "rowCount": 4711, "message": "content found"}}

``start``/``rows`` paging (rows at most 1,000): every record carries the offset of the next one
as its cursor, so a killed page resumes exactly after the last record handled; an empty
``rows`` ends the list. The search is sorted by ``lastTimeUpdated`` descending (``sort=updated``,
the only order the API documents besides relevancy, id, newest and random): what changes during
a harvest moves to the front, behind the offset, so the offsets of what is still to come only
move forward (a record sent twice, skipped as a duplicate) unless records are withdrawn. The
API has no filter on ``lastTimeUpdated``, so an incremental run reads the newest pages and
stops at the first record older than the bookmark. The cursor also carries the ``rowCount`` it
was counted against (``"1500/4711"``): a result set that shrank (records withdrawn, offsets moved
back) sets the checkpoint back by as many records before the page and stops the stream, so the
next run loses nothing (what it reads a second time merges on its key). The api.data.gov key
goes in the ``api_key`` query parameter (masked in every log and URL); the budget is 1,000
requests an hour.
"""

from __future__ import annotations

import json
import re
import typing as t
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from tap_museumcms.dialects.base import Dialect, PageEnd, RawItem
from tap_museumcms.dialects.jsonpage import JsonPage, json_item
from tap_museumcms.dialects.met import iso_epoch, split_api_url
from tap_museumcms.errors import ConfigurationError
from tap_museumcms.rights import CC0
from tap_museumcms.transport import PageRequest

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping

    from tap_museumcms.transport import StreamStats, Transport
    from tap_museumcms.xmlsplit import Piece

IDS_IIIF = "https://ids.si.edu/ids/iiif/"
MAX_ROWS = 1000
_SIZE = re.compile(r"\((\d+)\s*x\s*(\d+)\)")
_ISO_DATE = re.compile(r"\d{4}(?:-\d{2}(?:-\d{2})?)?")
#: ``freetext.name`` labels that name someone who did not make the object.
_NOT_MAKERS = {"used by", "owner", "previous owner", "subject", "sitter", "depicted",
               "associated person", "collector", "donor", "recipient", "owned by"}


@dataclass
class _Page:
    """The page being read: where it starts, what it is compared with, what it held."""

    start: int
    reference: int | None  # the rowCount the requested cursor was counted against
    since: float | None
    rows: int = 0
    first: str | None = None
    last: str | None = None
    older: bool = False  # met a record older than the bookmark: the harvest ends here


class Smithsonian(Dialect):
    """EDAN search rows with item cursors (offsets); the newest first."""

    name = "smithsonian"
    harvested = ("objects",)
    item_cursors = True
    key_param = "api_key"
    #: 900 requests an hour, under api.data.gov's 1,000 (which sends no reset time to wait for).
    default_requests_per_second = 0.25

    def __init__(self, config: Mapping[str, t.Any]) -> None:
        super().__init__(config)
        base, extra = split_api_url(str(config.get("api_url") or ""))
        self.search_url = base if base.endswith("/search") else f"{base}/search"
        self.query = dict(extra)  # q, type, row_group: passed on as given
        self.query.setdefault("q", "*")
        self.rows = max(1, min(int(config.get("page_size", 500)), MAX_ROWS))
        self._page = _Page(0, None, None)
        self._previous: tuple[int, str | None, str | None, int] | None = None

    def prepare(self, transport: Transport, stats: StreamStats) -> None:
        """The API refuses every request without a key: say so before the first one."""
        if not self.config.get("api_key"):
            raise ConfigurationError(
                "source smithsonian needs an api.data.gov key in api_key (free at "
                "https://api.data.gov/signup/; DEMO_KEY works for a trial, 30 requests an hour)")

    def request(
        self, stream: str, cursor: str | None, since: str | None, window: Mapping[str, t.Any]
    ) -> PageRequest:
        start, reference = parse_cursor(cursor)
        self._page = _Page(start, reference, iso_epoch(since))
        params = [*self.query.items(), ("start", str(start)), ("rows", str(self.rows)),
                  ("sort", "updated")]
        return PageRequest(self.search_url, tuple(params), {"Accept": "application/json"})

    def following(
        self, stream: str, cursor: str | None, since: str | None, count: int
    ) -> list[str]:
        """A full harvest's next offsets (an incremental one stops early: none)."""
        if since is not None:
            return []
        start, reference = parse_cursor(cursor)
        ahead = (start + self.rows * k for k in range(1, count + 1))
        return [f"{offset}/{reference}" if reference is not None else str(offset)
                for offset in ahead if reference is None or offset < reference]

    def read(self, stream: str, chunks: Iterable[bytes], end: PageEnd) -> Iterator[RawItem]:
        """One item per row; the last one waits for ``rowCount`` (it comes after the rows)."""
        page = self._page
        body = JsonPage(("response", "rows"), max_item_bytes=self.max_item_bytes,
                        what="the search answer this API sends")
        held: Piece | None = None
        for piece in body.pieces(chunks, end):
            if held is not None:
                yield from self._item(held, self._cursor(page.rows, None))
            held, page.rows = piece, page.rows + 1
        total = self._ended(body, end)
        if held is None:
            return
        if not held.complete or end.broken:  # the engine asks for the page again
            yield from self._item(held, self._cursor(page.rows, None))
            return
        item = self._build(held)
        if item is not None:
            item.cursor = self._last_cursor(total, end)
            yield item

    def _cursor(self, index: int, total: int | None) -> str:
        """The cursor of row ``index`` (1-based) of the page: the offset of the next row."""
        page = self._page
        counted = total if total is not None else page.reference
        offset = page.start + index
        return f"{offset}/{counted}" if counted is not None else str(offset)

    def _item(self, piece: Piece, cursor: str) -> Iterator[RawItem]:
        item = self._build(piece)
        if item is not None:
            item.cursor = cursor
            yield item

    def _build(self, piece: Piece) -> RawItem | None:
        """The row as a raw item; None once the harvest met the bookmark (older rows are done)."""
        page = self._page
        if page.older:
            return None
        item = json_item(piece, map_row, max_item_bytes=self.max_item_bytes)
        modified = iso_epoch(item.fields.get("modified")) if item.fields else None
        if page.since is not None and modified is not None and int(modified) < page.since:
            page.older = True  # sorted newest first: everything after it is older too
            return None
        page.first = page.first or item.key
        page.last = item.key
        return item

    def _ended(self, body: JsonPage, end: PageEnd) -> int | None:
        """Read the envelope; return ``rowCount`` (None when the body did not end well)."""
        envelope = body.envelope
        if envelope is None:
            return None  # end.broken says why
        response = envelope.get("response")
        if not body.found or not isinstance(response, dict):
            shown = json.dumps(envelope)[:200]
            end.broken = f"the answer holds no response.rows (not a search answer): {shown}"
            return None
        total = response.get("rowCount")
        end.total = int(total) if isinstance(total, int | str) and str(total).isdigit() else None
        return end.total

    def _last_cursor(self, total: int | None, end: PageEnd) -> str:
        """The last row's cursor, after the stop conditions of the page are judged."""
        page = self._page
        key = (page.start, page.first, page.last, page.rows)
        previous, self._previous = self._previous, key
        if page.older or total is None or end.broken:
            return self._cursor(page.rows, total)
        if page.start >= total:
            end.stop = (f"the API answered {page.rows} rows for start={page.start}, beyond its "
                        f"rowCount {total}: it does not page that deep")
        elif previous is not None and previous[0] != page.start and previous[1:] == key[1:]:
            end.stop = (f"the API answered the same {page.rows} rows for start={page.start} as "
                        f"for start={previous[0]}: it does not page that deep")
        elif page.reference is not None and total < page.reference:
            # Records read before were withdrawn: what followed them moved back by up to
            # ``back`` places, some of it to before this page's start. Ask from there again.
            back = page.reference - total
            end.stop = (f"the result set shrank from {page.reference} to {total} records while "
                        f"the harvest ran (records withdrawn): offsets moved back by up to "
                        f"{back}, so the checkpoint goes back to {max(page.start - back, 0)}; "
                        "run again to go on from there")
            return f"{max(page.start - back, 0)}/{total}"
        return self._cursor(page.rows, total)


def parse_cursor(cursor: str | None) -> tuple[int, int | None]:
    """``"1500/4711"`` -> ``(1500, 4711)``; ``"1500"`` -> ``(1500, None)``; None: ``(0, None)``."""
    if not cursor:
        return 0, None
    offset, _, total = cursor.partition("/")
    return int(offset), int(total) if total else None



def map_row(row: Mapping[str, t.Any]) -> dict[str, t.Any]:
    """An EDAN row in the contract's shape; what has no name in the contract is kept.

    Example::

        {"id": "edanmdm-chndm_1931-66-88", "title": "Cathedral of Notre Dame in Paris",
         "unitCode": "CHNDM", "lastTimeUpdated": 1586592703, "content": {
           "descriptiveNonRepeating": {"data_source": "Cooper Hewitt, ...",
             "metadata_usage": {"access": "CC0"}, "online_media": {"media": [...]}},
           "freetext": {"date": [{"label": "Date", "content": "1825–1840"}],
                        "name": [{"label": "Artist", "content": "Charles Nicolas Ransonnette"}]}}}
        -> {"ObjectID": "edanmdm-chndm_1931-66-88", "title": "Cathedral of Notre Dame in Paris",
            "modified": "2020-04-11T08:11:43Z", "creation_date_display": "1825–1840",
            "maker": "Charles Nicolas Ransonnette", "department": "Cooper Hewitt, ...",
            "rights_uri": "http://creativecommons.org/publicdomain/zero/1.0/",
            "media": [...], "unitCode": "CHNDM", "freetext": {...}, ...}
    """
    content = _dict(row.get("content"))
    dnr = _dict(content.get("descriptiveNonRepeating"))
    free = _dict(content.get("freetext"))
    title = row.get("title") or _dict(dnr.get("title")).get("content")
    fields: dict[str, t.Any] = {"ObjectID": row.get("id"), "title": title,
                                "modified": modified_iso(row.get("lastTimeUpdated"))}
    dates = [text for _, text in _entries(free, "date")]
    if dates:
        fields["creation_date_display"] = "; ".join(dates)
        if _ISO_DATE.fullmatch(dates[0].strip()):
            fields["creation_date_iso"] = dates[0].strip()
    makers = [text for label, text in _entries(free, "name") if label.lower() not in _NOT_MAKERS]
    physical = _entries(free, "physicalDescription")
    fields.update({
        "maker": "; ".join(makers) or None,
        "object_type": _first(free, "objectType"),
        "medium": "; ".join(c for label, c in physical if label in ("Medium", "Materials")),
        "dimensions": "; ".join(c for label, c in physical if label.startswith("Dimension")),
        "department": dnr.get("data_source"),
        "accession_number": _first(free, "identifier"),
        "description": "\n\n".join(c for label, c in _entries(free, "notes")
                                   if label in ("Description", "Summary")),
        "credit_line": _first(free, "creditLine"),
    })
    usage = _dict(dnr.get("metadata_usage")).get("access")
    if usage == "CC0":
        fields["rights_uri"] = CC0
    fields["media"] = [media_item(m, i) for i, m in
                       enumerate(_list(_dict(dnr.get("online_media")).get("media")))] or None
    fields = {name: value for name, value in fields.items() if value not in (None, "")}
    fields.update(_extras(row, dnr, content, usage))
    return fields


def _extras(
    row: Mapping[str, t.Any], dnr: Mapping[str, t.Any], content: Mapping[str, t.Any],
    usage: t.Any,
) -> dict[str, t.Any]:
    """What the contract has no name for, kept under the API's own names."""
    extras = {
        "unitCode": row.get("unitCode"), "record_ID": dnr.get("record_ID"),
        "record_link": dnr.get("record_link"), "guid": dnr.get("guid"),
        "edan_url": row.get("url"), "type": row.get("type"), "timestamp": row.get("timestamp"),
        "freetext": content.get("freetext"), "indexedStructured": content.get("indexedStructured"),
    }
    if usage != "CC0":
        extras["metadata_usage"] = dnr.get("metadata_usage")  # "Usage conditions apply", ...
    return {name: value for name, value in extras.items() if value not in (None, "", {})}


def media_item(media: t.Any, index: int) -> dict[str, t.Any]:
    """One ``online_media.media[]`` entry as an asset.

    ``idsId`` is the asset's key; an image on ids.si.edu has the IIIF Image service
    ``https://ids.si.edu/ids/iiif/<idsId>``; its pixel size is read from the label of its
    "High-resolution JPEG (6600x6600)" download, the only place a record gives it.
    """
    media = _dict(media)
    ids_id = media.get("idsId")
    item: dict[str, t.Any] = {"MediaID": ids_id or media.get("guid") or media.get("content"),
                              "is_primary": index == 0}
    image_url = media.get("content")
    for resource in _list(media.get("resources")):
        label = str(_dict(resource).get("label") or "")
        if label.startswith("High-resolution JPEG"):
            image_url = _dict(resource).get("url") or image_url
            size = _SIZE.search(label)
            if size:
                item["width"], item["height"] = int(size.group(1)), int(size.group(2))
    item["image_url"] = image_url
    host = urlsplit(media["content"]).hostname if isinstance(media.get("content"), str) else None
    if ids_id and host == "ids.si.edu":
        item["iiif_image_service"] = IDS_IIIF + str(ids_id)
    if media.get("type") == "Images":
        item["format"] = "image/jpeg"
    if media.get("caption"):
        item["caption"] = media["caption"]
    usage = _dict(media.get("usage")).get("access")
    if usage == "CC0":
        item["rights_uri"] = CC0
    elif usage:
        item["usage"] = media.get("usage")
    for name in ("type", "thumbnail", "guid"):
        if media.get(name):
            item[name] = media[name]
    return item


def modified_iso(value: t.Any) -> t.Any:
    """``lastTimeUpdated`` (epoch seconds, a number or a string of digits) as ISO 8601.

    Anything else is passed on as it came, for the contract to reject with its reason.
    """
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 32503680000:
        return datetime.fromtimestamp(value, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def _dict(value: t.Any) -> dict[str, t.Any]:
    return value if isinstance(value, dict) else {}


def _list(value: t.Any) -> list[t.Any]:
    return value if isinstance(value, list) else []


def _entries(free: Mapping[str, t.Any], group: str) -> list[tuple[str, str]]:
    """``freetext.<group>`` as ``(label, content)`` pairs (text only)."""
    pairs = []
    for entry in _list(free.get(group)):
        content = _dict(entry).get("content")
        if isinstance(content, str) and content.strip():
            pairs.append((str(_dict(entry).get("label") or ""), content))
    return pairs


def _first(free: Mapping[str, t.Any], group: str) -> str | None:
    entries = _entries(free, group)
    return entries[0][1] if entries else None
