"""Run metrics: Prometheus counters while the run lasts, a textfile and a JSON summary at its end.

One :class:`RunMetrics` per run, on a registry of its own (never the process-global one)::

    metrics = RunMetrics()
    metrics.request("/oai", 200); metrics.retry("HTTP 503"); metrics.waited("retry_after", 3.0)
    metrics.serve(9108)                          # optional: scrape it while the run lasts
    metrics.write_textfile("/var/lib/node_exporter/textfile/museum.prom")   # atomically

Exposed (all prefixed ``tap_museumcms_``): ``requests_total{endpoint,status}``,
``retries_total{reason}``, ``wait_seconds_total{cause}`` (``retry_after``, ``budget``,
``ceiling``, ``backoff``, ``breaker``, ``quiet_hours``), ``ratelimit_remaining``,
``connections_total{kind}`` (``opened``, ``reused``, counted at the connection pool),
``records_total{stream}``, ``quarantined_total{stream,reason}``, ``pages_total{stream}``,
``breaker_state{host}`` (0 closed, 1 half-open, 2 open) and
``last_checkpoint_timestamp_seconds{stream}``.
"""

from __future__ import annotations

import typing as t

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server
from prometheus_client import write_to_textfile as _write_to_textfile

if t.TYPE_CHECKING:
    import requests

_P = "tap_museumcms_"


class RunMetrics:
    """The run's Prometheus metrics (see the module docstring for the names)."""

    def __init__(self) -> None:
        self._server: t.Any = None  # the metrics_port server, while it serves
        self.registry = registry = CollectorRegistry()
        self.requests = Counter(_P + "requests", "HTTP responses by endpoint and status",
                                ["endpoint", "status"], registry=registry)
        self.retries = Counter(_P + "retries", "Retried attempts by reason", ["reason"],
                               registry=registry)
        self.waits = Counter(_P + "wait_seconds", "Seconds waited before requests, by cause",
                             ["cause"], registry=registry)
        self.budget = Gauge(_P + "ratelimit_remaining",
                            "Requests left in the source's announced budget", registry=registry)
        self.connections = Counter(_P + "connections", "TCP connections opened and reused",
                                   ["kind"], registry=registry)
        self.records = Counter(_P + "records", "Records emitted by stream", ["stream"],
                               registry=registry)
        self.quarantined = Counter(_P + "quarantined", "Items quarantined by stream and reason",
                                   ["stream", "reason"], registry=registry)
        self.pages = Counter(_P + "pages", "Pages read by stream", ["stream"], registry=registry)
        self.breaker = Gauge(_P + "breaker_state", "Circuit breaker: 0 closed, 1 half-open, "
                             "2 open", ["host"], registry=registry)
        self.checkpoint = Gauge(_P + "last_checkpoint_timestamp_seconds",
                                "When the last STATE was written", ["stream"], registry=registry)
        self._pools_seen: tuple[int, int] = (0, 0)

    # -- recording ---------------------------------------------------------------------

    def request(self, endpoint: str, status: int | str) -> None:
        self.requests.labels(endpoint, str(status)).inc()

    def retry(self, reason: str) -> None:
        self.retries.labels(reason).inc()

    def waited(self, cause: str, seconds: float) -> None:
        if seconds > 0:
            self.waits.labels(cause).inc(seconds)

    def count_connections(self, session: requests.Session) -> None:
        """Read the pools' own counters: new connections and requests, hence reuse."""
        opened = sent = 0
        for adapter in {id(a): a for a in session.adapters.values()}.values():
            pools = getattr(getattr(adapter, "poolmanager", None), "pools", None)
            for key in pools.keys() if pools is not None else ():
                pool = pools.get(key)
                opened += getattr(pool, "num_connections", 0)
                sent += getattr(pool, "num_requests", 0)
        last_opened, last_sent = self._pools_seen
        if opened >= last_opened and sent >= last_sent:
            self.connections.labels("opened").inc(opened - last_opened)
            reused = (sent - opened) - (last_sent - last_opened)
            self.connections.labels("reused").inc(max(reused, 0))
        self._pools_seen = (opened, sent)

    # -- reading -----------------------------------------------------------------------

    def total(self, counter: Counter, **labels: str) -> float:
        """The sum of a counter over the label values that match ``labels``."""
        found = 0.0
        for metric in counter.collect():
            for sample in metric.samples:
                if sample.name.endswith("_total") and all(
                    sample.labels.get(k) == v for k, v in labels.items()
                ):
                    found += sample.value
        return found

    # -- export ------------------------------------------------------------------------

    def serve(self, port: int) -> None:
        """Expose the metrics on ``port`` (loopback only) while the run lasts (:meth:`stop`)."""
        self._server, _ = start_http_server(port, addr="127.0.0.1", registry=self.registry)

    def stop(self) -> None:
        """Stop serving the metrics (the port is free again)."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def write_textfile(self, path: str) -> None:
        """Write the node-exporter textfile format, atomically (a temporary file renamed)."""
        _write_to_textfile(path, self.registry)
