"""Daily housekeeping while the server runs: what no one needs any more leaves the disk without a person
remembering to run `mapaid purge-expired`.

``run_once`` deletes expired posts and fulfilled ones (with their contacts; the store overwrites deleted
rows and cuts the WAL) and drops stale login records. ``Housekeeper`` is the thread `mapaid serve` starts:
it runs once at start, then a minute after each UTC midnight by the app's clock. Nothing here runs at
import or in ``create_app``, so tests and the CLI start it only when they mean to.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path

from mapaid import accounts
from mapaid.clock import Clock
from mapaid.loginguard import LoginGuard
from mapaid.store import Store, open_store

log = logging.getLogger("mapaid.housekeeping")
AFTER_MIDNIGHT = timedelta(minutes=1)
RETRY = timedelta(minutes=10)  # after a failed run (a locked database, a full disk)


@dataclass(frozen=True)
class Purged:
    expired: int
    fulfilled: int
    stale_logins: int


def run_once(store: Store, clock: Clock, guard: LoginGuard | None = None) -> Purged:
    """One round: expired posts (past their last UTC day), fulfilled posts, and stale login records
    (ended coordinator sessions; with ``guard``, the app's finished login-throttle windows)."""
    return Purged(
        expired=store.purge_expired(clock.today()),
        fulfilled=store.purge_fulfilled(),
        stale_logins=accounts.purge_stale(store, clock.now().timestamp(), guard),
    )


def next_run(now: datetime) -> datetime:
    """A minute after the next UTC midnight: the first moment yesterday's last day has passed."""
    midnight = datetime.combine(now.date() + timedelta(days=1), time(0), tzinfo=now.tzinfo)
    return midnight + AFTER_MIDNIGHT


class Housekeeper(threading.Thread):
    """Runs ``run_once`` on its own connection to ``database`` at start and then daily, until ``stop``."""

    def __init__(self, database: str | Path, clock: Clock, guard: LoginGuard | None = None) -> None:
        super().__init__(name="mapaid-housekeeping", daemon=True)
        self.database = database
        self.clock = clock
        self.guard = guard
        self.rounds = 0
        self._stop_event = threading.Event()

    def stop(self) -> None:
        self._stop_event.set()

    def run(self) -> None:
        while not self._stop_event.is_set():
            wait = self._round()
            self._stop_event.wait(wait.total_seconds())

    def _round(self) -> timedelta:
        """One round, logged by counts only (never ids or text); how long to wait for the next."""
        try:
            store = open_store(self.database)
            try:
                purged = run_once(store, self.clock, self.guard)
            finally:
                store.close()
        except Exception:  # a bad round must not end the thread: the next one may work
            log.exception("housekeeping failed; trying again in %d minutes", RETRY.seconds // 60)
            return RETRY
        self.rounds += 1
        log.info(
            "housekeeping: deleted %d expired and %d fulfilled posts, %d stale login records",
            purged.expired,
            purged.fulfilled,
            purged.stale_logins,
        )
        now = self.clock.now()
        return max(next_run(now) - now, timedelta(seconds=60))
