"""tap-museumcms: settings and the stream list."""

from __future__ import annotations

import random
import sys
import typing as t
from functools import cached_property

from singer_sdk import Tap
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers.capabilities import PluginCapabilities, TapCapabilities

from tap_museumcms.auth import config_secrets
from tap_museumcms.clock import SYSTEM_CLOCK, Clock
from tap_museumcms.dialects import Dialect, make_dialect
from tap_museumcms.errors import TapError
from tap_museumcms.redact import install_secret_filter
from tap_museumcms.run import QuietHoursExit, Run, quiet_hours
from tap_museumcms.settings import CONFIG_SCHEMA
from tap_museumcms.sidestreams import IIIFManifestsStream, LidoRecordsStream, QuarantineStream
from tap_museumcms.streams import DERIVED, HARVESTED
from tap_museumcms.transport import Transport

if t.TYPE_CHECKING:
    from types import FrameType

    from singer_sdk.streams import Stream


class TapMuseumCMS(Tap):
    """Harvests a museum CMS: objects, rights statements, media, with a quarantine stream."""

    name = "tap-museumcms"
    #: msgspec serialises messages several times faster than the default simplejson writer.
    message_writer_class = MsgSpecWriter

    #: No BATCH (batched records are buffered, so the cursor checkpoint would run ahead of
    #: them) and no ACTIVATE_VERSION (the side streams are fed outside their own sync).
    capabilities: t.ClassVar[list] = [
        TapCapabilities.CATALOG,
        TapCapabilities.STATE,
        TapCapabilities.DISCOVER,
        PluginCapabilities.ABOUT,
        PluginCapabilities.STREAM_MAPS,
        PluginCapabilities.FLATTENING,
        PluginCapabilities.STRUCTURED_LOGGING,
    ]

    config_jsonschema = CONFIG_SCHEMA

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        #: Injected in tests; the real clock otherwise.
        self.clock: Clock = SYSTEM_CLOCK
        self.rng = random.Random()
        #: Streams that stopped on an error the other streams could run past.
        self.failures: list[str] = []
        self.run: Run | None = None
        super().__init__(*args, **kwargs)
        install_secret_filter(config_secrets(self.config))
        quiet_hours(self.config, self.clock)  # a bad window fails here, before any request

    @cached_property
    def dialect(self) -> Dialect:
        """The source's protocol, from the ``source`` setting."""
        return make_dialect(self.config)

    @property
    def transport(self) -> Transport:
        """The run's HTTP client, built (and the source prepared) on first use."""
        if self.run is None:
            self.run = Run(self.config, self.dialect, clock=self.clock, rng=self.rng)
        return self.run.transport

    def discover_streams(self) -> list[Stream]:
        """The resource streams (harvested or derived, by source), then the side streams."""
        harvested = self.dialect.harvested
        streams: list[Stream] = [
            HARVESTED[name](self) if name in harvested else DERIVED[name](self)
            for name in ("objects", "rights", "media")
        ]
        streams.append(QuarantineStream(self))
        if self.config.get("lido_enabled", True):
            streams.append(LidoRecordsStream(self))
        if self.config.get("iiif_enabled", True):
            streams.append(IIIFManifestsStream(self))
        return streams

    def sync_all(self) -> None:
        """Sync every stream; a stream stopped by a source error fails the run at the end."""
        exit = "complete"
        try:
            super().sync_all()
            if self.failures:
                raise TapError(
                    f"{len(self.failures)} stream(s) stopped early: " + "; ".join(self.failures)
                )
        except QuietHoursExit as quiet:
            exit = f"quiet hours: {quiet}"
            raise
        except BaseException as exc:
            exit = f"failed: {exc}" if isinstance(exc, TapError) else (
                f"stopped: {type(exc).__name__}")
            raise
        finally:
            if self.run is not None:
                self.run.finish(self.streams, self.state, exit)
                self.run = None

    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        """SIGTERM or SIGINT: stop at once, with no STATE of its own, and exit 128 + signal.

        The SDK's handler writes a STATE wherever the signal lands and exits 0. The harvest
        moves its checkpoint past a record before the record is written (derived rows, LIDO
        and IIIF come in between), so a STATE written there would skip that record on resume;
        and a run stopped halfway is no success. The last STATE the harvest wrote (before its
        last page request) is exact: the next run resumes there.
        """
        self.logger.warning("tap-museumcms stopped by signal %d; the next run resumes from the "
                            "last STATE written", signum)
        raise SystemExit(128 + signum)

    @classmethod
    def invoke(cls, *args: t.Any, **kwargs: t.Any) -> None:  # type: ignore[override]
        """Run the tap; a known failure ends it with one clear ERROR line and exit code 1."""
        try:
            super().invoke(*args, **kwargs)
        except QuietHoursExit as quiet:
            cls.logger.info("tap-museumcms paused: %s", quiet)
            sys.exit(0)
        except TapError as exc:
            cls.logger.error("tap-museumcms failed: %s", exc)  # noqa: TRY400
            sys.exit(1)
        except ConfigValidationError as exc:
            problems = "; ".join(exc.errors) or str(exc)
            cls.logger.error("tap-museumcms failed: invalid settings: %s", problems)  # noqa: TRY400
            sys.exit(1)


if __name__ == "__main__":
    TapMuseumCMS.cli()
