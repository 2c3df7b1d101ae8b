"""Posting and the private link: the form, the page that shows the link, and what the link allows.

Post, then redirect (PRG): ``POST /post`` answers 303 to ``/posted``, so a reload or Back never posts
again, and the form's one-time nonce (mapaid.formonce) turns a second submission of the same form into
the first one's result. The private link never travels in a redirect or a query string: ``/posted`` takes
it from an encrypted cookie of its own (mapaid.postedlink), which the answer to the next request,
whatever it is, clears. The page then shows the link with a "new" banner, and its language links (and, through
privatelink.js, the address bar) point at the link itself, so a reload or a language switch opens the
link's own page rather than losing it.
"""

from __future__ import annotations

import math
from typing import Any

import h3.api.basic_int as h3
import numpy as np
from flask import Blueprint, abort, current_app, g, redirect, render_template, request
from flask.wrappers import Response
from flask_babel import gettext, ngettext

from mapaid import postedlink, queryargs
from mapaid.db import get_store, rules, schedule, settings
from mapaid.formonce import FormOnce, Made
from mapaid.hexlabel import hexagon_label
from mapaid.i18n import current_language, translate
from mapaid.intake import IntakeError, Problem
from mapaid.maps import base_parts
from mapaid.models import PENDING, Kind
from mapaid.nearpage import near_view
from mapaid.posting import (
    Action,
    apply,
    authorised,
    check_days,
    create,
    edit_text,
    extend,
    extend_choices,
    form_problems,
)
from mapaid.rounds import Schedule
from mapaid.siteurl import absolute
from mapaid.views.places import search_config
from mapaid.views.replypages import replies_config
from mapaid.views.resident import _cells_config, _html, _map_options

bp = Blueprint("posting", __name__)
# reply_key: a hidden field the browser fills with the post's public key for private replies (docs/replies.md)
FORM_FIELDS = ("kind", "category", "text", "contact", "expires_days", "cell", "reply_key")


def _field_message(problem: Problem) -> str:
    """The form's own words for the mistakes a person makes on it (in their language); intake's message
    for the rest (mapaid.intake; translated there)."""
    if problem.field in ("cell", "lat", "lon", "location"):
        if "outside" in problem.message:
            return str(gettext("This hexagon is outside the area this site serves; choose one on the map."))
        return str(gettext("Click your hexagon on the map."))
    if problem.field == "kind":
        return str(gettext("Choose “I need help” or “I can help”."))
    if problem.field == "category" and "missing" in problem.message:
        return str(gettext("Choose a category."))
    if problem.field == "text" and "empty" in problem.message:
        return str(gettext("Write what you need or what you can give."))
    return translate(problem.message)


def problems_by_field(problems: list[Problem]) -> dict[str, str]:
    found: dict[str, str] = {}
    for problem in problems:
        name = {"expires": "expires_days", "lat": "cell", "lon": "cell", "location": "cell"}.get(
            problem.field, problem.field
        )
        found.setdefault(name, _field_message(problem))
    return found


def _formonce() -> FormOnce:
    once: FormOnce = current_app.extensions["mapaid.formonce"]
    return once


def _post_form(values: dict[str, str], problems: dict[str, str], status: int = 200) -> Response:
    area = get_store().area()
    options = _map_options()
    view = None
    label = ""
    selected = values.get("cell") or None
    if selected:
        try:
            origin = queryargs.cell_id(selected, settings().cell_res, area)
        except queryargs.BadArgument:
            selected = None
        else:
            selected = h3.int_to_str(origin)
            label = hexagon_label(get_store(), origin, current_language())
            view = near_view(origin, np.array([origin], dtype=np.int64))["bounds"]
    parts = base_parts(
        area.districts,
        options.lang,
        tiles=options.tiles,
        tiles_attribution=options.tiles_attribution,
        basemap=options.basemap,
    )
    cells = _cells_config(parts.name, "pick", selected)
    cells["view"] = view
    cells["names"] = {selected: label} if selected else {}
    cells["labels"]["unnamed"] = gettext("the hexagon marked on the map")
    body = render_template(
        "post.html",
        parts=parts,
        cells=cells,
        places=search_config(),
        values=values,
        problems=problems,
        hexagon=label,
        nonce=values.get("form_nonce") or FormOnce.new_nonce(),
        categories=settings().categories,
        kinds=[Kind.NEED.value, Kind.OFFER.value],
        default_days=settings().default_expires_days,
        max_days=settings().max_expires_days,
    )
    return _html(body, status, private=True)


@bp.get("/post")
def post_form() -> Response:
    """``?kind=need|offer`` presets the choice (where the person came from says it); without it neither
    is chosen, so nobody posts an offer by not looking."""
    kind = request.args.get("kind", "").strip().lower()
    values = {"cell": request.args.get("cell", ""), "kind": kind if kind in {k.value for k in Kind} else ""}
    return _post_form(values, {})


def _to_posted(made: Made) -> Response:
    postedlink.hand_over(made.post_id, made.token)
    return redirect(f"{request.script_root}/posted", 303)  # type: ignore[return-value]


@bp.post("/post")
def post_submit() -> Response:
    values = {name: request.form.get(name, "").strip() for name in FORM_FIELDS}
    nonce = request.form.get("form_nonce", "").strip()[:64]
    data: dict[str, object] = {k: v for k, v in values.items() if v != ""}
    once = _formonce()
    if nonce:
        earlier = once.claim(get_store(), nonce)
        if earlier is not None:
            return _to_posted(earlier)
    try:
        problems = form_problems(data, rules())
        if problems:
            raise IntakeError(problems)
        created = create(
            data, rules(), get_store(), settings().secret_key.encode(), at_once=schedule().at_once
        )
    except IntakeError as error:
        if nonce:
            once.release(get_store(), nonce)
        return _post_form({**values, "form_nonce": nonce}, problems_by_field(error.problems), 422)
    except BaseException:
        if nonce:
            once.release(get_store(), nonce)
        raise
    made = Made(created.id, created.token)
    if nonce:
        once.made(get_store(), nonce, made)
    return _to_posted(made)


@bp.get("/posted")
def posted() -> Response:
    """The private link, once: the cookie that brought it is cleared by this answer."""
    link = postedlink.take()
    if link is None or not authorised(get_store(), *link):
        body = render_template("posted.html")
        return _html(body, 200, private=True)
    return _manage_page(*link, new=True)


def _managed(post_id: str, token: str) -> dict[str, Any]:
    store = get_store()
    if not authorised(store, post_id, token):
        abort(
            404, description=gettext("This private link does not match any post (it may have been deleted).")
        )
    post = store.get(post_id)
    if post is None:  # pragma: no cover - authorised implies the row exists
        abort(404)
    return post


def public_within(schedule: Schedule) -> str:
    """When others will see what waits for its publication round, in words and never a clock time (the
    moment is the site's secret): the longest wait, two windows (mapaid/rounds.py), rounded up to a
    figure people say. (Not "within %(num)s ...": its bare "within" would read as an English leak on pages
    that name the ``within`` parameter.)"""
    minutes = math.ceil(schedule.max_delay_s() / 60)
    if minutes <= 1:
        return str(gettext("within a minute"))
    if minutes == 30:
        return str(gettext("within half an hour"))
    if minutes == 60:
        return str(gettext("within an hour"))
    if minutes < 60:
        return str(ngettext("in %(num)s minute at most", "in %(num)s minutes at most", minutes))
    hours = math.ceil(minutes / 60)
    return str(ngettext("in %(num)s hour at most", "in %(num)s hours at most", hours))


def waiting_for(post: dict[str, Any]) -> str | None:
    """What of a post waits for the next round: the post itself (``post``: new, or restored), a change
    of it (``change``), or nothing."""
    if post["status"] == PENDING:
        return "post"
    if post.get("draft_text") or post.get("draft_expires"):
        return "change"
    return None


def _manage_page(
    post_id: str,
    token: str,
    *,
    new: bool = False,
    done: str | None = None,
    problems: dict[str, str] | None = None,
    text: str | None = None,
    status: int = 200,
    confirm_delete: bool = False,
) -> Response:
    post = _managed(post_id, token)
    shown_text = post["draft_text"] or post["text"]  # what the poster made it; others see it at the round
    path = f"{request.script_root}/manage/{post_id}/{token}"
    g.lang_path = path  # the language switcher reopens the link itself (never /posted, never a query)
    body = render_template(
        "manage.html",
        post=post,
        hexagon=hexagon_label(get_store(), int(post["cell"]), current_language()),
        manage_url=absolute(f"/manage/{post_id}/{token}"),
        manage_path=path,
        cell=h3.int_to_str(int(post["cell"])),
        new=new,
        done=done,
        problems=problems or {},
        text=shown_text if text is None else text,
        shown_text=shown_text,
        shown_expires=post["draft_expires"] or post["expires_day"],
        waiting=waiting_for(post),
        public_within=public_within(schedule()),
        extend_days=extend_choices(settings().max_expires_days),
        max_days=settings().max_expires_days,
        confirm_delete=confirm_delete,
        replies=(
            replies_config("poster", post=post_id, token=token, postKey=str(post["reply_key"]))
            if post.get("reply_key")
            else None
        ),
    )
    return _html(body, status, private=True)


@bp.get("/manage/<post_id>/<token>")
def manage(post_id: str, token: str) -> Response:
    return _manage_page(post_id, token)


@bp.post("/manage/<post_id>/<token>")
def manage_action(post_id: str, token: str) -> Response:
    _managed(post_id, token)
    try:
        action = Action(request.form.get("action", ""))
    except ValueError:
        abort(
            400,
            description=gettext("Choose one of the buttons on this page: fulfilled, extend, edit or delete."),
        )
    store = get_store()
    if action is Action.DELETE:
        if request.form.get("confirm") != "yes":
            return _manage_page(post_id, token, confirm_delete=True)
        apply(store, post_id, token, action)
        return _html(render_template("manage.html", post=None, done="deleted"), private=True)
    if action is Action.FULFILLED:
        apply(store, post_id, token, action)
        return _manage_page(post_id, token, done="fulfilled")
    if action is Action.EXTEND:
        try:
            days = check_days(request.form.get("days", ""), rules())
            extend(store, post_id, days, rules(), at_once=schedule().at_once)
        except IntakeError:
            abort(400, description=gettext("Choose how many days to add."))
        return _manage_page(post_id, token, done="extended")
    text = request.form.get("text", "")
    try:
        edit_text(store, post_id, text, rules(), at_once=schedule().at_once)
    except IntakeError as error:
        problems = problems_by_field(error.problems)
        return _manage_page(post_id, token, problems=problems, text=text, status=422)
    return _manage_page(post_id, token, done="edited")
