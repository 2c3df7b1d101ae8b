"""Coordinate systems and the served area (the district polygons), in one place.

Districts are kept in EPSG:4326 for storage and output; metric work (areas, distances) happens in a
UTM zone chosen for the area with pyproj, as osmnx's ``projection`` module does it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import geopandas as gpd
import h3.api.basic_int as h3
import numpy as np
import numpy.typing as npt
import pyproj
import shapely
from pyproj.aoi import AreaOfInterest
from pyproj.database import query_utm_crs_info
from shapely.geometry.base import BaseGeometry

from mapaid.models import District, FloatArray, IntArray

WGS84 = "EPSG:4326"


def choose_metric_crs(bounds: Sequence[float]) -> pyproj.CRS:
    """The WGS 84 / UTM zone that contains the centre of ``bounds`` (west, south, east, north)."""
    west, south, east, north = bounds
    lon, lat = (west + east) / 2, (south + north) / 2
    infos = query_utm_crs_info(
        datum_name="WGS 84",
        area_of_interest=AreaOfInterest(lon, lat, lon, lat),
    )
    if not infos:  # pragma: no cover - only outside the UTM band (polar areas)
        raise ValueError(f"no UTM zone covers {lon:.3f}, {lat:.3f}")
    return pyproj.CRS.from_epsg(int(infos[0].code))


def cell_polygons(cells: IntArray) -> np.ndarray:
    """Shapely hexagons (lon/lat) for H3 cells (pentagons and distorted cells have other vertex counts)."""
    if len(cells) == 0:
        return np.array([], dtype=object)
    boundaries = [h3.cell_to_boundary(c) for c in cells.tolist()]
    counts = np.fromiter(map(len, boundaries), dtype=np.int64, count=len(boundaries))
    latlng = np.array([p for b in boundaries for p in b], dtype=np.float64)
    rings = shapely.linearrings(latlng[:, ::-1], indices=np.repeat(np.arange(len(cells)), counts))
    return np.asarray(shapely.polygons(rings))


def cell_centres(cells: IntArray) -> tuple[FloatArray, FloatArray]:
    """Centre lon and lat arrays of H3 cells."""
    if len(cells) == 0:
        return np.empty(0), np.empty(0)
    lat, lon = np.array([h3.cell_to_latlng(int(c)) for c in cells]).T
    return lon, lat


@dataclass(frozen=True)
class CellInfo:
    """What the served area says about one cell: its district and the part of it inside that district."""

    code: int  # index of the district in Area.slugs
    district: str
    covered: bool  # the whole hexagon lies inside the served area
    inside: bool  # the whole hexagon lies inside its district
    hexagon: BaseGeometry = field(repr=False)
    district_geometry: BaseGeometry = field(repr=False)

    @cached_property
    def shape(self) -> BaseGeometry:
        """cell ∩ district, where displayed positions go. Computed on first use: the district join of
        an import does not need it, and cutting a hexagon out of a detailed border is the slow part."""
        if self.inside:
            return self.hexagon
        return shapely.intersection(self.hexagon, self.district_geometry)


@dataclass
class Area:
    """The served area: districts in EPSG:4326 with slugs and names, plus a metric CRS."""

    districts: gpd.GeoDataFrame
    metric_crs: pyproj.CRS
    _cells: dict[int, CellInfo | None] = field(default_factory=dict, repr=False)
    # One Area serves every thread of the web server. GEOS builds a prepared geometry's indexes lazily on
    # its first queries, and shapely runs those queries without the GIL: two threads at once can crash the
    # process. Every query on the prepared districts or union, and every update of the caches, holds this.
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    # The district join of every cell met so far, as sorted parallel arrays (cell, code, covered, inside):
    # an import of a million points looks its cells up here without a Python object per cell.
    _join: tuple[IntArray, IntArray, npt.NDArray[np.bool_], npt.NDArray[np.bool_]] = field(
        default_factory=lambda: (
            np.empty(0, np.int64),
            np.empty(0, np.int64),
            np.empty(0, bool),
            np.empty(0, bool),
        ),
        repr=False,
    )

    @classmethod
    def from_frame(cls, frame: gpd.GeoDataFrame, metric_epsg: int | None = None) -> Area:
        crs = pyproj.CRS.from_epsg(metric_epsg) if metric_epsg else choose_metric_crs(frame.total_bounds)
        frame = frame.reset_index(drop=True)
        shapely.prepare(frame.geometry.values)
        return cls(districts=frame, metric_crs=crs)

    @cached_property
    def union(self) -> BaseGeometry:
        geom = shapely.union_all(self.districts.geometry.values)
        shapely.prepare(geom)
        return geom

    @cached_property
    def slugs(self) -> list[str]:
        return [str(s) for s in self.districts["slug"]]

    @cached_property
    def by_slug(self) -> dict[str, District]:
        out = {}
        for row in self.districts.itertuples():
            rid = getattr(row, "osm_relation_id", None)
            out[str(row.slug)] = District(
                slug=str(row.slug),
                name_be=str(row.name_be),
                name_ru=str(row.name_ru),
                name_en=str(row.name_en),
                osm_relation_id=None if rid is None or rid != rid else int(rid),
            )
        return out

    def contains(self, lon: FloatArray, lat: FloatArray) -> np.ndarray:
        """Which points fall inside some district (boundary included)."""
        with self._lock:
            return np.asarray(shapely.intersects_xy(self.union, lon, lat))

    def cell_info(self, cells: IntArray) -> list[CellInfo | None]:
        """Per cell: its district and shape, or None where the cell touches no district. Cached per cell."""
        with self._lock:
            missing = np.array(
                [c for c in dict.fromkeys(cells.tolist()) if c not in self._cells], dtype=np.int64
            )
            if len(missing):
                code, covered, inside = self._lookup(missing)
                geoms = np.asarray(self.districts.geometry.values)
                for cell, c, cov, ins, hexagon in zip(
                    missing.tolist(),
                    code.tolist(),
                    covered.tolist(),
                    inside.tolist(),
                    cell_polygons(missing),
                    strict=True,
                ):
                    self._cells[cell] = (
                        None if c < 0 else CellInfo(c, self.slugs[c], cov, ins, hexagon, geoms[c])
                    )
            return [self._cells[c] for c in cells.tolist()]

    def cell_districts(self, cells: IntArray) -> tuple[IntArray, npt.NDArray[np.bool_]]:
        """District code per cell (-1: none) and whether the whole cell is inside the served area."""
        code, covered, _ = self._lookup(cells)
        return code, covered

    def _lookup(self, cells: IntArray) -> tuple[IntArray, npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        with self._lock:
            known, *_ = self._join
            at = np.minimum(np.searchsorted(known, cells), max(len(known) - 1, 0))
            new = np.unique(cells[known[at] != cells]) if len(known) else np.unique(cells)
            if len(new):
                merged = [
                    np.concatenate(pair) for pair in zip(self._join, (new, *self._compute(new)), strict=True)
                ]
                order = np.argsort(merged[0], kind="stable")
                self._join = (merged[0][order], merged[1][order], merged[2][order], merged[3][order])
                known = self._join[0]
                at = np.searchsorted(known, cells)
            _, code, covered, inside = self._join
            return code[at], covered[at], inside[at]

    def _compute(self, cells: IntArray) -> tuple[IntArray, npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        """District by the cell centre; where the centre is outside, by the largest overlap. Vectorised
        per district, because an import meets thousands of new cells at once."""
        hexes = cell_polygons(cells)
        lon, lat = cell_centres(cells)
        geoms = np.asarray(self.districts.geometry.values)
        code = np.full(len(cells), -1, dtype=np.int64)
        for k, geom in enumerate(geoms):
            code[(code < 0) & shapely.intersects_xy(geom, lon, lat)] = k
        for i in np.flatnonzero(code < 0).tolist():
            overlaps = shapely.area(shapely.intersection(geoms, hexes[i]))
            if overlaps.max() > 0:
                code[i] = int(np.argmax(overlaps))
        inside = np.zeros(len(cells), dtype=bool)
        for k, geom in enumerate(geoms):
            mask = code == k
            inside[mask] = shapely.contains(geom, hexes[mask])
        edge = np.flatnonzero(~inside & (code >= 0))
        covered = inside.copy()
        covered[edge] = shapely.contains(self.union, hexes[edge])
        return code, covered, inside

    def to_metric(self, lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
        x, y = self._to_metric.transform(lon, lat)
        return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)

    @cached_property
    def _to_metric(self) -> pyproj.Transformer:
        return pyproj.Transformer.from_crs(WGS84, self.metric_crs, always_xy=True)
