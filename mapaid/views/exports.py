"""Public exports, the format chosen by the extension: ``/export/posts.geojson``, ``/export/districts.csv``.

The formats are ``mapaid.renderers``, the registry ``mapaid export`` uses too, so a file and its content
type are the same whichever way it is fetched. Posts go through ``export.public_frame`` (the single
definition of public fields) and hold open, unexpired posts only; districts are the unmet-needs aggregates
(``within=400|800|1200``) the coordinator page shows.

Every export without a filter (all posts; districts at any ``within``) is built once per state of the data
and language and served from its file (mapaid.exportfiles, mapaid.storedfile); a filtered one
(``?kind=need``) is built for its request, in one of the few slots mapaid.buildslots allows.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
from flask import Blueprint, abort, current_app, make_response, request
from flask.wrappers import Response
from flask_babel import gettext

from mapaid import aggregates, buildslots, compress, export, queryargs
from mapaid.db import get_store, settings, today
from mapaid.exportfiles import ExportFiles, Key, Shape, database_id
from mapaid.geo import Area
from mapaid.i18n import current_language
from mapaid.public import public_read
from mapaid.renderers import RENDERERS, Options, Renderer, by_extension
from mapaid.storedfile import StoredFile
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
    store = get_store()
    revision = store.revision()  # before the data: no answer is older than the state it is keyed on
    area = store.area()
    options = Options(csv_bom=settings().csv_bom)

    def render() -> bytes:
        if name == "posts":
            return renderer.posts(dataset(area), options)
        return renderer.districts(dataset(area), area, options)

    response: Response
    if name == "posts" and _filtered(area):
        with buildslots.slots().queries.held():
            response = make_response(render())
        response.content_type = renderer.media_type
    else:
        key = Key(
            database_id(settings().database),
            store.get_meta("districts_version") or "0",
            revision,
            today(),
            name,
            renderer.extension,
            _shape(name, renderer),
        )
        textual = compress.textual(renderer.media_type.split(";")[0])  # then a gzip is kept beside it
        entry, plain, packed = export_files().open(key, render, textual, packed=compress.wanted())
        response = StoredFile(entry, plain, packed, renderer.media_type)
    if renderer.download:
        response.headers["Content-Disposition"] = f"attachment; filename={filename}"
    return response


def export_files() -> ExportFiles:
    value: ExportFiles = current_app.extensions["mapaid.exportfiles"]
    return value


def _filtered(area: Area) -> bool:
    """Whether the request names any filter (checked: a bad one is a 400 before anything is built)."""
    chosen = queryargs.filters(request.args, queryargs.Vocabulary.of(settings().categories, area))
    return any(chosen.store_args().values())


def _shape(name: str, renderer: Renderer) -> Shape:
    """What shapes the file besides the data (mapaid.exportfiles.Key)."""
    parts = [("lang", current_language()), ("res", str(settings().cell_res))]
    if renderer.extension == "csv":
        parts.append(("bom", str(settings().csv_bom)))
    if name == "districts":
        within = str(queryargs.within(request.args))
        parts += [("within", within), ("categories", ",".join(settings().categories))]
    return tuple(parts)
