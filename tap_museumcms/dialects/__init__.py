"""Source dialects: the protocols the tap harvests, each on the same engine.

``source`` setting -> dialect class (imported when first used). A dialect builds the request
for a checkpoint and reads a response body into raw items (:mod:`tap_museumcms.dialects.base`).
"""

from __future__ import annotations

import importlib
import typing as t

from tap_museumcms.dialects.base import Dialect, PageEnd, RawItem, derived_rows

if t.TYPE_CHECKING:
    from collections.abc import Mapping

#: ``source`` value -> ``module:Class`` under ``tap_museumcms.dialects``.
DIALECTS: dict[str, str] = {
    "jsonl": "cms_jsonl:CmsJsonl",
    "oai-pmh": "oai:OaiPmh",
    "aic": "aic:ArtInstituteChicago",
    "cleveland": "cleveland:ClevelandMuseum",
    "met": "met:MetMuseum",
    "smithsonian": "smithsonian:Smithsonian",
    "europeana": "europeana:Europeana",
    "smk": "smk:StatensMuseum",
}


def dialect_class(source: str) -> type[Dialect]:
    """The dialect class of a ``source`` value."""
    module, _, name = DIALECTS[source].partition(":")
    return getattr(importlib.import_module(f"tap_museumcms.dialects.{module}"), name)


def make_dialect(config: Mapping[str, t.Any]) -> Dialect:
    """The dialect named by the ``source`` setting (default ``jsonl``)."""
    return dialect_class(config.get("source") or "jsonl")(config)


__all__ = ["DIALECTS", "Dialect", "PageEnd", "RawItem", "derived_rows", "dialect_class",
           "make_dialect"]
