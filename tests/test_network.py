"""Walking on the street network (issue 11), on real OpenStreetMap extracts: central Minsk around the railway
station (.osm.bz2), Minsk around Kovalskaya Sloboda (.osm.bz2) and central Helsinki (.osm.pbf).

One graph build per extract and module (they take seconds), whatever the store: the graph and its distances
are computed from the served area alone; the tests that read them back from a store (and the Helsinki
tally) run on each. The command-line tests use the small files.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import h3.api.basic_int as h3
import networkx as nx
import numpy as np
import osmium
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from conftest import DATA, Cli
from databases import sqlite_only
from flask.testing import FlaskClient
from peek import peek, peek_one, poke

from mapaid.cli import main
from mapaid.config import DEFAULT_CATEGORIES
from mapaid.geo import Area
from mapaid.network import LIMIT_M, SNAP_MAX_M, cell_distances, snap
from mapaid.osmgraph import Graph, build_graph
from mapaid.pipeline import ingest, rules_for
from mapaid.store import Store, open_store
from mapaid.unmet import district_table, read_tally, store_unmet, unmet_needs
from mapaid.walkable import walkable
from mapaid.walking import Walking, estimate_m
from mapaid.walkpairs import Distances

GEODATA = Path(__file__).parent.parent / "geodata"
PASS = GEODATA / "minsk-pass.osm.bz2"
KOVALSKAYA = GEODATA / "minsk-kovalskaya-sloboda.osm.bz2"
HELSINKI = DATA / "Helsinki.osm.pbf"
RULES = DATA / "foot-no-private.osm"
# Either side of the main line east of Minsk-Pasažyrski: 412 m apart as the estimate has it.
SOUTH_OF_RAILWAY, NORTH_OF_RAILWAY = h3.str_to_int("891f4e14d83ffff"), h3.str_to_int("891f4e14d97ffff")


@dataclass
class Built:
    area: Area
    graph: Graph
    walks: Distances


def _build(area: Area, path: Path) -> Built:
    graph = build_graph(path, area)
    return Built(area, graph, cell_distances(graph, area, 9))


@pytest.fixture(scope="module")
def minsk(template_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Area:
    """The Minsk districts (the template's), for the graph builds, which need no store."""
    copy = tmp_path_factory.mktemp("minsk") / "mapaid.sqlite3"
    shutil.copy(template_db, copy)
    store = open_store(copy)
    try:
        return store.area()
    finally:
        store.close()


@pytest.fixture(scope="module")
def central(minsk: Area) -> Built:
    """Central Minsk's graph and walking distances, made once for the module."""
    return _build(minsk, PASS)


@pytest.fixture(scope="module")
def kovalskaya(minsk: Area) -> Built:
    return _build(minsk, KOVALSKAYA)


def _nx_graph(graph: Graph) -> nx.Graph:
    return nx.from_scipy_sparse_array(graph.edges)


def _walk_table(walks: Distances) -> dict[tuple[int, int], float]:
    out = {}
    for i, cell in enumerate(walks.cells.tolist()):
        neighbours, decimetres = walks.row(i)
        for other, dm in zip(neighbours.tolist(), decimetres.tolist(), strict=True):
            out[(cell, other)] = dm / 10
    return out


# -- the walkable-way rules -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"highway": "footway"}, True),
        ({"highway": "residential"}, True),
        ({"highway": "primary"}, True),
        ({"highway": "steps"}, True),
        ({"highway": "motorway"}, False),
        ({"highway": "motorway", "foot": "yes"}, False),
        ({"highway": "trunk"}, False),
        ({"highway": "trunk", "sidewalk": "both"}, True),
        ({"highway": "trunk", "sidewalk": "separate"}, False),
        ({"highway": "footway", "foot": "no"}, False),
        ({"highway": "service", "access": "private"}, False),
        ({"highway": "service", "access": "private", "foot": "yes"}, True),
        ({"highway": "residential", "access": "no", "foot": "private"}, False),
        ({"highway": "cycleway"}, False),
        ({"highway": "cycleway", "foot": "designated"}, True),
        ({"highway": "construction"}, False),
        ({"railway": "rail"}, False),
    ],
)
def test_walkable_ways(tags: dict[str, str], expected: bool) -> None:
    assert walkable(tags) is expected


# -- the graph and its distances on the real extracts ------------------------------------------------------
@pytest.mark.parametrize("name", ["central", "kovalskaya"])
def test_every_walk_is_at_least_the_straight_line(name: str, request: pytest.FixtureRequest) -> None:
    built: Built = request.getfixturevalue(name)
    area = built.area
    walks, graph = built.walks, built.graph
    assert len(walks.cells) >= 5 and walks.pairs >= 10
    covered, node, snap_m = snap(graph, area, walks.cells)
    assert covered.all() and (snap_m <= SNAP_MAX_M).all()
    x, y = area.metric_centres(walks.cells)
    row_of = {c: i for i, c in enumerate(walks.cells.tolist())}
    for (a, b), metres in _walk_table(walks).items():
        i, j = row_of[a], row_of[b]
        between_nodes = np.hypot(graph.x[node[i]] - graph.x[node[j]], graph.y[node[i]] - graph.y[node[j]])
        assert metres >= snap_m[i] + between_nodes + snap_m[j] - 0.05, (a, b)
        assert metres >= np.hypot(x[i] - x[j], y[i] - y[j]) - 0.05
        assert metres <= LIMIT_M + 0.05


@pytest.mark.parametrize("name", ["central", "kovalskaya"])
def test_walks_match_networkx_shortest_paths(name: str, request: pytest.FixtureRequest) -> None:
    """A sample of covered pairs, stored or not: the stored metres are networkx's path plus the snapping
    metres, within 1 m; a pair not stored is further than the limit."""
    built: Built = request.getfixturevalue(name)
    walks, graph = built.walks, built.graph
    _, node, snap_m = snap(graph, built.area, walks.cells)
    table = _walk_table(walks)
    peer = _nx_graph(graph)
    rng = np.random.default_rng(11)
    n = len(walks.cells)
    stored = list(table)
    sample = [stored[k] for k in rng.choice(len(stored), min(25, len(stored)), replace=False)]
    sample += [(walks.cells[i], walks.cells[j]) for i, j in rng.integers(0, n, (25, 2)) if i != j]
    row_of = {c: i for i, c in enumerate(walks.cells.tolist())}
    checked_far = 0
    for a, b in sample:
        i, j = row_of[int(a)], row_of[int(b)]
        try:
            path = nx.shortest_path_length(peer, int(node[i]), int(node[j]), weight="weight")
        except nx.NetworkXNoPath:
            path = float("inf")
        expected = snap_m[i] + path + snap_m[j]
        if (int(a), int(b)) in table:
            assert table[(int(a), int(b))] == pytest.approx(expected, abs=1.0), (a, b)
        else:
            assert expected > LIMIT_M - 0.05, (a, b, expected)
            checked_far += 1
    assert checked_far > 0 or len(stored) == n * (n - 1)  # a small extract may have every pair within reach


def test_a_railway_with_no_crossing_nearby_makes_the_walk_much_longer(central: Built, store: Store) -> None:
    """Read back from the store: the distances it keeps are the ones computed."""
    store.replace_walks(central.walks, {"file": PASS.name, "res": "9"})
    area = store.area()
    estimate = estimate_m(SOUTH_OF_RAILWAY, np.array([NORTH_OF_RAILWAY]), area)[0]
    # The straight line between the two centres does cross the main line (read from the same file).
    rails = []
    ways = osmium.FileProcessor(str(PASS)).with_locations()
    for way in ways.with_filter(osmium.filter.TagFilter(("railway", "rail"))):
        if isinstance(way, osmium.osm.Way) and way.tags.get("service") is None:
            rails.append(shapely.LineString([(n.lon, n.lat) for n in way.nodes]))
    a, b = h3.cell_to_latlng(SOUTH_OF_RAILWAY), h3.cell_to_latlng(NORTH_OF_RAILWAY)
    line = shapely.LineString([(a[1], a[0]), (b[1], b[0])])
    assert sum(line.crosses(r) for r in rails) >= 2  # several tracks side by side
    walking = Walking(area, store.walks())
    reach = walking.reach(SOUTH_OF_RAILWAY, 1200)
    assert NORTH_OF_RAILWAY not in reach.cells.tolist()  # the estimate (412 m) would have it
    assert NORTH_OF_RAILWAY in Walking(area).reach(SOUTH_OF_RAILWAY, 1200).cells.tolist()
    on_foot = _walk_table(central.walks)[(SOUTH_OF_RAILWAY, NORTH_OF_RAILWAY)]
    assert on_foot > 3 * estimate, (on_foot, estimate)


def test_a_way_closed_to_walkers_is_not_walked(cli: Cli, store: Store) -> None:
    """foot=no and access=private ways join the two centres in 321 m; the only open way is 921 m long."""
    result = cli("network", "build", str(RULES))
    assert result.exit_code == 0, result.output
    x, y = h3.str_to_int("891f4eab4cbffff"), h3.str_to_int("891f4eab4dbffff")
    walking = Walking(store.area(), store.walks())
    assert walking.covered(np.array([x, y])).all()
    reach = walking.reach(x, 1200)
    metres, network = reach.lookup(np.array([y]))
    assert network[0] and metres[0] == pytest.approx(921.3, abs=1.0)
    assert y not in walking.reach(x, 800).cells.tolist()  # the estimate says 418 m


# -- the command line ---------------------------------------------------------------------------------
def test_build_and_status_say_what_is_built(cli: Cli, store: Store, database: str) -> None:
    before = cli("network", "status")
    assert before.exit_code == 0 and "no street graph" in before.output
    result = cli("network", "build", str(KOVALSKAYA))
    assert result.exit_code == 0, result.output
    assert "minsk-kovalskaya-sloboda.osm.bz2" in result.output and "served hexagons covered" in result.output
    status = cli("network", "status").output
    assert "minsk-kovalskaya-sloboda.osm.bz2" in status and "2026-11-27" in status
    covered = len(store.walks().cells)  # type: ignore[union-attr]
    assert f"covers {covered} of 4201 served hexagons" in status
    again = cli("network", "build", str(KOVALSKAYA), "--if-changed")
    assert again.exit_code == 0 and "already built" in again.output
    rebuilt = cli("network", "build", str(KOVALSKAYA))  # replaces, does not add
    assert rebuilt.exit_code == 0
    assert peek_one(database, "SELECT count(*) FROM walk_cells") == covered


def test_files_we_cannot_use_are_refused_and_change_nothing(
    cli: Cli, store: Store, database: str, tmp_path: Path
) -> None:
    assert cli("network", "build", str(RULES)).exit_code == 0
    before = peek(database, "SELECT * FROM walk_cells ORDER BY cell")
    version = store.get_meta("network_version")
    not_osm = tmp_path / "notes.osm"
    not_osm.write_text("this is not OpenStreetMap\n")
    no_ways = tmp_path / "buildings.osm"
    no_ways.write_text(
        '<?xml version="1.0"?><osm version="0.6"><node id="1" lat="53.9" lon="27.56"/>'
        '<node id="2" lat="53.901" lon="27.56"/><way id="3"><nd ref="1"/><nd ref="2"/>'
        '<tag k="building" v="yes"/></way></osm>'
    )
    wrong_name = tmp_path / "streets.geojson"
    wrong_name.write_text("{}")
    for path, message in (
        (not_osm, "not OpenStreetMap data"),
        (no_ways, "holds no way a person can walk"),
        (HELSINKI, "does not overlap the served area"),
        (wrong_name, "is not an OpenStreetMap file"),
    ):
        result = cli("network", "build", str(path))
        assert result.exit_code == 1 and message in result.output, (path.name, result.output)
        assert peek(database, "SELECT * FROM walk_cells ORDER BY cell") == before
        assert store.get_meta("network_version") == version


@sqlite_only
def test_an_older_database_gains_the_walk_table_on_init_db(cli: Cli, store: Store, database: str) -> None:
    """Schema 3 -> 4 (store._walking_network): the table appears, posts stay, nothing is built yet. SQLite
    only: schema 3 is an older SQLite file's; PostgreSQL databases begin at the current schema."""
    body = pd.DataFrame({"kind": ["offer"], "category": ["food"], "cell": ["891f4eab4cbffff"], "text": ["x"]})
    ingest(body, ["1"], rules_for(DEFAULT_CATEGORIES, 9, date(2026, 11, 27)), store, b"k")
    poke(database, "DROP TABLE walk_cells")  # as a schema-3 file was
    poke(database, "UPDATE schema_version SET version = 3")
    assert cli("network", "status").exit_code == 1  # refused until upgraded, naming init-db
    assert cli("init-db").exit_code == 0
    assert peek_one(database, "SELECT count(*) FROM walk_cells") == 0
    assert store.count() == 1 and store.walks() is None


# -- the walking module where the pages and the API use it ---------------------------------------------------
def test_the_api_and_the_near_page_say_how_walks_were_measured(
    client: FlaskClient, store: Store, central: Built
) -> None:
    store.replace_walks(central.walks, {"file": PASS.name, "res": "9"})
    origin = SOUTH_OF_RAILWAY
    reach = Walking(store.area(), store.walks()).reach(origin, 1200)
    on_streets = int(reach.cells[reach.network][1])  # covered, not the origin
    far = h3.grid_ring(origin, 3)
    outside = next(c for c in far if not Walking(store.area(), store.walks()).covered(np.array([c]))[0])
    for cell, text in ((on_streets, "by the streets"), (outside, "estimated")):
        body = {"kind": "offer", "category": "food", "text": text, "cell": h3.int_to_str(cell)}
        assert client.post("/api/v1/posts", json=body).status_code == 201
    features = client.get(f"/api/v1/posts?cell={h3.int_to_str(origin)}&within=1200").get_json()["features"]
    sources = {f["properties"]["text"]: f["properties"]["walk_source"] for f in features}
    walks = {f["properties"]["text"]: f["properties"]["walk_m"] for f in features}
    assert sources.get("by the streets") == "network"
    if "estimated" in sources:  # the estimate may put it beyond 1200 m
        assert sources["estimated"] == "estimate"
    expected = reach.lookup(np.array([on_streets]))[0][0]
    assert walks["by the streets"] == round(expected)
    html = client.get(f"/near/{h3.int_to_str(origin)}?within=1200").get_data(as_text=True)
    assert "on foot by the streets" in html
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "walk_source" in str(spec)


# -- unmet needs inside the Helsinki extract ------------------------------------------------------------
@pytest.fixture(scope="module")
def helsinki(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """Central Helsinki's graph on the Helsinki districts (a SQLite file of their own, read once)."""
    folder = tmp_path_factory.mktemp("helsinki")
    result = CliRunner().invoke(main, ["init-db"], env=_helsinki_env(str(folder / "h.sqlite3"), folder))
    assert result.exit_code == 0, result.output
    store = open_store(folder / "h.sqlite3")
    try:
        return _build(store.area(), HELSINKI)
    finally:
        store.close()


def _helsinki_env(database: str, folder: Path) -> dict[str, str]:
    return {
        "MAPAID_DATABASE": database,
        "MAPAID_INSTANCE": str(folder),
        "MAPAID_SECRET_KEY": "test",
        "MAPAID_DISTRICTS": str(DATA / "helsinki_city_districts_2021.gpkg"),
        "MAPAID_CELL_RES": "9",
    }


@pytest.fixture
def helsinki_store(empty_database: str, helsinki: Built, tmp_path: Path) -> Iterator[Store]:
    """This test's store holding the Helsinki districts and the Helsinki walking distances."""
    result = CliRunner().invoke(main, ["init-db"], env=_helsinki_env(empty_database, tmp_path))
    assert result.exit_code == 0, result.output
    store = open_store(empty_database)
    store.replace_walks(helsinki.walks, {"file": HELSINKI.name, "res": "9"})
    yield store
    store.close()


def _pick(built: Built, peer: nx.Graph, estimate_ok: bool, streets_ok: bool, within: int) -> tuple[int, int]:
    """Two covered cells whose estimate and street walk (by networkx, not by our code) fall on the given
    sides of ``within``."""
    area = built.area
    cells = built.walks.cells
    _, node, snap_m = snap(built.graph, area, cells)
    for i, a in enumerate(cells.tolist()):
        estimates = estimate_m(a, cells, area)
        lengths = nx.single_source_dijkstra_path_length(peer, int(node[i]), weight="weight")
        for j, b in enumerate(cells.tolist()):
            on_foot = snap_m[i] + lengths.get(int(node[j]), np.inf) + snap_m[j]
            sides = (bool(estimates[j] <= within), bool(on_foot <= within))
            if i != j and sides == (estimate_ok, streets_ok):
                return a, b
    raise AssertionError("no such pair in the extract")


def test_unmet_needs_in_helsinki_differ_with_the_street_graph_and_are_right(
    helsinki: Built, helsinki_store: Store, today: date
) -> None:
    """Food: the estimate says the offer is too far (> 800 m), the streets say it is near. Medicine: the
    estimate says near, the streets say too far. Each side checked with networkx on the same graph."""
    store, within = helsinki_store, 800
    peer = _nx_graph(helsinki.graph)
    food_need, food_offer = _pick(helsinki, peer, estimate_ok=False, streets_ok=True, within=within)
    medicine_need, medicine_offer = _pick(helsinki, peer, estimate_ok=True, streets_ok=False, within=within)
    rows = [
        ("need", "food", food_need),
        ("offer", "food", food_offer),
        ("need", "medicine", medicine_need),
        ("offer", "medicine", medicine_offer),
    ]
    frame = pd.DataFrame(
        {
            "kind": [r[0] for r in rows],
            "category": [r[1] for r in rows],
            "cell": [h3.int_to_str(r[2]) for r in rows],
            "text": [f"{r[0]} {r[1]}" for r in rows],
        }
    )
    ingest(frame, ["1", "2", "3", "4"], rules_for(DEFAULT_CATEGORIES, 9, today), store, b"k")
    tally = read_tally(store, today, DEFAULT_CATEGORIES)
    estimated = unmet_needs(tally, store.area(), within)
    on_streets = store_unmet(store, today, DEFAULT_CATEGORIES, within)
    food, medicine = tally.categories.index("food"), tally.categories.index("medicine")
    assert estimated.unmet[:, food].sum() == 1 and estimated.unmet[:, medicine].sum() == 0
    assert on_streets.unmet[:, food].sum() == 0 and on_streets.unmet[:, medicine].sum() == 1
    assert on_streets.network.all() and not estimated.network.any()
    table = district_table(on_streets, store.area())
    assert table.loc[table["needs"] > 0, "walk_network_share"].eq(1.0).all()


def test_the_coordinator_exports_and_report_say_how_much_is_measured_on_the_streets(
    client: FlaskClient, store: Store, central: Built, cli: Cli, today: date
) -> None:
    from test_coordinator import login

    from mapaid import accounts

    store.replace_walks(central.walks, {"file": PASS.name, "res": "9"})
    rows = pd.DataFrame(
        {
            "kind": ["need", "need"],
            "category": ["food", "food"],
            "cell": [h3.int_to_str(SOUTH_OF_RAILWAY), h3.int_to_str(h3.latlng_to_cell(53.95, 27.65, 9))],
            "text": ["on the streets", "estimated"],
        }
    )
    ingest(rows, ["1", "2"], rules_for(DEFAULT_CATEGORIES, 9, today), store, b"k")
    accounts.add(store, "anna", "a long enough password", today)
    assert login(client, password="a long enough password").status_code == 302
    page = client.get("/coordinator?within=800").text
    assert "on foot by the streets where the street map covers both hexagons (50% of needs)" in page
    csv = client.get("/export/districts.csv?within=800").text
    assert "walk_network_share" in csv.splitlines()[0]
    report = cli("report", "--within", "800").output
    assert "on foot by the streets for 1 of 2 needs" in report
