"""What the store benchmarks share (not a benchmark itself: ``python -m bench`` runs ``bench_*.py`` only).

- ``pg_cluster``: a throwaway PostgreSQL + PostGIS cluster from scripts/pgcluster, in a temporary folder on a
  free loopback port, stopped (and its folder deleted) however the benchmark ends.
- ``load_demo``: a database filled the way an operator would fill it, ``mapaid init-db`` then ``mapaid demo``
  in a subprocess, timed, so the load time printed is the product's own path on either store.
- ``cpu_seconds``: CPU time a process (and the children it reaped) used so far, for sharing out a run's CPU
  between the load generator, the app servers and PostgreSQL.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
PGCLUSTER = ROOT / "scripts" / "pgcluster"
MAPAID = Path(sys.executable).parent / "mapaid"
SECRET = "bench-secret"


def free_port() -> int:
    """A loopback port nobody listens on now (the kernel's choice, so parallel runs do not collide)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def pg_cluster() -> Iterator[tuple[str, Path]]:
    """Start a cluster; yield its admin URL and data folder; stop it and delete the folder at the end."""
    folder = Path(tempfile.mkdtemp(prefix="mapaid-bench-pg-"))
    out = subprocess.run(
        [str(PGCLUSTER), "start", str(folder), str(free_port())], check=True, capture_output=True, text=True
    )
    try:
        yield out.stdout.strip().splitlines()[-1], folder
    finally:
        subprocess.run([str(PGCLUSTER), "stop", str(folder)], check=False, capture_output=True)


def create_database(admin_url: str, name: str) -> str:
    """A fresh database ``name`` in the cluster; its URL."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + "/" + name


def mapaid_env(database: str, instance: Path, **extra: str) -> dict[str, str]:
    """The environment a ``mapaid`` command or server of the benchmark runs with."""
    return {
        **os.environ,
        "MAPAID_DATABASE": database,
        "MAPAID_SECRET_KEY": SECRET,
        "MAPAID_INSTANCE": str(instance),
        **extra,
    }


def load_demo(database: str, instance: Path, posts: int, seed: int) -> float:
    """``mapaid init-db`` and ``mapaid demo --posts N``: the seconds both took. The same seed gives both
    stores the same cells, kinds and categories, so their timings compare like with like."""
    instance.mkdir(parents=True, exist_ok=True)
    env = mapaid_env(database, instance)
    start = time.perf_counter()
    for args in (["init-db"], ["demo", "--posts", str(posts), "--seed", str(seed)]):
        done = subprocess.run([str(MAPAID), *args], env=env, check=False, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"mapaid {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - start


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and of the children it has reaped, plus its live children's: for
    PostgreSQL's postmaster that is the whole cluster (backends, checkpointer, walwriter...)."""
    proc = psutil.Process(pid)
    times = proc.cpu_times()
    total = times.user + times.system + times.children_user + times.children_system
    for child in proc.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            ct = child.cpu_times()
            total += ct.user + ct.system
    return total


def postmaster_pid(folder: Path) -> int:
    """The cluster's postmaster, from its pid file."""
    return int((folder / "data" / "postmaster.pid").read_text().splitlines()[0])


def load_average() -> str:
    """The load average and, where the kernel keeps it, the share of the last minute in which some task
    waited for a CPU: how quiet the machine was."""
    one, five, fifteen = os.getloadavg()
    waited = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        some = Path("/proc/pressure/cpu").read_text().splitlines()[0].split()
        waited = f", CPU pressure {float(some[2].split('=')[1]):.0f} % (last minute)"
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores{waited}"
