"""Flask glue for the store: one connection per request in ``g``, closed on teardown (as flaskr's db.py)."""

from __future__ import annotations

import time

from flask import Flask, current_app, g

from mapaid.config import Settings
from mapaid.intake import Rules, utc_today
from mapaid.store import SQLiteStore, open_store


def settings() -> Settings:
    value: Settings = current_app.extensions["mapaid.settings"]
    return value


def get_store() -> SQLiteStore:
    if "store" not in g:
        g.store = open_store(settings().database)
    store: SQLiteStore = g.store
    return store


today = utc_today


def now() -> float:
    """Seconds since the epoch, for logins and their limits: the one place the views read the time,
    so an injectable clock can replace it."""
    return time.time()


def rules() -> Rules:
    return Rules.from_settings(settings())


def close_store(_exc: BaseException | None = None) -> None:
    store = g.pop("store", None)
    if store is not None:
        store.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(close_store)
