"""One ``meltano run <extractor> <loader>`` as a child process: output, exit, the tap's summary.

No orchestrator here: the Dagster asset calls :func:`run_pipeline` and turns the result into a
materialization or a failure::

    result = run_pipeline(["meltano", "--environment=prod", "run", "tap-kenom", "target-postgres"],
                          cwd=Path("/srv/museums"), echo=sys.stdout)
    result.returncode, result.seconds   # 0, 42.1
    result.summary                      # the tap's run summary: {"exit": "complete",
                                        #   "streams": {"objects": {"records": 9800, ...}}, ...}
    result.tail                         # the last lines of output, for a failure message

Every output line is copied to ``echo`` as it comes (Dagster keeps a step's stdout in its compute
logs, not in its event log, so a large harvest's log costs the event database nothing). Meltano
runs in a process group of its own; if the caller is interrupted (a cancelled run), the group
gets SIGTERM, then SIGKILL after ``grace_seconds``.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import typing as t
from pathlib import Path

SUMMARY_MARK = '{"run_summary"'
"""How the tap's one-line JSON run summary starts (Meltano logs it from the tap's stderr)."""


@dataclasses.dataclass
class PipelineResult:
    """A finished ``meltano run``.

    Attributes:
        command: the command line.
        returncode: its exit code (negative: killed by that signal).
        seconds: wall time.
        tail: the last output lines (at most ``tail_lines``).
        summary: the tap's run summary (``{"exit": ..., "streams": {...}}``), None if none came.
    """

    command: list[str]
    returncode: int
    seconds: float
    tail: list[str]
    summary: dict[str, t.Any] | None


def meltano_executable() -> str:
    """The ``meltano`` beside the running Python when there is one, else the one on ``PATH``."""
    beside = Path(sys.executable).parent / "meltano"
    if beside.exists():
        return str(beside)
    return shutil.which("meltano") or "meltano"


def run_command(
    meltano: str, extractor: str, loader: str, environment: str | None = None
) -> list[str]:
    """``meltano [--environment=ENV] run <extractor> <loader>`` as an argument list (no shell)."""
    prefix = [meltano, f"--environment={environment}"] if environment else [meltano]
    return [*prefix, "run", extractor, loader]


def parse_summary(line: str) -> dict[str, t.Any] | None:
    """The run summary in one output line, e.g. Meltano's
    ``... [info ] {"run_summary": {"exit": "complete", ...}} cmd_type=elb ...``; else None."""
    start = line.find(SUMMARY_MARK)
    if start < 0:
        return None
    try:
        value, _end = json.JSONDecoder().raw_decode(line, start)
    except ValueError:
        return None
    summary = value.get("run_summary") if isinstance(value, dict) else None
    return summary if isinstance(summary, dict) else None


def run_pipeline(
    command: list[str],
    *,
    cwd: Path,
    echo: t.TextIO,
    env: t.Mapping[str, str] | None = None,
    tail_lines: int = 40,
    grace_seconds: float = 30,
) -> PipelineResult:
    """Run ``command`` in ``cwd`` to its end, copying its output (stdout and stderr) to ``echo``."""
    started = time.monotonic()
    tail: collections.deque[str] = collections.deque(maxlen=tail_lines)
    summary: dict[str, t.Any] | None = None
    proc = subprocess.Popen(
        command,
        cwd=cwd,
        env=dict(env) if env is not None else None,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            echo.write(line)
            tail.append(line.rstrip("\n"))
            summary = parse_summary(line) or summary
        returncode = proc.wait()
    except BaseException:
        stop(proc, grace_seconds)
        raise
    finally:
        echo.flush()
    return PipelineResult(command, returncode, time.monotonic() - started, list(tail), summary)


def stop(proc: subprocess.Popen[str], grace_seconds: float) -> None:
    """SIGTERM the process group of ``proc``, SIGKILL it if still alive after the grace time."""
    for sig, wait in ((signal.SIGTERM, grace_seconds), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue
