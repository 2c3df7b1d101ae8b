"""The one-byte-range attack of issue 17, item 4, at 100,000 open posts: ten keep-alive connections asking
for ``Range: bytes=0-0`` of ``/export/posts.gpkg`` as fast as the answers come, against ``mapaid serve``,
while one client times ``/near`` on the busiest cell. Quiet and attack phases alternate (tests/rangeflood.py)
and each line gives the quiet median beside the attacked one, with the ratio (target: at most 2).

Two servers over the same database: as shipped (each export built once per state of the data and answered
from its file; reads of /export/ limited per client before Flask, mapaid.readlimit, and a refused client
not read for a second, mapaid/holds.py), and with the read limit lifted, which shows why it is there: the
file alone makes each range cheap, but ten connections of cheap requests still keep the interpreter lock
from ``/near``. The attacker connects from 127.0.0.2, another client than the one timing ``/near``.
Before the file cache each range built the whole GeoPackage (the issue measured /near at 18.5 s against
0.07 s quiet); the first line shows what one build costs beside a range of the built file.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from bench.bench_near import SECRET, make_db
from mapaid.clock import SYSTEM
from mapaid.store import open_store

ROOT = Path(__file__).resolve().parent.parent
MAPAID = Path(sys.executable).parent / "mapaid"
sys.path.insert(0, str(ROOT / "tests"))
from rangeflood import interleaved, timed  # noqa: E402 - tests/ holds the attack the test runs too

POSTS = 100_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def _server(db: Path, folder: Path, **settings: str) -> Iterator[str]:
    port = _free_port()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "serve.log"
    log = path.open("wb")
    process = subprocess.Popen(
        [str(MAPAID), "serve", "--port", str(port)],
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("MAPAID_")},
            "MAPAID_DATABASE": str(db),
            "MAPAID_SECRET_KEY": SECRET,
            "MAPAID_INSTANCE": str(folder / "instance"),
            **settings,
        },
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"mapaid serve did not start: {path.read_text()[-2000:]}") from None
                time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        process.wait(30)
        log.close()


def _busiest(db: Path) -> str:
    store = open_store(db)
    try:
        return f"{int(store.posts(SYSTEM.today())['cell'].value_counts().index[0]):x}"
    finally:
        store.close()


def _first_and_cached(url: str) -> tuple[float, float]:
    """Seconds for the first GET of posts.gpkg (the build) and the median of 20 one-byte ranges after
    (inside the read limit)."""
    start = time.perf_counter()
    with urllib.request.urlopen(f"{url}/export/posts.gpkg", timeout=300) as answer:
        answer.read()
    first = time.perf_counter() - start
    ranges = []
    for _ in range(20):
        request = urllib.request.Request(f"{url}/export/posts.gpkg", headers={"Range": "bytes=0-0"})
        start = time.perf_counter()
        with urllib.request.urlopen(request, timeout=60) as answer:
            answer.read()
        ranges.append(time.perf_counter() - start)
    return first, sorted(ranges)[len(ranges) // 2]


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="mapaid-bench-attack-") as tmp:
        folder = Path(tmp)
        db = make_db(folder, POSTS, seed=23)
        page = f"/near/{_busiest(db)}"
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"{POSTS:,} open posts; /near on the busiest cell; load average {load}, {os.cpu_count()} cores")
        for name, settings in (
            ("as shipped", {}),
            ("read limit lifted", {"MAPAID_READ_LIMIT": "1000000 per second"}),
        ):
            with _server(db, folder / name.replace(" ", "-"), **settings) as url:
                timed(url, page, 2.0)  # warm: the base map and the counts every visitor shares
                if not settings:
                    first, cached = _first_and_cached(url)
                    print(
                        f"posts.gpkg: first GET (the build) {first * 1000:8.0f} ms | one-byte range of the "
                        f"built file {cached * 1000:6.1f} ms | ratio {first / cached:,.0f}x",
                        flush=True,
                    )
                timings = interleaved(url, page, "/export/posts.gpkg", rounds=8, quiet_s=2.5, attack_s=2.5)
                quiet, attacked = timings.medians()
                target = "meets" if attacked <= 2 * quiet else "MISSES"
                print(
                    f"{name:18} /near quiet {quiet * 1000:6.1f} ms | attacked {attacked * 1000:6.1f} ms | "
                    f"ratio {attacked / quiet:4.2f} ({target} <= 2) | attack answers {dict(timings.answers)}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
