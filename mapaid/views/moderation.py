"""Moderation pages: posts of every status with filters, and hide / restore / mark fulfilled.

Each action is a CSRF-protected POST that changes the status and writes the audit trail in one
transaction (``mapaid.moderation``); public pages and exports drop a hidden post at once, because their
caches are keyed on the store's revision, which the action bumps.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask.wrappers import Response
from flask_babel import gettext, pgettext
from werkzeug.wrappers import Response as BaseResponse

from mapaid import moderation
from mapaid.db import clock, get_store, settings, today
from mapaid.i18n import current_language, status_label
from mapaid.models import Kind, Status
from mapaid.views.auth import local_target, login_required, no_store, private_page
from mapaid.views.filters import parse_filters, parse_page

bp = Blueprint("moderation", __name__)
no_store(bp)
PAGE_SIZE = 100


def action_label(action: str) -> str:
    """An audit-trail action in this request's language (English shows the stored word, as before)."""
    labels = {
        "hide": pgettext("audit action", "hide"),
        "restore": pgettext("audit action", "restore"),
        "fulfilled": pgettext("audit action", "fulfilled"),
    }
    return str(labels.get(action, action))


@bp.get("/coordinator/posts")
@login_required
def posts() -> Response:
    store = get_store()
    area = store.area()
    filters = parse_filters(request.args, area, settings().categories, with_status=True)
    page = parse_page(request.args.get("page"))
    frame, total = moderation.listing(store, today(), filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    pages = max(1, -(-total // PAGE_SIZE))
    names = {slug: d.name(current_language()) for slug, d in area.by_slug.items()}
    rows = frame.to_dict("records")
    for row in rows:
        row["district_name"] = names.get(row["district"], row["district"])
    query = request.query_string.decode()
    body = render_template(
        "coordinator/posts.html",
        rows=rows,
        total=total,
        page=page,
        pages=pages,
        filters=filters,
        districts=sorted(names.items(), key=lambda kv: kv[1]),
        kinds=[str(k) for k in Kind],
        categories=settings().categories,
        statuses=[str(s) for s in Status],
        here=request.path + (f"?{query}" if query else ""),
        audit=moderation.audit_trail(store, limit=50),
        status_label=status_label,
        action_label=action_label,
    )
    return private_page(body)


@bp.post("/coordinator/posts/<post_id>/<action>")
@login_required
def act(post_id: str, action: str) -> BaseResponse:
    if action not in moderation.ACTIONS:
        known = ", ".join(moderation.ACTIONS)
        abort(
            404,
            description=gettext(
                "unknown action %(action)s; one of: %(known)s", action=repr(action), known=known
            ),
        )
    if not moderation.moderate(get_store(), post_id, action, str(g.coordinator), clock().now()):
        abort(404, description=gettext("There is no such post (it may have expired and been purged)."))
    messages = {
        "hide": gettext("Post %(id)s is hidden.", id=post_id),
        "restore": gettext("Post %(id)s is open again.", id=post_id),
        "fulfilled": gettext("Post %(id)s is marked fulfilled.", id=post_id),
    }
    flash(messages[action])
    return redirect(local_target(request.form.get("next") or url_for("moderation.posts")))
