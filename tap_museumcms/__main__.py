"""Allow ``python -m tap_museumcms``."""

from __future__ import annotations

from tap_museumcms.tap import TapMuseumCMS

TapMuseumCMS.cli()
