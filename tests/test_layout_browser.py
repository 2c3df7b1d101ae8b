"""The phone-first layout in headless Chromium, at 390x844 with touch and at 1366x800, in be, ru and en.

On a phone: the page scrolls as one (no scroll box around the list), the map takes at most half the first
screen, every control a finger taps is at least 44 x 44 CSS px, pinch zoom is allowed (one viewport meta,
without ``user-scalable=no`` or ``maximum-scale=1``), one finger on the map scrolls the page (the map stays
put and says to use two fingers), "show on map" brings the map into view, the header is one row and the
credits fold into a button. On a laptop the map stays beside the list. On both, the keyboard alone chooses
a hexagon on the city map.

Tap targets: the only links exempt from 44 x 44 are those WCAG 2.5.8 exempts as "inline" (a link inside a
sentence, its size set by the line of text): the links of the map's credit line, which show only when the
credits button is pressed, and links marked ``.inline``. A checkbox inside a <label> is measured by its
label, which is what a finger taps (Leaflet's layer switch)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from livesite import shot
from pagesite import DESKTOP, LANGUAGES, PHONE, Site, log_in, post, site
from playwright.sync_api import Browser, Page

from mapaid.store import Store

pytestmark = pytest.mark.browser

# Every visible element a finger can tap, with its size (the enclosing label for a checkbox or radio).
TAPPABLES_JS = """() => {
  const selector = 'a[href], button, input:not([type=hidden]), select, textarea, summary, [role=button],'
    + ' .leaflet-control a, .leaflet-control button, .leaflet-control input';
  const out = [];
  for (const el of document.querySelectorAll(selector)) {
    if (el.closest('.leaflet-control-attribution') || el.classList.contains('inline')) continue;
    let target = el;
    if ((el.type === 'checkbox' || el.type === 'radio') && el.closest('label')) target = el.closest('label');
    const style = getComputedStyle(target);
    const box = target.getBoundingClientRect();
    if (style.visibility === 'hidden' || style.display === 'none' || box.width === 0 || box.height === 0
        || !target.getClientRects().length) continue;
    if (target.closest('[aria-hidden=true]')) continue;
    out.push({what: target.outerHTML.slice(0, 90), width: box.width, height: box.height});
  }
  return out;
}"""

# Ancestors of an element that scroll on their own (overflow auto/scroll with more content than room).
SCROLL_BOXES_JS = """(selector) => {
  const boxes = [];
  for (let el = document.querySelector(selector); el && el !== document.body; el = el.parentElement) {
    const style = getComputedStyle(el);
    if (/(auto|scroll)/.test(style.overflowY + style.overflow)) boxes.push(el.tagName + '.' + el.className);
  }
  return boxes;
}"""


def small_targets(page: Page) -> list[str]:
    found: list[dict[str, Any]] = page.evaluate(TAPPABLES_JS)
    assert found, "no tappable element found"
    return [
        f"{t['width']:.0f}x{t['height']:.0f} {t['what']}"
        for t in found
        if round(min(t["width"], t["height"])) < 44
    ]


def viewports(page: Page) -> list[str]:
    return page.eval_on_selector_all("meta[name=viewport]", "els => els.map(e => e.content)")


def map_centre(page: Page) -> list[float]:
    return page.evaluate(
        "() => { const c = window[document.querySelector('.folium-map').id].getCenter();"
        " return [c.lat, c.lng]; }"
    )


def open_page(page: Page, s: Site, path: str, lang: str) -> None:
    page.goto(f"{s.base}{path}{'&' if '?' in path else '?'}lang={lang}")
    page.wait_for_load_state("load")
    page.wait_for_timeout(200)


@pytest.fixture(scope="module")
def served(live_store: Store, live_config: dict[str, Any]) -> Any:
    """One site for the module: every test opens its own browser context on it."""
    with site(live_store, live_config, live_config["CLOCK"].today()) as s:
        yield s


def swipe(page: Page, x: float, y: float, dy: float, fingers: int = 1) -> None:
    """A drag upwards over (x, y) with one finger (or two side by side), as a touch screen sends it."""
    cdp = page.context.new_cdp_session(page)
    xs = [x] if fingers == 1 else [x - 40, x + 40]

    def points(d: float) -> list[dict[str, float]]:
        return [{"x": px, "y": y - d, "id": i + 1} for i, px in enumerate(xs)]

    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": points(0)})
    for i in range(1, 11):
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": points(dy * i / 10)})
        page.wait_for_timeout(16)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    page.wait_for_timeout(400)
    cdp.detach()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_phone_layout(browser: Browser, served: Site, lang: str) -> None:
    s = served
    context = browser.new_context(**PHONE, locale=lang)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    height = PHONE["viewport"]["height"]
    small: list[str] = []

    for name, path in s.resident_pages().items():
        open_page(page, s, path, lang)
        assert viewports(page) == ["width=device-width, initial-scale=1"], name  # one, pinch zoom allowed
        header = page.locator("header.top").bounding_box()
        assert header and header["height"] <= 60, (name, header)  # one row
        if page.locator(".folium-map").count():
            box = page.locator(".folium-map").bounding_box()
            assert box and box["height"] <= height / 2, (name, box)
            assert page.locator(".leaflet-container[aria-label]").count() == 1
        small += [f"{name}: {t}" for t in small_targets(page)]
        shot(page, f"layout-phone-{lang}-{name}")

    # The list is part of the page, not a box of its own; the page is taller than the screen.
    open_page(page, s, f"/near/{s.cell}", lang)
    assert page.evaluate("() => document.documentElement.scrollHeight") > height
    assert page.evaluate(SCROLL_BOXES_JS, "ol.posts") == []
    assert page.locator("a.button[href*='/post?cell=']").count() == 1

    # The menu button unfolds the navigation; the credits button shows the credits.
    page.click("#menu-button")
    assert page.locator("#main-nav a").first.is_visible()
    small += [f"menu: {t}" for t in small_targets(page)]
    page.click("#menu-button")
    credits = page.locator(".leaflet-control-attribution")
    assert not credits.is_visible()
    page.locator(".mapaid-credits-button").focus()
    page.keyboard.press("Enter")
    assert credits.is_visible() and "OpenStreetMap contributors" in credits.inner_text()
    page.keyboard.press("Enter")

    # One finger on the map scrolls the page; the map stays where it was and says to use two fingers.
    page.evaluate("() => window.scrollTo(0, 0)")
    box = page.locator(".folium-map").bounding_box()
    assert box
    before = map_centre(page)
    swipe(page, box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.7, 250)
    assert page.evaluate("() => window.scrollY") > 100
    assert map_centre(page) == before
    assert page.locator(".mapaid-hint").inner_text().strip()
    # Two fingers move the map and leave the page where it is.
    page.locator(".folium-map").scroll_into_view_if_needed()
    box = page.locator(".folium-map").bounding_box()
    assert box
    scrolled, before = page.evaluate("() => window.scrollY"), map_centre(page)
    swipe(page, box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.7, 120, fingers=2)
    assert map_centre(page) != before
    assert page.evaluate("() => window.scrollY") == scrolled

    # "show on map" from far down the list brings the map back into view with the post's popup open,
    # also when the list was switched to alone.
    page.locator(".view-switch button[data-show=list]").click()
    assert not page.locator(".folium-map").is_visible()
    last = page.locator("ol.posts li.post").last
    last.scroll_into_view_if_needed()
    last.locator("a[data-post]").click()
    page.wait_for_selector(".leaflet-popup-content")
    pane = page.evaluate(
        "() => { const r = document.querySelector('.folium-map').getBoundingClientRect();"
        " return [r.top, r.bottom]; }"
    )
    assert pane[0] >= -1 and pane[1] <= height + 1, pane
    popup = page.locator(".leaflet-popup-content").bounding_box()
    assert popup and popup["y"] >= 0 and popup["y"] + popup["height"] <= height, popup
    small += [f"popup: {t}" for t in small_targets(page)]
    shot(page, f"layout-phone-{lang}-show-on-map")

    # Posting, the private link, the coordinator's pages: the same targets.
    link = post(page, s, lang)
    small += [f"posted: {t}" for t in small_targets(page)]
    page.goto(link)
    small += [f"manage: {t}" for t in small_targets(page)]
    shot(page, f"layout-phone-{lang}-manage")
    log_in(page, s, lang)
    for name, path in s.coordinator_pages().items():
        page.goto(f"{s.base}{path}")
        page.wait_for_timeout(200)
        small += [f"{name}: {t}" for t in small_targets(page)]
        shot(page, f"layout-phone-{lang}-{name}")
    assert small == [], "\n".join(small)
    assert errors == []
    context.close()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_desktop_layout(browser: Browser, served: Site, lang: str) -> None:
    s = served
    context = browser.new_context(**DESKTOP, locale=lang)
    page = context.new_page()
    open_page(page, s, f"/near/{s.cell}", lang)
    assert viewports(page) == ["width=device-width, initial-scale=1"]
    pane = page.locator(".map-pane").bounding_box()
    side = page.locator(".layout .side").bounding_box()
    assert pane and side and pane["x"] + pane["width"] <= side["x"] + 1 and abs(pane["y"] - side["y"]) < 2
    assert page.evaluate(SCROLL_BOXES_JS, "ol.posts") == []
    assert page.evaluate("() => document.documentElement.scrollHeight") > DESKTOP["viewport"]["height"]
    small = small_targets(page)
    shot(page, f"layout-desktop-{lang}-near")
    assert small == [], "\n".join(small)
    context.close()


@pytest.mark.parametrize("screen", ["phone", "desktop"])
def test_keyboard_chooses_a_hexagon(browser: Browser, served: Site, screen: str) -> None:
    """Tab to the map, Enter zooms in to the hexagons, arrows move the highlight, Enter opens /near."""
    context = browser.new_context(**(PHONE if screen == "phone" else DESKTOP), locale="en")
    page = context.new_page()
    open_page(page, served, "/", "en")
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.classList.contains('leaflet-container')"):
            break
    else:
        pytest.fail("Tab never reached the map")
    status = page.locator("#cell-status-text")
    page.keyboard.press("Enter")
    page.wait_for_selector("path.mapaid-cell", state="attached")
    page.wait_for_timeout(300)
    assert status.inner_text() == "Arrow keys highlight a hexagon; Enter chooses it."
    page.keyboard.press("ArrowRight")
    assert status.inner_text().startswith("Hexagon highlighted")
    assert page.locator('path.mapaid-cell[stroke="#b45309"]').count() == 1
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowLeft")
    shot(page, f"layout-{screen}-keyboard-cursor")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/near/[0-9a-f]{15}$"))
    context.close()
