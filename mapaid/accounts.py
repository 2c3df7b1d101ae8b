"""Coordinator accounts: argon2id password hashes, and a login throttle kept in the database.

The throttle lives in the ``login_failures`` table, not in memory, so every waitress thread and every
process serving the same database shares it, and a restart does not reset it. It holds a hash of the name
that was typed (never the name, never a password) and the time, and rows older than a minute are dropped
on every check. Those writes skip ``Store.transaction`` on purpose: a failed login is not a change of the
data, so it must not bump the revision that page caches key on.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from datetime import date

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from mapaid.store import SQLiteStore

MAX_FAILURES = 5  # failed logins per account ...
WINDOW_S = 60.0  # ... per minute
MIN_PASSWORD = 10
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,31}$")

_hasher = PasswordHasher()  # argon2id, 64 MiB, 3 passes: memory-hard
# Verified against when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY = _hasher.hash("not a password of anyone")


class AccountError(ValueError):
    """A name or password we cannot accept; the message says why."""


@dataclass(frozen=True)
class Coordinator:
    name: str
    created_day: str


def check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise AccountError(
            "a coordinator name is 2-32 characters: lowercase letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")
    return password


def add(store: SQLiteStore, name: str, password: str, today: date) -> None:
    check_name(name)
    digest = _hasher.hash(check_password(password))
    with store.transaction() as db:
        if db.execute("SELECT 1 FROM coordinators WHERE name = ?", (name,)).fetchone():
            raise AccountError(f"coordinator {name!r} exists already")
        db.execute("INSERT INTO coordinators VALUES (?, ?, ?)", (name, digest, today.isoformat()))


def remove(store: SQLiteStore, name: str) -> bool:
    with store.transaction() as db:
        return db.execute("DELETE FROM coordinators WHERE name = ?", (name,)).rowcount > 0


def list_all(store: SQLiteStore) -> list[Coordinator]:
    rows = store.db.execute("SELECT name, created_day FROM coordinators ORDER BY name").fetchall()
    return [Coordinator(str(r[0]), str(r[1])) for r in rows]


def exists(store: SQLiteStore, name: str) -> bool:
    return store.db.execute("SELECT 1 FROM coordinators WHERE name = ?", (name,)).fetchone() is not None


def _key(name: str) -> str:
    return hashlib.sha256(b"mapaid-login\0" + name.encode()).hexdigest()


def throttled(store: SQLiteStore, name: str, now: float | None = None) -> bool:
    """Whether ``name`` had ``MAX_FAILURES`` failed logins within the last ``WINDOW_S`` seconds."""
    now = time.time() if now is None else now
    store.db.execute("DELETE FROM login_failures WHERE at < ?", (now - WINDOW_S,))
    row = store.db.execute(
        "SELECT count(*) FROM login_failures WHERE name_hash = ? AND at >= ?", (_key(name), now - WINDOW_S)
    ).fetchone()
    return int(row[0]) >= MAX_FAILURES


class Throttled(Exception):
    """Too many failed logins for this account in the last minute."""


def authenticate(store: SQLiteStore, name: str, password: str, now: float | None = None) -> bool:
    """True when ``password`` is ``name``'s. Raises ``Throttled`` (without checking the password, right
    or wrong) after ``MAX_FAILURES`` failures within a minute; every failure counts towards that."""
    now = time.time() if now is None else now
    if throttled(store, name, now):
        raise Throttled
    row = store.db.execute("SELECT password_hash FROM coordinators WHERE name = ?", (name,)).fetchone()
    try:
        ok = bool(_hasher.verify(row[0] if row else _DUMMY, password)) and row is not None
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok:
        store.db.execute("INSERT INTO login_failures VALUES (?, ?)", (_key(name), now))
    return ok
