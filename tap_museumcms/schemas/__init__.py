"""The Singer JSON Schemas of the streams: the catalog contract that targets turn into tables."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources


@cache
def _load(name: str) -> str:
    return resources.files(__package__).joinpath(f"{name}.json").read_text(encoding="utf-8")


def load_schema(name: str) -> dict:
    """Return a fresh copy of the schema of stream ``name``."""
    return json.loads(_load(name))
