"""Coordinator web: login (CSRF, throttle, cookies, logout), the unmet-needs page, its API, the exports
and `mapaid report` agreeing on every number, moderation with its audit trail."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import h3.api.basic_int as h3
import pandas as pd
import pyogrio
import pytest
from conftest import Cli
from flask import Flask
from flask.testing import FlaskClient
from peek import columns
from scene import AWAY, HOME, Scene, build

from mapaid import accounts, create_app, moderation
from mapaid.config import DEFAULT_CATEGORIES
from mapaid.store import Store

PASSWORD = "correct horse battery"


def token(client: FlaskClient, path: str = "/coordinator/login") -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert match, path
    return match.group(1)


def login(client: FlaskClient, name: str = "anna", password: str = PASSWORD, **extra: str) -> Any:
    data = {"name": name, "password": password, "csrf_token": token(client), **extra}
    return client.post("/coordinator/login", data=data)


@pytest.fixture
def anna(store: Store, today: date) -> str:
    accounts.add(store, "anna", PASSWORD, today)
    return "anna"


@pytest.fixture
def coordinator(client: FlaskClient, anna: str) -> FlaskClient:
    assert login(client).status_code == 302
    return client


@pytest.fixture
def scene(store: Store, today: date) -> Scene:
    return build(store, today)


# -- access ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/coordinator", "/coordinator/posts?kind=need", "/coordinator?within=400"])
def test_pages_send_strangers_to_the_login_page(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/coordinator/login?next=")


@pytest.mark.parametrize("path", ["/api/v1/coordinator/districts", "/api/v1/coordinator/posts"])
def test_the_api_answers_401_to_strangers(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 401
    assert "log in" in response.json["error"].lower()


def set_cookies(response: Any) -> dict[str, str]:
    """Each cookie the response sets, by name: its whole Set-Cookie header."""
    return {header.split("=", 1)[0]: header for header in response.headers.getlist("Set-Cookie")}


def test_login_sets_an_httponly_samesite_cookie_and_lands_on_next(client: FlaskClient, anna: str) -> None:
    response = login(client, next="/coordinator?within=400")
    assert response.status_code == 302 and response.headers["Location"] == "/coordinator?within=400"
    cookies = set_cookies(response)
    assert set(cookies) == {"session", "mapaid_device"}  # the login, and the known device (test_devices.py)
    assert all("HttpOnly" in cookie and "Secure" not in cookie for cookie in cookies.values())
    assert "SameSite=Lax" in cookies["session"] and "SameSite=Strict" in cookies["mapaid_device"]
    assert client.get("/coordinator").status_code == 200


def test_secure_cookies_when_configured(config: dict[str, Any], anna: str) -> None:
    client = create_app({**config, "SECURE_COOKIES": "1"}).test_client()
    response = login(client)
    cookies = set_cookies(response)
    assert response.status_code == 302 and set(cookies) == {"session", "mapaid_device"}
    assert all("Secure" in cookie for cookie in cookies.values())


def test_login_never_redirects_to_another_site(client: FlaskClient, anna: str) -> None:
    response = login(client, next="//evil.example/x")
    assert response.headers["Location"] == "/coordinator"


def test_wrong_password_is_refused(client: FlaskClient, anna: str) -> None:
    response = login(client, password="not the password")
    assert response.status_code == 401
    assert "Wrong name or password" in response.text
    assert client.get("/coordinator").status_code == 302


def test_login_without_csrf_token_is_refused(client: FlaskClient, anna: str) -> None:
    client.get("/coordinator/login")
    response = client.post("/coordinator/login", data={"name": "anna", "password": PASSWORD})
    assert response.status_code == 400
    assert "reload the page" in response.text
    assert client.get("/coordinator").status_code == 302


def test_five_failed_logins_a_minute_then_429(
    client: FlaskClient, anna: str, store: Store, today: date
) -> None:
    for _ in range(accounts.MAX_FAILURES):
        assert login(client, password="wrong password").status_code == 401
    response = login(client)  # the right password, too soon
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "60"
    assert "wait a minute" in response.text
    assert client.get("/coordinator").status_code == 302
    accounts.add(store, "boris", PASSWORD, today)
    assert login(client, name="boris").status_code == 302  # other accounts are not locked out


def test_logout(coordinator: FlaskClient) -> None:
    assert coordinator.get("/coordinator/logout").status_code == 405  # a GET cannot log anyone out
    assert coordinator.post("/coordinator/logout").status_code == 400  # neither can a forged form
    assert coordinator.get("/coordinator").status_code == 200
    response = coordinator.post(
        "/coordinator/logout", data={"csrf_token": token(coordinator, "/coordinator")}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/coordinator/login"
    assert coordinator.get("/coordinator").status_code == 302
    assert coordinator.get("/api/v1/coordinator/districts").status_code == 401


def test_removing_an_account_ends_its_session(coordinator: FlaskClient, store: Store) -> None:
    accounts.remove(store, "anna")
    assert coordinator.get("/coordinator").status_code == 302


# -- the numbers agree everywhere ------------------------------------------------------------------------
ROW = re.compile(
    r'<tr data-district="(?P<district>[a-z]+)"(?: data-category="(?P<category>[a-z]+)")?[^>]*>.*?'
    r'<td class="offers">(?P<offers>\d+)</td><td class="needs">(?P<needs>\d+)</td>\s*'
    r'<td class="unmet">(?P<unmet>\d+)</td><td class="met">(?P<met>[^<]+)</td>',
    re.S,
)


def page_numbers(html: str) -> tuple[dict[str, tuple[int, ...]], dict[tuple[str, str], tuple[int, ...]]]:
    districts, categories = {}, {}
    for m in ROW.finditer(html):
        numbers = (int(m["offers"]), int(m["needs"]), int(m["unmet"]))
        if m["category"]:
            categories[(m["district"], m["category"])] = numbers
        else:
            districts[m["district"]] = numbers
    return districts, categories


def report_numbers(output: str, names: dict[str, str]) -> dict[str, tuple[int, ...]]:
    by_name = {v: k for k, v in names.items()}
    numbers = {}
    for line in output.splitlines()[2:]:
        parts = line.split()
        if parts and parts[0].isdigit():
            numbers[by_name[" ".join(parts[1:-4])]] = tuple(int(p) for p in parts[-4:-1])
    return numbers


def report_categories(output: str, names: dict[str, str]) -> dict[tuple[str, str], tuple[int, ...]]:
    """The indented per-category lines of `mapaid report --by-category`, under their district's line."""
    by_name = {v: k for k, v in names.items()}
    numbers, district = {}, ""
    for line in output.splitlines()[2:]:
        parts = line.split()
        if parts and parts[0].isdigit():
            district = by_name[" ".join(parts[1:-4])]
        elif line.startswith("    ") and parts:
            numbers[(district, parts[0])] = tuple(int(p) for p in parts[-4:-1])
    return numbers


@pytest.mark.parametrize("within", [400, 800, 1200])
def test_page_api_csv_geojson_and_report_agree(
    coordinator: FlaskClient, scene: Scene, cli: Cli, tmp_path: Path, within: int
) -> None:
    page = coordinator.get(f"/coordinator?within={within}")
    assert page.status_code == 200
    districts, categories = page_numbers(page.text)
    expected = {
        d: (
            scene.offers.get(d, 0),
            scene.needs.get(d, 0),
            scene.total_unmet(within, d) if d in (HOME, AWAY) else 0,
        )
        for d in districts
    }
    assert len(districts) == 9 and districts == expected
    assert categories[(HOME, "food")][2] == scene.unmet[within][HOME].get("food", 0)

    api = coordinator.get(f"/api/v1/coordinator/districts?within={within}").json
    assert api["within_m"] == within
    from_api = {r["district"]: (r["offers"], r["needs"], r["unmet"]) for r in api["districts"]}
    assert from_api == districts
    for r in api["districts"]:
        for c in DEFAULT_CATEGORIES:
            expected_row = categories.get((r["district"], c), (0, 0, 0))  # the page leaves out empty rows
            assert (r[f"{c}_offers"], r[f"{c}_needs"], r[f"{c}_unmet"]) == expected_row

    for ext in ("csv", "geojson"):
        response = coordinator.get(f"/export/districts.{ext}?within={within}")
        assert response.status_code == 200
        path = tmp_path / f"districts.{ext}"
        path.write_bytes(response.data)
        frame = pyogrio.read_dataframe(path, **({"AUTODETECT_TYPE": "YES"} if ext == "csv" else {}))
        assert set(frame["within_m"]) == {within}
        got = {
            r["district"]: (int(r["offers"]), int(r["needs"]), int(r["unmet"])) for _, r in frame.iterrows()
        }
        assert got == districts, ext
        for _, r in frame.iterrows():
            for c in DEFAULT_CATEGORIES:
                row = (int(r[f"{c}_offers"]), int(r[f"{c}_needs"]), int(r[f"{c}_unmet"]))
                assert row == categories.get((r["district"], c), (0, 0, 0)), (ext, c)
        home = frame.set_index("district").loc[HOME]
        assert home["share_met"] == pytest.approx(
            1 - scene.total_unmet(within, HOME) / scene.needs[HOME], abs=1e-4
        )
        assert pd.isna(frame.set_index("district").loc["centralny", "share_met"])

    names = {r["district"]: r["name"] for r in api["districts"]}
    result = cli("report", "--within", str(within))
    assert result.exit_code == 0, result.output
    assert report_numbers(result.output, names) == districts
    by_category = report_categories(cli("report", "--within", str(within), "--by-category").output, names)
    assert by_category == categories
    assert categories[(HOME, "medicine")] == (0, 1, 1)  # hidden, fulfilled and expired offers: not counted


def test_districts_geojson_is_rfc7946(coordinator: FlaskClient, scene: Scene) -> None:
    collection = coordinator.get("/export/districts.geojson").json
    assert "crs" not in collection and len(collection["features"]) == 9
    geometry = collection["features"][0]["geometry"]
    assert geometry["type"] in ("Polygon", "MultiPolygon")
    lon, lat = (
        geometry["coordinates"][0][0] if geometry["type"] == "Polygon" else geometry["coordinates"][0][0][0]
    )
    assert 27 < lon < 28 and 53 < lat < 54.2


def test_bad_within_is_a_clear_400(coordinator: FlaskClient) -> None:
    for path in (
        "/coordinator?within=500",
        "/export/districts.csv?within=far",
        "/api/v1/coordinator/districts?within=5",
    ):
        response = coordinator.get(path)
        assert response.status_code == 400 and "400, 800, 1200" in response.text, path


def test_dashboard_map_layers_legend_and_highlight(coordinator: FlaskClient, scene: Scene) -> None:
    html = coordinator.get("/coordinator?within=400").text
    assert "Unmet needs per district" in html and "Unmet needs per hexagon" in html  # both legends
    assert re.search(rf'<tr data-district="{HOME}" class="most-unserved">', html)
    assert "OpenStreetMap contributors" in html
    assert "2 hexagons have unmet needs" in html
    spec = re.search(r'<script type="application/json" class="mapaid-layers"[^>]*>(.*?)</script>', html, re.S)
    assert spec, "no data layers"  # choropleth with popups, hexagons, layer switch (drawn by layers.js)
    layers = json.loads(spec.group(1))
    # districts and gap hexagons both open a popup; a hexagon's links to the list of its unmet needs
    assert layers["control"] and [bool(layer["popup"]) for layer in layers["layers"]] == [True, True]
    assert layers["layers"][1]["popup"]["link"]["field"] == "href"
    assert [len(layer["data"]["features"]) for layer in layers["layers"]] == [9, 2]
    hosts = set(re.findall(r'(?:src|href)="(?:https?:)?//([^/"]+)', html))
    assert hosts == set(), hosts  # everything from our own host
    assert "d3" not in re.findall(r'<script src="([^"]+)"', html)


def test_tables_sort(coordinator: FlaskClient, scene: Scene) -> None:
    by_needs = page_numbers(coordinator.get("/coordinator?sort=needs&order=asc").text)[0]
    needs = [v[1] for v in by_needs.values()]
    assert needs == sorted(needs)
    by_name = coordinator.get("/coordinator?sort=name&order=desc").text
    names = re.findall(r'<tr data-district="[a-z]+"[^>]*>\s*<td>\d+</td><td>(?:★ )?([^<]+)</td>', by_name)
    assert len(names) == 9 and names == sorted(names, reverse=True)
    assert coordinator.get("/coordinator?sort=colour").status_code == 400


# -- moderation ------------------------------------------------------------------------------------------
def test_moderation_list_filters(coordinator: FlaskClient, scene: Scene) -> None:
    html = coordinator.get(f"/coordinator/posts?district={HOME}&kind=offer&category=medicine").text
    ids = set(re.findall(r'<tr data-id="([a-z0-9]+)"', html))
    assert ids == {scene.ids["om_hidden"], scene.ids["om_fulfilled"], scene.ids["om_expired"]}
    html = coordinator.get("/coordinator/posts?status=hidden").text
    assert set(re.findall(r'<tr data-id="([a-z0-9]+)"', html)) == {scene.ids["om_hidden"]}
    assert "(expired)" in coordinator.get("/coordinator/posts?category=medicine&kind=offer&status=open").text
    for bad in ("district=atlantis", "kind=wish", "category=cake", "status=deleted", "page=0"):
        response = coordinator.get(f"/coordinator/posts?{bad}")
        assert response.status_code == 400, bad
    api = coordinator.get("/api/v1/coordinator/posts?status=hidden,fulfilled").json
    assert api["total"] == 2 and api["page"] == 1
    assert {p["id"]: p["status"] for p in api["posts"]} == {
        scene.ids["om_hidden"]: "hidden",
        scene.ids["om_fulfilled"]: "fulfilled",
    }


def act(client: FlaskClient, post_id: str, action: str, **data: str) -> Any:
    form = {"csrf_token": token(client, "/coordinator/posts"), **data}
    return client.post(f"/coordinator/posts/{post_id}/{action}", data=form)


def test_actions_change_status_and_write_the_audit_trail(
    coordinator: FlaskClient, scene: Scene, store: Store, database: str
) -> None:
    post = scene.ids["nm"]
    response = act(coordinator, post, "hide", next="/coordinator/posts?status=hidden")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/coordinator/posts?status=hidden#post-{post}"  # back at its row
    assert store.get(post)["status"] == "hidden"
    assert act(coordinator, post, "restore").status_code == 302  # the tests' site publishes at once
    assert act(coordinator, post, "fulfilled").status_code == 302
    assert store.get(post)["status"] == "fulfilled"
    rows = list(reversed(store.audit_trail()))  # oldest first
    assert [(r.coordinator, r.action, r.post_id) for r in rows] == [
        ("anna", a, post) for a in ("hide", "restore", "fulfilled")
    ]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d", r.at) for r in rows)  # the UTC day, no time of day
    assert set(columns(database, "audit")) == {
        "seq",
        "at",
        "coordinator",
        "action",
        "post_id",
    }  # no location of any kind
    page = coordinator.get("/coordinator/posts").text
    assert "Audit trail" in page and page.count(post) >= 4


def test_actions_need_csrf_a_known_action_and_a_real_post(
    coordinator: FlaskClient, scene: Scene, store: Store
) -> None:
    post = scene.ids["nm"]
    assert coordinator.post(f"/coordinator/posts/{post}/hide").status_code == 400
    assert act(coordinator, post, "delete").status_code == 404
    assert act(coordinator, "nosuchpost", "hide").status_code == 404
    assert store.get(post)["status"] == "open"
    assert store.audit_trail() == []


def test_strangers_cannot_moderate(client: FlaskClient, anna: str, scene: Scene, store: Store) -> None:
    response = client.post(f"/coordinator/posts/{scene.ids['nm']}/hide", data={"csrf_token": token(client)})
    assert response.status_code == 302 and "/coordinator/login" in response.headers["Location"]
    assert store.get(scene.ids["nm"])["status"] == "open"


# -- a hidden post disappears from everything public ------------------------------------------------------
def public_views(client: FlaskClient, post_id: str, cell: int, tmp_path: Path) -> dict[str, bool]:
    """Whether the post shows in each public page, API answer and export."""
    hexagon = h3.int_to_str(cell)
    seen = {
        "near page": post_id in client.get(f"/near/{hexagon}?within=400").text,
        "api list": post_id in client.get(f"/api/v1/posts?cell={hexagon}&within=400").text,
        "api post": client.get(f"/api/v1/posts/{post_id}").status_code == 200,
        "posts.geojson": post_id in client.get("/export/posts.geojson").text,
        "posts.csv": post_id in client.get("/export/posts.csv").text,
    }
    path = tmp_path / "posts.gpkg"
    path.write_bytes(client.get("/export/posts.gpkg").data)
    seen["posts.gpkg"] = post_id in set(pyogrio.read_dataframe(path)["id"])
    return seen


def test_a_hidden_post_is_gone_from_every_public_page_and_export(
    coordinator: FlaskClient, app: Flask, scene: Scene, tmp_path: Path
) -> None:
    public = app.test_client()
    post = scene.ids["of"]
    before = public_views(public, post, scene.near_food, tmp_path)
    assert all(before.values()), before
    offers_before = public.get("/export/districts.csv?within=400").text
    assert act(coordinator, post, "hide").status_code == 302
    after = public_views(public, post, scene.near_food, tmp_path)
    assert not any(after.values()), after
    assert public.get("/export/districts.csv?within=400").text != offers_before
    home = coordinator.get("/api/v1/coordinator/districts?within=800").json["districts"]
    assert next(d for d in home if d["district"] == HOME)["food_unmet"] == 2


# -- post exports ----------------------------------------------------------------------------------------
PUBLIC_COLUMNS = [
    "id",
    "kind",
    "category",
    "text",
    "contact",
    "district",
    "district_name",
    "cell",
    "uncertainty_m",
    "created",
    "expires",
    "status",
]


def test_post_exports_take_the_page_filters_and_hold_public_fields_only(
    client: FlaskClient, scene: Scene, tmp_path: Path
) -> None:
    for ext in ("geojson", "csv", "gpkg"):
        response = client.get(f"/export/posts.{ext}?kind=need&district={HOME}")
        assert response.status_code == 200
        path = tmp_path / f"posts.{ext}"
        path.write_bytes(response.data)
        frame = pyogrio.read_dataframe(path)
        assert set(frame["id"]) == {scene.ids[k] for k in ("nf1", "nf2", "nm", "nl", "nc")}, ext
        assert set(frame["district"]) == {HOME}
        columns = [c for c in frame.columns if c not in ("geometry", "lon", "lat")]
        if ext == "csv":  # the shown position once more, as the geometry GDAL reads (issue 10)
            assert columns.pop() == "WKT"
        assert columns == PUBLIC_COLUMNS, ext
    assert client.get("/export/posts.csv").headers["Content-Disposition"] == "attachment; filename=posts.csv"
    only_food = client.get("/export/posts.geojson?category=food,legal&kind=offer").json["features"]
    assert {f["properties"]["id"] for f in only_food} == {scene.ids["of"], scene.ids["ol"]}


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/export/posts.csv?category=cake", 400, "unknown category"),
        ("/export/posts.csv?district=atlantis", 400, "unknown district"),
        ("/export/posts.geojson?status=hidden", 400, "open"),
        ("/export/posts.xml", 404, "posts.geojson"),
        ("/export/people.csv", 404, "no export called"),
        ("/export/districts.kml", 404, "districts.gpkg"),  # districts come as GeoPackage too (issue 10)
    ],
)
def test_export_mistakes_are_explained(client: FlaskClient, path: str, status: int, message: str) -> None:
    response = client.get(path)
    assert response.status_code == status
    assert message in response.text


def test_moderation_listing_pages_in_sql(store: Store, scene: Scene, today: date) -> None:
    everything, total = moderation.listing(store, today, {}, limit=1000)
    assert total == len(everything) == len(scene.ids)
    pages = [moderation.listing(store, today, {}, limit=4, offset=k)[0] for k in range(0, total, 4)]
    assert list(pd.concat(pages)["id"]) == list(everything["id"])
    hidden, count = moderation.listing(store, today, {"status": ["hidden"], "district": [HOME]})
    assert count == 1 and list(hidden["id"]) == [scene.ids["om_hidden"]]
    assert bool(everything.set_index("id").loc[scene.ids["om_expired"], "expired"])
