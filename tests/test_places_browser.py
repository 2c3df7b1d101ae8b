"""The place search in headless Chromium against a real server, on a phone (390x844, touch) and a laptop
(1366x800): a metro station typed in Latin letters and a street typed in Russian are found in the
shipped Minsk gazetteer, picking one centres the map there with its hexagons drawn, and nothing typed
ever leaves the browser: every request is recorded and none carries the text, in its URL, headers or body.
The Python and JavaScript skeletons are checked to agree on a list of spellings."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from flask import Flask
from livesite import Live, carries, shot, typed_forms
from playwright.sync_api import Browser, Page, Request

from mapaid.places import skeleton

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True}
LAPTOP = {"viewport": {"width": 1366, "height": 800}}
SPELLINGS = [
    "Kastrychnitskaya",
    "Kastryčnickaja",
    "Кастрычніцкая",
    "Октябрьская",
    "Uručča",
    "Уручье",
    "улица Кирова",
    "вуліца Кірава",
    "Maskoŭskaja",
    "Плошча Перамогі",
    "Площадь Победы",
    "Łahojski trakt",
    "Шчорса",
    "Щорса",
    "Ў'ЁЙ ʼъ Ґ ß",
    "Niezaliežnasci",
]


@pytest.fixture(scope="module")
def site(live: Live) -> tuple[str, Flask]:
    """The module's server (the tests only search and look), each test in its own context or page."""
    return live.base, live.app


def _search(page: Page, text: str, expect: str) -> None:
    box = page.locator("#place-q")
    box.click()
    box.press_sequentially(text, delay=20)
    option = page.locator("#place-list [role=option]").filter(has_text=expect).first
    option.wait_for(state="visible", timeout=10_000)
    assert page.get_attribute("#place-q", "aria-expanded") == "true"


def _centre(page: Page) -> tuple[float, float, int]:
    name = page.evaluate("JSON.parse(document.getElementById('mapaid-cells').textContent).map")
    result: list[float] = page.evaluate(
        "(name) => { const m = window[name]; const c = m.getCenter(); return [c.lat, c.lng, m.getZoom()]; }",
        name,
    )
    return result[0], result[1], int(result[2])


@pytest.mark.parametrize("device", ["phone", "laptop"])
@pytest.mark.parametrize("lang", ["be", "ru", "en"])
def test_find_a_metro_station_and_a_street_without_telling_the_server(
    browser: Browser, site: tuple[str, Flask], device: str, lang: str
) -> None:
    base, _ = site
    context = browser.new_context(**(PHONE if device == "phone" else LAPTOP), locale=lang)  # type: ignore[arg-type]
    context.grant_permissions([])  # location refused
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{base}/?lang={lang}")
    requests: list[Request] = []
    page.on("request", lambda r: requests.append(r))

    # A metro station in Belarusian Latin: Кастрычніцкая (ru Октябрьская).
    expected = {"be": "Кастрычніцкая", "ru": "Октябрьская", "en": "Kastryčnickaja"}[lang]
    _search(page, "Kastrychnitskaya", expected)
    page.keyboard.press("ArrowDown")
    active = page.get_attribute("#place-q", "aria-activedescendant")
    assert active and page.get_attribute(f"#{active}", "aria-selected") == "true"
    first = page.locator(f"#{active} .place-name").text_content() or ""
    assert expected in first, first
    page.keyboard.press("Enter")
    page.locator("path.mapaid-cell").first.wait_for(state="attached", timeout=15_000)
    lat, lon, zoom = _centre(page)
    assert abs(lat - 53.902) < 0.003 and abs(lon - 27.562) < 0.003 and zoom == 15
    shot(page, f"places-metro-{device}-{lang}")

    # A street in Russian, with the word for street: вуліца Кірава.
    page.fill("#place-q", "")
    street = {"be": "вуліца Кірава", "ru": "улица Кирова", "en": "vulica Kirava"}[lang]
    _search(page, "улица Кирова", street)
    page.locator("#place-list [role=option]").filter(has_text=street).first.click()
    page.locator("path.mapaid-cell").first.wait_for(state="attached", timeout=15_000)
    lat, lon, zoom = _centre(page)
    assert 53.88 < lat < 53.91 and 27.54 < lon < 27.57 and zoom == 15
    assert page.locator("path.mapaid-cell").count() > 10
    shot(page, f"places-street-{device}-{lang}")

    assert not errors
    assert requests, "the page fetched nothing (no gazetteer, no hexagons)"
    own = urlsplit(base).netloc
    assert {urlsplit(r.url).netloc for r in requests if not r.url.startswith("data:")} == {own}
    for typed in ("Kastrychnitskaya", "улица Кирова"):
        leaks = {r.url: carries(r, typed_forms(typed)) for r in requests}
        assert not {u: f for u, f in leaks.items() if f}, leaks
    context.close()


def test_search_on_the_post_page_stays_in_the_browser(browser: Browser, site: tuple[str, Flask]) -> None:
    """On /post the box sits inside the form: Enter picks a place and never submits the form."""
    base, _ = site
    context = browser.new_context(**PHONE, locale="ru")  # type: ignore[arg-type]
    page = context.new_page()
    page.goto(f"{base}/post?lang=ru")
    requests: list[Request] = []
    page.on("request", lambda r: requests.append(r))
    _search(page, "Uruchcha", "Уручье")
    page.keyboard.press("Enter")
    page.locator("path.mapaid-cell").first.wait_for(state="attached", timeout=15_000)
    lat, lon, _ = _centre(page)
    assert abs(lat - 53.945) < 0.003 and abs(lon - 27.688) < 0.003
    assert page.url.endswith("/post?lang=ru")  # not submitted
    assert page.locator("#place-q").get_attribute("name") is None
    assert all(r.method == "GET" for r in requests)
    assert not [r.url for r in requests if carries(r, typed_forms("Uruchcha"))]
    text = page.locator(".place-credits").text_content() or ""
    assert "© OpenStreetMap contributors" in text and "Metro4all" in text and "CC BY-SA 4.0" in text
    context.close()


def test_python_and_javascript_skeletons_agree(browser: Browser, site: tuple[str, Flask]) -> None:
    base, _ = site
    page = browser.new_page()
    page.goto(base + "/")
    folded = page.evaluate("(words) => words.map(window.mapaidPlaces.skeleton)", SPELLINGS)
    assert folded == [skeleton(w) for w in SPELLINGS]
    page.close()


def test_typos_and_scripts_find_the_same_place(browser: Browser, site: tuple[str, Flask]) -> None:
    """Typo-tolerant and script-tolerant, on the shipped gazetteer, through the page's own index."""
    base, _ = site
    page = browser.new_page()
    page.goto(base + "/")
    page.focus("#place-q")
    page.wait_for_function("() => window.mapaidPlaces.index !== undefined")
    cases = {
        "Kastrichnitskaja": "Кастрычніцкая",  # two letters off
        "Kastryčnickaja": "Кастрычніцкая",
        "Октябрская": "Кастрычніцкая",  # a letter missing
        "Уручье": "Уручча",
        "Uručča": "Уручча",
        "Niamiha": "Няміга",
        "Немига": "Няміга",
        "Кирова": "вуліца Кірава",
        "ulitsa Kirova": "вуліца Кірава",
        "Maskovskaya": "Маскоўская",
        "площадь Независимости": "плошча Незалежнасці",
    }
    found = page.evaluate(
        "(qs) => Object.fromEntries(qs.map(q => [q, window.mapaidPlaces.index.search(q, 5).map(r => r[4])]))",
        list(cases),
    )
    for query, name in cases.items():
        assert name in found[query], (query, found[query])
    page.close()
