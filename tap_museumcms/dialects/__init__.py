"""Source dialects: the protocols the tap harvests, each on the same engine.

``source`` setting -> dialect class. A dialect builds the request for a checkpoint and reads
a response body into raw items (:mod:`tap_museumcms.dialects.base`).
"""

from __future__ import annotations

import typing as t

from tap_museumcms.dialects.base import Dialect, PageEnd, RawItem, derived_rows
from tap_museumcms.dialects.cms_jsonl import CmsJsonl
from tap_museumcms.dialects.oai import OaiPmh

if t.TYPE_CHECKING:
    from collections.abc import Mapping

DIALECTS: dict[str, type[Dialect]] = {CmsJsonl.name: CmsJsonl, OaiPmh.name: OaiPmh}


def make_dialect(config: Mapping[str, t.Any]) -> Dialect:
    """The dialect named by the ``source`` setting (default ``jsonl``)."""
    return DIALECTS[config.get("source") or "jsonl"](config)


__all__ = ["DIALECTS", "Dialect", "PageEnd", "RawItem", "derived_rows", "make_dialect"]
