"""Validate a set of documents, print "N of N valid", and return what failed."""

from __future__ import annotations

import typing as t


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
