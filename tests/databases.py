"""Test databases on either store: a SQLite file copied from a template file, or a PostgreSQL database
copied from a template database, both made once per run by `mapaid init-db` (the Minsk districts).

Every test that touches the store runs on both (conftest.py's ``store_kind``). The PostGIS half needs a
running cluster, named by its admin URL in ``MAPAID_TEST_POSTGRES``: `make test` starts a throwaway one.
Without it those tests fail, saying how to start one; they are never skipped (a skipped test is a test
that did not run).

Under pytest-xdist the workers share both templates: the first to need one makes it while the others wait
on a lock file in the run's shared temporary folder. The PostgreSQL template is dropped by the last worker
to let go of it, so a cluster kept between runs by hand does not fill up with them.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

STORE_KINDS = ("sqlite", "postgis")
ADMIN_ENV = "MAPAID_TEST_POSTGRES"
HOW_TO_START = (
    f"{ADMIN_ENV} is not set, and this test runs on PostGIS (every test that touches the store runs on "
    "SQLite and on PostGIS). `make test` starts a throwaway cluster for the suite; by hand:\n"
    "    scripts/pgcluster start /tmp/pg-mine 55433\n"
    f"    export {ADMIN_ENV}=postgresql://mapaid@127.0.0.1:55433/postgres   # the URL it printed\n"
    "and `scripts/pgcluster stop /tmp/pg-mine` afterwards. (`-k sqlite` runs only the SQLite half.)"
)

# A test that is about SQLite's own file (bytes on disk, WAL, PRAGMAs) runs on SQLite alone; its docstring
# says so. Not a skip: it is a test of that backend's file.
sqlite_only = pytest.mark.parametrize("store_kind", ["sqlite"], scope="module")
postgis_only = pytest.mark.parametrize("store_kind", ["postgis"], scope="module")


def is_postgres(database: str) -> bool:
    return database.startswith(("postgresql://", "postgres://"))


def admin_url() -> str:
    url = os.environ.get(ADMIN_ENV, "")
    if not url:
        pytest.fail(HOW_TO_START, pytrace=False)
    return url


def url_of(admin: str, name: str) -> str:
    """The admin URL with another database name in it."""
    parts = urlsplit(admin)
    return urlunsplit(parts._replace(path=f"/{name}"))


def admin_execute(admin: str, *statements: str) -> None:
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        for sql in statements:
            conn.execute(sql)  # type: ignore[arg-type] - our own fixed statements


@contextmanager
def _locked(shared: Path) -> Iterator[None]:
    shared.mkdir(parents=True, exist_ok=True)
    with (shared / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def shared_folder(factory: pytest.TempPathFactory) -> Path:
    """The run's folder every xdist worker sees (the parent of the workers' own), or this run's."""
    base = factory.getbasetemp()
    return (base.parent if "PYTEST_XDIST_WORKER" in os.environ else base) / "template"


def sqlite_template(shared: Path, make: Callable[[Path], Path]) -> Path:
    with _locked(shared):
        db = shared / "mapaid.sqlite3"
        if not (shared / "done").exists():
            make(shared)
            (shared / "done").touch()
    return db


class PostgresTemplate:
    """The run's template database: made by the first user (``make(url)`` fills it), dropped by the last.
    Users are counted in a file under the lock, across the xdist workers."""

    def __init__(self, admin: str, shared: Path, make: Callable[[str], None]) -> None:
        self.admin, self.shared, self.make = admin, shared, make
        self.name = ""

    def acquire(self) -> str:
        with _locked(self.shared):
            name_file, users, failed = (self.shared / f for f in ("pg-name", "pg-users", "pg-failed"))
            if failed.exists():  # once is enough: every PostGIS test would try again, and wait
                pytest.fail(f"the PostgreSQL template could not be made: {failed.read_text()}", pytrace=False)
            if not name_file.exists():
                name = f"mapaid_tpl_{secrets.token_hex(4)}"
                admin_execute(self.admin, f'CREATE DATABASE "{name}"')
                try:
                    self.make(url_of(self.admin, name))
                except BaseException as e:
                    admin_execute(self.admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                    failed.write_text(str(e))
                    raise
                finally:
                    close_pool(url_of(self.admin, name))
                # Nobody connects to a template: CREATE DATABASE ... TEMPLATE refuses a busy one.
                admin_execute(
                    self.admin,
                    f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'",
                    f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false IS_TEMPLATE true',
                )
                name_file.write_text(name)
                users.write_text("0")
            self.name = name_file.read_text()
            users.write_text(str(int(users.read_text()) + 1))
        return self.name

    def release(self) -> None:
        with _locked(self.shared):
            name_file, users = self.shared / "pg-name", self.shared / "pg-users"
            left = int(users.read_text()) - 1
            users.write_text(str(left))
            if left == 0:
                admin_execute(
                    self.admin,
                    f'ALTER DATABASE "{self.name}" WITH IS_TEMPLATE false',
                    f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)',
                )
                name_file.unlink()


def close_pool(url: str) -> None:
    """Close this process's connection pool for ``url`` (mapaid/pgstore.py keeps one per URL for the life
    of the process), so that it does not try to reconnect to a database the test has dropped."""
    from mapaid import pgstore

    pgstore.close_pool(url)


class Databases:
    """Makes fresh test databases of either kind and drops the PostgreSQL ones it made."""

    def __init__(self, sqlite_template: Path, postgres_template: Callable[[], tuple[str, str]]) -> None:
        self.sqlite_template = sqlite_template
        self.postgres_template = postgres_template  # () -> (admin URL, template name), made when first needed
        self._made: list[str] = []

    def fresh(self, kind: str, folder: Path, name: str = "mapaid.sqlite3") -> str:
        """A new database holding the districts: a file in ``folder``, or a PostgreSQL database (URL)."""
        if kind == "sqlite":
            path = folder / name
            shutil.copy(self.sqlite_template, path)
            return str(path)
        assert kind == "postgis", kind
        admin, template = self.postgres_template()
        db = f"t_{secrets.token_hex(6)}"
        admin_execute(admin, f'CREATE DATABASE "{db}" TEMPLATE "{template}" STRATEGY FILE_COPY')
        url = url_of(admin, db)
        self._made.append(url)
        return url

    def empty(self, kind: str, folder: Path, name: str = "mapaid.sqlite3") -> str:
        """A database with nothing in it yet (no schema, no districts): a file name in ``folder`` that
        does not exist, or a new, empty PostgreSQL database (URL)."""
        if kind == "sqlite":
            return str(folder / name)
        assert kind == "postgis", kind
        admin, _ = self.postgres_template()
        db = f"t_{secrets.token_hex(6)}"
        admin_execute(admin, f'CREATE DATABASE "{db}"')
        url = url_of(admin, db)
        self._made.append(url)
        return url

    def drop(self, database: str) -> None:
        """Drop a PostgreSQL database made here (connections still open are ended); files stay in tmp."""
        if not is_postgres(database):
            return
        admin, _ = self.postgres_template()
        name = urlsplit(database).path.lstrip("/")
        close_pool(database)
        admin_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._made.remove(database)

    def drop_all(self) -> None:
        for database in list(self._made):
            self.drop(database)


def integrity_errors() -> tuple[type[Exception], ...]:
    """What a store raises when a write breaks a constraint (a duplicate id, a missing district)."""
    import sqlite3

    import psycopg

    return (sqlite3.IntegrityError, psycopg.IntegrityError)


@contextmanager
def locked(database: str) -> Iterator[str]:
    """The database locked by another connection, so that the app's next statement fails; yields the name of
    the error type the app then meets. SQLite: an exclusive transaction (``database is locked``,
    OperationalError). PostgreSQL: the post tables locked while new connections give up waiting after 0.3 s
    (``lock_timeout``, LockNotAvailable); the app's pooled connections are dropped first so that it makes
    new ones, and the setting is taken back afterwards."""
    import sqlite3

    if not is_postgres(database):
        other = sqlite3.connect(database, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        try:
            yield "OperationalError"
        finally:
            other.execute("ROLLBACK")
            other.close()
        return
    import psycopg

    name = urlsplit(database).path.lstrip("/")
    admin = url_of(database, "postgres")
    admin_execute(admin, f"ALTER DATABASE \"{name}\" SET lock_timeout = '300ms'")
    close_pool(database)
    try:
        with psycopg.connect(database) as other:
            other.execute("LOCK TABLE posts, meta IN ACCESS EXCLUSIVE MODE")
            yield "LockNotAvailable"
            other.rollback()
    finally:
        admin_execute(admin, f'ALTER DATABASE "{name}" RESET lock_timeout')
        close_pool(database)


def impatient(database: str) -> str:
    """The setting for an app that must fail, not wait, on a ``locked`` database: it gives up waiting for a
    lock after 0.3 s (PostgreSQL: ``lock_timeout`` for the connections made from it; SQLite: the URL's
    ``timeout``, where a write would otherwise wait 30 s for the writer's slot)."""
    if not is_postgres(database):
        return f"sqlite:///{database}?timeout=0.3"
    return f"{database}?options=-c%20lock_timeout%3D300ms"
