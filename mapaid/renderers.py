"""One registry of export formats, shared by the web exports, ``mapaid export`` and the OGC API.

As datasette registers its renderers, each format is one entry: its name, the file extension, the media
type every route answers with, whether a browser should download it, and how to render each dataset:
posts (``export.public_frame``: the single definition of public fields) and districts (the unmet-needs
table ``unmet.district_table`` makes, drawn on ``export.district_shapes``). A new format is one entry here,
and the web and the command line both have it at once, with the same bytes and the same content type.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from mapaid import aggregates, export
from mapaid.geo import Area


@dataclass(frozen=True)
class Options:
    """What shapes a file beyond its rows: settings, not per-request choices."""

    csv_bom: bool = True


PostsRender = Callable[[pd.DataFrame, Options], bytes]
DistrictsRender = Callable[[pd.DataFrame, Area, Options], bytes]


@dataclass(frozen=True)
class Renderer:
    name: str
    extension: str
    media_type: str
    download: bool  # a file for a program, not a page for the browser: Content-Disposition: attachment
    posts: PostsRender
    districts: DistrictsRender
    terminal: bool = True  # text a terminal can show; a GeoPackage goes to a file only


RENDERERS: dict[str, Renderer] = {
    r.name: r
    for r in (
        Renderer(
            "geojson",
            "geojson",
            "application/geo+json",
            download=False,
            posts=lambda frame, _o: export.to_geojson(frame),
            districts=lambda table, area, _o: aggregates.to_geojson(table, area),
        ),
        Renderer(
            "csv",
            "csv",
            "text/csv; charset=utf-8",
            download=True,
            posts=lambda frame, o: export.to_csv(frame, bom=o.csv_bom),
            districts=lambda table, area, o: aggregates.to_csv(table, area, bom=o.csv_bom),
        ),
        Renderer(
            "gpkg",
            "gpkg",
            "application/geopackage+sqlite3",
            download=True,
            posts=lambda frame, _o: export.to_gpkg_bytes(frame),
            districts=lambda table, area, _o: aggregates.to_gpkg_bytes(table, area),
            terminal=False,
        ),
    )
}
FORMATS = tuple(RENDERERS)


def by_extension(extension: str) -> Renderer | None:
    """The format a file name's extension names (``posts.csv`` -> csv), if any."""
    return next((r for r in RENDERERS.values() if r.extension == extension), None)
