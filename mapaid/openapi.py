"""The OpenAPI 3.1 description of /api/v1, served at /api/v1/openapi.json.

A test compares its paths with the app's routes, so a route cannot be added without being described.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mapaid.models import MAX_CONTACT, MAX_TEXT
from mapaid.reports import REASONS
from mapaid.spatial import DEFAULT_WITHIN, WITHIN_CHOICES

ERROR = {"$ref": "#/components/schemas/Error"}
# What the intake takes, as patterns (ECMA-262 and Python alike). A post's text may hold tab, LF and CR
# (line ends become LF) but no other control character, and something besides blanks (the ends are
# stripped); a contact is one line. Lists are comma-separated and any case (``?kind=Offer,need``).
_TEXT_CONTROL = "\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f"
TEXT_PATTERN = f"^\\s*[^{_TEXT_CONTROL}]*[^\\s{_TEXT_CONTROL}][^{_TEXT_CONTROL}]*\\s*$"
CONTACT_PATTERN = "^\\s*[^\\x00-\\x1f\\x7f]*\\s*$"
CELL_PATTERN = "^\\s*[0-9a-fA-F]{1,16}\\s*$"


def _any_case(word: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in word)


def list_pattern(words: Sequence[str]) -> str:
    """Comma-separated ``words`` in any case, empty items allowed (the parser skips them)."""
    word = "(" + "|".join(_any_case(w) for w in words) + ")"
    return f"^,*({word}(,+{word})*)?,*$"


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR}}}


def _body(schema: str) -> dict[str, Any]:
    return {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def _ok(description: str, schema: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def _geojson(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/geo+json": {"schema": schema}}}


def _components(categories: Sequence[str], max_expires_days: int) -> dict[str, Any]:
    post_properties = {
        "id": {"type": "string"},
        "kind": {"enum": ["offer", "need"]},
        "category": {"enum": list(categories)},
        "text": {"type": "string", "maxLength": MAX_TEXT},
        "contact": {"type": ["string", "null"], "maxLength": MAX_CONTACT},
        "district": {"type": "string", "description": "district slug"},
        "district_name": {"type": "string"},
        "cell": {"type": "string", "description": "H3 cell id (hex)"},
        "uncertainty_m": {
            "type": "integer",
            "description": "how far the real place may be from the shown one",
        },
        "created": {"type": "string", "format": "date"},
        "expires": {"type": "string", "format": "date"},
        "status": {"enum": ["open", "fulfilled", "hidden"]},
        "walk_m": {"type": "integer", "description": "walking metres from the asked cell (only in searches)"},
        "walk_source": {
            "enum": ["network", "estimate"],
            "description": "how walk_m was measured: on foot by the streets (OpenStreetMap graph) or the "
            "estimate (straight line between hexagon centres x 1.3); only in searches",
        },
    }
    point = {
        "type": "object",
        "properties": {
            "type": {"const": "Point"},
            "coordinates": {"type": "array", "items": {"type": "number"}},
        },
    }
    return {
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error", "field"],
                "properties": {"error": {"type": "string"}, "field": {"type": ["string", "null"]}},
            },
            "NewPost": {
                "type": "object",
                "additionalProperties": False,
                "required": ["kind", "category", "text"],
                "anyOf": [{"required": ["cell"]}, {"required": ["lat", "lon"]}],
                "description": "Say where with `cell` or with `lat` and `lon`; a point is turned into "
                "its cell at once and never stored. A place outside the served area is refused (422).",
                "properties": {
                    "kind": {"enum": ["offer", "need"]},
                    "category": {"enum": list(categories)},
                    "text": {"type": "string", "pattern": TEXT_PATTERN, "maxLength": MAX_TEXT},
                    "contact": {
                        "type": ["string", "null"],
                        "pattern": CONTACT_PATTERN,
                        "maxLength": MAX_CONTACT,
                        "description": "public",
                    },
                    "expires_days": {
                        "type": ["integer", "null"],
                        "minimum": 1,
                        "maximum": max_expires_days,
                        "description": "null or left out: the site's default",
                    },
                    "cell": {"type": "string", "pattern": CELL_PATTERN, "description": "H3 cell id (hex)"},
                    "lat": {"type": "number", "minimum": -90, "maximum": 90},
                    "lon": {"type": "number", "minimum": -180, "maximum": 180},
                },
            },
            "Extend": {
                "type": "object",
                "additionalProperties": False,
                "required": ["days"],
                "properties": {
                    "days": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": max_expires_days,
                        "description": "days to add; the post never stays up longer than the site's "
                        "limit from today (as a new post)",
                    }
                },
            },
            "Extended": {
                "type": "object",
                "required": ["id", "expires"],
                "properties": {"id": {"type": "string"}, "expires": {"type": "string", "format": "date"}},
            },
            "NewText": {
                "type": "object",
                "additionalProperties": False,
                "required": ["text"],
                "properties": {"text": {"type": "string", "pattern": TEXT_PATTERN, "maxLength": MAX_TEXT}},
            },
            "Edited": {
                "type": "object",
                "required": ["id", "text"],
                "properties": {"id": {"type": "string"}, "text": {"type": "string"}},
            },
            "Created": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "cell": {"type": "string"},
                    "district": {"type": "string"},
                    "token": {
                        "type": "string",
                        "description": "private; shown once, needed to change the post",
                    },
                },
            },
            "Post": {
                "type": "object",
                "properties": {
                    "type": {"const": "Feature"},
                    "geometry": point,
                    "properties": {"type": "object", "properties": post_properties},
                },
            },
            "Posts": {
                "type": "object",
                "properties": {
                    "type": {"const": "FeatureCollection"},
                    "features": {"type": "array", "items": {"$ref": "#/components/schemas/Post"}},
                },
            },
            "Report": {
                "type": "object",
                "additionalProperties": False,
                "required": ["reason"],
                "description": "Why the post should be looked at. Only the post, the reason and the day "
                "are kept: nothing about who reported it.",
                "properties": {"reason": {"enum": list(REASONS)}},
            },
            "Districts": {
                "type": "object",
                "properties": {"type": {"const": "FeatureCollection"}, "features": {"type": "array"}},
            },
        },
        "parameters": {
            "PostId": {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
            "Token": {
                "name": "X-Post-Token",
                "in": "header",
                "required": True,
                "schema": {"type": "string", "minLength": 1},
            },
        },
    }


def _paths(categories: Sequence[str]) -> dict[str, Any]:
    token_errors = {
        "400": _error("no X-Post-Token header"),
        "403": _error("the token is not this post's"),
        "404": _error("no such post"),
        "429": _error("too many writes from this client in a short time; see Retry-After"),
    }
    body_errors = {
        "400": _error("no X-Post-Token header, or not a JSON object"),
        "413": _error("body too large"),
        "422": _error("a field is invalid; `field` names it"),
    }
    id_and_token = [{"$ref": "#/components/parameters/PostId"}, {"$ref": "#/components/parameters/Token"}]
    search = [
        {
            "name": "cell",
            "in": "query",
            "required": True,
            "schema": {"type": "string", "pattern": CELL_PATTERN},
            "description": "H3 cell id (hex) inside the served area, at the site's resolution or finer",
        },
        {
            "name": "within",
            "in": "query",
            "schema": {"type": "integer", "enum": list(WITHIN_CHOICES), "default": DEFAULT_WITHIN},
        },
        {
            "name": "kind",
            "in": "query",
            "schema": {"type": "string", "pattern": list_pattern(["offer", "need"])},
            "description": "offer, need or both",
        },
        {
            "name": "category",
            "in": "query",
            "schema": {"type": "string", "pattern": list_pattern(categories)},
            "description": "comma-separated",
        },
    ]
    return {
        "/api/v1/posts": {
            "post": {
                "summary": "Post an offer or need",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewPost"}}},
                },
                "responses": {
                    "201": {
                        "description": "created",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Created"}}},
                    },
                    "400": _error("not a JSON object"),
                    "413": _error("body too large"),
                    "422": _error("a field is invalid; `field` names it"),
                    "429": _error("too many posts from this client, or in total; see Retry-After"),
                },
            },
            "get": {
                "summary": "Open posts within walking distance of a cell, nearest first",
                "parameters": search,
                "responses": {
                    "200": _geojson("posts with walk_m", {"$ref": "#/components/schemas/Posts"}),
                    "400": _error("a parameter is invalid"),
                    "422": _error("the cell is outside the served area"),
                },
            },
        },
        "/api/v1/posts/{id}": {
            "get": {
                "summary": "One open post",
                "parameters": [{"$ref": "#/components/parameters/PostId"}],
                "responses": {
                    "200": _geojson("the post", {"$ref": "#/components/schemas/Post"}),
                    "404": _error("no open post with this id"),
                },
            },
            "delete": {
                "summary": "Delete a post with its private token",
                "parameters": id_and_token,
                "responses": {"204": {"description": "deleted"}, **token_errors},
            },
            "patch": {
                "summary": "Change a post's text with its private token (nothing else can change)",
                "parameters": id_and_token,
                "requestBody": _body("NewText"),
                "responses": {"200": _ok("the text as stored", "Edited"), **token_errors, **body_errors},
            },
        },
        "/api/v1/posts/{id}/extend": {
            "post": {
                "summary": "Keep a post up longer, with its private token",
                "parameters": id_and_token,
                "requestBody": _body("Extend"),
                "responses": {"200": _ok("its new last day", "Extended"), **token_errors, **body_errors},
            }
        },
        "/api/v1/posts/{id}/fulfilled": {
            "post": {
                "summary": "Mark a post fulfilled with its private token",
                "parameters": id_and_token,
                "responses": {"200": {"description": "marked fulfilled"}, **token_errors},
            }
        },
        "/api/v1/posts/{id}/report": {
            "post": {
                "summary": "Report an open post to the coordinators",
                "parameters": [{"$ref": "#/components/parameters/PostId"}],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Report"}}},
                },
                "responses": {
                    "202": {
                        "description": "counted; it waits in the moderation queue",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "id": {"type": "string"},
                                        "reason": {"enum": list(REASONS)},
                                    },
                                }
                            }
                        },
                    },
                    "400": _error("not a JSON object"),
                    "404": _error("no open post with this id"),
                    "413": _error("body too large"),
                    "422": _error("the reason is missing or unknown, or another field was sent"),
                    "429": _error("too many writes from this client in a short time; see Retry-After"),
                },
            }
        },
        "/api/v1/districts": {
            "get": {
                "summary": "The served area's districts (© OpenStreetMap contributors, ODbL)",
                "responses": {"200": _geojson("districts", {"$ref": "#/components/schemas/Districts"})},
            }
        },
        "/api/v1/openapi.json": {
            "get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3.1"}}}
        },
    }


def document(categories: Sequence[str], max_expires_days: int = 60) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "mapaid",
            "version": "1",
            "description": "Neighbourhood offers and needs by H3 cell. Errors are JSON {error, field}; "
            "405 for a wrong method on any path.",
        },
        "paths": _paths(categories),
        "components": _components(categories, max_expires_days),
    }
