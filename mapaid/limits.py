"""Abuse limits on writes (Flask-Limiter, memory storage): posts per client and in total, conversations
started per client and post, other writes per client, answered with 429, a message in the visitor's
language and ``Retry-After``.

A client is a keyed hash of its address, never the address: HMAC-SHA256 with a random key made when the app
is built and kept in this process's memory only, so the limiter's storage, its log lines and anything else
that sees the key cannot be turned back into an address, and a restart makes old keys meaningless. IPv6
clients are keyed by their /56, which one home or phone holds whole (``mapaid.clients``, shared with the
login throttle). Behind a reverse proxy, set
``MAPAID_TRUSTED_PROXIES`` to the number of proxies in front of us: werkzeug's ProxyFix then takes the
client's address from that many ``X-Forwarded-For`` entries and ignores the rest (which anyone can forge).

The limits are per process (memory storage: no database write per request, no record of clients): with N
server processes each counts on its own, so a client whose requests are spread over them gets up to N times
each allowance, and the site-wide posting limit becomes N times as many too. docs/nginx/mapaid.conf counts
the per-minute limits once for the whole site in the proxy (``limit_req``); docs/caddy/Caddyfile pins each
client to one process instead (docs/deploy.md, "Several app servers").
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import secrets
import time
from collections.abc import Callable
from typing import Any, cast

from flask import Flask, current_app, request
from flask.wrappers import Response
from flask_babel import gettext
from flask_limiter import Limiter, RateLimitExceeded
from limits import parse_many
from werkzeug.middleware.proxy_fix import ProxyFix

from mapaid.clients import client_unit
from mapaid.config import ConfigError, Settings

POST_LIMIT = "5 per minute;30 per day"
POST_LIMIT_TOTAL = "600 per minute"
WRITE_LIMIT = "60 per minute"
REPLY_START_LIMIT = "3 per day"  # conversations one client starts with one post

# Where each limit applies (endpoint names). Posting shares one count between the form and the API, so a
# client cannot double its share by switching; other writes (a poster's private link, the API's delete and
# fulfil, coordinators' moderation, residents' reports of a post) share another, looser one.
# A new conversation with a post counts as posting (it is new content addressed to a stranger), and also
# against a limit of its own per client and post, so a few clients cannot fill one post's conversations
# and silence it; a message in one, and a report through one, count as other writes.
START_ENDPOINT = "replies.create_thread"
POST_ENDPOINTS = ("posting.post_submit", "api.create_post", START_ENDPOINT)
WRITE_ENDPOINTS = (
    "posting.manage_action",
    "replies.delete_thread",
    "api.delete_post",
    "api.fulfil_post",
    "api.extend_post",
    "api.edit_post",
    "moderation.act",
    "reports.report_submit",
    "api.report_post",
    "replies.post_message",
    "replies.report_thread",
)
WRITE_METHODS = ["POST", "PUT", "PATCH", "DELETE"]


def limit_setting(name: str, raw: object) -> str:
    text = str(raw).strip()
    try:
        parsed = parse_many(text)
    except ValueError:
        parsed = []
    if not parsed:
        raise ConfigError(f"{name} must be limits like '5 per minute;30 per day', not {raw!r}")
    return text


def client_hash(key: bytes, address: str) -> str:
    """A keyed hash of the client at ``address`` (``client_unit``), never the address itself."""
    return hmac.new(key, client_unit(address).encode(), hashlib.sha256).hexdigest()[:32]


def client_key_function(key: bytes) -> Callable[[], str]:
    """The limiter's key for this request's client: a keyed hash of its address (``client_unit``: the /56
    for IPv6)."""

    def client_key() -> str:
        return client_hash(key, request.remote_addr or "")

    return client_key


def _everyone() -> str:
    return "everyone"


def client_post_key_function(client_key: Callable[[], str]) -> Callable[[], str]:
    """The key of a client and the post its request is about: one hash of both, so the limiter's memory
    holds no post id beside a client's key."""

    def client_post_key() -> str:
        post_id = str((request.view_args or {}).get("post_id", ""))
        return hashlib.sha256(f"{client_key()}\x00{post_id}".encode()).hexdigest()[:32]

    return client_post_key


def init_app(app: Flask, settings: Settings) -> Limiter:
    """Wrap the app in ProxyFix (when proxies are trusted) and limit the write endpoints. Call after the
    blueprints are registered."""
    post = limit_setting("MAPAID_POST_LIMIT", settings.post_limit or POST_LIMIT)
    total = limit_setting("MAPAID_POST_LIMIT_TOTAL", settings.post_limit_total or POST_LIMIT_TOTAL)
    write = limit_setting("MAPAID_WRITE_LIMIT", settings.write_limit or WRITE_LIMIT)
    starts = limit_setting("MAPAID_REPLY_START_LIMIT", settings.reply_start_limit or REPLY_START_LIMIT)
    proxies = settings.trusted_proxies
    if proxies:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_port=proxies
        )
    # The key lives in this closure only: not in app.config (which debug pages and dumps show), not on disk.
    client_key = client_key_function(secrets.token_bytes(32))
    limiter = Limiter(
        client_key,
        storage_uri="memory://",
        strategy="moving-window",  # no burst of twice the limit across a window's edge
        headers_enabled=False,
        key_prefix="mapaid",
    )
    limiter.init_app(app)
    # Only the wrapped write views are limited, and each wrapper checks its own limits. The extension's
    # check before every request would find nothing to do on every page and cost ~0.1-0.2 ms each time.
    app.before_request_funcs[None].remove(limiter._check_request_limit)
    # Its "exceeded" line names the key (a hash, never an address) and the endpoint; we answer the 429
    # ourselves and need no line per refused request.
    logging.getLogger("flask-limiter").setLevel(logging.WARNING)
    per_client = limiter.shared_limit(post, scope="posts", methods=WRITE_METHODS)
    in_total = limiter.shared_limit(total, scope="posts-total", key_func=_everyone, methods=WRITE_METHODS)
    writes = limiter.shared_limit(write, scope="writes", methods=WRITE_METHODS)
    per_post = limiter.shared_limit(
        starts, scope="thread-starts", key_func=client_post_key_function(client_key), methods=WRITE_METHODS
    )
    for endpoint in POST_ENDPOINTS:
        view: Callable[..., Any] = app.view_functions[endpoint]
        app.view_functions[endpoint] = cast(Any, in_total(per_client(view)))
    # Outermost: a start refused for this post spends none of the client's or the site's posting allowance.
    app.view_functions[START_ENDPOINT] = cast(Any, per_post(app.view_functions[START_ENDPOINT]))
    for endpoint in WRITE_ENDPOINTS:
        view = app.view_functions[endpoint]
        app.view_functions[endpoint] = cast(Any, writes(view))
    app.extensions["mapaid.limiter"] = limiter
    app.extensions["mapaid.trusted_proxies"] = proxies
    app.register_error_handler(RateLimitExceeded, too_many)
    return limiter


def retry_after() -> int:
    """Seconds until the limit this request broke lets another through (at least 1)."""
    limiter: Limiter = current_app.extensions["mapaid.limiter"]
    current = limiter.current_limit
    if current is None:
        return 60
    return max(1, math.ceil(current.reset_at - time.time()))


def too_many(error: RateLimitExceeded) -> Response:
    """The 429 answer: the visitor's language, our error page or JSON, and ``Retry-After``."""
    from mapaid.web import _error_response as respond

    seconds = retry_after()
    error.description = gettext(
        "Too many requests in a short time; please try again in %(seconds)s s.", seconds=seconds
    )
    response: Response = current_app.make_response(respond(error))
    response.headers["Retry-After"] = str(seconds)
    response.headers["Cache-Control"] = "no-store"
    return response
