"""/ogcapi read by the clients GIS people use, against a real `mapaid serve`: GDAL's OAPIF driver (through
pyogrio, as QGIS reads the service) and OWSLib's ``Features``. Both page through ``next`` links to the last
item; what they get must be exactly the public posts, each once, with the public fields only."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pyogrio
import pytest
import requests
from click.testing import CliRunner
from conftest import TEST_SECRET
from databases import Databases
from livesite import serve_process
from owslib.ogcapi.features import Features

from mapaid.cli import main
from mapaid.clock import SYSTEM
from mapaid.export import PROPERTIES
from mapaid.models import Status
from mapaid.store import open_store

POSTS = 240
BOX = (27.5, 53.86, 27.62, 53.93)


@dataclass
class Site:
    url: str
    public: pd.DataFrame  # the posts the store calls public, with their shown points as published
    db: Path


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, store_kind: str, databases: Databases) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("ogc")
    db = databases.fresh(store_kind, folder)
    env = {"MAPAID_DATABASE": db, "MAPAID_SECRET_KEY": TEST_SECRET, "MAPAID_INSTANCE": str(folder)}
    result = CliRunner().invoke(main, ["demo", "--posts", str(POSTS), "--seed", "10"], env=env)
    assert result.exit_code == 0, result.output
    store = open_store(db)
    ids = sorted(store.posts(SYSTEM.today(), public=False)["id"])[:2]
    store.set_status(ids[0], Status.HIDDEN)
    store.set_expiry(ids[1], date(2020, 1, 1))
    public = store.posts(SYSTEM.today())  # the server's clock is the system's
    store.close()
    assert len(public) == POSTS - 2
    public = public.assign(lon=public["lon"].round(5), lat=public["lat"].round(5))
    with serve_process(env, folder / "serve.log") as url:
        yield Site(url, public, db)


def _in_box(frame: pd.DataFrame) -> set[str]:
    inside = frame["lon"].between(BOX[0], BOX[2]) & frame["lat"].between(BOX[1], BOX[3])
    return set(frame.loc[inside, "id"])


def test_gdal_sees_two_layers_of_one_geometry_type_each(site: Site) -> None:
    layers = {str(name): str(kind) for name, kind in pyogrio.list_layers(f"OAPIF:{site.url}/ogcapi")}
    assert layers == {"posts": "Point", "districts": "MultiPolygon"}


def test_gdal_reads_every_public_post_once_with_public_fields_only(site: Site) -> None:
    frame = pyogrio.read_dataframe(f"OAPIF:{site.url}/ogcapi", layer="posts")
    assert len(frame) == len(site.public)
    assert frame["id"].is_unique and set(frame["id"]) == set(site.public["id"])
    assert set(frame.columns) == {*PROPERTIES, "geometry"}
    assert frame.crs.to_epsg() == 4326
    shown = site.public.set_index("id")
    assert (frame.geometry.x.to_numpy() == shown.loc[frame["id"], "lon"].to_numpy()).all()
    assert (frame.geometry.y.to_numpy() == shown.loc[frame["id"], "lat"].to_numpy()).all()


def test_gdal_follows_next_links_to_the_last_item(site: Site) -> None:
    """7 a page: 34 pages, the last one short."""
    frame = pyogrio.read_dataframe(f"OAPIF:{site.url}/ogcapi", layer="posts", PAGE_SIZE=7)
    assert len(frame) == len(site.public) and frame["id"].is_unique
    assert set(frame["id"]) == set(site.public["id"])


def test_gdal_bbox_gets_the_posts_shown_inside_it(site: Site) -> None:
    frame = pyogrio.read_dataframe(f"OAPIF:{site.url}/ogcapi", layer="posts", bbox=BOX, PAGE_SIZE=20)
    expected = _in_box(site.public)
    assert 0 < len(expected) < len(site.public)
    assert len(frame) == len(expected) and set(frame["id"]) == expected


def test_gdal_reads_districts_with_their_numbers(site: Site) -> None:
    frame = pyogrio.read_dataframe(f"OAPIF:{site.url}/ogcapi", layer="districts")
    assert len(frame) == 9 and set(frame.geometry.geom_type) == {"MultiPolygon"}
    assert frame["needs"].sum() == (site.public["kind"] == "need").sum()
    assert frame["offers"].sum() == (site.public["kind"] == "offer").sum()
    assert (frame["within_m"] == 800).all()


def test_owslib_lists_collections_conformance_and_queryables(site: Site) -> None:
    service = Features(f"{site.url}/ogcapi")
    assert [c["id"] for c in service.collections()["collections"]] == ["posts", "districts"]
    geojson = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson"
    assert geojson in service.conformance()["conformsTo"]
    posts = service.collection("posts")
    west, south, east, north = posts["extent"]["spatial"]["bbox"][0]
    assert west <= site.public["lon"].min() and east >= site.public["lon"].max()
    assert south <= site.public["lat"].min() and north >= site.public["lat"].max()
    queryables = service.collection_queryables("posts")
    assert set(queryables["properties"]) == {"kind", "category", "district"}


def test_owslib_items_with_limit_bbox_and_property_filters(site: Site) -> None:
    service = Features(f"{site.url}/ogcapi")
    first = service.collection_items("posts", limit=5)
    assert first["numberReturned"] == 5 and first["numberMatched"] == len(site.public)
    assert [f["id"] for f in first["features"]] == sorted(site.public["id"])[:5]
    boxed = service.collection_items("posts", limit=1000, bbox=list(BOX))
    assert {f["id"] for f in boxed["features"]} == _in_box(site.public)
    needs = service.collection_items("posts", limit=1000, kind="need", category="food,medicine")
    wanted = site.public[(site.public["kind"] == "need") & site.public["category"].isin(["food", "medicine"])]
    assert needs["numberMatched"] == len(wanted) > 0
    assert {f["id"] for f in needs["features"]} == set(wanted["id"])
    one = service.collection_item("posts", first["features"][0]["id"])
    assert one["properties"] == first["features"][0]["properties"]


def test_owslib_pages_through_next_links_to_the_last_item(site: Site) -> None:
    service = Features(f"{site.url}/ogcapi")
    page: dict[str, Any] = service.collection_items("posts", limit=50)
    ids: list[str] = []
    pages = 0
    while True:
        pages += 1
        ids += [f["id"] for f in page["features"]]
        following = [link["href"] for link in page["links"] if link["rel"] == "next"]
        if not following:
            break
        page = requests.get(following[0], timeout=10).json()  # OWSLib has no "next"; follow the link
    assert pages == 5 and len(ids) == len(site.public) and ids == sorted(site.public["id"])
    assert [link["rel"] for link in page["links"]].count("prev") == 1
