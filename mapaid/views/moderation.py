"""Moderation pages: posts of every status with filters and a text search, residents' reports, and hide /
restore / mark fulfilled / dismiss reports.

Each action is a CSRF-protected POST that changes the status and writes the audit trail in one
transaction (``mapaid.moderation``); public pages and exports drop a hidden post at once, because their
caches are keyed on the store's revision, which the action bumps. After an action the browser comes back
to the same filters and page, at the post's row (``#post-<id>``), and the post stays listed in its place
once even if it no longer matches; a hide (or fulfilled) comes with an Undo button that restores it.
"""

from __future__ import annotations

import h3.api.basic_int as h3
from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from flask.wrappers import Response
from flask_babel import gettext, pgettext
from werkzeug.wrappers import Response as BaseResponse

from mapaid import moderation, queryargs, reports
from mapaid.db import clock, get_store, schedule, settings, today
from mapaid.i18n import current_language, status_label
from mapaid.models import Kind, Status
from mapaid.views.auth import is_local_path, local_target, login_required, no_store, private_page

bp = Blueprint("moderation", __name__)
no_store(bp)
PAGE_SIZE = 100
KEPT = "mapaid_kept"  # session key: the post just acted on, kept in its place on the next listing
UNDOABLE = ("hide", "fulfilled")  # actions offered an Undo (a restore); dismissed reports are gone


def action_label(action: str) -> str:
    """An audit-trail action in this request's language (English shows the stored word, as before)."""
    labels = {
        "hide": pgettext("audit action", "hide"),
        "restore": pgettext("audit action", "restore"),
        "fulfilled": pgettext("audit action", "fulfilled"),
        "dismiss": pgettext("audit action", "dismiss reports"),
    }
    return str(labels.get(action, action))


@bp.get("/coordinator/posts")
@login_required
def posts() -> Response:
    store = get_store()
    area = store.area()
    filters = queryargs.filters(
        request.args, queryargs.Vocabulary.of(settings().categories, area), any_status=True
    )
    page = queryargs.page(request.args)
    kept = session.pop(KEPT, None)
    kept_id = kept.get("id") if isinstance(kept, dict) else None
    search = queryargs.search(
        request.args, settings().cell_res, kept_id if isinstance(kept_id, str) else None
    )
    frame, total = moderation.listing(
        store, today(), filters.store_args(), limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, search=search
    )
    pages = max(1, -(-total // PAGE_SIZE))
    names = {slug: d.name(current_language()) for slug, d in area.by_slug.items()}
    rows = frame.to_dict("records")
    for row in rows:
        row["district_name"] = names.get(row["district"], row["district"])
    query = request.query_string.decode()
    undo = kept["id"] if isinstance(kept, dict) and kept.get("action") in UNDOABLE else None
    # The listing's own arguments (for the pager, the queue switch and the exports), never ``page``.
    args: dict[str, object] = dict(filters.query())
    if search.text:
        args["q"] = search.text
    if search.cell is not None:
        args["cell"] = h3.int_to_str(search.cell)
    if search.reported:
        args["reported"] = "1"
    public = {k: args[k] for k in ("kind", "category", "district") if k in args}
    body = render_template(
        "coordinator/posts.html",
        rows=rows,
        total=total,
        page=page,
        pages=pages,
        filters=filters,
        search=search,
        undo=undo,
        args=args,
        args_but={name: {k: v for k, v in args.items() if k != name} for name in ("reported", "cell")},
        public_args=public,
        reported_total=reports.queued(store),
        districts=sorted(names.items(), key=lambda kv: kv[1]),
        kinds=[str(k) for k in Kind],
        categories=settings().categories,
        statuses=[str(s) for s in Status],
        here=request.path + (f"?{query}" if query else ""),
        audit=moderation.audit_trail(store, limit=50),
        status_label=status_label,
        action_label=action_label,
        reason_label=reports.reason_label,
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
    done = moderation.moderate(
        get_store(), post_id, action, str(g.coordinator), clock().now(), at_once=schedule().at_once
    )
    if not done:
        abort(404, description=gettext("There is no such post (it may have expired and been purged)."))
    messages = {
        "hide": gettext("Post %(id)s is hidden.", id=post_id),
        "restore": (
            gettext("Post %(id)s is open again.", id=post_id)
            if schedule().at_once
            else gettext("Post %(id)s will be public again at the next publication round.", id=post_id)
        ),
        "fulfilled": gettext("Post %(id)s is marked fulfilled.", id=post_id),
        "dismiss": gettext("The reports of post %(id)s are dismissed.", id=post_id),
    }
    flash(messages[action])
    session[KEPT] = {"id": post_id, "action": action}
    wanted = request.form.get("next") or url_for("moderation.posts")
    if not is_local_path(wanted):
        return redirect(local_target(None))  # no open redirects: the dashboard, as for a login
    return redirect(f"{wanted.split('#', 1)[0]}#post-{post_id}")  # back at the post's row
