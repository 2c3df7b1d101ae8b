"""A resident's whole errand, as issue 8 asks it to work: on a phone (390x844, touch) and a laptop
(1366x800), in Belarusian, Russian and English, with location refused and no tiles. They find their block by
typing a metro station's name in Latin letters and a street's name in Russian, tap a hexagon there, post a
need, copy the private link, switch language, extend the post and delete it.

Along the way: every request goes to our own host and none carries what was typed into the search; every
element the person taps is at least 44 x 44 CSS px; each page scrolls as one (no scroll box inside it); the
console stays clean. Screenshots go to test-artifacts/resident-journey-*.png."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from livesite import Live, Watch, carries, shot, typed_forms
from playwright.sync_api import Browser, Locator, Page, expect

from mapaid.store import open_store

pytestmark = pytest.mark.browser
PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True}
LAPTOP = {"viewport": {"width": 1366, "height": 800}}
METRO = "Kastrychnitskaya"  # Кастрычніцкая / Октябрьская, typed in Latin letters
STREET = "улица Кирова"  # вуліца Кірава, typed in Russian
FOUND = {
    "be": ("Кастрычніцкая", "вуліца Кірава"),
    "ru": ("Октябрьская", "улица Кирова"),
    "en": ("Kastry", "Kirava"),
}
WORDS = {
    "en": {"need": "I need help", "copy": "Copy link", "yes": "Yes, delete it"},
    "ru": {"need": "Мне нужна помощь", "copy": "Копировать ссылку", "yes": "Да, удалить"},
    "be": {"need": "Мне патрэбна дапамога", "copy": "Капіраваць спасылку", "yes": "Так, выдаліць"},
}
OTHER = {"en": "ru", "ru": "be", "be": "en"}
MIN_TARGET = 44


class Journey(Watch):
    """The page, what it asked the network for, what the console said, and the size of every tap."""

    def __init__(self, page: Page, phone: bool) -> None:
        super().__init__(page)
        self.page = page
        self.phone = phone
        self.small: list[str] = []

    def tap(self, target: Locator, what: str) -> None:
        """Tap (phone) or click (laptop) ``target``, after checking it is big enough to hit."""
        target.scroll_into_view_if_needed()
        box = target.bounding_box()
        assert box is not None, what
        if round(box["width"]) < MIN_TARGET or round(box["height"]) < MIN_TARGET:
            self.small.append(f"{what}: {box['width']:.0f}x{box['height']:.0f}")
        if self.phone:
            target.tap()
        else:
            target.click()

    def search(self, typed: str, expect: str) -> None:
        box = self.page.locator("#place-q")
        self.tap(box, "place search box")
        box.fill("")
        box.press_sequentially(typed, delay=15)
        self.page.wait_for_function(  # the list answers the whole of what was typed, not a part of it
            "() => document.getElementById('place-list').dataset.query"
            " === document.getElementById('place-q').value"
        )
        option = self.page.locator("#place-list [role=option]").filter(has_text=expect).first
        option.wait_for(state="visible", timeout=10_000)
        self.tap(option, f"search result {expect}")
        self.page.locator("path.mapaid-cell").first.wait_for(state="attached", timeout=15_000)

    def scrolls_as_one(self, where: str) -> None:
        """No element but the page itself scrolls vertically."""
        boxes = self.page.evaluate(
            """() => [...document.querySelectorAll('body *')].filter((el) => {
                const s = getComputedStyle(el);
                return /(auto|scroll)/.test(s.overflowY) && el.scrollHeight > el.clientHeight + 1
                    && !el.closest('.leaflet-container');
            }).map((el) => el.tagName + '#' + el.id + '.' + el.className)"""
        )
        assert not boxes, f"{where}: scroll boxes inside the page: {boxes}"


def _tap_hexagon_at_centre(journey: Journey) -> None:
    """Tap the hexagon just beside the middle of the map (the search marks the place itself there), once
    the map has settled on the place found and is in view."""
    page = journey.page
    # Settled: no zoom or pan animation, and the same hexagon under the point on three polls in a row (a
    # tap while Leaflet is still flying to the place lands on a moving map and is taken for a drag).
    point = page.wait_for_function(
        """() => {
            const map = document.querySelector('.leaflet-container');
            const r = map.getBoundingClientRect();
            const x = r.left + r.width / 2 + 25, y = r.top + r.height / 2 + 10;
            if (y < 0 || y > innerHeight) { map.scrollIntoView({block: 'center'}); return null; }
            const e = document.elementFromPoint(x, y);
            const moving = map.querySelector('.leaflet-zoom-anim, .leaflet-pan-anim');
            if (!e || !e.classList.contains('mapaid-cell') || moving) { window.__settle = null; return null; }
            const seen = e.getAttribute('d');
            const last = window.__settle;
            window.__settle = {d: seen, n: last && last.d === seen ? last.n + 1 : 1};
            return window.__settle.n >= 3 ? [x, y] : null;
        }""",
        polling=100,
    ).json_value()
    x, y = point
    if journey.phone:
        page.touchscreen.tap(x, y)
    else:
        page.mouse.click(x, y)
    page.wait_for_function("() => document.getElementById('cell').value.length === 15")


@pytest.mark.parametrize("lang", ["be", "ru", "en"])
@pytest.mark.parametrize("device", ["phone", "laptop"])
def test_find_your_block_post_a_need_and_keep_the_link(
    browser: Browser, live: Live, device: str, lang: str
) -> None:
    base, db = live.base, live.db
    assert not live.app.config.get("TILES")  # no tiles configured
    phone = device == "phone"
    context = browser.new_context(**(PHONE if phone else LAPTOP), locale=lang, permissions=[])  # type: ignore[arg-type]
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    page = context.new_page()
    journey = Journey(page, phone)
    words = WORDS[lang]
    name = f"resident-journey-{device}-{lang}"

    page.goto(f"{base}/post?lang={lang}")
    journey.scrolls_as_one("/post")
    metro, street = FOUND[lang]
    journey.search(METRO, metro)
    journey.search(STREET, street)
    _tap_hexagon_at_centre(journey)
    shot(page, f"{name}-1-found")

    journey.tap(page.locator("label.kind-card").filter(has_text=words["need"]), "I need help")
    assert page.locator("#kind-need").is_checked()
    page.select_option("#category", "medicine")
    page.fill("#text", "Insulin pens, please")
    journey.tap(page.locator("#submit"), "post button")

    page.wait_for_selector("#new-post")
    page.wait_for_function("() => location.hash.startsWith('#k=')")  # the key for replies (issue 9) is in
    expect(page.locator("#private-link")).to_have_attribute("href", re.compile("#k="))  # by replies.js
    link = page.locator("#private-link").get_attribute("href")  # the link, as the page shows and copies it
    assert link and "/manage/" in link
    post_id, token = urlsplit(link).path.rsplit("/", 2)[1:]
    journey.scrolls_as_one("the private link")
    journey.tap(page.get_by_role("button", name=words["copy"]), "copy link")
    page.wait_for_function("() => document.getElementById('copy-status').textContent !== ''")
    assert page.evaluate("() => navigator.clipboard.readText()") == link
    shot(page, f"{name}-2-link")

    other = OTHER[lang]
    journey.tap(page.locator(f'.langs a[hreflang="{other}"]'), "language switch")
    page.wait_for_selector(f'html[lang="{other}"]')
    # The page's script puts the key back into the shown link after the page has loaded: wait for it.
    expect(page.locator("#private-link")).to_have_attribute("href", link)
    journey.tap(page.locator(f'.langs a[hreflang="{lang}"]'), "language switch back")
    page.wait_for_selector(f'html[lang="{lang}"]')

    store = open_store(db)
    try:
        before = store.get(post_id)
        assert before is not None and before["kind"] == "need"
        journey.tap(page.locator("#extend-7"), "extend by 7 days")
        page.wait_for_selector(".success[role=status]")
        after = store.get(post_id)
        assert after is not None and after["expires_day"] > before["expires_day"]
        journey.tap(page.locator("#delete"), "delete")
        dialog = page.locator("#delete-dialog")
        dialog.wait_for(state="visible")
        assert store.get(post_id) is not None  # nothing happens before the confirmation
        journey.tap(dialog.get_by_role("button", name=words["yes"]), "confirm delete")
        page.wait_for_selector(".success")
        assert store.get(post_id) is None
    finally:
        store.close()
    shot(page, f"{name}-3-deleted")

    hosts = {urlsplit(r.url).netloc for r in journey.requests if not r.url.startswith("data:")}
    assert hosts == {urlsplit(base).netloc}
    for typed in (METRO, STREET):
        leaked = [r.url for r in journey.requests if carries(r, typed_forms(typed))]
        assert not leaked, f"{typed!r} reached the server: {leaked}"
    assert all(token not in urlsplit(r.url).query for r in journey.requests)
    assert not journey.small, journey.small
    assert not journey.errors, journey.errors
    context.close()
