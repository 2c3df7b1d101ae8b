"""Coordinator accounts: argon2 hashes, the login throttle (per client, in memory), the CLI."""

from __future__ import annotations

import time
from datetime import date

import pytest
from conftest import Cli
from helpers import database_bytes

from mapaid import accounts
from mapaid.loginguard import LoginGuard
from mapaid.models import Coordinator
from mapaid.store import Store

PASSWORD = "correct horse battery"


def authenticate(
    store: Store, name: str, password: str, now: float | None = None, guard: LoginGuard | None = None
) -> bool:
    """One login attempt from one client (with a throttle of its own unless ``guard`` is shared)."""
    when = time.time() if now is None else now
    guard = LoginGuard() if guard is None else guard
    return accounts.authenticate(store, name, password, when, guard=guard, client=guard.client("192.0.2.1"))


def test_password_is_stored_as_an_argon2id_hash_only(store: Store) -> None:
    accounts.add(store, "anna", PASSWORD, date(2026, 1, 2))
    stored = store.password_hash("anna")
    assert stored is not None and stored.startswith("$argon2id$") and PASSWORD not in stored
    assert store.coordinators() == [Coordinator("anna", "2026-01-02")]
    assert authenticate(store, "anna", PASSWORD)
    assert not authenticate(store, "anna", PASSWORD + "x")
    assert not authenticate(store, "nobody", PASSWORD)


@pytest.mark.parametrize(
    ("name", "password", "message"),
    [
        ("Anna Smith", PASSWORD, "coordinator name"),
        ("x", PASSWORD, "coordinator name"),
        ("anna", "short", "at least 10"),
    ],
)
def test_bad_names_and_short_passwords_are_refused(
    store: Store, name: str, password: str, message: str, today: date
) -> None:
    with pytest.raises(accounts.AccountError, match=message):
        accounts.add(store, name, password, today)
    assert accounts.list_all(store) == []


def test_a_name_is_taken_once(store: Store, today: date) -> None:
    accounts.add(store, "anna", PASSWORD, today)
    with pytest.raises(accounts.AccountError, match="exists already"):
        accounts.add(store, "anna", PASSWORD + "2", today)
    assert authenticate(store, "anna", PASSWORD)


def test_five_failures_a_minute_then_even_the_right_password_waits(store: Store, today: date) -> None:
    accounts.add(store, "anna", PASSWORD, today)
    guard = LoginGuard()
    start = 1_000_000.0
    for i in range(accounts.MAX_FAILURES):
        assert not authenticate(store, "anna", "wrong", now=start + i, guard=guard)
    with pytest.raises(accounts.Throttled):
        authenticate(store, "anna", PASSWORD, now=start + 10, guard=guard)
    # Another account is not affected.
    accounts.add(store, "boris", PASSWORD, today)
    assert authenticate(store, "boris", PASSWORD, now=start + 10, guard=guard)
    # A minute after the first failure, one slot frees up again.
    assert authenticate(store, "anna", PASSWORD, now=start + accounts.WINDOW_S + 0.5, guard=guard)


def test_throttle_keeps_no_names_or_passwords(store: Store, database: str) -> None:
    authenticate(store, "someone-typed-this", "and-this-password", now=5.0)
    assert store.purge_login_failures() == 0  # no failed-login rows were written
    on_disk = database_bytes(database)
    assert b"someone-typed-this" not in on_disk and b"and-this-password" not in on_disk


def test_failed_logins_do_not_bump_the_revision(store: Store) -> None:
    before = store.revision()
    authenticate(store, "anna", "wrong")
    assert store.revision() == before


def test_cli_add_list_remove(cli: Cli, store: Store) -> None:
    result = cli("coordinator", "add", "anna", "--password-stdin", input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    result = cli("coordinator", "add", "boris", input=f"{PASSWORD}\n{PASSWORD}\n")  # prompt, confirmed
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    listed = cli("coordinator", "list").output.splitlines()
    assert [line.split("\t")[0] for line in listed] == ["anna", "boris"]
    assert authenticate(store, "boris", PASSWORD)
    assert cli("coordinator", "remove", "anna").exit_code == 0
    assert cli("coordinator", "list").output.startswith("boris")


def test_cli_explains_mistakes(cli: Cli) -> None:
    result = cli("coordinator", "add", "anna", "--password-stdin", input="short\n")
    assert result.exit_code != 0 and "at least 10 characters" in result.output
    result = cli("coordinator", "remove", "nobody")
    assert result.exit_code != 0 and "no coordinator called 'nobody'" in result.output
