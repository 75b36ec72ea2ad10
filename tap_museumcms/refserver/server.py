"""The reference server: the Museum CMS harvesting API over HTTP/1.1, with switchable faults.

Stdlib only (``http.server``). Keep-alive is real (one handler per TCP connection, many requests),
bodies are ``Transfer-Encoding: chunked`` framed by hand, time comes from an injected clock.

Two faces over one collection, on one port, behind one gate (keys, OAuth2 tokens: see
:mod:`~tap_museumcms.refserver.gate`), one rate limiter and one fault counter:

- the JSONL harvesting contract (:mod:`~tap_museumcms.refserver.jsonl_face`)::

      GET /objects | /rights | /media ?cursor=&limit=&modified_since=   application/x-ndjson
      {"ObjectID": "T00938", ..., "next_cursor": "b64:MQ=="}\\n ...       (empty body = done)

- OAI-PMH 2.0 over the ``objects`` stream (:mod:`~tap_museumcms.refserver.oai`)::

      GET /oai?verb=ListRecords&metadataPrefix=lido               text/xml
      <OAI-PMH ...><ListRecords><record>...</record>...<resumptionToken ...>...</ListRecords>

Admin endpoints and routing: :mod:`~tap_museumcms.refserver.routes`. Errors of the JSONL face and
the admin endpoints are JSON: ``{"error": "bad_request", "message": "limit must be an integer"}``.

Fault counters (see :class:`Faults`): ``n`` numbers the *data requests* (authorised, well-formed
requests of the data endpoints, both faces together, from 1; requests refused by the rate
limiter do not advance it). A switch ``x_every = k`` fires when ``n % k == 0``; the status faults
win over the body faults, in the order 429, 503, 502, 504, 500, then the redirect to another
host; the gzip bomb replaces a page that would be answered 200. The page switches
(``stuck_cursor_at_page``, ``cursor_loop_at_page``) count the 200 pages of one *harvest* per
endpoint: a request without a cursor (or with ``cursor=0``; OAI: without a resumptionToken)
starts a new harvest at page 1. Connection refusals count every API request (see
:class:`Faults`). Replacing the faults resets every counter.
"""

from __future__ import annotations

import dataclasses
import threading
import typing as t
from collections.abc import Sequence

from tap_museumcms.clock import SYSTEM_CLOCK, Clock
from tap_museumcms.refserver.collection import Collection, Expected, line_key
from tap_museumcms.refserver.faults import FaultPolicy, Faults
from tap_museumcms.refserver.gate import Gate, OAuthClient
from tap_museumcms.refserver.handler import Handler, HTTPServer
from tap_museumcms.refserver.jsonl_face import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    JsonlFace,
    decode_cursor,
    encode_cursor,
    malformed_line,
)
from tap_museumcms.refserver.oai import OaiFace, OaiSettings
from tap_museumcms.refserver.routes import Headers
from tap_museumcms.refserver.stats import RequestLog, ServerStats

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "Faults",
    "OAuthClient",
    "OaiSettings",
    "ReferenceServer",
    "RequestLog",
    "ServerStats",
    "decode_cursor",
    "encode_cursor",
    "malformed_line",
]


class ReferenceServer:
    """The reference CMS server, in a background thread.

    Example:
        >>> with ReferenceServer(GeneratedCollection(1000)) as server:   # doctest: +SKIP
        ...     requests.get(server.url + "/objects", params={"limit": 10})
        ...     requests.get(server.url + "/oai", params={"verb": "Identify"})

    Args:
        collection: the data; its ``clock`` is set to ``clock`` so mutations use server time.
        faults: fault switches (default: none).
        token: when set, data requests need ``Authorization: Bearer <token>`` or
            ``X-API-Key: <token>``, else 401. The token is never logged nor echoed.
        keys: more accepted keys, after ``token`` (the log names them ``key 1``, ``key 2``, ...
            in that order, ``token`` first).
        oauth: an OAuth2 client: ``POST /oauth/token`` issues tokens and data requests need a
            live one (or a key).
        host: interface to bind.
        port: 0 picks a free port.
        clock: time for rate windows, ``Retry-After`` dates, ``Date``, mutations, OAI
            ``responseDate`` and resumptionToken expiry.
        max_limit: page size cap of the JSONL face (at most 1000); larger ``limit`` values are
            capped silently.
        verbose: log one line per request to stderr (path and status, never the query).
        oai: settings of the OAI-PMH face (granularity, deleted records, page size, token TTL).
    """

    def __init__(
        self,
        collection: Collection,
        *,
        faults: Faults | None = None,
        token: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Clock = SYSTEM_CLOCK,
        max_limit: int = MAX_LIMIT,
        verbose: bool = False,
        oai: OaiSettings | None = None,
        keys: Sequence[str] = (),
        oauth: OAuthClient | None = None,
    ) -> None:
        self.collection = collection
        collection.clock = clock
        self.clock = clock
        self.stats = ServerStats()
        self.max_limit = max(1, min(MAX_LIMIT, max_limit))
        self.verbose = verbose
        self.policy = FaultPolicy(faults or Faults(), clock)
        self.jsonl = JsonlFace(collection, self.policy, self.max_limit)
        self.oai = OaiFace(collection, self.policy, oai or OaiSettings(), clock, self._oai_url)
        self.gate = Gate([*([token] if token else []), *keys], oauth, self.policy, clock)
        self._host, self._port = host, port
        self._httpd: HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> ReferenceServer:
        """Bind and serve in a daemon thread; returns self."""
        if self._httpd is not None:
            return self
        httpd = HTTPServer((self._host, self._port), Handler)
        httpd.app = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name="refserver",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every open connection."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ReferenceServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:41234``."""
        if self._httpd is None:
            raise RuntimeError("server not started")
        host, port = t.cast(tuple[str, int], self._httpd.server_address[:2])
        return f"http://{host}:{port}"

    @property
    def oauth_url(self) -> str:
        """The token endpoint, e.g. ``http://127.0.0.1:41234/oauth/token``."""
        return f"{self.url}/oauth/token"

    def _oai_url(self) -> str:
        return f"{self.url}/oai" if self._httpd is not None else "http://refserver.example/oai"

    # --- faults and ground truth -------------------------------------------------------------
    @property
    def faults(self) -> Faults:
        """The current fault settings (a copy: use :meth:`set_faults` to change them)."""
        return self.policy.faults

    def set_faults(self, faults: Faults) -> None:
        """Replace the fault settings and reset every fault counter."""
        self.policy.set_faults(faults)

    def expected_malformed(self, stream: str) -> frozenset[bytes]:
        """The lines ``malformed_line_every`` inserts in a full JSONL harvest of ``stream``."""
        return self.jsonl.expected_malformed(stream)

    def expected(self, stream: str) -> Expected:
        """The collection's ground truth plus the malformed lines this server inserts, and with
        the records ``schema_drift_every`` sends drifted moved to the positions to quarantine."""
        base = self.collection.expected(stream)
        expected = dataclasses.replace(base, malformed_lines=self.expected_malformed(stream))
        drifted = self.jsonl.expected_drifted(stream) - base.invalid_positions
        if not drifted:
            return expected
        keys = {line_key(stream, self.collection.record_at(stream, p)) for p in drifted}
        return dataclasses.replace(
            expected, valid_keys=base.valid_keys - keys, tombstones=base.tombstones - keys,
            invalid_positions=base.invalid_positions | drifted)

    def expected_oai(self, prefix: str = "lido") -> Expected:
        """Ground truth of a full harvest of the OAI face with ``metadataPrefix=prefix``.

        Keys are OAI identifiers (``oai:refserver.example:obj-0000042``); the rules are those of
        :func:`tap_museumcms.refserver.oai_expected.expected_oai`.
        """
        return self.oai.expected(prefix)

    # --- auth --------------------------------------------------------------------------------
    def authorised(self, headers: Headers) -> bool:
        """True when the request may have data (no credential needed, or a good one)."""
        return self.gate.check(headers) is None
