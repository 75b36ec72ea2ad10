"""The tap against the reference CMS server: exactly the source, through every fault.

Every test compares what the tap emitted with the server's own declaration of its data
(``expected``): the set of valid keys, the lines it corrupted, its tombstones.
"""

from __future__ import annotations

import collections
import json

import pytest
from fakeclock import FakeClock
from harness import SyncResult, run_tap

from tap_museumcms.refserver.collection import GeneratedCollection, SampleCollection, line_key
from tap_museumcms.refserver.server import Faults, ReferenceServer

KEYS = {"objects": "object_id", "rights": "rights_id", "media": "media_id"}


def assert_exact(result: SyncResult, server: ReferenceServer, stream: str) -> None:
    """Emitted records equal the valid set; quarantine equals the invalid set; no duplicates."""
    expected = server.expected(stream)
    records = result.records(stream)
    keys = [r[KEYS[stream]] for r in records]
    duplicates = [k for k, n in collections.Counter(keys).items() if n > 1]
    assert duplicates == [], f"{stream}: keys emitted twice: {duplicates[:5]}"
    live = {r[KEYS[stream]] for r in records if not r.get("_sdc_deleted_at")}
    dead = {r[KEYS[stream]] for r in records if r.get("_sdc_deleted_at")}
    assert live == expected.valid_keys, (
        f"{stream}: missing {sorted(expected.valid_keys - live)[:5]}, "
        f"unexpected {sorted(live - expected.valid_keys)[:5]}"
    )
    assert dead == expected.tombstones
    quarantined = [q for q in result.records("quarantine") if q["stream"] == stream]
    assert len({q["raw_sha256"] for q in quarantined}) == len(quarantined)
    invalid_lines = [server.collection.record_at(stream, p) for p in expected.invalid_positions]
    assert len(quarantined) == len(invalid_lines) + len(expected.malformed_lines)
    want_keys = {k for k in (line_key(stream, line) for line in invalid_lines) if k}
    got_keys = {q["key"] for q in quarantined if q["key"]}
    assert got_keys == want_keys
    raws = {q["raw"].encode() for q in quarantined}
    assert set(expected.malformed_lines) <= raws


def test_sample_collection_is_harvested_exactly_with_provenance():
    clock = FakeClock()
    with ReferenceServer(SampleCollection(), clock=clock) as server:
        result = run_tap({"api_url": server.url, "page_size": 100}, clock=clock)
        assert result.error is None
        for stream in KEYS:
            assert_exact(result, server, stream)
        # One pooled connection served every request of the run.
        assert server.stats.connections == 1
        assert sum(server.stats.requests.values()) >= 30
        url = server.url
    record = result.records("objects")[0]
    assert record["_source_url"].startswith(url + "/objects?limit=100")
    assert record["_source_cursor"] is None  # first page
    assert len(record["_raw_sha256"]) == 64
    second_page = [r for r in result.records("objects") if r["_source_cursor"]][0]
    assert f"cursor={second_page['_source_cursor']}" in second_page["_source_url"]
    # Every quarantined line says why, and keeps its raw text.
    for q in result.records("quarantine"):
        assert q["reason"] and q["raw"] and q["received_at"]
    # After a complete harvest the cursor is gone and the bookmark is set.
    for stream in KEYS:
        state = result.final_state["bookmarks"][stream]
        assert "harvest" not in state
        assert state["replication_key_value"]


def test_schema_messages_declare_keys_and_precede_records():
    clock = FakeClock()
    with ReferenceServer(GeneratedCollection(50, invalid_every=5), clock=clock) as server:
        result = run_tap({"api_url": server.url, "page_size": 20}, clock=clock)
    seen_schema: set[str] = set()
    for message in result.messages:
        if message["type"] == "SCHEMA":
            seen_schema.add(message["stream"])
        elif message["type"] == "RECORD":
            assert message["stream"] in seen_schema
    schemas = result.schemas()
    assert schemas["objects"]["key_properties"] == ["object_id"]
    assert schemas["quarantine"]["key_properties"] == ["stream", "raw_sha256"]


FAULTS = {
    "429-seconds": Faults(status_429_every=3, retry_after=7, retry_after_form="seconds"),
    "429-http-date": Faults(status_429_every=3, retry_after=7, retry_after_form="date"),
    "503": Faults(status_503_every=4, retry_after=3),
    "502": Faults(status_502_every=4),
    "504": Faults(status_504_every=5),
    "reset-mid-body": Faults(reset_mid_body_every=3),
    "reset-with-rst": Faults(reset_mid_body_every=4, reset_with_rst=True),
    "truncated-body": Faults(truncate_body_every=3),
    "malformed-lines": Faults(malformed_line_every=37),
    "blank-lines": Faults(blank_lines=True),
    "overlap": Faults(overlap_every=2, overlap_records=5),
    "overlap-of-a-whole-page": Faults(overlap_every=2, overlap_records=50),
    "overlap-beyond-a-page": Faults(overlap_every=3, overlap_records=70),
    "overlap-two-pages-back": Faults(overlap_every=4, overlap_records=120),
    "truncated-every-other-body": Faults(truncate_body_every=2),
    "x-ratelimit-delta": Faults(rate_limit=(5, 60), rate_limit_headers="x-delta"),
    "x-ratelimit-epoch": Faults(rate_limit=(5, 60), rate_limit_headers="x-epoch"),
    "ietf-ratelimit": Faults(rate_limit=(5, 60), rate_limit_headers="ietf"),
    "ietf-structured": Faults(rate_limit=(5, 60), rate_limit_headers="ietf-structured"),
}


@pytest.mark.parametrize("name", list(FAULTS))
def test_each_fault_alone_loses_nothing_and_duplicates_nothing(name):
    clock = FakeClock()
    collection = GeneratedCollection(600, invalid_every=7)
    with ReferenceServer(collection, faults=FAULTS[name], clock=clock) as server:
        result = run_tap({"api_url": server.url, "page_size": 50}, clock=clock)
        assert result.error is None, result.error
        for stream in KEYS:
            assert_exact(result, server, stream)
        if FAULTS[name].rate_limit_headers:
            # A server that announces its budget never needs to send a 429.
            assert server.stats.count_429 == 0
            assert clock.sleeps and max(clock.sleeps) <= 60


def test_all_faults_together():
    faults = Faults(
        status_429_every=5, retry_after=2, retry_after_form="alternate", status_503_every=7,
        status_502_every=11, status_504_every=13, reset_mid_body_every=6, truncate_body_every=9,
        malformed_line_every=41, blank_lines=True, overlap_every=4, rate_limit=(20, 10),
        rate_limit_headers="x-delta",
    )
    clock = FakeClock()
    with ReferenceServer(GeneratedCollection(1500, invalid_every=9), faults=faults,
                         clock=clock) as server:
        result = run_tap({"api_url": server.url, "page_size": 40, "max_retries": 8}, clock=clock)
        assert result.error is None, result.error
        for stream in KEYS:
            assert_exact(result, server, stream)


def test_retry_after_is_obeyed_exactly_in_both_forms_without_jitter():
    for form in ("seconds", "date"):
        clock = FakeClock(start=1_800_000_000.25)
        faults = Faults(status_429_every=2, retry_after=7, retry_after_form=form)
        with ReferenceServer(GeneratedCollection(30), faults=faults, clock=clock) as server:
            result = run_tap({"api_url": server.url, "page_size": 10}, clock=clock)
            assert result.error is None
            assert server.stats.count_429 > 0
            # Error bodies are drained, so even the retried requests reuse the one connection.
            assert server.stats.connections == 1
        waits = [s for s in clock.sleeps if s > 0]
        assert len(waits) == server.stats.count_429
        if form == "seconds":
            assert set(waits) == {7.0}
        else:  # an HTTP-date has one-second resolution: never early, at most 1 s late
            assert all(7.0 <= w <= 8.0 for w in waits), waits


def test_retry_after_is_clamped_to_the_setting():
    clock = FakeClock()
    faults = Faults(status_503_every=2, retry_after=5000)
    with ReferenceServer(GeneratedCollection(10), faults=faults, clock=clock) as server:
        result = run_tap({"api_url": server.url, "page_size": 5, "max_retry_after_seconds": 30},
                         clock=clock)
    assert result.error is None
    assert max(clock.sleeps) == 30


def test_backoff_without_retry_after_is_exponential_with_full_jitter_and_bounded_tries():
    clock = FakeClock()
    faults = Faults(status_502_every=1)  # every request fails
    with ReferenceServer(GeneratedCollection(10), faults=faults, clock=clock) as server:
        result = run_tap({"api_url": server.url, "max_retries": 4}, clock=clock)
        # The first stream's first page failed five times; the run stopped there.
        assert server.stats.requests == {"/media": 5}
    assert result.error is not None
    assert "after 5 attempts" in str(result.error) and "HTTP 502" in str(result.error)
    waits = [s for s in clock.sleeps if s > 0]
    # Full jitter: uniform(0, 1), uniform(0, 2), uniform(0, 4), uniform(0, 8) from the run's
    # seeded generator (run_tap seeds it with 0): the ceiling doubles, the draw is random.
    import random

    rng = random.Random(0)
    assert waits == pytest.approx([rng.uniform(0, 2 ** (attempt - 1)) for attempt in range(1, 5)])


def test_stuck_cursor_stops_that_stream_names_the_cursor_and_fails_the_run_after_the_others():
    clock = FakeClock()
    faults = Faults(stuck_cursor_at_page=3)
    with ReferenceServer(GeneratedCollection(200), faults=faults, clock=clock) as server:
        result = run_tap({"api_url": server.url, "page_size": 20}, clock=clock)
        stuck_requests = [r for r in server.stats.log if r.path == "/media"]
        requested = {r.params.get("cursor") for r in server.stats.log}
    assert result.error is not None
    message = str(result.error)
    assert "cursor stuck" in message
    stuck_cursor = stuck_requests[2].params["cursor"]
    assert repr(stuck_cursor) in message
    # Each stream hit the bug at its third page, yet every stream ran.
    assert {m["stream"] for m in result.messages if m["type"] == "RECORD"} >= set(KEYS)
    # State keeps the last advancing cursor, and records are not emitted twice.
    for stream in KEYS:
        kept = result.final_state["bookmarks"][stream]["harvest"]["cursor"]
        assert kept and kept not in requested  # beyond every requested page: it advanced
        keys = result.keys(stream, KEYS[stream])
        assert len(keys) == len(set(keys))


def test_cursor_loop_is_detected():
    clock = FakeClock()
    with ReferenceServer(GeneratedCollection(200), faults=Faults(cursor_loop_at_page=4),
                         clock=clock) as server:
        result = run_tap({"api_url": server.url, "page_size": 20}, clock=clock)
        requests_made = server.stats.requests["/objects"]
        requested = {r.params.get("cursor") for r in server.stats.log if r.path == "/objects"}
    assert result.error is not None and "cursor loop" in str(result.error)
    assert requests_made == 4
    # The state keeps the last cursor that advanced, not the one that looped back.
    kept = result.final_state["bookmarks"]["objects"]["harvest"]["cursor"]
    assert kept and kept not in requested


def test_incremental_run_fetches_only_changes_and_marks_deletions():
    clock = FakeClock()
    collection = GeneratedCollection(300)
    with ReferenceServer(collection, clock=clock) as server:
        first = run_tap({"api_url": server.url, "page_size": 100}, clock=clock)
        assert first.error is None
        clock.advance(3600)
        collection.update("objects", "obj-0000005", title="Renamed after conservation")
        collection.delete("objects", "obj-0000010")
        collection.add("objects", {"ObjectID": "obj-new-1", "title": "New acquisition",
                                   "modified": "2000-01-01T00:00:00Z"})
        before = len(server.stats.log)
        second = run_tap({"api_url": server.url, "page_size": 100}, state=first.final_state,
                         clock=clock)
        log = server.stats.log[before:]
    assert second.error is None
    # modified_since is inclusive: the record at the bookmark second comes back from the
    # server, but it is identical to what was emitted, so it is not sent again.
    assert [r.params.get("modified_since") for r in log if r.path == "/objects"][0] == (
        first.final_state["bookmarks"]["objects"]["replication_key_value"]
    )
    objects = {r["object_id"]: r for r in second.records("objects")}
    assert set(objects) == {"obj-0000005", "obj-0000010", "obj-new-1"}
    assert objects["obj-0000005"]["title"] == "Renamed after conservation"
    assert objects["obj-0000010"]["_sdc_deleted_at"]
    assert objects["obj-new-1"]["_sdc_deleted_at"] is None
    assert all(r.params.get("modified_since") for r in log)
    assert second.records("rights") == [] and second.records("media") == []


def test_token_protected_server_and_no_secret_in_any_output(caplog):
    token = "tok-Zq81-very-secret"
    clock = FakeClock()
    with ReferenceServer(GeneratedCollection(40), token=token, clock=clock) as server:
        caplog.set_level("DEBUG")
        ok = run_tap({"api_url": server.url, "api_key": token, "page_size": 10}, clock=clock)
        header = run_tap({"api_url": server.url, "api_key": token, "auth_header": "x-api-key"},
                         clock=clock)
        refused = run_tap({"api_url": server.url, "api_key": "tok-wrong-but-secret"},
                          clock=clock)
    assert ok.error is None and len(ok.records("objects")) == 40
    assert header.error is None and len(header.records("objects")) == 40
    assert refused.error is not None and "HTTP 401" in str(refused.error)
    assert "api_key" in str(refused.error)
    everything = caplog.text + json.dumps(ok.messages) + json.dumps(refused.messages)
    everything += str(refused.error)
    assert token not in everything and "tok-wrong-but-secret" not in everything


def test_wrong_api_url_is_a_clear_configuration_error():
    clock = FakeClock()
    with ReferenceServer(GeneratedCollection(5), clock=clock) as server:
        result = run_tap({"api_url": server.url + "/wrong"}, clock=clock)
    assert result.error is not None
    assert "HTTP 404" in str(result.error) and "api_url" in str(result.error)
    assert [m for m in result.messages if m["type"] == "RECORD"] == []


def test_unreachable_host_fails_fast_with_a_clear_error():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    clock = FakeClock()
    result = run_tap({"api_url": f"http://127.0.0.1:{port}"}, clock=clock)
    assert result.error is not None
    assert "cannot connect" in str(result.error) and "api_url" in str(result.error)
    assert len([s for s in clock.sleeps if s > 0]) <= 2


def test_oversized_line_is_quarantined_unread_and_the_harvest_goes_on():
    clock = FakeClock()
    collection = GeneratedCollection(30)
    collection.update("objects", "obj-0000003", description="x" * 5000)
    with ReferenceServer(collection, clock=clock) as server:
        result = run_tap({"api_url": server.url, "page_size": 10, "max_line_bytes": 2048,
                          "quarantine_raw_max_bytes": 512}, clock=clock)
    assert result.error is None
    quarantined = result.records("quarantine")
    assert len(quarantined) == 1
    assert "exceeds" in quarantined[0]["reason"] and quarantined[0]["raw_size"] > 5000
    assert len(quarantined[0]["raw"]) <= 512
    assert "obj-0000003" not in result.keys("objects", "object_id")
    assert len(result.records("objects")) == 29


def test_read_timeout_is_retried_then_fails_with_a_clear_error():
    # The only test that spends real time: the server really is slow (about 1 s in all).
    clock = FakeClock()
    with ReferenceServer(GeneratedCollection(5), faults=Faults(slow_first_byte=0.3),
                         clock=clock) as server:
        result = run_tap({"api_url": server.url, "request_timeout_seconds": 0.1,
                          "max_retries": 2}, clock=clock)
    assert result.error is not None
    assert "giving up on GET" in str(result.error) and "ReadTimeout" in str(result.error)
    assert "after 3 attempts" in str(result.error)
    assert len([s for s in clock.sleeps if s > 0]) == 2


def test_overlap_on_every_page_emits_each_record_once_then_stops_loudly_at_the_end():
    # A server that re-delivers the last records on every request never sends the empty page
    # that ends a harvest: nothing is emitted twice, nothing is lost, and the run says so.
    clock = FakeClock()
    with ReferenceServer(GeneratedCollection(60), faults=Faults(overlap_every=1),
                         clock=clock) as server:
        result = run_tap({"api_url": server.url, "page_size": 10, "max_retries": 3},
                         clock=clock)
        valid = server.expected("objects").valid_keys
    keys = result.keys("objects", "object_id")
    assert len(keys) == len(set(keys)) and set(keys) == valid
    assert result.error is not None
    assert "re-delivered only records already emitted" in str(result.error)
    assert "4 times in a row" in str(result.error)
    assert result.final_state["bookmarks"]["objects"]["harvest"]["cursor"]  # not complete


def test_a_final_line_cut_on_every_fetch_is_quarantined_not_lost():
    clock = FakeClock()
    collection = GeneratedCollection(21)
    with ReferenceServer(collection, faults=Faults(truncate_body_every=1), clock=clock) as server:
        result = run_tap({"api_url": server.url, "page_size": 10}, clock=clock)
    assert result.error is None
    keys = result.keys("objects", "object_id")
    assert len(keys) == len(set(keys)) == 20  # every record the server ever sent whole
    (cut,) = [q for q in result.records("quarantine") if q["stream"] == "objects"]
    assert "fetches in a row" in cut["reason"]
    assert cut["raw"].startswith('{"ObjectID":"obj-0000020"')


def test_secrets_in_api_url_never_reach_errors_or_logs(caplog):
    clock = FakeClock()
    with ReferenceServer(GeneratedCollection(3), clock=clock) as server:
        host = server.url.split("//", 1)[1]
        caplog.set_level("DEBUG")
        result = run_tap({"api_url": f"http://museum:Pa55w0rd-SECRET@{host}/wrong?token=tk-9876"},
                         clock=clock)
    assert result.error is not None and "HTTP 404" in str(result.error)
    for text in (str(result.error), caplog.text):
        assert "Pa55w0rd-SECRET" not in text and "tk-9876" not in text


def test_api_key_header_is_not_forwarded_on_a_redirect_to_another_host():
    import http.server
    import threading

    token = "tok-redirect-secret"
    clock = FakeClock()
    with ReferenceServer(GeneratedCollection(3), token=token, clock=clock) as target:
        port = target.url.rsplit(":", 1)[1]

        class Redirect(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                self.send_response(302)
                self.send_header("Location", f"http://localhost:{port}{self.path}")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        redirector = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
        threading.Thread(target=redirector.serve_forever, daemon=True).start()
        try:
            result = run_tap({"api_url": f"http://127.0.0.1:{redirector.server_port}",
                              "api_key": token, "auth_header": "x-api-key"}, clock=clock)
        finally:
            redirector.shutdown()
        statuses = target.stats.statuses
    # The other host saw the request, without the key, and refused it.
    assert statuses == {401: 1}
    assert result.error is not None and "HTTP 401" in str(result.error)


def test_stuck_on_the_last_page_then_the_server_recovers_nothing_is_sent_twice():
    clock = FakeClock()
    with ReferenceServer(GeneratedCollection(30), faults=Faults(stuck_cursor_at_page=3),
                         clock=clock) as server:
        config = {"api_url": server.url, "page_size": 10, "max_retries": 3}
        first = run_tap(config, clock=clock)
        assert first.error is not None and "cursor stuck" in str(first.error)
        second = run_tap(config, state=first.final_state, clock=clock)
        third = run_tap(config, state=second.final_state, clock=clock)
    assert second.error is None and third.error is None
    for stream in KEYS:
        sent = first.keys(stream, KEYS[stream]) + second.keys(stream, KEYS[stream])
        assert sorted(sent) == sorted(server.expected(stream).valid_keys)  # once each
        assert "harvest" not in second.final_state["bookmarks"][stream]
        assert third.records(stream) == []  # nothing changed, nothing sent


def test_a_loop_back_to_a_cursor_of_the_previous_run_is_caught_after_a_resume():
    clock = FakeClock()
    faults = Faults(stuck_cursor_at_page=3, cursor_loop_at_page=4)
    with ReferenceServer(GeneratedCollection(200), faults=faults, clock=clock) as server:
        config = {"api_url": server.url, "page_size": 10}
        first = run_tap(config, clock=clock)
        second = run_tap(config, state=first.final_state, clock=clock)
    assert "cursor loop" in str(second.error)
    for stream in KEYS:
        again = set(first.keys(stream, KEYS[stream])) & set(second.keys(stream, KEYS[stream]))
        assert again == set()


def test_records_changed_within_the_bookmark_second_are_sent_once_each():
    clock = FakeClock(start=1_800_000_000.0)
    collection = GeneratedCollection(5)
    with ReferenceServer(collection, clock=clock) as server:
        config = {"api_url": server.url}
        state = run_tap(config, clock=clock).final_state
        clock.advance(100)
        collection.update("objects", "obj-0000001", title="First change")
        second = run_tap(config, state=state, clock=clock)
        collection.update("objects", "obj-0000002", title="Same second")  # clock did not move
        third = run_tap(config, state=second.final_state, clock=clock)
        fourth = run_tap(config, state=third.final_state, clock=clock)
    assert second.keys("objects", "object_id") == ["obj-0000001"]
    assert third.keys("objects", "object_id") == ["obj-0000002"]
    assert fourth.keys("objects", "object_id") == []
