"""Fixtures: a fresh database per test on each store (``store_kind``: a SQLite file or a PostgreSQL
database, copied from one set up per run, see databases.py), the app, a CLI runner, and
the one clock they all share (``clock``: fixed, in UTC; the app, the CLI and the tests take today from it).
The browser tests' shared Chromium and module-wide servers live in livesite.py (see its docstring)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from databases import (
    STORE_KINDS,
    Databases,
    PostgresTemplate,
    admin_url,
    shared_folder,
    sqlite_template,
)
from flask import Flask
from flask.testing import FlaskClient
from livesite import browser, live, live_config, live_store  # noqa: F401 - fixtures for every module
from pgdb import pg_admin, pg_template, pg_url  # noqa: F401 - PostgreSQL databases (tests/pgdb.py)
from schedule import ModuleAndStoreScheduling, Recorder, longest_first

from mapaid import create_app
from mapaid.cli import main
from mapaid.clock import FixedClock
from mapaid.store import Store, open_store

TEST_SECRET = "test-secret-not-for-production"
# Midday UTC: far from a day boundary. Tests about the boundary move the clock themselves.
TEST_NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
DATA = Path(__file__).parent / "data"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--record-durations",
        action="store_true",
        help="after a run that passed, write each module's time per store to tests/durations.json, "
        "which `make test` uses to start the longest first (tests/schedule.py)",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadscope``: a module's tests on one store are one unit (tests/schedule.py)."""
    if config.getvalue("dist") != "loadscope":
        return None
    config.option.loadscopereorder = False  # keep longest_first's order
    return ModuleAndStoreScheduling(config, log)


@pytest.hookimpl(trylast=True)  # after pytest has grouped each module's tests by store
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    longest_first(items)


_RECORDER = Recorder()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _RECORDER.add(report)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if config.getoption("record_durations") and exitstatus == 0 and not hasattr(config, "workerinput"):
        _RECORDER.write()


def _env(db: str, instance: Path) -> dict[str, str]:
    return {
        "MAPAID_DATABASE": db,
        "MAPAID_SECRET_KEY": TEST_SECRET,
        "MAPAID_INSTANCE": str(instance),
        "MAPAID_CELL_RES": "9",
        **{f"MAPAID_{key}": value for key, value in PUBLISH_AT_ONCE.items()},
    }


def _make_template(folder: Path) -> Path:
    db = folder / "mapaid.sqlite3"
    result = CliRunner().invoke(main, ["init-db"], env=_env(str(db), folder))
    assert result.exit_code == 0, result.output
    sqlite3.connect(db).execute("PRAGMA wal_checkpoint(TRUNCATE)").connection.close()
    return db


def _fill_postgres_template(url: str, folder: Path) -> None:
    result = CliRunner().invoke(main, ["init-db"], env=_env(url, folder))
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database with the Minsk districts, made once per run; each test gets its own copy. Under
    pytest-xdist the workers share one: the first makes it in the run's own temporary folder (the
    parent of the workers' folders) while the others wait on a lock, then all copy it."""
    return sqlite_template(shared_folder(tmp_path_factory), _make_template)


@pytest.fixture(scope="session")
def databases(template_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    """Fresh databases of either kind (tests/databases.py). The PostgreSQL template is made (or, under
    xdist, found) the first time a PostGIS database is asked for: a run on SQLite alone needs no cluster."""
    template: list[PostgresTemplate] = []

    def postgres_template() -> tuple[str, str]:
        if not template:
            admin = admin_url()
            made = PostgresTemplate(
                admin,
                shared_folder(tmp_path_factory),
                lambda url: _fill_postgres_template(url, tmp_path_factory.mktemp("pg-template")),
            )
            made.acquire()
            template.append(made)
        return template[0].admin, template[0].name

    made = Databases(template_db, postgres_template)
    yield made
    made.drop_all()
    if template:
        template[0].release()


@pytest.fixture(scope="module", params=STORE_KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    """Which store this test runs on. Module-scoped, so a module's shared servers and data are made once
    per store and pytest runs a module's tests store by store."""
    return str(request.param)


@pytest.fixture
def database(store_kind: str, tmp_path: Path, databases: Databases) -> Iterator[str]:
    """This test's own database, holding the districts: a SQLite file's path or a PostgreSQL URL."""
    db = databases.fresh(store_kind, tmp_path)
    yield db
    databases.drop(db)


@pytest.fixture
def db_path(tmp_path: Path, databases: Databases) -> Path:
    """A SQLite file of this test's own, holding the districts, whatever ``store_kind``: for tests that
    hold both stores side by side (tests/test_pgstore.py). A test that touches the store takes
    ``database`` (or ``store``, ``app``, ...) instead and runs on each store."""
    return Path(databases.fresh("sqlite", tmp_path, "side-by-side.sqlite3"))


@pytest.fixture
def empty_database(store_kind: str, tmp_path: Path, databases: Databases) -> Iterator[str]:
    """A database with nothing in it yet on this test's store (for `init-db` and `districts load`)."""
    db = databases.empty(store_kind, tmp_path, "empty.sqlite3")
    yield db
    databases.drop(db)


@pytest.fixture
def more_databases(store_kind: str, tmp_path: Path, databases: Databases) -> Iterator[Callable[[str], str]]:
    """Makes more databases for this test on its store: ``more_databases("fresh")`` holds the districts,
    ``more_databases("")`` nothing yet. Dropped at the end of the test."""
    made: list[str] = []

    def make(name: str) -> str:
        if name:
            db = databases.fresh(store_kind, tmp_path, f"{name}.sqlite3")
        else:
            db = databases.empty(store_kind, tmp_path, f"empty-{len(made)}.sqlite3")
        made.append(db)
        return db

    yield make
    for db in made:
        databases.drop(db)


@pytest.fixture
def env(tmp_path: Path, database: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = _env(database, tmp_path / "instance")
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


# Tests that post and then read what is public see the post at once: publication rounds (mapaid/rounds.py)
# have their own tests (test_rounds*.py), which set a window themselves.
PUBLISH_AT_ONCE = {"PUBLISH_MINUTES": "0"}

# Tests post many times from one address (the test client's); the abuse limits have their own tests
# (test_limits.py), which build the app with the shipped defaults.
ROOMY_LIMITS = {
    "POST_LIMIT": "100000 per minute",
    "POST_LIMIT_TOTAL": "100000 per minute",
    "WRITE_LIMIT": "100000 per minute",
    "READ_LIMIT": "100000 per second",
    "REPLY_START_LIMIT": "100000 per day",
}


@pytest.fixture(autouse=True, scope="session")
def roomy_reads() -> Iterator[None]:
    """Tests read /export/ and /ogcapi many times a second from one address, also through apps built
    without ROOMY_LIMITS: the read limit is roomy for every app built in the test process unless its
    config says otherwise (test_limits.py's do; servers started by tests get the shipped one)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MAPAID_READ_LIMIT", ROOMY_LIMITS["READ_LIMIT"])
        yield


@pytest.fixture
def config(env: dict[str, str], clock: FixedClock) -> dict[str, Any]:
    return {
        "DATABASE": env["MAPAID_DATABASE"],
        "SECRET_KEY": TEST_SECRET,
        "TESTING": True,
        "INSTANCE_DIR": env["MAPAID_INSTANCE"],
        "CLOCK": clock,
        **ROOMY_LIMITS,
        **PUBLISH_AT_ONCE,
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
def store(database: str, env: dict[str, str]) -> Iterator[Store]:
    s = open_store(database)
    yield s
    s.close()
