"""No log line holds request data: every parameterised route is made to fail, and every record written
(ours, Flask's, waitress's; access, error, exception) is searched for the path values, token, cell,
query string and body. Exception lines name the route pattern and the exception's type, never its message.
"""

from __future__ import annotations

import http.cookiejar
import json
import logging
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import h3.api.basic_int as h3
import pytest
from conftest import Cli
from databases import impatient, locked
from flask import Flask, request
from flask.testing import FlaskClient
from livesite import start_serve, stop_serve, wait_for_serve

from mapaid import create_app, grid, logs, replycrypto
from mapaid.clock import SYSTEM, FixedClock
from mapaid.config import ConfigError
from mapaid.logs import RedactingFilter
from mapaid.replythread import Party

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


class Browser:
    """A cookie-keeping client of a running server that reads forms' hidden fields."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def open(self, path: str, form: dict[str, str] | None = None, **json_and_headers: Any) -> tuple[int, str]:
        headers = dict(json_and_headers.get("headers", {}))
        data = None
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
        elif "json" in json_and_headers:
            data = json.dumps(json_and_headers["json"]).encode()
            headers["Content-Type"] = "application/json"
        request_ = urllib.request.Request(f"{self.base}{path}", data=data, headers=headers)
        try:
            with self.opener.open(request_, timeout=30) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def hidden(self, path: str) -> dict[str, str]:
        status, page = self.open(path)
        assert status == 200, (path, status)
        return dict(re.findall(r'<input type="hidden" name="(\w+)"(?: id="\w+")? value="([^"]*)"', page))


def _answered_requests(site: Browser) -> tuple[str, str]:
    """What the issue names: a post (the form, and one by the API), a conversation start, a message, a
    private-link visit and a coordinator login; the API post's id and token."""
    form = site.hidden("/post?kind=need") | {
        "kind": "need",
        "category": "food",
        "text": BODY_TEXT,
        "cell": CELL,
    }
    status, posted = site.open("/post", form=form)
    assert status == 200 and "/manage/" in posted, status  # 303 to /posted, which shows the private link
    keys = replycrypto.generate("p256")
    body = {"kind": "need", "category": "food", "text": BODY_TEXT, "cell": CELL, "reply_key": keys.public}
    status, made = site.open("/api/v1/posts", json=body)
    assert status == 201, made
    post_id, token = json.loads(made)["id"], json.loads(made)["token"]
    neighbour = replycrypto.generate("p256")
    party = Party(post_id, keys.public, neighbour.public, neighbour.private, poster=False)
    day = SYSTEM.today().isoformat()  # the live server's day
    first = party.write("Can bring soup at six", day)
    start = {"key": neighbour.public, "message": first}
    status, started = site.open(f"/api/v1/posts/{post_id}/threads", json=start)
    assert status == 201, started
    thread = json.loads(started)
    status, _ = site.open(
        f"/api/v1/threads/{thread['thread']}/messages",
        json={"message": party.write("Flat 41", day, party.read_all([("replier", first, day)]))},
        headers={"X-Thread-Token": thread["token"]},
    )
    assert status == 201
    assert site.open(f"/manage/{post_id}/{token}")[0] == 200
    login = site.hidden("/coordinator/login") | {"name": "anna", "password": PASSWORD}
    status, dashboard = site.open("/coordinator/login", form=login)
    assert status == 200 and "/coordinator/logout" in dashboard, status
    return post_id, token


TIME_OF_DAY = re.compile(r"\d\d:\d\d:\d\d|\d{4}-\d\d-\d\d")


def test_mapaid_serve_logs_no_answered_request_and_a_5xx_without_the_time(
    env: dict[str, str], database: str, tmp_path: Path, cli: Cli
) -> None:
    """Under `mapaid serve` (waitress, its logging set up by the command), with the default settings:
    the requests that name a person's action leave no line at all; then the private link's POST fails on
    a locked database and leaves its lines, naming the route pattern and never the post, its token, the
    cell or a time of day (whatever collects the lines stamps them itself)."""
    assert cli("coordinator", "add", "anna", "--password-stdin", input=PASSWORD + "\n").exit_code == 0
    log = tmp_path / "serve.err"
    process, since = start_serve({**os.environ, **env, "MAPAID_DATABASE": impatient(database)}, log)
    try:
        site = Browser(wait_for_serve(process, log, since))
        deadline = time.monotonic() + 120
        while "housekeeping:" not in log.read_text():  # the start's own lines, written by then
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        before = log.read_text()
        post_id, token = _answered_requests(site)
        time.sleep(0.5)  # a line written after the answer would be here by now
        after = log.read_text()
        assert after == before, after[len(before) :]

        csrf = site.hidden(f"/manage/{post_id}/{token}")["csrf_token"]
        with locked(database) as error:
            status, _ = site.open(
                f"/manage/{post_id}/{token}?lang=en", form={"csrf_token": csrf, "action": "fulfilled"}
            )
        assert status == 500
    finally:
        stop_serve(process)
    written = log.read_text()
    assert "Exception on /manage/<post_id>/<token> [POST]" in written and error in written
    assert "ERROR mapaid.access POST /manage/<post_id>/<token> 500" in written
    for secret in (post_id, token, CELL, "lang=en", BODY_TEXT):
        assert secret not in written, secret
    assert not TIME_OF_DAY.search(written), TIME_OF_DAY.findall(written)


def _access_records(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [f"{r.levelname} {r.getMessage()}" for r in caplog.records if r.name.startswith("mapaid.access")]


def _some_requests(client: FlaskClient) -> None:
    assert client.get("/health").status_code == 200
    assert client.get(f"/near/{CELL}?within=1200").status_code == 200
    assert client.get("/no/such/page").status_code == 404
    made = {"kind": "need", "category": "food", "text": BODY_TEXT, "cell": CELL}
    assert client.post("/api/v1/posts", json=made).status_code == 201


def test_by_default_an_answered_request_leaves_no_record(
    config: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _some_requests(create_app(config).test_client())
    assert _access_records(caplog) == []
    assert not [r for r in caplog.records if r.name.startswith(("mapaid.traffic", "waitress"))]


def test_the_requests_access_log_writes_a_line_per_request_naming_the_route_only(
    config: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _some_requests(create_app({**config, "ACCESS_LOG": "requests"}).test_client())
    lines = [re.sub(r" [\d.]+ms$", "", line) for line in _access_records(caplog)]
    assert lines == [
        "INFO GET /health 200",
        "INFO GET /near/<cell> 200",
        "INFO GET <unmatched> 404",
        "INFO POST /api/v1/posts 201",
    ]


def test_hourly_counts_are_kept_per_route_pattern_and_written_at_the_hour(
    config: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing is written at a request's moment; at the full hour (by the app's clock) one line per
    method, route pattern and status class, for the hour that ended."""
    clock = FixedClock(datetime(2026, 11, 27, 12, 59, 58, tzinfo=UTC))
    app = create_app({**config, "ACCESS_LOG": "hourly", "CLOCK": clock})
    caplog.set_level(logging.DEBUG)
    client = app.test_client()
    _some_requests(client)
    assert client.get("/health").status_code == 200
    for word in ("BREW", "WHEN", "WHO"):  # a method of the client's own making is one more OTHER
        client.open("/health", method=word)
    writer = logs.TrafficWriter(app.extensions[logs.TRAFFIC], clock)
    writer.start()
    try:
        time.sleep(0.2)
        assert [r for r in caplog.records if r.name.startswith("mapaid.")] == []
        clock.set(datetime(2026, 11, 27, 13, 0, 0, 500_000, tzinfo=UTC))
        deadline = time.monotonic() + 30
        while not [r for r in caplog.records if r.name == "mapaid.traffic"]:
            assert time.monotonic() < deadline, "no counts written at the hour"
            time.sleep(0.05)
        time.sleep(0.2)
    finally:
        writer.stop()
        writer.join(timeout=10)
    written = [r.getMessage() for r in caplog.records if r.name == "mapaid.traffic"]
    assert written == [
        "2026-11-27 12:00-13:00 UTC GET /health 2xx 2",
        "2026-11-27 12:00-13:00 UTC GET /near/<cell> 2xx 1",
        "2026-11-27 12:00-13:00 UTC GET <unmatched> 4xx 1",
        "2026-11-27 12:00-13:00 UTC OTHER <unmatched> 4xx 3",
        "2026-11-27 12:00-13:00 UTC POST /api/v1/posts 2xx 1",
    ]
    assert _access_records(caplog) == []
    assert app.extensions[logs.TRAFFIC].take() == {}  # the next hour starts from nothing


def test_a_bad_access_log_setting_is_named(config: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="MAPAID_ACCESS_LOG must be one of off, hourly, requests"):
        create_app({**config, "ACCESS_LOG": "everything"})


def test_lines_for_journald_carry_each_line_s_priority(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under systemd (JOURNAL_STREAM names standard error's device and inode) every line of a record,
    a traceback's too, starts with its syslog priority, so `LogLevelMax=` and `journalctl -p` see it."""
    stream = (tmp_path / "journal").open("w")
    found = os.fstat(stream.fileno())
    monkeypatch.setattr(sys, "stderr", stream)
    monkeypatch.setenv("JOURNAL_STREAM", f"{found.st_dev}:{found.st_ino}")
    assert logs._stderr_is_journal()
    monkeypatch.setenv("JOURNAL_STREAM", f"{found.st_dev}:{found.st_ino + 1}")
    assert not logs._stderr_is_journal()
    record = logging.LogRecord("mapaid.access", logging.ERROR, __file__, 1, "a\nb", None, None)
    assert logs.LineFormatter(journal=True).format(record) == "<3>ERROR mapaid.access a\n<3>b"
    assert logs.LineFormatter(journal=False).format(record) == "ERROR mapaid.access a\nb"
