"""Real clients against a live server (waitress, as `mapaid serve`): a page on another origin reads our
exports with ``fetch()`` as a uMap remote-data layer does, and is refused the coordinator API and writes;
GDAL reads a GeoPackage export through ``/vsicurl/`` (HEAD, then byte ranges) via pyogrio."""

from __future__ import annotations

import functools
import http.server
import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from conftest import TEST_NOW, TEST_SECRET, Cli
from databases import Databases
from livesite import serve
from playwright.sync_api import Browser

from mapaid import accounts, create_app
from mapaid.clock import FixedClock
from mapaid.store import open_store

# A page of another site: fetches each address it is given and writes down what the browser let it read.
PROBE_JS = """
const results = {};
async function probe(name, url, options) {
  try {
    const response = await fetch(url, options);
    const text = await response.text();
    results[name] = {status: response.status, length: text.length, text: text.slice(0, 200),
                     etag: response.headers.get("ETag"), language: response.headers.get("Content-Language")};
  } catch (error) {
    results[name] = {error: String(error)};
  }
}
const base = decodeURIComponent(location.hash.slice(1));
Promise.all([
  probe("geojson", base + "/export/posts.geojson"),
  probe("api", base + "/api/v1/districts", {headers: {"If-None-Match": "\\"x\\""}}),
  probe("coordinator", base + "/api/v1/coordinator/posts", {credentials: "include"}),
  probe("write", base + "/api/v1/posts", {method: "POST", headers: {"Content-Type": "application/json"},
                                           body: JSON.stringify({kind: "offer"})}),
]).then(() => { document.getElementById("out").textContent = JSON.stringify(results); });
"""
# GDAL in a process of its own: pyogrio holds the GIL while GDAL waits for our server's answer, and the
# server answers from a thread of this process.
READ_WITH_GDAL = """
import json, sys
import pyogrio
frame = pyogrio.read_dataframe(sys.argv[1])
print(json.dumps(sorted(frame["id"])))
"""
PROBE_HTML = '<!doctype html><title>elsewhere</title><pre id="out"></pre><script src="probe.js"></script>'


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, store_kind: str, databases: Databases
) -> Iterator[dict[str, Any]]:
    """Our site with 200 demo posts, its requests recorded (method, path, Range, status)."""
    folder = tmp_path_factory.mktemp("http-clients")
    db = databases.fresh(store_kind, folder)
    env = {"MAPAID_DATABASE": db, "MAPAID_SECRET_KEY": TEST_SECRET, "MAPAID_INSTANCE": str(folder)}
    assert Cli(env, FixedClock(TEST_NOW))("demo", "--posts", "200", "--seed", "8").exit_code == 0
    store = open_store(db)
    accounts.add(store, "anna", "correct horse battery", TEST_NOW.date())
    store.close()
    app = create_app({"DATABASE": db, "SECRET_KEY": TEST_SECRET, "INSTANCE_DIR": str(folder)})
    seen: list[tuple[str, str, str | None, int]] = []
    app.wsgi_app = _recording(app.wsgi_app, seen)  # type: ignore[method-assign]
    with serve(app) as base:
        yield {"base": base, "app": app, "seen": seen}


def _recording(inner: Callable[..., Iterable[bytes]], seen: list[tuple[str, str, str | None, int]]) -> Any:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen.append(
                (environ["REQUEST_METHOD"], environ["PATH_INFO"], environ.get("HTTP_RANGE"), int(status[:3]))
            )
            return start_response(status, headers, exc_info)

        return inner(environ, start)

    return app


@pytest.fixture(scope="module")
def elsewhere(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Another origin: Python's own file server on another port of 127.0.0.1, serving the probe page."""
    folder = tmp_path_factory.mktemp("elsewhere")
    (folder / "index.html").write_text(PROBE_HTML)
    (folder / "probe.js").write_text(PROBE_JS)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *_a: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.mark.browser
def test_a_page_on_another_origin_reads_exports_but_not_the_coordinator_api(
    browser: Browser, live: dict[str, Any], elsewhere: str
) -> None:
    context = browser.new_context(locale="be")
    page = context.new_page()
    page.goto(f"{elsewhere}/index.html#{live['base']}")
    page.wait_for_function("document.getElementById('out').textContent.length > 0", timeout=30_000)
    results = json.loads(page.locator("#out").text_content() or "{}")
    context.close()
    geojson = results["geojson"]
    assert geojson["status"] == 200 and geojson["text"].startswith('{"type":"FeatureCollection"'), geojson
    assert geojson["etag"] and geojson["language"] == "be"  # exposed headers reach the script
    assert results["api"]["status"] == 200, results["api"]  # a preflighted read (If-None-Match)
    assert "Failed to fetch" in results["coordinator"].get("error", ""), results["coordinator"]
    assert "Failed to fetch" in results["write"].get("error", ""), results["write"]
    assert ("POST", "/api/v1/posts", None, 201) not in live["seen"]  # the write never reached the app


def test_gdal_reads_a_geopackage_export_through_vsicurl(live: dict[str, Any]) -> None:
    live["seen"].clear()
    url = f"/vsicurl/{live['base']}/export/posts.gpkg?kind=need"
    read = subprocess.run(
        [sys.executable, "-c", READ_WITH_GDAL, url], capture_output=True, text=True, timeout=120, check=True
    )
    ids = json.loads(read.stdout.strip().splitlines()[-1])
    with live["app"].test_client() as client:
        expected = client.get("/export/posts.geojson?kind=need").json["features"]
    assert len(ids) == len(expected) > 0
    assert set(ids) == {f["properties"]["id"] for f in expected}
    ours = [s for s in live["seen"] if s[1] == "/export/posts.gpkg"]
    assert ("HEAD", "/export/posts.gpkg", None, 200) in ours, ours
    ranged = [s for s in ours if s[0] == "GET"]
    assert ranged and all(r[2] and r[3] == 206 for r in ranged), ours  # every GET a range, answered 206
