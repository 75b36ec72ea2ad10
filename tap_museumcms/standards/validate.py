"""Offline LIDO validation: the LIDO 1.1 and 1.0 XSDs vendored next to this module.

The schema files and their imports are in ``lido/`` (see ``SOURCE.md``); the network is never
used. Each schema is compiled once and cached.

Usage::

    version, errors = lido_version(element)  # "1.1", "1.0", or None with the 1.1 errors
    schema = lido_schema("1.1")              # an lxml XMLSchema
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

LIDO_XSDS = {"1.1": "lido/lido-v1.1.xsd", "1.0": "lido/lido-v1.0.xsd"}


def _path(relative: str) -> str:
    """Filesystem path of a vendored file (the package is installed as plain files)."""
    return str(resources.files("tap_museumcms.standards").joinpath(relative))


@functools.cache
def lido_schema(version: str) -> Any:
    """The compiled LIDO XSD of ``version`` (``"1.1"`` or ``"1.0"``)."""
    from lxml import etree

    # no_network: imports resolve to the vendored files only.
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    return etree.XMLSchema(etree.parse(_path(LIDO_XSDS[version]), parser))


def lido_version(element: Any) -> tuple[str | None, list[str]]:
    """The LIDO version a parsed ``<lido:lido>`` element is valid against.

    LIDO 1.0 and 1.1 share a namespace and most 1.0 records are valid 1.1 too, so the version
    the record declares in ``xsi:schemaLocation`` is checked first, then 1.1, then 1.0.

    Returns:
        ``("1.1", [])``, ``("1.0", [])``, or ``(None, errors)`` with the first schema's errors.
    """
    location = element.get("{http://www.w3.org/2001/XMLSchema-instance}schemaLocation") or ""
    order = ("1.0", "1.1") if "v1.0" in location else ("1.1", "1.0")
    errors: list[str] = []
    for version in order:
        schema = lido_schema(version)
        if schema.validate(element):
            return version, []
        if not errors:
            errors = [f"line {error.line}: {error.message}" for error in schema.error_log]
    return None, errors
