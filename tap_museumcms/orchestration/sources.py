"""The sources an aggregator harvests: one inherited extractor of ``meltano.yml`` per source.

Pure: reads YAML, starts nothing and imports no orchestrator. A source is every extractor whose
``inherit_from`` chain reaches the base tap (``tap-museumcms``), in ``meltano.yml`` or in a file
of its ``include_paths``; the base itself is the template, not a source. Adding a museum is
adding an extractor::

    sources = load_sources(Path("/srv/museums"))
    [s.extractor for s in sources]   # ['tap-museumcms-oai', 'tap-kenom', 'tap-artic', ...]
    sources[1]                       # Source(extractor='tap-kenom', protocol='oai-pmh',
                                     #        asset_name='tap_kenom', inherit_from='tap-museumcms')
    state_id("prod", "tap-kenom", "target-postgres")   # 'prod:tap-kenom-to-target-postgres'
"""

from __future__ import annotations

import dataclasses
import re
import typing as t
from pathlib import Path

import yaml

BASE_EXTRACTOR = "tap-museumcms"
"""The tap every source inherits from."""

DEFAULT_PROTOCOL = "jsonl"
"""The tap's ``source`` setting when nothing sets it."""

_NOT_NAME = re.compile(r"[^A-Za-z0-9_]")


@dataclasses.dataclass(frozen=True)
class Source:
    """One source: an inherited extractor run as its own Meltano pipeline.

    Attributes:
        extractor: the extractor's name in ``meltano.yml``, e.g. ``tap-kenom``.
        protocol: its ``source`` setting as written in ``meltano.yml`` (``jsonl``, ``oai-pmh``,
            ``aic``, ...), looked up along the inheritance chain.
        asset_name: the extractor's name as an orchestrator identifier (``tap_kenom``).
        inherit_from: the plugin it inherits from.
    """

    extractor: str
    protocol: str
    asset_name: str
    inherit_from: str


def state_id(environment: str, extractor: str, loader: str, suffix: str | None = None) -> str:
    """The state ID ``meltano run <extractor> <loader>`` uses in ``environment``.

    Example: ``dev:tap-kenom-to-target-postgres`` (``...:<suffix>`` with ``--state-id-suffix``).
    """
    base = f"{environment}:{extractor}-to-{loader}"
    return f"{base}:{suffix}" if suffix else base


def read_project(root: Path) -> dict[str, t.Any]:
    """``root/meltano.yml`` parsed, with the extractors of its ``include_paths`` files appended.

    Raises:
        FileNotFoundError: when ``root`` holds no ``meltano.yml``.
    """
    data = yaml.safe_load((root / "meltano.yml").read_text(encoding="utf-8")) or {}
    extractors = list(((data.get("plugins") or {}).get("extractors")) or [])
    for pattern in data.get("include_paths") or []:
        for path in sorted(root.glob(str(pattern).removeprefix("./"))):
            included = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            extractors += ((included.get("plugins") or {}).get("extractors")) or []
    return {**data, "plugins": {**(data.get("plugins") or {}), "extractors": extractors}}


def default_environment(root: Path) -> str | None:
    """The project's ``default_environment`` (None when it names none)."""
    return read_project(root).get("default_environment")


def load_sources(root: Path, base: str = BASE_EXTRACTOR) -> list[Source]:
    """The sources of the Meltano project at ``root``, in the order ``meltano.yml`` lists them.

    Raises:
        ValueError: when two extractors share a name or map to the same identifier.
    """
    extractors = read_project(root)["plugins"]["extractors"]
    by_name: dict[str, dict[str, t.Any]] = {}
    for plugin in extractors:
        if plugin["name"] in by_name:
            raise ValueError(f"extractor {plugin['name']!r} is declared twice")
        by_name[plugin["name"]] = plugin
    sources = [
        Source(
            extractor=name,
            protocol=_setting(by_name, name, "source") or DEFAULT_PROTOCOL,
            asset_name=_NOT_NAME.sub("_", name),
            inherit_from=plugin["inherit_from"],
        )
        for name, plugin in by_name.items()
        if name != base and base in _chain(by_name, name)
    ]
    names = [s.asset_name for s in sources]
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
        raise ValueError(f"extractor names that map to the same identifier: {clashes}")
    return sources


def _chain(by_name: dict[str, dict[str, t.Any]], name: str) -> list[str]:
    """``name`` and the plugins it inherits from, nearest first (stops at a loop)."""
    chain: list[str] = []
    current: str | None = name
    while current is not None and current not in chain:
        chain.append(current)
        current = (by_name.get(current) or {}).get("inherit_from")
    return chain


def _setting(by_name: dict[str, dict[str, t.Any]], name: str, setting: str) -> t.Any:
    """A setting's value in ``config:`` along the inheritance chain (the nearest wins)."""
    for plugin_name in _chain(by_name, name):
        config = (by_name.get(plugin_name) or {}).get("config") or {}
        if setting in config:
            return config[setting]
    return None
