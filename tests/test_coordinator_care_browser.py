"""Coordinators on a laptop (1366x800) and a phone (390x844, touch), in Belarusian, in headless Chromium:
neither the dashboard nor the moderation list makes the page scroll sideways (wide tables scroll in their
own box); hiding a post and undoing it leaves the list where it was on the screen; a gap hexagon's popup
leads to the list of its unmet needs. Screenshots in test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import h3.api.basic_int as h3
import pytest
from flask import Flask
from livesite import ARTIFACTS, serve, shot
from playwright.sync_api import Browser, Page
from scene import Scene, build

from mapaid import accounts, create_app
from mapaid.store import Store

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery"
CELL = h3.int_to_str(h3.latlng_to_cell(53.9023, 27.5619, 9))
SIZES = [
    pytest.param({"width": 1366, "height": 800}, False, id="laptop"),
    pytest.param({"width": 390, "height": 844}, True, id="phone"),
]


@pytest.fixture(scope="module")
def site(live_store: Store, live_config: dict[str, Any]) -> Iterator[tuple[str, Scene]]:
    """One server for the module; each test logs in in a browser context of its own."""
    today = live_config["CLOCK"].today()
    scene = build(live_store, today)
    accounts.add(live_store, "anna", PASSWORD, today)
    app: Flask = create_app({**live_config, "TESTING": False})
    client = app.test_client()
    for i in range(60):  # enough rows for the list to scroll
        body = {"kind": "offer", "category": "food", "text": f"Суп на вячэру {i}", "cell": CELL}
        assert client.post("/api/v1/posts", json=body).status_code == 201
    with serve(app) as base:
        yield base, scene


def _open(browser: Browser, base: str, viewport: dict[str, int], touch: bool) -> tuple[Page, list[str]]:
    context = browser.new_context(viewport=viewport, has_touch=touch, is_mobile=touch, locale="be-BY")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{base}/coordinator/login?lang=be")
    page.fill("#name", "anna")
    page.fill("#password", PASSWORD)
    page.click("form.login button[type=submit]")
    page.wait_for_selector("table.districts")
    return page, errors


def _no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert width[0] <= width[1], f"the page scrolls sideways: {width}"


@pytest.mark.parametrize(("viewport", "touch"), SIZES)
def test_pages_fit_the_screen_in_belarusian(
    browser: Browser, site: tuple[str, Scene], viewport: dict[str, int], touch: bool
) -> None:
    base, _scene = site
    page, errors = _open(browser, base, viewport, touch)
    name = f"{viewport['width']}x{viewport['height']}"
    assert page.locator("html").get_attribute("lang") == "be"
    page.wait_for_selector("path.gap-hexagon", state="attached")
    _no_sideways_scroll(page)
    for table in page.locator(".table-scroll").all():  # a table wider than its box scrolls inside it
        box = table.evaluate("e => [e.scrollWidth, e.clientWidth]")
        if box[0] > box[1] + 1:
            assert table.evaluate("e => e.classList.contains('overflowing')")
            assert table.locator("xpath=following-sibling::p[1]").is_visible()  # the hint says so
    if viewport["width"] >= 1366:  # on a laptop the Belarusian table fits its columns
        districts = page.locator("table.districts")
        assert districts.evaluate("t => t.scrollWidth <= t.parentElement.clientWidth")
    shot(page, f"coordinator-care-dashboard-be-{name}")
    page.goto(f"{base}/coordinator/posts")
    page.wait_for_selector("table.posts")
    _no_sideways_scroll(page)
    shot(page, f"coordinator-care-posts-be-{name}")
    assert errors == [], errors
    page.context.close()


@pytest.mark.parametrize(("viewport", "touch"), SIZES)
def test_hide_then_undo_keeps_the_list_where_it_was(
    browser: Browser, site: tuple[str, Scene], live_store: Store, viewport: dict[str, int], touch: bool
) -> None:
    base, _scene = site
    store = live_store
    # The module's server is shared: this test's audit entries are those after the last one now.
    audited = len(store.audit_trail(limit=1_000_000))
    page, errors = _open(browser, base, viewport, touch)
    page.goto(f"{base}/coordinator/posts?kind=offer&status=open")
    rows = page.locator("table.posts tbody tr")
    row = rows.nth(30)
    post_id = row.get_attribute("data-id")
    assert post_id
    row.scroll_into_view_if_needed()
    page.evaluate("window.scrollBy(0, -Math.round(window.innerHeight / 3))")  # the row mid-screen
    before = page.evaluate("window.scrollY")
    top = row.evaluate("r => r.getBoundingClientRect().top")
    assert before > 300
    with page.expect_navigation():
        row.locator("form[action$='/hide'] button").click()
    assert urlsplit(page.url).fragment == f"post-{post_id}"
    assert parse_qs(urlsplit(page.url).query) == {"kind": ["offer"], "status": ["open"]}
    assert store.get(post_id)["status"] == "hidden"  # type: ignore[index]
    page.wait_for_function("document.readyState === 'complete'")
    hidden_row = page.locator(f"#post-{post_id}")
    assert hidden_row.get_attribute("data-status") == "hidden"  # still there, in its place
    assert abs(hidden_row.evaluate("r => r.getBoundingClientRect().top") - top) < 40
    undo = page.locator(".flashes.toast form.undo button")
    assert undo.is_visible()  # in view wherever the list is scrolled
    # what the window shows (a full-page shot would resize the window and move the list)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"coordinator-care-hidden-be-{viewport['width']}.png"))
    with page.expect_navigation():
        undo.click()
    page.wait_for_function("document.readyState === 'complete'")
    assert store.get(post_id)["status"] == "open"  # type: ignore[index]
    after = page.evaluate("window.scrollY")
    assert abs(after - before) < 40, (before, after)
    assert abs(page.locator(f"#post-{post_id}").evaluate("r => r.getBoundingClientRect().top") - top) < 40
    trail = store.audit_trail(limit=1_000_000)  # latest first
    actions = [entry.action for entry in reversed(trail[: len(trail) - audited])]
    assert actions == ["hide", "restore"]
    assert errors == [], errors
    page.context.close()


@pytest.mark.parametrize(("viewport", "touch"), SIZES)
def test_a_gap_hexagon_opens_the_list_of_its_unmet_needs(
    browser: Browser, site: tuple[str, Scene], viewport: dict[str, int], touch: bool
) -> None:
    base, scene = site
    page, errors = _open(browser, base, viewport, touch)
    page.goto(f"{base}/coordinator?within=400")
    page.wait_for_selector("path.gap-hexagon", state="attached")
    hexagons = page.locator("path.gap-hexagon")
    assert hexagons.count() == 2
    centre = h3.int_to_str(scene.centre)
    for i in range(hexagons.count()):
        page.keyboard.press("Escape")
        hexagons.nth(i).dispatch_event("click")
        link = page.locator(".leaflet-popup-content a.detail-link")
        link.wait_for(state="attached")
        if f"cell={centre}" in (link.get_attribute("href") or ""):
            break
    assert link.inner_text() == "Спіс гэтых незадаволеных патрэб"
    with page.expect_navigation():
        link.dispatch_event("click")
    query = parse_qs(urlsplit(page.url).query)
    assert query["cell"] == [centre] and query["kind"] == ["need"] and query["status"] == ["open"]
    listed = set(page.locator("table.posts tbody tr").evaluate_all("rs => rs.map(r => r.dataset.id)"))
    assert listed == {scene.ids[k] for k in ("nf1", "nf2", "nm", "nc")}
    assert page.locator(".cell-filter").is_visible()
    _no_sideways_scroll(page)
    shot(page, f"coordinator-care-cell-be-{viewport['width']}")
    assert errors == [], errors
    page.context.close()
