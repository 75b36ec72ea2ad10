"""XML of the reference server's OAI-PMH face, written as string templates.

Independent of the tap on purpose (no ``tap_museumcms.lido``, no models): the server is ground
truth. Text is escaped (``&``, ``<``, ``>``, and ``"`` in attributes) and otherwise written as
the CMS holds it, control characters included: ``"Harbour\\x00"`` goes out as the raw byte
``0x00``, the real-world quirk a harvester has to survive.

A record (``ListRecords``, LIDO)::

    <record><header><identifier>oai:refserver.example:obj-0000042</identifier>
      <datestamp>2026-01-01T00:00:42Z</datestamp><setSpec>all</setSpec>
      <setSpec>type:painting</setSpec></header>
      <metadata><lido:lido xmlns:lido="http://www.lido-schema.org" ...>...</lido:lido></metadata>
    </record>

A record's metadata comes in three :class:`Parts` (head, description, tail) so that a padded
description can be streamed in pieces between them.
"""

from __future__ import annotations

import re
import time
import typing as t
from collections.abc import Iterator, Mapping

from tap_museumcms.refserver.collection import valid_iso_date

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
OAI_SCHEMA = "http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
LIDO_NS = "http://www.lido-schema.org"
LIDO_SCHEMA = "http://www.lido-schema.org/schema/v1.1/lido-v1.1.xsd"
OAI_DC_NS = "http://www.openarchives.org/OAI/2.0/oai_dc/"
OAI_DC_SCHEMA = "http://www.openarchives.org/OAI/2.0/oai_dc.xsd"
DC_NS = "http://purl.org/dc/elements/1.1/"
METADATA_FORMATS: dict[str, tuple[str, str]] = {
    "lido": (LIDO_SCHEMA, LIDO_NS),
    "oai_dc": (OAI_DC_SCHEMA, OAI_DC_NS),
}
"""metadataPrefix → (schema, metadataNamespace)."""

ID_PREFIX = "oai:refserver.example:"
RECORD_SOURCE = "Reference Museum"

_TERM = "http://terminology.lido-schema.org/"
_AAT = "http://vocab.getty.edu/aat/"
_TYPE_URI = _TERM + "lido00099"
_TYPE_LOCAL = _TERM + "lido00100"
_TYPE_INVENTORY = _TERM + "lido00113"
_PREFERRED = _TERM + "lido00169"
_PRODUCTION = _TERM + "lido00007"
_HUMAN_MADE = _TERM + "lido00096"
_ITEM_RECORD = _TERM + "lido00141"
_DATE_EXACT = _TERM + "lido00528"
_RIGHTS_TYPE = _TERM + "lido00921"
_FULL_IMAGE = _TERM + "lido00464"
_THUMBNAIL = _TERM + "lido00451"
_SET_SPEC_JUNK = re.compile(r"[^A-Za-z0-9\-_.!~*'()]+")
_PAD_BLOCK = (b"lorem ipsum dolor sit amet " * 1300)[: 32 * 1024]


class Parts(t.NamedTuple):
    """Metadata XML around the description's text: ``head + description + tail``.

    ``description`` is the escaped text of the description element (its tags are at the end of
    ``head`` and the start of ``tail``), or None when the record has no description element.
    """

    head: str
    description: str | None
    tail: str


# --- values ----------------------------------------------------------------------------------
def esc(text: str) -> str:
    """Escape element text: ``&``, ``<``, ``>`` (control characters stay as they are)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def esc_attr(text: str) -> str:
    """Escape an attribute value (double-quoted)."""
    return esc(text).replace('"', "&quot;")


def text_of(value: t.Any) -> str | None:
    """A field as text: strings trimmed (None when blank), numbers as written, anything else None.

    Example:
        >>> text_of("  Harbour "), text_of(12), text_of(""), text_of(["x"])
        ('Harbour', '12', None, None)
    """
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def datestamp(epoch: float, granularity: str, *, milliseconds: bool = False) -> str:
    """``2026-01-01T00:00:05Z`` (seconds) or ``2026-01-01`` (day); with ``milliseconds``,
    ``2026-01-01T00:00:05.549Z`` (the fraction of ``epoch``, or a made-up one when it has none)."""
    if granularity == "day":
        return time.strftime("%Y-%m-%d", time.gmtime(int(epoch // 1)))
    whole = int(epoch // 1)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
    if not milliseconds:
        return text + "Z"
    fraction = int((epoch - whole) * 1000) or (whole * 389 + 549) % 1000
    return f"{text}.{fraction:03d}Z"


def set_spec(object_type: t.Any) -> str | None:
    """The setSpec of an object type: ``type:`` + the type with every run of characters a setSpec
    may not hold replaced by ``-`` (``"on paper, unique"`` → ``"type:on-paper-unique"``)."""
    text = text_of(object_type)
    slug = _SET_SPEC_JUNK.sub("-", text).strip("-") if text else ""
    return f"type:{slug}" if slug else None


def padding(count: int) -> Iterator[bytes]:
    """``count`` bytes of filler text in pieces of at most 32 KiB."""
    while count > 0:
        size = min(count, len(_PAD_BLOCK))
        yield _PAD_BLOCK if size == len(_PAD_BLOCK) else _PAD_BLOCK[:size]
        count -= size


# --- envelope --------------------------------------------------------------------------------
def envelope_open(response_date: str, base_url: str, echo: Mapping[str, str] | None) -> str:
    """XML declaration, ``<OAI-PMH>``, ``responseDate`` and ``request`` (attributes = ``echo``)."""
    attributes = "".join(f' {name}="{esc_attr(value)}"' for name, value in (echo or {}).items())
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<OAI-PMH xmlns="{OAI_NS}" xmlns:xsi="{XSI_NS}" '
        f'xsi:schemaLocation="{OAI_NS} {OAI_SCHEMA}">\n'
        f"<responseDate>{response_date}</responseDate>\n"
        f"<request{attributes}>{esc(base_url)}</request>\n"
    )


def envelope_close(*, garbage: bool) -> str:
    """``</OAI-PMH>``, and with ``garbage`` what some servers append after it."""
    tail = "</OAI-PMH>\n"
    if garbage:
        tail += "<!-- generated by refserver in 0.01 s -->\nThank you for harvesting.\n"
    return tail


def error_xml(code: str, message: str) -> str:
    return f'<error code="{code}">{esc(message)}</error>\n'


def token_xml(token: str, *, cursor: int, size: int, expiration: str | None) -> str:
    """``<resumptionToken expirationDate=".." completeListSize=".." cursor="..">token</..>``;
    an empty token makes the element empty (the last page)."""
    attributes = f' expirationDate="{expiration}"' if expiration else ""
    attributes += f' completeListSize="{size}" cursor="{cursor}"'
    if not token:
        return f"<resumptionToken{attributes}/>\n"
    return f"<resumptionToken{attributes}>{esc(token)}</resumptionToken>\n"


def header_xml(
    identifier: str, stamp: str, sets: t.Sequence[str], *, deleted: bool, whitespace: bool
) -> str:
    """A record header; ``whitespace`` wraps the identifier in newlines and spaces."""
    ident = f"\n      {esc(identifier)}  \n    " if whitespace else esc(identifier)
    status = ' status="deleted"' if deleted else ""
    specs = "".join(f"<setSpec>{esc(spec)}</setSpec>" for spec in sets)
    return (
        f"<header{status}><identifier>{ident}</identifier>"
        f"<datestamp>{stamp}</datestamp>{specs}</header>"
    )


def junk_record(header: str, prefix: str, local_id: str, text: str) -> bytes:
    """A ``<record>`` whose metadata leaves an element open (then ``</metadata></record>``);
    no newline after it."""
    if prefix == "lido":
        metadata = (
            f'<lido:lido xmlns:lido="{LIDO_NS}"><lido:lidoRecID>{esc(local_id)}</lido:lidoRecID>'
            f'<lido:descriptiveMetadata xml:lang="en">{esc(text)}'
        )
    else:
        metadata = (
            f'<oai_dc:dc xmlns:oai_dc="{OAI_DC_NS}" xmlns:dc="{DC_NS}">'
            f"<dc:title>{esc(text)}</oai_dc:dc>"
        )
    record = f"<record>{header}<metadata>{metadata}</metadata></record>"
    return record.encode("utf-8", "replace")


# --- LIDO ------------------------------------------------------------------------------------
def _el(tag: str, text: str, *attributes: tuple[str, str]) -> str:
    attrs = "".join(f' {name}="{esc_attr(value)}"' for name, value in attributes)
    return f"<{tag}{attrs}>{esc(text)}</{tag}>"


def _lang(tag: str, text: str) -> str:
    return _el(tag, text, ("xml:lang", "en"))


def _concept(tag: str, uri: str | None, term: str | None, *attrs: tuple[str, str]) -> str:
    inner = _el("lido:conceptID", uri, ("lido:type", _TYPE_URI)) if uri else ""
    inner += _lang("lido:term", term) if term else ""
    attributes = "".join(f' {name}="{esc_attr(value)}"' for name, value in attrs)
    return f"<{tag}{attributes}>{inner}</{tag}>"


def _wrap(text: str | None, *tags: str, lang: bool = True) -> str:
    """``<a><b><c xml:lang="en">text</c></b></a>`` for ``tags = (a, b, c)``; "" without text."""
    if text is None:
        return ""
    inner = _lang(tags[-1], text) if lang else _el(tags[-1], text)
    for tag in reversed(tags[:-1]):
        inner = f"<{tag}>{inner}</{tag}>"
    return inner


def lido_parts(obj: Mapping[str, t.Any], local_id: str, *, with_description: bool) -> Parts:
    """One ``<lido:lido>`` record (the LIDO 1.1 profile of the tap's writer, see the module doc
    of ``tap_museumcms.lido``), split around the description text.

    Args:
        obj: the CMS object as JSON, e.g. ``{"ObjectID": "obj-0000042", "title": "Harbour at
            Dawn", "maker": "Ada Jansen", "creation_date_iso": "1850-03-01", "media": [...]}``.
        local_id: ``lidoRecID`` and ``recordID`` (the ObjectID, or ``position-<n>``).
        with_description: write the description element even when the object has none.
    """
    head = _lido_identification_head(obj, local_id)
    description = text_of(obj.get("description"))
    tail = ""
    if description is not None or with_description:
        head += "<lido:objectDescriptionWrap><lido:objectDescriptionSet>"
        head += '<lido:descriptiveNoteValue xml:lang="en">'
        tail = "</lido:descriptiveNoteValue></lido:objectDescriptionSet>"
        tail += "</lido:objectDescriptionWrap>"
    tail += _wrap(
        text_of(obj.get("dimensions")),
        "lido:objectMeasurementsWrap",
        "lido:objectMeasurementsSet",
        "lido:displayObjectMeasurements",
    )
    tail += _wrap(
        text_of(obj.get("medium")),
        "lido:objectMaterialsTechWrap",
        "lido:objectMaterialsTechSet",
        "lido:displayMaterialsTech",
    )
    tail += "</lido:objectIdentificationWrap>" + _lido_event(obj) + "</lido:descriptiveMetadata>"
    tail += _lido_administrative(obj, local_id) + "</lido:lido>"
    text = None if description is None and not with_description else esc(description or "")
    return Parts(head, text, tail)


def _lido_identification_head(obj: Mapping[str, t.Any], local_id: str) -> str:
    """From ``<lido:lido>`` to the inventory number: record id, category, work type, title."""
    title = text_of(obj.get("title"))
    preferred = ("lido:pref", _PREFERRED), ("xml:lang", "en")
    head = (
        f'<lido:lido xmlns:lido="{LIDO_NS}" xmlns:xsi="{XSI_NS}" '
        f'xsi:schemaLocation="{LIDO_NS} {LIDO_SCHEMA}">'
        + _el(
            "lido:lidoRecID", local_id, ("lido:source", RECORD_SOURCE), ("lido:type", _TYPE_LOCAL)
        )
        + _concept("lido:category", _HUMAN_MADE, "Human-made object")
        + '<lido:descriptiveMetadata xml:lang="en"><lido:objectClassificationWrap>'
        + "<lido:objectWorkTypeWrap>"
        + _concept("lido:objectWorkType", None, text_of(obj.get("object_type")))
        + "</lido:objectWorkTypeWrap></lido:objectClassificationWrap>"
        + "<lido:objectIdentificationWrap><lido:titleWrap><lido:titleSet>"
        + (_el("lido:appellationValue", title, *preferred) if title else "")
        + "</lido:titleSet></lido:titleWrap>"
    )
    accession = text_of(obj.get("accession_number"))
    if accession:
        workid = _el("lido:workID", accession, ("lido:type", _TYPE_INVENTORY))
        head += f"<lido:repositoryWrap><lido:repositorySet>{workid}</lido:repositorySet>"
        head += "</lido:repositoryWrap>"
    return head


def _lido_event(obj: Mapping[str, t.Any]) -> str:
    """The Production event: maker, display date, and the ISO date when it is a real one."""
    maker = text_of(obj.get("maker"))
    display = text_of(obj.get("creation_date_display"))
    iso = obj.get("creation_date_iso")
    iso = iso.strip() if isinstance(iso, str) and valid_iso_date(iso.strip()) else None
    if not (maker or display or iso):
        return ""
    event = _concept("lido:eventType", _PRODUCTION, "Production")
    if maker:
        name = _el("lido:appellationValue", maker, ("lido:pref", _PREFERRED))
        event += (
            f"<lido:eventActor>{_lang('lido:displayActorInRole', maker)}<lido:actorInRole>"
            f"<lido:actor><lido:nameActorSet>{name}</lido:nameActorSet></lido:actor>"
            "</lido:actorInRole></lido:eventActor>"
        )
    if display or iso:
        event += "<lido:eventDate>" + (_lang("lido:displayDate", display) if display else "")
        if iso:
            kind = ("lido:type", _DATE_EXACT)
            event += (
                f"<lido:date>{_el('lido:earliestDate', iso, kind)}"
                f"{_el('lido:latestDate', iso, kind)}</lido:date>"
            )
        event += "</lido:eventDate>"
    event = f"<lido:eventSet><lido:event>{event}</lido:event></lido:eventSet>"
    return f"<lido:eventWrap>{event}</lido:eventWrap>"


def _rights(tag: str, uri: str | None, credit: str | None) -> str:
    if not (uri or credit):
        return ""
    inner = _concept("lido:rightsType", uri, None, ("lido:type", _RIGHTS_TYPE)) if uri else ""
    inner += _lang("lido:creditLine", credit) if credit else ""
    return f"<{tag}>{inner}</{tag}>"


def _lido_administrative(obj: Mapping[str, t.Any], local_id: str) -> str:
    """Rights of the work, the record wrap, and the resources (images, then the manifest)."""
    rights = text_of(obj.get("rights_uri"))
    credit = text_of(obj.get("credit_line"))
    out = '<lido:administrativeMetadata xml:lang="en">'
    if rights or credit:
        out += f"<lido:rightsWorkWrap>{_rights('lido:rightsWorkSet', rights, credit)}"
        out += "</lido:rightsWorkWrap>"
    out += "<lido:recordWrap>" + _el("lido:recordID", local_id, ("lido:type", _TYPE_LOCAL))
    out += _concept("lido:recordType", _ITEM_RECORD, "Item-level record")
    out += f"<lido:recordSource><lido:legalBodyName>{_el('lido:appellationValue', RECORD_SOURCE)}"
    out += "</lido:legalBodyName></lido:recordSource>"
    out += _wrap(
        text_of(obj.get("modified")), "lido:recordInfoSet", "lido:recordMetadataDate", lang=False
    )
    out += "</lido:recordWrap>"
    media = obj.get("media")
    sets = [
        _resource_set(item, rights, credit)
        for item in (media if isinstance(media, list) else [])
        if isinstance(item, Mapping)
    ]
    manifest = text_of(obj.get("iiif_manifest_url"))
    if manifest:
        link = _el("lido:linkResource", manifest, ("lido:formatResource", "application/ld+json"))
        sets.append(
            f"<lido:resourceSet><lido:resourceRepresentation>{link}"
            "</lido:resourceRepresentation>"
            f"{_concept('lido:resourceType', None, 'IIIF Manifest')}</lido:resourceSet>"
        )
    if sets:
        out += "<lido:resourceWrap>" + "".join(sets) + "</lido:resourceWrap>"
    return out + "</lido:administrativeMetadata>"


def _pixels(value: t.Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None


def _resource_set(item: Mapping[str, t.Any], object_rights: str | None, credit: str | None) -> str:
    """One image: its id, the full-size and thumbnail IIIF URLs, pixel size, type and rights."""
    out = "<lido:resourceSet>"
    media_id = text_of(item.get("MediaID"))
    if media_id:
        out += _el("lido:resourceID", media_id, ("lido:type", _TYPE_LOCAL))
    service = text_of(item.get("iiif_image_service"))
    if service:
        base = service.rstrip("/")
        size = "full" if "/iiif/2/" in base else "max"
        image_format = text_of(item.get("format")) or "image/jpeg"
        out += f'<lido:resourceRepresentation lido:type="{_FULL_IMAGE}">'
        out += _el(
            "lido:linkResource",
            f"{base}/full/{size}/0/default.jpg",
            ("lido:formatResource", image_format),
        )
        for label, aat, key in (("width", "300055647", "width"), ("height", "300055644", "height")):
            pixels = _pixels(item.get(key))
            if pixels is not None:
                out += "<lido:resourceMeasurementsSet>"
                out += _concept("lido:measurementType", _AAT + aat, label)
                out += _concept("lido:measurementUnit", _AAT + "300266190", "pixels")
                out += _el("lido:measurementValue", str(pixels))
                out += "</lido:resourceMeasurementsSet>"
        out += (
            f'</lido:resourceRepresentation><lido:resourceRepresentation lido:type="{_THUMBNAIL}">'
        )
        thumb = f"{base}/full/400,/0/default.jpg"
        out += _el("lido:linkResource", thumb, ("lido:formatResource", "image/jpeg"))
        out += "</lido:resourceRepresentation>"
    out += _concept("lido:resourceType", _AAT + "300215302", "digital images")
    out += _rights("lido:rightsResource", text_of(item.get("rights_uri")) or object_rights, credit)
    return out + "</lido:resourceSet>"


# --- Dublin Core -----------------------------------------------------------------------------
def dc_parts(obj: Mapping[str, t.Any], *, with_description: bool) -> Parts:
    """One ``<oai_dc:dc>`` record, split around the ``dc:description`` text.

    Mapping: title, maker → creator, creation date (display, else ISO) → date, object_type →
    type, medium → format, description, accession_number → identifier, rights_uri → rights, and
    the publisher. A missing field writes no element.
    """
    date = text_of(obj.get("creation_date_display")) or text_of(obj.get("creation_date_iso"))
    fields = (
        ("dc:title", text_of(obj.get("title"))),
        ("dc:creator", text_of(obj.get("maker"))),
        ("dc:date", date),
        ("dc:type", text_of(obj.get("object_type"))),
        ("dc:format", text_of(obj.get("medium"))),
    )
    head = (
        f'<oai_dc:dc xmlns:oai_dc="{OAI_DC_NS}" xmlns:dc="{DC_NS}" xmlns:xsi="{XSI_NS}" '
        f'xsi:schemaLocation="{OAI_DC_NS} {OAI_DC_SCHEMA}">'
    )
    head += "".join(_el(tag, value) for tag, value in fields if value)
    description = text_of(obj.get("description"))
    tail = ""
    text = None
    if description is not None or with_description:
        head += "<dc:description>"
        text = esc(description or "")
        tail = "</dc:description>"
    for tag, value in (
        ("dc:identifier", text_of(obj.get("accession_number"))),
        ("dc:rights", text_of(obj.get("rights_uri"))),
        ("dc:publisher", RECORD_SOURCE),
    ):
        tail += _el(tag, value) if value else ""
    return Parts(head, text, tail + "</oai_dc:dc>")
