"""Dagster definitions: one asset per source of the Meltano project, harvested in parallel.

Every inherited extractor of ``meltano.yml`` (see :mod:`tap_museumcms.orchestration.sources`)
becomes the asset ``museums/<extractor>``, materialized by ``meltano run <extractor>
target-postgres`` in a child process: a Meltano job of its own, with its own state ID
(``<environment>:<extractor>-to-target-postgres``) in Meltano's system database. The job
``harvest_museums`` selects them all; its executor runs them side by side (the multiprocess
executor here, up to 8 at once; Kubernetes, Celery or Docker executors in a deployment: see the
README), and the schedule ``harvest_museums_daily`` starts it at 03:00 UTC once switched on::

    MELTANO_PROJECT_ROOT=/srv/museums DAGSTER_HOME=/srv/dagster \\
        dagster job execute -m tap_museumcms.orchestration.definitions -j harvest_museums
    dagster dev -m tap_museumcms.orchestration.definitions      # the UI (dagster-webserver)

A deployment that wants another executor, concurrency or cron calls :func:`build_definitions`
from its own module. Nothing runs at import: Dagster calls :func:`defs` when it loads the code.
"""

# No ``from __future__ import annotations`` here: Dagster reads the annotations of an asset's
# function (the context and resource types) as objects when it builds the definitions.

import os
import sys
from pathlib import Path

import dagster as dg
from dagster import AssetExecutionContext

from tap_museumcms.orchestration.meltano_cli import (
    PipelineResult,
    meltano_executable,
    run_command,
    run_pipeline,
)
from tap_museumcms.orchestration.sources import (
    Source,
    default_environment,
    load_sources,
    state_id,
)

GROUP = "museums"
"""Asset group (and first part of every asset key) of the sources."""
POOL = "museum_harvest"
"""Concurrency pool of every harvest: ``dagster instance concurrency set museum_harvest 20``
caps the harvests running at once across all runs and workers (unlimited until set)."""
JOB = "harvest_museums"
SCHEDULE = "harvest_museums_daily"
PROJECT_ROOT_ENV = "MELTANO_PROJECT_ROOT"


class MeltanoProject(dg.ConfigurableResource):
    """The Meltano project the harvests run in (settings and secrets come from its usual
    places: ``meltano.yml``, ``.env``, the worker's environment variables).

    Attributes:
        project_dir: the directory of ``meltano.yml``.
        loader: the loader every source runs into.
        environment: the Meltano environment; unset: ``MELTANO_ENVIRONMENT`` or the project's
            ``default_environment``.
        meltano_bin: the ``meltano`` to run; unset: the one beside this Python, else ``PATH``'s.
    """

    project_dir: str
    loader: str = "target-postgres"
    environment: str | None = None
    meltano_bin: str | None = None

    def active_environment(self) -> str | None:
        """The environment ``meltano run`` will use."""
        return (
            self.environment
            or os.environ.get("MELTANO_ENVIRONMENT")
            or default_environment(Path(self.project_dir))
        )

    def harvest(self, extractor: str) -> tuple[PipelineResult, str]:
        """``meltano run <extractor> <loader>`` to its end: (result, its state ID).

        Raises:
            dg.Failure: when no Meltano environment is active (``meltano run`` would then keep
                no state, and every run would harvest everything again).
        """
        environment = self.active_environment()
        if not environment:
            raise dg.Failure(
                description="no Meltano environment: set `environment`, MELTANO_ENVIRONMENT or "
                "the project's default_environment, else `meltano run` keeps no state"
            )
        command = run_command(
            self.meltano_bin or meltano_executable(), extractor, self.loader, self.environment
        )
        result = run_pipeline(command, cwd=Path(self.project_dir), echo=sys.stdout)
        return result, state_id(environment, extractor, self.loader)


def materialization(result: PipelineResult, sid: str) -> dg.MaterializeResult:
    """What a successful harvest records: its state ID, time, and the tap's per-stream counts."""
    summary = result.summary or {}
    streams = summary.get("streams") or {}
    return dg.MaterializeResult(
        metadata={
            "state_id": sid,
            "seconds": round(result.seconds, 1),
            "exit": str(summary.get("exit", "no run summary")),
            "requests": int(summary.get("requests") or 0),
            "records": dg.MetadataValue.json(
                {name: s.get("records", 0) for name, s in streams.items()}
            ),
            "quarantined": sum(int(s.get("quarantined") or 0) for s in streams.values()),
        }
    )


def failure(source: Source, result: PipelineResult, sid: str) -> dg.Failure:
    """A failed harvest: the exit code and the last lines of Meltano's output."""
    return dg.Failure(
        description=(
            f"meltano run {source.extractor} exited with {result.returncode} after "
            f"{result.seconds:.0f} s; state {sid} keeps what was committed"
        ),
        metadata={
            "state_id": sid,
            "output": dg.MetadataValue.md("```\n" + "\n".join(result.tail) + "\n```"),
        },
    )


def source_asset(source: Source) -> dg.AssetsDefinition:
    """The asset of one source: materialized by ``meltano run <extractor> <loader>``."""

    @dg.asset(
        key=dg.AssetKey([GROUP, source.asset_name]),
        group_name=GROUP,
        description=(
            f"The tables of `{source.extractor}` ({source.protocol}), loaded by "
            f"`meltano run {source.extractor} <loader>` with its own state ID."
        ),
        kinds={"meltano"},
        tags={"protocol": source.protocol},
        metadata={"extractor": source.extractor, "inherit_from": source.inherit_from},
        pool=POOL,
    )
    def harvest(context: AssetExecutionContext, meltano: MeltanoProject) -> dg.MaterializeResult:
        context.log.info(f"meltano run {source.extractor} {meltano.loader}")
        result, sid = meltano.harvest(source.extractor)
        if result.returncode != 0:
            raise failure(source, result, sid)
        context.log.info(f"{source.extractor}: done in {result.seconds:.1f} s, state ID {sid}")
        return materialization(result, sid)

    return harvest


def build_definitions(
    project_root: Path,
    *,
    executor: dg.ExecutorDefinition | None = None,
    max_concurrent: int = 8,
    cron: str = "0 3 * * *",
    loader: str = "target-postgres",
) -> dg.Definitions:
    """The definitions of the Meltano project at ``project_root``.

    Args:
        project_root: the directory of ``meltano.yml``.
        executor: how the steps of a run are executed; default the multiprocess executor with
            ``max_concurrent`` harvests at once (harvests mostly wait on their sources, so more
            than the cores is fine).
        max_concurrent: see ``executor``.
        cron: when ``harvest_museums_daily`` starts the job (UTC; the schedule starts stopped).
        loader: the loader every source runs into.
    """
    assets = [source_asset(source) for source in load_sources(project_root)]
    executor = executor or dg.multiprocess_executor.configured({"max_concurrent": max_concurrent})
    job = dg.define_asset_job(
        JOB,
        selection=dg.AssetSelection.groups(GROUP),
        description="Every source of the Meltano project, each its own `meltano run`.",
    )
    schedule = dg.ScheduleDefinition(
        name=SCHEDULE, job=job, cron_schedule=cron, execution_timezone="UTC"
    )
    return dg.Definitions(
        assets=assets,
        jobs=[job] if assets else [],
        schedules=[schedule] if assets else [],
        resources={"meltano": MeltanoProject(project_dir=str(project_root), loader=loader)},
        executor=executor,
    )


def project_root() -> Path:
    """``$MELTANO_PROJECT_ROOT``, else the working directory (Meltano's own convention: the
    project is where ``meltano`` runs)."""
    configured = os.environ.get(PROJECT_ROOT_ENV)
    return Path(configured) if configured else Path.cwd()


@dg.definitions
def defs() -> dg.Definitions:
    """What ``dagster ... -m tap_museumcms.orchestration.definitions`` loads."""
    return build_definitions(project_root())
