"""What stays on disk (issue 7, item 10): the database, its WAL and shared memory, the instance folder and
the secret key are the owner's alone; the daily housekeeping deletes expired and fulfilled posts (their
contacts with them, overwritten on disk) and stale login records, and keeps everything else."""

from __future__ import annotations

import os
import stat
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import h3.api.basic_int as h3
import pandas as pd
import pytest
from click.testing import CliRunner
from databases import sqlite_only
from helpers import database_bytes
from peek import peek, poke

from mapaid.cli import main
from mapaid.clock import FixedClock
from mapaid.config import DEFAULT_CATEGORIES
from mapaid.housekeeping import Housekeeper, next_run, run_once
from mapaid.models import Status
from mapaid.pipeline import ingest, rules_for
from mapaid.store import Store, open_store

CELL = h3.int_to_str(h3.latlng_to_cell(53.9023, 27.5619, 9))


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The umask most systems start with (0022): files would be world-readable unless we say otherwise."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_init_db_makes_the_instance_the_owners_alone(tmp_path: Path, usual_umask: None) -> None:
    instance = tmp_path / "instance"
    env = {"MAPAID_INSTANCE": str(instance), "MAPAID_DATABASE": "", "MAPAID_SECRET_KEY": ""}
    result = CliRunner().invoke(main, ["init-db"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    db = instance / "mapaid.sqlite3"
    assert mode(instance) == 0o700
    assert mode(instance / "secret_key") == 0o600
    assert mode(db) == 0o600
    store = open_store(db)  # while a connection is open, SQLite keeps its -wal and -shm beside the file
    try:
        store.set_meta("probe", "1")
        for suffix in ("-wal", "-shm"):
            path = db.with_name(db.name + suffix)
            assert path.exists() and mode(path) == 0o600, path
    finally:
        store.close()


@sqlite_only
def test_a_database_others_could_read_is_tightened_when_opened(database: str) -> None:
    """SQLite only: the store opens the file itself; PostgreSQL's files are its server's (folder 0700)."""
    db_path = Path(database)
    db_path.chmod(0o644)
    wal = db_path.with_name(db_path.name + "-wal")
    wal.touch(mode=0o644)
    wal.chmod(0o644)
    open_store(database).close()
    assert mode(db_path) == 0o600
    assert not wal.exists() or mode(wal) == 0o600


def _add(store: Store, text: str, today: date, days: int, contact: str) -> str:
    row = {"cell": CELL, "kind": "offer", "category": "food", "text": text, "contact": contact}
    frame = pd.DataFrame([{**row, "expires": str(days)}])
    result = ingest(frame, ["row 1"], rules_for(DEFAULT_CATEGORIES, 9, today), store, b"k")
    return str(result.posts.id[0])


@pytest.mark.parametrize("at", [(23, 59), (0, 1)], ids=["23:59 UTC", "00:01 UTC"])
def test_run_once_deletes_expired_and_fulfilled_posts_and_keeps_the_rest(
    store: Store, database: str, store_kind: str, at: tuple[int, int]
) -> None:
    clock = FixedClock(datetime(2026, 11, 27, *at, tzinfo=UTC))
    today = clock.today()
    ids = {
        "open": _add(store, "open soup", today, 3, "open-contact-1"),
        "last day": _add(store, "last day soup", today - timedelta(days=2), 2, "lastday-contact-2"),
        "expired": _add(store, "expired soup", today - timedelta(days=3), 2, "expired-contact-3"),
        "fulfilled": _add(store, "fulfilled soup", today, 3, "fulfilled-contact-4"),
        "hidden": _add(store, "hidden soup", today, 3, "hidden-contact-5"),
    }
    store.set_status(ids["fulfilled"], Status.FULFILLED)
    store.set_status(ids["hidden"], Status.HIDDEN)
    now = clock.now().timestamp()
    older_rows = 0
    if store_kind == "sqlite":  # rows an older mapaid left; a PostgreSQL database never had the table
        for name_hash, at_s in (("old", now - 3600), ("new", now - 5)):
            older_rows += poke(database, "INSERT INTO login_failures VALUES (?, ?)", (name_hash, at_s))

    purged = run_once(store, clock)

    # Failed logins live in memory now: rows an older mapaid left behind all go, fresh or not.
    assert (purged.expired, purged.fulfilled, purged.stale_logins) == (1, 1, older_rows)
    left = {name for name, post_id in ids.items() if store.get(post_id) is not None}
    assert left == {"open", "last day", "hidden"}
    assert store.purge_login_failures() == 0  # none left
    if store_kind == "sqlite":
        assert older_rows == 2 and peek(database, "SELECT name_hash FROM login_failures") == []
    on_disk = database_bytes(database)
    for gone in (b"expired-contact-3", b"fulfilled-contact-4", b"expired soup", b"fulfilled soup"):
        assert gone not in on_disk
    assert b"open-contact-1" in on_disk


def test_the_next_round_is_a_minute_after_the_next_utc_midnight() -> None:
    for hour, minute in ((23, 59), (0, 1), (0, 0), (12, 0)):
        now = datetime(2026, 11, 27, hour, minute, tzinfo=UTC)
        assert next_run(now) == datetime(2026, 11, 28, 0, 1, tzinfo=UTC)


def test_the_housekeeper_runs_at_start_and_stops_when_told(store: Store, database: str) -> None:
    clock = FixedClock(datetime(2026, 11, 27, 12, 0, tzinfo=UTC))
    expired = _add(store, "expired soup", clock.today() - timedelta(days=5), 2, "x")
    keeper = Housekeeper(database, clock)
    keeper.start()
    try:
        deadline = time.monotonic() + 10
        while keeper.rounds == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert keeper.rounds == 1
        assert store.get(expired) is None
    finally:
        keeper.stop()
        keeper.join(timeout=5)
    assert not keeper.is_alive()


def test_the_housekeeper_erases_between_rounds(store: Store, database: str) -> None:
    """A deletion between daily rounds leaves the database's files at the next erase (every
    ``ERASE_EVERY``; a fraction of a second here), not at the next round."""
    clock = FixedClock(datetime(2026, 11, 27, 12, 0, tzinfo=UTC))
    going = _add(store, "Zyx-between-rounds", clock.today(), 3, "Zyx-contact-between")
    keeper = Housekeeper(database, clock, erase_every=timedelta(seconds=0.5))
    keeper.start()
    try:
        deadline = time.monotonic() + 30
        while keeper.rounds == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert keeper.rounds == 1
        assert store.delete(going)  # after the round: only the erase takes it off the disk
        erases = keeper.erases
        while keeper.erases < erases + 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert keeper.erases >= erases + 2 and keeper.rounds == 1
    finally:
        keeper.stop()
        keeper.join(timeout=5)
    on_disk = database_bytes(database)
    assert b"Zyx-between-rounds" not in on_disk and b"Zyx-contact-between" not in on_disk


def test_of_several_server_processes_one_runs_each_round(store: Store, database: str) -> None:
    """Every `mapaid serve` starts a housekeeper; the database's lease lets one of them do each round."""
    clock = FixedClock(datetime(2026, 11, 28, 0, 1, tzinfo=UTC))
    expired = [_add(store, f"expired soup {i}", clock.today() - timedelta(days=5), 2, "x") for i in range(3)]
    keepers = [Housekeeper(database, clock) for _ in range(3)]
    for keeper in keepers:
        keeper.start()
    try:
        deadline = time.monotonic() + 10
        while sum(k.rounds + k.skipped for k in keepers) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sorted(k.rounds for k in keepers) == [0, 0, 1]
        assert sum(k.skipped for k in keepers) == 2
        assert all(store.get(post_id) is None for post_id in expired)
    finally:
        for keeper in keepers:
            keeper.stop()
            keeper.join(timeout=5)
    # A server starting later that day finds the day's clean-up done: the lease holds until midnight.
    late = Housekeeper(database, clock)
    clock.advance(timedelta(hours=20))
    late.tick()
    assert (late.rounds, late.skipped) == (0, 1)
    # After midnight the next day's is anyone's again.
    clock.advance(timedelta(hours=4))
    idle = next(k for k in keepers if k.rounds == 0)
    idle.tick()
    assert idle.rounds == 1


def test_rounds_run_at_once_on_one_database_are_harmless(store: Store, database: str) -> None:
    """Without the lease (a housekeeper of an older mapaid, `mapaid purge-expired` by hand) two rounds at
    once still end well: each deletes what is due, no error, nothing deleted twice or left."""
    clock = FixedClock(datetime(2026, 11, 28, 0, 1, tzinfo=UTC))
    expired = [_add(store, f"expired soup {i}", clock.today() - timedelta(days=5), 2, "x") for i in range(20)]
    kept = _add(store, "open soup", clock.today(), 3, "y")
    results: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def one_round() -> None:
        round_store = open_store(database)
        try:
            start.wait()
            results.append(run_once(round_store, clock).expired)
        except BaseException as error:  # the test reports every failure
            errors.append(error)
        finally:
            round_store.close()

    threads = [threading.Thread(target=one_round) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert sum(results) == len(expired)
    assert store.get(kept) is not None


def test_the_housekeeping_lease_is_held_by_one_at_a_time(database: str) -> None:
    with ExitStack() as stack:
        stores = [open_store(database) for _ in range(4)]
        for store in stores:
            stack.callback(store.close)
        start = threading.Barrier(len(stores))

        def take(store: Store) -> bool:
            start.wait()
            return store.take_lease("housekeeping", 1000, 1600)

        with ThreadPoolExecutor(len(stores)) as pool:
            taken = list(pool.map(take, stores))
        assert sorted(taken) == [False, False, False, True]
        assert not stores[0].take_lease("housekeeping", 1599, 2199)  # still held
        assert stores[1].take_lease("housekeeping", 1600, 2200)  # run out: the next may take it
        assert stores[2].take_lease("another chore", 1600, 2200)  # leases are by name
