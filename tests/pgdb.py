"""PostgreSQL databases for the tests that hold both stores side by side (tests/test_pgstore.py): the admin
URL of the test cluster (env ``MAPAID_TEST_POSTGRES``; `make test` starts one), the run's template database
(made once per run by ``mapaid init-db``, shared with the rest of the suite: tests/databases.py), and a
fresh copy of it per test (``CREATE DATABASE ... TEMPLATE ... STRATEGY FILE_COPY``), dropped afterwards.

Fixtures: ``pg_admin`` (the admin URL), ``pg_template`` (the template's name), ``pg_url`` (a fresh
database's URL, Minsk's districts loaded, no posts).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from databases import Databases, admin_url

from mapaid import pgstore

ROOT = Path(__file__).resolve().parent.parent


def with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name`` instead."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def admin(url: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(url, autocommit=True)


@pytest.fixture(scope="session")
def pg_admin() -> str:
    """The test cluster's admin URL (``MAPAID_TEST_POSTGRES``); without it the test fails, saying how to
    start one (tests/databases.py)."""
    return admin_url()


@pytest.fixture(scope="session")
def pg_template(databases: Databases) -> str:
    """The run's template database (schema and Minsk's districts, by ``mapaid init-db``), shared with the
    rest of the suite (tests/databases.py)."""
    return databases.postgres_template()[1]


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
