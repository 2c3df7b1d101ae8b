"""Whether someone else viewed a cell shows in nothing another visitor can observe, nor in server memory.

Client A views 100 random cells; client B then asks once for each of those and of 100 cells nobody viewed,
through ``/near/<cell>`` and ``GET /api/v1/posts``, in three rounds (a write before each, so no earlier
answer can be reused); a cell's time is its median. The issue asks for 40 + 40 cells; 100 + 100 makes the
verdict steadier: a classifier at chance reaches 60 % accuracy by luck about once in 17 runs at 40 + 40,
once in 270 at 100 + 100. The cells and the order come from fixed seeds, so what varies between runs is
only the noise of the machine on top of each cell's own, fixed cost.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import h3.api.basic_int as h3
import numpy as np
import pytest
from conftest import TEST_NOW
from databases import Databases
from flask import Flask
from flask.testing import FlaskClient
from heapscan import references
from peek import peek

from mapaid import cache, create_app, demo
from mapaid.clock import FixedClock
from mapaid.config import DEFAULT_CATEGORIES
from mapaid.nearby import Query, nearby
from mapaid.pipeline import ingest, rules_for
from mapaid.store import open_store

SECRET = "test-secret-not-for-production"
POSTS = 4_000
VIEWED = UNVIEWED = 100  # an even number of cells, split in matched pairs
ROUNDS = 3
TODAY = TEST_NOW.date()
NONCE = re.compile(r"""nonce(?:-|=["']?)[A-Za-z0-9+/=_-]+""")
FOLIUM_ID = re.compile(r"_[0-9a-f]{32}(?![0-9a-f])")  # folium names its elements at random, once per process


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory, store_kind: str, databases: Databases) -> dict[str, Any]:
    """A database with posts in many cells, and 100 + 100 cells holding posts, split at random."""
    folder = tmp_path_factory.mktemp("side-channels")
    db = databases.fresh(store_kind, folder)
    store = open_store(db)
    frame = demo.generate(store.area(), POSTS, 41, DEFAULT_CATEGORIES)
    frame["expires"] = "30"
    ingest(frame, [""] * POSTS, rules_for(DEFAULT_CATEGORIES, 9, TODAY), store, SECRET.encode())
    held = np.unique([row[0] for row in peek(db, "SELECT cell FROM posts")])
    rng = np.random.default_rng(20)
    chosen = rng.choice(held, size=VIEWED + UNVIEWED + 1, replace=False)
    spare, chosen = int(chosen[-1]), chosen[:-1]
    # Matched pairs: cells ranked by how many posts are within reach (what a page costs), and of each two
    # neighbours in that ranking one is viewed, the other not, so the groups cost the same to serve.
    reach = [len(nearby(store, Query(int(c), 800), TODAY).posts) for c in chosen.tolist()]
    pairs = chosen[np.argsort(reach, kind="stable")].reshape(-1, 2)
    flip = rng.random(len(pairs)) < 0.5
    viewed, unviewed = np.where(flip, pairs[:, 0], pairs[:, 1]), np.where(flip, pairs[:, 1], pairs[:, 0])
    store.close()
    config = {
        "DATABASE": db,
        "SECRET_KEY": SECRET,
        "TESTING": True,
        "INSTANCE_DIR": str(folder),
        "CLOCK": FixedClock(TEST_NOW),
    }
    return {
        "config": config,
        "viewed": np.sort(viewed),
        "unviewed": np.sort(unviewed),
        "spare": spare,  # for warming up: neither viewed nor unviewed
    }


def _urls(cell: int) -> tuple[str, str]:
    hexid = h3.int_to_str(cell)
    return f"/near/{hexid}?within=800", f"/api/v1/posts?cell={hexid}&within=800"


def _warm(client: FlaskClient, cell: int) -> None:
    """Imports, the served area, folium's templates: what the first request of a process pays."""
    for _ in range(3):
        for url in _urls(cell):
            assert client.get(url).status_code == 200
    assert client.get("/").status_code == 200


def _view(client: FlaskClient, cells: np.ndarray) -> None:
    """Client A looks at each cell, as B will ask for it."""
    for cell in cells.tolist():
        for url in _urls(cell):
            assert client.get(url).status_code == 200


def _normal(text: str) -> str:
    """A response without its per-response values (a CSP nonce, should a page carry one) and per-process
    ones (folium's element names)."""
    return FOLIUM_ID.sub("_id", NONCE.sub("nonce", text))


def _fingerprint(headers: dict[str, str], body: str) -> tuple[str, str]:
    kept = sorted((k, _normal(v)) for k, v in headers.items() if k != "Content-Length")
    return json.dumps(kept), hashlib.sha256(_normal(body).encode()).hexdigest()


def _cache_keys() -> dict[str, set[frozenset[tuple[str, object]]]]:
    """Every shared cache's keys (their order is recency, which says nothing about places)."""
    return {c.name: {frozenset(k.items()) for k in c.entries()} for c in cache.REGISTRY}


@pytest.fixture(scope="module")
def observed(scene: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Rounds of: a write (so no earlier answer can be reused), A views its cells, then B asks for every
    cell once per endpoint, in a random order, timing each request."""
    app: Flask = create_app(scene["config"])
    alice, bob = app.test_client(), app.test_client()
    _warm(bob, scene["spare"])
    store = open_store(scene["config"]["DATABASE"])
    cells = np.concatenate([scene["viewed"], scene["unviewed"]])
    times: dict[str, dict[int, list[float]]] = {"near": {}, "api": {}}
    prints: dict[str, dict[int, tuple[str, str]]] = {"near": {}, "api": {}}
    rng = np.random.default_rng(7)
    memory: dict[str, Any] = {}
    for round_ in range(ROUNDS):
        store.set_meta("side_channel_round", str(round_))  # a write: the store's revision moves on
        if round_ == 0:
            memory["before"] = references(cells, [scene])
            memory["caches"] = _cache_keys()
        _view(alice, scene["viewed"])
        if round_ == 0:
            assert bob.get("/health").status_code == 200  # the test client keeps the last URL it asked
            memory["after"] = references(cells, [scene, memory])
            memory["caches_after"] = _cache_keys()
        for cell in rng.permutation(cells).tolist():
            pair = list(zip(("near", "api"), _urls(cell), strict=True))
            for name, url in pair if rng.random() < 0.5 else pair[::-1]:
                start = time.perf_counter()
                response = bob.get(url)
                elapsed = time.perf_counter() - start
                assert response.status_code == 200, url
                times[name].setdefault(cell, []).append(elapsed)
                prints[name].setdefault(
                    cell, _fingerprint(dict(response.headers), response.get_data(as_text=True))
                )
    store.close()
    yield {"times": times, "prints": prints, **memory}


def _accuracy(times: dict[int, list[float]], viewed: set[int]) -> float:
    """A threshold classifier: "viewed" when a cell's median time is below the median of all cells."""
    medians = {cell: float(np.median(t)) for cell, t in times.items()}
    threshold = float(np.median(list(medians.values())))
    right = sum((m < threshold) == (cell in viewed) for cell, m in medians.items())
    return right / len(medians)


@pytest.mark.parametrize("endpoint", ["near", "api"])
def test_timing_does_not_tell_viewed_cells(
    scene: dict[str, Any], observed: dict[str, Any], endpoint: str
) -> None:
    viewed = set(scene["viewed"].tolist())
    accuracy = _accuracy(observed["times"][endpoint], viewed)
    medians = {c: float(np.median(t)) * 1000 for c, t in observed["times"][endpoint].items()}
    seen = np.median([m for c, m in medians.items() if c in viewed])
    unseen = np.median([m for c, m in medians.items() if c not in viewed])
    print(f"{endpoint}: accuracy {accuracy:.0%}, median {seen:.2f} ms viewed, {unseen:.2f} ms not viewed")
    assert accuracy <= 0.60, (accuracy, seen, unseen)


def test_server_memory_holds_no_viewed_cell(scene: dict[str, Any], observed: dict[str, Any]) -> None:
    """Each cell is referenced as often after A's views as before them, and no cache gained an entry."""
    grew = {
        h3.int_to_str(cell): (observed["before"][cell], n)
        for cell, n in observed["after"].items()
        if n != observed["before"][cell]
    }
    assert not grew, f"{len(grew)} cells gained references: {list(grew.items())[:5]}"
    assert observed["caches"] == observed["caches_after"]


@pytest.mark.parametrize("endpoint", ["near", "api"])
def test_headers_are_the_same_for_viewed_and_unviewed_cells(observed: dict[str, Any], endpoint: str) -> None:
    headers = {h for h, _ in observed["prints"][endpoint].values()}
    assert len(headers) == 1, headers
    assert "X-Cache" not in next(iter(headers)) and "Age" not in next(iter(headers))


FRESH = """
import json, sys
from datetime import datetime
from mapaid import create_app
from mapaid.clock import FixedClock
config, urls = json.loads(sys.argv[1]), json.loads(sys.argv[2])
config["CLOCK"] = FixedClock(datetime.fromisoformat(config["CLOCK"]))
client = create_app(config).test_client()
out = {}
for url in urls:
    r = client.get(url)
    out[url] = [dict(r.headers), r.get_data(as_text=True)]
print(json.dumps(out))
"""


def test_answers_are_those_of_a_server_nobody_asked(scene: dict[str, Any], observed: dict[str, Any]) -> None:
    """B's answers, viewed cells or not, equal a fresh server's, whose process has served nothing else."""
    cells = np.concatenate([scene["viewed"][:25], scene["unviewed"][:25]]).tolist()
    urls = {
        url: (name, cell) for cell in cells for name, url in zip(("near", "api"), _urls(cell), strict=True)
    }
    config = json.dumps({**scene["config"], "CLOCK": TEST_NOW.isoformat()})
    result = subprocess.run(
        [sys.executable, "-c", FRESH, config, json.dumps(list(urls))],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    fresh = json.loads(result.stdout.strip().splitlines()[-1])
    for url, (name, cell) in urls.items():
        assert _fingerprint(*fresh[url]) == observed["prints"][name][cell], url
