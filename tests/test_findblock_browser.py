"""Finding one's block without a location or tiles (issue 18, item 3), in headless Chromium on a phone
(390x844, touch) in Belarusian, Russian and English against one real server for the module:

- at zoom 16 around three metro stations, at least three street names show inside the map, written along
  their streets, none over another or over a station's name, none upside down, none "nan";
- building outlines are drawn at zoom 16, and fetched only once the map gets there;
- "Кирова 8", "Кірава 8" and "Kirava 8" find the house, mark the hexagon holding it (the expected hexagon
  is computed here with h3 from the OSM building's own centroid, read from the extract independently of
  the loader), the page says "probably", and its street is highlighted; on the posting form the hexagon
  is chosen; nothing typed leaves the browser;
- the house-number folding of the page agrees with mapaid/places.py.

Screenshots go to test-artifacts/findblock-*.png."""

from __future__ import annotations

import bz2
import xml.etree.ElementTree as ET
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import h3.api.basic_int as h3
import pytest
import shapely
from livesite import Live, Watch, carries, shot, typed_forms
from playwright.sync_api import Browser, BrowserContext, Page, Request

from mapaid.config import SHIPPED_GEODATA

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True}
LANGS = ("be", "ru", "en")
# Three stations in the OSM extract of the centre (elsewhere the shipped data has only the streets named
# after a person: see README, "Finding a place").
STATIONS = {  # name for the screenshot: (lat, lon)
    "lienina": (53.892561, 27.5476975),  # Plošča Lienina
    "kultury": (53.8858932, 27.5407052),  # Instytut Kuĺtury
    "piershamajskaja": (53.8938442, 27.5709184),  # Pieršamajskaja
}
QUERIES = {"be": "Кірава 8", "ru": "Кирова 8", "en": "Kirava 8"}
HOUSE = {"be": "вуліца Кірава, 8", "ru": "улица Кирова, 8", "en": "vulica Kirava, 8"}
PROBABLY = {"be": "верагодна", "ru": "вероятно", "en": "probably"}

# Every street label in the page: its text, its box, each letter's box and turn, in page pixels.
LABELS = """() => Array.from(document.querySelectorAll('text.mapaid-street-label')).map(t => {
  const svg = t.ownerSVGElement.getBoundingClientRect(), n = t.getNumberOfChars();
  const r = t.getBoundingClientRect();
  const letters = [], turns = [];
  for (let i = 0; i < n; i++) {
    const e = t.getExtentOfChar(i);
    letters.push([svg.left + e.x, svg.top + e.y, svg.left + e.x + e.width, svg.top + e.y + e.height]);
    turns.push(t.getRotationOfChar(i));
  }
  return {text: t.textContent, box: [r.left, r.top, r.right, r.bottom], letters: letters, turns: turns,
    start: t.getStartPositionOfChar(0).x, end: t.getEndPositionOfChar(n - 1).x};
})"""
BOXES = """(selector) => Array.from(document.querySelectorAll(selector)).map(e => {
  const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })"""


@cache
def kirava_8() -> tuple[float, float]:
    """The centroid (lat, lon) of the building the OSM extract addresses "улица Кирова, 8", read here
    from the XML with shapely, not through the loader under test."""
    coords: dict[str, tuple[float, float]] = {}
    with bz2.open(SHIPPED_GEODATA / "minsk-pass.osm.bz2") as f:
        for _, el in ET.iterparse(f):
            if el.tag == "node":
                coords[el.get("id", "")] = (float(el.get("lon", "0")), float(el.get("lat", "0")))
            elif el.tag == "way":
                tags = {t.get("k"): t.get("v") for t in el.iter("tag")}
                if tags.get("addr:street") == "улица Кирова" and tags.get("addr:housenumber") == "8":
                    ring = [coords[n.get("ref", "")] for n in el.iter("nd")]
                    centre = shapely.Polygon(ring).centroid
                    return centre.y, centre.x
            if el.tag in ("way", "relation"):
                el.clear()
    raise AssertionError("no building 'улица Кирова, 8' in the extract")


@pytest.fixture(scope="module")
def base(live: Live) -> str:
    """The module's server: the shipped districts, places and street layer; the tests only look."""
    return live.base


def _phone(browser: Browser, lang: str) -> BrowserContext:
    context = browser.new_context(**PHONE, locale=lang)  # type: ignore[arg-type]
    context.grant_permissions([])  # location refused
    return context


def _map(page: Page) -> str:
    name = page.locator("script.mapaid-layers").first.get_attribute("data-map")
    assert name
    for _ in range(100):
        if page.evaluate(f"window[{name!r}].mapaidBasemap !== undefined"):
            return name
        page.wait_for_timeout(100)
    raise AssertionError("the street layer was never drawn")


def _overlap(a: list[float], b: list[float], slack: float = 0.5) -> bool:
    return min(a[2], b[2]) - max(a[0], b[0]) > slack and min(a[3], b[3]) - max(a[1], b[1]) > slack


def _check_labels(page: Page, where: str) -> list[dict[str, Any]]:
    """The labels inside the map, after checking every label on the page: upright, left to right, over
    no other label, station name or the legend, never "nan"."""
    labels: list[dict[str, Any]] = page.evaluate(LABELS)
    stations = page.evaluate(BOXES, ".mapaid-station-name span, .mapaid-metro-icon span, .map-legend")
    for i, label in enumerate(labels):
        assert label["text"].strip() and label["text"].strip().lower() != "nan", (where, label["text"])
        assert all(-90 <= turn <= 90 for turn in label["turns"]), (where, label["text"], label["turns"])
        assert label["end"] >= label["start"], (where, label["text"])  # reads left to right
        for other in labels[i + 1 :]:
            clash = [(a, b) for a in label["letters"] for b in other["letters"] if _overlap(a, b)]
            assert not clash, (where, label["text"], other["text"], clash[:2])
        hits = [s for s in stations for a in label["letters"] if _overlap(a, s)]
        assert not hits, (where, label["text"], "over a station's name or the legend", hits[:2])
    frame = page.evaluate(BOXES, ".leaflet-container")[0]
    return [
        label
        for label in labels
        if label["box"][0] >= frame[0]
        and label["box"][1] >= frame[1]
        and label["box"][2] <= frame[2]
        and label["box"][3] <= frame[3]
    ]


@pytest.mark.parametrize("lang", LANGS)
def test_street_names_and_buildings_at_zoom_16_around_metro_stations(
    browser: Browser, base: str, lang: str
) -> None:
    context = _phone(browser, lang)
    page = context.new_page()
    watch = Watch(page)
    page.goto(f"{base}/?lang={lang}")
    name = _map(page)
    assert page.evaluate(f"window[{name!r}].getZoom()") < 16
    assert page.locator("text.mapaid-street-label").count() == 0  # no names zoomed out
    assert not [r.url for r in watch.requests if "buildings" in r.url]  # fetched only when needed
    for station, (lat, lon) in STATIONS.items():
        page.evaluate(f"void window[{name!r}].setView([{lat}, {lon}], 16, {{animate: false}})")
        page.wait_for_timeout(300)
        shown = _check_labels(page, f"{station} {lang}")
        assert len(shown) >= 3, (station, lang, [label["text"] for label in shown])
        _until_drawn(page, "path.mapaid-buildings")
        shot(page, f"findblock-names-{lang}-{station}")
    assert len([r for r in watch.requests if r.url.endswith("/basemap/buildings.json")]) == 1
    assert watch.errors == []
    context.close()


def _until_drawn(page: Page, selector: str) -> None:
    """Wait until an element matching ``selector`` is drawn inside the map (a path's outline is drawn
    a frame after the path is added)."""
    for _ in range(50):
        frame = page.evaluate(BOXES, ".leaflet-container")[0]
        if any(_overlap(box, frame) for box in page.evaluate(BOXES, selector)):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"nothing drawn in view: {selector}")


def _search(page: Page, text: str, expect: str) -> None:
    box = page.locator("#place-q")
    box.click()
    box.press_sequentially(text, delay=20)
    page.locator("#place-list [role=option]").filter(has_text=expect).first.wait_for(timeout=10_000)


def _suggested(page: Page) -> str:
    for _ in range(100):
        cell = page.evaluate("window.mapaidCells && window.mapaidCells.suggested")
        if cell:
            return str(cell)
        page.wait_for_timeout(100)
    raise AssertionError("no hexagon was marked")


@pytest.mark.parametrize("lang", LANGS)
def test_a_house_number_marks_its_hexagon_and_highlights_its_street(
    browser: Browser, base: str, lang: str
) -> None:
    expected = h3.int_to_str(h3.latlng_to_cell(*kirava_8(), 9))
    context = _phone(browser, lang)
    page = context.new_page()
    watch = Watch(page)
    page.goto(f"{base}/?lang={lang}")
    name = _map(page)
    requests: list[Request] = []
    page.on("request", lambda r: requests.append(r))
    _search(page, QUERIES[lang], HOUSE[lang])
    first = page.locator("#place-list [role=option] .place-name").first.text_content()
    assert first == HOUSE[lang]  # the house itself comes first, before 8 к1, 8 к2 and the street
    page.locator("#place-list [role=option]").first.tap()
    assert _suggested(page) == expected
    status = page.locator("#cell-status-text")
    assert PROBABLY[lang] in (status.text_content() or "") and status.is_visible()
    marked = page.locator('path.mapaid-cell[stroke-width="3"]')
    assert marked.count() == 1
    # The street of the house is highlighted, on screen, and its name is written on the map.
    _until_drawn(page, "path.mapaid-chosen-street")
    assert page.evaluate(f"window[{name!r}].getZoom()") >= 16
    street = HOUSE[lang].split(",")[0]
    shown = _check_labels(page, f"house {lang}")
    assert street.split()[-1] in " ".join(label["text"] for label in shown)
    shot(page, f"findblock-house-{lang}")

    own = urlsplit(base).netloc
    assert {urlsplit(r.url).netloc for r in requests} <= {own}
    leaks = {r.url: carries(r, typed_forms(QUERIES[lang])) for r in requests}
    assert not {u: f for u, f in leaks.items() if f}, leaks
    assert watch.errors == []
    context.close()


def test_a_street_picked_in_the_search_is_highlighted(browser: Browser, base: str) -> None:
    context = _phone(browser, "ru")
    page = context.new_page()
    page.goto(f"{base}/?lang=ru")
    _map(page)
    assert page.locator("path.mapaid-chosen-street").count() == 0
    _search(page, "Свердлова", "улица Свердлова")
    page.locator("#place-list [role=option]").filter(has_text="улица Свердлова").first.tap()
    _until_drawn(page, "path.mapaid-chosen-street")
    shot(page, "findblock-street-ru")
    # Another place chosen: the highlight goes.
    page.fill("#place-q", "")
    _search(page, "Октябрьская", "Октябрьская")
    page.keyboard.press("Enter")
    page.wait_for_timeout(300)
    assert page.locator("path.mapaid-chosen-street").count() == 0
    context.close()


def test_on_the_posting_form_the_house_chooses_the_hexagon(browser: Browser, base: str) -> None:
    expected = h3.int_to_str(h3.latlng_to_cell(*kirava_8(), 9))
    context = _phone(browser, "ru")
    page = context.new_page()
    page.goto(f"{base}/post?lang=ru")
    _search(page, "ул. Кирова, д. 8", "улица Кирова, 8")
    page.keyboard.press("Enter")
    assert _suggested(page) == expected
    assert page.locator("#cell").input_value() == expected
    assert page.url.endswith("/post?lang=ru")  # nothing sent
    assert PROBABLY["ru"] in (page.locator("#cell-status-text").text_content() or "")
    shot(page, "findblock-post-ru")
    context.close()


HOUSE_NUMBERS = ["8", "8а", "8А", "8-а", "8 к1", "8к1", "8 корпус 1", "8/2", "22 к10", "8 б", "11"]


def test_house_numbers_fold_alike_in_python_and_javascript(browser: Browser, base: str) -> None:
    from mapaid.places import house_key

    page = browser.new_page()
    page.goto(base + "/")
    folded = page.evaluate("(numbers) => numbers.map(window.mapaidPlaces.houseKey)", HOUSE_NUMBERS)
    assert folded == [house_key(n) for n in HOUSE_NUMBERS]
    assert folded[1:4] == ["8a"] * 3 and folded[4:7] == ["8k1"] * 3 and folded[7] == "8/2"
    assert folded[-1] == "11"  # not folded like a doubled letter
    page.close()
