"""tap-museumcms: a Singer tap for museum collection-management systems."""

from __future__ import annotations

__version__ = "0.1.0"
