"""How removed data leaves PostgreSQL's files (the PostGIS store, mapaid/pgstore.py).

A heap table keeps a deleted or replaced row in its file until the table is rewritten (``VACUUM`` does
not reliably overwrite it, and ``VACUUM FULL`` keeps every row version an open snapshot might still see:
an autovacuum worker's, another request's). Only a rewrite into new files drops it: copy the rows aside,
``TRUNCATE`` (new, empty files; the old ones are unlinked at commit), write them back in key order. That
needs the table to itself, and every reader of it waits.

So a deletion or an edit does not rewrite anything: it removes the post from every answer at once (a
plain ``DELETE`` or ``UPDATE``), and the triggers of mapaid/pgschema.py name, in the same transaction,
each table that now holds removed text in ``erase_due``. ``erase`` (the store's ``erase_removed``,
run by housekeeping) later rewrites exactly those tables, one short transaction each. The big tables are
hash-partitioned (``pgschema.PARTITIONED``), so a deletion dirties one partition of ``posts`` and maybe
one of ``threads`` and ``messages``: a reader waits at most for one partition's rewrite, never for the
whole family. How many partitions (``pgschema.PARTITIONS``, 64) is a trade we measured (2 shared cores,
heavily loaded; load average 15-30): ``/near``'s query reads every partition (it asks by cell, not by id),
and a rewrite grows faster than the partition (index upkeep row by row). At 100,000 posts the whole
``/near`` page cost 1.12x (32 partitions) and 1.15x (64) of one table, and one partition's rewrite 250 ms
and 150 ms (the whole table: 5.2 s); at 1,000,000 posts the page cost 0.98x and 1.04x, one partition's
rewrite 4.5 s and 1.8 s (the whole table: 180 s at that load; 8.7 s quiet, with the indexes rebuilt).

A query that reads every partition (``/near`` asks by cell) takes their locks one after another, so
rewrites run back to back would have it wait for each in turn, the whole erase. ``erase`` therefore
pauses after each rewrite for as long as the rewrite took (at least ``PAUSE_S``): the readers waiting on
that partition take all their locks and run, and a reader waits for one partition's rewrite at most.

``erase`` takes each table's lock with a short ``lock_timeout``: a long read (an export, a ``pg_dump``)
holding the table would otherwise queue every later reader behind the waiting rewrite. It lets the readers
go first and tries again a few times (about 3 s in all); a table still held then stays due for the next
erase, and is logged (by count). So the bound is the erase's interval, unless a read holds a partition
through every try.

Arrival order: a heap keeps rows where they were appended (``ctid``) and each row carries the id of the
transaction that wrote it (``xmin``). A rewrite writes every row back in key order in one transaction,
and records it (``seal``). The daily round (``mark_unsealed``) names every table or partition holding a
row any other transaction wrote, so the next erase rewrites it too: after it, neither ``ctid`` nor
``xmin`` tells which post came first (a partition holding a single post would otherwise date it by its
``xmin`` against the others).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from psycopg import sql

from mapaid import pgschema

Conn = psycopg.Connection[Any]
Cursor = psycopg.Cursor[Any]

log = logging.getLogger("mapaid.erase")
LOCK_WAIT_MS = 100  # how long a rewrite waits for its table's lock before it lets the readers go first
TRIES = 5  # per table; once one table stayed held, the others of the same erase get one try each
BACKOFF_S = 0.2  # between tries, doubled each time (~3 s in all)
PAUSE_S = 0.05  # after a rewrite, at least: the readers it held go first


def leaves(cur: Cursor, family: Sequence[str] = pgschema.POST_FAMILY) -> list[str]:
    """Every table of the family (the post family unless told) that holds rows: the partitions of the
    partitioned tables, and the other tables themselves, by name."""
    found = []
    for table in family:
        if table in pgschema.PARTITIONED:
            found += [
                str(r[0])
                for r in cur.execute(
                    "SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = %s::regclass"
                    " ORDER BY 1",
                    (table,),
                )
            ]
        else:
            found.append(table)
    return found


def columns(cur: Cursor, table: str) -> list[str]:
    """The table's columns as the catalog has them (whatever a later schema version added), generated
    ones left out: they are computed again when the rows are written back."""
    rows = cur.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0"
        " AND NOT attisdropped AND attgenerated = '' ORDER BY attnum",
        (table,),
    ).fetchall()
    return [str(r[0]) for r in rows]


def primary_key(cur: Cursor, table: str) -> list[str]:
    """The table's primary-key columns, in key order: the order a rewrite writes rows back in."""
    rows = cur.execute(
        "SELECT a.attname FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY"
        " AS k(attnum, n) JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
        " WHERE i.indrelid = %s::regclass AND i.indisprimary ORDER BY k.n",
        (table,),
    ).fetchall()
    return [str(r[0]) for r in rows]


def rewrite(cur: Cursor, table: str) -> None:
    """Inside the caller's transaction, which holds ``table`` (a plain table or one partition): copy its
    rows aside, truncate it, write them back in key order. Afterwards no deleted or replaced row is left
    in its files, its rows lie in key order and all carry this transaction's id. The copy goes at commit.
    """
    names = sql.SQL(", ").join(map(sql.Identifier, columns(cur, table)))
    order = sql.SQL(", ").join(map(sql.Identifier, primary_key(cur, table)))
    cur.execute(
        sql.SQL("CREATE TEMP TABLE erase_copy ON COMMIT DROP AS SELECT {} FROM {}").format(
            names, sql.Identifier(table)
        )
    )
    cur.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(table)))
    cur.execute(
        sql.SQL("INSERT INTO {} ({}) SELECT {} FROM erase_copy ORDER BY {}").format(
            sql.Identifier(table), names, names, order
        )
    )
    cur.execute("DROP TABLE erase_copy")
    seal(cur, [table])


def seal(cur: Cursor, tables: Sequence[str]) -> None:
    """Record that the caller's transaction wrote ``tables`` whole, in key order (``erase_sealed``)."""
    cur.execute(
        "INSERT INTO erase_sealed (relation, xid) SELECT unnest(%s::text[]), pg_current_xact_id()::xid"
        " ON CONFLICT (relation) DO UPDATE SET xid = excluded.xid",
        (list(tables),),
    )


def reseal(cur: Cursor, family: Sequence[str]) -> None:
    """Rewrite a whole family of small tables inside the caller's transaction, after taking them all.
    The account tables (``pgschema.ACCOUNT_FAMILY``) are resealed when an account or a password goes, so
    the old argon2 hash, which could be attacked offline, leaves their files as SQLite's secure_delete
    zeroes it."""
    cur.execute(
        sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(
            sql.SQL(", ").join(map(sql.Identifier, family))
        )
    )
    for table in family:
        rewrite(cur, table)


def due(cur: Cursor) -> list[str]:
    """The family's tables that hold removed text (or arrival order) until the next erase."""
    return [str(r[0]) for r in cur.execute("SELECT DISTINCT relation FROM erase_due ORDER BY 1")]


def mark_unsealed(cur: Cursor) -> int:
    """Name for the next erase every table or partition of the family that holds a row written by
    another transaction than the one that last wrote it whole (``erase_sealed``): posts, changes,
    reports and messages since. The daily round makes them lose the order in which they came. One
    sequential read of each table; how many."""
    found: list[str] = []
    for table in pgschema.POST_FAMILY:
        found += [
            str(r[0])
            for r in cur.execute(
                sql.SQL(
                    "SELECT r.relation FROM (SELECT tableoid::regclass::text AS relation, xmin FROM {}) AS r"
                    " LEFT JOIN erase_sealed AS s ON s.relation = r.relation"
                    " GROUP BY r.relation HAVING bool_or(s.xid IS NULL OR r.xmin <> s.xid)"
                ).format(sql.Identifier(table))
            )
        ]
    if found:
        cur.execute("INSERT INTO erase_due (relation) SELECT unnest(%s::text[])", (found,))
    return len(found)


def erase(db: Conn, sleep: Callable[[float], None] = time.sleep) -> int:
    """Rewrite every table ``erase_due`` names, each in its own transaction (``db`` in autocommit);
    how many were rewritten. Another process erasing at the same time is harmless: each table is
    rewritten by whichever takes it first, and the other finds it done."""
    with db.cursor() as cur:
        known = set(leaves(cur))
        names = due(cur)
    done = held = 0
    for name in names:
        if name not in known:  # a table a later schema dropped or renamed: nothing of it to erase
            db.execute("DELETE FROM erase_due WHERE relation = %s", (name,))
            continue
        started = time.monotonic()
        result = _erase_one(db, name, 1 if held else TRIES, sleep)
        if result == "done":
            done += 1
            sleep(max(PAUSE_S, time.monotonic() - started))  # the readers it held go first
        held += result == "held"
    if held:
        log.warning("erase: %d tables stay due for the next erase: a long read held them", held)
    return done


def _erase_one(db: Conn, table: str, tries: int, sleep: Callable[[float], None]) -> str:
    """Rewrite ``table`` if it is still due ("done"; "gone": another process did it), letting readers go
    first while its lock is busy ("held": it was busy at every try)."""
    wait = BACKOFF_S
    for attempt in range(tries):
        if attempt:
            sleep(wait)
            wait *= 2
        try:
            with db.transaction(), db.cursor() as cur:
                cur.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(f"{LOCK_WAIT_MS}ms")))
                cur.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(sql.Identifier(table)))
                cur.execute("SET LOCAL lock_timeout = 0")
                # Read after the lock: every deletion that named it has committed, and no other can run.
                cur.execute("DELETE FROM erase_due WHERE relation = %s", (table,))
                if cur.rowcount == 0:
                    return "gone"
                rewrite(cur, table)
            return "done"
        except psycopg.errors.LockNotAvailable:
            continue
    return "held"
