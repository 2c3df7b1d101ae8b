"""Resident pages through the Flask test client: offline references, cell-only requests, escaping,
languages, posting with CSRF, the private link, the page cache and the access log."""

from __future__ import annotations

import logging
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import h3.api.basic_int as h3
import pytest
from babel.messages.catalog import Message
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask.testing import FlaskClient

from mapaid import create_app
from mapaid.store import Store

CENTRE = (53.9023, 27.5619)
CELL = h3.int_to_str(h3.latlng_to_cell(*CENTRE, 9))
XSS = "<img src=x onerror=alert(1)>"
TRANSLATIONS = Path(__file__).resolve().parent.parent / "mapaid" / "translations"


class Refs(HTMLParser):
    """Every src and stylesheet href, every form, every script body in a page."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.forms: list[dict[str, str | None]] = []
        self.inputs: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("src"):
            self.refs.append(str(a["src"]))
        if tag == "link" and a.get("href"):
            self.refs.append(str(a["href"]))
        if tag == "form":
            self.forms.append(a)
        if tag in ("input", "select", "textarea"):
            self.inputs.append(a)


def parse(html: str) -> Refs:
    refs = Refs()
    refs.feed(html)
    return refs


def _csrf(client: FlaskClient, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match
    return match.group(1)


def _post(client: FlaskClient, **fields: str) -> tuple[int, str]:
    token = _csrf(client, "/post")
    data = {"csrf_token": token, "cell": CELL, "kind": "offer", "category": "food", "text": "Soup", **fields}
    response = client.post("/post", data=data)
    if response.status_code == 303:  # post, then redirect: the private link is on the page it leads to
        return 303, client.get(response.headers["Location"]).get_data(as_text=True)
    return response.status_code, response.get_data(as_text=True)


def test_pages_reference_only_our_own_host(client: FlaskClient) -> None:
    _post(client)
    for path in ("/", f"/near/{CELL}", "/post", f"/near/{CELL}?within=1200&kind=offer&category=food"):
        response = client.get(path)
        assert response.status_code == 200, path
        html = response.get_data(as_text=True)
        refs = parse(html).refs
        assert refs, path
        for ref in refs:
            assert ref.startswith("/") or ref.startswith("data:"), (path, ref)
            assert not ref.startswith("//")
            if not ref.startswith("data:"):
                assert client.get(ref).status_code == 200, ref
        assert not re.search(r"https?://", html.replace("http://www.w3.org/2000/svg", "")), path
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]


def test_pages_send_only_a_cell(client: FlaskClient) -> None:
    """Forms and links carry a cell id at most: no field can hold a coordinate."""
    for path in ("/", f"/near/{CELL}", f"/post?cell={CELL}"):
        html = client.get(path).get_data(as_text=True)
        names = {str(i.get("name")) for i in parse(html).inputs}
        assert not names & {"lat", "lon", "lng", "latitude", "longitude", "x", "y"}, path
        assert "navigator.geolocation" not in html  # only cells.js (served, read below) asks for it
    script = client.get("/static/cells.js").get_data(as_text=True)
    sent = re.findall(r"(fetch\(.*?\)|location\.assign\(.*?\))", script)
    assert sent == [
        'fetch(config.chunkUrl + chunkId + ".json", {credentials: "omit"})',
        "location.assign(config.nearUrl + id)",
    ]


def test_near_lists_by_walking_time_with_filters(client: FlaskClient) -> None:
    origin = h3.str_to_int(CELL)
    _post(client, text="two rings away", cell=h3.int_to_str(h3.grid_ring(origin, 2)[0]))
    _post(client, text="right here")
    _post(client, text="a need", kind="need", category="medicine")
    html = client.get(f"/near/{CELL}?within=1200").get_data(as_text=True)
    texts = re.findall(r'<p class="post-text">([^<]*)</p>', html)
    assert texts.index("right here") < texts.index("two rings away")
    # walking time in bands (issue 8): the own hexagon, then about 5 / 10 / 15 minutes; no "± n" formula
    assert "in your hexagon" in html and "about 10 minutes" in html and "estimate" in html
    assert "min walk" not in html and "±" not in html and "× 1.3" not in html
    only = client.get(f"/near/{CELL}?kind=need").get_data(as_text=True)
    assert re.findall(r'<p class="post-text">([^<]*)</p>', only) == ["a need"]
    food = client.get(f"/near/{CELL}?category=food&within=400").get_data(as_text=True)
    assert re.findall(r'<p class="post-text">([^<]*)</p>', food) == ["right here"]
    assert client.get(f"/near/{CELL}?within=500").status_code == 400
    assert client.get(f"/near/{CELL}?kind=gift").status_code == 400
    assert client.get("/near/not-a-cell").status_code == 400
    helsinki = h3.int_to_str(h3.latlng_to_cell(60.17, 24.94, 9))
    assert client.get(f"/near/{helsinki}").status_code == 404


def test_user_text_is_escaped_in_list_and_data(client: FlaskClient) -> None:
    _post(client, text=XSS, contact="<b>me</b>")
    html = client.get(f"/near/{CELL}").get_data(as_text=True)
    assert XSS not in html and "<b>me</b>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "\\u003cimg src=x onerror=alert(1)\\u003e" in html  # the map's JSON, parsed as data by near.js


def test_post_needs_csrf_and_shows_the_private_link_once(client: FlaskClient, store: Store) -> None:
    refused = client.post("/post", data={"cell": CELL, "kind": "offer", "category": "food", "text": "x"})
    assert refused.status_code == 400 and store.count() == 0
    status, html = _post(client, contact="@neighbour", expires_days="3")
    assert status == 303
    link = re.search(r'id="private-link" href="([^"]+)"', html)
    assert link
    post_id, token = link.group(1).rsplit("/", 2)[1:]
    assert store.token_hash(post_id) not in (None, token)
    assert token not in str(store.get(post_id))
    manage = client.get(f"/manage/{post_id}/{token}")
    assert manage.status_code == 200 and manage.headers["Cache-Control"] == "no-store"
    assert client.get(f"/manage/{post_id}/wrong").status_code == 404
    form = _csrf(client, f"/manage/{post_id}/{token}")
    done = client.post(f"/manage/{post_id}/{token}", data={"csrf_token": form, "action": "fulfilled"})
    assert done.status_code == 200 and store.get(post_id)["status"] == "fulfilled"  # type: ignore[index]
    gone = client.post(
        f"/manage/{post_id}/{token}", data={"csrf_token": form, "action": "delete", "confirm": "yes"}
    )
    assert gone.status_code == 200 and store.get(post_id) is None


def test_bad_form_keeps_what_was_typed(client: FlaskClient, store: Store) -> None:
    status, html = _post(client, text="", category="fireworks", contact="keep me")
    assert status == 422 and store.count() == 0
    assert "Write what you need" in html and "unknown category" in html and 'value="keep me"' in html
    status, html = _post(client, cell="")
    assert status == 422 and "Click your hexagon" in html


def test_cached_page_changes_when_data_changes(client: FlaskClient) -> None:
    """The same page again, byte for byte but for its per-response CSP nonce (see test_csp.py)."""
    nonce = re.compile(r'nonce="[^"]*"')
    first = client.get(f"/near/{CELL}").get_data(as_text=True)
    again = client.get(f"/near/{CELL}").get_data(as_text=True)
    assert nonce.sub("", again) == nonce.sub("", first) and again != first
    _post(client, text="fresh soup")
    assert "fresh soup" in client.get(f"/near/{CELL}").get_data(as_text=True)


@pytest.mark.parametrize(
    ("header", "lang", "word"), [("be", "be", "Мапа"), ("ru-RU,ru;q=0.9", "ru", "Карта"), ("de", "en", "Map")]
)
def test_language_from_accept_language(client: FlaskClient, header: str, lang: str, word: str) -> None:
    html = client.get(f"/near/{CELL}", headers={"Accept-Language": header}).get_data(as_text=True)
    assert f'<html lang="{lang}">' in html and word in html
    districts = {"be": "Ленінскі", "ru": "Ленинский", "en": "Leninsky District"}
    assert districts[lang] in html
    offer = {"be": "Прапанова", "ru": "Предложение", "en": "Offer"}  # kind names in the legend and list
    assert offer[lang] in html


def test_switcher_on_every_page_and_remembered(client: FlaskClient) -> None:
    for path in ("/", f"/near/{CELL}", "/post", "/nowhere"):
        html = client.get(path).get_data(as_text=True)
        assert all(f'hreflang="{code}"' in html for code in ("be", "ru", "en")), path
    client.get("/?lang=ru")
    assert '<html lang="ru">' in client.get("/post", headers={"Accept-Language": "en"}).get_data(as_text=True)


def _translated(message: Message) -> bool:
    """A real translation (an untranslated plural compiles to its own msgids)."""
    ids = message.id if isinstance(message.id, tuple | list) else (message.id,)
    strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
    return bool(message.id) and not message.fuzzy and any(s and s not in ids for s in strings)


def _text(value: object) -> str:
    return " | ".join(value) if isinstance(value, tuple | list) else str(value)


def test_compiled_catalogues_match_their_sources() -> None:
    for lang in ("be", "ru"):
        folder = TRANSLATIONS / lang / "LC_MESSAGES"
        with open(folder / "messages.po", "rb") as po, open(folder / "messages.mo", "rb") as mo:
            # keyed by context too: the same English word may mean different things (msgctxt)
            source = {(m.context, _text(m.id)): _text(m.string) for m in read_po(po) if _translated(m)}
            compiled = {(m.context, _text(m.id)): _text(m.string) for m in read_mo(mo) if _translated(m)}
        assert source and compiled == source, f"run `make translations` ({lang})"


def test_access_log_holds_no_cell_token_point_or_address(
    config: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """With a line per request (MAPAID_ACCESS_LOG=requests), the most the log can hold; by default it
    holds none of these requests (tests/test_logs.py)."""
    client = create_app({**config, "ACCESS_LOG": "requests"}).test_client()
    caplog.set_level(logging.DEBUG)
    _status, html = _post(client)
    link = re.search(r'id="private-link" href="([^"]+)"', html)
    assert link
    post_id, token = link.group(1).rsplit("/", 2)[1:]
    client.get(f"/near/{CELL}?within=1200", environ_base={"REMOTE_ADDR": "198.51.100.7"})
    client.get(f"/manage/{post_id}/{token}")
    api = client.post(
        "/api/v1/posts",
        json={"kind": "need", "category": "food", "text": "x", "lat": 53.91234, "lon": 27.54321},
    )
    client.get(f"/api/v1/posts?cell={api.get_json()['cell']}")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "GET /near/<cell> 200" in logged and "POST /api/v1/posts 201" in logged
    for secret in (CELL, api.get_json()["cell"], token, post_id, "198.51.100.7", "53.91", "27.54"):
        assert secret not in logged
