"""Publication rounds: when what residents post becomes public, so that no public answer dates a post, an
edit or an extension more finely than its round.

Why: an answer that changes the moment a post is made (a count, an ETag, an export's size) lets anyone who
polls the site time each post to the second, and a post's minute beside the state's record of every
connection's address and time names the poster. So a new post, a text edit and an extension wait, and
become public together with everything else that waits, in one round per window of
``MAPAID_PUBLISH_MINUTES`` (``Settings.publish_minutes``). Between rounds no public answer changes but for
what is taken away: a deletion, a fulfilment, a coordinator's hide are immediate (safety first; their
moment is public). The store keeps whether a post is public (status ``pending`` until its round), never a
time.

The schedule (``Schedule``): windows are aligned to the UTC epoch, window k = [k·W, (k+1)·W), and its
round is at ``k·W + (HMAC-SHA256(secret key, "mapaid-publish\\0" + k) mod W)`` (milliseconds). Every server
sharing the secret agrees on it, nobody without it can predict it, and it does not depend on when anyone
posted. A post made in window k is published at round k when it came before that moment, else at round
k+1: between a moment and two windows later, in ``max_delay``. A server that was down at a round's moment
publishes at the next one, never at start-up (a start would become a clock).

The round itself (``publish``): the store's ``publish_pending`` in one transaction, then its
``erase_removed``, which makes text the round replaced leave the database's files. Several servers on one
database each wake at the moment; ``publish_round`` lets the one that takes the store's lease for the
window do it (the lease keeps the window's end, a time anyone can compute). `mapaid publish` runs a round
at once, for operators and tests. ``bucket_seconds`` is the unit every other time on disk is kept in.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime

from mapaid.config import Settings
from mapaid.models import Published
from mapaid.store import Store

log = logging.getLogger("mapaid.rounds")
LEASE = "publish"
_LABEL = b"mapaid-publish\0"
MS = 1000
AT_ONCE_BUCKET_S = 60  # with rounds off, times on disk are kept to the minute, as logins always were


def _ms(at: datetime) -> int:
    return math.floor(at.timestamp() * MS)


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / MS, UTC)


@dataclass(frozen=True)
class Schedule:
    """The rounds of one site: its window (``window_ms``; 0: publish at once) and the key that places
    each round's moment in its window."""

    window_ms: int
    key: bytes

    @classmethod
    def from_settings(cls, settings: Settings) -> Schedule:
        return cls(round(settings.publish_minutes * 60 * MS), settings.secret_key.encode())

    @property
    def at_once(self) -> bool:
        """Rounds are off: posts and changes are public as they are made."""
        return self.window_ms == 0

    def window(self, at: datetime) -> int:
        """The number of the window ``at`` lies in."""
        return _ms(at) // self.window_ms

    def moment_ms(self, window: int) -> int:
        """The round of ``window``, in milliseconds since the epoch."""
        digest = hmac.new(self.key, _LABEL + str(window).encode(), hashlib.sha256).digest()
        return window * self.window_ms + int.from_bytes(digest[:8], "big") % self.window_ms

    def moment(self, window: int) -> datetime:
        return _at(self.moment_ms(window))

    def end_ms(self, window: int) -> int:
        return (window + 1) * self.window_ms

    def next_round(self, after: datetime) -> int:
        """The window whose round is the first strictly after ``after``."""
        window = self.window(after)
        return window if self.moment_ms(window) > _ms(after) else window + 1

    def max_delay_s(self) -> float:
        """The longest a post waits for its round: made just after one window's moment, it goes with
        the next window's, which may lie at that window's very end. Under two windows."""
        return 2 * self.window_ms / MS

    def bucket_seconds(self) -> int:
        """The unit of every other time kept on disk (one-form rows, logins): the window in whole seconds
        (at least one), or a minute with rounds off."""
        return max(1, math.ceil(self.window_ms / MS)) if self.window_ms else AT_ONCE_BUCKET_S

    def bucket(self, seconds: float) -> int:
        """``seconds`` (since the epoch) down to the start of its bucket."""
        size = self.bucket_seconds()
        return int(seconds // size * size)


def publish(store: Store, *, erase: bool = True) -> Published:
    """One round, now: everything pending becomes public together (``Store.publish_pending``), then what
    it or anything since the last round took back leaves the files (``Store.erase_removed``: every round,
    whether or not it published anything). ``erase=False`` leaves the erase to the caller: the
    housekeeper runs it beside the rounds, so a long erase on a busy PostgreSQL never makes the next
    round late."""
    done = store.publish_pending()
    if erase:
        store.erase_removed()
    return done


def publish_round(store: Store, schedule: Schedule, window: int, *, erase: bool = True) -> Published | None:
    """The round of ``window``, if this process takes its lease (None when another server has it, or had
    it). Call it at or after the window's moment."""
    if not store.take_lease(LEASE, schedule.moment_ms(window), schedule.end_ms(window)):
        return None
    return publish(store, erase=erase)
