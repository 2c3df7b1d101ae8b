"""mapaid: neighbourhood mutual aid on a map, private by construction."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from mapaid import (
    cache,
    clock,
    db,
    exportfiles,
    httpcache,
    i18n,
    limits,
    logs,
    postedlink,
    readlimit,
    wellformed,
)
from mapaid.buildslots import BuildSlots
from mapaid.config import environ_overrides, resolve
from mapaid.exportfiles import ExportFiles
from mapaid.formonce import FormOnce
from mapaid.loginguard import LoginGuard
from mapaid.rounds import Schedule


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. ``config`` (Flask-style keys: DATABASE, SECRET_KEY, CELL_RES ...) overrides the
    environment; tests pass their own database file here, and CLOCK (a ``mapaid.clock.Clock``) to fix
    the time."""
    app = logs.App(__name__, instance_path=None)
    # The one place app.config is written; views read settings through mapaid.db.settings().
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
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        # Every page says Referrer-Policy: no-referrer (mapaid/web.py), so a browser sends no Referer, and
        # Flask-WTF's HTTPS-only check that the Referer names this host would refuse every form behind a
        # TLS proxy. The CSRF token, tied to the session, and SameSite=Lax cookies are the protection.
        WTF_CSRF_SSL_STRICT=False,
        BABEL_DEFAULT_LOCALE=i18n.DEFAULT_LANGUAGE,
    )
    app.extensions["mapaid.settings"] = settings
    app.extensions["mapaid.schedule"] = Schedule.from_settings(settings)
    app.extensions["mapaid.clock"] = clock.check(merged.get("CLOCK"))
    app.extensions["mapaid.loginguard"] = LoginGuard()
    slots = app.extensions["mapaid.buildslots"] = BuildSlots(settings.export_builds)
    app.extensions["mapaid.exportfiles"] = ExportFiles(
        settings.instance_dir / exportfiles.FOLDER, slots, lambda body: httpcache.etag(body, gzip=False)
    )
    app.extensions["mapaid.formonce"] = FormOnce(
        settings.secret_key.encode(),
        lambda: app.extensions["mapaid.clock"].now().timestamp(),
        app.extensions["mapaid.schedule"].bucket_seconds(),
    )
    db.init_app(app)
    logs.init_app(app)
    postedlink.init_app(app)
    wellformed.init_app(app)
    cache.init_app(app)
    from mapaid import web

    web.init_app(app)

    from mapaid.views import register

    register(app)
    from mapaid import public

    public.check_marks(app)
    # Inside ProxyFix (limits.init_app puts it around whatever app.wsgi_app is), so it sees the client.
    reads = app.extensions["mapaid.readlimit"] = readlimit.wrap(
        app.wsgi_app, settings.read_limit, settings.tiles
    )
    app.wsgi_app = reads  # type: ignore[method-assign]
    limits.init_app(app, settings)
    return app
