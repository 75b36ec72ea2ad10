"""Streaming JSONL: split raw body chunks into lines with a size bound, decode each line.

The HTTP client reads the body as raw byte chunks (``response.raw.stream(65536)`` or
``iter_content``) and hands them to :func:`iter_lines`; each :class:`RawLine` then goes through
:func:`decode_json_line`. A bad line becomes a reason string for the quarantine stream instead of
an exception, so one broken record never stops a harvest::

    for line in iter_lines(response.iter_content(65536), max_line_bytes=16 * 1024 * 1024):
        record, reason = decode_json_line(line)
        if record is None:
            quarantine(reason, line.data)  # the line, or the start of an oversized one
        else:
            emit(record)

Memory stays bounded by ``max_line_bytes`` plus one chunk whatever the input: a line is only
buffered across chunks while it is short enough to be kept; past the bound the rest of it is
counted and dropped as it streams by. (Growing the buffer may briefly hold two copies of it.)

"""

from __future__ import annotations

import json
import typing as t
from dataclasses import dataclass

import msgspec

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

__all__ = [
    "DEFAULT_MAX_LINE_BYTES",
    "DEFAULT_PREFIX_BYTES",
    "RawLine",
    "decode_json_line",
    "iter_lines",
]

DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024
DEFAULT_PREFIX_BYTES = 4096

_NL = b"\n"
_CR = b"\r"
_CR_BYTE = 0x0D
_BOM = b"\xef\xbb\xbf"

_JSON_TYPE_NAMES: dict[type, str] = {
    list: "array",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}


@dataclass(frozen=True, slots=True)
class RawLine:
    """One line of a JSONL body, not decoded yet.

    Attributes:
        data: The line without its ``b"\\n"`` (or ``b"\\r\\n"``). For an oversized line, only its
            first ``prefix_bytes`` bytes, so a quarantine record can show where it began.
        size: Full length of the line in bytes (without the line terminator).
        oversized: True when ``size`` exceeds ``max_line_bytes``; the line was not kept.
        terminated: False only for a final line that the body ended without a newline (a body
            cut off mid-line looks like this).
        max_line_bytes: The bound the line was split with (for the quarantine message).

    Example:
        ``RawLine(data=b'{"ObjectID": "1994.127"}', size=24, oversized=False, terminated=True)``
    """

    data: bytes
    size: int
    oversized: bool
    terminated: bool
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES


def iter_lines(
    chunks: Iterable[bytes],
    *,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    prefix_bytes: int = DEFAULT_PREFIX_BYTES,
) -> Iterator[RawLine]:
    """Split a body, given as byte chunks with arbitrary boundaries, into lines.

    Lines end at ``b"\\n"``; one ``b"\\r"`` before it is dropped as well. Blank and
    whitespace-only lines are skipped. A line longer than ``max_line_bytes`` is yielded once as
    ``oversized`` with only its first ``prefix_bytes`` bytes, and is never held in memory whole.

    Args:
        chunks: The body, e.g. ``response.iter_content(65536)``. Empty chunks are fine.
        max_line_bytes: Longest line kept, in bytes (terminator excluded).
        prefix_bytes: How much of an oversized line to keep in ``RawLine.data``.

    Yields:
        One :class:`RawLine` per non-blank line, in order.

    Example:
        >>> [line.data for line in iter_lines([b'{"a": 1}\\n\\n{"b"', b': 2}\\r\\n'])]
        [b'{"a": 1}', b'{"b": 2}']
    """
    if max_line_bytes < 0 or prefix_bytes < 0:
        raise ValueError("max_line_bytes and prefix_bytes must be >= 0")
    splitter = _LineSplitter(max_line_bytes, prefix_bytes)
    for chunk in chunks:
        if not chunk:
            continue
        if type(chunk) is not bytes:
            chunk = bytes(chunk)  # bytearray / memoryview chunks: lines must be bytes
        yield from splitter.feed(chunk)
    yield from splitter.end()


class _LineSplitter:
    """The state of :func:`iter_lines` between chunks: a carried line start, or a skipped line."""

    __slots__ = ("carry", "keep_limit", "max_line_bytes", "prefix_bytes", "skip")

    def __init__(self, max_line_bytes: int, prefix_bytes: int) -> None:
        self.max_line_bytes = max_line_bytes
        self.prefix_bytes = prefix_bytes
        # While a line is kept, the carried part may hold one byte more than the bound: the
        # "\r" of a "\r\n" that the next chunk completes.
        self.keep_limit = max_line_bytes + 1
        self.carry = bytearray()  # start of a line that spans chunks (<= keep_limit bytes)
        self.skip: _Oversized | None = None  # the line being counted and dropped, if any

    def finish(self, line: bytes, terminated: bool) -> RawLine | None:
        if line.endswith(_CR):
            line = line[:-1]
        if not line or line.isspace():
            return None
        if len(line) > self.max_line_bytes:
            return RawLine(line[: self.prefix_bytes], len(line), True, terminated,
                           self.max_line_bytes)
        return RawLine(line, len(line), False, terminated, self.max_line_bytes)

    def feed(self, chunk: bytes) -> Iterator[RawLine]:
        start = 0
        if self.skip is not None:
            start = yield from self._skip_on(chunk)
            if start < 0:
                return
        if self.carry:
            start = yield from self._carry_on(chunk, start)
            if start < 0:
                return
        # The common case: whole lines inside this chunk, split in C.
        last_newline = chunk.rfind(_NL, start)
        if last_newline >= 0:
            body = chunk[start:last_newline] if start else chunk[:last_newline]
            for piece in body.split(_NL):
                line = self.finish(piece, True)
                if line is not None:
                    yield line
            start = last_newline + 1
        end = len(chunk)
        if start < end:
            if end - start > self.keep_limit:
                self.skip = _Oversized(self.prefix_bytes)
                self.skip.add(chunk, start, end)
            else:
                self.carry += chunk[start:]

    def _skip_on(self, chunk: bytes) -> t.Generator[RawLine, None, int]:
        """Go on dropping an oversized line; return where the chunk goes on (-1: it did not)."""
        skip = t.cast(_Oversized, self.skip)
        newline = chunk.find(_NL)
        if newline < 0:
            skip.add(chunk, 0, len(chunk))
            return -1
        skip.add(chunk, 0, newline)
        self.skip = None
        line = skip.line(True, self.max_line_bytes)
        if line is not None:
            yield line
        return newline + 1

    def _carry_on(self, chunk: bytes, start: int) -> t.Generator[RawLine, None, int]:
        """Complete the carried line start; return where the chunk goes on (-1: it did not)."""
        newline = chunk.find(_NL, start)
        stop = len(chunk) if newline < 0 else newline
        if len(self.carry) + (stop - start) > self.keep_limit:
            # Too long to keep: remember where it began, then only count the rest.
            skip = self.skip = _Oversized(self.prefix_bytes)
            skip.add(self.carry, 0, len(self.carry))
            skip.add(chunk, start, stop)
            self.carry = bytearray()
            if newline < 0:
                return -1
            self.skip = None
            line = skip.line(True, self.max_line_bytes)
        elif newline < 0:
            self.carry += chunk[start:]
            return -1
        else:
            self.carry += chunk[start:newline]
            line = self.finish(bytes(self.carry), True)
            self.carry = bytearray()
        if line is not None:
            yield line
        return newline + 1

    def end(self) -> Iterator[RawLine]:
        """The body ended: the unterminated last line, if any."""
        line = None
        if self.skip is not None:
            line = self.skip.line(False, self.max_line_bytes)
        elif self.carry:
            line = self.finish(bytes(self.carry), False)
        if line is not None:
            yield line


class _Oversized:
    """A line too long to keep: its first bytes and what is needed to report it."""

    __slots__ = ("blank", "last_cr", "prefix", "prefix_bytes", "size")

    def __init__(self, prefix_bytes: int) -> None:
        self.prefix_bytes = prefix_bytes
        self.prefix = b""
        self.size = 0
        self.last_cr = False
        self.blank = True  # whitespace only so far (then it is skipped like any blank line)

    def add(self, data: bytes | bytearray, start: int, stop: int) -> None:
        """Count ``data[start:stop]`` as part of the line."""
        if stop <= start:
            return
        missing = self.prefix_bytes - len(self.prefix)
        if missing > 0:
            self.prefix += bytes(data[start : min(stop, start + missing)])
        self.size += stop - start
        self.last_cr = data[stop - 1] == _CR_BYTE
        if self.blank:
            self.blank = data[start:stop].isspace()

    def line(self, terminated: bool, max_line_bytes: int) -> RawLine | None:
        if self.blank:
            return None
        size = self.size - 1 if self.last_cr else self.size
        return RawLine(self.prefix[:size], size, True, terminated, max_line_bytes)


def decode_json_line(line: RawLine) -> tuple[dict[str, t.Any] | None, str | None]:
    """Decode one line into a JSON object, or say why it cannot be one.

    Integers of any size survive exactly (Python ints); floats become floats. ``NaN`` and
    ``Infinity``, which the stdlib would accept, are rejected: they are not JSON and
    PostgreSQL's ``jsonb`` refuses them. A UTF-8 byte-order mark at the start is ignored.

    Args:
        line: A line from :func:`iter_lines`.

    Returns:
        ``(record, None)`` on success, else ``(None, reason)``, e.g.
        ``(None, "invalid JSON: Expecting ',' delimiter: line 1 column 12 (char 11)")``,
        ``(None, "expected a JSON object, got array")`` or
        ``(None, "line of 20000000 bytes exceeds max_line_bytes 16777216")``.
    """
    if line.oversized:
        return None, f"line of {line.size} bytes exceeds max_line_bytes {line.max_line_bytes}"
    data = line.data
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    try:
        value = _FAST.decode(data)  # msgspec: about three times the stdlib's speed
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        pass  # the stdlib says why (and reads lone surrogates, which the models then strip)
    else:
        if type(value) is dict:
            return value, None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"invalid UTF-8 at byte {exc.start}: {exc.reason}"
    try:
        value = _DECODER.decode(text)
    except (json.JSONDecodeError, _NonStandardConstant) as exc:
        return None, f"invalid JSON: {exc}"
    except RecursionError:
        return None, "invalid JSON: nested too deeply"
    except ValueError as exc:  # e.g. an integer beyond sys.get_int_max_str_digits()
        return None, f"invalid JSON: {exc}"
    if not isinstance(value, dict):
        kind = _JSON_TYPE_NAMES.get(type(value), type(value).__name__)
        return None, f"expected a JSON object, got {kind}"
    return value, None


class _NonStandardConstant(ValueError):
    """NaN, Infinity or -Infinity: accepted by Python's json, not by JSON or PostgreSQL."""


def _reject_constant(name: str) -> t.NoReturn:
    raise _NonStandardConstant(f"non-standard constant {name}")


# One decoder for all lines: json.loads with keyword arguments builds a new one per call.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
_FAST = msgspec.json.Decoder()
