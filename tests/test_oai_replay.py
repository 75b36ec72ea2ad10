"""Real OAI-PMH responses (Sickle's recorded pages, BSD-3-Clause) harvested through the tap.

The four recorded ``oai_dc`` pages each hold one deleted header and one record, the same two
items on every page (a repository that re-delivers), and page 4's deleted header has lost its
identifier and datestamp. Read from the files: the harvest must end with one live object
(``oai:test.example.com:1585322``, "Sample Title"), one tombstone (``...:1585310``), one
quarantined item (the header without identifier), nothing emitted twice.
"""

from __future__ import annotations

from fakeclock import FakeClock
from harness import run_tap
from oai_replay import ReplayServer

CONFIG = {"source": "oai-pmh", "oai_metadata_prefix": "oai_dc"}
LIVE, GONE = "oai:test.example.com:1585322", "oai:test.example.com:1585310"


def test_recorded_chain_is_harvested_exactly():
    with ReplayServer() as server:
        result = run_tap({**CONFIG, "api_url": server.url}, clock=FakeClock())
        requests = list(server.requests)
    assert result.error is None
    objects = result.records("objects")
    assert [(o["object_id"], o["_sdc_deleted_at"]) for o in objects] == [
        (GONE, "2011-07-18T16:31:00Z"), (LIVE, None)]
    live = objects[1]
    assert live["title"] == "Sample Title"
    assert live["maker"] == "John Doe"
    assert live["modified"] == "2011-01-10T10:19:23Z"
    (bad,) = result.records("quarantine")
    assert bad["reason"] == "record header has no identifier"
    assert "<!--Missing identifier-->" in bad["raw"]
    # The exclusive token: the first request carries the prefix, the others only the token.
    listing = [r for r in requests if r["verb"] == "ListRecords"]
    assert listing[0] == {"verb": "ListRecords", "metadataPrefix": "oai_dc"}
    assert [r.get("resumptionToken") for r in listing[1:]] == [
        "ListRecords2.xml", "ListRecords3.xml", "ListRecords4.xml"]
    assert all(set(r) == {"verb", "resumptionToken"} for r in listing[1:])
    # A Dublin Core record gets a LIDO record built by the tap; the deleted one withdraws its.
    lido = {r["object_id"]: r for r in result.records("lido_records")}
    assert lido[LIVE]["lido_version"] == "1.1" and "Sample Title" in lido[LIVE]["lido_xml"]
    assert lido[GONE]["_sdc_deleted_at"] == "2011-07-18T16:31:00Z"
    state = result.final_state["bookmarks"]["objects"]
    assert "harvest" not in state
    # Bookmark: the newest datestamp, which is before the first responseDate (2013-02-27).
    assert state["replication_key_value"] == "2011-07-18T16:31:00Z"


def test_a_prefix_the_repository_does_not_offer_is_one_clear_error():
    with ReplayServer() as server:
        result = run_tap({**CONFIG, "api_url": server.url, "oai_metadata_prefix": "lido"},
                         clock=FakeClock())
        verbs = [r["verb"] for r in server.requests]
    assert "does not offer metadataPrefix 'lido'" in str(result.error)
    assert "it offers: oai_dc" in str(result.error)
    assert "ListRecords" not in verbs
