"""Validate a set of documents, print "N of N valid", and return what failed."""

from __future__ import annotations

import functools
import typing as t
from collections.abc import Callable

from lxml import etree

from tap_museumcms.standards.validate import lido_schema


def failures(
    label: str,
    documents: t.Mapping[str, t.Any],
    validate: t.Callable[[t.Any], list[str]],
) -> dict[str, list[str]]:
    """Validate every document (keyed by object id); print the count; return the failures.

    Returns:
        ``{object_id: first three errors}`` for each invalid document (empty when all pass).
    """
    failed = {key: errors[:3] for key, doc in documents.items() if (errors := validate(doc))}
    print(f"\n{label}: {len(documents) - len(failed)} of {len(documents)} valid")
    return failed


@functools.cache
def lido_validator(version: str = "1.1") -> Callable[[str], list[str]]:
    """Return a function that validates one LIDO document against the LIDO XSD of ``version``.

    Returns:
        ``validate(xml_text) -> list[str]``: the parse or schema errors with line numbers,
        ``[]`` when the document is well-formed and valid.
    """

    schema = lido_schema(version)
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
