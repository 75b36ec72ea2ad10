"""The orchestration layer without Meltano or a database: sources read from meltano.yml, the run
summary parsed from Meltano's output, and the Dagster asset of a source run against a stand-in
``meltano`` (a small script that records its arguments and prints what a run prints)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import dagster as dg
import pytest

from tap_museumcms.orchestration.definitions import MeltanoProject, build_definitions, source_asset
from tap_museumcms.orchestration.meltano_cli import parse_summary, run_command, run_pipeline, stop
from tap_museumcms.orchestration.sources import Source, load_sources, state_id

MELTANO_YML = """
default_environment: dev
include_paths: ["./sources/*.meltano.yml"]
plugins:
  extractors:
  - name: tap-museumcms
    namespace: tap_museumcms
    pip_url: -e .
  - name: tap-museumcms-oai
    inherit_from: tap-museumcms
    config: {source: oai-pmh}
  - name: tap-kenom-coins
    inherit_from: tap-museumcms-oai
    config: {oai_set: coins}
  - name: tap-other
    namespace: tap_other
  - name: tap-other-child
    inherit_from: tap-other
"""
INCLUDED = """
plugins:
  extractors:
  - name: tap-museum-x
    inherit_from: tap-museumcms
"""
SUMMARY = {"exit": "complete", "requests": 7,
           "streams": {"objects": {"records": 12, "quarantined": 2}, "media": {"records": 3}}}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A Meltano project directory with four sources (one in an included file)."""
    (tmp_path / "meltano.yml").write_text(MELTANO_YML)
    (tmp_path / "sources").mkdir()
    (tmp_path / "sources" / "x.meltano.yml").write_text(INCLUDED)
    return tmp_path


def test_sources_are_the_extractors_that_inherit_from_the_tap(project: Path) -> None:
    assert load_sources(project) == [
        Source("tap-museumcms-oai", "oai-pmh", "tap_museumcms_oai", "tap-museumcms"),
        Source("tap-kenom-coins", "oai-pmh", "tap_kenom_coins", "tap-museumcms-oai"),
        Source("tap-museum-x", "jsonl", "tap_museum_x", "tap-museumcms"),
    ]
    assert state_id("prod", "tap-kenom-coins", "target-postgres") == (
        "prod:tap-kenom-coins-to-target-postgres"
    )
    assert state_id("dev", "tap-a", "target-b", "x") == "dev:tap-a-to-target-b:x"


def test_names_that_collide_as_identifiers_are_refused(project: Path) -> None:
    text = MELTANO_YML + "  - name: tap_museumcms_oai\n    inherit_from: tap-museumcms\n"
    (project / "meltano.yml").write_text(text)
    with pytest.raises(ValueError, match="tap_museumcms_oai"):
        load_sources(project)


def test_the_summary_is_read_from_meltanos_log_line() -> None:
    line = (f"2026-12-01T23:37:06Z [info     ] {json.dumps({'run_summary': SUMMARY})} "
            "cmd_type=elb consumer=False name=tap-museum-x producer=True stdio=stderr\n")
    assert parse_summary(line) == SUMMARY
    assert parse_summary('... {"run_summary": {"exit": "compl') is None
    assert parse_summary("[info] nothing here") is None


def test_a_pipeline_is_run_to_its_end_and_its_output_kept(tmp_path: Path) -> None:
    script = "import sys; print('one'); print('two', file=sys.stderr); sys.exit(3)"
    echo = tmp_path / "echo.txt"
    with echo.open("w") as sink:
        result = run_pipeline([sys.executable, "-c", script], cwd=tmp_path, echo=sink,
                              tail_lines=1)
    assert result.returncode == 3 and result.tail == ["two"] and result.summary is None
    assert echo.read_text().splitlines() == ["one", "two"]
    assert run_command("m", "tap-a", "target-b", "prod") == [
        "m", "--environment=prod", "run", "tap-a", "target-b"
    ]


@pytest.mark.parametrize(
    ("child", "killed_by"),
    [("time.sleep(60)", signal.SIGTERM),
     ("signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)",
      signal.SIGKILL)],
    ids=["stops-on-sigterm", "ignores-sigterm"],
)
def test_an_interrupted_pipeline_is_stopped_whole(child: str, killed_by: int) -> None:
    proc = subprocess.Popen([sys.executable, "-c", f"import signal, time; {child}"], text=True,
                            stdout=subprocess.PIPE, start_new_session=True)
    if killed_by == signal.SIGKILL:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    stop(proc, grace_seconds=0.2)
    assert proc.returncode == -killed_by


def fake_meltano(tmp_path: Path, exit_code: int) -> Path:
    """A stand-in ``meltano``: appends its arguments to ``calls.jsonl``, prints a run summary the
    way Meltano logs the tap's stderr, exits with ``exit_code``."""
    script = tmp_path / "meltano"
    script.write_text(textwrap.dedent(f"""\
        #!{sys.executable}
        import json, sys
        with open({str(tmp_path / "calls.jsonl")!r}, "a") as calls:
            calls.write(json.dumps(sys.argv[1:]) + "\\n")
        print("[info ] " + json.dumps({{"run_summary": {SUMMARY!r}}}) + " stdio=stderr")
        print("last words")
        sys.exit({exit_code})
        """))
    script.chmod(0o755)
    return script


def test_the_asset_runs_its_extractor_and_records_the_state_id(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MELTANO_ENVIRONMENT", raising=False)  # the project's default: dev
    asset = source_asset(load_sources(project)[1])
    meltano = MeltanoProject(project_dir=str(project), meltano_bin=str(fake_meltano(project, 0)))
    result = dg.materialize([asset], resources={"meltano": meltano})
    assert result.success
    [event] = result.get_asset_materialization_events()
    metadata = {k: v.value for k, v in event.materialization.metadata.items()}
    assert metadata["state_id"] == "dev:tap-kenom-coins-to-target-postgres"
    assert metadata["records"] == {"objects": 12, "media": 3} and metadata["quarantined"] == 2
    calls = [json.loads(line) for line in (project / "calls.jsonl").read_text().splitlines()]
    assert calls == [["run", "tap-kenom-coins", "target-postgres"]]



def test_the_definitions_hold_one_asset_per_source_a_job_and_a_schedule(project: Path) -> None:
    defs = build_definitions(project)
    assert {a.key.to_user_string() for a in defs.resolve_all_asset_specs()} == {
        "museums/tap_museumcms_oai", "museums/tap_kenom_coins", "museums/tap_museum_x"
    }
    job = defs.resolve_job_def("harvest_museums")
    assert len(job.asset_layer.executable_asset_keys) == 3
    assert job.executor_def.name == "multiprocess"
    assert defs.resolve_schedule_def("harvest_museums_daily").cron_schedule == "0 3 * * *"


def test_a_failed_run_fails_the_asset_with_the_end_of_its_output(project: Path) -> None:
    asset = source_asset(load_sources(project)[2])
    meltano = MeltanoProject(project_dir=str(project), meltano_bin=str(fake_meltano(project, 1)))
    result = dg.materialize([asset], resources={"meltano": meltano}, raise_on_error=False)
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    info = failure.step_failure_data.user_failure_data
    assert "meltano run tap-museum-x exited with 1" in info.description
    assert "last words" in info.metadata["output"].value
