"""Walking distances on the street network (issue 11), on the Helsinki extract (tests/data/Helsinki.osm.pbf).

- Building all cell-to-cell walks up to 1,500 m (``network.cell_distances``: scipy's Dijkstra with a
  limit, per tile) against networkx's ``single_source_dijkstra_path_length`` with the same cutoff from
  every covered cell on the same graph (converted outside the timing), and against pandana's contraction
  hierarchies (``Network.nodes_in_range``, preprocessing timed apart) when pandana is installed. Both
  answers are checked to hold the same pairs. Target: at least 10x faster than networkx. At the site's
  resolution 9 the extract holds only ~20 hexagons, so resolution 11 (~800) is timed too.
- One ``/near`` look-up with the street network built (central Minsk, ``geodata/minsk-pass.osm.bz2``,
  100,000 posts), from covered hexagons, beside the same look-ups without a network. Target: the
  resident-map target still holds (median <= 50 ms, bench/bench_near.py).
- Memory of the stored walks per 1,000 covered hexagons, in the look-up arrays and in the database.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import h3.api.basic_int as h3
import networkx as nx
import numpy as np
from click.testing import CliRunner

from bench.bench_near import SECRET, make_db, stats
from mapaid import create_app
from mapaid.cli import main as cli
from mapaid.network import LIMIT_M, cell_distances, snap
from mapaid.osmgraph import Graph, build_graph
from mapaid.sqlitestore import SQLiteStore
from mapaid.store import open_store
from mapaid.walking import Walking
from mapaid.walkpairs import Distances

ROOT = Path(__file__).parent.parent
HELSINKI = ROOT / "tests" / "data" / "Helsinki.osm.pbf"
DISTRICTS = ROOT / "tests" / "data" / "helsinki_city_districts_2021.gpkg"
CENTRAL_MINSK = ROOT / "geodata" / "minsk-pass.osm.bz2"
NEAR_POSTS = 100_000


def helsinki_store(folder: Path) -> SQLiteStore:
    env = {
        "MAPAID_DATABASE": str(folder / "h.sqlite3"),
        "MAPAID_INSTANCE": str(folder),
        "MAPAID_SECRET_KEY": SECRET,
        "MAPAID_DISTRICTS": str(DISTRICTS),
    }
    result = CliRunner().invoke(cli, ["init-db"], env=env)
    assert result.exit_code == 0, result.output
    return open_store(folder / "h.sqlite3")


def with_networkx(graph: Graph, peer: nx.Graph, cells: Any, node: Any, snap_m: Any) -> int:
    """All pairs within the limit, networkx from every covered cell's node: the number of pairs."""
    at_node: dict[int, list[int]] = {}
    for j, n in enumerate(node.tolist()):
        at_node.setdefault(n, []).append(j)
    pairs = 0
    for i in range(len(cells)):
        lengths = nx.single_source_dijkstra_path_length(peer, int(node[i]), cutoff=LIMIT_M, weight="weight")
        for n, metres in lengths.items():
            for j in at_node.get(n, ()):
                if j != i and snap_m[i] + metres + snap_m[j] <= LIMIT_M:
                    pairs += 1
    return pairs


def with_pandana(graph: Graph, node: Any, snap_m: Any) -> tuple[float, float, int] | str:
    """(preprocessing s, query s, pairs) with pandana, or why it could not run."""
    try:
        import pandana
        import pandas as pd
    except ImportError as exc:
        return f"not installed ({exc})"
    coo = graph.edges.tocoo()
    upper = coo.row < coo.col
    start = time.perf_counter()
    net = pandana.Network(
        pd.Series(graph.x),
        pd.Series(graph.y),
        pd.Series(coo.row[upper]),
        pd.Series(coo.col[upper]),
        pd.DataFrame({"metres": coo.data[upper]}),
        twoway=True,
    )
    prepared = time.perf_counter() - start
    start = time.perf_counter()
    found = net.nodes_in_range(np.unique(node).tolist(), LIMIT_M, "metres")
    # the same pairs of cells: sources and destinations that are some cell's node, snapping added
    cells_at = pd.DataFrame({"node": node, "snap": snap_m, "cell": np.arange(len(node))})
    joined = found.merge(cells_at, left_on="source", right_on="node").merge(
        cells_at, left_on="destination", right_on="node", suffixes=("_a", "_b")
    )
    total = joined["snap_a"] + joined["metres"] + joined["snap_b"]
    pairs = int(((total <= LIMIT_M) & (joined["cell_a"] != joined["cell_b"])).sum())
    return prepared, time.perf_counter() - start, pairs


def build_figures(store: SQLiteStore, graph: Graph, res: int) -> Distances:
    area = store.area()
    cell_distances(graph, area, res)  # warm: the cell table at this resolution
    start = time.perf_counter()
    walks = cell_distances(graph, area, res)
    ours = time.perf_counter() - start
    _, node, snap_m = snap(graph, area, walks.cells)
    peer = nx.from_scipy_sparse_array(graph.edges)
    start = time.perf_counter()
    peer_pairs = with_networkx(graph, peer, walks.cells, node, snap_m)
    theirs = time.perf_counter() - start
    print(f"  resolution {res}: {len(walks.cells)} covered hexagons, {walks.pairs} walks <= {LIMIT_M:.0f} m")
    print(f"    ours (scipy Dijkstra per tile)       {ours * 1000:9.1f} ms")
    print(
        f"    networkx from every cell             {theirs * 1000:9.1f} ms  same pairs: "
        f"{peer_pairs == walks.pairs}  ratio {theirs / ours:6.1f}x  target >= 10x "
        f"{'ok' if theirs / ours >= 10 else 'MISSED'}"
    )
    pandana = with_pandana(graph, node, snap_m)
    if isinstance(pandana, str):
        print(f"    pandana: {pandana}")
    else:
        prepared, query, pairs = pandana
        print(
            f"    pandana (contraction hierarchies)    {query * 1000:9.1f} ms  + {prepared * 1000:.0f} ms "
            f"preprocessing  same pairs: {pairs == walks.pairs}  ratio {(query + prepared) / ours:6.1f}x"
        )
    return walks


def memory(name: str, walks: Distances, store: SQLiteStore | None = None) -> None:
    per = walks.nbytes() / max(1, len(walks.cells)) * 1000 / 1024
    line = f"  {name:<38} {per:8.0f} KB per 1,000 hexagons in memory"
    if store is not None:
        stored = store.db.execute(
            "SELECT sum(length(neighbours) + length(decimetres) + 16) FROM walk_cells"
        ).fetchone()[0]
        line += f", {stored / max(1, len(walks.cells)) * 1000 / 1024:.0f} KB in the database"
    print(line + f" ({walks.pairs / max(1, len(walks.cells)):.0f} walks each)")


def near_with_network(folder: Path) -> None:
    db = make_db(folder, NEAR_POSTS)
    store = open_store(db)
    graph = build_graph(CENTRAL_MINSK, store.area())
    walks = cell_distances(graph, store.area(), 9)
    app = create_app({"DATABASE": str(db), "SECRET_KEY": SECRET, "INSTANCE_DIR": str(db.parent)})
    client = app.test_client()
    cells = [h3.int_to_str(int(c)) for c in walks.cells]

    def run() -> list[float]:
        client.get(f"/near/{cells[0]}")  # warm
        out = []
        for _ in range(3):
            for cell in cells:
                start = time.perf_counter()
                assert client.get(f"/near/{cell}?within=800").status_code == 200
                out.append((time.perf_counter() - start) * 1000)
        return out

    def reach(walking: Walking) -> float:
        start = time.perf_counter()
        for _ in range(20):
            for cell in walks.cells.tolist():
                walking.reach(int(cell), 800)
        return (time.perf_counter() - start) / (20 * len(walks.cells)) * 1e6

    estimate_us = reach(Walking(store.area()))
    network_us = reach(Walking(store.area(), walks))
    print(
        f"  the look-up alone (walking.reach, 800 m): {network_us:.0f} us with the network, "
        f"{estimate_us:.0f} us estimate only (ratio {network_us / estimate_us:.2f})"
    )
    without = run()
    store.replace_walks(walks, {"file": CENTRAL_MINSK.name, "res": "9"})
    assert Walking(store.area(), store.walks()).covered(walks.cells).all()
    with_streets = run()
    med, p99 = stats(with_streets)
    base, _ = stats(without)
    print(
        f"  /near with the network ({len(cells)} covered hexagons, {NEAR_POSTS:,} posts): "
        f"median {med:.1f} ms, p99 {p99:.1f} ms; without {base:.1f} ms (ratio {med / base:.2f}); "
        "target <= 50 ms "
        f"{'ok' if med <= 50 else 'MISSED'}"
    )
    memory("central Minsk, resolution 9", walks, store)
    store.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        store = helsinki_store(folder)
        start = time.perf_counter()
        graph = build_graph(HELSINKI, store.area())
        print(
            f"Helsinki extract: {graph.ways} walkable ways, {graph.nodes} nodes, {graph.segments} segments, "
            f"read in {time.perf_counter() - start:.2f} s"
        )
        for res in (9, 11):
            walks = build_figures(store, graph, res)
            if res == 9:
                store.replace_walks(walks, {"file": HELSINKI.name, "res": "9"})
                memory("Helsinki, resolution 9", walks, store)
            else:
                memory("Helsinki, resolution 11", walks)
        store.close()
        near_with_network(folder / "near")
