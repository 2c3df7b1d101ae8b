"""Moderation: coordinators hide, restore or mark posts fulfilled, or dismiss residents' reports of a post,
and every action goes in an audit trail.

The trail says who did what to which post and when (UTC, to the second), and nothing about where: no cell,
no district, no text. The status change, the reports it resolves and its audit row are one transaction, so
none exists alone. Hiding a post resolves its reports as dismissing them does (``mapaid.reports``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime

import pandas as pd

from mapaid import reports
from mapaid.models import AuditEntry, Search, Status
from mapaid.sqlitestore import SQLiteStore
from mapaid.store import POST_COLUMNS, SELECT_POSTS

# Each action and the status it sets (None: the status stays, as when reports are dismissed).
ACTIONS: dict[str, Status | None] = {
    "hide": Status.HIDDEN,
    "restore": Status.OPEN,
    "fulfilled": Status.FULFILLED,
    "dismiss": None,
}
RESOLVING = ("hide", "dismiss")  # actions that resolve a post's reports
MAX_QUERY = 100  # characters of a text search


def moderate(store: SQLiteStore, post_id: str, action: str, coordinator: str, now: datetime) -> bool:
    """Apply ``action`` (hide, restore, fulfilled, dismiss) to a post and record it. False when there is no
    such post (nothing is recorded then). ``now`` comes from the caller's clock (``mapaid.clock``)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown moderation action {action!r}; one of {', '.join(ACTIONS)}")
    status = ACTIONS[action]
    at = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with store.transaction() as db:
        if status is None:
            changed = db.execute("SELECT count(*) FROM posts WHERE id = ?", (post_id,)).fetchone()[0]
        else:
            changed = db.execute("UPDATE posts SET status = ? WHERE id = ?", (str(status), post_id)).rowcount
        if changed and action in RESOLVING:
            reports.resolve(db, post_id)
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


def like_pattern(text: str) -> str:
    """A LIKE pattern (with ``ESCAPE '\\'``) matching ``text`` anywhere, its own ``%`` and ``_`` literal."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _fold(value: str | None) -> str | None:
    """Unicode case folding: SQLite's LIKE folds ASCII letters only, and posts are mostly Cyrillic."""
    return None if value is None else value.casefold()


def _where(filters: Mapping[str, Sequence[str]], search: Search) -> tuple[list[str], list[object]]:
    where: list[str] = []
    params: list[object] = []
    for column in FILTERS:
        values = list(filters.get(column, ()))
        if values:
            where.append(f"{column} IN ({','.join('?' * len(values))})")
            params.extend(values)
    if search.cell is not None:
        where.append("cell = ?")
        params.append(search.cell)
    if search.text:
        where.append(
            "(mapaid_fold(text) LIKE ? ESCAPE '\\' OR mapaid_fold(coalesce(contact, '')) LIKE ? ESCAPE '\\')"
        )
        pattern = like_pattern(search.text.casefold())
        params.extend([pattern, pattern])
    if search.reported:
        where.append("id IN (SELECT post_id FROM reports)")
    return where, params


def listing(
    store: SQLiteStore,
    today: date,
    filters: Mapping[str, Sequence[str]],
    *,
    limit: int = 100,
    offset: int = 0,
    search: Search | None = None,
) -> tuple[pd.DataFrame, int]:
    """One page of the posts the filters pick, whatever their status, newest day first (then by id), with
    ``expired`` and ``reports`` (how many reports it has) columns; and how many there are in all. Reported
    posts only: most reported first. What coordinators moderate (public pages and exports show open,
    unexpired posts only). Paged in SQL, so a page of a million posts reads a hundred rows."""
    search = search or Search()
    if len(search.text) > MAX_QUERY:
        raise ValueError(f"a search is at most {MAX_QUERY} characters")
    store.db.create_function("mapaid_fold", 1, _fold, deterministic=True)
    where, params = _where(filters, search)
    # Column names come from FILTERS and POST_COLUMNS, never from the request; values are parameters.
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    total = int(store.db.execute("SELECT count(*) FROM posts" + clause, params).fetchone()[0])  # noqa: S608
    if search.keep is not None and where:
        clause = f" WHERE ({' AND '.join(where)}) OR id = ?"
        params = [*params, search.keep]
    count = "(SELECT coalesce(sum(count), 0) FROM reports WHERE post_id = posts.id)"
    order = f"{count} DESC, created_day DESC, id" if search.reported else "created_day DESC, id"
    cursor = store.db.execute(
        SELECT_POSTS + clause + f" ORDER BY {order} LIMIT ? OFFSET ?", [*params, limit, offset]
    )
    cursor.row_factory = None
    frame = pd.DataFrame.from_records(cursor.fetchall(), columns=list(POST_COLUMNS))
    frame["expired"] = frame["expires_day"] < today.isoformat()
    counted = reports.by_reason(store, frame["id"].tolist())
    frame["reports"] = [sum(counted.get(i, {}).values()) for i in frame["id"]]
    frame["reasons"] = pd.Series([counted.get(i, {}) for i in frame["id"]], index=frame.index, dtype=object)
    return frame, total
