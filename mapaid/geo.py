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


MAX_TABLE_RES = 11  # the finest resolution the settings allow (MAPAID_CELL_RES)
_RES_SHIFT, _RES_MASK = 52, 0xF  # where an H3 index keeps its resolution


def resolutions(cells: IntArray) -> IntArray:
    """The H3 resolution of each cell, read from the index bits (vectorised ``h3.get_resolution``)."""
    return np.asarray((cells >> _RES_SHIFT) & _RES_MASK, dtype=np.int64)


@dataclass(frozen=True)
class CellTable:
    """Every cell that touches the served area at one resolution, with its district join and metric centre,
    as sorted parallel arrays.

    Built once for the whole area, never grown by the cells someone asks about: a lookup is a binary
    search that takes the same time for every cell and leaves nothing behind, so the server keeps no list of
    the cells anyone viewed or posted in (mapaid.cache). For Minsk at resolution 9 that is 4,201 cells out
    of a 4,495-cell cover, about 0.3 s to build and 150 KB to keep."""

    res: int
    cells: IntArray  # sorted
    code: IntArray  # index of the district in Area.slugs
    covered: npt.NDArray[np.bool_]  # the whole hexagon lies inside the served area
    inside: npt.NDArray[np.bool_]  # the whole hexagon lies inside its district
    x: FloatArray  # centre in the area's metric CRS
    y: FloatArray

    def find(self, cells: IntArray) -> tuple[IntArray, npt.NDArray[np.bool_]]:
        """Row of each cell in the table and whether it is there at all."""
        if len(self.cells) == 0:
            return np.zeros(len(cells), dtype=np.int64), np.zeros(len(cells), dtype=bool)
        at = np.minimum(np.searchsorted(self.cells, cells), len(self.cells) - 1)
        return at, self.cells[at] == cells


@dataclass
class Area:
    """The served area: districts in EPSG:4326 with slugs and names, plus a metric CRS."""

    districts: gpd.GeoDataFrame
    metric_crs: pyproj.CRS
    # One Area serves every thread of the web server. GEOS builds a prepared geometry's indexes lazily on
    # its first queries, and shapely runs those queries without the GIL: two threads at once can crash the
    # process. Every query on the prepared districts or union, and the building of a table, holds this.
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _tables: dict[int, CellTable] = field(default_factory=dict, repr=False)

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

    def table(self, res: int) -> CellTable:
        """The cells of the whole area at ``res`` (see ``CellTable``), built on first use."""
        if not 0 <= res <= MAX_TABLE_RES:
            raise ValueError(f"no cell table finer than resolution {MAX_TABLE_RES} (asked for {res})")
        with self._lock:
            table = self._tables.get(res)
            if table is None:
                table = self._tables[res] = self._build(res)
            return table

    def cover(self, res: int) -> IntArray:
        """Sorted cells whose hexagon may touch the area: the H3 cover of the area grown by two edges."""
        edge_deg = float(h3.average_hexagon_edge_length(res, "km")) / 111.0 * 2
        with self._lock:
            grown = shapely.buffer(self.union, edge_deg)
        cells: set[int] = set()
        for polygon in shapely.get_parts(grown):
            cells.update(int(c) for c in h3.geo_to_cells(polygon.__geo_interface__, res))
        return np.array(sorted(cells), dtype=np.int64)

    def _build(self, res: int) -> CellTable:
        cover = self.cover(res)
        code, covered, inside = self._compute(cover)
        keep = code >= 0
        cells = cover[keep]
        x, y = self.to_metric(*cell_centres(cells))
        return CellTable(res, cells, code[keep], covered[keep], inside[keep], x, y)

    def _rows(self, cells: IntArray) -> list[tuple[CellTable, IntArray, IntArray, npt.NDArray[np.bool_]]]:
        """Per resolution present in ``cells``: its table, which positions of ``cells`` have it, their
        rows in the table and whether they are in it."""
        cells = np.asarray(cells, dtype=np.int64)
        res = resolutions(cells)
        out = []
        for r in np.unique(res).tolist():
            where = np.flatnonzero(res == r)
            table = self.table(int(r))
            at, found = table.find(cells[where])
            out.append((table, where, at, found))
        return out

    def cell_districts(self, cells: IntArray) -> tuple[IntArray, npt.NDArray[np.bool_]]:
        """District code per cell (-1: none) and whether the whole cell is inside the served area."""
        code = np.full(len(cells), -1, dtype=np.int64)
        covered = np.zeros(len(cells), dtype=bool)
        for table, where, at, found in self._rows(cells):
            code[where[found]] = table.code[at[found]]
            covered[where[found]] = table.covered[at[found]]
        return code, covered

    def cell_info(self, cells: IntArray) -> list[CellInfo | None]:
        """Per cell: its district and shape, or None where the cell touches no district. Made afresh on
        every call (the shape is cut on first use of each CellInfo), so nothing remembers the cells."""
        cells = np.asarray(cells, dtype=np.int64)
        code, covered = self.cell_districts(cells)
        inside = np.zeros(len(cells), dtype=bool)
        for table, where, at, found in self._rows(cells):
            inside[where[found]] = table.inside[at[found]]
        geoms = np.asarray(self.districts.geometry.values)
        known = np.flatnonzero(code >= 0)
        infos: list[CellInfo | None] = [None] * len(cells)
        for i, hexagon in zip(known.tolist(), cell_polygons(cells[known]), strict=True):
            c = int(code[i])
            infos[i] = CellInfo(c, self.slugs[c], bool(covered[i]), bool(inside[i]), hexagon, geoms[c])
        return infos

    def metric_centres(self, cells: IntArray) -> tuple[FloatArray, FloatArray]:
        """Cell centres in the metric CRS: from the tables where the cells touch the area, computed (and
        not kept) for the rest, such as the far side of a walking-distance disk at the city edge."""
        cells = np.asarray(cells, dtype=np.int64)
        x, y = np.empty(len(cells)), np.empty(len(cells))
        missing = np.ones(len(cells), dtype=bool)
        for table, where, at, found in self._rows(cells):
            x[where[found]], y[where[found]] = table.x[at[found]], table.y[at[found]]
            missing[where[found]] = False
        if missing.any():
            x[missing], y[missing] = self.to_metric(*cell_centres(cells[missing]))
        return x, y

    def _compute(self, cells: IntArray) -> tuple[IntArray, npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        """District by the cell centre; where the centre is outside, by the largest overlap. Vectorised
        per district, because a table holds thousands of cells."""
        hexes = cell_polygons(cells)
        lon, lat = cell_centres(cells)
        geoms = np.asarray(self.districts.geometry.values)
        code = np.full(len(cells), -1, dtype=np.int64)
        with self._lock:
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
