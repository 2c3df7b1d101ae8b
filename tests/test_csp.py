"""The Content-Security-Policy of every page: no 'unsafe-inline' for scripts or styles, a fresh nonce per
response that exactly our own inline elements carry (data never gets one, cached pages never share one),
no inline style or event attributes, and map scripts that put no data into innerHTML.
The browser side of the same promise is tests/test_hostile_names.py."""

from __future__ import annotations

import os
import re
from datetime import date
from html.parser import HTMLParser
from typing import Any

import geopandas as gpd
import h3.api.basic_int as h3
import pandas as pd
import pytest
from flask.testing import FlaskClient
from scene import Scene, build

from mapaid import accounts, csp
from mapaid.maps import base_layers, base_map, render
from mapaid.store import Store
from mapaid.unmetmap import unmet_map

CELL = h3.int_to_str(h3.latlng_to_cell(53.9023, 27.5619, 9))
PASSWORD = "correct horse battery"
HOSTILE = '<img src=x onerror="window.__pwned=1"></script><script>window.__pwned=2</script>"\''
TEMPLATE = "{{ lipsum.__globals__.os.getpid() }} {{7*7}} {% raw %} {#"
TILES = "https://tiles.example/{z}/{x}/{y}.png"


class Page(HTMLParser):
    """Inline <script>/<style> elements with their nonce, and every style= or on…= attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.inline: list[tuple[str, str | None]] = []  # (tag, nonce)
        self.bad_attributes: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for name, value in attrs:
            if name == "style" or name.startswith("on") or "javascript:" in (value or "").lower():
                self.bad_attributes.append((tag, name))
        if tag == "style" or (tag == "script" and not a.get("src") and a.get("type") != "application/json"):
            self.inline.append((tag, a.get("nonce")))


def directives(header: str) -> dict[str, list[str]]:
    parsed = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            parsed[words[0]] = words[1:]
    return parsed


def check_page(response: Any) -> str:
    """Assert the policy and the page agree; return the response's nonce."""
    policy = directives(response.headers["Content-Security-Policy"])
    nonces = {w for d in ("script-src", "style-src") for w in policy[d] if w.startswith("'nonce-")}
    assert len(nonces) == 1, policy
    nonce = nonces.pop()[len("'nonce-") : -1]
    for directive in ("script-src", "style-src"):
        assert policy[directive] == ["'self'", f"'nonce-{nonce}'"], policy[directive]
    assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'self'"]
    html = response.get_data(as_text=True)
    page = Page()
    page.feed(html)
    assert page.bad_attributes == []
    assert all(found == nonce for _, found in page.inline), page.inline
    assert html.count(nonce) == len(page.inline)  # our inline elements, and nothing else, carry it
    assert csp.ATTRIBUTE not in html  # every placeholder nonce was filled
    return nonce


def login(client: FlaskClient) -> None:
    page = client.get("/coordinator/login").text
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match
    data = {"name": "anna", "password": PASSWORD, "csrf_token": match.group(1)}
    assert client.post("/coordinator/login", data=data).status_code == 302


@pytest.fixture
def scene(store: Store) -> Scene:
    accounts.add(store, "anna", PASSWORD, date.today())
    return build(store, date.today())


def test_every_page_has_a_strict_policy_its_inline_elements_follow(client: FlaskClient, scene: Scene) -> None:
    created = client.post(
        "/api/v1/posts",
        json={"kind": "need", "category": "food", "text": HOSTILE, "contact": HOSTILE[:100], "cell": CELL},
    ).get_json()
    pages = ["/", "/post", f"/post?cell={CELL}", f"/near/{CELL}", f"/near/{CELL}?within=1200&kind=need"]
    pages += [f"/manage/{created['id']}/{created['token']}", "/coordinator/login", "/no/such/page"]
    pages += ["/coordinator", "/coordinator?within=400", "/coordinator/posts"]
    inline = 0
    for path in pages:
        if path == "/coordinator":
            login(client)
        response = client.get(path)
        assert response.mimetype == "text/html" and response.status_code in (200, 404), path
        check_page(response)
        page = Page()
        page.feed(response.get_data(as_text=True))
        inline += len(page.inline)
    assert inline > 10  # the map pages do have inline elements, and they carry the nonce


def test_a_cached_page_gets_a_new_nonce_each_time(client: FlaskClient) -> None:
    for path in ("/", f"/near/{CELL}"):
        first, second = client.get(path), client.get(path)
        a, b = check_page(first), check_page(second)
        assert a != b
        assert first.get_data(as_text=True).replace(a, "") == second.get_data(as_text=True).replace(b, "")


def test_responses_that_are_not_pages_allow_no_inline_code(client: FlaskClient) -> None:
    for path in ("/api/v1/districts", "/static/near.js", "/static/vendor/leaflet/leaflet.js"):
        policy = directives(client.get(path).headers["Content-Security-Policy"])
        assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"], path


def test_data_cannot_take_a_nonce(client: FlaskClient) -> None:
    """Text that spells our placeholder attribute stays text: it never receives the response's nonce."""
    text = f"<script {csp.ATTRIBUTE}>window.__pwned=1</script> <style {csp.ATTRIBUTE}>"
    response = client.post(
        "/api/v1/posts", json={"kind": "offer", "category": "food", "text": text, "cell": CELL}
    )
    assert response.status_code == 201
    page = client.get(f"/near/{CELL}")
    check_page(page)  # the nonce appears exactly once per inline element we made
    assert "&lt;script nonce=&#34;mapaid-csp-nonce&#34;&gt;" in page.get_data(as_text=True)


def _hostile(districts: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    frame = districts.copy()
    for column in ("name_be", "name_ru", "name_en"):
        frame[column] = [f"{HOSTILE} {TEMPLATE} {i}" for i in range(len(frame))]
    return frame


def test_map_scripts_hold_no_data_and_the_data_stays_text(store: Store) -> None:
    """Data goes into the page's JSON block for layers.js, escaped; never into folium's templates, where
    branca rendered it a second time as Jinja (``{{ lipsum.__globals__.os.getpid() }}`` ran on the server)."""
    area = store.area()
    districts = _hostile(area.districts)
    base = render(base_map(districts), base_layers(districts, "en", tiles=TILES, tiles_attribution=HOSTILE))
    table = pd.DataFrame(
        {
            "district": districts["slug"],
            "name": districts["name_en"],
            "rank": range(1, len(districts) + 1),
            "offers": 0,
            "needs": 1,
            "unmet": 1,
            "share_met": 0.0,
            "food_needs": 1,
            "food_unmet": 1,
        }
    )
    area.districts = districts
    cells = pd.DataFrame({"cell": [h3.str_to_int(CELL)], "unmet": [1], "food_unmet": [1]})
    fields = ("offers", "needs", "unmet", "met", "by_category", "districts", "hexagons", "tiles")
    aliases = dict.fromkeys(fields, f"{HOSTILE} {TEMPLATE}")
    coordinator = unmet_map(
        table,
        cells,
        area,
        lang="en",
        categories=("food",),
        labels={"food": f"{HOSTILE} {TEMPLATE}"},
        aliases=aliases,
        tiles=TILES,
        tiles_attribution=TEMPLATE,
    )
    for parts in (base, coordinator):
        folium_output = parts.head + parts.html + parts.script
        for word in ("pwned", "lipsum", "innerHTML", str(os.getpid())):
            assert word not in folium_output, word
        layers = str(parts.layers)
        assert layers.count(TEMPLATE) >= 9 and "window.__pwned" in layers  # the data, unevaluated
        assert "<" not in layers and ">" not in layers and "'" not in layers  # it cannot end its element
        assert f'<script type="application/json" class="mapaid-layers" data-map="{parts.name}">' in (
            parts.script_element
        )
