"""Read a LIDO record (1.0 or 1.1) into the tap's object contract: the reader half of OAI-PMH.

The OAI-PMH dialect hands :func:`map_lido` the ``<lido:lido>`` element of a record's
``<metadata>`` and adds ``ObjectID``, ``modified`` and ``deleted`` itself. The result is a plain
dict in the JSONL contract's shape, ready for ``validate_record("objects", ...)``::

    map_lido(lido)
    -> {"lido_rec_id": "DE-Mb112/lido-obj00154983", "title": "La Primavera",
        "object_type": "Gemälde", "maker": "Botticelli, Sandro",
        "creation_date_display": "um 1480 oder 1482/1485", "medium": "Tempera auf Pappelholz",
        "dimensions": "203 x 314 cm", "accession_number": "8360 (Inv. 1890)",
        "rights_uri": "http://rightsstatements.org/vocab/NoC-OKLR/1.0/",
        "media": [{"MediaID": "p_gkka1982_01929", "image_url": "http://www.bildindex.de/...",
                   "width": 1200, "format": "image/jpeg", "is_primary": True, ...}, ...],
        "repository_name": "Uffizien", ...}

It never raises on odd or incomplete input: what is missing is simply absent. The validation
contract then decides (a record without a title is quarantined there, not here).

Reading rules (the decisions a LIDO provider would ask about):

- Text: all text of the element, ends stripped, blank meaning absent. A line break followed by
  indentation is pretty-printed wrapping and becomes a space (``"n.\\n      Chr."`` ->
  ``"n. Chr."``); a line break at the start of a line is the text's own and is kept.
- Several descriptive or administrative blocks (LIDO 1.0 records repeat them per language):
  each field comes from the first block that has it.
- Alternatives (``appellationValue``, ``displayActorInRole``, ``displayDate``...): the
  ``pref="preferred"`` ones (1.0 wording, or ``lido00169`` in 1.1), among them the first in the
  block's ``xml:lang`` (inherited as XML says), else the first.
- A concept (``objectWorkType``, ``termMaterialsTech``, ``rightsType``): its own ``lido:term``
  (not an ``addedSearchTerm``), else the ``skos:Concept/skos:prefLabel`` (LIDO 1.1), else a
  search term; its identifiers are ``conceptID`` and ``skos:Concept/@rdf:about``.
- ``title``: the first ``titleSet`` that has a value. ``object_type``: every ``objectWorkType``,
  distinct labels joined by ``"; "`` (as are ``dimensions``, ``medium``, ``credit_line``).
- ``accession_number``: the first ``workID`` typed as an inventory number (``lido00113``,
  "inventory number", "Inventarnummer"), else the first ``workID``; ``repository_name`` (extra)
  is the name of that ``repositorySet``. ``department`` has no LIDO home and stays absent.
- The making events: Production or Creation by identifier (``lido00007``, ``lido00012``, the
  LIDO 1.0 ``eventType/production`` and ``eventType/creation``, AAT ``300054713``, CIDOC CRM /
  Erlangen CRM ``E12_Production`` and ``E65_Creation``, museum-digital event type 1) or by term
  ("Production", "Creation", "Herstellung", "Hergestellt"). When a record has none, the narrower
  kinds of making seen in real records stand in: execution of a design (``lido00031``), photography
  (``lido01127``), production of a printing form (``lido01089``) or of an exemplar
  (``lido01096``), museum-digital 7 (written) and 10 (photographed).
- ``maker``: per actor of those events, ``displayActorInRole``, else the preferred name in
  ``actorInRole/actor/nameActorSet``; distinct makers joined by ``"; "``.
- ``medium``: ``objectMaterialsTechWrap`` (LIDO 1.1), else the making events'
  ``eventMaterialsTech`` (1.0), else a non-specified event's (``lido00003``, museum-digital puts
  materials there); ``displayMaterialsTech``, else the material and technique terms.
- Dates (the first making event with an ``eventDate``): ``creation_date_display`` is its
  ``displayDate``, else ``"earliest–latest"`` (just ``earliest`` when both are equal).
  ``creation_date_iso`` is set only when the event states one date exactly: ``earliestDate`` is an
  ISO 8601 year, year-month or date that the models accept (a datetime counts as its date), it is
  not typed estimated (``lido00529``, "estimated", "approximate"), and ``latestDate`` is absent,
  equal, or closes the same whole calendar year or month (``1923-01-01``/``1923-12-31`` ->
  ``"1923"``, ``1921-07-01``/``1921-07-31`` -> ``"1921-07"``). Anything else (a range, an
  estimate, BC years) leaves it absent, the text still in ``creation_date_display``. Round trip
  with :mod:`tap_museumcms.lido`: the writer puts :func:`tap_museumcms.dates.parse_date_range`'s
  bounds in ``earliestDate``/``latestDate``, exact when the range has no qualifier, so an object
  with ``creation_date_iso`` ``"1889-06-01"``, ``"1889-06"`` or ``"1775"`` comes back with the
  same value, and an object without one gets the single exact date its display text states
  (``"June 1889"`` -> ``"1889-06"``), or none. (A year-month that ``parse_date_range`` reads as
  a short range of years, ``"1900-12"`` -> 1900-1912, is written as that range and so comes back
  without an ISO date.)
- Rights (``rightsWorkSet/rightsType``): every concept identifier, then every term or label,
  through :func:`tap_museumcms.rights.normalize_rights_uri`; the first one it knows is
  ``rights_uri``. When it knows none, ``rights_uri`` is absent and the original texts go to the
  extra key ``rights_work`` (a list): one local term ("gemeinfrei") must not quarantine the
  object. Media rights (``rightsResource``) work the same, the leftovers in the item's
  ``rights_resource``.
- Other extras: ``repository_name``, ``record_info_link`` (the object's web page, HTML first).

IIIF Presentation manifest (``iiif_manifest_url``). A ``resourceRepresentation`` whose
``linkResource`` has ``formatResource="application/ld+json"`` (media type parameters allowed) or
whose ``lido:type`` is an ``iiif.io/api/presentation`` URI links the manifest; so does any link
of a ``resourceSet`` whose ``resourceType`` names a "IIIF Manifest". This is how the Paul Mellon
Centre's LIDO (OAI-PMH) links its manifests, a JSON-LD representation beside the image
representations of a resource set (quoted in github.com/ArtResearch/dt2c, commit b22b89f,
``test/Pharos/Datasets/Pmc/PhotoSpec.hs``), and how the project's reference server renders one:
a resource set of its own at the end of ``resourceWrap``, resource type "IIIF Manifest".
:mod:`tap_museumcms.lido` writes the first form in the first asset's resource set, the second
for an object without media. A set that holds only manifest links is not a media item.

Media: one item per other ``resourceSet`` (a set whose every link declares a non-image media
type, ``text/html`` say, is skipped):

- ``MediaID``: the ``resourceID``, else ``"<lidoRecID>#resource-<n>"`` (n counts the sets from 1).
- The representation used: the provided image (``lido00464``, ``provided_representation``,
  ``image_master``...) before untyped ones, previews and thumbnails (``lido00451``); within a
  rank the largest pixel width, then the first.
- ``iiif_image_service``: the service base of a IIIF Image API link
  (``{base}/{region}/{size}/{rotation}/{quality}.{format}``, ``%2C`` allowed, or
  ``{base}/info.json``): the chosen representation's, else another one's. Without one,
  ``image_url`` is the chosen link. Links (and the manifest's) are passed on as found: one that
  is not an absolute http(s) URL gets the record quarantined by the models, as in the JSONL
  contract (the reference server's OAI face expects exactly that).
- ``width``/``height``: the chosen representation's ``resourceMeasurementsSet`` typed width or
  height (words in English or German, AAT or Wikidata concepts) in pixels (or no unit), as ints.
- ``format``: ``formatResource`` when it is a media type (not ``image/iiif``), else the media
  type of its file extension (``jpg``) or of the IIIF link's format.
- ``caption``: ``resourceDescription``. ``is_primary``: the set with the lowest
  ``lido:sortorder``, else the first whose set or link is ``pref="preferred"``, else the first.
"""

from __future__ import annotations

import calendar
import re
from datetime import date
from typing import Any
from urllib.parse import unquote, urlsplit

from lxml import etree

from tap_museumcms.rights import normalize_rights_uri

LIDO_NS = "http://www.lido-schema.org"
SKOS_NS = "http://www.w3.org/2004/02/skos/core#"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_L = f"{{{LIDO_NS}}}"
_SKOS = f"{{{SKOS_NS}}}"
_ABOUT = f"{{{RDF_NS}}}about"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_T = "http://terminology.lido-schema.org/"

_PREFERRED = frozenset({"preferred", _T + "lido00169"})

_PRODUCTION_IDS = frozenset(
    {
        _T + "lido00007",
        _T + "lido00012",
        _T + "eventtype/production",
        _T + "eventtype/creation",
        "http://vocab.getty.edu/aat/300054713",
        "http://event-types.museum-digital.org/1",
    }
)
_PRODUCTION_SUFFIXES = ("/e12_production", "/e65_creation")
_PRODUCTION_TERMS = frozenset({"production", "creation", "herstellung", "hergestellt"})
_MAKING_IDS = frozenset(
    {
        _T + "lido00031",
        _T + "lido01089",
        _T + "lido01096",
        _T + "lido01127",
        "http://event-types.museum-digital.org/7",
        "http://event-types.museum-digital.org/10",
    }
)
_UNSPECIFIED_IDS = frozenset({_T + "lido00003"})

_PROVIDED = frozenset(
    {
        _T + "lido00464",
        _T + "resourcerepresentation_type/provided_representation",
        "provided_image",
        "provided image",
        "image_master",
    }
)
_PREVIEW = frozenset(
    {
        _T + "resourcerepresentation_type/preview_representation",
        "image_preview",
        "image_overview",
        "preview",
    }
)
_THUMBNAIL = frozenset({_T + "lido00451", "image_thumb", "image_thumbnail", "thumb", "thumbnail"})

_WIDTH = frozenset(
    {
        "width",
        "breite",
        "http://vocab.getty.edu/aat/300055647",
        "http://www.wikidata.org/wiki/q35059",
    }
)
_HEIGHT = frozenset(
    {
        "height",
        "höhe",
        "http://vocab.getty.edu/aat/300055644",
        "http://www.wikidata.org/wiki/q208826",
    }
)
_PIXELS = frozenset(
    {
        "pixel",
        "pixels",
        "px",
        "http://vocab.getty.edu/aat/300266190",
        "http://www.wikidata.org/wiki/q355198",
    }
)

_MIME_BY_EXTENSION = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "tif": "image/tiff",
    "tiff": "image/tiff",
    "png": "image/png",
    "gif": "image/gif",
    "jp2": "image/jp2",
    "webp": "image/webp",
    "pdf": "application/pdf",
}
_MEDIA_TYPE_RE = re.compile(r"[a-z]+/[a-z0-9][\w.+-]*", re.IGNORECASE)
_ISO_RE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2})(?:[Tt ].*)?)?)?")

_IIIF_SEGMENTS = (
    re.compile(r"full|square|\d+,\d+,\d+,\d+|pct:[\d.]+,[\d.]+,[\d.]+,[\d.]+"),
    re.compile(r"full|\^?max|\^?\d+,|\^?,\d+|\^?pct:[\d.]+|\^?!?\d+,\d+"),
    re.compile(r"!?\d+(?:\.\d+)?"),
    re.compile(
        r"(?:color|colour|gray|grey|bitonal|default|native)\.(jpe?g|tiff?|png|gif|jp2|pdf|webp)"
    ),
)


# --- text and concepts ---------------------------------------------------------------------------


def element_text(element: etree._Element | None) -> str | None:
    """All text of an element, pretty-printed line wrapping undone; None when blank.

    A line break followed by indentation is a wrapped line (XML pretty-printers and hand-edited
    records wrap long text that way) and becomes one space; a line break at the start of a line
    is the text's own and is kept. Ends and trailing spaces are stripped.

    Args:
        element: e.g. ``<lido:appellationValue>Sardeis / Lydien, 211-244 n.\n
            Chr.</lido:appellationValue>``.

    Returns:
        ``"Sardeis / Lydien, 211-244 n. Chr."``; ``None`` for a missing or blank element.
    """
    if element is None:
        return None
    lines = "".join(element.itertext()).split("\n")
    kept = [lines[0].rstrip()]
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and kept[-1] and line.strip():
            kept[-1] = f"{kept[-1]} {line.strip()}"
        else:
            kept.append(line.strip())
    return "\n".join(kept).strip() or None


def _norm(value: str) -> str:
    """A label or URI as compared: lower case, ``https`` as ``http``, no trailing slash."""
    key = " ".join(value.split()).lower().rstrip("/")
    return "http://" + key[8:] if key.startswith("https://") else key


def _lang_of(element: etree._Element) -> str | None:
    """The element's language (``xml:lang``, inherited), primary subtag only: ``"de"``."""
    for node in (element, *element.iterancestors()):
        lang = node.get(_XML_LANG)
        if lang:
            return lang.split("-")[0].strip().lower() or None
    return None


def _pick(elements: list[etree._Element], lang: str | None) -> str | None:
    """The text of the best alternative: preferred, then in ``lang``, then the first."""
    found = [(element, text) for element in elements if (text := element_text(element))]
    if not found:
        return None
    preferred = [pair for pair in found if (pair[0].get(_L + "pref") or "").strip() in _PREFERRED]
    candidates = preferred or found
    if lang:
        for element, text in candidates:
            if _lang_of(element) == lang:
                return text
    return candidates[0][1]


def _join(values: list[str | None], separator: str = "; ") -> str | None:
    """Distinct non-empty values in order, joined: ``["a", None, "b", "a"]`` -> ``"a; b"``."""
    distinct = list(dict.fromkeys(value for value in values if value))
    return separator.join(distinct) or None


def _distinct(values: list[str | None]) -> list[str]:
    return list(dict.fromkeys(value for value in values if value))


def concept_label(concept: etree._Element, lang: str | None) -> str | None:
    """The label of a LIDO concept element (``objectWorkType``, ``rightsType``...).

    Args:
        concept: e.g. ``<lido:objectWorkType><skos:Concept rdf:about="...aat/300033618">
            <skos:prefLabel xml:lang="de">Gemälde</skos:prefLabel>...``.
        lang: The record's language, e.g. ``"de"``.

    Returns:
        Its own ``lido:term``, else the ``skos:prefLabel``, else a search term, on one line
        (labels carry no line breaks; pretty-printed ones are joined): ``"Gemälde"``.
    """
    terms = concept.findall(_L + "term")
    own = [t for t in terms if (t.get(_L + "addedSearchTerm") or "").strip().lower() != "yes"]
    labels = concept.findall(f"{_SKOS}Concept/{_SKOS}prefLabel")
    label = _pick(own, lang) or _pick(labels, lang) or _pick(terms, lang)
    return " ".join(label.split()) if label else None


def concept_ids(concept: etree._Element) -> list[str]:
    """A concept's identifiers: ``conceptID`` texts and ``skos:Concept/@rdf:about``."""
    ids = [element_text(element) for element in concept.findall(_L + "conceptID")]
    ids += [(element.get(_ABOUT) or "").strip() for element in concept.findall(_SKOS + "Concept")]
    return _distinct(ids)


def _concept_texts(concept: etree._Element) -> list[str]:
    """Every term and label of a concept (search terms and SKOS labels included)."""
    elements = [*concept.findall(_L + "term"), *concept.findall(f"{_SKOS}Concept/{_SKOS}prefLabel")]
    return _distinct([" ".join(text.split()) for e in elements if (text := element_text(e))])


def _keys(element: etree._Element | None) -> set[str]:
    """Every text and ``rdf:about`` in a subtree, normalised: the words a concept answers to."""
    if element is None:
        return set()
    keys = {_norm(text) for text in element.itertext() if text.strip()}
    keys.update(_norm(node.get(_ABOUT) or "") for node in element.iter(_SKOS + "Concept"))
    return keys


# --- small value rules ---------------------------------------------------------------------------


def iso_date(value: str | None) -> str | None:
    """An ISO 8601 year, year-month or date the models accept; a datetime counts as its date.

    Args:
        value: e.g. ``"1889-06-01"``, ``"1775"``, ``"1889-06-01T10:00:00Z"``, ``"c. 1850"``.

    Returns:
        ``"1889-06-01"``, ``"1775"``, ``"1889-06-01"``; ``None`` for anything else, an impossible
        calendar date (``"1889-02-30"``) included.
    """
    match = _ISO_RE.fullmatch(value.strip()) if value else None
    if match is None:
        return None
    year, month, day = match.groups()
    if month is not None and not "01" <= month <= "12":
        return None
    if day is not None:
        try:
            date(int(year) or 2000, int(month), int(day))  # year 0000 is a leap year like 2000
        except ValueError:
            return None
        return f"{year}-{month}-{day}"
    return year if month is None else f"{year}-{month}"


def rights_from(concepts: list[etree._Element]) -> tuple[str | None, list[str]]:
    """The first known rights statement among concepts: identifiers first, then terms.

    Args:
        concepts: ``rightsType`` elements, e.g. with ``conceptID``
            ``"https://creativecommons.org/licenses/by-sa/4.0/"`` and term ``"CC BY-SA 4.0"``.

    Returns:
        ``("http://creativecommons.org/licenses/by-sa/4.0/", [])``; when none is known,
        ``(None, ["gemeinfrei"])``: the original texts, to keep as an extra field.
    """
    ids = [value for concept in concepts for value in concept_ids(concept)]
    terms = [value for concept in concepts for value in _concept_texts(concept)]
    for value in ids + terms:
        try:
            return normalize_rights_uri(value), []
        except ValueError:  # UnknownRights, or anything else odd about the value
            continue
    return None, _distinct(ids + terms)


def _positive_int(text: str | None) -> int | None:
    """``"1200"`` or ``"1200.0"`` -> 1200; anything else (blank, ``"ca. 1200"``, 0) -> None."""
    if not text:
        return None
    try:
        number = float(text.strip().replace(",", "."))
    except ValueError:
        return None
    return int(number) if number.is_integer() and 0 < number < 10**9 else None


# --- events: makers, dates, materials ------------------------------------------------------------


def _event_kind(event: etree._Element) -> str | None:
    """``"production"``, ``"making"`` (a narrower kind), ``"unspecified"`` or None."""
    event_type = event.find(_L + "eventType")
    if event_type is None:
        return None
    ids = {_norm(value) for value in concept_ids(event_type)}
    terms = {_norm(value) for value in _concept_texts(event_type)}
    if ids & _PRODUCTION_IDS or terms & _PRODUCTION_TERMS:
        return "production"
    if any(value.endswith(_PRODUCTION_SUFFIXES) for value in ids):
        return "production"
    if ids & _MAKING_IDS:
        return "making"
    return "unspecified" if ids & _UNSPECIFIED_IDS else None


def _events(descriptive: list[etree._Element]) -> tuple[list[etree._Element], list[etree._Element]]:
    """The making events (production/creation, else the narrower kinds) and unspecified ones."""
    kinds: dict[str, list[etree._Element]] = {"production": [], "making": [], "unspecified": []}
    for block in descriptive:
        for event in block.iterfind(f"{_L}eventWrap/{_L}eventSet/{_L}event"):
            kind = _event_kind(event)
            if kind:
                kinds[kind].append(event)
        if kinds["production"] or kinds["making"]:
            break  # a later block repeats the same events in another language
    return kinds["production"] or kinds["making"], kinds["unspecified"]


def _makers(events: list[etree._Element]) -> str | None:
    """Per actor: ``displayActorInRole``, else the preferred name; distinct, joined by ``"; "``."""
    makers: list[str | None] = []
    for event in events:
        for actor in event.iterfind(_L + "eventActor"):
            lang = _lang_of(actor)
            shown = _pick(actor.findall(_L + "displayActorInRole"), lang)
            if shown is None:
                path = f"{_L}actorInRole/{_L}actor/{_L}nameActorSet/{_L}appellationValue"
                shown = _pick(actor.findall(path), lang)
            makers.append(shown)
    return _join(makers)


def _is_estimated(*elements: etree._Element | None) -> bool:
    for element in elements:
        kind = (element.get(_L + "type") or "").lower() if element is not None else ""
        if "lido00529" in kind or "estimat" in kind or "approximat" in kind:
            return True
    return False


def _single_date(earliest: str | None, latest: str | None) -> str | None:
    """The one ISO date a range states exactly (see the module docstring), else None.

    ``("1775", "1775")`` -> ``"1775"``; ``("1923-01-01", "1923-12-31")`` -> ``"1923"``;
    ``("1921-07-01", "1921-07-31")`` -> ``"1921-07"``; ``("1480", "1485")`` -> None.
    """
    first = iso_date(earliest)
    if first is None or not latest:
        return first
    last = iso_date(latest)
    if last is None:
        return None
    if first == last:
        return first
    year = first[:4]
    if (first, last) in ((f"{year}-01-01", f"{year}-12-31"), (f"{year}-01", f"{year}-12")):
        return year
    if len(first) == len(last) == 10 and first[:7] == last[:7] and first.endswith("-01"):
        month_days = calendar.monthrange(int(year) or 2000, int(first[5:7]))[1]
        if int(last[8:]) == month_days:
            return first[:7]
    return None


def _event_date(events: list[etree._Element]) -> tuple[str | None, str | None]:
    """``(creation_date_display, creation_date_iso)`` of the first event that has a date."""
    for event in events:
        when = event.find(_L + "eventDate")
        if when is None:
            continue
        display = _pick(when.findall(_L + "displayDate"), _lang_of(when))
        earliest_el = when.find(f"{_L}date/{_L}earliestDate")
        latest_el = when.find(f"{_L}date/{_L}latestDate")
        earliest, latest = element_text(earliest_el), element_text(latest_el)
        if display is None:
            both = earliest and latest and earliest != latest
            display = f"{earliest}–{latest}" if both else earliest or latest
        if display is None:
            continue
        exact = not _is_estimated(earliest_el, latest_el)
        return display, _single_date(earliest, latest) if exact else None
    return None, None


def _materials(sets: list[etree._Element], lang: str | None) -> str | None:
    """``displayMaterialsTech`` of materials sets, else their material and technique terms."""
    shown = [
        _pick([element], lang) for s in sets for element in s.findall(_L + "displayMaterialsTech")
    ]
    if any(shown):
        return _join(shown)
    path = f"{_L}materialsTech/{_L}termMaterialsTech"
    return _join([concept_label(term, lang) for s in sets for term in s.iterfind(path)])


def _medium(
    descriptive: list[etree._Element],
    making: list[etree._Element],
    unspecified: list[etree._Element],
) -> str | None:
    """Object materials (1.1), else the making events' (1.0), else a non-specified event's."""
    path = f"{_L}objectIdentificationWrap/{_L}objectMaterialsTechWrap/{_L}objectMaterialsTechSet"
    for block in descriptive:
        medium = _materials(block.findall(path), _lang_of(block))
        if medium:
            return medium
    for events in (making, unspecified):
        sets = [s for event in events for s in event.findall(_L + "eventMaterialsTech")]
        medium = _materials(sets, _lang_of(sets[0]) if sets else None)
        if medium:
            return medium
    return None


# --- resources: the IIIF manifest and media ------------------------------------------------------


def _is_manifest_link(representation: etree._Element, link: etree._Element) -> bool:
    media_type = (link.get(_L + "formatResource") or "").strip().lower()
    kind = _norm(representation.get(_L + "type") or "")
    return media_type.startswith("application/ld+json") or "iiif.io/api/presentation" in kind


def _links(resource: etree._Element) -> list[tuple[etree._Element, etree._Element, str]]:
    """``(representation, linkResource, url)`` for every non-blank link of a resource set."""
    found = []
    for representation in resource.iterfind(_L + "resourceRepresentation"):
        for link in representation.iterfind(_L + "linkResource"):
            url = element_text(link)
            if url:
                found.append((representation, link, url))
    return found


def _split_manifests(
    resource: etree._Element,
) -> tuple[list[str], list[tuple[Any, Any, str]], bool]:
    """A resource set's manifest URLs, its other links, and whether its type names a manifest."""
    names_manifest = any("manifest" in key for key in _keys(resource.find(_L + "resourceType")))
    manifests, others = [], []
    for representation, link, url in _links(resource):
        if names_manifest or _is_manifest_link(representation, link):
            manifests.append(url)
        else:
            others.append((representation, link, url))
    return manifests, others, names_manifest


def iiif_service(url: str) -> tuple[str, str | None] | None:
    """The IIIF Image API service base of an image request or ``info.json`` URL.

    Args:
        url: e.g. ``"https://img.example.org/iiif/3/m-88/full/max/0/default.jpg"`` or
            ``"https://img.example.org/iiif/3/m-88/info.json"``.

    Returns:
        ``("https://img.example.org/iiif/3/m-88", "jpg")`` (base, format extension; None for
        ``info.json``), or None when the URL is not a IIIF Image API URL.
    """
    if "?" in url or "#" in url:
        return None
    if url.endswith("/info.json"):
        base, extension = url[: -len("/info.json")], None
    else:
        parts = url.rsplit("/", 4)
        if len(parts) != 5:
            return None
        tail = [unquote(part) for part in parts[1:]]
        matches = [
            pattern.fullmatch(part) for pattern, part in zip(_IIIF_SEGMENTS, tail, strict=True)
        ]
        if not all(matches):
            return None
        base, extension = parts[0], matches[3].group(1).lower()  # type: ignore[union-attr]
    try:
        identifier_path = urlsplit(base).path.strip("/")
    except ValueError:
        return None
    return (base, extension) if identifier_path else None


def _rank(representation: etree._Element) -> int:
    kind = _norm(representation.get(_L + "type") or "")
    if kind in _PROVIDED:
        return 0
    if kind in _THUMBNAIL:
        return 3
    return 2 if kind in _PREVIEW else 1


def _pixel_size(representation: etree._Element) -> tuple[int | None, int | None]:
    """Width and height in pixels from ``resourceMeasurementsSet`` (no unit counts as pixels)."""
    width = height = None
    for measure in representation.iterfind(_L + "resourceMeasurementsSet"):
        unit = measure.find(_L + "measurementUnit")
        if unit is not None and not _keys(unit) & _PIXELS:
            continue
        kind = _keys(measure.find(_L + "measurementType"))
        value = _positive_int(element_text(measure.find(_L + "measurementValue")))
        if kind & _WIDTH and width is None:
            width = value
        elif kind & _HEIGHT and height is None:
            height = value
    return width, height


def _media_type(link: etree._Element, url: str, iiif_extension: str | None) -> str | None:
    """``formatResource`` when it is a media type, else the type of its extension or the URL's."""
    declared = (link.get(_L + "formatResource") or "").strip()
    if _MEDIA_TYPE_RE.fullmatch(declared) and declared.lower() != "image/iiif":
        return declared
    extension = declared.lower().lstrip(".") or None
    if extension not in _MIME_BY_EXTENSION:
        extension = iiif_extension or url.rsplit(".", 1)[-1].lower()
    return _MIME_BY_EXTENSION.get(extension or "")


def _is_image_set(links: list[tuple[Any, Any, str]]) -> bool:
    """False when every link declares a media type that is not an image (``text/html``)."""
    declared = [(link.get(_L + "formatResource") or "").strip().lower() for _, link, _ in links]
    return not declared or not all(
        _MEDIA_TYPE_RE.fullmatch(value) and not value.startswith("image/") for value in declared
    )


def _image_fields(links: list[tuple[Any, Any, str]]) -> dict[str, Any]:
    """Service or URL, size and format from the best representation of a resource set."""
    sizes = [_pixel_size(representation) for representation, _, _ in links]
    best = min(range(len(links)), key=lambda i: (_rank(links[i][0]), -(sizes[i][0] or 0), i))
    _, link, url = links[best]
    fields: dict[str, Any] = {}
    own = iiif_service(url)
    service = own or next(filter(None, (iiif_service(other) for _, _, other in links)), None)
    if service is not None:
        fields["iiif_image_service"] = service[0]
    else:
        fields["image_url"] = url
    fields["width"], fields["height"] = sizes[best]
    fields["format"] = _media_type(link, url, own[1] if own else None)
    return fields


def _sortorder(element: etree._Element) -> int | None:
    try:
        return int((element.get(_L + "sortorder") or "").strip())
    except ValueError:
        return None


def _primary(resources: list[etree._Element]) -> int:
    """Index of the primary set: lowest ``sortorder``, else the first preferred, else 0."""
    ordered = [(order, i) for i, r in enumerate(resources) if (order := _sortorder(r)) is not None]
    if ordered:
        return min(ordered)[1]
    for index, resource in enumerate(resources):
        nodes = [resource, *resource.iterfind(f"{_L}resourceRepresentation/{_L}linkResource")]
        if any((node.get(_L + "pref") or "").strip() in _PREFERRED for node in nodes):
            return index
    return 0


def _media_item(
    resource: etree._Element, links: list[tuple[Any, Any, str]], fallback_id: str
) -> dict[str, Any]:
    """One ``media`` item in the contract's shape (see the module docstring)."""
    lang = _lang_of(resource)
    item: dict[str, Any] = {
        "MediaID": _pick(resource.findall(_L + "resourceID"), None) or fallback_id
    }
    if links:
        item.update(_image_fields(links))
    item["caption"] = _pick(resource.findall(_L + "resourceDescription"), lang)
    rights, leftovers = rights_from(resource.findall(f"{_L}rightsResource/{_L}rightsType"))
    item["rights_uri"] = rights
    if leftovers:
        item["rights_resource"] = leftovers
    return {key: value for key, value in item.items() if value is not None}


def _resources(
    administrative: list[etree._Element], rec_id: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """The media items and the IIIF manifest URL of the first block that has resource sets."""
    for block in administrative:
        resources = block.findall(f"{_L}resourceWrap/{_L}resourceSet")
        if not resources:
            continue
        manifest: str | None = None
        kept: list[tuple[etree._Element, list[tuple[Any, Any, str]], int]] = []
        for position, resource in enumerate(resources, start=1):
            manifests, others, names_manifest = _split_manifests(resource)
            manifest = manifest or next(iter(manifests), None)
            only_manifest = manifests and not others
            if only_manifest and (names_manifest or resource.find(_L + "resourceID") is None):
                continue
            if _is_image_set(others):
                kept.append((resource, others, position))
        media = [
            _media_item(resource, links, f"{rec_id or 'lido'}#resource-{position}")
            for resource, links, position in kept
        ]
        primary = _primary([resource for resource, _, _ in kept]) if kept else -1
        for index, item in enumerate(media):
            item["is_primary"] = index == primary
        return media, manifest
    return [], None


# --- the record ----------------------------------------------------------------------------------


def _first(blocks: list[etree._Element], read: Any) -> Any:
    """The first non-empty ``read(block, lang)`` over the blocks."""
    for block in blocks:
        value = read(block, _lang_of(block))
        if value:
            return value
    return None


_IDENT = f"{_L}objectIdentificationWrap/{_L}"
_DESCRIPTION = f"{_IDENT}objectDescriptionWrap/{_L}objectDescriptionSet/{_L}descriptiveNoteValue"
_DIMENSIONS = f"{_IDENT}objectMeasurementsWrap/{_L}objectMeasurementsSet/"
_DIMENSIONS += f"{_L}displayObjectMeasurements"


def _title(block: etree._Element, lang: str | None) -> str | None:
    path = f"{_L}objectIdentificationWrap/{_L}titleWrap/{_L}titleSet"
    for title_set in block.iterfind(path):
        title = _pick(title_set.findall(_L + "appellationValue"), lang)
        if title:
            return title
    return None


def _object_type(block: etree._Element, lang: str | None) -> str | None:
    path = f"{_L}objectClassificationWrap/{_L}objectWorkTypeWrap/{_L}objectWorkType"
    return _join([concept_label(work_type, lang) for work_type in block.iterfind(path)])


def _repository(block: etree._Element, lang: str | None) -> tuple[str | None, str | None] | None:
    """``(accession_number, repository_name)``: the inventory-number ``workID`` first."""
    sets = block.findall(f"{_L}objectIdentificationWrap/{_L}repositoryWrap/{_L}repositorySet")
    name_path = f"{_L}repositoryName/{_L}legalBodyName/{_L}appellationValue"
    found = [
        (s, w, text) for s in sets for w in s.findall(_L + "workID") if (text := element_text(w))
    ]
    for repository, work_id, text in found:
        kind = (work_id.get(_L + "type") or "").lower()
        if "lido00113" in kind or "inventor" in kind or "inventar" in kind:
            return text, _pick(repository.findall(name_path), lang)
    if found:
        return found[0][2], _pick(found[0][0].findall(name_path), lang)
    name = _join([_pick(s.findall(name_path), lang) for s in sets][:1])
    return (None, name) if name else None


def _texts(block: etree._Element, lang: str | None, path: str, *, pick: bool) -> str | None:
    elements = block.findall(path)
    return _pick(elements, lang) if pick else _join([element_text(e) for e in elements])


def _descriptive(lido: etree._Element) -> dict[str, Any]:
    blocks = lido.findall(_L + "descriptiveMetadata")
    making, unspecified = _events(blocks)
    display, iso = _event_date(making)
    accession, repository = _first(blocks, _repository) or (None, None)
    return {
        "title": _first(blocks, _title),
        "object_type": _first(blocks, _object_type),
        "maker": _makers(making),
        "creation_date_display": display,
        "creation_date_iso": iso,
        "medium": _medium(blocks, making, unspecified),
        "dimensions": _first(blocks, lambda b, lang: _texts(b, lang, _DIMENSIONS, pick=False)),
        "accession_number": accession,
        "description": _first(blocks, lambda b, lang: _texts(b, lang, _DESCRIPTION, pick=True)),
        "repository_name": repository,
    }


def _rights_work(block: etree._Element, lang: str | None) -> dict[str, Any] | None:
    sets = block.findall(f"{_L}rightsWorkWrap/{_L}rightsWorkSet")
    if not sets:
        return None
    rights, leftovers = rights_from([t for s in sets for t in s.findall(_L + "rightsType")])
    credit = _join([element_text(c) for s in sets for c in s.findall(_L + "creditLine")])
    found = {"rights_uri": rights, "rights_work": leftovers or None, "credit_line": credit}
    return found if any(found.values()) else None


def _record_info_link(block: etree._Element, lang: str | None) -> str | None:
    links = block.findall(f"{_L}recordWrap/{_L}recordInfoSet/{_L}recordInfoLink")
    html = [link for link in links if "html" in (link.get(_L + "formatResource") or "").lower()]
    return _pick(html, lang) or _pick(links, lang)


def _administrative(lido: etree._Element, rec_id: str | None) -> dict[str, Any]:
    blocks = lido.findall(_L + "administrativeMetadata")
    media, manifest = _resources(blocks, rec_id)
    fields = dict(_first(blocks, _rights_work) or {})
    fields.update(
        iiif_manifest_url=manifest,
        media=media or None,
        record_info_link=_first(blocks, _record_info_link),
    )
    return fields


def map_lido(lido: etree._Element) -> dict[str, Any]:
    """Read one LIDO 1.0 or 1.1 record into the object contract's fields.

    Args:
        lido: The ``{http://www.lido-schema.org}lido`` element of an OAI-PMH record's
            ``<metadata>`` (a ``lidoWrap`` is read through its first ``lido``).

    Returns:
        The contract's fields without ``ObjectID``, ``modified`` and ``deleted``, absent when
        the record has no value, plus a few extra keys, e.g. ``{"lido_rec_id": "DE-Mb112/...",
        "title": "La Primavera", "maker": "Botticelli, Sandro", "media": [{"MediaID": "...",
        "image_url": "http://...", "width": 1200, "is_primary": True}], "rights_uri":
        "http://rightsstatements.org/vocab/NoC-OKLR/1.0/", "repository_name": "Uffizien"}``;
        ``{}`` for an element that is not LIDO. Never raises on odd or incomplete records.
    """
    if lido.tag == _L + "lidoWrap":
        inner = lido.find(_L + "lido")
        lido = inner if inner is not None else lido
    if lido.tag != _L + "lido":
        return {}
    rec_id = _pick(lido.findall(_L + "lidoRecID"), None)
    record: dict[str, Any] = {
        "lido_rec_id": rec_id,
        "object_published_id": _pick(lido.findall(_L + "objectPublishedID"), None),
    }
    record.update(_descriptive(lido))
    record.update(_administrative(lido, rec_id))
    return {name: value for name, value in record.items() if value is not None}
