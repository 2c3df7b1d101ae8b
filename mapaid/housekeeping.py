"""Daily housekeeping while the server runs: what no one needs any more leaves the disk without a person
remembering to run `mapaid purge-expired`.

``run_once`` deletes expired posts and fulfilled ones (with their contacts; the store overwrites deleted
rows and cuts the WAL), stale login records and posting forms older than ten minutes, then erases what
was removed (``Store.erase_removed``). ``Housekeeper`` is the thread `mapaid serve` starts: it runs once at
start, then a minute after each UTC midnight by the app's clock, and between rounds erases every
``ERASE_EVERY``: on PostGIS a deletion or an edit takes the text out of every answer at once, and the
erase rewrites the partitions that still hold it in their files, so ``ERASE_EVERY`` bounds how long a
seized disk could still give it back (docs/deploy.md). Nothing here runs at import or in
``create_app``, so tests and the CLI start it only when they mean to.

Several server processes on one database each start a housekeeper. A round is harmless twice (every step
deletes what is due, so the second finds nothing), but two at once would wait on each other's locks (and,
on PostgreSQL, could deadlock on the same rows), so a round first takes the store's lease ``housekeeping``
for ``LEASE``: of the servers waking a minute after midnight one does the work and the others skip it.
Each process still drops its own finished login-throttle windows, which live in its memory only. The
erase between rounds takes the lease ``erase`` the same way (two at once would only wait on each other's
partition locks).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from time import monotonic

from mapaid import accounts, formonce
from mapaid.clock import Clock
from mapaid.loginguard import LoginGuard
from mapaid.store import Store, open_store

log = logging.getLogger("mapaid.housekeeping")
AFTER_MIDNIGHT = timedelta(minutes=1)
RETRY = timedelta(minutes=10)  # after a failed run (a locked database, a full disk)
LEASE = timedelta(minutes=10)  # a round holds the database's housekeeping lease this long
ERASE_EVERY = timedelta(minutes=5)  # between rounds: the bound on how long removed text stays in the files


@dataclass(frozen=True)
class Purged:
    expired: int
    fulfilled: int
    stale_logins: int
    forms: int = 0
    erased: int = 0  # tables (partitions) rewritten so that removed text left their files


def run_once(store: Store, clock: Clock, guard: LoginGuard | None = None) -> Purged:
    """One round: expired posts (past their last UTC day), fulfilled posts, and stale login records
    (ended coordinator sessions; with ``guard``, the app's finished login-throttle windows), and the
    one-form-one-post rows past their time; then the erase of what they (and the day's deletions and
    edits) removed."""
    now = clock.now().timestamp()
    expired = store.purge_expired(clock.today())
    fulfilled = store.purge_fulfilled()
    return Purged(
        expired=expired,
        fulfilled=fulfilled,
        stale_logins=accounts.purge_stale(store, now, guard),
        forms=store.purge_forms(int(now) - formonce.KEEP_SECONDS),
        erased=store.erase_removed(),
    )


def next_run(now: datetime) -> datetime:
    """A minute after the next UTC midnight: the first moment yesterday's last day has passed."""
    midnight = datetime.combine(now.date() + timedelta(days=1), time(0), tzinfo=now.tzinfo)
    return midnight + AFTER_MIDNIGHT


class Housekeeper(threading.Thread):
    """Runs ``run_once`` on its own connection to ``database`` at start and then daily, and the erase every
    ``erase_every`` in between, until ``stop``."""

    def __init__(
        self,
        database: str | Path,
        clock: Clock,
        guard: LoginGuard | None = None,
        erase_every: timedelta = ERASE_EVERY,
    ) -> None:
        super().__init__(name="mapaid-housekeeping", daemon=True)
        self.database = database
        self.clock = clock
        self.guard = guard
        self.erase_every = erase_every
        self.rounds = 0  # rounds this process ran
        self.skipped = 0  # rounds another process held the lease for
        self.erases = 0  # erases between rounds this process ran
        self._stop_event = threading.Event()

    def stop(self) -> None:
        self._stop_event.set()

    def run(self) -> None:
        """The round at once, then whichever is due first: the next round or the next erase."""
        round_at = monotonic()
        erase_at = round_at + self.erase_every.total_seconds()
        while not self._stop_event.is_set():
            if monotonic() >= round_at:
                round_at = monotonic() + self._round().total_seconds()
                erase_at = monotonic() + self.erase_every.total_seconds()  # the round erased
            elif monotonic() >= erase_at:
                self._erase()
                erase_at = monotonic() + self.erase_every.total_seconds()
            self._stop_event.wait(max(0.0, min(round_at, erase_at) - monotonic()))

    def _erase(self) -> None:
        """One erase between rounds, under the lease ``erase``; logged by count only, when it did any."""
        now = self.clock.now().timestamp()
        try:
            store = open_store(self.database)
            try:
                if not store.take_lease("erase", int(now), int(now + self.erase_every.total_seconds())):
                    return
                erased = store.erase_removed()
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

    def _round(self) -> timedelta:
        """One round, logged by counts only (never ids or text); how long to wait for the next."""
        try:
            store = open_store(self.database)
            try:
                purged = self._locked_round(store)
            finally:
                store.close()
        except Exception:  # a bad round must not end the thread: the next one may work
            log.exception("housekeeping failed; trying again in %d minutes", RETRY.seconds // 60)
            return RETRY
        now = self.clock.now()
        wait = max(next_run(now) - now, timedelta(seconds=60))
        if purged is None:
            self.skipped += 1
            log.info("housekeeping: another server process has this round")
            return wait
        self.rounds += 1
        log.info(
            "housekeeping: deleted %d expired and %d fulfilled posts, %d stale login records;"
            " erased removed text from %d tables",
            purged.expired,
            purged.fulfilled,
            purged.stale_logins,
            purged.erased,
        )
        return wait

    def _locked_round(self, store: Store) -> Purged | None:
        """A round if this process takes the lease (None when another holds it); this process's own
        login-throttle windows are pruned either way."""
        now = self.clock.now().timestamp()
        if self.guard is not None:
            self.guard.prune(now)
        if not store.take_lease("housekeeping", int(now), int(now + LEASE.total_seconds())):
            return None
        return run_once(store, self.clock)
