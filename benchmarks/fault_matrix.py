"""The fault matrix: every fault of the reference server against the tap, in one table.

Each row throws one fault (or a few together) at the tap on the JSONL or the OAI-PMH face of the
reference server, runs the tap again from its last STATE wherever the fault stopped it, and
compares what was committed with the server's ground truth::

    .venv/bin/python benchmarks/fault_matrix.py             # about 3 minutes on 2 cores
    .venv/bin/python benchmarks/fault_matrix.py --scale 1 --only "gzip"

The rows of ``tests/faults/fault_rows.py`` run in-process on a fake clock (the command line's own
path, ``TapMuseumCMS.invoke``), their collections ``--scale`` times larger than in the tests. The
rows where real processes or real time matter run ``python -m tap_museumcms`` as a process on the
real clock: SIGTERM and SIGKILL mid-page (LIDO and IIIF on, as by default: building them is where
a signal most often lands), a read timeout against a slow server, a 100 MB line.

Columns: records expected (the server's valid records and tombstones), emitted (distinct records
sent over all runs), quarantined (distinct bad items / expected), lost (valid records never
committed plus bad items never quarantined: must be 0), committed duplicates (a record sent again
after a STATE covered it, or twice in one run: must be 0), requests and TCP connections the server
saw, seconds (wall clock, all runs), the exit code of each run. A record is committed once a STATE
follows it. Exit status: 1 when a row lost or duplicated anything, 2 when a row is otherwise not
exactly the ground truth, else 0.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import shlex
import signal
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests" / "faults"), str(HERE.parent / "tests")]

from fault_rows import ROWS  # noqa: E402
from fault_runs import Outcome, Row, play  # noqa: E402

from tap_museumcms.refserver import Faults  # noqa: E402

#: How many runs a row may take before what is still missing counts as lost.
MAX_RUNS = 80
HUNDRED_MB = 100 * 1024 * 1024


def _hundred_mb_line(server: object) -> None:
    server.collection.update("objects", "obj-0000077",  # type: ignore[attr-defined]
                             description="x" * HUNDRED_MB)


def real_rows() -> list[Row]:
    """The rows that need real processes and real time."""
    rows = []
    for face in ("jsonl", "oai"):
        for name, number in (("SIGTERM mid-page", signal.SIGTERM),
                             ("SIGKILL mid-page", signal.SIGKILL)):
            code = 128 + number if number == signal.SIGTERM else -number  # (-9: no handler)
            kills = (3400, 1000) if face == "jsonl" else (700, 1900)  # inside objects pages
            rows.append(Row(name, face, size=3000, page_size=250, kills=kills,
                            kill_signal=number, real=True, exits=(code, code, 0),
                            settings={"lido_enabled": True, "iiif_enabled": True}))
        rows.append(Row("read timeout (slow server)", face, real=True, size=600, page_size=50,
                        faults=Faults(slow_first_byte=1.5, slow_first_byte_every=6),
                        settings={"request_timeout_seconds": 0.5}))
        rows.append(Row("a 100 MB line / record", face, real=True, size=300, page_size=50,
                        prepare=_hundred_mb_line, unread=("obj-0000077",)))
    return rows


@dataclasses.dataclass
class Line:
    """One line of the table."""

    outcome: Outcome

    @property
    def cells(self) -> list[str]:
        o = self.outcome
        exits = " → ".join(f"{code} (×{n})" if n > 1 else str(code) for code, n in runs(o.exits))
        check = "ok" if not o.problems else o.problems[0][:70]
        rss = max((run.peak_rss_kib for run in o.runs), default=0)
        if rss:
            check += f"; peak RSS {rss / 1024:.0f} MB"
        return [o.row.name, o.row.face, f"{o.expected:,}", f"{o.emitted:,}",
                f"{o.quarantined}/{o.expected_quarantined}", str(o.lost), str(o.duplicates),
                f"{o.requests:,}", str(o.connections), f"{o.seconds:.1f}", exits, check]


def runs(codes: tuple[int, ...]) -> list[tuple[int, int]]:
    """Exit codes run-length encoded: ``(1, 1, 1, 0)`` -> ``[(1, 3), (0, 1)]``."""
    found: list[tuple[int, int]] = []
    for code in codes:
        if found and found[-1][0] == code:
            found[-1] = (code, found[-1][1] + 1)
        else:
            found.append((code, 1))
    return found


HEAD = ["fault", "face", "records expected", "emitted", "quarantined", "lost",
        "committed duplicates", "requests", "connections", "seconds", "exit code", "check"]


def table(lines: list[Line]) -> str:
    rows = [HEAD, ["---"] * len(HEAD), *(line.cells for line in lines)]
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def main(argv: list[str] | None = None) -> int:
    """Run the matrix, print the table; the exit status says whether anything was lost."""
    parser = argparse.ArgumentParser(prog="benchmarks/fault_matrix.py")
    parser.add_argument("--scale", type=int, default=10,
                        help="collections this many times the tests' size (default 10)")
    parser.add_argument("--only", default="", help="rows whose name contains this text")
    parser.add_argument("--no-real", action="store_true", help="skip the real-process rows")
    args = parser.parse_args(argv)
    command = " ".join([".venv/bin/python", "benchmarks/fault_matrix.py",
                        *map(shlex.quote, sys.argv[1:] if argv is None else argv)])
    rows = [row for row in ROWS if args.only.lower() in row.name.lower()]
    real = [] if args.no_real else [r for r in real_rows() if args.only.lower() in r.name.lower()]
    lines = []
    for row in rows:
        lines.append(Line(play(row, max_runs=MAX_RUNS, scale=args.scale, expect=False)))
        print(f"{row.id}: {lines[-1].cells[-1]}", file=sys.stderr, flush=True)
    for row in real:
        with tempfile.TemporaryDirectory() as tmp:
            lines.append(Line(play(row, max_runs=MAX_RUNS, workdir=Path(tmp))))
        print(f"{row.id}: {lines[-1].cells[-1]}", file=sys.stderr, flush=True)
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"Fault matrix, {now}: `{command}` ({len(lines)} rows; in-process rows on a fake "
          f"clock at scale {args.scale}, real-process rows on the real clock)\n")
    print(table(lines))
    if any(line.outcome.lost or line.outcome.duplicates for line in lines):
        return 1
    return 2 if any(line.outcome.problems for line in lines) else 0


if __name__ == "__main__":
    raise SystemExit(main())
