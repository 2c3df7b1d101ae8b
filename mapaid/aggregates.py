"""District aggregates of unmet needs as files: RFC 7946 GeoJSON, CSV and GeoPackage (district polygons).

All take the frame ``unmet.district_table`` makes, so the page, the exports and ``mapaid report`` show the
same numbers. Shares are 0-1 (empty in CSV, null in GeoJSON where a district has no needs). Outlines are
``export.district_shapes``: 5 decimals, always MultiPolygon; the CSV carries them as WKT, which GDAL's CSV
driver reads as the geometry (Minsk's largest is ~7,000 characters, well under Excel's 32,767 per cell).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import shapely

from mapaid import csvfile, gpkg
from mapaid.export import district_shapes
from mapaid.geo import Area

ATTRIBUTION = "Districts © OpenStreetMap contributors (ODbL); counts: mapaid"


def with_within(table: pd.DataFrame, within_m: int) -> pd.DataFrame:
    """The table with a ``within_m`` column, so a file says which walking distance its numbers assume."""
    out = table.copy()
    out.insert(3, "within_m", within_m)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else round(float(value), 4)
    if isinstance(value, np.integer):
        return int(value)
    return value


def to_geojson(table: pd.DataFrame, area: Area) -> bytes:
    """One Feature per district: its polygon (lon/lat, 5 decimals) and every column as a property."""
    geoms = district_shapes(area)
    features = []
    for row in table.to_dict("records"):
        geom = geoms[row["district"]]
        features.append(
            {
                "type": "Feature",
                "id": row["district"],
                "geometry": orjson.loads(shapely.to_geojson(geom)),
                "properties": {k: _plain(v) for k, v in row.items()},
            }
        )
    return orjson.dumps({"type": "FeatureCollection", "attribution": ATTRIBUTION, "features": features})


def to_csv(table: pd.DataFrame, area: Area, bom: bool = True) -> bytes:
    """District names come from OpenStreetMap, which anyone edits: neutralised like posts (csvfile)."""
    geoms = district_shapes(area)
    out = table.copy()
    out["WKT"] = [shapely.to_wkt(geoms[d], rounding_precision=5, trim=True) for d in table["district"]]
    return csvfile.to_csv(out, float_format="%.4f", bom=bom)


def _column(values: pd.Series) -> pa.Array:
    """Counts as Integer, shares as Real, names as String in the GeoPackage, whatever the values."""
    if pd.api.types.is_integer_dtype(values.dtype):
        return pa.array(values, type=pa.int32())
    if pd.api.types.is_float_dtype(values.dtype):
        return pa.array(values, type=pa.float64(), from_pandas=True)
    return pa.array(values.astype(object), type=pa.string(), from_pandas=True)


def to_gpkg_bytes(table: pd.DataFrame, area: Area) -> bytes:
    """One layer, ``districts``, of MultiPolygons with every column of the table."""
    geoms = district_shapes(area)
    columns = {str(name): _column(table[name]) for name in table.columns}
    columns["geom"] = gpkg.geometry_column(np.array([geoms[d] for d in table["district"]], dtype=object))
    return gpkg.to_bytes(pa.table(columns), "districts", "MultiPolygon")
