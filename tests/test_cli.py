"""The command line, the settings and their documentation, the store's guarantees, the WSGI server."""

from __future__ import annotations

import os
import sqlite3
import urllib.request
from datetime import date
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from conftest import Cli
from databases import integrity_errors, is_postgres, sqlite_only
from helpers import batch_in_cell
from livesite import start_serve, stop_serve, wait_for_serve
from peek import peek, peek_one, poke

from mapaid.cli import main
from mapaid.config import SETTINGS
from mapaid.demo import CHATS_2020
from mapaid.store import SCHEMA_VERSION, Store

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for name, command in group.commands.items():
        out.append((*prefix, name))
        if isinstance(command, click.Group):
            out += _commands(command, (*prefix, name))
    return out


@pytest.mark.parametrize("command", _commands(main), ids=" ".join)
def test_every_command_explains_itself(command: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage: " in result.output and len(result.output.splitlines()) > 3


def test_readme_starts_with_the_two_commands_and_documents_every_setting_and_command() -> None:
    first_block = README.split("```")[1]
    assert "make run" in first_block and "make test" in first_block
    for setting in SETTINGS:
        assert f"`{setting.env}`" in README, setting.env
    for command in _commands(main):
        if len(command) == 1 or command[0] == "districts":
            assert f"mapaid {' '.join(command)}" in README, command


def test_init_db_is_idempotent_and_sets_up_wal_and_a_schema_version(cli: Cli, database: str) -> None:
    """WAL mode is SQLite's (PostgreSQL always keeps a write-ahead log); the version and districts, both's."""
    assert cli("init-db").exit_code == 0
    assert cli("init-db").exit_code == 0
    if not is_postgres(database):
        db = sqlite3.connect(database)
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        db.close()
    assert peek(database, "SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]
    assert peek_one(database, "SELECT count(*) FROM districts") == 9


def test_commands_on_a_missing_database_say_what_to_run(empty_database: str) -> None:
    env = {"MAPAID_DATABASE": empty_database, "MAPAID_SECRET_KEY": "x"}
    result = CliRunner().invoke(main, ["export"], env=env)
    assert result.exit_code == 1 and "run `mapaid init-db`" in result.output


def test_a_database_keeps_its_cell_resolution(cli: Cli, env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["demo", "--posts", "3"], env={**env, "MAPAID_CELL_RES": "8"})
    assert result.exit_code == 1
    assert "H3 resolution 9, but MAPAID_CELL_RES is 8" in result.output
    result = CliRunner().invoke(main, ["demo"], env={**env, "MAPAID_CELL_RES": "nine"})
    assert result.exit_code == 1 and "MAPAID_CELL_RES must be a whole number" in result.output


def test_the_secret_key_is_generated_once_and_kept_private(tmp_path: Path, empty_database: str) -> None:
    env = {
        "MAPAID_DATABASE": empty_database,
        "MAPAID_INSTANCE": str(tmp_path / "inst"),
        "MAPAID_SECRET_KEY": "",
    }
    assert CliRunner().invoke(main, ["init-db"], env=env).exit_code == 0
    key = tmp_path / "inst" / "secret_key"
    first = key.read_text()
    assert len(first.strip()) == 64 and (key.stat().st_mode & 0o777) == 0o600
    assert CliRunner().invoke(main, ["demo", "--posts", "2"], env=env).exit_code == 0
    assert key.read_text() == first


def test_demo_follows_the_2020_chat_counts_and_repeats_with_a_seed(
    cli: Cli, store: Store, database: str
) -> None:
    assert cli("demo", "--posts", "6930", "--seed", "5").exit_code == 0
    counts = dict(peek(database, "SELECT district, count(*) FROM posts GROUP BY district"))
    total = sum(CHATS_2020.values())
    for slug, chats in CHATS_2020.items():
        assert counts[slug] == pytest.approx(6930 * chats / total, rel=0.15, abs=25), slug
    kinds = dict(peek(database, "SELECT kind, count(*) FROM posts GROUP BY kind"))
    assert set(kinds) == {"offer", "need"}
    # Clustered like neighbourhoods: far fewer distinct cells than posts.
    cells = peek_one(database, "SELECT count(DISTINCT cell) FROM posts")
    assert cells < 0.6 * 6930
    first = sorted(peek(database, "SELECT cell, kind, category FROM posts"))
    poke(database, "DELETE FROM posts")  # an empty database again, quicker than 6,930 deletes
    assert cli("demo", "--posts", "6930", "--seed", "5").exit_code == 0
    assert sorted(peek(database, "SELECT cell, kind, category FROM posts")) == first
    assert "no demo data added" in cli("demo", "--if-empty").output


def test_purge_expired_deletes_only_what_expired(cli: Cli, store: Store, today: date) -> None:
    assert cli("demo", "--posts", "20").exit_code == 0
    for post_id in store.posts(today, public=False)["id"][:7]:
        assert store.set_expiry(post_id, date(2020, 1, 1))
    result = cli("purge-expired")
    assert result.exit_code == 0 and "deleted 7 expired posts" in result.output
    assert store.count() == 13


def test_a_failing_write_leaves_the_store_as_it_was(cli: Cli, store: Store) -> None:
    """All or nothing: the second row of a batch breaks a constraint, so the first is not kept either."""
    assert cli("demo", "--posts", "10").exit_code == 0
    before = (store.count(), store.revision())
    existing = store.posts(date(2026, 11, 27), public=False).iloc[0]
    batch = batch_in_cell(store, ["a" * 20, existing["id"]], int(existing["cell"]), date(2026, 11, 27))
    with pytest.raises(integrity_errors()):
        store.add(batch)
    assert (store.count(), store.revision()) == before
    assert store.get("a" * 20) is None


def test_serve_runs_waitress_on_the_port_the_system_gives_and_health_answers(
    env: dict[str, str], tmp_path: Path
) -> None:
    """`--port 0`: the server binds a port the system picks and names it in its first line, so whoever
    started it talks to it and not to whatever took a port chosen beforehand (issue 17, item 10)."""
    log = tmp_path / "serve.log"
    process, since = start_serve({**os.environ, **env}, log)
    try:
        base = wait_for_serve(process, log, since)
        with urllib.request.urlopen(f"{base}/health", timeout=5) as response:
            assert response.status == 200
            assert b'"status":"ok"' in response.read().replace(b" ", b"")
    finally:
        stop_serve(process)
    first = log.read_text().splitlines()[0]
    assert first.startswith(f"mapaid on {base}/ (") and not base.endswith(":0"), first


@sqlite_only
def test_a_big_batch_rebuilds_the_indexes_and_a_failed_one_keeps_them(
    cli: Cli, store: Store, database: str, monkeypatch: pytest.MonkeyPatch, today: date
) -> None:
    """Large imports drop and rebuild the secondary indexes inside their transaction. SQLite only: the
    rebuild is the SQLite store's own way to import fast (``_REBUILD_FROM``); that a failed batch leaves
    nothing behind on either store is test_a_failing_write_leaves_the_store_as_it_was."""
    import mapaid.sqlitestore

    def indexes() -> list[str]:
        return sorted(
            r[0]
            for r in peek(
                database,
                "SELECT sql FROM sqlite_master"
                " WHERE type = 'index' AND tbl_name = 'posts' AND sql IS NOT NULL",
            )
        )

    before = indexes()
    assert before
    monkeypatch.setattr(mapaid.sqlitestore, "_REBUILD_FROM", 10)
    assert cli("demo", "--posts", "50").exit_code == 0
    assert indexes() == before
    plan = " ".join(
        str(r[-1]) for r in peek(database, "EXPLAIN QUERY PLAN SELECT id FROM posts WHERE cell = 1")
    )
    assert "posts_cell" in plan
    existing = store.posts(today, public=False).iloc[0]
    n = 60
    ids = [f"{i:020x}" for i in range(n - 1)] + [existing["id"]]
    batch = batch_in_cell(store, ids, int(existing["cell"]), date(2026, 11, 27))
    with pytest.raises(sqlite3.IntegrityError):
        store.add(batch)
    assert indexes() == before and store.count() == 50


def test_a_deleted_post_leaves_no_trace_on_disk(
    cli: Cli, store: Store, database: str, tmp_path: Path
) -> None:
    """SQLite: secure_delete zeroes the rows; the WAL, which keeps older page copies, is checkpointed and
    cut. PostgreSQL: the database's files hold no dead row after a delete and the store's erase
    (housekeeping's), or after `mapaid purge-expired`, which erases (tests/helpers.py says which files)."""
    from helpers import database_bytes, erase, row, write_csv

    secret_text = "Zebra-7391 needs a quiet room"
    path = write_csv(
        tmp_path / "one.csv", [row(53.9, 27.56, text=secret_text), row(53.9, 27.56, text="Soup")]
    )
    assert cli("import", str(path)).exit_code == 0
    assert secret_text.encode() in database_bytes(database)
    (post_id,) = peek(database, "SELECT id FROM posts WHERE text = ?", (secret_text,))[0]
    assert store.delete(post_id)
    erase(database)
    assert secret_text.encode() not in database_bytes(database)
    (soup,) = peek(database, "SELECT id FROM posts")[0]
    assert store.set_expiry(soup, date(2020, 1, 1))
    assert b"Soup" in database_bytes(database)
    result = cli("purge-expired")
    assert result.exit_code == 0 and "deleted 1 expired posts" in result.output
    assert b"Soup" not in database_bytes(database)
