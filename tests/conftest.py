"""Fixtures: a fresh SQLite file per test (copied from one set up per run), the app, a CLI runner, and
the one clock they all share (``clock``: fixed, in UTC; the app, the CLI and the tests take today from it).
The browser tests' shared Chromium and module-wide servers live in livesite.py (see its docstring)."""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from flask.testing import FlaskClient
from livesite import browser, live, live_config, live_store  # noqa: F401 - fixtures for every module
from pgdb import pg_admin, pg_template, pg_url  # noqa: F401 - PostgreSQL databases (tests/pgdb.py)

from mapaid import create_app
from mapaid.cli import main
from mapaid.clock import FixedClock
from mapaid.sqlitestore import SQLiteStore
from mapaid.store import open_store

TEST_SECRET = "test-secret-not-for-production"
# Midday UTC: far from a day boundary. Tests about the boundary move the clock themselves.
TEST_NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
DATA = Path(__file__).parent / "data"


def _env(db: Path, instance: Path) -> dict[str, str]:
    return {
        "MAPAID_DATABASE": str(db),
        "MAPAID_SECRET_KEY": TEST_SECRET,
        "MAPAID_INSTANCE": str(instance),
        "MAPAID_CELL_RES": "9",
    }


def _make_template(folder: Path) -> Path:
    db = folder / "mapaid.sqlite3"
    result = CliRunner().invoke(main, ["init-db"], env=_env(db, folder))
    assert result.exit_code == 0, result.output
    store = open_store(db)
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    return db


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with the Minsk districts, made once per run; each test gets its own copy. Under
    pytest-xdist the workers share one: the first makes it in the run's own temporary folder (the
    parent of the workers' folders) while the others wait on a lock, then all copy it."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return _make_template(tmp_path_factory.mktemp("template"))
    shared = tmp_path_factory.getbasetemp().parent / "template"
    shared.mkdir(exist_ok=True)
    with (shared / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        db = shared / "mapaid.sqlite3"
        if not (shared / "done").exists():
            _make_template(shared)
            (shared / "done").touch()
    return db


@pytest.fixture
def db_path(tmp_path: Path, template_db: Path) -> Path:
    path = tmp_path / "mapaid.sqlite3"
    shutil.copy(template_db, path)
    return path


@pytest.fixture
def env(tmp_path: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = _env(db_path, tmp_path / "instance")
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


@pytest.fixture
def clock() -> FixedClock:
    """The time for this test, shared by the app, the CLI and the test itself."""
    return FixedClock(TEST_NOW)


@pytest.fixture
def today(clock: FixedClock) -> date:
    """Today's UTC date by the test's clock (never ``date.today()``, which is the local date)."""
    return clock.today()


# Tests post many times from one address (the test client's); the abuse limits have their own tests
# (test_limits.py), which build the app with the shipped defaults.
ROOMY_LIMITS = {
    "POST_LIMIT": "100000 per minute",
    "POST_LIMIT_TOTAL": "100000 per minute",
    "WRITE_LIMIT": "100000 per minute",
}


@pytest.fixture
def config(env: dict[str, str], clock: FixedClock) -> dict[str, Any]:
    return {
        "DATABASE": env["MAPAID_DATABASE"],
        "SECRET_KEY": TEST_SECRET,
        "TESTING": True,
        "INSTANCE_DIR": env["MAPAID_INSTANCE"],
        "CLOCK": clock,
        **ROOMY_LIMITS,
    }


@pytest.fixture
def app(config: dict[str, Any]) -> Flask:
    return create_app(config)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class Cli:
    """Runs `mapaid ...` in-process against the test database, on the test's clock."""

    def __init__(self, env: dict[str, str], clock: FixedClock) -> None:
        self.env = env
        self.clock = clock

    def __call__(self, *args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(
            main, list(args), env=self.env, input=input, catch_exceptions=False, obj={"clock": self.clock}
        )


@pytest.fixture
def cli(env: dict[str, str], clock: FixedClock) -> Cli:
    return Cli(env, clock)


@pytest.fixture
def store(db_path: Path, env: dict[str, str]) -> Iterator[SQLiteStore]:
    s = open_store(db_path)
    yield s
    s.close()
