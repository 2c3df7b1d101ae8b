"""Schema version 8 on PostGIS: the big post tables rebuilt as hash-partitioned tables
(``pgschema.PARTITIONED``), so erasing a deletion rewrites one small partition instead of the whole family
(mapaid/pgerase.py).

The rebuild is generic: the new table is made ``LIKE`` the old one and the rows are copied by the columns the
catalog lists, so every column the table has (one a later or an earlier step added included) is carried
over, with its type, collation, default, generation expression and checks. Its primary key, indexes and
foreign keys are made again from the old table's definitions, under their old names, except the foreign
keys that point at a post-family table: a partition referenced by one could not be truncated (the store
deletes dependents explicitly and pgschema's triggers catch any path that forgets). It runs inside the
migration's one transaction (mapaid/migrations.py): all of it or nothing.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from mapaid import pgerase, pgschema


def partition_family(cur: Any) -> None:
    """Rebuild each of ``pgschema.PARTITIONED`` (posts, threads, messages) as partitioned, if not yet;
    then the planner's statistics, without samples of text (``pgschema.NO_STATISTICS``)."""
    for table, key in pgschema.PARTITIONED.items():
        _partition(cur, table, key)
    cur.execute(pgschema.no_statistics("reports"))
    cur.execute(sql.SQL("ANALYZE {}").format(sql.SQL(", ").join(map(sql.Identifier, pgschema.PARTITIONED))))


def _partition(cur: Any, table: str, key: str) -> None:
    kind = cur.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", (table,)).fetchone()
    if kind is None or kind[0] == "p":
        return
    family = list(pgschema.POST_FAMILY)
    for holder, name in cur.execute(
        "SELECT conrelid::regclass::text, conname FROM pg_constraint WHERE contype = 'f'"
        " AND (confrelid = %s::regclass OR (conrelid = %s::regclass AND confrelid::regclass::text = ANY(%s)))"
        " ORDER BY 1, 2",
        (table, table, family),
    ).fetchall():
        cur.execute(
            sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(sql.Identifier(holder), sql.Identifier(name))
        )
    constraints = cur.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass"
        " AND contype IN ('p', 'u', 'f') ORDER BY contype DESC, conname",
        (table,),
    ).fetchall()
    indexes = cur.execute(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = %s"
        " AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)"
        " ORDER BY indexname",
        (table, table),
    ).fetchall()
    old = f"{table}_unpartitioned"
    names = sql.SQL(", ").join(map(sql.Identifier, pgerase.columns(cur, table)))
    order = sql.SQL(", ").join(map(sql.Identifier, pgerase.primary_key(cur, table)))
    cur.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(sql.Identifier(table), sql.Identifier(old)))
    cur.execute(
        sql.SQL(
            "CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED"
            " INCLUDING IDENTITY INCLUDING STORAGE INCLUDING COMMENTS) PARTITION BY HASH ({})"
        ).format(sql.Identifier(table), sql.Identifier(old), sql.Identifier(key))
    )
    for statement in pgschema.partitions(table):
        cur.execute(statement)
    cur.execute(pgschema.no_statistics(table))  # before the ANALYZE below
    cur.execute(
        sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ORDER BY {}").format(
            sql.Identifier(table), names, names, sql.Identifier(old), order
        )
    )
    cur.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(old)))
    for name, definition in constraints:
        cur.execute(
            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
                sql.Identifier(table), sql.Identifier(name), sql.SQL(definition)
            )
        )
    for (definition,) in indexes:
        cur.execute(sql.SQL(definition))
