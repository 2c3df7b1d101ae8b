"""Our own street map, the home map's counts and /near's walking bands in headless Chromium against a real
server, on a phone (390x844, touch) and a laptop (1366x800), in Belarusian, Russian and English: streets
and metro stations drawn at zoom 15 in the centre with names in the page's language, counts on the home map
leading to /near, a need-only cluster in the need colour; every request to our own host, no console error
(a CSP violation is one). Screenshots go to test-artifacts/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import h3.api.basic_int as h3
import pandas as pd
import pytest
from conftest import TEST_SECRET
from flask import Flask
from livesite import serve, shot
from playwright.sync_api import Browser, BrowserContext, Page
from test_browser import Watch

from mapaid import create_app
from mapaid.config import DEFAULT_CATEGORIES
from mapaid.maps import KIND_COLOURS
from mapaid.pipeline import ingest, rules_for
from mapaid.store import Store

pytestmark = pytest.mark.browser
CENTRE = (53.8904, 27.5513)  # Minsk-Pasažyrski: the centre the full OSM extract covers
STATION = {"be": "Плошча Леніна", "ru": "Площадь Ленина", "en": "Plošča Lienina"}  # the station beside it
VIEWPORTS = {
    "phone": {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True},
    "laptop": {"viewport": {"width": 1366, "height": 800}},
}
CASES = [(device, lang) for device in VIEWPORTS for lang in ("be", "ru", "en")]


@pytest.fixture(scope="module")
def posts_rows() -> pd.DataFrame:
    """Offers and needs in the hexagons around the centre, and a need-only corner two kilometres east."""
    origin = h3.latlng_to_cell(*CENTRE, 9)
    cells = [h3.int_to_str(c) for c in h3.grid_disk(origin, 2)]
    east = h3.latlng_to_cell(CENTRE[0], CENTRE[1] + 0.03, 9)
    needs = [h3.int_to_str(east)] * 3
    return pd.DataFrame(
        {
            "cell": cells + needs,
            "kind": ["offer", "need"] * (len(cells) // 2) + ["offer"] * (len(cells) % 2) + ["need"] * 3,
            "category": "food",
            "text": [f"Soup for neighbours {i}" for i in range(len(cells) + 3)],
        }
    )


@pytest.fixture(scope="module")
def site(
    live_store: Store, live_config: dict[str, Any], posts_rows: pd.DataFrame
) -> Iterator[tuple[str, Flask]]:
    """One server for the module (the tests only look), each test in its own browser context."""
    rules = rules_for(DEFAULT_CATEGORIES, 9, live_config["CLOCK"].today())
    ingest(posts_rows, [str(i) for i in range(len(posts_rows))], rules, live_store, TEST_SECRET.encode())
    app = create_app({**live_config, "TESTING": False})
    with serve(app) as base:
        yield base, app


def _context(browser: Browser, device: str, lang: str) -> BrowserContext:
    return browser.new_context(locale=lang, **VIEWPORTS[device])  # type: ignore[arg-type]


def _map(page: Page) -> str:
    name = page.locator("script.mapaid-layers").first.get_attribute("data-map")
    assert name
    return name


def _until(page: Page, expression: str, tries: int = 50) -> None:
    """Poll ``expression`` (page.wait_for_function evaluates a string, which the page's CSP forbids)."""
    for _ in range(tries):
        if page.evaluate(expression):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"never true: {expression}")


def _set_view(page: Page, lat: float, lon: float, zoom: int) -> None:
    # void: setView returns the map, which Playwright would copy whole (seconds) to hand back
    page.evaluate(f"void window[{_map(page)!r}].setView([{lat}, {lon}], {zoom}, {{animate: false}})")
    page.wait_for_timeout(300)


@pytest.mark.parametrize(("device", "lang"), CASES)
def test_streets_metro_and_counts_on_the_home_map(
    browser: Browser, site: tuple[str, Flask], device: str, lang: str
) -> None:
    base, _app = site
    context = _context(browser, device, lang)
    page = context.new_page()
    watch = Watch(page)
    page.goto(f"{base}/?lang={lang}")
    name = _map(page)
    _until(page, f"window[{name!r}].mapaidBasemap !== undefined")

    # Zoomed out: one count per district, none of them a post's position.
    page.wait_for_selector(".count-badge")
    assert page.locator(".count-badge").count() >= 1
    assert page.locator(".counts-legend").is_visible()

    # Zoom 15 in the centre: streets drawn, metro stations named in the page's language.
    _set_view(page, *CENTRE, 15)
    layer = page.evaluate(
        f"(() => {{ var b = window[{name!r}].mapaidBasemap; return [b.count, b.stations,"
        f" window[{name!r}].hasLayer(b.streets)]; }})()"
    )
    assert layer[0] > 400 and layer[1] == 29 and layer[2] is True
    assert page.locator("path.mapaid-street").count() > 20
    station = page.locator(".mapaid-station-name span", has_text=STATION[lang])
    assert station.count() == 1 and station.is_visible()
    page.wait_for_selector(".count-badge")
    shot(page, f"basemap-{device}-{lang}-z15")

    # Zoom 17: street names written along the streets (as text), inside the map.
    _set_view(page, *CENTRE, 17)
    page.wait_for_selector("text.mapaid-street-label")
    inside = page.evaluate(
        """() => { const m = document.querySelector('.leaflet-container').getBoundingClientRect();
        return Array.from(document.querySelectorAll('text.mapaid-street-label')).filter(t => {
          const r = t.getBoundingClientRect();
          return r.left >= m.left && r.right <= m.right && r.top >= m.top && r.bottom <= m.bottom;
        }).length; }"""
    )
    assert inside > (3 if device == "laptop" else 1)
    shot(page, f"basemap-{device}-{lang}-z17")

    # A tap on a hexagon's count opens /near of that hexagon.
    _set_view(page, *CENTRE, 15)
    here = h3.int_to_str(h3.latlng_to_cell(*CENTRE, 9))
    badge = page.locator(f'a.count-badge[href$="/near/{here}"]')
    badge.wait_for()
    box = badge.bounding_box()
    assert box and box["width"] >= 44 and box["height"] >= 44  # a tap target, however small the count
    href = badge.get_attribute("href")
    assert href and re.search(r"/near/[0-9a-f]{15}$", href)
    if device == "phone":
        badge.tap()
    else:
        badge.click()
    page.wait_for_url(re.compile(r"/near/[0-9a-f]{15}$"))
    assert page.url.endswith(href)
    assert page.locator("li.post").count() > 0

    assert watch.errors == []
    assert watch.hosts() == {urlsplit(base).netloc}
    context.close()


@pytest.mark.parametrize(("device", "lang"), [("phone", "be"), ("laptop", "ru"), ("laptop", "en")])
def test_near_draws_the_listed_area_and_clusters_by_kind(
    browser: Browser, site: tuple[str, Flask], device: str, lang: str
) -> None:
    base, _app = site
    context = _context(browser, device, lang)
    page = context.new_page()
    watch = Watch(page)
    east = h3.latlng_to_cell(CENTRE[0], CENTRE[1] + 0.03, 9)
    page.goto(f"{base}/near/{h3.int_to_str(east)}?within=800&lang={lang}")
    page.wait_for_selector("path.mapaid-reach", state="attached")
    _set_view(page, *h3.cell_to_latlng(east), 13)  # far enough out for the three needs to cluster
    page.wait_for_selector(".mapaid-cluster-need", state="attached")
    need_only = page.locator(".mapaid-cluster-need .cluster-need").first
    colour = need_only.evaluate("e => getComputedStyle(e).backgroundColor")
    assert colour == _rgb(KIND_COLOURS["need"])
    assert page.locator(".mapaid-cluster-offer, .mapaid-cluster-mixed").count() == 0
    box = page.locator(".mapaid-cluster-need").first.bounding_box()
    assert box and box["width"] >= 44 and box["height"] >= 44
    assert page.locator("path.mapaid-reach").count() >= 7  # the own hexagon and its ring within 10 minutes
    assert page.locator("path.leaflet-interactive[stroke-dasharray]").count() == 0  # no dashed circle
    shot(page, f"near-bands-{device}-{lang}")

    page.goto(f"{base}/near/{h3.int_to_str(h3.latlng_to_cell(*CENTRE, 9))}?within=1200&lang={lang}")
    page.wait_for_selector("path.mapaid-reach", state="attached")
    _set_view(page, *CENTRE, 13)
    page.wait_for_selector(".mapaid-cluster-mixed", state="attached")
    mixed = page.locator(".mapaid-cluster-mixed").first
    assert mixed.locator(".cluster-offer").count() == 1 and mixed.locator(".cluster-need").count() == 1
    assert watch.errors == []
    assert watch.hosts() == {urlsplit(base).netloc}
    context.close()


def _rgb(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"
