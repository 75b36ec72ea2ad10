"""The LIDO builder as it was before the prepared serialisation: element by element with lxml.

Test-only reference: ``test_lido.py`` builds every object of ``document_corpus.py`` with both
and asserts identical bytes, so :mod:`tap_museumcms.lido` is held to exactly what this builder
(the tree that lxml serialises) writes. The mapping's policies that did not change (constants,
the rights labels, the IIIF image URLs) are imported from the package; what is kept here is the
tree building and the text handling. A change of the mapping has to be made in both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

from lxml import etree as ET

from tap_museumcms.dates import DateRange, parse_date_range
from tap_museumcms.lido import (
    AAT_DIGITAL_IMAGES,
    AAT_HEIGHT,
    AAT_PIXELS,
    AAT_WIDTH,
    CATEGORY_HUMAN_MADE_OBJECT,
    DATE_ESTIMATED,
    DATE_EXACT,
    EVENT_PRODUCTION,
    LIDO_NS,
    LIDO_VERSION,
    MANIFEST_FORMAT,
    MANIFEST_RESOURCE_TYPE,
    PREF_PREFERRED,
    RECORD_TYPE_ITEM,
    REPRESENTATION_FULL,
    REPRESENTATION_THUMBNAIL,
    RIGHTS_TYPE,
    TYPE_INVENTORY_NUMBER,
    TYPE_LOCAL,
    TYPE_URI,
    LidoOptions,
    image_urls,
    rights_label,
)
from tap_museumcms.text import strip_xml_illegal

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_Q = f"{{{LIDO_NS}}}"
_ID_TYPES = {"local": TYPE_LOCAL, "uri": TYPE_URI}
_DEFAULTS = LidoOptions()


def _text(value: Any) -> str | None:
    """Return a value as XML-safe text, or ``None`` when it is missing or blank.

    Illegal characters are deleted, the ends trimmed, and line ends written as ``\n``: every
    XML parser turns ``\r\n`` and ``\r`` into ``\n`` (XML 1.0, section 2.11), so this is what
    a reader would get anyway, and the record now says so itself.
    """
    if value is None:
        return None
    cleaned = strip_xml_illegal(value if isinstance(value, str) else str(value))
    if "\r" in cleaned:
        cleaned = cleaned.replace("\r\n", "\n").replace("\r", "\n")
    return cleaned.strip() or None


class _Builder:
    """Small helper around lxml that writes ``lido:`` elements and attributes."""

    __slots__ = ("lang",)

    def __init__(self, lang: str) -> None:
        self.lang = lang

    @staticmethod
    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        attrib = (
            {(XML_LANG if name == "lang" else _Q + name): value for name, value in attrs.items()}
            if attrs
            else {}
        )
        element = ET.SubElement(parent, _Q + tag, attrib)
        if text is not None:
            element.text = text
        return element

    def concept(
        self, parent: ET.Element, tag: str, uri: str | None, term: str | None, **attrs: str
    ) -> ET.Element:
        """Write a concept element: ``conceptID`` (URI) then ``term`` with ``xml:lang``."""
        element = self.sub(parent, tag, **attrs)
        if uri:
            self.sub(element, "conceptID", uri, type=TYPE_URI)
        if term:
            self.sub(element, "term", term, lang=self.lang)
        return element

    def rights_type(self, parent: ET.Element, uri: str) -> None:
        self.concept(parent, "rightsType", uri, _text(rights_label(uri)), type=RIGHTS_TYPE)


def _media(obj: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    media = obj.get("media")
    if not isinstance(media, Iterable) or isinstance(media, str | bytes | Mapping):
        return []
    return [item for item in media if isinstance(item, Mapping)]


def _positive_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value > 0:
        return value
    if isinstance(value, str) and value.isdigit() and int(value) > 0:
        return int(value)
    return None


def _creation_date(obj: Mapping[str, Any]) -> tuple[str | None, Any]:
    """Display date and parsed range: the ISO date wins for the range, the display text for show."""
    iso = _text(obj.get("creation_date_iso"))
    raw = _text(obj.get("creation_date_raw"))
    display = _text(obj.get("creation_date_display")) or raw or iso
    if iso:
        # Already a real ISO date, year-month or year (the models checked it): taken as it is,
        # never re-read as text ("1900-12" is December 1900, not 1900 to 1912).
        day = iso[:10]
        return display, DateRange(earliest=day, latest=day, qualifier=None)
    parsed = None
    for candidate in (raw, _text(obj.get("creation_date_display"))):
        parsed = parse_date_range(candidate)
        if parsed is not None:
            break
    return display, parsed


def _descriptive(b: _Builder, root: ET.Element, obj: Mapping[str, Any]) -> None:
    desc = b.sub(root, "descriptiveMetadata", lang=b.lang)

    classification = b.sub(desc, "objectClassificationWrap")
    work_types = b.sub(classification, "objectWorkTypeWrap")
    b.concept(work_types, "objectWorkType", None, _text(obj.get("object_type")) or "not specified")

    ident = b.sub(desc, "objectIdentificationWrap")
    titles = b.sub(ident, "titleWrap")
    title_set = b.sub(titles, "titleSet")
    b.sub(
        title_set,
        "appellationValue",
        _text(obj.get("title")) or "[untitled]",
        pref=PREF_PREFERRED,
        lang=b.lang,
    )

    accession = _text(obj.get("accession_number"))
    if accession:
        repository = b.sub(b.sub(ident, "repositoryWrap"), "repositorySet")
        b.sub(repository, "workID", accession, type=TYPE_INVENTORY_NUMBER)

    description = _text(obj.get("description"))
    if description:
        note = b.sub(b.sub(ident, "objectDescriptionWrap"), "objectDescriptionSet")
        b.sub(note, "descriptiveNoteValue", description, lang=b.lang)

    dimensions = _text(obj.get("dimensions"))
    if dimensions:
        measurements = b.sub(b.sub(ident, "objectMeasurementsWrap"), "objectMeasurementsSet")
        b.sub(measurements, "displayObjectMeasurements", dimensions, lang=b.lang)

    medium = _text(obj.get("medium"))
    if medium:
        materials = b.sub(b.sub(ident, "objectMaterialsTechWrap"), "objectMaterialsTechSet")
        b.sub(materials, "displayMaterialsTech", medium, lang=b.lang)

    maker = _text(obj.get("maker"))
    display_date, parsed = _creation_date(obj)
    if maker or display_date:
        event = b.sub(b.sub(b.sub(desc, "eventWrap"), "eventSet"), "event")
        b.concept(event, "eventType", EVENT_PRODUCTION, "Production")
        if maker:
            actor_wrap = b.sub(event, "eventActor")
            b.sub(actor_wrap, "displayActorInRole", maker, lang=b.lang)
            actor = b.sub(b.sub(actor_wrap, "actorInRole"), "actor")
            b.sub(b.sub(actor, "nameActorSet"), "appellationValue", maker, pref=PREF_PREFERRED)
        if display_date:
            when = b.sub(event, "eventDate")
            b.sub(when, "displayDate", display_date, lang=b.lang)
            if parsed is not None:
                date_type = DATE_EXACT if parsed.qualifier is None else DATE_ESTIMATED
                date = b.sub(when, "date")
                b.sub(date, "earliestDate", parsed.earliest, type=date_type)
                b.sub(date, "latestDate", parsed.latest, type=date_type)


def _administrative(
    b: _Builder, root: ET.Element, obj: Mapping[str, Any], object_id: str, options: LidoOptions
) -> None:
    admin = b.sub(root, "administrativeMetadata", lang=b.lang)
    rights_uri = _text(obj.get("rights_uri"))
    credit_line = _text(obj.get("credit_line"))
    if rights_uri or credit_line:
        rights_set = b.sub(b.sub(admin, "rightsWorkWrap"), "rightsWorkSet")
        if rights_uri:
            b.rights_type(rights_set, rights_uri)
        if credit_line:
            b.sub(rights_set, "creditLine", credit_line, lang=b.lang)

    record = b.sub(admin, "recordWrap")
    id_type = _ID_TYPES.get(options.id_type, options.id_type)
    b.sub(record, "recordID", object_id, type=id_type)
    b.concept(record, "recordType", RECORD_TYPE_ITEM, "Item-level record")
    source = b.sub(record, "recordSource")
    b.sub(
        b.sub(source, "legalBodyName"),
        "appellationValue",
        _text(options.record_source) or "unknown",
    )
    record_rights = b.sub(record, "recordRights")
    b.rights_type(record_rights, options.record_rights_uri)
    modified = _text(obj.get("modified"))
    if options.record_info_base_url or modified:
        info = b.sub(record, "recordInfoSet")
        if options.record_info_base_url:
            link = options.record_info_base_url + quote(object_id, safe="")
            b.sub(info, "recordInfoLink", _text(link), formatResource="text/html")
        if modified:
            b.sub(info, "recordMetadataDate", modified)

    media = _media(obj)
    manifest = _text(obj.get("iiif_manifest_url"))
    if media or manifest:
        resources = b.sub(admin, "resourceWrap")
        for index, item in enumerate(media):
            first_manifest = manifest if index == 0 else None
            _resource_set(b, resources, item, rights_uri, credit_line, first_manifest)
        if manifest and not media:
            resource = b.sub(resources, "resourceSet")
            _manifest_representation(b, resource, manifest)
            b.sub(b.sub(resource, "resourceType"), "term", MANIFEST_RESOURCE_TYPE, lang="en")


def _manifest_representation(b: _Builder, resource: ET.Element, manifest: str) -> None:
    """The link to the IIIF Presentation manifest, a JSON-LD representation of the resource."""
    representation = b.sub(resource, "resourceRepresentation")
    b.sub(representation, "linkResource", manifest, formatResource=MANIFEST_FORMAT)


def _resource_set(
    b: _Builder,
    parent: ET.Element,
    item: Mapping[str, Any],
    object_rights: str | None,
    credit_line: str | None,
    manifest: str | None = None,
) -> None:
    resource = b.sub(parent, "resourceSet")
    media_id = _text(item.get("media_id"))
    if media_id:
        b.sub(resource, "resourceID", media_id, type=TYPE_LOCAL)
    service = _text(item.get("iiif_image_service"))
    if service:
        full, thumbnail = image_urls(service)
        # The link is a IIIF Image API derivative (``default.jpg``): JPEG, whatever the master.
        representation = b.sub(resource, "resourceRepresentation", type=REPRESENTATION_FULL)
        b.sub(representation, "linkResource", full, formatResource="image/jpeg")
        _pixel_sizes(b, representation, item)
        thumb = b.sub(resource, "resourceRepresentation", type=REPRESENTATION_THUMBNAIL)
        b.sub(thumb, "linkResource", thumbnail, formatResource="image/jpeg")
    elif _text(item.get("image_url")):
        # No IIIF service (the Met, Cleveland): the image file itself, in its own format.
        representation = b.sub(resource, "resourceRepresentation", type=REPRESENTATION_FULL)
        fmt = _text(item.get("format"))
        attributes = {"formatResource": fmt} if fmt else {}
        b.sub(representation, "linkResource", _text(item.get("image_url")), **attributes)
        _pixel_sizes(b, representation, item)
    if manifest:
        _manifest_representation(b, resource, manifest)
    b.concept(resource, "resourceType", AAT_DIGITAL_IMAGES, "digital images")
    caption = _text(item.get("caption"))
    if caption:
        b.sub(resource, "resourceDescription", caption, lang=b.lang)
    rights_uri = _text(item.get("rights_uri")) or object_rights
    if rights_uri or credit_line:
        rights = b.sub(resource, "rightsResource")
        if rights_uri:
            b.rights_type(rights, rights_uri)
        if credit_line:
            b.sub(rights, "creditLine", credit_line, lang=b.lang)


def _pixel_sizes(b: _Builder, representation: ET.Element, item: Mapping[str, Any]) -> None:
    """The image's width and height in pixels, when known."""
    for aat, label, key in ((AAT_WIDTH, "width", "width"), (AAT_HEIGHT, "height", "height")):
        size = _positive_int(item.get(key))
        if size is not None:
            measure = b.sub(representation, "resourceMeasurementsSet")
            b.concept(measure, "measurementType", aat, label)
            b.concept(measure, "measurementUnit", AAT_PIXELS, "pixels")
            b.sub(measure, "measurementValue", str(size))


def build_lido_xml(obj: Mapping[str, Any], options: LidoOptions = _DEFAULTS) -> str:
    """Build one LIDO 1.1 ``<lido:lido>`` document for a validated object.

    Args:
        obj: A validated object record, e.g. ``{"object_id": "1994.127", "title": "Harbour at
            Dawn", "creation_date_display": "c.1830–41", "maker": "A. Painter", "rights_uri":
            "http://rightsstatements.org/vocab/InC/1.0/", "media": [{"media_id": "m-88",
            "iiif_image_service": "https://img.example.org/iiif/3/m-88", "width": 4000,
            "height": 3000, "format": "image/jpeg"}], "modified": "2026-11-20T10:00:00Z", ...}``.
        options: Record source, language, record rights, info link base.

    Returns:
        The XML as a string without an XML declaration, root ``<lido:lido
        xmlns:lido="http://www.lido-schema.org">``, valid against the LIDO 1.1 XSD.

    Raises:
        ValueError: the object has no usable ``object_id`` (the tap never emits such objects).
    """
    object_id = _text(obj.get("object_id"))
    if not object_id:
        raise ValueError("object has no object_id")
    b = _Builder(_text(options.language) or "en")
    root = ET.Element(f"{{{LIDO_NS}}}lido", nsmap={"lido": LIDO_NS})
    id_type = _ID_TYPES.get(options.id_type, options.id_type)
    b.sub(
        root, "lidoRecID", object_id, source=_text(options.record_source) or "unknown", type=id_type
    )
    b.concept(root, "category", CATEGORY_HUMAN_MADE_OBJECT, "Human-made object")
    _descriptive(b, root, obj)
    _administrative(b, root, obj, object_id, options)
    return ET.tostring(root, encoding="unicode")


def lido_record(obj: Mapping[str, Any], options: LidoOptions = _DEFAULTS) -> dict[str, Any]:
    """Build the ``lido_records`` stream record of one valid object.

    Args:
        obj: A validated object record (see :func:`build_lido_xml`).
        options: Builder settings.

    Returns:
        ``{"object_id": "1994.127", "lido_xml": "<lido:lido ...>", "lido_version": "1.1",
        "modified": "2026-11-20T10:00:00Z"}``; ``object_id`` and ``modified`` are copied
        unchanged from the object so the record keys and replicates like its source.
    """
    return {
        "object_id": obj.get("object_id"),
        "lido_xml": build_lido_xml(obj, options),
        "lido_version": LIDO_VERSION,
        "modified": obj.get("modified"),
    }
