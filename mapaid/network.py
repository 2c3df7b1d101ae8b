"""Walking distances between the centres of the served cells, on the street graph (mapaid/osmgraph.py).

Each cell centre is snapped to its nearest graph node (a k-d tree); the snapping distance is added at
both ends of a walk, and a centre more than ``SNAP_MAX_M`` from any walkable way, or outside the part of
the world the OSM file covers, leaves its cell *not covered* (its walks stay estimates, mapaid/walking.py).

Then, from every covered cell, the shortest paths up to ``LIMIT_M`` (scipy's C Dijkstra with ``limit``,
many sources at once). Cells are taken in square tiles ``TILE_M`` wide, and each tile's searches run on
the graph cut to the tile grown by ``LIMIT_M``: a path no longer than that cannot leave the grown tile
(every segment is at least as long as the straight line it spans), so the cut loses no path, and the
distance matrix Dijkstra returns stays tile-sized rather than city-sized.

Before the searches, chains of nodes of degree 2 (bends, densifying points) are contracted into single
edges (``contract``): the same distances between the nodes cells snap to, several times fewer nodes.

The result is ``Distances``: per covered cell (sorted), the covered cells within ``LIMIT_M`` on foot and
the metres, as int64 ids and uint16 decimetres (10 bytes a pair: ~230 KB per 1,000 cells in central
Minsk at resolution 9, see bench/bench_network.py), which the store keeps and the walking module reads.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, dijkstra
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
    covered = np.zeros(len(cells), dtype=bool)
    node = np.zeros(len(cells), dtype=np.int64)
    if len(candidates) == 0:
        return covered, node, np.full(len(cells), np.inf)
    tree = cKDTree(np.column_stack([graph.x[candidates], graph.y[candidates]]))
    metres, found = tree.query(np.column_stack([x, y]), distance_upper_bound=SNAP_MAX_M)
    at = np.asarray(found, dtype=np.int64)
    near = np.flatnonzero(metres <= SNAP_MAX_M)
    lon, lat = cell_centres(cells[near])
    west, south, east, north = graph.box
    covered[near] = (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)
    node[near] = candidates[at[near]]
    return covered, node, np.asarray(metres, dtype=np.float64)


def contract(edges: sp.csr_matrix, keep: npt.NDArray[np.bool_]) -> sp.csr_matrix:
    """The same walks between the nodes marked ``keep`` on a smaller graph: every chain of other nodes of
    degree 2 (the bends of a way, the points densifying a long segment) becomes one edge as long as the
    chain, between the two nodes it joins. A chain has one way through, so no shortest path between kept
    nodes changes; Dijkstra then visits several times fewer nodes."""
    degree = np.diff(edges.indptr)
    keep = keep | (degree != 2)
    coo = sp.triu(edges, k=1).tocoo()
    u, v, w = coo.row.astype(np.int64), coo.col.astype(np.int64), coo.data
    inner = ~keep[u] & ~keep[v]  # both ends on a chain
    n = edges.shape[0]
    chains = sp.csr_matrix((np.ones(int(inner.sum())), (u[inner], v[inner])), shape=(n, n))
    _, label = connected_components(chains, directed=False)
    boundary = keep[u] ^ keep[v]  # one end kept, the other on a chain
    end = np.where(keep[u], u, v)[boundary]
    chain = label[np.where(keep[u], v, u)[boundary]]
    length = np.bincount(label[u[inner]], weights=w[inner], minlength=n)
    order = np.argsort(chain, kind="stable")
    end, chain, bw = end[order], chain[order], w[boundary][order]
    ends = np.bincount(chain, minlength=n)
    pair = np.flatnonzero(ends == 2)  # chains joining two kept nodes (a dead end has degree 1, so is kept)
    first = np.searchsorted(chain, pair)
    a, b = end[first], end[first + 1]
    total = length[pair] + bw[first] + bw[first + 1]
    both = keep[u] & keep[v]
    lo = np.concatenate([u[both], np.minimum(a, b)])
    hi = np.concatenate([v[both], np.maximum(a, b)])
    metres = np.concatenate([w[both], total])
    loop = lo == hi
    lo, hi, metres = lo[~loop], hi[~loop], metres[~loop]
    # two routes between the same nodes: keep the shorter (a CSR matrix would add them up)
    order = np.lexsort((metres, hi, lo))
    lo, hi, metres = lo[order], hi[order], metres[order]
    first_of = np.ones(len(lo), dtype=bool)
    first_of[1:] = (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])
    lo, hi, metres = lo[first_of], hi[first_of], metres[first_of]
    return sp.csr_matrix(
        (np.concatenate([metres, metres]), (np.concatenate([lo, hi]), np.concatenate([hi, lo]))), shape=(n, n)
    )


def cell_distances(graph: Graph, area: Area, res: int, progress: Progress | None = None) -> Distances:
    """Walking metres between the centres of all covered cells of the area at ``res``, up to ``LIMIT_M``."""
    cells = area.table(res).cells
    covered, node, snap_m = snap(graph, area, cells)
    cells, node, snap_m = cells[covered], node[covered], snap_m[covered]
    if len(cells) == 0:
        return empty()
    ends = np.zeros(graph.nodes, dtype=bool)
    ends[node] = True
    small = contract(graph.edges, ends)
    present = np.diff(small.indptr) > 0
    present[node] = True
    nx, ny = graph.x[node], graph.y[node]
    tile = np.floor(nx / TILE_M).astype(np.int64) * 1_000_003 + np.floor(ny / TILE_M).astype(np.int64)
    owners: list[IntArray] = []
    partners: list[IntArray] = []
    metres: list[FloatArray] = []
    for key in np.unique(tile).tolist():
        mine = np.flatnonzero(tile == key)
        a, b, m = _tile_paths(graph, small, present, mine, node, snap_m)
        owners.append(a)
        partners.append(b)
        metres.append(m)
        if progress is not None:
            progress(len(mine))
    return _pack(cells, snap_m, np.concatenate(owners), np.concatenate(partners), np.concatenate(metres))


def _tile_paths(
    graph: Graph,
    edges: sp.csr_matrix,
    present: npt.NDArray[np.bool_],
    mine: IntArray,
    node: IntArray,
    snap_m: FloatArray,
) -> tuple[IntArray, IntArray, FloatArray]:
    """Pairs (source cell, other cell, metres) for the cells ``mine`` of one tile (indexes of covered
    cells)."""
    x, y = graph.x[node[mine]], graph.y[node[mine]]
    west, east, south, north = x.min() - LIMIT_M, x.max() + LIMIT_M, y.min() - LIMIT_M, y.max() + LIMIT_M
    box = (graph.x >= west) & (graph.x <= east) & (graph.y >= south) & (graph.y <= north)
    inside = np.flatnonzero(box & present)
    local = np.full(graph.nodes, -1, dtype=np.int64)
    local[inside] = np.arange(len(inside))
    sub = edges[inside][:, inside]
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
    order = np.argsort(a, kind="stable")  # by source cell; the walking module sorts by metres itself
    a, b, metres = a[order], b[order], metres[order]
    start = np.searchsorted(a, np.arange(len(cells) + 1))
    decimetres = np.minimum(np.round(metres * 10), np.iinfo(np.uint16).max).astype(np.uint16)
    return Distances(cells, snap_m, start.astype(np.int64), cells[b], decimetres)
