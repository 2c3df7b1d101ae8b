"""The OpenAPI 3.0 description of /ogcapi (the landing page's ``service-desc``; conformance class oas30).

Its own document, apart from /api/v1's OpenAPI 3.1: OGC API – Features names OpenAPI 3.0, and GDAL's OAPIF
driver reads the ``limit`` parameter's ``default`` and ``maximum`` from here. Every parameter /items takes
is listed with its bounds, so a client learns the limits without trying them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mapaid.models import Kind
from mapaid.ogcapi import COLLECTIONS, DEFAULT_LIMIT, GEOJSON, HTML, JSON, MAX_LIMIT, MAX_OFFSET
from mapaid.spatial import DEFAULT_WITHIN, WITHIN_CHOICES


def _param(name: str, description: str, schema: dict[str, Any], where: str = "query") -> dict[str, Any]:
    """A parameter; lists are comma-separated (form style, not exploded), as the /items filters take them."""
    out = {
        "name": name,
        "in": where,
        "required": where == "path",
        "description": description,
        "schema": schema,
    }
    if where == "query" and schema.get("type") == "array":
        out.update(style="form", explode=False)
    return out


def _list(values: Sequence[str]) -> dict[str, Any]:
    return {"type": "array", "items": {"type": "string", "enum": list(values)}}


def _ok(description: str, *types: str) -> dict[str, Any]:
    return {
        "200": {"description": description, "content": {t: {"schema": {"type": "object"}} for t in types}}
    }


ERRORS = {
    "400": {"description": "a parameter is wrong; the description says which and why"},
    "404": {"description": "no such collection or feature"},
    "429": {"description": "too many requests from this client in a short time; see Retry-After"},
}
BUSY = {"503": {"description": "as many pages are being built as the server builds at once; see Retry-After"}}
F = _param(
    "f", "the representation: json (the default) or html", {"type": "string", "enum": ["json", "html"]}
)


def document(base: str, categories: Sequence[str], slugs: Sequence[str]) -> dict[str, Any]:
    collection_id = _param(
        "collectionId", "a collection", {"type": "string", "enum": list(COLLECTIONS)}, where="path"
    )
    items_params = [
        collection_id,
        _param(
            "bbox",
            "lon/lat box in CRS84: min lon, min lat, max lon, max lat (features whose shown point, or "
            "district polygon, meets it)",
            {"type": "array", "minItems": 4, "maxItems": 4, "items": {"type": "number"}},
        ),
        _param(
            "limit",
            f"features per page: {DEFAULT_LIMIT} unless asked, at most {MAX_LIMIT} (a larger limit "
            f"gives {MAX_LIMIT})",
            {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
        ),
        _param(
            "offset",
            "features to skip (the next and prev links carry it)",
            {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0},
        ),
        _param(
            "datetime",
            "posts only: a day or date-time (RFC 3339) or an interval start/end (.. for an open end); "
            "keeps the posts open on some day of it",
            {"type": "string"},
        ),
        _param("kind", "posts only: offer, need", _list([str(k) for k in Kind])),
        _param("category", "posts only", _list(categories)),
        _param("district", "district slug", _list(slugs)),
        _param(
            "within",
            "districts only: walking distance in metres the unmet-needs numbers assume",
            {"type": "integer", "enum": list(WITHIN_CHOICES), "default": DEFAULT_WITHIN},
        ),
        F,
    ]
    paths = {
        "/": {"get": {"operationId": "getLandingPage", "parameters": [F], **_responses("landing page")}},
        "/conformance": {
            "get": {"operationId": "getConformance", "parameters": [F], **_responses("conformance classes")}
        },
        "/collections": {
            "get": {"operationId": "getCollections", "parameters": [F], **_responses("the collections")}
        },
        "/collections/{collectionId}": {
            "get": {
                "operationId": "describeCollection",
                "parameters": [collection_id, F],
                **_responses("one collection"),
            }
        },
        "/collections/{collectionId}/queryables": {
            "get": {
                "operationId": "getQueryables",
                "parameters": [collection_id],
                "responses": {
                    "200": {
                        "description": "the filters /items takes, as JSON Schema",
                        "content": {"application/schema+json": {"schema": {"type": "object"}}},
                    },
                    **ERRORS,
                },
            }
        },
        "/collections/{collectionId}/items": {
            "get": {
                "operationId": "getFeatures",
                "parameters": items_params,
                "responses": {**_responses("a page of features", GEOJSON)["responses"], **BUSY},
            }
        },
        "/collections/{collectionId}/items/{featureId}": {
            "get": {
                "operationId": "getFeature",
                "parameters": [
                    collection_id,
                    _param("featureId", "a post id or district slug", {"type": "string"}, where="path"),
                    F,
                ],
                **_responses("one feature", GEOJSON),
            }
        },
        "/openapi": {"get": {"operationId": "getOpenAPI", **_responses("this document")}},
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "mapaid OGC API – Features",
            "version": "1.0.0",
            "description": "Open offers and needs (shown points, public fields only) and unmet needs per "
            "district. Districts © OpenStreetMap contributors (ODbL).",
        },
        "servers": [{"url": base}],
        "paths": paths,
    }


def _responses(description: str, json_type: str = JSON) -> dict[str, Any]:
    return {"responses": {**_ok(description, json_type, HTML), **ERRORS}}
