"""Look into a test database on either store with one read-only SQL statement, for checks the ``Store``
protocol has no call for (what a table holds, which columns it has). The product never does this: all of
its SQL is in the stores (mapaid/sqlitestore.py, mapaid/pgstore.py).

Write the statement in SQL both stores speak, with ``?`` placeholders (turned into ``%s`` for
PostgreSQL). Values come back alike from both: a day as its ISO text (SQLite keeps days as text), a blob
as ``bytes``. ``poke`` is the one writing twin, for a test that must put a database into a state no
``Store`` call makes (rows an older mapaid left, a login aged by hours); each use says why.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from databases import is_postgres


def _plain(value: Any) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, memoryview):
        return value.tobytes()
    return value


def _pg_sql(sql: str) -> str:
    assert "%" not in sql, "write a literal % as a parameter"
    return sql.replace("?", "%s")


def peek(database: str, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Every row of one read-only statement, as plain tuples."""
    if is_postgres(database):
        import psycopg

        with psycopg.connect(database) as conn:
            conn.read_only = True
            rows = conn.execute(_pg_sql(sql), params).fetchall()  # type: ignore[arg-type]
    else:
        conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
        try:
            rows = conn.execute(sql, params).fetchall()
        finally:
            conn.close()
    return [tuple(_plain(v) for v in row) for row in rows]


def peek_one(database: str, sql: str, params: Sequence[Any] = ()) -> Any:
    """The single value of a statement that yields one row of one column (a count, a version)."""
    ((value,),) = peek(database, sql, params)
    return value


def poke(database: str, sql: str, params: Sequence[Any] = ()) -> int:
    """Run one writing statement, committed; how many rows it changed."""
    if is_postgres(database):
        import psycopg

        with psycopg.connect(database) as conn:
            return conn.execute(_pg_sql(sql), params).rowcount  # type: ignore[arg-type]
    conn = sqlite3.connect(database)
    try:
        with conn:
            return conn.execute(sql, params).rowcount
    finally:
        conn.close()


def columns(database: str, table: str) -> list[str]:
    """The names of a table's columns, in their order."""
    if is_postgres(database):
        rows = peek(
            database,
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
            (table,),
        )
    else:
        rows = [(r[1],) for r in peek(database, f"PRAGMA table_info({table})")]
    return [r[0] for r in rows]


def peek_dicts(database: str, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """Every row of one read-only statement, as dicts by column name."""
    if is_postgres(database):
        import psycopg

        with psycopg.connect(database) as conn:
            conn.read_only = True
            cur = conn.execute(_pg_sql(sql), params)  # type: ignore[arg-type]
            names = [d.name for d in cur.description or ()]
            rows = cur.fetchall()
    else:
        conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
        try:
            cur = conn.execute(sql, params)
            names = [d[0] for d in cur.description]
            rows = cur.fetchall()
        finally:
            conn.close()
    return [dict(zip(names, (_plain(v) for v in row), strict=True)) for row in rows]
