"""How many open offers and needs each area holds, for the home map: per district, per coarse H3 cell, per
hexagon of the site. Counts only, never a position finer than the area counted (a cell's centre or a
district's label point, both public), and the same answer for everyone: kept per store revision and day,
never per viewer (mapaid.cache).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import h3.api.basic_int as h3
import numpy as np
import pandas as pd

from mapaid.cache import SharedCache
from mapaid.store import Store

DISTRICT = "district"
COARSE_RES = (7, 8)  # ~5 km² and ~0.7 km² cells between the districts and the site's own hexagons
_COUNTS: SharedCache[dict[str, Any]] = SharedCache("area counts", 32)


def levels(site_res: int) -> list[str]:
    """The levels the home map asks for, coarsest first: districts, coarse cells, the site's hexagons."""
    return [DISTRICT, *(str(r) for r in COARSE_RES if r < site_res), str(site_res)]


def parse_level(text: str | None, site_res: int) -> str:
    value = (text or DISTRICT).strip().lower()
    if value not in levels(site_res):
        raise ValueError(f"res must be one of {', '.join(levels(site_res))}")
    return value


def counts(store: Store, today: date, level: str, database: str) -> dict[str, Any]:
    """The counts at ``level`` (``parse_level``), made once per revision, day and level."""
    return _COUNTS.get_or_make(
        lambda: _counts(store, today, level),
        database=database,
        revision=store.revision(),
        day=today,
        res=level,
    )


def _tally(keys: pd.Series, kinds: pd.Series) -> pd.DataFrame:
    table = pd.crosstab(keys, kinds)
    for kind in ("offer", "need"):
        if kind not in table.columns:
            table[kind] = 0
    return table.sort_index()


def _counts(store: Store, today: date, level: str) -> dict[str, Any]:
    area = store.area()
    posts = store.posts(today)
    areas: list[list[Any]] = []
    if level == DISTRICT:
        table = _tally(posts["district"].astype(str), posts["kind"].astype(str))
        points = area.districts.set_index("slug").geometry.representative_point()
        for slug, offers, needs in zip(table.index, table["offer"], table["need"], strict=True):
            at = points[slug]
            areas.append([str(slug), int(offers), int(needs), round(at.y, 5), round(at.x, 5)])
    else:
        res = int(level)
        cells = posts["cell"].to_numpy(dtype=np.int64)
        unique, inverse = np.unique(cells, return_inverse=True)  # a few thousand cells, not every post
        lifted = np.array([h3.cell_to_parent(int(c), res) for c in unique.tolist()], dtype=np.int64)
        parents = pd.Series(lifted[inverse] if len(cells) else lifted, dtype=np.int64)
        table = _tally(parents, posts["kind"].astype(str).reset_index(drop=True))
        for cell, offers, needs in zip(table.index, table["offer"], table["need"], strict=True):
            lat, lon = h3.cell_to_latlng(int(cell))
            areas.append([h3.int_to_str(int(cell)), int(offers), int(needs), round(lat, 5), round(lon, 5)])
    return {"level": level, "areas": areas}


def total(payload: dict[str, Any]) -> tuple[int, int]:
    """Offers and needs in all areas of a payload (for tests and the bench)."""
    return sum(a[1] for a in payload["areas"]), sum(a[2] for a in payload["areas"])
