"""Residents report a post to the coordinators: a page with a reason to choose (the API's door is
``POST /api/v1/posts/<id>/report`` in ``views/api.py``).

Only wiring: ``mapaid.reports`` keeps the post's id, the reason and the day, nothing about who reported.
The form is CSRF-protected and both doors count against the writes limit (``mapaid.limits``). Only posts a
resident can see (open, unexpired) can be reported; anything else is a 404, so the page says nothing about
hidden posts.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, make_response, redirect, render_template, request, url_for
from flask.wrappers import Response
from flask_babel import gettext
from werkzeug.wrappers import Response as BaseResponse

from mapaid import reports
from mapaid.db import get_store, today
from mapaid.views.auth import is_local_path

bp = Blueprint("reports", __name__)


def reason_choices() -> list[tuple[str, str]]:
    """(reason, label) in this request's language, in the order the form shows them."""
    return [(r, reports.reason_label(r)) for r in reports.REASONS]


def _back() -> str:
    """Where "back" leads: the page the resident came from, if it is one of ours; else the map."""
    back = request.values.get("back", "")
    return back if back and is_local_path(back) else url_for("resident.index")


def _private(body: str, status: int = 200) -> Response:
    response = make_response(body, status)
    response.headers["Cache-Control"] = "no-store"  # the form carries this visitor's CSRF token
    return response


def _visible_post(post_id: str) -> dict[str, Any]:
    frame = get_store().posts(today(), id=[post_id])
    if frame.empty:
        abort(404, description=gettext("There is no open post with this id (it may have ended)."))
    return {str(k): v for k, v in frame.iloc[0].to_dict().items()}


@bp.get("/report/<post_id>")
def report_form(post_id: str) -> Response:
    post = _visible_post(post_id)
    page = render_template(
        "report.html", post=post, reasons=reason_choices(), back=_back(), problem=None, chosen=""
    )
    return _private(page)


@bp.post("/report/<post_id>")
def report_submit(post_id: str) -> BaseResponse:
    reason = request.form.get("reason", "")
    if reason not in reports.REASONS:
        post = _visible_post(post_id)
        problem = gettext("Choose why you report this post.")
        page = render_template(
            "report.html", post=post, reasons=reason_choices(), back=_back(), problem=problem, chosen=""
        )
        return _private(page, 422)
    if not reports.add(get_store(), post_id, reason, today()):
        abort(404, description=gettext("There is no open post with this id (it may have ended)."))
    return redirect(url_for("reports.reported", back=_back()))


@bp.get("/reported")
def reported() -> Response:
    """After a report (post, then redirect: a reload does not report twice)."""
    return _private(render_template("reported.html", back=_back()))
