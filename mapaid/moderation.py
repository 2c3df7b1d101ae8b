"""Moderation: coordinators hide, restore or mark posts fulfilled, and every action goes in an audit trail.

The trail says who did what to which post and when (UTC, to the second), and nothing about where: no cell,
no district, no text. The status change and its audit row are one transaction, so neither exists alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pandas as pd

from mapaid.models import Status
from mapaid.store import POST_COLUMNS, SELECT_POSTS, SQLiteStore

ACTIONS: dict[str, Status] = {
    "hide": Status.HIDDEN,
    "restore": Status.OPEN,
    "fulfilled": Status.FULFILLED,
}


@dataclass(frozen=True)
class AuditEntry:
    at: str
    coordinator: str
    action: str
    post_id: str


def moderate(store: SQLiteStore, post_id: str, action: str, coordinator: str, now: datetime) -> bool:
    """Apply ``action`` (hide, restore, fulfilled) to a post and record it. False when there is no such
    post (nothing is recorded then). ``now`` comes from the caller's clock (``mapaid.clock``)."""
    status = ACTIONS.get(action)
    if status is None:
        raise ValueError(f"unknown moderation action {action!r}; one of {', '.join(ACTIONS)}")
    at = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with store.transaction() as db:
        changed = db.execute("UPDATE posts SET status = ? WHERE id = ?", (str(status), post_id)).rowcount
        if changed:
            db.execute(
                "INSERT INTO audit (at, coordinator, action, post_id) VALUES (?, ?, ?, ?)",
                (at, coordinator, action, post_id),
            )
    return bool(changed)


def audit_trail(store: SQLiteStore, limit: int = 100, post_id: str | None = None) -> list[AuditEntry]:
    """Latest actions first."""
    sql = "SELECT at, coordinator, action, post_id FROM audit"
    params: list[object] = []
    if post_id is not None:
        sql += " WHERE post_id = ?"
        params.append(post_id)
    rows = store.db.execute(sql + " ORDER BY seq DESC LIMIT ?", [*params, limit]).fetchall()
    return [AuditEntry(str(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in rows]


FILTERS = ("kind", "category", "district", "status")


def listing(
    store: SQLiteStore,
    today: date,
    filters: Mapping[str, Sequence[str]],
    *,
    limit: int = 100,
    offset: int = 0,
) -> tuple[pd.DataFrame, int]:
    """One page of the posts the filters pick, whatever their status, newest first, with an ``expired``
    column; and how many there are in all. What coordinators moderate (public pages and exports show
    open, unexpired posts only). Paged in SQL, so a page of a million posts reads a hundred rows."""
    where, params = [], []
    for column in FILTERS:
        values = list(filters.get(column, ()))
        if values:
            where.append(f"{column} IN ({','.join('?' * len(values))})")
            params.extend(values)
    # Column names come from FILTERS and POST_COLUMNS, never from the request; values are parameters.
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    total = int(store.db.execute("SELECT count(*) FROM posts" + clause, params).fetchone()[0])  # noqa: S608
    cursor = store.db.execute(
        SELECT_POSTS + clause + " ORDER BY created_day DESC, id LIMIT ? OFFSET ?", [*params, limit, offset]
    )
    cursor.row_factory = None
    frame = pd.DataFrame.from_records(cursor.fetchall(), columns=list(POST_COLUMNS))
    frame["expired"] = frame["expires_day"] < today.isoformat()
    return frame, total
