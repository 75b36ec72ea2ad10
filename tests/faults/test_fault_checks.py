"""What each fault must do besides losing nothing: the waits, the lines, the credentials, the files.

Rows are played as in ``test_fault_matrix.py`` (the command line's path, in-process, on a fake
clock shared with the server), then looked at closely: the waits on the fake clock, the server's
request log (times, hosts, which credential went where), the log lines, the STATE a stopped run
leaves, the metrics textfile and the run summary.
"""

from __future__ import annotations

import dataclasses
import os
import re
import signal
from datetime import UTC, datetime

import pytest
from fault_rows import KEYS, OAUTH, OAUTH_SETTINGS, QUIET, ROWS, TOKEN, big_record
from fault_runs import Row, play
from prometheus_client.parser import text_string_to_metric_families

from tap_museumcms import checkpoint
from tap_museumcms.refserver import Faults

BOTH = ("jsonl", "oai")
DATA_PATHS = ("/objects", "/rights", "/media", "/oai")


def row(name: str, face: str, **changes: object) -> Row:
    found = next(r for r in ROWS if r.name == name and r.face == face)
    return dataclasses.replace(found, **changes)  # type: ignore[arg-type]


def data(outcome, status: int | None = None) -> list:
    return [e for e in outcome.log if e.path in DATA_PATHS
            and (status is None or e.status == status)]


def clean(outcome) -> None:
    assert outcome.problems == [] and outcome.lost == 0 and outcome.duplicates == 0


# --- Retry-After -----------------------------------------------------------------------------
@pytest.mark.parametrize("face", BOTH)
@pytest.mark.parametrize(
    ("name", "waits"),
    [
        ("429 storm, Retry-After seconds", lambda w: w == 7.0),
        ("429 storm, Retry-After HTTP-date", lambda w: 7.0 <= w <= 8.0),  # 1 s resolution
        ("429 storm, Retry-After 0", None),
        ("429 storm, Retry-After huge (clamped)", lambda w: w == 30.0),
    ],
)
def test_retry_after_is_obeyed_in_its_four_forms(face, name, waits):
    outcome = play(row(name, face))
    clean(outcome)
    throttled = len(data(outcome, 429))
    assert throttled >= 3
    if waits is None:  # "0": go again at once, and nothing else waits either
        assert outcome.sleeps == []
    else:
        assert len(outcome.sleeps) == throttled and all(waits(w) for w in outcome.sleeps)
    lines = outcome.runs[0].lines("WARNING")
    assert len([line for line in lines if "HTTP 429" in line]) == throttled
    assert all("as told by Retry-After" in line for line in lines if "HTTP 429" in line)


# --- the circuit breaker ---------------------------------------------------------------------
@pytest.mark.parametrize("face", BOTH)
def test_the_breaker_opens_probes_once_and_the_last_line_names_the_cursor(face):
    outcome = play(row("host down longer than the breaker allows", face))
    clean(outcome)
    first = outcome.runs[0]
    assert first.exit_code == 1 and len(first.lines("ERROR")) == 1
    match = re.fullmatch(
        r"127\.0\.0\.1 is down: 6 failed requests since (\S+), the last one after a pause of "
        r"60 s \(last error: ConnectionError\); (\w+) resumes at cursor '([^']+)'", first.error)
    assert match, first.error
    since, stream, cursor = match.groups()
    # The STATE was written before the line, and holds that cursor.
    assert first.messages[-1]["type"] == "STATE"
    assert first.messages[-1]["value"]["bookmarks"][stream]["harvest"]["cursor"] == cursor
    refused = [e for e in outcome.log if e.status == 0]
    assert len(refused) == 6  # five failures open it, the probe after the pause fails
    assert refused[-1].at - refused[-2].at >= 60.0
    assert since == datetime.fromtimestamp(refused[0].at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert len([w for w in first.lines("WARNING") if "circuit breaker open" in w]) == 1
    # The next run starts at that cursor.
    resumed = outcome.log[outcome.log.index(refused[-1]) + 1:]
    assert cursor in {e.params.get("cursor") or e.params.get("resumptionToken") for e in resumed}


# --- OAuth2 ----------------------------------------------------------------------------------
@pytest.mark.parametrize("face", BOTH)
def test_oauth2_is_renewed_exactly_once_on_a_401(face):
    outcome = play(row("401 mid-run with OAuth2 (refresh once)", face))
    clean(outcome)
    tokens = [e for e in outcome.log if e.path == "/oauth/token"]
    assert [e.status for e in tokens] == [200, 200]
    assert [e.method for e in tokens] == ["POST", "POST"]
    assert len(data(outcome, 401)) == 1
    assert all(e.credential == "oauth" for e in data(outcome))
    renewals = [w for w in outcome.runs[0].lines("WARNING") if "OAuth2 token was refused" in w]
    assert len(renewals) == 1
    everything = "\n".join(outcome.runs[0].logs) + outcome.runs[0].stderr
    assert OAUTH.client_secret not in everything + str(outcome.runs[0].messages)


@pytest.mark.parametrize("face", BOTH)
def test_the_token_request_itself_is_paced_and_retried(face):
    faults = Faults(oauth_revoke_at_request=6, oauth_token_503_every=2, retry_after=4)
    outcome = play(row("401 mid-run with OAuth2 (refresh once)", face, faults=faults,
                       settings={**OAUTH_SETTINGS, "max_requests_per_second": 2}))
    clean(outcome)
    tokens = [e for e in outcome.log if e.path == "/oauth/token"]
    assert [e.status for e in tokens] == [200, 503, 200]
    assert tokens[2].at - tokens[1].at == pytest.approx(4.0)  # its Retry-After
    sent = [e.at for e in outcome.log]
    assert min(b - a for a, b in zip(sent, sent[1:], strict=False)) >= 0.5 - 1e-6


def test_a_fresh_token_refused_again_is_final_not_a_loop():
    # Should the tap loop, the server stops answering after 40 requests and the test fails.
    faults = Faults(oauth_wrong_scope=True, refuse_from_request=40, refuse_for_requests=10**6)
    outcome = play(row("401 mid-run with OAuth2 (refresh once)", "jsonl", faults=faults,
                       exits=(1,), message="oauth_scope"), max_runs=1)
    assert [e.status for e in outcome.log if e.path == "/oauth/token"] == [200, 200]
    assert len(data(outcome, 401)) == 2 and len(outcome.log) == 4
    assert len(outcome.runs[0].lines("ERROR")) == 1


# --- API keys --------------------------------------------------------------------------------
@pytest.mark.parametrize("face", BOTH)
def test_a_rejected_key_is_set_aside_named_by_position_only(face):
    outcome = play(row("a key rejected (rotate)", face))
    clean(outcome)
    run = outcome.runs[0]
    lines = [w for w in run.lines("WARNING") if "API key" in w]
    assert len(lines) == 1
    assert "API key 1 of 2 was set aside (HTTP 401); using key 2 of 2" in lines[0]
    used = [e.credential for e in data(outcome)]
    cut = used.index("key 2")
    assert set(used[:cut]) == {"key 1"} and set(used[cut:]) == {"key 2"}
    assert [e.status for e in data(outcome)][cut - 1] == 401
    for key in KEYS:
        assert key not in "\n".join(run.logs) + run.stderr + str(run.messages)


def test_a_key_whose_budget_is_spent_is_set_aside_then_waits_are_clamped():
    faults = Faults(status_429_every=4, retry_after=100_000)
    outcome = play(row("a key rejected (rotate)", "jsonl", faults=faults,
                       settings={"api_key": list(KEYS), "max_retry_after_seconds": 30}))
    clean(outcome)
    lines = [w for w in outcome.runs[0].lines("WARNING") if "API key" in w]
    assert len(lines) == 1 and "(its budget is spent); using key 2 of 2" in lines[0]
    assert outcome.sleeps and set(outcome.sleeps) == {30.0}
    assert len(outcome.sleeps) == len(data(outcome, 429)) - 1  # the first 429 only rotated


# --- credentials and other hosts ------------------------------------------------------------
@pytest.mark.parametrize("face", BOTH)
@pytest.mark.parametrize("how", ["bearer", "x-api-key", "oauth"])
def test_no_credential_ever_goes_to_the_other_host(face, how):
    settings = {"api_key": TOKEN, "auth_header": "x-api-key" if how == "x-api-key"
                else "authorization"}
    server = {"token": TOKEN}
    if how == "oauth":
        settings, server = dict(OAUTH_SETTINGS), {"oauth": OAUTH}
    outcome = play(row("redirect to another host", face, settings=settings, server=server))
    clean(outcome)
    other = [e for e in outcome.log if e.host == "localhost"]
    here = [e for e in data(outcome) if e.host == "127.0.0.1"]
    assert len(other) >= 2 and all(e.carriers == () for e in other)
    assert all(e.carriers for e in here)
    assert len(data(outcome, 302)) == len(other)
    assert outcome.connections >= 2  # two hosts, two pools


def test_a_redirect_to_plain_http_on_another_machine_is_refused_before_it_is_followed():
    faults = Faults(redirect_other_host_every=3, redirect_host="museum.example")
    outcome = play(row("redirect to another host", "jsonl", faults=faults, exits=(1,),
                       message="refusing plain http to museum.example"), max_runs=1)
    assert "the source redirected GET http://127.0.0.1:" in outcome.runs[0].error
    assert [e.status for e in outcome.log] == [200, 200, 302]
    assert outcome.duplicates == 0 and len(outcome.runs[0].lines("ERROR")) == 1


def test_plain_http_to_another_host_is_refused_before_any_request():
    outcome = play(row("gzip bodies", "jsonl", settings={"api_url": "http://museum.example/api"},
                       exits=(1,), message="refusing plain http to museum.example"))
    assert outcome.log == [] and len(outcome.runs[0].lines("ERROR")) == 1


# --- bodies ----------------------------------------------------------------------------------
@pytest.mark.parametrize("face", BOTH)
def test_a_gzip_bomb_is_refused_with_one_line_and_the_state_kept(face):
    outcome = play(row("gzip bomb", face))
    clean(outcome)
    first = outcome.runs[0]
    stopped = [line for line in first.lines("ERROR") if "decompression bomb" in line
               and "tap-museumcms failed" not in line]
    stream = stopped[0].split(": ", 2)[1]
    assert len(stopped) == len({line.split(": ", 2)[1] for line in stopped})  # one per stream
    assert re.search(r"inflates more than 200 to 1 \(\d+ bytes became over \d+\)", stopped[0])
    assert "Traceback" not in "\n".join(first.logs) + first.stderr
    kept = first.states[-1]["bookmarks"][stream]["harvest"]["cursor"]
    later = outcome.log[first.summary["requests"]:]  # the requests of the runs after the first
    assert kept in {e.params.get("cursor") or e.params.get("resumptionToken") for e in later}


@pytest.mark.parametrize("gzipped", [False, True])
def test_max_page_bytes_stops_the_stream_with_its_state_then_a_larger_bound_resumes(gzipped):
    bound = Row("max_page_bytes", "jsonl", Faults(gzip_bodies=gzipped),
                settings={"max_page_bytes": 200_000}, later={"max_page_bytes": 1_000_000},
                prepare=big_record, exits=(1, 0),
                message=("inflates to more than" if gzipped else "larger than")
                + " max_page_bytes (200000 bytes); refused")
    outcome = play(bound)
    clean(outcome)
    first = outcome.runs[0]
    objects = first.states[-1]["bookmarks"]["objects"]["harvest"]["cursor"]
    assert objects in ("b64:NDA=", "b64:NDU=")  # page 3 starts at 40; the big record is 45
    assert first.summary["streams"]["objects"]["harvest_in_progress"] is True


def test_max_page_bytes_on_the_oai_face():
    outcome = play(Row("max_page_bytes", "oai", Faults(oai_huge_description_bytes=20_000),
                       settings={"max_page_bytes": 200_000},
                       later={"max_page_bytes": 10_000_000}, exits=(1, 0),
                       message="larger than max_page_bytes (200000 bytes)"))
    clean(outcome)


# --- quiet hours -----------------------------------------------------------------------------
def _window(at: float) -> bool:
    moment = datetime.fromtimestamp(at, UTC)
    return (8, 1) <= (moment.hour, moment.minute) < (8, 30)


@pytest.mark.parametrize("face", BOTH)
def test_a_quiet_window_that_starts_mid_run_is_waited_out(face):
    outcome = play(row("quiet window mid-run (wait)", face))
    clean(outcome)
    times = [e.at for e in outcome.log]
    assert not any(_window(at) for at in times)
    before = [at for at in times if at < 1_800_000_060]
    assert before and len(before) < len(times)  # it began mid-run
    waits = [line for line in outcome.runs[0].lines("INFO") if f"quiet hours {QUIET}" in line]
    assert len(waits) == 1 and "waiting for its end" in waits[0]
    assert outcome.runs[0].summary["exit"] == "complete"


@pytest.mark.parametrize("face", BOTH)
def test_a_quiet_window_with_exit_ends_the_run_cleanly_and_the_next_resumes(face):
    outcome = play(row("quiet window mid-run (exit)", face))
    clean(outcome)
    first, second = outcome.runs
    assert (first.exit_code, second.exit_code) == (0, 0)
    assert first.error.startswith(f"quiet hours {QUIET}: ") and first.lines("ERROR") == []
    assert first.messages[-1]["type"] == "STATE"
    assert first.summary["exit"].startswith("quiet hours")
    saved = first.messages[-1]["value"]["bookmarks"]
    cursors = {v["harvest"]["cursor"] for v in saved.values() if "harvest" in v}
    assert cursors  # a harvest was cut short, and the next run asked for exactly that cursor
    later = [e for e in outcome.log if e.at >= 1_800_000_000 + 30 * 60]
    asked = {e.params.get("cursor") or e.params.get("resumptionToken") for e in later}
    assert cursors <= asked
    assert not any(_window(e.at) for e in outcome.log)


def test_a_token_that_expires_in_a_quiet_window_restarts_the_window_and_passes_over():
    outcome = play(row("expired token (a quiet window outlives it)", "oai"))
    clean(outcome)
    restarts = [w for w in outcome.runs[0].lines("WARNING") if "rejected the resumptionToken" in w]
    assert len(restarts) == 1 and "passing over the" in restarts[0]
    listing = [e.params for e in outcome.log if e.params.get("verb") == "ListRecords"]
    assert [i for i, params in enumerate(listing) if "metadataPrefix" in params][0] == 0
    assert len([params for params in listing if "metadataPrefix" in params]) == 2


# --- signals -------------------------------------------------------------------------------
@pytest.mark.parametrize("face", BOTH)
def test_sigterm_between_the_checkpoint_and_its_record_loses_nothing(face, monkeypatch):
    # The harvest moves its checkpoint past a record before the record is written: a signal
    # that lands in between must not leave a STATE that covers the record.
    method = "advance" if face == "jsonl" else "note_handled"
    original = getattr(checkpoint.Checkpoint, method)
    calls = []

    def probe(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        calls.append(1)
        if len(calls) == 30:
            os.kill(os.getpid(), signal.SIGTERM)  # handled right here, before the RECORD
        return result

    monkeypatch.setattr(checkpoint.Checkpoint, method, probe)
    outcome = play(Row("SIGTERM mid-page", face, exits=(143, 0)))
    clean(outcome)
    first = outcome.runs[0]
    assert [w for w in first.lines("WARNING") if "stopped by signal 15" in w]
    assert first.summary["exit"] == "stopped: SystemExit"


# --- metrics, summary, progress --------------------------------------------------------------
def _families(path) -> dict[str, dict[tuple, float]]:
    found: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(path.read_text()):
        for sample in family.samples:
            labels = tuple(sorted(sample.labels.items()))
            found.setdefault(sample.name, {})[labels] = sample.value
    return found


def test_the_metrics_textfile_is_replaced_atomically_with_sensible_counters(tmp_path):
    path = tmp_path / "museum.prom"
    path.write_text("# old\n")
    old = path.open()
    faults = Faults(status_503_every=8, status_burst=2, retry_after=2, refuse_from_request=12,
                    refuse_for_requests=2, status_429_every=9)
    outcome = play(row("503 bursts", "jsonl", faults=faults,
                       settings={"metrics_textfile": str(path)}))
    clean(outcome)
    assert old.read() == "# old\n" and os.listdir(tmp_path) == ["museum.prom"]  # renamed in
    old.close()
    metrics = _families(path)
    requests = metrics["tap_museumcms_requests_total"]
    for path_name in ("/objects", "/rights", "/media"):
        for status in (200, 503, 429):
            served = sum(1 for e in outcome.log if e.path == path_name and e.status == status)
            key = (("endpoint", path_name), ("status", str(status)))
            assert requests.get(key, 0) == served
    retries = metrics["tap_museumcms_retries_total"]
    assert retries[(("reason", "HTTP 503"),)] == len(data(outcome, 503))
    assert retries[(("reason", "HTTP 429"),)] == len(data(outcome, 429))
    assert retries[(("reason", "ConnectionError"),)] == 2
    connections = metrics["tap_museumcms_connections_total"]
    opened, reused = connections[(("kind", "opened"),)], connections[(("kind", "reused"),)]
    assert opened == outcome.connections == 3  # the first, then one after each refusal
    assert opened + reused == len(outcome.log)
    assert metrics["tap_museumcms_wait_seconds_total"][(("cause", "retry_after"),)] >= 2
    assert sum(metrics["tap_museumcms_records_total"].values()) == outcome.emitted


def test_the_run_summary_on_stderr():
    outcome = play(row("stuck cursor", "jsonl"))
    clean(outcome)
    first, second = (run.summary for run in outcome.runs)
    assert first["exit"].startswith("failed: ") and "cursor stuck" in first["exit"]
    assert first["source"] == "jsonl" and first["connections_opened"] == 1
    assert first["requests"] + second["requests"] == len(outcome.log)
    for name, stream in first["streams"].items():
        assert stream["records"] == len(outcome.runs[0].records(name))
        assert stream["harvest_in_progress"] is True
    assert second["exit"] == "complete"
    assert not any(s["harvest_in_progress"] for s in second["streams"].values())


@pytest.mark.parametrize("face", BOTH)
def test_progress_lines_on_a_long_harvest(face):
    outcome = play(Row("progress", face, settings={"max_requests_per_second": 0.1}, size=200))
    clean(outcome)
    lines = [line for line in outcome.runs[0].lines("INFO") if "objects progress: " in line]
    counts = [int(re.search(r"progress: ([\d,]+) records", line).group(1).replace(",", ""))
              for line in lines]
    assert len(lines) >= 3 and counts == sorted(counts) and counts[0] > 0
    assert all(re.search(r"in \d+ pages, \d+ records/s", line) for line in lines)
    if face == "oai":  # completeListSize: an estimate of what is left
        assert any("min left of about 200 (the source's estimate)" in line for line in lines)


def test_metrics_port_serves_while_the_run_lasts_and_frees_the_port_after():
    import socket
    import urllib.request

    from tap_museumcms.metrics import RunMetrics

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for _ in range(2):  # a second run in the same process can take the same port again
        metrics = RunMetrics()
        metrics.serve(port)
        metrics.request("/objects", 200)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as answer:
            assert b'tap_museumcms_requests_total{endpoint="/objects",status="200"} 1.0' in (
                answer.read())
        metrics.stop()
