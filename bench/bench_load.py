"""Load test: locust, headless, against real ``mapaid serve`` processes on loopback (``make load``).

50 users without think time for 60 s: 90 % reads (``/near/<cell>`` pages and ``GET /api/v1/posts`` queries,
half each, cells drawn from those holding posts, walking radius 400, 800 or 1200 m) and 10 % posts (``POST
/api/v1/posts``; the post limits are raised for the run, since every user comes from 127.0.0.1). Setups:
SQLite with one server, PostGIS with one server, PostGIS with two servers (one locust user class per server,
so the users are spread evenly, as a round-robin proxy would, without a proxy's CPU in the way), each server
warmed by a few requests first. Each setup is run a second time with the same 50 users on ``/health`` only:
its ceiling.

Databases: 100,000 posts each, prepared once (``mapaid init-db`` + ``mapaid demo``), the size the other
benchmarks call a city's. What a page costs depends on the posts within a walk of the cell, i.e. on density,
and 100,000 posts over Minsk is a busy city; 1,000,000 (bench_stores) would make every page ten times fuller,
a country's worth of posts squeezed into one city, which no visitor sees. The posts made during a run stay
(a few thousand), so the later setups serve slightly more.

Two cores, shared: locust runs as one process (gevent, ``FastHttpUser``), unpinned, as do the servers and
PostgreSQL; pinning would have to give the servers a core less or the load generator none. Instead the CPU
time of each party (locust, app servers, PostgreSQL, everything else on the machine) is measured over each
run and printed, with requests per server-CPU-second beside the raw figures, so what stands between a
figure and its target can be read off.

Targets: no errors; the mixed load's requests/s at least a third of ``/health``'s; two servers on PostGIS at
least 1.6x one server's requests/s.
"""

from __future__ import annotations

import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h3.api.basic_int as h3
import numpy as np
import psutil

from bench.stores import (
    MAPAID,
    cpu_seconds,
    create_database,
    free_port,
    load_average,
    load_demo,
    mapaid_env,
    pg_cluster,
    postmaster_pid,
)
from mapaid.clock import SYSTEM
from mapaid.config import DEFAULT_CATEGORIES
from mapaid.store import open_store

POSTS = 100_000
SEED = 2020
USERS = 50
DURATION = 60
CELLS = 2000
LOCUST = Path(sys.executable).parent / "locust"
USERS_FILE = Path(__file__).parent / "load_users.py"
ROOMY = {
    "MAPAID_POST_LIMIT": "1000000 per minute",
    "MAPAID_POST_LIMIT_TOTAL": "1000000 per minute",
    "MAPAID_WRITE_LIMIT": "1000000 per minute",
}


@dataclass
class Stats:
    """One request name's (or all of them together, "all") count, failures, requests/s and percentiles."""

    requests: int
    failures: int
    rps: float
    p50: float
    p99: float


def _percentile(histogram: dict[float, int], q: float) -> float:
    """Locust keeps response times as a histogram (ms, rounded to 2 significant digits past 100 ms)."""
    total, seen = sum(histogram.values()), 0
    for ms in sorted(histogram):
        seen += histogram[ms]
        if seen >= q * total:
            return ms
    return float("nan")


def summarise(entries: list[dict[str, Any]]) -> dict[str, Stats]:
    """Locust's final ``--json`` entries, per name and together ("all")."""
    out: dict[str, Stats] = {}
    groups = {e["name"]: [e] for e in entries}
    groups["all"] = entries
    for name, group in groups.items():
        histogram: dict[float, int] = {}
        for entry in group:
            for ms, n in entry["response_times"].items():
                histogram[float(ms)] = histogram.get(float(ms), 0) + n
        requests = sum(e["num_requests"] for e in group)
        span = max(e["last_request_timestamp"] for e in group) - min(e["start_time"] for e in group)
        out[name] = Stats(
            requests,
            sum(e["num_failures"] for e in group),
            requests / span,
            _percentile(histogram, 0.5),
            _percentile(histogram, 0.99),
        )
    return out


@dataclass
class Run:
    """One locust run: its figures per request name (and "all") and the CPU seconds each party used."""

    stats: dict[str, Stats]
    cpu: dict[str, float]
    failures: list[str]

    @property
    def rps(self) -> float:
        return self.stats["all"].rps

    @property
    def errors(self) -> int:
        return self.stats["all"].failures

    def per_server_cpu(self) -> float:
        return self.stats["all"].requests / max(self.cpu["servers"], 1e-9)


def served_cells(database: str, k: int) -> list[str]:
    """Cells holding open posts (the served area as visitors see it), ``k`` at most."""
    store = open_store(database)
    try:
        cells = np.unique(store.open_counts(SYSTEM.today())["cell"].to_numpy(dtype=np.int64))
    finally:
        store.close()
    rng = np.random.default_rng(5)
    return [h3.int_to_str(int(c)) for c in rng.choice(cells, size=min(k, len(cells)), replace=False)]


def wait_healthy(url: str, server: subprocess.Popen[bytes], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"mapaid serve exited with {server.returncode}; see its log")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer /health in {seconds:.0f} s")


@contextmanager
def servers(database: str, instance: Path, n: int) -> Any:
    """``n`` ``mapaid serve`` processes (default threads) on free ports; their URLs and processes."""
    with ExitStack() as stack:
        procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        for i in range(n):
            port = free_port()
            log = stack.enter_context(open(instance / f"serve-{port}.log", "wb"))
            proc = subprocess.Popen(
                [str(MAPAID), "serve", "--host", "127.0.0.1", "--port", str(port)],
                env=mapaid_env(database, instance, **ROOMY),
                stdout=log,
                stderr=log,
            )
            stack.callback(_stop, proc)
            procs.append((f"http://127.0.0.1:{port}", proc))
            del i
        for url, proc in procs:
            wait_healthy(url, proc)
        yield procs


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _machine_busy() -> tuple[float, float]:
    """CPU seconds the machine's cores were busy (stolen by the hypervisor included) and stolen."""
    times = psutil.cpu_times()
    steal = float(getattr(times, "steal", 0.0))
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0)), steal


def run_locust(hosts: list[str], mode: str, data: Path, pids: dict[str, list[int]], out: Path) -> Run:
    """One headless locust run; the CPU each party used while it ran (locust: the one child reaped here)."""
    prefix = out / f"locust-{mode}-{len(hosts)}-{int(time.time())}"
    env = {**mapaid_env("", out), "LOAD_HOSTS": ",".join(hosts), "LOAD_DATA": str(data), "LOAD_MODE": mode}
    before = {party: sum(cpu_seconds(p) for p in ps) for party, ps in pids.items()}
    busy, locust_before, start = _machine_busy(), _children_cpu(), time.monotonic()
    done = subprocess.run(
        [
            str(LOCUST),
            "-f",
            str(USERS_FILE),
            "--headless",
            "--users",
            str(USERS),
            "--spawn-rate",
            str(USERS),
            "--run-time",
            f"{DURATION}s",
            "--stop-timeout",
            "10",
            "--only-summary",
            "--loglevel",
            "ERROR",
            "--json",
            "--csv",  # only for the failures' messages: the final counts come from --json
            str(prefix),
        ],
        env=env,
        check=False,  # locust exits 1 when any request failed: the failures are counted below
        capture_output=True,
        text=True,
    )
    cpu = {party: sum(cpu_seconds(p) for p in ps) - before[party] for party, ps in pids.items()}
    cpu["locust"] = _children_cpu() - locust_before
    busy_after = _machine_busy()
    cpu["machine"], cpu["steal"] = busy_after[0] - busy[0], busy_after[1] - busy[1]
    cpu["wall"] = time.monotonic() - start  # locust's start and stop included, hence a little over DURATION
    cpu["others"] = cpu["machine"] - cpu["steal"] - cpu["locust"] - sum(cpu[p] for p in pids)
    cpu["available"] = cpu["wall"] * (psutil.cpu_count() or 1)
    try:
        stats = summarise(json.loads(done.stdout))
    except ValueError as error:
        raise RuntimeError(f"locust gave no stats: {done.stderr[-2000:]}") from error
    with open(f"{prefix}_failures.csv", encoding="utf-8") as f:
        failures = [f"{r['Occurrences']}x {r['Method']} {r['Name']}: {r['Error']}" for r in csv.DictReader(f)]
    return Run(stats, cpu, failures)


def show(label: str, run: Run) -> None:
    for name, st in run.stats.items():
        print(
            f"    {label:<7} {name:<22} {st.rps:8.1f} req/s  p50 {st.p50:6.0f} ms"
            f"  p99 {st.p99:6.0f} ms  errors {st.failures}"
        )
    for failure in run.failures[:5]:
        print(f"      {failure}")
    cpu = run.cpu
    print(
        f"    {label:<7} CPU s over the run: servers {cpu['servers']:.1f}, PostgreSQL {cpu['postgres']:.1f},"
        f" locust {cpu['locust']:.1f}, everything else {cpu['others']:.1f}, stolen by the host"
        f" {cpu['steal']:.1f} (machine busy {cpu['machine']:.1f} of {cpu['available']:.1f}"
        f" in {cpu['wall']:.1f} s);"
        f" {run.per_server_cpu():.1f} requests per server-CPU-second"
    )


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def warm(url: str, cells: list[str]) -> None:
    """A few requests of each kind, one at a time, before the clock starts: a fresh process builds its
    per-process caches (templates, the base map, cell centres) on its first pages, and 50 users arriving at
    once would all build them together. Steady state is what is measured."""
    for cell in cells[:3]:
        for path in (f"/near/{cell}?within=800", f"/api/v1/posts?cell={cell}&within=800", "/health"):
            with urllib.request.urlopen(url + path, timeout=60) as response:
                assert response.status == 200, (path, response.status)


def setup(name: str, database: str, instance: Path, n: int, data: Path, pg_pid: int | None) -> dict[str, Run]:
    with servers(database, instance, n) as procs:
        for url, _ in procs:
            warm(url, json.loads(data.read_text())["cells"])
        pids = {"servers": [p.pid for _, p in procs], "postgres": [pg_pid] if pg_pid else []}
        hosts = [url for url, _ in procs]
        mixed = run_locust(hosts, "mixed", data, pids, instance)
        ceiling = run_locust(hosts, "health", data, pids, instance)
    print(f"  {name} ({USERS} users, {DURATION} s each), {load_average()}:")
    show("mixed", mixed)
    show("health", ceiling)
    ratio = mixed.rps / ceiling.rps
    print(
        f"    mixed / /health requests/s: {ratio:.2f} (target >= 0.33: {verdict(ratio >= 1 / 3)});"
        f" per server-CPU-second {mixed.per_server_cpu() / ceiling.per_server_cpu():.2f};"
        f" errors {mixed.errors + ceiling.errors} (target 0: {verdict(mixed.errors + ceiling.errors == 0)})"
    )
    return {"mixed": mixed, "health": ceiling}


def main() -> None:
    print(load_average())
    with tempfile.TemporaryDirectory(prefix="mapaid-bench-load-") as tmp, pg_cluster() as (admin, pg_folder):
        folder = Path(tmp)
        databases = {
            "SQLite": (str(folder / "sqlite" / "mapaid.sqlite3"), folder / "sqlite"),
            "PostGIS": (create_database(admin, "bench_load"), folder / "postgis"),
        }
        for name, (database, instance) in databases.items():
            took = load_demo(database, instance, POSTS, SEED)
            print(f"{POSTS:,} posts loaded into {name} (mapaid init-db + mapaid demo) in {took:.0f} s")
        data = folder / "cells.json"
        cells = served_cells(databases["SQLite"][0], CELLS)
        data.write_text(json.dumps({"cells": cells, "categories": list(DEFAULT_CATEGORIES)}))
        print(f"{len(cells):,} cells with posts to visit and post to")
        pg = postmaster_pid(pg_folder)
        results = {
            "SQLite, 1 server": setup("SQLite, 1 server", *databases["SQLite"], 1, data, None),
            "PostGIS, 1 server": setup("PostGIS, 1 server", *databases["PostGIS"], 1, data, pg),
            "PostGIS, 2 servers": setup("PostGIS, 2 servers", *databases["PostGIS"], 2, data, pg),
        }
        one, two = results["PostGIS, 1 server"]["mixed"], results["PostGIS, 2 servers"]["mixed"]
        scale = two.rps / one.rps
        print(
            f"  PostGIS, 2 servers / 1 server, mixed requests/s: {scale:.2f}x"
            f" (target >= 1.6x: {verdict(scale >= 1.6)})"
        )
        print(
            f"    per server-CPU-second: {two.per_server_cpu():.1f} / {one.per_server_cpu():.1f}"
            f" = {two.per_server_cpu() / one.per_server_cpu():.2f}x; server CPU used:"
            f" {two.cpu['servers']:.1f} s / {one.cpu['servers']:.1f} s of {DURATION} s"
        )
        print(f"    {bound(one, 1)}\n    {bound(two, 2)}")
        print(
            "    projected 2 / 1 on this machine with nothing else running:"
            f" {quiet(two, 2) / quiet(one, 1):.2f}x"
        )
        for name, runs in results.items():
            print(
                f"  {name:<20} mixed {runs['mixed'].rps:7.1f} req/s, /health {runs['health'].rps:7.1f} req/s"
            )


def quiet(run: Run, servers: int) -> float:
    """Requests/s this setup could reach on this machine with nothing else running, from the CPU one
    request cost in the run (servers, PostgreSQL, locust): all cores busy with our parties, or each
    server at one core (one process runs Python on one core at a time), whichever comes first. A
    projection from measured costs, not a measurement."""
    n = run.stats["all"].requests
    each = (run.cpu["servers"] + run.cpu["postgres"] + run.cpu["locust"]) / n
    return min((psutil.cpu_count() or 1) / each, servers / (run.cpu["servers"] / n))


def bound(run: Run, servers: int) -> str:
    n = run.stats["all"].requests
    ms = {party: 1000 * run.cpu[party] / n for party in ("servers", "postgres", "locust")}
    return (
        f"{servers} server(s): CPU per request {ms['servers']:.1f} ms servers + {ms['postgres']:.1f} ms"
        f" PostgreSQL + {ms['locust']:.1f} ms locust;"
        f" with the machine to itself: {quiet(run, servers):.0f} req/s"
    )


if __name__ == "__main__":
    main()
