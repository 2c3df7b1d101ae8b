"""Housekeeping while the server runs: publication rounds at their moments, and each day's clean-up,
without a person remembering to run `mapaid publish` or `mapaid purge-expired`.

``Housekeeper`` is the thread `mapaid serve` starts. Its ``tick`` does what is due by the app's clock and
says how long until the next thing is due; the thread sleeps that long and ticks again (tests tick it
themselves after moving a fixed clock):

- the publication round of each window at its moment (mapaid/rounds.py), never at start: a server that
  starts after a missed moment publishes what waits at the next one;
- the daily clean-up (``run_once``) at start and a minute after each UTC midnight: expired posts,
  fulfilled ones (with their contacts; the store overwrites deleted rows and cuts the WAL), stale login
  records, one-form rows past their time, audit entries older than ``MAPAID_AUDIT_DAYS``, then the store's
  ``compact`` (SQLite's VACUUM: no page keeps the order in which its rows came). With rounds off it also
  publishes anything a round would have (posts left pending when rounds were on);
- between them, every ``ERASE_EVERY`` of real time, the erase (``Store.erase_removed``): on PostGIS a
  deletion or an edit takes the text out of every answer at once, and the erase rewrites the partitions
  that still hold it in their files, so ``ERASE_EVERY`` bounds how long a seized disk could still give it
  back (docs/deploy.md). The daily clean-up and each round erase too.

Nothing here runs at import or in ``create_app``, so tests and the CLI start it only when they mean to.

Several server processes on one database each run a housekeeper. A publication round is done once per
window by whoever takes the store's ``publish`` lease for it (mapaid/rounds.py); the daily clean-up is
harmless twice (every step deletes what is due), but two at once would wait on each other's locks (and,
on PostgreSQL, could deadlock on the same rows), so it first takes the lease ``housekeeping`` until the
next UTC midnight: one server does each day's, whether at its start or after midnight, and a failed one
gives the lease back so the next try (``RETRY`` later) may run. Leases keep only those scheduled times.
Each process still drops its own finished login-throttle windows, which live in its memory only. The
erase between rounds takes the lease ``erase`` the same way (two at once would only wait on each other's
partition locks).
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from time import monotonic

from mapaid import accounts, formonce, moderation, rounds
from mapaid.clock import Clock
from mapaid.loginguard import LoginGuard
from mapaid.models import Published
from mapaid.rounds import Schedule
from mapaid.store import Store, open_store

log = logging.getLogger("mapaid.housekeeping")
AFTER_MIDNIGHT = timedelta(minutes=1)
RETRY = timedelta(minutes=10)  # after a failed clean-up (a locked database, a full disk)
LEASE = "housekeeping"
DEFAULT_AUDIT_DAYS = 90
_OFF = Schedule(0, b"")
ERASE_EVERY = timedelta(minutes=5)  # between rounds: the bound on how long removed text stays in the files


@dataclass(frozen=True)
class Purged:
    expired: int
    fulfilled: int
    stale_logins: int
    forms: int = 0
    audit: int = 0
    erased: int = 0  # tables (partitions) rewritten so that removed text left their files


def run_once(
    store: Store,
    clock: Clock,
    guard: LoginGuard | None = None,
    *,
    schedule: Schedule = _OFF,
    audit_days: int = DEFAULT_AUDIT_DAYS,
) -> Purged:
    """One day's clean-up: expired posts (past their last UTC day), fulfilled posts, stale login records
    (ended coordinator sessions; with ``guard``, the app's finished login-throttle windows), the
    one-form-one-post rows past their time, old audit entries; then the erase of what they (and the day's
    deletions and edits) removed, and the store is compacted."""
    now = clock.now().timestamp()
    expired = store.purge_expired(clock.today())
    fulfilled = store.purge_fulfilled()
    stale_logins = accounts.purge_stale(store, now, guard)
    forms = store.purge_forms(formonce.expired_before(now, schedule.bucket_seconds()))
    audit = moderation.purge_audit(store, clock.today(), audit_days)
    purged = Purged(expired, fulfilled, stale_logins, forms, audit, erased=store.erase_removed())
    store.compact()
    return purged


def next_run(now: datetime) -> datetime:
    """A minute after the next UTC midnight: the first moment yesterday's last day has passed."""
    return _midnight(now) + AFTER_MIDNIGHT


def _midnight(now: datetime) -> datetime:
    """The next UTC midnight after ``now``."""
    return datetime.combine(now.date() + timedelta(days=1), time(0), tzinfo=now.tzinfo)


class Housekeeper(threading.Thread):
    """Runs the rounds, the daily clean-up and the erase between them on its own connections to
    ``database``, until ``stop``."""

    def __init__(
        self,
        database: str | Path,
        clock: Clock,
        guard: LoginGuard | None = None,
        *,
        schedule: Schedule = _OFF,
        audit_days: int = DEFAULT_AUDIT_DAYS,
        erase_every: timedelta = ERASE_EVERY,
    ) -> None:
        super().__init__(name="mapaid-housekeeping", daemon=True)
        self.database = database
        self.clock = clock
        self.guard = guard
        self.schedule = schedule
        self.audit_days = audit_days
        self.rounds = 0  # daily clean-ups this process ran
        self.skipped = 0  # daily clean-ups another process held the lease for
        self.published = 0  # publication rounds this process ran
        self.published_skipped = 0  # publication rounds another process held the lease for
        self.erase_every = erase_every
        self.erases = 0  # erases between rounds this process ran
        self._erase_at = monotonic() + erase_every.total_seconds()  # real time: the bound is in real time
        self._eraser: threading.Thread | None = None
        self._stop_event = threading.Event()
        self._daily_due = clock.now()  # the first clean-up at start
        self._round_due = None if schedule.at_once else schedule.next_round(clock.now())

    def stop(self) -> None:
        self._stop_event.set()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self._stop_event.wait(self.tick())

    def tick(self) -> float:
        """Do what is due now by the clock; seconds until the next thing is due (at least a millisecond,
        so a clock that stands still does not spin the thread)."""
        now = self.clock.now()
        if self._round_due is not None and now >= self.schedule.moment(self._round_due):
            self._publish(self.schedule.next_round(now) - 1)  # the latest round due: one, however late
            self._round_due = self.schedule.next_round(now)
        if now >= self._daily_due:
            self._daily_due = now + self._daily()
            self._erase_at = monotonic() + self.erase_every.total_seconds()  # the clean-up erased
        elif monotonic() >= self._erase_at:
            self._erase()
            self._erase_at = monotonic() + self.erase_every.total_seconds()
        waits = [(self._daily_due - now).total_seconds(), self._erase_at - monotonic()]
        if self._round_due is not None:
            waits.append((self.schedule.moment(self._round_due) - now).total_seconds())
        return max(0.001, min(waits))

    def _erase_beside(self) -> None:
        """The erase that follows a round, in a thread of its own (one at a time): on a busy PostgreSQL
        it may take longer than a short window, and the next round must not wait for it."""
        if self._eraser is not None and self._eraser.is_alive():
            return
        self._eraser = threading.Thread(target=self._erase, name="mapaid-erase", daemon=True)
        self._eraser.start()

    def settle(self, timeout: float = 60.0) -> None:
        """Wait for the erase that followed the last round (tests read the files after it)."""
        if self._eraser is not None:
            self._eraser.join(timeout)

    def _erase(self) -> None:
        """One erase between rounds, under the lease ``erase``; logged by count only, when it did any."""
        every = max(1, math.floor(self.erase_every.total_seconds() * 1000))
        start = _ms(self.clock.now()) // every * every  # a scheduled time: the start of this erase period
        try:
            store = open_store(self.database)
            try:
                if not store.take_lease("erase", start, start + every):
                    return
                try:
                    erased = store.erase_removed()
                finally:
                    store.release_lease("erase")  # held only while erasing: another may erase next time
            finally:
                store.close()
        except Exception:  # the next one may work; what is due stays named in the database
            log.exception(
                "erasing removed text failed; trying again in %.0f s", self.erase_every.total_seconds()
            )
            return
        self.erases += 1
        if erased:
            log.info("housekeeping: erased removed text from %d tables", erased)

    def _publish(self, window: int) -> None:
        """The round of ``window``, if this process takes its lease; logged by counts only."""
        try:
            store = open_store(self.database)
            try:
                done = rounds.publish_round(store, self.schedule, window, erase=False)
            finally:
                store.close()
        except Exception:  # a failed round must not end the thread: the next window's publishes it all
            log.exception("publication round failed; what waits goes with the next round")
            return
        if done is None:
            self.published_skipped += 1
            return
        self.published += 1
        self._erase_beside()
        log.info("publication round: %d posts and %d changes now public", done.posts, done.changes)

    def _daily(self) -> timedelta:
        """One day's clean-up, logged by counts only (never ids or text); how long until the next."""
        now = self.clock.now()
        try:
            store = open_store(self.database)
            try:
                purged = self._locked_daily(store, now)
            finally:
                store.close()
        except Exception:  # a bad clean-up must not end the thread: the next one may work
            log.exception("housekeeping failed; trying again in %d minutes", RETRY.seconds // 60)
            return RETRY
        wait = max(next_run(now) - now, timedelta(seconds=60))
        if purged is None:
            self.skipped += 1
            log.info("housekeeping: another server process has today's")
            return wait
        self.rounds += 1
        log.info(
            "housekeeping: deleted %d expired and %d fulfilled posts, %d stale login records,"
            " %d audit entries; erased removed text from %d tables",
            purged.expired,
            purged.fulfilled,
            purged.stale_logins,
            purged.audit,
            purged.erased,
        )
        return wait

    def _locked_daily(self, store: Store, now: datetime) -> Purged | None:
        """The clean-up if this process takes today's lease (None when another has it); this process's
        own login-throttle windows are pruned either way."""
        seconds = now.timestamp()
        if self.guard is not None:
            self.guard.prune(seconds)
        if not store.take_lease(LEASE, math.floor(seconds * 1000), _ms(_midnight(now))):
            return None
        try:
            if self.schedule.at_once:
                _log_published(rounds.publish(store))
            return run_once(store, self.clock, schedule=self.schedule, audit_days=self.audit_days)
        except BaseException:
            store.release_lease(LEASE)  # so the retry, here or on another server, may run
            raise


def _ms(at: datetime) -> int:
    return math.floor(at.timestamp() * 1000)


def _log_published(done: Published) -> None:
    if done.any:
        log.info("published %d posts and %d changes left from publication rounds", done.posts, done.changes)
