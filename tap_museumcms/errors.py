"""The tap's error types: each ends a run (or a stream) with one clear line."""

from __future__ import annotations


class TapError(Exception):
    """An error that ends the run with one clear line (and a non-zero exit)."""


class ConfigurationError(TapError):
    """The settings point at something that cannot work (bad URL, key, host, prefix)."""


class SourceError(TapError):
    """The source misbehaved beyond what retries can fix."""
