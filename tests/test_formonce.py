"""One form, one post across several server processes (issue 12, item 4): the form's nonce lives in the
database, not in one process's memory, so a double tap whose two submissions reach two servers makes one
post; and what the database keeps of it names no post and gives no token."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from test_posting_flow import _form, _private_link, _submit

from mapaid import create_app, formonce
from mapaid.clock import FixedClock
from mapaid.formonce import KEEP_SECONDS, WAIT_SECONDS, FormOnce, Made
from mapaid.sqlitestore import SQLiteStore
from mapaid.store import Store, open_store

SECRET = b"test-secret-not-for-production"


def _rows(store: Store) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in store.db.execute("SELECT key, at, sealed FROM form_once").fetchall()]  # type: ignore[attr-defined]


@pytest.fixture
def two_apps(config: dict[str, Any]) -> tuple[Flask, Flask]:
    """Two apps on one database: two server processes as far as their memory goes."""
    return create_app(config), create_app(config)


def _twin(first: FlaskClient, app: Flask) -> FlaskClient:
    """A client of ``app`` with ``first``'s cookies: the same browser, sending to another server."""
    other = app.test_client()
    for cookie in first._cookies.values():
        other.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)
    return other


def test_a_double_tap_reaching_two_servers_makes_one_post(
    two_apps: tuple[Flask, Flask], store: SQLiteStore
) -> None:
    a, b = two_apps
    on_a = a.test_client()
    form = _form(on_a)
    on_b = _twin(on_a, b)
    before = store.count()
    first = _submit(on_a, form)
    second = _submit(on_b, form)
    assert first.status_code == second.status_code == 303
    assert store.count() == before + 1
    _, id_a, token_a = _private_link(on_a.get("/posted").get_data(as_text=True))
    _, id_b, token_b = _private_link(on_b.get("/posted").get_data(as_text=True))
    assert (id_a, token_a) == (id_b, token_b)


def test_a_repeat_on_another_server_waits_for_the_first(database: str, clock: FixedClock) -> None:
    now = lambda: clock.now().timestamp()  # noqa: E731
    a, b = FormOnce(SECRET, now), FormOnce(SECRET, now)
    store_a, store_b = open_store(database), open_store(database)
    nonce = FormOnce.new_nonce()
    assert a.claim(store_a, nonce) is None  # A is making the post
    got: list[Made | None] = []
    waiter = threading.Thread(target=lambda: got.append(b.claim(store_b, nonce)))
    started = time.monotonic()
    waiter.start()
    time.sleep(0.3)
    assert not got  # B waits rather than making a second post
    a.made(store_a, nonce, Made("p1", "t1"))
    waiter.join(5)
    assert got == [Made("p1", "t1")]
    assert time.monotonic() - started < WAIT_SECONDS / 2
    store_a.close()
    store_b.close()


def test_a_first_submission_that_failed_lets_the_repeat_post(database: str, clock: FixedClock) -> None:
    once = FormOnce(SECRET, lambda: clock.now().timestamp())
    store = open_store(database)
    nonce = FormOnce.new_nonce()
    assert once.claim(store, nonce) is None
    once.release(store, nonce)
    started = time.monotonic()
    assert FormOnce(SECRET, lambda: clock.now().timestamp()).claim(store, nonce) is None
    assert time.monotonic() - started < 1  # no wait: nothing is pending
    store.close()


def test_a_form_left_pending_by_a_dead_server_is_taken_over(
    database: str, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The row keeps no second that would tell it is stale (issue 17, item 3): a repeat takes a form
    over once it has waited ``WAIT_SECONDS`` itself (shortened here), however old the row."""
    monkeypatch.setattr(formonce, "WAIT_SECONDS", 0.5)
    once = FormOnce(SECRET, lambda: clock.now().timestamp())
    store = open_store(database)
    nonce = FormOnce.new_nonce()
    assert once.claim(store, nonce) is None  # ... and the server dies before it says made or release
    clock.advance(timedelta(seconds=WAIT_SECONDS + 1))
    started = time.monotonic()
    assert once.claim(store, nonce) is None
    assert 0.5 <= time.monotonic() - started < 5
    store.close()


def test_rows_keep_the_window_they_were_written_in_never_the_second(database: str, clock: FixedClock) -> None:
    """Issue 17, item 3: a row's time is the start of its publication window, whichever second in the
    window the form came, and it lives from KEEP_SECONDS to KEEP_SECONDS plus a window after that."""
    window = 1800
    once = FormOnce(SECRET, lambda: clock.now().timestamp(), window)
    store = open_store(database)
    start = clock.now().timestamp() // window * window
    nonces = []
    for offset in (7, 613, 1799):
        clock.set(datetime.fromtimestamp(start + offset, UTC))
        nonce = FormOnce.new_nonce()
        once.claim(store, nonce)
        once.made(store, nonce, Made(f"p{offset}", "t"))
        nonces.append(nonce)
    assert {int(row[1]) for row in _rows(store)} == {int(start)}
    clock.set(datetime.fromtimestamp(start + window + KEEP_SECONDS - 1, UTC))
    assert once.purge(store) == 0  # the last form came a second before the window ended
    assert once.claim(store, nonces[-1]) == Made("p1799", "t")
    clock.set(datetime.fromtimestamp(start + window + KEEP_SECONDS + 1, UTC))
    assert once.purge(store) == 3
    store.close()


def test_what_the_database_keeps_names_no_post_and_gives_no_token(database: str, clock: FixedClock) -> None:
    once = FormOnce(SECRET, lambda: clock.now().timestamp())
    store = open_store(database)
    nonce = FormOnce.new_nonce()
    once.claim(store, nonce)
    made = Made("post-id-0123456789", "token-abcdefghijklmnopqrstuvwxyz")
    once.made(store, nonce, made)
    rows = _rows(store)
    assert len(rows) == 1
    kept = repr(rows).encode() + b"".join(bytes(r[2]) for r in rows)
    for secret in (nonce, made.post_id, made.token):
        assert secret.encode() not in kept
    assert FormOnce(b"another secret", lambda: clock.now().timestamp()).key(nonce) != rows[0][0]
    assert once.claim(store, nonce) == made  # the nonce, which only the form holds, opens it
    clock.advance(timedelta(seconds=KEEP_SECONDS + 60 + 1))  # its minute (the default window) and ten
    assert once.purge(store) == 1
    assert _rows(store) == []
    store.close()


def test_rows_older_than_the_keep_time_go_when_the_next_form_is_claimed(
    database: str, clock: FixedClock
) -> None:
    once = FormOnce(SECRET, lambda: clock.now().timestamp())
    store = open_store(database)
    old = FormOnce.new_nonce()
    once.claim(store, old)
    once.made(store, old, Made("a", "b"))
    clock.advance(timedelta(seconds=KEEP_SECONDS + 60 + 1))
    once.claim(store, FormOnce.new_nonce())
    assert len(_rows(store)) == 1
    assert once.claim(store, old) is None  # forgotten: a new post
    store.close()
