"""Coordinator sessions as server-side records, so a login can really end.

The cookie carries only a random id (``secrets.token_urlsafe(32)``); the ``sessions`` table holds its
SHA-256 and nothing else that could be replayed. A copied cookie therefore dies with the record: at logout,
when the account is removed or its password changes, after ``Policy.lifetime_s`` since login and after
``Policy.idle_s`` without a request. The server secret alone no longer makes a login: it signs the cookie,
but a cookie is worth something only while its id's hash is in the table.

Each record is tied to its account row by a tag of the row's password hash (argon2 salts it at random), so
removing a coordinator and adding the same name again, or changing the password, leaves every older record
pointing at nothing, even if a record escaped deletion. Times are whole minutes (coarse, like every other
time we keep), and "last seen" is written at most once a minute, so a busy coordinator costs one small
write a minute rather than one per request. These writes skip ``Store.transaction`` on purpose: a login is
not a change of the data and must not bump the revision that page caches key on.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from dataclasses import dataclass

from mapaid.config import Settings
from mapaid.sqlitestore import SQLiteStore

MINUTE = 60


@dataclass(frozen=True)
class Policy:
    """How long a login lasts: at most ``lifetime_s`` after it began, and ``idle_s`` after its last use."""

    lifetime_s: int = 12 * 3600
    idle_s: int = 60 * MINUTE

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(settings.session_hours * 3600, settings.session_idle_minutes * MINUTE)


def id_hash(session_id: str) -> str:
    """What the table keeps of a session id. The id has 256 random bits, so a plain hash cannot be
    reversed or guessed; a seized database gives no cookie that works."""
    return hashlib.sha256(b"mapaid-session\0" + session_id.encode()).hexdigest()


def account_tag(password_hash: str) -> str:
    """A short fingerprint of one account row: it changes when the row is made again or re-keyed."""
    return hashlib.sha256(b"mapaid-account\0" + password_hash.encode()).hexdigest()[:32]


def _minute(now: float) -> int:
    return int(now) // MINUTE * MINUTE


def _ends(created: int, seen: int, policy: Policy) -> int:
    return min(created + policy.lifetime_s, seen + policy.idle_s)


def start(store: SQLiteStore, coordinator: str, now: float, policy: Policy) -> str:
    """A new login for an existing ``coordinator``; returns the id for the cookie (a fresh one every
    time: an id chosen by anyone else is never adopted)."""
    row = store.db.execute("SELECT password_hash FROM coordinators WHERE name = ?", (coordinator,)).fetchone()
    if row is None:
        raise LookupError(f"no coordinator called {coordinator!r}")
    session_id = secrets.token_urlsafe(32)
    at = _minute(now)
    store.db.execute(
        "INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?)",
        (id_hash(session_id), coordinator, account_tag(row[0]), at, at, _ends(at, at, policy)),
    )
    return session_id


def resume(store: SQLiteStore, session_id: str, now: float, policy: Policy) -> str | None:
    """The coordinator whose live login ``session_id`` is, or None. A record that has run out, or whose
    account is gone or re-keyed, is deleted on the way."""
    key = id_hash(session_id)
    row = store.db.execute(
        "SELECT s.coordinator, s.account, s.created, s.seen, s.ends, c.password_hash"
        " FROM sessions AS s LEFT JOIN coordinators AS c ON c.name = s.coordinator WHERE s.id_hash = ?",
        (key,),
    ).fetchone()
    if row is None:
        return None
    name, tag, created, seen, ends, password_hash = row
    alive = (
        password_hash is not None
        and secrets.compare_digest(str(tag), account_tag(str(password_hash)))
        and now < min(int(ends), _ends(int(created), int(seen), policy))
    )
    if not alive:
        store.db.execute("DELETE FROM sessions WHERE id_hash = ?", (key,))
        return None
    at = _minute(now)
    if at > int(seen):  # at most one write a minute per login
        store.db.execute(
            "UPDATE sessions SET seen = ?, ends = ? WHERE id_hash = ?",
            (at, _ends(int(created), at, policy), key),
        )
    return str(name)


def end(store: SQLiteStore, session_id: str) -> None:
    """Log out: the record goes, so every copy of the cookie stops working."""
    store.db.execute("DELETE FROM sessions WHERE id_hash = ?", (id_hash(session_id),))


def end_all(db: sqlite3.Connection, coordinator: str) -> int:
    """End every login of ``coordinator``; takes the connection so callers can do it inside the
    transaction that removes the account or changes its password."""
    return int(db.execute("DELETE FROM sessions WHERE coordinator = ?", (coordinator,)).rowcount)


def purge(store: SQLiteStore, now: float) -> int:
    """Delete records that ran out (by the policy they were last written with) or lost their account."""
    cursor = store.db.execute(
        "DELETE FROM sessions WHERE ends <= ? OR coordinator NOT IN (SELECT name FROM coordinators)",
        (int(now),),
    )
    return int(cursor.rowcount)


def count(store: SQLiteStore) -> int:
    return int(store.db.execute("SELECT count(*) FROM sessions").fetchone()[0])
