"""Driving real Meltano from the end-to-end tests: a throw-away project, runs, kills, saved state.

The project is the repository's own ``meltano.yml`` with two test-only changes: the extractor is
installed from the repository (``pip_url: -e <repo>``) and a loader ``target-postgres-fastdrain``
(``inherit_from: target-postgres``, so it shares the stock target's virtualenv) runs
``target_postgres_fastdrain.py``, which can shorten the target's full-drain interval::

    project = MeltanoProject.create(tmp_dir)          # writes meltano.yml
    project.install()                                 # `meltano install` (tap + targets)
    result = project.run(["run", "tap-museumcms", "target-postgres"], env={...})
    result.returncode, result.output, result.seconds
    project.saved_state("dev:tap-museumcms-to-target-postgres")
    # {"singer_state": {"bookmarks": {"objects": {"replication_key_value": ..., "harvest": ...}}}}
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import typing as t
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
FASTDRAIN = Path(__file__).resolve().parent / "target_postgres_fastdrain.py"
FASTDRAIN_LOADER = "target-postgres-fastdrain"
DRAIN_ENV = "MUSEUMCMS_E2E_DRAIN_MINUTES"


def meltano_executable() -> Path:
    """The ``meltano`` installed beside the running Python (the project venv's)."""
    return Path(sys.executable).parent / "meltano"


def project_yaml(repo: Path = REPO) -> dict[str, t.Any]:
    """The repository's meltano.yml, changed for a project outside the repository.

    Returns:
        The parsed YAML, with the extractor's ``pip_url`` = ``-e <repo>``, the extra loader
        ``target-postgres-fastdrain``, and no ``api_url`` in the environments (every test passes
        ``TAP_MUSEUMCMS_API_URL``; one leaves it out on purpose).
    """
    data = yaml.safe_load((repo / "meltano.yml").read_text())
    for environment in data.get("environments") or []:
        plugins = (environment.get("config") or {}).get("plugins") or {}
        for extractor in plugins.get("extractors") or []:
            (extractor.get("config") or {}).pop("api_url", None)
    for extractor in data["plugins"]["extractors"]:
        if extractor["name"] == "tap-museumcms":
            extractor["pip_url"] = f"-e {repo}"
    data["plugins"]["loaders"].append(
        {
            "name": FASTDRAIN_LOADER,
            "inherit_from": "target-postgres",
            "executable": str(FASTDRAIN),
        }
    )
    return data


@dataclasses.dataclass
class RunResult:
    """One finished Meltano command.

    Attributes:
        args: the arguments after ``meltano``.
        returncode: the exit code (negative: killed by that signal).
        output: stdout and stderr together.
        seconds: wall time.
    """

    args: list[str]
    returncode: int
    output: str
    seconds: float

    def lines(self, needle: str) -> list[str]:
        """The output lines that contain ``needle``."""
        return [line for line in self.output.splitlines() if needle in line]


@dataclasses.dataclass
class MeltanoProject:
    """A Meltano project directory and how to run ``meltano`` in it.

    Attributes:
        root: the project directory (holds meltano.yml and .meltano/).
        base_env: environment for every command (settings go in per run).
    """

    root: Path
    base_env: dict[str, str]

    @classmethod
    def create(cls, root: Path, data: dict[str, t.Any] | None = None) -> MeltanoProject:
        """Write ``meltano.yml`` (default: :func:`project_yaml`) into ``root``."""
        root.mkdir(parents=True, exist_ok=True)
        (root / "meltano.yml").write_text(yaml.safe_dump(data or project_yaml(), sort_keys=False))
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("TAP_MUSEUMCMS_", "TARGET_POSTGRES", "MELTANO_", "VIRTUAL_ENV"))
        }
        env.update(
            NO_COLOR="1",
            MELTANO_SEND_ANONYMOUS_USAGE_STATS="false",
            MELTANO_ENVIRONMENT="dev",
            PYTHONUNBUFFERED="1",
        )
        return cls(root=root, base_env=env)

    def env(self, extra: t.Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment of one command: ``base_env`` plus ``extra``."""
        return {**self.base_env, **(extra or {})}

    def run(
        self,
        args: list[str],
        *,
        env: t.Mapping[str, str] | None = None,
        timeout: float = 300,
    ) -> RunResult:
        """Run ``meltano <args>`` to the end (output captured)."""
        started = time.monotonic()
        proc = subprocess.run(
            [str(meltano_executable()), *args],
            cwd=self.root,
            env=self.env(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )
        return RunResult(args, proc.returncode, proc.stdout, time.monotonic() - started)

    def start(
        self, args: list[str], *, log: Path, env: t.Mapping[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Start ``meltano <args>`` in its own process group, output to ``log``."""
        with log.open("ab") as sink:
            return subprocess.Popen(
                [str(meltano_executable()), *args],
                cwd=self.root,
                env=self.env(env),
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def install(self) -> RunResult:
        """``meltano install`` (all plugins); raises with the output when it fails."""
        result = self.run(["install"], timeout=600)
        if result.returncode != 0:
            raise RuntimeError(f"meltano install failed:\n{result.output[-4000:]}")
        return result

    def saved_state(self, state_id: str) -> dict[str, t.Any] | None:
        """What Meltano would pass to the tap now for ``state_id`` (completed, partial merged).

        Read from the system database without starting Meltano (cheap enough to poll while a
        pipeline runs). None when nothing is saved.
        """
        db = self.root / ".meltano" / "meltano.db"
        if not db.exists():
            return None
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as con:
            try:
                row = con.execute(
                    "SELECT completed_state, partial_state FROM state WHERE state_id = ?",
                    (state_id,),
                ).fetchone()
            except sqlite3.OperationalError:
                return None
        if row is None:
            return None
        completed = json.loads(row[0] or "{}")
        partial = json.loads(row[1] or "{}")
        merged = _merge(partial, completed)
        return merged or None

    def state_get(self, state_id: str) -> dict[str, t.Any] | None:
        """``meltano state get <state_id>`` parsed (None when it prints no JSON)."""
        result = self.run(["state", "get", state_id], timeout=120)
        start = result.output.find("{")
        if result.returncode != 0 or start < 0:
            return None
        return json.loads(result.output[start : result.output.rfind("}") + 1])


def _merge(top: dict[str, t.Any], base: dict[str, t.Any]) -> dict[str, t.Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(value, merged[key])
        else:
            merged[key] = value
    return merged


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the whole process group of ``proc`` (meltano, tap, target) and reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def wait_until(
    condition: t.Callable[[], t.Any],
    *,
    timeout: float,
    interval: float = 0.1,
    proc: subprocess.Popen[bytes] | None = None,
) -> t.Any:
    """Poll ``condition`` until it returns something truthy (returned) or ``timeout`` passes.

    Raises:
        TimeoutError: when time runs out, or when ``proc`` ends first.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise TimeoutError(f"process ended (exit {proc.returncode}) before the condition")
        time.sleep(interval)
    raise TimeoutError(f"condition not met within {timeout} s")
