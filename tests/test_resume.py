"""``kill -9`` at any point, resume with ``--state``: nothing lost, nothing committed sent twice.

The tap runs as a real process against the reference server; it is killed with SIGKILL after
a chosen number of records. What it wrote up to its last STATE is "committed" (that STATE is
what a target would hand back); the next run starts from that STATE.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from fakeclock import FakeClock
from harness import account_run, last_state, resume_until_done

from tap_museumcms.refserver import OaiSettings
from tap_museumcms.refserver.collection import GeneratedCollection
from tap_museumcms.refserver.server import Faults, ReferenceServer


def run_until(config: Path, state: dict | None, tmp: Path, kill_after: int | None):
    """Run the tap; SIGKILL it after ``kill_after`` RECORD lines. Returns all its messages."""
    cmd = [sys.executable, "-m", "tap_museumcms", "--config", str(config)]
    if state is not None:
        state_path = tmp / "state.json"
        state_path.write_text(json.dumps(state))
        cmd += ["--state", str(state_path)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    messages, records = [], 0
    for raw in proc.stdout:
        messages.append(json.loads(raw))
        if messages[-1]["type"] == "RECORD":
            records += 1
            if kill_after is not None and records == kill_after:
                os.kill(proc.pid, signal.SIGKILL)
                # Whatever it wrote before dying is still in the pipe: read it all.
                messages.extend(json.loads(line) for line in proc.stdout if line.strip())
                break
    proc.wait(timeout=60)
    return messages, proc.returncode


@pytest.mark.parametrize(
    ("source", "kills"),
    [("jsonl", [1, 2500, 2501]), ("jsonl", [120, 3000, 333, 1500]),
     ("oai-pmh", [7, 2000, 2001, 900])],
)
def test_sigkill_then_resume_loses_nothing_and_resends_nothing_committed(tmp_path, source, kills):
    collection = GeneratedCollection(2500, invalid_every=13)
    with ReferenceServer(collection, oai=OaiSettings(page_size=97)) as server:
        config = tmp_path / "config.json"
        settings = {"api_url": server.url, "page_size": 97}
        if source == "oai-pmh":
            settings = {"source": source, "api_url": server.url + "/oai"}
        config.write_text(json.dumps(settings))
        committed: set[tuple[str, str]] = set()
        state = None
        for kill_after in [*kills, None]:
            messages, code = run_until(config, state, tmp_path, kill_after)
            committed = account_run(committed, messages)
            state = last_state(messages, default=state)
            if kill_after is None:
                assert code == 0
            else:
                assert code == -signal.SIGKILL
        if source == "oai-pmh":
            truth = server.expected_oai()
            expected = {("objects", key) for key in truth.valid_keys}
        else:
            truth = server.expected("objects")
            expected = {
                (stream, key)
                for stream in ("objects", "rights", "media")
                for key in server.expected(stream).valid_keys
            }
    streams = ("objects",) if source == "oai-pmh" else ("objects", "rights", "media")
    got = {(s, k) for s, k in committed if s in streams}
    assert got == expected, f"lost: {sorted(expected - got)[:5]}"
    quarantined = {k for s, k in committed if s == "quarantine"}
    assert len(quarantined) == len(truth.invalid_positions)
    # Every valid object has its LIDO record and, having images, its manifest.
    objects = {k for s, k in committed if s == "objects"}
    assert {k for s, k in committed if s == "lido_records"} == objects
    assert {k for s, k in committed if s == "iiif_manifests"} == objects
    # The final run ended the harvests: no cursor is left in state.
    assert all("harvest" not in v for v in state["bookmarks"].values())


# The same guarantee through every fault the server can throw, with a fake clock: the run
# dies right after a chosen RECORD (nothing more is written, as with SIGKILL).
STORM = Faults(
    status_429_every=9, retry_after=3, retry_after_form="alternate", status_503_every=13,
    reset_mid_body_every=7, truncate_body_every=11, malformed_line_every=29, blank_lines=True,
    overlap_every=5, overlap_records=6,
)


@pytest.mark.parametrize("kills", [[40, 700, 701, 1500], [1, 2, 3, 950, 2000, 1200]])
def test_killed_under_a_fault_storm_resumes_exactly(kills):
    clock = FakeClock()
    collection = GeneratedCollection(900, invalid_every=17)
    with ReferenceServer(collection, faults=STORM, clock=clock) as server:
        config = {"api_url": server.url, "page_size": 40, "max_retries": 8}
        committed, state = resume_until_done(config, clock, kills)
        expected = {(s, k) for s in ("objects", "rights", "media")
                    for k in server.expected(s).valid_keys}
        invalid = (len(server.expected("objects").invalid_positions)
                   + sum(len(server.expected(s).malformed_lines)
                         for s in ("objects", "rights", "media")))
    got = {(s, k) for s, k in committed if s in ("objects", "rights", "media")}
    assert got == expected, f"lost: {sorted(expected - got)[:5]}"
    assert len({k for s, k in committed if s == "quarantine"}) == invalid
    objects = {k for s, k in committed if s == "objects"}
    assert {k for s, k in committed if s == "lido_records"} == objects
    assert all("harvest" not in v for v in state["bookmarks"].values())
