"""A served site with something on every page, for the browser checks of layout and accessibility
(test_layout_browser.py, test_a11y.py): the unmet-needs scene (posts of both kinds around one hexagon, a
gap for the coordinator's map), sixty more posts around that hexagon so the list pages and scrolls, and a
coordinator account. ``Site.pages`` names every page a resident or coordinator reaches."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

import h3.api.basic_int as h3
import pandas as pd
from conftest import TEST_SECRET
from livesite import serve
from playwright.sync_api import Page, expect
from scene import Scene, build

from mapaid import accounts, create_app
from mapaid.config import DEFAULT_CATEGORIES
from mapaid.pipeline import ingest, rules_for
from mapaid.store import Store

PASSWORD = "correct horse battery"
PHONE: dict[str, Any] = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True}
DESKTOP: dict[str, Any] = {"viewport": {"width": 1366, "height": 800}}
LANGUAGES = ("be", "ru", "en")


@dataclass(frozen=True)
class Site:
    base: str
    scene: Scene

    @property
    def cell(self) -> str:
        return h3.int_to_str(self.scene.centre)

    def resident_pages(self) -> dict[str, str]:
        """Pages anyone opens with a GET (the posted and manage pages come from posting, see ``post``)."""
        return {
            "index": "/",
            "near": f"/near/{self.cell}",
            "near-filtered": f"/near/{self.cell}?within=400&kind=need",
            "post": f"/post?cell={self.cell}",
            "not-found": "/near/ffffffffffffffff",
            "safety": "/safety",
        }

    def coordinator_pages(self) -> dict[str, str]:
        return {"dashboard": "/coordinator?within=800", "moderation": "/coordinator/posts"}


def _more_posts(store: Store, centre: int, today: date) -> None:
    cells = [h3.int_to_str(c) for c in h3.grid_disk(centre, 2)]
    n = 60
    rows = pd.DataFrame(
        {
            "cell": [cells[i % len(cells)] for i in range(n)],
            "kind": ["offer", "need"] * (n // 2),
            "category": [DEFAULT_CATEGORIES[i % len(DEFAULT_CATEGORIES)] for i in range(n)],
            "text": [f"Soup and a lift for neighbours, number {i}" for i in range(n)],
            "contact": [f"@neighbour{i}" if i % 3 == 0 else "" for i in range(n)],
        }
    )
    ingest(
        rows, [str(i) for i in range(n)], rules_for(DEFAULT_CATEGORIES, 9, today), store, TEST_SECRET.encode()
    )


@contextmanager
def site(store: Store, config: dict[str, Any], today: date) -> Iterator[Site]:
    scene = build(store, today)
    _more_posts(store, scene.centre, today)
    accounts.add(store, "anna", PASSWORD, today)
    app = create_app({**config, "TESTING": False})
    with serve(app) as base:
        yield Site(base, scene)


def post(page: Page, site: Site, lang: str) -> str:
    """Post a need through the form in ``lang``; the page is left on /posted. Returns the private link."""
    page.goto(f"{site.base}/post?cell={site.cell}&lang={lang}")
    page.check("#kind-need")
    page.select_option("#category", "transport")
    page.fill("#text", "Need a lift to the clinic on Tuesday")
    page.click("#submit")
    page.wait_for_selector("#private-link")
    page.wait_for_function("() => location.hash.startsWith('#k=')")  # with its key for replies (issue 9)
    expect(page.locator("#private-link")).to_have_attribute("href", re.compile("#k="))  # by replies.js
    link = page.locator("#private-link").get_attribute("href")
    assert link
    return link


def log_in(page: Page, site: Site, lang: str) -> None:
    page.goto(f"{site.base}/coordinator/login?lang={lang}")
    page.fill("#name", "anna")
    page.fill("#password", PASSWORD)
    page.locator("form.login button[type=submit]").click()
    page.wait_for_selector("table.districts")
