"""OGC API – Features, Part 1 (Core, GeoJSON, HTML, OpenAPI 3.0) documents for the public data, and how a
request chooses JSON or HTML (``representation``; web.py answers /ogcapi's errors with it, so this module,
not the blueprint, holds it: nothing imports the views).

Plain functions from our data to the documents the standard describes, shaped as pygeoapi answers the same
routes (landing page, conformance, collections, items with ``numberMatched``/``numberReturned``/``timeStamp``
and ``next``/``prev`` links, queryables as JSON Schema), written on our store: a page of posts is read with
``Store.public_page`` (one count and one slice in id order) and rendered by ``export.to_geojson``, so the
fields and the shown points are exactly the exports'. The view (``views/ogcapi.py``) only parses the request
and chooses JSON or HTML.

Two collections:
- ``posts``: open, unexpired posts, the public fields of ``export.public_frame``, Point geometry.
- ``districts``: the unmet-needs aggregates per district (the numbers of ``/export/districts.geojson``, the
  coordinator page and ``mapaid report``) with the district's polygon as a MultiPolygon. The aggregates,
  not the bare polygons: the polygons alone are already at ``/api/v1/districts``, and a GIS user adding the
  service wants the numbers to colour a map by. MultiPolygon for every district, so GDAL and QGIS see one
  geometry type in the layer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import urlencode

import numpy as np
import orjson
import pandas as pd
import shapely
from flask import abort, make_response, request
from flask.wrappers import Response
from flask_babel import gettext

from mapaid import queryargs
from mapaid.aggregates import ATTRIBUTION, _plain
from mapaid.geo import Area
from mapaid.models import Kind

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
# Items a page unless asked, and at most (a larger limit is served as this many, as pygeoapi's "throttle").
DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET = queryargs.DEFAULT_LIMIT, queryargs.MAX_LIMIT, queryargs.MAX_OFFSET
CONFORMANCE = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
)
JSON = "application/json"
GEOJSON = "application/geo+json"
HTML = "text/html"
SCHEMA_JSON = "application/schema+json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
PREFIX = "/ogcapi"
COLLECTIONS = ("posts", "districts")
QUERYABLES = {"posts": ("kind", "category", "district"), "districts": ("district",)}


# -- the request's representation and error answers (web.py answers /ogcapi's errors with these) --------
def representation() -> str:
    """``json`` or ``html``, from ``f`` or else Accept (JSON unless HTML is preferred)."""
    asked = request.args.get("f")
    if asked is not None:
        if asked not in ("json", "html"):
            abort(400, description=gettext("f must be json or html, not %(value)s", value=repr(asked)))
        return asked
    best = request.accept_mimetypes.best_match([JSON, GEOJSON, HTML], default=JSON)
    return "html" if best == HTML else "json"


def is_ogcapi(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def error_response(code: int, description: str) -> Response:
    """The OGC exception shape, for a JSON client."""
    names = {400: "InvalidParameterValue", 404: "NotFound", 405: "MethodNotAllowed"}
    response = make_response(
        orjson.dumps({"code": names.get(code, "ServerError"), "description": description})
    )
    response.status_code = code
    response.mimetype = JSON
    return response


@dataclass(frozen=True)
class ItemsQuery:
    """An /items request, parsed and checked: what the store is asked and what the links repeat."""

    limit: int = DEFAULT_LIMIT
    offset: int = 0
    bbox: tuple[float, float, float, float] | None = None
    filters: Mapping[str, Sequence[str]] = field(default_factory=dict)
    within: int | None = None  # districts only: the walking distance the numbers assume
    datetime: str | None = None  # posts only: as given (checked), for the links
    days: tuple[date | None, date | None] | None = None  # posts only: the days datetime names

    def args(self, offset: int) -> list[tuple[str, str]]:
        """The query string of a link to another page of the same request, in a fixed order."""
        out = [(name, ",".join(values)) for name, values in self.filters.items() if values]
        if self.bbox is not None:
            out.append(("bbox", ",".join(_number(v) for v in self.bbox)))
        if self.within is not None:
            out.append(("within", str(self.within)))
        if self.datetime is not None:
            out.append(("datetime", self.datetime))
        return [*out, ("limit", str(self.limit)), ("offset", str(offset))]


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def link(href: str, rel: str, mimetype: str, title: str) -> dict[str, str]:
    return {"href": href, "rel": rel, "type": mimetype, "title": title}


def with_f(url: str, fmt: str, args: Sequence[tuple[str, str]] = ()) -> str:
    return f"{url}?{urlencode([*args, ('f', fmt)])}"


def self_links(
    url: str, fmt: str, json_type: str = JSON, args: Sequence[tuple[str, str]] = ()
) -> list[dict[str, str]]:
    """``self`` for the representation served, ``alternate`` for the other one."""
    as_json = link(with_f(url, "json", args), "self", json_type, gettext("This document as JSON"))
    as_html = link(with_f(url, "html", args), "self", HTML, gettext("This document as HTML"))
    if fmt == "html":
        as_json["rel"] = "alternate"
        return [as_html, as_json]
    as_html["rel"] = "alternate"
    return [as_json, as_html]


def landing(base: str, fmt: str) -> dict[str, Any]:
    return {
        "title": "mapaid",
        "description": gettext(
            "Offers and needs of neighbourhood mutual aid, shown at a position inside their hexagon, "
            "and unmet needs per district."
        ),
        "links": [
            *self_links(base, fmt),
            link(f"{base}/openapi", "service-desc", OPENAPI, gettext("The API definition (OpenAPI 3.0)")),
            link(f"{base}/conformance", "conformance", JSON, gettext("Conformance classes")),
            link(f"{base}/collections", "data", JSON, gettext("Collections")),
        ],
    }


def conformance(base: str, fmt: str) -> dict[str, Any]:
    return {"conformsTo": list(CONFORMANCE), "links": self_links(f"{base}/conformance", fmt)}


def _titles() -> dict[str, tuple[str, str]]:
    return {
        "posts": (
            gettext("Offers and needs"),
            gettext(
                "Open, unexpired posts. The point is drawn inside the post's hexagon, never the place "
                "a person gave; uncertainty_m says how far that may be."
            ),
        ),
        "districts": (
            gettext("Unmet needs per district"),
            gettext(
                "Needs that no open offer of the same category within walking distance can meet, per "
                "district (within_m metres; 800 unless asked). Districts © OpenStreetMap contributors (ODbL)."
            ),
        ),
    }


def collection(
    base: str, name: str, fmt: str, area: Area, span: tuple[str, str] | None = None
) -> dict[str, Any]:
    """One collection's description: extents in CRS84 (the served area; for posts the days they are
    open), and links to its items and queryables."""
    title, description = _titles()[name]
    url = f"{base}/collections/{name}"
    extent: dict[str, Any] = {
        "spatial": {"bbox": [[round(float(v), 5) for v in area.districts.total_bounds]], "crs": CRS84}
    }
    if name == "posts":
        interval = [f"{span[0]}T00:00:00Z", f"{span[1]}T23:59:59Z"] if span else [None, None]
        extent["temporal"] = {"interval": [interval], "trs": GREGORIAN}
    return {
        "id": name,
        "title": title,
        "description": description,
        "itemType": "feature",
        "crs": [CRS84],
        "extent": extent,
        "links": [
            *self_links(url, fmt),
            link(with_f(f"{url}/items", "json"), "items", GEOJSON, gettext("Items as GeoJSON")),
            link(with_f(f"{url}/items", "html"), "items", HTML, gettext("Items as HTML")),
            link(
                f"{url}/queryables",
                "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                SCHEMA_JSON,
                gettext("Queryables"),
            ),
        ],
    }


def collections(base: str, fmt: str, area: Area, span: tuple[str, str] | None) -> dict[str, Any]:
    return {
        "collections": [collection(base, name, fmt, area, span) for name in COLLECTIONS],
        "links": self_links(f"{base}/collections", fmt),
    }


def queryables(base: str, name: str, area: Area, categories: Sequence[str]) -> dict[str, Any]:
    """The filters /items takes besides bbox, as JSON Schema (Part 3): each a string of known values."""
    values = {"kind": [str(k) for k in Kind], "category": list(categories), "district": area.slugs}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{base}/collections/{name}/queryables",
        "type": "object",
        "title": _titles()[name][0],
        "properties": {q: {"title": q, "type": "string", "enum": values[q]} for q in QUERYABLES[name]},
        "additionalProperties": False,
    }


def page_links(
    base: str, name: str, query: ItemsQuery, returned: int, matched: int, fmt: str
) -> list[dict[str, str]]:
    """self/alternate, next while items remain, prev after the first page, and the collection."""
    url = f"{base}/collections/{name}/items"
    links = self_links(url, fmt, GEOJSON, query.args(query.offset))
    wanted = GEOJSON if fmt == "json" else HTML
    if query.offset + returned < matched:
        args = query.args(query.offset + query.limit)
        links.append(link(with_f(url, fmt, args), "next", wanted, gettext("Next page")))
    if query.offset > 0:
        args = query.args(max(0, query.offset - query.limit))
        links.append(link(with_f(url, fmt, args), "prev", wanted, gettext("Previous page")))
    links.append(link(f"{base}/collections/{name}", "collection", JSON, _titles()[name][0]))
    return links


def wrap_items(features: bytes, members: Mapping[str, Any]) -> bytes:
    """A FeatureCollection (as ``export.to_geojson`` makes it) with further members after its features."""
    assert features.endswith(b"]}")
    tail = orjson.dumps(dict(members))
    return features[:-1] + b"," + tail[1:]


def district_features(table: pd.DataFrame, area: Area) -> list[dict[str, Any]]:
    """One Feature per row of ``unmet.district_table``: its polygon as a MultiPolygon (lon/lat, 5
    decimals), every column as a property; the district's slug is the feature id."""
    geoms = dict(zip(area.districts["slug"], area.districts.geometry.values, strict=True))
    features = []
    for row in table.to_dict("records"):
        geom = shapely.transform(geoms[row["district"]], lambda xy: np.round(xy, 5))
        if geom.geom_type == "Polygon":
            geom = shapely.MultiPolygon([geom])
        features.append(
            {
                "type": "Feature",
                "id": row["district"],
                "geometry": orjson.loads(shapely.to_geojson(geom)),
                "properties": {k: _plain(v) for k, v in row.items()},
            }
        )
    return features


def districts_in(features: list[dict[str, Any]], area: Area, query: ItemsQuery) -> list[dict[str, Any]]:
    """The district features a query asks for: by slug, and whose polygon meets the bbox."""
    wanted = set(query.filters.get("district") or area.slugs)
    chosen = [f for f in features if f["id"] in wanted]
    if query.bbox is None:
        return chosen
    box = shapely.box(*query.bbox)
    geoms = dict(zip(area.districts["slug"], area.districts.geometry.values, strict=True))
    return [f for f in chosen if shapely.intersects(geoms[f["id"]], box)]


def attribution() -> str:
    return ATTRIBUTION
