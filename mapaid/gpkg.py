"""GeoPackages that GDAL 3.6 and later, QGIS and GDAL's ``validate_gpkg.py`` take as they are.

The table goes to GDAL through Arrow (``pyogrio.write_arrow``) rather than through a GeoDataFrame, because
only Arrow says what a column is: ``date32`` becomes a Date field and ``int32`` an Integer, where pandas'
text dates and int64 numbers would become String and Integer64. The types come from the schema, not from
the values, so an export of no rows has the same layout as a full one.

``VERSION=1.2``: GDAL 3.8 and later write GeoPackage 1.4 by default, which GDAL 3.6 opens with a warning
("may only be partially supported") and whose R-tree triggers its ``validate_gpkg.py`` refuses. Nothing we
write needs 1.3 or 1.4, so we write the version every reader knows.
"""

from __future__ import annotations

import sqlite3
import tempfile
from contextlib import closing
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyogrio
import shapely

VERSION = "1.2"


def geometry_column(geometries: np.ndarray) -> pa.Array:
    """Shapely geometries as the WKB column GDAL reads (``binary``, even when there are none)."""
    wkb = shapely.to_wkb(geometries) if len(geometries) else np.empty(0, dtype=object)
    return pa.array(list(wkb), type=pa.binary())


EPOCH = "1970-01-01"


def write(table: pa.Table, path: Path, layer: str, geometry_type: str, last_change: str = EPOCH) -> None:
    """``table`` (with a WKB ``geom`` column, lon/lat in EPSG:4326) as the only layer of a new file.

    GDAL stamps ``gpkg_contents.last_change`` with the moment of writing, so two exports of the same rows
    would differ in those bytes: a download's ETag would change on every request, and a reader taking the
    file in ranges (GDAL's /vsicurl/) could get pieces of two files. The stamp becomes ``last_change`` (a
    day, midnight UTC) instead."""
    path.unlink(missing_ok=True)
    pyogrio.write_arrow(
        table,
        path,
        layer=layer,
        driver="GPKG",
        geometry_name="geom",
        geometry_type=geometry_type,
        crs="EPSG:4326",
        dataset_options={"VERSION": VERSION},
        layer_options={"SPATIAL_INDEX": "YES"},
    )
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("UPDATE gpkg_contents SET last_change = ?", (f"{last_change}T00:00:00.000Z",))


def to_bytes(table: pa.Table, layer: str, geometry_type: str, last_change: str = EPOCH) -> bytes:
    """GDAL writes GeoPackages to files only: write one in a private temporary folder and read it back."""
    with tempfile.TemporaryDirectory(prefix="mapaid-export-") as folder:
        path = Path(folder) / f"{layer}.gpkg"
        write(table, path, layer, geometry_type, last_change)
        return path.read_bytes()
