"""The one request parser (mapaid.queryargs): unit behaviour, then the same filters on every route that
takes them. Issue 10's cases: ``?category=food,medicine`` was a 400 on /near and a 200 on the API and the
exports; ``&category=food&category=medicine`` was silently cut to the first on /near. Now each route reads
both spellings alike, and an unknown value is a 400 naming it and what is allowed."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from pathlib import Path
from typing import Any

import h3.api.basic_int as h3
import pytest
from conftest import Cli
from flask.testing import FlaskClient
from werkzeug.datastructures import MultiDict

from mapaid import queryargs
from mapaid.queryargs import BadArgument, Vocabulary

CELL = h3.int_to_str(h3.latlng_to_cell(53.9025, 27.5615, 9))
VOCAB = Vocabulary(("food", "medicine", "transport"), ("centralny", "frunzensky"))
PASSWORD = "correct horse battery"


def md(query: str) -> MultiDict[str, str]:
    from urllib.parse import parse_qsl

    return MultiDict(parse_qsl(query, keep_blank_values=True))


def bad(call: Any) -> BadArgument:
    with pytest.raises(BadArgument) as caught:
        call()
    return caught.value


# --- unit --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "category=food,medicine",
        "category=food&category=medicine",
        "category=food,&category=,medicine",
        "category=FOOD&category=%20medicine%20",
        "category=food,medicine,food",
    ],
)
def test_repeated_and_comma_separated_values_read_alike(query: str) -> None:
    assert queryargs.filters(md(query), VOCAB).category == ("food", "medicine")


def test_the_same_filters_from_a_cli_mapping() -> None:
    got = queryargs.filters({"kind": ("need",), "category": ("food", "medicine"), "district": ()}, VOCAB)
    assert got == queryargs.filters(md("kind=need&category=food,medicine"), VOCAB)
    assert got.store_args() == {"kind": ["need"], "category": ["food", "medicine"], "district": []}


@pytest.mark.parametrize("query", ["", "category=", "category=,", "kind=&category=&district="])
def test_empty_means_all(query: str) -> None:
    assert queryargs.filters(md(query), VOCAB) == queryargs.Filters()


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ("category=food,cake", "category", ["'cake'", "food, medicine, transport"]),
        ("kind=offer&kind=gift", "kind", ["'gift'", "offer or need"]),
        ("district=atlantis", "district", ["'atlantis'", "centralny, frunzensky"]),
        ("status=gone", "status", ["'gone'"]),
    ],
)
def test_an_unknown_value_names_itself_and_the_allowed(query: str, field: str, words: list[str]) -> None:
    error = bad(lambda: queryargs.filters(md(query), VOCAB, any_status=True))
    assert error.field == field and error.status == 400
    assert all(w in str(error.message) for w in words), error.message


def test_status_public_only_open_coordinators_any() -> None:
    assert queryargs.filters(md("status=open"), VOCAB).status == ()
    assert bad(lambda: queryargs.filters(md("status=hidden"), VOCAB)).field == "status"
    assert queryargs.filters(md("status=hidden,open"), VOCAB, any_status=True).status == ("hidden", "open")


@pytest.mark.parametrize(("raw", "want"), [("", 800), ("400", 400), ("1200", 1200)])
def test_within(raw: str, want: int) -> None:
    assert queryargs.within(md(f"within={raw}")) == want


@pytest.mark.parametrize("raw", ["500", "-400", "4e2", "٤٠٠", "800.0", "x"])
def test_within_refused(raw: str) -> None:
    error = bad(lambda: queryargs.within({"within": raw}))
    assert error.field == "within" and "400, 800, 1200" in error.message


def test_a_single_value_given_twice_is_an_error_not_a_pick() -> None:
    assert bad(lambda: queryargs.within(md("within=400&within=800"))).field == "within"
    assert bad(lambda: queryargs.page(md("page=1&page=2"))).field == "page"


@pytest.mark.parametrize("raw", ["²", "٣", "0", "-1", " 1x", "1.0", str(2**63)])
def test_page_refused(raw: str) -> None:
    assert bad(lambda: queryargs.page({"page": raw})).field == "page"


def test_window_defaults_bounds_and_clamp() -> None:
    assert queryargs.window({}) == queryargs.Window(100, 0)
    assert queryargs.window({"limit": "1000", "offset": "5"}) == queryargs.Window(1000, 5)
    assert bad(lambda: queryargs.window({"limit": "1001"})).field == "limit"
    assert bad(lambda: queryargs.window({"limit": "0"})).field == "limit"
    assert bad(lambda: queryargs.window({"offset": "-1"})).field == "offset"
    assert bad(lambda: queryargs.window({"offset": "1e3"})).field == "offset"
    assert queryargs.window({"limit": "5000"}, clamp=True) == queryargs.Window(1000, 0)
    page = queryargs.Window(10, 10)
    assert page.next(25) == queryargs.Window(10, 20) and page.next(20) is None
    assert page.previous() == queryargs.Window(10, 0) and queryargs.Window(10, 0).previous() is None


def test_bbox() -> None:
    assert queryargs.bbox({}) is None
    box = queryargs.bbox({"bbox": "27.4, 53.8,27.7,54.0"})
    assert box is not None and box.as_tuple() == (27.4, 53.8, 27.7, 54.0)


@pytest.mark.parametrize(
    "raw",
    [
        "1,2,3",
        "1,2,3,4,5,6",
        "nan,1,2,3",
        "inf,1,2,3",
        "1,2,3,1e999",
        "a,b,c,d",
        "27.7,53.8,27.4,54",
        "0,54,1,53",
        "-181,0,0,0",
        "0,-91,0,0",
        "0,0,0,90.5",
        "1_0,0,20,0",
    ],
)
def test_bbox_refused(raw: str) -> None:
    error = bad(lambda: queryargs.bbox({"bbox": raw}))
    assert error.field == "bbox" and "bbox" in error.message


def test_cell_at_the_served_resolution(store: Any) -> None:
    area = store.area()
    cell = h3.latlng_to_cell(53.9025, 27.5615, 9)
    assert queryargs.cell({"cell": CELL}, 9, area) == cell
    finer = h3.int_to_str(h3.latlng_to_cell(53.9025, 27.5615, 11))
    assert queryargs.cell({"cell": finer}, 9, area) == cell
    coarser = h3.int_to_str(h3.latlng_to_cell(53.9025, 27.5615, 7))
    assert "coarser" in bad(lambda: queryargs.cell({"cell": coarser}, 9, area)).message
    outside = h3.int_to_str(h3.latlng_to_cell(52.0, 21.0, 9))
    assert bad(lambda: queryargs.cell({"cell": outside}, 9, area)).status == 404
    assert queryargs.cell({"cell": outside}, 9, None) is not None  # the coordinators' search: anywhere
    assert bad(lambda: queryargs.cell({"cell": "zz"}, 9, area)).field == "cell"
    assert queryargs.cell({}, 9, area) is None
    assert bad(lambda: queryargs.cell({}, 9, area, required=True)).field == "cell"


def test_search() -> None:
    got = queryargs.search(md(f"q=%20soup%20%20hot&cell={CELL}&reported=1"), 9, keep="abc")
    assert (got.text, got.cell, got.reported, got.keep) == ("soup hot", h3.str_to_int(CELL), True, "abc")
    assert queryargs.search({}, 9).reported is False
    assert bad(lambda: queryargs.search({"q": "x" * 101}, 9)).field == "q"
    assert bad(lambda: queryargs.search({"reported": "yes"}, 9)).field == "reported"


# --- every route ---------------------------------------------------------------------------------------


@pytest.fixture
def posted(client: FlaskClient) -> dict[str, str]:
    """One open offer per category near CELL: id by category."""
    ids = {}
    for category in ("food", "medicine", "transport"):
        response = client.post(
            "/api/v1/posts", json={"kind": "offer", "category": category, "text": category, "cell": CELL}
        )
        assert response.status_code == 201
        ids[category] = response.get_json()["id"]
    return ids


@pytest.fixture
def coordinator(client: FlaskClient, cli: Cli, app: Any, posted: dict[str, str]) -> FlaskClient:
    app.config["WTF_CSRF_ENABLED"] = False
    assert cli("coordinator", "add", "anna", "--password-stdin", input=PASSWORD + "\n").exit_code == 0
    assert client.post("/coordinator/login", data={"name": "anna", "password": PASSWORD}).status_code == 302
    return client


def _near(client: FlaskClient, query: str) -> set[str]:
    response = client.get(f"/near/{CELL}?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return set(re.findall(r'<li class="post" data-id="([^"]+)"', response.get_data(as_text=True)))


def _api(client: FlaskClient, query: str) -> set[str]:
    response = client.get(f"/api/v1/posts?cell={CELL}&{query}")
    assert response.status_code == 200, response.get_json()
    return {f["properties"]["id"] for f in response.get_json()["features"]}


def _geojson(client: FlaskClient, query: str) -> set[str]:
    response = client.get(f"/export/posts.geojson?{query}")
    assert response.status_code == 200
    return {f["properties"]["id"] for f in json.loads(response.data)["features"]}


def _csv(client: FlaskClient, query: str) -> set[str]:
    response = client.get(f"/export/posts.csv?{query}")
    assert response.status_code == 200
    return {r["id"] for r in csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff")))}


def _coordinator_api(client: FlaskClient, query: str) -> set[str]:
    response = client.get(f"/api/v1/coordinator/posts?{query}")
    assert response.status_code == 200, response.get_json()
    return {p["id"] for p in response.get_json()["posts"]}


def _coordinator_page(client: FlaskClient, query: str) -> set[str]:
    response = client.get(f"/coordinator/posts?{query}")
    assert response.status_code == 200
    return set(re.findall(r'id="post-([^"]+)"', response.get_data(as_text=True)))


READERS = {
    "/near": _near,
    "/api/v1/posts": _api,
    "/export/posts.geojson": _geojson,
    "/export/posts.csv": _csv,
    "/api/v1/coordinator/posts": _coordinator_api,
    "/coordinator/posts": _coordinator_page,
}


@pytest.mark.parametrize("route", READERS)
def test_both_spellings_pick_the_same_posts_on_every_route(
    coordinator: FlaskClient, posted: dict[str, str], route: str
) -> None:
    read = READERS[route]
    wanted = {posted["food"], posted["medicine"]}
    assert read(coordinator, "") == set(posted.values())
    assert read(coordinator, "category=food,medicine") == wanted
    assert read(coordinator, "category=food&category=medicine") == wanted
    assert read(coordinator, "category=food&category=medicine&kind=offer,need") == wanted
    assert read(coordinator, "category=") == set(posted.values())


@pytest.mark.parametrize(
    "url",
    [
        f"/near/{CELL}?category=food,cake",
        f"/api/v1/posts?cell={CELL}&category=food,cake",
        "/export/posts.geojson?category=food&category=cake",
        "/export/posts.csv?category=cake",
        "/api/v1/coordinator/posts?category=cake",
        "/coordinator/posts?category=food,cake",
    ],
)
def test_an_unknown_value_is_a_400_naming_it_everywhere(coordinator: FlaskClient, url: str) -> None:
    response = coordinator.get(url)
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "cake" in text
    if response.mimetype == "application/json":
        assert response.get_json()["field"] == "category"
        assert "food, medicine" in response.get_json()["error"]


def test_an_unknown_value_on_a_page_speaks_the_visitors_language(coordinator: FlaskClient) -> None:
    text = coordinator.get(f"/near/{CELL}?category=cake&lang=be").get_data(as_text=True)
    assert "Невядомая катэгорыя" in text and "Ежа" in text  # the allowed values by their names


def test_the_coordinator_api_takes_the_pages_search(coordinator: FlaskClient, posted: dict[str, str]) -> None:
    assert _coordinator_api(coordinator, "q=medic") == {posted["medicine"]}
    assert _coordinator_api(coordinator, f"cell={CELL}") == set(posted.values())
    other = h3.int_to_str(h3.latlng_to_cell(53.95, 27.6, 9))
    assert _coordinator_api(coordinator, f"cell={other}") == set()
    assert (
        coordinator.post(f"/api/v1/posts/{posted['food']}/report", json={"reason": "spam"}).status_code == 202
    )
    assert _coordinator_api(coordinator, "reported=1") == {posted["food"]}
    body = coordinator.get("/api/v1/coordinator/posts?reported=yes").get_json()
    assert body["field"] == "reported"


def test_the_near_pager_keeps_every_filter(client: FlaskClient, posted: dict[str, str]) -> None:
    for n in range(50):  # a second page (nearpage.PAGE_SIZE)
        client.post("/api/v1/posts", json={"kind": "need", "category": "food", "text": f"n{n}", "cell": CELL})
    text = client.get(f"/near/{CELL}?category=food&category=medicine&within=400").get_data(as_text=True)
    link = re.search(r'<nav class="pager">.*?href="([^"]+)"', text, re.S)
    assert link is not None
    target = html.unescape(link.group(1))
    assert "category=food,medicine" in target and "within=400" in target and "page=2" in target
    assert len(_near(client, target.split("?", 1)[1])) == 2  # 52 in all (50 needs, two offers), 50 a page


def test_the_cli_reads_options_through_the_same_parser(
    cli: Cli, posted: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "posts.geojson"
    result = cli("export", "--category", "food", "--category", "MEDICINE", "-o", str(out))
    assert result.exit_code == 0, result.output
    ids = {f["properties"]["id"] for f in json.loads(out.read_text())["features"]}
    assert ids == {posted["food"], posted["medicine"]}
    result = cli("export", "--category", "cake")
    assert (
        result.exit_code == 2 and "unknown category 'cake'" in result.output and "--category" in result.output
    )
