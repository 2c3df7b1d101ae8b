"""Residents' reports of a post: a reason and a day, counted per post, for the moderation queue.

What is kept is the post's id, the reason (one of ``REASONS``, never free text), the UTC day and how many
reports came for that post, reason and day: no address, no time finer than the day, no reporter, and not
even the order in which reports came (the table has no rowid). Writing a report does not bump the store's
revision: no public page or cached aggregate depends on reports, so a flood of them cannot flush caches.
A report is taken for open, unexpired posts only (what residents can see); the rows go with the post
(``ON DELETE CASCADE``) and when a coordinator hides the post or dismisses its reports
(``mapaid.moderation``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import date

from flask_babel import pgettext

from mapaid.sqlitestore import SQLiteStore

REASONS = ("spam", "dangerous", "personal", "other")


def reason_label(reason: str) -> str:
    """Why a resident reported a post, in this request's language (plain pgettext calls, which
    ``make translations`` extracts)."""
    labels = {
        "spam": pgettext("report reason", "spam or advertising"),
        "dangerous": pgettext("report reason", "dangerous or a scam"),
        "personal": pgettext("report reason", "personal data of someone"),
        "other": pgettext("report reason", "something else"),
    }
    return str(labels.get(reason, reason))


# One statement, so it is atomic on its own; the SELECT's WHERE keeps SQLite from reading ON CONFLICT as a
# join's ON, and finds nothing (so nothing is written) unless the post is open and unexpired.
_ADD = (
    "INSERT INTO reports (post_id, reason, day, count)"
    " SELECT id, ?, ?, 1 FROM posts WHERE id = ? AND status = 'open' AND expires_day >= ?"
    " ON CONFLICT (post_id, reason, day) DO UPDATE SET count = count + 1"
)


def add(store: SQLiteStore, post_id: str, reason: str, today: date) -> bool:
    """Count one report of ``post_id`` for ``reason`` on ``today``. False when there is no open, unexpired
    post with that id (nothing is written then)."""
    if reason not in REASONS:
        raise ValueError(f"unknown reason {reason!r}; one of {', '.join(REASONS)}")
    day = today.isoformat()
    return store.db.execute(_ADD, (reason, day, post_id, day)).rowcount > 0


def resolve(db: sqlite3.Connection, post_id: str) -> int:
    """Delete every report of ``post_id`` (inside the caller's transaction); how many were counted."""
    sql = "SELECT coalesce(sum(count), 0) FROM reports WHERE post_id = ?"
    (count,) = db.execute(sql, (post_id,)).fetchone()
    db.execute("DELETE FROM reports WHERE post_id = ?", (post_id,))
    return int(count)


def by_reason(store: SQLiteStore, post_ids: Iterable[str]) -> dict[str, dict[str, int]]:
    """Reports per reason for each of ``post_ids`` that has any (a page of the moderation list)."""
    ids = list(post_ids)
    found: dict[str, dict[str, int]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = store.db.execute(
            f"SELECT post_id, reason, sum(count) FROM reports WHERE post_id IN ({','.join('?' * len(chunk))})"  # noqa: S608
            " GROUP BY post_id, reason",
            chunk,
        ).fetchall()
        for post_id, reason, count in rows:
            found.setdefault(str(post_id), {})[str(reason)] = int(count)
    return found


def queued(store: SQLiteStore) -> int:
    """How many posts have reports waiting for a coordinator."""
    return int(store.db.execute("SELECT count(DISTINCT post_id) FROM reports").fetchone()[0])
