"""Posts within walking distance of a cell: the one query behind ``/near/<cell>`` and ``GET /api/v1/posts``.

Walking distance is worked out on cells (a few hundred around the origin), then posts are read by
``cell IN (...)`` through the cell index, so the cost depends on the neighbourhood, not on the city.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import h3.api.basic_int as h3
import numpy as np
import numpy.typing as npt
import pandas as pd

from mapaid.geo import Area
from mapaid.intake import h3_cell
from mapaid.messages import N_, Message
from mapaid.models import FloatArray, IntArray
from mapaid.spatial import WITHIN_CHOICES
from mapaid.store import Store
from mapaid.walking import Walking, source_names


class BadCell(ValueError):
    """A cell id the site cannot use; ``status`` is 400 (malformed) or 404 (outside the served area).
    ``message`` is English that a page can show in its own language (mapaid.messages)."""

    def __init__(self, message: Message, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Query:
    """What a resident asked: from which cell, how far, which kinds and categories (empty: all)."""

    cell: int
    within_m: int
    kinds: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()


def parse_cell(text: str, res: int, area: Area) -> int:
    """An H3 cell id (hex) at the site's resolution inside the served area; a finer one is lifted to its
    parent (a page never needs more than the cell)."""
    cell = h3_cell(text)
    if cell is None:
        raise BadCell(Message(N_("%(value)s is not an H3 cell id"), value=repr(text[:20])))
    if h3.get_resolution(cell) < res:
        coarser = N_("cell %(value)s is coarser than this site's hexagons (resolution %(res)s)")
        raise BadCell(Message(coarser, value=text, res=res))
    if h3.get_resolution(cell) > res:
        cell = h3.cell_to_parent(cell, res)
    if area.cell_districts(np.array([cell], dtype=np.int64))[0][0] < 0:
        raise BadCell(Message(N_("that hexagon is outside the served area")), status=404)
    return int(cell)


def parse_within(text: str | None, default: int) -> int:
    if text in (None, ""):
        return default
    try:
        value = int(str(text))
    except ValueError:
        value = -1
    if value not in WITHIN_CHOICES:
        choices = ", ".join(map(str, WITHIN_CHOICES))
        raise ValueError(Message(N_("within must be one of %(choices)s metres"), choices=choices))
    return value


@dataclass(frozen=True)
class Nearby:
    """The answer: ``posts`` (the store's columns plus ``walk_m`` and ``walk_source``, nearest first) and
    the ``cells`` within reach (nearest first) with their walking ``metres``, which the map draws, and
    whether the street ``network`` measured each (mapaid/walking.py)."""

    posts: pd.DataFrame
    cells: IntArray
    metres: FloatArray  # walking metres to each of ``cells``
    network: npt.NDArray[np.bool_]


def nearby(store: Store, query: Query, today: date) -> Nearby:
    """Open posts within ``query.within_m`` walking metres, nearest first, ties by id (stable pages)."""
    reach = Walking(store.area(), store.walks()).reach(query.cell, query.within_m)
    cells, metres = reach.cells, reach.metres
    posts = store.posts(
        today,
        cell=[str(c) for c in cells.tolist()],
        kind=list(query.kinds),
        category=list(query.categories),
    )
    # a post's walk is its cell's, found by binary search on sorted ids
    walk, network = reach.lookup(posts["cell"].to_numpy(dtype=np.int64))
    order = np.argsort(walk, kind="stable")  # nearest, then by id: the store reads them in id order
    posts = posts.iloc[order].reset_index(drop=True)
    posts["walk_m"] = walk[order]
    posts["walk_source"] = source_names(network[order])
    return Nearby(posts, cells, metres, reach.network)
