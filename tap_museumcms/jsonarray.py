"""Streaming JSON pages: the elements of one array cut out as raw bytes, the envelope apart.

The public museum APIs answer a page as one JSON object holding the records in an array, with
paging information around it::

    {"pagination": {"total": 131000, "next_url": "..."}, "data": [{...}, {...}], "info": {}}

:class:`ArraySplitter` reads such a body chunk by chunk and never holds more than one element
(up to a bound) plus one chunk: each element of the array at ``path`` (``("data",)`` here) is
handed over whole as its raw bytes, and everything else is kept as the *envelope*, a small JSON
document in which that array is empty (``{"pagination": {...}, "data": [], "info": {}}``).
The raw bytes are what gets digested and quarantined; a malformed element stays one item.

The scanner tracks strings, escapes and brackets only; it does not validate elements (the
dialect decodes each one). A body cut inside an element hands that element over with
``complete=False``.

Example::

    splitter = ArraySplitter(("data",), max_item_bytes=16 * 1024 * 1024)
    for chunk in chunks:
        for piece in splitter.feed(chunk):
            handle(piece.data)              # b'{"id": 27992, "title": "A Sunday on ..."}'
    for piece in splitter.close():
        handle(piece.data)                  # piece.complete is False: the body ended inside
    splitter.envelope()                     # {"pagination": {...}, "data": [], ...} or None
"""

from __future__ import annotations

import json
import re
import typing as t

from tap_museumcms.xmlsplit import PREFIX_BYTES, Piece

if t.TYPE_CHECKING:
    from collections.abc import Iterator

#: The envelope (everything but the array's elements) is small; a bigger one is refused.
ENVELOPE_LIMIT = 4 * 1024 * 1024

# Outside strings: the next byte that matters to the structure.
_STRUCTURE = re.compile(rb'["{}\[\],:]')
# Inside an element, outside strings: skip to a bracket, swallowing whole strings.
_SKIP_TO_BRACKET = re.compile(rb'(?:[^"\[\]{}]++|"(?:[^"\\]++|\\.)*+")*+', re.DOTALL)
# Inside a string: skip to the closing quote (or the end of the buffer, or a final "\").
_SKIP_IN_STRING = re.compile(rb'(?:[^"\\]++|\\.)*+', re.DOTALL)
_NOT_WHITESPACE = re.compile(rb"[^ \t\r\n]")
_SCALAR_END = re.compile(rb"[ \t\r\n,\]]")
_BOM = b"\xef\xbb\xbf"


class ArrayBodyError(ValueError):
    """The body is not the JSON page it should be (the message says why)."""


class ArraySplitter:
    """Cuts the elements of the array at ``path`` out of a JSON body fed chunk by chunk.

    Args:
        path: the keys from the top-level object to the array (``()``: the body is the array).
        max_item_bytes: an element longer than this is not kept, only its first bytes.
    """

    def __init__(self, path: tuple[str, ...], *, max_item_bytes: int) -> None:
        self.path = path
        self.max_item_bytes = max_item_bytes
        self.found = False  # the array was met
        self.closed = False  # the whole body was read to the end of its top-level value
        self._buf = bytearray()
        self._envelope = bytearray()
        self._keys: list[str | None] = []  # the key of each open object (None: in an array)
        self._expect_key = False
        self._last_key: str | None = None
        self._in_array = False
        self._element: _Element | None = None
        self._started = False

    # -- input ------------------------------------------------------------------------

    def feed(self, chunk: bytes) -> Iterator[Piece]:
        """Take the next chunk of the body; yield the elements it completes."""
        self._buf += chunk
        if not self._started:
            if len(self._buf) < 3 and _BOM.startswith(bytes(self._buf)):
                return
            self._started = True
            if self._buf.startswith(_BOM):
                del self._buf[:3]
        if not self.path and not self.found and not self._enter_array_at_start():
            return
        while self._buf:
            if self._in_array:
                piece = self._array_step()
                if piece is _NEED_MORE:
                    return
                if piece is not None:
                    yield t.cast(Piece, piece)
            elif not self._envelope_step():
                return

    def close(self) -> Iterator[Piece]:
        """The body ended: an element it ended inside is handed over incomplete."""
        if self._element is not None:
            yield self._element.partial(self._buf)
            self._element = None
        self._buf.clear()

    def envelope(self) -> t.Any:
        """The body without the array's elements, parsed; None when it did not end well."""
        if not self.closed:
            return None
        try:
            return json.loads(bytes(self._envelope))
        except ValueError:
            return None

    # -- outside the array ----------------------------------------------------------------

    def _keep(self, data: bytes | bytearray) -> None:
        self._envelope += data
        if len(self._envelope) > ENVELOPE_LIMIT:
            raise ArrayBodyError(f"more than {ENVELOPE_LIMIT} bytes outside the records: not "
                                 "the page this source sends")

    def _envelope_step(self) -> bool:
        """Consume envelope bytes up to the next structural byte. False: need more data."""
        buf = self._buf
        if self.closed:
            if _NOT_WHITESPACE.search(buf):
                raise ArrayBodyError("unexpected data after the end of the JSON body")
            buf.clear()
            return False
        match = _STRUCTURE.search(buf)
        if match is None:
            self._keep(buf)
            buf.clear()
            return False
        at = match.start()
        byte = buf[at]
        if byte == 0x22:  # a string: a key, or a value
            end = _SKIP_IN_STRING.match(buf, at + 1).end()
            if end >= len(buf) or buf[end] != 0x22:
                if len(buf) > ENVELOPE_LIMIT:
                    raise ArrayBodyError("a string outside the records is too long")
                return False  # the string goes on in the next chunk
            text = bytes(buf[at:end + 1])
            if self._expect_key:
                self._last_key = json.loads(text)
                self._expect_key = False
            self._keep(buf[:end + 1])
            del buf[:end + 1]
            return True
        self._keep(buf[:at + 1])
        del buf[:at + 1]
        self._structure(byte)
        return True

    def _structure(self, byte: int) -> None:
        keys = self._keys
        in_object = bool(keys) and keys[-1] is not _ARRAY
        if byte == 0x7B:  # {
            # The key this object is the value of (an object in an array has none).
            keys.append(self._last_key if in_object else _ITEM)
            self._expect_key, self._last_key = True, None
        elif byte == 0x2C:  # ,
            self._expect_key = in_object
        elif byte == 0x5B:  # [
            chain = keys[1:]
            plain = all(k is not _ARRAY and k is not _ITEM for k in chain)
            if not self.found and in_object and plain and (
                (*chain, self._last_key) == self.path
            ):
                self.found, self._in_array, self._first = True, True, True
                return
            keys.append(_ARRAY)
        elif byte in (0x7D, 0x5D):  # } ]
            if self._keys:
                self._keys.pop()
            if not self._keys:
                self.closed = True
            self._expect_key = False

    def _enter_array_at_start(self) -> bool:
        """The body is the array: find its ``[``. False: only whitespace so far."""
        match = _NOT_WHITESPACE.search(self._buf)
        if match is None:
            self._buf.clear()
            return False
        if self._buf[match.start()] != 0x5B:
            raise ArrayBodyError("expected a JSON array (the body does not start with '[')")
        self._keep(b"[")
        del self._buf[:match.start() + 1]
        self.found = self._in_array = self._first = True
        return True

    # -- inside the array -------------------------------------------------------------------

    def _array_step(self) -> Piece | object | None:
        """Move on in the array: find an element, or the end of one, or of the array."""
        buf = self._buf
        if self._element is not None:
            piece = self._element.find_end(buf)
            if piece is None:
                return _NEED_MORE
            self._element = None
            return piece
        match = _NOT_WHITESPACE.search(buf)
        if match is None:
            buf.clear()
            return _NEED_MORE
        at = match.start()
        byte = buf[at]
        del buf[:at]
        if byte == 0x5D:  # the end of the array
            del buf[:1]
            self._keep(b"]")
            self._in_array = False
            if not self.path:
                self.closed = True
            return None
        if byte == 0x2C and not self._first:
            del buf[:1]
            return None
        self._first = False
        self._element = _Element(self.max_item_bytes)
        return None


_ARRAY = "\x00[array]"  # marker in the key stack: an array, not an object
_ITEM = "\x00[item]"  # marker in the key stack: an object inside an array
_NEED_MORE = object()


class _Element:
    """One element being read: where its end is, and its bytes (bounded)."""

    __slots__ = ("_depth", "_in_string", "_kept", "_max", "_prefix", "_scalar", "_scan", "_size")

    def __init__(self, max_bytes: int) -> None:
        self._max = max_bytes
        self._scan = 0
        self._depth = 0
        self._in_string = False
        self._scalar: bool | None = None  # unknown until the first byte is seen
        self._size = 0  # bytes dropped so far (an oversized element)
        self._prefix: bytes | None = None
        self._kept = True

    def find_end(self, buf: bytearray) -> Piece | None:
        """The whole element, removed from ``buf``; None: its end is not there yet."""
        end = self._scan_to_end(buf)
        if end < 0:
            self._bound(buf)
            return None
        size = self._size + end
        if self._prefix is not None:
            piece = Piece(self._prefix, size, oversized=True)
        elif size > self._max:
            piece = Piece(bytes(buf[:PREFIX_BYTES]), size, oversized=True)
        else:
            piece = Piece(bytes(buf[:end]), size)
        del buf[:end]
        return piece

    def partial(self, buf: bytearray) -> Piece:
        size = self._size + len(buf)
        if self._prefix is not None:
            return Piece(self._prefix, size, complete=False, oversized=True)
        return Piece(bytes(buf).rstrip(), size, complete=False)

    def _scan_to_end(self, buf: bytearray) -> int:
        """Index just past the element's end in ``buf``, or -1."""
        pos, end = self._scan, len(buf)
        if self._scalar is None:
            first = buf[0]
            self._scalar = first not in (0x7B, 0x5B, 0x22)
            self._in_string = first == 0x22
            self._depth = 1 if first in (0x7B, 0x5B) else 0
            pos = 1
        while pos < end:
            if self._scalar:
                match = _SCALAR_END.search(buf, pos)
                return -1 if match is None else match.start()
            if self._in_string:
                pos = _SKIP_IN_STRING.match(buf, pos).end()
                if pos >= end or buf[pos] == 0x5C:  # the string or an escape goes on later
                    self._scan = pos
                    return -1
                self._in_string = False
                pos += 1
                if self._depth == 0:
                    return pos
                continue
            pos = _SKIP_TO_BRACKET.match(buf, pos).end()
            if pos >= end:
                break
            byte = buf[pos]
            pos += 1
            if byte == 0x22:
                self._in_string = True
            elif byte in (0x7B, 0x5B):
                self._depth += 1
            else:
                self._depth -= 1
                if self._depth == 0:
                    return pos
        self._scan = pos
        return -1

    def _bound(self, buf: bytearray) -> None:
        """Past the bound, keep only the first bytes and drop what was scanned."""
        if self._prefix is None and self._size + len(buf) > self._max:
            self._prefix = bytes(buf[:PREFIX_BYTES])
        if self._prefix is not None and self._scan > 0:
            self._size += self._scan
            del buf[:self._scan]
            self._scan = 0
