"""Many sources through Dagster: one inherited extractor per source, each its own `meltano run`.

A Meltano project of its own (the repository's plugin definitions, its own system database)
declares three sources, each an inherited extractor of ``tap-museumcms`` loading into a schema
of its own (``load_schema``, read by target-postgres as ``$MELTANO_EXTRACT__LOAD_SCHEMA``):

- ``tap-museum-sample``: the JSONL face of a reference server on the real sample (Tate + AIC);
- ``tap-museum-sample-oai``: the OAI-PMH (LIDO) face of the same server;
- ``tap-museum-generated``: the JSONL face of a second server, a generated collection with
  invalid records and a deletion.

``dagster job execute -m tap_museumcms.orchestration.definitions -j harvest_museums`` (the
definitions the README shows, generated from that ``meltano.yml``) must run the three harvests
at the same time in three processes, leave exactly one completed state ID per source, and every
table must hold exactly what its server serves.
"""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
import time
import typing as t
import uuid
from pathlib import Path

import pytest
from groundtruth import RESOURCE_STREAMS, check_all, stream_truth
from meltano_harness import REPO, MeltanoProject, project_yaml
from warehouse import Warehouse

from tap_museumcms.refserver import GeneratedCollection, OaiSettings, ReferenceServer
from tap_museumcms.refserver.collection import SampleCollection

JOB = "harvest_museums"
SOURCES = ("tap-museum-sample", "tap-museum-sample-oai", "tap-museum-generated")


def state_id(name: str) -> str:
    """The state ID ``meltano run <name> target-postgres`` keeps in the ``dev`` environment."""
    return f"dev:{name}-to-target-postgres"


def project_data(
    sources: dict[str, dict[str, t.Any]], schemas: dict[str, str]
) -> dict[str, t.Any]:
    """The repository's ``meltano.yml`` with ``sources`` as its only inherited extractors, each
    loading into ``schemas[name]``, and target-postgres as the only loader."""
    data = project_yaml()
    plugins = data["plugins"]
    base = next(e for e in plugins["extractors"] if e["name"] == "tap-museumcms")
    plugins["extractors"] = [base] + [
        {"name": name, "inherit_from": "tap-museumcms", "load_schema": schemas[name],
         "config": config}
        for name, config in sources.items()
    ]
    plugins["loaders"] = [p for p in plugins["loaders"] if p["name"] == "target-postgres"]
    for environment in data.get("environments") or []:
        config = environment.setdefault("config", {}).setdefault("plugins", {})
        config["extractors"] = [e for e in config.get("extractors") or []
                                if e["name"] == "tap-museumcms"]
        config["loaders"] = [{"name": "target-postgres",
                              "config": {"default_target_schema": "$MELTANO_EXTRACT__LOAD_SCHEMA"}}]
    data.pop("jobs", None)
    data.pop("schedules", None)
    return data


def step_key(name: str) -> str:
    """The Dagster step of source ``name`` (its asset ``museums/<name>``)."""
    return "museums__" + name.replace("-", "_")


def harvest(project: MeltanoProject, pg: t.Any, home: Path) -> dict[str, dict[str, t.Any]]:
    """``dagster job execute`` of the repository's definitions against ``project``; the steps of
    the run it made (see :func:`latest_steps`)."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    command = [str(Path(sys.executable).parent / "dagster"), "job", "execute",
               "-m", "tap_museumcms.orchestration.definitions", "-d", str(REPO), "-j", JOB]
    env = {**pg.target_env(), "DAGSTER_HOME": str(home), "MELTANO_PROJECT_ROOT": str(project.root)}
    result = subprocess.run(
        command, cwd=project.root, env=project.env(env), text=True, timeout=240, check=False,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    assert result.returncode == 0, result.stdout[-6000:]
    return latest_steps(home)


def latest_steps(home: Path) -> dict[str, dict[str, t.Any]]:
    """The steps of the newest run in the Dagster instance at ``home`` (which must have
    succeeded): per step key, its process id, start and end times and the metadata of its
    materialization."""
    from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus

    with DagsterInstance.from_config(str(home)) as instance:
        run = instance.get_runs(limit=1)[0]
        assert run.status == DagsterRunStatus.SUCCESS, run.status
        steps: dict[str, dict[str, t.Any]] = {}
        for entry in instance.all_logs(run.run_id):
            event = entry.dagster_event
            if event is None or entry.step_key is None:
                continue
            step = steps.setdefault(entry.step_key, {})
            if event.event_type == DagsterEventType.STEP_START:
                step.update(start=entry.timestamp, pid=event.pid)
            elif event.event_type == DagsterEventType.STEP_SUCCESS:
                step["end"] = entry.timestamp
            elif event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
                metadata = event.step_materialization_data.materialization.metadata
                step["metadata"] = {k: v.value for k, v in metadata.items()}
        return steps


def state_ids(project: MeltanoProject) -> set[str]:
    """Every state ID in the project's Meltano system database."""
    db = project.root / ".meltano" / "meltano.db"
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as con:
        return {row[0] for row in con.execute("SELECT state_id FROM state")}


def check_jsonl_source(warehouse: Warehouse, server: ReferenceServer) -> list[str]:
    """A JSONL source's tables: objects, rights, media and quarantine exact (keys and content,
    see ``groundtruth``), one LIDO record per valid object, manifests only for valid objects."""
    truths = {stream: stream_truth(server, stream) for stream in RESOURCE_STREAMS}
    problems, _compared = check_all(warehouse, server, truths)
    valid = set(truths["objects"].valid)
    lido = [r["object_id"] for r in warehouse.rows("lido_records")
            if r["_sdc_deleted_at"] is None]
    if sorted(lido) != sorted(valid):
        problems.append(f"lido_records: {len(lido)} live rows for {len(valid)} valid objects")
    manifests = {r["object_id"] for r in warehouse.rows("iiif_manifests")}
    if not manifests or not manifests <= valid | truths["objects"].tombstones:
        problems.append("iiif_manifests: none, or rows for objects that are not valid")
    return problems


def check_oai_source(warehouse: Warehouse, server: ReferenceServer) -> list[str]:
    """The OAI source's tables: objects exactly the live identifiers of the list, quarantine one
    row per bad record, LIDO one per object, rights and media exactly those the objects carry."""
    expected = server.expected_oai("lido")
    problems: list[str] = []
    objects = {r["object_id"]: r for r in warehouse.rows("objects")}
    if len(objects) != warehouse.count("objects") or set(objects) != expected.valid_keys:
        problems.append(f"objects: {len(set(objects) ^ expected.valid_keys)} keys differ")
    bad = len(expected.invalid_positions) + len(expected.malformed_lines)
    if warehouse.count("quarantine") != bad:
        problems.append(f"quarantine: {warehouse.count('quarantine')} rows for {bad} bad records")
    if {r["object_id"] for r in warehouse.rows("lido_records")} != expected.valid_keys:
        problems.append("lido_records: not one per live object")
    rights = {r["rights_id"] for r in warehouse.rows("rights")}
    if rights != {f"{k}#rights" for k, o in objects.items() if o["rights_uri"]}:
        problems.append("rights: not exactly one per object with a rights statement")
    media = [r["media_id"] for r in warehouse.rows("media")]
    embedded = [m["media_id"] for o in objects.values() for m in (o["media"] or [])]
    if sorted(media) != sorted(embedded):
        problems.append(f"media: {len(media)} rows for {len(embedded)} embedded assets")
    return problems


def check_parallel(steps: dict[str, dict[str, t.Any]]) -> list[str]:
    """One step per source, each in a process of its own, all of them running at once."""
    problems: list[str] = []
    if sorted(steps) != sorted(step_key(n) for n in SOURCES):
        problems.append(f"steps: {sorted(steps)}")
    if len({s.get("pid") for s in steps.values()}) != len(SOURCES):
        problems.append("steps: not one process each")
    last_start = max(s["start"] for s in steps.values())
    first_end = min(s["end"] for s in steps.values())
    if last_start >= first_end:
        problems.append(f"steps: one ended {last_start - first_end:.1f} s before the last began")
    return problems


def check_states(project: MeltanoProject, steps: dict[str, dict[str, t.Any]]) -> list[str]:
    """Exactly one state ID per source, each a completed harvest, each the one its step
    reported."""
    problems: list[str] = []
    if state_ids(project) != {state_id(n) for n in SOURCES}:
        problems.append(f"state IDs: {sorted(state_ids(project))}")
    for name in SOURCES:
        state = project.saved_state(state_id(name)) or {}
        bookmarks = (state.get("singer_state") or {}).get("bookmarks") or {}
        if "objects" not in bookmarks or "harvest" in bookmarks["objects"]:
            problems.append(f"{name}: no completed objects bookmark in {state_id(name)}")
        if steps[step_key(name)]["metadata"]["state_id"] != state_id(name):
            problems.append(f"{name}: the step reported {steps[step_key(name)]['metadata']}")
    return problems


def check_tables(
    schemas: dict[str, Warehouse], sample: ReferenceServer, second: ReferenceServer
) -> list[str]:
    """Every table of every source against its server."""
    return (
        check_jsonl_source(schemas["tap-museum-sample"], sample)
        + check_oai_source(schemas["tap-museum-sample-oai"], sample)
        + check_jsonl_source(schemas["tap-museum-generated"], second)
    )


@pytest.fixture
def schemas(pg: t.Any) -> t.Iterator[dict[str, Warehouse]]:
    """A fresh schema per source (dropped afterwards)."""
    tag = uuid.uuid4().hex[:6]
    warehouses = {n: Warehouse(pg, f"e2e_orch_{tag}_{n.replace('-', '_')[11:]}") for n in SOURCES}
    yield warehouses
    for warehouse in warehouses.values():
        warehouse.drop()


def test_three_sources_run_in_parallel_each_with_its_own_state(
    pg: t.Any, schemas: dict[str, Warehouse], tmp_path: Path
) -> None:
    generated = GeneratedCollection(600, seed=7, invalid_every=13)
    generated.delete("objects", "obj-0000004")
    collection = SampleCollection()
    with (
        ReferenceServer(collection, oai=OaiSettings(page_size=200)) as sample,
        ReferenceServer(generated) as second,
    ):
        configs = [
            {"source": "jsonl", "api_url": sample.url, "page_size": 250},
            {"source": "oai-pmh", "api_url": sample.url + "/oai"},
            {"source": "jsonl", "api_url": second.url, "page_size": 200},
        ]
        data = project_data(dict(zip(SOURCES, configs, strict=True)),
                            {n: w.schema for n, w in schemas.items()})
        project = MeltanoProject.create(tmp_path / "project", data)
        install = project.install()
        started = time.monotonic()
        first = harvest(project, pg, tmp_path / "dagster")
        walls = [time.monotonic() - started]
        problems = check_parallel(first) + check_tables(schemas, sample, second)
        problems += check_states(project, first)
        # A day later: one object changed at each server; each source resumes at its bookmark.
        collection.update("objects", min(collection.expected("objects").valid_keys),
                          title="Retitled between two harvests")
        generated.update("objects", "obj-0000010", title="Retitled between two harvests")
        started = time.monotonic()
        again = harvest(project, pg, tmp_path / "dagster")
        walls.append(time.monotonic() - started)
        problems += check_parallel(again) + check_tables(schemas, sample, second)
        problems += check_states(project, again)
    records = {n: again[step_key(n)]["metadata"]["records"] for n in SOURCES}
    spans = [[round(s["end"] - s["start"], 1) for s in run.values()] for run in (first, again)]
    print(f"\n[e2e orchestrator] install {install.seconds:.1f} s; dagster runs "
          f"{[round(w, 1) for w in walls]} s; step seconds {spans}; "
          f"second run's records {records}")
    assert problems == []
    assert {n: r["objects"] for n, r in records.items()} == {n: 1 for n in SOURCES}
