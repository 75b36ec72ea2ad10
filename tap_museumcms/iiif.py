"""IIIF Presentation 3.0 Manifests: one per valid museum object that has images.

:func:`build_manifest` maps a validated object record to a Manifest (a JSON object);
:func:`manifest_record` wraps it as a record of the ``iiif_manifests`` stream::

    {"object_id": "1994.127", "manifest_id": "https://cms.example.org/iiif/1994.127/manifest",
     "manifest": {"@context": "http://iiif.io/api/presentation/3/context.json", "id": ...,
                  "type": "Manifest", "label": {"en": ["Harbour at Dawn"]}, "items": [...]},
     "modified": "2026-11-20T10:00:00Z"}

Mapping:

- ``id``: the object's ``iiif_manifest_url``, else ``{iiif_base_url}/{object_id}/manifest``
  (object id percent-escaped). Without either there is no manifest (``None``).
- ``label``: the title; ``summary``: the description, else "maker, date" when known;
  ``metadata``: label/value pairs for maker, date, object type, medium, dimensions, department,
  accession number, credit line and rights (only those present). Values are language maps in
  :attr:`IIIFOptions.language`, labels in English.
- ``requiredStatement``: "Attribution" -> the credit line (omitted without one).
- ``rights``: the object's ``rights_uri`` when it is a canonical Creative Commons or
  RightsStatements.org URI (``http://``, as the specification requires); otherwise omitted.
- ``provider``: one Agent with :attr:`IIIFOptions.provider_label` and, when set, a homepage.
  Its id is :attr:`IIIFOptions.provider_id`, else the homepage, else the manifest's origin.
- ``thumbnail``: the primary asset (``is_primary``, else the first) at 400 px wide.
- ``items``: one Canvas per asset that has a IIIF Image API service and a positive pixel
  ``width``/``height``, in source order; others are skipped. Each Canvas holds one
  AnnotationPage with one ``painting`` Annotation whose body is the full image with its
  service (``ImageService3``, or ``ImageService2`` for ``/iiif/2/`` services, profile level1).
  Ids are ``{base}/canvas/{media_id}``, ``{base}/page/{media_id}``,
  ``{base}/annotation/{media_id}``, where ``base`` is the manifest id without a trailing
  ``/manifest`` or ``/manifest.json``. No usable asset: no manifest.

All text is cleaned with :func:`tap_museumcms.text.strip_xml_illegal` (so ``\\x00`` and lone
surrogates never reach JSON or PostgreSQL) and trimmed: the object's fields in one scan of their
joined text when it holds nothing to delete (the usual case). What depends only on the settings
(the provider) or on a small set of values (the rights of a URI, the origin of a manifest id)
is worked out once; every manifest is still made of fresh dicts, so a caller may change one.
``tests/iiif_reference.py`` keeps the previous builder, and a test holds the two to identical
JSON.

The tests check every manifest against the official JSON Schema and the rules it does not
enforce (``tests/iiif_rules.py``).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import quote, urlsplit

from tap_museumcms.lido import image_api_version, image_urls, rights_label
from tap_museumcms.text import needs_cleaning, strip_xml_illegal

PRESENTATION_CONTEXT = "http://iiif.io/api/presentation/3/context.json"


@dataclass(frozen=True)
class IIIFOptions:
    """Settings of the manifest builder.

    Attributes:
        iiif_base_url: Base for manifest ids when the source sends no ``iiif_manifest_url``,
            e.g. ``"https://iiif.example.org/manifests"`` ->
            ``https://iiif.example.org/manifests/1994.127/manifest``.
        provider_id: URI of the providing institution (e.g. its ISIL or Wikidata URI).
        provider_label: Name of the providing institution.
        provider_homepage: Its web site, e.g. ``"https://www.example.org/"``.
        language: BCP 47 language of titles, descriptions and other values.
    """

    iiif_base_url: str | None = None
    provider_id: str | None = None
    provider_label: str = "Museum"
    provider_homepage: str | None = None
    language: str = "en"


def _text(value: Any) -> str | None:
    """Return a value as clean text, or ``None`` when missing or blank."""
    if value is None:
        return None
    cleaned = strip_xml_illegal(value if isinstance(value, str) else str(value)).strip()
    return cleaned or None


def _read_texts(source: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, str | None]:
    """:func:`_text` of each named value of ``source``, e.g. ``{"title": "Harbour", ...}``.

    The common case (strings with nothing to delete) costs one scan of the joined strings
    instead of one per value.
    """
    values = [source.get(name) for name in names]
    try:
        joined = "".join([value for value in values if value is not None])
        # No printable character is XML-illegal: one C pass settles most catalogue text.
        clean = joined.isprintable() or not needs_cleaning(joined)
    except TypeError:  # a number or another non-string value
        clean = False
    if clean:
        texts = [(value.strip() or None) if value else None for value in values]
    else:
        texts = [_text(value) for value in values]
    return dict(zip(names, texts, strict=True))


def _is_http(value: str | None) -> bool:
    return value is not None and value.startswith(("http://", "https://")) and " " not in value


class _Settings(NamedTuple):
    """What the builder takes from :class:`IIIFOptions`, cleaned once.

    ``base_url`` is the http(s) ``iiif_base_url`` without its trailing ``/``; ``provider_id``
    is ``None`` when the provider takes the manifest's origin; ``homepage`` is ``None`` unless
    it is an http(s) URL.
    """

    language: str
    base_url: str | None
    provider_id: str | None
    provider_label: str
    homepage: str | None


@functools.lru_cache(maxsize=64)
def _settings(options: IIIFOptions) -> _Settings:
    """The cleaned settings of ``options`` (a frozen dataclass, so a cache key)."""
    base = _text(options.iiif_base_url)
    homepage = _text(options.provider_homepage)
    homepage = homepage if _is_http(homepage) else None
    provider_id = _text(options.provider_id)
    return _Settings(
        language=_text(options.language) or "en",
        base_url=base.rstrip("/") if base is not None and _is_http(base) else None,
        provider_id=provider_id if _is_http(provider_id) else homepage,
        provider_label=_text(options.provider_label) or "Museum",
        homepage=homepage,
    )


def _manifest_id(source: str | None, object_id: str | None, settings: _Settings) -> str | None:
    """The source's http(s) manifest URL, else one under the base URL, else ``None``."""
    if _is_http(source):
        return source
    if settings.base_url is not None and object_id:
        return f"{settings.base_url}/{quote(object_id, safe='')}/manifest"
    return None


def manifest_id_for(obj: Mapping[str, Any], options: IIIFOptions) -> str | None:
    """The manifest id of an object: its ``iiif_manifest_url``, else one under ``iiif_base_url``.

    Args:
        obj: e.g. ``{"object_id": "1994/127", "iiif_manifest_url": None}``.
        options: e.g. ``IIIFOptions(iiif_base_url="https://iiif.example.org/manifests/")``.

    Returns:
        e.g. ``"https://iiif.example.org/manifests/1994%2F127/manifest"``; ``None`` when neither
        gives an http(s) URL.
    """
    source, object_id = _text(obj.get("iiif_manifest_url")), _text(obj.get("object_id"))
    return _manifest_id(source, object_id, _settings(options))


@functools.lru_cache(maxsize=1024)
def _canonical_rights(uri: str | None) -> str | None:
    """The URI when it is a canonical CC / RightsStatements.org URI, else ``None``."""
    if not uri:
        return None
    from tap_museumcms.rights import UnknownRights, lookup_rights

    try:
        term = lookup_rights(uri)
    except UnknownRights:
        return None
    return term.uri if term.uri == uri else None


def _origin(url: str) -> str:
    """``scheme://host/`` of an http(s) URL, as :func:`urllib.parse.urlsplit` reads it.

    The host ends before the first ``/`` after ``scheme://`` at the latest, so the split is
    done (and remembered) on what comes before it: a run's manifests share a few origins.
    """
    cut = url.find("/", url.find("//") + 2)
    return _origin_of(url if cut < 0 else url[:cut])


@functools.lru_cache(maxsize=256)
def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/"


def _service(url: str) -> dict[str, str]:
    if image_api_version(url) == 2:
        return {
            "@id": url,
            "@type": "ImageService2",
            "profile": "http://iiif.io/api/image/2/level1.json",
        }
    return {"id": url, "type": "ImageService3", "profile": "level1"}


class _Asset(NamedTuple):
    """A usable image asset: id key, service (no trailing ``/``), size, format, primary flag,
    full-size and thumbnail image URLs."""

    key: str
    service: str
    width: int
    height: int
    format: str
    primary: bool
    full: str
    thumbnail: str


_MEDIA_FIELDS = ("iiif_image_service", "media_id", "format")


def _size(value: Any) -> bool:
    """Whether a pixel size is usable: a positive int that is not a bool."""
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _assets(obj: Mapping[str, Any]) -> list[_Asset]:
    """Usable assets (an http(s) IIIF service and a positive width and height), in source
    order."""
    media = obj.get("media")
    if not isinstance(media, list):
        return []
    assets: list[_Asset] = []
    seen: set[str] = set()
    for index, item in enumerate(media, start=1):
        if type(item) is not dict and not isinstance(item, Mapping):
            continue
        width, height = item.get("width"), item.get("height")
        if not (_size(width) and _size(height)):
            continue
        text = _read_texts(item, _MEDIA_FIELDS)
        service = text["iiif_image_service"]
        if service is None or not _is_http(service):
            continue
        key = quote(text["media_id"] or f"p{index}", safe="")
        if key in seen:
            key = f"{key}-{index}"
        seen.add(key)
        service = service.rstrip("/")
        full, thumbnail = image_urls(service)
        fmt = text["format"] or "image/jpeg"
        primary = item.get("is_primary") is True
        assets.append(_Asset(key, service, width, height, fmt, primary, full, thumbnail))
    return assets


def _canvas(base: str, asset: _Asset) -> dict[str, Any]:
    canvas_id = f"{base}/canvas/{asset.key}"
    return {
        "id": canvas_id,
        "type": "Canvas",
        "height": asset.height,
        "width": asset.width,
        "items": [
            {
                "id": f"{base}/page/{asset.key}",
                "type": "AnnotationPage",
                "items": [
                    {
                        "id": f"{base}/annotation/{asset.key}",
                        "type": "Annotation",
                        "motivation": "painting",
                        "body": {
                            "id": asset.full,
                            "type": "Image",
                            "format": asset.format,
                            "height": asset.height,
                            "width": asset.width,
                            "service": [_service(asset.service)],
                        },
                        "target": canvas_id,
                    }
                ],
            }
        ],
    }


def _provider(manifest_id: str, settings: _Settings) -> dict[str, Any]:
    label = settings.provider_label
    provider_id = settings.provider_id or _origin(manifest_id)
    provider: dict[str, Any] = {"id": provider_id, "type": "Agent", "label": {"en": [label]}}
    if settings.homepage is not None:
        provider["homepage"] = [
            {
                "id": settings.homepage,
                "type": "Text",
                "label": {"en": [label]},
                "format": "text/html",
            }
        ]
    return provider


_OBJECT_FIELDS = (
    "object_id",
    "iiif_manifest_url",
    "title",
    "description",
    "maker",
    "creation_date_display",
    "creation_date_raw",
    "creation_date_iso",
    "object_type",
    "medium",
    "dimensions",
    "department",
    "accession_number",
    "credit_line",
    "rights_uri",
)


def build_manifest(obj: Mapping[str, Any], options: IIIFOptions = IIIFOptions()) -> dict | None:
    """Build the IIIF Presentation 3.0 Manifest of one validated object.

    Args:
        obj: A validated object record, e.g. ``{"object_id": "1994.127", "title": "Harbour at
            Dawn", "iiif_manifest_url": "https://cms.example.org/iiif/1994.127/manifest",
            "media": [{"media_id": "m-88", "iiif_image_service":
            "https://img.example.org/iiif/3/m-88", "width": 4000, "height": 3000,
            "format": "image/jpeg", "is_primary": True}], ...}``.
        options: Base URL for ids, provider, language.

    Returns:
        The Manifest as a JSON-ready dict; ``None`` when the object has no usable image asset
        or no manifest id can be formed (no ``iiif_manifest_url`` and no ``iiif_base_url``).
    """
    assets = _assets(obj)
    if not assets:
        return None
    text = _read_texts(obj, _OBJECT_FIELDS)
    settings = _settings(options)
    manifest_id = _manifest_id(text["iiif_manifest_url"], text["object_id"], settings)
    if manifest_id is None:
        return None
    language = settings.language
    base = manifest_id
    for suffix in ("/manifest.json", "/manifest"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            break
    manifest: dict[str, Any] = {
        "@context": PRESENTATION_CONTEXT,
        "id": manifest_id,
        "type": "Manifest",
        "label": {language: [text["title"] or "[untitled]"]},
    }
    _describe(manifest, text, language)
    manifest["provider"] = [_provider(manifest_id, settings)]
    primary = assets[0]
    for asset in assets:
        if asset.primary:
            primary = asset
            break
    manifest["thumbnail"] = [
        {
            "id": primary.thumbnail,
            "type": "Image",
            "format": "image/jpeg",
            "service": [_service(primary.service)],
        }
    ]
    manifest["items"] = [_canvas(base, asset) for asset in assets]
    return manifest


def _describe(manifest: dict[str, Any], text: dict[str, str | None], language: str) -> None:
    """Summary, metadata pairs, required statement and rights of the manifest."""
    maker = text["maker"]
    date = text["creation_date_display"] or text["creation_date_raw"] or text["creation_date_iso"]
    credit_line = text["credit_line"]
    rights = _canonical_rights(text["rights_uri"])
    summary = text["description"] or ", ".join(v for v in (maker, date) if v)
    if summary:
        manifest["summary"] = {language: [summary]}
    metadata = [
        {"label": {"en": [label]}, "value": {language: [value]}}
        for label, value in (
            ("Maker", maker),
            ("Date", date),
            ("Object type", text["object_type"]),
            ("Medium", text["medium"]),
            ("Dimensions", text["dimensions"]),
            ("Department", text["department"]),
            ("Accession number", text["accession_number"]),
            ("Credit line", credit_line),
        )
        if value
    ]
    if rights:
        metadata.append({"label": {"en": ["Rights"]}, "value": {"en": [rights_label(rights)]}})
    if metadata:
        manifest["metadata"] = metadata
    if credit_line:
        manifest["requiredStatement"] = {
            "label": {"en": ["Attribution"]},
            "value": {language: [credit_line]},
        }
    if rights:
        manifest["rights"] = rights


def manifest_record(
    obj: Mapping[str, Any], options: IIIFOptions = IIIFOptions()
) -> dict[str, Any] | None:
    """Build the ``iiif_manifests`` stream record of one valid object.

    Args:
        obj: A validated object record (see :func:`build_manifest`).
        options: Builder settings.

    Returns:
        ``{"object_id": "1994.127", "manifest_id": "https://...", "manifest": {...},
        "modified": "2026-11-20T10:00:00Z"}``, or ``None`` when :func:`build_manifest` gives none.
    """
    manifest = build_manifest(obj, options)
    if manifest is None:
        return None
    return {
        "object_id": obj.get("object_id"),
        "manifest_id": manifest["id"],
        "manifest": manifest,
        "modified": obj.get("modified"),
    }
