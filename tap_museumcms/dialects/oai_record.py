"""One OAI-PMH ``<record>``: parsed alone, read into the contract's shape.

The key is the OAI identifier (a deleted header carries nothing else), ``modified`` the
datestamp (a day-granularity datestamp becomes midnight UTC), the fields come from
:func:`~tap_museumcms.dialects.lido_in.map_lido` or :func:`~tap_museumcms.dialects.dc_in.map_dc`,
and a LIDO record is kept as the source sent it, for ``lido_records``::

    item, cleaned = record_item(piece, envelope.nsdecls, max_bytes)
    item.fields   # {"ObjectID": "oai:kenom.de:record_DE-15_coin_1", "title": ..., "modified": ...}
    item.document # b'<lido:lido xmlns:lido="http://www.lido-schema.org">...</lido:lido>'

Characters XML 1.0 forbids (control characters, raw or as references) are removed before
parsing, as the JSONL path removes them after decoding; the digest stays on the raw bytes.
A record that still does not parse is one unreadable item (quarantined with its raw XML).
"""

from __future__ import annotations

import re
import typing as t
from copy import deepcopy

from lxml import etree

from tap_museumcms.dialects.base import RawItem
from tap_museumcms.dialects.dc_in import map_dc
from tap_museumcms.dialects.lido_in import map_lido
from tap_museumcms.xmlsplit import OAI_NS

if t.TYPE_CHECKING:
    from tap_museumcms.xmlsplit import Piece

LIDO_NS = "http://www.lido-schema.org"
DC_NS = "http://www.openarchives.org/OAI/2.0/oai_dc/"

_O = f"{{{OAI_NS}}}"
# Comments and processing instructions are kept: a LIDO record is passed through unaltered.
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                          huge_tree=True)
# XML 1.0 forbids these characters even as references; real repositories still send them.
_ILLEGAL_BYTES = bytes(c for c in range(32) if c not in (9, 10, 13))
_ILLEGAL_REFS = re.compile(rb"&#(?:x0*(?:[0-8bcef]|1[0-9a-f])|0*(?:[0-8]|1[124-9]|2[0-9]|3[01]));",
                           re.IGNORECASE)
_IDENTIFIER = re.compile(rb"<(?:[\w.-]+:)?identifier>\s*([^<]{1,500}?)\s*</", re.ASCII)


def record_item(piece: Piece, nsdecls: bytes, max_bytes: int) -> tuple[RawItem, int]:
    """Parse one record and map it; returns the item and 1 if it had to be cleaned first."""
    raw = piece.data
    key = _guess_identifier(raw)
    if piece.oversized:
        error = f"record of {piece.size} bytes exceeds max_line_bytes {max_bytes}"
        return RawItem(raw, None, error, key=key, size=piece.size, oversized=True,
                       complete=piece.complete), 0
    if not piece.complete:
        return RawItem(raw, None, "the body ended inside this record", key=key,
                       size=piece.size, complete=False), 0
    data = _ILLEGAL_REFS.sub(b"", raw.translate(None, _ILLEGAL_BYTES))
    try:
        wrapper = etree.fromstring(b"<w" + nsdecls + b">" + data + b"</w>", _PARSER)
    except etree.XMLSyntaxError as exc:
        return RawItem(raw, None, f"malformed XML record: {exc}", key=key,
                       size=piece.size), int(data != raw)
    fields, document, error = map_record(wrapper[0])
    return RawItem(raw, fields, error, key=fields["ObjectID"] if fields else key,
                   size=piece.size, document=document), int(data != raw)


def map_record(
    record: etree._Element,
) -> tuple[dict[str, t.Any] | None, bytes | None, str | None]:
    """``(fields, LIDO document, None)``, or ``(None, None, why)`` for an unusable record."""
    header = record.find(f"{_O}header")
    if header is None:
        return None, None, "record has no <header>"
    identifier = (header.findtext(f"{_O}identifier") or "").strip()
    datestamp = (header.findtext(f"{_O}datestamp") or "").strip()
    if not identifier:
        return None, None, "record header has no identifier"
    modified = datestamp + "T00:00:00Z" if len(datestamp) == 10 else datestamp
    if header.get("status") == "deleted":
        return {"ObjectID": identifier, "deleted": True, "modified": modified}, None, None
    metadata = record.find(f"{_O}metadata")
    children = metadata if metadata is not None else ()
    content = next((child for child in children if isinstance(child.tag, str)), None)
    if content is None:
        return None, None, f"record {identifier!r} has no metadata"
    document = None
    namespace = etree.QName(content).namespace
    if namespace == LIDO_NS:
        if etree.QName(content).localname == "lidoWrap":
            content = content.find(f"{{{LIDO_NS}}}lido")
            if content is None:
                return None, None, f"record {identifier!r}: empty lidoWrap"
        fields = map_lido(content)
        document = _standalone(content)
    elif namespace == DC_NS:
        fields = map_dc(content)
    else:
        return None, None, f"record {identifier!r}: metadata {content.tag!r} is not mapped"
    fields["ObjectID"] = identifier
    fields["modified"] = modified
    sets = [name for e in header.findall(f"{_O}setSpec") if (name := (e.text or "").strip())]
    if sets:
        fields["oai_sets"] = sets
    return fields, document, None


def _standalone(element: etree._Element) -> bytes:
    """The element as a document of its own, without the envelope's unused declarations."""
    copy = deepcopy(element)
    copy.tail = None
    etree.cleanup_namespaces(copy)
    return etree.tostring(copy)


def _guess_identifier(raw: bytes) -> str | None:
    """The identifier of a record that may not parse (for the quarantine)."""
    match = _IDENTIFIER.search(raw[:8192])
    return match.group(1).decode("utf-8", "replace") if match else None
