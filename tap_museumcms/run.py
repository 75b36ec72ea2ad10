"""One run of the tap: its transport and metrics, built once, and what it leaves behind.

The tap opens a :class:`Run` on first use (the transport, with its credentials, quiet hours
and breakers; the metrics, served on ``metrics_port`` if set; the source prepared, e.g. an
OAI-PMH Identify) and finishes it at the end, however the run ends: the metrics go to
``metrics_textfile`` (atomically) and a one-object JSON summary to stderr::

    {"run_summary": {"exit": "complete", "source": "oai-pmh", "seconds": 12.3,
      "requests": 41, "connections_opened": 1, "retries": 3,
      "streams": {"objects": {"records": 9800, "quarantined": 12, "pages": 40, "retries": 3,
                              "waited_seconds": 6.0, "bookmark": "2026-11-20T10:00:00Z"}}}}
"""

from __future__ import annotations

import json
import logging
import sys
import typing as t

from tap_museumcms.auth import Credentials, config_secrets
from tap_museumcms.errors import ConfigurationError
from tap_museumcms.metrics import RunMetrics
from tap_museumcms.quiet import QuietHours, QuietPause
from tap_museumcms.redact import install_secret_filter
from tap_museumcms.transport import StreamStats, Transport, TransportSettings

if t.TYPE_CHECKING:
    import random
    from collections.abc import Mapping

    from tap_museumcms.clock import Clock
    from tap_museumcms.dialects.base import Dialect

LOGGER = logging.getLogger("tap-museumcms")


class QuietHoursExit(Exception):  # noqa: N818 - a clean end, not an error
    """A quiet window began and ``quiet_hours_action`` is ``exit``: the state is saved."""


def quiet_hours(config: Mapping[str, t.Any], clock: Clock) -> QuietHours:
    """The ``quiet_hours`` setting, read (a bad window is a configuration error)."""
    try:
        return QuietHours.parse(config.get("quiet_hours"), clock=clock)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None


class Run:
    """The run's transport and metrics, and its end."""

    def __init__(
        self, config: Mapping[str, t.Any], dialect: Dialect, *, clock: Clock, rng: random.Random
    ) -> None:
        self.config = config
        self.dialect = dialect
        self.clock = clock
        self.started = clock.monotonic()
        self.metrics = RunMetrics()
        if config.get("metrics_port"):
            self.metrics.serve(int(config["metrics_port"]))
        settings = TransportSettings.from_config(
            config, default_rps=dialect.default_requests_per_second,
            rate_statuses=dialect.rate_statuses)
        credentials = Credentials.from_config(config, key_param=dialect.key_param, clock=clock)
        self.transport = Transport(settings, clock=clock, rng=rng, credentials=credentials,
                                   quiet=quiet_hours(config, clock), metrics=self.metrics)
        install_secret_filter(config_secrets(config))
        self._prepare()

    def _prepare(self) -> None:
        """The dialect's preparation (OAI-PMH: Identify), waiting out a quiet window."""
        while True:
            try:
                self.dialect.prepare(self.transport, StreamStats())
                return
            except QuietPause as pause:
                self.pause(pause)

    def pause(self, pause: QuietPause) -> None:
        """Wait for the quiet window's end, or end the run (``quiet_hours_action: exit``).

        The caller has written its STATE before.

        Raises:
            QuietHoursExit: the run ends cleanly.
        """
        if self.config.get("quiet_hours_action", "wait") == "exit":
            raise QuietHoursExit(f"{pause}; the state is saved, the next run resumes there")
        LOGGER.info("%s; waiting for its end (no request in a quiet window)", pause)
        self.clock.sleep(pause.seconds)
        self.metrics.waited("quiet_hours", pause.seconds)

    def finish(self, streams: Mapping[str, t.Any], state: Mapping[str, t.Any], exit: str) -> None:
        """Close the transport; write the metrics and the run summary."""
        self.transport.close()
        self.metrics.stop()
        if self.config.get("metrics_textfile"):
            try:
                self.metrics.write_textfile(str(self.config["metrics_textfile"]))
            except OSError as exc:
                LOGGER.warning("could not write metrics_textfile: %s", exc)
        if self.config.get("run_summary", True):
            sys.stderr.write(json.dumps({"run_summary": self.summary(streams, state, exit)})
                             + "\n")
            sys.stderr.flush()

    def summary(
        self, streams: Mapping[str, t.Any], state: Mapping[str, t.Any], exit: str
    ) -> dict[str, t.Any]:
        bookmarks = state.get("bookmarks") or {}
        per_stream = {}
        for name, stream in streams.items():
            stats = getattr(stream, "stats", None)
            if stats is None:
                continue
            per_stream[name] = {
                "records": stats.records, "quarantined": sum(stats.quarantined.values()),
                "pages": stats.pages, "retries": sum(stats.retries.values()),
                "waited_seconds": round(stats.waited_seconds, 3),
                "bookmark": (bookmarks.get(name) or {}).get("replication_key_value"),
                "harvest_in_progress": "harvest" in (bookmarks.get(name) or {}),
            }
        m = self.metrics
        return {
            "exit": exit, "source": self.dialect.name,
            "seconds": round(self.clock.monotonic() - self.started, 3),
            "requests": int(m.total(m.requests)),
            "connections_opened": int(m.total(m.connections, kind="opened")),
            "retries": int(m.total(m.retries)), "streams": per_stream,
        }
