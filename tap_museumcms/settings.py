"""The tap's settings: the JSON Schema that ``--about`` prints and Meltano validates against.

Grouped as: the source; what to harvest; credentials; pacing, retries and containment; quiet
hours; metrics; validation and derived documents. ``meltano.yml``, the Hub definition and the
README settings table move with it (``tests/test_docs.py`` and
``tests/e2e/test_plugin_definitions.py`` hold them together).
"""

from __future__ import annotations

from singer_sdk import typing as th

from tap_museumcms.dialects import DIALECTS

CONFIG_SCHEMA = th.PropertiesList(
    th.Property("source", th.StringType, default="jsonl", allowed_values=sorted(DIALECTS),
                description="The protocol of the source: `jsonl` (the JSONL harvesting "
                "contract), `oai-pmh` (an OAI-PMH repository serving LIDO or Dublin Core), or "
                "a public museum API: `aic`, `cleveland`, `europeana`, `met`, `smithsonian`, "
                "`smk`."),
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
    th.Property("api_key", th.CustomType({"type": ["string", "array"],
                                          "items": {"type": "string"}}),
                secret=True,
                description="API key or token, or a list of them (a JSON list in a string "
                "works too): a key the source rejects (401, 403) or whose budget is spent is "
                "set aside and the next one used. Sent as `Authorization: Bearer <key>`, as "
                "`X-API-Key` (see auth_header) or in the query parameter the source wants, "
                "and only to the api_url's own origin. Never logged."),
    th.Property("auth_header", th.StringType, default="authorization",
                allowed_values=["authorization", "x-api-key"],
                description="How the key is sent: `authorization` (Bearer) or `x-api-key`."),
    th.Property("oauth_token_url", th.URIType,
                description="OAuth2 client credentials: the token endpoint. When set, requests "
                "carry `Authorization: Bearer <token>`, fetched once, renewed before it "
                "expires and once more on a 401."),
    th.Property("oauth_client_id", th.StringType,
                description="OAuth2 client credentials: the client id."),
    th.Property("oauth_client_secret", th.StringType, secret=True,
                description="OAuth2 client credentials: the client secret. Never logged."),
    th.Property("oauth_scope", th.StringType,
                description="OAuth2 client credentials: the scope to ask for, if any."),
    th.Property("page_size", th.IntegerType, default=500,
                description="Records per page (`limit`), 1..1000; the server may cap it "
                "lower."),
    th.Property("start_date", th.DateTimeType,
                description="ISO 8601; the first sync asks only for records modified at or "
                "after it (`modified_since`). Later syncs use the bookmark."),
    th.Property("max_retries", th.IntegerType, default=5,
                description="Retries of one request (429, the retry_statuses, timeouts, "
                "broken connections) before the run fails; also how many pages in a row may "
                "make no progress before a stream stops."),
    th.Property("retry_statuses", th.ArrayType(th.IntegerType), default=[500, 502, 503, 504],
                description="HTTP statuses retried as a failure of the host (counted by the "
                "circuit breaker). 429 is always retried, as rate limiting."),
    th.Property("breaker_failures", th.IntegerType, default=5,
                description="Circuit breaker: failed requests to one host within "
                "breaker_window_seconds that open it (no request for breaker_open_seconds, "
                "then one probe; if the probe fails too, the run stops with its state)."),
    th.Property("breaker_window_seconds", th.IntegerType, default=60,
                description="Circuit breaker: the window failures are counted in."),
    th.Property("breaker_open_seconds", th.IntegerType, default=60,
                description="Circuit breaker: how long no request goes to a host once open."),
    th.Property("max_page_bytes", th.IntegerType, default=1024 * 1024 * 1024,
                description="The largest response body read (after inflating gzip or "
                "deflate, which is also refused beyond 200 to 1): a bigger one stops the "
                "stream with its state kept."),
    th.Property("allow_insecure_http", th.BooleanType, default=False,
                description="Allow plain `http://` to a host other than this machine "
                "(credentials and data then travel in clear). TLS certificates are always "
                "verified."),
    th.Property("max_retry_after_seconds", th.NumberType, default=300,
                description="Upper bound on any single wait, including a server's "
                "Retry-After."),
    th.Property("request_timeout_seconds", th.NumberType, default=60,
                description="Connect and read timeout (seconds between bytes, not per body)."),
    th.Property("max_requests_per_second", th.NumberType,
                description="Optional ceiling on the request rate, on top of what the "
                "server's rate-limit headers allow."),
    th.Property("max_concurrency", th.IntegerType, default=1,
                description="Requests in flight at once for one stream (1 is one after the "
                "other). Above 1, the next pages are requested while the current one is read, "
                "for sources whose "
                "next cursors are known ahead (`aic` full harvests, `cleveland`, `met`, "
                "`smithsonian` full harvests, `smk`); they share the pacer, the rate budget and "
                "the breaker, and pages are still read in order (STATE unchanged)."),
    th.Property("quiet_hours", th.ArrayType(th.StringType),
                description="Windows in which no request is sent (the CMS's batch "
                "processing), as `HH:MM-HH:MM <IANA time zone>`, e.g. `01:30-03:00 "
                "Europe/London`; a window may cross midnight."),
    th.Property("quiet_hours_action", th.StringType, default="wait",
                allowed_values=["wait", "exit"],
                description="In a quiet window: `wait` for its end, or `exit` cleanly (exit "
                "code 0) with the state saved, for the next scheduled run to resume."),
    th.Property("metrics_port", th.IntegerType,
                description="Expose Prometheus metrics on 127.0.0.1:<port> while the run "
                "lasts."),
    th.Property("metrics_textfile", th.StringType,
                description="Write the run's Prometheus metrics to this file at the end of "
                "every run (node-exporter textfile collector format, written atomically)."),
    th.Property("run_summary", th.BooleanType, default=True,
                description="Print a one-object JSON summary of the run on stderr at its "
                "end: per stream records, quarantined, pages, retries, waits, bookmark; the "
                "exit reason."),
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
                "valid object (about 15 µs of CPU per object)."),
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
