"""Coordinator accounts: argon2id password hashes, and checking a password without letting a flood of
logins take the server down or lock a coordinator out.

Each check costs a 64 MiB argon2 hash, so one process checks one anonymous password at a time
(``hashing_slot``); a login that finds the slot taken is answered at once without hashing (``Busy``).
Many addresses, each inside its allowance, can keep that one slot busy and so keep coordinators out; a
login from a known device (``mapaid.devices``: a browser that logged in to this account before) therefore
has a second slot of its own, which anonymous traffic never takes, and may wait a moment for it. At most
two hashes run at once, whatever the flood. Before either, the in-memory ``LoginGuard``
(``mapaid.loginguard``) throttles per client and per (client, account), and per device for the known lane.
Nothing about failed logins is written to disk. Ending logins (removal, a new password) is
``mapaid.sessions``; forgetting devices then is the store's, in the same transaction.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from mapaid import devices, loginguard, sessions
from mapaid.loginguard import LoginGuard, Refusal
from mapaid.models import Coordinator
from mapaid.store import Store

MAX_FAILURES = loginguard.MAX_PAIR_FAILURES  # failed logins of one client on one account ...
WINDOW_S = loginguard.WINDOW_S  # ... per minute
# A login does not wait for the hashing slot: a waiting request holds a server thread that resident pages
# need, and one hash takes longer (0.1-0.3 s) than any wait short enough to be harmless.
SLOT_WAIT_S = 0.0
# A known device's login may wait for its own slot: only logins presenting a valid device cookie for the
# name they try reach it (a few coordinators, each device limited to MAX_DEVICE_FAILURES a minute), so a
# short wait costs little and spares two coordinators logging in at the same moment a "busy" answer.
KNOWN_SLOT_WAIT_S = 1.0
_SLOT = threading.BoundedSemaphore(1)  # anonymous logins
_KNOWN_SLOT = threading.BoundedSemaphore(1)  # logins from known devices
MIN_PASSWORD = 10
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,31}$")

_hasher = PasswordHasher()  # argon2id, 64 MiB, 3 passes: memory-hard
# Verified against when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY = _hasher.hash("not a password of anyone")


class AccountError(ValueError):
    """A name or password we cannot accept; the message says why."""


def check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise AccountError(
            "a coordinator name is 2-32 characters: lowercase letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")
    return password


def add(store: Store, name: str, password: str, today: date) -> None:
    check_name(name)
    digest = _hasher.hash(check_password(password))
    if not store.add_coordinator(name, digest, today):
        raise AccountError(f"coordinator {name!r} exists already")


def remove(store: Store, name: str) -> bool:
    """Remove the account, end its logins and forget its known devices, in one transaction."""
    return store.remove_coordinator(name)


def set_password(store: Store, name: str, password: str) -> None:
    """Give ``name`` a new password, end every login made with the old one and forget its known devices,
    in one transaction."""
    digest = _hasher.hash(check_password(password))
    if not store.set_password_hash(name, digest):
        raise AccountError(f"no coordinator called {name!r}; see `mapaid coordinator list`")


def list_all(store: Store) -> list[Coordinator]:
    return store.coordinators()


class Throttled(Exception):
    """Too many login attempts from this client, or failures of this client on this account."""

    def __init__(self, reason: Refusal) -> None:
        super().__init__(reason.value)
        self.reason = reason


class Busy(Exception):
    """Another password is being checked right now; this one was not (try again in a moment)."""


@contextmanager
def hashing_slot(wait: float = SLOT_WAIT_S, *, known: bool = False) -> Iterator[None]:
    """Hold the process's slot for a password check (the known devices' own slot with ``known``),
    waiting at most ``wait`` seconds for it; ``Busy`` when it stays taken. A login flood then costs one
    core and 64 MiB, not one per request, and resident pages keep their threads and their speed."""
    slot = _KNOWN_SLOT if known else _SLOT
    if not slot.acquire(timeout=wait):
        raise Busy
    try:
        yield
    finally:
        slot.release()


def _verify(store: Store, name: str, password: str) -> bool:
    digest = store.password_hash(name)
    try:
        return bool(_hasher.verify(digest or _DUMMY, password)) and digest is not None
    except (VerificationError, InvalidHashError):
        return False


def authenticate(
    store: Store,
    name: str,
    password: str,
    now: float,
    *,
    guard: LoginGuard,
    client: str,
    wait: float = SLOT_WAIT_S,
    device: str | None = None,
) -> bool:
    """True when ``password`` is ``name``'s. Before any hashing: ``Throttled`` when ``client`` (see
    ``LoginGuard.client``) made too many attempts this minute, whatever the names, or failed too often on
    this name (right or wrong password alike); ``Busy`` when the hashing slot stays taken. Other clients
    are not affected by either: nobody can lock a coordinator out by failing under their name.

    ``device`` is the key of a known device of ``name`` that this login presents (``devices.known``):
    the check then takes the known devices' slot (waiting up to ``KNOWN_SLOT_WAIT_S``) unless that device
    failed too often this minute. It never replaces the password, and it is counted like any login."""
    refused = guard.admit(client, name, now)
    if refused is not None:
        raise Throttled(refused)
    lane = device if device is not None and guard.admit_device(device, now) else None
    try:
        with hashing_slot(max(wait, KNOWN_SLOT_WAIT_S) if lane else wait, known=lane is not None):
            ok = _verify(store, name, password)
    except Busy:
        guard.refund(client, name, lane)
        raise
    if ok:
        guard.succeeded(client, name, lane)
    return ok


def purge_stale(store: Store, now: float, guard: LoginGuard | None = None) -> int:
    """Housekeeping, to run daily (and whenever convenient): deletes logins that ran out or lost their
    account, known devices that ran out or lost their account, and any failed-login rows an older mapaid
    left in ``login_failures`` (this one keeps failures in memory only); with ``guard``, drops its
    finished windows too. Returns the rows deleted."""
    deleted = sessions.purge(store, now)
    deleted += devices.purge(store, datetime.fromtimestamp(now, UTC).date())
    deleted += store.purge_login_failures()
    if guard is not None:
        guard.prune(now)
    return deleted
