"""One form, one post: the posting form carries a random nonce, and a second submission of the same form
(a double tap, a reload of the POST, Back and Send again) gets the first one's result instead of a
second post.

What is kept, and for how long: in this process's memory only (never the disk), a keyed hash of each
nonce that made a post, with that post's id and private token, for ``KEEP_SECONDS`` after it was made.
The token has to be kept so the repeat can show the same private link; after ten minutes it is
forgotten and a repeat is refused as a stale form. A restart forgets everything, which is the safe side.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass

KEEP_SECONDS = 600
MAX_KEPT = 10_000  # a flood of posts cannot grow this without bound (posting is rate-limited too)
WAIT_SECONDS = 10.0  # how long a repeat waits for the first submission, still in progress, to finish


@dataclass(frozen=True)
class Made:
    post_id: str
    token: str


class FormOnce:
    """Nonce -> the post it made, briefly. Thread-safe: the server answers from several threads, and
    the two submissions of a double tap arrive together."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now
        self._key = secrets.token_bytes(32)
        self._done: dict[str, tuple[float, Made]] = {}
        self._pending: set[str] = set()
        self._changed = threading.Condition()

    @staticmethod
    def new_nonce() -> str:
        return secrets.token_urlsafe(18)

    def _hash(self, nonce: str) -> str:
        return hmac.new(self._key, nonce.encode(), hashlib.sha256).hexdigest()

    def _expire(self) -> None:
        cutoff = self._now() - KEEP_SECONDS
        for key in [k for k, (at, _) in self._done.items() if at < cutoff]:
            del self._done[key]
        while len(self._done) > MAX_KEPT:
            del self._done[next(iter(self._done))]

    def claim(self, nonce: str) -> Made | None:
        """The post this form made already, or None: then the caller makes it and calls ``made`` (or
        ``release`` if it failed). A repeat arriving while the first is still being made waits for it."""
        key = self._hash(nonce)
        with self._changed:
            self._expire()
            self._changed.wait_for(lambda: key not in self._pending, timeout=WAIT_SECONDS)
            if key in self._done:
                return self._done[key][1]
            self._pending.add(key)
            return None

    def made(self, nonce: str, result: Made) -> None:
        key = self._hash(nonce)
        with self._changed:
            self._pending.discard(key)
            self._done[key] = (self._now(), result)
            self._changed.notify_all()

    def release(self, nonce: str) -> None:
        with self._changed:
            self._pending.discard(self._hash(nonce))
            self._changed.notify_all()

    def __len__(self) -> int:
        with self._changed:
            return len(self._done)
