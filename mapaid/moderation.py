"""Moderation: coordinators hide, restore or mark posts fulfilled, or dismiss residents' reports of a post,
and every action goes in an audit trail.

The trail says who did what to which post and on which UTC day (no time of day: nothing on disk is kept
finer than a publication round, and a day is coarser), and nothing about where: no cell, no district, no
text. It keeps ``MAPAID_AUDIT_DAYS`` days (the daily housekeeping deletes older entries). The status change,
the reports it resolves and its audit row are one transaction, so none exists alone. Hiding a post resolves
its reports as dismissing them does (``mapaid.reports``).

A hide or a "fulfilled" takes the post out of every public answer at once (safety first; the moment is
public). A restore puts it back at the next publication round (mapaid/rounds.py), as a new post would be
(at once when rounds are off): until then it is pending, and listed only as the row just acted on.
Coordinators see no pending post: their list would otherwise time each new post as a poller could.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta

import pandas as pd

from mapaid import reports
from mapaid.models import PENDING, AuditEntry, Search, Status, Stored
from mapaid.store import Store

# Each action and the status it sets (None: the status stays, as when reports are dismissed).
ACTIONS: dict[str, Status | None] = {
    "hide": Status.HIDDEN,
    "restore": Status.OPEN,
    "fulfilled": Status.FULFILLED,
    "dismiss": None,
}
RESOLVING = ("hide", "dismiss")  # actions that resolve a post's reports
MAX_QUERY = 100  # characters of a text search


def moderate(
    store: Store, post_id: str, action: str, coordinator: str, now: datetime, *, at_once: bool
) -> bool:
    """Apply ``action`` (hide, restore, fulfilled, dismiss) to a post and record it. False when there is no
    such post, or none coordinators can see (nothing is recorded then). ``now`` comes from the caller's
    clock (``mapaid.clock``); only its UTC day is kept. ``at_once``: rounds are off, a restore is public at
    once; otherwise it waits for the next round."""
    if action not in ACTIONS:
        raise ValueError(f"unknown moderation action {action!r}; one of {', '.join(ACTIONS)}")
    status: Stored | None = ACTIONS[action]
    if status == Status.OPEN and not at_once:
        status = PENDING
    entry = AuditEntry(day_of(now).isoformat(), coordinator, action, post_id)
    return store.moderate(post_id, status, entry, resolve_reports=action in RESOLVING)


def day_of(now: datetime) -> date:
    """The UTC day of ``now`` (an aware datetime from the app's clock)."""
    return now.astimezone(UTC).date()


def purge_audit(store: Store, today: date, keep_days: int) -> int:
    """Delete the audit entries older than ``keep_days`` days (housekeeping, daily)."""
    return store.purge_audit(today - timedelta(days=keep_days))


def audit_trail(store: Store, limit: int = 100, post_id: str | None = None) -> list[AuditEntry]:
    """Latest actions first."""
    return store.audit_trail(limit, post_id)


FILTERS = ("kind", "category", "district", "status")


def listing(
    store: Store,
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
    frame, total = store.moderation_page(filters, search, limit, offset)
    frame["expired"] = frame["expires_day"] < today.isoformat()
    counted = reports.by_reason(store, frame["id"].tolist())
    frame["reports"] = [sum(counted.get(i, {}).values()) for i in frame["id"]]
    frame["reasons"] = pd.Series([counted.get(i, {}) for i in frame["id"]], index=frame.index, dtype=object)
    return frame, total
