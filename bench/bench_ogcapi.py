"""OGC API – Features ``/items`` at 100,000 posts, beside pygeoapi's own Flask app serving the same rows.

Ours: ``mapaid serve`` (waitress) on a store of 100,000 open posts, ``/ogcapi/collections/posts/items?
limit=1000`` at offsets spread over the whole list. The peer: pygeoapi (the reference implementation, its
Flask app under waitress with the same number of threads) serving the very same rows, public fields and
shown points, from a GeoPackage written by our export, through its SQLite/GeoPackage provider, configured
by a YAML file generated here. Both are real servers on loopback, asked the same pages the same way (one
keep-alive connection each, requests one after another), taking turns page by page in the same run, so
the shared machine's busy moments fall on both alike. pygeoapi's provider is given
an easier job in one respect: it does not count the matching rows (no ``numberMatched``), which ours does.

The peer needs a Python whose sqlite3 may load SpatiaLite, and SpatiaLite itself: Debian's python3.11 and
``libsqlite3-mod-spatialite``. ``make bench`` sets that up (``make pygeoapi-peer``: a venv in
``.venv-pygeoapi`` with the pins in ``bench/pygeoapi-peer.txt``); without it, this benchmark says so and
measures ours alone.

Target: at least 3x pygeoapi's requests per second. Also gzip's effect, in bytes, on the largest page
(limit=1000) and on the whole posts export (GeoJSON).
"""

from __future__ import annotations

import gzip
import http.client
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.bench_near import SECRET, make_db
from mapaid import export
from mapaid.clock import SYSTEM
from mapaid.store import open_store

POSTS = 100_000
LIMIT = 1000
OFFSETS = (0, 12_000, 25_000, 37_000, 50_000, 62_000, 75_000, 87_000, 99_000)
ROUNDS = 3  # each offset this many times, per server
PEER = Path(__file__).resolve().parent.parent / ".venv-pygeoapi"
SPATIALITE = "/usr/lib/x86_64-linux-gnu/mod_spatialite.so"
THREADS = 4  # waitress threads, as `mapaid serve` runs

CONFIG = """
server:
  bind: {{host: 127.0.0.1, port: {port}}}
  url: http://127.0.0.1:{port}
  mimetype: application/json; charset=UTF-8
  encoding: utf-8
  languages: [en-US]
  limits: {{default_items: 100, max_items: {limit}}}
  map: {{url: "http://127.0.0.1/{{z}}/{{x}}/{{y}}.png", attribution: none}}
logging:
  level: ERROR
metadata:
  identification:
    title: mapaid bench
    description: the same posts as mapaid serves
    keywords: [mapaid]
    keywords_type: theme
    terms_of_service: https://creativecommons.org/licenses/by/4.0/
    url: http://127.0.0.1
  license: {{name: ODbL, url: https://opendatacommons.org/licenses/odbl/}}
  provider: {{name: mapaid, url: http://127.0.0.1}}
  contact: {{name: bench, position: none, address: none, city: none, stateorprovince: none, postalcode: none,
    country: none, phone: none, fax: none, email: none, url: http://127.0.0.1, hours: none,
    instructions: none, role: pointOfContact}}
resources:
  posts:
    type: collection
    title: posts
    description: posts
    keywords: [posts]
    extents:
      spatial:
        bbox: [27.3, 53.7, 28.1, 54.0]
        crs: http://www.opengis.net/def/crs/OGC/1.3/CRS84
    providers:
      - type: feature
        name: SQLiteGPKG
        data: {gpkg}
        id_field: id
        table: posts
"""


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(port: int, path: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()[-3000:]}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            connection.request("GET", path)
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"no answer from port {port}: {log.read_text()[-3000:]}")


class Client:
    """One keep-alive connection to one server; each page timed on its own, features counted."""

    def __init__(self, port: int, path: str) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.path = path
        self.seconds = 0.0
        self.requests = self.features = 0
        self.largest = b""

    def get(self, offset: int) -> None:
        start = time.perf_counter()
        self.connection.request(
            "GET", f"{self.path}?limit={LIMIT}&offset={offset}", headers={"Accept": "application/json"}
        )
        response = self.connection.getresponse()
        body = response.read()
        self.seconds += time.perf_counter() - start
        assert response.status == 200, (response.status, body[:300])
        self.requests += 1
        self.features += body.count(b'"Feature"')
        if len(body) > len(self.largest):
            self.largest = body

    def per_second(self) -> float:
        return self.requests / self.seconds


def measure(clients: list[Client]) -> None:
    """ROUNDS x OFFSETS pages from every server, taking turns page by page, so that a busy moment of the
    machine (it is shared) falls on both alike rather than on whichever ran second."""
    for client in clients:
        client.get(OFFSETS[0])  # warm up
        client.seconds, client.requests, client.features = 0.0, 0, 0
    for _ in range(ROUNDS):
        for offset in OFFSETS:
            for client in clients:
                client.get(offset)
    for client in clients:
        assert client.features == ROUNDS * len(OFFSETS) * LIMIT, client.features


def serve_ours(folder: Path, db: Path) -> tuple[subprocess.Popen[bytes], int, Path]:
    port, log = free_port(), folder / "ours.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAPAID_")}
    env.update(MAPAID_DATABASE=str(db), MAPAID_SECRET_KEY=SECRET, MAPAID_INSTANCE=str(folder))
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "mapaid.cli", "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return process, port, log


def serve_pygeoapi(folder: Path, gpkg: Path) -> tuple[subprocess.Popen[bytes], int, Path]:
    port, log = free_port(), folder / "pygeoapi.log"
    config, openapi = folder / "pygeoapi.yml", folder / "pygeoapi-openapi.yml"
    config.write_text(CONFIG.format(port=port, limit=LIMIT, gpkg=gpkg), encoding="utf-8")
    env = {
        **os.environ,
        "PYGEOAPI_CONFIG": str(config),
        "PYGEOAPI_OPENAPI": str(openapi),
        "SPATIALITE_LIBRARY_PATH": SPATIALITE,
    }
    subprocess.run(
        [str(PEER / "bin" / "pygeoapi"), "openapi", "generate", str(config), "--output-file", str(openapi)],
        env=env,
        check=True,
        capture_output=True,
    )
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(PEER / "bin" / "waitress-serve"),
                f"--port={port}",
                f"--threads={THREADS}",
                "pygeoapi.flask_app:APP",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return process, port, log


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        db = make_db(folder, POSTS, seed=21)
        store = open_store(db)
        area = store.area()
        frame = export.public_frame(store.posts(SYSTEM.today()), area, 9)
        store.close()
        gpkg = folder / "posts.gpkg"
        export.write(frame, "gpkg", gpkg)
        took = time.perf_counter() - start
        print(f"{len(frame):,} open posts stored, and written to a GeoPackage, in {took:.0f} s")

        peer_ready = (PEER / "bin" / "pygeoapi").exists() and Path(SPATIALITE).exists()
        processes: list[subprocess.Popen[bytes]] = []
        try:
            process, port, log = serve_ours(folder, db)
            processes.append(process)
            wait_for(port, "/health", process, log)
            clients = [Client(port, "/ogcapi/collections/posts/items")]
            if peer_ready:
                process, port, log = serve_pygeoapi(folder, gpkg)
                processes.append(process)
                wait_for(port, "/collections/posts/items?limit=1", process, log)
                clients.append(Client(port, "/collections/posts/items"))
            measure(clients)
        finally:
            for process in processes:
                stop(process)
        ours = clients[0].per_second()
        print(f"/items?limit={LIMIT} at {len(OFFSETS)} offsets x {ROUNDS}, real servers, one keep-alive")
        print("client each, taking turns page by page:")
        print(f"  ours (mapaid serve, waitress {THREADS} threads)      {ours:8.1f} requests/s")
        if not peer_ready:
            print("  pygeoapi: not set up (run `make pygeoapi-peer`); no ratio measured")
        else:
            peer = clients[1].per_second()
            ratio = ours / peer
            print(f"  pygeoapi 0.21 (Flask app, SQLiteGPKG, waitress) {peer:8.1f} requests/s")
            print(
                f"  ratio ours / pygeoapi: {ratio:.1f}x   target >= 3x   {'ok' if ratio >= 3 else 'MISSED'}"
            )
        page = clients[0].largest

        whole = export.to_geojson(frame)
        print("gzip (Python's gzip, level 6):")
        for name, body in ((f"largest /items page (limit={LIMIT})", page), ("posts.geojson export", whole)):
            packed = len(gzip.compress(body, compresslevel=6))
            print(f"  {name:<36} {len(body):>12,} B -> {packed:>11,} B  ({len(body) / packed:.1f}x smaller)")
        shutil.rmtree(folder / "instance", ignore_errors=True)


if __name__ == "__main__":
    main()
