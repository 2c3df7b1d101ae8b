"""Coordinator accounts: argon2 hashes, the login throttle in the database, the CLI."""

from __future__ import annotations

from datetime import date

import pytest
from conftest import Cli

from mapaid import accounts
from mapaid.store import SQLiteStore

PASSWORD = "correct horse battery"


def test_password_is_stored_as_an_argon2id_hash_only(store: SQLiteStore) -> None:
    accounts.add(store, "anna", PASSWORD, date(2026, 1, 2))
    stored = store.db.execute("SELECT password_hash, created_day FROM coordinators").fetchone()
    assert stored[0].startswith("$argon2id$") and PASSWORD not in stored[0]
    assert stored[1] == "2026-01-02"
    assert accounts.authenticate(store, "anna", PASSWORD)
    assert not accounts.authenticate(store, "anna", PASSWORD + "x")
    assert not accounts.authenticate(store, "nobody", PASSWORD)


@pytest.mark.parametrize(
    ("name", "password", "message"),
    [
        ("Anna Smith", PASSWORD, "coordinator name"),
        ("x", PASSWORD, "coordinator name"),
        ("anna", "short", "at least 10"),
    ],
)
def test_bad_names_and_short_passwords_are_refused(
    store: SQLiteStore, name: str, password: str, message: str, today: date
) -> None:
    with pytest.raises(accounts.AccountError, match=message):
        accounts.add(store, name, password, today)
    assert accounts.list_all(store) == []


def test_a_name_is_taken_once(store: SQLiteStore, today: date) -> None:
    accounts.add(store, "anna", PASSWORD, today)
    with pytest.raises(accounts.AccountError, match="exists already"):
        accounts.add(store, "anna", PASSWORD + "2", today)
    assert accounts.authenticate(store, "anna", PASSWORD)


def test_five_failures_a_minute_then_even_the_right_password_waits(store: SQLiteStore, today: date) -> None:
    accounts.add(store, "anna", PASSWORD, today)
    start = 1_000_000.0
    for i in range(accounts.MAX_FAILURES):
        assert not accounts.authenticate(store, "anna", "wrong", now=start + i)
    with pytest.raises(accounts.Throttled):
        accounts.authenticate(store, "anna", PASSWORD, now=start + 10)
    # Another account is not affected.
    accounts.add(store, "boris", PASSWORD, today)
    assert accounts.authenticate(store, "boris", PASSWORD, now=start + 10)
    # A minute after the first failure, one slot frees up again.
    assert accounts.authenticate(store, "anna", PASSWORD, now=start + accounts.WINDOW_S + 0.5)


def test_throttle_keeps_no_names_or_passwords(store: SQLiteStore) -> None:
    accounts.authenticate(store, "someone-typed-this", "and-this-password", now=5.0)
    rows = store.db.execute("SELECT * FROM login_failures").fetchall()
    assert len(rows) == 1
    assert "someone" not in str(tuple(rows[0])) and "password" not in str(tuple(rows[0]))


def test_failed_logins_do_not_bump_the_revision(store: SQLiteStore) -> None:
    before = store.revision()
    accounts.authenticate(store, "anna", "wrong")
    assert store.revision() == before


def test_cli_add_list_remove(cli: Cli, store: SQLiteStore) -> None:
    result = cli("coordinator", "add", "anna", "--password-stdin", input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    result = cli("coordinator", "add", "boris", input=f"{PASSWORD}\n{PASSWORD}\n")  # prompt, confirmed
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    listed = cli("coordinator", "list").output.splitlines()
    assert [line.split("\t")[0] for line in listed] == ["anna", "boris"]
    assert accounts.authenticate(store, "boris", PASSWORD)
    assert cli("coordinator", "remove", "anna").exit_code == 0
    assert cli("coordinator", "list").output.startswith("boris")


def test_cli_explains_mistakes(cli: Cli) -> None:
    result = cli("coordinator", "add", "anna", "--password-stdin", input="short\n")
    assert result.exit_code != 0 and "at least 10 characters" in result.output
    result = cli("coordinator", "remove", "nobody")
    assert result.exit_code != 0 and "no coordinator called 'nobody'" in result.output
