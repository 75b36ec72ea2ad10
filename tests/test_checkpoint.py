"""The harvest checkpoint in Singer state."""

from __future__ import annotations

from tap_museumcms.checkpoint import Checkpoint


def test_first_harvest_uses_start_date_and_starts_from_the_beginning():
    state: dict = {}
    cp = Checkpoint(state, start_date="2020-01-01T00:00:00Z")
    assert cp.cursor is None
    assert cp.modified_since == "2020-01-01T00:00:00Z"
    assert state["harvest"]["modified_since"] == "2020-01-01T00:00:00Z"


def test_resume_keeps_cursor_and_the_modified_since_of_the_interrupted_harvest():
    state = {"replication_key": "modified", "replication_key_value": "2026-02-01T00:00:00Z",
             "harvest": {"cursor": "c7", "modified_since": "2026-01-01T00:00:00Z",
                         "max_modified": "2026-01-05T00:00:00Z", "started_at": None}}
    cp = Checkpoint(state, start_date=None)
    assert cp.resumed
    assert cp.cursor == "c7"
    assert cp.modified_since == "2026-01-01T00:00:00Z"


def test_complete_promotes_min_of_newest_record_and_server_start_and_clears_cursor():
    state: dict = {}
    cp = Checkpoint(state, start_date=None)
    cp.note_server_time("2026-11-29T09:00:00Z")
    cp.note_server_time("2026-11-29T09:30:00Z")  # later pages do not move the start
    cp.advance("c1", "2026-11-29T08:00:00Z")
    cp.advance("c2", "2026-11-29T09:10:00Z")  # changed during the harvest
    assert cp.complete() == "2026-11-29T09:00:00Z"
    assert state == {"replication_key": "modified",
                     "replication_key_value": "2026-11-29T09:00:00Z"}


def test_bookmark_never_moves_backwards_and_empty_harvest_keeps_it():
    state = {"replication_key": "modified", "replication_key_value": "2026-05-01T00:00:00Z"}
    cp = Checkpoint(state, start_date=None)
    assert cp.modified_since == "2026-05-01T00:00:00Z"
    cp.note_server_time("2026-11-29T09:00:00Z")
    assert cp.complete() == "2026-05-01T00:00:00Z"
    cp = Checkpoint(state, start_date=None)
    cp.advance("c1", "2026-04-01T00:00:00Z")
    assert cp.complete() == "2026-05-01T00:00:00Z"
    assert "harvest" not in state


def test_records_at_the_bookmark_second_are_skipped_next_time_only_if_identical():
    state: dict = {}
    cp = Checkpoint(state, start_date=None)
    cp.note_server_time("2026-11-29T09:00:00Z")
    cp.advance("c1", "2026-01-01T00:00:01Z", ("a", "sha-a"))
    cp.advance("c2", "2026-01-01T00:00:05Z", ("b", "sha-b"))
    cp.advance("c3", "2026-01-01T00:00:05Z", ("c", "sha-c"))
    assert cp.complete() == "2026-01-01T00:00:05Z"
    assert len(state["emitted_at_bookmark"]) == 2  # compact digests of b and c
    nxt = Checkpoint(state, start_date=None)
    assert not nxt.already_emitted("2026-01-01T00:00:05Z", "a", "sha-a")
    assert nxt.already_emitted("2026-01-01T00:00:05Z", "b", "sha-b")
    assert not nxt.already_emitted("2026-01-01T00:00:05Z", "b", "sha-changed")
    assert not nxt.already_emitted("2026-01-01T00:00:06Z", "b", "sha-b")
    # A resumed harvest keeps what it must skip.
    assert Checkpoint(state, start_date=None).already_emitted("2026-01-01T00:00:05Z", "c", "sha-c")


def test_bookmark_from_server_start_remembers_nothing_to_skip():
    state: dict = {}
    cp = Checkpoint(state, start_date=None)
    cp.note_server_time("2026-01-01T00:00:03Z")
    cp.advance("c1", "2026-01-01T00:00:05Z", ("b", "sha-b"))
    assert cp.complete() == "2026-01-01T00:00:03Z"
    assert "emitted_at_bookmark" not in state


def test_recent_records_and_quarantined_lines_survive_in_state_for_a_resume():
    state: dict = {}
    cp = Checkpoint(state, start_date=None)
    for i in range(60):
        cp.note_requested(f"r{i}")
        cp.remember(f"k{i}", f"t{i}", f"c{i}")
        cp.advance(f"c{i}", f"t{i}")
    for i in range(55):
        cp.note_quarantined(f"d{i}")
    resumed = Checkpoint(state, start_date=None)
    assert len(resumed.recent) == 50 and resumed.recent[-1] == ("k59", "t59")
    assert len(resumed.recent_quarantine) == 50 and resumed.recent_quarantine[-1] == "d54"
    met = resumed.met_cursors
    assert {"r59", "c59", "c10"} <= set(met) and "r5" not in met
    # The quarantined lines outlive the harvest: the next incremental run meets them again.
    resumed.complete()
    assert Checkpoint(state, start_date=None).recent_quarantine[-1] == "d54"


def test_an_equal_bookmark_keeps_the_newest_records_emitted_at_that_second():
    state: dict = {}
    first = Checkpoint(state, start_date=None)
    first.advance("c1", "2026-01-01T00:00:05Z", ("a", "sha-a"))
    first.complete()
    again = Checkpoint(state, start_date=None)
    assert again.already_emitted("2026-01-01T00:00:05Z", "a", "sha-a")
    again.advance("c1", "2026-01-01T00:00:05Z", ("a", "sha-a"))  # skipped, still at the max
    again.advance("c2", "2026-01-01T00:00:05Z", ("b", "sha-b"))  # changed within that second
    assert again.complete() == "2026-01-01T00:00:05Z"
    last = Checkpoint(state, start_date=None)
    assert len(state["emitted_at_bookmark"]) == 2
    assert last.already_emitted("2026-01-01T00:00:05Z", "a", "sha-a")
    assert last.already_emitted("2026-01-01T00:00:05Z", "b", "sha-b")


def test_states_of_earlier_versions_with_pairs_still_skip():
    state = {"replication_key_value": "2026-01-01T00:00:05Z",
             "emitted_at_bookmark": [["a", "sha-a"]]}
    assert Checkpoint(state, start_date=None).already_emitted("2026-01-01T00:00:05Z", "a", "sha-a")


def test_up_to_5000_records_at_the_bookmark_are_remembered_beyond_none():
    for count, remembered in ((5000, 5000), (5001, None)):
        state: dict = {}
        cp = Checkpoint(state, start_date=None)
        for i in range(count):
            cp.advance(f"c{i}", "2026-01-01T00:00:00Z", (f"k{i}", f"sha{i}"))
        cp.complete()
        got = state.get("emitted_at_bookmark")
        assert (len(got) if got else None) == remembered


def test_a_harvest_killed_before_it_completed_still_knows_what_it_sent_at_the_newest_second():
    import copy

    state: dict = {}
    cp = Checkpoint(state, start_date=None)
    cp.note_server_time("2026-11-29T09:00:00Z")
    cp.advance("c1", "2026-01-01T00:00:05Z", ("a", "sha-a"))
    cp.advance("c2", "2026-01-01T00:00:05Z", ("b", "sha-b"))
    saved = copy.deepcopy(state)  # the last STATE before the kill
    resumed = Checkpoint(saved, start_date=None)
    assert resumed.complete() == "2026-01-01T00:00:05Z"
    nxt = Checkpoint(saved, start_date=None)
    assert nxt.already_emitted("2026-01-01T00:00:05Z", "a", "sha-a")
    assert nxt.already_emitted("2026-01-01T00:00:05Z", "b", "sha-b")
