"""The resource streams: declarations only (the harvest lives in :mod:`tap_museumcms.harvest`).

Each resource exists in two kinds: harvested (its own requests: every stream of the JSONL
contract, and ``objects`` of every source) or derived (fed with the rows of each harvested
object, for sources that deliver whole objects: OAI-PMH and the public museum APIs).
"""

from __future__ import annotations

import typing as t

from tap_museumcms.client import MuseumCMSStream
from tap_museumcms.schemas import load_schema
from tap_museumcms.sidestreams import SideStream


class _Declared(MuseumCMSStream):
    def __init__(self, tap: t.Any) -> None:
        super().__init__(tap=tap, schema=load_schema(self.name))


class ObjectsStream(_Declared):
    """Object metadata; feeds the LIDO and IIIF streams."""

    name = "objects"
    primary_keys: t.ClassVar[list[str]] = ["object_id"]


class RightsStream(_Declared):
    """Rights statements, ``GET {api_url}/rights`` (JSONL contract)."""

    name = "rights"
    primary_keys: t.ClassVar[list[str]] = ["rights_id"]


class MediaStream(_Declared):
    """Digital assets and their IIIF services, ``GET {api_url}/media`` (JSONL contract)."""

    name = "media"
    primary_keys: t.ClassVar[list[str]] = ["media_id"]


class DerivedRightsStream(SideStream):
    """Rights statements of each harvested object (``<object_id>#rights``)."""

    name = "rights"
    primary_keys: t.ClassVar[list[str]] = ["rights_id"]
    replication_key = None


class DerivedMediaStream(SideStream):
    """The digital assets embedded in each harvested object."""

    name = "media"
    primary_keys: t.ClassVar[list[str]] = ["media_id"]
    replication_key = None


HARVESTED: dict[str, type[MuseumCMSStream]] = {
    "objects": ObjectsStream, "rights": RightsStream, "media": MediaStream,
}
DERIVED: dict[str, type[SideStream]] = {"rights": DerivedRightsStream, "media": DerivedMediaStream}
