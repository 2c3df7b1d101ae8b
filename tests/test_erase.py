"""A deletion or an edit takes text out of every answer at once and out of the database's files at the
next erase (issue 17, item 5): on PostGIS the erase rewrites only the partitions that held it, each in a
short transaction of its own (mapaid/pgerase.py), so no reader waits for the whole post family.

- Readers see a deletion at once, on both stores; on PostGIS a deletion neither waits for a reader that
  holds the post tables nor makes later readers wait.
- Edited text and deleted text leave the files at the erase; a crash between a deletion and its erase is
  caught by the next erase (what is due is written down in the deletion's own transaction).
- Schema version 8 rebuilds a version-6 PostGIS database's post tables as partitioned, keeping every row
  and every column (one another version may have added too).

The issue's load test (a reader polling /near at 100,000 posts while a client deletes 20 posts in a
minute) is tests/test_deletion_load.py.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import date
from typing import Any

import pandas as pd
import psycopg
import pytest
from databases import postgis_only
from helpers import database_bytes
from peek import peek, peek_one
from pgdb import admin

from mapaid import pgschema
from mapaid.config import DEFAULT_CATEGORIES
from mapaid.pipeline import ingest, rules_for
from mapaid.store import SCHEMA_VERSION, Store, StoreError, open_store
from mapaid.threads import Message, Thread

HOME = (53.9023, 27.5619)
NEAR = (53.9045, 27.5590)


def _add(store: Store, today: date, texts: list[str], at: tuple[float, float] = HOME) -> dict[str, str]:
    """One post per text, each in its own transaction (as people post); {text: id}."""
    ids = {}
    for text in texts:
        frame = pd.DataFrame(
            [{"lat": str(at[0]), "lon": str(at[1]), "kind": "need", "category": "food", "text": text}]
        )
        made = ingest(
            frame, ["row 1"], rules_for(DEFAULT_CATEGORIES, 9, today), store, b"k", with_tokens=True
        )
        ids[text] = str(made.posts.id[0])
    return ids


def _converse(store: Store, post_id: str, today: date, thread: str, message: str) -> None:
    day = today.isoformat()
    first = Message("replier", message, day)
    assert store.start_thread(Thread(thread, post_id, "k", "h", day), first, 5, day, "0" * 64) is None


def test_readers_see_a_deletion_at_once(store: Store, today: date) -> None:
    """Before any erase: the post, its conversations and its reports are gone from every answer."""
    ids = _add(store, today, ["Zyx-going", "Zyx-staying"])
    _converse(store, ids["Zyx-going"], today, "t-going", "v1.Zyx-going-message")
    assert store.add_report(ids["Zyx-going"], "spam", today)
    assert store.delete(ids["Zyx-going"])
    assert store.get(ids["Zyx-going"]) is None
    assert list(store.posts(today, public=False)["text"]) == ["Zyx-staying"]
    page, matched = store.public_page(today, 10, 0)
    assert list(page["text"]) == ["Zyx-staying"] and matched == 1
    assert store.thread("t-going") is None and store.messages("t-going") == []
    assert store.reports_queued() == 0 and store.count() == 1
    assert not store.delete(ids["Zyx-going"])


@postgis_only
def test_a_deletion_neither_waits_for_readers_nor_makes_them_wait(
    store: Store, database: str, today: date
) -> None:
    """PostGIS only: about PostgreSQL's table locks. A reader holds every post partition (a transaction
    that read the table, as a long export does); the poster's deletion still ends at once, and another
    reader sees it gone while the first still reads."""
    ids = _add(store, today, ["Zyx-going", "Zyx-staying"])
    done = threading.Event()
    with admin(database) as reader:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM posts")

        def delete() -> None:
            second = open_store(database)
            try:
                assert second.delete(ids["Zyx-going"])
                done.set()
            finally:
                second.close()

        deleting = threading.Thread(target=delete)
        deleting.start()
        finished = done.wait(timeout=20)
        with admin(database) as other:
            other.execute("SET statement_timeout = '20s'")
            try:
                seen: list[Any] | None = other.execute("SELECT text FROM posts").fetchall()
            except psycopg.errors.QueryCanceled:  # it waited behind the deletion, which waits for the reader
                seen = None
        reader.execute("ROLLBACK")  # lets a deletion that waited for the reader go on
        deleting.join(timeout=60)
    assert finished, "the deletion waited for a reader of the post tables"
    assert seen == [("Zyx-staying",)], "a reader waited for the deletion"


@postgis_only
def test_edited_text_leaves_the_files_at_the_erase(store: Store, database: str, today: date) -> None:
    """PostGIS only: SQLite overwrites the old row as it goes (tests/test_cli.py). The old wording is in
    the files until the erase (the byte search can find it), and gone after it; the new one stays."""
    ids = _add(store, today, ["Zyx-old-wording", "Zyx-other"])
    assert store.set_text(ids["Zyx-old-wording"], "Zyx-new-wording")
    assert store.get(ids["Zyx-old-wording"])["text"] == "Zyx-new-wording"  # type: ignore[index]
    assert b"Zyx-old-wording" in database_bytes(database)  # a heap keeps the old row version
    assert store.erase_removed() == 1  # the one partition that held it
    on_disk = database_bytes(database)
    assert b"Zyx-old-wording" not in on_disk and b"Zyx-new-wording" in on_disk and b"Zyx-other" in on_disk
    assert store.erase_removed() == 0  # nothing left to do


_DELETE_AND_DIE = """
import sys, time
from mapaid.store import open_store
store = open_store(sys.argv[1])
assert store.delete(sys.argv[2])
print("deleted", flush=True)
time.sleep(600)
"""

_ERASE = """
import sys
from mapaid.store import open_store
print("erasing", flush=True)
open_store(sys.argv[1]).erase_removed()
"""


def _start(script: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@postgis_only
def test_a_crash_between_a_deletion_and_its_erase_is_caught_by_the_next(
    store: Store, database: str, today: date
) -> None:
    """PostGIS only. A server is killed after a deletion, before any erase; another's erase is killed while
    it waits for a partition a reader holds. What is due was written in the deletion's own transaction,
    so the next erase, in a process that knew nothing of either, still takes the text off the disk."""
    ids = _add(store, today, ["Zyx-deleted-then-killed", "Zyx-staying"])
    _converse(store, ids["Zyx-deleted-then-killed"], today, "t-killed", "v1.Zyx-killed-message")
    server = _start(_DELETE_AND_DIE, database, ids["Zyx-deleted-then-killed"])
    assert server.stdout is not None and server.stdout.readline().strip() == "deleted"
    server.kill()
    server.wait()
    assert store.get(ids["Zyx-deleted-then-killed"]) is None
    assert b"Zyx-deleted-then-killed" in database_bytes(database)  # the crash left it in the files
    with admin(database) as reader:
        reader.execute("BEGIN")
        # holds every partition of the post family: the erase waits
        reader.execute(
            "SELECT (SELECT count(*) FROM posts) + (SELECT count(*) FROM threads)"
            " + (SELECT count(*) FROM messages)"
        )
        eraser = _start(_ERASE, database)
        assert eraser.stdout is not None and eraser.stdout.readline().strip() == "erasing"
        time.sleep(1.0)
        assert eraser.poll() is None  # still waiting for the reader
        eraser.kill()
        eraser.wait()
        reader.execute("ROLLBACK")
    assert store.erase_removed() >= 3  # the post's partition, its thread's and its message's
    on_disk = database_bytes(database)
    assert b"Zyx-deleted-then-killed" not in on_disk and b"Zyx-killed-message" not in on_disk
    assert b"Zyx-staying" in on_disk


# -- schema version 8: the post tables partitioned -------------------------------------------------

# The post tables of schema version 6 on PostGIS (mapaid/pgschema.py as shipped at version 6).
V6_FAMILY = """
CREATE TABLE posts (
    id text COLLATE "C" PRIMARY KEY,
    kind text COLLATE "C" NOT NULL CHECK (kind IN ('offer', 'need')),
    category text COLLATE "C" NOT NULL,
    text text COLLATE "C" NOT NULL CHECK (char_length(text) BETWEEN 1 AND 280),
    contact text COLLATE "C" CHECK (contact IS NULL OR char_length(contact) <= 100),
    cell bigint NOT NULL,
    district text COLLATE "C" NOT NULL REFERENCES districts (slug),
    created_day date NOT NULL,
    expires_day date NOT NULL,
    status text COLLATE "C" NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'fulfilled', 'hidden')),
    token_hash text COLLATE "C",
    lon double precision NOT NULL,
    lat double precision NOT NULL,
    reply_key text COLLATE "C" CHECK (reply_key IS NULL OR char_length(reply_key) <= 200),
    geom geometry(Point, 4326) GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lon, lat), 4326)) STORED
);
CREATE INDEX posts_cell ON posts (cell, kind, category, district, status, expires_day);
CREATE INDEX posts_geom ON posts USING gist (geom);
CREATE TABLE reports (
    post_id text COLLATE "C" NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    reason text COLLATE "C" NOT NULL CHECK (reason IN ('spam', 'dangerous', 'personal', 'other')),
    day date NOT NULL,
    count integer NOT NULL CHECK (count > 0),
    PRIMARY KEY (post_id, reason, day)
);
CREATE TABLE threads (
    id text COLLATE "C" PRIMARY KEY,
    post_id text COLLATE "C" NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    replier_key text COLLATE "C" NOT NULL CHECK (char_length(replier_key) <= 200),
    token_hash text COLLATE "C" NOT NULL,
    day date NOT NULL
);
CREATE INDEX threads_post ON threads (post_id);
CREATE TABLE messages (
    thread_id text COLLATE "C" NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    seq integer NOT NULL CHECK (seq >= 0),
    sender text COLLATE "C" NOT NULL CHECK (sender IN ('poster', 'replier')),
    message text COLLATE "C" NOT NULL,
    day date NOT NULL,
    PRIMARY KEY (thread_id, seq)
);
"""
FAMILY_ROWS = {
    "posts": "SELECT *, geom::text FROM posts ORDER BY id",
    "cells": "SELECT cell, geom::text FROM cells ORDER BY cell",
    "reports": "SELECT * FROM reports ORDER BY post_id, reason, day",
    "threads": "SELECT * FROM threads ORDER BY id",
    "messages": "SELECT * FROM messages ORDER BY thread_id, seq",
}


def _as_version_6(url: str) -> None:
    """Turn a current database back into a version-6 one holding the same rows, with one column more in
    posts (as a step another branch adds could have made before this one runs)."""
    kept = ("posts", "reports", "threads", "messages")
    with admin(url) as conn, conn.transaction():
        for table in kept:
            conn.execute(f"CREATE TEMP TABLE old_{table} AS SELECT * FROM {table}")  # type: ignore[arg-type]
        conn.execute("DROP TABLE IF EXISTS messages, threads, reports, posts, erase_due, erase_sealed")
        conn.execute(
            "DROP FUNCTION IF EXISTS mapaid_erase_due, mapaid_posts_gone, mapaid_threads_gone CASCADE"
        )
        conn.execute(V6_FAMILY)  # type: ignore[arg-type]
        conn.execute("ALTER TABLE posts ADD COLUMN published boolean NOT NULL DEFAULT false")
        for table in kept:
            columns = ", ".join(
                str(r[0])
                for r in conn.execute(
                    "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0"
                    " AND NOT attisdropped AND attgenerated = '' AND attname <> 'published' ORDER BY attnum",
                    (table,),
                )
            )
            conn.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM old_{table}")  # type: ignore[arg-type]
        conn.execute("UPDATE posts SET published = (id < 'm')")
        conn.execute("UPDATE schema_version SET version = 6")


def _family(url: str, columns: dict[str, str] | None = None) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the family; with ``columns``, only those each table had then (a later step, such as
    the publication rounds' of version 7, adds columns of its own)."""
    if columns is None:
        return {table: peek(url, query) for table, query in FAMILY_ROWS.items()}
    return {table: peek(url, query.replace("*", columns[table], 1)) for table, query in FAMILY_ROWS.items()}


def _columns(url: str) -> dict[str, str]:
    return {
        table: ", ".join(
            str(r[0])
            for r in peek(
                url,
                "SELECT attname FROM pg_attribute WHERE attrelid = ?::regclass AND attnum > 0"
                " AND NOT attisdropped AND attgenerated = '' ORDER BY attnum",
                [table],
            )
        )
        for table in FAMILY_ROWS
    }


@postgis_only
def test_version_6_becomes_partitioned_keeping_every_row_and_column(database: str, today: date) -> None:
    store = open_store(database)
    ids = _add(store, today, [f"Zyx-kept-{i}" for i in range(12)])
    _add(store, today, ["Zyx-elsewhere"], at=NEAR)
    _converse(store, ids["Zyx-kept-0"], today, "t-0", "v1.Zyx-message-0")
    _converse(store, ids["Zyx-kept-1"], today, "t-1", "v1.Zyx-message-1")
    assert (
        store.add_message("t-0", Message("poster", "v1.Zyx-answer-0", today.isoformat()), 9, "2000-01-01")
        == 2
    )
    assert store.add_report(ids["Zyx-kept-2"], "spam", today)
    store.close()
    _as_version_6(database)
    columns = _columns(database)
    before = _family(database, columns)
    assert len(before["posts"]) == 13 and before["posts"][0][-2] in (True, False)  # published, carried
    with pytest.raises(StoreError, match="run `mapaid init-db`"):
        open_store(database)

    store = open_store(database, create=True)  # mapaid init-db
    try:
        assert store.schema_version() == SCHEMA_VERSION
        assert _family(database, columns) == before
        kinds = dict(
            peek(
                database,
                "SELECT relname, relkind::text FROM pg_class WHERE relname IN (?, ?, ?)",
                list(pgschema.PARTITIONED),
            )
        )
        assert kinds == {name: "p" for name in pgschema.PARTITIONED}
        parts = peek_one(database, "SELECT count(*) FROM pg_inherits WHERE inhparent = 'posts'::regclass")
        assert parts == pgschema.PARTITIONS
        pointing_in = peek(
            database,
            "SELECT conname FROM pg_constraint WHERE contype = 'f'"
            " AND confrelid::regclass::text IN ('posts', 'threads', 'messages')",
        )
        assert pointing_in == []
        assert peek(
            database,
            "SELECT confrelid::regclass::text FROM pg_constraint"
            " WHERE contype = 'f' AND conrelid = 'posts'::regclass",
        ) == [("districts",)]
        indexes = {
            r[0]
            for r in peek(
                database, "SELECT indexname FROM pg_indexes WHERE tablename IN ('posts', 'threads')"
            )
        }
        assert {"posts_pkey", "posts_cell", "posts_geom", "threads_pkey", "threads_post"} <= indexes

        # And it works as a version-8 database: a deletion takes the conversation with it, and the erase
        # takes it all off the disk.
        assert b"Zyx-message-0" in database_bytes(database)
        assert store.delete(ids["Zyx-kept-0"])
        assert store.thread("t-0") is None and store.messages("t-0") == []
        assert store.erase_removed() >= 3
        on_disk = database_bytes(database)
        for gone in (b"Zyx-kept-0", b"Zyx-message-0", b"Zyx-answer-0"):
            assert gone not in on_disk
        assert b"Zyx-kept-1" in on_disk and b"Zyx-message-1" in on_disk
    finally:
        store.close()
