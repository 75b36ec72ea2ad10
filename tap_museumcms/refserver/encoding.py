"""Content encodings of the reference server: gzip bodies, and the gzip bomb.

Applied to a face's :class:`~tap_museumcms.refserver.faults.Reply` after it is built, so both faces
get them the same way::

    reply = encode_reply(reply, faults, accept_encoding="gzip, deflate")

- ``gzip_bodies``: a client that accepts gzip gets ``Content-Encoding: gzip``. A streamed body is
  compressed as it is produced (never held whole); a body the reset fault cuts is cut in its
  compressed form (what was sent so far is flushed, the gzip stream never ends).
- ``gzip_bomb_every``: the n-th data request that would be answered 200 gets, instead of its page,
  one gzip member of about ``gzip_bomb_bytes / 1000`` bytes that inflates to ``gzip_bomb_bytes``
  of spaces. It is built from one deflate block repeated (after a sync flush the compressor's
  output for another MiB of spaces is always the same 1,036 bytes), so it costs nothing to make;
  its CRC-32 is computed while it is sent, and only a client that reads it to its end pays for
  that.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Iterator

from tap_museumcms.refserver.faults import Faults, Reply

_MIB = 1024 * 1024
_SPACES = b" " * _MIB
#: gzip header: magic, deflate, no flags, no mtime, max compression, unknown OS.
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
#: An empty final block with fixed Huffman codes (what Z_FINISH writes after a sync flush).
_FINAL_BLOCK = b"\x03\x00"


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` value allows gzip (``gzip;q=0`` does not)."""
    for part in accept_encoding.split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() in ("gzip", "x-gzip", "*"):
            q = params.strip().lower().removeprefix("q=")
            return q.strip("0.") != "" or not q
    return False


def encode_reply(reply: Reply, faults: Faults, accept_encoding: str) -> Reply:
    """The reply as it goes out: a bomb in place of a page, or gzipped, or as it was."""
    if reply.status == 0:
        return reply
    bomb = faults.gzip_bomb_every
    if reply.status == 200 and bomb > 0 and reply.number > 0 and reply.number % bomb == 0:
        close = getattr(reply.body, "close", None)
        if close is not None:
            close()  # the page is not sent: let its generator go
        headers = [(k, v) for k, v in reply.headers if k.lower() != "content-encoding"]
        headers.append(("Content-Encoding", "gzip"))
        return reply._replace(headers=headers, body=gzip_bomb(faults.gzip_bomb_bytes),
                              chunked=True, abort=False)
    if not (faults.gzip_bodies and accepts_gzip(accept_encoding)):
        return reply
    headers = [*reply.headers, ("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")]
    body = gzip_pieces(reply.body, finish=not reply.abort)
    if not reply.chunked:
        body = [b"".join(body)]
    return reply._replace(headers=headers, body=body)


def gzip_pieces(pieces: Iterable[bytes], *, finish: bool) -> Iterator[bytes]:
    """``pieces`` compressed as one gzip member, piece by piece.

    Args:
        pieces: the body.
        finish: end the member (trailer included); False: flush what came and stop there, as a
            connection cut mid-body leaves it.
    """
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
    for piece in pieces:
        out = compressor.compress(piece)
        if out:
            yield out
    yield compressor.flush(zlib.Z_FINISH if finish else zlib.Z_SYNC_FLUSH)


def gzip_bomb(size: int) -> Iterator[bytes]:
    """One gzip member that inflates to ``size`` spaces (rounded up to whole MiB).

    Example:
        >>> import gzip
        >>> gzip.decompress(b"".join(gzip_bomb(3 * 1024 * 1024))) == b" " * (3 * 1024 * 1024)
        True
    """
    first, steady = _deflate_units()
    blocks = -(-size // _MIB)
    yield _GZIP_HEADER + first
    crc = zlib.crc32(_SPACES)
    for _ in range(blocks - 1):
        crc = zlib.crc32(_SPACES, crc)
        yield steady
    yield _FINAL_BLOCK + struct.pack("<II", crc, (blocks * _MIB) & 0xFFFFFFFF)


_UNITS: list[tuple[bytes, bytes]] = []


def _deflate_units() -> tuple[bytes, bytes]:
    """The raw deflate bytes of the first MiB of spaces and of every later one (sync-flushed)."""
    if not _UNITS:
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        units = [compressor.compress(_SPACES) + compressor.flush(zlib.Z_SYNC_FLUSH)
                 for _ in range(3)]
        if units[1] != units[2]:  # pragma: no cover - zlib's output is deterministic
            raise RuntimeError("the deflate output of repeated spaces is not stable")
        _UNITS.append((units[0], units[1]))
    return _UNITS[0]
