"""For a moment after the read limit refuses a client, `mapaid serve` reads nothing more from it.

A refusal is cheap (mapaid.readlimit answers before Flask), but a client with ten keep-alive connections
asking again the moment each 429 arrives still kept the process's interpreter lock busy with its refusals:
``/near`` took 3-5 times its quiet time (tests/test_export_flood.py). Not reading such a client's next
request for ``HOLD_S`` costs nothing: the request waits in the kernel's buffer, no thread is held, and
waitress's loop polls only the other connections (``held_channel``). Each of its connections then sends at
most one request per ``HOLD_S``, and a client that waits for ``Retry-After``, as GDAL and OWSLib do, never
notices.

Only where waitress sees the clients themselves (``MAPAID_TRUSTED_PROXIES=0``): behind a proxy every
connection comes from the proxy, and holding them would hold everyone, so there the proxy's own limits do
this job (``limit_req`` and ``limit_conn`` in docs/nginx/mapaid.conf). What is held is a keyed hash of the
client's address (as mapaid.limits; the key lives in memory only), until a moment on the monotonic clock.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from mapaid.limits import client_hash

HOLD_S = 1.0  # how long a refused client's connections are not read
_PRUNE_AT = 4096  # entries before the finished holds are dropped


class Holds:
    """The clients refused a moment ago, by keyed hash; thread-safe enough: a dict set and read under the
    interpreter lock, a missed prune costs nothing."""

    def __init__(self, seconds: float = HOLD_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._key = secrets.token_bytes(32)
        self._until: dict[str, float] = {}

    def hold(self, address: str) -> None:
        now = self._clock()
        if len(self._until) >= _PRUNE_AT:
            self._until = {k: t for k, t in self._until.items() if t > now}
        self._until[client_hash(self._key, address)] = now + self.seconds

    def held(self, address: str) -> bool:
        until = self._until.get(client_hash(self._key, address))
        return until is not None and until > self._clock()

    def __len__(self) -> int:
        return len(self._until)
