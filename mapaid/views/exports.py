"""Public exports, the format chosen by the extension: ``/export/posts.geojson``, ``/export/districts.csv``.

As datasette registers renderers, each dataset has a registry of formats; adding a format is one entry.
Posts go through ``export.public_frame`` (the single definition of public fields) and hold open, unexpired
posts only; districts are the unmet-needs aggregates (``within=400|800|1200``) the coordinator page shows.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from flask import Blueprint, abort, make_response, request
from flask.wrappers import Response
from flask_babel import gettext

from mapaid import aggregates, export, queryargs
from mapaid.db import get_store, settings, today
from mapaid.geo import Area
from mapaid.i18n import current_language
from mapaid.unmet import cached_store_unmet, district_table

bp = Blueprint("exports", __name__)


@dataclass(frozen=True)
class Renderer:
    mimetype: str
    render: Callable[[pd.DataFrame, Area], bytes]
    download: bool = False


def _gpkg(frame: pd.DataFrame, _area: Area) -> bytes:
    """GDAL writes GeoPackages to files only: write one in a private temporary folder and read it back."""
    with tempfile.TemporaryDirectory(prefix="mapaid-export-") as folder:
        path = Path(folder) / "posts.gpkg"
        export.to_gpkg(frame, path)
        return path.read_bytes()


POST_RENDERERS: dict[str, Renderer] = {
    "geojson": Renderer("application/geo+json", lambda f, _a: export.to_geojson(f)),
    "csv": Renderer("text/csv", lambda f, _a: export.to_csv(f), download=True),
    "gpkg": Renderer("application/geopackage+sqlite3", _gpkg, download=True),
}
DISTRICT_RENDERERS: dict[str, Renderer] = {
    "geojson": Renderer("application/geo+json", aggregates.to_geojson),
    "csv": Renderer("text/csv", lambda t, _a: aggregates.to_csv(t), download=True),
}


def _posts_frame(area: Area) -> pd.DataFrame:
    filters = queryargs.filters(request.args, queryargs.Vocabulary.of(settings().categories, area))
    posts = get_store().posts(
        today(), kind=filters.kind, category=filters.category, district=filters.district
    )
    return export.public_frame(posts, area, settings().cell_res, current_language())


def _districts_frame(area: Area) -> pd.DataFrame:
    within = queryargs.within(request.args)
    result = cached_store_unmet(get_store(), today(), settings().categories, within)
    return aggregates.with_within(district_table(result, area, current_language()), within)


DATASETS: dict[str, tuple[Callable[[Area], pd.DataFrame], dict[str, Renderer]]] = {
    "posts": (_posts_frame, POST_RENDERERS),
    "districts": (_districts_frame, DISTRICT_RENDERERS),
}


@bp.get("/export/<filename>")
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
    load, renderers = dataset
    renderer = renderers.get(ext)
    if renderer is None:
        files = ", ".join(f"{name}.{e}" for e in renderers)
        abort(404, description=gettext("%(name)s export comes as %(files)s", name=name, files=files))
    area = get_store().area()
    response = make_response(renderer.render(load(area), area))
    response.mimetype = renderer.mimetype
    if renderer.download:
        response.headers["Content-Disposition"] = f"attachment; filename={filename}"
    return response
