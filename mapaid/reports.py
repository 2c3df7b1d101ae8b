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

from collections.abc import Iterable
from datetime import date

from flask_babel import pgettext

from mapaid.store import Store

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


def add(store: Store, post_id: str, reason: str, today: date) -> bool:
    """Count one report of ``post_id`` for ``reason`` on ``today``. False when there is no open, unexpired
    post with that id (nothing is written then)."""
    if reason not in REASONS:
        raise ValueError(f"unknown reason {reason!r}; one of {', '.join(REASONS)}")
    return store.add_report(post_id, reason, today)


def by_reason(store: Store, post_ids: Iterable[str]) -> dict[str, dict[str, int]]:
    """Reports per reason for each of ``post_ids`` that has any (a page of the moderation list)."""
    return store.reports_by_reason(list(post_ids))


def queued(store: Store) -> int:
    """How many posts have reports waiting for a coordinator."""
    return store.reports_queued()
