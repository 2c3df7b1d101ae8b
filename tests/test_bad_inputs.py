"""Inputs that once gave 500 get a 4xx: the JSON error ``{"error", "field"}`` under /api/, the HTML error
page elsewhere. Ids beyond 64 bits, lone surrogates, deeply nested JSON, odd page numbers, control
characters in ``next=``, bytes that are not UTF-8."""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Any

import h3.api.basic_int as h3
import pytest
from click.testing import CliRunner
from conftest import Cli
from flask.testing import FlaskClient

from mapaid.cli import main
from mapaid.store import Store

CELL = h3.int_to_str(h3.latlng_to_cell(53.9025, 27.5615, 9))
PASSWORD = "correct horse battery"
POST = {"kind": "offer", "category": "food", "text": "Soup", "cell": CELL}
BAD_PAGES = ["²", "٣", str(2**63), str(2**64), "0", "-1", " 1", "1.0"]


def json_error(response: Any, status: int, field: str | None) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error", "field"} and body["error"] and body["field"] == field


def html_error(response: Any, status: int) -> None:
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.mimetype == "text/html"
    assert 'class="page error"' in response.get_data(as_text=True)


@pytest.fixture
def coordinator(client: FlaskClient, cli: Cli, app: Any) -> FlaskClient:
    app.config["WTF_CSRF_ENABLED"] = False
    assert cli("coordinator", "add", "anna", "--password-stdin", input=PASSWORD + "\n").exit_code == 0
    assert client.post("/coordinator/login", data={"name": "anna", "password": PASSWORD}).status_code == 302
    return client


@pytest.mark.parametrize("cell", ["11111111111111111", "ffffffffffffffffffff", "-1", "0x" + CELL, "8_9"])
def test_cell_ids_that_are_no_64_bit_hex(client: FlaskClient, cell: str) -> None:
    json_error(client.get(f"/api/v1/posts?cell={cell}"), 400, "cell")
    json_error(client.post("/api/v1/posts", json={**POST, "cell": cell}), 422, "cell")
    html_error(client.get(f"/near/{cell}"), 400)
    html_error(client.get(f"/cells/{cell}.json"), 404)


@pytest.mark.parametrize("number", [11111111111111111, 2**64, -1, 10**30])
def test_a_cell_id_as_a_json_number(client: FlaskClient, store: Store, number: int) -> None:
    json_error(client.post("/api/v1/posts", json={**POST, "cell": number}), 422, "cell")
    assert store.count() == 0


@pytest.mark.parametrize("field", ["text", "contact", "kind", "category", "cell"])
def test_a_lone_surrogate_in_json_names_the_field(client: FlaskClient, store: Store, field: str) -> None:
    body = {**POST, "contact": "call me"}
    raw = (
        "{"
        + ", ".join(f'"{k}": "{v}"' for k, v in body.items() if k != field)
        + f', "{field}": "a\\ud800b"}}'
    )
    json_error(client.post("/api/v1/posts", data=raw, content_type="application/json"), 422, field)
    assert store.count() == 0


@pytest.mark.parametrize("field", ["text", "contact"])
@pytest.mark.parametrize("encoded", ["%ED%A0%80", "%FF", "%C3"])
def test_a_form_that_is_not_utf8_is_refused(
    client: FlaskClient, store: Store, app: Any, field: str, encoded: str
) -> None:
    """A lone surrogate can reach a form only as bytes that are not UTF-8 (``%ED%A0%80``); Werkzeug would
    store U+FFFD in its place."""
    app.config["WTF_CSRF_ENABLED"] = False
    form = f"kind=offer&category=food&cell={CELL}&text=Soup&contact=me".replace(
        f"{field}=", f"{field}=a{encoded}b", 1
    )
    html_error(client.post("/post", data=form, content_type="application/x-www-form-urlencoded"), 400)
    assert store.count() == 0
    html_error(client.get(f"/near/{CELL}?kind={encoded}"), 400)
    json_error(client.get(f"/api/v1/posts?cell={CELL}&kind={encoded}"), 400, None)


@pytest.mark.parametrize("opening", ["[", '{"a": '])
def test_json_nested_3000_deep(client: FlaskClient, opening: str) -> None:
    closing = "]" if opening == "[" else "}"
    body = opening * 3000 + "1" + closing * 3000
    json_error(client.post("/api/v1/posts", data=body, content_type="application/json"), 400, None)


@pytest.mark.parametrize("page", BAD_PAGES)
def test_page_numbers_outside_1_to_the_bound(coordinator: FlaskClient, page: str) -> None:
    html_error(coordinator.get(f"/near/{CELL}?page={page}"), 400)
    html_error(coordinator.get(f"/coordinator/posts?page={page}"), 400)
    json_error(coordinator.get(f"/api/v1/coordinator/posts?page={page}"), 400, "page")


def test_the_last_allowed_page_is_empty_not_an_error(coordinator: FlaskClient) -> None:
    from mapaid.queryargs import MAX_PAGE

    assert coordinator.get(f"/api/v1/coordinator/posts?page={MAX_PAGE}").get_json()["posts"] == []
    assert coordinator.get(f"/coordinator/posts?page={MAX_PAGE}").status_code == 200
    assert coordinator.get(f"/near/{CELL}?page={MAX_PAGE}").status_code == 200


@pytest.mark.parametrize(
    "target", ["/x%0d%0aSet-Cookie:%20a=b", "/x%0a", "/%09/evil.example", "/x%00", "/x%7f"]
)
def test_control_characters_in_next_send_to_the_dashboard(
    client: FlaskClient, cli: Cli, app: Any, target: str
) -> None:
    app.config["WTF_CSRF_ENABLED"] = False
    assert cli("coordinator", "add", "anna", "--password-stdin", input=PASSWORD + "\n").exit_code == 0
    data = {"name": "anna", "password": PASSWORD}
    logged_in = client.post(f"/coordinator/login?next={target}", data=data)
    assert logged_in.status_code == 302 and logged_in.headers["Location"] == "/coordinator"
    again = client.get(f"/coordinator/login?next={target}")
    assert again.status_code == 302 and again.headers["Location"] == "/coordinator"
    post_id = client.post("/api/v1/posts", json=POST).get_json()["id"]
    form = {"next": urllib.parse.unquote(target)}
    acted = client.post(f"/coordinator/posts/{post_id}/hide", data=form)
    assert acted.status_code == 302 and acted.headers["Location"] == "/coordinator"


def test_a_lone_surrogate_in_a_geojson_import_is_a_problem_with_its_feature(cli: Cli, tmp_path: Path) -> None:
    def feature(properties: str) -> str:
        point = '{"type": "Point", "coordinates": [27.56, 53.9]}'
        return f'{{"type": "Feature", "geometry": {point}, "properties": {properties}}}'

    good = feature('{"kind": "offer", "category": "food", "text": "Soup"}')
    bad = feature('{"kind": "offer", "category": "food", "text": "Soup", "contact": "a\\udfffb"}')
    path = tmp_path / "posts.geojson"
    path.write_text(f'{{"type": "FeatureCollection", "features": [{good}, {bad}]}}')
    result = CliRunner().invoke(main, ["import", str(path)], env=cli.env)
    assert result.exit_code != 0 and "feature 2: contact holds a lone surrogate" in result.output
    assert not isinstance(result.exception, UnicodeError)


@pytest.mark.parametrize(
    ("field", "value"), [("contact", None), ("expires_days", None), ("expires_days", 7.0)]
)
def test_json_null_means_left_out(client: FlaskClient, field: str, value: object) -> None:
    assert client.post("/api/v1/posts", json={**POST, field: value}).status_code == 201


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("text", 5),
        ("contact", 5),
        ("cell", None),
        ("lat", "53.9"),
        ("expires_days", "7"),
        ("kind", ["offer"]),
    ],
)
def test_json_of_the_wrong_type_names_the_field(
    client: FlaskClient, store: Store, field: str, value: object
) -> None:
    json_error(client.post("/api/v1/posts", json={**POST, field: value}), 422, field)
    assert store.count() == 0
