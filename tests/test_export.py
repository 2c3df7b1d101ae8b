"""`mapaid export`: RFC 7946 GeoJSON, CSV and GeoPackage that GDAL reads as they are."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import geopandas as gpd
import h3.api.basic_int as h3
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from conftest import Cli

from mapaid.config import DEFAULT_DISTRICTS
from mapaid.export import PROPERTIES
from mapaid.geo import cell_polygons
from mapaid.models import Status
from mapaid.store import Store


@pytest.fixture
def posts(cli: Cli, store: Store, today: date) -> pd.DataFrame:
    """400 demo posts; then one hidden, one fulfilled, one expired: 397 public."""
    assert cli("demo", "--posts", "400", "--seed", "3").exit_code == 0
    ids = sorted(store.posts(today, public=False)["id"])[:3]
    store.set_status(ids[0], Status.HIDDEN)
    store.set_status(ids[1], Status.FULFILLED)
    store.set_expiry(ids[2], date(2020, 1, 1))
    frame = store.posts(today)
    assert len(frame) == 397
    return frame


def _check_points(frame: gpd.GeoDataFrame) -> None:
    """Every point lies in its district (the shipped polygons) and in its cell."""
    districts = gpd.read_file(DEFAULT_DISTRICTS).set_index("slug").geometry
    x, y = frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy()
    assert shapely.intersects_xy(districts.loc[frame["district"]].values, x, y).all()
    cells = np.array([h3.str_to_int(c) for c in frame["cell"]])
    assert shapely.intersects_xy(cell_polygons(cells), x, y).all()


def test_geojson_follows_rfc_7946_and_gdal_reads_it(tmp_path: Path, cli: Cli, posts: pd.DataFrame) -> None:
    out = tmp_path / "posts.geojson"
    assert cli("export", "-o", str(out)).exit_code == 0
    raw = out.read_text(encoding="utf-8")
    data = json.loads(raw)
    assert data["type"] == "FeatureCollection" and "crs" not in data
    feature = data["features"][0]
    assert feature["geometry"]["type"] == "Point"
    lon, lat = feature["geometry"]["coordinates"]
    assert 27 < lon < 28.2 and 53.7 < lat < 54  # lon, lat order
    assert list(feature["properties"]) == list(PROPERTIES)
    decimals = re.findall(r'"coordinates":\[-?\d+\.?(\d*),-?\d+\.?(\d*)\]', raw)
    assert len(decimals) == 397 and max(len(d) for pair in decimals for d in pair) <= 5

    frame = pyogrio.read_dataframe(out)
    assert len(frame) == 397
    assert frame.crs.to_epsg() == 4326
    assert set(PROPERTIES) <= set(frame.columns)
    assert set(frame["id"]) == set(posts["id"])
    assert (frame["status"] == "open").all() and (frame["uncertainty_m"] == 400).all()
    assert (
        frame["district_name"]
        .isin(
            [
                "Tsentralny District",
                "Frunzyenski District",
                "Maskowski District",
                "Pyershamayski District",
                "Leninsky District",
                "Zavodski District",
                "Savyetski District",
                "Kastrychnitski District",
                "Partyzanski District",
            ]
        )
        .all()
    )
    _check_points(frame)


def test_csv_and_geopackage_carry_the_same_columns(tmp_path: Path, cli: Cli, posts: pd.DataFrame) -> None:
    assert cli("export", "--format", "csv", "-o", str(tmp_path / "p.csv")).exit_code == 0
    assert cli("export", "--format", "gpkg", "-o", str(tmp_path / "p.gpkg")).exit_code == 0
    assert cli("export", "-o", str(tmp_path / "p.geojson")).exit_code == 0
    table = pd.read_csv(tmp_path / "p.csv", dtype={"contact": str})
    assert list(table.columns) == [*PROPERTIES, "lon", "lat", "WKT"]
    csv_points = gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(table["lon"], table["lat"]), crs=4326)
    gpkg = pyogrio.read_dataframe(tmp_path / "p.gpkg", layer="posts")
    geojson = pyogrio.read_dataframe(tmp_path / "p.geojson")
    assert pyogrio.list_layers(tmp_path / "p.gpkg")[0][0] == "posts"
    for frame in (csv_points, gpkg):
        assert len(frame) == 397
        _check_points(frame)
        merged = frame.set_index("id").sort_index()
        reference = geojson.set_index("id").sort_index()
        assert (merged["cell"] == reference["cell"]).all()
        assert np.allclose(merged.geometry.x, reference.geometry.x)
        assert np.allclose(merged.geometry.y, reference.geometry.y)


def test_filters_select_by_kind_category_and_district(cli: Cli, posts: pd.DataFrame) -> None:
    result = cli(
        "export", "--kind", "need", "--category", "food", "--category", "medicine", "--district", "frunzensky"
    )
    assert result.exit_code == 0
    data = json.loads(result.stdout_bytes)
    expected = posts[
        (posts["kind"] == "need")
        & posts["category"].isin(["food", "medicine"])
        & (posts["district"] == "frunzensky")
    ]
    assert 0 < len(data["features"]) == len(expected)


def test_unknown_filter_values_are_refused(cli: Cli, posts: pd.DataFrame) -> None:
    result = cli("export", "--district", "atlantis")
    assert result.exit_code == 2 and "unknown district 'atlantis'" in result.output
    result = cli("export", "--category", "weapons")
    assert result.exit_code == 2 and "unknown category 'weapons'" in result.output
    result = cli("export", "--format", "gpkg")
    assert result.exit_code == 2 and "GeoPackage needs a file" in result.output


def test_empty_export_is_still_valid(tmp_path: Path, cli: Cli) -> None:
    for fmt in ("geojson", "gpkg", "csv"):
        out = tmp_path / f"empty.{fmt}"
        assert cli("export", "--format", fmt, "-o", str(out)).exit_code == 0
        if fmt == "geojson":
            assert json.loads(out.read_text()) == {"type": "FeatureCollection", "features": []}
        assert len(pyogrio.read_dataframe(out)) == 0


def test_text_with_quotes_and_control_characters_survives(tmp_path: Path, cli: Cli) -> None:
    text = 'Say "hi"\\\tback\nslash \u2028 é <b>'
    path = tmp_path / "odd.geojson"
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "geometry": {"type": "Point", "coordinates": [27.56, 53.9]},
                        "properties": {
                            "kind": "offer",
                            "category": "food",
                            "text": text,
                            "contact": 'tg: "@x"',
                        },
                    }
                ],
            }
        )
    )
    assert cli("import", str(path)).exit_code == 0
    out = tmp_path / "out.geojson"
    assert cli("export", "-o", str(out)).exit_code == 0
    (feature,) = json.loads(out.read_text())["features"]
    assert feature["properties"]["text"] == text.strip()
    assert feature["properties"]["contact"] == 'tg: "@x"'
    assert pyogrio.read_dataframe(out)["text"][0] == text.strip()
