"""OGC API – Features under /ogcapi: the documents of ``mapaid.ogcapi``, as JSON or as our HTML pages.

The representation comes from ``?f=json|html``, else from Accept (a browser's text/html gets the page;
``*/*``, GDAL and OWSLib get JSON). Every parameter is checked: an unknown one, a bbox that is not four
numbers in lon/lat order within bounds, a limit or offset that is not a whole number in range, a filter
value we do not know, each is a 400 naming the problem (as JSON ``{"code", "description"}``, the OGC
exception shape, or as our error page for HTML).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

import orjson
from flask import Blueprint, abort, make_response, render_template, request
from flask.wrappers import Response
from flask_babel import gettext

from mapaid import buildslots, export, ogcapi, ogcapi_openapi, queryargs
from mapaid.db import clock, get_store, settings, today
from mapaid.geo import Area
from mapaid.i18n import current_language
from mapaid.ogcapi import GEOJSON, JSON, PREFIX, ItemsQuery, representation
from mapaid.siteurl import absolute
from mapaid.unmet import cached_store_unmet, district_table

bp = Blueprint("ogcapi", __name__, url_prefix="/ogcapi")
_COMMON = frozenset({"f", "lang"})
_ITEMS = frozenset({"bbox", "bbox-crs", "crs", "limit", "offset"})  # crs, bbox-crs: CRS84 alone
_PARAMS = {
    "posts": _COMMON | _ITEMS | {"kind", "category", "district", "status", "datetime"},
    "districts": _COMMON | _ITEMS | {"district", "within"},
}


def _base() -> str:
    return absolute(PREFIX)


def _only(allowed: frozenset[str]) -> None:
    unknown = sorted(set(request.args) - allowed)
    if unknown:
        abort(
            400,
            description=gettext(
                "unknown parameter %(name)s; this address takes %(allowed)s",
                name=repr(unknown[0]),
                allowed=", ".join(sorted(allowed)),
            ),
        )


def _answer(
    doc: dict[str, Any] | bytes, fmt: str, template: str, mimetype: str = JSON, **page: Any
) -> Response:
    if fmt == "html":
        response = make_response(render_template(f"ogcapi/{template}", doc=doc, **page))
    else:
        response = make_response(doc if isinstance(doc, bytes) else orjson.dumps(doc))
        response.content_type = mimetype
    response.vary.update(("Accept", "Accept-Language", "Cookie"))
    return response


def _collection_name(name: str) -> str:
    if name not in ogcapi.COLLECTIONS:
        abort(
            404,
            description=gettext(
                "no collection called %(name)s; there are %(names)s",
                name=repr(name),
                names=", ".join(ogcapi.COLLECTIONS),
            ),
        )
    return name


@bp.get("", strict_slashes=False)
def landing() -> Response:
    _only(_COMMON)
    fmt = representation()
    return _answer(ogcapi.landing(_base(), fmt), fmt, "landing.html")


@bp.get("/conformance")
def conformance() -> Response:
    _only(_COMMON)
    fmt = representation()
    return _answer(ogcapi.conformance(_base(), fmt), fmt, "conformance.html")


@bp.get("/openapi")
def openapi() -> Response:
    _only(frozenset({"f"}))
    if request.args.get("f", "json") != "json":
        abort(400, description=gettext("the API definition comes as JSON only (f=json)"))
    area = get_store().area()
    doc = ogcapi_openapi.document(_base(), settings().categories, area.slugs)
    return _answer(doc, "json", "", ogcapi.OPENAPI)


@bp.get("/collections")
def collections() -> Response:
    _only(_COMMON)
    fmt = representation()
    store = get_store()
    doc = ogcapi.collections(_base(), fmt, store.area(), store.public_span(today()))
    return _answer(doc, fmt, "collections.html")


@bp.get("/collections/<name>")
def collection(name: str) -> Response:
    _only(_COMMON)
    fmt = representation()
    store = get_store()
    doc = ogcapi.collection(_base(), _collection_name(name), fmt, store.area(), store.public_span(today()))
    return _answer(doc, fmt, "collection.html")


@bp.get("/collections/<name>/queryables")
def queryables(name: str) -> Response:
    _only(_COMMON)
    fmt = representation()
    doc = ogcapi.queryables(_base(), _collection_name(name), get_store().area(), settings().categories)
    return _answer(doc, fmt, "queryables.html", ogcapi.SCHEMA_JSON, name=name)


# -- items ---------------------------------------------------------------------------------------------
def items_query(name: str, area: Area) -> ItemsQuery:
    """Every /items parameter, checked: the shared reader (mapaid.queryargs) for the filters, limit,
    offset, bbox and within; here only what is OGC's own (which parameters, crs and bbox-crs)."""
    _only(_PARAMS[name])
    for param in ("crs", "bbox-crs"):  # a client of Part 2 may name the one CRS we serve
        crs = request.args.get(param)
        if crs is not None and crs != ogcapi.CRS84:
            abort(
                400,
                description=gettext("%(name)s can only be %(crs)s (lon/lat)", name=param, crs=ogcapi.CRS84),
            )
    chosen = queryargs.filters(request.args, queryargs.Vocabulary.of(settings().categories, area))
    window = queryargs.window(request.args, clamp=True)
    box = queryargs.bbox(request.args)
    return ItemsQuery(
        limit=window.limit,
        offset=window.offset,
        bbox=None if box is None else box.as_tuple(),
        filters={k: v for k, v in chosen.store_args().items() if k in ogcapi.QUERYABLES[name]},
        within=queryargs.within(request.args) if name == "districts" else None,
        datetime=request.args.get("datetime"),
        days=_days(request.args.get("datetime")),
    )


def _days(raw: str | None) -> tuple[date | None, date | None] | None:
    """``datetime`` (OGC API – Features): an instant or an interval ``start/end`` with ``..`` or nothing
    for an open end, as RFC 3339 dates or date-times; posts are kept to the UTC day, so to their days."""
    if raw is None:
        return None
    ends = raw.split("/")
    if len(ends) > 2 or all(e in ("", "..") for e in ends):
        abort(400, description=_bad_datetime())
    days = [None if e in ("", "..") else _day(e) for e in ends]
    first, last = days[0], days[-1]
    if first is not None and last is not None and first > last:
        abort(400, description=_bad_datetime())
    return (first, last)


def _day(text: str) -> date:
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text)
    except ValueError:
        abort(400, description=_bad_datetime())
    if "T" not in text.upper() or moment.tzinfo is None:
        abort(400, description=_bad_datetime())
    return moment.astimezone(UTC).date()


def _bad_datetime() -> str:
    return str(
        gettext(
            "datetime takes a date or date-time (2026-11-28, 2026-11-28T10:00:00Z) or an interval "
            "start/end with .. for an open end, the start not after the end"
        )
    )


@bp.get("/collections/<name>/items")
def items(name: str) -> Response:
    area = get_store().area()
    query = items_query(_collection_name(name), area)
    fmt = representation()
    with buildslots.slots().queries.held():  # built for each request: a few at once (mapaid.buildslots)
        found = _district_items(area, query) if name == "districts" else _post_items(area, query, fmt)
    members: dict[str, Any] = {
        "numberMatched": found.matched,
        "numberReturned": found.returned,
        "timeStamp": clock().now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "links": ogcapi.page_links(_base(), name, query, found.returned, found.matched, fmt),
    }
    if name == "districts":
        members["attribution"] = ogcapi.attribution()
    if fmt == "html":
        return _answer(members, fmt, "items.html", name=name, rows=found.rows, query=query)
    return _answer(ogcapi.wrap_items(found.body, members), fmt, "", GEOJSON)


@dataclass(frozen=True)
class _Found:
    body: bytes  # the FeatureCollection as GeoJSON (JSON only)
    rows: list[dict[str, Any]]  # the features' properties (HTML only)
    returned: int
    matched: int


def _post_items(area: Area, query: ItemsQuery, fmt: str) -> _Found:
    posts, matched = get_store().public_page(
        today(), query.limit, query.offset, query.bbox, query.days, **query.filters
    )
    frame = export.public_frame(posts, area, settings().cell_res, current_language())
    if fmt == "html":
        rows = [{str(k): v for k, v in r.items()} for r in frame.to_dict("records")]
        return _Found(b"", rows, len(frame), matched)
    return _Found(export.to_geojson(frame), [], len(frame), matched)


def _district_items(area: Area, query: ItemsQuery) -> _Found:
    features = ogcapi.districts_in(_district_features(area, query.within), area, query)
    page = features[query.offset : query.offset + query.limit]
    body = orjson.dumps({"type": "FeatureCollection", "features": page})
    return _Found(body, [f["properties"] for f in page], len(page), len(features))


def _district_features(area: Area, within: int | None) -> list[dict[str, Any]]:
    distance = within or queryargs.within({})
    result = cached_store_unmet(
        get_store(), today(), settings().categories, distance, database=str(settings().database)
    )
    table = district_table(result, area, current_language()).sort_values("district", kind="stable")
    table.insert(2, "within_m", distance)
    return ogcapi.district_features(table, area)


@bp.get("/collections/<name>/items/<item_id>")
def item(name: str, item_id: str) -> Response:
    _only(_COMMON)
    fmt = representation()
    store = get_store()
    area = store.area()
    if _collection_name(name) == "districts":
        found = [f for f in _district_features(area, None) if f["id"] == item_id]
        feature = found[0] if found else None
    else:
        posts = store.posts(today(), id=[item_id])
        frame = export.public_frame(posts, area, settings().cell_res, current_language())
        feature = orjson.loads(export.to_geojson(frame))["features"][0] if len(frame) else None
    if feature is None:
        abort(404, description=gettext("no %(name)s item with id %(id)s", name=name, id=repr(item_id)))
    url = f"{_base()}/collections/{name}/items/{quote(item_id, safe='')}"
    feature["links"] = [
        *ogcapi.self_links(url, fmt, GEOJSON),
        ogcapi.link(f"{_base()}/collections/{name}", "collection", JSON, name),
    ]
    return _answer(feature, fmt, "item.html", GEOJSON, name=name, rows=_item_rows(feature))


def _item_rows(feature: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(k, v) for k, v in feature["properties"].items() if not isinstance(v, dict | list)]
