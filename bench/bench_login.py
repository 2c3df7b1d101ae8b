"""Resident pages during a login flood, beside the same flood against unguarded logins.

The issue's finding: 24 clients posting logins with random names slowed resident pages from 5 ms to
1.5 s, because every attempt ran a 64 MiB argon2 hash, all at once. Here a real ``mapaid serve`` (waitress,
8 threads) answers ``GET /api/v1/posts?cell=...`` while 24 clients, each from its own loopback address,
post logins as fast as they can. Ours: one hash at a time (the rest answered 503 at once) and 20 checks a
minute per client (then 429). The peer: the same server with both limits lifted (the slot as wide as the
flood, the per-client count unbounded), i.e. logins as they were. The floor: the same 24 clients only
fetching the login page, the cost of the requests themselves (a reverse proxy's job, docs/). Targets: the
median resident page during the login flood within 1.5x of the floor; the peer's at least 10x slower.
"""

from __future__ import annotations

import http.client
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

from click.testing import CliRunner

from mapaid.cli import main as cli

FLOODERS = 24
PAGES = 150
SECONDS = 20.0
SECRET = "bench-secret"
PEER = (
    "import sys, threading; import mapaid.accounts as a, mapaid.loginguard as g;"
    " a._SLOT = threading.BoundedSemaphore(1000); g.MAX_CLIENT_ATTEMPTS = 10**9;"
    " from mapaid.cli import main; main(sys.argv[1:])"
)
OURS = "import sys; from mapaid.cli import main; main(sys.argv[1:])"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(folder: Path) -> dict[str, str]:
    env = {"MAPAID_DATABASE": str(folder / "mapaid.sqlite3"), "MAPAID_SECRET_KEY": SECRET}
    env["MAPAID_INSTANCE"] = str(folder)
    for args, given in (
        (["init-db"], None),
        (["demo", "--posts", "2000", "--seed", "1"], None),
        (["coordinator", "add", "anna", "--password-stdin"], "correct horse battery\n"),
    ):
        result = CliRunner().invoke(cli, args, env=env, input=given)
        assert result.exit_code == 0, result.output
    return env


def cells(env: dict[str, str]) -> list[int]:
    from mapaid.store import open_store

    store = open_store(env["MAPAID_DATABASE"])
    found = [int(r[0]) for r in store.db.execute("SELECT DISTINCT cell FROM posts LIMIT 300")]
    store.close()
    return found


def wait_up(port: int) -> None:
    for _ in range(200):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def resident_ms(port: int, cell_ids: list[int]) -> list[float]:
    """Up to ``PAGES`` resident requests, one after another, for at most ``SECONDS``."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    times: list[float] = []
    until = time.perf_counter() + SECONDS
    for i in range(PAGES):
        if time.perf_counter() > until and len(times) >= 5:
            break
        start = time.perf_counter()
        conn.request("GET", f"/api/v1/posts?cell={cell_ids[i % len(cell_ids)]:x}&within=800")
        response = conn.getresponse()
        response.read()
        times.append((time.perf_counter() - start) * 1000)
        assert response.status == 200, response.status
    return times


def flood(port: int, address: str, stop: threading.Event, statuses: list[int], post: bool) -> None:
    """One client: fetch the form (cookie and CSRF token), then post random names (or, for the floor,
    fetch the form again) until told to stop."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60, source_address=(address, 0))
    conn.request("GET", "/coordinator/login")
    page = conn.getresponse()
    cookie = (page.getheader("Set-Cookie") or "").split(";")[0]
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.read().decode())
    assert match
    while not stop.is_set():
        body = urlencode(
            {"name": f"x{secrets.token_hex(4)}", "password": "guess guess guess", "csrf_token": match[1]}
        )
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}
        if post:
            conn.request("POST", "/coordinator/login", body=body, headers=headers)
        else:
            conn.request("GET", "/coordinator/login", headers={"Cookie": cookie})
        response = conn.getresponse()
        response.read()
        statuses.append(response.status)


def measure(
    code: str, env: dict[str, str], cell_ids: list[int], post: bool = True
) -> tuple[float, float, dict[int, int]]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", code, "serve", "--port", str(port), "--threads", "8"],
        env={**env, "PATH": "/usr/bin:/bin"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_up(port)
        quiet = statistics.median(resident_ms(port, cell_ids))
        stop, statuses = threading.Event(), list[int]()
        threads = [
            threading.Thread(target=flood, args=(port, f"127.0.0.{10 + i}", stop, statuses, post))
            for i in range(FLOODERS)
        ]
        for t in threads:
            t.start()
        time.sleep(2)
        busy = statistics.median(resident_ms(port, cell_ids))
        stop.set()
        for t in threads:
            t.join()
        counts: dict[int, int] = {}
        for status in statuses:
            counts[status] = counts.get(status, 0) + 1
        return quiet, busy, counts
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = prepare(Path(tmp))
        cell_ids = cells(env)
        quiet, busy, counts = measure(OURS, env, cell_ids)
        print(f"ours: resident median {quiet:.1f} ms quiet, {busy:.1f} ms during the flood; logins {counts}")
        _, floor, _ = measure(OURS, env, cell_ids, post=False)
        print(f"floor: {floor:.1f} ms while the same clients only fetch the login page (no password checks)")
        p_quiet, p_busy, p_counts = measure(PEER, env, cell_ids)
        print(
            f"unguarded logins: resident median {p_quiet:.1f} ms quiet, {p_busy:.1f} ms during the flood;"
            f" logins {p_counts}"
        )
        print(f"ratio (unguarded / ours) during the flood: {p_busy / busy:.1f}x")
        ok = busy <= 1.5 * floor and p_busy >= 10 * busy
        print(f"target (ours <= 1.5x the floor, unguarded >= 10x ours): {'met' if ok else 'NOT met'}")
