"""JSON API under /api/v1: the resident pages' functions for other programs.

Authentication is per post (the private token in ``X-Post-Token``), not by cookie, so CSRF protection
does not apply here. Errors are ``{"error": ..., "field": ...}`` with a 4xx status, never a stack trace
(web.py answers every HTTP error under /api/ in that shape).
"""

from __future__ import annotations

import math
import re
from typing import Any, NoReturn

import h3.api.basic_int as h3
import orjson
import shapely
from flask import Blueprint, make_response, request
from flask.wrappers import Response
from werkzeug.exceptions import default_exceptions

from mapaid import openapi, queryargs, reports
from mapaid.db import get_store, rules, schedule, settings, today
from mapaid.export import district_shapes, public_frame, to_geojson
from mapaid.intake import IntakeError
from mapaid.maps import OSM_ATTRIBUTION
from mapaid.nearby import Query, nearby
from mapaid.posting import Action, apply, authorised, check_days, create, edit_text, extend
from mapaid.public import public_read
from mapaid.web import as_http, csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)
TOKEN_HEADER = "X-Post-Token"  # noqa: S105 - a header name, not a secret
WRONG_TOKEN = "no post with this id and token"  # noqa: S105 - whatever the post's state, or none
GEOJSON = "application/geo+json"
_TOKEN_SHAPE = re.compile(openapi.TOKEN_PATTERN.strip("^$"))


def fail(code: int, message: str, field: str | None = None) -> NoReturn:
    """Stop with a JSON error naming the field at fault."""
    error = default_exceptions[code](description=message)
    error.field = field  # type: ignore[attr-defined]
    raise error


def _json(payload: Any, status: int = 200, mimetype: str = "application/json") -> Response:
    response = make_response(payload if isinstance(payload, bytes) else orjson.dumps(payload), status)
    response.mimetype = mimetype
    return response


def _json_object() -> dict[str, Any]:
    """The request's JSON object. Python's JSON reader recurses once per nesting level and raises
    RecursionError (not a ValueError) near a thousand levels; that is a bad request, not our fault."""
    try:
        data = request.get_json(silent=True)
    except RecursionError:
        fail(400, "the JSON is nested too deeply")
    if not isinstance(data, dict):
        fail(400, "send a JSON object with Content-Type: application/json")
    return data


# JSON types as the OpenAPI document gives them; the form's strings share the intake, which is laxer.
_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    **{name: ((str,), "text") for name in ("kind", "category", "text", "cell")},
    "contact": ((str, type(None)), "text or null"),  # null: no contact, as when left out
    "reply_key": ((str, type(None)), "a public key (text) or null"),  # null: the post takes no replies
    "expires_days": ((int, type(None)), "a whole number of days"),  # null: the default
    "lat": ((int, float), "a finite number"),
    "lon": ((int, float), "a finite number"),
}


def _check_types(data: dict[str, Any]) -> None:
    """Refuse a field of the wrong JSON type, naming it. ``60.0`` is a whole number (JSON Schema agrees)."""
    days = data.get("expires_days")
    if isinstance(days, float) and days.is_integer():
        data["expires_days"] = int(days)
    for name, value in data.items():
        types, described = _TYPES.get(name, ((object,), ""))
        if isinstance(value, bool) or not isinstance(value, types) or _not_finite(value):
            fail(422, f"{name} must be {described}", name)
    _check_huge(data)


_HUGE = 10**9  # past any latitude, longitude or number of days; an int64 column holds it


def _check_huge(data: dict[str, Any]) -> None:
    """JSON integers have no bound and Python reads them all; one past a float's or int64's range would be
    called "not a finite number" or overflow a column further on. Say what is wrong instead."""
    for name, limit in (("lat", 90), ("lon", 180)):
        value = data.get(name)
        if isinstance(value, int) and abs(value) > _HUGE:
            fail(422, f"{name} is out of range (±{limit})", name)
    days = data.get("expires_days")
    if isinstance(days, int) and abs(days) > _HUGE:
        most = rules().max_expires_days
        fail(422, f"expires must be between 1 and {most} days from today", "expires_days")


def _not_finite(value: object) -> bool:
    """NaN and ±Infinity: Python's JSON reader takes them (``NaN``, ``Infinity``, ``1e999``), JSON has
    none; a lat of NaN is not "missing", it is not a finite number."""
    return isinstance(value, float) and not math.isfinite(value)


@bp.post("/posts")
def create_post() -> Response:
    data = _json_object()
    _check_types(data)
    try:
        created = create(
            data, rules(), get_store(), settings().secret_key.encode(), at_once=schedule().at_once
        )
    except IntakeError as error:
        first = error.problems[0]
        fail(422, first.message, "expires_days" if first.field == "expires" else first.field)
    response = _json(
        {
            "id": created.id,
            "cell": h3.int_to_str(created.cell),
            "district": created.district,
            "token": created.token,
            "published": schedule().at_once,  # false: public at the next round, 404 everywhere until then
        },
        201,
    )
    response.headers["Location"] = f"{request.script_root}/api/v1/posts/{created.id}"
    response.headers["Cache-Control"] = "no-store"
    return response


def _query() -> Query:
    """The one parser's reading (mapaid.queryargs), as /near reads it; a cell outside the served area is a
    422 here (the request is well formed, its place is not served), a 404 on the page."""
    area = get_store().area()
    try:
        origin = queryargs.cell(request.args, settings().cell_res, area, required=True)
    except queryargs.BadArgument as error:
        raise as_http(error, 422 if error.status == 404 else 400) from None
    assert origin is not None  # required
    vocabulary = queryargs.Vocabulary.of(settings().categories, area)
    return Query(origin, queryargs.within(request.args), queryargs.filters(request.args, vocabulary))


@bp.get("/posts")
@public_read(validators=False)
def list_posts() -> Response:
    """Nearest first, ties by the random id. Computed afresh on every request, never cached per cell
    (mapaid.cache)."""
    query = _query()
    store = get_store()
    found = nearby(store, query, today())
    frame = public_frame(found.posts, store.area(), settings().cell_res)
    frame["walk_m"] = found.posts["walk_m"].round().astype(int).to_numpy()
    frame["reply_key"] = found.posts["reply_key"].to_numpy(dtype=object)
    frame["walk_source"] = found.posts["walk_source"].to_numpy()
    return _json(to_geojson(frame, extra=("walk_m", "walk_source", "reply_key")), mimetype=GEOJSON)


def _public_post(post_id: str) -> Any:
    store = get_store()
    posts = store.posts(today(), id=[post_id])
    if posts.empty:
        fail(404, "no open post with this id", "id")
    frame = public_frame(posts, store.area(), settings().cell_res)
    # The public key for private replies (docs/replies.md): public, but not part of the export formats.
    frame["reply_key"] = posts["reply_key"].to_numpy(dtype=object)
    return orjson.loads(to_geojson(frame, extra=("reply_key",)))["features"][0]


@bp.get("/posts/<post_id>")
@public_read
def get_post(post_id: str) -> Response:
    return _json(_public_post(post_id), mimetype=GEOJSON)


def _token(post_id: str) -> str:
    """The request's X-Post-Token, once it is known to be this post's. Without one, or with one that is
    not this post's, 401, the same answer whether the post is open, hidden, fulfilled, deleted or never
    was: a wrong token tells nothing about the post. (Not 404: a client, and schemathesis's check that
    authentication is enforced, expect 401 or 403 for credentials that do not open the resource; 403 is
    for a right token asking what it may not do, and no such action exists today.)"""
    token = request.headers.get(TOKEN_HEADER, "")
    if not token:
        fail(401, f"send the post's private token in the {TOKEN_HEADER} header", TOKEN_HEADER)
    if not (_TOKEN_SHAPE.fullmatch(token) and authorised(get_store(), post_id, token)):
        fail(401, WRONG_TOKEN, TOKEN_HEADER)
    return token


def _with_token(post_id: str, action: Action) -> None:
    if not apply(get_store(), post_id, _token(post_id), action):  # pragma: no cover - gone meanwhile
        fail(404, "no post with this id", "id")


@bp.delete("/posts/<post_id>")
def delete_post(post_id: str) -> Response:
    _with_token(post_id, Action.DELETE)
    return make_response("", 204)


@bp.post("/posts/<post_id>/fulfilled")
def fulfil_post(post_id: str) -> Response:
    _with_token(post_id, Action.FULFILLED)
    return _json({"id": post_id, "status": "fulfilled"})


@bp.post("/posts/<post_id>/report")
def report_post(post_id: str) -> Response:
    """A resident's report of an open post, ``{"reason": ...}`` (mapaid.reports keeps the post, the reason
    and the day, nothing about who sent it); 202 once counted for the moderation queue."""
    data = _json_object()
    unknown = sorted(set(data) - {"reason"})
    if unknown:
        fail(422, f"unknown field {unknown[0]!r}; send only reason", unknown[0])
    reason = data.get("reason")
    if not isinstance(reason, str) or reason not in reports.REASONS:
        fail(422, f"reason must be one of {', '.join(reports.REASONS)}", "reason")
    if not reports.add(get_store(), post_id, reason, today()):
        fail(404, "no open post with this id", "id")
    response = _json({"id": post_id, "reason": reason}, 202)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/posts/<post_id>/extend")
def extend_post(post_id: str) -> Response:
    """``{"days": N}``: N more days, up to the site's limit from today (as a new post)."""
    _token(post_id)
    data = _json_object()
    if set(data) - {"days"}:
        fail(422, f"unknown field {sorted(set(data) - {'days'})[0]!r}", sorted(set(data) - {"days"})[0])
    days = data.get("days")
    if isinstance(days, float) and days.is_integer():
        days = int(days)
    if not isinstance(days, int) or isinstance(days, bool):
        fail(422, "days must be a whole number of days", "days")
    try:
        day = extend(get_store(), post_id, check_days(days, rules()), rules(), at_once=schedule().at_once)
    except IntakeError as error:
        fail(422, error.problems[0].message, "days")
    if day is None:  # pragma: no cover - deleted between the token check and now
        fail(404, "no post with this id", "id")
    return _json({"id": post_id, "expires": day.isoformat()})


@bp.patch("/posts/<post_id>")
def edit_post(post_id: str) -> Response:
    """``{"text": ...}``: new text, checked as a new post's would be. Nothing else can change."""
    _token(post_id)
    data = _json_object()
    if set(data) - {"text"}:
        fail(422, f"unknown field {sorted(set(data) - {'text'})[0]!r}", sorted(set(data) - {"text"})[0])
    if not isinstance(data.get("text"), str):
        fail(422, "text must be text", "text")
    try:
        text = edit_text(get_store(), post_id, data["text"], rules(), at_once=schedule().at_once)
    except IntakeError as error:
        fail(422, error.problems[0].message, "text")
    if text is None:  # pragma: no cover - deleted between the token check and now
        fail(404, "no post with this id", "id")
    return _json({"id": post_id, "text": text})


@bp.get("/districts")
@public_read
def districts() -> Response:
    """The served area's districts (GeoJSON, EPSG:4326) with their names in every language: outlines as
    the exports give them (5 decimals, always MultiPolygon), the slug as the Feature's id."""
    area = get_store().area()
    shapes = district_shapes(area)
    features = [
        {
            "type": "Feature",
            "id": d.slug,
            "geometry": orjson.loads(shapely.to_geojson(shapes[d.slug])),
            "properties": {
                "slug": d.slug,
                "name_be": d.name_be,
                "name_ru": d.name_ru,
                "name_en": d.name_en,
                "osm_relation_id": d.osm_relation_id,
            },
        }
        for d in area.by_slug.values()
    ]
    body = {"type": "FeatureCollection", "attribution": OSM_ATTRIBUTION, "features": features}
    return _json(body, mimetype=GEOJSON)


@bp.get("/openapi.json")
@public_read
def spec() -> Response:
    """The OpenAPI document, with this site's categories, districts and resolution as its enums."""
    found = settings()
    districts = get_store().area().slugs
    return _json(
        openapi.document(
            found.categories, found.max_expires_days, districts, found.cell_res, found.reply_max_chars
        )
    )
