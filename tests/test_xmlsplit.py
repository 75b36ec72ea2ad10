"""Cutting OAI-PMH records out of a byte stream: exact pieces whatever the chunking, safely."""

from __future__ import annotations

import gzip
import tracemalloc

import pytest
from lxml import etree

from tap_museumcms.xmlsplit import BodyError, RecordSplitter

HEAD = (b'<?xml version="1.0" encoding="UTF-8"?>\n<!-- served by a test -->\n'
        b'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/" '
        b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        b"<responseDate>2026-11-29T09:00:00Z</responseDate>"
        b'<request verb="ListRecords" metadataPrefix="lido">http://x/oai</request><ListRecords>')
TAIL = (b'<resumptionToken completeListSize="99" cursor="20">tok/1+2=</resumptionToken>'
        b"</ListRecords></OAI-PMH>\n")


def record(n: int, body: bytes = b"") -> bytes:
    return (b"<record><header><identifier>oai:x:%d</identifier>"
            b"<datestamp>2026-01-01</datestamp></header><metadata>%s</metadata></record>"
            % (n, body or b'<t xmlns="urn:t">record %d</t>' % n))


def split(body: bytes, size: int, **kwargs: int) -> tuple[list, RecordSplitter]:
    splitter = RecordSplitter(max_record_bytes=kwargs.get("max_record_bytes", 1 << 20))
    pieces = []
    for start in range(0, len(body), size):
        pieces += list(splitter.feed(body[start:start + size]))
    pieces += list(splitter.close())
    return pieces, splitter


@pytest.mark.parametrize("size", [1, 2, 3, 7, 13, 64, 1000, 1 << 20])
def test_pieces_and_envelope_are_the_same_whatever_the_chunking(size):
    records = [record(n) for n in range(5)]
    pieces, splitter = split(HEAD + b"\n".join(records) + TAIL, size)
    assert [p.data for p in pieces] == records
    assert all(p.complete and not p.oversized for p in pieces)
    envelope = splitter.envelope
    assert envelope.response_date == "2026-11-29T09:00:00Z"
    assert envelope.token == "tok/1+2="
    assert envelope.token_attributes == {"completeListSize": "99", "cursor": "20"}
    assert envelope.closed and envelope.errors == [] and envelope.trailing == 0
    # Each piece parses alone with the declarations in scope.
    for piece in pieces:
        element = etree.fromstring(b"<w" + envelope.nsdecls + b">" + piece.data + b"</w>")[0]
        assert element.tag == "{http://www.openarchives.org/OAI/2.0/}record"


def test_a_nested_element_of_the_same_name_and_markup_in_comments_and_cdata():
    marc = (b'<record xmlns="http://www.loc.gov/MARC21/slim"><leader>x</leader>'
            b"<!-- </record> in a comment --><datafield><![CDATA[</record><record>]]>"
            b"</datafield></record>")
    records = [record(1, marc), record(2)]
    for size in (1, 5, 4096):
        pieces, _ = split(HEAD + b"".join(records) + TAIL, size)
        assert [p.data for p in pieces] == records


def test_a_prefixed_oai_namespace():
    head = HEAD.replace(b"<OAI-PMH xmlns=", b"<oai:OAI-PMH xmlns:oai=").replace(
        b"<responseDate>", b"<oai:responseDate>").replace(b"</responseDate>",
        b"</oai:responseDate>").replace(b"<request ", b"<oai:request ").replace(
        b"</request><ListRecords>", b"</oai:request><oai:ListRecords>")
    one = (b"<oai:record><oai:header><oai:identifier>a</oai:identifier></oai:header>"
           b"</oai:record>")
    tail = b"<oai:resumptionToken/></oai:ListRecords></oai:OAI-PMH>"
    pieces, splitter = split(head + one + one + tail, 3)
    assert [p.data for p in pieces] == [one, one]
    assert splitter.envelope.token == "" and splitter.envelope.closed


def test_an_error_envelope_without_records():
    body = (HEAD.replace(b"<ListRecords>", b"") +
            b'<error code="badResumptionToken">expired</error></OAI-PMH>')
    pieces, splitter = split(body, 10)
    assert pieces == []
    assert splitter.envelope.errors == [("badResumptionToken", "expired")]


def test_trailing_garbage_after_the_root_is_counted_and_ignored():
    pieces, splitter = split(HEAD + record(1) + TAIL + b"<html>oops</html>\n", 7)
    assert len(pieces) == 1 and splitter.envelope.closed
    assert splitter.envelope.trailing == len(b"<html>oops</html>")


def test_a_body_cut_inside_a_record_gives_an_incomplete_last_piece():
    body = HEAD + record(1) + record(2)[:40]
    pieces, splitter = split(body, 16)
    assert [p.complete for p in pieces] == [True, False]
    assert pieces[1].data == record(2)[:40]
    assert not splitter.envelope.closed


def test_a_body_cut_after_the_records_leaves_the_envelope_open():
    pieces, splitter = split(HEAD + record(1) + TAIL[:30], 16)
    assert len(pieces) == 1 and not splitter.envelope.closed


def test_an_oversized_record_is_handed_over_as_its_first_bytes_and_its_size():
    big = record(1, b"<t>" + b"x" * 300_000 + b"</t>")
    pieces, _ = split(HEAD + big + record(2) + TAIL, 4096, max_record_bytes=100_000)
    assert [p.oversized for p in pieces] == [True, False]
    assert pieces[0].size == len(big) and pieces[0].data == big[:4096]
    assert pieces[1].data == record(2)


def test_doctype_and_entity_declarations_are_refused():
    laughs = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
              b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>')
    with pytest.raises(BodyError, match="DTD"):
        split(laughs + HEAD.split(b"-->\n", 1)[1] + record(1) + TAIL, 64)
    xxe = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    with pytest.raises(BodyError, match="DTD"):
        split(xxe + HEAD.split(b"-->\n", 1)[1] + TAIL, 64)


def test_an_undeclared_entity_in_a_record_stays_in_that_record():
    bad = record(1, b"<t>&xxe;</t>")
    pieces, splitter = split(HEAD + bad + record(2) + TAIL, 50)
    assert [p.data for p in pieces] == [bad, record(2)]
    with pytest.raises(etree.XMLSyntaxError):
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        etree.fromstring(b"<w" + splitter.envelope.nsdecls + b">" + bad + b"</w>", parser)


def test_not_oai_pmh_is_said_so():
    with pytest.raises(BodyError, match="root element is <html>"):
        split(b"<html><body>Service unavailable</body></html>", 8)
    with pytest.raises(BodyError, match="HTML page"):
        split(b"<!DOCTYPE html><html></html>", 8)
    with pytest.raises(BodyError, match="empty"):
        split(b"", 8)


def test_an_undeclared_gzip_body_is_inflated():
    records = [record(n) for n in range(50)]
    body = gzip.compress(HEAD + b"".join(records) + TAIL)
    pieces, splitter = split(body, 100)
    assert [p.data for p in pieces] == records and splitter.envelope.closed


def test_memory_stays_bounded_on_a_large_page():
    one = record(1, b"<t>" + b"y" * 20_000 + b"</t>")
    count = 1_000  # a 20 MB page

    def chunks():
        yield HEAD
        for _ in range(count):
            yield one
        yield TAIL

    splitter = RecordSplitter(max_record_bytes=1 << 20)
    tracemalloc.start()
    seen = 0
    for chunk in chunks():
        for piece in splitter.feed(chunk):
            seen += len(piece.data)
    list(splitter.close())
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert seen == count * len(one)
    assert peak < 2_000_000  # a few records' worth, not the page
