"""OAI-PMH through the tap, against the reference server's OAI face: exactly the source.

Every test compares what the tap emitted with the server's own declaration of its list
(``expected_oai``): identifiers of live records, deleted headers, records to quarantine.
"""

from __future__ import annotations

import collections
import copy

import pytest
from fakeclock import FakeClock
from harness import Killed, SyncResult, committed_records, resume_until_done, run_tap

from tap_museumcms.refserver import Faults, GeneratedCollection, OaiSettings, ReferenceServer

ID = "oai:refserver.example:"


def oai_config(server: ReferenceServer, **extra: object) -> dict:
    return {"source": "oai-pmh", "api_url": server.url + "/oai", **extra}


def assert_exact(result: SyncResult, server: ReferenceServer, prefix: str = "lido") -> None:
    """Objects equal the live list, tombstones the deleted headers, quarantine the bad records;
    nothing emitted twice; every live object has its LIDO record."""
    expected = server.expected_oai(prefix)
    objects = result.records("objects")
    keys = [o["object_id"] for o in objects]
    twice = [k for k, n in collections.Counter(keys).items() if n > 1]
    assert twice == [], f"emitted twice: {twice[:5]}"
    live = {o["object_id"] for o in objects if not o["_sdc_deleted_at"]}
    dead = {o["object_id"] for o in objects if o["_sdc_deleted_at"]}
    assert live == expected.valid_keys, (sorted(expected.valid_keys - live)[:5],
                                          sorted(live - expected.valid_keys)[:5])
    assert dead == expected.tombstones
    quarantined = [q for q in result.records("quarantine") if q["stream"] == "objects"]
    assert len({q["raw_sha256"] for q in quarantined}) == len(quarantined)
    assert len(quarantined) == len(expected.invalid_positions) + len(expected.malformed_lines)
    raws = {q["raw"].encode() for q in quarantined}
    assert set(expected.malformed_lines) <= raws
    lido = {r["object_id"] for r in result.records("lido_records") if not r["_sdc_deleted_at"]}
    assert lido == live


@pytest.mark.parametrize("prefix", ["lido", "oai_dc"])
def test_a_full_harvest_is_exact_with_derived_rows_and_documents(prefix):
    clock = FakeClock()
    collection = GeneratedCollection(400, invalid_every=9)
    with ReferenceServer(collection, clock=clock, oai=OaiSettings(page_size=37)) as server:
        result = run_tap(oai_config(server, oai_metadata_prefix=prefix), clock=clock)
        assert result.error is None
        assert_exact(result, server, prefix)
        requests = [r for r in server.stats.log if r.path == "/oai"]
        connections = server.stats.connections
    assert [r.params.get("verb") for r in requests[:2]] == ["Identify", "ListMetadataFormats"]
    listing = [r.params for r in requests if r.params.get("verb") == "ListRecords"]
    assert listing[0] == {"verb": "ListRecords", "metadataPrefix": prefix}
    assert all(set(p) == {"verb", "resumptionToken"} for p in listing[1:])
    assert len(listing) == 11  # 400 positions, 37 a page: ceil(400 / 37)
    assert connections == 1  # one pooled connection for the whole run
    objects = {o["object_id"]: o for o in result.records("objects")}
    rights = {r["rights_id"]: r for r in result.records("rights")}
    media = result.records("media")
    assert set(rights) == {f"{k}#rights" for k, o in objects.items() if o["rights_uri"]}
    assert {m["object_id"] for m in media} <= set(objects)
    assert len(media) == sum(len(o["media"] or []) for o in objects.values())
    one = objects[f"{ID}obj-0000001"]
    assert one["title"] and one["maker"] and one["modified"] == "2026-01-01T00:00:01Z"
    assert one["_source_url"].endswith(f"/oai?verb=ListRecords&metadataPrefix={prefix}")
    if prefix == "lido":
        assert one["media"][0]["iiif_image_service"].startswith("https://img.example.org/")
        assert one["iiif_manifest_url"] == "https://cms.example.org/iiif/obj-0000001/manifest"
        lido = {r["object_id"]: r for r in result.records("lido_records")}
        assert lido[one["object_id"]]["lido_version"] == "1.1"
        assert "<lido:lidoRecID" in lido[one["object_id"]]["lido_xml"]
        assert len(result.records("iiif_manifests")) == len(objects)
    # Complete: no token left in state, the bookmark is the newest datestamp.
    state = result.final_state["bookmarks"]["objects"]
    assert "harvest" not in state and state["replication_key_value"] == "2026-01-01T00:06:39Z"


STORM = Faults(
    status_429_every=7, retry_after=3, retry_after_form="alternate", status_503_every=11,
    status_502_every=17, status_504_every=19, reset_mid_body_every=5, truncate_body_every=9,
    malformed_line_every=31, oai_bad_token_every=97, oai_datestamp_ms=True,
    oai_identifier_whitespace=True, oai_trailing_garbage=True, oai_first_cursor=20,
    oai_list_size_factor=0.5,
)


def test_every_fault_together_loses_nothing_and_sends_nothing_twice():
    clock = FakeClock()
    collection = GeneratedCollection(500, invalid_every=13)
    with ReferenceServer(collection, clock=clock, faults=STORM,
                         oai=OaiSettings(page_size=23)) as server:
        result = run_tap(oai_config(server, max_retries=8), clock=clock)
        assert result.error is None, result.error
        assert_exact(result, server)
        statuses = server.stats.statuses
    assert {429, 503, 502, 504} <= set(statuses)
    assert max(clock.sleeps) >= 3  # Retry-After obeyed


@pytest.mark.parametrize("kills", [[30, 700, 701], [1, 2, 333, 1200, 50]])
def test_killed_under_the_storm_resumes_exactly(kills):
    clock = FakeClock()
    collection = GeneratedCollection(450, invalid_every=11)
    with ReferenceServer(collection, clock=clock, faults=STORM,
                         oai=OaiSettings(page_size=29)) as server:
        committed, state = resume_until_done(oai_config(server, max_retries=8), clock, kills)
        expected = server.expected_oai("lido")
        bad = len(expected.invalid_positions) + len(expected.malformed_lines)
    assert {k for s, k in committed if s == "objects"} == expected.valid_keys
    assert len({k for s, k in committed if s == "quarantine"}) == bad
    assert {k for s, k in committed if s == "lido_records"} == expected.valid_keys
    assert "harvest" not in state["bookmarks"]["objects"]


def test_a_token_expired_while_the_run_was_dead_restarts_the_window_without_resending():
    clock = FakeClock()
    collection = GeneratedCollection(300)
    oai = OaiSettings(page_size=20, token_ttl=600)
    with ReferenceServer(collection, clock=clock, oai=oai) as server:
        config = oai_config(server)
        first = run_tap(config, clock=clock, kill_after_records=250)  # ~83 objects, page 5
        assert isinstance(first.error, Killed)
        state = next(m["value"] for m in reversed(first.messages) if m["type"] == "STATE")
        harvest = copy.deepcopy(state["bookmarks"]["objects"]["harvest"])
        assert harvest["cursor"] and harvest["window"]["metadataPrefix"] == "lido"
        committed = {key for stream, key in committed_records(first.messages)
                     if stream == "objects"}
        clock.advance(3 * 86400)  # days later: the token has long expired
        before = len(server.stats.log)
        second = run_tap(config, state=state, clock=clock)
        assert second.error is None
        listing = [r.params for r in server.stats.log[before:]
                   if r.params.get("verb") == "ListRecords"]
        valid = server.expected_oai().valid_keys
    sent = [o["object_id"] for o in second.records("objects")]
    assert not committed & set(sent)
    assert committed | set(sent) == valid and len(sent) == len(set(sent))
    # The resumed run asked with the old token, was refused, and restarted the same window.
    assert listing[0] == {"verb": "ListRecords", "resumptionToken": harvest["cursor"]}
    assert listing[1] == {"verb": "ListRecords", "metadataPrefix": "lido"}
    assert len(listing) == 1 + 300 // 20  # the refused token, then the window once more


def test_tokens_that_expire_faster_than_a_restart_catches_up_stop_the_stream():
    clock = FakeClock()
    faults = Faults(oai_bad_token_every=3)
    with ReferenceServer(GeneratedCollection(200), clock=clock, faults=faults,
                         oai=OaiSettings(page_size=10)) as server:
        result = run_tap(oai_config(server, max_retries=4), clock=clock)
    assert "tokens expire faster than a restart catches up" in str(result.error)
    assert "5 times in a row" in str(result.error)
    keys = [o["object_id"] for o in result.records("objects")]
    assert len(keys) == len(set(keys))  # nothing twice, for all the restarts
    harvest = result.final_state["bookmarks"]["objects"]["harvest"]
    assert harvest["position"] + harvest["skip"] >= len(keys)  # what it handled is kept


def test_incremental_runs_send_changes_and_deletions_in_seconds_granularity():
    clock = FakeClock(start=1_800_000_000.0)
    collection = GeneratedCollection(120)
    with ReferenceServer(collection, clock=clock, oai=OaiSettings(page_size=50)) as server:
        config = oai_config(server)
        first = run_tap(config, clock=clock)
        clock.advance(3600)
        collection.update("objects", "obj-0000007", title="Retitled")
        collection.delete("objects", "obj-0000008")
        collection.add("objects", {"ObjectID": "new-1", "title": "Acquired"})
        second = run_tap(config, state=first.final_state, clock=clock)
        third = run_tap(config, state=second.final_state, clock=clock)
        froms = [r.params.get("from") for r in server.stats.log
                 if r.params.get("verb") == "ListRecords" and "metadataPrefix" in r.params]
    assert len(first.records("objects")) == 120
    got = {(o["object_id"], o["title"], bool(o["_sdc_deleted_at"]))
           for o in second.records("objects")}
    assert got == {(f"{ID}obj-0000007", "Retitled", False), (f"{ID}obj-0000008", None, True),
                   (f"{ID}new-1", "Acquired", False)}
    assert third.records("objects") == []  # nothing changed, nothing sent again
    assert froms[0] is None and froms[1] == "2026-01-01T00:01:59Z"
    assert froms[2] == "2027-01-15T09:00:00Z"


def test_day_granularity_harvests_the_bookmark_day_again_and_skips_what_it_sent():
    clock = FakeClock(start=1_800_000_000.0)
    collection = GeneratedCollection(60)  # every record on 2026-01-01
    oai = OaiSettings(granularity="day", page_size=25)
    with ReferenceServer(collection, clock=clock, oai=oai) as server:
        config = oai_config(server)
        first = run_tap(config, clock=clock)
        clock.advance(86400 * 2)
        collection.update("objects", "obj-0000003", title="Changed")
        second = run_tap(config, state=first.final_state, clock=clock)
        third = run_tap(config, state=second.final_state, clock=clock)
        froms = [r.params.get("from") for r in server.stats.log
                 if r.params.get("verb") == "ListRecords" and "metadataPrefix" in r.params]
    assert len(first.records("objects")) == 60
    assert first.final_state["bookmarks"]["objects"]["replication_key_value"] == (
        "2026-01-01T00:00:00Z")
    assert [o["object_id"] for o in second.records("objects")] == [f"{ID}obj-0000003"]
    assert third.records("objects") == []
    # from in the repository's granularity; the bookmark day is asked for again.
    assert froms == [None, "2026-01-01", "2027-01-17"]


def test_no_records_match_is_a_successful_empty_harvest():
    clock = FakeClock()
    with ReferenceServer(GeneratedCollection(10), clock=clock) as server:
        result = run_tap(oai_config(server, start_date="2030-01-01T00:00:00Z"), clock=clock)
    assert result.error is None and result.records("objects") == []
    assert "harvest" not in result.final_state["bookmarks"]["objects"]


def test_oai_errors_sent_as_http_errors_are_read_as_oai_errors():
    clock = FakeClock()
    oai = OaiSettings(page_size=20, token_ttl=600)
    with ReferenceServer(GeneratedCollection(150), clock=clock, oai=oai,
                         faults=Faults(oai_errors_as_http=True)) as server:
        config = oai_config(server)
        first = run_tap(config, clock=clock, kill_after_records=200)
        state = next(m["value"] for m in reversed(first.messages) if m["type"] == "STATE")
        clock.advance(3600)  # the saved token expires
        second = run_tap(config, state=state, clock=clock)
        late = run_tap(oai_config(server, start_date="2030-01-01T00:00:00Z"), clock=clock)
        statuses = server.stats.statuses
    assert statuses.get(400) == 1 and statuses.get(404) == 1  # badResumptionToken, noRecordsMatch
    assert second.error is None and late.error is None
    committed = {key for stream, key in committed_records(first.messages) if stream == "objects"}
    sent = [o["object_id"] for o in second.records("objects")]
    assert not committed & set(sent) and len(committed | set(sent)) == 150
    assert late.records("objects") == []


@pytest.mark.parametrize(
    ("faults", "message"),
    [
        (Faults(stuck_cursor_at_page=3), "cursor stuck"),
        (Faults(cursor_loop_at_page=4), "cursor loop"),
    ],
)
def test_a_token_that_repeats_or_loops_stops_the_stream_with_its_state(faults, message):
    clock = FakeClock()
    with ReferenceServer(GeneratedCollection(200), clock=clock, faults=faults,
                         oai=OaiSettings(page_size=20)) as server:
        result = run_tap(oai_config(server), clock=clock)
    assert result.error is not None and message in str(result.error)
    harvest = result.final_state["bookmarks"]["objects"]["harvest"]
    assert harvest["cursor"]  # kept: the next run resumes there
    keys = [o["object_id"] for o in result.records("objects")]
    assert len(keys) == len(set(keys)) >= 40


def test_configuration_mistakes_are_one_clear_line():
    clock = FakeClock()
    with ReferenceServer(GeneratedCollection(5), clock=clock) as server:
        wrong_prefix = run_tap(oai_config(server, oai_metadata_prefix="marcxml"), clock=clock)
        not_oai = run_tap(oai_config(server, api_url=server.url + "/objects"), clock=clock)
        bad_set = run_tap(oai_config(server, oai_set="no-such-set"), clock=clock)
    assert "does not offer metadataPrefix 'marcxml'" in str(wrong_prefix.error)
    assert "it offers: lido, oai_dc" in str(wrong_prefix.error)
    assert "does not answer the OAI-PMH Identify request" in str(not_oai.error)
    assert bad_set.error is None and bad_set.records("objects") == []  # an empty set is empty


def test_a_bot_looking_user_agent_is_refused_and_the_default_one_is_not():
    clock = FakeClock()
    with ReferenceServer(GeneratedCollection(5), clock=clock,
                         faults=Faults(oai_bot_403=True)) as server:
        default = run_tap(oai_config(server), clock=clock)
        bot = run_tap(oai_config(server, user_agent="python-requests/2.32"), clock=clock)
    assert default.error is None and len(default.records("objects")) == 5
    assert "HTTP 403" in str(bot.error) and "user_agent" in str(bot.error)


def test_a_final_token_missing_altogether_ends_the_list():
    clock = FakeClock()
    with ReferenceServer(GeneratedCollection(45), clock=clock,
                         faults=Faults(oai_omit_final_token=True),
                         oai=OaiSettings(page_size=20)) as server:
        result = run_tap(oai_config(server), clock=clock)
        assert result.error is None
        assert_exact(result, server)


def test_deleted_record_no_is_said_and_a_full_harvest_retires_the_vanished():
    clock = FakeClock(start=1_800_000_000.0)
    collection = GeneratedCollection(30)
    with ReferenceServer(collection, clock=clock,
                         oai=OaiSettings(deleted_record="no", page_size=10)) as server:
        config = oai_config(server, full_harvest_every_days=7)
        first = run_tap(config, clock=clock)
        collection.delete("objects", "obj-0000004")  # vanishes: the repository says nothing
        clock.advance(86400)
        second = run_tap(config, state=first.final_state, clock=clock)
        clock.advance(7 * 86400)
        third = run_tap(config, state=second.final_state, clock=clock)
    assert second.records("objects") == []  # an incremental run cannot see the deletion
    versions = {m.get("version") for m in third.messages
                if m["type"] == "RECORD" and m["stream"] == "objects"}
    activations = [m for m in third.messages if m["type"] == "ACTIVATE_VERSION"]
    assert len(third.records("objects")) == 29 and len(versions) == 1
    assert {m["stream"] for m in activations} >= {"objects", "rights", "media", "lido_records"}
    assert all(m["version"] in versions for m in activations)
