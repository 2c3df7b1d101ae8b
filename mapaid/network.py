"""Walking distances between the centres of the served cells, on the street graph (mapaid/osmgraph.py).

Each cell centre is snapped to its nearest graph node (a k-d tree); the snapping distance is added at
both ends of a walk, and a centre more than ``SNAP_MAX_M`` from any walkable way, or outside the part of
the world the OSM file covers, leaves its cell *not covered* (its walks stay estimates, mapaid/walking.py).

Then, from every covered cell, the shortest paths up to ``LIMIT_M`` (scipy's C Dijkstra with ``limit``,
many sources at once). Cells are taken in square tiles ``TILE_M`` wide, and each tile's searches run on
the graph cut to the tile grown by ``LIMIT_M``: a path no longer than that cannot leave the grown tile
(every segment is at least as long as the straight line it spans), so the cut loses no path, and the
distance matrix Dijkstra returns stays tile-sized rather than city-sized.

The result is ``Distances``: per covered cell (sorted), the covered cells within ``LIMIT_M`` on foot and
the metres, as int64 ids and uint16 decimetres (10 bytes a pair; ~0.5 MB per 1,000 cells at resolution 9,
see bench/bench_network.py), which the store keeps and the walking module looks up.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from mapaid.geo import Area, cell_centres
from mapaid.models import FloatArray, IntArray
from mapaid.osmgraph import Graph
from mapaid.walkpairs import Distances, empty

LIMIT_M = 1500.0
SNAP_MAX_M = 150.0  # a cell's centre further than this from any walkable way is not covered
TILE_M = 1000.0
Progress = Callable[[int], None]


def snap(graph: Graph, area: Area, cells: IntArray) -> tuple[npt.NDArray[np.bool_], IntArray, FloatArray]:
    """Per cell: covered or not, its nearest node of the graph's main pieces and the metres to it."""
    x, y = area.metric_centres(cells)
    candidates = np.flatnonzero(graph.main)
    if len(candidates) == 0:
        return (
            np.zeros(len(cells), dtype=bool),
            np.zeros(len(cells), dtype=np.int64),
            np.full(len(cells), np.inf),
        )
    tree = cKDTree(np.column_stack([graph.x[candidates], graph.y[candidates]]))
    metres, at = tree.query(np.column_stack([x, y]))
    lon, lat = cell_centres(cells)
    west, south, east, north = graph.box
    inside = (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)
    covered = inside & (metres <= SNAP_MAX_M)
    return covered, candidates[at], np.asarray(metres, dtype=np.float64)


def cell_distances(graph: Graph, area: Area, res: int, progress: Progress | None = None) -> Distances:
    """Walking metres between the centres of all covered cells of the area at ``res``, up to ``LIMIT_M``."""
    cells = area.table(res).cells
    covered, node, snap_m = snap(graph, area, cells)
    cells, node, snap_m = cells[covered], node[covered], snap_m[covered]
    if len(cells) == 0:
        return empty()
    nx, ny = graph.x[node], graph.y[node]
    tile = np.floor(nx / TILE_M).astype(np.int64) * 1_000_003 + np.floor(ny / TILE_M).astype(np.int64)
    owners: list[IntArray] = []
    partners: list[IntArray] = []
    metres: list[FloatArray] = []
    for key in np.unique(tile).tolist():
        mine = np.flatnonzero(tile == key)
        a, b, m = _tile_paths(graph, mine, node, snap_m, nx, ny)
        owners.append(a)
        partners.append(b)
        metres.append(m)
        if progress is not None:
            progress(len(mine))
    return _pack(cells, snap_m, np.concatenate(owners), np.concatenate(partners), np.concatenate(metres))


def _tile_paths(
    graph: Graph, mine: IntArray, node: IntArray, snap_m: FloatArray, nx: FloatArray, ny: FloatArray
) -> tuple[IntArray, IntArray, FloatArray]:
    """Pairs (source cell, other cell, metres) for the cells ``mine`` of one tile (indexes of covered
    cells)."""
    west, east = nx[mine].min() - LIMIT_M, nx[mine].max() + LIMIT_M
    south, north = ny[mine].min() - LIMIT_M, ny[mine].max() + LIMIT_M
    inside = np.flatnonzero((graph.x >= west) & (graph.x <= east) & (graph.y >= south) & (graph.y <= north))
    local = np.full(graph.nodes, -1, dtype=np.int64)
    local[inside] = np.arange(len(inside))
    sub = graph.edges[inside][:, inside]
    sources, source_of = np.unique(local[node[mine]], return_inverse=True)
    found = dijkstra(sub, directed=False, indices=sources, limit=LIMIT_M)
    targets = np.flatnonzero(local[node] >= 0)
    between = found[source_of][:, local[node[targets]]]  # (cells of the tile, reachable cells)
    total = between + snap_m[mine][:, None] + snap_m[targets][None, :]
    i, j = np.nonzero(total <= LIMIT_M)
    a, b = mine[i], targets[j]
    keep = a != b
    return a[keep], b[keep], total[i, j][keep]


def _pack(cells: IntArray, snap_m: FloatArray, a: IntArray, b: IntArray, metres: FloatArray) -> Distances:
    order = np.lexsort((metres, a))
    a, b, metres = a[order], b[order], metres[order]
    start = np.searchsorted(a, np.arange(len(cells) + 1))
    decimetres = np.minimum(np.round(metres * 10), np.iinfo(np.uint16).max).astype(np.uint16)
    return Distances(cells, snap_m, start.astype(np.int64), cells[b], decimetres)
