"""The singer-sdk standard tap test suite, against the reference server's real sample.

The standard suite is necessary but weak (its primary-key test cannot fail): the exactness
tests in ``test_sync.py`` are the ones that compare expected and emitted key sets.
"""

from __future__ import annotations

import atexit

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from tap_museumcms.refserver.collection import SampleCollection
from tap_museumcms.refserver.server import ReferenceServer
from tap_museumcms.tap import TapMuseumCMS

# get_tap_test_class needs the config when the class is built, so the server starts here.
_SERVER = ReferenceServer(SampleCollection()).start()
atexit.register(_SERVER.stop)

TestTapMuseumCMS = get_tap_test_class(
    tap_class=TapMuseumCMS,
    config={"api_url": _SERVER.url, "page_size": 100,
            "iiif_base_url": "https://iiif.example.org/manifests"},
    suite_config=SuiteConfig(max_records_limit=2000),
)
