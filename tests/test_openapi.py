"""The API described whole (issue 10, item 5): every /api/v1 route of every blueprint is in the OpenAPI
document, each operation has an operationId, enums and patterns come from the site (its districts from
the store), the two kinds of credentials are security schemes, and createPost links to what can be done
with the new post. And error messages name the real problem: a lat of NaN is not "missing"."""

from __future__ import annotations

import re
from typing import Any

import h3.api.basic_int as h3
import pytest
from flask import Blueprint, Flask
from flask.testing import FlaskClient

from mapaid import create_app, openapi

CELL = h3.int_to_str(h3.latlng_to_cell(53.9025, 27.5615, 9))
POST = '"kind": "offer", "category": "food", "text": "Soup"'


def undescribed(app: Flask, spec: dict[str, Any]) -> dict[str, set[str]]:
    """The /api/v1 routes (any blueprint) and methods the document does not describe; path parameters
    compared by place, not name (``<post_id>`` is ``{id}``)."""
    described = {re.sub(r"\{[^}]+\}", "{}", path): set(ops) for path, ops in spec["paths"].items()}
    missing: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = re.sub(r"<[^>]+>", "{}", rule.rule)
        methods = {m.lower() for m in (rule.methods or set())} - {"head", "options"}
        if methods - described.get(path, set()):
            missing.setdefault(path, set()).update(methods - described.get(path, set()))
    return missing


def test_every_api_route_of_every_blueprint_is_described(app: Flask, client: FlaskClient) -> None:
    assert undescribed(app, client.get("/api/v1/openapi.json").get_json()) == {}


def test_the_check_finds_a_route_left_out(config: dict[str, Any]) -> None:
    """A route added by another blueprint, or a method added to a described path, is caught."""
    app = create_app(config)
    extra = Blueprint("extra", __name__)
    extra.add_url_rule("/api/v1/extra/<thing>", "thing", lambda thing: thing)
    extra.add_url_rule("/api/v1/districts", "put", lambda: "", methods=["PUT"])
    app.register_blueprint(extra)
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    assert undescribed(app, spec) == {"/api/v1/extra/{}": {"get"}, "/api/v1/districts": {"put"}}


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, ops in spec["paths"].items() for method, op in ops.items()]


def test_operation_ids_security_and_links(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    ids = [op["operationId"] for _path, _method, op in _operations(spec)]
    assert len(ids) == len(set(ids)) and all(re.fullmatch(r"[a-z][A-Za-z]+", i) for i in ids)
    schemes = spec["components"]["securitySchemes"]
    assert schemes["postToken"] == {
        **schemes["postToken"],
        "type": "apiKey",
        "in": "header",
        "name": "X-Post-Token",
    }
    assert schemes["coordinatorSession"]["in"] == "cookie"
    by_id = {op["operationId"]: (path, op) for path, _method, op in _operations(spec)}
    for name in ("coordinatorDistricts", "coordinatorPosts"):
        assert by_id[name][1]["security"] == [{"coordinatorSession": []}]
        assert "401" in by_id[name][1]["responses"]
    for name in ("deletePost", "editPost", "extendPost", "fulfilPost"):
        assert by_id[name][1]["security"] == [{"postToken": []}]
    links = by_id["createPost"][1]["responses"]["201"]["links"]
    assert {link["operationId"] for link in links.values()} >= {"getPost", "deletePost", "extendPost"}
    assert links["DeletePost"]["parameters"] == {
        "path.id": "$response.body#/id",
        "header.X-Post-Token": "$response.body#/token",
    }
    for link in links.values():  # every link names an operation that exists
        assert link["operationId"] in by_id


def test_enums_and_patterns_come_from_the_site(client: FlaskClient, store: Any) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    slugs = store.area().slugs
    created = spec["components"]["schemas"]["Created"]["properties"]
    assert created["district"]["enum"] == list(slugs)
    params = {p["name"]: p for p in spec["paths"]["/api/v1/coordinator/posts"]["get"]["parameters"]}
    assert set(params) == {"kind", "category", "district", "status", "q", "cell", "reported", "page"}
    district = re.compile(params["district"]["schema"]["pattern"])
    assert district.fullmatch(f"{slugs[0]}, {slugs[1].upper()}") and not district.fullmatch("atlantis")
    cell = re.compile(params["cell"]["schema"]["pattern"])
    assert cell.fullmatch(CELL) and cell.fullmatch(CELL.upper())
    assert not cell.fullmatch(h3.int_to_str(h3.latlng_to_cell(53.9, 27.56, 8)))  # coarser than served
    assert cell.fullmatch(h3.int_to_str(h3.latlng_to_cell(53.9, 27.56, 12)))  # finer: lifted
    token = re.compile(openapi.TOKEN_PATTERN)
    made = client.post("/api/v1/posts", json={"kind": "need", "category": "food", "text": "x", "cell": CELL})
    assert token.fullmatch(made.get_json()["token"]) and re.fullmatch(
        openapi.ID_PATTERN, made.get_json()["id"]
    )
    assert params["page"]["schema"]["minimum"] == 1 and params["q"]["schema"]["maxLength"] == 100


@pytest.mark.parametrize(
    "value", ["NaN", "Infinity", "-Infinity", "1e999", '"53.9"', "true", "[53.9]", '{"deg": 53}', "null"]
)
def test_a_coordinate_that_is_no_finite_number_is_named_so(client: FlaskClient, value: str) -> None:
    body = "{" + POST + ', "lat": ' + value + ', "lon": 27.56}'
    response = client.post("/api/v1/posts", data=body, content_type="application/json")
    assert response.status_code == 422
    assert response.get_json() == {"error": "lat must be a finite number", "field": "lat"}


def test_huge_json_integers_are_out_of_range_not_infinite(client: FlaskClient) -> None:
    body = "{" + POST + ', "lat": 1' + "0" * 400 + ', "lon": 27.56}'
    assert client.post("/api/v1/posts", data=body, content_type="application/json").get_json() == {
        "error": "lat is out of range (±90)",
        "field": "lat",
    }
    body = "{" + POST + f', "cell": "{CELL}", "expires_days": 1' + "0" * 30 + "}"
    got = client.post("/api/v1/posts", data=body, content_type="application/json").get_json()
    assert got["field"] == "expires_days" and "between 1 and 60" in got["error"]


@pytest.mark.parametrize("value", ["NaN", "Infinity", "1e999", "2.5", "true", "null", '"7"'])
def test_extend_days_that_are_no_whole_number(client: FlaskClient, value: str) -> None:
    made = client.post("/api/v1/posts", json={"kind": "need", "category": "food", "text": "x", "cell": CELL})
    created = made.get_json()
    response = client.post(
        f"/api/v1/posts/{created['id']}/extend",
        data='{"days": ' + value + "}",
        content_type="application/json",
        headers={"X-Post-Token": created["token"]},
    )
    assert response.status_code == 422
    assert response.get_json() == {"error": "days must be a whole number of days", "field": "days"}


def test_credentials_missing_wrong_or_malformed(client: FlaskClient) -> None:
    made = client.post("/api/v1/posts", json={"kind": "need", "category": "food", "text": "x", "cell": CELL})
    created = made.get_json()
    url = f"/api/v1/posts/{created['id']}"
    assert client.delete(url).status_code == 401
    assert client.delete(url, headers={"X-Post-Token": "A" * 32}).status_code == 401  # well formed, wrong
    assert client.delete(url, headers={"X-Post-Token": created["token"]}).status_code == 204
    gone = "/api/v1/posts/" + "0" * 20
    assert client.delete(gone, headers={"X-Post-Token": "not a token"}).status_code == 401  # no post's
    assert client.delete(gone, headers={"X-Post-Token": created["token"]}).status_code == 401
    assert client.get("/api/v1/coordinator/posts").status_code == 401
