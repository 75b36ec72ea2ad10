"""Exactness: after `meltano run tap-museumcms target-postgres` on the real sample (Tate + AIC,
CC0), each table holds exactly the source's valid records, quarantine exactly the invalid lines."""

from __future__ import annotations

import typing as t

import pytest
from groundtruth import RESOURCE_STREAMS, check_all, stream_truth
from meltano_harness import MeltanoProject
from warehouse import Warehouse

from tap_museumcms.refserver.collection import SampleCollection
from tap_museumcms.refserver.server import ReferenceServer


@pytest.fixture
def sample_server() -> t.Iterator[ReferenceServer]:
    """The reference server on the bundled real sample."""
    with ReferenceServer(SampleCollection()) as server:
        yield server


def test_tables_hold_exactly_the_valid_records(
    meltano_project: MeltanoProject, warehouse: Warehouse, sample_server: ReferenceServer
) -> None:
    env = {
        **warehouse.target_env(),
        "TAP_MUSEUMCMS_API_URL": sample_server.url,
        "TAP_MUSEUMCMS_PAGE_SIZE": "200",
    }
    result = meltano_project.run(
        ["run", "--state-id-suffix", warehouse.schema, "tap-museumcms", "target-postgres"],
        env=env,
    )
    assert result.returncode == 0, result.output[-3000:]

    truths = {stream: stream_truth(sample_server, stream) for stream in RESOURCE_STREAMS}
    problems, compared = check_all(warehouse, sample_server, truths)

    valid_objects = set(truths["objects"].valid)
    tables = warehouse.tables()
    for derived in ("lido_records", "iiif_manifests"):
        if derived not in tables:
            problems.append(f"{derived}: no table (the stream emitted nothing)")
            continue
        rows = warehouse.rows(derived)
        keys = [row["object_id"] for row in rows]
        compared += len(rows)
        if len(keys) != len(set(keys)):
            problems.append(f"{derived}: duplicate object_id")
        if not set(keys) <= valid_objects:
            problems.append(f"{derived}: rows for objects that are not valid records")
        if derived == "lido_records" and set(keys) != valid_objects:
            problems.append(f"{derived}: {len(valid_objects - set(keys))} valid objects missing")

    print(
        "\n[e2e exactness] sample: "
        + ", ".join(f"{s} {len(tr.valid)} valid / {len(tr.invalid_lines)} invalid"
                    for s, tr in truths.items())
        + f"; quarantine rows {warehouse.count('quarantine')}; rows compared {compared}; "
        f"run {result.seconds:.1f} s; requests {sample_server.stats.requests}"
    )
    assert problems == []
