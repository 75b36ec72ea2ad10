"""HTTP/1.1 plumbing of the reference server: keep-alive connections, chunked framing by hand,
byte counting, dropped connections; what to answer is :func:`routes.route`'s business."""

from __future__ import annotations

import contextlib
import email.utils
import socket
import struct
import sys
import threading
import typing as t
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from tap_museumcms.refserver.faults import Reply
from tap_museumcms.refserver.routes import first_values, request_host, route
from tap_museumcms.refserver.stats import ServerStats

if t.TYPE_CHECKING:
    from tap_museumcms.refserver.server import ReferenceServer

CHUNK_TARGET = 32 * 1024
"""Body pieces are gathered into chunks of about this size."""
CHUNK_MAX = 64 * 1024
"""No chunk is larger (a bigger piece is split)."""
_SECRET_PARAMS = {"api_key", "apikey", "key", "token", "access_token", "client_secret"}


class HTTPServer(ThreadingHTTPServer):
    """A threading server that knows its open connections (to close them on stop)."""

    daemon_threads = True
    allow_reuse_address = True
    app: ReferenceServer

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def track(self, sock: socket.socket, opened: bool) -> None:
        with self._open_lock:
            (self._open.add if opened else self._open.discard)(sock)

    def handle_error(self, request: t.Any, client_address: t.Any) -> None:
        """A connection the client dropped or the server aborted is not news; quiet by default."""
        if self.app.verbose:
            super().handle_error(request, client_address)

    def close_connections(self) -> None:
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _CountingWriter:
    """Unbuffered socket writer that counts bytes into the stats."""

    def __init__(self, raw: t.Any, stats: ServerStats) -> None:
        self._raw = raw
        self._stats = stats

    def write(self, data: bytes) -> int:
        self._raw.write(data)
        self._stats.add_bytes(len(data))
        return len(data)

    @property
    def closed(self) -> bool:
        return bool(self._raw.closed)

    def flush(self) -> None:
        self._raw.flush()

    def close(self) -> None:
        self._raw.close()


class Handler(BaseHTTPRequestHandler):
    """One TCP connection, many requests."""

    protocol_version = "HTTP/1.1"
    server_version = "MuseumCMS-Reference/1.0"
    timeout = 120
    server: HTTPServer

    @property
    def app(self) -> ReferenceServer:
        return self.server.app

    def setup(self) -> None:
        super().setup()
        # headers and body go out in separate writes: without this, Nagle + delayed ACK add 40 ms
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, True)
        self.app.stats.connection_opened()
        self.wfile = _CountingWriter(self.wfile, self.app.stats)  # type: ignore[assignment]

    def finish(self) -> None:
        self.server.track(self.connection, False)
        with contextlib.suppress(OSError):
            super().finish()

    def version_string(self) -> str:
        return self.server_version

    # logging: quiet unless verbose; never the query string, never headers
    def date_time_string(self, timestamp: float | None = None) -> str:
        return email.utils.formatdate(
            self.app.clock.time() if timestamp is None else timestamp, usegmt=True
        )

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = urlsplit(self.path).path if hasattr(self, "path") else "-"
        self.log_message("%s %s %s", getattr(self, "command", "-"), path, code)

    def log_message(self, format: str, *args: t.Any) -> None:  # noqa: A002
        if self.app.verbose:
            sys.stderr.write(f"refserver {self.address_string()} {format % args}\n")

    # methods
    def do_GET(self) -> None:  # noqa: N802
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._serve("POST")

    def _serve(self, method: str) -> None:
        arrived = self.app.clock.time()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        try:
            reply = route(self.app, method, url.path, query, self.headers, body)
            params = {
                name: value
                for name, value in first_values(query).items()
                if name.lower() not in _SECRET_PARAMS
            }
            carriers = tuple(
                [name for name in ("Authorization", "X-API-Key") if name in self.headers]
                + [f"query:{name}" for name in query if name.lower() in _SECRET_PARAMS]
            )
            self.app.stats.record(
                url.path, params, reply.status, method=method, host=request_host(self.headers),
                carriers=carriers, credential=self.app.gate.label(self.headers), at=arrived,
            )
            self._send(reply)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # writing
    def _send(self, reply: Reply) -> None:
        if reply.status == 0:  # no answer at all (refuse_from_request)
            self._abort(rst=False)
            return
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        if not reply.chunked:
            body = b"".join(reply.body)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self._write_chunks(reply.body)
        if reply.abort:
            self._abort()
            return
        self.wfile.write(b"0\r\n\r\n")

    def _write_chunks(self, pieces: Iterable[bytes]) -> None:
        """Pieces gathered into chunks of ``CHUNK_TARGET`` or more, none over ``CHUNK_MAX``:
        the body is written as it is produced and never held whole."""
        buffer = bytearray()
        for piece in pieces:
            buffer += piece
            if len(buffer) >= CHUNK_TARGET:
                self._flush(buffer)
        self._flush(buffer)

    def _flush(self, buffer: bytearray) -> None:
        for offset in range(0, len(buffer), CHUNK_MAX):
            data = bytes(buffer[offset : offset + CHUNK_MAX])
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        buffer.clear()

    def _abort(self, *, rst: bool | None = None) -> None:
        """Drop the connection mid-body (FIN, or RST with ``reset_with_rst``)."""
        self.close_connection = True
        sock = self.connection
        try:
            if self.app.faults.reset_with_rst if rst is None else rst:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()
            else:
                sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
