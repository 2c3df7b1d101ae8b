"""How many threads of one server process may be busy building exports and OGC API pages at once.

A build reads every matching post and renders it (seconds at 100,000 posts), a waiting request holds one of
waitress's threads (8 by default) for as long. Unbounded, ten clients asking at once took every thread and
both cores, and ``/near`` waited behind them (issue 17, item 4). So each kind of build has its own small
number of slots per process (``MAPAID_EXPORT_BUILDS``, 2 by default); a request that finds them taken is
answered at once with 503 and ``Retry-After`` (mapaid.web answers it as JSON under /api/, in the OGC
exception shape under /ogcapi, as a page elsewhere, in the visitor's language), never queued.

The kinds, separate so that one cannot starve the other:

- ``files``: building a file of the export cache (mapaid.exportfiles), and waiting for one another request
  is building (the same number again may wait; a waiting thread costs no CPU, but it is a thread);
- ``queries``: filtered exports (``/export/posts.geojson?kind=need``) and OGC API item pages, built for
  each request.

What stays unbounded is what costs a file read: every answer from a file already built (200, HEAD, 304,
ranges), the OGC API's small documents, the pages. With the default, at most 6 of 8 threads build or wait,
and two are always left for everything else.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from flask import current_app
from flask_babel import gettext
from werkzeug.exceptions import ServiceUnavailable

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

DEFAULT_SLOTS = 2
FILE_RETRY_S = 5  # a file of 100,000 posts takes about 4 s to build
QUERY_RETRY_S = 2  # a filtered export or a page of items takes well under a second


class Busy(ServiceUnavailable):
    """503: every slot of this kind is taken; try again in ``retry_after`` seconds. Never cached."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            description=gettext(
                "The server is busy preparing other downloads; please try again in %(seconds)s s.",
                seconds=retry_after,
            ),
            retry_after=retry_after,
        )

    def get_headers(
        self, environ: WSGIEnvironment | None = None, scope: dict[str, Any] | None = None
    ) -> list[tuple[str, str]]:
        return [*super().get_headers(environ, scope), ("Cache-Control", "no-store")]


class Slots:
    """At most ``size`` holders at once; ``held`` raises ``Busy`` instead of waiting for one."""

    def __init__(self, size: int, retry_after: int) -> None:
        self.size = size
        self.retry_after = retry_after
        self._lock = threading.Lock()
        self.in_use = 0

    def take(self) -> None:
        """Take a slot now or raise ``Busy``; ``give_back`` returns it."""
        with self._lock:
            if self.in_use >= self.size:
                raise Busy(self.retry_after)
            self.in_use += 1

    def give_back(self) -> None:
        with self._lock:
            self.in_use -= 1

    @contextmanager
    def held(self) -> Iterator[None]:
        self.take()
        try:
            yield
        finally:
            self.give_back()


class BuildSlots:
    """The slots of one app (``create_app`` makes them, sized by ``MAPAID_EXPORT_BUILDS``)."""

    def __init__(self, size: int = DEFAULT_SLOTS) -> None:
        self.files = Slots(size, FILE_RETRY_S)
        self.waiting = Slots(size, FILE_RETRY_S)
        self.queries = Slots(size, QUERY_RETRY_S)


def slots() -> BuildSlots:
    """This app's slots."""
    value: BuildSlots = current_app.extensions["mapaid.buildslots"]
    return value
