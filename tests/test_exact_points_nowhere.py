"""Invariant 1: known exact points, imported, are found nowhere: not in the database's bytes (file, WAL,
shared memory), not in any log line or command output, not in any export (GeoJSON, CSV, GeoPackage).

Shown positions are drawn at random inside the home's cell, so for an ordinary home one of them lands
within the same 4-decimal box (~11 x 7 m) about once in 1,400 posts, by chance and not by leak. The check
that shown positions never reproduce a home is therefore made on homes where chance cannot do it (see
``far_side_homes``); the search for every spelling of every home, in every byte, covers them all."""

from __future__ import annotations

import logging
import struct
from pathlib import Path

import h3.api.basic_int as h3
import numpy as np
import pyogrio
import pytest
import shapely
from conftest import Cli
from helpers import database_bytes, row, write_csv
from peek import peek

from mapaid.geo import Area, cell_polygons
from mapaid.store import Store

# Exact homes, with more decimals than anyone needs; each checked at 4 decimals (~10 m).
HOMES = [
    (53.902345, 27.561234),
    (53.861789, 27.674321),
    (53.927813, 27.512398),
    (53.881111, 27.438765),
    (53.944321, 27.601987),
]


def _text_forms(value: float) -> list[bytes]:
    """How a coordinate could be spelled in text: to 4, 5 and 6 decimals."""
    return [f"{value:.{d}f}".encode() for d in (4, 5, 6)]


def _binary_forms(value: float) -> list[bytes]:
    """How it could be stored in binary: float64, either byte order. (float32 holds only ~5 decimals, which
    a shown position in the same cell can share by chance, e.g. in a GeoPackage's R-tree.)"""
    return [struct.pack(f, value) for f in ("<d", ">d")]


def _pair_texts(lat: float, lon: float) -> list[bytes]:
    """A position spelled as text, either order, as exports and logs would write it (4-6 decimals)."""
    out = []
    for d in (4, 5, 6):
        a, b = f"{lat:.{d}f}", f"{lon:.{d}f}"
        out += [f"{b},{a}".encode(), f"{a},{b}".encode(), f"{b}, {a}".encode(), f"{a}, {b}".encode()]
    return out


def far_side_homes(area: Area, n: int = 4) -> list[tuple[float, float]]:
    """Homes in cells cut by a district border, on the side the cell does not belong to, 30+ m from it.

    The cell's shown positions lie in cell ∩ (the district under the cell's centre), so none of them can
    land on such a home by chance: an exact reproduction there could only be a leak."""
    rng = np.random.default_rng(11)
    geoms = area.districts.geometry.values
    homes: list[tuple[float, float]] = []
    for lon, lat in shapely.get_coordinates(shapely.boundary(geoms[0]))[::7]:
        cell = h3.latlng_to_cell(lat, lon, 9)
        (info,) = area.cell_info(np.array([cell]))
        if info is None or info.shape.equals(cell_polygons(np.array([cell]))[0]):
            continue
        own = geoms[info.code]
        for _ in range(50):
            p_lat, p_lon = lat + rng.normal(0, 0.001), lon + rng.normal(0, 0.0015)
            far = shapely.distance(own, shapely.Point(p_lon, p_lat)) > 0.0005  # ~30 m
            if (
                h3.latlng_to_cell(p_lat, p_lon, 9) == cell
                and far
                and area.contains(np.array([p_lon]), np.array([p_lat]))[0]
            ):
                homes.append((p_lat, p_lon))
                break
        if len(homes) == n:
            return homes
    raise AssertionError("no border cell found")


def _pair_present(lats: np.ndarray, lons: np.ndarray, homes: list[tuple[float, float]]) -> list[object]:
    """Homes that some output position reproduces to 4 decimals."""
    return [
        (lat, lon)
        for lat, lon in homes
        if np.any((np.round(lats, 4) == round(lat, 4)) & (np.round(lons, 4) == round(lon, 4)))
    ]


@pytest.fixture
def far_homes(store: Store) -> list[tuple[float, float]]:
    return far_side_homes(store.area())


@pytest.fixture
def imported(
    tmp_path: Path, cli: Cli, caplog: pytest.LogCaptureFixture, far_homes: list[tuple[float, float]]
) -> tuple[str, Path]:
    caplog.set_level(logging.DEBUG)
    rows = [row(lat, lon) for lat, lon in HOMES] * 3 + [row(lat, lon) for lat, lon in far_homes] * 5
    path = write_csv(tmp_path / "homes.csv", rows)
    result = cli("import", str(path))
    assert result.exit_code == 0, result.output
    path.unlink()  # the input file is the person's; what is left is ours
    return result.output, tmp_path


def test_no_exact_point_in_the_database_files(
    imported: tuple[str, Path], database: str, far_homes: list[tuple[float, float]]
) -> None:
    """Nothing numeric is stored as text, so no spelling of a coordinate may appear at all; the stored
    (shown) positions, binary, must not reproduce a home to 4 decimals."""
    data = database_bytes(database)
    assert data
    for lat, lon in HOMES + far_homes:
        for form in _text_forms(lat) + _text_forms(lon) + _binary_forms(lat) + _binary_forms(lon):
            assert form not in data, (lat, lon, form)
    shown = np.array(peek(database, "SELECT lat, lon FROM posts"))
    assert len(shown) == 3 * len(HOMES) + 5 * len(far_homes)
    assert _pair_present(shown[:, 0], shown[:, 1], far_homes) == []


def test_no_exact_point_in_logs_or_command_output(
    imported: tuple[str, Path], caplog: pytest.LogCaptureFixture, far_homes: list[tuple[float, float]]
) -> None:
    output, _ = imported
    logged = "\n".join(r.getMessage() for r in caplog.records) + output
    assert "imported 35 posts" in logged
    for lat, lon in HOMES + far_homes:
        for form in _text_forms(lat) + _text_forms(lon):
            assert form.decode() not in logged


@pytest.mark.parametrize("fmt", ["geojson", "csv", "gpkg"])
def test_no_exact_point_in_any_export(
    imported: tuple[str, Path], cli: Cli, fmt: str, far_homes: list[tuple[float, float]]
) -> None:
    _, folder = imported
    out = folder / f"export.{fmt}"
    result = cli("export", "--format", fmt, "-o", str(out))
    assert result.exit_code == 0, result.output
    frame = pyogrio.read_dataframe(out) if fmt != "csv" else None
    if frame is not None:
        lats, lons = frame.geometry.y.to_numpy(), frame.geometry.x.to_numpy()
    else:
        import pandas as pd

        table = pd.read_csv(out)
        lats, lons = table["lat"].to_numpy(), table["lon"].to_numpy()
    assert len(lats) == 3 * len(HOMES) + 5 * len(far_homes)
    assert _pair_present(lats, lons, far_homes) == []
    data = out.read_bytes()
    for lat, lon in HOMES + far_homes:
        # A lone coordinate at 4-5 decimals can match by chance (the shown point is in the same cell);
        # the full-precision values and any spelled-out pair cannot.
        forms = _text_forms(lat)[2:] + _text_forms(lon)[2:] + _binary_forms(lat) + _binary_forms(lon)
        for form in forms + _pair_texts(lat, lon):
            assert form not in data, (lat, lon, form)
