"""Which answers are public reads, and the one place where every response is finished for HTTP clients.

A public read is a GET (or HEAD, or the OPTIONS preflight before one) of data that is the same for every
visitor who asks with the same address and language, carries no secret and changes nothing: the exports,
the OGC API, the JSON API's reads, the place list, the street layer and the home map's counts. Public reads
get CORS (mapaid.cors), validators and 304s (mapaid.httpcache) and gzip (mapaid.compress); downloads under
``/export/`` also get ``Content-Disposition`` and ``Range`` (mapaid.downloads).

A route becomes a public read in one of two ways, never by copying code:

- its view is decorated with ``@public_read`` (below ``@bp.get(...)``);
- its path lies under one of ``PUBLIC_PREFIXES`` (``/export/``, ``/ogcapi``), so every route another part of
  the app adds there is public at once.

Paths under ``PRIVATE_PREFIXES`` (coordinators, private links, forms) are never public reads, whatever marks
them, and ``check_marks`` (create_app runs it) refuses to start if a marked route also takes a write
method or lies there.

``finish`` runs after every request, after web.py has given an HTML page its CSP nonce (the body must be
final before it is hashed or compressed), in this order: language headers, CORS, download headers,
validators and ranges (which may turn the answer into a 304, 206 or 416), then gzip of what is left. An
answer from an export file (mapaid.storedfile) takes the same steps, with validators, ranges and gzip
from what was stored with the file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from flask import Flask, current_app, request
from flask.wrappers import Response
from werkzeug.exceptions import HTTPException

from mapaid import compress, cors, downloads, httpcache, i18n
from mapaid.storedfile import StoredFile

PUBLIC_PREFIXES = ("/export", "/ogcapi")
PRIVATE_PREFIXES = (
    "/coordinator",
    "/api/v1/coordinator",
    "/manage",
    "/post",
    "/posted",
    "/report",
    "/reported",
)
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MARK = "mapaid_public_read"

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Public:
    """How a public read is answered. ``validators=False`` leaves out ETag, Last-Modified and 304s: for
    answers about a place (``GET /api/v1/posts?cell=``), whose headers must be the same whichever place was
    asked (tests/test_side_channels.py), and which are computed afresh anyway."""

    validators: bool = True


@overload
def public_read(view: F) -> F: ...
@overload
def public_read(*, validators: bool = True) -> Callable[[F], F]: ...


def public_read(view: F | None = None, *, validators: bool = True) -> F | Callable[[F], F]:
    """Mark a view as a public read (see the module docstring). Put it below the route decorator."""

    def mark(func: F) -> F:
        setattr(func, MARK, Public(validators))
        return func

    return mark(view) if view is not None else mark


def under(path: str, prefixes: tuple[str, ...]) -> bool:
    """Whether ``path`` is one of ``prefixes`` or lies below one (``/post`` is not under ``/posts``)."""
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in prefixes)


def _read_endpoint() -> str | None:
    """The endpoint a GET of this path reaches (for a preflight, which Flask may route to a POST rule
    sharing the path, as ``/api/v1/posts``)."""
    if request.method != "OPTIONS":
        return request.endpoint
    adapter = current_app.create_url_adapter(request)
    if adapter is None:  # pragma: no cover - always made for a request
        return None
    try:
        endpoint, _ = adapter.match(request.path, method="GET")
    except HTTPException:
        return None
    return str(endpoint)


def marker() -> Public | None:
    """This request's public-read marker, or None when it is anything else."""
    if request.method not in READ_METHODS or under(request.path, PRIVATE_PREFIXES):
        return None
    endpoint = _read_endpoint()
    view = current_app.view_functions.get(endpoint) if endpoint else None
    found = getattr(view, MARK, None)
    if found is None and under(request.path, PUBLIC_PREFIXES):
        found = Public()
    return found if isinstance(found, Public) else None


def finish(response: Response) -> Response:
    """Give the response what HTTP clients expect of it (the order is the module docstring's)."""
    i18n.declare_language(response)
    public = marker()
    if public is not None:
        cors.allow(response)
    download = downloads.is_download(response)
    if download:
        downloads.disposition(response)
    gzip = compress.chosen(response, public is not None)
    if isinstance(response, StoredFile):  # an export file: validators and ranges from what was stored
        return httpcache.send_stored(response, gzip=gzip, ranges=download)
    if public is not None and public.validators and response.status_code == 200:
        response = httpcache.validate(response, gzip=gzip, ranges=download)
    if gzip and response.status_code == 200:
        compress.gzip(response)
    return response


def check_marks(app: Flask) -> None:
    """Refuse a marked view that writes or lies under a private prefix: CORS there would be a hole."""
    for rule in app.url_map.iter_rules():
        view = app.view_functions.get(rule.endpoint)
        if getattr(view, MARK, None) is None and not under(rule.rule, PUBLIC_PREFIXES):
            continue
        writes = set(rule.methods or ()) - READ_METHODS
        if writes or under(rule.rule, PRIVATE_PREFIXES):
            raise RuntimeError(f"{rule.rule} ({rule.endpoint}) cannot be a public read: {sorted(writes)}")


def init_app(app: Flask) -> None:
    """Register ``finish``. Flask runs after-request functions last-registered first, so web.py calls this
    before it registers its CSP hook: the nonce is filled in first, then the page is hashed and compressed.
    ``check_marks`` runs once the blueprints are in (create_app)."""
    app.after_request(finish)
