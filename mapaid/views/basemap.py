"""Public map data the same for everyone: the street and metro layer per language, and the home map's
counts of open offers and needs per area. Both are cached under the one policy (mapaid.cache): the layer
per file and language, the counts per store revision, day and level; neither depends on who asks."""

from __future__ import annotations

from pathlib import Path

import orjson
from flask import Blueprint, abort, make_response, request
from flask.wrappers import Response

from mapaid import basemap
from mapaid.cache import SharedCache
from mapaid.counts import counts, parse_level
from mapaid.db import get_store, settings, today
from mapaid.i18n import LANGUAGES
from mapaid.public import public_read

bp = Blueprint("basemap", __name__)
_LAYERS: SharedCache[bytes] = SharedCache("street layer", 8)


def basemap_file() -> Path | None:
    """The configured layer file, or None when switched off (``MAPAID_BASEMAP=none``) or missing."""
    path = settings().basemap
    return path if path is not None and path.is_file() else None


def basemap_url(lang: str) -> str | None:
    """Where a page finds the layer (absolute, like folium's asset links), or None without one. The
    building outlines are beside it (``/basemap/buildings.json``): basemap.js fetches them only when the
    map is first zoomed in far enough to draw them, so a page that stays zoomed out never pays for them."""
    return f"/basemap/{lang}.json" if basemap_file() is not None else None


def _json(payload: bytes, cache_control: str) -> Response:
    response = make_response(payload)
    response.mimetype = "application/json"
    response.headers["Cache-Control"] = cache_control
    return response


@bp.get("/basemap/<lang>.json")
@public_read
def layer(lang: str) -> Response:
    """Streets and metro in ``lang``; the same for everyone, cacheable for a day."""
    path = basemap_file()
    if path is None or lang not in LANGUAGES:
        abort(404)
    body = _LAYERS.get_or_make(
        lambda: orjson.dumps(basemap.for_language(basemap.load(path), lang)), basemap=str(path), lang=lang
    )
    return _json(body, "public, max-age=86400")


@bp.get("/basemap/buildings.json")
@public_read
def buildings() -> Response:
    """Building outlines of the centre, the same in every language; cacheable for a day."""
    path = basemap_file()
    if path is None:
        abort(404)
    body = _LAYERS.get_or_make(
        lambda: orjson.dumps(basemap.buildings(basemap.load(path))), basemap=str(path), lang="buildings"
    )
    return _json(body, "public, max-age=86400")


@bp.get("/counts.json")
@public_read
def area_counts() -> Response:
    """Open offers and needs per area at ``?res=district|7|8|<site>``: counts and the area's public centre,
    never a post's position. Browsers check back each time (the answer changes with every post)."""
    try:
        level = parse_level(request.args.get("res"), settings().cell_res)
    except ValueError as error:
        abort(400, description=str(error))
    # ETag and 304s when the browser's copy is current (same revision and day): mapaid.httpcache
    return _json(counts(get_store(), today(), level, str(settings().database)), "public, no-cache")
