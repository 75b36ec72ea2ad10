"""Pages fetched ahead: several requests in flight while the harvester reads one page.

A source whose next cursors are known before the current page is read (an offset, a page
number, the next ids of a list: :meth:`Dialect.following`) can have its next pages on the
way while the harvester handles the current one. The harvester still reads the pages one by
one, in order, and moves the checkpoint exactly as it does without this: concurrency is in
the network only, so the STATE stays as exact as it is sequentially and a resumed run starts
where the last STATE says.

Every request goes through the run's one :class:`~tap_museumcms.transport.Transport`: one
connection pool, one pacer and rate budget, one breaker per host. A page fetched ahead is
kept in a spooled file (memory up to :data:`SPOOL_BYTES`, then disk), so memory stays bounded
by ``max_concurrency`` pages whatever their size. Anything that goes wrong ahead of time (an
HTTP error, a broken body, a quiet window, a page too large) is dropped: the harvester then
sends that request itself and meets the problem where it is handled today.
"""

from __future__ import annotations

import logging
import tempfile
import typing as t
from concurrent.futures import Future, ThreadPoolExecutor

import requests

from tap_museumcms.body import BodyLimits
from tap_museumcms.transport import PageRequest, StreamStats, Transport

if t.TYPE_CHECKING:
    from collections.abc import Iterator

LOGGER = logging.getLogger("tap-museumcms")
#: A page fetched ahead stays in memory up to this size, then goes to a temporary file.
SPOOL_BYTES = 4 * 1024 * 1024
CHUNK_BYTES = 64 * 1024


class _Spooled:
    """A fetched body, read back like ``urllib3``'s raw response (``stream``, ``close``)."""

    def __init__(self, spool: t.BinaryIO) -> None:
        self._spool = spool

    def stream(self, amount: int = CHUNK_BYTES, decode_content: bool = False) -> Iterator[bytes]:
        self._spool.seek(0)
        while data := self._spool.read(amount):
            yield data

    def read(self, amount: int | None = None, **_: t.Any) -> bytes:
        return self._spool.read(-1 if amount is None else amount)

    def close(self) -> None:
        self._spool.close()


def request_key(request: PageRequest) -> tuple[str, tuple[tuple[str, str], ...]]:
    """What makes two page requests the same request."""
    return request.full_url, tuple(sorted(request.headers.items()))


class Prefetcher:
    """Up to ``workers`` page requests in flight ahead of the harvester.

    Args:
        transport: the run's transport (shared pool, pacer, breaker).
        stats: the stream's counters (the requests ahead count as the stream's).
        workers: how many requests may be in flight at once (``max_concurrency``).
        limits: the body limits (a page larger than ``max_page_bytes`` is not kept).
    """

    def __init__(self, transport: Transport, stats: StreamStats, workers: int,
                 limits: BodyLimits) -> None:
        self.transport = transport
        self.stats = stats
        self.workers = workers
        self.limits = limits
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="prefetch")
        self._ahead: dict[tuple, Future[requests.Response | None]] = {}
        #: Pages fetched ahead and then read, and those fetched for nothing.
        self.used = 0
        self.wasted = 0

    def want(self, current: PageRequest, following: list[PageRequest]) -> None:
        """Keep ``following`` on the way, and ``current`` if it already is (it is taken next);
        whatever else was on the way is no longer wanted and is dropped."""
        keep = request_key(current)
        # At most ``workers`` requests in flight, the harvester's own request for ``current``
        # included when it was not fetched ahead.
        room = self.workers - (0 if keep in self._ahead else 1)
        wanted = {request_key(r): r for r in following[: max(room, 0)]}
        for key in [k for k in self._ahead if k not in wanted and k != keep]:
            self._drop(self._ahead.pop(key))
        for key, request in wanted.items():
            if key not in self._ahead:
                self._ahead[key] = self._pool.submit(self._fetch, request)

    def take(self, request: PageRequest) -> requests.Response | None:
        """The response to ``request`` if it was fetched ahead (waiting for it if need be)."""
        future = self._ahead.pop(request_key(request), None)
        if future is None:
            return None
        response = future.result()
        if response is not None:
            self.used += 1
        return response

    def close(self) -> None:
        """Drop whatever is still on the way; the worker threads end with their request."""
        for future in self._ahead.values():
            self._drop(future)
        self._ahead.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _drop(self, future: Future[requests.Response | None]) -> None:
        self.wasted += 1
        future.add_done_callback(_close_result)

    def _fetch(self, request: PageRequest) -> requests.Response | None:
        """Send one request and keep its body; None when anything goes wrong."""
        try:
            response = self.transport.get(request, stats=self.stats)
        except Exception as exc:  # noqa: BLE001 - the harvester meets it again, in order
            LOGGER.debug("a page fetched ahead failed (%s); it will be asked for in turn", exc)
            return None
        try:
            return _spooled(response, self.limits)
        except Exception as exc:  # noqa: BLE001 - a broken body: asked for again, in turn
            LOGGER.debug("a page fetched ahead broke (%s); it will be asked for in turn", exc)
            return None
        finally:
            response.close()


def _spooled(response: requests.Response, limits: BodyLimits) -> requests.Response | None:
    """A copy of ``response`` whose (still encoded) body is read off the wire into a spool."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - kept open
    size = 0
    for data in response.raw.stream(CHUNK_BYTES, decode_content=False):
        size += len(data)
        if limits.max_bytes is not None and size > limits.max_bytes:
            spool.close()
            return None  # refused in turn, with the harvester's own message
        spool.write(data)
    copy = requests.Response()
    copy.status_code, copy.headers, copy.url = (response.status_code, response.headers,
                                                response.url)
    copy.reason, copy.encoding = response.reason, response.encoding
    copy.raw = _Spooled(spool)
    return copy


def _close_result(future: Future[requests.Response | None]) -> None:
    if not future.cancelled() and future.exception() is None:
        response = future.result()
        if response is not None:
            response.close()
