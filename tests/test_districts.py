"""Any city's districts: any format and CRS, repaired or refused with the feature named."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from click.testing import CliRunner
from shapely.geometry import Polygon, box

from mapaid.cli import main
from mapaid.config import DEFAULT_DISTRICTS
from mapaid.districts import SLUG_PATTERN, DistrictError, read_districts, slugify
from mapaid.geo import choose_metric_crs
from mapaid.store import open_store

DATA = Path(__file__).parent / "data"


def _load(db: str, tmp_path: Path, file: Path, *args: str) -> tuple[int, str, str]:
    """`mapaid districts load` into ``db`` (a database with nothing in it yet: the first load makes it)."""
    env = {"MAPAID_DATABASE": db, "MAPAID_SECRET_KEY": "x", "MAPAID_INSTANCE": str(tmp_path)}
    result = CliRunner().invoke(main, ["districts", "load", str(file), *args], env=env)
    return result.exit_code, result.output, db


def _write(tmp_path: Path, geoms: list[Polygon], names: list[str], crs: str = "EPSG:4326") -> Path:
    path = tmp_path / "districts.geojson"
    gpd.GeoDataFrame({"name": names}, geometry=geoms, crs=crs).to_file(path)
    return path


def test_minsk_loads_with_three_languages_and_utm_35n(store) -> None:  # type: ignore[no-untyped-def]
    area = store.area()
    assert len(area.slugs) == 9
    assert area.metric_crs.to_epsg() == 32635
    centralny = area.by_slug["centralny"]
    assert (centralny.name_be, centralny.name_ru, centralny.name_en) == (
        "Цэнтральны",
        "Центральный",
        "Tsentralny District",
    )
    assert centralny.osm_relation_id == 59249


def test_helsinki_shapefile_in_a_finnish_crs_loads(empty_database: str, tmp_path: Path) -> None:
    """A Shapefile in ETRS-TM35FIN (EPSG:3067) is reprojected to EPSG:4326; distances go to UTM 35N."""
    source = gpd.read_file(DATA / "helsinki_city_districts_2021.gpkg").to_crs(3067)
    shp = tmp_path / "helsinki.shp"
    source.to_file(shp)
    code, output, db = _load(empty_database, tmp_path, shp, "--name-field", "name")
    assert code == 0, output
    assert "loaded 8 districts" in output and "UTM zone 35N" in output
    store = open_store(db)
    area = store.area()
    west, south, east, north = area.districts.total_bounds
    assert 24.7 < west < east < 25.3 and 59.9 < south < north < 60.4
    assert "itainen" in area.slugs and "ostersundom" in area.slugs
    assert area.metric_crs.to_epsg() == 32635
    metric_area = area.districts.to_crs(area.metric_crs).area.sum() / 1e6
    assert metric_area == pytest.approx(source.area.sum() / 1e6, rel=0.01)


def test_a_self_intersecting_polygon_is_repaired(tmp_path: Path) -> None:
    bowtie = Polygon([(27.0, 53.0), (27.1, 53.1), (27.1, 53.0), (27.0, 53.1)])
    assert not bowtie.is_valid
    path = _write(tmp_path, [bowtie, box(27.2, 53.0, 27.3, 53.1)], ["Bow", "Box"])
    frame = read_districts(path)
    assert frame.geometry.is_valid.all()
    assert frame.geometry.iloc[0].area == pytest.approx(2 * 0.1 * 0.05 / 2)  # both lobes kept


def test_a_polygon_that_cannot_be_repaired_is_refused_by_name(empty_database: str, tmp_path: Path) -> None:
    flat = Polygon([(27.0, 53.0), (27.1, 53.1), (27.2, 53.2), (27.0, 53.0)])  # all on one line, nearly
    path = tmp_path / "flat.geojson"
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"name": "Good"},
                        "geometry": shapely.geometry.mapping(box(27, 53, 27.1, 53.1)),
                    },
                    {
                        "type": "Feature",
                        "properties": {"name": "Flatland"},
                        "geometry": shapely.geometry.mapping(flat),
                    },
                ],
            }
        )
    )
    code, output, _ = _load(empty_database, tmp_path, path)
    assert code == 1
    assert "feature 2 (Flatland) has no area" in output
    spike = Polygon([(27.0, 53.0), (27.1, 53.0), (27.1, 53.1), (27.1, 53.2), (27.1, 53.1), (27.0, 53.0)])
    assert not spike.is_valid
    path = tmp_path / "spike.geojson"
    gpd.GeoDataFrame({"name": ["Spike"]}, geometry=[spike], crs=4326).to_file(path)
    assert read_districts(path).geometry.is_valid.all()  # the spike is cut off, the triangle kept


def test_overlapping_districts_are_refused_naming_the_pair(empty_database: str, tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        [box(27.0, 53.0, 27.2, 53.2), box(27.3, 53.0, 27.4, 53.2), box(27.1, 53.1, 27.25, 53.3)],
        ["Old Town", "Riverside", "New Town"],
    )
    code, output, _ = _load(empty_database, tmp_path, path)
    assert code == 1
    assert "districts 'Old Town' and 'New Town' overlap by" in output


def test_districts_sharing_a_border_are_fine(empty_database: str, tmp_path: Path) -> None:
    path = _write(tmp_path, [box(27.0, 53.0, 27.1, 53.1), box(27.1, 53.0, 27.2, 53.1)], ["West", "East"])
    code, output, _ = _load(empty_database, tmp_path, path)
    assert code == 0, output


def test_points_and_missing_crs_and_names_are_refused(empty_database: str, tmp_path: Path) -> None:
    points = tmp_path / "points.geojson"
    gpd.GeoDataFrame({"name": ["Dot"]}, geometry=[shapely.Point(27, 53)], crs=4326).to_file(points)
    assert "feature 1 (Dot) is a Point, not a polygon" in _load(empty_database, tmp_path, points)[1]

    shp = tmp_path / "nocrs.shp"
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        gpd.GeoDataFrame({"name": ["A"]}, geometry=[box(0, 0, 1, 1)]).to_file(shp)
    assert "does not say its coordinate reference system" in _load(empty_database, tmp_path, shp)[1]

    nameless = _write(tmp_path, [box(27, 53, 27.1, 53.1)], ["A"])
    code, output, _ = _load(empty_database, tmp_path, nameless, "--name-field", "title")
    assert code == 1 and "no name field 'title'; pick one with --name-field from: name" in output

    junk = tmp_path / "junk.geojson"
    junk.write_text("not json")
    code, output, _ = _load(empty_database, tmp_path, junk)
    assert code == 1 and "cannot read" in output


def test_districts_cannot_be_swapped_under_existing_posts(cli, store) -> None:  # type: ignore[no-untyped-def]
    assert cli("demo", "--posts", "5").exit_code == 0
    result = cli("districts", "load", str(DEFAULT_DISTRICTS))
    assert result.exit_code == 1
    assert "already holds posts" in result.output
    assert store.count() == 5


def test_slugs_and_metric_crs_choice() -> None:
    assert slugify("Фрунзенский") == "frunzenskiy"
    assert slugify("Östersundom") == "ostersundom"
    assert slugify("Saint-Denis 2e") == "saint-denis-2e"
    assert choose_metric_crs((27.4, 53.8, 28.1, 54.0)).to_epsg() == 32635  # Minsk
    assert choose_metric_crs((-0.5, 51.3, 0.3, 51.7)).to_epsg() == 32630  # London
    assert choose_metric_crs((-58.6, -34.8, -58.3, -34.5)).to_epsg() == 32721  # Buenos Aires, south


def test_read_districts_raises_domain_errors(tmp_path: Path) -> None:
    with pytest.raises(DistrictError):
        read_districts(tmp_path / "missing.geojson")


@pytest.mark.parametrize(
    "slug",
    [
        '<img src=x onerror="alert(1)">',
        "centre\"'",
        "Centre",
        "1st-ward",
        "a" * 41,
        "",
        "цэнтр",
        "old town",
        "javascript:alert(1)",
        None,
    ],
)
def test_a_slug_the_file_gives_must_be_short_lowercase_ascii(
    empty_database: str, tmp_path: Path, slug: str | None
) -> None:
    """A slug reaches URLs, filters, exports and pages: refused unless it fits, naming the feature; the
    districts already loaded stay as they were."""
    good = _write(tmp_path, [box(27.0, 53.0, 27.1, 53.1), box(27.1, 53.0, 27.2, 53.1)], ["West", "East"])
    code, output, db = _load(empty_database, tmp_path, good)
    assert code == 0, output
    bad = tmp_path / "bad.geojson"
    frame = gpd.GeoDataFrame(
        {"name": ["Old Town", "Riverside"], "slug": ["old-town", slug]},
        geometry=[box(27.0, 53.0, 27.1, 53.1), box(27.3, 53.0, 27.4, 53.1)],
        crs=4326,
    )
    frame.to_file(bad)
    code, output, _ = _load(empty_database, tmp_path, bad)
    assert code != 0
    assert "feature 2 (Riverside) has" in output and "lowercase ASCII" in output, output
    store = open_store(db)
    assert sorted(store.area().slugs) == ["east", "west"]
    store.close()


def test_made_slugs_always_fit_the_slug_pattern(empty_database: str, tmp_path: Path) -> None:
    names = [
        '<img src=x onerror="window.__pwned=1">',
        "</script><script>window.__pwned=2</script>",
        "\"'",
        "javascript:window.__pwned=3",
        "1-y Mikrarayon",
        "Вельмі доўгая назва раёна, якая не змяшчаецца ў сорак літар",
        "区",
    ]
    slugs = [slugify(n) for n in names]
    assert all(SLUG_PATTERN.fullmatch(s) for s in slugs), slugs
    assert slugs[4] == "d-1-y-mikrarayon" and len(slugs[5]) <= 40 and slugs[6] == "district"
    geoms = [box(27.0 + i / 10, 53.0, 27.1 + i / 10, 53.1) for i in range(4)]
    code, output, db = _load(empty_database, tmp_path, _write(tmp_path, geoms, names[:4]))
    assert code == 0, output
    store = open_store(db)
    assert sorted(store.area().slugs) == sorted(slugs[:4])
    store.close()
