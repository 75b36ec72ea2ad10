"""The CMS resource streams: declarations only (HTTP lives in :mod:`tap_museumcms.client`)."""

from __future__ import annotations

import typing as t

from tap_museumcms.client import MuseumCMSStream
from tap_museumcms.schemas import load_schema


class _Declared(MuseumCMSStream):
    def __init__(self, tap: t.Any) -> None:
        super().__init__(tap=tap, schema=load_schema(self.name))


class ObjectsStream(_Declared):
    """Object metadata, ``GET {api_url}/objects``; feeds the LIDO and IIIF streams."""

    name = "objects"
    path = "/objects"
    primary_keys: t.ClassVar[list[str]] = ["object_id"]
    derived_streams = ("lido_records", "iiif_manifests")


class RightsStream(_Declared):
    """Rights statements, ``GET {api_url}/rights``."""

    name = "rights"
    path = "/rights"
    primary_keys: t.ClassVar[list[str]] = ["rights_id"]


class MediaStream(_Declared):
    """Digital assets and their IIIF services, ``GET {api_url}/media``."""

    name = "media"
    path = "/media"
    primary_keys: t.ClassVar[list[str]] = ["media_id"]
