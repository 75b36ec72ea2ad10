"""The reference Museum CMS server: a local, stdlib-only implementation of the harvesting API.

Used by the integration tests, the Meltano end-to-end tests, ``make demo`` and anyone evaluating
the tap::

    from tap_museumcms.refserver import GeneratedCollection, ReferenceServer

    with ReferenceServer(GeneratedCollection(10_000, invalid_every=50)) as server:
        print(server.url)  # http://127.0.0.1:PORT  → GET /objects, /rights, /media, /oai

From a shell: ``python -m tap_museumcms.refserver --collection sample`` prints
``READY http://127.0.0.1:PORT`` and serves until SIGTERM.
"""

from __future__ import annotations

from tap_museumcms.refserver.collection import (
    STREAM_KEYS,
    Collection,
    Expected,
    GeneratedCollection,
    SampleCollection,
)
from tap_museumcms.refserver.oai import OaiSettings
from tap_museumcms.refserver.server import Faults, OAuthClient, ReferenceServer, ServerStats

__all__ = [
    "STREAM_KEYS",
    "Collection",
    "Expected",
    "Faults",
    "GeneratedCollection",
    "OAuthClient",
    "OaiSettings",
    "ReferenceServer",
    "SampleCollection",
    "ServerStats",
]
