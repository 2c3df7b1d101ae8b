"""The JSON API under /api/v1: what the issue lists, errors as {"error", "field"}, never a stack trace."""

from __future__ import annotations

import re
from typing import Any

import h3.api.basic_int as h3
import pytest
from flask import Flask
from flask.testing import FlaskClient

from mapaid.store import Store

CENTRE = (53.9023, 27.5619)  # a point in central Minsk
XSS = "<img src=x onerror=alert(1)>"


def _post(client: FlaskClient, **fields: Any) -> Any:
    body = {"kind": "offer", "category": "food", "text": "Soup tonight", **fields}
    if "cell" not in body and "lat" not in body:
        body["cell"] = h3.int_to_str(h3.latlng_to_cell(*CENTRE, 9))
    return client.post("/api/v1/posts", json=body)


def test_post_with_a_point_is_coarsened_at_once(client: FlaskClient, store: Store) -> None:
    lat, lon = 53.902345678, 27.561987654
    response = _post(client, lat=lat, lon=lon, contact="@me", expires_days=3)
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"id", "cell", "district", "token", "published"}
    assert body["published"] is True  # the tests' site publishes at once; see test_rounds.py
    assert body["cell"] == h3.int_to_str(h3.latlng_to_cell(lat, lon, 9))
    assert response.headers["Location"].endswith(f"/api/v1/posts/{body['id']}")
    stored = store.get(body["id"])
    assert stored is not None and stored["cell"] == h3.str_to_int(body["cell"])
    assert store.token_hash(body["id"]) != body["token"]
    for digits in ("53.90234", "27.56198"):
        assert digits not in response.get_data(as_text=True)
        assert digits not in client.get(f"/api/v1/posts/{body['id']}").get_data(as_text=True)


def test_search_is_geojson_sorted_by_walking_distance(client: FlaskClient) -> None:
    origin = h3.latlng_to_cell(*CENTRE, 9)
    far = h3.grid_ring(origin, 2)[0]  # ~600 m straight, ~780 m walk
    near = h3.grid_ring(origin, 1)[0]
    for cell, text in ((far, "far"), (origin, "here"), (near, "near")):
        assert _post(client, cell=h3.int_to_str(cell), text=text).status_code == 201
    _post(client, cell=h3.int_to_str(near), text="a need", kind="need")
    response = client.get(f"/api/v1/posts?cell={h3.int_to_str(origin)}&within=1200&kind=offer")
    assert response.status_code == 200
    assert response.mimetype == "application/geo+json"
    features = response.get_json()["features"]
    assert [f["properties"]["text"] for f in features] == ["here", "near", "far"]
    walks = [f["properties"]["walk_m"] for f in features]
    assert walks == sorted(walks) and walks[0] == 0
    assert walks[-1] > 400  # the far one is out of a 5-minute reach
    short = client.get(f"/api/v1/posts?cell={h3.int_to_str(origin)}&within=400").get_json()["features"]
    assert [f["properties"]["text"] for f in short] == [
        f["properties"]["text"] for f in features if f["properties"]["walk_m"] <= 400
    ]
    only_needs = client.get(f"/api/v1/posts?cell={h3.int_to_str(origin)}&kind=need").get_json()
    assert [f["properties"]["text"] for f in only_needs["features"]] == ["a need"]


def test_token_marks_fulfilled_and_deletes(client: FlaskClient) -> None:
    created = _post(client).get_json()
    url = f"/api/v1/posts/{created['id']}"
    assert client.get(url).get_json()["properties"]["status"] == "open"
    assert client.post(url + "/fulfilled").status_code == 401  # no credentials (a wrong one: 401 too)
    wrong = client.post(url + "/fulfilled", headers={"X-Post-Token": "not-it"})
    assert wrong.status_code == 401 and wrong.get_json()["field"] == "X-Post-Token"
    done = client.post(url + "/fulfilled", headers={"X-Post-Token": created["token"]})
    assert done.status_code == 200 and done.get_json()["status"] == "fulfilled"
    assert client.get(url).status_code == 404  # no longer public
    assert client.delete(url, headers={"X-Post-Token": "not-it"}).status_code == 401
    assert client.delete(url, headers={"X-Post-Token": created["token"]}).status_code == 204
    gone = client.delete(url, headers={"X-Post-Token": created["token"]})  # no post has that token now
    assert gone.status_code == 401 and gone.get_json()["field"] == "X-Post-Token"


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"kind": "gift", "category": "food", "text": "x", "cell": "891f4eab6d3ffff"}, 422, "kind"),
        ({"kind": "offer", "category": "food", "text": "", "cell": "891f4eab6d3ffff"}, 422, "text"),
        ({"kind": "offer", "category": "food", "text": "x" * 281, "cell": "891f4eab6d3ffff"}, 422, "text"),
        ({"kind": "offer", "category": "food", "text": "x"}, 422, "cell"),
        ({"kind": "offer", "category": "food", "text": "x", "cell": "nonsense"}, 422, "cell"),
        ({"kind": "offer", "category": "food", "text": "x", "lat": 60.1, "lon": 24.9}, 422, "location"),
        ({"kind": "offer", "category": "food", "text": "x", "lat": "north", "lon": 27.5}, 422, "lat"),
        (
            {
                "kind": "offer",
                "category": "food",
                "text": "x",
                "cell": "891f4eab6d3ffff",
                "expires_days": 999,
            },
            422,
            "expires_days",
        ),
        (
            {"kind": "offer", "category": "food", "text": "x", "cell": "891f4eab6d3ffff", "home": "x"},
            422,
            "home",
        ),
    ],
)
def test_bad_posts_name_the_field(
    client: FlaskClient, store: Store, body: dict[str, Any], status: int, field: str
) -> None:
    response = client.post("/api/v1/posts", json=body)
    assert response.status_code == status
    answer = response.get_json()
    assert answer["field"] == field and answer["error"]
    assert "Traceback" not in response.get_data(as_text=True)
    assert store.count() == 0


def test_transport_errors_are_json(client: FlaskClient, app: Flask) -> None:
    not_json = client.post("/api/v1/posts", data="kind=offer", content_type="text/plain")
    assert not_json.status_code == 400 and set(not_json.get_json()) == {"error", "field"}
    broken = client.post("/api/v1/posts", data="{nope", content_type="application/json")
    assert broken.status_code == 400
    huge = client.post("/api/v1/posts", data="[" + "1," * 50_000 + "1]", content_type="application/json")
    assert huge.status_code == 413 and huge.get_json()["error"]
    wrong_method = client.put("/api/v1/posts")
    assert wrong_method.status_code == 405 and wrong_method.get_json()["error"]
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.get_json()["field"] is None
    assert client.get("/api/v1/posts").get_json()["field"] == "cell"
    assert client.get("/api/v1/posts?cell=891f4eab6d3ffff&within=500").get_json()["field"] == "within"
    outside = client.get(f"/api/v1/posts?cell={h3.int_to_str(h3.latlng_to_cell(60.17, 24.94, 9))}")
    assert outside.status_code == 422 and outside.get_json()["field"] == "cell"


def test_user_text_is_returned_as_data(client: FlaskClient) -> None:
    created = _post(client, text=XSS).get_json()
    feature = client.get(f"/api/v1/posts/{created['id']}").get_json()
    assert feature["properties"]["text"] == XSS


def test_districts_geojson(client: FlaskClient) -> None:
    body = client.get("/api/v1/districts").get_json()
    assert len(body["features"]) == 9
    names = body["features"][0]["properties"]
    assert {"slug", "name_be", "name_ru", "name_en"} <= set(names)
    assert "OpenStreetMap" in body["attribution"]


def test_openapi_describes_every_route(client: FlaskClient, app: Flask) -> None:
    """Every /api/v1 rule of every blueprint (the coordinators' and any added later), every method."""
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.1")
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = re.sub(r"<[^>]+>", "{}", rule.rule)
            routes.setdefault(path, set()).update(m.lower() for m in rule.methods - {"HEAD", "OPTIONS"})
    described = {re.sub(r"\{[^}]+\}", "{}", path): set(ops) for path, ops in spec["paths"].items()}
    assert {e.split(".")[0] for e in app.view_functions if e.startswith("coordinator.api")} == {"coordinator"}
    assert "/api/v1/coordinator/posts" in routes and "/api/v1/coordinator/districts" in routes
    assert routes == described
