"""Coordinator logins as server-side records: they end at logout, removal, a new password, after the
idle timeout and the lifetime; a cookie made with the secret key alone is worth nothing; the database
holds hashes of session ids only."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from conftest import TEST_SECRET, Cli
from databases import is_postgres
from flask import Flask
from flask.testing import FlaskClient
from helpers import database_bytes
from peek import peek, peek_one, poke
from test_coordinator import PASSWORD, login, token

from mapaid import accounts, create_app, sessions
from mapaid.loginguard import LoginGuard
from mapaid.models import SessionRecord
from mapaid.store import Store

TODAY = date(2026, 11, 28)
PAGE, API = "/coordinator", "/api/v1/coordinator/districts"
HOUR = 3600
T0 = 1_800_000_000.0  # a whole minute


@pytest.fixture
def anna(store: Store) -> str:
    accounts.add(store, "anna", PASSWORD, TODAY)
    return "anna"


def cookie(client: FlaskClient) -> str:
    found = client.get_cookie("session")
    assert found is not None
    return found.value


def with_cookie(app: Flask, value: str) -> FlaskClient:
    """A fresh browser holding a copy of someone's session cookie."""
    other = app.test_client()
    other.set_cookie("session", value)
    return other


def refused(client: FlaskClient) -> bool:
    """The page sends to the login page and the API answers 401."""
    page = client.get(PAGE)
    api = client.get(API)
    return (
        page.status_code == 302
        and "/coordinator/login" in page.headers["Location"]
        and api.status_code == 401
    )


def accepted(client: FlaskClient) -> bool:
    return client.get(PAGE).status_code == 200 and client.get(API).status_code == 200


def serializer(app: Flask) -> Any:
    """Flask's own cookie signer with the app's secret key: what anyone holding the key can use."""
    return app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]


def session_id(app: Flask, client: FlaskClient) -> str:
    return str(serializer(app).loads(cookie(client))["sid"])


# -- ending a login --------------------------------------------------------------------------------------
def test_a_copied_cookie_dies_at_logout(app: Flask, client: FlaskClient, anna: str) -> None:
    assert login(client).status_code == 302
    copy = cookie(client)
    assert accepted(with_cookie(app, copy))
    response = client.post("/coordinator/logout", data={"csrf_token": token(client, PAGE)})
    assert response.status_code == 302
    assert refused(with_cookie(app, copy))
    assert refused(client)


def test_removing_and_adding_the_name_again_does_not_revive_old_cookies(
    app: Flask, client: FlaskClient, anna: str, cli: Cli
) -> None:
    assert login(client).status_code == 302
    copy = cookie(client)
    assert cli("coordinator", "remove", "anna").exit_code == 0
    assert cli("coordinator", "add", "anna", "--password-stdin", input=PASSWORD + "\n").exit_code == 0
    assert refused(with_cookie(app, copy))
    assert login(app.test_client()).status_code == 302  # the new account itself works


def test_a_login_is_tied_to_its_account_row_even_if_its_record_survives(
    app: Flask, client: FlaskClient, anna: str, store: Store, database: str
) -> None:
    """Say the account row was deleted and made again behind accounts' back: the record's tag no longer
    matches the new row (argon2 salts each hash at random), so the old login is dead all the same."""
    assert login(client).status_code == 302
    assert poke(database, "DELETE FROM coordinators WHERE name = 'anna'") == 1  # behind accounts' back
    accounts.add(store, "anna", PASSWORD, TODAY)
    assert sessions.count(store) == 1
    assert refused(with_cookie(app, cookie(client)))
    assert sessions.count(store) == 0  # deleted on the way


def test_a_new_password_ends_every_login(app: Flask, anna: str, cli: Cli) -> None:
    first, second = app.test_client(), app.test_client()
    assert login(first).status_code == 302 and login(second).status_code == 302
    copies = [cookie(first), cookie(second)]
    new = PASSWORD + " staple"
    result = cli("coordinator", "passwd", "anna", "--password-stdin", input=new + "\n")
    assert result.exit_code == 0, result.output
    assert all(refused(with_cookie(app, c)) for c in copies)
    assert login(app.test_client()).status_code == 401  # the old password is gone
    assert login(app.test_client(), password=new).status_code == 302


def test_passwd_asks_twice_and_explains_mistakes(cli: Cli, anna: str, store: Store) -> None:
    new = "another long password"
    assert cli("coordinator", "passwd", "anna", input=f"{new}\n{new}\n").exit_code == 0
    guard = LoginGuard()
    assert accounts.authenticate(store, "anna", new, T0, guard=guard, client=guard.client("192.0.2.1"))
    result = cli("coordinator", "passwd", "anna", "--password-stdin", input="short\n")
    assert result.exit_code != 0 and "at least 10 characters" in result.output
    result = cli("coordinator", "passwd", "nobody", "--password-stdin", input=new + "\n")
    assert result.exit_code != 0 and "no coordinator called 'nobody'" in result.output


# -- what a cookie is worth ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "payload",
    [
        {"coordinator": "anna"},  # what the old signed cookie held
        {"sid": "A" * 43},
        {"sid": "A" * 43, "coordinator": "anna"},
        {"sid": ""},
        {"sid": 1},
    ],
)
def test_a_cookie_minted_with_the_secret_key_is_refused(
    app: Flask, anna: str, payload: dict[str, object]
) -> None:
    assert app.secret_key == TEST_SECRET
    minted = serializer(app).dumps(payload)
    assert refused(with_cookie(app, minted))


def test_login_rotates_the_session_id(app: Flask, client: FlaskClient, anna: str) -> None:
    """No fixation: an id planted in the cookie before login is never adopted, and logging in again
    replaces (and ends) the previous login."""
    planted = serializer(app).dumps({"sid": "planted-by-someone"})
    client.set_cookie("session", planted)
    assert login(client).status_code == 302
    first = session_id(app, client)
    assert first != "planted-by-someone"
    copy = cookie(client)
    again = {"name": "anna", "password": PASSWORD, "csrf_token": token(client, PAGE)}
    assert client.post("/coordinator/login", data=again).status_code == 302
    assert session_id(app, client) != first
    assert refused(with_cookie(app, copy))
    assert accepted(client)


def test_the_database_holds_only_hashes_of_session_ids(
    app: Flask, client: FlaskClient, anna: str, database: str
) -> None:
    assert login(client).status_code == 302
    sid = session_id(app, client)
    on_disk = database_bytes(database)
    assert sid.encode() not in on_disk
    assert sessions.id_hash(sid).encode() in on_disk  # what is there instead


def test_logging_in_and_out_does_not_bump_the_revision(client: FlaskClient, anna: str, store: Store) -> None:
    """Page caches key on the revision: a login is not a change of the data."""
    before = store.revision()
    assert login(client).status_code == 302 and accepted(client)
    client.post("/coordinator/logout", data={"csrf_token": token(client, PAGE)})
    assert store.revision() == before


# -- timeouts -------------------------------------------------------------------------------------------
POLICY = sessions.Policy(lifetime_s=12 * HOUR, idle_s=HOUR)


def test_idle_timeout(store: Store, anna: str) -> None:
    sid = sessions.start(store, "anna", T0, POLICY)
    assert sessions.resume(store, sid, T0 + HOUR - 61, POLICY) == "anna"  # used again in time
    assert sessions.resume(store, sid, T0 + 2 * HOUR - 121, POLICY) == "anna"
    assert sessions.resume(store, sid, T0 + 3 * HOUR, POLICY) is None  # an idle hour and more
    assert sessions.count(store) == 0
    assert sessions.resume(store, sid, T0 + 3 * HOUR, POLICY) is None


def test_absolute_lifetime(store: Store, anna: str) -> None:
    sid = sessions.start(store, "anna", T0, POLICY)
    for minutes in range(30, 12 * 60, 30):  # busy all day
        assert sessions.resume(store, sid, T0 + minutes * 60, POLICY) == "anna", minutes
    assert sessions.resume(store, sid, T0 + 12 * HOUR, POLICY) is None


def test_a_shorter_setting_applies_to_existing_logins(store: Store, anna: str) -> None:
    sid = sessions.start(store, "anna", T0, POLICY)
    assert sessions.resume(store, sid, T0 + 30 * 60, sessions.Policy(HOUR, 20 * 60)) is None


def test_last_seen_is_written_at_most_once_a_minute(store: Store, anna: str, database: str) -> None:
    """SQLite counts the rows its connection changed (total_changes). PostgreSQL: every row version carries
    the id of the transaction that wrote it (xmin), so any write to the logins or the metadata (the
    revision) shows as a changed xmin."""
    sid = sessions.start(store, "anna", T0, POLICY)

    def writes() -> Any:
        if is_postgres(database):
            return peek(database, "SELECT xmin::text FROM sessions UNION ALL SELECT xmin::text FROM meta")
        return store.db.total_changes  # type: ignore[attr-defined]

    before = writes()
    for second in range(0, 60, 5):
        assert sessions.resume(store, sid, T0 + second, POLICY) == "anna"
    assert writes() == before
    assert sessions.resume(store, sid, T0 + 61, POLICY) == "anna"
    if is_postgres(database):
        assert writes() != before
    else:
        assert writes() == before + 1
    row = peek(database, "SELECT created, seen FROM sessions")[0]
    assert (row[0], row[1]) == (T0, T0 + 60)  # whole minutes


@pytest.mark.parametrize(
    ("setting", "shift"), [("SESSION_IDLE_MINUTES", "seen"), ("SESSION_HOURS", "created")]
)
def test_the_web_honours_the_timeout_settings(
    config: dict[str, Any], anna: str, database: str, setting: str, shift: str
) -> None:
    """The views read the settings: a login whose last use (or start) lies further back than the
    configured idle time (or lifetime) is refused."""
    app = create_app({**config, setting: "2"})  # two minutes idle, or two hours in all
    client = app.test_client()
    assert login(client).status_code == 302 and accepted(client)
    back = 3 * 60 if setting == "SESSION_IDLE_MINUTES" else 3 * HOUR
    assert poke(database, f"UPDATE sessions SET {shift} = {shift} - ?", (back,)) == 1  # the login, aged
    assert refused(client)


@pytest.mark.parametrize(
    ("name", "value"), [("MAPAID_SESSION_HOURS", "0"), ("MAPAID_SESSION_IDLE_MINUTES", "x")]
)
def test_bad_timeout_settings_are_named(config: dict[str, Any], name: str, value: str) -> None:
    key = name.removeprefix("MAPAID_")
    with pytest.raises(ValueError, match=name):
        create_app({**config, key: value})


def test_purge_stale_drops_ended_logins_and_failed_login_rows(
    store: Store, anna: str, database: str, store_kind: str
) -> None:
    """Failed-login rows are an older mapaid's, in SQLite files only: a PostgreSQL database never had them."""
    live = sessions.start(store, "anna", T0, POLICY)
    sessions.start(store, "anna", T0 - 2 * HOUR, POLICY)  # idle for an hour and more by T0
    store.add_session(SessionRecord("x", "gone", "tag", T0, T0, T0 + HOUR))  # of an account since removed
    older_rows = 0
    if store_kind == "sqlite":
        older_rows = poke(database, "INSERT INTO login_failures VALUES ('left by an older mapaid', 1.0)")
        assert older_rows == 1
    assert accounts.purge_stale(store, T0 + 60) == 2 + older_rows
    assert sessions.count(store) == 1 and sessions.resume(store, live, T0 + 60, POLICY) == "anna"
    assert store.purge_login_failures() == 0
    if store_kind == "sqlite":
        assert peek_one(database, "SELECT count(*) FROM login_failures") == 0


# -- caching ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", [API, "/api/v1/coordinator/posts"])
def test_the_coordinator_api_is_never_cached(client: FlaskClient, anna: str, path: str) -> None:
    assert client.get(path).headers.get("Cache-Control") == "no-store"  # the 401 too
    assert login(client).status_code == 302
    response = client.get(path)
    assert response.status_code == 200 and response.headers.get("Cache-Control") == "no-store"
