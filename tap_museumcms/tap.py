"""tap-museumcms: settings and the stream list."""

from __future__ import annotations

import random
import sys
import typing as t
from functools import cached_property

from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers.capabilities import PluginCapabilities, TapCapabilities

from tap_museumcms.clock import SYSTEM_CLOCK, Clock
from tap_museumcms.dialects import DIALECTS, Dialect, make_dialect
from tap_museumcms.errors import TapError
from tap_museumcms.redact import install_secret_filter, url_secrets
from tap_museumcms.sidestreams import IIIFManifestsStream, LidoRecordsStream, QuarantineStream
from tap_museumcms.streams import DERIVED, HARVESTED
from tap_museumcms.transport import StreamStats, Transport

if t.TYPE_CHECKING:
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

    config_jsonschema = th.PropertiesList(
        th.Property("source", th.StringType, default="jsonl", allowed_values=sorted(DIALECTS),
                    description="The protocol of the source: `jsonl` (the JSONL harvesting "
                    "contract) or `oai-pmh` (an OAI-PMH repository serving LIDO or Dublin "
                    "Core)."),
        th.Property("api_url", th.URIType, required=True,
                    description="Base URL of the source: the CMS harvesting API "
                    "(https://cms.example.org/api) or the OAI-PMH base URL "
                    "(https://www.kenom.de/oai)."),
        th.Property("oai_metadata_prefix", th.StringType, default="lido",
                    description="OAI-PMH only: the `metadataPrefix` to harvest (`lido`, "
                    "`oai_lido`, `oai_dc`, ...); it must be a LIDO or Dublin Core format the "
                    "repository lists in ListMetadataFormats."),
        th.Property("oai_set", th.StringType,
                    description="OAI-PMH only: harvest only this set (`setSpec`)."),
        th.Property("full_harvest_every_days", th.IntegerType,
                    description="Every this many days, harvest everything instead of the "
                    "changes, then send ACTIVATE_VERSION so that the target marks deleted "
                    "(`_sdc_deleted_at`) every row the full harvest did not see again: how "
                    "deletions are found at a source that does not report them (OAI-PMH "
                    "`deletedRecord` `no` or `transient`, the public museum APIs). Needs a "
                    "target that honours ACTIVATE_VERSION (target-postgres with "
                    "`add_record_metadata`). Unset: never; 0: every run."),
        th.Property("api_key", th.StringType, secret=True,
                    description="API key or token; sent as `Authorization: Bearer <key>` "
                    "(or `X-API-Key`, see auth_header). Never logged."),
        th.Property("auth_header", th.StringType, default="authorization",
                    allowed_values=["authorization", "x-api-key"],
                    description="How the key is sent: `authorization` (Bearer) or `x-api-key`."),
        th.Property("page_size", th.IntegerType, default=500,
                    description="Records per page (`limit`), 1..1000; the server may cap it "
                    "lower."),
        th.Property("start_date", th.DateTimeType,
                    description="ISO 8601; the first sync asks only for records modified at or "
                    "after it (`modified_since`). Later syncs use the bookmark."),
        th.Property("max_retries", th.IntegerType, default=5,
                    description="Retries of one request (429, 502, 503, 504, timeouts, broken "
                    "connections) before the run fails."),
        th.Property("max_retry_after_seconds", th.NumberType, default=300,
                    description="Upper bound on any single wait, including a server's "
                    "Retry-After."),
        th.Property("request_timeout_seconds", th.NumberType, default=60,
                    description="Connect and read timeout (seconds between bytes, not per body)."),
        th.Property("max_requests_per_second", th.NumberType,
                    description="Optional ceiling on the request rate, on top of what the "
                    "server's rate-limit headers allow."),
        th.Property("user_agent", th.StringType,
                    description="User-Agent header; defaults to `tap-museumcms/<version>`."),
        th.Property("max_line_bytes", th.IntegerType, default=16 * 1024 * 1024,
                    description="A JSONL line longer than this is quarantined unread."),
        th.Property("fuzzy_dates", th.StringType, default="quarantine",
                    allowed_values=["quarantine", "keep"],
                    description="A non-ISO `creation_date_iso` such as 'c. 1850': `quarantine` "
                    "the record, or `keep` it with the date nulled and the text in "
                    "`creation_date_raw`."),
        th.Property("quarantine_raw_max_bytes", th.IntegerType, default=65536,
                    description="How much of a rejected line's raw text the quarantine keeps."),
        th.Property("lido_enabled", th.BooleanType, default=True,
                    description="Emit the `lido_records` stream: one LIDO 1.1 XML record per "
                    "valid object (costs about 0.26 ms of CPU per object)."),
        th.Property("iiif_enabled", th.BooleanType, default=True,
                    description="Emit the `iiif_manifests` stream: one IIIF Presentation 3.0 "
                    "Manifest per valid object that has images."),
        th.Property("iiif_base_url", th.URIType,
                    description="Base for manifest ids when the source sends no "
                    "`iiif_manifest_url`: `<base>/<object_id>/manifest`."),
        th.Property("institution_name", th.StringType,
                    description="The museum's name: LIDO `recordSource` and IIIF `provider`."),
        th.Property("institution_url", th.URIType,
                    description="The museum's web site: IIIF `provider` id and homepage."),
        th.Property("record_info_base_url", th.URIType,
                    description="Base of an object's public web page, for LIDO "
                    "`recordInfoLink` (`<base><object_id>`)."),
    ).to_dict()

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        #: Injected in tests; the real clock otherwise.
        self.clock: Clock = SYSTEM_CLOCK
        self.rng = random.Random()
        #: Streams that stopped on an error the other streams could run past.
        self.failures: list[str] = []
        self._transport: Transport | None = None
        super().__init__(*args, **kwargs)
        install_secret_filter(
            [str(self.config.get("api_key") or ""), *url_secrets(str(self.config.get("api_url")))]
        )

    @cached_property
    def dialect(self) -> Dialect:
        """The source's protocol, from the ``source`` setting."""
        return make_dialect(self.config)

    @property
    def transport(self) -> Transport:
        """The run's HTTP client, built (and the source prepared) on first use."""
        if self._transport is None:
            dialect = self.dialect
            self._transport = Transport.from_config(
                self.config, clock=self.clock, rng=self.rng, key_param=dialect.key_param,
                default_rps=dialect.default_requests_per_second,
                rate_statuses=dialect.rate_statuses)
            self.dialect.prepare(self._transport, StreamStats())
        return self._transport

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
        try:
            super().sync_all()
        finally:
            if self._transport is not None:
                self._transport.session.close()
                self._transport = None
        if self.failures:
            raise TapError(
                f"{len(self.failures)} stream(s) stopped early: " + "; ".join(self.failures)
            )

    @classmethod
    def invoke(cls, *args: t.Any, **kwargs: t.Any) -> None:  # type: ignore[override]
        """Run the tap; a known failure ends it with one clear ERROR line and exit code 1."""
        try:
            super().invoke(*args, **kwargs)
        except TapError as exc:
            cls.logger.error("tap-museumcms failed: %s", exc)  # noqa: TRY400
            sys.exit(1)
        except ConfigValidationError as exc:
            problems = "; ".join(exc.errors) or str(exc)
            cls.logger.error("tap-museumcms failed: invalid settings: %s", problems)  # noqa: TRY400
            sys.exit(1)


if __name__ == "__main__":
    TapMuseumCMS.cli()
