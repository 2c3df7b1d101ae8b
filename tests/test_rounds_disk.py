"""What the database keeps dates nobody's action more finely than a publication round (issue 17, items 2,
3 and 9), and several servers publish each round once.

A dozen posts made at different seconds of one window (by the form, which writes a one-form row, and by
the API), a coordinator's login and moderation, conversations and reports, then the rounds: every table
read with plain SQL (on PostgreSQL with each row's ``xmin``) holds no number or text that is a time finer
than a round window, and the rows of one round's posts (and on PostgreSQL the conversations and reports
written since the last round) all carry the round's transaction id, lying in id order. SQLite's pages
keep the order rows came in until the daily VACUUM rewrites them (``Store.compact``)."""

from __future__ import annotations

import re
import sqlite3
import struct
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import h3.api.basic_int as h3
import pandas as pd
from conftest import TEST_NOW
from databases import is_postgres, sqlite_only
from flask import Flask
from peek import peek, peek_one
from test_coordinator import PASSWORD, login
from test_posting_flow import _form, _submit
from test_rounds import counts, keeper_for, post, rounds_app, window_with_room

from mapaid import accounts, moderation
from mapaid.clock import FixedClock
from mapaid.config import DEFAULT_CATEGORIES
from mapaid.housekeeping import run_once
from mapaid.models import AuditEntry, SessionRecord
from mapaid.pipeline import ingest, rules_for
from mapaid.rounds import Schedule
from mapaid.store import Store
from mapaid.threads import Message, Thread

CELLS = [h3.int_to_str(c) for c in h3.grid_disk(h3.latlng_to_cell(53.9023, 27.5619, 9), 2)]
EPOCH_S = (1.5e9, 2.5e9)  # what a time in seconds since the epoch would look like, around now
EPOCH_MS = (1.5e12, 2.5e12)
ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")


def _tables(database: str) -> list[str]:
    if is_postgres(database):
        import psycopg

        with psycopg.connect(database) as conn:
            rows = conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                " AND tablename <> 'spatial_ref_sys' ORDER BY tablename"
            ).fetchall()
        return [str(r[0]) for r in rows]
    conn = sqlite3.connect(database)
    try:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").fetchall()
    finally:
        conn.close()
    return [str(r[0]) for r in rows]


def read_everything(database: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table as plain SQL gives it, with ``xmin`` and ``ctid`` on PostgreSQL."""
    found: dict[str, list[dict[str, Any]]] = {}
    if is_postgres(database):
        import psycopg
        from psycopg.rows import dict_row

        with psycopg.connect(database, row_factory=dict_row) as conn:
            for table in _tables(database):
                rows = conn.execute(f'SELECT xmin::text AS xmin, ctid::text AS ctid, * FROM "{table}"')
                found[table] = list(rows.fetchall())
        return found
    conn = sqlite3.connect(database)
    conn.row_factory = sqlite3.Row
    try:
        for table in _tables(database):
            found[table] = [dict(r) for r in conn.execute(f'SELECT * FROM "{table}"')]
    finally:
        conn.close()
    return found


def finer_than(window_s: int, table: str, column: str, value: Any) -> str | None:
    """Why ``value`` would be a time finer than a round window (None: it is not)."""
    if isinstance(value, datetime):
        return f"{table}.{column} is a timestamp {value}"
    if isinstance(value, str) and ISO_TIME.search(value):
        return f"{table}.{column} holds a time of day {value!r}"
    if isinstance(value, int | float) and not isinstance(value, bool):
        if EPOCH_S[0] <= value <= EPOCH_S[1] and value % window_s:
            return f"{table}.{column} = {value} is a second, not a window's start"
        if EPOCH_MS[0] <= value <= EPOCH_MS[1] and value % (window_s * 1000):
            return f"{table}.{column} = {value} is a millisecond, not a window's start"
    return None


def _meta_lease_fix(table: str, row: dict[str, Any]) -> dict[str, Any]:
    """Meta keeps values as text: leases are numbers in it."""
    if table == "meta" and str(row.get("key", "")).startswith("lease_"):
        return {**row, "value": int(row["value"])}
    return row


def _busy_window(config: dict[str, Any], clock: FixedClock, store: Store) -> tuple[Flask, Schedule, int]:
    app = rounds_app(config, clock, "30")
    schedule: Schedule = app.extensions["mapaid.schedule"]
    accounts.add(store, "anna", PASSWORD, clock.today())
    return app, schedule, window_with_room(schedule, TEST_NOW, 0.6, 0.95)


def _at(schedule: Schedule, window: int, second: float) -> datetime:
    return datetime.fromtimestamp(window * schedule.window_ms / 1000 + second, UTC)


def test_no_table_keeps_a_time_finer_than_a_round_and_a_rounds_rows_share_its_transaction(
    config: dict[str, Any], clock: FixedClock, database: str, store: Store
) -> None:
    app, schedule, window = _busy_window(config, clock, store)
    clock.set(_at(schedule, window, 0))
    keeper = keeper_for(app, database)
    keeper.tick()  # the day's clean-up: its lease
    resident, coordinator = app.test_client(), app.test_client()
    ids = []
    for i in range(12):  # a dozen posts at seconds 11, 74, 137, ... of the window, before its round
        clock.set(_at(schedule, window, 11 + 63 * i))
        if i % 2:
            ids.append(post(resident, f"post {i}", CELLS[i])["id"])
        else:
            assert _submit(resident, _form(resident), cell=CELLS[i], text=f"post {i}").status_code == 303
    clock.set(_at(schedule, window, 901))
    assert login(coordinator).status_code == 302
    before_first = _xid(database)  # every post above was written by an earlier transaction
    clock.set(schedule.moment(window))
    keeper.tick()
    keeper.settle()
    assert keeper.published == 1
    assert counts(resident)[1] >= 12
    # The next window: a conversation, a report, a hide; then its round.
    clock.set(schedule.moment(window) + timedelta(seconds=17))
    day = clock.today().isoformat()
    thread = Thread("a" * 20, ids[0], "key", "hash", day)
    assert store.start_thread(thread, Message("replier", "v1.x", day), 10, day, "0" * 64) is None
    clock.set(schedule.moment(window) + timedelta(seconds=301))
    assert store.add_message(thread.id, Message("poster", "v1.y", day), 10, day) == 2
    assert store.add_report(ids[1], "spam", clock.today())
    assert coordinator.get("/coordinator/posts").status_code == 200
    clock.set(schedule.moment(window) + timedelta(seconds=444))
    hidden = ids[2]  # a hide is immediate, its moment public: its row has its own transaction
    assert moderation.moderate(store, hidden, "hide", "anna", clock.now(), at_once=False)
    before_second = _xid(database)
    clock.set(schedule.moment(window + 1))
    keeper.tick()
    keeper.settle()  # the erase that follows the round, in its own thread
    assert keeper.published == 2

    everything = read_everything(database)
    window_s = schedule.bucket_seconds()
    problems = [
        why
        for table, rows in everything.items()
        for row in rows
        for column, value in _meta_lease_fix(table, row).items()
        if column not in ("xmin", "ctid")
        for why in [finer_than(window_s, table, column, value)]
        if why
    ]
    assert problems == []
    assert {r["at"] for r in everything["form_once"]} == {window * window_s}
    assert {(r["created"], r["seen"]) for r in everything["sessions"]} == {
        (window * window_s, window * window_s)
    }
    assert [r["at"] for r in everything["audit"]] == [clock.today().isoformat()]
    if not is_postgres(database):
        return
    # The round wrote its posts anew in its one transaction; the erase that follows it (rounds.publish)
    # rewrote each partition the round touched, whole and in key order, in one transaction of its own. So
    # every row of a partition shares one transaction id, later than every post's own writing, and lies in
    # id order: nothing in xmin or ctid orders the posts by when they came, or dates one before its round.
    posts = [r for r in everything["posts"] if r["text"].startswith("post ") and r["id"] != hidden]
    assert len(posts) == 11
    held = _partitions_of(database, "posts", [r["id"] for r in posts])
    for partition in held:
        rows = [
            r for r in peek(database, f"SELECT id, xmin::text, ctid::text FROM {partition}") if r[0] != hidden
        ]
        assert len({xmin for _, xmin, _ in rows}) == 1, f"{partition} holds rows of several transactions"
        (xmin,) = {xmin for _, xmin, _ in rows}
        assert int(xmin) > before_first, f"{partition} keeps a post's own transaction"
        in_table = [i for i, _, _ in sorted(rows, key=lambda r: tuple(map(int, r[2].strip("()").split(","))))]
        assert in_table == sorted(in_table), f"{partition}'s rows lie in the order they came, not by id"
    assert all(int(r["xmin"]) > before_first for r in everything["cells"])
    fresh = [r for t in ("threads", "messages", "reports") for r in everything[t]]
    assert len(fresh) == 4 and all(int(r["xmin"]) > before_second for r in fresh)
    assert all(r["fresh"] is False for r in fresh)


def _xid(database: str) -> int:
    """A transaction id taken now: every row written before has a smaller one (PostgreSQL; else 0)."""
    if not is_postgres(database):
        return 0
    return int(peek_one(database, "SELECT pg_current_xact_id()::text"))


def _partitions_of(database: str, table: str, ids: list[str]) -> set[str]:
    return {
        str(r[0])
        for r in peek(
            database, f"SELECT DISTINCT tableoid::regclass::text FROM {table} WHERE id = ANY(?)", [ids]
        )
    }


def test_several_servers_publish_one_round_once(
    config: dict[str, Any], clock: FixedClock, database: str, store: Store
) -> None:
    """Two apps on one database (two server processes), each with its own housekeeper, wake at the same
    round's moment at once: one publishes, the other finds the round taken, the revision moves once."""
    apps = [rounds_app(config, clock, "30") for _ in range(2)]
    schedule: Schedule = apps[0].extensions["mapaid.schedule"]
    window = window_with_room(schedule, TEST_NOW, 0.3, 0.9)
    clock.set(_at(schedule, window, 5))
    keepers = [keeper_for(app, database) for app in apps]
    for keeper in keepers:
        keeper.tick()
    for i, app in enumerate(apps * 3):
        post(app.test_client(), f"from server {i % 2}")
    before = store.revision()
    clock.set(schedule.moment(window))
    start = threading.Barrier(len(keepers))
    errors: list[BaseException] = []

    def wake(keeper: Any) -> None:
        try:
            start.wait()
            keeper.tick()
        except BaseException as error:  # the test reports every failure
            errors.append(error)

    threads = [threading.Thread(target=wake, args=(k,)) for k in keepers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert sorted((k.published, k.published_skipped) for k in keepers) == [(0, 1), (1, 0)]
    assert store.revision() == before + 1
    assert counts(apps[1].test_client())[1] == 6


# -- SQLite's pages -----------------------------------------------------------------------------------


def _leaf_pairs(path: Path, arrival: dict[str, int]) -> tuple[int, int, int]:
    """Over the posts table's leaf pages, the pairs of neighbouring keys on one page: how many have their
    cells in the file in the order the rows came (a page's content area is filled from its end, so a
    later row sits at a lower offset), how many in the order of their keys, and how many pairs there
    are."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'posts'").fetchone()
    conn.close()
    data = path.read_bytes()
    size = struct.unpack(">H", data[16:18])[0]
    size = 65536 if size == 1 else size
    by_arrival = by_key = pairs = 0
    todo = [int(root)]
    while todo:
        number = todo.pop()
        base = (number - 1) * size
        start = base + (100 if number == 1 else 0)
        kind, cells = data[start], struct.unpack(">H", data[start + 3 : start + 5])[0]
        header = 12 if kind in (2, 5) else 8
        pointers = [
            struct.unpack(">H", data[start + header + 2 * i : start + header + 2 * i + 2])[0]
            for i in range(cells)
        ]
        if kind == 2:  # interior index page: follow every child
            todo += [struct.unpack(">I", data[base + p : base + p + 4])[0] for p in pointers]
            todo.append(struct.unpack(">I", data[start + 8 : start + 12])[0])
            continue
        came = [arrival.get(_first_text(data, base + p)) for p in pointers]  # in key order
        for i in range(len(pointers) - 1):
            a, b = came[i], came[i + 1]
            if a is None or b is None:
                continue
            pairs += 1
            by_arrival += (pointers[i] > pointers[i + 1]) == (a < b)
            by_key += pointers[i] > pointers[i + 1]
    return by_arrival, by_key, pairs


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = 0
    for i in range(9):
        byte = data[at + i]
        if i == 8:
            return (value << 8) | byte, at + 9
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value, at + i + 1
    raise AssertionError("unreachable")


def _first_text(data: bytes, at: int) -> str:
    """The first column (the post's id) of an index b-tree leaf cell's record."""
    _, at = _varint(data, at)  # payload size
    header_size, body = _varint(data, at)
    serial, _ = _varint(data, body)
    length = (serial - 13) // 2
    return data[at + header_size : at + header_size + length].decode()


@sqlite_only
def test_the_daily_vacuum_leaves_no_order_of_arrival_in_the_pages(
    database: str, store: Store, today: date
) -> None:
    """Rows written one by one lie on their pages partly in the order they came; after the day's clean-up
    the pages hold their rows in the order of their random keys, which says nothing of when they came."""
    rules = rules_for(DEFAULT_CATEGORIES, 9, today)
    arrival: dict[str, int] = {}
    for i in range(400):  # one at a time, as residents post: each its own transaction
        row = {"cell": CELLS[i % len(CELLS)], "kind": "offer", "category": "food", "text": "x" * 60}
        made = ingest(pd.DataFrame([row]), ["row 1"], rules, store, b"k")
        arrival[made.posts.id[0]] = i
    by_arrival, by_key, pairs = _leaf_pairs(Path(database), arrival)
    assert pairs > 100 and by_key / pairs < 0.9, (by_arrival, by_key, pairs)  # ~80 %: the rest as rows came
    run_once(store, FixedClock(TEST_NOW))
    by_arrival, by_key, pairs = _leaf_pairs(Path(database), arrival)
    # Rewritten in key order (a few cells move when a page splits during the copy), so as rows came only
    # by chance: about half of the pairs, as for a coin.
    assert pairs > 100 and by_key / pairs > 0.95, (by_arrival, by_key, pairs)
    assert 0.4 < by_arrival / pairs < 0.6, (by_arrival, by_key, pairs)


def test_the_daily_clean_up_deletes_audit_entries_older_than_the_setting(
    store: Store, database: str, today: date
) -> None:

    for days in (0, 89, 90, 91, 400):
        day = (today - timedelta(days=days)).isoformat()
        frame = pd.DataFrame([{"cell": CELLS[0], "kind": "offer", "category": "food", "text": f"{days}"}])
        post_id = ingest(frame, ["row 1"], rules_for(DEFAULT_CATEGORIES, 9, today), store, b"k").posts.id[0]
        assert store.moderate(
            post_id, None, AuditEntry(day, "anna", "dismiss", post_id), resolve_reports=True
        )
    run_once(store, FixedClock(datetime.combine(today, datetime.min.time(), UTC) + timedelta(hours=12)))
    kept = sorted(e.at for e in store.audit_trail(100))
    assert kept == sorted((today - timedelta(days=d)).isoformat() for d in (0, 89, 90))


# -- the upgrade ---------------------------------------------------------------------------------------


def _back_to_schema_6(database: str) -> None:
    """Make a current database look as schema 6 left it: no pending status, no drafts, no ``fresh``
    marks, and times to the second in the audit trail and the logins."""
    if is_postgres(database):
        import psycopg

        with psycopg.connect(database) as conn:
            for statement in (
                "DROP INDEX posts_round",
                "DROP TRIGGER posts_replaced ON posts",  # it names draft_text; schema 8 makes it again
                "ALTER TABLE posts DROP COLUMN draft_text, DROP COLUMN draft_expires",
                "ALTER TABLE posts DROP CONSTRAINT posts_status_check",
                "ALTER TABLE posts ADD CONSTRAINT posts_status_check"
                " CHECK (status IN ('open', 'fulfilled', 'hidden'))",
                *(f"ALTER TABLE {t} DROP COLUMN fresh" for t in ("threads", "messages", "reports")),
                "UPDATE schema_version SET version = 6",
            ):
                conn.execute(statement)
        return
    from mapaid.sqlitestore import POSTS_INDEX

    old = (
        "CREATE TABLE posts_v6 (id TEXT PRIMARY KEY, kind TEXT NOT NULL, category TEXT NOT NULL, text TEXT"
        " NOT NULL, contact TEXT, cell INTEGER NOT NULL, district TEXT NOT NULL REFERENCES districts (slug),"
        " created_day TEXT NOT NULL, expires_day TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'open' CHECK"
        " (status IN ('open', 'fulfilled', 'hidden')), token_hash TEXT, lon REAL NOT NULL, lat REAL NOT NULL,"
        " reply_key TEXT) WITHOUT ROWID"
    )
    columns = "id, kind, category, text, contact, cell, district, created_day, expires_day, status,"
    columns += " token_hash, lon, lat, reply_key"
    conn = sqlite3.connect(database, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = OFF")
    for statement in (
        old,
        f"INSERT INTO posts_v6 SELECT {columns} FROM posts",
        "DROP TABLE posts",
        "ALTER TABLE posts_v6 RENAME TO posts",
        POSTS_INDEX,
        "UPDATE schema_version SET version = 6",
    ):
        conn.execute(statement)
    conn.close()


def test_init_db_upgrades_a_schema_6_database_keeping_posts_conversations_and_reports(
    config: dict[str, Any], database: str, store: Store, cli: Any, today: date
) -> None:
    """Both stores: schema 7 lets posts wait for their round and keeps no second; the upgrade keeps every
    post, conversation and report (SQLite rebuilds its posts table with foreign keys off, so nothing
    cascades), cuts the audit trail's times to days and ends logins and one-form rows kept to the second."""
    from peek import poke

    from mapaid.store import SCHEMA_VERSION

    made = post(rounds_app(config, FixedClock(TEST_NOW), "0").test_client(), "kept soup")
    day = today.isoformat()
    thread = Thread("b" * 20, made["id"], "key", "hash", day)
    assert store.start_thread(thread, Message("replier", "v1.x", day), 10, day, "0" * 64) is None
    assert store.add_report(made["id"], "spam", today)
    assert store.moderate(
        made["id"], None, AuditEntry(f"{day}T12:34:56Z", "anna", "dismiss", made["id"]), resolve_reports=False
    )
    store.add_coordinator("anna", "hash", today)
    store.add_session(SessionRecord("h", "anna", "tag", 1_796_000_017, 1_796_000_017, 1_796_003_617))
    store.close()
    _back_to_schema_6(database)
    assert cli("init-db").exit_code == 0
    assert peek(database, "SELECT version FROM schema_version") == [(SCHEMA_VERSION,)] == [(10,)]
    assert peek(database, "SELECT id, text, status FROM posts WHERE id = ?", (made["id"],)) == [
        (made["id"], "kept soup", "open")
    ]
    assert peek(database, "SELECT id FROM threads") == [(thread.id,)]
    assert peek(database, "SELECT count(*) FROM messages") == [(1,)]
    assert peek(database, "SELECT post_id, reason FROM reports") == [(made["id"], "spam")]
    assert peek(database, "SELECT at FROM audit") == [(day,)]
    assert peek(database, "SELECT count(*) FROM sessions") == [(0,)]
    assert (
        poke(database, "UPDATE posts SET status = 'pending', draft_text = 'x' WHERE id = ?", (made["id"],))
        == 1
    )
