"""What is public, said once for both SQL dialects, so that no query has its own idea of it.

Its own module (imported by ``mapaid.store``, the stores and ``mapaid.threads``) because the conversation
tables check it too, and ``mapaid.store`` imports those.
"""

from __future__ import annotations

__all__ = ["ROUND_WORK", "public_where"]


def public_where(day: str, prefix: str = "") -> str:
    """THE condition for what is public, for both dialects (``day`` is the placeholder bound to today;
    ``prefix`` goes before each column: a table alias, or SQLite's ``+`` that keeps its planner on the
    cell index). Open and unexpired: a post waiting for its publication round has status ``pending``, a
    hidden or fulfilled one its own, and its public text and last day are ``text`` and ``expires_day``
    (a change waiting for the round is in ``DRAFT_COLUMNS``). Every public read builds its WHERE clause
    from this, conversations and reports check it before they are taken, and nothing else says what is
    public."""
    return f"{prefix}status = 'open' AND {prefix}expires_day >= {day}"


# The rows a publication round has work on: posts waiting to be published and changes waiting to show.
# A partial index has exactly these rows (``posts_round``), so a round reads them, not the table.
ROUND_WORK = "(status = 'pending' OR draft_text IS NOT NULL OR draft_expires IS NOT NULL)"
