"""Reading a response body within bounds: size per page, and inflation of compressed bodies.

The body is read raw from the socket and inflated here (gzip, deflate), in bounded steps, so
that neither a huge page nor a decompression bomb can take the run's memory or time::

    for chunk in body_chunks(response, limits):
        ...   # at most BodyLimits.max_bytes in all; BodyRefused past it

A body over ``max_page_bytes`` (after inflation), or one that inflates more than ``max_ratio``
to one once past the first megabyte, is refused with :class:`BodyRefused`: the stream stops
with that line, its state kept. :class:`Inflater` also inflates a gzip body that no
``Content-Encoding`` announced (OAI-PMH repositories do send those).
"""

from __future__ import annotations

import typing as t
import zlib
from dataclasses import dataclass

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    import requests

#: Bytes read from the socket at a time.
CHUNK_BYTES = 64 * 1024
#: Inflate at most this much per step.
_STEP = 1024 * 1024
#: The ratio is judged once this much has come out (small bodies compress very well).
_RATIO_AFTER = 1024 * 1024


class BodyRefused(Exception):
    """The body is over a bound (the message says which)."""


@dataclass(frozen=True)
class BodyLimits:
    """``max_page_bytes`` (None: no bound) and the largest inflation ratio allowed."""

    max_bytes: int | None = None
    max_ratio: float = 200.0


class Inflater:
    """Inflates a gzip or deflate stream in bounded steps, checking size and ratio."""

    def __init__(self, kind: str, limits: BodyLimits) -> None:
        wbits = 31 if kind == "gzip" else 47 if kind == "auto" else -zlib.MAX_WBITS
        self._zlib = zlib.decompressobj(wbits=wbits)
        self._raw_deflate = kind == "deflate"
        self._started = False
        self.limits = limits
        self.compressed = 0
        self.inflated = 0

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Inflate ``data``; yield what comes out, step by step."""
        self.compressed += len(data)
        if self._raw_deflate and not self._started:
            # "deflate" is zlib-wrapped in the standard, raw in practice: accept both.
            self._started = True
            if data[:1] == b"\x78":
                self._zlib = zlib.decompressobj()
        while data:
            out = self._zlib.decompress(data, _STEP)
            data = self._zlib.unconsumed_tail
            if out:
                self.inflated += len(out)
                self._check()
                yield out

    def _check(self) -> None:
        limits = self.limits
        if limits.max_bytes is not None and self.inflated > limits.max_bytes:
            raise BodyRefused(f"the response inflates to more than max_page_bytes "
                              f"({limits.max_bytes} bytes); refused")
        ratio = self.inflated / max(self.compressed, 1)
        if self.inflated > _RATIO_AFTER and ratio > limits.max_ratio:
            raise BodyRefused(f"the response inflates more than {limits.max_ratio:g} to 1 "
                              f"({self.compressed} bytes became over {self.inflated}): a "
                              "decompression bomb; refused")


def body_chunks(response: requests.Response, limits: BodyLimits) -> Iterator[bytes]:
    """The body's bytes, inflated as its ``Content-Encoding`` says, within ``limits``.

    Raises:
        BodyRefused: past ``limits``.
    """
    encoding = (response.headers.get("Content-Encoding") or "").strip().lower()
    raw = response.raw.stream(CHUNK_BYTES, decode_content=False)
    if encoding in ("gzip", "x-gzip", "deflate"):
        inflater = Inflater("deflate" if encoding == "deflate" else "gzip", limits)
        for data in raw:
            yield from inflater.feed(data)
        return
    size = 0
    for data in raw:
        size += len(data)
        if limits.max_bytes is not None and size > limits.max_bytes:
            raise BodyRefused(f"the response is larger than max_page_bytes "
                              f"({limits.max_bytes} bytes); refused")
        yield data
