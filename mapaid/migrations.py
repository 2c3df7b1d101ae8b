"""Schema versions and the steps between them, for both stores: one small runner instead of Alembic
(which would bring SQLAlchemy for a handful of steps).

Each database keeps its version in a one-row ``schema_version`` table. ``upgrade`` brings a database from
the version it has to ``SCHEMA_VERSION`` in ONE transaction (SQLite and PostgreSQL both run DDL inside a
transaction), so a failed or killed upgrade leaves the database as it was: each step of ``STEPS`` in turn
for the database's dialect, then the current schema's ``CREATE ... IF NOT EXISTS`` (new tables of the
version, and the whole schema of a new database), then the new version. ``check`` refuses a database this
mapaid cannot use and says what to run; an older one is never upgraded behind the operator's back (an
upgrade may rewrite whole tables), it waits for ``mapaid init-db``.

A step that has no function for a dialect marks a version no database of that dialect was ever at (the
PostGIS store begins at version 5); a new version adds one step with both functions.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from mapaid.store import POST_COLUMNS, SCHEMA_VERSION, StoreError

Dialect = Literal["sqlite", "postgresql"]


@dataclass(frozen=True)
class Step:
    """What brings a database from version ``to - 1`` to ``to``, per dialect (None: never needed)."""

    to: int
    why: str
    sqlite: Callable[[sqlite3.Connection], None] | None = None
    postgresql: Callable[[Any], None] | None = None  # takes a psycopg connection


class Schema(Protocol):
    """What a store gives the runner: its dialect, a name for messages (never a password), its version,
    its own transaction, and the current schema's statements."""

    @property
    def dialect(self) -> Dialect: ...

    def where(self) -> str: ...
    def schema_version(self) -> int | None: ...
    def schema_transaction(self) -> AbstractContextManager[Any]: ...
    def create_current(self, conn: Any) -> None: ...
    def write_version(self, conn: Any, version: int, first: bool) -> None: ...


# -- SQLite's steps (tables as mapaid/sqlitestore.py defines them now) -------------------------------
_V1_POST_COLUMNS = (*POST_COLUMNS[: POST_COLUMNS.index("reply_key")], "token_hash")


def _posts_without_rowid(db: sqlite3.Connection) -> None:
    """Posts rebuilt as a WITHOUT ROWID table keyed by the random id, every row and column kept. The old
    table's pages are overwritten as they are freed (``secure_delete``)."""
    from mapaid.sqlitestore import POSTS_INDEX, POSTS_TABLE

    db.execute(POSTS_TABLE.format(name="posts_v2"))
    columns = ", ".join(_V1_POST_COLUMNS)
    db.execute(f"INSERT INTO posts_v2 ({columns}) SELECT {columns} FROM posts ORDER BY id")  # noqa: S608
    db.execute("DROP TABLE posts")
    db.execute("ALTER TABLE posts_v2 RENAME TO posts")
    db.execute(POSTS_INDEX)


def _reports(db: sqlite3.Connection) -> None:
    from mapaid.sqlitestore import REPORTS_TABLE

    db.execute(REPORTS_TABLE)


def _reply_key(db: sqlite3.Connection) -> None:
    from mapaid.threads import add_reply_key_column

    add_reply_key_column(db)


def _walking_network(db: sqlite3.Connection) -> None:
    from mapaid.sqlitestore import WALK_CELLS_TABLE

    db.execute(WALK_CELLS_TABLE)


def _form_once(db: sqlite3.Connection) -> None:
    from mapaid.sqlitestore import FORM_ONCE_TABLE

    db.execute(FORM_ONCE_TABLE)


_V6_POST_COLUMNS = (*POST_COLUMNS, "token_hash")
# What no time finer than a publication round (issue 17) leaves of older rows: the audit trail keeps days,
# and the short-lived rows that kept seconds (one-form rows, coordinators' logins) go; their owners make
# them again (a form is sent once more, a coordinator logs in once more).
_COARSEN = (
    ("audit", "UPDATE audit SET at = substr(at, 1, 10)"),
    ("form_once", "DELETE FROM form_once"),
    ("sessions", "DELETE FROM sessions"),
)


def _publication_rounds(db: sqlite3.Connection) -> None:
    """Posts may wait for their publication round (status ``pending``) and keep a change for it
    (``draft_text``, ``draft_expires``): the table is rebuilt with the new CHECK and columns, every row
    kept, as SQLite's own procedure for a changed constraint does (``SQLiteStore.init_schema`` turns
    foreign keys off around the upgrade, so conversations and reports stay; they are checked here)."""
    from mapaid.sqlitestore import POSTS_INDEX, POSTS_TABLE

    db.execute(POSTS_TABLE.format(name="posts_v7"))
    columns = ", ".join(_V6_POST_COLUMNS)
    db.execute(f"INSERT INTO posts_v7 ({columns}) SELECT {columns} FROM posts ORDER BY id")  # noqa: S608
    db.execute("DROP TABLE posts")
    db.execute("ALTER TABLE posts_v7 RENAME TO posts")
    db.execute(POSTS_INDEX)
    broken = db.execute("PRAGMA foreign_key_check").fetchall()
    if broken:  # what SQLite would raise with foreign keys on: the whole upgrade rolls back
        raise sqlite3.IntegrityError(f"FOREIGN KEY constraint failed: {len(broken)} rows point at nothing")
    tables = {str(r[0]) for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    for table, statement in _COARSEN:
        if table in tables:  # a file from before logins came has no sessions yet
            db.execute(statement)


def _nothing(db: sqlite3.Connection) -> None:
    """A version whose change is PostgreSQL's alone: SQLite overwrites removed rows as they go."""


def _devices(db: sqlite3.Connection) -> None:
    from mapaid.sqlitestore import DEVICES_TABLE

    db.execute(DEVICES_TABLE)


def _blocked_keys(db: sqlite3.Connection) -> None:
    from mapaid.threads import add_blocked_keys_table

    add_blocked_keys_table(db)


# -- PostgreSQL's steps -----------------------------------------------------------------------------


def _pg_form_once(conn: Any) -> None:
    from mapaid.pgschema import FORM_ONCE_TABLE

    conn.execute(FORM_ONCE_TABLE)


def _pg_publication_rounds(conn: Any) -> None:
    """As SQLite's step: ``pending`` allowed, the draft columns, the ``fresh`` mark of conversations'
    and reports' rows that the next round clears (every row written since the last round then carries the
    round's transaction id), and the coarsened times."""
    for statement in (
        "ALTER TABLE posts DROP CONSTRAINT IF EXISTS posts_status_check",
        "ALTER TABLE posts ADD CONSTRAINT posts_status_check"
        " CHECK (status IN ('open', 'fulfilled', 'hidden', 'pending'))",
        'ALTER TABLE posts ADD COLUMN IF NOT EXISTS draft_text text COLLATE "C"'
        " CHECK (draft_text IS NULL OR char_length(draft_text) BETWEEN 1 AND 280)",
        "ALTER TABLE posts ADD COLUMN IF NOT EXISTS draft_expires date",
        *(
            f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS fresh boolean NOT NULL DEFAULT false"
            for table in ("threads", "messages", "reports")
        ),
        *(
            f"ALTER TABLE {table} ALTER COLUMN fresh SET DEFAULT true"
            for table in ("threads", "messages", "reports")
        ),
        *(statement for _, statement in _COARSEN),
    ):
        conn.execute(statement)


def _pg_partitioned(conn: Any) -> None:
    from mapaid.pgpartition import partition_family

    partition_family(conn)


def _pg_devices(conn: Any) -> None:
    from mapaid.pgschema import DEVICES_TABLE

    conn.execute(DEVICES_TABLE)


def _pg_blocked_keys(conn: Any) -> None:
    from mapaid.pgschema import BLOCKED_TABLE

    conn.execute(BLOCKED_TABLE)


STEPS: tuple[Step, ...] = (
    Step(2, "posts keyed by their random id alone (no rowid that counts them)", sqlite=_posts_without_rowid),
    Step(3, "residents' reports", sqlite=_reports),
    Step(4, "posts.reply_key, threads and messages (private replies)", sqlite=_reply_key),
    Step(5, "walk_cells (walking distances on the street graph)", sqlite=_walking_network),
    Step(
        6, "form_once (one form, one post, across app servers)", sqlite=_form_once, postgresql=_pg_form_once
    ),
    Step(
        7,
        "publication rounds: pending posts and drafts; no time finer than a round kept",
        sqlite=_publication_rounds,
        postgresql=_pg_publication_rounds,
    ),
    Step(
        8,
        "PostGIS: posts, threads and messages hash-partitioned, erase_due and its triggers (a deletion is"
        " erased by rewriting one partition, not the whole family under one lock)",
        sqlite=_nothing,
        postgresql=_pg_partitioned,
    ),
    Step(
        9,
        "devices (coordinators' known devices: a login lane of their own)",
        sqlite=_devices,
        postgresql=_pg_devices,
    ),
    Step(
        10,
        "blocked_keys (a poster's blocked repliers)",
        sqlite=_blocked_keys,
        postgresql=_pg_blocked_keys,
    ),
)
FIRST = {"sqlite": 1, "postgresql": 5}  # the oldest version each dialect's databases can have


def _newer(where: str, found: int) -> str:
    return f"{where} has schema version {found}, from a newer mapaid (this one has {SCHEMA_VERSION})"


def upgrade(db: Schema) -> int | None:
    """Create the schema or upgrade an older one, in one transaction; the version found (None: new)."""
    found = db.schema_version()
    if found is not None and found > SCHEMA_VERSION:
        raise StoreError(_newer(db.where(), found))
    if found is not None and found < FIRST[db.dialect]:
        raise StoreError(f"{db.where()} has schema version {found}, which no {db.dialect} database had")
    with db.schema_transaction() as conn:
        for step in STEPS:
            if found is not None and found < step.to:
                run = getattr(step, db.dialect)
                if run is None:
                    raise StoreError(f"{db.where()}: no {db.dialect} step to schema version {step.to}")
                run(conn)
        db.create_current(conn)
        db.write_version(conn, SCHEMA_VERSION, found is None)
    return found


def check(db: Schema) -> None:
    """Refuse a database this mapaid cannot use, saying what to run."""
    found = db.schema_version()
    if found is None:
        raise StoreError(f"{db.where()} is not a mapaid database yet; run `mapaid init-db`")
    if found > SCHEMA_VERSION:
        raise StoreError(_newer(db.where(), found))
    if found < SCHEMA_VERSION:
        raise StoreError(
            f"{db.where()} has schema version {found}, this mapaid needs {SCHEMA_VERSION}; run "
            "`mapaid init-db` to upgrade it (it keeps every post)"
        )
