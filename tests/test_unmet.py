"""Unmet needs: the hand-made scene, agreement with a brute-force definition, the tally, the cache."""

from __future__ import annotations

import uuid
from datetime import date

import h3.api.basic_int as h3
import numpy as np
import pandas as pd
import pytest
from databases import sqlite_only
from peek import peek
from scene import AWAY, HOME, Scene, build

from mapaid.clock import FixedClock
from mapaid.config import DEFAULT_CATEGORIES
from mapaid.demo import generate
from mapaid.models import Status
from mapaid.moderation import moderate
from mapaid.pipeline import ingest, rules_for
from mapaid.store import Store
from mapaid.unmet import (
    cached_store_unmet,
    cell_table,
    district_table,
    read_tally,
    store_unmet,
    tally_posts,
    unmet_needs,
)
from mapaid.walking import Walking, straight_pairs


@pytest.fixture
def scene(store: Store, today: date) -> Scene:
    return build(store, today)


@pytest.mark.parametrize("within", [400, 800, 1200])
def test_scene_unmet_needs_are_known_by_construction(
    store: Store, scene: Scene, within: int, today: date
) -> None:
    table = district_table(store_unmet(store, today, DEFAULT_CATEGORIES, within), store.area()).set_index(
        "district"
    )
    for district in (HOME, AWAY):
        row = table.loc[district]
        assert row["offers"] == scene.offers[district]
        assert row["needs"] == scene.needs[district]
        assert row["unmet"] == scene.total_unmet(within, district)
        for category in DEFAULT_CATEGORIES:
            assert row[f"{category}_unmet"] == scene.unmet[within][district].get(category, 0), category
        expected_share = 1 - scene.total_unmet(within, district) / scene.needs[district]
        assert row["share_met"] == pytest.approx(expected_share)
    others = table.drop(index=[HOME, AWAY])
    assert (others[["offers", "needs", "unmet"]] == 0).all().all()
    assert others["share_met"].isna().all()  # no needs: not "100 % met"


def test_the_near_offer_is_between_400_and_800_m_and_meets_only_food(
    store: Store,
    scene: Scene,
    today: date,
) -> None:
    reach = Walking(store.area()).reach(scene.centre, 800)
    cells, metres = reach.cells, reach.metres
    assert scene.near_food in cells.tolist()
    assert 400 < metres[cells.tolist().index(scene.near_food)] <= 800
    at_800 = district_table(store_unmet(store, today, DEFAULT_CATEGORIES, 800), store.area()).set_index(
        "district"
    )
    assert at_800.loc[HOME, "food_unmet"] == 0
    assert at_800.loc[HOME, "medicine_unmet"] == 1  # the transport offer in the same cell does not count


def test_restoring_the_hidden_offer_meets_the_medicine_need(
    store: Store, scene: Scene, today: date, clock: FixedClock
) -> None:
    assert moderate(store, scene.ids["om_hidden"], "restore", "anna", clock.now(), at_once=True)
    table = district_table(store_unmet(store, today, DEFAULT_CATEGORIES, 400), store.area()).set_index(
        "district"
    )
    assert table.loc[HOME, "medicine_unmet"] == 0
    assert table.loc[HOME, "offers"] == scene.offers[HOME] + 1


def test_most_unmet_district_ranks_first(store: Store, scene: Scene, today: date) -> None:
    table = district_table(store_unmet(store, today, DEFAULT_CATEGORIES, 400), store.area())
    assert table.iloc[0]["district"] == HOME and table.iloc[0]["rank"] == 1
    assert table.iloc[1]["district"] == AWAY
    assert list(table["rank"]) == list(range(1, len(table) + 1))


def test_cell_table_lists_the_cells_with_unmet_needs(store: Store, scene: Scene, today: date) -> None:
    cells = cell_table(store_unmet(store, today, DEFAULT_CATEGORIES, 400)).set_index("cell")
    assert sorted(cells.index) == sorted([scene.centre, scene.away])
    assert cells.loc[scene.centre, "unmet"] == 4 and cells.loc[scene.centre, "needs"] == 5
    assert cells.loc[scene.centre, "food_unmet"] == 2
    assert cells.loc[scene.away, "district"] == AWAY


def _demo(store: Store, today: date, n: int = 3000) -> None:
    frame = generate(store.area(), n, 7, DEFAULT_CATEGORIES)
    ingest(frame, [str(i) for i in range(n)], rules_for(DEFAULT_CATEGORIES, 9, today), store, b"k")


@pytest.mark.parametrize("within", [400, 800, 1200])
def test_agrees_with_the_definition_cell_by_cell(store: Store, within: int, today: date) -> None:
    """For every need: unmet exactly when no open offer of its category is in the reach of its cell."""
    _demo(store, today)
    area = store.area()
    posts = store.posts(today)
    result = unmet_needs(read_tally(store, today, DEFAULT_CATEGORIES), area, within)
    offers = posts[posts["kind"] == "offer"].groupby("category")["cell"].agg(set)
    expected = np.zeros_like(result.unmet)
    row_of = {int(c): i for i, c in enumerate(result.tally.cells)}
    for (cell, category), count in (
        posts[posts["kind"] == "need"].groupby(["cell", "category"]).size().items()
    ):
        near = set(Walking(area).reach(int(cell), within).cells.tolist())
        if not near & offers.get(category, set()):
            expected[row_of[int(cell)], result.tally.categories.index(category)] = count
    assert expected.sum() > 0 or within > 400
    assert (result.unmet == expected).all()


def test_tally_from_posts_equals_tally_in_sql(store: Store, today: date) -> None:
    _demo(store, today, 1500)
    store.set_status(str(store.posts(today)["id"].iloc[0]), Status.HIDDEN)
    in_sql = read_tally(store, today, DEFAULT_CATEGORIES)
    in_frame = tally_posts(store.posts(today), DEFAULT_CATEGORIES)
    assert in_sql.categories == in_frame.categories
    assert (in_sql.cells == in_frame.cells).all()
    assert (in_sql.offers == in_frame.offers).all() and (in_sql.needs == in_frame.needs).all()
    assert list(in_sql.district) == list(in_frame.district)
    assert in_sql.offers.sum() + in_sql.needs.sum() == 1499


def test_categories_missing_from_the_settings_are_counted_not_dropped(store: Store, today: date) -> None:
    centre = h3.latlng_to_cell(53.9, 27.55, 9)
    frame = pd.DataFrame(
        {"kind": ["need"], "category": ["pets"], "cell": [h3.int_to_str(centre)], "text": ["walk my dog"]}
    )
    ingest(frame, ["row 1"], rules_for((*DEFAULT_CATEGORIES, "pets"), 9, today), store, b"k")
    result = store_unmet(store, today, DEFAULT_CATEGORIES, 800)
    assert result.tally.categories[-1] == "pets"
    table = district_table(result, store.area())
    assert table["pets_unmet"].sum() == 1 and table["unmet"].sum() == 1


def test_empty_store_gives_zeros(store: Store, today: date) -> None:
    table = district_table(store_unmet(store, today, DEFAULT_CATEGORIES, 800), store.area())
    assert len(table) == len(store.area().slugs)
    assert (table[["offers", "needs", "unmet"]] == 0).all().all()
    assert cell_table(store_unmet(store, today, DEFAULT_CATEGORIES, 800)).empty


def test_straight_pairs_finds_exactly_the_close_pairs() -> None:
    rng = np.random.default_rng(3)
    a = (rng.uniform(0, 5000, 400), rng.uniform(0, 3000, 400))
    b = (rng.uniform(-200, 5200, 300), rng.uniform(0, 3000, 300))
    ia, ib, dist = straight_pairs(a, b, 450.0)
    brute = np.hypot(a[0][:, None] - b[0][None, :], a[1][:, None] - b[1][None, :])
    expected = set(zip(*np.nonzero(brute <= 450.0), strict=True))
    assert set(zip(ia.tolist(), ib.tolist(), strict=True)) == expected
    assert len(ia) == len(expected)  # no pair twice
    assert np.allclose(dist, brute[ia, ib])


def test_cache_drops_when_a_post_is_hidden(
    store: Store, scene: Scene, today: date, clock: FixedClock
) -> None:
    database = uuid.uuid4().hex  # names this test's store in the process-wide cache, whatever the backend
    first = cached_store_unmet(store, today, DEFAULT_CATEGORIES, 800, database=database)
    assert cached_store_unmet(store, today, DEFAULT_CATEGORIES, 800, database=database) is first
    moderate(store, scene.ids["of"], "hide", "anna", clock.now(), at_once=True)
    again = cached_store_unmet(store, today, DEFAULT_CATEGORIES, 800, database=database)
    assert again is not first
    assert again.unmet.sum() == first.unmet.sum() + 2  # the two food needs lost their offer


@sqlite_only
def test_the_tally_reads_the_covering_index_in_order(store: Store, database: str, today: date) -> None:
    """The million-post figure depends on this plan: no table access, no sort (see bench/bench_unmet.py).
    SQLite only: the plan is SQLite's query planner's; bench/ measures the tally on PostGIS beside it."""
    from mapaid.sqlitestore import TALLY_SQL

    _demo(store, today, 500)
    plan = " ".join(
        str(row[-1]) for row in peek(database, "EXPLAIN QUERY PLAN " + TALLY_SQL, ("2020-01-01",))
    )
    assert "COVERING INDEX posts_cell" in plan and "TEMP B-TREE" not in plan, plan
