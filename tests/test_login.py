"""Logging in under attack: one client's failures do not lock the account for others, guessing names is
throttled per client, a busy hashing slot is answered at once without hashing, and ``next=`` never leads
to another site."""

from __future__ import annotations

import secrets
import time
from datetime import date

import pytest
from flask import Flask
from flask.testing import FlaskClient
from test_coordinator import PASSWORD, login, token

from mapaid import accounts
from mapaid.clients import client_unit
from mapaid.loginguard import MAX_CLIENT_ATTEMPTS, MAX_PAIR_FAILURES
from mapaid.store import Store

MALLORY, ANNA_AT_HOME = "198.51.100.7", "203.0.113.9"


@pytest.fixture
def anna(store: Store) -> str:
    accounts.add(store, "anna", PASSWORD, date(2026, 11, 28))
    return "anna"


def browser(app: Flask, address: str, language: str = "en") -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
    return client


# -- throttles -------------------------------------------------------------------------------------------
def test_one_clients_failures_do_not_lock_out_another(app: Flask, anna: str) -> None:
    mallory = browser(app, MALLORY)
    for _ in range(MAX_PAIR_FAILURES):
        assert login(mallory, password="a wrong guess").status_code == 401
    response = login(mallory)  # even the right password waits, from this client
    assert response.status_code == 429 and response.headers["Retry-After"] == "60"
    assert "wait a minute" in response.text
    assert login(browser(app, ANNA_AT_HOME)).status_code == 302  # anna, elsewhere, is not locked out


def test_guessing_random_names_is_throttled_per_client(app: Flask, anna: str) -> None:
    mallory = browser(app, MALLORY, "ru")
    for _ in range(MAX_CLIENT_ATTEMPTS):
        assert login(mallory, name=f"guess-{secrets.token_hex(4)}").status_code == 401
    response = login(mallory, name=f"guess-{secrets.token_hex(4)}")
    assert response.status_code == 429 and response.headers["Retry-After"] == "60"
    assert "Слишком много попыток входа" in response.text  # in the visitor's language
    assert login(mallory).status_code == 429  # whatever the name, right password or not
    assert login(browser(app, ANNA_AT_HOME)).status_code == 302


def test_a_busy_hashing_slot_is_answered_at_once_without_hashing(app: Flask, anna: str) -> None:
    anna_client = browser(app, ANNA_AT_HOME, "be")
    csrf = token(anna_client)
    with accounts.hashing_slot():  # someone else's password is being checked
        started = time.perf_counter()
        for _ in range(MAX_PAIR_FAILURES + 1):
            response = anna_client.post(
                "/coordinator/login", data={"name": "anna", "password": PASSWORD, "csrf_token": csrf}
            )
            assert response.status_code == 503 and response.headers["Retry-After"] == "2"
            assert "праз некалькі секунд" in response.text
        elapsed = (time.perf_counter() - started) / (MAX_PAIR_FAILURES + 1)
    assert anna_client.get("/coordinator").status_code == 302  # the right password, but never checked
    assert elapsed < 0.1, elapsed  # no wait for the slot, no argon2 hash (0.1-0.3 s)
    # Busy answers are not failures on the account: once the slot is free, anna gets in.
    assert login(anna_client).status_code == 302


@pytest.mark.parametrize(
    ("given", "same_client"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2:bbbb::2"),  # one /64: one network of a home
        ("2001:db8:1:2::1", "2001:db8:1:3::1"),  # two /64s of one /56: one home
        ("2001:db8:1:0::1", "2001:db8:1:ff:ffff::1"),  # the first and the last /64 of one /56
    ],
)
def test_clients_are_addresses_and_ipv6_counts_by_its_56(given: str, same_client: str) -> None:
    assert client_unit(given) == client_unit(same_client)
    assert client_unit("2001:db8:1:2::1") != client_unit("2001:db8:1:102::1")  # the next /56: a neighbour
    assert client_unit("192.0.2.1") != client_unit("192.0.2.2")


def test_the_login_guard_counts_a_home_by_its_56(app: Flask, anna: str) -> None:
    """Name guessing spread over one home's /64s stops at one allowance; the next /56 has its own."""
    for i in range(MAX_CLIENT_ATTEMPTS):
        home = browser(app, f"2001:db8:1:{i:x}::1")  # a new /64 of the same /56 each time
        assert login(home, name=f"guess-{secrets.token_hex(4)}").status_code == 401
    assert login(browser(app, "2001:db8:1:ff::2")).status_code == 429  # the same home, right password
    assert login(browser(app, "2001:db8:1:100::1")).status_code == 302  # the next /56


# -- next= ----------------------------------------------------------------------------------------------
OPEN_REDIRECTS = [
    "//evil.example",
    "//evil.example/x",
    "///evil.example",
    "/\t/evil.example",
    "/\r\n/evil.example",
    "/\n/evil.example",
    "\t//evil.example",
    " //evil.example",
    "/ /evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "/\x00/evil.example",
    "/\u200b/evil.example",  # zero-width space
    "/\u3000/evil.example",  # ideographic space
    "/%2F/evil.example",  # decoded by something down the line
    "/%2F%2Fevil.example",
    "/%5Cevil.example",
    "/%09/evil.example",
    "http://evil.example",
    "https:evil.example",
    "https:/evil.example",
    "HTTPS://evil.example",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "evil.example",
    "",
]


@pytest.mark.parametrize("target", OPEN_REDIRECTS)
def test_login_never_redirects_to_another_site(app: Flask, anna: str, target: str) -> None:
    client = app.test_client()
    page = client.get("/coordinator/login", query_string={"next": target})
    assert page.status_code == 200
    assert '<input type="hidden" name="next" value="/coordinator">' in page.text
    response = login(client, next=target)
    assert response.status_code == 302 and response.headers["Location"] == "/coordinator"
    # Logged in already: the login page sends on at once, to the same safe place.
    again = client.get("/coordinator/login", query_string={"next": target})
    assert again.status_code == 302 and again.headers["Location"] == "/coordinator"


@pytest.mark.parametrize(
    "target", ["/coordinator/posts?kind=need&district=frunzensky", "/coordinator?within=400&sort=name"]
)
def test_login_still_returns_to_pages_of_this_site(app: Flask, anna: str, target: str) -> None:
    response = login(app.test_client(), next=target)
    assert response.status_code == 302 and response.headers["Location"] == target
