"""Coordinator sessions as server-side records, so a login can really end.

The cookie carries only a random id (``secrets.token_urlsafe(32)``); the ``sessions`` table holds its
SHA-256 and nothing else that could be replayed. A copied cookie therefore dies with the record: at logout,
when the account is removed or its password changes, after ``Policy.lifetime_s`` since login and after
``Policy.idle_s`` without a request. The server secret alone no longer makes a login: it signs the cookie,
but a cookie is worth something only while its id's hash is in the table.

Each record is tied to its account row by a tag of the row's password hash (argon2 salts it at random), so
removing a coordinator and adding the same name again, or changing the password, leaves every older record
pointing at nothing, even if a record escaped deletion. Times are kept as the start of a publication
round's window (``Policy.bucket_s``, mapaid/rounds.py: no time on disk is finer than a round), and "last
seen" is written at most once a window, so a busy coordinator costs one small write per window rather than
one per request. So a login ends between ``idle_s`` and ``idle_s`` plus one window after its last request
(it is never cut short), and at most ``lifetime_s`` after it began (up to one window sooner). The store
writes logins without bumping its revision, on purpose: a login is not a change of the data, and page
caches key on the revision. The records themselves are the store's (``Store.add_session``, ``session``,
...); this module decides who is logged in.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from mapaid.config import Settings
from mapaid.models import SessionRecord
from mapaid.rounds import Schedule
from mapaid.store import Store

MINUTE = 60


@dataclass(frozen=True)
class Policy:
    """How long a login lasts: at most ``lifetime_s`` after it began, and ``idle_s`` after its last use;
    times kept in buckets of ``bucket_s`` (the publication window)."""

    lifetime_s: int = 12 * 3600
    idle_s: int = 60 * MINUTE
    bucket_s: int = MINUTE

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        bucket = Schedule.from_settings(settings).bucket_seconds()
        return cls(settings.session_hours * 3600, settings.session_idle_minutes * MINUTE, bucket)

    def bucket(self, now: float) -> int:
        return int(now) // self.bucket_s * self.bucket_s


def id_hash(session_id: str) -> str:
    """What the table keeps of a session id. The id has 256 random bits, so a plain hash cannot be
    reversed or guessed; a seized database gives no cookie that works."""
    return hashlib.sha256(b"mapaid-session\0" + session_id.encode()).hexdigest()


def account_tag(password_hash: str) -> str:
    """A short fingerprint of one account row: it changes when the row is made again or re-keyed."""
    return hashlib.sha256(b"mapaid-account\0" + password_hash.encode()).hexdigest()[:32]


def _ends(created: int, seen: int, policy: Policy) -> int:
    """``seen`` is the start of the last request's bucket: one bucket more, so idleness is never cut short."""
    return min(created + policy.lifetime_s, seen + policy.bucket_s + policy.idle_s)


def start(store: Store, coordinator: str, now: float, policy: Policy) -> str:
    """A new login for an existing ``coordinator``; returns the id for the cookie (a fresh one every
    time: an id chosen by anyone else is never adopted)."""
    password_hash = store.password_hash(coordinator)
    if password_hash is None:
        raise LookupError(f"no coordinator called {coordinator!r}")
    session_id = secrets.token_urlsafe(32)
    at = policy.bucket(now)
    store.add_session(
        SessionRecord(
            id_hash(session_id), coordinator, account_tag(password_hash), at, at, _ends(at, at, policy)
        )
    )
    return session_id


def resume(store: Store, session_id: str, now: float, policy: Policy) -> str | None:
    """The coordinator whose live login ``session_id`` is, or None. A record that has run out, or whose
    account is gone or re-keyed, is deleted on the way."""
    key = id_hash(session_id)
    found = store.session(key)
    if found is None:
        return None
    record, password_hash = found
    alive = (
        password_hash is not None
        and secrets.compare_digest(record.account, account_tag(password_hash))
        and now < min(record.ends, _ends(record.created, record.seen, policy))
    )
    if not alive:
        store.end_session(key)
        return None
    at = policy.bucket(now)
    if at > record.seen:  # at most one write a window per login
        store.touch_session(key, at, _ends(record.created, at, policy))
    return record.coordinator


def end(store: Store, session_id: str) -> None:
    """Log out: the record goes, so every copy of the cookie stops working."""
    store.end_session(id_hash(session_id))


def purge(store: Store, now: float) -> int:
    """Delete records that ran out (by the policy they were last written with) or lost their account."""
    return store.purge_sessions(int(now))


def count(store: Store) -> int:
    return store.session_count()
