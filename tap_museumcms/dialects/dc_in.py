"""Read an OAI-PMH Dublin Core record (``oai_dc``) into the tap's object contract.

The OAI-PMH dialect hands :func:`map_dc` the ``<oai_dc:dc>`` element of a record's
``<metadata>`` and adds ``ObjectID``, ``modified`` and ``deleted`` itself::

    <oai_dc:dc><dc:title>Sample Title</dc:title><dc:creator>John Doe</dc:creator>
      <dc:date>2010</dc:date><dc:type>info:eu-repo/semantics/article</dc:type>
      <dc:type>text</dc:type><dc:identifier>http://test.example.com/publication/1</dc:identifier>
    </oai_dc:dc>
    -> {"title": "Sample Title", "maker": "John Doe", "creation_date_display": "2010",
        "creation_date_iso": "2010", "object_type": "text",
        "dc_type": ["info:eu-repo/semantics/article", "text"],
        "dc_identifier": ["http://test.example.com/publication/1"]}

Simple Dublin Core says little, so the mapping is short (text is read as in
:func:`tap_museumcms.dialects.lido_in.element_text`; blank elements count as absent):

- ``dc:title`` -> ``title`` (the first); ``dc:description`` -> ``description`` (the first);
  ``dc:date`` -> ``creation_date_display`` (the first), and ``creation_date_iso`` when that is an
  ISO 8601 year, year-month or date the models accept (a datetime gives its date).
  When one of these repeats, every value is also kept in ``dc_title``, ``dc_description`` or
  ``dc_date``.
- ``dc:creator`` -> ``maker``: every distinct creator, joined by ``"; "``.
- ``dc:type`` -> ``object_type``: the first that is neither a URI nor a code such as
  ``info:eu-repo/semantics/article`` or ``doc-type:article`` (a ``prefix:value`` without spaces);
  every type is kept in ``dc_type``.
- ``dc:format`` -> ``medium``: the first that is not a media type (``image/jpeg``); every format
  is kept in ``dc_format``.
- ``dc:identifier`` -> ``accession_number``: the first that is neither a URL nor a URI-like code
  (``urn:``, ``doi:``, ``oai:``...); every identifier is kept in ``dc_identifier``.
- ``dc:rights`` -> ``rights_uri``: the first value :func:`tap_museumcms.rights.normalize_rights_uri`
  knows; when it knows none, the values go to ``dc_rights`` instead (an unknown rights text must
  not quarantine the object).
- ``dc:subject``, ``dc:publisher``, ``dc:contributor``, ``dc:language``, ``dc:coverage``,
  ``dc:relation``, ``dc:source`` -> ``dc_<name>``, lists of distinct values.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from tap_museumcms.dialects.lido_in import element_text, iso_date
from tap_museumcms.rights import normalize_rights_uri

DC_NS = "http://purl.org/dc/elements/1.1/"
OAI_DC_NS = "http://www.openarchives.org/OAI/2.0/oai_dc/"
_DC = f"{{{DC_NS}}}"

_EXTRA_ELEMENTS = (
    "subject",
    "publisher",
    "contributor",
    "language",
    "coverage",
    "relation",
    "source",
)
# A URI or a compact code: "scheme:rest" without whitespace ("info:eu-repo/...", "doc-type:x").
_CODE_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:\S+")
_MEDIA_TYPE_RE = re.compile(r"[a-z]+/[a-z0-9][\w.+-]*(?:\s*;.*)?", re.IGNORECASE)
_URI_PREFIXES = ("urn:", "doi:", "info:", "oai:", "hdl:", "ark:", "isni:", "orcid:")


def _values(dc: etree._Element, name: str) -> list[str]:
    """The distinct non-blank values of one DC element, in document order."""
    texts = [element_text(element) for element in dc.iterfind(_DC + name)]
    return list(dict.fromkeys(text for text in texts if text))


def _is_code(value: str) -> bool:
    return _CODE_RE.fullmatch(value) is not None


def _is_identifier_uri(value: str) -> bool:
    lowered = value.lower()
    return "://" in lowered or lowered.startswith(_URI_PREFIXES)


def _rights(values: list[str]) -> dict[str, Any]:
    for value in values:
        try:
            return {"rights_uri": normalize_rights_uri(value)}
        except ValueError:  # UnknownRights, or anything else odd about the value
            continue
    return {"dc_rights": values} if values else {}


def _single(record: dict[str, Any], field: str, name: str, values: list[str]) -> None:
    """The first value to ``field``; all of them to ``dc_<name>`` when there are several."""
    if values:
        record[field] = values[0]
    if len(values) > 1:
        record[f"dc_{name}"] = values


def map_dc(dc: etree._Element) -> dict[str, Any]:
    """Read one ``oai_dc`` record into the object contract's fields.

    Args:
        dc: The ``{http://www.openarchives.org/OAI/2.0/oai_dc/}dc`` element of an OAI-PMH
            record's ``<metadata>`` (its ``dc:*`` children are read; other children are ignored).

    Returns:
        The contract's fields without ``ObjectID``, ``modified`` and ``deleted``, absent when the
        record has no value, plus ``dc_*`` extra lists, e.g. ``{"title": "Sample Title",
        "maker": "John Doe", "creation_date_iso": "2010", "object_type": "text",
        "dc_type": ["info:eu-repo/semantics/article", "text"]}``. Never raises on odd records.
    """
    record: dict[str, Any] = {}
    _single(record, "title", "title", _values(dc, "title"))
    _single(record, "description", "description", _values(dc, "description"))
    dates = _values(dc, "date")
    _single(record, "creation_date_display", "date", dates)
    if dates and iso_date(dates[0]):
        record["creation_date_iso"] = iso_date(dates[0])
    creators = _values(dc, "creator")
    if creators:
        record["maker"] = "; ".join(creators)
    for field, name, skip in (
        ("object_type", "type", _is_code),
        ("medium", "format", _MEDIA_TYPE_RE.fullmatch),
        ("accession_number", "identifier", _is_identifier_uri),
    ):
        values = _values(dc, name)
        chosen = next((value for value in values if not skip(value)), None)
        if chosen is not None:
            record[field] = chosen
        if values:
            record[f"dc_{name}"] = values
    record.update(_rights(_values(dc, "rights")))
    for name in _EXTRA_ELEMENTS:
        values = _values(dc, name)
        if values:
            record[f"dc_{name}"] = values
    return record
