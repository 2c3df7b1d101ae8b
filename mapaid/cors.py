"""CORS for public reads, so a map on another site (a uMap remote-data layer, a page's ``fetch()``) reads
our exports, OGC API and API reads straight from the browser, without a proxy.

``Access-Control-Allow-Origin: *`` and never ``Allow-Credentials``: the browser then sends no cookie and
reads nothing that depends on one, so another site learns only what anyone could download. Only public
reads get it (mapaid.public decides); coordinator pages and API, private links, forms and every write get
no CORS header at all, so the browser keeps their answers from other sites' scripts, and a preflight for
anything but GET or HEAD is answered without permission, so no other site can write through a visitor's
browser. A preflight (OPTIONS with ``Access-Control-Request-Method``) of a public read is allowed the
headers a GIS client sends: ``Range`` and the validators among them.
"""

from __future__ import annotations

from flask import request
from flask.wrappers import Response

ALLOW_METHODS = "GET, HEAD, OPTIONS"
ALLOW_HEADERS = "Accept, Accept-Language, Content-Language, If-Modified-Since, If-None-Match, If-Range, Range"
EXPOSE_HEADERS = (
    "Content-Disposition, Content-Language, Content-Range, Accept-Ranges, ETag, Last-Modified, Link, "
    "Retry-After"
)
MAX_AGE = "7200"  # Chromium's ceiling for caching a preflight


def allow(response: Response) -> None:
    """Open a public read to every origin; for a preflight, only for reading."""
    if request.method == "OPTIONS":
        asked = request.headers.get("Access-Control-Request-Method", "").upper()
        if asked not in ("GET", "HEAD"):
            return  # a preflight for a write, or no preflight at all: the browser gets no permission
        response.headers["Access-Control-Allow-Methods"] = ALLOW_METHODS
        response.headers["Access-Control-Allow-Headers"] = ALLOW_HEADERS
        response.headers["Access-Control-Max-Age"] = MAX_AGE
    else:
        response.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
    response.headers["Access-Control-Allow-Origin"] = "*"
