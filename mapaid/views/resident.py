"""Resident pages: the city map, help within walking distance of a hexagon, posting, the private link.

Only wiring: nearby (spatial + store), nearpage/maps (folium), posting (pipeline). Pages send the server
a cell id and nothing finer; a location the browser finds stays in the browser.
"""

from __future__ import annotations

from typing import Any

import h3.api.basic_int as h3
import numpy as np
import orjson
from flask import Blueprint, abort, make_response, render_template, request
from flask.wrappers import Response
from flask_babel import gettext

from mapaid import grid, queryargs
from mapaid.counts import levels
from mapaid.db import get_store, settings, today
from mapaid.export import public_frame, uncertainty_m
from mapaid.i18n import category_label, current_language, format_days, kind_label
from mapaid.intake import h3_cell
from mapaid.maps import KIND_COLOURS, MAX_ZOOM, base_parts, legend_html, script_json
from mapaid.models import Kind
from mapaid.nearby import Query, nearby
from mapaid.nearpage import Labels, MapOptions, near_map, near_view, page_count, page_items, posts_columns
from mapaid.spatial import WALK_M_PER_MIN, WITHIN_CHOICES, band_minutes, walk_bands
from mapaid.views.basemap import basemap_url
from mapaid.views.places import search_config
from mapaid.walkwords import walk_source_words, walk_summary

bp = Blueprint("resident", __name__)
MIN_CELL_ZOOM = 14


def _map_options() -> MapOptions:
    tiles = settings().tiles
    attribution = settings().tiles_attribution
    lang = current_language()
    return MapOptions(lang, tiles, attribution, basemap_url(lang))


def _html(body: bytes | str, status: int = 200, *, private: bool = False) -> Response:
    response = make_response(body, status)
    response.mimetype = "text/html"
    if private:
        response.headers["Cache-Control"] = "no-store"
    return response


def _cells_config(map_name: str, mode: str, selected: str | None = None) -> dict[str, Any]:
    area = get_store().area()
    return {
        "map": map_name,
        "mode": mode,
        "chunks": grid.chunk_index(area, settings().cell_res),
        "chunkUrl": f"{request.script_root}/cells/",
        "nearUrl": f"{request.script_root}/near/",
        "minZoom": MIN_CELL_ZOOM,
        "selected": selected,
        "labels": {
            "zoom": gettext("Zoom in (or click the map) until hexagons appear, then click yours."),
            "pick": gettext("Click the hexagon you live in."),
            "chosen": gettext("Chosen hexagon:"),
            "locating": gettext("Finding your hexagon in your browser…"),
            "outside": gettext("Your location is outside the area this site serves."),
            "noLocation": gettext("Your browser did not give a location; click your hexagon instead."),
            "keysZoom": gettext("Press Enter to zoom in to the hexagons."),
            "keys": gettext("Arrow keys highlight a hexagon; Enter chooses it."),
            "cursor": gettext("Hexagon highlighted: Enter chooses it, arrow keys move to the next one."),
        },
    }


@bp.get("/")
def index() -> Response:
    """The city map. Its map parts and chunk index are cached (the same for everyone, mapaid.cache); the
    page around them is rendered per request, since it carries the visitor's own links."""
    options = _map_options()
    parts = base_parts(
        get_store().area().districts,
        options.lang,
        tiles=options.tiles,
        tiles_attribution=options.tiles_attribution,
        basemap=options.basemap,
    )
    legend = legend_html(
        gettext("Open posts here"),
        [(KIND_COLOURS["offer"], gettext("open offers")), (KIND_COLOURS["need"], gettext("open needs"))],
    )
    return _html(
        render_template(
            "index.html",
            parts=parts,
            cells=_cells_config(parts.name, "go"),
            counts=_counts_config(parts.name),
            legend=legend,
            places=search_config(),
        )
    )


def _counts_config(map_name: str) -> dict[str, Any]:
    """What counts.js needs: which level of /counts.json to show up to which zoom (districts, then coarse
    cells, then the site's hexagons from the zoom where they can be picked)."""
    found = levels(settings().cell_res)
    coarse = found[1:-1]
    first = MIN_CELL_ZOOM - 1 - len(coarse)  # districts up to here, then one zoom per coarse level
    bands = [[first, found[0]], *[[first + 1 + i, r] for i, r in enumerate(coarse)], [MAX_ZOOM, found[-1]]]
    return {
        "map": map_name,
        "url": f"{request.script_root}/counts.json",
        "nearUrl": f"{request.script_root}/near/",
        "bands": bands,
        "labels": {"offers": gettext("open offers"), "needs": gettext("open needs")},
    }


@bp.get("/cells/<parent>.json")
def cells(parent: str) -> Response:
    """The hexagons of one chunk (see grid.py): public outlines, the same for everyone."""
    parent_id = h3_cell(parent)
    if parent_id is None:
        abort(404)
    outlines = grid.chunk_cells(get_store().area(), settings().cell_res, parent_id)
    if outlines is None:
        abort(404)
    response = make_response(orjson.dumps(outlines))
    response.mimetype = "application/json"
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


def near_query(origin: int) -> Query:
    """``within`` and the public filters from the query string, by the one parser (mapaid.queryargs);
    a bad one is a 400 page naming it in the visitor's language (mapaid.web)."""
    area = get_store().area()
    vocabulary = queryargs.Vocabulary.of(settings().categories, area)
    return Query(origin, queryargs.within(request.args), queryargs.filters(request.args, vocabulary))


@bp.get("/near/<cell>")
def near(cell: str) -> Response:
    """Rendered afresh on every request: a page kept per cell would answer faster, and so tell the next
    visitor which cells someone looked at (mapaid.cache)."""
    origin = queryargs.cell_id(cell, settings().cell_res, get_store().area())
    query = near_query(origin)
    return _html(_render_near(query, queryargs.page(request.args)))


def _labels() -> Labels:
    return Labels(
        kinds={k.value: kind_label(k.value) for k in Kind},
        categories={c: category_label(c) for c in settings().categories},
        bands=[gettext("in your hexagon")]
        + [gettext("about %(minutes)s minutes", minutes=band_minutes(b)) for b in (1, 2, 3)],
        until=gettext("until %(day)s", day="{d}"),
        sources=walk_source_words(),
    )


def _answer_labels() -> dict[str, str]:
    """The answer button by the kind of post it answers: help a need, or need what is offered."""
    return {"need": gettext("I can help"), "offer": gettext("I need this too")}


def _render_near(query: Query, page: int) -> str:
    store = get_store()
    area = store.area()
    res = settings().cell_res
    lang = current_language()
    found = nearby(store, query, today())
    frame = public_frame(found.posts, area, res, lang)
    frame["walk_m"] = found.posts["walk_m"].to_numpy()
    keys = found.posts.get("reply_key")
    frame["reply"] = False if keys is None else keys.notna().to_numpy()  # takes private replies
    frame["walk_source"] = found.posts["walk_source"].to_numpy()
    frame["expires"] = format_days(frame["expires"])  # the list's and the popups' "until" day
    parts = near_map(area.districts, _map_options())
    labels = _labels()
    columns = posts_columns(frame)
    blob = {
        "map": parts.name,
        "colours": KIND_COLOURS,
        "view": near_view(query.cell, found.cells, found.metres),
        "posts": columns,
        "labels": {
            "kinds": labels.kinds,
            "categories": labels.categories,
            "bands": labels.bands,
            "expires": labels.until,
            "answer": _answer_labels(),
            "sources": labels.sources,
        },
        "postUrl": f"{request.script_root}/p/",
    }
    legend = legend_html(
        gettext("Legend"),
        [
            (KIND_COLOURS["offer"], labels.kinds["offer"]),
            (KIND_COLOURS["need"], labels.kinds["need"]),
            ("#1d4ed8", gettext("your hexagon")),
            ("#93a8ea", gettext("within reach (darker: nearer)")),
        ],
    )
    code, _ = area.cell_districts(np.array([query.cell], dtype=np.int64))
    return render_template(
        "near.html",
        parts=parts,
        blob=script_json(blob),
        legend=legend,
        query=query,
        cell=h3.int_to_str(query.cell),
        district=area.by_slug[area.slugs[int(code[0])]].name(lang) if code[0] >= 0 else "",
        items=page_items(frame, page, labels),
        total=len(frame),
        page=page,
        pages=page_count(len(frame)),
        on_map=len(columns["id"]),
        within_choices=[(m, round(m / WALK_M_PER_MIN)) for m in WITHIN_CHOICES],
        minutes=band_minutes(walk_bands([query.within_m])[0]),
        walk_how=walk_summary(found.network),
        uncertainty=uncertainty_m(res),
        categories=settings().categories,
        kinds=[k.value for k in Kind],
        pager_args={"within": query.within_m, **query.filters.query()},
        answer_labels=_answer_labels(),
    )
