"""A fresh, empty database in the test cluster for tests that start servers or stores of their own (the
two-server tests, the store-level form and lease tests). ``MAPAID_TEST_POSTGRES`` holds the cluster's admin
URL (`make test` starts a throwaway cluster; by hand: scripts/pgcluster start DIR PORT). Without it the
PostGIS half fails, saying so: it is never skipped."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import pytest

ADMIN_ENV = "MAPAID_TEST_POSTGRES"


@contextmanager
def fresh_postgres(purpose: str) -> Iterator[str]:
    """The URL of a new, empty database in the test cluster, dropped afterwards."""
    import psycopg

    admin = os.environ.get(ADMIN_ENV, "")
    if not admin:
        pytest.fail(f"{ADMIN_ENV} must hold the test cluster's admin URL (scripts/pgcluster start DIR PORT)")
    name = f"mapaid_multi_{purpose}_{secrets.token_hex(4)}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")  # type: ignore[arg-type] - a fixed name of ours
    try:
        yield urlunsplit(urlsplit(admin)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")  # type: ignore[arg-type]
