"""Posts within walking distance of a cell: the one query behind ``/near/<cell>`` and ``GET /api/v1/posts``.

Walking distance is worked out on cells (a few hundred around the origin), then posts are read by
``cell IN (...)`` through the cell index, so the cost depends on the neighbourhood, not on the city.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import numpy.typing as npt
import pandas as pd

from mapaid.models import FloatArray, IntArray
from mapaid.queryargs import Filters
from mapaid.store import Store
from mapaid.walking import Walking, source_names


@dataclass(frozen=True)
class Query:
    """What a resident asked: from which cell, how far, which posts (``mapaid.queryargs``; empty: all)."""

    cell: int
    within_m: int
    filters: Filters = field(default_factory=Filters)


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
        kind=list(query.filters.kind),
        category=list(query.filters.category),
        district=list(query.filters.district),
    )
    # a post's walk is its cell's, found by binary search on sorted ids
    walk, network = reach.lookup(posts["cell"].to_numpy(dtype=np.int64))
    order = np.argsort(walk, kind="stable")  # nearest, then by id: the store reads them in id order
    posts = posts.iloc[order].reset_index(drop=True)
    posts["walk_m"] = walk[order]
    posts["walk_source"] = source_names(network[order])
    return Nearby(posts, cells, metres, reach.network)
