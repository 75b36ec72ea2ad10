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

Sources that answer with one big JSON array instead of JSONL go through :func:`iter_json_array`,
which yields each element as a :class:`RawLine` under the same bound.
"""

from __future__ import annotations

import json
import re
import typing as t
from dataclasses import dataclass

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

__all__ = [
    "DEFAULT_MAX_LINE_BYTES",
    "DEFAULT_PREFIX_BYTES",
    "JSONArrayError",
    "RawLine",
    "decode_json_line",
    "iter_json_array",
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
    # While a line is kept, the carried part may hold one byte more than the bound: the "\r"
    # of a "\r\n" that the next chunk completes.
    keep_limit = max_line_bytes + 1
    carry = bytearray()  # start of a line that spans chunks (<= keep_limit bytes)
    skip: _Oversized | None = None  # the line being counted and dropped, if any

    def finish(line: bytes, terminated: bool) -> RawLine | None:
        if line.endswith(_CR):
            line = line[:-1]
        if not line or line.isspace():
            return None
        if len(line) > max_line_bytes:
            return RawLine(line[:prefix_bytes], len(line), True, terminated, max_line_bytes)
        return RawLine(line, len(line), False, terminated, max_line_bytes)

    for chunk in chunks:
        if not chunk:
            continue
        if type(chunk) is not bytes:
            chunk = bytes(chunk)  # bytearray / memoryview chunks: lines must be bytes
        start = 0
        end = len(chunk)
        if skip is not None:
            newline = chunk.find(_NL)
            if newline < 0:
                skip.add(chunk, 0, end)
                continue
            skip.add(chunk, 0, newline)
            line = skip.line(True, max_line_bytes)
            skip = None
            if line is not None:
                yield line
            start = newline + 1
        if carry:
            newline = chunk.find(_NL, start)
            stop = end if newline < 0 else newline
            if len(carry) + (stop - start) > keep_limit:
                # Too long to keep: remember where it began, then only count the rest.
                skip = _Oversized(prefix_bytes)
                skip.add(carry, 0, len(carry))
                skip.add(chunk, start, stop)
                carry = bytearray()
                if newline < 0:
                    continue
                line = skip.line(True, max_line_bytes)
                skip = None
                if line is not None:
                    yield line
                start = newline + 1
            elif newline < 0:
                carry += chunk[start:]
                continue
            else:
                carry += chunk[start:newline]
                line = finish(bytes(carry), True)
                carry = bytearray()
                if line is not None:
                    yield line
                start = newline + 1
        # The common case: whole lines inside this chunk, split in C.
        last_newline = chunk.rfind(_NL, start)
        if last_newline >= 0:
            body = chunk[start:last_newline] if start else chunk[:last_newline]
            for piece in body.split(_NL):
                line = finish(piece, True)
                if line is not None:
                    yield line
            start = last_newline + 1
        if start < end:
            if end - start > keep_limit:
                skip = _Oversized(prefix_bytes)
                skip.add(chunk, start, end)
            else:
                carry += chunk[start:]
    if skip is not None:
        line = skip.line(False, max_line_bytes)
        if line is not None:
            yield line
    elif carry:
        line = finish(bytes(carry), False)
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


class JSONArrayError(ValueError):
    """The body is not one well-formed top-level JSON array (see :func:`iter_json_array`)."""


# Inside an element, outside strings: skip everything but brackets, swallowing whole strings.
# Possessive quantifiers: a string left open at the end of a chunk fails without backtracking.
_SKIP_TO_BRACKET = re.compile(rb'(?:[^"\[\]{}]++|"(?:[^"\\]++|\\.)*+")*+', re.DOTALL)
# Inside a string: skip to the closing quote (or to the end of the chunk, or a final "\").
_SKIP_IN_STRING = re.compile(rb'(?:[^"\\]++|\\.)*+', re.DOTALL)
_SCALAR_END = re.compile(rb"[ \t\r\n,\]]")
_NOT_WHITESPACE = re.compile(rb"[^ \t\r\n]")
_QUOTE, _BACKSLASH, _COMMA = ord('"'), ord("\\"), ord(",")
_OPENERS, _CLOSERS = frozenset(b"[{"), frozenset(b"]}")
_ARRAY_OPEN, _ARRAY_CLOSE = ord("["), ord("]")


class _ElementBuffer:
    """The raw bytes of one element, kept only up to a bound (then counted and dropped)."""

    __slots__ = ("buf", "max_bytes", "oversized", "prefix", "prefix_bytes", "size")

    def __init__(self, max_bytes: int, prefix_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.prefix_bytes = prefix_bytes
        self.buf = bytearray()
        self.prefix = b""
        self.size = 0
        self.oversized = False

    def add(self, chunk: bytes, start: int, stop: int) -> None:
        """Count ``chunk[start:stop]`` as part of the element; keep it while under the bound."""
        if stop <= start:
            return
        self.size += stop - start
        if not self.oversized and self.size > self.max_bytes:
            self.oversized = True
            self.prefix = bytes(self.buf[: self.prefix_bytes])
            self.buf = bytearray()
        if not self.oversized:
            self.buf += chunk[start:stop]
            return
        missing = self.prefix_bytes - len(self.prefix)
        if missing > 0:
            self.prefix += chunk[start : min(stop, start + missing)]

    def take(self, chunk: bytes, start: int, stop: int, terminated: bool) -> RawLine:
        """The element ending at ``chunk[stop]``; resets the buffer for the next one."""
        if self.size == 0:  # common case: the whole element is inside this chunk
            data = chunk[start:stop]
            size = len(data)
            if size > self.max_bytes:
                return RawLine(data[: self.prefix_bytes], size, True, terminated, self.max_bytes)
            return RawLine(data, size, False, terminated, self.max_bytes)
        self.add(chunk, start, stop)
        if self.oversized:
            line = RawLine(self.prefix, self.size, True, terminated, self.max_bytes)
        else:
            line = RawLine(bytes(self.buf), self.size, False, terminated, self.max_bytes)
        self.buf = bytearray()
        self.prefix = b""
        self.size = 0
        self.oversized = False
        return line


def iter_json_array(
    chunks: Iterable[bytes],
    *,
    max_element_bytes: int = DEFAULT_MAX_LINE_BYTES,
    prefix_bytes: int = DEFAULT_PREFIX_BYTES,
) -> Iterator[RawLine]:
    """Split one top-level JSON array, given as byte chunks, into its elements' raw bytes.

    For sources that answer with one big array (``[{"ObjectID": ...}, {...}]``) instead of JSONL.
    Each element is yielded as a :class:`RawLine` (``data`` without surrounding whitespace), to be
    decoded by :func:`decode_json_line`, with the same memory bound as :func:`iter_lines`: an
    element over ``max_element_bytes`` is counted and dropped, keeping its first ``prefix_bytes``.

    The scanner only tracks strings and bracket depth; it does not validate the elements
    (``decode_json_line`` does). A body cut off inside an element yields that partial element with
    ``terminated=False`` first, so it can be quarantined like a cut-off line.

    Raises:
        JSONArrayError: For a top-level problem, after every complete element before it has been
            yielded: the body is not an array, a comma is missing or doubled, there is data after
            the closing ``]``, or the body ended before it (truncated). An empty body is an error
            too (no array at all).

    Example:
        >>> [x.data for x in iter_json_array([b' [{"a": [1, "]"]}, 2', b", null]"])]
        [b'{"a": [1, "]"]}', b'2', b'null']
    """
    if max_element_bytes < 0 or prefix_bytes < 0:
        raise ValueError("max_element_bytes and prefix_bytes must be >= 0")
    before_array, first_element, next_element, in_element, after_element, done = range(6)
    state = before_array
    depth = 0  # bracket depth inside the current element
    in_string = False
    escaped = False  # a backslash ended the previous chunk inside a string
    scalar = False  # the current element is a number or literal: ends at , ] or whitespace
    element = _ElementBuffer(max_element_bytes, prefix_bytes)
    consumed = 0  # bytes of earlier chunks, for error offsets
    head: bytes | None = b""

    def fail(message: str, pos: int) -> JSONArrayError:
        return JSONArrayError(f"{message} at byte {consumed + pos}")

    for chunk in chunks:
        if not chunk:
            continue
        if type(chunk) is not bytes:
            chunk = bytes(chunk)
        if head is not None:  # the body's first bytes: drop a UTF-8 BOM, even a split one
            chunk = head + chunk
            if len(chunk) < len(_BOM) and _BOM.startswith(chunk):
                head = chunk
                continue
            head = None
            if chunk.startswith(_BOM):
                chunk = chunk[len(_BOM) :]
                consumed += len(_BOM)
        end = len(chunk)
        pos = 0
        start = 0  # where the current element's bytes begin in this chunk
        while pos < end:
            if state != in_element:
                match = _NOT_WHITESPACE.search(chunk, pos)
                if match is None:
                    break
                pos = match.start()
                byte = chunk[pos]
                if state == before_array:
                    if byte != _ARRAY_OPEN:
                        raise fail("expected '[' (the body is not a JSON array)", pos)
                    state = first_element
                    pos += 1
                    continue
                if state == after_element:
                    if byte == _COMMA:
                        state = next_element
                    elif byte == _ARRAY_CLOSE:
                        state = done
                    else:
                        raise fail("expected ',' or ']' after an array element", pos)
                    pos += 1
                    continue
                if state == done:
                    raise fail("unexpected data after the end of the array", pos)
                if byte == _ARRAY_CLOSE and state == first_element:
                    state = done
                    pos += 1
                    continue
                if byte in (_COMMA, _ARRAY_CLOSE):
                    raise fail("expected an array element", pos)
                # An element starts here.
                state = in_element
                start = pos
                depth = 0
                scalar = False
                if byte == _QUOTE:
                    in_string = True
                    pos += 1
                elif byte in _OPENERS:
                    depth = 1
                    pos += 1
                else:
                    scalar = True
                continue
            # Inside an element.
            finished_at = -1
            if scalar:
                match = _SCALAR_END.search(chunk, pos)
                if match is None:
                    pos = end
                else:
                    finished_at = pos = match.start()
            elif in_string:
                if escaped:
                    escaped = False
                    pos += 1
                    continue
                pos = _SKIP_IN_STRING.match(chunk, pos).end()
                if pos >= end:
                    pass
                elif chunk[pos] == _BACKSLASH:  # the escaped byte is in the next chunk
                    escaped = True
                    pos = end
                else:  # the closing quote
                    in_string = False
                    pos += 1
                    if depth == 0:
                        finished_at = pos
            else:
                pos = _SKIP_TO_BRACKET.match(chunk, pos).end()
                if pos < end:
                    byte = chunk[pos]
                    pos += 1
                    if byte == _QUOTE:  # a string that does not close in this chunk
                        in_string = True
                    elif byte in _OPENERS:
                        depth += 1
                    else:
                        depth -= 1
                        if depth == 0:
                            finished_at = pos
            if finished_at >= 0:
                yield element.take(chunk, start, finished_at, True)
                state = after_element
        if state == in_element:
            element.add(chunk, start, end)
        consumed += end
    if state == in_element:
        yield element.take(b"", 0, 0, False)
    if state != done:
        where = "empty body" if state == before_array else "the body ended before the array did"
        raise JSONArrayError(f"{where} (after {consumed} bytes)")


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
