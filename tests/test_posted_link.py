"""The private link's one trip from ``POST /post`` to ``/posted`` (issue 17, item 9): no cookie holds the
post's token or id in a form a reader of the cookie could use, and the cookie is cleared by the answer to
the very next request, whatever it is; a cookie kept past ten minutes, or changed, shows nothing."""

from __future__ import annotations

import base64
import re
import zlib
from datetime import timedelta
from typing import Any

import h3.api.basic_int as h3
import pytest
from flask import Flask
from flask.testing import FlaskClient

from mapaid import create_app, postedlink
from mapaid.clock import FixedClock
from mapaid.postedlink import COOKIE

CELL = h3.int_to_str(h3.latlng_to_cell(53.9023, 27.5619, 9))
NEXT = ["/health", "/static/mapaid.css", f"/near/{CELL}", "/api/v1/districts", "/no/such/page", "/"]


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def _readable(value: str) -> str:
    """A cookie's value as anyone holding it reads it: itself, and a signed (not encrypted) payload's
    JSON (Flask's session: base64, zlib-compressed when it starts with a dot)."""
    readable = [value]
    for part in value.lstrip(".").split("."):
        try:
            raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
            readable.append(
                (zlib.decompress(raw) if value.startswith(".") else raw).decode("utf-8", "replace")
            )
        except (ValueError, zlib.error):
            continue
    return "\n".join(readable)


def _jar(client: FlaskClient) -> dict[str, str]:
    return {cookie.key: cookie.value for cookie in (client._cookies or {}).values()}


def test_no_cookie_holds_the_token_readably(client: FlaskClient) -> None:
    made = client.post("/post", data={"kind": "need", "category": "food", "text": "Soup", "cell": CELL})
    assert made.status_code == 303
    jar = _jar(client)
    assert COOKIE in jar  # the link is on its way, sealed
    html = client.get("/posted").get_data(as_text=True)
    post_id, token = re.search(r'data-private-url="/manage/([0-9a-f]+)/([^"]+)"', html).groups()  # type: ignore[union-attr]
    for name, value in jar.items():
        assert token not in _readable(value) and post_id not in _readable(value), name


@pytest.fixture
def app(config: dict[str, Any]) -> Flask:
    return create_app({**config, "WTF_CSRF_ENABLED": False})


def _sealed_link(app: Flask, sealed: str) -> tuple[str, str]:
    with app.test_request_context(headers={"Cookie": f"{COOKIE}={sealed}"}):
        link = postedlink.take()
    assert link is not None
    return link


@pytest.mark.parametrize("path", NEXT)
def test_the_next_request_whatever_it_is_clears_the_link(app: Flask, path: str) -> None:
    client = app.test_client()
    form = {"kind": "need", "category": "food", "text": "Soup", "cell": CELL}
    assert client.post("/post", data=form).status_code == 303
    post_id, token = _sealed_link(app, _jar(client)[COOKIE])
    client.get(path)
    for name, value in _jar(client).items():
        assert token not in _readable(value) and post_id not in _readable(value), name
    shown = client.get("/posted").get_data(as_text=True)
    assert token not in shown and "shown once" in shown


def test_a_kept_or_changed_cookie_shows_nothing(config: dict[str, Any]) -> None:
    clock = FixedClock(config["CLOCK"].now())
    client = create_app({**config, "CLOCK": clock, "WTF_CSRF_ENABLED": False}).test_client()
    form = {"kind": "need", "category": "food", "text": "Soup", "cell": CELL}
    assert client.post("/post", data=form).status_code == 303
    sealed = _jar(client)[COOKIE]
    clock.advance(timedelta(minutes=11))
    assert "data-private-url" not in client.get("/posted").get_data(as_text=True)
    clock.advance(timedelta(minutes=-11))
    changed = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]
    client.set_cookie(COOKIE, changed)
    assert "data-private-url" not in client.get("/posted").get_data(as_text=True)
    client.set_cookie(COOKIE, sealed)  # the same cookie, within its ten minutes: the link, once
    assert "data-private-url" in client.get("/posted").get_data(as_text=True)
