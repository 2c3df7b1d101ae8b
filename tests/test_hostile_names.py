"""A hostile districts file and hostile posts in headless Chromium: nothing runs, everything shows as text.

District names come from OpenStreetMap, which anyone can edit. Here every name field (name_be, name_ru,
name_en) of every district holds markup meant to run script (``<img onerror>``, ``</script>``, quotes,
``javascript:``, a copy of our nonce placeholder ...), loaded with the real ``mapaid init-db``; a category
and the posts' text and contact are hostile too. Every page is opened, districts are hovered (tooltips)
and clicked (popups), a post's popup is opened. No script may run (``window.__pwned`` stays undefined, no
dialog), the names must show literally, the console must stay clean, the Content-Security-Policy must
report no violation, and every request must go to our own host."""

from __future__ import annotations

import json
import math
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import h3.api.basic_int as h3
import numpy as np
import pytest
import shapely
from click.testing import CliRunner
from conftest import PUBLISH_AT_ONCE, TEST_SECRET
from livesite import serve, shot
from playwright.sync_api import Browser, ConsoleMessage, Page

from mapaid import create_app, csp
from mapaid.config import DEFAULT_CATEGORIES, DEFAULT_DISTRICTS
from mapaid.store import open_store

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery"
LANGS = ("be", "ru", "en")
PAYLOADS = (
    '<img src=x onerror="window.__pwned=1">',
    "</script><script>window.__pwned=2</script>",
    "\"'><svg onload=window.__pwned=3>",
    "javascript:window.__pwned=4",
    "<style>body{display:none}</style>",
    '<a href="javascript:window.__pwned=5">link</a>',
    f"<script {csp.ATTRIBUTE}>window.__pwned=6</script>",
    "&lt;b&gt; &amp; {{7*7}} ${window.__pwned=7}",
    "<iframe srcdoc='<script>parent.__pwned=8</script>'>",
)
CATEGORY = "<img src=x onerror=window.__pwned=9>"
POSTS = (
    {
        "kind": "offer",
        "category": CATEGORY,
        "text": '<img src=x onerror="window.__pwned=10"> soup & "bread"',
        "contact": "javascript:window.__pwned=11",
    },
    {
        "kind": "need",
        "category": "food",
        "text": "</script><script>window.__pwned=12</script> "
        f"<script {csp.ATTRIBUTE}>window.__pwned=13</script>",
        "contact": "\"'><svg onload=window.__pwned=14>",
    },
)
CATCH_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__violations.push(e.violatedDirective + " " + e.blockedURI + " " + (e.sample || ""));
}, true);
"""


def name(i: int, lang: str) -> str:
    return f"{PAYLOADS[i]} {lang}{i}"


@dataclass
class Site:
    base: str
    points: list[tuple[float, float]]  # a point inside each district, where the test hovers
    names: dict[str, list[str]]  # each district's name per language, in the order of points
    cell: str  # the hexagon holding the posts
    manage: str  # the first post's private link


def _hostile_districts(path: Path) -> Path:
    """Minsk's polygons with every name field hostile and no slug column (slugs are made from names)."""
    collection = json.loads(Path(DEFAULT_DISTRICTS).read_text(encoding="utf-8"))
    for i, feature in enumerate(collection["features"]):
        properties = feature["properties"]
        properties.pop("slug")
        for lang in LANGS:
            properties[f"name_{lang}"] = name(i, lang)
    path.write_text(json.dumps(collection), encoding="utf-8")
    return path


def _post_cell(points: list[tuple[float, float]], db: Path) -> int:
    """A hexagon inside the area, over 2.5 km from every hover point (markers would cover a district)."""
    store = open_store(db)
    area = store.area()
    west, south, east, north = area.districts.total_bounds
    start = h3.latlng_to_cell((south + north) / 2, (west + east) / 2, 9)
    try:
        for cell in h3.grid_disk(start, 25):
            lat, lon = h3.cell_to_latlng(cell)
            far = all(math.dist((lat, lon * 0.59), (p[0], p[1] * 0.59)) * 111 > 2.5 for p in points)
            info = area.cell_info(np.array([cell], dtype=np.int64))[0]
            if far and info is not None and info.inside:
                return int(cell)
    finally:
        store.close()
    raise AssertionError("no hexagon far from the hover points")


def _api_post(base: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        base + "/api/v1/posts", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request) as response:
        assert response.status == 201
        result: dict[str, Any] = json.load(response)
        return result


@pytest.fixture
def site(tmp_path: Path, empty_database: str) -> Iterator[Site]:
    db, instance = empty_database, tmp_path / "instance"
    categories = ",".join((*DEFAULT_CATEGORIES, CATEGORY))
    env = {
        "MAPAID_DATABASE": str(db),
        "MAPAID_SECRET_KEY": TEST_SECRET,
        "MAPAID_INSTANCE": str(instance),
        "MAPAID_CELL_RES": "9",
        "MAPAID_DISTRICTS": str(_hostile_districts(tmp_path / "hostile.geojson")),
        "MAPAID_CATEGORIES": categories,
    }
    from mapaid.cli import main

    result = CliRunner().invoke(main, ["init-db"], env=env)
    assert result.exit_code == 0, result.output
    assert "loaded 9 districts" in result.output
    add = ["coordinator", "add", "anna", "--password-stdin"]
    result = CliRunner().invoke(main, add, env=env, input=PASSWORD)
    assert result.exit_code == 0, result.output
    store = open_store(db)
    districts = store.area().districts
    names = {lang: districts[f"name_{lang}"].tolist() for lang in LANGS}
    assert sorted(names["en"]) == sorted(name(i, "en") for i in range(9))  # stored as given
    points = [(p.y, p.x) for p in shapely.point_on_surface(districts.geometry.values)]
    store.close()
    cell = h3.int_to_str(_post_cell(points, db))
    config = {
        "DATABASE": str(db),
        "SECRET_KEY": TEST_SECRET,
        "INSTANCE_DIR": str(instance),
        "CATEGORIES": categories,
        "TESTING": False,
        **PUBLISH_AT_ONCE,  # the hostile posts on the map at once
    }
    with serve(create_app(config)) as base:
        created = [_api_post(base, {**post, "cell": cell}) for post in POSTS]
        yield Site(base, points, names, cell, f"{base}/manage/{created[0]['id']}/{created[0]['token']}")


class Watch:
    """Console errors, page errors, dialogs and requests of a page; CSP violations via CATCH_VIOLATIONS."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.urls: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        page.on("request", lambda r: self.urls.append(r.url))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self.errors.append(f"{message.type}: {message.text}")

    def clean(self, where: str) -> None:
        """Nothing ran, nothing was refused, nothing complained, on the page open now."""
        assert self.page.evaluate("() => typeof window.__pwned") == "undefined", where
        assert self.page.evaluate("() => window.__violations") == [], where
        made = "main img, main iframe, main style, main script, [onerror], [onload], a[href^='javascript']"
        assert self.page.locator(made).count() == 0, where  # no data became an element
        assert self.dialogs == [] and self.errors == [], (where, self.dialogs, self.errors)


def _view(page: Page, lat: float, lon: float, zoom: int = 13) -> tuple[float, float]:
    """Centre the page's map on a point (below the zoom where hexagons appear); its position on screen."""
    # void: setView returns the map, which Playwright would copy whole (seconds) to hand back
    page.evaluate(
        "([lat, lon, zoom]) => void window[document.querySelector('.folium-map').id]"
        ".setView([lat, lon], zoom, {animate: false})",
        [lat, lon, zoom],
    )
    box = page.locator(".folium-map").bounding_box()
    assert box is not None
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def _hover(page: Page, site: Site, names: list[str], *, exact: bool = True) -> None:
    """Hover each district: its tooltip opens and shows its name as text."""
    for i, ((lat, lon), expected) in enumerate(zip(site.points, names, strict=True)):
        x, y = _view(page, lat, lon)
        offset = 3 if i % 2 else -3  # the pointer always moves, so the district under it gets mouseover
        page.mouse.move(x + offset, y + offset)
        shown = page.locator(".leaflet-tooltip td").first.inner_text()
        assert shown == expected if exact else shown.endswith(expected), (shown, expected)


def _coordinator_popups(page: Page, site: Site) -> None:
    """Click each district on the coordinator's map: its popup names it, as text."""
    for i, (lat, lon) in enumerate(site.points):
        x, y = _view(page, lat, lon)
        page.mouse.click(x, y)
        popup = page.locator(".leaflet-popup-content td").first
        popup.wait_for()
        assert popup.inner_text().endswith(site.names["en"][i]), (popup.inner_text(), i)
        if i == 0:
            shot(page, "hostile-coordinator-popup")


def _districts_in_table(page: Page, selector: str) -> None:
    shown = page.locator(selector).all_inner_texts()
    for i in range(9):
        assert any(text.strip().endswith(name(i, "en")) for text in shown), (i, shown)


def test_hostile_names_and_posts_show_as_text_and_run_nothing(browser: Browser, site: Site) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    context.add_init_script(CATCH_VIOLATIONS)
    page = context.new_page()
    watch = Watch(page)

    for lang in ("be", "ru", "en"):  # every name field, each on the page of its language
        page.goto(f"{site.base}/?lang={lang}")
        page.wait_for_selector("path.leaflet-interactive", state="attached")
        _hover(page, site, site.names[lang])
        watch.clean(f"/?lang={lang}")
    _view(page, *site.points[0])
    page.mouse.move(*_view(page, *site.points[0]))
    page.locator(".leaflet-tooltip").wait_for()
    shot(page, "hostile-index-tooltip")

    page.goto(f"{site.base}/post")
    page.wait_for_selector("path.leaflet-interactive", state="attached")
    _hover(page, site, site.names["en"])
    for lat, lon in site.points:  # a click on a district zooms in (on / it would then pick a hexagon)
        page.mouse.click(*_view(page, lat, lon))
        page.wait_for_function("() => window[document.querySelector('.folium-map').id].getZoom() > 13")
    assert CATEGORY in page.locator("#category option").all_inner_texts()
    watch.clean("/post")

    page.goto(f"{site.base}/near/{site.cell}")
    page.wait_for_selector(".marker-cluster, path.leaflet-interactive", state="attached")
    for post in POSTS:
        item = page.locator("li.post", has_text=post["contact"])
        assert item.locator(".post-text").inner_text() == post["text"]
        assert item.locator(".contact").inner_text() == f"Contact: {post['contact']}"
        item.get_by_role("link", name="show on map").click()
        popup = page.locator(".leaflet-popup-content", has_text=post["contact"])  # the last may fade out
        popup.locator(".post-text").wait_for()
        assert popup.locator(".post-text").inner_text() == post["text"]
        assert popup.locator(".contact").inner_text() == post["contact"]
        assert f" · {_district_name(site)} · " in popup.locator(".post-meta").inner_text()
    assert page.locator("li.post .category", has_text=CATEGORY).count() == 1
    page.wait_for_timeout(300)
    shot(page, "hostile-near-popup")
    _hover(page, site, site.names["en"])
    for lat, lon in site.points:
        page.mouse.click(*_view(page, lat, lon))
    watch.clean("/near")

    page.goto(site.manage)
    assert page.locator(".post-text").inner_text() == POSTS[0]["text"]
    assert page.locator(".post-meta").inner_text().startswith(f"a hexagon in {_district_name(site)}")
    watch.clean("/manage")

    page.goto(f"{site.base}/coordinator")
    page.fill("#name", "anna")
    page.fill("#password", PASSWORD)
    page.click("form.login button[type=submit]")
    page.wait_for_selector("table.districts")
    page.wait_for_selector("path.leaflet-interactive", state="attached")
    _districts_in_table(page, "table.districts td:nth-child(2)")
    _hover(page, site, site.names["en"], exact=False)
    _coordinator_popups(page, site)
    watch.clean("/coordinator")

    page.goto(f"{site.base}/coordinator/posts")
    _districts_in_table(page, "select[name=district] option")
    for post in POSTS:
        row = page.locator("tr", has_text=post["contact"])
        assert row.locator("td.post-text").inner_text() == f"{post['text']}\n{post['contact']}"
    assert page.locator("td", has_text=CATEGORY).count() == 1
    shot(page, "hostile-moderation")
    watch.clean("/coordinator/posts")

    hosts = {urlsplit(u).netloc for u in watch.urls if not u.startswith("data:")}
    assert hosts == {urlsplit(site.base).netloc}, hosts
    context.close()


def _district_name(site: Site) -> str:
    """The English name of the district holding the posts' hexagon, as the API gives it."""
    lat, lon = h3.cell_to_latlng(h3.str_to_int(site.cell))
    with urllib.request.urlopen(site.base + "/api/v1/districts") as response:
        collection = json.load(response)
    for feature in collection["features"]:
        if shapely.geometry.shape(feature["geometry"]).contains(shapely.Point(lon, lat)):
            found: str = feature["properties"]["name_en"]
            assert found in [name(i, "en") for i in range(9)]
            return found
    raise AssertionError("the hexagon is in no district")
