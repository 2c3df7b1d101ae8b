"""PostgreSQL databases for tests: the admin URL of the test cluster (env ``MAPAID_TEST_POSTGRES``, or a
cluster ``scripts/pgcluster`` starts for this run and stops afterwards), a template database made once per
run (per xdist worker) by ``mapaid init-db``, and a fresh copy of it per test
(``CREATE DATABASE ... TEMPLATE ... STRATEGY FILE_COPY``: a file copy, milliseconds), dropped afterwards.

Fixtures: ``pg_admin`` (the admin URL), ``pg_template`` (the template's name), ``pg_url`` (a fresh
database's URL, Minsk's districts loaded, no posts).
"""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from click.testing import CliRunner

from mapaid import pgstore
from mapaid.cli import main

ROOT = Path(__file__).resolve().parent.parent


def with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name`` instead."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def admin(url: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(url, autocommit=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def pg_admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The test cluster's admin URL: ``MAPAID_TEST_POSTGRES``, or a cluster of this run's own."""
    given = os.environ.get("MAPAID_TEST_POSTGRES")
    if given:
        yield given
        return
    folder = tmp_path_factory.mktemp("pgcluster")
    script = str(ROOT / "scripts" / "pgcluster")
    url = subprocess.run(
        [script, "start", str(folder / "c"), str(_free_port())], check=True, capture_output=True, text=True
    ).stdout.strip()
    try:
        yield url
    finally:
        pgstore.close_pools()
        subprocess.run([script, "stop", str(folder / "c")], check=False)


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def pg_template(pg_admin: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database with the schema and Minsk's districts, made by ``mapaid init-db`` once per worker."""
    name = f"mapaid_tmpl_{_worker()}_{uuid.uuid4().hex[:8]}"
    with admin(pg_admin) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = with_database(pg_admin, name)
    instance = tmp_path_factory.mktemp("pg-instance")
    env = {
        "MAPAID_DATABASE": url,
        "MAPAID_SECRET_KEY": "test-secret-not-for-production",
        "MAPAID_INSTANCE": str(instance),
        "MAPAID_CELL_RES": "9",
    }
    result = CliRunner().invoke(main, ["init-db"], env=env)
    assert result.exit_code == 0, result.output
    pgstore.close_pool(url)  # a template takes no connections while it is copied
    try:
        yield name
    finally:
        with admin(pg_admin) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fresh_database(pg_admin: str, template: str) -> str:
    """A new database copied from ``template``; its URL."""
    name = f"mapaid_t_{uuid.uuid4().hex[:12]}"
    with admin(pg_admin) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
    return with_database(pg_admin, name)


def drop_database(pg_admin: str, url: str) -> None:
    pgstore.close_pool(url)
    name = urlsplit(url).path.lstrip("/")
    with admin(pg_admin) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url(pg_admin: str, pg_template: str) -> Iterator[str]:
    """A fresh database for this test (schema and districts, no posts)."""
    url = fresh_database(pg_admin, pg_template)
    try:
        yield url
    finally:
        drop_database(pg_admin, url)
