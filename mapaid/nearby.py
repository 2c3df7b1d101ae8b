"""Posts within walking distance of a cell: the one query behind ``/near/<cell>`` and ``GET /api/v1/posts``.

Walking distance is worked out on cells (a few hundred around the origin), then posts are read by
``cell IN (...)`` through the cell index, so the cost depends on the neighbourhood, not on the city.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from mapaid.models import FloatArray, IntArray
from mapaid.queryargs import Filters
from mapaid.spatial import cells_within
from mapaid.store import Store


@dataclass(frozen=True)
class Query:
    """What a resident asked: from which cell, how far, which posts (``mapaid.queryargs``; empty: all)."""

    cell: int
    within_m: int
    filters: Filters = field(default_factory=Filters)


@dataclass(frozen=True)
class Nearby:
    """The answer: ``posts`` (the store's columns plus ``walk_m``, nearest first) and the ``cells``
    within reach (nearest first) with their walking ``metres``, which the map draws."""

    posts: pd.DataFrame
    cells: IntArray
    metres: FloatArray  # walking metres to each of ``cells``


def nearby(store: Store, query: Query, today: date) -> Nearby:
    """Open posts within ``query.within_m`` walking metres, nearest first, ties by id (stable pages)."""
    area = store.area()
    cells, metres = cells_within(query.cell, query.within_m, area)
    posts = store.posts(
        today,
        cell=[str(c) for c in cells.tolist()],
        kind=list(query.filters.kind),
        category=list(query.filters.category),
        district=list(query.filters.district),
    )
    # cells come sorted by distance; a post's walk is its cell's, found by binary search on sorted ids
    by_id = np.argsort(cells)
    post_cells = posts["cell"].to_numpy(dtype=np.int64)
    walk = metres[by_id][np.searchsorted(cells[by_id], post_cells)] if len(posts) else np.empty(0)
    order = np.argsort(walk, kind="stable")  # nearest, then by id: the store reads them in id order
    posts = posts.iloc[order].reset_index(drop=True)
    posts["walk_m"] = walk[order]
    return Nearby(posts, cells, metres)
