"""Walking distance as the pages say it: the choices (400, 800, 1200 m), bands of minutes, uncertainty.

How far it is on foot between two cells, and whether the street graph or the estimate says so, is
mapaid/walking.py's one job; this module only turns metres into the words and numbers people read.
"""

from __future__ import annotations

import h3.api.basic_int as h3
import numpy as np

from mapaid.geo import Area
from mapaid.models import FloatArray, IntArray
from mapaid.walking import CIRCUITY as CIRCUITY  # the estimate's factor, for the benches

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


def metric_centres(cells: IntArray, area: Area) -> tuple[FloatArray, FloatArray]:
    return area.metric_centres(cells)
