"""mapaid: neighbourhood mutual aid on a map, private by construction."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from flask import Flask, g, request
from flask.wrappers import Response

from mapaid import cache, db
from mapaid.config import environ_overrides, resolve

access_log = logging.getLogger("mapaid.access")


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. ``config`` (Flask-style keys: DATABASE, SECRET_KEY, CELL_RES ...) overrides the
    environment; tests pass their own database file here."""
    app = Flask(__name__, instance_path=None)
    merged: dict[str, Any] = environ_overrides()
    merged.update(config or {})
    settings = resolve(merged)
    app.config.update(merged)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        DATABASE=str(settings.database),
        MAX_CONTENT_LENGTH=64 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=bool(merged.get("SECURE_COOKIES")),
    )
    app.extensions["mapaid.settings"] = settings
    db.init_app(app)
    cache.init_app(app)
    _access_log(app)
    from mapaid import web

    web.init_app(app)

    from mapaid.views import register

    register(app)
    return app


def _access_log(app: Flask) -> None:
    """One line per request with the route *pattern*, status and time: never the concrete path or query
    (they can hold a cell, i.e. where someone lives), never a token or the client's address."""

    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _log(response: Response) -> Response:
        rule = request.url_rule.rule if request.url_rule else "<unmatched>"
        elapsed = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
        access_log.info("%s %s %s %.1fms", request.method, rule, response.status_code, elapsed)
        return response
