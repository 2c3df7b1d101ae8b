"""Flask glue for the store: one connection per request in ``g``, closed on teardown (as flaskr's db.py),
and the app's clock (``create_app(config={"CLOCK": ...})``, the system's UTC clock by default)."""

from __future__ import annotations

from datetime import date

from flask import Flask, current_app, g

from mapaid.clock import Clock
from mapaid.config import Settings
from mapaid.intake import Rules
from mapaid.rounds import Schedule
from mapaid.store import Store, open_store


def settings() -> Settings:
    value: Settings = current_app.extensions["mapaid.settings"]
    return value


def schedule() -> Schedule:
    """The publication rounds (mapaid/rounds.py): ``schedule().at_once`` when they are off."""
    value: Schedule = current_app.extensions["mapaid.schedule"]
    return value


def get_store() -> Store:
    if "store" not in g:
        g.store = open_store(settings().database)
    store: Store = g.store
    return store


def clock() -> Clock:
    """The app's one clock: every view takes the time and the day from it."""
    value: Clock = current_app.extensions["mapaid.clock"]
    return value


def today() -> date:
    """Today's UTC date by the app's clock: the day posts are dated and expire by."""
    return clock().today()


def now() -> float:
    """Seconds since the epoch by the app's clock, for logins and their limits."""
    return clock().now().timestamp()


def rules() -> Rules:
    return Rules.from_settings(settings(), today())


def close_store(_exc: BaseException | None = None) -> None:
    store = g.pop("store", None)
    if store is not None:
        store.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(close_store)
