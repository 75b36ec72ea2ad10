"""The PostgreSQL side of the end-to-end tests: one schema per test, read back as plain values.

    wh = Warehouse(pg, "e2e_exactness_1a2b3c")
    wh.target_env()     # {"TARGET_POSTGRES_HOST": "127.0.0.1", ..., "..._TARGET_SCHEMA": ...}
    wh.rows("objects")  # [{"object_id": "T00938", "title": ..., "_sdc_deleted_at": None, ...}]
"""

from __future__ import annotations

import datetime as dt
import decimal
import typing as t

import psycopg
from psycopg import sql
from psycopg.rows import dict_row


class Warehouse:
    """One target schema in the session's PostgreSQL.

    Args:
        pg: connection parameters (``scripts/pg.py`` ``PgParams``).
        schema: the schema the target writes to.
    """

    def __init__(self, pg: t.Any, schema: str) -> None:
        self.pg = pg
        self.schema = schema

    def target_env(self) -> dict[str, str]:
        """Environment variables that point target-postgres (and its variants) at the schema."""
        return {**self.pg.target_env(), "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": self.schema}

    def connect(self) -> psycopg.Connection[dict[str, t.Any]]:
        """A new autocommit connection returning dict rows."""
        return psycopg.connect(self.pg.dsn(), autocommit=True, row_factory=dict_row)

    def tables(self) -> set[str]:
        """Tables in the schema."""
        with self.connect() as con:
            rows = con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (self.schema,),
            ).fetchall()
        return {r["table_name"] for r in rows}

    def rows(self, table: str) -> list[dict[str, t.Any]]:
        """Every row of ``table``, values made plain (see :func:`plain`)."""
        query = sql.SQL("SELECT * FROM {}.{}").format(
            sql.Identifier(self.schema), sql.Identifier(table)
        )
        with self.connect() as con:
            return [{k: plain(v) for k, v in row.items()} for row in con.execute(query)]

    def count(self, table: str) -> int:
        """Rows in ``table`` (0 when it does not exist)."""
        if table not in self.tables():
            return 0
        query = sql.SQL("SELECT count(*) AS n FROM {}.{}").format(
            sql.Identifier(self.schema), sql.Identifier(table)
        )
        with self.connect() as con:
            row = con.execute(query).fetchone()
        return int(row["n"]) if row else 0

    def drop(self) -> None:
        """Drop the schema and everything in it."""
        with self.connect() as con:
            con.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(self.schema))
            )


def plain(value: t.Any) -> t.Any:
    """A database value as the JSON value it came from.

    ``timestamp`` → ``"YYYY-MM-DDTHH:MM:SSZ"`` (UTC; a naive one is UTC), ``date`` → ISO date,
    integral ``numeric`` → int, other ``numeric`` → float; JSON columns arrive as Python values.
    """
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value
