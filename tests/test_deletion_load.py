"""A client deleting its own posts does not stop a PostGIS site (issue 17, item 5).

PostGIS only: about PostgreSQL's table locks (SQLite overwrites a deleted row in place, tests/test_cli.py).
Before, each deletion rewrote the post tables under ACCESS EXCLUSIVE so the text left PostgreSQL's files
at once: about 2 s at 100,000 posts, during which every reader waited. Now a deletion is a plain DELETE
and the erase (mapaid/pgerase.py) rewrites only the partitions that held it, one short transaction each.

A real server (waitress in a thread, tests/livesite.py) on 100,000 posts; a reader polls ``/near`` without
pause. Quiet phases and deleting phases take turns; in the deleting phases a client deletes its 20 posts
through the API at one every 3 s (20 in a minute of deleting), and the erase runs after every fourth, far
more often than housekeeping's timer. The reader's median in the deleting phases stays within 2x of its
median in the quiet ones; and once the erase has run, no deleted text is in the database's files.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
import urllib.request
from itertools import cycle
from pathlib import Path

import h3.api.basic_int as h3
from conftest import ROOMY_LIMITS, TEST_NOW, TEST_SECRET
from databases import postgis_only
from helpers import database_bytes
from livesite import serve

from mapaid import create_app, demo
from mapaid.clock import FixedClock
from mapaid.config import DEFAULT_CATEGORIES
from mapaid.pipeline import ingest, rules_for
from mapaid.store import open_store

POSTS = 100_000
MINE = 20  # the client's own posts, which it deletes
PER_PHASE = 4  # deletions per deleting phase: 5 phases
EVERY_S = 3.0  # one deletion every 3 s: 20 in a minute
QUIET_S = 6.0
HOMES = [(53.9023, 27.5619), (53.8850, 27.5400), (53.9300, 27.6000), (53.8700, 27.6200), (53.9150, 27.4800)]


def _fill(database: str) -> None:
    """100,000 synthetic posts in one batch (the store's COPY), as `mapaid demo` makes them."""
    store = open_store(database)
    try:
        frame = demo.generate(store.area(), POSTS, 17, DEFAULT_CATEGORIES)
        rules = rules_for(DEFAULT_CATEGORIES, 9, TEST_NOW.date())
        ingest(frame, [f"row {i}" for i in range(POSTS)], rules, store, TEST_SECRET.encode())
    finally:
        store.close()


def _request(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> int:
    with urllib.request.urlopen(
        urllib.request.Request(url, method=method, headers=headers or {}), timeout=120
    ) as answer:
        answer.read()
        return int(answer.status)


def _post(base: str, text: str, at: tuple[float, float]) -> tuple[str, str]:
    """A post through the API, as a client makes it; its id and token."""
    body = {"kind": "need", "category": "food", "text": text, "lat": at[0], "lon": at[1]}
    request = urllib.request.Request(
        f"{base}/api/v1/posts",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=120) as answer:
        made = json.loads(answer.read())
    return str(made["id"]), str(made["token"])


class Reader(threading.Thread):
    """Polls ``/near`` over a few cells, one request after another; each request's start and latency."""

    def __init__(self, base: str, cells: list[str]) -> None:
        super().__init__(daemon=True)
        self.urls = cycle(f"{base}/near/{cell}?within=800" for cell in cells)
        self.times: list[tuple[float, float]] = []
        self.failed: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                _request(next(self.urls))
            except Exception as error:  # the test says which, after it stopped the reader
                self.failed.append(repr(error))
            self.times.append((started, time.monotonic() - started))


@postgis_only
def test_deleting_posts_does_not_stop_readers(database: str, tmp_path: Path) -> None:
    _fill(database)
    config = {
        "DATABASE": database,
        "SECRET_KEY": TEST_SECRET,
        "INSTANCE_DIR": str(tmp_path / "instance"),
        "CLOCK": FixedClock(TEST_NOW),
        **ROOMY_LIMITS,
    }
    store = open_store(database)
    with serve(create_app(config)) as base:
        texts = [f"Zyx-gone-{i:02d}" for i in range(MINE)] + ["Zyx-stays"]
        mine = {text: _post(base, text, HOMES[i % len(HOMES)]) for i, text in enumerate(texts)}
        cells = [h3.int_to_str(h3.latlng_to_cell(lat, lon, 9)) for lat, lon in HOMES]
        reader = Reader(base, cells)
        reader.start()
        phases: list[tuple[str, float, float]] = []
        try:
            time.sleep(QUIET_S)  # warm-up, not counted
            for phase in range(MINE // PER_PHASE):
                began = time.monotonic()
                time.sleep(QUIET_S)
                phases.append(("quiet", began, time.monotonic()))
                began = time.monotonic()
                for j in range(PER_PHASE):
                    post_id, token = mine[texts[phase * PER_PHASE + j]]
                    status = _request(f"{base}/api/v1/posts/{post_id}", "DELETE", {"X-Post-Token": token})
                    assert status == 204 and store.get(post_id) is None  # gone from answers at once
                    if j == PER_PHASE - 1:
                        store.erase_removed()  # what housekeeping runs every few minutes
                    time.sleep(max(0.0, began + EVERY_S * (j + 1) - time.monotonic()))
                phases.append(("deleting", began, time.monotonic()))
        finally:
            reader.stop.set()
            reader.join(timeout=120)
    store.erase_removed()
    store.close()

    def median(kind: str) -> float:
        spans = [(a, b) for k, a, b in phases if k == kind]
        times = [dt for t, dt in reader.times if any(a <= t < b for a, b in spans)]
        assert len(times) >= 10, (kind, len(times))  # the reader read all along
        return statistics.median(times)

    assert reader.failed == []
    quiet, deleting = median("quiet"), median("deleting")
    ratio = deleting / quiet
    print(f"/near median: quiet {quiet * 1000:.1f} ms, deleting {deleting * 1000:.1f} ms ({ratio:.2f}x)")
    assert deleting <= 2 * quiet, (quiet, deleting)
    on_disk = database_bytes(database)
    assert [text for text in texts[:MINE] if text.encode() in on_disk] == []
    assert b"Zyx-stays" in on_disk
