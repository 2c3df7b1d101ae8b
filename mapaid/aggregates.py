"""District aggregates of unmet needs as files: RFC 7946 GeoJSON (district polygons) and CSV.

Both take the frame ``unmet.district_table`` makes, so the page, the exports and ``mapaid report`` show the
same numbers. Shares are 0-1 (empty in CSV, null in GeoJSON where a district has no needs).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import orjson
import pandas as pd
import shapely

from mapaid import csvfile
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
    geoms = dict(zip(area.districts["slug"], area.districts.geometry.values, strict=True))
    features = []
    for row in table.to_dict("records"):
        geom = shapely.transform(geoms[row["district"]], lambda xy: np.round(xy, 5))
        features.append(
            {
                "type": "Feature",
                "id": row["district"],
                "geometry": orjson.loads(shapely.to_geojson(geom)),
                "properties": {k: _plain(v) for k, v in row.items()},
            }
        )
    return orjson.dumps({"type": "FeatureCollection", "attribution": ATTRIBUTION, "features": features})


def to_csv(table: pd.DataFrame) -> bytes:
    """District names come from OpenStreetMap, which anyone edits: neutralised like posts (csvfile)."""
    return csvfile.to_csv(table, float_format="%.4f")
