"""What the browser tests share: a real server (waitress, as `mapaid serve` uses) on a free local port in a
thread, the Debian Chromium launched through Playwright (never a downloaded browser: no internet here),
and screenshots in test-artifacts/.

Sharing, to keep the suite fast (starting Chromium, building an app and filling a database each cost
seconds, a test's own clicks often less):

- ``browser`` (fixture, one per test session and xdist worker): the one Chromium. Give every test its own
  ``browser.new_context(...)`` (cookies, storage, permissions, viewport and locale are the context's) and
  close it at the end; never keep pages between tests.
- ``live_config`` / ``live_store`` (fixtures, one per test module and store: a module's tests run on
  SQLite, then on PostGIS, see databases.py): a config dict like conftest's ``config``
  (TESTING, ROOMY_LIMITS, the fixed clock TEST_NOW) on the module's own copy of the template database (the
  Minsk districts, made once per run), and a store open on it. Fill it with what the module needs, then
  serve it once for the module: ``with serve(create_app({**live_config, "TESTING": False})) as base``.
- ``live`` (fixture, one per test module): that, ready made for modules needing nothing but the
  districts: ``live.base`` is the server's URL, ``live.db`` the database (a file's path or a PostgreSQL
  URL), ``live.app`` the app.

Tests of one module then share the server and its data: each must hold whatever the others post, hide
or delete, and in any order (``pytest tests/x.py::test_y`` runs one alone, ``-k`` picks a few). A test that
needs a database of its own keeps the function-scoped ``store``/``config`` fixtures and its own ``serve``.

``make test`` runs the suite with pytest-xdist on four workers, a module's tests on one store at a time
(``--dist loadscope``, tests/schedule.py): so each worker has its own Chromium and a module's fixtures are
made once per store. Nothing
may be shared between modules but through these fixtures; ports are always 0 (the system picks a free one) and
files go to tmp_path or, for screenshots, to test-artifacts/ under a name no other test uses.

A `mapaid serve` process is started with ``--port 0`` too (``start_serve``, ``serve_process``): it binds a
port the system picks and names it in its first line. A port chosen by the test first (``free_port``) is
free only until the test lets it go, and a server takes seconds to import before it binds: meanwhile
another test's server (on this machine, any engineer's) can take it, answer this test's /health, and reset
its connections when that other test ends (`test_posts_answered_201_survive_a_server_killed_mid_stream`
failed so on a loaded machine). ``free_port`` stays for programs that cannot say which port they took."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from databases import Databases
from flask import Flask
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, sync_playwright
from waitress.server import create_server

from mapaid import create_app
from mapaid.places import skeleton
from mapaid.store import Store, open_store

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


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Chromium for the browser tests, one per session (per xdist worker); a context per test."""
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def live_config(
    tmp_path_factory: pytest.TempPathFactory, store_kind: str, databases: Databases
) -> Iterator[dict[str, Any]]:
    """The ``config`` fixture's settings, on a copy of the template database made for this module (on
    the store ``store_kind`` names: the module runs once per store)."""
    from conftest import PUBLISH_AT_ONCE, ROOMY_LIMITS, TEST_NOW, TEST_SECRET

    from mapaid.clock import FixedClock

    folder = tmp_path_factory.mktemp("live")
    db = databases.fresh(store_kind, folder)
    yield {
        "DATABASE": db,
        "SECRET_KEY": TEST_SECRET,
        "TESTING": True,
        "INSTANCE_DIR": str(folder / "instance"),
        "CELL_RES": 9,
        "CLOCK": FixedClock(TEST_NOW),
        **ROOMY_LIMITS,
        **PUBLISH_AT_ONCE,
    }
    databases.drop(db)


@pytest.fixture(scope="module")
def live_store(live_config: dict[str, Any]) -> Iterator[Store]:
    """The module's database (``live_config``), open for the module's own setup and checks."""
    store = open_store(live_config["DATABASE"])
    yield store
    store.close()


@dataclass(frozen=True)
class Live:
    base: str
    db: str
    app: Flask


@pytest.fixture(scope="module")
def live(live_config: dict[str, Any]) -> Iterator[Live]:
    """One real server for the module on its own database (districts only, no tiles configured)."""
    app = create_app({**live_config, "TESTING": False})
    with serve(app) as base:
        yield Live(base, live_config["DATABASE"], app)


class Watch:
    """What a page asked the network for and what its console said: scripts must not fail."""

    def __init__(self, page: Page) -> None:
        self.requests: list[Request] = []
        self.errors: list[str] = []
        page.on("request", lambda request: self.requests.append(request))
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def _console(self, message: ConsoleMessage) -> None:
        # Chromium reports a page's own 4xx status as a console error; a form sent with a mistake is answered
        # 422 on purpose (nothing was posted), once per bad submission, and that line is no script error.
        if message.type == "error" and "status of 422" not in message.text:
            self.errors.append(message.text)


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


SERVING = re.compile(rb"mapaid on (http://[^/\s]+)/")  # the line `mapaid serve` starts with
STARTUP_S = 120.0  # imports and the served area's tables: seconds, over a minute at a load average of 30


def start_serve(
    env: dict[str, str], log: Path, *args: str, **popen: Any
) -> tuple[subprocess.Popen[bytes], int]:
    """`mapaid serve --port 0 ARGS` with exactly ``env`` as its environment, its output appended to
    ``log``; the process, and where in the log its own lines begin (for ``wait_for_serve``)."""
    since = log.stat().st_size if log.exists() else 0
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "mapaid.cli", "serve", "--port", "0", *args],
            env=env,
            stdout=popen.pop("stdout", out),
            stderr=popen.pop("stderr", subprocess.STDOUT),
            **popen,
        )
    return process, since


def wait_for_serve(
    process: subprocess.Popen[bytes], log: Path, since: int = 0, startup_s: float = STARTUP_S
) -> str:
    """The base URL (``http://127.0.0.1:PORT``) a `mapaid serve` process wrote into ``log`` after byte
    ``since``, once /health answers 200 there; RuntimeError when it exits or takes over ``startup_s``."""
    deadline = time.monotonic() + startup_s
    base = None
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"mapaid serve exited: {log.read_text(errors='replace')[-2000:]}")
        if base is None:
            found = SERVING.search(log.read_bytes()[since:])
            base = found.group(1).decode() if found else None
        if base is not None:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=1) as answer:
                    if answer.status == 200:
                        return base
            except OSError:
                pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"mapaid serve did not answer within {startup_s} s: {log.read_text()[-2000:]}")
        time.sleep(0.1)


def stop_serve(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@contextmanager
def serve_process(env: dict[str, str], log: Path, startup_s: float = STARTUP_S) -> Iterator[str]:
    """A real `mapaid serve` in its own process on a free loopback port, for clients that hold the GIL
    while they wait for the answer (GDAL through pyogrio reads a page without releasing it, so a server
    thread in the same process would never answer)."""
    full_env = {**{k: v for k, v in os.environ.items() if not k.startswith("MAPAID_")}, **env}
    process, since = start_serve(full_env, log)
    try:
        yield wait_for_serve(process, log, since, startup_s)
    finally:
        stop_serve(process)
