"""The one clock: every "today" and "now" in the app, the command line and the tests comes from here.

Posts are dated and expire by the UTC day, whatever the server's or the tester's time zone says. Taking the
date in one place, through an injectable ``Clock``, keeps the web app, the CLI, the housekeeping thread
and the tests on the same day (the tests once took the local date and failed between 00:00 and 03:00 in
Minsk). The app gets its clock from ``create_app(config={"CLOCK": ...})``; commands from the root click
context's ``obj`` (``{"clock": ...}``), both defaulting to ``SYSTEM``.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """Where the time comes from: ``now`` is an aware UTC datetime, ``today`` its UTC date."""

    def now(self) -> datetime: ...
    def today(self) -> date: ...


class SystemClock:
    """The real time, in UTC (never the local zone)."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def today(self) -> date:
        return self.now().date()

    def __repr__(self) -> str:
        return "SystemClock()"


class FixedClock:
    """A clock that stands still until told to move: for tests, and for reproducing a day boundary.

    Thread-safe, so a test can move it while a served app reads it."""

    def __init__(self, at: datetime) -> None:
        self._lock = threading.Lock()
        self._at = _utc(at)

    def now(self) -> datetime:
        with self._lock:
            return self._at

    def today(self) -> date:
        return self.now().date()

    def set(self, at: datetime) -> None:
        with self._lock:
            self._at = _utc(at)

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._at += delta

    def __repr__(self) -> str:
        return f"FixedClock({self._at.isoformat()})"


def _utc(at: datetime) -> datetime:
    """``at`` in UTC; a naive datetime is refused, since its zone would be a guess."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("a clock needs an aware datetime (with a time zone), not a naive one")
    return at.astimezone(UTC)


SYSTEM: Clock = SystemClock()


def check(value: object) -> Clock:
    """``value`` if it is a clock (as given in the CLOCK setting), else a clear error."""
    if value is None:
        return SYSTEM
    if not isinstance(value, Clock):
        raise TypeError(f"CLOCK must have now() and today(), not {value!r}")
    return value
