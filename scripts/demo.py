"""`make demo`: the whole job on an embedded default, from PyPI packages alone.

1. starts the reference CMS server on the real sample (Tate + AIC, CC0) in a subprocess;
2. starts a throw-away PostgreSQL (``scripts/pg.py``; or uses ``$MUSEUMCMS_TEST_PG_DSN``);
3. runs ``meltano install`` and ``meltano run tap-museumcms target-postgres`` with the repository's
   meltano.yml (dev environment); plugin virtualenvs are kept in ``.meltano/`` for the next demo,
   Meltano's system database (saved state) lives in a temporary directory so every demo starts
   from zero;
4. prints the rows per table and the quarantine reasons (grouped counts);
5. stops what it started, also on failure or Ctrl-C. Meltano's log is kept in demo-run/.

Exit code 0 when the pipeline ran and the tables are filled, 1 otherwise.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import typing as t
from collections import Counter
from pathlib import Path

from pg import PgParams, postgres

REPO = Path(__file__).resolve().parents[1]
LOG_DIR = REPO / "demo-run"
SCHEMA = "museumcms_dev"


def meltano() -> str:
    """The meltano beside this Python (the project venv's), else the one on PATH."""
    local = Path(sys.executable).parent / "meltano"
    return str(local) if local.exists() else "meltano"


@contextlib.contextmanager
def reference_server(collection: str = "sample") -> t.Iterator[str]:
    """Run ``python -m tap_museumcms.refserver`` and yield its base URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tap_museumcms.refserver", "--port", "0",
         "--collection", collection],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
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


def run_logged(args: list[str], env: dict[str, str], log: Path, title: str) -> float:
    """Run ``meltano <args>`` in the repository, output appended to ``log``; returns seconds.

    Raises:
        RuntimeError: on a non-zero exit (with the end of the log).
        KeyboardInterrupt: after killing the whole process group on Ctrl-C.
    """
    print(f"-> meltano {' '.join(args)}", flush=True)
    started = time.monotonic()
    with log.open("a") as sink:
        sink.write(f"\n===== {title}: meltano {' '.join(args)}\n")
        sink.flush()
        proc = subprocess.Popen(
            [meltano(), *args], cwd=REPO, env=env, stdout=sink, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            code = proc.wait()
        except KeyboardInterrupt:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            raise
    seconds = time.monotonic() - started
    if code != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
        raise RuntimeError(f"meltano {args[0]} failed (exit {code}); end of {log}:\n{tail}")
    print(f"   done in {seconds:.1f} s", flush=True)
    return seconds


def reason_group(reason: str) -> str:
    """A quarantine reason without its record-specific values: quoted text becomes '…'."""
    text = re.sub(r"'[^']*'", "'…'", reason or "(no reason)")
    return re.sub(r"\d{4}-\d{2}-\d{2}T[\d:]+Z?", "…", text)


def report(pg: PgParams, schema: str = SCHEMA) -> int:
    """Print rows per table and grouped quarantine reasons; returns the number of rows."""
    import psycopg

    total = 0
    with psycopg.connect(pg.dsn(), autocommit=True) as con:
        tables = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
                "ORDER BY table_name",
                (schema,),
            )
        ]
        print(f"\nRows per table in {pg.database}.{schema}:")
        for table in tables:
            count = con.execute(f'SELECT count(*) FROM "{schema}"."{table}"').fetchone()[0]
            total += count
            print(f"  {table:<16} {count:>7}")
        if "quarantine" in tables:
            rows = con.execute(
                f'SELECT stream, reason FROM "{schema}"."quarantine"'
            ).fetchall()
            groups = Counter((stream, reason_group(reason)) for stream, reason in rows)
            print(f"\nQuarantine reasons ({len(rows)} records, {len(groups)} kinds):")
            for (stream, reason), count in groups.most_common():
                print(f"  {count:>5}  {stream:<8} {reason[:110]}")
    return total


def main() -> int:
    """Run the demo; see the module docstring."""
    LOG_DIR.mkdir(exist_ok=True)
    log = LOG_DIR / "meltano.log"
    log.write_text("")
    started = time.monotonic()
    try:
        with (
            tempfile.TemporaryDirectory(prefix="museumcms-demo-") as tmp,
            reference_server() as api_url,
            postgres() as pg,
        ):
            print(f"reference server: {api_url} (sample: Tate + AIC, CC0)")
            where = "embedded" if pg.embedded else "from MUSEUMCMS_TEST_PG_DSN"
            print(f"PostgreSQL ({where}): {pg.host}:{pg.port}/{pg.database}")
            env = {
                k: v for k, v in os.environ.items()
                if not k.startswith(("TAP_MUSEUMCMS_", "TARGET_POSTGRES_", "VIRTUAL_ENV"))
            }
            env.update(pg.target_env())
            env.update(
                TAP_MUSEUMCMS_API_URL=api_url,
                TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA=SCHEMA,
                MELTANO_ENVIRONMENT="dev",
                MELTANO_DATABASE_URI=f"sqlite:///{tmp}/meltano.db",
                MELTANO_SEND_ANONYMOUS_USAGE_STATS="false",
                NO_COLOR="1",
            )
            run_logged(["install"], env, log, "install")
            seconds = run_logged(["run", "tap-museumcms", "target-postgres"], env, log, "run")
            total = report(pg)
            print(f"\nPipeline {seconds:.1f} s, demo {time.monotonic() - started:.1f} s; "
                  f"Meltano's log: {log.relative_to(REPO)}")
            return 0 if total > 0 else 1
    except KeyboardInterrupt:
        print("\ninterrupted; everything the demo started is stopped", file=sys.stderr)
        return 130
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        print(f"\ndemo failed: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
