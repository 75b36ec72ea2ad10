"""``max_concurrency``: pages requested ahead, read in order, with the same exact output and STATE.

The Cleveland replay (real CC0 records, varied) pages by offset, so its next pages are known
before the current one is read. Concurrency is proven without timing: the replay holds the
first requests at a barrier that only opens when that many requests are in flight at once.
"""

from __future__ import annotations

import collections
import threading

from api_replay import ApiReplay, ReplayFaults, Reply
from fakeclock import FakeClock
from harness import Killed, run_tap
from test_cleveland import ClevelandApi, build, cma_config
from test_met import MetReplay, met_config

KEYS = {"objects": "object_id", "rights": "rights_id", "media": "media_id",
        "quarantine": "raw_sha256", "lido_records": "object_id", "iiif_manifests": "object_id"}


class Gate:
    """Holds the first ``parties`` requests (of those ``held`` says) until they are all in
    flight together, then lets everything through; counts the most requests in flight."""

    def __init__(self, answer, parties: int,  # type: ignore[no-untyped-def]
                 held=lambda path: True) -> None:
        self.answer = answer
        self.held = held
        self.barrier = threading.Barrier(parties, timeout=10)
        self.opened = threading.Event()
        self.in_flight = 0
        self.most = 0
        self._lock = threading.Lock()

    def __call__(self, path: str, params: dict[str, str]) -> Reply:
        with self._lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
        try:
            if self.held(path) and not self.opened.is_set():
                try:
                    self.barrier.wait()
                except threading.BrokenBarrierError:
                    return Reply.json({"error": "the barrier broke"}, status=500)
                self.opened.set()
            return self.answer(path, params)
        finally:
            with self._lock:
                self.in_flight -= 1


def test_pages_ahead_are_in_flight_together_and_the_harvest_stays_exact():
    api = ClevelandApi(build(), FakeClock())
    gate = Gate(api.answer, parties=4)
    with ApiReplay(gate) as replay:
        result = run_tap(cma_config(replay, max_concurrency=4), clock=FakeClock())
        connections = replay.connections
        statuses = collections.Counter(r.status for r in replay.log)
    assert result.error is None, result.error
    assert gate.most >= 4 and statuses[500] == 0  # four requests met at the barrier
    keys = result.keys("objects", "object_id")
    assert len(keys) == len(set(keys)) and set(keys) == api.valid_keys
    assert {q["key"] for q in result.records("quarantine")} == {str(e.id) for e in api.broken}
    assert 1 < connections <= 4  # one pool, no more connections than requests in flight


def test_without_concurrency_one_request_at_a_time():
    api = ClevelandApi(build(), FakeClock())
    gate = Gate(api.answer, parties=2)
    gate.opened.set()  # nothing waits; the gate only counts
    with ApiReplay(gate) as replay:
        result = run_tap(cma_config(replay), clock=FakeClock())
    assert result.error is None and gate.most == 1


def test_the_same_records_and_states_in_the_same_order_as_sequentially():
    def run(concurrency: int) -> list[tuple]:
        api = ClevelandApi(build(), FakeClock())
        with ApiReplay(api.answer) as replay:
            result = run_tap(cma_config(replay, max_concurrency=concurrency), clock=FakeClock())
        assert result.error is None, result.error
        return [(m["stream"], m["record"][KEYS[m["stream"]]]) if m["type"] == "RECORD"
                else _cursor(m["value"]) for m in result.messages
                if m["type"] in ("RECORD", "STATE")]

    sequential, concurrent = run(1), run(4)
    assert concurrent == sequential  # the same lines, the same STATEs, in the same order


def _cursor(state: dict) -> tuple:
    """Where a STATE says the objects harvest stands (its cursor and bookmark)."""
    objects = state.get("bookmarks", {}).get("objects", {})
    return ("STATE", (objects.get("harvest") or {}).get("cursor"),
            objects.get("replication_key_value"))


def test_faults_and_kills_under_concurrency_lose_nothing_and_send_nothing_twice():
    clock = FakeClock()
    api = ClevelandApi(build(), clock)
    faults = ReplayFaults(status_429_every=5, status_503_every=7, cut_every=6, retry_after="2")
    committed: set[tuple[str, str]] = set()
    state = None
    with ApiReplay(api.answer, faults=faults, chunk_bytes=512) as replay:
        config = cma_config(replay, max_concurrency=3)
        for kill_after in (9, 23, 24, None):
            result = run_tap(config, state=state, clock=clock, kill_after_records=kill_after)
            assert isinstance(result.error, Killed) if kill_after else result.error is None
            messages = result.messages
            last = max((i for i, m in enumerate(messages) if m["type"] == "STATE"), default=-1)
            this_run = [(m["stream"], m["record"][KEYS[m["stream"]]]) for m in messages
                        if m["type"] == "RECORD"]
            assert not committed & set(this_run), "committed records sent again"
            committed |= set(this_run[: sum(1 for m in messages[: last + 1]
                                            if m["type"] == "RECORD")])
            if last >= 0:
                state = messages[last]["value"]
    assert {k for s, k in committed if s == "objects"} == api.valid_keys


def test_met_objects_are_requested_ahead_in_list_order():
    met = MetReplay(n=31)
    gate = Gate(met.answer, parties=3, held=lambda path: "/objects/" in path)
    with ApiReplay(gate) as replay:
        result = run_tap(met_config(replay, max_concurrency=3, max_requests_per_second=1000),
                         clock=FakeClock())
    assert result.error is None, result.error
    assert gate.most >= 3 and gate.opened.is_set()
    assert set(result.keys("objects", "object_id")) == met.valid
