"""What the fault and concurrency tests (tests/test_faults.py) share: a fresh database on either store, the
real `mapaid` commands and `mapaid serve` as processes a test can SIGKILL, a small HTTP client, and each
store's own check that a database is sound after a crash.

Everything runs as a separate process, as in production: a kill -9 must hit the real CLI or server, never
a thread of the test. Every wait is bounded, and servers are killed at the end whatever happens.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from conftest import PUBLISH_AT_ONCE, ROOMY_LIMITS, TEST_SECRET
from livesite import start_serve, stop_serve, wait_for_serve

from mapaid.store import Store, open_store


def _limits_env() -> dict[str, str]:
    """ROOMY_LIMITS as `mapaid serve` reads them (MAPAID_POST_LIMIT, ...): a 429 is never what we test;
    and posts public at once (PUBLISH_AT_ONCE), as the tests' apps have them."""
    return {f"MAPAID_{key}": value for key, value in {**ROOMY_LIMITS, **PUBLISH_AT_ONCE}.items()}


@dataclass
class Database:
    """A test's database (conftest's ``database``: the Minsk districts, a SQLite file or a PostGIS
    database) with what a `mapaid` process on it needs."""

    kind: str
    url: str  # what MAPAID_DATABASE says: a file path or a postgresql:// URL
    folder: Path  # the instance folder, the logs of the processes run on it, exports

    def env(self) -> dict[str, str]:
        """The environment of a `mapaid` process on this database (the system's clock, roomy limits)."""
        return {
            "MAPAID_DATABASE": self.url,
            "MAPAID_SECRET_KEY": TEST_SECRET,
            "MAPAID_INSTANCE": str(self.folder / "instance"),
            "MAPAID_CELL_RES": "9",
            **_limits_env(),
        }

    def open(self) -> Store:
        return open_store(self.url)

    def count(self) -> int:
        store = self.open()
        try:
            return store.count()
        finally:
            store.close()

    def soundness(self) -> list[str]:
        """What the store's own checker finds wrong with the database (nothing: sound). SQLite:
        ``integrity_check`` (every page, every index against its table) and ``foreign_key_check``.
        PostgreSQL: amcheck's ``bt_index_check`` with ``heapallindexed`` on every B-tree index (of every
        partition: a partitioned table's own index holds nothing), so every
        row of every table is found in each of its indexes; and the store must open (schema current)."""
        problems: list[str] = []
        if self.kind == "sqlite":
            with sqlite3.connect(self.url) as db:
                problems += [r[0] for r in db.execute("PRAGMA integrity_check") if r[0] != "ok"]
                problems += [f"foreign key: {r}" for r in db.execute("PRAGMA foreign_key_check")]
            db.close()
        else:
            import psycopg

            with psycopg.connect(self.url, autocommit=True) as pg:
                pg.execute("CREATE EXTENSION IF NOT EXISTS amcheck")
                indexes = pg.execute(
                    "SELECT c.oid, c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                    " JOIN pg_am a ON a.oid = c.relam JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE a.amname = 'btree' AND c.relkind = 'i'"
                    " AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
                    " AND n.nspname NOT LIKE 'pg_toast%'"
                ).fetchall()
                for oid, name in indexes:
                    try:
                        pg.execute("SELECT bt_index_check(%s, true)", (oid,))
                    except psycopg.Error as error:
                        problems.append(f"{name}: {error}")
        store = self.open()  # raises when the schema is not there or not current
        store.close()
        return problems


def _process_env(env: dict[str, str]) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("MAPAID_")}, **env}


def run_mapaid(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`mapaid ARGS` as a process of its own; its output as text."""
    return subprocess.run(
        [sys.executable, "-m", "mapaid.cli", *args],
        env=_process_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_mapaid(env: dict[str, str], *args: str, **popen: Any) -> subprocess.Popen[bytes]:
    """`mapaid ARGS` started in its own process, for a test to watch and kill."""
    return subprocess.Popen([sys.executable, "-m", "mapaid.cli", *args], env=_process_env(env), **popen)


def request(
    base: str,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> tuple[int, bytes]:
    """One request on a connection of its own: (status, body). Connection errors propagate."""
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    try:
        payload = None if body is None else json.dumps(body).encode()
        sent = dict(headers or {})
        if payload is not None:
            sent["Content-Type"] = "application/json"
        connection.request(method, path, body=payload, headers=sent)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@dataclass
class Server:
    """A running `mapaid serve` process on a free loopback port."""

    process: subprocess.Popen[bytes]
    base: str
    log: Path
    killed: bool = field(default=False)

    def kill(self) -> None:
        """SIGKILL, as a crash or the kernel's OOM killer would: no handler, no cleanup, no flush."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self.killed = True

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def start_server(env: dict[str, str], log: Path, threads: int = 8) -> Server:
    """`mapaid serve --threads N` on a port the system picks at its bind, once /health answers there
    (bounded wait; livesite.start_serve says why never a port chosen beforehand)."""
    process, since = start_serve(_process_env(env), log, "--threads", str(threads))
    try:
        base = wait_for_serve(process, log, since)
    except RuntimeError:
        stop_serve(process)
        raise
    return Server(process, base, log)


@contextmanager
def servers(env: dict[str, str], folder: Path, n: int, threads: int) -> Iterator[list[Server]]:
    """``n`` servers on one database, stopped afterwards."""
    running: list[Server] = []
    try:
        for i in range(n):
            running.append(start_server(env, folder / f"serve-{i}.log", threads))
        yield running
    finally:
        for server in running:
            server.stop()
