"""JSON pages of the public museum APIs: an envelope holding one array of records.

Every such API answers a page as one JSON object whose records sit in one array
(``data``, ``items``, ``response.rows``...) beside the paging facts (``pagination``,
``found``, ``nextCursor``...). :class:`JsonPage` streams the records out of the array one
by one, with bounded memory, and keeps the rest of the object as the page's envelope;
:func:`json_item` turns one record into a raw item through the dialect's mapping.
"""

from __future__ import annotations

import re
import typing as t
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from tap_museumcms.dialects.base import PageEnd, RawItem
from tap_museumcms.jsonarray import ArrayBodyError, ArraySplitter
from tap_museumcms.jsonl import RawLine, decode_json_line

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping

    from tap_museumcms.xmlsplit import Piece

#: ``"id": "..."`` or ``"id": 123`` near the start of a record that could not be decoded.
_ID = re.compile(rb'"id"\s*:\s*(?:"([^"\\]{1,500})"|(\d{1,30}))')

Mapper = t.Callable[[dict[str, t.Any]], dict[str, t.Any]]


class JsonPage:
    """One page body: the elements of the array at ``path``, then the envelope.

    Example:
        >>> page, end = JsonPage(("items",), max_item_bytes=1024, what="a page"), PageEnd()
        >>> [p.data for p in page.pieces([b'{"found": 2, "items": [{"id": 1}, ', b'{"id": 2}]}'],
        ...                                end)]
        [b'{"id": 1}', b'{"id": 2}']
        >>> page.envelope, page.found
        ({'found': 2, 'items': []}, True)
    """

    def __init__(self, path: tuple[str, ...], *, max_item_bytes: int, what: str,
                 required: bool = False) -> None:
        self.splitter = ArraySplitter(path, max_item_bytes=max_item_bytes)
        self.path = path
        self.what = what
        #: A body without the array is broken (else the dialect judges the envelope).
        self.required = required
        #: The page without its records; None until the body was read to its end.
        self.envelope: dict[str, t.Any] | None = None

    @property
    def found(self) -> bool:
        """Whether the body held the array at all."""
        return self.splitter.found

    def pieces(self, chunks: Iterable[bytes], end: PageEnd) -> Iterator[Piece]:
        """Yield the array's elements; a body that is no such page sets ``end.broken``."""
        try:
            for chunk in chunks:
                yield from self.splitter.feed(chunk)
            yield from self.splitter.close()
        except ArrayBodyError as exc:
            end.broken = f"not {self.what}: {exc}"
            return
        envelope = self.splitter.envelope()
        if envelope is None:
            end.broken = f"the body ended before the end of {self.what}"
        elif not isinstance(envelope, dict):
            end.broken = f"not {self.what}: the body is a JSON {type(envelope).__name__}"
        elif self.required and not self.found:
            end.broken = f"not {self.what}: it has no {'.'.join(self.path)} array"
        else:
            self.envelope = envelope


def json_item(
    piece: Piece, mapper: Mapper, *, max_item_bytes: int, cursor: str | None = None,
    key: str | None = None,
) -> RawItem:
    """One array element as a raw item: decoded (``NaN`` refused, as in JSONL) and mapped.

    The item's key is ``key`` when given, else the mapped ``ObjectID``, else whatever ``"id"``
    the raw bytes show (so that a quarantined record still says which it was).
    """
    if piece.oversized:
        return RawItem(piece.data, None, f"record of {piece.size} bytes exceeds max_line_bytes "
                       f"{max_item_bytes}", cursor=cursor, key=key or guess_key(piece.data),
                       size=piece.size, oversized=True, complete=piece.complete)
    record, error = decode_json_line(RawLine(piece.data, piece.size, False, piece.complete,
                                             max_item_bytes))
    if record is None:
        return RawItem(piece.data, None, error, cursor=cursor, key=key or guess_key(piece.data),
                       size=piece.size, complete=piece.complete)
    fields = mapper(record)
    return RawItem(piece.data, fields, cursor=cursor, key=key or object_key(fields),
                   size=piece.size, complete=piece.complete)


def object_key(fields: Mapping[str, t.Any] | None, name: str = "ObjectID") -> str | None:
    """The record's key (``ObjectID`` once mapped) as text; None unless a string or integer."""
    value = fields.get(name) if fields is not None else None
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    return str(value).strip() or None


def guess_key(raw: bytes) -> str | None:
    """The first ``"id"`` member the raw bytes show, for a record that could not be read."""
    found = _ID.search(raw)
    if found is None:
        return None
    return (found.group(1) or found.group(2)).decode("utf-8", "replace")


def split_api_url(api_url: str) -> tuple[str, list[tuple[str, str]]]:
    """The endpoint and the user's own query parameters of ``api_url``.

    Example:
        >>> split_api_url("https://api.smk.dk/api/v1/art/search/?keys=*&filters=[has_image:true]")
        ('https://api.smk.dk/api/v1/art/search/', [('keys', '*'), ('filters', '[has_image:true]')])
    """
    parts = urlsplit(api_url.strip())
    base = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    return base, parse_qsl(parts.query, keep_blank_values=True)


def exact_year(start: t.Any, end: t.Any) -> str | None:
    """``"1878"`` for a work dated to one year (0..9999), else None (ranges, BCE).

    Example:
        >>> exact_year(1878, 1878), exact_year(1878, 1880), exact_year(-500, -500)
        ('1878', None, None)
    """
    if isinstance(start, bool) or not isinstance(start, int) or start != end:
        return None
    return f"{start:04d}" if 0 <= start <= 9999 else None


def strings(value: t.Any) -> list[str]:
    """The non-blank strings of a value that is a string or a list of them, stripped."""
    values = value if isinstance(value, list) else [value]
    return [v.strip() for v in values if isinstance(v, str) and v.strip()]


def first(value: t.Any) -> str | None:
    """The first non-blank string of a string or a list."""
    values = strings(value)
    return values[0] if values else None


__all__ = ["JsonPage", "Mapper", "exact_year", "first", "guess_key", "json_item",
           "object_key", "split_api_url", "strings"]
