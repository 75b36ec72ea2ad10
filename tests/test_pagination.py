"""Cursor guards: when a harvest continues, completes, or must stop."""

from __future__ import annotations

import pytest

from tap_museumcms.pagination import BoundedSet, CursorGuard, PageVerdict, RecentRecords


def judge(guard: CursorGuard, requested, last, *, lines=3, valid=3, new=None,
          progressed=None):
    """Judge a page the way the client does: meet the request, then the page's cursors."""
    guard.meet(requested)
    was_new = guard.meet(last) if last is not None else False
    return guard.judge(
        requested=requested, last_cursor=last, last_cursor_was_new=was_new, lines=lines,
        valid_records=valid, new_records=valid if new is None else new,
        progressed=was_new if progressed is None else progressed,
    )


def test_advancing_cursor_continues():
    assert judge(CursorGuard(), None, "c3").verdict is PageVerdict.CONTINUE


def test_empty_body_completes():
    assert judge(CursorGuard(), "c3", None, lines=0, valid=0).verdict is PageVerdict.COMPLETE


def test_only_malformed_lines_without_cursor_complete():
    outcome = judge(CursorGuard(), "c9", None, lines=1, valid=0)
    assert outcome.verdict is PageVerdict.COMPLETE
    assert "c9" in outcome.message


def test_valid_records_that_do_not_advance_are_a_stuck_cursor_named_in_the_message():
    outcome = judge(CursorGuard(), "c5", "c5", lines=2, valid=2)
    assert outcome.verdict is PageVerdict.STUCK
    assert "'c5'" in outcome.message


@pytest.mark.parametrize("start", [None, "0", ""])
def test_start_cursors_are_equivalent(start):
    # A page requested from the start whose records say "0" did not advance.
    assert judge(CursorGuard(), start, "0").verdict is PageVerdict.STUCK


def test_cursor_coming_back_to_one_already_met_is_a_loop():
    guard = CursorGuard()
    assert judge(guard, None, "c1").verdict is PageVerdict.CONTINUE
    assert judge(guard, "c1", "c2").verdict is PageVerdict.CONTINUE
    outcome = judge(guard, "c2", "c1", progressed=True)
    assert outcome.verdict is PageVerdict.LOOP
    assert "'c1'" in outcome.message


def test_cursors_met_by_a_previous_run_still_count_after_a_resume():
    guard = CursorGuard(seed=["c1", "c2"])
    assert judge(guard, "c3", "c2", progressed=True).verdict is PageVerdict.LOOP


def test_bounded_set_forgets_oldest_beyond_capacity():
    seen = BoundedSet(3)
    for value in "abcd":
        assert seen.add(value)
    assert "a" not in seen and "d" in seen and len(seen) == 3
    assert not seen.add("d")
    assert seen.add("a")  # forgotten, so new again
    assert "b" not in seen and len(seen) == 3


def test_recent_records_dedupe_within_a_bounded_window_and_by_modified():
    recent = RecentRecords(capacity=3)
    assert not recent.seen("k1", "t1")
    assert recent.seen("k1", "t1")  # re-delivered: duplicate
    assert not recent.seen("k1", "t2")  # changed in between: not a duplicate
    for key in ("a", "b", "c"):
        recent.seen(key, "t")
    assert not recent.seen("k1", "t1")  # out of the window


def test_page_of_only_redelivered_records_that_does_not_advance_is_requested_again():
    guard = CursorGuard(seed=["c8"])
    outcome = judge(guard, "c9", "c8", valid=3, new=0, progressed=False)
    assert outcome.verdict is PageVerdict.REPEAT  # not a loop: nothing new came
    assert "re-delivered" in outcome.message and "'c9'" in outcome.message


def test_redelivered_records_whose_cursor_leads_on_continue():
    outcome = judge(CursorGuard(), "c9", "c10", valid=1, new=0, progressed=True)
    assert outcome.verdict is PageVerdict.CONTINUE


def test_record_redelivered_again_and_again_stays_a_duplicate():
    recent = RecentRecords(capacity=10)
    assert not recent.seen("k1", "t1")
    for i in range(5):
        assert recent.seen("k1", "t1")
        assert not recent.seen(f"other{i}", "t")


def test_recent_records_seeded_from_state_catch_an_overlap_after_resume():
    recent = RecentRecords(seed=[("k9", "t9")])
    assert recent.seen("k9", "t9")
    assert not recent.seen("k9", "t10")
