"""Streaming OAI-PMH bodies: each ``<record>`` cut out of the byte stream, the envelope apart.

An OAI-PMH page can be hundreds of megabytes, and one broken record must not cost the page.
:class:`RecordSplitter` reads the body chunk by chunk and never holds more than one record (up
to a bound) plus one chunk:

* the bytes *between* records (prolog, ``<responseDate>``, ``<error>``, ``<resumptionToken>``,
  the closing tags) go to one lxml pull parser, which sees a small, well-formed document: the
  envelope (:class:`Envelope`);
* each record's bytes are handed over whole as a :class:`Piece`, to be parsed on its own (with
  the namespace declarations in scope, :attr:`Envelope.nsdecls`), so a malformed record is one
  quarantined record, not a lost page.

Safety: a ``<!DOCTYPE`` anywhere before the root is refused (no DTD is ever read, no entity
expanded, nothing fetched); bytes after the root's end tag are counted and ignored (a quirk of
real servers); a gzip body that was not declared as such is inflated in bounded steps.

Example::

    splitter = RecordSplitter(max_record_bytes=16 * 1024 * 1024)
    for chunk in chunks:
        for piece in splitter.feed(chunk):
            handle(piece.data)            # b'<record><header>...</header>...</record>'
    for piece in splitter.close():
        handle(piece.data)                # piece.complete is False: the body ended inside it
    splitter.envelope.token, splitter.envelope.closed
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field

from lxml import etree

from tap_museumcms.body import BodyLimits, Inflater

if t.TYPE_CHECKING:
    from collections.abc import Iterator

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
#: How much of an oversized record is kept for the quarantine.
PREFIX_BYTES = 4096
#: The envelope (everything but the records) is small; a bigger one is not OAI-PMH.
ENVELOPE_LIMIT = 4 * 1024 * 1024

_PROLOG, _ENVELOPE, _RECORD, _DONE = range(4)
_SPACE = frozenset(b" \t\r\n")


class BodyError(Exception):
    """The body is not an OAI-PMH response that can be read safely (the message says why)."""


@dataclass(slots=True)
class Piece:
    """One record's raw bytes (for an oversized record, only its first bytes)."""

    data: bytes
    size: int
    complete: bool = True
    oversized: bool = False


@dataclass
class Envelope:
    """What the parts of the body outside the records said.

    Attributes:
        response_date: text of ``<responseDate>``.
        errors: ``(code, message)`` of every ``<error>``.
        token: text of ``<resumptionToken>`` (stripped; ``""`` for an empty token).
        token_attributes: its attributes (``expirationDate``, ``completeListSize``, ``cursor``).
        closed: the root element was closed (the body is complete).
        trailing: bytes after the root's end tag (whitespace aside), ignored.
        nsdecls: the namespace declarations in scope where the records are, as attributes.
    """

    response_date: str | None = None
    errors: list[tuple[str, str]] = field(default_factory=list)
    token: str | None = None
    token_attributes: dict[str, str] = field(default_factory=dict)
    closed: bool = False
    trailing: int = 0
    nsdecls: bytes = b""


class RecordSplitter:
    """Cuts ``<record>`` elements out of an OAI-PMH body fed chunk by chunk.

    Args:
        max_record_bytes: a record longer than this is not kept: only its first
            :data:`PREFIX_BYTES` are handed over, marked ``oversized``.
    """

    def __init__(self, *, max_record_bytes: int) -> None:
        self.max_record_bytes = max_record_bytes
        self.envelope = Envelope()
        self._buf = bytearray()
        self._state = _PROLOG
        self._envelope = _EnvelopeReader(self.envelope)
        self._open = self._root_close = b""
        self._record: _RecordEnd | None = None
        self._inflate: Inflater | None = None
        self._first = True

    # -- input ------------------------------------------------------------------------

    def feed(self, chunk: bytes) -> Iterator[Piece]:
        """Take the next chunk of the body; yield the records it completes.

        Raises:
            BodyRefused: an undeclared gzip body inflates beyond the ratio bound.
        """
        if self._first and chunk:
            self._first = False
            if chunk[:2] == b"\x1f\x8b":  # gzip that no Content-Encoding announced
                self._inflate = Inflater("gzip", BodyLimits())
        if self._inflate is not None:
            for data in self._inflate.feed(chunk):
                self._buf += data
                yield from self._run()
            return
        self._buf += chunk
        yield from self._run()

    def close(self) -> Iterator[Piece]:
        """The body ended: hand over a record it ended inside, feed what is left."""
        if self._state == _RECORD:
            yield t.cast(_RecordEnd, self._record).partial(self._buf)
            self._buf.clear()
        elif self._state == _ENVELOPE:
            self._feed_envelope(len(self._buf))
        elif self._state == _DONE:
            self.envelope.trailing += len(self._buf.strip())
            self._buf.clear()
        elif self._buf.strip():
            raise BodyError("the body ended before its root element started")
        else:
            raise BodyError("the body is empty")

    # -- scanning ---------------------------------------------------------------------

    def _run(self) -> Iterator[Piece]:
        while True:
            if self._state == _PROLOG and not self._prolog():
                return
            if self._state == _ENVELOPE and not self._between():
                return
            if self._state == _RECORD:
                piece = t.cast(_RecordEnd, self._record).find(self._buf)
                if piece is None:
                    return
                self._state = _ENVELOPE
                yield piece
            if self._state == _DONE:
                self.envelope.trailing += len(self._buf.strip())
                self._buf.clear()
                return

    def _prolog(self) -> bool:
        """Find the root start tag; feed it; learn the qualified names. False: need more."""
        buf, pos = self._buf, 0
        while True:
            lt = buf.find(b"<", pos)
            if lt < 0 or lt + 9 > len(buf):
                return False
            if buf.startswith(b"<?", lt) or buf.startswith(b"<!--", lt):
                end = buf.find(b"?>" if buf[lt + 1] == ord("?") else b"-->", lt + 2)
                if end < 0:
                    return False
                pos = end + 2
                continue
            if buf[lt:lt + 14].lower().startswith(b"<!doctype html"):
                raise BodyError("not an OAI-PMH response (an HTML page)")
            if buf.startswith(b"<!", lt):
                raise BodyError("refused: the response declares a DTD (<!DOCTYPE ...>); the "
                                "tap never reads DTDs nor expands entities")
            gt = _tag_end(buf, lt)
            if gt < 0:
                return False
            name = bytes(buf[lt + 1:gt + 1]).split()[0].rstrip(b"/>")
            self._feed_envelope(gt + 1)
            stack = self._envelope.stack
            root = stack[0] if stack else None
            if root is None or etree.QName(root).namespace != OAI_NS or (
                etree.QName(root).localname != "OAI-PMH"
            ):
                shown = etree.QName(root).localname if root is not None else name.decode()
                raise BodyError(f"not an OAI-PMH response (its root element is <{shown}>)")
            prefix = name.split(b":")[0] + b":" if b":" in name else b""
            self._open = b"<" + prefix + b"record"
            self._record = _RecordEnd(self._open, b"</" + prefix + b"record",
                                      self.max_record_bytes)
            self._root_close = b"</" + name
            self._state = _ENVELOPE
            return True

    def _between(self) -> bool:
        """Feed envelope bytes up to the next record. False: need more data."""
        buf = self._buf
        start = _find_tag(buf, self._open, 0)
        end = buf.find(self._root_close)
        if end >= 0 and (start < 0 or end < start):
            gt = buf.find(b">", end)
            if gt < 0:
                return False
            self._feed_envelope(gt + 1)
            self._state = _DONE
            return True
        if start < 0:
            keep = len(self._open) + len(self._root_close) + 16
            if len(buf) > keep:
                self._feed_envelope(len(buf) - keep)
            return False
        self._feed_envelope(start)
        stack = self._envelope.stack
        self.envelope.nsdecls = _nsdecls(stack[-1]) if stack else b""
        self._state = _RECORD
        t.cast(_RecordEnd, self._record).start()
        return True

    def _feed_envelope(self, upto: int) -> None:
        if upto > 0:
            self._envelope.feed(bytes(self._buf[:upto]))
            del self._buf[:upto]

class _RecordEnd:
    """Finds where the record at the start of the buffer ends (nested same-name elements
    counted, comments and CDATA skipped), keeping only the first bytes of an oversized one."""

    def __init__(self, open_tag: bytes, close_tag: bytes, max_record_bytes: int) -> None:
        self._open, self._close = open_tag, close_tag
        self.max_record_bytes = max_record_bytes
        self.start()

    def start(self) -> None:
        """A new record begins at the start of the buffer."""
        self._scan = 1  # where the search for the end goes on
        self._closer: bytes | None = None  # the end of the comment or CDATA being skipped
        self._depth = 0
        self._oversized: bytearray | None = None  # first bytes of an oversized record
        self._size = 0  # bytes of the record dropped so far (oversized)

    def partial(self, buf: bytearray) -> Piece:
        """The body ended inside the record."""
        size = self._size + len(buf)
        if self._oversized is not None:
            return Piece(bytes(self._oversized), size, complete=False, oversized=True)
        return Piece(bytes(buf), size, complete=False)

    def find(self, buf: bytearray) -> Piece | None:
        """The whole record, removed from the buffer, or None (the end is not there yet)."""
        while True:
            found = self._next_mark(buf)
            if found is None:
                self._bound(buf)
                return None
            pos, mark = found
            if mark is None:  # a comment or CDATA section: skip it whole
                self._scan = pos
                continue
            gt = buf.find(b">", pos)
            if gt < 0:
                self._bound(buf)
                return None
            self._scan = gt + 1
            if mark == "open":
                self._depth += buf[gt - 1] != ord("/")
                continue
            if self._depth:
                self._depth -= 1
                continue
            size = self._size + gt + 1
            if self._oversized is not None:
                piece = Piece(bytes(self._oversized), size, oversized=True)
            elif size > self.max_record_bytes:
                piece = Piece(bytes(buf[:PREFIX_BYTES]), size, oversized=True)
            else:
                piece = Piece(bytes(buf[:gt + 1]), size)
            del buf[:gt + 1]
            return piece

    def _next_mark(self, buf: bytearray) -> tuple[int, str | None] | None:
        """The next nested start, end tag or skipped section from the scan position."""
        if self._closer is not None:  # inside a comment or CDATA section
            end = buf.find(self._closer, self._scan)
            if end < 0:
                self._scan = max(self._scan, len(buf) - len(self._closer) + 1)
                return None
            found = end + len(self._closer)
            self._closer = None
            return found, None
        scan = self._scan
        candidates = []
        for pattern, mark in ((self._open, "open"), (self._close, "close")):
            at = _find_tag(buf, pattern, scan)
            if at >= 0:
                candidates.append((at, mark))
        special = buf.find(b"<!", scan)
        if special >= 0:
            candidates.append((special, "special"))
        if not candidates:
            self._scan = max(scan, len(buf) - len(self._close) - 1)
            return None
        at, mark = min(candidates)
        if mark != "special":
            return at, mark
        if len(buf) - at < 9:
            self._scan = at
            return None
        for opener, closer in ((b"<!--", b"-->"), (b"<![CDATA[", b"]]>")):
            if buf.startswith(opener, at):
                self._closer, self._scan = closer, at + len(opener)
                return self._next_mark(buf)
        return at + 2, None  # something else (illegal here): the record's parse will say

    def _bound(self, buf: bytearray) -> None:
        """Keep at most the first bytes of a record over the bound (and what is unscanned)."""
        if self._oversized is None and len(buf) > self.max_record_bytes:
            self._oversized = bytearray(buf[:PREFIX_BYTES])
        if self._oversized is not None and self._scan > PREFIX_BYTES:
            drop = self._scan - 1
            self._size += drop
            del buf[:drop]
            self._scan = 1


class _EnvelopeReader:
    """Feeds the bytes between records to one pull parser and fills the :class:`Envelope`."""

    def __init__(self, envelope: Envelope) -> None:
        self.envelope = envelope
        self.parser = etree.XMLPullParser(
            events=("start", "end"), resolve_entities=False, no_network=True, load_dtd=False,
            huge_tree=True, remove_comments=True, remove_pis=True,
        )
        #: The open elements, outermost first (the root, then ListRecords).
        self.stack: list[t.Any] = []
        self.fed = 0

    def feed(self, data: bytes) -> None:
        self.fed += len(data)
        if self.fed > ENVELOPE_LIMIT:
            raise BodyError(f"more than {ENVELOPE_LIMIT} bytes outside records: not an "
                            "OAI-PMH ListRecords body")
        try:
            self.parser.feed(data)
        except etree.XMLSyntaxError as exc:
            raise BodyError(f"the OAI-PMH envelope is not well-formed XML: {exc}") from None
        for event, element in self.parser.read_events():
            if event == "start":
                self.stack.append(element)
                continue
            self.stack.pop()
            self._ended(element)
            if not self.stack:
                self.envelope.closed = True

    def _ended(self, element: t.Any) -> None:
        name = etree.QName(element)
        if name.namespace != OAI_NS:
            return
        local, envelope = name.localname, self.envelope
        if local == "responseDate":
            envelope.response_date = (element.text or "").strip() or None
        elif local == "error":
            envelope.errors.append((element.get("code") or "", (element.text or "").strip()))
        elif local == "resumptionToken":
            envelope.token = (element.text or "").strip()
            envelope.token_attributes = dict(element.attrib)
        if local != "OAI-PMH":
            element.clear()


def _tag_end(buf: bytearray, lt: int) -> int:
    """Index of the ``>`` that ends the tag at ``lt`` (quotes respected), or -1."""
    quote = 0
    for index in range(lt + 1, len(buf)):
        byte = buf[index]
        if quote:
            if byte == quote:
                quote = 0
        elif byte in (0x22, 0x27):
            quote = byte
        elif byte == 0x3E:
            return index
    return -1


def _find_tag(buf: bytearray, pattern: bytes, start: int) -> int:
    """Next ``pattern`` (``<record`` or ``</record``) that is a whole tag name, or -1."""
    while True:
        at = buf.find(pattern, start)
        if at < 0:
            return -1
        after = at + len(pattern)
        if after >= len(buf):
            return -1  # cannot tell yet
        if buf[after] in _SPACE or buf[after] in (0x3E, 0x2F):
            return at
        start = at + 1


def _nsdecls(element: t.Any) -> bytes:
    """The namespace declarations in scope at ``element``, as XML attributes."""
    parts = []
    for prefix, uri in element.nsmap.items():
        value = uri.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
        parts.append(f' xmlns="{value}"' if prefix is None else f' xmlns:{prefix}="{value}"')
    return "".join(parts).encode()
