"""gzip for text answers (JSON, GeoJSON, CSV, HTML) when the client accepts it, with a rule against BREACH.

BREACH recovers a secret from a compressed page by making the victim's browser ask for it many times with
a guess reflected into it (a query string, a form value) and watching the size: a right guess compresses
better. It needs a secret that stays the same across those requests, beside input the attacker chooses.
So we compress only answers that cannot hold such a secret:

- public reads (mapaid.public): the same for everyone, no CSRF token, no private link, no session;
- other HTML pages only to a GET that carries no cookie but the language one. Every lasting secret a page
  shows comes from the session (a CSRF token, the private link shown after posting, a coordinator's
  pages); without the cookie a page can hold only a secret made for that one response (a fresh CSRF token
  or CSP nonce), which a second request does not repeat. A private link's own page (``/manage/ID/TOKEN``)
  shows the token from its address, which an attacker would need to know to send the victim there.

Everything else (coordinators' pages and API, forms answered to a POST, JSON carrying a new post's token)
goes uncompressed. Already compressed files (GeoPackage, images) are never compressed again, small answers
(under ``MIN_SIZE``) are not worth it, and a request with ``Range`` gets the plain file (ranges count bytes
of the uncompressed file). The output is deterministic (``mtime=0``), so its ETag stays strong.
"""

from __future__ import annotations

import gzip as gzip_module

from flask import request
from flask.wrappers import Response

from mapaid import i18n
from mapaid.storedfile import StoredFile

MIN_SIZE = 1024
LEVEL = 5  # zlib's level 5: most of level 9's saving at a third of its time on exports of 100,000 posts
TEXT_TYPES = ("application/json", "application/geo+json", "text/csv", "text/html")


def textual(mimetype: str) -> bool:
    """A text format, worth compressing."""
    return mimetype in TEXT_TYPES or mimetype.endswith("+json") or mimetype.startswith("text/")


def _secret_free(public: bool, response: Response) -> bool:
    """Whether the answer can hold no secret that lasts across requests (the module docstring's rule)."""
    if public:
        return True
    return (
        response.mimetype == "text/html"
        and request.method in ("GET", "HEAD")
        and set(request.cookies) <= {i18n.COOKIE}
    )


def _add_vary(response: Response, *names: str) -> None:
    for name in names:
        response.vary.add(name)


def wanted() -> bool:
    """Whether this request takes a gzipped answer: it accepts gzip and asks for no range."""
    return request.accept_encodings["gzip"] > 0 and "Range" not in request.headers


def chosen(response: Response, public: bool) -> bool:
    """Whether to send this answer gzipped. Says ``Vary`` for every answer the choice could differ on.
    An answer from an export file (mapaid.storedfile) is sent gzipped when a gzip of it was stored."""
    if response.is_streamed or response.direct_passthrough or not textual(response.mimetype or ""):
        return False
    if "Content-Encoding" in response.headers or not _secret_free(public, response):
        return False
    _add_vary(response, "Accept-Encoding")
    if not public:
        _add_vary(response, "Cookie")
    if isinstance(response, StoredFile):
        return response.status_code == 200 and wanted() and response.packed is not None
    return response.status_code == 200 and wanted() and len(response.get_data()) >= MIN_SIZE


def pack(body: bytes) -> bytes:
    """``body`` gzipped, the same bytes every time (no time or name in the gzip header)."""
    return gzip_module.compress(body, compresslevel=LEVEL, mtime=0)


def gzip(response: Response) -> None:
    """Compress the body in place."""
    response.set_data(pack(response.get_data()))
    response.headers["Content-Encoding"] = "gzip"
