"""The reference server's OAI-PMH face: protocol, records, ground truth and faults.

Clients here are plain ``requests`` and lxml: no tap code (the LIDO XSD validator is the project's
vendored schema, not the tap's writer). Time is a FakeClock wherever the server's behaviour
depends on it.
"""

from __future__ import annotations

import email.utils
import json
import os
import re
import signal
import subprocess
import sys
import time
import tracemalloc
import typing as t
from pathlib import Path

import pytest
import requests
from fakeclock import FakeClock
from lxml import etree
from validity import failures, lido_validator

from tap_museumcms.refserver import (
    Faults,
    GeneratedCollection,
    OaiSettings,
    ReferenceServer,
    SampleCollection,
)
from tap_museumcms.refserver.collection import Collection

ROOT = Path(__file__).resolve().parent.parent
OAI = "http://www.openarchives.org/OAI/2.0/"
LIDO = "http://www.lido-schema.org"
DC = "http://purl.org/dc/elements/1.1/"
NS = {"o": OAI, "lido": LIDO, "dc": DC, "oai_dc": "http://www.openarchives.org/OAI/2.0/oai_dc/"}
ID = "oai:refserver.example:"
START = 1_900_000_000.0  # 2030-03-17T17:46:40Z
ILLEGAL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
TOKEN = re.compile(rb"<resumptionToken([^>]*?)(?:/>|>([^<]*)</resumptionToken>)")
UA = {"User-Agent": "refserver-tests/1.0"}


# --- a small harvester, written for these tests ----------------------------------------------
class Record(t.NamedTuple):
    identifier: str  # stripped
    raw_identifier: str
    datestamp: str
    deleted: bool
    sets: list[str]
    raw: bytes
    wellformed: bool  # after stripping XML-illegal control characters, as a harvester would
    metadata: etree._Element | None


class Page(t.NamedTuple):
    status: int
    body: bytes
    records: list[Record]
    token: str | None  # None: no element; "": empty element
    token_attrs: dict[str, str]


def parse_record(raw: bytes) -> Record:
    header_bytes = re.search(rb"<header[ >].*?</header>", raw, re.S).group(0)
    header = etree.fromstring(header_bytes)
    raw_identifier = header.findtext("identifier")
    try:
        element = etree.fromstring(ILLEGAL.sub(b"", raw))
    except etree.XMLSyntaxError:
        element = None
    metadata = element.find("metadata") if element is not None else None
    return Record(
        identifier=raw_identifier.strip(),
        raw_identifier=raw_identifier,
        datestamp=header.findtext("datestamp"),
        deleted=header.get("status") == "deleted",
        sets=[s.text for s in header.findall("setSpec")],
        raw=raw,
        wellformed=element is not None,
        metadata=metadata[0] if metadata is not None and len(metadata) else None,
    )


def page_of(response: requests.Response) -> Page:
    body = response.content
    end = body.rfind(b"</record>")
    found = re.findall(rb"<record>.*?</record>|<header[ >].*?</header>", body, re.S)
    records = [parse_record(r) for r in found]
    match = TOKEN.search(body, max(end, 0))
    token, attrs = None, {}
    if match:
        token = (match.group(2) or b"").decode()
        attrs = {k.decode(): v.decode() for k, v in re.findall(rb'(\w+)="([^"]*)"', match.group(1))}
    return Page(response.status_code, body, records, token, attrs)


def oai(session: requests.Session, server: ReferenceServer, **params: t.Any) -> requests.Response:
    return session.get(f"{server.url}/oai", params=params, headers=UA)


def root_of(response: requests.Response) -> etree._Element:
    return etree.fromstring(response.content)


def error_code(response: requests.Response) -> str | None:
    error = root_of(response).find("o:error", NS)
    return None if error is None else error.get("code")


def harvest(
    server: ReferenceServer, verb: str = "ListRecords", **params: t.Any
) -> tuple[list[Record], list[Page]]:
    """Follow resumptionTokens until a page without a (non-empty) token."""
    session = requests.Session()
    pages: list[Page] = []
    page = page_of(oai(session, server, verb=verb, **params))
    for _ in range(10_000):
        assert page.status == 200, page.body[:500]
        pages.append(page)
        if not page.token:
            return [r for p in pages for r in p.records], pages
        page = page_of(oai(session, server, verb=verb, resumptionToken=page.token))
    raise AssertionError("harvest did not end")


def identifier_at(collection: Collection, position: int) -> str:
    """The identifier the server must give a position, derived here from the JSON line."""
    try:
        record = json.loads(collection.record_at("objects", position))
    except ValueError:
        return f"{ID}junk-{position}"
    key = record.get("ObjectID")
    return f"{ID}{key}" if isinstance(key, str) and key.strip() else f"{ID}position-{position}"


def title_of(record: Record) -> str | None:
    if record.metadata is None:
        return None
    found = record.metadata.xpath(
        "string(//lido:titleSet/lido:appellationValue | //dc:title)", namespaces=NS
    )
    return found or None


def quarantine_candidate(record: Record, prefix: str) -> bool:
    """What a harvester must quarantine: broken XML, no title, and (LIDO) relative URLs."""
    if not record.wellformed or title_of(record) is None:
        return True
    if prefix != "lido":
        return False
    links = record.metadata.xpath("//lido:linkResource/text()", namespaces=NS)
    return any(not link.startswith(("http://", "https://")) for link in links)


def mutated_collection(clock: FakeClock) -> GeneratedCollection:
    collection = GeneratedCollection(60, invalid_every=3, clock=clock)
    clock.advance(30)
    collection.update("objects", "obj-0000002", title="Retitled <&> \u2018quoted\u2019")  # was bad
    collection.delete("objects", "obj-0000010")
    collection.delete("objects", "obj-0000011")
    collection.add("objects", {"ObjectID": "new-1", "title": "Acquired", "object_type": "print"})
    return collection


# --- Identify, ListMetadataFormats, ListSets -------------------------------------------------
@pytest.mark.parametrize(
    ("granularity", "earliest", "announced"),
    [
        ("seconds", "2026-01-01T00:00:00Z", "YYYY-MM-DDThh:mm:ssZ"),
        ("day", "2026-01-01", "YYYY-MM-DD"),
    ],
)
def test_identify_in_both_granularities(granularity: str, earliest: str, announced: str) -> None:
    clock = FakeClock(start=START)
    settings = OaiSettings(granularity=granularity, deleted_record="transient")
    with ReferenceServer(GeneratedCollection(5), clock=clock, oai=settings) as server:
        response = requests.get(f"{server.url}/oai", params={"verb": "Identify"}, headers=UA)
        identify = root_of(response).find("o:Identify", NS)
        request = root_of(response).find("o:request", NS)
        assert response.headers["Content-Type"].startswith("text/xml")
        assert root_of(response).findtext("o:responseDate", namespaces=NS) == "2030-03-17T17:46:40Z"
        assert request.get("verb") == "Identify" and request.text == f"{server.url}/oai"
        assert identify.findtext("o:baseURL", namespaces=NS) == f"{server.url}/oai"
    fields = {etree.QName(e).localname: e.text for e in identify if e.text}
    assert fields["protocolVersion"] == "2.0" and "@" in fields["adminEmail"]
    assert fields["repositoryName"]
    assert fields["earliestDatestamp"] == earliest
    assert fields["deletedRecord"] == "transient"
    assert fields["granularity"] == announced


def test_list_metadata_formats_and_sets(sample: SampleCollection) -> None:
    with ReferenceServer(sample) as server, requests.Session() as s:
        formats = root_of(oai(s, server, verb="ListMetadataFormats"))
        sets = root_of(oai(s, server, verb="ListSets"))
        one = oai(s, server, verb="ListMetadataFormats", identifier=f"{ID}T00938")
        unknown = oai(s, server, verb="ListMetadataFormats", identifier=f"{ID}nope")
    found = {
        f.findtext("o:metadataPrefix", namespaces=NS): (
            f.findtext("o:schema", namespaces=NS),
            f.findtext("o:metadataNamespace", namespaces=NS),
        )
        for f in formats.iterfind(".//o:metadataFormat", NS)
    }
    assert found == {
        "lido": ("http://www.lido-schema.org/schema/v1.1/lido-v1.1.xsd", LIDO),
        "oai_dc": (
            "http://www.openarchives.org/OAI/2.0/oai_dc.xsd",
            "http://www.openarchives.org/OAI/2.0/oai_dc/",
        ),
    }
    assert error_code(one) is None and error_code(unknown) == "idDoesNotExist"
    specs = {s.findtext("o:setSpec", namespaces=NS) for s in sets.iterfind(".//o:set", NS)}
    assert {"all", "type:painting", "type:on-paper-unique", "type:Print"} <= specs
    assert all(re.fullmatch(r"[A-Za-z0-9\-_.!~*'()]+(:[A-Za-z0-9\-_.!~*'()]+)*", s) for s in specs)


def test_list_sets_of_a_million_objects_uses_the_vocabulary() -> None:
    collection = GeneratedCollection(1_000_000)
    collection.add("objects", {"ObjectID": "new-1", "title": "x", "object_type": "armour"})
    with ReferenceServer(collection) as server:
        started = time.perf_counter()
        sets = root_of(requests.get(f"{server.url}/oai", params={"verb": "ListSets"}, headers=UA))
        elapsed = time.perf_counter() - started
    specs = [s.text for s in sets.iterfind(".//o:setSpec", NS)]
    assert elapsed < 1
    assert specs[0] == "all" and {"type:armour", "type:painting", "type:ceramic"} <= set(specs)
    assert len(specs) == 9


def test_a_million_objects_list_fast_with_estimated_sizes() -> None:
    collection = GeneratedCollection(1_000_000)
    late = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(collection.base_epoch + 999_990))
    with ReferenceServer(collection) as server, requests.Session() as s:
        started = time.perf_counter()
        first = page_of(oai(s, server, verb="ListRecords", metadataPrefix="lido"))
        painting = page_of(
            oai(s, server, verb="ListIdentifiers", metadataPrefix="lido", set="type:painting")
        )
        tail = page_of(oai(s, server, verb="ListRecords", metadataPrefix="lido", **{"from": late}))
        elapsed = time.perf_counter() - started
    assert elapsed < 2
    assert len(first.records) == 100 and first.token_attrs["completeListSize"] == "1000000"
    assert all("type:painting" in r.sets for r in painting.records)
    assert 100_000 < int(painting.token_attrs["completeListSize"]) < 200_000  # an estimate
    assert len(tail.records) == 10 and tail.token == ""


def test_windowed_reads_match_a_brute_force_scan() -> None:
    clock = FakeClock(start=START)
    generated = GeneratedCollection(200, invalid_every=7, clock=clock)
    sample = SampleCollection(clock=clock)
    for collection, key in ((generated, "obj-0000010"), (sample, "T00938")):
        collection.update("objects", key, title="changed")
        collection.delete("objects", next(collection.keys("objects")))
        collection.add("objects", {"ObjectID": "new-1", "title": "x"})
        size = collection.size("objects")
        stamps = [collection.modified_at("objects", p) for p in range(size)]
        ordered = sorted(set(stamps))
        for since, before in [
            (None, None),
            (ordered[1], ordered[-2]),
            (START, None),
            (None, ordered[0]),
            (None, ordered[1]),
            (ordered[-1], ordered[-1] + 1),
        ]:
            brute = [
                p
                for p in range(size)
                if (since is None or stamps[p] >= since) and (before is None or stamps[p] < before)
            ]
            window = collection.iter_window("objects", 0, since, before)
            assert [p for p, *_ in window] == brute
            later = collection.iter_window("objects", 30, since, before)
            assert [p for p, *_ in later] == [p for p in brute if p >= 30]
            assert collection.window_size("objects", since, before) == len(brute)


# --- ListRecords chains against the ground truth ---------------------------------------------
@pytest.mark.parametrize(
    ("prefix", "deleted_record"),
    [("lido", "persistent"), ("oai_dc", "transient"), ("lido", "no")],
)
def test_full_chain_equals_expected_oai(prefix: str, deleted_record: str) -> None:
    clock = FakeClock(start=START)
    collection = mutated_collection(clock)
    settings = OaiSettings(page_size=7, deleted_record=deleted_record)
    with ReferenceServer(collection, clock=clock, oai=settings) as server:
        records, pages = harvest(server, metadataPrefix=prefix)
        expected = server.expected_oai(prefix)
    identifiers = [r.identifier for r in records]
    assert len(identifiers) == len(set(identifiers))
    # every position once, in position order; deleted ones only when the repository keeps them
    hidden = {f"{ID}obj-0000010", f"{ID}obj-0000011"} if deleted_record == "no" else set()
    assert identifiers == [
        i
        for p in range(collection.size("objects"))
        if (i := identifier_at(collection, p)) not in hidden
    ]
    deleted = {r.identifier for r in records if r.deleted}
    quarantine = {
        r.identifier for r in records if not r.deleted and quarantine_candidate(r, prefix)
    }
    live = {r.identifier for r in records if not r.deleted} - quarantine
    assert deleted == expected.tombstones
    assert expected.tombstones == (
        set() if deleted_record == "no" else {f"{ID}obj-0000010", f"{ID}obj-0000011"}
    )
    assert live == expected.valid_keys
    assert quarantine == {identifier_at(collection, p) for p in expected.invalid_positions}
    assert f"{ID}obj-0000002" in live and f"{ID}new-1" in live and f"{ID}position-5" in live
    # deleted headers have no metadata; sets follow the JSON
    for record in records:
        if record.deleted:
            assert (
                record.metadata is None
                and record.sets == ["all"]
                and b"<metadata>" not in record.raw
            )
        elif record.identifier.rsplit(":", 1)[1].startswith("junk-"):
            assert record.sets == ["all"] and not record.wellformed
        else:
            position = collection.position_of("objects", record.identifier.removeprefix(ID))
            if position is not None:
                kind = json.loads(collection.record_at("objects", position)).get("object_type")
                assert record.sets == ["all", f"type:{kind}"]
    # control characters go out raw; everything else is escaped
    assert any(b"\x00" in r.raw and b"\x1fa(Artist)" in r.raw for r in records)
    assert any(b"Retitled &lt;&amp;&gt; \xe2\x80\x98quoted" in r.raw for r in records)
    # paging: cursor counts the records before the page, completeListSize the list, last is empty
    total = len(records)
    assert [p.token_attrs["cursor"] for p in pages] == [str(7 * i) for i in range(len(pages))]
    assert {p.token_attrs["completeListSize"] for p in pages} == {str(total)}
    assert pages[-1].token == "" and all(p.token for p in pages[:-1])
    assert [len(p.records) for p in pages[:-1]] == [7] * (len(pages) - 1)


def test_incremental_harvest_sees_updates_deletes_and_additions() -> None:
    clock = FakeClock(start=START)
    collection = mutated_collection(clock)
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(START + 30))
    with ReferenceServer(collection, clock=clock, oai=OaiSettings(page_size=2)) as server:
        records, _ = harvest(server, metadataPrefix="lido", **{"from": since})
    assert [(r.identifier, r.deleted, r.datestamp) for r in records] == [
        (f"{ID}obj-0000002", False, since),
        (f"{ID}obj-0000010", True, since),
        (f"{ID}obj-0000011", True, since),
        (f"{ID}new-1", False, since),
    ]


def test_sample_chain_equals_expected_oai(sample: SampleCollection) -> None:
    with ReferenceServer(sample, oai=OaiSettings(page_size=250)) as server:
        records, pages = harvest(server, metadataPrefix="lido")
        expected = server.expected_oai("lido")
    live = {r.identifier for r in records if not quarantine_candidate(r, "lido")}
    assert len(records) == 1010 and len(pages) == 5
    assert live == expected.valid_keys and len(expected.invalid_positions) == 0
    assert pages[0].token_attrs["completeListSize"] == "1010"


# --- selective harvesting --------------------------------------------------------------------
def test_from_until_are_inclusive_in_seconds_granularity() -> None:
    collection = GeneratedCollection(40)  # object i modified at 2026-01-01T00:00:00Z + i s
    with (
        ReferenceServer(collection, oai=OaiSettings(page_size=4)) as server,
        requests.Session() as s,
    ):
        window = {"from": "2026-01-01T00:00:10Z", "until": "2026-01-01T00:00:19Z"}
        records, pages = harvest(server, metadataPrefix="oai_dc", **window)
        day_form = oai(s, server, verb="ListRecords", metadataPrefix="lido", until="2026-01-01")
        backwards = oai(
            s,
            server,
            verb="ListRecords",
            metadataPrefix="lido",
            **{"from": "2026-01-01T00:00:20Z", "until": "2026-01-01T00:00:19Z"},
        )
        empty = oai(
            s, server, verb="ListRecords", metadataPrefix="lido", until="2025-12-31T23:59:59Z"
        )
    assert [r.identifier for r in records] == [f"{ID}obj-{i:07d}" for i in range(10, 20)]
    assert records[0].datestamp == "2026-01-01T00:00:10Z" and len(pages) == 3
    assert pages[0].token_attrs["completeListSize"] == "10"
    # The day form is always accepted (OAI-PMH 3.3.1): until=2026-01-01 is the whole day.
    assert error_code(day_form) is None
    assert len(root_of(day_form).findall(".//o:record", NS)) == 4  # the first page of 40
    assert error_code(backwards) == "badArgument"
    assert root_of(backwards).find("o:request", NS).attrib == {}  # no echo after badArgument
    assert error_code(empty) == "noRecordsMatch"


def test_from_until_are_inclusive_in_day_granularity() -> None:
    # 10 objects on 2026-01-01 (23:59:50..59), 20 on 2026-01-02
    collection = GeneratedCollection(30, base_modified="2026-01-01T23:59:50Z")
    settings = OaiSettings(granularity="day", page_size=6)
    with ReferenceServer(collection, oai=settings) as server, requests.Session() as s:
        first_day, _ = harvest(server, metadataPrefix="lido", until="2026-01-01")
        second_day, _ = harvest(
            server, metadataPrefix="lido", **{"from": "2026-01-02", "until": "2026-01-02"}
        )
        seconds_form = oai(
            s, server, verb="ListRecords", metadataPrefix="lido", **{"from": "2026-01-02T00:00:00Z"}
        )
        earliest = root_of(oai(s, server, verb="Identify")).findtext(
            ".//o:earliestDatestamp", namespaces=NS
        )
    assert [r.identifier for r in first_day] == [f"{ID}obj-{i:07d}" for i in range(10)]
    assert [r.identifier for r in second_day] == [f"{ID}obj-{i:07d}" for i in range(10, 30)]
    assert {r.datestamp for r in second_day} == {"2026-01-02"}
    assert error_code(seconds_form) == "badArgument" and earliest == "2026-01-01"


def test_set_filtering(sample: SampleCollection) -> None:
    types = [json.loads(sample.record_at("objects", p)).get("object_type") for p in range(1010)]
    with ReferenceServer(sample, oai=OaiSettings(page_size=200)) as server, requests.Session() as s:
        unique, _ = harvest(server, metadataPrefix="oai_dc", set="type:on-paper-unique")
        painting, _ = harvest(server, "ListIdentifiers", metadataPrefix="lido", set="type:painting")
        everything, _ = harvest(server, "ListIdentifiers", metadataPrefix="lido", set="all")
        nothing = oai(s, server, verb="ListRecords", metadataPrefix="lido", set="type:spaceship")
    assert len(unique) == types.count("on paper, unique") == 660
    assert all("type:on-paper-unique" in r.sets for r in unique)
    assert len(painting) == types.count("painting") == 101  # "Painting" is another set
    assert all(r.metadata is None and b"<record>" not in r.raw for r in painting)
    assert len(everything) == 1010 and error_code(nothing) == "noRecordsMatch"


def test_get_record_and_list_identifiers() -> None:
    collection = GeneratedCollection(10, invalid_every=2)  # position 1: no title, 3: key empty
    with ReferenceServer(collection) as server, requests.Session() as s:
        one = root_of(
            oai(s, server, verb="GetRecord", identifier=f"{ID}obj-0000004", metadataPrefix="lido")
        )
        by_position = oai(
            s, server, verb="GetRecord", identifier=f"{ID}position-3", metadataPrefix="oai_dc"
        )
        missing = oai(
            s, server, verb="GetRecord", identifier=f"{ID}obj-9999999", metadataPrefix="lido"
        )
        headers, _ = harvest(server, "ListIdentifiers", metadataPrefix="lido")
    assert one.findtext(".//lido:lidoRecID", namespaces=NS) == "obj-0000004"
    assert error_code(by_position) is None and b"<dc:title>" in by_position.content
    assert error_code(missing) == "idDoesNotExist"
    assert [h.identifier for h in headers] == [identifier_at(collection, p) for p in range(10)]


# --- resumptionToken -------------------------------------------------------------------------
def test_resumption_token_is_exclusive_opaque_and_checked() -> None:
    with (
        ReferenceServer(GeneratedCollection(30), oai=OaiSettings(page_size=10)) as server,
        ReferenceServer(GeneratedCollection(30), oai=OaiSettings(page_size=10)) as other,
        requests.Session() as s,
    ):
        token = page_of(oai(s, server, verb="ListRecords", metadataPrefix="lido")).token
        foreign = page_of(oai(s, other, verb="ListRecords", metadataPrefix="lido")).token
        codes = {
            "with prefix": oai(
                s, server, verb="ListRecords", resumptionToken=token, metadataPrefix="lido"
            ),
            "tampered": oai(s, server, verb="ListRecords", resumptionToken=token[:-3] + "AAA"),
            "foreign": oai(s, server, verb="ListRecords", resumptionToken=foreign),
            "other verb": oai(s, server, verb="ListIdentifiers", resumptionToken=token),
            "no prefix": oai(s, server, verb="ListRecords"),
            "illegal": oai(s, server, verb="ListRecords", metadataPrefix="lido", colour="red"),
            "repeated": s.get(
                f"{server.url}/oai?verb=ListRecords&metadataPrefix=lido&metadataPrefix=lido"
            ),
            "no verb": oai(s, server),
            "sets token": oai(s, server, verb="ListSets", resumptionToken=token),
        }
        good = page_of(oai(s, server, verb="ListRecords", resumptionToken=token))
        posted = page_of(
            s.post(f"{server.url}/oai", data={"verb": "ListRecords", "resumptionToken": token})
        )
    assert {name: error_code(r) for name, r in codes.items()} == {
        "with prefix": "badArgument",
        "tampered": "badResumptionToken",
        "foreign": "badResumptionToken",
        "other verb": "badResumptionToken",
        "no prefix": "badArgument",
        "illegal": "badArgument",
        "repeated": "badArgument",
        "no verb": "badVerb",
        "sets token": "badResumptionToken",
    }
    assert all(r.status_code == 200 for r in codes.values())
    assert re.fullmatch(r"[A-Za-z0-9_\-.]+", token) and "obj" not in token
    assert good.records[0].identifier == f"{ID}obj-0000010"
    assert [r.identifier for r in posted.records] == [r.identifier for r in good.records]


def test_token_expires_after_its_ttl_on_a_fake_clock() -> None:
    clock = FakeClock(start=START)
    settings = OaiSettings(page_size=5, token_ttl=60)
    with (
        ReferenceServer(GeneratedCollection(20), clock=clock, oai=settings) as server,
        requests.Session() as s,
    ):
        first = page_of(oai(s, server, verb="ListRecords", metadataPrefix="lido"))
        clock.advance(60)
        second = page_of(oai(s, server, verb="ListRecords", resumptionToken=first.token))
        clock.advance(61)
        expired = oai(s, server, verb="ListRecords", resumptionToken=second.token)
        again = oai(s, server, verb="ListRecords", resumptionToken=first.token)
    assert first.token_attrs["expirationDate"] == "2030-03-17T17:47:40Z"
    assert second.status == 200 and len(second.records) == 5
    assert error_code(expired) == "badResumptionToken" and error_code(again) == "badResumptionToken"
    assert b"expired" in expired.content


# --- OAI fault switches ----------------------------------------------------------------------
def test_bad_token_every_and_errors_as_http() -> None:
    faults = Faults(oai_bad_token_every=2)
    with (
        ReferenceServer(
            GeneratedCollection(30), faults=faults, oai=OaiSettings(page_size=5)
        ) as server,
        requests.Session() as s,
    ):
        token = page_of(oai(s, server, verb="ListRecords", metadataPrefix="lido")).token
        answers = [oai(s, server, verb="ListRecords", resumptionToken=token) for _ in range(4)]
        assert [error_code(a) for a in answers] == [None, "badResumptionToken"] * 2
        server.set_faults(Faults(oai_errors_as_http=True))
        statuses = {
            "badVerb": oai(s, server, verb="Dance"),
            "badArgument": oai(s, server, verb="ListRecords"),
            "badResumptionToken": oai(s, server, verb="ListRecords", resumptionToken="x.y"),
            "cannotDisseminateFormat": oai(s, server, verb="ListRecords", metadataPrefix="marc"),
            "noRecordsMatch": oai(s, server, verb="ListRecords", metadataPrefix="lido", set="nope"),
            "idDoesNotExist": oai(
                s, server, verb="GetRecord", metadataPrefix="lido", identifier="x"
            ),
        }
    assert {code: (r.status_code, error_code(r)) for code, r in statuses.items()} == {
        "badVerb": (400, "badVerb"),
        "badArgument": (400, "badArgument"),
        "badResumptionToken": (400, "badResumptionToken"),
        "cannotDisseminateFormat": (422, "cannotDisseminateFormat"),
        "noRecordsMatch": (404, "noRecordsMatch"),
        "idDoesNotExist": (404, "idDoesNotExist"),
    }


def test_envelope_quirks_garbage_whitespace_milliseconds_cursor_size_final_token() -> None:
    faults = Faults(
        oai_trailing_garbage=True,
        oai_identifier_whitespace=True,
        oai_datestamp_ms=True,
        oai_first_cursor=20,
        oai_list_size_factor=2.5,
        oai_omit_final_token=True,
    )
    collection = GeneratedCollection(25)
    with ReferenceServer(collection, faults=faults, oai=OaiSettings(page_size=10)) as server:
        records, pages = harvest(server, metadataPrefix="lido")
        identify = requests.get(f"{server.url}/oai", params={"verb": "Identify"}, headers=UA)
    for page in [*pages, page_of(identify)]:
        body, _, garbage = page.body.partition(b"</OAI-PMH>")
        assert garbage.strip().startswith(b"<!--") and b"harvesting" in garbage
        with pytest.raises(etree.XMLSyntaxError):
            etree.fromstring(page.body)
        etree.fromstring(body + b"</OAI-PMH>")  # the document itself is fine
    assert [r.identifier for r in records] == [f"{ID}obj-{i:07d}" for i in range(25)]
    assert all(
        r.raw_identifier.startswith("\n") and r.raw_identifier != r.identifier for r in records
    )
    for position, record in enumerate(records):
        assert re.fullmatch(r"2026-01-01T00:00:\d\d\.\d{3}Z", record.datestamp)
        assert record.datestamp[:19] == f"2026-01-01T00:00:{position:02d}"
    assert [p.token_attrs.get("cursor") for p in pages] == ["20", "30", None]
    assert pages[0].token_attrs["completeListSize"] == "62"  # 25 * 2.5, rounded
    assert pages[-1].token is None and b"<resumptionToken" not in pages[-1].body


def test_bot_user_agents_get_403() -> None:
    with ReferenceServer(GeneratedCollection(3), faults=Faults(oai_bot_403=True)) as server:
        url = f"{server.url}/oai?verb=Identify"
        plain = requests.get(url)  # python-requests/x.y
        crawler = requests.get(
            url, headers={"User-Agent": "Mozilla/5.0 (compatible; Googlebot/2.1)"}
        )
        polite = requests.get(url, headers=UA)
    assert (plain.status_code, crawler.status_code, polite.status_code) == (403, 403, 200)
    assert plain.headers["Content-Type"].startswith("text/plain")
    assert server.stats.statuses == {403: 2, 200: 1}


# --- the JSONL face's fault switches on /oai -------------------------------------------------
def test_status_faults_and_flow_control_apply_to_every_verb() -> None:
    clock = FakeClock(start=START)
    faults = Faults(
        status_503_every=2, status_429_every=5, retry_after=3, retry_after_form="alternate"
    )
    with (
        ReferenceServer(GeneratedCollection(10), faults=faults, clock=clock) as server,
        requests.Session() as s,
    ):
        answers = [
            oai(s, server, verb="Identify"),
            oai(s, server, verb="ListMetadataFormats"),
            oai(s, server, verb="ListRecords", metadataPrefix="lido"),
            oai(s, server, verb="ListRecords", metadataPrefix="lido"),
            oai(s, server, verb="Identify"),
            s.get(f"{server.url}/objects"),  # one counter for both faces
        ]
        server.set_faults(Faults(status_502_every=2, status_504_every=3))
        gateway = [oai(s, server, verb="Identify").status_code for _ in range(3)]
        server.set_faults(Faults(rate_limit=(2, 10), rate_limit_headers="ietf"))
        limited = [oai(s, server, verb="ListRecords", metadataPrefix="lido") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 503, 200, 503, 429, 503]
    assert answers[1].headers["Retry-After"] == "3"
    retry_date = email.utils.parsedate_to_datetime(answers[3].headers["Retry-After"]).timestamp()
    assert retry_date == START + 3
    assert answers[1].headers["Content-Type"].startswith("text/plain")
    assert gateway == [200, 502, 504]
    assert [r.status_code for r in limited] == [200, 200, 429]
    assert limited[0].headers["RateLimit"] == "limit=2, remaining=1, reset=10"
    assert limited[2].headers["Retry-After"] == "10"


def test_token_auth_covers_the_oai_face() -> None:
    with ReferenceServer(GeneratedCollection(3), token="tok") as server:
        denied = requests.get(f"{server.url}/oai?verb=Identify", headers=UA)
        allowed = requests.get(
            f"{server.url}/oai?verb=Identify", headers={**UA, "Authorization": "Bearer tok"}
        )
    assert (denied.status_code, allowed.status_code) == (401, 200)


def test_reset_and_truncate_cut_a_page_inside_a_record() -> None:
    faults = Faults(reset_mid_body_every=2)
    with (
        ReferenceServer(
            GeneratedCollection(40), faults=faults, oai=OaiSettings(page_size=10)
        ) as server,
        requests.Session() as s,
    ):
        assert len(page_of(oai(s, server, verb="ListRecords", metadataPrefix="lido")).records) == 10
        received = b""
        with (
            pytest.raises(requests.exceptions.ChunkedEncodingError),
            s.get(
                f"{server.url}/oai",
                params={"verb": "ListRecords", "metadataPrefix": "lido"},
                headers=UA,
                stream=True,
            ) as response,
        ):
            for chunk in response.iter_content(4096):
                received += chunk
        server.set_faults(Faults(truncate_body_every=1))
        truncated = oai(s, server, verb="ListRecords", metadataPrefix="oai_dc")
        server.set_faults(Faults())
        assert len(page_of(oai(s, server, verb="ListRecords", metadataPrefix="lido")).records) == 10
    assert received.count(b"<record>") == 6 and received.count(b"</record>") == 5
    assert truncated.status_code == 200 and b"</OAI-PMH>" not in truncated.content
    assert truncated.content.count(b"<record>") == 6 and truncated.content.count(b"</record>") == 5
    assert server.stats.connections == 2


def test_injected_malformed_records_are_declared_exactly() -> None:
    clock = FakeClock(start=START)
    faults = Faults(malformed_line_every=7, oai_identifier_whitespace=True)
    collection = GeneratedCollection(50)
    with ReferenceServer(
        collection, faults=faults, clock=clock, oai=OaiSettings(page_size=8)
    ) as server:
        records, _ = harvest(server, metadataPrefix="lido")
        expected = server.expected_oai("lido")
        served = requests.get(
            f"{server.url}/_admin/expected", params={"face": "oai", "prefix": "lido"}
        ).json()
    junk = [r for r in records if "junk-after-" in r.identifier]
    assert [r.identifier for r in junk] == [f"{ID}junk-after-{p}" for p in range(6, 50, 7)]
    assert {r.raw for r in junk} == set(expected.malformed_lines)
    assert not any(r.wellformed for r in junk)
    assert len([r for r in records if r not in junk]) == 50 == len(expected.valid_keys)
    assert sorted(m.encode() for m in served["malformed_lines"]) == sorted(expected.malformed_lines)
    assert served["valid_keys"] == sorted(expected.valid_keys)


def test_stuck_token_and_token_loop() -> None:
    collection = GeneratedCollection(100)
    settings = OaiSettings(page_size=10)
    with (
        ReferenceServer(collection, faults=Faults(stuck_cursor_at_page=2), oai=settings) as server,
        requests.Session() as s,
    ):
        first = page_of(oai(s, server, verb="ListRecords", metadataPrefix="lido"))
        second = page_of(oai(s, server, verb="ListRecords", resumptionToken=first.token))
        assert second.token == first.token
        assert second.records[0].identifier == f"{ID}obj-0000010"
        server.set_faults(Faults(cursor_loop_at_page=3))
        tokens = [None]
        pages = []
        for _ in range(4):
            params = {"resumptionToken": tokens[-1]} if tokens[-1] else {"metadataPrefix": "lido"}
            pages.append(page_of(oai(s, server, verb="ListRecords", **params)))
            tokens.append(pages[-1].token)
    assert tokens[3] == tokens[1]  # page 3 points back to where page 2 started
    assert pages[3].records[0].identifier == pages[1].records[0].identifier == f"{ID}obj-0000010"


def test_slow_first_byte_on_the_oai_face() -> None:
    faults = Faults(slow_first_byte=0.3)
    with (
        ReferenceServer(GeneratedCollection(3), faults=faults) as server,
        pytest.raises(requests.exceptions.ReadTimeout),
    ):
        requests.get(f"{server.url}/oai?verb=Identify", headers=UA, timeout=(2, 0.05))


# --- the records themselves ------------------------------------------------------------------
def test_lido_records_are_valid_against_the_xsd(sample: SampleCollection) -> None:
    collection = GeneratedCollection(300, seed=5, invalid_every=5)
    validate = lido_validator()
    for source in (collection, sample):
        with ReferenceServer(source, oai=OaiSettings(page_size=1000)) as server:
            records, _ = harvest(server, metadataPrefix="lido")
            expected = server.expected_oai("lido")
        documents = {
            r.identifier: etree.tostring(r.metadata, encoding="unicode")
            for r in records
            if r.identifier in expected.valid_keys
        }
        assert len(documents) == len(expected.valid_keys)
        assert failures(f"LIDO over OAI ({type(source).__name__})", documents, validate) == {}
    broken = {r.identifier: r for r in records if r.identifier not in expected.valid_keys}
    assert broken == {}  # the sample has nothing to quarantine on the OAI face


def test_lido_mapping_of_generated_objects() -> None:
    collection = GeneratedCollection(35, invalid_every=5)  # kinds at 4, 9, 14, 19, 24, 29, 34
    with ReferenceServer(collection, oai=OaiSettings(page_size=100)) as server:
        records, _ = harvest(server, metadataPrefix="lido")
    by_id = {r.identifier: r for r in records}
    plain = json.loads(collection.record_at("objects", 0))
    lido = by_id[f"{ID}obj-0000000"].metadata

    def texts(path: str, element: etree._Element = lido) -> list[str]:
        return element.xpath(path, namespaces=NS)

    assert texts("lido:lidoRecID/text()") == ["obj-0000000"]
    assert texts(".//lido:titleSet/lido:appellationValue/text()") == [plain["title"]]
    assert texts(".//lido:objectWorkType/lido:term/text()") == [plain["object_type"]]
    assert texts(".//lido:repositorySet/lido:workID/text()") == [plain["accession_number"]]
    assert texts(".//lido:displayMaterialsTech/text()") == [plain["medium"]]
    assert texts(".//lido:displayActorInRole/text()") == [plain["maker"]]
    assert texts(".//lido:eventDate/lido:displayDate/text()") == [plain["creation_date_display"]]
    assert (
        texts(".//lido:earliestDate/text()")
        == texts(".//lido:latestDate/text()")
        == [plain["creation_date_iso"]]
    )
    assert texts(".//lido:rightsWorkSet/lido:rightsType/lido:conceptID/text()") == [
        plain["rights_uri"]
    ]
    assert texts(".//lido:recordMetadataDate/text()") == [plain["modified"]]
    service = plain["media"][0]["iiif_image_service"]
    resource_sets = texts(".//lido:resourceWrap/lido:resourceSet")
    assert texts("lido:resourceID/text()", resource_sets[0]) == [plain["media"][0]["MediaID"]]
    assert (
        texts(".//lido:linkResource/text()", resource_sets[0])[0]
        == f"{service}/full/max/0/default.jpg"
    )
    assert texts(".//lido:measurementValue/text()", resource_sets[0]) == [
        str(plain["media"][0]["width"]),
        str(plain["media"][0]["height"]),
    ]
    manifest = texts("lido:resourceRepresentation/lido:linkResource", resource_sets[-1])[0]
    assert manifest.text == plain["iiif_manifest_url"]
    assert manifest.get(f"{{{LIDO}}}formatResource") == "application/ld+json"
    assert texts("lido:resourceType/lido:term/text()", resource_sets[-1]) == ["IIIF Manifest"]
    # the deliberate faults
    assert texts(".//lido:titleSet/*", by_id[f"{ID}obj-0000004"].metadata) == []  # no title
    assert f"{ID}position-9" in by_id  # empty ObjectID
    for fuzzy in ("obj-0000014", "obj-0000019"):  # c. 1850, 2026-13-45
        assert texts(".//lido:earliestDate", by_id[ID + fuzzy].metadata) == []
    relative = texts(
        ".//lido:linkResource[@lido:formatResource='application/ld+json']/text()",
        by_id[f"{ID}obj-0000024"].metadata,
    )
    assert relative == ["/iiif/obj-0000024/manifest"]
    assert not by_id[f"{ID}junk-29"].wellformed and b"</record>" in by_id[f"{ID}junk-29"].raw
    assert b"\x00</lido:appellationValue>" in by_id[f"{ID}obj-0000034"].raw


def test_aic_images_use_image_api_2_sizes(sample: SampleCollection) -> None:
    with ReferenceServer(sample) as server, requests.Session() as s:
        record = etree.fromstring(
            oai(
                s, server, verb="GetRecord", identifier=f"{ID}1880.1", metadataPrefix="lido"
            ).content
        )
    links = record.xpath(".//lido:linkResource/text()", namespaces=NS)
    assert links[0].startswith("https://www.artic.edu/iiif/2/") and links[0].endswith(
        "/full/full/0/default.jpg"
    )


def test_dublin_core_records() -> None:
    collection = GeneratedCollection(10, invalid_every=5)  # 4: no title, 9: empty ObjectID
    with ReferenceServer(collection) as server:
        records, _ = harvest(server, metadataPrefix="oai_dc")
    plain = json.loads(collection.record_at("objects", 0))
    dc = records[0].metadata
    values = {etree.QName(e).localname: e.text for e in dc}
    assert values["title"] == plain["title"] and values["creator"] == plain["maker"]
    assert (
        values["date"] == plain["creation_date_display"] and values["type"] == plain["object_type"]
    )
    assert values["format"] == plain["medium"] and values["description"] == plain["description"]
    assert (
        values["identifier"] == plain["accession_number"]
        and values["rights"] == plain["rights_uri"]
    )
    assert dc.find("dc:title", NS) is not None and records[4].metadata.find("dc:title", NS) is None


# --- memory: a 50 MB page is streamed --------------------------------------------------------
def test_a_50_mb_page_is_streamed_not_built() -> None:
    pad = 5_000_000
    faults = Faults(oai_huge_description_bytes=pad)
    with (
        ReferenceServer(
            GeneratedCollection(10), faults=faults, oai=OaiSettings(page_size=10)
        ) as server,
        requests.Session() as s,
    ):
        small = oai(
            s, server, verb="GetRecord", identifier=f"{ID}obj-0000003", metadataPrefix="oai_dc"
        )
        description = (
            etree.fromstring(small.content, etree.XMLParser(huge_tree=True))
            .find(".//dc:description", NS)
            .text
        )
        assert len(description.encode()) == pad
        tracemalloc.start()
        try:
            received = 0
            with s.get(
                f"{server.url}/oai",
                params={"verb": "ListRecords", "metadataPrefix": "lido"},
                headers=UA,
                stream=True,
            ) as response:
                for chunk in response.iter_content(256 * 1024):
                    received += len(chunk)
                    tail = chunk[-200:]
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert received > 50_000_000 and tail.rstrip().endswith(b"</OAI-PMH>")
    assert peak < 8_000_000, (
        f"peak {peak / 1e6:.1f} MB while serving a {received / 1e6:.0f} MB page"
    )
    assert server.stats.largest_write <= 64 * 1024 + 16


# --- a server in another process -------------------------------------------------------------
def test_cli_flags_and_admin_expected_for_subprocess_tests() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tap_museumcms.refserver",
            "--collection",
            "generated:20",
            "--invalid-every",
            "4",
            "--oai-granularity",
            "day",
            "--oai-deleted-record",
            "no",
            "--oai-page-size",
            "5",
            "--oai-token-ttl",
            "600",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(os.environ),
        cwd=ROOT,
        text=True,
    )
    try:
        url = process.stdout.readline().split()[1]
        with requests.Session() as s:
            identify = etree.fromstring(
                s.get(f"{url}/oai", params={"verb": "Identify"}, headers=UA).content
            )
            page = page_of(
                s.get(
                    f"{url}/oai",
                    params={"verb": "ListRecords", "metadataPrefix": "oai_dc"},
                    headers=UA,
                )
            )
            expected = s.get(
                f"{url}/_admin/expected", params={"face": "oai", "prefix": "oai_dc"}
            ).json()
            bad = s.get(f"{url}/_admin/expected", params={"face": "oai", "prefix": "marc"})
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert identify.findtext(".//o:granularity", namespaces=NS) == "YYYY-MM-DD"
    assert identify.findtext(".//o:deletedRecord", namespaces=NS) == "no"
    assert len(page.records) == 5 and "expirationDate" in page.token_attrs
    assert page.records[0].datestamp == "2026-01-01"
    # 20 objects, every 4th bad: 3 title_missing, 7 key_empty, 11 date_circa, 15 date_impossible,
    # 19 relative_url (valid in Dublin Core)
    assert expected["invalid_positions"] == [3] and expected["tombstones"] == []
    assert len(expected["valid_keys"]) == 19 and f"{ID}position-7" in expected["valid_keys"]
    assert bad.status_code == 400


@pytest.fixture(scope="module")
def sample() -> SampleCollection:
    return SampleCollection()
