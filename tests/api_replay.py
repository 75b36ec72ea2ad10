"""A local stand-in for a public museum API, for the dialect tests: routes, faults, a request log.

A test gives it a function that answers one request; the server adds what every API test
needs around it::

    def answer(path: str, params: dict[str, str]) -> Reply:
        return Reply(200, json.dumps(page).encode())

    with ApiReplay(answer, faults=ReplayFaults(status_429_every=4, retry_after="2")) as api:
        run_tap({"source": "aic", "api_url": api.url, ...})
        api.log     # [Logged(path="/api/v1/artworks", params={...}, headers={...}, status=200)]

Faults (each every n-th request, counted from 1 over all requests): 429 or 503 with
``Retry-After``, a body cut in the middle and the connection closed (``cut_every``). Bodies go
out chunked, in pieces of ``chunk_bytes``, so a cut lands inside a record. The server keeps
one TCP connection per client (keep-alive) and counts connections.
"""

from __future__ import annotations

import dataclasses
import http.server
import json
import socket
import threading
import typing as t
from urllib.parse import parse_qs, urlsplit


@dataclasses.dataclass
class Reply:
    """What the API answers: status, body, extra headers."""

    status: int
    body: bytes
    headers: dict[str, str] = dataclasses.field(default_factory=dict)

    @classmethod
    def json(cls, value: t.Any, status: int = 200, **headers: str) -> Reply:
        return cls(status, json.dumps(value).encode(), dict(headers))


@dataclasses.dataclass
class ReplayFaults:
    """Every n-th request (0: never) gets the fault; ``retry_after`` is sent as is."""

    status_429_every: int = 0
    status_503_every: int = 0
    cut_every: int = 0
    retry_after: str = "1"
    extra_429_headers: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Logged:
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    status: int


class ApiReplay:
    """Serves ``answer(path, params)`` on a loopback port (a context manager)."""

    def __init__(
        self,
        answer: t.Callable[[str, dict[str, str]], Reply],
        *,
        faults: ReplayFaults | None = None,
        chunk_bytes: int = 4096,
    ) -> None:
        self.answer = answer
        self.faults = faults or ReplayFaults()
        self.chunk_bytes = chunk_bytes
        self.log: list[Logged] = []
        self.connections = 0
        self.requests = 0
        self._lock = threading.Lock()
        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_port}"

    def __enter__(self) -> ApiReplay:
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _decide(self, path: str, params: dict[str, str]) -> tuple[Reply, bool]:
        with self._lock:
            self.requests += 1
            n = self.requests
        f = self.faults

        def fires(every: int) -> bool:
            return every > 0 and n % every == 0

        if fires(f.status_429_every):
            headers = {"Retry-After": f.retry_after, **f.extra_429_headers}
            return Reply(429, b'{"error": "too many requests"}', headers), False
        if fires(f.status_503_every):
            return Reply(503, b"busy", {"Retry-After": f.retry_after}), False
        return self.answer(path, params), fires(f.cut_every)

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        replay = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with replay._lock:
                    replay.connections += 1

            def do_GET(self) -> None:  # noqa: N802
                parts = urlsplit(self.path)
                params = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
                reply, cut = replay._decide(parts.path, params)
                replay.log.append(Logged(parts.path, params, dict(self.headers), reply.status))
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                body = reply.body[: len(reply.body) // 2] if cut else reply.body
                for start in range(0, len(body), replay.chunk_bytes):
                    piece = body[start:start + replay.chunk_bytes]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                if cut:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(b"0\r\n\r\n")

            def log_message(self, *args: object) -> None:
                pass

        return Handler
