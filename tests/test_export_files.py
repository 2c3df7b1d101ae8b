"""Issue 17, item 4: each unfiltered export is built once per state of the data (mapaid.exportfiles) and
kept as a file under the instance folder; ETag, 304, HEAD and ranges are answered from it without a
build; a deletion or a hide changes what is served at once; requests arriving together build once; and
filtered exports and OGC API pages are built a few at a time, 503 with Retry-After beyond
(mapaid.buildslots).

Builds are counted where every export starts: the dataset functions of mapaid.views.exports."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import Cli
from flask import Flask
from werkzeug.test import TestResponse

from mapaid import create_app
from mapaid.geo import Area
from mapaid.models import Status
from mapaid.store import Store
from mapaid.views import exports

GZIP = {"Accept-Encoding": "gzip"}


@pytest.fixture
def site(cli: Cli) -> None:
    assert cli("demo", "--posts", "60", "--seed", "4").exit_code == 0


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How many times each dataset was read to build an export."""
    counts: Counter[str] = Counter()
    for name, frame in list(exports.DATASETS.items()):

        def counted(area: Area, _name: str = name, _frame: Callable[[Area], pd.DataFrame] = frame) -> Any:
            counts[_name] += 1
            return _frame(area)

        monkeypatch.setitem(exports.DATASETS, name, counted)
    return counts


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Builds of posts wait until the test sets the event (at most 30 s)."""
    opened = threading.Event()
    frame = exports.DATASETS["posts"]

    def held(area: Area) -> pd.DataFrame:
        opened.wait(30)
        return frame(area)

    monkeypatch.setitem(exports.DATASETS, "posts", held)
    yield opened
    opened.set()


def _files(config: dict[str, Any]) -> list[Path]:
    folder = Path(config["INSTANCE_DIR"]) / "exports"
    return sorted(folder.iterdir()) if folder.exists() else []


def _ids(response: TestResponse) -> set[str]:
    return {f["id"] for f in response.json["features"]}


def _in_threads(task: Callable[[], TestResponse], count: int) -> list[TestResponse]:
    results: list[TestResponse] = []
    threads = [threading.Thread(target=lambda: results.append(task())) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


@pytest.mark.parametrize("name", ["posts.gpkg", "posts.geojson", "posts.csv", "districts.csv"])
def test_a_304_a_head_and_a_range_cost_no_build(
    site: None, app: Flask, builds: Counter[str], name: str
) -> None:
    client = app.test_client()
    whole = client.get(f"/export/{name}")
    tag = whole.headers["ETag"]
    assert tag == '"' + hashlib.sha256(whole.get_data()).hexdigest()[:32] + '"'  # as defined before
    assert sum(builds.values()) == 1
    assert client.get(f"/export/{name}").get_data() == whole.get_data()
    head = client.head(f"/export/{name}")
    assert head.status_code == 200 and int(head.headers["Content-Length"]) == len(whole.get_data())
    assert head.headers["ETag"] == tag
    assert client.get(f"/export/{name}", headers={"If-None-Match": tag}).status_code == 304
    part = client.get(f"/export/{name}", headers={"Range": "bytes=0-0"})
    assert part.status_code == 206 and part.get_data() == whole.get_data()[:1]
    beyond = client.get(f"/export/{name}", headers={"Range": f"bytes={len(whole.get_data())}-"})
    assert beyond.status_code == 416
    client.get(f"/export/{name}", headers=GZIP)
    assert sum(builds.values()) == 1, builds


def test_each_language_and_distance_is_its_own_file_built_once(
    site: None, app: Flask, builds: Counter[str]
) -> None:
    client = app.test_client()
    for _ in range(2):
        for lang in ("be", "ru"):
            client.get(f"/export/posts.csv?lang={lang}")
            for within in (400, 1200):
                client.get(f"/export/districts.geojson?within={within}&lang={lang}")
    assert builds == {"posts": 2, "districts": 4}


def test_a_deletion_or_a_hide_changes_the_served_file_at_once(
    site: None, app: Flask, store: Store, builds: Counter[str]
) -> None:
    client = app.test_client()
    before = client.get("/export/posts.geojson")
    gone, hidden = sorted(_ids(before))[:2]
    assert store.delete(gone)
    after = client.get("/export/posts.geojson", headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200 and gone not in _ids(after) and hidden in _ids(after)
    assert after.headers["ETag"] != before.headers["ETag"]
    assert store.set_status(hidden, Status.HIDDEN)
    last = client.get("/export/posts.geojson")
    assert _ids(last) == _ids(before) - {gone, hidden}
    part = client.get(
        "/export/posts.geojson", headers={"Range": "bytes=0-9", "If-Range": after.headers["ETag"]}
    )
    assert part.status_code == 200 and part.get_data() == last.get_data()  # not a piece of the old file
    assert builds["posts"] == 3, builds


def test_requests_arriving_together_build_once(
    site: None, app: Flask, builds: Counter[str], gate: threading.Event
) -> None:
    """One request builds; two more for the same file (as many as may wait: MAPAID_EXPORT_BUILDS) wait for
    it and get the same file."""
    opener = threading.Timer(1.5, gate.set)  # time for the three to arrive
    opener.start()
    answers = _in_threads(lambda: app.test_client().get("/export/posts.gpkg"), 3)
    opener.join()
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert len({a.get_data() for a in answers}) == 1
    assert builds["posts"] == 1, builds


def test_another_process_uses_the_file_already_there(
    site: None, config: dict[str, Any], builds: Counter[str]
) -> None:
    """Two `mapaid serve` processes sharing the instance folder: the second builds nothing."""
    first = create_app(config).test_client().get("/export/posts.gpkg")
    second = create_app(config).test_client().get("/export/posts.gpkg")
    assert first.get_data() == second.get_data() and first.headers["ETag"] == second.headers["ETag"]
    assert builds["posts"] == 1, builds


def test_files_are_kept_under_the_instance_folder_and_old_ones_removed(
    site: None, app: Flask, config: dict[str, Any], store: Store
) -> None:
    folder = Path(config["INSTANCE_DIR"]) / "exports"
    folder.mkdir(parents=True)
    stale = folder / ".left-by-a-stopped-process.tmp"
    old = folder / "0123456789ab.2020-01-01.5.x.posts.y.gpkg"  # another database's, years old
    for path in (stale, old):
        path.write_bytes(b"x")
        os.utime(path, (0, 0))
    client = app.test_client()
    gpkg = client.get("/export/posts.gpkg")
    files = _files(config)
    assert [p.read_bytes() for p in files if p.suffix == ".gpkg"] == [gpkg.get_data()]
    assert len(files) == 2 and not stale.exists() and not old.exists()  # the file and its pointer
    today = config["CLOCK"].today()
    midnight = datetime.combine(today, datetime.min.time(), tzinfo=UTC).timestamp()
    assert {p.stat().st_mtime for p in files} == {midnight}  # no record of when someone asked
    store.delete(sorted(_ids(client.get("/export/posts.geojson")))[0])
    client.get("/export/posts.gpkg")
    newer = _files(config)
    assert len(newer) == 2 and not set(newer) & set(files)  # the last state's files only


def test_a_file_removed_under_the_server_is_built_again(
    site: None, app: Flask, config: dict[str, Any], builds: Counter[str]
) -> None:
    client = app.test_client()
    first = client.get("/export/posts.gpkg")
    for path in _files(config):
        if path.suffix != ".json":  # another process's sweep took the body, not yet the pointer
            path.unlink()
    again = client.get("/export/posts.gpkg")
    assert again.status_code == 200 and again.get_data() == first.get_data()
    client.get("/export/posts.gpkg")
    assert builds["posts"] == 2, builds


def test_builds_beyond_the_slots_get_503_and_built_files_are_still_served(
    site: None, config: dict[str, Any], gate: threading.Event
) -> None:
    app = create_app({**config, "EXPORT_BUILDS": "1"})
    client = app.test_client()
    built = client.get("/export/districts.csv")  # districts are not held by the gate
    # One filtered export holds the slot of per-request builds; one file build holds the files' slot.
    held = [
        threading.Thread(target=lambda u=url: app.test_client().get(u))
        for url in ("/export/posts.geojson?kind=need", "/export/posts.csv")
    ]
    for thread in held:
        thread.start()
    deadline = time.monotonic() + 30
    slots = app.extensions["mapaid.buildslots"]
    while time.monotonic() < deadline and not (slots.queries.in_use and slots.files.in_use):
        time.sleep(0.05)
    try:
        page = client.get("/export/posts.geojson?kind=offer", headers={"Accept-Language": "ru"})
        assert page.status_code == 503 and page.mimetype == "text/html"
        assert page.headers["Retry-After"] == "2" and page.headers["Cache-Control"] == "no-store"
        assert "попробуйте снова" in page.text
        ogc = client.get("/ogcapi/collections/posts/items")
        assert ogc.status_code == 503 and ogc.json["description"] and ogc.headers["Retry-After"] == "2"
        other = client.get("/export/posts.gpkg")  # another file: the one file slot is taken
        assert other.status_code == 503 and other.headers["Retry-After"] == "5"
        assert client.get("/export/districts.csv").get_data() == built.get_data()  # a built file: served
        tag = {"If-None-Match": built.headers["ETag"]}
        assert client.get("/export/districts.csv", headers=tag).status_code == 304
        assert client.get("/ogcapi/collections/posts").status_code == 200  # a small document
    finally:
        gate.set()
        for thread in held:
            thread.join(60)
    assert client.get("/export/posts.geojson?kind=offer").status_code == 200
