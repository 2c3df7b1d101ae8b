"""What the browser tests share: a real server (waitress, as `mapaid serve` uses) on a free local port in a
thread, the Debian Chromium launched through Playwright (never a downloaded browser: no internet here),
and screenshots in test-artifacts/."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve_process(env: dict[str, str], log: Path, startup_s: float = 60.0) -> Iterator[str]:
    """A real `mapaid serve` in its own process on a free loopback port, for clients that hold the GIL
    while they wait for the answer (GDAL through pyogrio reads a page without releasing it, so a server
    thread in the same process would never answer)."""
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "mapaid.cli", "serve", "--port", str(port)],
            env={**{k: v for k, v in os.environ.items() if not k.startswith("MAPAID_")}, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_s
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"mapaid serve exited: {log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=1) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
