"""A per-client limit on reads of the exports and the OGC API, checked before Flask sees the request.

Why a limit on reads, where no other read is limited: a file of the export cache (mapaid.exportfiles) costs
about 2 ms of Python to answer, and ten connections asking for one byte of ``/export/posts.gpkg`` as fast
as they go keep the process's one interpreter lock busy with them: with the cache alone ``/near`` took 4.7
times its quiet time at 20,000 posts (1.8 at 100,000: ``make bench``, bench_exports_attack). Refused here,
before Flask, a request costs a few tens of microseconds and ``/near`` keeps its quiet time. Flask-Limiter's
check (mapaid.limits) runs inside Flask, whose least answer (a 404) costs more than half of a served range,
so it would not do.

``MAPAID_READ_LIMIT`` (``300 per 10 seconds;1200 per minute`` unless set) counts every request under
``/export/`` and ``/ogcapi`` per client (a keyed hash of its address, as mapaid.limits; the key lives in
this process's memory only), in moving windows; a refused request counts in none. Clients come in bursts:
GDAL reading a whole GeoPackage through ``/vsicurl/`` asks about 25 ranges in a row, and GDAL or OWSLib
following an OGC API's ``next`` links asked 70 pages in one second in tests/test_ogcapi_clients.py; the
attacker is held to 20 answers a second on average, which cost ``/near`` nothing. Beyond, 429 with
``Retry-After``: under /ogcapi the OGC exception shape (English, as every JSON message), elsewhere plain
text in the three languages at once, as the proxy's own 429 (docs/nginx/mapaid.conf). ``/near`` and the API
reads about a place are not limited: they answer at the same speed whoever asks, and a limit there
would be one more thing that remembers who looked.

Under ``mapaid serve`` with no proxy in front, a refused client's connections are not read for a second
afterwards (``holds``, mapaid/holds.py), so a client asking again at once costs nothing more.

Per process, as the other limits: behind a proxy, set ``MAPAID_TRUSTED_PROXIES`` (or every client is one,
the proxy), and let the proxy count for the whole site (the ``mapaid_reads`` zone).
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

import orjson
from babel.support import Translations
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from mapaid import cors, csp, i18n
from mapaid.config import PACKAGE_DIR
from mapaid.holds import Holds
from mapaid.limits import client_hash, limit_setting
from mapaid.public import PUBLIC_PREFIXES, under

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

READ_LIMIT = "300 per 10 seconds;1200 per minute"
MESSAGE = "Too many requests in a short time; please try again in %(seconds)s s."


def _messages() -> list[str]:
    """The 429's words in every language, Belarusian first (as the proxy's page)."""
    folder = str(PACKAGE_DIR / "translations")
    return [Translations.load(folder, [lang]).gettext(MESSAGE) for lang in i18n.LANGUAGES]


class ReadLimit:
    """WSGI middleware: refuses a client's reads under the public prefixes beyond ``limits``."""

    def __init__(self, app: WSGIApplication, limits: Iterable[RateLimitItem], tiles: str | None) -> None:
        self.app = app
        self.limits = list(limits)
        self._key = secrets.token_bytes(32)  # memory only: keys the hashes of addresses
        self.storage = MemoryStorage()  # keyed hashes only (tests/test_limits.py looks)
        self._window = MovingWindowRateLimiter(self.storage)
        self._messages = _messages()
        self._policy = csp.policy(tiles, None)
        self.holds: Holds | None = None  # set by `mapaid serve` when it sees the clients themselves

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if under(environ.get("PATH_INFO", ""), PUBLIC_PREFIXES):
            client = client_hash(self._key, environ.get("REMOTE_ADDR") or "")
            refused = [item for item in self.limits if not self._window.test(item, "reads", client)]
            if refused:  # a refused read counts in no window: the client is back once the limit allows
                if self.holds is not None:
                    self.holds.hold(environ.get("REMOTE_ADDR") or "")
                return self._refuse(environ, start_response, self._wait(refused, client))
            for item in self.limits:
                self._window.hit(item, "reads", client)
        return self.app(environ, start_response)

    def _wait(self, refused: list[RateLimitItem], client: str) -> int:
        """Seconds until every limit the client is over lets a read through (at least 1)."""
        now = time.time()
        resets = [self._window.get_window_stats(item, "reads", client).reset_time for item in refused]
        return max(1, math.ceil(max(resets) - now))

    def _refuse(self, environ: WSGIEnvironment, start_response: StartResponse, seconds: int) -> list[bytes]:
        words = [m % {"seconds": seconds} for m in self._messages]
        if under(environ.get("PATH_INFO", ""), ("/ogcapi",)):
            body = orjson.dumps({"code": "TooManyRequests", "description": words[-1]})
            kind = "application/json"
        else:
            body = ("\n".join(words) + "\n").encode()
            kind = "text/plain; charset=utf-8"
        start_response(
            "429 Too Many Requests",
            [
                ("Content-Type", kind),
                ("Content-Length", str(len(body))),
                ("Retry-After", str(seconds)),
                ("Cache-Control", "no-store"),
                ("Access-Control-Allow-Origin", "*"),
                ("Access-Control-Expose-Headers", cors.EXPOSE_HEADERS),
                ("Content-Security-Policy", self._policy),
                ("X-Content-Type-Options", "nosniff"),
                ("Referrer-Policy", "no-referrer"),
            ],
        )
        return [] if environ.get("REQUEST_METHOD") == "HEAD" else [body]


def wrap(app: WSGIApplication, setting: str, tiles: str | None) -> ReadLimit:
    """``app`` behind the read limit ``setting`` (the shipped one when empty); refuses a bad setting."""
    text = limit_setting("MAPAID_READ_LIMIT", setting or READ_LIMIT)
    return ReadLimit(app, parse_many(text), tiles)
