"""Crash and resume: `meltano run` SIGKILLed (whole process group) during a large harvest, rerun
with `--force`, resumes from the STATE Meltano saved, and the tables end up exact.

What the tap checkpoints is not what survives a kill: Meltano saves only the STATE lines the
*target* prints, and a singer-sdk target prints one only when it drains all its sinks (every
``_MAX_RECORD_AGE_IN_MINUTES`` = 5 minutes, and at the end). The first kill runs the stock interval
and shows the consequence (nothing saved, the rerun starts from zero); the later runs use
``target-postgres-fastdrain`` (the stock target with a 0.6 s interval) so that the test sees
resumes within seconds.
"""

from __future__ import annotations

import time
import typing as t

import pytest
from groundtruth import RESOURCE_STREAMS, check_all, stream_truth
from meltano_harness import (
    DRAIN_ENV,
    FASTDRAIN_LOADER,
    MeltanoProject,
    kill_group,
    wait_until,
)
from warehouse import Warehouse

from tap_museumcms.refserver.collection import GeneratedCollection
from tap_museumcms.refserver.server import Faults, ReferenceServer, decode_cursor

OBJECTS = 10_000
PAGE = 200
KILL_AT = (3_000, 13_000)
"""Kills 2 and 3: once the saved state covers this many positions (streams run media, objects,
rights: 3,000 is inside media, 13,000 inside objects)."""
FAST_DRAIN_MINUTES = "0.01"  # 0.6 s
FIRST_BYTE_DELAY = 0.04  # seconds per page: a harvest that lasts long enough to be killed


def progress(state: dict[str, t.Any] | None, size: int) -> int | None:
    """How many positions a saved state has covered, all streams together (None: no state).

    A stream whose harvest completed counts ``size``; one in progress, its cursor's position.
    """
    bookmarks = ((state or {}).get("singer_state") or {}).get("bookmarks") or {}
    if not bookmarks:
        return None
    covered = 0
    for stream in RESOURCE_STREAMS:
        entry = bookmarks.get(stream) or {}
        harvest = entry.get("harvest")
        if isinstance(harvest, dict):
            covered += decode_cursor(harvest.get("cursor"))
        elif entry.get("replication_key_value"):
            covered += size
    return covered


def settle(stats: t.Any, quiet: float = 0.3) -> int:
    """Wait until the server's request log stops growing (requests of a killed client that
    were in flight get logged late); returns its length."""
    length = -1
    while length != len(stats.log):
        length = len(stats.log)
        time.sleep(quiet)
    return length


def first_requests(log: list[t.Any]) -> dict[str, t.Any]:
    """The first data request of each stream in a slice of the server's request log."""
    first: dict[str, t.Any] = {}
    for entry in log:
        stream = entry.path.strip("/")
        if stream in RESOURCE_STREAMS and entry.status == 200 and stream not in first:
            first[stream] = entry
    return first


def furthest(log: list[t.Any]) -> dict[str, int]:
    """Per stream, the furthest position a run asked for (its last cursor)."""
    reached: dict[str, int] = {}
    for entry in log:
        stream = entry.path.strip("/")
        if stream in RESOURCE_STREAMS and entry.status == 200:
            position = decode_cursor(entry.params.get("cursor"))
            reached[stream] = max(reached.get(stream, 0), position)
    return reached


@pytest.fixture
def big_server() -> t.Iterator[ReferenceServer]:
    """Tens of thousands of records: 10,000 objects (1 in 50 invalid), rights, media."""
    collection = GeneratedCollection(OBJECTS, invalid_every=50)
    with ReferenceServer(collection, faults=Faults(slow_first_byte=FIRST_BYTE_DELAY)) as server:
        yield server


def test_killed_pipeline_resumes_from_saved_state(
    meltano_project: MeltanoProject,
    warehouse: Warehouse,
    big_server: ReferenceServer,
    tmp_path: t.Any,
) -> None:
    suffix = warehouse.schema
    state_id = f"dev:tap-museumcms-to-{FASTDRAIN_LOADER}:{suffix}"
    args = ["run", "--force", "--state-id-suffix", suffix, "tap-museumcms", FASTDRAIN_LOADER]
    base_env = {
        **warehouse.target_env(),
        "TAP_MUSEUMCMS_API_URL": big_server.url,
        "TAP_MUSEUMCMS_PAGE_SIZE": str(PAGE),
    }
    log = tmp_path / "meltano.log"
    stats = big_server.stats
    figures: list[str] = []
    started = time.monotonic()

    # Kill 1: the stock drain interval (5 minutes). Killed after 10 pages: nothing was saved.
    mark = len(stats.log)
    proc = meltano_project.start(args, log=log, env={**base_env, DRAIN_ENV: "5"})
    wait_until(
        lambda: sum(1 for e in stats.log[mark:] if e.path == "/objects") >= 10,
        timeout=120,
        proc=proc,
    )
    t_kill = time.monotonic()
    kill_group(proc)
    reached = furthest(stats.log[mark : settle(stats)])
    saved = meltano_project.saved_state(state_id)
    assert saved is None, f"stock target saved a state within seconds: {saved}"
    figures.append(
        f"kill 1 (stock 5-min drain) after {reached.get('objects', 0)} objects: nothing saved"
    )

    # Without --force, the killed job still looks alive to Meltano and the rerun is refused.
    refused = meltano_project.run([a for a in args if a != "--force"], env=base_env, timeout=120)
    assert refused.returncode != 0
    assert "already running" in refused.output, refused.output[-2000:]

    # Kills 2 and 3, then a run to the end: each rerun must start where the saved state says.
    resumed = 0
    kills = 1
    runs = 1
    for attempt in range(3):
        mark = settle(stats)
        before = meltano_project.saved_state(state_id)
        final = attempt == 2
        env = {**base_env, DRAIN_ENV: FAST_DRAIN_MINUTES}
        run_started = time.monotonic()
        proc = meltano_project.start(args, log=log, env=env)
        runs += 1

        def progressed(goal: int = KILL_AT[min(attempt, 1)]) -> bool:
            covered = progress(meltano_project.saved_state(state_id), OBJECTS)
            return covered is not None and covered >= goal

        if not final:
            wait_until(progressed, timeout=180, proc=proc)
            time.sleep(0.7)  # die between two checkpoints, not on one
            kill_group(proc)
            kills += 1
        else:
            assert proc.wait(timeout=300) == 0, log.read_text()[-3000:]

        run_log = stats.log[mark : settle(stats)]
        first = first_requests(run_log)
        bookmarks = ((before or {}).get("singer_state") or {}).get("bookmarks") or {}
        redone = {}
        for stream in RESOURCE_STREAMS:
            harvest = (bookmarks.get(stream) or {}).get("harvest") or {}
            if stream not in first:
                continue
            got = first[stream].params.get("cursor")
            if harvest.get("cursor"):
                # Resumed exactly at the saved cursor, not from the start.
                assert got == harvest["cursor"], (stream, got, harvest)
                resumed += 1
                redone[stream] = reached.get(stream, 0) - decode_cursor(got)
            elif (bookmarks.get(stream) or {}).get("replication_key_value"):
                # Harvest already complete: an incremental request, not a new full harvest.
                assert first[stream].params.get("modified_since"), (stream, first[stream])
            else:
                assert decode_cursor(got) == 0, (stream, got)
                if stream in reached:
                    redone[stream] = reached[stream]
        starts = {
            s: "incremental" if e.params.get("modified_since") else decode_cursor(
                e.params.get("cursor")
            )
            for s, e in first.items()
        }
        figures.append(
            f"run {runs} {'to the end' if final else 'killed'} after "
            f"{time.monotonic() - run_started:.1f} s: started at {starts}, "
            f"positions fetched again since the previous kill {redone}"
        )
        reached = furthest(run_log)
    assert resumed >= 2, f"only {resumed} streams resumed from a saved cursor"

    # Tables exact after all that.
    truths = {s: stream_truth(big_server, s) for s in RESOURCE_STREAMS}
    problems, compared = check_all(warehouse, big_server, truths)
    completed = meltano_project.saved_state(state_id)
    final_bookmarks = (completed or {}).get("singer_state", {}).get("bookmarks", {})
    for stream in RESOURCE_STREAMS:
        assert "harvest" not in final_bookmarks.get(stream, {}), final_bookmarks.get(stream)

    requests = stats.requests
    records = sum(len(tr.valid) + len(tr.invalid_lines) for tr in truths.values())
    print(
        f"\n[e2e crash] {OBJECTS} objects x3 streams, page {PAGE}: {records} records, "
        f"{runs} runs, {kills} kills, requests {requests}, rows compared {compared}, "
        f"{time.monotonic() - started:.1f} s\n  " + "\n  ".join(figures)
        + f"\n  kill 1 happened {t_kill - started:.1f} s into the first run"
    )
    assert problems == []
