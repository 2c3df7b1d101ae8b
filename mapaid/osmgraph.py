"""The pedestrian graph of an OpenStreetMap file: nodes in the area's metric CRS, edges in metres.

Reader: pyosmium (PyPI ``osmium``). It reads all three formats the issue names (.osm XML, .osm.bz2 and
.osm.pbf) with one call, streams ways with their node locations (libosmium, C++: central Minsk's 17 MB of
XML in about 5 s, a whole-city .pbf in seconds more), and gives every way its node ids, so crossings are
exact: two ways meet where they share a node, never where they merely cross on the map (a bridge over a
railway does not join it). pyrosm reads only .pbf and builds GeoDataFrames we would take apart again;
GDAL's OSM driver (pyogrio) gives lines without node ids, so the topology would have to be guessed from
coordinates. The walkable-way rules are in mapaid/walkable.py.

The graph: each walkable way becomes straight segments between consecutive nodes; segments are kept when
an end lies in the served area grown by ``CLIP_MARGIN_M`` (a walk may step just outside the city); a
segment longer than ``MAX_SEGMENT_M`` is split into equal parts, so a cell centre beside a long straight
street snaps to a point on it nearby, not to a crossing far away. Lengths are Euclidean metres in the
area's UTM zone (mapaid/geo.py), so every path is at least as long as the straight line between its ends.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import osmium
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components

from mapaid.geo import Area
from mapaid.models import FloatArray, IntArray
from mapaid.walkable import walkable

SUFFIXES = (".osm", ".osm.bz2", ".osm.pbf", ".pbf")
CLIP_MARGIN_M = 300.0
MAX_SEGMENT_M = 40.0
MIN_COMPONENT_SHARE = 0.05  # pieces smaller than this share of the largest are islands: not snapped to
Progress = Callable[[int], None]


class NetworkError(ValueError):
    """An OSM file we cannot build a walking graph from; the message says why."""


@dataclass(frozen=True)
class Graph:
    """An undirected pedestrian graph: node ``i`` at ``(x[i], y[i])`` (metric CRS), ``edges`` as a
    symmetric CSR matrix of metres, ``main`` marking nodes of the big connected pieces (snapping targets),
    and ``box`` (west, south, east, north; lon/lat) the part of the world the file covers."""

    x: FloatArray
    y: FloatArray
    edges: sp.csr_matrix
    main: npt.NDArray[np.bool_]
    box: tuple[float, float, float, float]
    ways: int

    @property
    def nodes(self) -> int:
        return len(self.x)

    @property
    def segments(self) -> int:
        return int(self.edges.nnz // 2)


@dataclass
class _Ways:
    refs: list[int]
    lon: list[float]
    lat: list[float]
    way: list[int]  # which way each ref belongs to
    count: int = 0


def _check_name(path: Path) -> None:
    if not path.name.lower().endswith(SUFFIXES):
        raise NetworkError(f"{path.name} is not an OpenStreetMap file (.osm, .osm.bz2 or .osm.pbf)")


def read_ways(
    path: Path, progress: Progress | None = None
) -> tuple[_Ways, tuple[float, float, float, float]]:
    """Walkable ways of ``path`` with their node ids and locations, and the file's bounding box."""
    _check_name(path)
    ways = _Ways([], [], [], [])
    try:
        reader = osmium.io.Reader(str(path), osmium.osm.osm_entity_bits.NOTHING)
        box = reader.header().box()
        reader.close()
        processor = (
            osmium.FileProcessor(str(path))
            .with_locations()
            .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
            .with_filter(osmium.filter.KeyFilter("highway"))
        )
        for way in processor:
            if isinstance(way, osmium.osm.Way):
                _take(way, ways)
            if progress is not None and ways.count % 1000 == 0:
                progress(1000)
    except (RuntimeError, osmium.InvalidLocationError) as exc:
        raise NetworkError(f"{path.name} is not OpenStreetMap data we can read ({exc})") from None
    if not ways.count:
        raise NetworkError(f"{path.name} holds no way a person can walk (see mapaid/walkable.py)")
    if box.valid():
        bounds = (box.bottom_left.lon, box.bottom_left.lat, box.top_right.lon, box.top_right.lat)
    else:
        bounds = (min(ways.lon), min(ways.lat), max(ways.lon), max(ways.lat))
    return ways, bounds


def _take(way: osmium.osm.Way, ways: _Ways) -> None:
    tags = {t.k: t.v for t in way.tags}
    if not walkable(tags):
        return
    nodes = [n for n in way.nodes if n.location.valid()]
    if len(nodes) < 2:
        return
    index = ways.count
    ways.count += 1
    for node in nodes:
        ways.refs.append(node.ref)
        ways.lon.append(node.lon)
        ways.lat.append(node.lat)
        ways.way.append(index)


def build_graph(path: Path, area: Area, progress: Progress | None = None) -> Graph:
    """Read, clip and densify: the walking graph of ``path`` over the served area."""
    ways, box = read_ways(path, progress)
    refs = np.asarray(ways.refs, dtype=np.int64)
    _, first, inverse = np.unique(refs, return_index=True, return_inverse=True)
    lon = np.asarray(ways.lon)[first]
    lat = np.asarray(ways.lat)[first]
    x, y = area.to_metric(lon, lat)
    way = np.asarray(ways.way, dtype=np.int64)
    same = way[1:] == way[:-1]
    u, v = inverse[:-1][same], inverse[1:][same]
    near = _near_area(area, x, y)
    keep = (u != v) & (near[u] | near[v])
    u, v = u[keep], v[keep]
    if len(u) == 0:
        raise NetworkError(
            f"{path.name} does not overlap the served area: its ways span "
            f"{lon.min():.3f}..{lon.max():.3f} E, {lat.min():.3f}..{lat.max():.3f} N"
        )
    x, y, u, v = _densify(x, y, u, v)
    return _assemble(x, y, u, v, box, ways.count)


def _near_area(area: Area, x: FloatArray, y: FloatArray) -> npt.NDArray[np.bool_]:
    """Which metric points lie in the served area grown by ``CLIP_MARGIN_M``."""
    union = area.districts.to_crs(area.metric_crs).geometry.union_all().buffer(CLIP_MARGIN_M)
    shapely.prepare(union)
    return np.asarray(shapely.intersects_xy(union, x, y))


def _densify(
    x: FloatArray, y: FloatArray, u: IntArray, v: IntArray
) -> tuple[FloatArray, FloatArray, IntArray, IntArray]:
    """Split segments longer than ``MAX_SEGMENT_M`` into equal parts through new nodes on the line."""
    length = np.hypot(x[v] - x[u], y[v] - y[u])
    parts = np.maximum(1, np.ceil(length / MAX_SEGMENT_M).astype(np.int64))
    long = np.flatnonzero(parts > 1)
    if len(long) == 0:
        return x, y, u, v
    inner = parts[long] - 1  # new nodes per long segment
    owner = np.repeat(long, inner)
    step = np.arange(int(inner.sum())) - np.repeat(np.cumsum(inner) - inner, inner) + 1
    t = step / parts[owner]
    new = len(x) + np.arange(len(owner), dtype=np.int64)
    nx = x[u[owner]] + (x[v[owner]] - x[u[owner]]) * t
    ny = y[u[owner]] + (y[v[owner]] - y[u[owner]]) * t
    # the chain of each long segment: u, new_1 ... new_k, v
    chain_start = np.cumsum(inner) - inner
    seg_u = np.concatenate([u[long], new])  # from u to new_1, and from each new node onward
    after = new + 1
    last = chain_start + inner - 1
    after[last] = v[long]
    seg_v = np.concatenate([new[chain_start], after])
    short = parts == 1
    return (
        np.concatenate([x, nx]),
        np.concatenate([y, ny]),
        np.concatenate([u[short], seg_u]),
        np.concatenate([v[short], seg_v]),
    )


def _assemble(
    x: FloatArray, y: FloatArray, u: IntArray, v: IntArray, box: tuple[float, float, float, float], ways: int
) -> Graph:
    """Symmetric CSR of segment metres (a segment mapped twice counts once, at its shortest), and the
    nodes of the connected pieces big enough to snap to."""
    lo, hi = np.minimum(u, v), np.maximum(u, v)
    order = np.lexsort((np.hypot(x[hi] - x[lo], y[hi] - y[lo]), hi, lo))
    lo, hi = lo[order], hi[order]
    first = np.ones(len(lo), dtype=bool)
    first[1:] = (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])
    lo, hi = lo[first], hi[first]
    metres = np.hypot(x[hi] - x[lo], y[hi] - y[lo])
    n = len(x)
    edges = sp.csr_matrix(
        (np.concatenate([metres, metres]), (np.concatenate([lo, hi]), np.concatenate([hi, lo]))), shape=(n, n)
    )
    used = np.zeros(n, dtype=bool)
    used[lo] = used[hi] = True
    _, label = connected_components(edges, directed=False)
    sizes = np.bincount(label[used], minlength=int(label.max()) + 1)
    main = used & (sizes[label] >= math.ceil(MIN_COMPONENT_SHARE * sizes.max()))
    return Graph(x, y, edges, main, box, ways)
