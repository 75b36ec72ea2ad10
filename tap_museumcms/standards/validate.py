"""Offline validators of derived records: LIDO 1.1 (XSD), IIIF Presentation 3.0 (JSON Schema).

Both use the schema files vendored next to this module (see ``SOURCE.md``) and never the network.
``jsonschema`` is a test/optional dependency (lxml a runtime one), imported only when a validator is
first built; each validator is built once and cached.

Usage::

    errors = lido_validator()(lido_xml)      # [] when valid, else ["line 3: Element ...", ...]
    errors = iiif_validator()(manifest)      # [] when valid, else ["items: [] should be non-empty"]
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from importlib import resources
from typing import Any

LIDO_XSD = "lido/lido-v1.1.xsd"
IIIF_SCHEMA = "iiif/iiif_3_0.json"


def _path(relative: str) -> str:
    """Filesystem path of a vendored file (the package is installed as plain files)."""
    return str(resources.files("tap_museumcms.standards").joinpath(relative))


@functools.cache
def lido_validator() -> Callable[[str], list[str]]:
    """Return a function that validates one LIDO document against the LIDO 1.1 XSD.

    Returns:
        ``validate(xml_text) -> list[str]``: the parse or schema errors with line numbers,
        ``[]`` when the document is well-formed and valid.
    """
    from lxml import etree

    # no_network: imports resolve to the vendored files only.
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    schema = etree.XMLSchema(etree.parse(_path(LIDO_XSD), parser))
    doc_parser = etree.XMLParser(no_network=True, resolve_entities=False, huge_tree=False)

    def validate(xml_text: str) -> list[str]:
        try:
            document = etree.fromstring(xml_text.encode("utf-8"), doc_parser)
        except (etree.XMLSyntaxError, ValueError) as exc:
            return [f"not well-formed: {exc}"]
        if schema.validate(document):
            return []
        return [f"line {error.line}: {error.message}" for error in schema.error_log]

    return validate


@functools.cache
def iiif_schema() -> dict[str, Any]:
    """The vendored IIIF Presentation 3.0 JSON Schema, parsed."""
    with open(_path(IIIF_SCHEMA), encoding="utf-8") as handle:
        return json.load(handle)


@functools.cache
def iiif_validator() -> Callable[[dict[str, Any]], list[str]]:
    """Return a function that validates one manifest: JSON Schema, then the extra rules.

    Returns:
        ``validate(manifest) -> list[str]``: schema errors (``"path: message"``) followed by
        :func:`tap_museumcms.iiif.check_manifest_rules` findings; ``[]`` when valid.
    """
    import jsonschema

    from tap_museumcms.iiif import check_manifest_rules

    validator = jsonschema.Draft7Validator(iiif_schema())

    def validate(manifest: dict[str, Any]) -> list[str]:
        errors = [
            f"{'/'.join(str(part) for part in error.absolute_path) or '(root)'}: {error.message}"
            for error in validator.iter_errors(manifest)
        ]
        return errors + check_manifest_rules(manifest)

    return validate
