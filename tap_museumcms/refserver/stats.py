"""What the reference server saw and sent: requests per path, statuses, connections, bytes."""

from __future__ import annotations

import threading
import typing as t
from collections import Counter


class RequestLog(t.NamedTuple):
    """One request as the server saw it: ``(path, params, status, ...)``.

    Attributes:
        path: the path.
        params: query values as sent (the first of each name), credentials-looking parameters
            removed.
        status: the status answered; 0 when the connection was closed without an answer.
        method: ``GET``, ``POST``.
        host: the host the client addressed (``Host`` header, without the port).
        carriers: where the request carried a credential, never its value: ``Authorization``,
            ``X-API-Key``, ``query:<name>`` (e.g. ``query:api_key``).
        credential: which credential it was: ``key 2``, ``oauth``, ``unknown`` or ``""``.
        at: server-clock time the request arrived.
    """

    path: str
    params: dict[str, str]
    status: int
    method: str = "GET"
    host: str = ""
    carriers: tuple[str, ...] = ()
    credential: str = ""
    at: float = 0.0


class ServerStats:
    """Thread-safe counters; every property returns a copy."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._statuses: Counter[int] = Counter()
        self._log: list[RequestLog] = []
        self._connections = 0
        self._bytes_sent = 0
        self._largest_write = 0

    def record(self, path: str, params: dict[str, str], status: int, **more: t.Any) -> None:
        """Log one request (``more``: the other :class:`RequestLog` fields)."""
        with self._lock:
            self._requests[path] += 1
            self._statuses[status] += 1
            self._log.append(RequestLog(path, dict(params), status, **more))

    def connection_opened(self) -> None:
        with self._lock:
            self._connections += 1

    def add_bytes(self, count: int) -> None:
        with self._lock:
            self._bytes_sent += count
            self._largest_write = max(self._largest_write, count)

    @property
    def requests(self) -> dict[str, int]:
        """Requests per path, e.g. ``{"/objects": 12, "/_admin/stats": 1}``."""
        with self._lock:
            return dict(self._requests)

    @property
    def statuses(self) -> dict[int, int]:
        """Responses per status code."""
        with self._lock:
            return dict(self._statuses)

    @property
    def count_429(self) -> int:
        """How many 429 responses were sent (fault or rate limiter)."""
        with self._lock:
            return self._statuses[429]

    @property
    def log(self) -> list[RequestLog]:
        """Every request in arrival order (of the response)."""
        with self._lock:
            return list(self._log)

    @property
    def connections(self) -> int:
        """TCP connections accepted."""
        with self._lock:
            return self._connections

    @property
    def bytes_sent(self) -> int:
        """Bytes written to sockets (headers, framing and bodies)."""
        with self._lock:
            return self._bytes_sent

    @property
    def largest_write(self) -> int:
        """The most bytes written to a socket at once (a chunk with its framing, or the headers):
        a streamed body keeps it near 32 KiB however large the body is."""
        with self._lock:
            return self._largest_write

    def snapshot(self) -> dict[str, t.Any]:
        """JSON-ready copy, as served by ``GET /_admin/stats``."""
        with self._lock:
            return {
                "requests": dict(self._requests),
                "statuses": {str(k): v for k, v in self._statuses.items()},
                "connections": self._connections,
                "bytes_sent": self._bytes_sent,
                "largest_write": self._largest_write,
                "log": [entry._asdict() for entry in self._log],
            }
