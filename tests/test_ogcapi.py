"""/ogcapi's contract: the JSON shapes OGC API – Features, Part 1 asks for, the parameters and their 400s,
paging by next links to the last item, content negotiation, and the HTML pages (our templates, CSP-clean,
text only, in be/ru/en; one browser look at a phone's size)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlsplit

import orjson
import pandas as pd
import pytest
import shapely
from conftest import ROOMY_LIMITS, TEST_NOW, TEST_SECRET
from databases import Databases
from flask.testing import FlaskClient
from livesite import serve, shot
from playwright.sync_api import Browser
from test_a11y import check
from test_csp import check_page
from test_no_english_leaks import english_fragments, leaks, visible

from mapaid import create_app, demo
from mapaid.clock import FixedClock
from mapaid.config import DEFAULT_CATEGORIES
from mapaid.export import PROPERTIES
from mapaid.models import Status
from mapaid.pipeline import ingest, rules_for
from mapaid.store import open_store

HOSTILE = '<script>alert("x")</script> <b onclick="x()">{{ 7*7 }}</b>'
TEXTS = ("Патрэбна малако", "Могу подвезти до поликлиники", "Дапамагу з кампутарам")
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


@dataclass
class Site:
    client: FlaskClient
    public: pd.DataFrame
    hidden: str
    expired: str
    today: date
    app: Any


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, store_kind: str, databases: Databases) -> Iterator[Site]:
    """330 posts in words of our languages (one of them hostile markup), one hidden, one expired."""
    folder = tmp_path_factory.mktemp("ogcapi")
    db = databases.fresh(store_kind, folder)
    clock = FixedClock(TEST_NOW)
    store = open_store(db)
    frame = demo.generate(store.area(), 332, 4, DEFAULT_CATEGORIES)
    frame["text"] = [TEXTS[i % 3] for i in range(len(frame))]
    frame.loc[5, "text"] = HOSTILE
    frame["expires"] = [str(5 + i % 20) for i in range(len(frame))]  # 2026-12-02 to 2026-12-21
    rules = rules_for(DEFAULT_CATEGORIES, 9, clock.today())
    ingest(frame, [f"row {i}" for i in range(len(frame))], rules, store, TEST_SECRET.encode())
    posts = store.posts(clock.today(), public=False)
    hidden, expired = sorted(posts.loc[posts["text"] != HOSTILE, "id"])[7:9]  # the hostile post stays public
    store.set_status(hidden, Status.HIDDEN)
    store.set_expiry(expired, date(2020, 1, 1))
    public = store.posts(clock.today())
    store.close()
    assert len(public) == 330
    app = create_app(
        {"DATABASE": db, "SECRET_KEY": TEST_SECRET, "INSTANCE_DIR": str(folder), "CLOCK": clock}
        | ROOMY_LIMITS
    )
    yield Site(app.test_client(), public, hidden, expired, clock.today(), app)


def get(site: Site, url: str, **headers: str) -> Any:
    """A GET by a full link (as the documents give them) or a path."""
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return site.client.get(path, headers=headers)


def as_json(response: Any) -> Any:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return orjson.loads(response.data)


def rels(doc: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    for link in doc["links"]:
        assert link["href"].startswith("http://localhost/ogcapi"), link
        out.setdefault(link["rel"], []).append(link)
    return out


def test_landing_page_links_and_service_description(site: Site) -> None:
    for path in ("/ogcapi", "/ogcapi/"):
        response = site.client.get(path)
        assert response.mimetype == "application/json"
        links = rels(as_json(response))
    assert links["self"][0]["type"] == "application/json"
    assert links["alternate"][0]["type"] == "text/html"
    assert {"service-desc", "conformance", "data"} <= set(links)
    desc = get(site, links["service-desc"][0]["href"])
    assert desc.content_type == "application/vnd.oai.openapi+json;version=3.0"
    openapi = as_json(desc)
    assert openapi["openapi"].startswith("3.0")
    params = openapi["paths"]["/collections/{collectionId}/items"]["get"]["parameters"]
    limit = next(p for p in params if p["name"] == "limit")["schema"]
    assert limit == {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}
    assert {p["name"] for p in params} >= {"bbox", "limit", "offset", "kind", "category", "district"}
    conformance = as_json(get(site, links["conformance"][0]["href"]))["conformsTo"]
    for part in ("core", "geojson", "html", "oas30"):
        assert f"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/{part}" in conformance


def test_collections_have_extents_in_crs84(site: Site) -> None:
    doc = as_json(site.client.get("/ogcapi/collections"))
    posts, districts = doc["collections"]
    assert (posts["id"], districts["id"]) == ("posts", "districts")
    store = open_store(site.app.config["DATABASE"])
    bounds = [round(float(v), 5) for v in store.area().districts.total_bounds]
    store.close()
    for c in (posts, districts):
        assert c["itemType"] == "feature" and c["crs"] == [CRS84]
        assert c["extent"]["spatial"] == {"bbox": [bounds], "crs": CRS84}
        links = rels(c)
        assert [link["type"] for link in links["items"]] == ["application/geo+json", "text/html"]
        assert (
            links["http://www.opengis.net/def/rel/ogc/1.0/queryables"][0]["type"] == "application/schema+json"
        )
        assert as_json(site.client.get(f"/ogcapi/collections/{c['id']}")) == c
    first, last = site.public["created_day"].min(), site.public["expires_day"].max()
    assert posts["extent"]["temporal"]["interval"] == [[f"{first}T00:00:00Z", f"{last}T23:59:59Z"]]
    assert "temporal" not in districts["extent"]


def test_items_page_shape_public_fields_and_order(site: Site) -> None:
    response = site.client.get("/ogcapi/collections/posts/items")
    assert response.mimetype == "application/geo+json"
    assert {"Accept", "Accept-Language", "Cookie"} <= set(response.vary)
    doc = as_json(response)
    assert doc["type"] == "FeatureCollection"
    assert (doc["numberMatched"], doc["numberReturned"], len(doc["features"])) == (330, 100, 100)
    assert doc["timeStamp"] == "2026-11-27T12:00:00Z"
    ids = [f["id"] for f in doc["features"]]
    assert ids == sorted(site.public["id"])[:100]
    for feature in doc["features"]:
        assert list(feature["properties"]) == list(PROPERTIES)
        assert feature["properties"]["id"] == feature["id"] and feature["geometry"]["type"] == "Point"
    links = rels(doc)
    assert "prev" not in links and "offset=100" in links["next"][0]["href"]
    assert links["next"][0]["type"] == "application/geo+json"
    assert site.client.get("/ogcapi/collections/posts/items").data == response.data  # the same bytes


def test_paging_by_next_links_reaches_the_last_item_once(site: Site) -> None:
    url, ids, pages = "/ogcapi/collections/posts/items?limit=37", [], 0
    while url:
        doc = as_json(get(site, url))
        pages += 1
        ids += [f["id"] for f in doc["features"]]
        links = rels(doc)
        assert ("prev" in links) == (pages > 1)
        url = links["next"][0]["href"] if "next" in links else ""
    assert pages == 9 and doc["numberReturned"] == 330 - 8 * 37
    assert ids == sorted(site.public["id"])
    back = as_json(get(site, rels(doc)["prev"][0]["href"]))
    assert [f["id"] for f in back["features"]] == ids[7 * 37 : 8 * 37]


def test_limit_is_clamped_at_1000_and_offset_past_the_end_is_empty(site: Site) -> None:
    doc = as_json(site.client.get("/ogcapi/collections/posts/items?limit=5000"))
    assert doc["numberReturned"] == 330 and "limit=1000" in rels(doc)["self"][0]["href"]
    crs84 = "crs=http://www.opengis.net/def/crs/OGC/1.3/CRS84&bbox-crs=http://www.opengis.net/def/crs/OGC/1.3/CRS84"
    assert as_json(site.client.get(f"/ogcapi/collections/posts/items?{crs84}"))["numberReturned"] == 100
    doc = as_json(site.client.get("/ogcapi/collections/posts/items?offset=400"))
    assert (doc["numberMatched"], doc["numberReturned"], doc["features"]) == (330, 0, [])
    assert "next" not in rels(doc)


def test_bbox_and_filters_pick_the_posts_shown_inside(site: Site) -> None:
    public = site.public.assign(lon=site.public["lon"].round(5), lat=site.public["lat"].round(5))
    box = (27.5, 53.86, 27.6, 53.93)
    inside = public[public["lon"].between(box[0], box[2]) & public["lat"].between(box[1], box[3])]
    url = "/ogcapi/collections/posts/items?limit=1000&bbox=" + ",".join(map(str, box))
    doc = as_json(site.client.get(url))
    assert 0 < doc["numberMatched"] == len(inside) < 330
    assert {f["id"] for f in doc["features"]} == set(inside["id"])
    wanted = public[(public["kind"] == "need") & public["district"].isin(["frunzensky", "centralny"])]
    url = "/ogcapi/collections/posts/items?limit=1000&kind=need&district=frunzensky,centralny"
    doc = as_json(site.client.get(url))
    assert {f["id"] for f in doc["features"]} == set(wanted["id"]) and doc["numberMatched"] == len(wanted)
    assert "kind=need&district=frunzensky%2Ccentralny" in rels(doc)["self"][0]["href"]


@pytest.mark.parametrize(
    ("query", "word"),
    [
        ("bbox=1,2,3", "bbox"),
        ("bbox=a,b,c,d", "bbox"),
        ("bbox=nan,1,2,3", "bbox"),
        ("bbox=1,2,3,4,5,6", "bbox"),
        ("bbox=200,0,210,1", "bbox"),
        ("bbox=27.6,53.8,27.5,53.9", "bbox"),
        ("bbox=27,53,28,54&bbox-crs=EPSG:3857", "bbox-crs"),
        ("crs=http://www.opengis.net/def/crs/EPSG/0/3857", "crs"),
        ("limit=0", "limit"),
        ("limit=-5", "limit"),
        ("limit=ten", "limit"),
        ("offset=-1", "offset"),
        ("offset=1.5", "offset"),
        ("kind=gift", "kind"),
        ("category=food,weapons", "category"),
        ("district=atlantis", "district"),
        ("status=hidden", "status"),
        ("sortby=text", "sortby"),
        ("f=xml", "f"),
        ("datetime=yesterday", "datetime"),
        ("datetime=2026-13-01", "datetime"),
        ("datetime=2026-12-01T10:00:00", "datetime"),
        ("datetime=2026-12-10/2026-12-01", "datetime"),
        ("datetime=../..", "datetime"),
        ("datetime=2026-12-01/2026-12-02/2026-12-03", "datetime"),
    ],
)
def test_bad_parameters_are_400s_that_say_what_is_wrong(site: Site, query: str, word: str) -> None:
    response = site.client.get(f"/ogcapi/collections/posts/items?{query}")
    assert response.status_code == 400 and response.mimetype == "application/json"
    body = orjson.loads(response.data)
    assert body["code"] == "InvalidParameterValue" and word in body["description"]


def test_one_item_and_404s(site: Site) -> None:
    post_id = str(site.public["id"].iloc[3])
    response = site.client.get(f"/ogcapi/collections/posts/items/{post_id}")
    assert response.mimetype == "application/geo+json"
    feature = as_json(response)
    assert feature["type"] == "Feature" and feature["id"] == post_id
    assert list(feature["properties"]) == list(PROPERTIES)
    assert {"self", "alternate", "collection"} <= set(rels(feature))
    page = as_json(site.client.get("/ogcapi/collections/posts/items?limit=1&offset=3"))
    assert page["features"][0] == {k: v for k, v in feature.items() if k != "links"}
    for path in (
        f"/ogcapi/collections/posts/items/{site.hidden}",
        f"/ogcapi/collections/posts/items/{site.expired}",
        "/ogcapi/collections/posts/items/nope",
        "/ogcapi/collections/districts/items/atlantis",
        "/ogcapi/collections/people",
        "/ogcapi/collections/people/items",
        "/ogcapi/nothing",
    ):
        response = site.client.get(path)
        assert response.status_code == 404 and response.mimetype == "application/json", path
        assert orjson.loads(response.data)["code"] == "NotFound"


def test_queryables_are_json_schema_of_the_filters(site: Site) -> None:
    response = site.client.get("/ogcapi/collections/posts/queryables")
    assert response.mimetype == "application/schema+json"
    schema = as_json(response)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == "http://localhost/ogcapi/collections/posts/queryables"
    assert schema["properties"]["kind"]["enum"] == ["offer", "need"]
    assert schema["properties"]["category"]["enum"] == list(DEFAULT_CATEGORIES)
    assert len(schema["properties"]["district"]["enum"]) == 9
    districts = as_json(site.client.get("/ogcapi/collections/districts/queryables"))
    assert list(districts["properties"]) == ["district"]


def test_districts_are_the_unmet_needs_aggregates_as_multipolygons(site: Site) -> None:
    doc = as_json(site.client.get("/ogcapi/collections/districts/items"))
    assert doc["numberMatched"] == doc["numberReturned"] == 9
    assert {f["geometry"]["type"] for f in doc["features"]} == {"MultiPolygon"}
    assert [f["id"] for f in doc["features"]] == sorted(f["id"] for f in doc["features"])
    exported = orjson.loads(site.client.get("/export/districts.geojson").data)["features"]
    by_id = {f["id"]: f["properties"] for f in exported}
    for feature in doc["features"]:
        assert feature["properties"] == by_id[feature["id"]]
        polygon = shapely.geometry.shape(feature["geometry"])
        assert polygon.is_valid
    assert sum(f["properties"]["needs"] for f in doc["features"]) == (site.public["kind"] == "need").sum()
    near = as_json(site.client.get("/ogcapi/collections/districts/items?within=400&district=frunzensky"))
    assert [f["id"] for f in near["features"]] == ["frunzensky"]
    assert near["features"][0]["properties"]["within_m"] == 400
    boxed = as_json(site.client.get("/ogcapi/collections/districts/items?bbox=27.40,53.88,27.45,53.90"))
    assert 0 < boxed["numberMatched"] < 9
    assert site.client.get("/ogcapi/collections/districts/items?kind=need").status_code == 400


@pytest.mark.parametrize(
    ("headers", "query", "expected"),
    [
        ({"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}, "", "text/html"),
        ({"Accept": "*/*"}, "", "json"),
        ({}, "", "json"),
        ({"Accept": "application/geo+json"}, "", "json"),
        ({"Accept": "text/html"}, "?f=json", "json"),
        ({"Accept": "application/json"}, "?f=html", "text/html"),
    ],
)
def test_content_negotiation(site: Site, headers: dict[str, str], query: str, expected: str) -> None:
    for path in ("/ogcapi", "/ogcapi/collections/posts/items", "/ogcapi/collections/posts/queryables"):
        response = site.client.get(path + query, headers=headers)
        assert response.status_code == 200
        assert expected in response.mimetype, (path, headers, response.mimetype)


HTML_PAGES = (
    "/ogcapi",
    "/ogcapi/conformance",
    "/ogcapi/collections",
    "/ogcapi/collections/posts",
    "/ogcapi/collections/districts",
    "/ogcapi/collections/posts/queryables",
    "/ogcapi/collections/posts/items?limit=20",
    "/ogcapi/collections/posts/items?limit=20&offset=20",
    "/ogcapi/collections/districts/items",
    "/ogcapi/collections/districts/items/frunzensky",
    "/ogcapi/collections/posts/items/{first}",
    "/ogcapi/collections/posts/items?bbox=1,2,3",
)


@pytest.mark.parametrize("lang", ["be", "ru", "en"])
def test_html_pages_are_ours_csp_clean_and_translated(site: Site, lang: str) -> None:
    fragments = english_fragments() if lang != "en" else {}
    first = str(site.public["id"].iloc[0])
    for path in HTML_PAGES:
        url = path.format(first=first)
        response = site.client.get(url, headers={"Accept": "text/html", "Accept-Language": lang})
        assert response.status_code == (400 if "bbox=1,2,3" in url else 200), url
        assert response.mimetype == "text/html", url
        check_page(response)
        html = response.get_data(as_text=True)
        assert f'<html lang="{lang}">' in html, url
        assert 'class="page ogc"' in html or "bbox" in url, url
        assert not leaks(visible(html), fragments), (url, leaks(visible(html), fragments))


def test_html_shows_hostile_text_as_text(site: Site) -> None:
    hostile = site.public.loc[site.public["text"] == HOSTILE, "id"].iloc[0]
    position = sorted(site.public["id"]).index(hostile)
    for url in (
        f"/ogcapi/collections/posts/items/{hostile}?f=html",
        f"/ogcapi/collections/posts/items?f=html&limit=1&offset={position}",
    ):
        response = site.client.get(url)
        check_page(response)  # no on*= attribute, no inline script without the nonce
        html = response.get_data(as_text=True)
        assert "<script>alert" not in html and "<b onclick" not in html
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html and "{{ 7*7 }}" in html


@pytest.mark.browser
def test_items_page_on_a_phone(site: Site, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    with serve(site.app) as url:
        page.goto(f"{url}/ogcapi/collections/posts/items?f=html&limit=20&lang=be")
        assert page.locator("h1").inner_text() == "Прапановы і патрэбы"
        assert page.locator("table tbody tr").count() == 20
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, width  # the page does not scroll sideways
        # Nor does anything inside it: on a phone each row is a card, every value within the screen, each
        # headed by its column's name in the page's language.
        past = page.evaluate(
            "() => [...document.querySelectorAll('table td')]"
            ".filter(td => td.getBoundingClientRect().right > 390 || td.scrollWidth > td.clientWidth + 1)"
            ".map(td => td.textContent.slice(0, 40))"
        )
        assert past == [], past
        label = page.evaluate(
            "() => getComputedStyle(document.querySelector('table td.ogc-text'), '::before').content"
        )
        assert "Тэкст" in label, label
        ident = page.locator("table tbody tr td a").first.bounding_box()
        assert ident is not None and ident["height"] >= 44
        next_link = page.locator("a[rel=next]")
        box = next_link.bounding_box()
        assert box is not None and box["height"] >= 44
        shot(page, "ogcapi-items-phone-be")
        next_link.click()
        page.wait_for_url("**offset=20**")
        assert page.locator("table tbody tr").count() == 20
        problems = check(page, "ogcapi items be phone")  # axe-core: no serious or critical violation
        for path in ("/ogcapi", "/ogcapi/collections", "/ogcapi/collections/districts/items/frunzensky"):
            page.goto(f"{url}{path}?f=html&lang=ru")
            problems += check(page, f"{path} ru phone")
        assert problems == [], "\n".join(problems)
    context.close()
    assert errors == []


def test_the_ogc_openapi_describes_every_ogcapi_route(site: Site) -> None:
    spec = as_json(site.client.get("/ogcapi/openapi"))
    routes = set()
    for rule in site.app.url_map.iter_rules():
        if rule.rule == "/ogcapi" or rule.rule.startswith("/ogcapi/"):
            assert rule.methods - {"HEAD", "OPTIONS"} == {"GET"}, rule.rule
            routes.add(re.sub(r"<[^>]+>", "{}", rule.rule.removeprefix("/ogcapi")) or "/")
    assert routes == {re.sub(r"\{[^}]+\}", "{}", path) for path in spec["paths"]}


@pytest.mark.parametrize(
    ("value", "first", "last"),
    [
        ("2026-12-10", "2026-12-10", "2026-12-10"),
        ("2026-12-15/..", "2026-12-15", None),
        ("2026-12-05T23:30:00-02:00", "2026-12-06", "2026-12-06"),
        ("../2026-11-26", None, "2026-11-26"),
        ("/2026-12-03", None, "2026-12-03"),
    ],
)
def test_datetime_keeps_the_posts_open_on_some_day_of_it(
    site: Site, value: str, first: str | None, last: str | None
) -> None:
    public = site.public
    keep = pd.Series(True, index=public.index)
    if first is not None:
        keep &= public["expires_day"] >= first
    if last is not None:
        keep &= public["created_day"] <= last
    doc = as_json(
        site.client.get("/ogcapi/collections/posts/items", query_string={"datetime": value, "limit": 50})
    )
    assert doc["numberMatched"] == keep.sum()
    assert [f["id"] for f in doc["features"]] == sorted(public.loc[keep, "id"])[:50]
    if keep.sum() > 50:
        assert "datetime=" in rels(doc)["next"][0]["href"]
