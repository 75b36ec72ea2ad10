"""The reference CMS server keeps the JSONL contract (README, "The JSONL contract"), faults too.

Clients here are plain ``requests`` and raw sockets: no tap code. Time is a FakeClock wherever the
server's behaviour depends on it.
"""

from __future__ import annotations

import email.utils
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import typing as t
from pathlib import Path

import pytest
import requests
from fakeclock import FakeClock

from tap_museumcms.refserver import (
    Faults,
    GeneratedCollection,
    ReferenceServer,
    SampleCollection,
)
from tap_museumcms.refserver.collection import STREAM_KEYS, iso_utc, line_is_valid
from tap_museumcms.refserver.server import decode_cursor, encode_cursor

ROOT = Path(__file__).resolve().parent.parent
BAD_KINDS = (
    "title_missing",
    "key_empty",
    "date_circa",
    "date_impossible",
    "relative_url",
    "not_json",
)


class Page(t.NamedTuple):
    status: int
    lines: list[bytes]  # non-blank lines as received
    raw: bytes


def get_page(session: requests.Session, url: str, **params: t.Any) -> Page:
    response = session.get(url, params={k: v for k, v in params.items() if v is not None})
    body = response.content
    lines = [line for line in body.split(b"\n") if line.strip()]
    return Page(response.status_code, lines, body)


def parse(line: bytes) -> dict[str, t.Any] | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def harvest(
    server: ReferenceServer, stream: str, *, limit: int | None = None, **params: t.Any
) -> tuple[list[dict[str, t.Any]], list[bytes], list[Page]]:
    """Follow cursors until an empty page or a page that does not advance.

    Returns:
        (records in order, malformed lines in order, pages)
    """
    session = requests.Session()
    cursor: str | None = None
    records: list[dict[str, t.Any]] = []
    malformed: list[bytes] = []
    pages: list[Page] = []
    for _ in range(100_000):
        page = get_page(session, f"{server.url}/{stream}", cursor=cursor, limit=limit, **params)
        assert page.status == 200
        pages.append(page)
        cursors = []
        for line in page.lines:
            record = parse(line)
            if record is None or "next_cursor" not in record:
                malformed.append(line)
            else:
                records.append(record)
                cursors.append(record["next_cursor"])
        if not cursors:
            return records, malformed, pages
        cursor = cursors[-1]
    raise AssertionError("harvest did not end")


def strip_cursor(record: dict[str, t.Any]) -> dict[str, t.Any]:
    return {k: v for k, v in record.items() if k != "next_cursor"}


@pytest.fixture(scope="module")
def sample() -> SampleCollection:
    return SampleCollection()


# --- collections and pagination --------------------------------------------------------------
@pytest.mark.parametrize("stream", sorted(STREAM_KEYS))
def test_sample_harvest_reproduces_every_record_in_order(
    sample: SampleCollection, stream: str
) -> None:
    with ReferenceServer(sample) as server:
        records, malformed, pages = harvest(server, stream, limit=137)
    key = STREAM_KEYS[stream]
    assert [r[key] for r in records] == list(sample.keys(stream))
    assert malformed == []
    assert pages[-1].raw == b""  # an empty body ends the harvest
    assert [strip_cursor(r) for r in records] == [
        json.loads(sample.record_at(stream, p)) for p in range(sample.size(stream))
    ]


def test_sample_is_real_data_with_some_records_to_quarantine(sample: SampleCollection) -> None:
    objects = [json.loads(sample.record_at("objects", p)) for p in range(sample.size("objects"))]
    by_id = {o["ObjectID"]: o for o in objects}
    assert len(objects) == 1010 and sample.size("rights") == 1010
    assert by_id["T00938"]["title"] == "Sketch for \u2018The Conjuror\u2019"
    assert by_id["T00938"]["maker"] == "Nathaniel Hone"
    assert by_id["T00938"]["creation_date_iso"] == "1775"
    assert by_id["1880.1"]["creation_date_display"] == "n.d."
    assert "creation_date_iso" not in by_id["1880.1"]
    assert by_id["1880.1"]["rights_uri"] == "https://creativecommons.org/publicdomain/zero/1.0/"
    assert by_id["1880.1"]["media"][0]["iiif_image_service"].startswith(
        "https://www.artic.edu/iiif/2/"
    )
    fuzzy = [o for o in objects if re.search(r"[^\d-]", o.get("creation_date_iso", ""))]
    expected = sample.expected("objects")
    assert {o["ObjectID"] for o in fuzzy} <= {
        line_key
        for p in expected.invalid_positions
        if (line_key := json.loads(sample.record_at("objects", p))["ObjectID"])
    }
    assert 200 < len(expected.invalid_positions) < 300  # documented: 269 of 1,010
    assert len(expected.valid_keys) + len(expected.invalid_positions) == 1010
    sizes = sum(
        (ROOT / "tap_museumcms/refserver/sample" / f"{s}.jsonl").stat().st_size for s in STREAM_KEYS
    )
    assert sizes < 3_000_000


def test_generated_collection_declares_its_rotation_of_bad_records() -> None:
    collection = GeneratedCollection(300, seed=7, invalid_every=4)
    with ReferenceServer(collection) as server:
        records, malformed, _ = harvest(server, "objects", limit=50)
    assert [r["ObjectID"] for r in records] == list(collection.keys("objects"))
    # rotation as documented: every 4th object, kinds in order, control chars are valid
    kinds = [
        "title_missing",
        "key_empty",
        "date_circa",
        "date_impossible",
        "relative_url",
        "not_json",
        "control_chars",
    ]
    declared = {p: kinds[((p + 1) // 4 - 1) % 7] for p in range(3, 300, 4)}
    expected = collection.expected("objects")
    assert expected.invalid_positions == {p for p, k in declared.items() if k in BAD_KINDS}
    assert len(malformed) == sum(k == "not_json" for k in declared.values())
    by_position = {decode_cursor(r["next_cursor"]) - 1: r for r in records}
    for position, kind in declared.items():
        record = by_position.get(position)
        if kind == "title_missing":
            assert "title" not in record
        elif kind == "key_empty":
            assert record["ObjectID"] == ""
        elif kind == "date_circa":
            assert record["creation_date_iso"] == "c. 1850"
        elif kind == "date_impossible":
            assert record["creation_date_iso"] == "2026-13-45"
        elif kind == "relative_url":
            assert record["iiif_manifest_url"].startswith("/")
        elif kind == "not_json":
            assert record is None
        else:
            assert "\x00" in record["title"] and "\x1f" in record["maker"]
    # the generic declaration agrees with the rotation for every line
    assert {
        p for p in range(300) if not line_is_valid("objects", collection.record_at("objects", p))
    } == expected.invalid_positions
    assert len(expected.valid_keys) == 300 - len(expected.invalid_positions)
    # modified increases with position, rights and media are clean
    stamps = [r["modified"] for r in records]
    assert stamps == sorted(stamps) and stamps[0] == "2026-01-01T00:00:00Z"
    assert collection.expected("media").invalid_positions == set()


def test_generated_records_are_deterministic_per_seed() -> None:
    a, b = GeneratedCollection(50, seed=1), GeneratedCollection(50, seed=1)
    c = GeneratedCollection(50, seed=2)
    assert a.record_at("media", 42) == b.record_at("media", 42)
    assert a.record_at("objects", 42) != c.record_at("objects", 42)
    media = json.loads(a.record_at("media", 42))
    assert media["width"] > 0 and media["iiif_image_service"].startswith("https://")


def test_limit_default_cap_and_bad_queries() -> None:
    collection = GeneratedCollection(2500)
    with ReferenceServer(collection, max_limit=700) as server, requests.Session() as s:
        url = f"{server.url}/objects"
        assert len(get_page(s, url).lines) == 100
        assert len(get_page(s, url, limit=5000).lines) == 700
        assert len(get_page(s, url, limit=1).lines) == 1
        for params in (
            {"limit": "abc"},
            {"limit": 0},
            {"cursor": "b64:!!!"},
            {"cursor": "nonsense"},
            {"modified_since": "yesterday"},
        ):
            response = s.get(url, params=params)
            assert response.status_code == 400
            assert response.json()["error"] == "bad_request"
        response = s.get(f"{server.url}/nothing")
        assert response.status_code == 404 and response.json()["error"] == "not_found"
    with ReferenceServer(collection) as server, requests.Session() as s:
        assert len(get_page(s, f"{server.url}/objects", limit=5000).lines) == 1000


def test_modified_since_filters_and_cursors_keep_positions(sample: SampleCollection) -> None:
    with ReferenceServer(sample) as server:
        records, _, _ = harvest(server, "objects", modified_since="2020-01-01T00:00:00Z")
        assert len(records) == 10  # the AIC records (updated 2024); Tate's are from 2014
        assert all(r["modified"] >= "2020" for r in records)
        assert decode_cursor(records[0]["next_cursor"]) == 1001  # position 1000 + 1
    collection = GeneratedCollection(1000)
    with ReferenceServer(collection) as server:
        since = iso_utc(collection.base_epoch + 990)
        records, _, _ = harvest(server, "objects", limit=3, modified_since=since)
    assert [r["ObjectID"] for r in records] == [f"obj-{i:07d}" for i in range(990, 1000)]


def test_mutations_show_up_in_an_incremental_harvest_of_a_million_quickly() -> None:
    clock = FakeClock(start=1_900_000_000.0)
    collection = GeneratedCollection(1_000_000)
    with ReferenceServer(collection, clock=clock) as server:
        clock.advance(60)
        collection.update("objects", "obj-0000010", title="Retitled")
        collection.delete("objects", "obj-0500000")
        collection.add("objects", {"ObjectID": "new-1", "title": "Acquired today"})
        started = time.perf_counter()
        records, _, _ = harvest(server, "objects", modified_since=iso_utc(1_900_000_000))
        elapsed = time.perf_counter() - started
    assert elapsed < 2
    assert [r["ObjectID"] for r in records] == ["obj-0000010", "obj-0500000", "new-1"]
    assert records[0]["title"] == "Retitled"
    assert records[1] == {
        "ObjectID": "obj-0500000",
        "deleted": True,
        "modified": iso_utc(1_900_000_060),
        "next_cursor": encode_cursor(500_001),
    }
    assert decode_cursor(records[2]["next_cursor"]) == 1_000_001


def test_expected_follows_mutations() -> None:
    collection = GeneratedCollection(20, invalid_every=2)
    collection.update("objects", "obj-0000001", title="Fixed")  # was title_missing
    collection.delete("objects", "obj-0000000")
    collection.add("objects", {"ObjectID": "new-1", "title": "x"})
    expected = collection.expected("objects")
    assert 1 not in expected.invalid_positions and 3 in expected.invalid_positions
    assert expected.tombstones == {"obj-0000000"}
    assert {"obj-0000001", "new-1"} <= expected.valid_keys
    assert "obj-0000000" not in expected.valid_keys


def test_malformed_last_line_is_served_again_alone() -> None:
    collection = GeneratedCollection(12, invalid_every=2)  # position 11 is the not-JSON line
    assert parse(collection.record_at("objects", 11)) is None
    with ReferenceServer(collection) as server, requests.Session() as s:
        records, malformed, pages = harvest(server, "objects", limit=4)
        last_good = records[-1]["next_cursor"]
        assert decode_cursor(last_good) == 11
        again = get_page(s, f"{server.url}/objects", cursor=last_good)
    assert again.raw == collection.record_at("objects", 11) + b"\n"
    # delivered at the end of the page that reached the end, then once more alone
    assert pages[-1].raw == again.raw and malformed == [again.lines[0]] * 2


# --- faults ----------------------------------------------------------------------------------
def test_429_with_retry_after_seconds_date_and_alternating() -> None:
    clock = FakeClock(start=1_800_000_000.25)
    collection = GeneratedCollection(10)
    faults = Faults(status_429_every=2, retry_after=1.5)
    with ReferenceServer(collection, faults=faults, clock=clock) as server, requests.Session() as s:
        url = f"{server.url}/objects"
        assert [s.get(url).status_code for _ in range(4)] == [200, 429, 200, 429]
        response = s.get(url)
        response = s.get(url)
        assert response.headers["Retry-After"] == "2"
        assert response.json()["error"] == "too_many_requests"
        server.set_faults(Faults(status_429_every=1, retry_after=1.5, retry_after_form="date"))
        when = email.utils.parsedate_to_datetime(s.get(url).headers["Retry-After"]).timestamp()
        assert clock.time() + 1.5 <= when < clock.time() + 2.5  # rounded up, never early
        server.set_faults(Faults(status_429_every=1, retry_after_form="alternate"))
        forms = [s.get(url).headers["Retry-After"] for _ in range(3)]
    assert forms[0].isdigit() and not forms[1].isdigit() and forms[2].isdigit()
    assert server.stats.count_429 == 7


def test_503_has_retry_after_gateway_errors_do_not() -> None:
    faults = Faults(status_503_every=3, status_502_every=2, status_504_every=5)
    with ReferenceServer(GeneratedCollection(5), faults=faults) as server, requests.Session() as s:
        responses = [s.get(f"{server.url}/objects") for _ in range(6)]
    assert [r.status_code for r in responses] == [200, 502, 503, 502, 504, 503]
    assert responses[2].headers["Retry-After"] == "1"
    assert "Retry-After" not in responses[1].headers
    assert "Retry-After" not in responses[4].headers


@pytest.mark.parametrize("rst", [False, True])
def test_reset_mid_body_breaks_the_stream(rst: bool) -> None:
    faults = Faults(reset_mid_body_every=2, reset_with_rst=rst)
    with (
        ReferenceServer(GeneratedCollection(100), faults=faults) as server,
        requests.Session() as s,
    ):
        url = f"{server.url}/objects"
        assert len(get_page(s, url, limit=10).lines) == 10
        received: list[bytes] = []
        with (
            pytest.raises(requests.exceptions.ChunkedEncodingError),
            s.get(url, params={"limit": 10}, stream=True) as response,
        ):
            assert response.status_code == 200
            for line in response.iter_lines():
                received.append(line)
        if not rst:  # a FIN delivers what was sent: five whole lines (and a piece of the sixth)
            assert len(received) == 5 and all(parse(line) for line in received)
        assert len(get_page(s, url, limit=10).lines) == 10  # the next request works
    assert server.stats.connections == 2


def test_truncated_body_is_framed_and_keeps_the_connection() -> None:
    with (
        ReferenceServer(GeneratedCollection(100), faults=Faults(truncate_body_every=1)) as server,
        requests.Session() as s,
    ):
        pages = [get_page(s, f"{server.url}/objects", limit=10) for _ in range(3)]
    for page in pages:
        assert len(page.lines) == 6 and not page.raw.endswith(b"\n")
        assert all(parse(line) for line in page.lines[:5]) and parse(page.lines[5]) is None
    assert server.stats.connections == 1


def test_stuck_cursor_and_cursor_loop() -> None:
    collection = GeneratedCollection(100)
    with (
        ReferenceServer(collection, faults=Faults(stuck_cursor_at_page=2)) as server,
        requests.Session() as s,
    ):
        url = f"{server.url}/objects"
        first = get_page(s, url, limit=10)
        cursor = json.loads(first.lines[-1])["next_cursor"]
        second = get_page(s, url, limit=10, cursor=cursor)
        assert json.loads(second.lines[-1])["next_cursor"] == cursor
        assert json.loads(second.lines[-2])["next_cursor"] == encode_cursor(19)
        server.set_faults(Faults(cursor_loop_at_page=3))
        cursors = [None]
        for _ in range(3):
            page = get_page(s, url, limit=10, cursor=cursors[-1])
            cursors.append(json.loads(page.lines[-1])["next_cursor"])
    assert cursors[1:3] == [encode_cursor(10), encode_cursor(20)]
    assert cursors[3] == cursors[1]  # page 3 points back to where page 2 started


def test_overlapping_pages_redeliver_records() -> None:
    faults = Faults(overlap_every=2, overlap_records=3)
    with ReferenceServer(GeneratedCollection(40), faults=faults) as server:
        records, _, _ = harvest(server, "objects", limit=10)
    keys = [r["ObjectID"] for r in records]
    assert keys[10:13] == keys[7:10]
    assert sorted(set(keys)) == [f"obj-{i:07d}" for i in range(40)]
    assert len(keys) > 40


def test_inserted_malformed_lines_and_blank_lines() -> None:
    collection = GeneratedCollection(100)
    faults = Faults(malformed_line_every=7, blank_lines=True)
    with ReferenceServer(collection, faults=faults) as server:
        records, malformed, pages = harvest(server, "objects", limit=15)
        expected = server.expected("objects")
    assert [r["ObjectID"] for r in records] == list(collection.keys("objects"))
    assert len(malformed) == len(set(malformed)) == 14
    assert set(malformed) == expected.malformed_lines
    assert b"\n\n" in pages[0].raw
    assert all(parse(line) is None for line in malformed)


def test_rate_limit_enforced_and_announced_on_a_fake_clock() -> None:
    clock = FakeClock(start=1_800_000_000.0)
    faults = Faults(rate_limit=(3, 10), rate_limit_headers="x-delta")
    with (
        ReferenceServer(GeneratedCollection(10), faults=faults, clock=clock) as server,
        requests.Session() as s,
    ):
        url = f"{server.url}/objects"
        responses = [s.get(url) for _ in range(4)]
        assert [r.status_code for r in responses] == [200, 200, 200, 429]
        assert [r.headers["X-RateLimit-Remaining"] for r in responses] == ["2", "1", "0", "0"]
        assert responses[0].headers["X-RateLimit-Limit"] == "3"
        assert responses[3].headers["Retry-After"] == "10"
        clock.advance(4)
        refused = s.get(url)
        assert refused.status_code == 429 and refused.headers["X-RateLimit-Reset"] == "6"
        assert refused.headers["Retry-After"] == "6"
        clock.advance(6)
        assert s.get(url).status_code == 200
        # a client that paces itself by the headers never sees a 429
        server.set_faults(Faults(rate_limit=(5, 2), rate_limit_headers="x-delta"))
        before = server.stats.count_429
        for _ in range(30):
            response = s.get(url)
            assert response.status_code == 200
            if response.headers["X-RateLimit-Remaining"] == "0":
                clock.sleep(float(response.headers["X-RateLimit-Reset"]))
        assert server.stats.count_429 == before == 2


@pytest.mark.parametrize(
    ("form", "pattern"),
    [
        ("x-epoch", {"X-RateLimit-Reset": r"1800000060"}),
        ("ietf", {"RateLimit": r"limit=10, remaining=9, reset=60", "RateLimit-Policy": r"10;w=60"}),
        (
            "ietf-structured",
            {"RateLimit": r'"default";r=9;t=60', "RateLimit-Policy": r'"default";q=10;w=60'},
        ),
    ],
)
def test_rate_limit_header_forms(form: str, pattern: dict[str, str]) -> None:
    clock = FakeClock(start=1_800_000_000.0)
    faults = Faults(rate_limit=(10, 60), rate_limit_headers=form)
    with ReferenceServer(GeneratedCollection(3), faults=faults, clock=clock) as server:
        response = requests.get(f"{server.url}/objects")
    for name, value in pattern.items():
        assert re.fullmatch(value, response.headers[name])


# --- auth, keep-alive, framing, admin --------------------------------------------------------
def test_token_auth_and_the_token_is_never_echoed(capfd: pytest.CaptureFixture[str]) -> None:
    secret = "s3cret-token-value"
    with (
        ReferenceServer(GeneratedCollection(3), token=secret, verbose=True) as server,
        requests.Session() as s,
    ):
        url = f"{server.url}/objects"
        denied = s.get(url, params={"api_key": secret})
        wrong = s.get(url, headers={"Authorization": "Bearer nope"})
        bearer = s.get(url, headers={"Authorization": f"Bearer {secret}"})
        api_key = s.get(url, headers={"X-API-Key": secret})
        stats = s.get(f"{server.url}/_admin/stats").text
    assert (denied.status_code, wrong.status_code) == (401, 401)
    assert denied.headers["WWW-Authenticate"].startswith("Bearer")
    assert (bearer.status_code, api_key.status_code) == (200, 200)
    assert len(bearer.content.splitlines()) == 3
    captured = capfd.readouterr()
    assert "/objects" in captured.err  # verbose logging is on...
    for text in (denied.text, wrong.text, stats, captured.err, captured.out):
        assert secret not in text  # ...and the secret appears nowhere


def test_keep_alive_reuses_one_connection(sample: SampleCollection) -> None:
    with ReferenceServer(sample) as server, requests.Session() as s:
        for stream in ("objects", "rights", "media", "objects", "rights"):
            with s.get(f"{server.url}/{stream}", params={"limit": 300}, stream=True) as r:
                assert sum(1 for _ in r.iter_lines()) == 300
        assert server.stats.connections == 1
        assert server.stats.requests == {"/objects": 2, "/rights": 2, "/media": 1}
        assert server.stats.bytes_sent > 300_000


def test_chunked_framing_is_exact_on_a_raw_socket() -> None:
    collection = GeneratedCollection(30)
    with ReferenceServer(collection) as server:
        host, port = server.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            reader = sock.makefile("rb")
            for cursor in ("0", encode_cursor(25)):
                sock.sendall(
                    f"GET /objects?limit=10&cursor={cursor} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
                )
                headers = {}
                assert reader.readline() == b"HTTP/1.1 200 OK\r\n"
                while (line := reader.readline()) != b"\r\n":
                    name, _, value = line.decode().partition(":")
                    headers[name.lower()] = value.strip()
                assert headers["transfer-encoding"] == "chunked"
                assert headers["content-type"] == "application/x-ndjson"
                body = b""
                while True:
                    size = int(reader.readline().strip(), 16)
                    chunk = reader.read(size)
                    assert len(chunk) == size and reader.read(2) == b"\r\n"
                    if size == 0:
                        break
                    body += chunk
                start = decode_cursor(cursor)
                keys = [json.loads(line)["ObjectID"] for line in body.splitlines()]
                assert keys == [f"obj-{i:07d}" for i in range(start, min(start + 10, 30))]
    assert server.stats.connections == 1


def test_admin_endpoints_change_faults_and_data_at_run_time() -> None:
    clock = FakeClock(start=1_900_000_000.0)
    with ReferenceServer(GeneratedCollection(10), clock=clock) as server, requests.Session() as s:
        reply = s.post(f"{server.url}/_admin/faults", json={"status_503_every": 1})
        assert reply.status_code == 200 and reply.json()["status_503_every"] == 1
        assert s.get(f"{server.url}/objects").status_code == 503
        assert s.post(f"{server.url}/_admin/faults", json={"nope": 1}).status_code == 400
        s.post(f"{server.url}/_admin/faults", json={})
        update = {
            "op": "update",
            "stream": "rights",
            "key": "r-obj-0000004",
            "fields": {"holder": "Someone"},
        }
        line = s.post(f"{server.url}/_admin/mutate", json=update).json()["line"]
        assert line["holder"] == "Someone" and line["modified"] == iso_utc(1_900_000_000)
        delete = {"op": "delete", "stream": "objects", "key": "obj-0000002"}
        assert s.post(f"{server.url}/_admin/mutate", json=delete).status_code == 200
        expected = s.get(f"{server.url}/_admin/expected", params={"stream": "objects"}).json()
        stats = s.get(f"{server.url}/_admin/stats").json()
    assert expected["tombstones"] == ["obj-0000002"] and len(expected["valid_keys"]) == 9
    assert stats["requests"]["/objects"] == 1 and stats["statuses"]["503"] == 1
    assert stats["connections"] == 1


def _rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1))


def test_subprocess_serves_a_million_records_without_holding_them() -> None:
    env = {**os.environ, "MUSEUMCMS_REF_TOKEN": "tok"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tap_museumcms.refserver",
            "--port",
            "0",
            "--collection",
            "generated:1000000",
            "--invalid-every",
            "100",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=ROOT,
        text=True,
    )
    try:
        ready = process.stdout.readline()
        assert re.fullmatch(r"READY http://127\.0\.0\.1:\d+\n", ready)
        url = ready.split()[1]
        with requests.Session() as s:
            s.headers["Authorization"] = "Bearer tok"
            started = time.perf_counter()
            page = get_page(s, f"{url}/objects", cursor=encode_cursor(654_321), limit=1000)
            elapsed = time.perf_counter() - started
            assert s.get(f"{url}/objects", headers={"Authorization": ""}).status_code == 401
        assert elapsed < 2
        assert page.status == 200 and len(page.lines) >= 1000
        assert json.loads(page.lines[0])["ObjectID"] == "obj-0654321"
        assert _rss_kib(process.pid) < 150_000
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert process.stdout.read() == ""  # exactly one line on stdout
        assert "tok" not in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_generated_keys_shortcut_matches_the_records() -> None:
    collection = GeneratedCollection(60, invalid_every=3)
    collection.update("objects", "obj-0000004", title="changed")
    collection.add("objects", {"ObjectID": "new-1", "title": "x"})
    from_records = [
        key
        for p in range(collection.size("objects"))
        if (key := (parse(collection.record_at("objects", p)) or {}).get("ObjectID")) is not None
    ]
    assert list(collection.keys("objects")) == from_records
    assert "" in from_records and from_records[-1] == "new-1"


def test_slow_first_byte_trips_a_client_read_timeout() -> None:
    with ReferenceServer(GeneratedCollection(3), faults=Faults(slow_first_byte=0.3)) as server:
        with pytest.raises(requests.exceptions.ReadTimeout):
            requests.get(f"{server.url}/objects", timeout=(2, 0.05))
        assert requests.get(f"{server.url}/objects", timeout=(2, 5)).status_code == 200


def test_date_header_comes_from_the_server_clock_and_reset_hits_empty_pages() -> None:
    clock = FakeClock(start=1_800_000_000.0)
    faults = Faults(reset_mid_body_every=2)
    with ReferenceServer(GeneratedCollection(3), faults=faults, clock=clock) as server:
        end = encode_cursor(3)
        first = requests.get(f"{server.url}/objects", params={"cursor": end})
        assert first.content == b""
        assert first.headers["Date"] == email.utils.formatdate(1_800_000_000, usegmt=True)
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            requests.get(f"{server.url}/objects", params={"cursor": end})
