"""Liveness for the WSGI server and monitoring."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.wrappers import Response

from mapaid.db import get_store

bp = Blueprint("health", __name__)


@bp.get("/health")
def health() -> Response:
    store = get_store()
    return jsonify(status="ok", schema=1, districts=len(store.area().slugs))
