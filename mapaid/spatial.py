"""Which cells are within walking distance of which, measured between cell centres in a metric CRS.

Without a street graph, walking distance is the straight line between cell centres times a circuity
factor of 1.3 (DESIGN.md). Because posts are stored by cell, every question here is answered on cells,
a few thousand at most for a city, never on posts.
"""

from __future__ import annotations

import math

import h3.api.basic_int as h3
import numpy as np

from mapaid.geo import Area
from mapaid.models import FloatArray, IntArray

CIRCUITY = 1.3
WALK_M_PER_MIN = 4800 / 60  # 4.8 km/h
WITHIN_CHOICES = (400, 800, 1200)
DEFAULT_WITHIN = 800


def walk_bands(metres: FloatArray | list[float]) -> list[int]:
    """The band a walking distance falls in, as the pages say it: 0 in the resident's own hexagon (the
    same centre), else 1, 2, 3 for "about 5, 10, 15 minutes" (400, 800, 1200 m), whichever is nearest
    (halfway goes to the longer walk). Nearest, not "at most": at resolution 9 the next hexagon's centre is
    about 430 m away, and calling that "about 10 minutes" would double it. The bands are as coarse as the
    hexagons make the estimate: two ends anywhere in their cells move it by minutes, not seconds."""
    values = np.asarray(metres, dtype=float)
    step = WITHIN_CHOICES[0]
    bands = np.clip(np.floor(values / step + 0.5), 1, len(WITHIN_CHOICES))
    return [int(b) for b in np.where(values <= 0, 0, bands).tolist()]


def band_minutes(band: int) -> int:
    """The round minutes a band names: 5, 10, 15 (0 for the own hexagon)."""
    return 0 if band <= 0 else round(WITHIN_CHOICES[band - 1] / WALK_M_PER_MIN)


def walk_minutes(metres: float) -> float:
    return float(metres) / WALK_M_PER_MIN


def cell_uncertainty_m(res: int) -> float:
    """How much a walking distance between two cells may be off: each end anywhere in its cell."""
    return float(2 * h3.average_hexagon_edge_length(res, "m") * CIRCUITY)


def _ring_limit(res: int, within_m: float) -> int:
    """Grid-disk radius that surely contains every cell centre within ``within_m`` walking metres.

    Neighbouring centres are about sqrt(3) edge lengths apart; edges vary across the globe, so take a
    generous lower bound of the spacing (0.6 of the average edge)."""
    spacing = math.sqrt(3) * 0.6 * float(h3.average_hexagon_edge_length(res, "m"))
    return math.ceil(within_m / CIRCUITY / spacing) + 1


def metric_centres(cells: IntArray, area: Area) -> tuple[FloatArray, FloatArray]:
    return area.metric_centres(cells)


def walk_m(origin: int, cells: IntArray, area: Area) -> FloatArray:
    """Estimated walking metres from the centre of ``origin`` to the centre of each of ``cells``."""
    ox, oy = metric_centres(np.array([origin], dtype=np.int64), area)
    x, y = metric_centres(cells, area)
    return np.asarray(np.hypot(x - ox[0], y - oy[0]) * CIRCUITY, dtype=np.float64)


def cells_within(origin: int, within_m: float, area: Area) -> tuple[IntArray, FloatArray]:
    """Cells whose centres are within ``within_m`` walking metres of ``origin``'s, with those metres,
    nearest first."""
    res = h3.get_resolution(origin)
    disk = np.array(h3.grid_disk(origin, _ring_limit(res, within_m)), dtype=np.int64)
    metres = walk_m(origin, disk, area)
    keep = metres <= within_m
    order = np.argsort(metres[keep], kind="stable")
    return disk[keep][order], metres[keep][order]
