"""The privacy invariants of DESIGN.md, each tested against the real privacy step and store."""

from __future__ import annotations

from datetime import date

import h3.api.basic_int as h3
import numpy as np
import pytest
import shapely
from conftest import TEST_SECRET
from databases import is_postgres
from helpers import row
from peek import columns, peek_dicts, peek_one

from mapaid.geo import Area, cell_polygons
from mapaid.intake import Rules
from mapaid.pipeline import ingest
from mapaid.privacy import OutsideArea, coarsen, display_positions, new_ids
from mapaid.store import Store

SECRET = TEST_SECRET.encode()
RULES = Rules(("food", "medicine", "other"), 9, date(2026, 11, 27))
# Kastrychnitskaya square, central Minsk, and a point on the Zavodski/Partyzanski border area.
CENTRE = (53.8937, 27.5477)


def _ingest_points(store: Store, points: list[tuple[float, float]], text: str = "Soup"):  # type: ignore[no-untyped-def]
    import pandas as pd

    frame = pd.DataFrame([row(lat, lon, text=text) for lat, lon in points])
    return ingest(frame, [f"row {i}" for i in range(len(frame))], RULES, store, SECRET)


def _stored(database: str) -> list[dict[str, object]]:
    return peek_dicts(database, "SELECT * FROM posts ORDER BY id")


# Where a post is shown: lon and lat; on PostgreSQL also ``geom``, the same point as a geometry column
# (generated from lon and lat, so that GIS tools open the table as a layer).
POSITION = {"lon", "lat", "geom"}


def _points_in_cell(cell: int, n: int, rng: np.random.Generator) -> list[tuple[float, float]]:
    hexagon = cell_polygons(np.array([cell]))[0]
    west, south, east, north = hexagon.bounds
    out: list[tuple[float, float]] = []
    while len(out) < n:
        lon, lat = rng.uniform(west, east), rng.uniform(south, north)
        if h3.latlng_to_cell(lat, lon, 9) == cell:
            out.append((lat, lon))
    return out


def test_point_becomes_its_h3_cell_and_the_cells_district(store: Store, database: str) -> None:
    _ingest_points(store, [CENTRE])
    (post,) = _stored(database)
    assert post["cell"] == h3.latlng_to_cell(*CENTRE, 9)
    centre_lat, centre_lon = h3.cell_to_latlng(post["cell"])
    area = store.area()
    district = area.districts[shapely.contains_xy(area.districts.geometry.values, centre_lon, centre_lat)]
    assert post["district"] == district["slug"].item()


def test_two_points_in_one_cell_are_alike_in_everything_but_id_and_position(
    store: Store, database: str
) -> None:
    """Invariant 2: stored fields are a function of the cell, the district and the random id."""
    cell = h3.latlng_to_cell(*CENTRE, 9)
    a, b = _points_in_cell(cell, 2, np.random.default_rng(1))
    assert a != b
    _ingest_points(store, [a, b])
    first, second = _stored(database)
    differing = {k for k in first if first[k] != second[k]}
    assert differing <= {"id", *POSITION}
    # The shown position is recomputed from (cell, id, secret) alone: the exact point had no say in it.
    for post in (first, second):
        lon, lat = display_positions(np.array([cell]), [str(post["id"])], store.area(), SECRET)
        assert (round(lon[0], 5), round(lat[0], 5)) == (post["lon"], post["lat"])


def test_repeating_a_post_from_one_home_does_not_narrow_it_down(store: Store, database: str) -> None:
    """Invariant 3: shown positions are not noise around the true point, so averaging them finds the
    middle of the cell, not the home. The home here sits near a corner of its cell."""
    cell = h3.latlng_to_cell(*CENTRE, 9)
    corner_lat, corner_lng = h3.cell_to_boundary(cell)[0]
    centre_lat, centre_lng = h3.cell_to_latlng(cell)
    home = (centre_lat + 0.9 * (corner_lat - centre_lat), centre_lng + 0.9 * (corner_lng - centre_lng))
    assert h3.latlng_to_cell(*home, 9) == cell
    _ingest_points(store, [home] * 300)
    shown = np.array([(p["lat"], p["lon"]) for p in _stored(database)])
    mean = shown.mean(axis=0)
    to_home = np.hypot(*(mean - home))
    to_centre = np.hypot(*(mean - (centre_lat, centre_lng)))
    assert to_centre < 0.25 * to_home


def test_shown_positions_stay_inside_cell_and_district(store: Store) -> None:
    """Invariant 4, including cells cut by a district border or the city edge (5-decimal rounding too)."""
    area = store.area()
    rng = np.random.default_rng(4)
    west, south, east, north = area.districts.total_bounds
    lon, lat = rng.uniform(west, east, 6000), rng.uniform(south, north, 6000)
    inside = area.contains(lon, lat)
    _ingest_points(store, list(zip(lat[inside].tolist(), lon[inside].tolist(), strict=True)))
    posts = store.posts(date(2026, 11, 27))
    cells = posts["cell"].to_numpy(dtype=np.int64)
    hexes = cell_polygons(cells)
    by_slug = dict(zip(area.slugs, area.districts.geometry.values, strict=True))
    districts = np.array([by_slug[s] for s in posts["district"]])
    x, y = posts["lon"].to_numpy(), posts["lat"].to_numpy()
    assert np.all(np.round(x, 5) == x) and np.all(np.round(y, 5) == y)
    assert shapely.intersects_xy(hexes, x, y).all()
    assert shapely.intersects_xy(districts, x, y).all()
    edge_cells = [
        c for c, info in zip(cells, area.cell_info(cells), strict=True) if info and not info.covered
    ]
    cut_cells = [c for c, h, d in zip(cells, hexes, districts, strict=True) if not d.contains(h)]
    assert edge_cells and cut_cells  # the sample did reach the awkward cells


def test_time_is_kept_to_the_day_and_no_client_details_are_stored(store: Store, database: str) -> None:
    """Invariant 5: created/expires are days; the schema has nowhere to put an IP or a user agent."""
    _ingest_points(store, [CENTRE])
    (post,) = _stored(database)
    assert post["created_day"] == "2026-11-27"
    assert post["expires_day"] == "2026-12-11"  # 14 days by default
    shown_as_geometry = {"geom"} if is_postgres(database) else set()
    assert set(columns(database, "posts")) - shown_as_geometry == {
        "id",
        "kind",
        "category",
        "text",
        "contact",
        "cell",
        "district",
        "created_day",
        "expires_day",
        "status",
        "token_hash",
        "lon",
        "lat",
        "reply_key",  # the poster's public key for private replies: public, like the post
        "draft_text",  # a change of the text waiting for the publication round (mapaid/rounds.py)
        "draft_expires",  # a new last day waiting for it: a day, as the others
    }


def test_a_point_outside_every_district_is_refused(store: Store) -> None:
    area = store.area()
    helsinki = coarsen(np.array([60.17]), np.array([24.94]), np.array([-1]), area, 9)
    assert helsinki.outside == [0]
    # In a hole of the city (an enclave of Minsk raion) the cell may touch a district, the point does not.
    hole = shapely.get_interior_ring(area.union.geoms[0] if hasattr(area.union, "geoms") else area.union, 0)
    lon, lat = shapely.get_coordinates(shapely.centroid(shapely.polygons(hole)))[0]
    assert not area.contains(np.array([lon]), np.array([lat]))[0]
    assert coarsen(np.array([lat]), np.array([lon]), np.array([-1]), area, 9).outside == [0]


def test_ids_are_random_and_unguessable() -> None:
    ids = new_ids(10_000)
    assert len(set(ids)) == 10_000
    assert all(len(i) == 20 and int(i, 16) >= 0 for i in ids)


def test_display_position_of_a_cell_outside_the_area_is_an_error(store: Store) -> None:
    helsinki = h3.latlng_to_cell(60.17, 24.94, 9)
    with pytest.raises(OutsideArea):
        display_positions(np.array([helsinki]), ["x"], store.area(), SECRET)


def test_a_finer_cell_is_lifted_to_the_configured_resolution(store: Store) -> None:
    fine = h3.latlng_to_cell(*CENTRE, 12)
    result = coarsen(np.array([np.nan]), np.array([np.nan]), np.array([fine]), store.area(), 9)
    assert result.cell.tolist() == [h3.cell_to_parent(fine, 9)]


def test_area_district_choice_is_by_cell_not_by_point(database: str, store: Store) -> None:
    """A cell cut by a border belongs wholly to the district under its centre, whichever side the
    person stood on: so the district says nothing finer than the cell."""
    area: Area = store.area()
    geoms = area.districts.geometry.values
    border = shapely.intersection(shapely.boundary(geoms[0]), shapely.boundary(geoms[1]))
    lon, lat = shapely.get_coordinates(border)[len(shapely.get_coordinates(border)) // 2]
    cell = h3.latlng_to_cell(lat, lon, 9)
    points = _points_in_cell(cell, 40, np.random.default_rng(2))
    sides = {tuple(shapely.intersects_xy(geoms, p[1], p[0]).nonzero()[0]) for p in points}
    assert len(sides) > 1  # the people really stood in different districts
    result = coarsen(
        np.array([p[0] for p in points]), np.array([p[1] for p in points]), np.full(len(points), -1), area, 9
    )
    assert len(set(result.code.tolist())) == 1
    assert peek_one(database, "SELECT count(*) FROM posts") == 0
