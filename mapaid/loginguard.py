"""The login throttle: per client, and per client and account, in this process's memory only.

Why per client: a throttle per account lets anyone lock a coordinator out by failing five times a minute
under their name. Here failures count against the pair (client, account), so they only stop the client
that made them; and every password check counts against the client whatever the name, so guessing names
is throttled too. What "client" means: a keyed hash of the remote address (IPv6 by its /56, which one
home usually holds: ``mapaid.clients``, shared with the abuse limits), with a random key made with the
guard. Nothing of it reaches the disk or a log: a seized server holds no list of who tried to log in, not
even as hashes.

A login from a known device (``mapaid.devices``) is counted like any other, and besides per device: after
``MAX_DEVICE_FAILURES`` failures through one device cookie in a window, whichever clients sent them, that
cookie no longer opens the known devices' hashing lane until the window ends (``admit_device``). So a
stolen device cookie spread over many addresses buys a handful of checks a minute in the reserved lane,
and no more guesses than any client gets anyway.

One ``LoginGuard`` per app (``create_app`` makes it), shared by every server thread. Counts are fixed
windows of ``WINDOW_S`` per key. The table is bounded (``MAX_KEYS``, oldest evicted first) so a flood of
addresses cannot grow memory without end. One process, one table: run N server processes and each keeps
its own, so a client spread over them gets up to N times ``MAX_PAIR_FAILURES`` and ``MAX_CLIENT_ATTEMPTS``
a window unless the proxy pins it or counts logins itself (docs/nginx/mapaid.conf's ``mapaid_logins`` zone);
the hashing slot in ``mapaid.accounts`` is per process too.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from enum import Enum

from mapaid.clients import client_unit

WINDOW_S = 60.0
MAX_PAIR_FAILURES = 5  # failed logins of one client on one account per window
MAX_CLIENT_ATTEMPTS = 20  # password checks of one client, any names, per window
MAX_DEVICE_FAILURES = 5  # failed logins through one known device's cookie per window, any clients
MAX_KEYS = 65_536


class Refusal(Enum):
    """Why a login attempt is refused before its password is checked."""

    CLIENT = "client"  # too many attempts from this client, whatever the names
    ACCOUNT = "account"  # too many failures of this client on this account


@dataclass
class _Window:
    start: float
    count: int = 0

    def over(self, now: float) -> bool:
        """Whether the window has run out (or the clock went back past its start)."""
        return now - self.start >= WINDOW_S or now < self.start


class LoginGuard:
    """Counts login attempts per client and failures per (client, account), thread-safe."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)  # memory only: keys the hashes of addresses and names
        self._lock = threading.Lock()
        self._windows: OrderedDict[str, _Window] = OrderedDict()

    def client(self, remote_addr: str | None) -> str:
        """A keyed hash standing for the client at ``remote_addr``; the address itself is not kept."""
        return self._digest("client", client_unit(remote_addr))

    def _digest(self, kind: str, text: str) -> str:
        return hmac.new(self._key, f"{kind}\0{text}".encode(), hashlib.sha256).hexdigest()[:32]

    def _pair(self, client: str, name: str) -> str:
        return self._digest("pair", f"{client}\0{name}")

    def _window(self, key: str, now: float) -> _Window:
        window = self._windows.get(key)
        if window is None or window.over(now):
            window = self._windows[key] = _Window(now)
        self._windows.move_to_end(key)
        while len(self._windows) > MAX_KEYS:
            self._windows.popitem(last=False)
        return window

    def _count(self, key: str, now: float) -> int:
        window = self._windows.get(key)
        if window is None or window.over(now):
            return 0
        return window.count

    def _refusal(self, client: str, name: str, now: float) -> Refusal | None:
        if self._count(client, now) >= MAX_CLIENT_ATTEMPTS:
            return Refusal.CLIENT
        if self._count(self._pair(client, name), now) >= MAX_PAIR_FAILURES:
            return Refusal.ACCOUNT
        return None

    def admit(self, client: str, name: str, now: float) -> Refusal | None:
        """Check and count one password check in one step: it counts as an attempt of the client and,
        until ``succeeded`` says otherwise, as a failure on the account (so parallel tries cannot slip
        past the limit)."""
        with self._lock:
            refused = self._refusal(client, name, now)
            if refused is None:
                self._window(client, now).count += 1
                self._window(self._pair(client, name), now).count += 1
            return refused

    def admit_device(self, device: str, now: float) -> bool:
        """Whether a login presenting the known device ``device`` (its key, ``devices.known``) may use the
        reserved lane: fewer than ``MAX_DEVICE_FAILURES`` failures through it this window. Counts the try
        as a failure until ``succeeded`` forgives it, as ``admit`` does."""
        key = self._digest("device", device)
        with self._lock:
            if self._count(key, now) >= MAX_DEVICE_FAILURES:
                return False
            self._window(key, now).count += 1
            return True

    def refund(self, client: str, name: str, device: str | None = None) -> None:
        """The password was not checked after all (the server was busy): the tentative failures on the
        account (and on the device, when one was admitted) go; the attempt still counts against the
        client, so flooding is throttled."""
        with self._lock:
            keys = [self._pair(client, name)] + ([self._digest("device", device)] if device else [])
            for key in keys:
                window = self._windows.get(key)
                if window is not None and window.count > 0:
                    window.count -= 1

    def succeeded(self, client: str, name: str, device: str | None = None) -> None:
        """The password was right: this client's failures on this account (and the device's) are
        forgiven."""
        with self._lock:
            self._windows.pop(self._pair(client, name), None)
            if device:
                self._windows.pop(self._digest("device", device), None)

    def prune(self, now: float) -> int:
        """Drop windows that have run out (housekeeping; counting works without it)."""
        with self._lock:
            stale = [key for key, window in self._windows.items() if window.over(now)]
            for key in stale:
                del self._windows[key]
        return len(stale)

    def tracked(self) -> int:
        """How many keys the table holds (at most ``MAX_KEYS``)."""
        return len(self._windows)
