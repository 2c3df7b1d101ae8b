"""axe-core on every resident and coordinator page, in Belarusian, Russian and English, on a phone and a
laptop: no critical or serious violation, and axe's ``meta-viewport`` rule passes (pinch zoom allowed).

axe comes from axe-playwright-python (PyPI), which bundles axe.min.js and puts it into the page with
Playwright's ``page.evaluate``. That goes through the DevTools protocol, which a page's
Content-Security-Policy does not govern, so the pages are checked under their real, strict policy (no
``bypass_csp``): what axe sees is what a visitor gets. One browser, one site per module, one context per
language and screen, reused for every page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from livesite import shot
from pagesite import DESKTOP, LANGUAGES, PHONE, Site, log_in, post, site
from playwright.sync_api import Browser, Page

from mapaid.store import Store

pytestmark = pytest.mark.browser
AXE = Axe()
OPTIONS = {"resultTypes": ["violations"]}  # passes still lists every rule that passed (one node each)


def check(page: Page, name: str) -> list[str]:
    """axe's serious and critical violations on the page as it stands (empty when clean); the page must
    have passed ``meta-viewport``."""
    page.wait_for_load_state("load")
    page.wait_for_timeout(150)  # let the map scripts draw their controls
    results: dict[str, Any] = AXE.run(page, options=OPTIONS).response
    passed = {rule["id"] for rule in results["passes"]}
    problems = [
        f"{name}: {v['id']} ({v['impact']}): {v['help']}: "
        + "; ".join(" ".join(n["target"]) for n in v["nodes"][:3])
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    if "meta-viewport" not in passed:
        problems.append(f"{name}: meta-viewport did not pass")
    return problems


@pytest.fixture(scope="module")
def served(live_store: Store, live_config: dict[str, Any]) -> Iterator[Site]:
    """One site for the module; each language and screen gets its own browser context."""
    with site(live_store, live_config, live_config["CLOCK"].today()) as s:
        yield s


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_page_passes_axe(browser: Browser, served: Site, lang: str) -> None:
    problems: list[str] = []
    s = served
    for screen, options in (("phone", PHONE), ("desktop", DESKTOP)):
        context = browser.new_context(**options, locale=lang)
        page = context.new_page()
        problems += _resident(page, s, lang, screen)
        problems += _coordinator(page, s, lang, screen)
        context.close()
    assert problems == [], "\n".join(problems)


def _resident(page: Page, s: Site, lang: str, screen: str) -> list[str]:
    problems: list[str] = []
    for name, path in s.resident_pages().items():
        page.goto(f"{s.base}{path}{'&' if '?' in path else '?'}lang={lang}")
        problems += check(page, f"{lang} {screen} {name}")
    page.goto(f"{s.base}/post?lang={lang}")
    page.click("#submit")  # nothing filled in: the form comes back with its problems
    page.wait_for_selector(".problem")
    problems += check(page, f"{lang} {screen} post-with-problems")
    link = post(page, s, lang)
    problems += check(page, f"{lang} {screen} posted")
    problems += _replies(page, s, link.split("#")[0].rsplit("/", 2)[1], f"{lang} {screen}")
    page.goto(link)  # the private link with its key: the post's conversation, read in the browser
    page.wait_for_selector(".thread .message-text")
    problems += check(page, f"{lang} {screen} manage")
    if lang == "en" and screen == "phone":
        shot(page, "a11y-manage-phone-en")
    return problems


def _replies(page: Page, s: Site, post_id: str, name: str) -> list[str]:
    """The post's public page, before and after answering it, and the answer's private link."""
    page.goto(f"{s.base}/p/{post_id}")
    problems = check(page, f"{name} post-page")
    page.fill("#answer", "I can drive you on Tuesday")
    page.locator(".reply-form button[type=submit]").click()
    page.wait_for_selector("#reply-result:visible")
    problems += check(page, f"{name} post-page-answered")
    thread = page.locator("#private-link").get_attribute("href")
    assert thread
    page.goto(thread)
    page.wait_for_selector(".message-text")
    return problems + check(page, f"{name} thread")


def _coordinator(page: Page, s: Site, lang: str, screen: str) -> list[str]:
    page.context.clear_cookies()
    page.goto(f"{s.base}/coordinator/login?lang={lang}")
    problems = check(page, f"{lang} {screen} login")
    log_in(page, s, lang)
    for name, path in s.coordinator_pages().items():
        page.goto(f"{s.base}{path}")
        problems += check(page, f"{lang} {screen} {name}")
    return problems
