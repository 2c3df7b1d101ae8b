"""A wrong private token tells nothing about the post it was tried on (issue 17, item 9): the API and the
private-link pages give one answer to a token that is not the post's, whether the post is open, hidden by a
coordinator, fulfilled, past its last day, deleted, or never was. Only the right token tells them apart.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import h3.api.basic_int as h3
import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from mapaid import create_app
from mapaid.models import Status
from mapaid.store import Store

CELL = h3.int_to_str(h3.latlng_to_cell(53.9023, 27.5619, 9))
STATES = ("open", "hidden", "fulfilled", "expired", "deleted", "never")
WRONG = "A" * 32  # the shape of a token, no post's
# (method, path after /api/v1/posts/<id>, JSON body): every API operation that takes X-Post-Token
API = [
    ("DELETE", "", None),
    ("POST", "/fulfilled", None),
    ("POST", "/extend", {"days": 7}),
    ("PATCH", "", {"text": "Bread"}),
]


@pytest.fixture
def site(config: dict[str, Any]) -> Flask:
    return create_app({**config, "WTF_CSRF_ENABLED": False})


def _posts(client: FlaskClient, store: Store, today: date) -> dict[str, tuple[str, str]]:
    """A post in each state, with its own token."""
    made = {}
    for state in STATES[:-1]:
        body = {"kind": "need", "category": "food", "text": f"A {state} post", "cell": CELL}
        answer = client.post("/api/v1/posts", json=body).get_json()
        made[state] = (answer["id"], answer["token"])
    store.set_status(made["hidden"][0], Status.HIDDEN)
    store.set_status(made["fulfilled"][0], Status.FULFILLED)
    store.set_expiry(made["expired"][0], today - timedelta(days=1))
    assert client.delete(f"/api/v1/posts/{made['deleted'][0]}", headers={"X-Post-Token": made["deleted"][1]})
    assert store.get(made["deleted"][0]) is None
    made["never"] = ("0123456789abcdef0123", "")
    return made


def _seen(response: TestResponse, post_id: str) -> tuple[int, str, list[tuple[str, str]]]:
    """What a client sees, with the id it asked about (which pages repeat in their links) made neutral."""
    body = response.get_data(as_text=True).replace(post_id, "<id>")
    body = re.sub(r'nonce-[^"\';]+|nonce="[^"]+"', "nonce", body)
    headers = [
        (k, re.sub(r"nonce-[^'; ]+", "nonce", v.replace(post_id, "<id>")))
        for k, v in response.headers.items()
        if k not in ("Date", "Set-Cookie", "Content-Length", "ETag")
    ]
    return response.status_code, body, headers


@pytest.mark.parametrize(("method", "suffix", "body"), API, ids=[f"{m} {s or '/'}" for m, s, _ in API])
def test_the_api_answers_a_wrong_token_alike_whatever_the_post(
    site: Flask, store: Store, today: date, method: str, suffix: str, body: Any
) -> None:
    client = site.test_client()
    posts = _posts(client, store, today)
    seen = {
        state: _seen(
            client.open(
                f"/api/v1/posts/{post_id}{suffix}", method=method, json=body, headers={"X-Post-Token": WRONG}
            ),
            post_id,
        )
        for state, (post_id, _) in posts.items()
    }
    assert seen["open"][0] == 401
    assert {state: answer == seen["never"] for state, answer in seen.items()} == dict.fromkeys(STATES, True)
    # the right token still tells: a hidden post is there for its poster, a deleted one is not
    hidden_id, hidden_token = posts["hidden"]
    assert (
        client.post(
            f"/api/v1/posts/{hidden_id}/extend", json={"days": 1}, headers={"X-Post-Token": hidden_token}
        ).status_code
        == 200
    )


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_the_private_link_pages_answer_a_wrong_token_alike_whatever_the_post(
    site: Flask, store: Store, today: date, method: str
) -> None:
    client = site.test_client()
    posts = _posts(client, store, today)
    form = {"action": "fulfilled"} if method == "POST" else None
    seen = {
        state: _seen(client.open(f"/manage/{post_id}/{WRONG}", method=method, data=form), post_id)
        for state, (post_id, _) in posts.items()
    }
    assert seen["open"][0] == 404
    assert {state: answer == seen["never"] for state, answer in seen.items()} == dict.fromkeys(STATES, True)
