"""The coordinator's path in headless Chromium: log in through the form, read the map and the tables, hide a
post from the moderation list, log out. Every request goes to our own host; no console errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from livesite import serve, shot
from playwright.sync_api import Browser
from scene import HOME, Scene, build

from mapaid import accounts, create_app
from mapaid.store import Store

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery"


@pytest.fixture
def site(store: Store, config: dict[str, Any], today: date) -> Iterator[tuple[str, Flask, Scene]]:
    scene = build(store, today)
    accounts.add(store, "anna", PASSWORD, today)
    app = create_app({**config, "TESTING": False})
    with serve(app) as base:
        yield base, app, scene


def test_coordinator_path(browser: Browser, site: tuple[str, Flask, Scene], store: Store) -> None:
    base, _app, scene = site
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-GB")
    page = context.new_page()
    urls: list[str] = []
    errors: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(f"{base}/coordinator?within=400")
    assert "/coordinator/login" in page.url
    page.fill("#name", "anna")
    page.fill("#password", PASSWORD)
    page.click("form.login button[type=submit]")
    page.wait_for_selector("table.districts")
    assert page.url.endswith("/coordinator?within=400")
    page.wait_for_selector("path.leaflet-interactive", state="attached")
    assert page.locator("path.leaflet-interactive").count() >= 9 + 2  # districts and two hexagons
    assert page.locator(".map-legend .legend").first.is_visible()
    assert page.locator(f'table.districts tr[data-district="{HOME}"].most-unserved').count() == 1
    shot(page, "coordinator-dashboard")
    page.locator("path.leaflet-interactive").first.dispatch_event("click")
    page.wait_for_selector(".leaflet-popup-content")
    assert "Unmet needs" in page.locator(".leaflet-popup-content").inner_text()

    page.click("text=Moderation")
    page.select_option("select[name=district]", HOME)
    page.select_option("select[name=kind]", "offer")
    page.click("form.filters button[type=submit]")
    row = page.locator(f'tr[data-id="{scene.ids["of"]}"]')
    row.locator("button", has_text="Hide").click()
    page.wait_for_selector("p.flash")
    assert store.get(scene.ids["of"])["status"] == "hidden"  # type: ignore[index]
    assert page.locator(f'tr[data-id="{scene.ids["of"]}"] td.status').inner_text() == "hidden"
    shot(page, "coordinator-moderation")

    page.click("form.logout button")
    page.wait_for_selector("form.login")
    page.goto(f"{base}/coordinator")
    assert "/coordinator/login" in page.url

    hosts = {urlsplit(u).netloc for u in urls if not u.startswith("data:")}
    assert hosts == {urlsplit(base).netloc}, hosts
    assert errors == [], errors
    context.close()
