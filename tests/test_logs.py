"""No log line holds request data: every parameterised route is made to fail, and every record written
(ours, Flask's, waitress's; access, error, exception) is searched for the path values, token, cell,
query string and body. Exception lines name the route pattern and the exception's type, never its message.
"""

from __future__ import annotations

import http.cookiejar
import logging
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h3.api.basic_int as h3
import pytest
from conftest import Cli
from databases import impatient, locked
from flask import Flask, request
from flask.testing import FlaskClient
from livesite import free_port

from mapaid import create_app, grid
from mapaid.logs import RedactingFilter

CENTRE = (53.9025, 27.5615)
CELL = h3.int_to_str(h3.latlng_to_cell(*CENTRE, 9))
BODY_TEXT = "Soup for the whole stairwell"
PASSWORD = "correct horse battery"
FORMAT = logging.Formatter("%(name)s %(levelname)s %(module)s %(funcName)s %(message)s")


@dataclass
class Site:
    app: Flask
    client: FlaskClient
    post_id: str
    token: str
    parent: str
    hooks: list[Callable[[], None]]


@pytest.fixture
def site(config: dict[str, Any], cli: Cli) -> Site:
    """A logged-in coordinator's client on an app that answers 500 the way production does."""
    # impatient: on a locked database (test_a_locked_database_logs_no_token) the app fails at once
    settings = {"DATABASE": impatient(config["DATABASE"]), "PROPAGATE_EXCEPTIONS": False}
    app = create_app({**config, **settings, "WTF_CSRF_ENABLED": False})
    hooks: list[Callable[[], None]] = []

    @app.before_request
    def _run_hooks() -> None:  # a test adds its own after setting up (Flask allows no new hook by then)
        for hook in hooks:
            hook()

    client = app.test_client()
    assert cli("coordinator", "add", "anna", "--password-stdin", input=PASSWORD + "\n").exit_code == 0
    assert client.post("/coordinator/login", data={"name": "anna", "password": PASSWORD}).status_code == 302
    created = client.post(
        "/api/v1/posts", json={"kind": "need", "category": "medicine", "text": BODY_TEXT, "cell": CELL}
    ).get_json()
    with app.app_context():
        from mapaid.db import get_store, settings

        parent = str(grid.chunk_index(get_store().area(), settings().cell_res)[0][0])
    return Site(app, client, created["id"], created["token"], parent, hooks)


# (method, path template, body, route pattern): every route with a value in its path, query string or body
ROUTES = [
    ("GET", "/near/{cell}?within=1200&kind=need&category=medicine&page=1", None, "/near/<cell>"),
    ("GET", "/manage/{id}/{token}", None, "/manage/<post_id>/<token>"),
    ("POST", "/manage/{id}/{token}", {"action": "fulfilled"}, "/manage/<post_id>/<token>"),
    ("GET", "/cells/{parent}.json", None, "/cells/<parent>.json"),
    ("GET", "/api/v1/posts?cell={cell}&within=1200&category=medicine", None, "/api/v1/posts"),
    ("GET", "/api/v1/posts/{id}", None, "/api/v1/posts/<post_id>"),
    ("POST", "/api/v1/posts/{id}/fulfilled", None, "/api/v1/posts/<post_id>/fulfilled"),
    ("DELETE", "/api/v1/posts/{id}", None, "/api/v1/posts/<post_id>"),
    ("POST", "/api/v1/posts", "json", "/api/v1/posts"),
    ("POST", "/post", {"kind": "need", "category": "medicine", "text": BODY_TEXT, "cell": "{cell}"}, "/post"),
    ("GET", "/coordinator?within=1200&sort=needs&order=desc", None, "/coordinator"),
    (
        "GET",
        "/coordinator/posts?district=frunzensky&category=medicine&status=open&page=1",
        None,
        "/coordinator/posts",
    ),
    (
        "POST",
        "/coordinator/posts/{id}/hide",
        {"next": "/coordinator/posts?district=frunzensky"},
        "/coordinator/posts/<post_id>/<action>",
    ),
    (
        "GET",
        "/api/v1/coordinator/posts?district=frunzensky&category=medicine&page=1",
        None,
        "/api/v1/coordinator/posts",
    ),
    ("GET", "/api/v1/coordinator/districts?within=1200", None, "/api/v1/coordinator/districts"),
    ("GET", "/export/posts.csv?district=frunzensky&category=medicine", None, "/export/<filename>"),
    ("GET", "/export/districts.geojson?within=1200", None, "/export/<filename>"),
    # private replies (the thread's id stands in as the post's; its token is in a header, as the post's)
    ("GET", "/api/v1/posts/{id}/threads", None, "/api/v1/posts/<post_id>/threads"),
    (
        "POST",
        "/api/v1/posts/{id}/threads",
        {"key": "{cell}", "message": BODY_TEXT},
        "/api/v1/posts/<post_id>/threads",
    ),
    ("GET", "/api/v1/threads/{id}", None, "/api/v1/threads/<thread_id>"),
    ("POST", "/api/v1/threads/{id}/messages", {"message": BODY_TEXT}, "/api/v1/threads/<thread_id>/messages"),
    ("POST", "/api/v1/threads/{id}/report", {"reason": "spam"}, "/api/v1/threads/<thread_id>/report"),
]


def _secrets(site: Site, query: str) -> list[str]:
    values = [CELL, site.post_id, site.token, site.parent, BODY_TEXT]
    if query:
        values += [query, "frunzensky", "medicine"]
    return values


def _written(records: list[logging.LogRecord]) -> str:
    """Every record as a handler would write it (message, exception text, stack), plus its raw args."""
    return "\n".join(f"{FORMAT.format(r)}\n{r.getMessage()}\n{r.args!r}" for r in records)


def _request(site: Site, method: str, template: str, body: object) -> int:
    path = template.format(cell=CELL, id=site.post_id, token=site.token, parent=site.parent)
    headers = {"X-Post-Token": site.token}
    if body == "json":
        body_json = {"kind": "need", "category": "medicine", "text": BODY_TEXT, "cell": CELL}
        return site.client.open(path, method=method, json=body_json, headers=headers).status_code
    data = {k: v.format(cell=CELL) for k, v in body.items()} if isinstance(body, dict) else None
    return site.client.open(path, method=method, data=data, headers=headers).status_code


@pytest.mark.parametrize(
    ("method", "template", "body", "rule"), ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ROUTES]
)
def test_a_failing_route_logs_its_pattern_and_the_exception_type_only(
    site: Site, caplog: pytest.LogCaptureFixture, method: str, template: str, body: object, rule: str
) -> None:
    """The view fails with an exception whose message and chained cause quote the request, as an
    exception from deep inside may (`invalid literal for int(): '...'`)."""

    def _explode() -> None:
        try:
            int(request.full_path)
        except ValueError as cause:
            seen = f"{request.full_path} {request.view_args} {request.get_data(as_text=True)}"
            raise RuntimeError(f"failed on {seen}") from cause

    site.hooks.append(_explode)
    caplog.set_level(logging.DEBUG)
    assert _request(site, method, template, body) == 500
    written = _written(caplog.records)
    assert f"Exception on {rule} [{method}]" in written
    assert "RuntimeError" in written and "ValueError" in written  # the chain's types stay
    assert "_explode" in written  # and the frames
    assert f"{method} {rule} 500" in written
    for secret in _secrets(site, template.partition("?")[2].format(cell=CELL)):
        assert secret not in written, secret


def test_a_locked_database_logs_no_token(site: Site, caplog: pytest.LogCaptureFixture, database: str) -> None:
    """The case seen in the wild: `Exception on /manage/<id>/<token> [POST]` with a locked database."""
    caplog.set_level(logging.DEBUG)
    with locked(database) as error:
        status = _request(site, "POST", "/manage/{id}/{token}", {"action": "fulfilled"})
    assert status == 500
    written = _written(caplog.records)
    assert "Exception on /manage/<post_id>/<token> [POST]" in written and error in written
    assert site.token not in written and site.post_id not in written


def test_waitress_lines_name_the_route_pattern(site: Site, caplog: pytest.LogCaptureFixture) -> None:
    """Waitress writes `Exception while serving <path>` and the peer's address with a bad proxy header;
    the filter ``create_app`` puts on its loggers rewrites both (the records as waitress makes them)."""
    caplog.set_level(logging.DEBUG)
    path = f"/manage/{site.post_id}/{site.token}"
    waitress = logging.getLogger("waitress")
    try:
        int("²" + site.token)
    except ValueError:
        waitress.exception("Exception while serving %s" % path)  # noqa: UP031 - waitress's own form
    waitress.info("Client disconnected while serving %s" % f"/near/{CELL}")  # noqa: UP031
    waitress.info("Client disconnected while serving %s" % f"/api/v1/posts/{site.post_id}/fulfilled")  # noqa: UP031
    waitress.info("Client disconnected while serving %s" % f"/manage/a b/{site.token} x\ny")  # noqa: UP031
    waitress.warning(
        'Malformed proxy header "%s" from "%s": %s value: %s', "Forwarded", "198.51.100.7", "bad", CELL
    )
    written = _written(caplog.records)
    assert "Exception while serving /manage/<post_id>/<token>" in written
    assert "Client disconnected while serving /near/<cell>" in written
    assert 'Malformed proxy header "Forwarded": bad' in written and "ValueError" in written
    assert "Client disconnected while serving /manage/<post_id>/<token>" in written
    assert "Client disconnected while serving /api/v1/posts/<post_id>/fulfilled" in written  # POST only
    for secret in (site.token, site.post_id, CELL, "198.51.100.7", " x", "a b"):
        assert secret not in written, secret


def test_third_party_lines_inside_a_request_lose_the_path_and_query(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    """A line some other code writes through our logger while serving a request, quoting the request."""

    def _chatty() -> None:
        site.app.logger.warning("odd request %s (%s)", request.full_path, request.view_args)

    site.hooks.append(_chatty)

    caplog.set_level(logging.DEBUG)
    site.client.get(f"/near/{CELL}?within=1200&category=medicine")
    written = _written(caplog.records)
    assert "odd request /near/<cell> (" in written
    assert CELL not in written and "within=1200" not in written and "medicine" not in written


def test_the_filter_keeps_route_free_lines_as_they_are() -> None:
    record = logging.LogRecord("waitress", logging.INFO, __file__, 1, "Serving on %s", ("http://x:1",), None)
    assert RedactingFilter().filter(record) and record.getMessage() == "Serving on http://x:1"


def test_mapaid_serve_writes_no_token_when_a_request_fails(
    env: dict[str, str], database: str, tmp_path: Path
) -> None:
    """`mapaid serve` (waitress, its logging set up by the command): the private link's POST fails on a
    locked database, and nothing on its standard error names the post, its token or the cell."""
    app = create_app({"DATABASE": database, "SECRET_KEY": env["MAPAID_SECRET_KEY"], "TESTING": True})
    created = (
        app.test_client()
        .post("/api/v1/posts", json={"kind": "need", "category": "food", "text": BODY_TEXT, "cell": CELL})
        .get_json()
    )
    post_id, token = created["id"], created["token"]
    port = free_port()
    errors = (tmp_path / "serve.err").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mapaid.cli", "serve", "--port", str(port)],
        env={**os.environ, **env, "MAPAID_DATABASE": impatient(database)},
        stdout=subprocess.DEVNULL,
        stderr=errors,
    )
    base = f"http://127.0.0.1:{port}"
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                page = opener.open(f"{base}/manage/{post_id}/{token}", timeout=5).read().decode()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "server did not come up"
                time.sleep(0.2)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert csrf
        form = urllib.parse.urlencode({"csrf_token": csrf.group(1), "action": "fulfilled"}).encode()
        with locked(database) as error, pytest.raises(urllib.error.HTTPError) as failed:
            opener.open(f"{base}/manage/{post_id}/{token}?lang=en", data=form, timeout=30)
        assert failed.value.code == 500
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    written = (tmp_path / "serve.err").read_text()
    assert "Exception on /manage/<post_id>/<token> [POST]" in written and error in written
    assert "POST /manage/<post_id>/<token> 500" in written
    for secret in (post_id, token, CELL, "lang=en", BODY_TEXT):
        assert secret not in written, secret
