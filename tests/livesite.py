"""What the browser tests share: a real server (waitress, as `mapaid serve` uses) on a free local port in a
thread, the Debian Chromium launched through Playwright (never a downloaded browser: no internet here),
and screenshots in test-artifacts/."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from flask import Flask
from playwright.sync_api import Browser, Page, Request, sync_playwright
from waitress.server import create_server

from mapaid.places import skeleton

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"  # type: ignore[union-attr]
    finally:
        server.close()
        thread.join(timeout=5)


@contextmanager
def chromium() -> Iterator[Browser]:
    """Headless Debian Chromium, with the background services that would call other hosts turned off."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def shot(page: Page, name: str) -> None:
    """Save a full-page screenshot as test-artifacts/NAME.png, for a person to look at after a run."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def typed_forms(text: str) -> list[str]:
    """What a request could carry of text typed into a page: itself, URL-encoded, lower-cased, folded to
    the search's skeleton (tests that check typed text never leaves the browser)."""
    forms = {text, quote(text), quote(text, safe=""), text.lower(), quote(text.lower()), skeleton(text)}
    forms |= {t.replace(" ", "+") for t in list(forms)}
    return [f for f in forms if len(f) >= 3]


def carries(request: Request, forms: list[str]) -> list[str]:
    """Which of ``forms`` appear in the request's URL, headers or body."""
    parts = [request.url, *(f"{k}: {v}" for k, v in request.all_headers().items())]
    body = request.post_data_buffer
    if body:
        parts.append(body.decode("utf-8", "replace"))
    blob = "\n".join(parts).lower()
    return [f for f in forms if f.lower() in blob]
