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
import orjson
import pandas as pd

from mapaid.cache import SharedCache
from mapaid.store import Store

DISTRICT = "district"
COARSE_RES = (7, 8)  # ~5 km² and ~0.7 km² cells between the districts and the site's own hexagons
_COUNTS: SharedCache[dict[str, bytes]] = SharedCache("area counts", 8)


def levels(site_res: int) -> list[str]:
    """The levels the home map asks for, coarsest first: districts, coarse cells, the site's hexagons."""
    return [DISTRICT, *(str(r) for r in COARSE_RES if r < site_res), str(site_res)]


def parse_level(text: str | None, site_res: int) -> str:
    value = (text or DISTRICT).strip().lower()
    if value not in levels(site_res):
        raise ValueError(f"res must be one of {', '.join(levels(site_res))}")
    return value


def counts(store: Store, today: date, level: str, database: str) -> bytes:
    """The counts at ``level`` (``parse_level``) as JSON bytes. Every level is made at once from one
    grouped read of the store (the covering cell index; no post text is read), once per revision and day."""
    made = _COUNTS.get_or_make(
        lambda: _all_levels(store, today), database=database, revision=store.revision(), day=today
    )
    return made[level]


def _all_levels(store: Store, today: date) -> dict[str, bytes]:
    area = store.area()
    tally = store.open_counts(today)
    tally["cell"] = tally["cell"].astype(np.int64)
    site_res = h3.get_resolution(int(tally["cell"].iloc[0])) if len(tally) else 0
    out = {DISTRICT: orjson.dumps(_payload(DISTRICT, _districts(tally, area.districts)))}
    for level in levels(site_res)[1:] if site_res else []:
        res = int(level)
        unique, inverse = np.unique(tally["cell"].to_numpy(), return_inverse=True)
        lifted = np.array([h3.cell_to_parent(int(c), res) for c in unique.tolist()], dtype=np.int64)
        table = _pivot(lifted[inverse], tally)
        areas = []
        for cell, offers, needs in zip(table.index, table["offer"], table["need"], strict=True):
            lat, lon = h3.cell_to_latlng(int(cell))
            areas.append([h3.int_to_str(int(cell)), int(offers), int(needs), round(lat, 5), round(lon, 5)])
        out[level] = orjson.dumps(_payload(level, areas))
    return _Levels(out)


class _Levels(dict[str, bytes]):
    """Levels with no open post at all answer with no areas (an empty store has no resolution yet)."""

    def __missing__(self, level: str) -> bytes:
        return orjson.dumps(_payload(level, []))


def _payload(level: str, areas: list[list[Any]]) -> dict[str, Any]:
    return {"level": level, "areas": areas}


def _pivot(keys: Any, tally: pd.DataFrame) -> pd.DataFrame:
    frame = pd.DataFrame({"key": keys, "kind": tally["kind"].astype(str), "n": tally["n"].astype(np.int64)})
    table = frame.pivot_table(index="key", columns="kind", values="n", aggfunc="sum", fill_value=0)
    for kind in ("offer", "need"):
        if kind not in table.columns:
            table[kind] = 0
    return table.sort_index()


def _districts(tally: pd.DataFrame, districts: Any) -> list[list[Any]]:
    table = _pivot(tally["district"].astype(str).to_numpy(), tally)
    points = districts.set_index("slug").geometry.representative_point()
    areas = []
    for slug, offers, needs in zip(table.index, table["offer"], table["need"], strict=True):
        at = points[slug]
        areas.append([str(slug), int(offers), int(needs), round(at.y, 5), round(at.x, 5)])
    return areas


def total(payload: dict[str, Any]) -> tuple[int, int]:
    """Offers and needs in all areas of a payload (for tests and the bench)."""
    return sum(a[1] for a in payload["areas"]), sum(a[2] for a in payload["areas"])
