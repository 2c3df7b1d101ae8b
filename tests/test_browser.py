"""The resident's whole path in headless Chromium against a real server: pick a hexagon, see help nearby,
post, find the post, delete it with the private link; and "use my location" sends only a cell.

Every request must go to the app's own host, no console errors, no script from user text. Screenshots
go to test-artifacts/."""

from __future__ import annotations

import logging
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
from playwright.sync_api import Browser, ConsoleMessage, Page, Request

from mapaid import create_app
from mapaid.config import DEFAULT_CATEGORIES
from mapaid.pipeline import ingest, rules_for
from mapaid.store import Store

pytestmark = pytest.mark.browser
XSS = "<img src=x onerror=alert(1)>"


def _centre(store: Store) -> tuple[float, float]:
    west, south, east, north = store.area().districts.total_bounds
    return float((south + north) / 2), float((west + east) / 2)


@pytest.fixture(scope="module")
def site(live_store: Store, live_config: dict[str, Any]) -> Iterator[tuple[str, Flask, tuple[float, float]]]:
    """The app with posts in the hexagons around the map's first centre, served for real, once for the
    module (the resident's path deletes what it posts)."""
    store, config, today = live_store, live_config, live_config["CLOCK"].today()
    lat, lon = _centre(store)
    origin = h3.latlng_to_cell(lat, lon, 9)
    cells = [h3.int_to_str(c) for c in h3.grid_disk(origin, 2)]
    rows = pd.DataFrame(
        {
            "cell": cells,
            "kind": ["offer", "need"] * (len(cells) // 2) + ["offer"] * (len(cells) % 2),
            "category": "food",
            "text": [f"Soup for neighbours {i}" for i in range(len(cells))],
        }
    )
    rules = rules_for(DEFAULT_CATEGORIES, 9, today)
    ingest(rows, [str(i) for i in range(len(rows))], rules, store, TEST_SECRET.encode())
    # A line per request (MAPAID_ACCESS_LOG=requests), the most the log can hold, for the resident's path
    app = create_app({**config, "TESTING": False, "ACCESS_LOG": "requests"})
    with serve(app) as base:
        yield base, app, (lat, lon)


class Watch:
    """Everything the page does that the test must check: requests, console errors, dialogs."""

    def __init__(self, page: Page) -> None:
        self.requests: list[Request] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        page.on("request", lambda request: self.requests.append(request))
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def hosts(self) -> set[str]:
        return {urlsplit(r.url).netloc for r in self.requests if not r.url.startswith("data:")}


def _zoom_to_hexagons(page: Page) -> None:
    box = page.locator(".folium-map").bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    for _ in range(3):
        if page.locator("path.mapaid-cell").count():
            break
        page.mouse.click(x, y)
        page.wait_for_timeout(700)
    page.wait_for_selector("path.mapaid-cell", state="attached")
    page.wait_for_timeout(300)


def test_resident_path(
    browser: Browser, site: tuple[str, Flask, tuple[float, float]], caplog: pytest.LogCaptureFixture
) -> None:
    base, _app, _centre_point = site
    caplog.set_level(logging.INFO)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    watch = Watch(page)

    page.goto(base + "/")
    page.wait_for_selector(".leaflet-container")
    _zoom_to_hexagons(page)
    shot(page, "01-index")
    box = page.locator(".folium-map").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_url(re.compile(r"/near/[0-9a-f]{15}$"))
    cell = page.url.rsplit("/", 1)[1]
    assert page.locator("li.post").count() > 0
    page.wait_for_selector('.marker-cluster, path.leaflet-interactive[fill="#1b7f3b"]', state="attached")
    shot(page, "02-near")

    page.get_by_role("link", name="Post an offer or need from this hexagon").click()
    page.wait_for_url(re.compile(r"/post\?cell=" + cell))
    assert page.locator("#cell").input_value() == cell
    page.check("#kind-offer")
    page.select_option("#category", "medicine")
    page.fill("#text", XSS)
    page.fill("#contact", "@neighbour")
    page.fill("#expires_days", "5")
    shot(page, "03-post-form")
    page.click("#submit")
    page.wait_for_selector("#private-link")
    private = page.locator("#private-link").get_attribute("href")
    assert private and "/manage/" in private
    shot(page, "04-posted")

    page.goto(f"{base}/near/{cell}?category=medicine")
    mine = page.locator("li.post", has_text="@neighbour")
    assert mine.locator(".post-text").inner_text() == XSS
    mine.get_by_role("link", name="show on map").click()
    popup = page.locator(".leaflet-popup-content .post-text")
    popup.wait_for()
    assert popup.inner_text() == XSS
    assert page.locator("main img").count() == 0  # the text never became an element
    page.wait_for_timeout(400)  # let the zoom animation settle for the screenshot
    shot(page, "05-near-with-mine")

    page.goto(private)
    page.get_by_role("button", name="Delete…").click()
    page.locator("#delete-dialog").get_by_role("button", name="Yes, delete it").click()
    page.wait_for_selector("text=Deleted")
    shot(page, "06-deleted")
    page.goto(f"{base}/near/{cell}?category=medicine")
    assert page.locator("li.post", has_text="@neighbour").count() == 0

    assert watch.dialogs == []
    assert watch.errors == []
    assert watch.hosts() == {urlsplit(base).netloc}
    token = private.rsplit("/", 1)[1]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "/near/<cell>" in logged
    for secret in (cell, token, "127.0.0.1"):
        assert secret not in logged
    context.close()


def test_use_my_location_sends_only_a_cell(
    browser: Browser, site: tuple[str, Flask, tuple[float, float]]
) -> None:
    base, _app, (lat, lon) = site
    here = (lat + 0.0011, lon - 0.0013)
    context = browser.new_context(
        geolocation={"latitude": here[0], "longitude": here[1]}, permissions=["geolocation"], locale="be"
    )
    page = context.new_page()
    watch = Watch(page)
    page.goto(base + "/")
    page.click("#locate")
    page.wait_for_url(re.compile(r"/near/[0-9a-f]{15}$"))
    assert page.url.endswith("/near/" + h3.int_to_str(h3.latlng_to_cell(here[0], here[1], 9)))
    shot(page, "07-near-located-be")
    sent = " ".join(r.url + (r.post_data or "") for r in watch.requests)
    for value in here:
        for digits in (f"{value:.3f}", f"{value:.4f}"[:-1], str(value)[:7]):
            assert digits not in sent
    assert watch.errors == []
    assert watch.hosts() == {urlsplit(base).netloc}
    assert page.locator("html").get_attribute("lang") == "be"
    context.close()
