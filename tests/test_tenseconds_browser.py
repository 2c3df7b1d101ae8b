"""Ten seconds (issue 18, item 4), in headless Chromium on a phone (390x844, touch) in Belarusian, Russian
and English against one real server for the module (pagesite's site: posts on the map, a private link):

- above the home map, without scrolling: one line saying what the site is and two buttons of at least
  44 px, "I need help" and "I can help", each opening the posting form with its kind chosen;
- a Safety page reached from the header (behind the phone's menu), from the posting form and from the
  private page, saying what is public, what is private, what the server never has, how long posts stay,
  what to do if the phone may be checked, and why a VPN or a mirror helps;
- "Quick exit" in the header of every resident page (a plain link to the blank page without scripts)
  leaves for our own blank page and replaces the history entry: Back does not return to the page left;
- the licence credits (the map's and the place search's) wait behind the map's "©";
- axe-core finds no serious or critical violation on the home page and the Safety page.

Screenshots go to test-artifacts/tenseconds-*.png."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from livesite import Watch, shot
from pagesite import PHONE, Site, post, site
from playwright.sync_api import Browser, BrowserContext, Page
from test_a11y import check

from mapaid.store import Store

pytestmark = pytest.mark.browser
LANGS = ("be", "ru", "en")
NEED = {"be": "Мне патрэбна дапамога", "ru": "Мне нужна помощь", "en": "I need help"}
OFFER = {"be": "Я магу дапамагчы", "ru": "Я могу помочь", "en": "I can help"}
SAFETY = {"be": "Бяспека", "ru": "Безопасность", "en": "Safety"}
EXIT = {"be": "Хуткі выхад", "ru": "Быстрый выход", "en": "Quick exit"}
# The key facts of the Safety page, a phrase each, as a resident reads them in her language.
FACTS = {
    "be": [
        "спампаваць",
        "квартал",
        "дзень",
        "толькі ваш тэлефон",
        "IP-адраса",
        "апошняга дня",
        "адразу",
        "могуць праверыць",
        "гісторыю",
        "VPN",
        "люстэрка",
    ],
    "ru": [
        "скачать",
        "квартал",
        "день",
        "только ваш телефон",
        "IP-адреса",
        "последнего дня",
        "сразу",
        "могут проверить",
        "историю",
        "VPN",
        "зеркало",
    ],
    "en": [
        "download",
        "block of a few streets",
        "the day",
        "only your phone",
        "IP address",
        "last day",
        "at once",
        "may be checked",
        "history",
        "VPN",
        "mirror",
    ],
}


@pytest.fixture(scope="module")
def served(live_store: Store, live_config: dict[str, Any]) -> Iterator[Site]:
    with site(live_store, live_config, live_config["CLOCK"].today()) as s:
        yield s


def _phone(browser: Browser, lang: str) -> BrowserContext:
    context = browser.new_context(**PHONE, locale=lang)
    context.grant_permissions([])  # location refused
    return context


def _box(page: Page, selector: str) -> dict[str, float]:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not shown"
    return box


def _path(page: Page) -> str:
    return urlsplit(page.url).path


@pytest.mark.parametrize("lang", LANGS)
def test_what_it_is_and_two_errands_show_above_the_map(browser: Browser, served: Site, lang: str) -> None:
    context = _phone(browser, lang)
    page = context.new_page()
    watch = Watch(page)
    page.goto(f"{served.base}/?lang={lang}")
    page.wait_for_selector(".folium-map")
    assert page.evaluate("window.scrollY") == 0
    line = _box(page, ".welcome-line")
    assert line["height"] > 10 and line["y"] + line["height"] <= 844
    assert len(page.locator(".welcome-line").inner_text().strip()) > 40  # a sentence, not a heading
    the_map = _box(page, ".map-only .folium-map")
    for selector, words in (("#errand-need", NEED), ("#errand-offer", OFFER)):
        button = _box(page, selector)
        assert page.locator(selector).inner_text().strip() == words[lang]
        assert button["height"] >= 44 and button["width"] >= 44, (selector, button)
        assert button["y"] >= 0 and button["y"] + button["height"] <= 844, (selector, button)  # no scrolling
        assert button["y"] + button["height"] <= the_map["y"], (selector, "not above the map")
    shot(page, f"tenseconds-home-{lang}")
    assert check(page, f"{lang} home") == []
    # The licence credits wait behind the map's "©": nothing of them shows until it is tapped.
    credits = page.locator(".place-credits")
    assert not credits.is_visible() and not page.locator(".leaflet-control-attribution").is_visible()
    page.locator(".map-only .mapaid-credits-button").tap()
    assert credits.is_visible() and "OpenStreetMap" in credits.inner_text()
    shot(page, f"tenseconds-credits-{lang}")
    assert check(page, f"{lang} home credits open") == []
    for selector, kind in (("#errand-need", "need"), ("#errand-offer", "offer")):
        page.goto(f"{served.base}/?lang={lang}")
        page.locator(selector).tap()
        page.wait_for_selector("form.post")
        assert _path(page) == "/post" and f"kind={kind}" in page.url
        assert page.locator(f"#kind-{kind}").is_checked()
        assert not page.locator(f"#kind-{'offer' if kind == 'need' else 'need'}").is_checked()
    shot(page, f"tenseconds-form-offer-{lang}")
    assert watch.errors == []
    context.close()


def _facts(page: Page, lang: str) -> None:
    page.wait_for_selector("#safety")
    assert _path(page) == "/safety"
    text = page.locator("#safety").inner_text()
    missing = [fact for fact in FACTS[lang] if fact not in text]
    assert missing == [], (lang, missing)


@pytest.mark.parametrize("lang", LANGS)
def test_the_safety_page_is_reached_from_header_form_and_private_page(
    browser: Browser, served: Site, lang: str
) -> None:
    context = _phone(browser, lang)
    page = context.new_page()
    watch = Watch(page)
    page.goto(f"{served.base}/?lang={lang}")
    page.locator("#menu-button").tap()  # the phone's header folds its navigation behind "Menu"
    link = page.locator("#nav-safety")
    assert link.inner_text().strip() == SAFETY[lang]
    link.tap()
    _facts(page, lang)
    shot(page, f"tenseconds-safety-{lang}")
    assert check(page, f"{lang} safety") == []

    page.goto(f"{served.base}/post?lang={lang}")
    page.locator("#safety-link").tap()
    _facts(page, lang)

    private = post(page, served, lang)
    page.goto(private)
    page.wait_for_selector("#private-link")
    page.locator("#safety-link").tap()
    _facts(page, lang)
    assert watch.errors == []
    context.close()


@pytest.mark.parametrize("lang", LANGS)
def test_quick_exit_leaves_and_back_does_not_return(browser: Browser, served: Site, lang: str) -> None:
    context = _phone(browser, lang)
    page = context.new_page()
    watch = Watch(page)
    for path in ("/", f"/near/{served.cell}", "/post", "/safety"):  # in the header of every resident page
        page.goto(f"{served.base}{path}?lang={lang}")
        button = page.locator("#quick-exit")
        assert button.inner_text().strip() == EXIT[lang], path
        box = _box(page, "#quick-exit")
        assert box["height"] >= 44 and box["x"] >= 0 and box["x"] + box["width"] <= 390, (path, box)
        assert button.get_attribute("href") == "/blank"  # a plain link where scripts do not run
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path  # the header fits
    shot(page, f"tenseconds-quick-exit-{lang}")

    page.goto(f"{served.base}/?lang={lang}")
    page.goto(f"{served.base}/post?lang={lang}")
    before = page.evaluate("history.length")
    page.locator("#quick-exit").tap()
    page.wait_for_url("**/blank")
    assert page.evaluate("document.body.innerText") == "" and page.title() == ""
    assert page.evaluate("history.length") == before  # replaced, not added
    page.go_back()
    page.wait_for_load_state()
    assert _path(page) == "/", page.url  # the page before; the form she left is no longer in the history
    assert watch.errors == []
    context.close()
