"""One form, one post: the posting form carries a random nonce, and a second submission of the same form
(a double tap, a reload of the POST, Back and Send again) gets the first one's result instead of a
second post, whichever server process each submission reaches.

What is kept, where, and for how long: in the database (the store's ``form_once`` rows, shared by every
server), from ``KEEP_SECONDS`` to ``KEEP_SECONDS`` plus one publication window after the post was made:

- the row's key, a keyed hash of the nonce (HMAC under the server secret), so the database alone cannot
  even be searched for a nonce;
- the post's id and private token, encrypted (AES-GCM) under a key derived from the nonce, which only
  the visitor's form holds. A seized database therefore gives no token and does not say which post a row
  belongs to; the token has to be kept at all so a repeat can show the same private link;
- when: only the start of the publication window (mapaid/rounds.py, ``Schedule.bucket``) the row was
  written in, never the second. A row in the database beside its transaction id would otherwise date
  the post it made, however the post itself was published.

While the first submission is still being made, its row is pending; a repeat waits for it (up to
``WAIT_SECONDS``, polling the database, and woken at once when the first runs in the same process), and
after waiting that long takes the form over: the first belonged to a server that died or gave up. (The
row keeps no second that would tell earlier that it is stale.) Once the row's window has been over for
``KEEP_SECONDS`` it is deleted and a repeat makes a new post (its CSRF token may refuse it first). A server
process remembers nothing between requests.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mapaid.store import Store

KEEP_SECONDS = 600
WAIT_SECONDS = 10.0  # how long a repeat waits for the first submission, still in progress, to finish
POLL_SECONDS = (0.02, 0.25)  # first and longest pause between looks at the database while waiting
IV_BYTES = 12


@dataclass(frozen=True)
class Made:
    post_id: str
    token: str


def seal(nonce: str, key: str, made: Made) -> bytes:
    """``made`` encrypted under a key only ``nonce`` gives, bound to the row ``key``."""
    iv = os.urandom(IV_BYTES)
    plain = f"{made.post_id}\0{made.token}".encode()
    return iv + AESGCM(_seal_key(nonce)).encrypt(iv, plain, key.encode())


def unseal(nonce: str, key: str, sealed: bytes) -> Made:
    """What ``seal`` locked; ``cryptography.exceptions.InvalidTag`` if the row was changed."""
    plain = AESGCM(_seal_key(nonce)).decrypt(sealed[:IV_BYTES], sealed[IV_BYTES:], key.encode())
    post_id, token = plain.decode().split("\0", 1)
    return Made(post_id, token)


def _seal_key(nonce: str) -> bytes:
    return hmac.new(nonce.encode(), b"mapaid-formonce-seal", hashlib.sha256).digest()


def expired_before(now: float, bucket_seconds: int) -> int:
    """Rows of windows that began before this are deleted: their window has been over ``KEEP_SECONDS``."""
    return int(now) - KEEP_SECONDS - bucket_seconds


class FormOnce:
    """Nonce -> the post it made, briefly, in the database. Thread-safe and shared by processes: every
    state is in the store; the condition only wakes this process's waiters early. ``bucket_seconds``:
    the publication window (``Schedule.bucket_seconds``), the unit its rows' times are kept in."""

    def __init__(self, secret: bytes, now: Callable[[], float], bucket_seconds: int = 60) -> None:
        self._now = now
        self._bucket_s = bucket_seconds
        self._key = hmac.new(secret, b"mapaid-formonce-key", hashlib.sha256).digest()
        self._changed = threading.Condition()

    @staticmethod
    def new_nonce() -> str:
        return secrets.token_urlsafe(18)

    def key(self, nonce: str) -> str:
        """The row's key: a keyed hash of the nonce (the nonce itself is never stored)."""
        return hmac.new(self._key, nonce.encode(), hashlib.sha256).hexdigest()

    def claim(self, store: Store, nonce: str) -> Made | None:
        """The post this form made already, or None: then the caller makes it and calls ``made`` (or
        ``release`` if it failed). A repeat arriving while the first is still being made waits for it."""
        key = self.key(nonce)
        deadline = time.monotonic() + WAIT_SECONDS
        pause = POLL_SECONDS[0]
        while True:
            now = self._now()
            at = self._bucket(now)
            forced = time.monotonic() >= deadline  # waited long enough: take the form over
            stale_before = at + 1 if forced else 0  # a pending row is stale only once we waited for it
            claimed, sealed = store.claim_form(key, at, stale_before, expired_before(now, self._bucket_s))
            if claimed:
                return None
            if sealed is not None:
                return unseal(nonce, key, sealed)
            with self._changed:
                self._changed.wait(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, POLL_SECONDS[1])

    def made(self, store: Store, nonce: str, result: Made) -> None:
        key = self.key(nonce)
        store.finish_form(key, seal(nonce, key, result), self._bucket(self._now()))
        with self._changed:
            self._changed.notify_all()

    def release(self, store: Store, nonce: str) -> None:
        store.release_form(self.key(nonce))
        with self._changed:
            self._changed.notify_all()

    def purge(self, store: Store) -> int:
        """Delete rows whose window has been over ``KEEP_SECONDS`` (housekeeping; claiming does it too)."""
        return store.purge_forms(expired_before(self._now(), self._bucket_s))

    def _bucket(self, now: float) -> int:
        return int(now // self._bucket_s * self._bucket_s)
