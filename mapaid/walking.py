"""How far on foot from cell A to cell B, and how we know: the one walking module.

Two sources, per pair of cells:

- ``network``: both cells are covered by the street graph (``mapaid network build``, mapaid/network.py):
  the shortest path on OpenStreetMap's walkable ways between their centres, snapping distances included,
  looked up in the stored table (pairs up to 1,500 m; a covered pair not in it is further than that).
- ``estimate``: otherwise, the straight line between the cell centres in the area's metric CRS times a
  circuity factor of 1.3 (DESIGN.md), as mapaid did before it had a graph.

Everything here works on whole arrays of cells (the resident's reach on ``/near``, thousands of need and
offer cells for the coordinator's unmet needs), from tables built for the whole area: nothing is kept per
cell anyone asks about (mapaid.cache).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import h3.api.basic_int as h3
import numpy as np
import numpy.typing as npt

from mapaid.geo import Area
from mapaid.models import FloatArray, IntArray
from mapaid.walkpairs import Distances

CIRCUITY = 1.3
NETWORK: Literal["network"] = "network"
ESTIMATE: Literal["estimate"] = "estimate"
Source = Literal["network", "estimate"]
Bools = npt.NDArray[np.bool_]


def source_names(network: Bools) -> list[Source]:
    """``walk_source`` per entry: "network" or "estimate"."""
    return [NETWORK if n else ESTIMATE for n in network.tolist()]


@dataclass(frozen=True)
class Reach:
    """Cells within a walk of an origin, nearest first, with walking ``metres`` and whether each walk
    came from the street ``network`` (else the estimate)."""

    cells: IntArray
    metres: FloatArray
    network: Bools

    def lookup(self, cells: IntArray) -> tuple[FloatArray, Bools]:
        """Metres and network flag for each of ``cells`` (which must be in the reach)."""
        order = np.argsort(self.cells)
        at = order[np.searchsorted(self.cells[order], cells)] if len(cells) else np.empty(0, dtype=np.int64)
        return self.metres[at], self.network[at]


@dataclass(frozen=True)
class Pairs:
    """Pairs ``(a[ia], b[ib])`` within a walk, with metres and whether the street network measured them."""

    ia: IntArray
    ib: IntArray
    metres: FloatArray
    network: Bools


def estimate_m(origin: int, cells: IntArray, area: Area) -> FloatArray:
    """The estimate: straight metres between the centres of ``origin`` and each of ``cells``, x 1.3."""
    ox, oy = area.metric_centres(np.array([origin], dtype=np.int64))
    x, y = area.metric_centres(cells)
    return np.asarray(np.hypot(x - ox[0], y - oy[0]) * CIRCUITY, dtype=np.float64)


def _ring_limit(res: int, straight_m: float) -> int:
    """Grid-disk radius that surely contains every cell centre within ``straight_m`` straight metres.

    Neighbouring centres are about sqrt(3) edge lengths apart; edges vary across the globe, so take a
    generous lower bound of the spacing (0.6 of the average edge)."""
    spacing = math.sqrt(3) * 0.6 * float(h3.average_hexagon_edge_length(res, "m"))
    return math.ceil(straight_m / spacing) + 1


@dataclass(frozen=True)
class Walking:
    """The answer to "how far on foot", for one served area and (if built) its street distances."""

    area: Area
    streets: Distances | None = None

    def covered(self, cells: IntArray) -> Bools:
        """Which cells the street graph covers (their walks to each other are network distances)."""
        cells = np.asarray(cells, dtype=np.int64)
        if self.streets is None or len(self.streets.cells) == 0 or len(cells) == 0:
            return np.zeros(len(cells), dtype=bool)
        known = self.streets.cells
        at = np.minimum(np.searchsorted(known, cells), len(known) - 1)
        return np.asarray(known[at] == cells)

    def _row(self, cell: int) -> int:
        assert self.streets is not None
        return int(np.searchsorted(self.streets.cells, cell))

    def reach(self, origin: int, within_m: float) -> Reach:
        """Cells whose centres are within ``within_m`` walking metres of ``origin``'s, nearest first."""
        disk = np.array(h3.grid_disk(origin, _ring_limit(h3.get_resolution(origin), within_m / CIRCUITY)))
        disk = disk.astype(np.int64)
        metres = estimate_m(origin, disk, self.area)
        keep = metres <= within_m
        network = np.zeros(len(disk), dtype=bool)
        if self.covered(np.array([origin], dtype=np.int64))[0]:
            keep &= ~self.covered(disk)  # covered cells come from the street table, origin included
            near, decimetres = self._streets().row(self._row(origin))
            street_m = decimetres.astype(np.float64) / 10
            close = street_m <= within_m
            disk = np.concatenate([[origin], near[close], disk[keep]])
            metres = np.concatenate([[0.0], street_m[close], metres[keep]])
            network = np.concatenate(
                [np.ones(1 + int(close.sum()), dtype=bool), np.zeros(int(keep.sum()), dtype=bool)]
            )
            keep = np.ones(len(disk), dtype=bool)
        order = np.argsort(metres[keep], kind="stable")
        return Reach(disk[keep][order], metres[keep][order], network[keep][order])

    def _streets(self) -> Distances:
        assert self.streets is not None
        return self.streets

    def pairs(self, a: IntArray, b: IntArray, within_m: float) -> Pairs:
        """Every pair of a cell of ``a`` and a cell of ``b`` (sorted, unique) within ``within_m`` on foot.

        Estimated pairs come from the straight-line search (``straight_pairs``), minus those whose both
        cells are covered; network pairs from the street table rows of the covered cells of ``a``."""
        xa, ya = self.area.metric_centres(a)
        xb, yb = self.area.metric_centres(b)
        ia, ib, dist = straight_pairs((xa, ya), (xb, yb), within_m / CIRCUITY * (1 + 1e-9))
        metres = dist * CIRCUITY
        keep = metres <= within_m  # compared exactly as ``reach`` compares its estimates
        cov_a, cov_b = self.covered(a), self.covered(b)
        keep &= ~(cov_a[ia] & cov_b[ib])
        na, nb, nm = self._street_pairs(a, b, cov_a, cov_b, within_m)
        return Pairs(
            np.concatenate([ia[keep], na]),
            np.concatenate([ib[keep], nb]),
            np.concatenate([metres[keep], nm]),
            np.concatenate([np.zeros(int(keep.sum()), dtype=bool), np.ones(len(na), dtype=bool)]),
        )

    def _street_pairs(
        self, a: IntArray, b: IntArray, cov_a: Bools, cov_b: Bools, within_m: float
    ) -> tuple[IntArray, IntArray, FloatArray]:
        if not cov_a.any() or not cov_b.any():
            empty = np.empty(0, dtype=np.int64)
            return empty, empty, np.empty(0)
        streets = self._streets()
        owners = np.flatnonzero(cov_a)
        rows = np.searchsorted(streets.cells, a[owners])
        owner, position = spans(streets.start[rows], streets.start[rows + 1])
        owner = owners[owner]
        partner = streets.neighbours[position]
        metres = streets.decimetres[position].astype(np.float64) / 10
        at = np.minimum(np.searchsorted(b, partner), len(b) - 1)
        keep = (b[at] == partner) & (metres <= within_m)
        # a cell is 0 m from itself: the table does not list it
        same = np.minimum(np.searchsorted(b, a[owners]), len(b) - 1)
        self_hit = (b[same] == a[owners]) & cov_b[same]
        return (
            np.concatenate([owner[keep], owners[self_hit]]),
            np.concatenate([at[keep], same[self_hit]]),
            np.concatenate([metres[keep], np.zeros(int(self_hit.sum()))]),
        )


def spans(lo: IntArray, hi: IntArray) -> tuple[IntArray, IntArray]:
    """Expand half-open ranges [lo, hi) into (owner, position) pairs, without a Python loop."""
    hits = hi - lo
    owner = np.repeat(np.arange(len(lo), dtype=np.int64), hits)
    position = np.arange(int(hits.sum()), dtype=np.int64) - np.repeat(np.cumsum(hits) - hits - lo, hits)
    return owner, position


STRIPS = 1  # strips per radius: narrower strips compare fewer candidates but cost more searches (measured)


def straight_pairs(
    a: tuple[FloatArray, FloatArray], b: tuple[FloatArray, FloatArray], radius: float
) -> tuple[IntArray, IntArray, FloatArray]:
    """Every pair (i, j) with point ``a[i]`` at most ``radius`` from ``b[j]`` (metric x, y arrays), and
    their distance.

    The points of ``b`` are cut into vertical strips ``radius / STRIPS`` wide and sorted by strip, then y.
    A partner of ``a[i]`` lies in one of the ``2 * STRIPS + 1`` strips around it, within ``radius`` in y:
    one binary search per strip finds that run. No tree, no Python loop over points."""
    (ax, ay), (bx, by) = a, b
    if len(ax) == 0 or len(bx) == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), np.empty(0)
    width = radius / STRIPS
    x0, y0 = min(ax.min(), bx.min()), min(ay.min(), by.min())
    # Sort key: strip number, then y; strips are spaced further apart than any y span.
    spacing = float(max(ay.max(), by.max()) - y0) + 4 * radius + 1
    b_strip = np.floor((bx - x0) / width)
    keys = b_strip * spacing + (by - y0)
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    a_strip = np.floor((ax - x0) / width)
    owners, partners = [], []
    for step in range(-STRIPS, STRIPS + 1):
        base = (a_strip + step) * spacing + (ay - y0)
        lo = np.searchsorted(keys, base - radius, side="left")
        hi = np.searchsorted(keys, base + radius, side="right")
        owner, position = spans(lo, hi)
        owners.append(owner)
        partners.append(order[position])
    ia, ib = np.concatenate(owners), np.concatenate(partners)
    dist = np.hypot(ax[ia] - bx[ib], ay[ia] - by[ib])
    keep = dist <= radius
    return ia[keep], ib[keep], dist[keep]
