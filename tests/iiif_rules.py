"""IIIF Presentation 3.0 validity for the tests: the official JSON Schema plus the rules it misses.

The schema (``fixtures/standards/iiif_schema/iiif_3_0.json``, see its ``SOURCE.md``) does not
check everything the specification requires; :func:`check_manifest_rules` adds the rules the
tap's manifests rely on. Usage::

    errors = iiif_validator()(manifest)   # [] when valid, else ["items: [] should be non-empty"]
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tap_museumcms.iiif import PRESENTATION_CONTEXT, _canonical_rights

SCHEMA = Path(__file__).parent / "fixtures" / "standards" / "iiif_schema" / "iiif_3_0.json"


@functools.cache
def iiif_schema() -> dict[str, Any]:
    """The IIIF Presentation 3.0 JSON Schema, parsed."""
    return json.loads(SCHEMA.read_text(encoding="utf-8"))


@functools.cache
def iiif_validator() -> Callable[[dict[str, Any]], list[str]]:
    """Return ``validate(manifest) -> list[str]``: schema errors, then the extra rules."""
    import jsonschema

    validator = jsonschema.Draft7Validator(iiif_schema())

    def validate(manifest: dict[str, Any]) -> list[str]:
        errors = [
            f"{'/'.join(str(part) for part in error.absolute_path) or '(root)'}: {error.message}"
            for error in validator.iter_errors(manifest)
        ]
        return errors + check_manifest_rules(manifest)

    return validate


def _lang_map_ok(value: Any) -> bool:
    """A language map with at least one language holding at least one non-empty string."""
    return isinstance(value, Mapping) and any(
        isinstance(strings, list) and any(isinstance(s, str) and s.strip() for s in strings)
        for strings in value.values()
    )


def _target_id(target: Any) -> str | None:
    if isinstance(target, str):
        return target.split("#", 1)[0]
    if isinstance(target, Mapping):
        for key in ("id", "source"):
            inner = target.get(key)
            if isinstance(inner, str):
                return inner.split("#", 1)[0]
            if isinstance(inner, Mapping) and isinstance(inner.get("id"), str):
                return inner["id"].split("#", 1)[0]
    return None


def _motivations(annotation: Mapping[str, Any]) -> list[Any]:
    motivation = annotation.get("motivation")
    return motivation if isinstance(motivation, list) else [motivation]


def check_manifest_rules(manifest: dict) -> list[str]:
    """Check the Presentation 3.0 rules that the official JSON Schema does not enforce.

    Rules (each finding names its path):

    - ``@context`` is, or ends with, ``http://iiif.io/api/presentation/3/context.json``.
    - ``type`` is ``Manifest`` and ``label`` holds at least one non-empty string.
    - ``items`` is non-empty (the schema accepts ``[]``).
    - Canvas ids are unique.
    - Every Annotation in a Canvas's ``items`` pages has the motivation ``painting`` and targets
      that Canvas (an id, possibly with a ``#`` fragment, or a SpecificResource on it).
      A Canvas whose ``items`` is empty is allowed (the specification says SHOULD).
    - Every ``provider`` entry is an ``Agent`` with an ``id`` and a non-empty ``label``.
    - ``rights`` is a canonical Creative Commons licence or public-domain tool URI or a
      RightsStatements.org statement URI known to :mod:`tap_museumcms.rights` (the schema's
      patterns are unanchored: they accept any string that merely contains such a URI).
    - ``requiredStatement`` and every ``metadata`` entry have a non-empty ``label`` and ``value``.

    Args:
        manifest: A parsed manifest.

    Returns:
        Human-readable findings, e.g. ``["items: a Manifest needs at least one Canvas"]``;
        ``[]`` when every rule holds.
    """
    if not isinstance(manifest, Mapping):
        return ["(root): a Manifest must be a JSON object"]
    problems: list[str] = []
    context = manifest.get("@context")
    last_context = context[-1] if isinstance(context, list) and context else context
    if last_context != PRESENTATION_CONTEXT:
        problems.append(f"@context: must be or end with {PRESENTATION_CONTEXT}")
    if manifest.get("type") != "Manifest":
        problems.append("type: must be 'Manifest'")
    if not _lang_map_ok(manifest.get("label")):
        problems.append("label: needs at least one non-empty string")

    items = manifest.get("items")
    if not isinstance(items, list) or not items:
        problems.append("items: a Manifest needs at least one Canvas")
        items = []
    canvas_ids: set[str] = set()
    for c_index, canvas in enumerate(items):
        if not isinstance(canvas, Mapping):
            continue
        canvas_id = canvas.get("id")
        if isinstance(canvas_id, str):
            if canvas_id in canvas_ids:
                problems.append(f"items/{c_index}/id: duplicate Canvas id {canvas_id}")
            canvas_ids.add(canvas_id)
        for p_index, page in enumerate(canvas.get("items") or []):
            if not isinstance(page, Mapping):
                continue
            for a_index, annotation in enumerate(page.get("items") or []):
                if not isinstance(annotation, Mapping):
                    continue
                path = f"items/{c_index}/items/{p_index}/items/{a_index}"
                if "painting" not in _motivations(annotation):
                    problems.append(f"{path}/motivation: Canvas content must be 'painting'")
                if _target_id(annotation.get("target")) != canvas_id:
                    problems.append(f"{path}/target: must target its Canvas {canvas_id}")

    providers = manifest.get("provider")
    if providers is not None:
        for index, provider in enumerate(providers if isinstance(providers, list) else [None]):
            path = f"provider/{index}"
            if not isinstance(provider, Mapping):
                problems.append(f"{path}: must be an Agent object")
                continue
            if provider.get("type") != "Agent":
                problems.append(f"{path}/type: must be 'Agent'")
            if not isinstance(provider.get("id"), str):
                problems.append(f"{path}/id: required")
            if not _lang_map_ok(provider.get("label")):
                problems.append(f"{path}/label: required, with at least one non-empty string")

    if "rights" in manifest:
        rights = manifest.get("rights")
        if not isinstance(rights, str) or _canonical_rights(rights) != rights:
            problems.append(
                f"rights: {rights!r} is not a canonical Creative Commons or "
                "RightsStatements.org URI"
            )

    pairs: list[tuple[str, Any]] = []
    if "requiredStatement" in manifest:
        pairs.append(("requiredStatement", manifest.get("requiredStatement")))
    metadata = manifest.get("metadata")
    if isinstance(metadata, list):
        pairs.extend((f"metadata/{index}", entry) for index, entry in enumerate(metadata))
    for path, entry in pairs:
        if not isinstance(entry, Mapping):
            problems.append(f"{path}: must be a label/value object")
            continue
        for key in ("label", "value"):
            if not _lang_map_ok(entry.get(key)):
                problems.append(f"{path}/{key}: needs at least one non-empty string")
    return problems
