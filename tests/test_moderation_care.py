"""Coordinators, the same care (issue 8, item 9): the moderation list's text search (any case, Cyrillic
too, ``%`` and ``_`` taken literally), newest day first, a hide that comes back to the same filters at the
post's row with an Undo, residents' reports (form and API) in a queue by count, resolved by hide or dismiss
and gone with their post, kept without any client data or time finer than a day, rate-limited like other
writes; and the dashboard's gap hexagons linking to the list of their unmet needs."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import date, timedelta
from typing import Any

import h3.api.basic_int as h3
import pytest
from databases import is_postgres, sqlite_only
from flask.testing import FlaskClient
from helpers import database_bytes
from peek import columns, peek, peek_one
from scene import HOME, Scene, build

from mapaid import accounts, create_app
from mapaid.clock import FixedClock
from mapaid.store import SCHEMA_VERSION, Store

PASSWORD = "correct horse battery"
CELL = h3.int_to_str(h3.latlng_to_cell(53.9023, 27.5619, 9))
CLIENT_ADDRESS = "198.51.100.77"
CLIENT_AGENT = "ReporterBrowser/9.9 (unique-agent-string)"


def csrf(client: FlaskClient, path: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert match, path
    return match.group(1)


@pytest.fixture
def coordinator(app: Any, store: Store, today: date) -> FlaskClient:
    accounts.add(store, "anna", PASSWORD, today)
    client: FlaskClient = app.test_client()
    data = {"name": "anna", "password": PASSWORD, "csrf_token": csrf(client, "/coordinator/login")}
    assert client.post("/coordinator/login", data=data).status_code == 302
    return client


def post(client: FlaskClient, text: str, *, contact: str | None = None, kind: str = "offer") -> str:
    body: dict[str, Any] = {"kind": kind, "category": "food", "text": text, "cell": CELL}
    if contact is not None:
        body["contact"] = contact
    response = client.post("/api/v1/posts", json=body)
    assert response.status_code == 201, response.get_json()
    return str(response.get_json()["id"])


def listed(html: str) -> list[str]:
    return re.findall(r'<tr data-id="([0-9a-f]+)"', html)


def act(client: FlaskClient, post_id: str, action: str, next_url: str) -> Any:
    data = {"csrf_token": csrf(client, "/coordinator/posts"), "next": next_url}
    return client.post(f"/coordinator/posts/{post_id}/{action}", data=data)


# -- search and order ----------------------------------------------------------------------------------
def test_search_matches_text_and_contact_in_any_case_with_wildcards_taken_literally(
    coordinator: FlaskClient,
) -> None:
    bread = post(coordinator, "Нужен ХЛЕБ и молоко")
    baker = post(coordinator, "Can bake", contact="@Baker_1")
    juice = post(coordinator, "100% juice for kids")
    plain = post(coordinator, "Soup tonight", contact="@ab1")

    def search(q: str) -> set[str]:
        response = coordinator.get("/coordinator/posts", query_string={"q": q})
        assert response.status_code == 200
        return set(listed(response.text))

    assert search("хлеб") == {bread}  # Unicode case folding: SQLite's LIKE folds ASCII only
    assert search("BAKER") == {baker}  # the contact too
    assert search("%") == {juice}  # a literal percent sign, not "anything"
    assert search("_") == {baker}  # a literal underscore, not "any one character"
    assert search("a_1") == set()  # would match "@ab1" if _ were a wildcard
    assert search("ab1") == {plain}
    assert search("  soup   TONIGHT ") == {plain}  # blanks collapsed, like the page shows them
    assert search("") == {bread, baker, juice, plain}
    too_long = coordinator.get("/coordinator/posts", query_string={"q": "x" * 101})
    assert too_long.status_code == 400
    page = coordinator.get("/coordinator/posts", query_string={"q": "100%"}).text
    assert 'name="q" value="100%"' in page  # the box keeps the search


def test_newest_day_first(coordinator: FlaskClient, client: FlaskClient, clock: FixedClock) -> None:
    start = clock.now()
    ids = {}
    for days in (0, -2, -1):
        clock.set(start + timedelta(days=days))
        ids[days] = post(client, f"posted on day {days}")
    clock.set(start)  # the coordinator's login is still live
    order = listed(coordinator.get("/coordinator/posts?q=posted on day").text)
    assert order == [ids[0], ids[-1], ids[-2]]


# -- hide, undo ----------------------------------------------------------------------------------------
def test_hide_comes_back_to_the_same_filters_at_the_row_and_undo_restores_it(
    coordinator: FlaskClient, store: Store
) -> None:
    kept = [post(coordinator, f"offer number {i}") for i in range(5)]
    target = kept[2]
    here = "/coordinator/posts?kind=offer&status=open&q=offer+number"
    response = act(coordinator, target, "hide", here)
    assert response.status_code == 302
    assert response.headers["Location"] == f"{here}#post-{target}"  # same filters, at the row
    assert store.get(target)["status"] == "hidden"  # type: ignore[index]

    page = coordinator.get(here).text
    # still listed once, in its place, though status=open no longer matches; marked as the one acted on
    assert listed(page) == sorted(kept)  # the same day: by id, the hidden one among them

    assert re.search(rf'<tr data-id="{target}" data-status="hidden" id="post-{target}" class="kept"', page)
    assert f"Post {target} is hidden." in page  # the flash message
    form = rf'<form class="undo" method="post" action="/coordinator/posts/{target}/restore">(.*?)</form>'
    undo = re.search(form, page, re.S)
    assert undo and 'name="next" value="' in undo.group(1) and ">Undo</button>" in undo.group(1)
    next_url = re.search(r'name="next" value="([^"]+)"', undo.group(1))
    assert next_url and next_url.group(1).replace("&amp;", "&") == here
    later = coordinator.get(here).text
    assert target not in listed(later) and 'class="undo"' not in later  # kept once only, not for ever

    restored = act(coordinator, target, "restore", here)
    assert restored.headers["Location"] == f"{here}#post-{target}"
    assert store.get(target)["status"] == "open"  # type: ignore[index]
    audit = [(e.action, e.post_id, e.coordinator) for e in reversed(store.audit_trail())]  # oldest first
    assert audit == [("hide", target, "anna"), ("restore", target, "anna")]


def test_an_action_never_redirects_off_site(coordinator: FlaskClient) -> None:
    target = post(coordinator, "anything")
    response = act(coordinator, target, "hide", "//evil.example/#x")
    assert response.headers["Location"] == "/coordinator"


# -- reports -------------------------------------------------------------------------------------------
def report(client: FlaskClient, post_id: str, reason: str, address: str = CLIENT_ADDRESS) -> Any:
    environ = {"REMOTE_ADDR": address, "HTTP_USER_AGENT": CLIENT_AGENT}
    page = client.get(f"/report/{post_id}?back=/near/{CELL}", environ_base=environ)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    data = {"csrf_token": token.group(1), "reason": reason, "back": f"/near/{CELL}"}
    return client.post(f"/report/{post_id}", data=data, environ_base=environ)


def test_a_resident_reports_a_post_and_it_waits_in_the_queue_by_count(
    client: FlaskClient, coordinator: FlaskClient, store: Store, database: str, app: Any
) -> None:
    once = post(client, "reported once")
    twice = post(client, "reported twice")
    never = post(client, "never reported")
    near = client.get(f"/near/{CELL}?within=1200").text
    assert f'href="/report/{once}?back=' in near  # the list's "report" link
    assert 'data-report-url="/report/"' in near  # and the popups' (near.js)

    sent = report(client, once, "spam")
    assert sent.status_code == 302 and sent.headers["Location"].startswith("/reported?back=")
    thanks = client.get(sent.headers["Location"])
    assert thanks.status_code == 200 and f'href="/near/{CELL}"' in thanks.text
    other = app.test_client()
    assert report(other, twice, "dangerous", "203.0.113.5").status_code == 302
    assert report(client, twice, "personal").status_code == 302
    assert client.post(f"/report/{twice}", data={"reason": "spam"}).status_code == 400  # no CSRF token

    queue = coordinator.get("/coordinator/posts?reported=1").text
    assert listed(queue) == [twice, once]  # most reported first; unreported posts are not in the queue
    assert never not in listed(queue)
    row = re.search(rf'<tr data-id="{twice}".*?</tr>', queue, re.S)
    assert row and '<td class="reports"><strong>2</strong>' in row.group(0)
    assert "dangerous or a scam: 1" in row.group(0) and "personal data of someone: 1" in row.group(0)
    assert "Reported (2)" in queue
    assert ">Dismiss reports</button>" in row.group(0)

    assert act(coordinator, once, "dismiss", "/coordinator/posts?reported=1").status_code == 302
    assert store.get(once)["status"] == "open"  # type: ignore[index]  # dismissing leaves the post
    assert act(coordinator, twice, "hide", "/coordinator/posts?reported=1").status_code == 302
    assert peek_one(database, "SELECT count(*) FROM reports") == 0  # both resolved
    audit = [(e.action, e.post_id) for e in reversed(store.audit_trail())]  # oldest first
    assert audit == [("dismiss", once), ("hide", twice)]
    assert "Reported (0)" in coordinator.get("/coordinator/posts").text


def test_reports_keep_no_client_data_and_no_time_finer_than_a_day(
    client: FlaskClient, store: Store, database: str, today: date
) -> None:
    """On SQLite the table keeps not even the order in which reports came (WITHOUT ROWID); on PostgreSQL
    the store's reseal puts rows in key order whenever text is taken back (mapaid/pgstore.py)."""
    target = post(client, "look at me")
    assert report(client, target, "other").status_code == 302
    assert report(client, target, "other").status_code == 302
    api = client.post(
        f"/api/v1/posts/{target}/report",
        json={"reason": "spam"},
        environ_base={"REMOTE_ADDR": CLIENT_ADDRESS, "HTTP_USER_AGENT": CLIENT_AGENT},
    )
    assert api.status_code == 202 and api.get_json() == {"id": target, "reason": "spam"}
    # PostgreSQL also marks rows written since the last publication round (``fresh``, which the round
    # clears so the row carries the round's transaction id): a flag, neither client data nor a time.
    fresh = ["fresh"] if is_postgres(database) else []
    assert columns(database, "reports") == ["post_id", "reason", "day", "count", *fresh]
    rows = set(peek(database, "SELECT post_id, reason, day, count FROM reports"))
    assert rows == {(target, "other", today.isoformat(), 2), (target, "spam", today.isoformat(), 1)}
    if not is_postgres(database):
        ((sql,),) = peek(database, "SELECT sql FROM sqlite_master WHERE name = 'reports'")
        assert "WITHOUT ROWID" in sql  # not even the order in which reports came
    raw = database_bytes(database)
    for secret in (CLIENT_ADDRESS, "198.51.100", CLIENT_AGENT, "ReporterBrowser"):
        assert secret.encode() not in raw, secret


def test_reports_go_with_their_post(client: FlaskClient, store: Store, database: str) -> None:
    response = client.post(
        "/api/v1/posts", json={"kind": "need", "category": "food", "text": "soon gone", "cell": CELL}
    )
    created = response.get_json()
    assert report(client, created["id"], "spam").status_code == 302
    assert peek_one(database, "SELECT count(*) FROM reports") == 1
    deleted = client.delete(f"/api/v1/posts/{created['id']}", headers={"X-Post-Token": created["token"]})
    assert deleted.status_code == 204
    assert peek_one(database, "SELECT count(*) FROM reports") == 0


def test_only_posts_residents_see_can_be_reported_and_only_for_known_reasons(
    client: FlaskClient, coordinator: FlaskClient, store: Store, database: str
) -> None:
    hidden = post(client, "hidden soon")
    assert act(coordinator, hidden, "hide", "/coordinator/posts").status_code == 302
    assert client.get(f"/report/{hidden}").status_code == 404  # says nothing of a hidden post
    assert client.get("/report/nosuchpost").status_code == 404
    assert client.post(f"/api/v1/posts/{hidden}/report", json={"reason": "spam"}).status_code == 404
    visible = post(client, "visible")
    bad = report(client, visible, "because")
    assert bad.status_code == 422 and "Choose why you report this post." in bad.text
    for body in ({"reason": "because"}, {}, {"reason": "spam", "text": "free text"}, {"reason": 1}):
        assert client.post(f"/api/v1/posts/{visible}/report", json=body).status_code == 422, body
    assert client.post(f"/api/v1/posts/{visible}/report", data="x").status_code == 400
    assert peek_one(database, "SELECT count(*) FROM reports") == 0
    page = client.get(f"/report/{visible}?back=//evil.example/").text
    assert 'href="//evil.example/"' not in page  # "back" leads to our own pages only


def test_reports_are_rate_limited_like_other_writes(
    config: dict[str, Any], store: Store, database: str
) -> None:
    app = create_app({**config, "WRITE_LIMIT": "3 per minute"})
    client = app.test_client()
    target = post(client, "popular")
    for _ in range(3):
        assert report(client, target, "spam").status_code == 302
    refused = report(client, target, "spam")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    environ = {"REMOTE_ADDR": CLIENT_ADDRESS}
    api = client.post(f"/api/v1/posts/{target}/report", json={"reason": "spam"}, environ_base=environ)
    assert api.status_code == 429  # the API shares the count
    elsewhere = client.post(
        f"/api/v1/posts/{target}/report", json={"reason": "spam"}, environ_base={"REMOTE_ADDR": "203.0.113.9"}
    )
    assert elsewhere.status_code == 202  # another client still can
    assert peek_one(database, "SELECT sum(count) FROM reports") == 4


@sqlite_only
def test_the_reports_table_comes_with_an_upgrade_from_schema_2(database: str, cli: Any) -> None:
    """SQLite only: schema 2 is an older SQLite file's; PostgreSQL databases begin at the current schema."""
    db = sqlite3.connect(database)
    db.execute("DROP TABLE reports")
    db.execute("UPDATE schema_version SET version = 2")
    db.commit()
    db.close()
    assert cli("init-db").exit_code == 0
    db = sqlite3.connect(database)
    assert db.execute("SELECT version FROM schema_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("SELECT count(*) FROM reports").fetchone()[0] == 0
    db.close()


# -- the dashboard ---------------------------------------------------------------------------------------
def test_a_gap_hexagon_links_to_the_list_of_its_unmet_needs(
    coordinator: FlaskClient, store: Store, today: date
) -> None:
    scene: Scene = build(store, today)
    html = coordinator.get("/coordinator?within=400").text
    spec = re.search(r'<script type="application/json" class="mapaid-layers"[^>]*>(.*?)</script>', html, re.S)
    assert spec
    hexagons = json.loads(spec.group(1))["layers"][1]
    assert hexagons["popup"]["link"] == {"field": "href", "text": "List these unmet needs"}
    links = {f["properties"]["href"] for f in hexagons["data"]["features"]}
    assert all(f["properties"]["style"]["className"] == "gap-hexagon" for f in hexagons["data"]["features"])
    centre = h3.int_to_str(scene.centre)
    # at 400 m the centre's food, medicine and childcare needs are unmet; its legal need is met
    href = f"/coordinator/posts?cell={centre}&kind=need&status=open&category=food,medicine,childcare"
    assert href in links
    page = coordinator.get(href)
    assert page.status_code == 200
    assert set(listed(page.text)) == {scene.ids[k] for k in ("nf1", "nf2", "nm", "nc")}
    assert f"Only hexagon {centre}." in page.text
    assert coordinator.get("/coordinator/posts?cell=not-a-cell").status_code == 400
    assert coordinator.get("/coordinator/posts?cell=0x8928308280fffff").status_code == 400


def test_the_dashboard_links_to_the_post_and_district_exports(coordinator: FlaskClient) -> None:
    html = coordinator.get("/coordinator?within=1200").text
    for href in (
        "/export/posts.csv",
        "/export/posts.geojson",
        "/export/posts.gpkg",
        "/export/districts.csv?within=1200",
        "/export/districts.geojson?within=1200",
    ):
        assert f'href="{href}"' in html, href
    moderation = coordinator.get(f"/coordinator/posts?kind=need&district={HOME}&status=open").text
    assert f'href="/export/posts.gpkg?kind=need&amp;district={HOME}"' in moderation  # the list's filters
    for lang, words in (("be", "Адкрытыя допісы:"), ("ru", "Открытые объявления:")):
        assert words in coordinator.get(f"/coordinator?lang={lang}").text
