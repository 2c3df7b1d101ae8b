"""A forged Host cannot put another host into any answer (issue 17, item 9): with MAPAID_BASE_URL set,
every GET route of the app (OGC API links and its OpenAPI servers, the private link shown after posting,
a conversation's link, every page and document) and the writes' Location headers are asked with a
``Host`` and an ``X-Forwarded-Host`` of an attacker's, behind one trusted proxy, and the attacker's names
appear in no status line, header or body; the site's address does, where a link is absolute.
"""

from __future__ import annotations

import re
from typing import Any

import h3.api.basic_int as h3
import pytest
from flask import Flask
from flask.testing import FlaskClient

from mapaid import create_app, grid, replycrypto
from mapaid.config import ConfigError, resolve
from mapaid.replythread import Party

CELL = h3.int_to_str(h3.latlng_to_cell(53.9023, 27.5619, 9))
BASE = "https://mapaid.example.org/aid"
FORGED = {
    "Host": "evil-host.example",
    "X-Forwarded-Host": "evil-forwarded.example",
    "X-Forwarded-Proto": "http",
}
EVIL = re.compile(r"evil-(host|forwarded)", re.IGNORECASE)


@pytest.fixture
def site(config: dict[str, Any]) -> Flask:
    return create_app({**config, "BASE_URL": BASE + "/", "TRUSTED_PROXIES": "1", "WTF_CSRF_ENABLED": False})


def _values(client: FlaskClient, app: Flask) -> dict[str, str]:
    """A real value for each path argument the routes take: a post, its token, a conversation, a cell."""
    keys = replycrypto.generate("p256")
    body = {"kind": "need", "category": "food", "text": "Bread", "cell": CELL, "reply_key": keys.public}
    made = client.post("/api/v1/posts", json=body, headers=FORGED)
    assert made.status_code == 201 and not EVIL.search(str(made.headers)), made.headers
    post_id, token = made.get_json()["id"], made.get_json()["token"]
    neighbour = replycrypto.generate("p256")
    party = Party(post_id, keys.public, neighbour.public, neighbour.private, poster=False)
    day = app.extensions["mapaid.clock"].today().isoformat()
    started = client.post(
        f"/api/v1/posts/{post_id}/threads",
        json={"key": neighbour.public, "message": party.write("hello", day)},
        headers=FORGED,
    )
    assert started.status_code == 201 and not EVIL.search(str(started.headers)), started.headers
    with app.app_context():
        from mapaid.db import get_store

        parent = str(grid.chunk_index(get_store().area(), 9)[0][0])
    return {
        "post_id": post_id,
        "token": token,
        "thread_id": started.get_json()["thread"],
        "cell": CELL,
        "parent": parent,
        "lang": "be",
        "filename": "posts.geojson",
        "name": "posts",
        "item_id": post_id,
    }


def _evil(answer: Any) -> list[str]:
    text = f"{answer.status} {list(answer.headers.items())}\n{answer.get_data(as_text=True)}"
    return sorted({text[max(0, m.start() - 60) : m.end() + 20] for m in EVIL.finditer(text)})


def test_no_answer_carries_a_forged_host(site: Flask) -> None:
    client = site.test_client()
    values = _values(client, site)
    found: dict[str, list[str]] = {}
    asked = []
    for rule in site.url_map.iter_rules():
        if "GET" not in rule.methods or rule.rule.startswith("/static"):
            continue
        path = rule.rule
        for name in rule.arguments:
            path = re.sub(rf"<(?:\w+:)?{name}>", values.get(name, "x"), path)
        for suffix in ("", "?f=html", "?f=json") if path.startswith("/ogcapi") else ("",):
            answer = client.get(path + suffix, headers={**FORGED, "X-Post-Token": values["token"]})
            asked.append((path + suffix, answer.status_code))
            if _evil(answer):
                found[path + suffix] = _evil(answer)
    form = client.post(
        "/post", data={"kind": "need", "category": "food", "text": "Soup", "cell": CELL}, headers=FORGED
    )
    if _evil(form):
        found["POST /post"] = _evil(form)
    posted = client.get("/posted", headers=FORGED)
    if _evil(posted):
        found["GET /posted"] = _evil(posted)
    assert found == {}, found
    ok = {path for path, status in asked if status == 200}
    assert {
        "/ogcapi",
        "/ogcapi/collections/posts/items",
        f"/manage/{values['post_id']}/{values['token']}",
    } <= ok
    landing = client.get("/ogcapi?f=json", headers=FORGED).get_json()
    assert {link["href"].split("/ogcapi")[0] for link in landing["links"]} == {BASE}
    private = client.get(f"/manage/{values['post_id']}/{values['token']}", headers=FORGED).get_data(
        as_text=True
    )
    assert f"{BASE}/manage/{values['post_id']}/{values['token']}" in private
    assert f"{BASE}/manage/" in posted.get_data(as_text=True)


def test_without_the_setting_links_follow_the_request(config: dict[str, Any]) -> None:
    """On one's own machine (no MAPAID_BASE_URL), as before: the address the browser used."""
    client = create_app(config).test_client()
    landing = client.get("/ogcapi?f=json", base_url="http://192.168.1.5:5000").get_json()
    assert landing["links"][0]["href"].startswith("http://192.168.1.5:5000/ogcapi")


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("https://mapaid.example.org/", "https://mapaid.example.org"),
        ("http://localhost:5000", "http://localhost:5000"),
        (" https://example.org/aid/ ", "https://example.org/aid"),
        ("", None),
    ],
)
def test_the_base_url_setting_is_kept_without_its_slash(given: str, kept: str | None) -> None:
    assert resolve({"SECRET_KEY": "k", "BASE_URL": given}).base_url == kept


@pytest.mark.parametrize(
    "given",
    [
        "mapaid.example.org",
        "ftp://mapaid.example.org",
        "https://",
        "https://user:pw@mapaid.example.org",
        "https://mapaid.example.org/?next=x",
        "https://mapaid.example.org/#top",
        "https://mapaid.example.org:99999",
        'https://mapaid.example.org/"><script>',
    ],
)
def test_a_base_url_that_is_not_a_site_s_address_is_refused(given: str) -> None:
    with pytest.raises(ConfigError, match="MAPAID_BASE_URL must be the site's address"):
        resolve({"SECRET_KEY": "k", "BASE_URL": given})
