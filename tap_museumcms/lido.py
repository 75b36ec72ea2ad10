"""LIDO 1.1 records: one XML document per valid museum object.

:func:`build_lido_xml` maps a validated object record (the dict the tap emits on ``objects``) to
one ``<lido:lido>`` element in the namespace ``http://www.lido-schema.org``; :func:`lido_record`
wraps it as a record of the ``lido_records`` stream::

    {"object_id": "1994.127", "lido_xml": "<lido:lido xmlns:lido=...>...</lido:lido>",
     "lido_version": "1.1", "modified": "2026-11-20T10:00:00Z"}

The XML is not built element by element: the markup that depends only on the options (the
language, the record source, the record rights) is serialised once per :class:`LidoOptions`,
each rights statement once, and a record is the join of those prepared fragments with the
object's escaped texts. Every text of the object and the text settings (record source,
language, info link base) go through :func:`tap_museumcms.text.strip_xml_illegal`, so no source
text (MARC delimiters, ``\\x00``, lone surrogates) can make the document ill-formed; the two URI
settings written as given (``id_type``, ``record_rights_uri``) are refused with a
``ValueError`` when XML cannot hold them, as lxml refused them. Escaping is libxml2's: in text
``&``, ``<``, ``>`` (so ``]]>`` too); in attributes also ``"``, TAB and LF as character
references; so the bytes are those lxml wrote when it serialised the tree. Text is otherwise
written as given (line ends as ``\n``, outer whitespace trimmed): cleaning MARC fragments is
the ingestion boundary's job. ``tests/lido_reference.py`` keeps the element-by-element builder,
and a test holds the two to identical bytes.

Mapping (object field -> LIDO 1.1 element):

- ``object_id`` -> ``lidoRecID`` and ``recordWrap/recordID``, typed as local identifiers
  (``lido00100``); ``lidoRecID/@lido:source`` is :attr:`LidoOptions.record_source`.
- ``object_type`` -> ``objectWorkType/term`` (mandatory in LIDO; ``"not specified"`` when absent).
- ``title`` -> ``titleSet/appellationValue`` with ``xml:lang`` (``"[untitled]"`` when absent:
  LIDO requires a title).
- ``accession_number`` -> ``repositorySet/workID`` (inventory number, ``lido00113``).
- ``description`` -> ``objectDescriptionSet/descriptiveNoteValue``.
- ``dimensions`` -> ``displayObjectMeasurements``; ``medium`` -> ``displayMaterialsTech``.
- ``maker`` and the creation date -> one Production event (``lido00007``): ``displayActorInRole``
  and ``nameActorSet``, ``displayDate`` and, when :func:`tap_museumcms.dates.parse_date_range`
  reads the date, ``earliestDate``/``latestDate`` typed exact (``lido00528``) or estimated
  (``lido00529``, whenever the date has a qualifier such as ``circa``, ``decade``, ``before``).
- ``rights_uri`` and ``credit_line`` -> ``rightsWorkWrap/rightsWorkSet`` (``rightsType`` with the
  URI as ``conceptID`` and its label as ``term``, then ``creditLine``).
- Record metadata -> ``recordWrap``: ``recordType`` item-level record (``lido00141``),
  ``recordSource`` (:attr:`LidoOptions.record_source`), ``recordRights``
  (:attr:`LidoOptions.record_rights_uri`), ``recordInfoSet`` with ``recordInfoLink``
  (:attr:`LidoOptions.record_info_base_url` + object id, when set) and ``recordMetadataDate``
  (``modified``).
- ``media`` -> ``resourceWrap`` with one ``resourceSet`` per asset: ``resourceID``, a full-size
  representation (``lido00464``) linking the IIIF image (``{service}/full/max/0/default.jpg``,
  ``/full/full/`` for Image API 2) with its pixel width/height, a thumbnail representation
  (``lido00451``), ``resourceType`` digital image and ``rightsResource`` (the asset's
  ``rights_uri`` if it has one, else the object's).
- ``iiif_manifest_url`` -> one more ``resourceRepresentation`` whose ``linkResource`` has
  ``formatResource="application/ld+json"``: in the first asset's ``resourceSet``, after its image
  representations (how the Paul Mellon Centre's LIDO links its IIIF manifests, quoted in
  github.com/ArtResearch/dt2c, ``test/Pharos/Datasets/Pmc/PhotoSpec.hs``); an object without
  media gets a ``resourceSet`` of its own holding only that representation and the
  ``resourceType`` term "IIIF Manifest" (the reference server's form).
  :func:`tap_museumcms.dialects.lido_in.map_lido` reads both back.

Terminology URIs are those of the LIDO Terminology (terminology.lido-schema.org) as used in the
official LIDO 1.1 example records.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from tap_museumcms.dates import parse_date_range
from tap_museumcms.text import needs_cleaning, strip_xml_illegal

LIDO_VERSION = "1.1"
LIDO_NS = "http://www.lido-schema.org"

_TERM = "http://terminology.lido-schema.org/"
TYPE_URI = _TERM + "lido00099"
"""Identifier type: URI (globally unique)."""
TYPE_LOCAL = _TERM + "lido00100"
"""Identifier type: local identifier."""
TYPE_INVENTORY_NUMBER = _TERM + "lido00113"
PREF_PREFERRED = _TERM + "lido00169"
EVENT_PRODUCTION = _TERM + "lido00007"
CATEGORY_HUMAN_MADE_OBJECT = _TERM + "lido00096"
RECORD_TYPE_ITEM = _TERM + "lido00141"
DATE_EXACT = _TERM + "lido00528"
DATE_ESTIMATED = _TERM + "lido00529"
RIGHTS_TYPE = _TERM + "lido00921"
REPRESENTATION_THUMBNAIL = _TERM + "lido00451"
REPRESENTATION_FULL = _TERM + "lido00464"
AAT_DIGITAL_IMAGES = "http://vocab.getty.edu/aat/300215302"
AAT_PIXELS = "http://vocab.getty.edu/aat/300266190"
AAT_WIDTH = "http://vocab.getty.edu/aat/300055647"
AAT_HEIGHT = "http://vocab.getty.edu/aat/300055644"
MANIFEST_FORMAT = "application/ld+json"
"""``formatResource`` of the link to the object's IIIF Presentation manifest."""
MANIFEST_RESOURCE_TYPE = "IIIF Manifest"
"""``resourceType`` term of a resource set that holds only the manifest link."""

_ID_TYPES = {"local": TYPE_LOCAL, "uri": TYPE_URI}

# Labels used when tap_museumcms.rights does not know a URI (it should know every canonical one).
_FALLBACK_LABELS = {
    "http://creativecommons.org/publicdomain/zero/1.0/": "CC0 1.0",
    "http://creativecommons.org/publicdomain/mark/1.0/": "Public Domain Mark 1.0",
}


@dataclass(frozen=True)
class LidoOptions:
    """Settings of the LIDO builder.

    Attributes:
        record_source: Name of the institution or system that supplies the records; goes to
            ``lidoRecID/@lido:source`` and ``recordSource/legalBodyName``.
        record_info_base_url: Base of the public web page of an object, e.g.
            ``"https://collection.example.org/objects/"``; the escaped object id is appended.
            ``None`` writes no ``recordInfoLink``.
        language: BCP 47 language of the metadata (``xml:lang``).
        record_rights_uri: Rights of the metadata record itself (CC0 by default).
        id_type: ``"local"`` (LIDO ``lido00100``) or ``"uri"`` (``lido00099``) for object ids,
            or any full terminology URI.
    """

    record_source: str = "tap-museumcms"
    record_info_base_url: str | None = None
    language: str = "en"
    record_rights_uri: str = "http://creativecommons.org/publicdomain/zero/1.0/"
    id_type: str = "local"


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


@functools.lru_cache(maxsize=1024)
def rights_label(uri: str) -> str:
    """Human label of a rights URI: ``tap_museumcms.rights`` first, a tiny fallback otherwise.

    Args:
        uri: A canonical rights URI, e.g. ``"http://rightsstatements.org/vocab/InC/1.0/"``.

    Returns:
        e.g. ``"In Copyright"``; the URI itself when nothing knows it.
    """
    try:
        from tap_museumcms.rights import UnknownRights, lookup_rights
    except ImportError:  # pragma: no cover - rights.py ships with the package
        return _FALLBACK_LABELS.get(uri, uri)
    try:
        return lookup_rights(uri).label
    except UnknownRights:
        return _FALLBACK_LABELS.get(uri, uri)


def _media(obj: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    media = obj.get("media")
    if type(media) is list:  # the usual case, without the slower ABC checks
        return [item for item in media if type(item) is dict or isinstance(item, Mapping)]
    if not isinstance(media, Iterable) or isinstance(media, str | bytes | Mapping):
        return []
    return [item for item in media if isinstance(item, Mapping)]


def image_urls(service: str) -> tuple[str, str]:
    """Full-size and thumbnail image URLs of a IIIF Image API service.

    Args:
        service: e.g. ``"https://img.example.org/iiif/3/m-88"``.

    Returns:
        ``("https://img.example.org/iiif/3/m-88/full/max/0/default.jpg",
        "https://img.example.org/iiif/3/m-88/full/400,/0/default.jpg")`` (both within Image API
        compliance level 1); Image API 2 services (``/iiif/2/`` in the URL) use ``full/full``
        for the full size.
    """
    base = service.rstrip("/")
    full = "full" if image_api_version(base) == 2 else "max"
    return f"{base}/full/{full}/0/default.jpg", f"{base}/full/400,/0/default.jpg"


#: Image services known to speak IIIF Image API 2 whose URLs do not say so: the Smithsonian's
#: IDS (its image requests use the size ``full``, which only Image API 2 has).
IMAGE_API_2_PREFIXES = ("https://ids.si.edu/ids/iiif/", "http://ids.si.edu/ids/iiif/")


def image_api_version(service: str) -> int:
    """Guess the IIIF Image API version of a service URL: 2 for ``.../iiif/2/...`` and the
    services of :data:`IMAGE_API_2_PREFIXES`, else 3."""
    if service.startswith(IMAGE_API_2_PREFIXES):
        return 2
    return 2 if "/iiif/2/" in service or service.endswith("/iiif/2") else 3


def _positive_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value > 0:
        return value
    if isinstance(value, str) and value.isdigit() and int(value) > 0:
        return int(value)
    return None


# ---------------------------------------------------------------- escaping and fragments


def _escape_text(value: str) -> str:
    """Escape character data the way libxml2 writes it: ``&``, ``<``, ``>`` and CR.

    ``]]>`` needs no rule of its own (its ``>`` is escaped); quotes stay as they are. A CR can
    only come from a setting (object texts have their line ends written as ``\n``).
    """
    if "&" in value:
        value = value.replace("&", "&amp;")
    if "<" in value:
        value = value.replace("<", "&lt;")
    if ">" in value:
        value = value.replace(">", "&gt;")
    if "\r" in value:
        value = value.replace("\r", "&#13;")
    return value


def _escape_attribute(value: str) -> str:
    """Escape a double-quoted attribute value the way libxml2 writes it: the text escapes, then
    ``"`` and the TAB and LF that attribute-value normalisation would turn into spaces."""
    value = _escape_text(value)
    if '"' in value:
        value = value.replace('"', "&quot;")
    if "\t" in value:
        value = value.replace("\t", "&#9;")
    if "\n" in value:
        value = value.replace("\n", "&#10;")
    return value


def _xml_legal(value: str, setting: str) -> str:
    """A setting written as it is: refused, like lxml refused it, when XML cannot hold it."""
    if strip_xml_illegal(value) != value:
        raise ValueError(
            f"All strings must be XML compatible: {setting} holds a character XML 1.0 forbids"
        )
    return value


def _attributes(attrs: Mapping[str, str]) -> str:
    """`` lido:name="value"`` per attribute, in order; the name ``lang`` is ``xml:lang``."""
    return "".join(
        f' {"xml:lang" if name == "lang" else "lido:" + name}="{_escape_attribute(value)}"'
        for name, value in attrs.items()
    )


def _start(tag: str, **attrs: str) -> str:
    """The start tag of a ``lido:`` element."""
    return f"<lido:{tag}{_attributes(attrs)}>"


def _leaf(tag: str, text: str | None, **attrs: str) -> str:
    """A whole element that holds only ``text`` (escaped here); ``None``: an empty element."""
    if text is None:
        return f"<lido:{tag}{_attributes(attrs)}/>"
    return f"<lido:{tag}{_attributes(attrs)}>{_escape_text(text)}</lido:{tag}>"


def _concept(tag: str, uri: str | None, term: str | None, lang: str, **attrs: str) -> str:
    """A concept element: ``conceptID`` (the URI) then ``term`` with ``xml:lang``."""
    inner = (_leaf("conceptID", uri, type=TYPE_URI) if uri else "") + (
        _leaf("term", term, lang=lang) if term else ""
    )
    if not inner:
        return f"<lido:{tag}{_attributes(attrs)}/>"
    return f"{_start(tag, **attrs)}{inner}</lido:{tag}>"


def _nest(path: str, **attrs: str) -> tuple[str, str]:
    """Start and end tags of the nested elements of ``path`` (``"a/b/c"``), ``attrs`` on the
    innermost one: what goes before and after its text."""
    tags = path.split("/")
    start = "".join(f"<lido:{tag}>" for tag in tags[:-1]) + _start(tags[-1], **attrs)
    return start, "".join(f"</lido:{tag}>" for tag in reversed(tags))


@functools.lru_cache(maxsize=1024)
def _rights_type(uri: str, lang: str) -> str:
    """The ``rightsType`` element of a rights URI: the URI and its label, serialised once."""
    return _concept("rightsType", uri, _text(rights_label(uri)), lang, type=RIGHTS_TYPE)


def _measurement_start(aat: str, label: str, lang: str) -> str:
    """A pixel size up to its value: ``resourceMeasurementsSet``, its type and unit."""
    return (
        _start("resourceMeasurementsSet")
        + _concept("measurementType", aat, label, lang)
        + _concept("measurementUnit", AAT_PIXELS, "pixels", lang)
        + "<lido:measurementValue>"
    )


def _date_fragments(date_type: str) -> tuple[str, str, str]:
    """The ``date`` element around its earliest and latest date, both typed ``date_type``."""
    earliest = _nest("date/earliestDate", type=date_type)[0]
    latest = _start("latestDate", type=date_type)
    return earliest, f"</lido:earliestDate>{latest}", "</lido:latestDate></lido:date>"


# Fragments that no option changes.
_DATE_EXACT = _date_fragments(DATE_EXACT)
_DATE_ESTIMATED = _date_fragments(DATE_ESTIMATED)
_RESOURCE_ID = _nest("resourceID", type=TYPE_LOCAL)
_FULL_IMAGE = _start("resourceRepresentation", type=REPRESENTATION_FULL) + _start(
    "linkResource", formatResource="image/jpeg"
)
_THUMBNAIL = _nest("resourceRepresentation", type=REPRESENTATION_THUMBNAIL)[0] + _start(
    "linkResource", formatResource="image/jpeg"
)
_MANIFEST_LINK = _nest("resourceRepresentation/linkResource", formatResource=MANIFEST_FORMAT)
_MANIFEST_ONLY_TYPE = (
    _nest("resourceType")[0]
    + _leaf("term", MANIFEST_RESOURCE_TYPE, lang="en")
    + "</lido:resourceType>"
)
_MEASUREMENT_END = "</lido:measurementValue></lido:resourceMeasurementsSet>"


class _Fragments:
    """The fixed markup of every record for one :class:`LidoOptions`, serialised once.

    Pairs are what goes before and after a text of the object, e.g. ``title`` is
    ``('<lido:titleWrap><lido:titleSet><lido:appellationValue lido:pref="..." xml:lang="en">',
    '</lido:appellationValue></lido:titleSet></lido:titleWrap>')``; ``identification`` lists
    the optional ``(field, start, end)`` of ``objectIdentificationWrap`` after the title.
    """

    __slots__ = (
        "actor",
        "admin",
        "caption",
        "credit",
        "digital_images",
        "display_date",
        "event",
        "head",
        "height",
        "identification",
        "info_link",
        "lang",
        "record",
        "title",
        "width",
        "work_type",
    )

    def __init__(self, options: LidoOptions) -> None:
        lang = self.lang = _text(options.language) or "en"
        source = _text(options.record_source) or "unknown"
        id_type = _xml_legal(_ID_TYPES.get(options.id_type, options.id_type), "id_type")
        record_rights = _xml_legal(options.record_rights_uri, "record_rights_uri")
        self.head = f'<lido:lido xmlns:lido="{LIDO_NS}">' + _start(
            "lidoRecID", source=source, type=id_type
        )
        self._prepare_descriptive(lang)
        self.admin = "</lido:descriptiveMetadata>" + _start("administrativeMetadata", lang=lang)
        self.credit = _nest("creditLine", lang=lang)
        source_start, source_end = _nest("recordSource/legalBodyName/appellationValue")
        self.record = (
            _nest("recordWrap/recordID", type=id_type)[0],
            "</lido:recordID>"
            + _concept("recordType", RECORD_TYPE_ITEM, "Item-level record", lang)
            + f"{source_start}{_escape_text(source)}{source_end}"
            + f"<lido:recordRights>{_rights_type(record_rights, lang)}</lido:recordRights>",
        )
        self.info_link = _nest("recordInfoLink", formatResource="text/html")
        self.digital_images = _concept("resourceType", AAT_DIGITAL_IMAGES, "digital images", lang)
        self.caption = _nest("resourceDescription", lang=lang)
        self.width = _measurement_start(AAT_WIDTH, "width", lang)
        self.height = _measurement_start(AAT_HEIGHT, "height", lang)

    def _prepare_descriptive(self, lang: str) -> None:
        """The fragments of ``descriptiveMetadata``."""
        work_type = _nest(
            "objectClassificationWrap/objectWorkTypeWrap/objectWorkType/term", lang=lang
        )
        self.work_type = (
            "</lido:lidoRecID>"
            + _concept("category", CATEGORY_HUMAN_MADE_OBJECT, "Human-made object", lang)
            + _start("descriptiveMetadata", lang=lang)
            + work_type[0],
            work_type[1] + "<lido:objectIdentificationWrap>",
        )
        self.title = _nest("titleWrap/titleSet/appellationValue", pref=PREF_PREFERRED, lang=lang)
        self.identification = tuple(
            (field, *_nest(path, **attrs))
            for field, path, attrs in (
                (
                    "accession_number",
                    "repositoryWrap/repositorySet/workID",
                    {"type": TYPE_INVENTORY_NUMBER},
                ),
                (
                    "description",
                    "objectDescriptionWrap/objectDescriptionSet/descriptiveNoteValue",
                    {"lang": lang},
                ),
                (
                    "dimensions",
                    "objectMeasurementsWrap/objectMeasurementsSet/displayObjectMeasurements",
                    {"lang": lang},
                ),
                (
                    "medium",
                    "objectMaterialsTechWrap/objectMaterialsTechSet/displayMaterialsTech",
                    {"lang": lang},
                ),
            )
        )
        event = _nest("eventWrap/eventSet/event")
        self.event = (
            event[0] + _concept("eventType", EVENT_PRODUCTION, "Production", lang),
            event[1],
        )
        actor_name = _nest("actorInRole/actor/nameActorSet/appellationValue", pref=PREF_PREFERRED)
        self.actor = (
            _start("eventActor") + _start("displayActorInRole", lang=lang),
            "</lido:displayActorInRole>" + actor_name[0],
            actor_name[1] + "</lido:eventActor>",
        )
        self.display_date = _nest("eventDate/displayDate", lang=lang)[0]


@functools.lru_cache(maxsize=64)
def _fragments(options: LidoOptions) -> _Fragments:
    """The prepared fragments of ``options`` (a frozen dataclass, so a cache key)."""
    return _Fragments(options)


# ---------------------------------------------------------------- the object's texts

_OBJECT_FIELDS = (
    "object_id",
    "object_type",
    "title",
    "accession_number",
    "description",
    "dimensions",
    "medium",
    "maker",
    "creation_date_iso",
    "creation_date_raw",
    "creation_date_display",
    "rights_uri",
    "credit_line",
    "modified",
    "iiif_manifest_url",
)
_MEDIA_FIELDS = ("media_id", "iiif_image_service", "image_url", "format", "caption", "rights_uri")

_Texts = dict[str, str | None]


def _read_texts(source: Mapping[str, Any], names: tuple[str, ...]) -> tuple[_Texts, _Texts]:
    """:func:`_text` of each named value of ``source``, and the same escaped as character data.

    The common case (strings with nothing to delete, no CR, nothing to escape) costs one scan
    of the joined strings instead of one per value, and the two dicts are then one.
    """
    values = [source.get(name) for name in names]
    try:
        joined = "".join([value for value in values if value is not None])
        # One C pass settles most catalogue text: no printable character is XML-illegal or a
        # CR. A tab, a line end or a non-breaking space sends the text to the regex scan.
        clean = joined.isprintable() or ("\r" not in joined and not needs_cleaning(joined))
    except TypeError:  # a number or another non-string value
        clean = False
    if clean:
        texts = [(value.strip() or None) if value else None for value in values]
    else:
        texts = [_text(value) for value in values]
        joined = "".join([text for text in texts if text is not None])
    plain = dict(zip(names, texts, strict=True))
    if "&" not in joined and "<" not in joined and ">" not in joined:
        return plain, plain
    return plain, {name: _escape_text(text) if text else text for name, text in plain.items()}


_date_range = functools.lru_cache(maxsize=4096)(parse_date_range)
""":func:`tap_museumcms.dates.parse_date_range`, remembered: catalogues repeat their dates."""


def _creation_date(text: _Texts) -> tuple[str | None, tuple[str, str, bool] | None]:
    """Display date and parsed range (earliest, latest, estimated): the ISO date wins for the
    range, the display text for show."""
    iso, raw, shown = (
        text["creation_date_iso"],
        text["creation_date_raw"],
        text["creation_date_display"],
    )
    display = shown or raw or iso
    if iso:
        # Already a real ISO date, year-month or year (the models checked it): taken as it is,
        # never re-read as text ("1900-12" is December 1900, not 1900 to 1912).
        day = iso[:10]
        return display, (day, day, False)
    for candidate in (raw, shown):
        parsed = _date_range(candidate)
        if parsed is not None:
            return display, (parsed.earliest, parsed.latest, parsed.qualifier is not None)
    return display, None


# ---------------------------------------------------------------- the record


def _descriptive(parts: list[str], f: _Fragments, text: _Texts, xml: _Texts) -> None:
    """``descriptiveMetadata``: work type, title, identification, the production event."""
    parts += (f.work_type[0], xml["object_type"] or "not specified", f.work_type[1])
    parts += (f.title[0], xml["title"] or "[untitled]", f.title[1])
    for field, start, end in f.identification:
        value = xml[field]
        if value:
            parts += (start, value, end)
    parts.append("</lido:objectIdentificationWrap>")
    maker = xml["maker"]
    display, dates = _creation_date(text)
    if not (maker or display):
        return
    parts.append(f.event[0])
    if maker:
        parts += (f.actor[0], maker, f.actor[1], maker, f.actor[2])
    if display:
        parts += (f.display_date, _escape_text(display), "</lido:displayDate>")
        if dates is not None:
            earliest, latest, estimated = dates
            before, between, after = _DATE_ESTIMATED if estimated else _DATE_EXACT
            parts += (before, _escape_text(earliest), between, _escape_text(latest), after)
        parts.append("</lido:eventDate>")
    parts.append(f.event[1])


def _administrative(
    parts: list[str],
    f: _Fragments,
    obj: Mapping[str, Any],
    text: _Texts,
    xml: _Texts,
    options: LidoOptions,
) -> None:
    """``administrativeMetadata``: rights of the work, the record, the resources."""
    parts.append(f.admin)
    rights_uri, credit_line = text["rights_uri"], xml["credit_line"]
    if rights_uri or credit_line:
        parts.append("<lido:rightsWorkWrap><lido:rightsWorkSet>")
        _rights(parts, f, rights_uri, credit_line)
        parts.append("</lido:rightsWorkSet></lido:rightsWorkWrap>")
    parts += (f.record[0], xml["object_id"], f.record[1])
    modified = xml["modified"]
    if options.record_info_base_url or modified:
        parts.append("<lido:recordInfoSet>")
        if options.record_info_base_url:
            link = _text(options.record_info_base_url + quote(text["object_id"], safe=""))
            # Never None: the percent-escaped id (not empty, no whitespace) ends the link.
            parts += (f.info_link[0], _escape_text(link or ""), f.info_link[1])
        if modified:
            parts += ("<lido:recordMetadataDate>", modified, "</lido:recordMetadataDate>")
        parts.append("</lido:recordInfoSet>")
    parts.append("</lido:recordWrap>")
    media = _media(obj)
    manifest = xml["iiif_manifest_url"]
    if media or manifest:
        parts.append("<lido:resourceWrap>")
        for index, item in enumerate(media):
            first_manifest = manifest if index == 0 else None
            _resource_set(parts, f, item, rights_uri, credit_line, first_manifest)
        if manifest and not media:
            parts += ("<lido:resourceSet>", _MANIFEST_LINK[0], manifest, _MANIFEST_LINK[1])
            parts += (_MANIFEST_ONLY_TYPE, "</lido:resourceSet>")
        parts.append("</lido:resourceWrap>")
    parts.append("</lido:administrativeMetadata>")


def _rights(parts: list[str], f: _Fragments, rights_uri: str | None, credit: str | None) -> None:
    """``rightsType`` of a rights URI (not escaped yet) and ``creditLine`` (escaped)."""
    if rights_uri:
        parts.append(_rights_type(rights_uri, f.lang))
    if credit:
        parts += (f.credit[0], credit, f.credit[1])


def _resource_set(
    parts: list[str],
    f: _Fragments,
    item: Mapping[str, Any],
    object_rights: str | None,
    credit_line: str | None,
    manifest: str | None = None,
) -> None:
    """One asset: its id, image links with pixel sizes, the manifest link, caption, rights."""
    text, xml = _read_texts(item, _MEDIA_FIELDS)
    parts.append("<lido:resourceSet>")
    if xml["media_id"]:
        parts += (_RESOURCE_ID[0], xml["media_id"], _RESOURCE_ID[1])
    service, image_url = text["iiif_image_service"], text["image_url"]
    if service:
        full, thumbnail = image_urls(service)
        # The link is a IIIF Image API derivative (``default.jpg``): JPEG, whatever the master.
        parts += (_FULL_IMAGE, _escape_text(full), "</lido:linkResource>")
        _pixel_sizes(parts, f, item)
        parts += ("</lido:resourceRepresentation>", _THUMBNAIL, _escape_text(thumbnail))
        parts.append("</lido:linkResource></lido:resourceRepresentation>")
    elif image_url:
        # No IIIF service (the Met, Cleveland): the image file itself, in its own format.
        fmt = text["format"]
        attributes = {"formatResource": fmt} if fmt else {}
        parts.append(_start("resourceRepresentation", type=REPRESENTATION_FULL))
        parts.append(_leaf("linkResource", image_url, **attributes))
        _pixel_sizes(parts, f, item)
        parts.append("</lido:resourceRepresentation>")
    if manifest:
        parts += (_MANIFEST_LINK[0], manifest, _MANIFEST_LINK[1])
    parts.append(f.digital_images)
    if xml["caption"]:
        parts += (f.caption[0], xml["caption"], f.caption[1])
    rights_uri = text["rights_uri"] or object_rights
    if rights_uri or credit_line:
        parts.append("<lido:rightsResource>")
        _rights(parts, f, rights_uri, credit_line)
        parts.append("</lido:rightsResource>")
    parts.append("</lido:resourceSet>")


def _pixel_sizes(parts: list[str], f: _Fragments, item: Mapping[str, Any]) -> None:
    """The image's width and height in pixels, when known."""
    for start, key in ((f.width, "width"), (f.height, "height")):
        size = _positive_int(item.get(key))
        if size is not None:
            parts += (start, str(size), _MEASUREMENT_END)


def build_lido_xml(obj: Mapping[str, Any], options: LidoOptions = LidoOptions()) -> str:
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
        ValueError: the object has no usable ``object_id`` (the tap never emits such objects),
            or ``options.id_type`` / ``options.record_rights_uri`` holds a character XML forbids.
    """
    text, xml = _read_texts(obj, _OBJECT_FIELDS)
    if not text["object_id"]:
        raise ValueError("object has no object_id")
    f = _fragments(options)
    parts = [f.head, xml["object_id"]]
    _descriptive(parts, f, text, xml)
    _administrative(parts, f, obj, text, xml, options)
    parts.append("</lido:lido>")
    return "".join(parts)


def lido_record(obj: Mapping[str, Any], options: LidoOptions = LidoOptions()) -> dict[str, Any]:
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
