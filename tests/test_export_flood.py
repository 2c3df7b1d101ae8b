"""Issue 17, item 4: ten connections asking for one byte of ``/export/posts.gpkg`` as fast as they go no
longer take the site down. Before, each range built the whole GeoPackage again and ``/near`` went from
0.07 s to 18.5 s; now the file is built once (mapaid.exportfiles) and a client past its read allowance is
refused before Flask (mapaid.readlimit).

A real `mapaid serve` (waitress, as deployed, with the shipped limits) over 20,000 open posts; the
attack runs in a process of its own; quiet and attack phases alternate (tests/rangeflood.py), so the load
of a shared machine weighs on both sides, and the ratio of the medians is the claim.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import TEST_SECRET
from databases import Databases
from livesite import serve_process
from rangeflood import interleaved, timed

from mapaid import demo
from mapaid.clock import SYSTEM
from mapaid.config import DEFAULT_CATEGORIES
from mapaid.pipeline import ingest, rules_for
from mapaid.store import open_store

POSTS = 20_000


@dataclass
class Site:
    url: str
    cell: str  # the busiest cell: /near's heaviest page here


def _fill(database: str) -> str:
    """``POSTS`` open posts through the real pipeline; the cell holding the most of them."""
    store = open_store(database)
    try:
        rules = rules_for(DEFAULT_CATEGORIES, 9, SYSTEM.today(), max_expires_days=60)
        frame = demo.generate(store.area(), POSTS, 17, DEFAULT_CATEGORIES)
        frame["expires"] = "30"
        ingest(frame, [""] * POSTS, rules, store, TEST_SECRET.encode())
        cells = store.posts(SYSTEM.today())["cell"].value_counts()
        return f"{int(cells.index[0]):x}"
    finally:
        store.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, store_kind: str, databases: Databases) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("flood")
    database = databases.fresh(store_kind, folder)
    cell = _fill(database)
    env = {
        "MAPAID_DATABASE": database,
        "MAPAID_SECRET_KEY": TEST_SECRET,
        "MAPAID_INSTANCE": str(folder / "instance"),
    }  # the shipped limits and build slots
    with serve_process(env, Path(folder) / "serve.log") as url:
        yield Site(url, cell)


def test_one_byte_ranges_from_ten_connections_leave_near_within_twice_its_quiet_time(site: Site) -> None:
    page = f"/near/{site.cell}"
    timed(site.url, page, 1.0)  # the first pages fill what every visitor shares (the base map ...)
    timings = interleaved(site.url, page, "/export/posts.gpkg", rounds=8, quiet_s=1.5, attack_s=2.5)
    print(timings.summary())
    quiet, attacked = timings.medians()
    assert attacked <= 2 * quiet, timings.summary()
    assert len(timings.quiet) >= 20 and len(timings.attacked) >= 20, timings.summary()
    assert sum(timings.answers.values()) >= 100, timings.summary()  # the attack did run
    assert set(timings.answers) <= {"206", "429", "503"}, timings.summary()
