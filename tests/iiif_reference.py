"""The IIIF manifest builder as it was before it was tuned: the reference for its output.

Test-only reference: ``test_iiif.py`` builds every object of ``document_corpus.py`` with both and
asserts identical JSON (same keys in the same order, same values and types), so
:mod:`tap_museumcms.iiif` is held to exactly what this builder returns. The image URL rules and
the rights labels are imported from the package; a change of the mapping has to be made in both.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from tap_museumcms.iiif import PRESENTATION_CONTEXT, IIIFOptions
from tap_museumcms.lido import image_api_version, image_urls, rights_label
from tap_museumcms.text import strip_xml_illegal

_DEFAULTS = IIIFOptions()


def _text(value: Any) -> str | None:
    """Return a value as clean text, or ``None`` when missing or blank."""
    if value is None:
        return None
    cleaned = strip_xml_illegal(value if isinstance(value, str) else str(value)).strip()
    return cleaned or None


def _is_http(value: str | None) -> bool:
    return value is not None and value.startswith(("http://", "https://")) and " " not in value


def _lang(language: str, value: str) -> dict[str, list[str]]:
    return {language: [value]}


def _pair(label: str, value: str, language: str) -> dict[str, Any]:
    return {"label": _lang("en", label), "value": _lang(language, value)}


def manifest_id_for(obj: Mapping[str, Any], options: IIIFOptions) -> str | None:
    """The manifest id of an object: its ``iiif_manifest_url``, else one under ``iiif_base_url``.

    Args:
        obj: e.g. ``{"object_id": "1994/127", "iiif_manifest_url": None}``.
        options: e.g. ``IIIFOptions(iiif_base_url="https://iiif.example.org/manifests/")``.

    Returns:
        e.g. ``"https://iiif.example.org/manifests/1994%2F127/manifest"``; ``None`` when neither
        gives an http(s) URL.
    """
    source = _text(obj.get("iiif_manifest_url"))
    if _is_http(source):
        return source
    base = _text(options.iiif_base_url)
    object_id = _text(obj.get("object_id"))
    if _is_http(base) and object_id:
        return f"{base.rstrip('/')}/{quote(object_id, safe='')}/manifest"
    return None


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


def _service(url: str) -> dict[str, str]:
    if image_api_version(url) == 2:
        return {
            "@id": url,
            "@type": "ImageService2",
            "profile": "http://iiif.io/api/image/2/level1.json",
        }
    return {"id": url, "type": "ImageService3", "profile": "level1"}


def _assets(obj: Mapping[str, Any]) -> list[tuple[str, str, int, int, str, bool]]:
    """Usable assets as (key, service, width, height, format, is_primary), in source order."""
    media = obj.get("media")
    if not isinstance(media, list):
        return []
    assets: list[tuple[str, str, int, int, str, bool]] = []
    seen: set[str] = set()
    for index, item in enumerate(media, start=1):
        if not isinstance(item, Mapping):
            continue
        service = _text(item.get("iiif_image_service"))
        width, height = item.get("width"), item.get("height")
        if not _is_http(service):
            continue
        if not all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (width, height)
        ):
            continue
        key = quote(_text(item.get("media_id")) or f"p{index}", safe="")
        if key in seen:
            key = f"{key}-{index}"
        seen.add(key)
        fmt = _text(item.get("format")) or "image/jpeg"
        primary = item.get("is_primary") is True
        assets.append((key, service.rstrip("/"), width, height, fmt, primary))
    return assets


def _canvas(
    base: str, key: str, service: str, width: int, height: int, fmt: str, _primary: bool
) -> dict[str, Any]:
    canvas_id = f"{base}/canvas/{key}"
    full, _thumbnail = image_urls(service)
    return {
        "id": canvas_id,
        "type": "Canvas",
        "height": height,
        "width": width,
        "items": [
            {
                "id": f"{base}/page/{key}",
                "type": "AnnotationPage",
                "items": [
                    {
                        "id": f"{base}/annotation/{key}",
                        "type": "Annotation",
                        "motivation": "painting",
                        "body": {
                            "id": full,
                            "type": "Image",
                            "format": fmt,
                            "height": height,
                            "width": width,
                            "service": [_service(service)],
                        },
                        "target": canvas_id,
                    }
                ],
            }
        ],
    }


def _provider(manifest_id: str, options: IIIFOptions) -> dict[str, Any]:
    homepage = _text(options.provider_homepage)
    provider_id = _text(options.provider_id)
    if not _is_http(provider_id):
        if _is_http(homepage):
            provider_id = homepage
        else:
            parts = urlsplit(manifest_id)
            provider_id = f"{parts.scheme}://{parts.netloc}/"
    label = _text(options.provider_label) or "Museum"
    provider: dict[str, Any] = {"id": provider_id, "type": "Agent", "label": _lang("en", label)}
    if _is_http(homepage):
        provider["homepage"] = [
            {"id": homepage, "type": "Text", "label": _lang("en", label), "format": "text/html"}
        ]
    return provider


def build_manifest(obj: Mapping[str, Any], options: IIIFOptions = _DEFAULTS) -> dict | None:
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
    manifest_id = manifest_id_for(obj, options)
    if manifest_id is None:
        return None
    language = _text(options.language) or "en"
    base = manifest_id
    for suffix in ("/manifest.json", "/manifest"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            break
    title = _text(obj.get("title")) or "[untitled]"
    manifest: dict[str, Any] = {
        "@context": PRESENTATION_CONTEXT,
        "id": manifest_id,
        "type": "Manifest",
        "label": _lang(language, title),
    }
    _describe(manifest, obj, language)
    manifest["provider"] = [_provider(manifest_id, options)]
    primary = next((asset for asset in assets if asset[5]), assets[0])
    service = primary[1]
    manifest["thumbnail"] = [
        {
            "id": image_urls(service)[1],
            "type": "Image",
            "format": "image/jpeg",
            "service": [_service(service)],
        }
    ]
    manifest["items"] = [_canvas(base, *asset) for asset in assets]
    return manifest


def _describe(manifest: dict[str, Any], obj: Mapping[str, Any], language: str) -> None:
    """Summary, metadata pairs, required statement and rights of the manifest."""
    maker = _text(obj.get("maker"))
    date = (
        _text(obj.get("creation_date_display"))
        or _text(obj.get("creation_date_raw"))
        or _text(obj.get("creation_date_iso"))
    )
    credit_line = _text(obj.get("credit_line"))
    rights = _canonical_rights(_text(obj.get("rights_uri")))
    summary = _text(obj.get("description")) or ", ".join(v for v in (maker, date) if v)
    if summary:
        manifest["summary"] = _lang(language, summary)
    metadata = []
    for label, value in (
        ("Maker", maker),
        ("Date", date),
        ("Object type", _text(obj.get("object_type"))),
        ("Medium", _text(obj.get("medium"))),
        ("Dimensions", _text(obj.get("dimensions"))),
        ("Department", _text(obj.get("department"))),
        ("Accession number", _text(obj.get("accession_number"))),
        ("Credit line", credit_line),
    ):
        if value:
            metadata.append(_pair(label, value, language))
    if rights:
        metadata.append(_pair("Rights", rights_label(rights), "en"))
    if metadata:
        manifest["metadata"] = metadata
    if credit_line:
        manifest["requiredStatement"] = _pair("Attribution", credit_line, language)
    if rights:
        manifest["rights"] = rights


def manifest_record(
    obj: Mapping[str, Any], options: IIIFOptions = _DEFAULTS
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
