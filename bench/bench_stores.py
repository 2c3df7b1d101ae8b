"""PostGIS beside SQLite with 1,000,000 posts: the resident page, the API query and unmet needs per district.

Both stores are filled the way an operator fills them (``mapaid init-db``, then ``mapaid demo --posts
1000000``, the same seed, so the same cells, kinds and categories) and the load time of each is printed.
PostgreSQL is a throwaway cluster of scripts/pgcluster (a temporary folder, a free port), stopped at the end.

Then, through the Flask test client (server time, no network), with the two apps in one process and each
request timed on SQLite and at once on PostGIS, so a noisy neighbour on the machine hits both alike:
- ``/near/<cell>?within=800``, the resident page, over cells that hold posts;
- ``GET /api/v1/posts?cell=<cell>&within=800``, the same query as JSON;
- unmet needs per district, ``/export/districts.csv?within=800`` (the tally the coordinator's page, the
  exports and /ogcapi share), with its per-revision cache emptied before each request so the whole
  computation is timed, as right after a write.
Median and p95 of each, and PostGIS / SQLite (above 1: PostGIS is slower).

And a poster's deletion (``Store.delete`` of ``DELETES`` posts on each store) with what readers feel of it:
a reader thread asks ``/near`` without pause (its own app on the same database) through a quiet spell and
then through the deletions and the erase that takes their text off the disk (``Store.erase_removed``,
which housekeeping runs every few minutes). SQLite overwrites the row in place (``secure_delete``) and
cuts its WAL: nothing left to erase. PostGIS deletes at once and the erase rewrites the partitions that
held the text, one short transaction each (mapaid/pgerase.py): a reader waits for one partition's
rewrite at most. Before, every deletion rewrote all the post tables under one lock: 8.7 s at 1,000,000
posts on a quiet 2-core machine, during which every reader waited.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h3.api.basic_int as h3
import numpy as np

from bench.stores import SECRET, create_database, load_average, load_demo, pg_cluster
from mapaid import create_app
from mapaid.clock import SYSTEM
from mapaid.store import open_store

POSTS = 1_000_000
SEED = 7
CELLS = 200  # per query; cells drawn from those holding open posts
UNMET_RUNS = 30
WARM = 10
WITHIN = 800
DELETES = 3
QUIET_S = 10.0  # the reader alone, before the deletions
DELETE_EVERY_S = 2.0  # the deletions' pace; the erase follows the last


def sample_cells(database: str, k: int, seed: int) -> list[str]:
    """``k`` distinct cells that hold open posts (the home map's counts, so any store answers it)."""
    store = open_store(database)
    try:
        cells = np.unique(store.open_counts(SYSTEM.today())["cell"].to_numpy(dtype=np.int64))
    finally:
        store.close()
    rng = np.random.default_rng(seed)
    return [h3.int_to_str(int(c)) for c in rng.choice(cells, size=min(k, len(cells)), replace=False)]


def _unmet_cache() -> Any:
    from mapaid.cache import REGISTRY

    return next(c for c in REGISTRY if c.name == "unmet needs")


def timed(client: Any, url: str, before: Callable[[], None] | None = None) -> float:
    if before is not None:
        before()
    start = time.perf_counter()
    response = client.get(url)
    elapsed = (time.perf_counter() - start) * 1000
    assert response.status_code == 200, (url, response.status_code)
    return elapsed


def side_by_side(
    clients: dict[str, Any], urls: list[str], before: Callable[[], None] | None = None
) -> dict[str, list[float]]:
    """Each URL on every store in turn (warm-up requests first, not counted)."""
    for url in urls[:WARM]:
        for client in clients.values():
            timed(client, url, before)
    times: dict[str, list[float]] = {name: [] for name in clients}
    for url in urls:
        for name, client in clients.items():
            times[name].append(timed(client, url, before))
    return times


class Reader(threading.Thread):
    """``/near`` without pause over ``urls``, through its own app: when each request began and its ms."""

    def __init__(self, client: Any, urls: list[str]) -> None:
        super().__init__(daemon=True)
        self.client, self.urls = client, urls
        self.times: list[tuple[float, float]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        i = 0
        while not self.stop.is_set():
            began = time.perf_counter()
            timed(self.client, self.urls[i % len(self.urls)])
            self.times.append((began, (time.perf_counter() - began) * 1000))
            i += 1

    def between(self, start: float, end: float) -> list[float]:
        return [ms for began, ms in self.times if start <= began < end]


def deletions(databases: dict[str, str], clients: dict[str, Any], cells: list[str], k: int) -> dict[str, Any]:
    """On each store: a reader on ``/near`` alone for ``QUIET_S``, then ``k`` posts deleted one call each,
    ``DELETE_EVERY_S`` apart, and the erase (the spell lasts ``k * DELETE_EVERY_S`` at least); the
    deletions' and the erase's ms, and the reader's ms in each spell."""
    found: dict[str, Any] = {}
    urls = [f"/near/{c}?within={WITHIN}" for c in cells]
    for name, database in databases.items():
        store = open_store(database)
        reader = Reader(clients[name], urls)
        try:
            ids = store.public_page(SYSTEM.today(), k, 1000)[0]["id"].tolist()
            reader.start()
            quiet_from = time.perf_counter()
            time.sleep(QUIET_S)
            busy_from = time.perf_counter()
            deleted = []
            for i, post_id in enumerate(ids):
                time.sleep(max(0.0, busy_from + i * DELETE_EVERY_S - time.perf_counter()))
                start = time.perf_counter()
                assert store.delete(post_id)
                deleted.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            erased = store.erase_removed()
            erase_ms = (time.perf_counter() - start) * 1000
            time.sleep(max(0.0, busy_from + k * DELETE_EVERY_S - time.perf_counter()))
            busy_to = time.perf_counter()
            time.sleep(1.0)  # the request under way when the spell ended
        finally:
            reader.stop.set()
            reader.join()
            store.close()
        found[name] = {
            "delete": deleted,
            "erase": erase_ms,
            "erased": erased,
            "quiet": reader.between(quiet_from, busy_from),
            "busy": reader.between(busy_from, busy_to),
        }
    return found


def deletion_lines(found: dict[str, Any]) -> None:
    for name, got in found.items():
        quiet, busy = np.array(got["quiet"]), np.array(got["busy"] or [np.nan])
        print(
            f"  {name:<7} a poster's deletion median {np.median(got['delete']):7.1f} ms;"
            f" the erase: {got['erased']} tables in {got['erase']:7.1f} ms (pauses included) |"
            f" /near while deleting and erasing: median {np.median(busy):6.1f} ms, max {np.max(busy):7.1f} ms"
            f" ({len(busy)} requests) vs quiet median {np.median(quiet):6.1f} ms"
            f" ({np.median(busy) / np.median(quiet):4.2f}x)"
        )


def line(label: str, times: dict[str, list[float]]) -> None:
    sq, pg = np.array(times["SQLite"]), np.array(times["PostGIS"])
    print(
        f"  {label:<34} SQLite median {np.median(sq):7.1f} ms p95 {np.percentile(sq, 95):7.1f} ms"
        f" | PostGIS median {np.median(pg):7.1f} ms p95 {np.percentile(pg, 95):7.1f} ms"
        f" | PostGIS/SQLite {np.median(pg) / np.median(sq):5.2f}x median,"
        f" {np.percentile(pg, 95) / np.percentile(sq, 95):5.2f}x p95"
    )


def main() -> None:
    print(load_average())
    with tempfile.TemporaryDirectory(prefix="mapaid-bench-stores-") as tmp, pg_cluster() as (admin, _):
        folder = Path(tmp)
        databases = {
            "SQLite": str(folder / "sqlite" / "mapaid.sqlite3"),
            "PostGIS": create_database(admin, "bench_stores"),
        }
        for name, database in databases.items():
            took = load_demo(database, folder / name.lower(), POSTS, SEED)
            print(f"{POSTS:,} posts loaded into {name} (mapaid init-db + mapaid demo) in {took:.0f} s")
        clients = {
            name: create_app(
                {"DATABASE": database, "SECRET_KEY": SECRET, "INSTANCE_DIR": str(folder / name.lower())}
            ).test_client()
            for name, database in databases.items()
        }
        cells = sample_cells(databases["SQLite"], 2 * CELLS, seed=1)
        near = side_by_side(clients, [f"/near/{c}?within={WITHIN}" for c in cells[:CELLS]])
        api = side_by_side(clients, [f"/api/v1/posts?cell={c}&within={WITHIN}" for c in cells[CELLS:]])
        cache = _unmet_cache()
        unmet = side_by_side(clients, [f"/export/districts.csv?within={WITHIN}"] * UNMET_RUNS, cache.clear)
        print(
            f"{POSTS:,} posts; server time through the Flask test client,"
            " each request on both stores in turn:"
        )
        line(f"/near/<cell>?within={WITHIN} ({CELLS} cells)", near)
        line(f"GET /api/v1/posts ({CELLS} cells)", api)
        line(f"unmet per district ({UNMET_RUNS} runs)", unmet)
        readers = {
            name: create_app(
                {"DATABASE": database, "SECRET_KEY": SECRET, "INSTANCE_DIR": str(folder / name.lower())}
            ).test_client()
            for name, database in databases.items()
        }
        print(f"  {DELETES} deletions and their erase, with a reader on /near ({QUIET_S:.0f} s quiet first):")
        deletion_lines(deletions(databases, readers, cells[:20], DELETES))
        print(f"  after: {load_average()}")


if __name__ == "__main__":
    main()
