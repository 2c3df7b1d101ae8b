"""Coordinator pages: log in and out, unmet needs by district, moderation; and their read-only JSON API.

Only wiring: accounts (login), unmet (numbers), unmetmap (the map), moderation (status changes and the
audit trail). Pages answer 302 to the login page and the API answers 401 until someone logs in; every
form is CSRF-protected by the app-wide CSRFProtect; no answer here is cached (``no-store``), the JSON API
included. A login throttled or turned away for a busy server answers 429 or 503 with Retry-After, in the
visitor's language, before any password is hashed. A login from a known device (``mapaid.devices``) has
its password checked in a lane of its own; logging out can forget the device.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import pandas as pd
from flask import (
    Blueprint,
    abort,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.wrappers import Response
from flask_babel import gettext
from werkzeug.wrappers import Response as BaseResponse

from mapaid import accounts, moderation, queryargs
from mapaid.cache import SharedCache
from mapaid.db import get_store, now, settings, today
from mapaid.i18n import category_label, current_language
from mapaid.loginguard import Refusal
from mapaid.maps import MapParts
from mapaid.spatial import WITHIN_CHOICES
from mapaid.unmet import cached_store_unmet, cell_table, district_table
from mapaid.unmetmap import HIGHLIGHT, legend, most_unserved, unmet_map
from mapaid.views.auth import (
    begin_login,
    current_coordinator,
    end_login,
    forget_device,
    known_device,
    local_target,
    login_guard,
    login_required,
    no_store,
    private_page,
    remember_device,
)

bp = Blueprint("coordinator", __name__)
no_store(bp)
API_PAGE = 1000
BUSY_RETRY_S = 2
SORTABLE = ("rank", "name", "offers", "needs", "unmet", "share_met")


@bp.route("/coordinator/login", methods=["GET", "POST"])
def login() -> Response | BaseResponse:
    target = local_target(request.values.get("next"))
    if request.method == "GET":
        if current_coordinator() is not None:
            return redirect(target)
        return private_page(render_template("coordinator/login.html", next=target, error=None, name=""))
    name = request.form.get("name", "").strip()
    password = request.form.get("password", "")
    if not name or not password:
        return _login_error(gettext("Enter your name and password."), name, target, 400)
    device = known_device(name)
    try:
        ok = accounts.authenticate(
            get_store(),
            name,
            password,
            now(),
            guard=login_guard(),
            client=login_guard().client(request.remote_addr),
            device=device.id_hash if device is not None else None,
        )
    except accounts.Throttled as refused:
        return _wait(_THROTTLED[refused.reason](), name, target, 429, int(accounts.WINDOW_S))
    except accounts.Busy:
        message = gettext("Several logins are being checked right now; try again in a few seconds.")
        return _wait(message, name, target, 503, BUSY_RETRY_S)
    if ok:
        try:
            begin_login(name)
        except LookupError:  # the account was removed since its password was checked
            ok = False
    if not ok:
        return _login_error(gettext("Wrong name or password."), name, target, 401)
    response = redirect(target)
    remember_device(response, name, device)
    return response


_THROTTLED = {
    Refusal.ACCOUNT: lambda: gettext("Too many failed logins for this account; wait a minute and try again."),
    Refusal.CLIENT: lambda: gettext(
        "Too many login attempts from your connection; wait a minute and try again."
    ),
}


def _wait(message: str, name: str, target: str, status: int, retry_after: int) -> Response:
    response = _login_error(message, name, target, status)
    response.headers["Retry-After"] = str(retry_after)
    return response


def _login_error(message: str, name: str, target: str, status: int) -> Response:
    page = render_template("coordinator/login.html", next=target, error=message, name=name)
    return private_page(page, status)


@bp.post("/coordinator/logout")
def logout() -> BaseResponse:
    """Log out; with ``forget`` (the second button), this browser stops being a known device too."""
    end_login()
    response = redirect(url_for("coordinator.login"))
    if request.form.get("forget"):
        forget_device(response)
    return response


def _sort_args() -> tuple[str, bool]:
    key = request.args.get("sort", "rank")
    if key not in SORTABLE:
        abort(400, description=gettext("sort must be one of %(keys)s", keys=", ".join(SORTABLE)))
    order = request.args.get("order", "asc" if key in ("rank", "name", "share_met") else "desc")
    if order not in ("asc", "desc"):
        abort(400, description=gettext("order must be asc or desc"))
    return key, order == "asc"


def _numbers(within: int) -> tuple[pd.DataFrame, pd.DataFrame, tuple[str, ...]]:
    store = get_store()
    result = cached_store_unmet(
        store, today(), settings().categories, within, database=str(settings().database)
    )
    return (
        district_table(result, store.area(), current_language()),
        cell_table(result),
        result.tally.categories,
    )


def _sorted_rows(rows: list[dict[str, Any]], key: str, ascending: bool) -> list[dict[str, Any]]:
    """Rows sorted by ``key`` (then by rank and category, for a stable table); empty shares go last."""
    rows = sorted(rows, key=lambda r: (r["rank"], r.get("category", "")))
    present = [r for r in rows if not _missing(r[key])]
    present.sort(key=lambda r: r[key], reverse=not ascending)
    return present + [r for r in rows if _missing(r[key])]


def _missing(value: object) -> bool:
    return value is None or value != value


def _json_rows(records: list[dict[Any, Any]]) -> list[dict[Any, Any]]:
    """Records with missing values (None, NaN) as None, so JSON shows null rather than NaN."""
    return [{k: (None if _missing(v) else v) for k, v in r.items()} for r in records]


_MAPS: SharedCache[MapParts] = SharedCache("unmet-needs map", 12)


def _map_parts(
    within: int, table: pd.DataFrame, cells: pd.DataFrame, categories: tuple[str, ...]
) -> MapParts:
    """The rendered map, kept until the data changes: at 400 m a big city has thousands of hexagons
    with unmet needs, which take folium a while. The page around it is per session (CSRF token)."""
    store = get_store()
    tiles = settings().tiles
    attribution = settings().tiles_attribution
    lang = current_language()

    def make() -> MapParts:
        aliases = {
            "offers": gettext("Offers"),
            "needs": gettext("Needs"),
            "unmet": gettext("Unmet needs"),
            "met": gettext("Needs met"),
            "by_category": gettext("Unmet / needs by category"),
            "districts": gettext("Districts by unmet needs"),
            "hexagons": gettext("Hexagons with unmet needs"),
            "tiles": gettext("Map tiles"),
            "list": gettext("List these unmet needs"),
        }
        return unmet_map(
            table,
            cells,
            store.area(),
            lang=lang,
            categories=categories,
            labels={c: str(category_label(c)) for c in categories},
            aliases=aliases,
            tiles=tiles,
            tiles_attribution=attribution,
            cell_link=_unmet_list,
        )

    return _MAPS.get_or_make(
        make,
        database=str(settings().database),
        revision=store.revision(),
        day=today(),
        within=within,
        categories=categories,
        lang=lang,
        tiles=tiles,
        attribution=attribution,
    )


def _unmet_list(cell: str, categories: Sequence[str]) -> str:
    """The moderation list of a gap hexagon's unmet needs: open needs there, of the categories no offer
    within reach meets (in one cell a category's needs are met or unmet together)."""
    return url_for("moderation.posts", cell=cell, kind="need", status="open", category=",".join(categories))


@bp.get("/coordinator")
@login_required
def dashboard() -> Response:
    within = queryargs.within(request.args)
    key, ascending = _sort_args()
    table, cells, categories = _numbers(within)
    parts = _map_parts(within, table, cells, categories)
    records = cast(list[dict[str, Any]], table.to_dict("records"))
    per_category = [
        {
            "district": row["district"],
            "name": row["name"],
            "rank": row["rank"],
            "category": c,
            "offers": row[f"{c}_offers"],
            "needs": row[f"{c}_needs"],
            "unmet": row[f"{c}_unmet"],
            "share_met": row[f"{c}_share_met"],
        }
        for row in records
        for c in categories
        if row[f"{c}_offers"] or row[f"{c}_needs"]  # a category with no posts in a district: no row
    ]
    body = render_template(
        "coordinator/dashboard.html",
        parts=parts,
        within=within,
        within_choices=WITHIN_CHOICES,
        table=_sorted_rows(records, key, ascending),
        per_category=_sorted_rows(per_category, key, ascending),
        top=set(most_unserved(table)),
        sort=key,
        ascending=ascending,
        legend=legend(
            int(table["unmet"].max()) if len(table) else 0,
            gettext("Unmet needs per district"),
            [(HIGHLIGHT, gettext("outline: the most unserved districts"))],
        ),
        cell_legend=legend(
            int(cells["unmet"].max()) if len(cells) else 0, gettext("Unmet needs per hexagon")
        ),
        hexagons=len(cells),
        walk_share=_network_share(table),
    )
    return private_page(body)


def _network_share(table: pd.DataFrame) -> str | None:
    """The share of all needs whose walks the street graph measured, as "42 %"; None when none did."""
    needs = int(table["needs"].sum())
    covered = float((table["needs"] * table["walk_network_share"].fillna(0)).sum())
    return None if covered <= 0 or needs == 0 else f"{covered / needs:.0%}"


@bp.get("/api/v1/coordinator/districts")
@login_required
def api_districts() -> Response:
    """The district table as JSON: the same numbers as the page and /export/districts.csv."""
    within = queryargs.within(request.args)
    table, _, categories = _numbers(within)
    rows = _json_rows(table.to_dict("records"))
    return jsonify(within_m=within, categories=list(categories), districts=rows)


@bp.get("/api/v1/coordinator/posts")
@login_required
def api_posts() -> Response:
    """Posts of every status for moderation, with the same filters and search (q, cell, reported) as the
    moderation page."""
    store = get_store()
    vocabulary = queryargs.Vocabulary.of(settings().categories, store.area())
    filters = queryargs.filters(request.args, vocabulary, any_status=True)
    search = queryargs.search(request.args, settings().cell_res)
    page = queryargs.page(request.args)
    frame, total = moderation.listing(
        store, today(), filters.store_args(), limit=API_PAGE, offset=(page - 1) * API_PAGE, search=search
    )
    columns = ["id", "kind", "category", "text", "contact", "district", "created_day", "expires_day"]
    posts = frame[[*columns, "status", "expired"]].to_dict("records")
    return jsonify(
        total=total,
        page=page,
        per_page=API_PAGE,
        posts=_json_rows(posts),
    )
