"""``full_harvest_every_days``: a periodic full harvest; its ACTIVATE_VERSION retires old rows."""

from __future__ import annotations

from fakeclock import FakeClock
from harness import run_tap

from tap_museumcms.refserver.collection import GeneratedCollection
from tap_museumcms.refserver.server import ReferenceServer

DAY = 86400


def activations(result) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for message in result.messages:
        if message["type"] == "ACTIVATE_VERSION":
            found.setdefault(message["stream"], []).append(message["version"])
    return found


def versions(result, stream: str) -> set:
    return {m.get("version") for m in result.messages
            if m["type"] == "RECORD" and m["stream"] == stream}


def test_full_harvests_carry_a_version_and_activate_it_incremental_runs_do_not():
    clock = FakeClock(start=1_800_000_000.0)
    with ReferenceServer(GeneratedCollection(40), clock=clock) as server:
        config = {"api_url": server.url, "page_size": 15, "full_harvest_every_days": 2}
        first = run_tap(config, clock=clock)
        clock.advance(DAY)
        second = run_tap(config, state=first.final_state, clock=clock)
        clock.advance(DAY + 60)
        third = run_tap(config, state=second.final_state, clock=clock)
    assert first.error is None and second.error is None and third.error is None
    v1 = 1_800_000_000
    streams = {"objects", "rights", "media", "lido_records", "iiif_manifests"}
    # The first run is a full harvest: every record carries its version, and each stream
    # fed by it gets one ACTIVATE_VERSION after its last record.
    assert activations(first) == {name: [v1] for name in streams}
    for name in streams:
        assert versions(first, name) == {v1}
    assert versions(first, "quarantine") <= {None}
    last_record = max(i for i, m in enumerate(first.messages) if m["type"] == "RECORD"
                      and m["stream"] == "objects")
    activation = next(i for i, m in enumerate(first.messages)
                      if m["type"] == "ACTIVATE_VERSION" and m["stream"] == "objects")
    assert activation > last_record
    # One day later: incremental, no version, no activation (nothing changed: no records).
    assert activations(second) == {}
    assert second.records("objects") == []
    # Two days after the first full harvest: full again, with a newer version.
    v3 = int(1_800_000_000 + 2 * DAY + 60)
    assert activations(third) == {name: [v3] for name in streams}
    assert len(third.records("objects")) == 40
    assert versions(third, "objects") == {v3}
    for state in third.final_state["bookmarks"].values():
        assert "harvest" not in state


def test_a_full_harvest_killed_midway_resumes_with_the_same_version():
    from harness import Killed

    clock = FakeClock(start=1_800_000_000.0)
    with ReferenceServer(GeneratedCollection(60), clock=clock) as server:
        config = {"api_url": server.url, "page_size": 10, "full_harvest_every_days": 7}
        first = run_tap(config, clock=clock, kill_after_records=100)
        assert isinstance(first.error, Killed)
        clock.advance(30)
        second = run_tap(config, state=first.final_state, clock=clock)
    assert second.error is None
    assert versions(second, "objects") == {1_800_000_000}
    assert activations(second)["objects"] == [1_800_000_000]
    # The objects harvest was cut short: nothing of it (nor of what it feeds) may be retired.
    cut = {"objects", "lido_records", "iiif_manifests"}
    assert not cut & set(activations(first))
    assert "harvest" in first.final_state["bookmarks"]["objects"]
