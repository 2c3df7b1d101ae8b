"""Query-string filters shared by the coordinator pages, their API and the exports.

Each filter takes repeated parameters or comma-separated values (``?kind=need&category=food,medicine``);
an empty value means "all". A value we do not know is a 400 naming it and what is allowed, never an empty
result that looks like "nothing there".
"""

from __future__ import annotations

from collections.abc import Sequence

from flask import abort
from flask_babel import gettext
from werkzeug.datastructures import MultiDict

from mapaid.geo import Area
from mapaid.models import Kind, Status
from mapaid.spatial import DEFAULT_WITHIN, WITHIN_CHOICES

MAX_PAGE = 1_000_000  # 10^9 posts at the API's 1,000 a page; OFFSET stays far below 2^63


def parse_within(raw: str | None) -> int:
    if raw in (None, ""):
        return DEFAULT_WITHIN
    allowed = ", ".join(str(w) for w in WITHIN_CHOICES)
    try:
        value = int(str(raw))
    except ValueError:
        abort(400, description=_bad_within(allowed, repr(raw)))
    if value not in WITHIN_CHOICES:
        abort(400, description=_bad_within(allowed, str(value)))
    return value


def _bad_within(allowed: str, value: str) -> str:
    text = gettext("within must be one of %(allowed)s (metres), not %(value)s", allowed=allowed, value=value)
    return str(text)


def parse_page(raw: str | None) -> int:
    """A page number from 1 to ``MAX_PAGE``. ASCII digits only: ``"²".isdigit()`` is true, yet ``int("²")``
    fails; and a bound, as SQLite's OFFSET is a 64-bit integer (past the last page a page is empty anyway)."""
    if raw in (None, ""):
        return 1
    text = str(raw)
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_PAGE:
        abort(400, description=gettext("page must be a whole number from 1 to %(most)s", most=MAX_PAGE))
    return int(text)


def _values(args: MultiDict[str, str], name: str, allowed: Sequence[str]) -> list[str]:
    values = [v.strip() for raw in args.getlist(name) for v in raw.split(",") if v.strip()]
    for value in values:
        if value not in allowed:
            abort(
                400,
                description=gettext(
                    "unknown %(name)s %(value)s; one of: %(allowed)s",
                    name=name,
                    value=repr(value),
                    allowed=", ".join(allowed),
                ),
            )
    return values


def parse_filters(
    args: MultiDict[str, str], area: Area, categories: Sequence[str], *, with_status: bool = False
) -> dict[str, list[str]]:
    """kind, category, district (and, for coordinators, status) filters as ``Store.posts`` takes them."""
    filters = {
        "kind": _values(args, "kind", [str(k) for k in Kind]),
        "category": _values(args, "category", list(categories)),
        "district": _values(args, "district", area.slugs),
    }
    if with_status:
        filters["status"] = _values(args, "status", [str(s) for s in Status])
    elif any(v != str(Status.OPEN) for v in _values(args, "status", [str(s) for s in Status])):
        abort(
            400,
            description=gettext("public exports hold open, unexpired posts only; status can only be open"),
        )
    return filters
