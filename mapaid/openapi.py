"""The OpenAPI 3.1 description of /api/v1, served at /api/v1/openapi.json.

The document is a list of operations (``Route``), one function per group of routes (``GROUPS``): to
describe a new route, add a ``Route`` to its group's list, or a group function to ``GROUPS``. A test walks
the app's URL map over every blueprint and fails for any /api/v1 route or method not described here.

Enums, patterns and bounds say exactly what the one parser (mapaid.queryargs) and the JSON checks take,
so that schemathesis can tell accepted from refused requests; links from ``createPost`` to the operations
on the new post (its ``id`` and private ``token``) let it run sequences (its stateful phase).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mapaid.models import MAX_CONTACT, MAX_TEXT, Kind, Status
from mapaid.moderation import MAX_QUERY
from mapaid.posting import MAX_KEY_CHARS
from mapaid.privacy import ID_BYTES, TOKEN_BYTES
from mapaid.queryargs import MAX_PAGE
from mapaid.replies import max_wire_chars
from mapaid.reports import REASONS
from mapaid.spatial import DEFAULT_WITHIN, WITHIN_CHOICES

ERROR = {"$ref": "#/components/schemas/Error"}
KINDS = [str(k) for k in Kind]
STATUSES = [str(s) for s in Status]
SESSION_COOKIE = "session"  # Flask's session cookie, which carries a coordinator's login (mapaid.sessions)
# What the intake takes, as patterns (ECMA-262 and Python alike). A post's text may hold tab, LF and CR
# (line ends become LF) but no other control character, and something besides blanks (the ends are
# stripped); a contact is one line. Lists are comma-separated and any case (``?kind=Offer,need``).
_TEXT_CONTROL = "\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f"
TEXT_PATTERN = f"^\\s*[^{_TEXT_CONTROL}]*[^\\s{_TEXT_CONTROL}][^{_TEXT_CONTROL}]*\\s*$"
CONTACT_PATTERN = "^\\s*[^\\x00-\\x1f\\x7f]*\\s*$"
CELL_PATTERN = "^\\s*[0-9a-fA-F]{1,16}\\s*$"  # any H3 id (a body's cell is checked by the intake)
ID_PATTERN = f"^[0-9a-f]{{{2 * ID_BYTES}}}$"  # mapaid.privacy.new_ids
TOKEN_PATTERN = f"^[A-Za-z0-9_-]{{{-(-TOKEN_BYTES * 4 // 3)}}}$"  # secrets.token_urlsafe(TOKEN_BYTES)
_BLANK = "[ \\t\\n\\r\\f\\v]*"  # queryargs.BLANKS
KEY_PATTERN = "^[A-Za-z0-9_-]+$"  # unpadded base64url of a DER SubjectPublicKeyInfo (docs/replies.md)
WIRE_PATTERN = "^v2\\.[A-Za-z0-9_-]+$"  # "v2." + unpadded base64url of header, nonce, ciphertext and tag


def cell_pattern(res: int) -> str:
    """An H3 cell id (hex, any case, blanks around) at resolution ``res`` or finer: 15 hex digits, mode
    1 (the leading 8), the resolution in the second digit; a leading zero is allowed (16 digits)."""
    finer = "".join(f"{r:x}{r:X}" if r > 9 else str(r) for r in range(res, 16))
    return f"^\\s*0?8[{finer}][0-9a-fA-F]{{13}}\\s*$"


def _any_case(word: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in word)


def list_pattern(words: Sequence[str]) -> str:
    """Comma-separated ``words`` in any case, ASCII blanks around each, empty items allowed (the parser
    skips them)."""
    word = f"{_BLANK}(" + "|".join(_any_case(w) for w in words) + f"){_BLANK}"
    return f"^[ \\t\\n\\r\\f\\v,]*({word}(,[ \\t\\n\\r\\f\\v,]*{word})*)?[ \\t\\n\\r\\f\\v,]*$"


@dataclass(frozen=True)
class Context:
    """What the document depends on: the site's categories, its longest expiry, its districts (from the
    store) and the H3 resolution it serves."""

    categories: tuple[str, ...]
    max_expires_days: int = 60
    districts: tuple[str, ...] = ()
    cell_res: int = 9
    reply_max_chars: int = 1000


@dataclass(frozen=True)
class Route:
    """One operation: ``path`` (OpenAPI style, ``{id}``), ``method`` (lower case) and its Operation
    Object, which must carry an ``operationId``; ``schemas`` it adds to the components."""

    path: str
    method: str
    operation: dict[str, Any]
    schemas: Mapping[str, Any] = field(default_factory=dict)


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR}}}


def _ref(schema: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{schema}"}


def _body(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(schema)}}}


def _ok(description: str, schema: str | dict[str, Any], media: str = "application/json") -> dict[str, Any]:
    body = _ref(schema) if isinstance(schema, str) else schema
    return {"description": description, "content": {media: {"schema": body}}}


def _geojson(description: str, schema: str) -> dict[str, Any]:
    return _ok(description, schema, "application/geo+json")


def _query(name: str, schema: dict[str, Any], description: str, required: bool = False) -> dict[str, Any]:
    made = {"name": name, "in": "query", "schema": schema, "description": description}
    return made | ({"required": True} if required else {})


def _enum_or_string(values: Sequence[str]) -> dict[str, Any]:
    return {"enum": list(values)} if values else {"type": "string"}


def _filters(ctx: Context, *, any_status: bool) -> list[dict[str, Any]]:
    """kind, category, district (and status): comma-separated or repeated, any case; empty: all."""
    how = "comma-separated or repeated, any case; empty or left out: all"
    params = [
        _query("kind", {"type": "string", "pattern": list_pattern(KINDS)}, f"offer, need ({how})"),
        _query("category", {"type": "string", "pattern": list_pattern(ctx.categories)}, how),
    ]
    if ctx.districts:
        params.append(
            _query("district", {"type": "string", "pattern": list_pattern(ctx.districts)}, f"slugs ({how})")
        )
    if any_status:
        params.append(_query("status", {"type": "string", "pattern": list_pattern(STATUSES)}, how))
    return params


def _within() -> dict[str, Any]:
    return _query(
        "within",
        {"type": "integer", "enum": list(WITHIN_CHOICES), "default": DEFAULT_WITHIN},
        "walking metres",
    )


def _components(ctx: Context) -> dict[str, Any]:
    post_properties = {
        "id": {"type": "string", "pattern": ID_PATTERN},
        "kind": {"enum": KINDS},
        "category": {"enum": list(ctx.categories)},
        "text": {"type": "string", "maxLength": MAX_TEXT},
        "contact": {"type": ["string", "null"], "maxLength": MAX_CONTACT},
        "district": {**_enum_or_string(ctx.districts), "description": "district slug"},
        "district_name": {"type": "string"},
        "cell": {"type": "string", "description": "H3 cell id (hex)"},
        "uncertainty_m": {
            "type": "integer",
            "description": "how far the real place may be from the shown one",
        },
        "created": {"type": "string", "format": "date"},
        "expires": {"type": "string", "format": "date"},
        "status": {"enum": STATUSES},
        "walk_m": {"type": "integer", "description": "walking metres from the asked cell (only in searches)"},
        "reply_key": {
            "type": ["string", "null"],
            "description": "public key for private replies (docs/replies.md); null: the post takes none",
        },
        "walk_source": {
            "enum": ["network", "estimate"],
            "description": "how walk_m was measured: on foot by the streets (OpenStreetMap graph) or the "
            "estimate (straight line between hexagon centres x 1.3); only in searches",
        },
    }
    point = {
        "type": "object",
        "required": ["type", "coordinates"],
        "properties": {
            "type": {"const": "Point"},
            "coordinates": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
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
                    "kind": {"enum": KINDS},
                    "category": {"enum": list(ctx.categories)},
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
                        "maximum": ctx.max_expires_days,
                        "description": "null or left out: the site's default",
                    },
                    "cell": {"type": "string", "pattern": CELL_PATTERN, "description": "H3 cell id (hex)"},
                    "lat": {"type": "number", "minimum": -90, "maximum": 90, "description": "finite"},
                    "lon": {"type": "number", "minimum": -180, "maximum": 180, "description": "finite"},
                    "reply_key": {
                        "type": ["string", "null"],
                        "pattern": KEY_PATTERN,
                        "maxLength": MAX_KEY_CHARS,
                        "description": "optional public key for private replies (docs/replies.md): unpadded "
                        "base64url DER SubjectPublicKeyInfo, P-256 or X25519; left out or null, the post "
                        "takes no replies",
                    },
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
                        "maximum": ctx.max_expires_days,
                        "description": "days to add; the post never stays up longer than the site's "
                        "limit from today (as a new post)",
                    }
                },
            },
            "Extended": {
                "type": "object",
                "required": ["id", "expires"],
                "properties": {
                    "id": {"type": "string", "pattern": ID_PATTERN},
                    "expires": {"type": "string", "format": "date"},
                },
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
                "properties": {"id": {"type": "string", "pattern": ID_PATTERN}, "text": {"type": "string"}},
            },
            "Fulfilled": {
                "type": "object",
                "required": ["id", "status"],
                "properties": {
                    "id": {"type": "string", "pattern": ID_PATTERN},
                    "status": {"const": "fulfilled"},
                },
            },
            "Created": {
                "type": "object",
                "required": ["id", "cell", "district", "token", "published"],
                "properties": {
                    "published": {
                        "type": "boolean",
                        "description": "false: the post waits for the site's next publication round (at "
                        "one secret moment in each MAPAID_PUBLISH_MINUTES window) and until then answers "
                        "404 on every public route; true: public now (the site publishes at once)",
                    },
                    "id": {"type": "string", "pattern": ID_PATTERN},
                    "cell": {"type": "string", "pattern": cell_pattern(ctx.cell_res)},
                    "district": {**_enum_or_string(ctx.districts), "description": "district slug"},
                    "token": {
                        "type": "string",
                        "pattern": TOKEN_PATTERN,
                        "description": "private; shown once, needed to change the post",
                    },
                },
            },
            "Post": {
                "type": "object",
                "required": ["type", "geometry", "properties"],
                "properties": {
                    "type": {"const": "Feature"},
                    "geometry": point,
                    "properties": {
                        "type": "object",
                        "required": ["id", "kind", "category", "text", "district", "cell", "expires"],
                        "properties": post_properties,
                    },
                },
            },
            "Posts": {
                "type": "object",
                "required": ["type", "features"],
                "properties": {
                    "type": {"const": "FeatureCollection"},
                    "features": {"type": "array", "items": _ref("Post")},
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
            "Reported": {
                "type": "object",
                "required": ["id", "reason"],
                "properties": {
                    "id": {"type": "string", "pattern": ID_PATTERN},
                    "reason": {"enum": list(REASONS)},
                },
            },
            "Districts": {
                "type": "object",
                "required": ["type", "features"],
                "properties": {"type": {"const": "FeatureCollection"}, "features": {"type": "array"}},
            },
        },
        "parameters": {
            "PostId": {
                "name": "id",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "pattern": ID_PATTERN},
                "description": "the post's id (20 hex digits)",
            },
            "ThreadId": {
                "name": "thread",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "pattern": ID_PATTERN},
                "description": "the conversation's id",
            },
            "ThreadToken": {
                "name": "X-Thread-Token",
                "in": "header",
                "required": True,
                "schema": {"type": "string", "pattern": TOKEN_PATTERN},
                "description": "the conversation's private token (the replier's)",
            },
            "Token": {
                "name": "X-Post-Token",
                "in": "header",
                "required": True,
                "schema": {"type": "string", "pattern": TOKEN_PATTERN},
                "description": "the post's private token, as createPost gave it",
            },
        },
        "securitySchemes": {
            "postToken": {
                "type": "apiKey",
                "in": "header",
                "name": "X-Post-Token",
                "description": "a post's private token: changes that post only",
            },
            "threadToken": {
                "type": "apiKey",
                "in": "header",
                "name": "X-Thread-Token",
                "description": "a conversation's private token (the replier's): that conversation only",
            },
            "coordinatorSession": {
                "type": "apiKey",
                "in": "cookie",
                "name": SESSION_COOKIE,
                "description": "a coordinator's login (POST /coordinator/login sets it)",
            },
        },
    }


_TOKEN_ERRORS = {
    "401": _error(
        "no X-Post-Token header, or not this post's token: the same answer whether the post is open,"
        " hidden, fulfilled, deleted or never was"
    ),
    "404": _error("the post was deleted while the request was served (after its token was checked)"),
    "429": _error("too many writes from this client in a short time; see Retry-After"),
}
_BODY_ERRORS = {
    "400": _error("not a JSON object"),
    "413": _error("body too large"),
    "422": _error("a field is invalid; `field` names it"),
}
_ID_AND_TOKEN = [{"$ref": "#/components/parameters/PostId"}, {"$ref": "#/components/parameters/Token"}]
_WITH_TOKEN: list[dict[str, list[str]]] = [{"postToken": []}]
_NEW_ID = {"path.id": "$response.body#/id"}
_NEW_ID_AND_TOKEN = {**_NEW_ID, "header.X-Post-Token": "$response.body#/token"}


def _created_links() -> dict[str, Any]:
    """From a new post to what can be done with it: its id and its private token."""
    return {
        "GetPost": {
            "operationId": "getPost",
            "parameters": _NEW_ID,
            "description": "read it back (404 until its publication round, while `published` is false)",
        },
        "ReportPost": {"operationId": "reportPost", "parameters": _NEW_ID},
        "EditPost": {"operationId": "editPost", "parameters": _NEW_ID_AND_TOKEN},
        "ExtendPost": {"operationId": "extendPost", "parameters": _NEW_ID_AND_TOKEN},
        "FulfilPost": {"operationId": "fulfilPost", "parameters": _NEW_ID_AND_TOKEN},
        "DeletePost": {"operationId": "deletePost", "parameters": _NEW_ID_AND_TOKEN},
    }


def post_routes(ctx: Context) -> list[Route]:
    """The public posts API: search, create, read, report, and the poster's changes with the token."""
    search = [
        _query(
            "cell",
            {"type": "string", "pattern": cell_pattern(ctx.cell_res)},
            "H3 cell id (hex) inside the served area, at the site's resolution or finer",
            required=True,
        ),
        _within(),
        *_filters(ctx, any_status=False),
    ]
    created = _ok("created; Location names the new post", "Created")
    created["links"] = _created_links()
    created["headers"] = {"Location": {"schema": {"type": "string"}, "description": "the new post's URL"}}
    return [
        Route(
            "/api/v1/posts",
            "get",
            {
                "operationId": "listPosts",
                "summary": "Open posts within walking distance of a cell, nearest first",
                "parameters": search,
                "responses": {
                    "200": _geojson("posts with walk_m", "Posts"),
                    "400": _error("a parameter is invalid; `field` names it"),
                    "422": _error("the cell is outside the served area"),
                },
            },
        ),
        Route(
            "/api/v1/posts",
            "post",
            {
                "operationId": "createPost",
                "summary": "Post an offer or need",
                "requestBody": _body("NewPost"),
                "responses": {
                    "201": created,
                    "400": _error("not a JSON object"),
                    "413": _error("body too large"),
                    "422": _error("a field is invalid; `field` names it"),
                    "429": _error("too many posts from this client, or in total; see Retry-After"),
                },
            },
        ),
        Route(
            "/api/v1/posts/{id}",
            "get",
            {
                "operationId": "getPost",
                "summary": "One open post",
                "parameters": [{"$ref": "#/components/parameters/PostId"}],
                "responses": {
                    "200": _geojson("the post", "Post"),
                    "404": _error("no open post with this id"),
                },
            },
        ),
        Route(
            "/api/v1/posts/{id}",
            "delete",
            {
                "operationId": "deletePost",
                "summary": "Delete a post with its private token",
                "parameters": _ID_AND_TOKEN,
                "security": _WITH_TOKEN,
                "responses": {"204": {"description": "deleted"}, **_TOKEN_ERRORS},
            },
        ),
        Route(
            "/api/v1/posts/{id}",
            "patch",
            {
                "operationId": "editPost",
                "summary": "Change a post's text with its private token (nothing else can change)",
                "parameters": _ID_AND_TOKEN,
                "security": _WITH_TOKEN,
                "requestBody": _body("NewText"),
                "responses": {"200": _ok("the text as stored", "Edited"), **_TOKEN_ERRORS, **_BODY_ERRORS},
            },
        ),
        Route(
            "/api/v1/posts/{id}/extend",
            "post",
            {
                "operationId": "extendPost",
                "summary": "Keep a post up longer, with its private token",
                "parameters": _ID_AND_TOKEN,
                "security": _WITH_TOKEN,
                "requestBody": _body("Extend"),
                "responses": {"200": _ok("its new last day", "Extended"), **_TOKEN_ERRORS, **_BODY_ERRORS},
            },
        ),
        Route(
            "/api/v1/posts/{id}/fulfilled",
            "post",
            {
                "operationId": "fulfilPost",
                "summary": "Mark a post fulfilled with its private token",
                "parameters": _ID_AND_TOKEN,
                "security": _WITH_TOKEN,
                "responses": {"200": _ok("marked fulfilled", "Fulfilled"), **_TOKEN_ERRORS},
            },
        ),
        Route(
            "/api/v1/posts/{id}/report",
            "post",
            {
                "operationId": "reportPost",
                "summary": "Report an open post to the coordinators",
                "parameters": [{"$ref": "#/components/parameters/PostId"}],
                "requestBody": _body("Report"),
                "responses": {
                    "202": _ok("counted; it waits in the moderation queue", "Reported"),
                    "400": _error("not a JSON object"),
                    "404": _error("no open post with this id"),
                    "413": _error("body too large"),
                    "422": _error("the reason is missing or unknown, or another field was sent"),
                    "429": _error("too many writes from this client in a short time; see Retry-After"),
                },
            },
        ),
    ]


def public_routes(_ctx: Context) -> list[Route]:
    """The served area and this document."""
    return [
        Route(
            "/api/v1/districts",
            "get",
            {
                "operationId": "listDistricts",
                "summary": "The served area's districts (© OpenStreetMap contributors, ODbL)",
                "responses": {"200": _geojson("districts", "Districts")},
            },
        ),
        Route(
            "/api/v1/openapi.json",
            "get",
            {
                "operationId": "getOpenAPI",
                "summary": "This document",
                "responses": {
                    "200": _ok("OpenAPI 3.1", {"type": "object", "required": ["openapi", "paths"]})
                },
            },
        ),
    ]


def _coordinator_schemas(ctx: Context) -> dict[str, Any]:
    count = {"type": "integer", "minimum": 0}
    share = {"type": ["number", "null"], "minimum": 0, "maximum": 1}
    per_category = {
        f"{c}_{what}": share if what == "share_met" else count
        for c in ctx.categories
        for what in ("offers", "needs", "unmet", "share_met")
    }
    return {
        "DistrictTable": {
            "type": "object",
            "required": ["within_m", "categories", "districts"],
            "properties": {
                "within_m": {"enum": list(WITHIN_CHOICES)},
                "categories": {"type": "array", "items": {"enum": list(ctx.categories)}},
                "districts": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["district", "name", "rank", "offers", "needs", "unmet", "share_met"],
                        "properties": {
                            "district": _enum_or_string(ctx.districts),
                            "name": {"type": "string"},
                            "rank": {"type": "integer", "minimum": 1},
                            "offers": count,
                            "needs": count,
                            "unmet": count,
                            "share_met": share,
                            **per_category,
                        },
                    },
                },
            },
        },
        "ModerationPosts": {
            "type": "object",
            "required": ["total", "page", "per_page", "posts"],
            "properties": {
                "total": count,
                "page": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
                "per_page": {"type": "integer", "minimum": 1},
                "posts": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["id", "kind", "category", "text", "district", "status", "expired"],
                        "properties": {
                            "id": {"type": "string", "pattern": ID_PATTERN},
                            "kind": {"enum": KINDS},
                            "category": {"type": "string"},
                            "text": {"type": "string"},
                            "contact": {"type": ["string", "null"]},
                            "district": {"type": "string"},
                            "created_day": {"type": "string"},
                            "expires_day": {"type": "string"},
                            "status": {"enum": STATUSES},
                            "expired": {"type": "boolean"},
                        },
                    },
                },
            },
        },
    }


def coordinator_routes(ctx: Context) -> list[Route]:
    """The coordinators' read-only JSON: their login cookie, never cached (``no-store``)."""
    login: list[dict[str, list[str]]] = [{"coordinatorSession": []}]
    not_logged_in = _error("not logged in as a coordinator")
    schemas = _coordinator_schemas(ctx)
    search = [
        *_filters(ctx, any_status=True),
        _query(
            "q",
            {"type": "string", "maxLength": MAX_QUERY},
            "text found in a post's text or contact (any case, taken literally)",
        ),
        _query(
            "cell",
            {"type": "string", "pattern": cell_pattern(ctx.cell_res)},
            "one hexagon (H3 id at the site's resolution or finer)",
        ),
        _query("reported", {"enum": ["", "0", "1"]}, "1: reported posts only, most reported first"),
        _query("page", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1}, "1,000 a page"),
    ]
    return [
        Route(
            "/api/v1/coordinator/districts",
            "get",
            {
                "operationId": "coordinatorDistricts",
                "summary": "Unmet needs by district, as the coordinator page and /export/districts.csv",
                "security": login,
                "parameters": [_within()],
                "responses": {
                    "200": _ok("districts, most unmet first", "DistrictTable"),
                    "400": _error("a parameter is invalid; `field` names it"),
                    "401": not_logged_in,
                },
            },
            schemas,
        ),
        Route(
            "/api/v1/coordinator/posts",
            "get",
            {
                "operationId": "coordinatorPosts",
                "summary": "Posts of every status for moderation, with the moderation page's filters",
                "security": login,
                "parameters": search,
                "responses": {
                    "200": _ok("one page of posts, newest day first", "ModerationPosts"),
                    "400": _error("a parameter is invalid; `field` names it"),
                    "401": not_logged_in,
                },
            },
            schemas,
        ),
    ]


def _reply_schemas(max_chars: int) -> dict[str, Any]:
    """Private replies (docs/replies.md): the server sees public keys and ciphertext only."""
    key = {
        "type": "string",
        "pattern": KEY_PATTERN,
        "maxLength": MAX_KEY_CHARS,
        "description": "public key: unpadded base64url of a DER SubjectPublicKeyInfo, P-256 or X25519",
    }
    wire = {
        "type": "string",
        "pattern": WIRE_PATTERN,
        "maxLength": max_wire_chars(max_chars),
        "description": f"an encrypted version-2 message (docs/replies.md), at most {max_chars} characters of"
        " text; its header's counters must come next in the conversation and its day be the site's",
    }
    today = {"type": "string", "format": "date", "description": "the site's day: the next message carries it"}
    message = {
        "type": "object",
        "required": ["from", "message", "day"],
        "properties": {
            "from": {"enum": ["replier", "poster"]},
            "message": {"type": "string"},
            "day": {"type": "string", "format": "date"},
        },
    }
    messages = {"type": "array", "items": message, "description": "oldest first (v1 and v2 messages)"}
    nullable_key = {"type": ["string", "null"], "description": "the post's public key (null: none)"}
    return {
        "NewThread": {
            "type": "object",
            "additionalProperties": False,
            "required": ["key", "message"],
            "description": "A replier's fresh public key (on the post's curve) and first message.",
            "properties": {"key": key, "message": wire},
        },
        "ThreadStarted": {
            "type": "object",
            "required": ["thread", "token", "link"],
            "properties": {
                "thread": {"type": "string", "pattern": ID_PATTERN},
                "token": {"type": "string", "description": "private; shown once, needed to read and write"},
                "link": {"type": "string", "description": "/thread/<id>/<token>; add #k=<private key>"},
            },
        },
        "Thread": {
            "type": "object",
            "required": ["thread", "post", "post_key", "replier_key", "today", "messages"],
            "properties": {
                "thread": {"type": "string"},
                "post": {"type": "string"},
                "post_key": nullable_key,
                "replier_key": {"type": "string"},
                "today": today,
                "messages": messages,
            },
        },
        "PostThreads": {
            "type": "object",
            "required": ["post", "post_key", "today", "page", "pages", "per_page", "total", "threads"],
            "properties": {
                "post": {"type": "string"},
                "post_key": nullable_key,
                "today": today,
                "page": {"type": "integer", "minimum": 1},
                "pages": {"type": "integer", "minimum": 1},
                "per_page": {"type": "integer", "minimum": 1},
                "total": {"type": "integer", "minimum": 0, "description": "conversations in all"},
                "threads": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["thread", "replier_key", "messages"],
                        "properties": {
                            "thread": {"type": "string"},
                            "replier_key": {"type": "string"},
                            "messages": messages,
                        },
                    },
                },
            },
        },
        "NewMessage": {
            "type": "object",
            "additionalProperties": False,
            "required": ["message"],
            "properties": {"message": wire},
        },
        "MessageAdded": {
            "type": "object",
            "required": ["messages"],
            "properties": {"messages": {"type": "integer", "description": "messages the thread now holds"}},
        },
    }


_THREAD_AND_TOKEN = [
    {"$ref": "#/components/parameters/ThreadId"},
    {"$ref": "#/components/parameters/ThreadToken"},
]
_NEW_THREAD = {"path.thread": "$response.body#/thread", "header.X-Thread-Token": "$response.body#/token"}


def reply_routes(ctx: Context) -> list[Route]:
    """Private replies (docs/replies.md). The wrong token and an unknown id get the same 404."""
    schemas = _reply_schemas(ctx.reply_max_chars)
    limited = _error("too many writes from this client in a short time; see Retry-After")
    either_token = [
        {"$ref": "#/components/parameters/ThreadId"},
        {
            "name": "X-Thread-Token",
            "in": "header",
            "schema": {"type": "string", "pattern": TOKEN_PATTERN},
            "description": "the replier's token: the message goes to the poster",
        },
        {
            "name": "X-Post-Token",
            "in": "header",
            "schema": {"type": "string", "pattern": TOKEN_PATTERN},
            "description": "the post's token: the message goes to the replier",
        },
    ]
    started = _ok("started; the token is shown once", "ThreadStarted")
    started["links"] = {
        "GetThread": {"operationId": "getThread", "parameters": _NEW_THREAD},
        "WriteMessage": {"operationId": "writeMessage", "parameters": _NEW_THREAD},
        "ReportThread": {"operationId": "reportThread", "parameters": _NEW_THREAD},
    }
    reported = {
        "type": "object",
        "properties": {"id": {"type": "string"}, "reason": {"enum": list(REASONS)}},
    }
    return [
        Route(
            "/api/v1/posts/{id}/threads",
            "post",
            {
                "operationId": "startThread",
                "summary": "Start a private conversation with an open post that has a reply_key",
                "parameters": [{"$ref": "#/components/parameters/PostId"}],
                "requestBody": _body("NewThread"),
                "responses": {
                    "201": started,
                    "400": _error("not a JSON object"),
                    "404": _error("no open post with this id"),
                    "403": _error(
                        "the poster deleted a conversation with this key and takes no other from it"
                    ),
                    "409": _error(
                        "the post takes no replies, or has as many conversations as it can take, or the"
                        " message's counters are not a first message's"
                    ),
                    "413": _error("body too large"),
                    "422": _error(
                        "the key or the message is invalid, or not of the site's day; `field` names it"
                    ),
                    "429": _error(
                        "too many posts and conversations from this client, or conversations with this post;"
                        " see Retry-After"
                    ),
                },
            },
            schemas,
        ),
        Route(
            "/api/v1/posts/{id}/threads",
            "get",
            {
                "operationId": "listThreads",
                "summary": "The poster's view: their post's conversations, a page at a time",
                "security": _WITH_TOKEN,
                "parameters": [
                    *_ID_AND_TOKEN,
                    {
                        "name": "page",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
                        "description": "which page (from 1) of per_page conversations",
                    },
                ],
                "responses": {
                    "200": _ok(
                        "one page of conversations, the one with the newest message first (by day; then a"
                        " stable order)",
                        "PostThreads",
                    ),
                    "400": _error("no X-Post-Token header, or a bad page"),
                    "404": _error("no post with this id and token"),
                },
            },
        ),
        Route(
            "/api/v1/threads/{thread}",
            "get",
            {
                "operationId": "getThread",
                "summary": "One conversation: the replier's (X-Thread-Token) or its poster's (X-Post-Token)",
                "parameters": either_token,
                "responses": {
                    "200": _ok("the conversation", "Thread"),
                    "401": _error("not exactly one token header (whether or not the conversation exists)"),
                    "404": _error("no conversation with this id and token"),
                },
            },
        ),
        Route(
            "/api/v1/threads/{thread}",
            "delete",
            {
                "operationId": "deleteThread",
                "summary": "The poster deletes a conversation; its replier key starts no other with the post",
                "security": _WITH_TOKEN,
                "parameters": [
                    {"$ref": "#/components/parameters/ThreadId"},
                    {"$ref": "#/components/parameters/Token"},
                ],
                "responses": {
                    "204": {"description": "deleted, and its replier key blocked"},
                    "400": _error("no X-Post-Token header (whether or not the conversation exists)"),
                    "404": _error("no conversation with this id on a post of this token"),
                    "429": limited,
                },
            },
        ),
        Route(
            "/api/v1/threads/{thread}/messages",
            "post",
            {
                "operationId": "writeMessage",
                "summary": "Write in a conversation as the replier (X-Thread-Token) or poster (X-Post-Token)",
                "parameters": either_token,
                "requestBody": _body("NewMessage"),
                "responses": {
                    "201": _ok("stored", "MessageAdded"),
                    "400": _error("not a JSON object"),
                    "401": _error("not exactly one token header (whether or not the conversation exists)"),
                    "404": _error("no conversation with this id and token"),
                    "409": _error(
                        "the conversation is full, or its post no longer takes messages, or the message's"
                        " counters do not come next (read it again)"
                    ),
                    "413": _error("body too large"),
                    "422": _error(
                        "the message is invalid or not of the site's day, or another field was sent"
                    ),
                    "429": limited,
                },
            },
        ),
        Route(
            "/api/v1/threads/{thread}/report",
            "post",
            {
                "operationId": "reportThread",
                "summary": "Report the conversation's post to the coordinators (they never see messages)",
                "security": [{"threadToken": []}],
                "parameters": _THREAD_AND_TOKEN,
                "requestBody": _body("Report"),
                "responses": {
                    "202": _ok("counted; it waits in the moderation queue", reported),
                    "400": _error("no X-Thread-Token header, or not a JSON object"),
                    "404": _error("no conversation with this id and token, or its post is no longer open"),
                    "413": _error("body too large"),
                    "422": _error("the reason is missing or unknown, or another field was sent"),
                    "429": limited,
                },
            },
        ),
    ]


# Each group describes some routes; add a group (or a route to one) with each new /api/v1 route.
GROUPS: list[Callable[[Context], list[Route]]] = [
    post_routes,
    public_routes,
    coordinator_routes,
    reply_routes,
]


def routes(ctx: Context) -> list[Route]:
    return [route for group in GROUPS for route in group(ctx)]


def document(
    categories: Sequence[str],
    max_expires_days: int = 60,
    districts: Sequence[str] = (),
    cell_res: int = 9,
    reply_max_chars: int = 1000,
) -> dict[str, Any]:
    ctx = Context(tuple(categories), max_expires_days, tuple(districts), cell_res, reply_max_chars)
    components = _components(ctx)
    paths: dict[str, dict[str, Any]] = {}
    seen: set[str] = set()
    for route in routes(ctx):
        operation_id = route.operation["operationId"]
        if operation_id in seen or route.method in paths.get(route.path, {}):
            raise ValueError(f"described twice: {operation_id} ({route.method} {route.path})")
        seen.add(operation_id)
        paths.setdefault(route.path, {})[route.method] = route.operation
        components["schemas"].update(route.schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "mapaid",
            "version": "1",
            "description": "Neighbourhood offers and needs by H3 cell. Errors are JSON {error, field}; "
            "405 for a wrong method on any path.",
        },
        "paths": paths,
        "components": components,
    }
