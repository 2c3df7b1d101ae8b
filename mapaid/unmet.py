"""Unmet needs: needs that no open offer of the same category within walking distance can meet.

Everything is counted per cell, because that is all the store knows about a place: open posts are tallied
into two matrices (cells x categories) of offers and needs, and "within walking distance" becomes a set of
pairs of cells close enough on foot, from mapaid/walking.py (the street graph where both cells are covered,
else the straight line between centres x 1.3), all in numpy; a city has a few thousand occupied cells, so
this takes milliseconds whatever the number of posts. Per-post geometry (buffers
and a spatial join, see bench/bench_unmet.py) gives the same counts hundreds of times more slowly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt
import pandas as pd

from mapaid.cache import SharedCache
from mapaid.geo import Area
from mapaid.models import FloatArray, IntArray
from mapaid.store import Store
from mapaid.walking import Walking, source_names
from mapaid.walkpairs import Distances

ObjArray = npt.NDArray[np.object_]


@dataclass(frozen=True)
class Tally:
    """Open posts per cell and category: ``offers[i, k]`` offers of ``categories[k]`` in ``cells[i]``."""

    categories: tuple[str, ...]
    cells: IntArray  # sorted, unique
    district: ObjArray  # slug per cell
    offers: IntArray  # (cells, categories)
    needs: IntArray  # (cells, categories)


def _codes(values: pd.Series, categories: Sequence[str]) -> tuple[IntArray, tuple[str, ...]]:
    """Category index per entry: the configured categories, then any others the data holds (a category
    removed from the settings still has posts; they are counted, not dropped). Hash-based factorize,
    not a sort of strings."""
    codes, uniques = pd.factorize(values)
    cats = tuple(categories)
    cats += tuple(sorted(str(u) for u in uniques if u not in cats))
    position = np.array([cats.index(str(u)) for u in uniques], dtype=np.int64)
    return position[codes], cats


def make_tally(
    kind: pd.Series,
    category: pd.Series,
    cell: pd.Series,
    district: pd.Series,
    count: IntArray,
    categories: Sequence[str],
) -> Tally:
    """Build a ``Tally`` from parallel columns (one entry per post, or per group with its ``count``)."""
    codes, cats = _codes(category, categories)
    cell_codes, cell_uniques = pd.factorize(cell.to_numpy(dtype=np.int64))
    order = np.argsort(cell_uniques)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    inverse = rank[cell_codes]
    district_codes, district_names = pd.factorize(district)
    district_of_cell = np.empty(len(order), dtype=np.int64)
    district_of_cell[inverse] = district_codes
    width = len(cats)
    key = inverse.astype(np.int64) * width + codes
    is_need = np.asarray(kind == "need", dtype=bool)
    size = len(order) * width

    def count_of(mask: npt.NDArray[np.bool_]) -> IntArray:
        sums = np.bincount(key[mask], weights=count[mask], minlength=size)
        return np.asarray(sums.reshape(len(order), width), dtype=np.int64)

    return Tally(
        cats,
        np.asarray(cell_uniques[order], dtype=np.int64),
        np.asarray(district_names, dtype=object)[district_of_cell],
        count_of(~is_need),
        count_of(is_need),
    )


def tally_posts(posts: pd.DataFrame, categories: Sequence[str]) -> Tally:
    """Tally a frame of posts as ``Store.posts`` returns it; pass public (open, unexpired) posts only."""
    return make_tally(
        posts["kind"],
        posts["category"],
        posts["cell"],
        posts["district"],
        np.ones(len(posts), dtype=np.int64),
        categories,
    )


def read_tally(store: Store, today: date, categories: Sequence[str]) -> Tally:
    """Tally the store's open, unexpired posts, counted in the database: a few thousand rows come back,
    not every post."""
    frame = store.open_tally(today)
    return make_tally(
        frame["kind"],
        frame["category"],
        frame["cell"].astype(np.int64),
        frame["district"],
        frame["n"].to_numpy(dtype=np.int64),
        categories,
    )


@dataclass(frozen=True)
class Unmet:
    """A tally and, per cell and category, the needs no offer of that category within ``within_m`` meets."""

    tally: Tally
    within_m: int
    unmet: IntArray  # (cells, categories)
    network: npt.NDArray[np.bool_]  # per cell: its walks to other covered cells came from the street graph


_BITS = 62  # categories per int64 bit mask


def _met(offers: IntArray, ia: IntArray, ib: IntArray, n: int) -> npt.NDArray[np.bool_]:
    """``met[i, k]``: some partner ``ib`` of ``i`` (pairs ``ia``-``ib``) offers category ``k``.

    Each offering cell's categories become bits of one integer; OR-ing them per need cell is a single
    unbuffered ufunc call, ~8x faster than marking (pair, category) hits one by one."""
    width = offers.shape[1]
    met = np.zeros((n, width), dtype=bool)
    for start in range(0, width, _BITS):
        part = offers[:, start : start + _BITS] > 0
        shifts = np.arange(part.shape[1], dtype=np.int64)
        bits = part.astype(np.int64) @ (np.int64(1) << shifts)
        mask = np.zeros(n, dtype=np.int64)
        np.bitwise_or.at(mask, ia, bits[ib])
        met[:, start : start + part.shape[1]] = ((mask[:, None] >> shifts) & 1).astype(bool)
    return met


def unmet_needs(tally: Tally, area: Area, within_m: int, streets: Distances | None = None) -> Unmet:
    """Needs in a cell are met, per category, when some cell within ``within_m`` walking metres (the same
    cell included, 0 m) holds an open offer of that category; walking as mapaid/walking.py measures it
    (on the ``streets`` where both cells are covered, else the estimate)."""
    walking = Walking(area, streets)
    needing = np.flatnonzero(tally.needs.sum(axis=1) > 0)
    offering = np.flatnonzero(tally.offers.sum(axis=1) > 0)
    pairs = walking.pairs(tally.cells[needing], tally.cells[offering], within_m)
    met = np.zeros(tally.needs.shape, dtype=bool)
    met[needing] = _met(tally.offers[offering], pairs.ia, pairs.ib, len(needing))
    return Unmet(tally, int(within_m), np.where(met, 0, tally.needs), walking.covered(tally.cells))


def share_met(needs: npt.NDArray[np.int64], unmet: npt.NDArray[np.int64]) -> FloatArray:
    """Share of needs met, 0-1; NaN where there are no needs (nothing to meet is not 100 % met)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(needs > 0, (needs - unmet) / np.maximum(needs, 1), np.nan)


def _sum_by_district(values: IntArray, district_index: IntArray, n: int) -> IntArray:
    """Column sums of a (cells, k) matrix per district: an (n, k) matrix."""
    out = np.zeros((n, values.shape[1]), dtype=np.int64)
    np.add.at(out, district_index, values)
    return out


def district_table(result: Unmet, area: Area, lang: str = "en") -> pd.DataFrame:
    """One row per district (all of them, zeros included), most unmet first: offers, needs, unmet,
    share_met, walk_network_share (the share of its needs in cells the street graph covers), then the same
    four per category (``food_offers`` ...), and ``rank`` (1 = most unmet)."""
    tally = result.tally
    slugs = area.slugs
    index = {s: i for i, s in enumerate(slugs)}
    where = np.array([index[str(d)] for d in tally.district], dtype=np.int64)
    per = {
        "offers": _sum_by_district(tally.offers, where, len(slugs)),
        "needs": _sum_by_district(tally.needs, where, len(slugs)),
        "unmet": _sum_by_district(result.unmet, where, len(slugs)),
        "network": _sum_by_district(tally.needs * result.network[:, None], where, len(slugs)),
    }
    needs = per["needs"].sum(axis=1)
    columns: dict[str, object] = {
        "district": slugs,
        "name": [area.by_slug[s].name(lang) for s in slugs],
        "offers": per["offers"].sum(axis=1),
        "needs": per["needs"].sum(axis=1),
        "unmet": per["unmet"].sum(axis=1),
        "share_met": share_met(per["needs"].sum(axis=1), per["unmet"].sum(axis=1)),
        # needs whose walks the street graph measured (mapaid/walking.py); the rest are estimates
        "walk_network_share": share_met(needs, needs - per["network"].sum(axis=1)),
    }
    for k, cat in enumerate(tally.categories):
        columns[f"{cat}_offers"] = per["offers"][:, k]
        columns[f"{cat}_needs"] = per["needs"][:, k]
        columns[f"{cat}_unmet"] = per["unmet"][:, k]
        columns[f"{cat}_share_met"] = share_met(per["needs"][:, k], per["unmet"][:, k])
    frame = pd.DataFrame(columns)
    frame = frame.sort_values(
        ["unmet", "share_met", "district"], ascending=[False, True, True], na_position="last"
    ).reset_index(drop=True)
    frame.insert(2, "rank", np.arange(1, len(frame) + 1))
    return frame


def cell_table(result: Unmet) -> pd.DataFrame:
    """Cells with unmet needs: cell (int), district, needs, unmet, walk_source (network where the street
    graph covers the cell), and unmet per category (``food_unmet``)."""
    tally = result.tally
    total = result.unmet.sum(axis=1)
    rows = np.flatnonzero(total > 0)
    columns: dict[str, object] = {
        "cell": tally.cells[rows],
        "district": tally.district[rows],
        "needs": tally.needs[rows].sum(axis=1),
        "unmet": total[rows],
        "walk_source": source_names(result.network[rows]),
    }
    for k, cat in enumerate(tally.categories):
        columns[f"{cat}_unmet"] = result.unmet[rows, k]
    return pd.DataFrame(columns)


def store_unmet(store: Store, today: date, categories: Sequence[str], within_m: int) -> Unmet:
    """Unmet needs of the store's open posts: the one call the page, the exports and the report share."""
    return unmet_needs(read_tally(store, today, categories), store.area(), within_m, store.walks())


_UNMET: SharedCache[Unmet] = SharedCache("unmet needs", 32)


def cached_store_unmet(
    store: Store, today: date, categories: Sequence[str], within_m: int, *, database: str
) -> Unmet:
    """``store_unmet`` remembered until the data changes (the store's revision is in the key) or the day
    turns (posts expire by day): the page, the API and the exports ask the same question many times. The
    same for everyone who asks (mapaid.cache). ``database`` names the store in the key (the setting: a
    file or a URL), as for ``mapaid.counts``."""
    return _UNMET.get_or_make(
        lambda: store_unmet(store, today, categories, within_m),
        database=database,
        revision=store.revision(),
        day=today,
        categories=tuple(categories),
        within=int(within_m),
    )
