"""Public exports, the format chosen by the extension: ``/export/posts.geojson``, ``/export/districts.csv``.

The formats are ``mapaid.renderers``, the registry ``mapaid export`` uses too, so a file and its content
type are the same whichever way it is fetched. Posts go through ``export.public_frame`` (the single
definition of public fields) and hold open, unexpired posts only; districts are the unmet-needs aggregates
(``within=400|800|1200``) the coordinator page shows.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
from flask import Blueprint, abort, make_response, request
from flask.wrappers import Response
from flask_babel import gettext

from mapaid import aggregates, export, queryargs
from mapaid.db import get_store, settings, today
from mapaid.geo import Area
from mapaid.i18n import current_language
from mapaid.public import public_read
from mapaid.renderers import RENDERERS, Options, by_extension
from mapaid.unmet import cached_store_unmet, district_table

bp = Blueprint("exports", __name__)


def _posts_frame(area: Area) -> pd.DataFrame:
    filters = queryargs.filters(request.args, queryargs.Vocabulary.of(settings().categories, area))
    posts = get_store().posts(
        today(), kind=filters.kind, category=filters.category, district=filters.district
    )
    return export.public_frame(posts, area, settings().cell_res, current_language())


def _districts_frame(area: Area) -> pd.DataFrame:
    within = queryargs.within(request.args)
    result = cached_store_unmet(
        get_store(), today(), settings().categories, within, database=str(settings().database)
    )
    return aggregates.with_within(district_table(result, area, current_language()), within)


DATASETS: dict[str, Callable[[Area], pd.DataFrame]] = {"posts": _posts_frame, "districts": _districts_frame}


@bp.get("/export/<filename>")
@public_read
def export_file(filename: str) -> Response:
    name, _, ext = filename.rpartition(".")
    dataset = DATASETS.get(name)
    if dataset is None:
        abort(
            404,
            description=gettext(
                "no export called %(name)s; try posts.geojson or districts.csv", name=repr(filename)
            ),
        )
    renderer = by_extension(ext)
    if renderer is None:
        files = ", ".join(f"{name}.{r.extension}" for r in RENDERERS.values())
        abort(404, description=gettext("%(name)s export comes as %(files)s", name=name, files=files))
    area = get_store().area()
    options = Options(csv_bom=settings().csv_bom)
    if name == "posts":
        body = renderer.posts(dataset(area), options)
    else:
        body = renderer.districts(dataset(area), area, options)
    response = make_response(body)
    response.content_type = renderer.media_type
    if renderer.download:
        response.headers["Content-Disposition"] = f"attachment; filename={filename}"
    return response
