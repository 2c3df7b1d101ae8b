"""Blueprints. Each only wires intake, privacy, store, spatial and maps/export together."""

from __future__ import annotations

from flask import Flask

from mapaid.views import (
    api,
    basemap,
    coordinator,
    exports,
    health,
    moderation,
    ogcapi,
    places,
    posting,
    replies,
    replypages,
    reports,
    resident,
    safety,
)


def register(app: Flask) -> None:
    app.register_blueprint(health.bp)
    app.register_blueprint(resident.bp)
    app.register_blueprint(safety.bp)
    app.register_blueprint(posting.bp)
    app.register_blueprint(places.bp)
    app.register_blueprint(basemap.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(coordinator.bp)
    app.register_blueprint(moderation.bp)
    app.register_blueprint(exports.bp)
    app.register_blueprint(reports.bp)
    app.register_blueprint(replies.bp)
    app.register_blueprint(replypages.bp)
    app.register_blueprint(ogcapi.bp)
