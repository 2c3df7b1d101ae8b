"""HTTP the way clients expect (issue 10, item 3), through the Flask test client: CORS on public reads only,
gzip (and when not: BREACH), ETag / Last-Modified / 304, byte ranges of exports, Content-Disposition,
Content-Language and Vary, and an Allow header on every 405 (walking the whole url_map)."""

from __future__ import annotations

import gzip
import hashlib
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from conftest import TEST_NOW, TEST_SECRET, Cli
from databases import Databases
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.http import http_date, parse_date

from mapaid import accounts, compress, create_app, public
from mapaid.clock import FixedClock
from mapaid.downloads import attachment
from mapaid.store import open_store

GZIP = {"Accept-Encoding": "gzip"}
ORIGIN = {"Origin": "http://elsewhere.example"}
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, store_kind: str, databases: Databases) -> dict[str, Any]:
    """One database with 300 demo posts, shared by the tests that only read."""
    folder = tmp_path_factory.mktemp("http")
    db = databases.fresh(store_kind, folder)
    env = {"MAPAID_DATABASE": db, "MAPAID_SECRET_KEY": TEST_SECRET, "MAPAID_INSTANCE": str(folder)}
    assert Cli(env, FixedClock(TEST_NOW))("demo", "--posts", "300", "--seed", "5").exit_code == 0
    store = open_store(db)
    first = store.posts(TEST_NOW.date(), public=False).sort_values("id").iloc[0]
    post_id, cell = str(first["id"]), int(first["cell"])
    accounts.add(store, "anna", PASSWORD, TEST_NOW.date())
    store.close()
    config = {"DATABASE": db, "SECRET_KEY": TEST_SECRET, "TESTING": True, "INSTANCE_DIR": str(folder)}
    return {"config": config, "post_id": post_id, "cell": f"{cell:x}"}


@pytest.fixture(scope="module")
def reader(site: dict[str, Any]) -> Flask:
    return create_app({**site["config"], "CLOCK": FixedClock(TEST_NOW)})


@pytest.fixture
def web(reader: Flask) -> FlaskClient:
    return reader.test_client()


def _login(client: FlaskClient) -> None:
    page = client.get("/coordinator/login").text
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match
    data = {"name": "anna", "password": PASSWORD, "csrf_token": match.group(1)}
    assert client.post("/coordinator/login", data=data).status_code == 302


def _public_urls(site: dict[str, Any]) -> list[str]:
    return [
        "/export/posts.geojson",
        "/export/posts.csv",
        "/export/posts.gpkg",
        "/export/districts.geojson",
        "/export/districts.csv",
        f"/api/v1/posts?cell={site['cell']}&within=800",
        f"/api/v1/posts/{site['post_id']}",
        "/api/v1/districts",
        "/api/v1/openapi.json",
        "/places.json",
        "/basemap/en.json",
        "/counts.json?res=8",
    ]


# -- CORS ------------------------------------------------------------------------------------------------
def test_public_reads_are_open_to_every_origin_without_credentials(
    web: FlaskClient, site: dict[str, Any]
) -> None:
    for url in _public_urls(site):
        response = web.get(url, headers=ORIGIN)
        assert response.status_code == 200, url
        assert response.headers["Access-Control-Allow-Origin"] == "*", url
        assert "Access-Control-Allow-Credentials" not in response.headers, url
        assert "ETag" in response.headers["Access-Control-Expose-Headers"]
    missing = web.get("/export/nothing.csv", headers=ORIGIN)  # a public read's error is readable too
    assert missing.status_code == 404 and missing.headers["Access-Control-Allow-Origin"] == "*"


def test_a_preflight_allows_reading_and_nothing_else(web: FlaskClient, site: dict[str, Any]) -> None:
    asked = {**ORIGIN, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "range"}
    for url in ("/export/posts.gpkg", "/api/v1/posts", f"/api/v1/posts/{site['post_id']}", "/ogcapi/x"):
        response = web.options(url, headers=asked)
        if url == "/ogcapi/x":  # no such route yet, and a 404 is still readable
            assert response.status_code == 404
            continue
        assert response.status_code == 200, url
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert set(response.headers["Access-Control-Allow-Methods"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
        assert "Range" in response.headers["Access-Control-Allow-Headers"]
    for method, url in (
        ("POST", "/api/v1/posts"),
        ("DELETE", f"/api/v1/posts/{site['post_id']}"),
        ("PATCH", f"/api/v1/posts/{site['post_id']}"),
        ("POST", f"/api/v1/posts/{site['post_id']}/report"),
    ):
        response = web.options(url, headers={**ORIGIN, "Access-Control-Request-Method": method})
        assert not [h for h in response.headers if h[0].startswith("Access-Control")], (method, url)


def test_private_routes_and_writes_get_no_cors(reader: Flask, site: dict[str, Any]) -> None:
    client = reader.test_client()
    _login(client)
    for url in (
        "/api/v1/coordinator/posts",
        "/api/v1/coordinator/districts",
        "/coordinator",
        "/coordinator/posts",
        "/post",
        f"/report/{site['post_id']}",
        "/",
        f"/near/{site['cell']}",
    ):
        response = client.get(url, headers=ORIGIN)
        assert response.status_code == 200, url
        assert "Access-Control-Allow-Origin" not in response.headers, url
    write = client.post("/api/v1/posts", json={"kind": "offer"}, headers=ORIGIN)
    assert write.status_code == 422 and "Access-Control-Allow-Origin" not in write.headers


MARKED = {
    "/export/<filename>",
    "/api/v1/posts",
    "/api/v1/posts/<post_id>",
    "/api/v1/districts",
    "/api/v1/openapi.json",
    "/places.json",
    "/basemap/<lang>.json",
    "/basemap/buildings.json",
    "/counts.json",
}


def test_exactly_the_public_reads_get_cors(reader: Flask) -> None:
    """Walk the url_map: the views marked public are these (a new one needs a decision), and a GET of every
    route answers another origin exactly when it is marked or lies under /export or /ogcapi."""
    marked = {
        r.rule
        for r in reader.url_map.iter_rules()
        if getattr(reader.view_functions[r.endpoint], public.MARK, None)
    }
    assert marked == MARKED
    client = reader.test_client()
    for rule in reader.url_map.iter_rules():
        if "GET" not in (rule.methods or ()):
            continue
        response = client.get(_sample_path(rule.rule), headers=ORIGIN)
        expected = rule.rule in MARKED or public.under(rule.rule, public.PUBLIC_PREFIXES)
        assert ("Access-Control-Allow-Origin" in response.headers) == expected, (
            rule.rule,
            response.status_code,
        )


def test_routes_added_under_ogcapi_are_public_reads_without_marking(site: dict[str, Any]) -> None:
    app = create_app({**site["config"], "CLOCK": FixedClock(TEST_NOW)})
    app.add_url_rule("/ogcapi/collections", "ogc", lambda: {"collections": ["posts"] * 200})
    response = app.test_client().get("/ogcapi/collections", headers={**ORIGIN, **GZIP})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Content-Encoding"] == "gzip" and response.headers["ETag"].endswith('-gz"')


def test_a_marked_view_that_writes_stops_the_app(site: dict[str, Any]) -> None:
    app = create_app({**site["config"], "CLOCK": FixedClock(TEST_NOW)})
    app.add_url_rule("/ogcapi/collections/posts/items", "add", lambda: "", methods=["POST"])
    with pytest.raises(RuntimeError, match="cannot be a public read"):
        public.check_marks(app)


# -- gzip ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["posts.geojson", "posts.csv", "districts.geojson", "districts.csv"])
def test_text_exports_go_gzipped_when_asked(web: FlaskClient, name: str) -> None:
    plain = web.get(f"/export/{name}")
    packed = web.get(f"/export/{name}", headers=GZIP)
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"] and "Accept-Encoding" in plain.headers["Vary"]
    assert gzip.decompress(packed.get_data()) == plain.get_data()
    assert int(packed.headers["Content-Length"]) == len(packed.get_data()) < len(plain.get_data())


def test_geopackages_and_small_answers_are_not_compressed(web: FlaskClient, site: dict[str, Any]) -> None:
    gpkg = web.get("/export/posts.gpkg", headers=GZIP)
    assert gpkg.status_code == 200 and "Content-Encoding" not in gpkg.headers
    assert gpkg.get_data().startswith(b"SQLite format 3")
    one = web.get(f"/api/v1/posts/{site['post_id']}", headers=GZIP)
    assert len(one.get_data()) < compress.MIN_SIZE and "Content-Encoding" not in one.headers


def test_pages_are_compressed_only_without_a_session(reader: Flask, site: dict[str, Any]) -> None:
    """BREACH: a page goes gzipped only when it can hold no secret that lasts across requests."""
    stranger = reader.test_client()
    page = stranger.get(f"/near/{site['cell']}?lang=be", headers=GZIP)
    assert page.headers["Content-Encoding"] == "gzip" and "Cookie" in page.headers["Vary"]
    html = gzip.decompress(page.get_data()).decode()
    nonce = re.search(r"'nonce-([^']+)'", page.headers["Content-Security-Policy"])
    assert nonce and f'nonce="{nonce.group(1)}"' in html and "mapaid-csp-nonce" not in html
    form = stranger.get("/post", headers=GZIP)  # makes a session: a CSRF token
    assert form.headers["Content-Encoding"] == "gzip"  # the token is new, made for this answer alone
    again = stranger.get("/post", headers=GZIP)  # now the cookie comes back, and the same token with it
    assert "Content-Encoding" not in again.headers and "csrf_token" in again.text
    coordinator = reader.test_client()
    _login(coordinator)
    for url in ("/coordinator", "/coordinator/posts", "/api/v1/coordinator/posts"):
        response = coordinator.get(url, headers=GZIP)
        assert response.status_code == 200 and "Content-Encoding" not in response.headers, url


def test_a_new_posts_token_is_never_compressed(reader: Flask, site: dict[str, Any]) -> None:
    body = {
        "kind": "offer",
        "category": "food",
        "text": "x" * 280,
        "lat": 53.9,
        "lon": 27.56,
        "contact": "y" * 100,
    }
    made = reader.test_client().post("/api/v1/posts", json=body, headers=GZIP)
    assert made.status_code == 201 and "token" in made.json
    assert "Content-Encoding" not in made.headers


# -- validators ----------------------------------------------------------------------------------------
def test_etag_is_a_hash_of_the_body_and_304_answers_it(web: FlaskClient) -> None:
    first = web.get("/export/posts.geojson")
    tag = first.headers["ETag"]
    assert tag == '"' + hashlib.sha256(first.get_data()).hexdigest()[:32] + '"'  # strong, the body alone
    assert first.headers["Cache-Control"] == "public, no-cache"
    again = web.get("/export/posts.geojson", headers={"If-None-Match": tag})
    assert again.status_code == 304 and not again.get_data() and again.headers["ETag"] == tag
    packed = web.get("/export/posts.geojson", headers=GZIP)
    assert packed.headers["ETag"] == tag[:-1] + '-gz"'  # another representation, another tag
    assert web.get("/export/posts.geojson", headers={**GZIP, "If-None-Match": tag}).status_code == 200
    assert (
        web.get(
            "/export/posts.geojson", headers={**GZIP, "If-None-Match": packed.headers["ETag"]}
        ).status_code
        == 304
    )


@pytest.mark.parametrize("name", ["posts.geojson", "posts.csv", "posts.gpkg", "districts.csv"])
def test_every_export_keeps_its_etag_while_nothing_changes(reader: Flask, name: str) -> None:
    first = reader.test_client().get(f"/export/{name}")
    second = reader.test_client().get(f"/export/{name}")
    assert first.get_data() == second.get_data() and first.headers["ETag"] == second.headers["ETag"]


def test_answers_about_a_place_carry_no_validators(web: FlaskClient, site: dict[str, Any]) -> None:
    """Their headers are the same whichever cell was asked (tests/test_side_channels.py)."""
    response = web.get(f"/api/v1/posts?cell={site['cell']}&within=800")
    assert "ETag" not in response.headers and "Last-Modified" not in response.headers


def test_last_modified_is_midnight_once_nothing_was_written_today(config: dict[str, Any], cli: Cli) -> None:
    clock: FixedClock = config["CLOCK"]
    assert cli("demo", "--posts", "20", "--seed", "2").exit_code == 0
    client = create_app(config).test_client()
    today = client.get("/export/posts.csv")
    # Seen first today: the time of the answer, and a date from the client is not taken at its word.
    assert parse_date(today.headers["Last-Modified"]) == TEST_NOW == parse_date(today.headers["Date"])
    since = {"If-Modified-Since": today.headers["Last-Modified"]}
    assert client.get("/export/posts.csv", headers=since).status_code == 200
    clock.advance(timedelta(days=1))
    tomorrow = client.get("/export/posts.csv")
    midnight = TEST_NOW.replace(hour=0) + timedelta(days=1)
    assert parse_date(tomorrow.headers["Last-Modified"]) == midnight
    assert (
        client.get("/export/posts.csv", headers={"If-Modified-Since": http_date(midnight)}).status_code == 304
    )
    assert cli("demo", "--posts", "1", "--seed", "3").exit_code == 0  # a write: the body changes
    changed = client.get("/export/posts.csv", headers={"If-Modified-Since": http_date(midnight)})
    assert changed.status_code == 200 and changed.get_data() != tomorrow.get_data()
    assert parse_date(changed.headers["Last-Modified"]) == clock.now()


# -- ranges and downloads -----------------------------------------------------------------------------------
def test_exports_answer_byte_ranges(web: FlaskClient) -> None:
    whole = web.get("/export/posts.gpkg")
    size = len(whole.get_data())
    assert whole.headers["Accept-Ranges"] == "bytes"
    head = web.head("/export/posts.gpkg")
    assert head.status_code == 200 and int(head.headers["Content-Length"]) == size and not head.get_data()
    part = web.get("/export/posts.gpkg", headers={"Range": "bytes=100-1123"})
    assert part.status_code == 206 and part.headers["Content-Range"] == f"bytes 100-1123/{size}"
    assert part.get_data() == whole.get_data()[100:1124] and part.headers["Content-Length"] == "1024"
    tail = web.get("/export/posts.gpkg", headers={"Range": "bytes=-16"})
    assert tail.status_code == 206 and tail.get_data() == whole.get_data()[-16:]
    beyond = web.get("/export/posts.gpkg", headers={"Range": f"bytes={size}-"})
    assert beyond.status_code == 416 and beyond.headers["Content-Range"] == f"bytes */{size}"
    assert str(size) in beyond.text
    russian = web.get("/export/posts.gpkg", headers={"Range": f"bytes={size}-", "Accept-Language": "ru"})
    assert russian.status_code == 416 and russian.text.startswith("Такой части файла нет")
    same = web.get("/export/posts.gpkg", headers={"Range": "bytes=0-9", "If-Range": whole.headers["ETag"]})
    assert same.status_code == 206
    other = web.get("/export/posts.gpkg", headers={"Range": "bytes=0-9", "If-Range": '"another"'})
    assert other.status_code == 200 and other.get_data() == whole.get_data()
    csv = web.get("/export/posts.csv", headers={**GZIP, "Range": "bytes=0-9"})  # ranges: never compressed
    assert (
        csv.status_code == 206
        and "Content-Encoding" not in csv.headers
        and csv.get_data() == "\ufeffid,kind".encode()  # the byte-order mark, then the header
    )


@pytest.mark.parametrize("name", ["posts.geojson", "posts.csv", "posts.gpkg", "districts.geojson"])
def test_every_export_is_a_named_download(web: FlaskClient, name: str) -> None:
    assert web.get(f"/export/{name}").headers["Content-Disposition"] == f"attachment; filename={name}"


def test_a_name_beyond_ascii_gets_rfc_6266s_filename_star() -> None:
    value = attachment("запыты.geojson")
    assert value.startswith('attachment; filename="') and "filename*=UTF-8''" in value
    assert "%D0%B7%D0%B0%D0%BF" in value and value.isascii()


# -- language --------------------------------------------------------------------------------------------
def test_content_language_and_vary_where_the_language_shapes_the_body(
    web: FlaskClient, site: dict[str, Any]
) -> None:
    page = web.get("/", headers={"Accept-Language": "be"})
    assert page.headers["Content-Language"] == "be"
    assert {"Accept-Language", "Cookie"} <= set(page.headers["Vary"].split(", "))
    chosen = web.get("/?lang=ru")
    assert chosen.headers["Content-Language"] == "ru" and "Accept-Language" not in chosen.headers.get(
        "Vary", ""
    )
    export = web.get("/export/posts.csv", headers={"Accept-Language": "ru"})
    assert export.headers["Content-Language"] == "ru" and "Accept-Language" in export.headers["Vary"]
    assert "Фрунзенский" in export.text or "Центральный" in export.text
    for url in (
        f"/api/v1/posts/{site['post_id']}",
        "/api/v1/districts",
        "/basemap/be.json",
        "/counts.json?res=8",
    ):
        response = web.get(url, headers={"Accept-Language": "be"})
        assert "Content-Language" not in response.headers, url  # the same words whatever the language
        assert "Accept-Language" not in response.headers.get("Vary", ""), url


# -- 405 and Allow ----------------------------------------------------------------------------------------
SAMPLES = {
    "filename": "posts.geojson",
    "package": "leaflet",
    "lang": "en",
    "parent": "871f4eab6ffffff",
    "cell": "891f4eab6d3ffff",
    "post_id": "0123456789abcdef0123",
    "thread_id": "0123456789abcdef0124",
    "name": "posts",
    "item_id": "0123456789abcdef0123",
    "token": "not-a-token",
    "action": "hide",
}
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _sample_path(rule: str) -> str:
    path = re.sub(r"<path:filename>", "leaflet.js", rule)
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: SAMPLES[m.group(1)], path)


def _walk(app: Flask) -> Iterator[tuple[str, str, set[str]]]:
    adapter = app.url_map.bind("localhost")
    for path in sorted({_sample_path(r.rule) for r in app.url_map.iter_rules()}):
        allowed = set(adapter.allowed_methods(path))
        for method in METHODS:
            if method not in allowed:
                yield path, method, allowed


def test_every_wrong_method_gets_405_with_allow(web: FlaskClient, reader: Flask) -> None:
    walked = list(_walk(reader))
    assert len(walked) > 60
    for path, method, allowed in walked:
        response = web.open(path, method=method)
        assert response.status_code == 405, (method, path, response.status_code)
        assert set(response.headers["Allow"].split(", ")) == allowed, (method, path)
        if path.startswith("/api/"):
            assert response.json["error"], path
        elif path.startswith("/ogcapi"):  # OGC API's own exception shape for JSON clients
            assert response.json["code"] and response.json["description"], path
        else:
            assert response.mimetype == "text/html" and "Content-Security-Policy" in response.headers
    for method in METHODS:  # an address no route takes: 404 whatever the method
        assert web.open("/no/such/place", method=method).status_code == 404
    options = web.options("/api/v1/posts")
    assert options.status_code == 200 and set(options.headers["Allow"].split(", ")) == {
        "GET",
        "HEAD",
        "OPTIONS",
        "POST",
    }


def test_a_405_page_speaks_the_visitors_language(web: FlaskClient) -> None:
    response = web.delete("/", headers={"Accept-Language": "be"})
    assert response.status_code == 405 and response.headers["Allow"]
    assert response.headers["Content-Language"] == "be" and "This address does not take" not in response.text
