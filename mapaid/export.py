"""Public exports, one renderer per format, all from the same frame of posts.

Only public fields leave: the displayed position (already inside cell ∩ district, 5 decimals), the cell,
the district and what the poster chose to publish. GeoJSON follows RFC 7946: lon/lat, no ``crs`` member.
"""

from __future__ import annotations

from pathlib import Path

import h3.api.basic_int as h3
import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from mapaid import csvfile, gpkg
from mapaid.geo import Area

PROPERTIES = (
    "id",
    "kind",
    "category",
    "text",
    "contact",
    "district",
    "district_name",
    "cell",
    "uncertainty_m",
    "created",
    "expires",
    "status",
)


def uncertainty_m(cell_res: int) -> int:
    """How far the true place may be from the shown one: a cell's width (two edges), to 10 m."""
    return int(round(2 * h3.average_hexagon_edge_length(cell_res, "m"), -1))


def public_frame(posts: pd.DataFrame, area: Area, cell_res: int, lang: str = "en") -> pd.DataFrame:
    """The export columns, in order, plus lon/lat: the single definition every format shares."""
    names = {slug: d.name(lang) for slug, d in area.by_slug.items()}
    cells = posts["cell"].to_numpy(dtype=np.int64)
    unique, inverse = np.unique(cells, return_inverse=True)
    cell_text: object = (
        np.array([h3.int_to_str(int(c)) for c in unique], dtype=object)[inverse] if len(cells) else []
    )
    return pd.DataFrame(
        {
            "id": posts["id"],
            "kind": posts["kind"],
            "category": posts["category"],
            "text": posts["text"],
            "contact": posts["contact"],
            "district": posts["district"],
            "district_name": posts["district"].map(names),
            "cell": cell_text,
            "uncertainty_m": uncertainty_m(cell_res),
            "created": posts["created_day"],
            "expires": posts["expires_day"],
            "status": posts["status"],
            "lon": posts["lon"].round(5),
            "lat": posts["lat"].round(5),
        }
    )


_SPECIAL = r'[\\"\x00-\x1f]'  # what JSON strings must escape: backslash, quote, control characters (RE2)
_NUMERIC = ("uncertainty_m",)


def _json_strings(values: pa.Array) -> pa.Array:
    """Each value as a JSON string literal (or null), computed column-wise in Arrow. A column of few
    distinct values (kind, district, a date ...) is quoted once per distinct value."""
    values = values.cast(pa.large_string())
    encoded = pc.dictionary_encode(values)
    if len(encoded.dictionary) * 4 < len(values):
        return pc.fill_null(_quoted(encoded.dictionary).take(encoded.indices), _text("null"))
    return pc.fill_null(_quoted(values), _text("null"))


def _quoted(values: pa.Array) -> pa.Array:
    """The few values that need escaping (a quote, a line break ...) are escaped by orjson; the rest are
    only put in quotes."""
    special = pc.fill_null(pc.match_substring_regex(values, _SPECIAL), False)
    if pc.any(special).as_py():
        rows = np.flatnonzero(special.to_numpy(zero_copy_only=False))
        exact = [orjson.dumps(v).decode()[1:-1] for v in values.take(rows).to_pylist()]
        values = pc.replace_with_mask(values, special, pa.array(exact, pa.large_string()))
    quote = _text('"')
    return pc.binary_join_element_wise(quote, values, quote, _text(""))


def _arrow(values: pd.Series) -> pa.Array:
    """A column as one Arrow array: zero-copy for Arrow-backed text, converted otherwise."""
    array = pa.array(values, from_pandas=True)
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def _text(value: str) -> pa.Scalar:
    return pa.scalar(value, pa.large_string())


def to_geojson(frame: pd.DataFrame, extra: tuple[str, ...] = ()) -> bytes:
    """RFC 7946 FeatureCollection, assembled column-wise with Arrow string kernels.

    No Python object per feature is made, which is what makes a million-post export take seconds
    (building dicts for a JSON library, or going through GDAL, takes several times longer).
    ``extra`` names further columns to add to the properties (the API's ``walk_m``). Each Feature carries its
    post id as its own ``id`` too (OGC API – Features and GDAL take the feature id from there)."""
    if len(frame) == 0:
        return b'{"type":"FeatureCollection","features":[]}'
    ids = _json_strings(_arrow(frame["id"]))  # the Feature's id (RFC 7946 3.2) and a property, as before
    parts: list[pa.Array | pa.Scalar] = [
        _text('{"type":"Feature","id":'),
        ids,
        _text(',"geometry":{"type":"Point","coordinates":['),
        _number(frame["lon"]),
        _text(","),
        _number(frame["lat"]),
        _text(']},"properties":{'),
    ]
    for i, name in enumerate((*PROPERTIES, *extra)):
        numeric = name in _NUMERIC or (name in extra and pd.api.types.is_numeric_dtype(frame[name]))
        if name == "id":
            value = ids
        else:
            value = _number(frame[name]) if numeric else _json_strings(_arrow(frame[name]))
        parts += [_text(("," if i else "") + f'"{name}":'), value]
    parts.append(_text("}},"))
    features = pc.binary_join_element_wise(*parts, _text(""))
    return b"".join([b'{"type":"FeatureCollection","features":[', _concatenated(features)[:-1], b"]}"])


def _number(values: pd.Series) -> pa.Array:
    """Numbers as JSON text (shortest round-trip form), null where missing."""
    text = pc.cast(_arrow(values), pa.large_string())
    return pc.fill_null(text, _text("null"))


def _concatenated(strings: pa.Array) -> memoryview:
    """All values of a large_string array back to back, straight from its data buffer (no copy)."""
    offsets = np.frombuffer(strings.buffers()[1], dtype=np.int64)
    first, last = offsets[strings.offset], offsets[strings.offset + len(strings)]
    return memoryview(strings.buffers()[2])[first:last]


def point_wkt(lon: pd.Series, lat: pd.Series) -> pd.Series:
    """``POINT (lon lat)`` with 5 decimals, as the lon and lat columns: the column GDAL's CSV driver takes
    as the geometry with its default options (a field named WKT)."""
    text = [f"POINT ({x:.5f} {y:.5f})" for x, y in zip(lon.tolist(), lat.tolist(), strict=True)]
    return pd.Series(text, index=lon.index, dtype=object)


def to_csv(frame: pd.DataFrame, bom: bool = True) -> bytes:
    """CSV a spreadsheet opens without running formulas (see csvfile), read back by ``mapaid import``;
    GDAL sees points in it (the WKT column) and spreadsheets Cyrillic (the byte-order mark)."""
    table = frame[[*PROPERTIES, "lon", "lat"]].copy()
    table["WKT"] = point_wkt(frame["lon"], frame["lat"])
    return csvfile.to_csv(table, float_format="%.5f", bom=bom)


# GeoPackage field types: Arrow says Date and Integer where pandas would say String and Integer64.
_GPKG_TYPES = {"uncertainty_m": pa.int32(), "created": pa.date32(), "expires": pa.date32()}


def _typed(values: pd.Series, kind: pa.DataType) -> pa.Array:
    if kind == pa.date32():
        text = pa.array(values.astype(object), type=pa.string(), from_pandas=True)
        return pc.cast(pc.strptime(text, format="%Y-%m-%d", unit="s"), pa.date32())
    return pa.array(values.astype(object) if kind == pa.string() else values, type=kind, from_pandas=True)


def gpkg_table(frame: pd.DataFrame) -> pa.Table:
    """The posts as the Arrow table ``mapaid.gpkg`` writes: typed by the schema, whatever the rows."""
    columns = {name: _typed(frame[name], _GPKG_TYPES.get(name, pa.string())) for name in PROPERTIES}
    points = shapely.points(frame["lon"].to_numpy(dtype=np.float64), frame["lat"].to_numpy(dtype=np.float64))
    columns["geom"] = gpkg.geometry_column(np.asarray(points, dtype=object))
    return pa.table(columns)


def to_gpkg(frame: pd.DataFrame, path: Path) -> None:
    """A GeoPackage with one layer, ``posts``, at ``path``."""
    gpkg.write(gpkg_table(frame), path, "posts", "Point", _newest_day(frame))


def to_gpkg_bytes(frame: pd.DataFrame) -> bytes:
    return gpkg.to_bytes(gpkg_table(frame), "posts", "Point", _newest_day(frame))


def _newest_day(frame: pd.DataFrame) -> str:
    """The file's ``last_change``: the newest post's day, a date the export shows anyway (the Unix epoch
    for an empty export), so the same posts always make the same bytes (mapaid.gpkg.write)."""
    return str(frame["created"].max())[:10] if len(frame) else gpkg.EPOCH


def district_shapes(area: Area) -> dict[str, shapely.Geometry]:
    """Each district's outline as published: lon/lat to 5 decimals (like posts) and always a MultiPolygon,
    so GDAL and QGIS see one geometry type in a layer of districts."""
    shapes = {}
    for slug, geom in zip(area.districts["slug"], area.districts.geometry.values, strict=True):
        rounded = shapely.transform(geom, lambda xy: np.round(xy, 5))
        shapes[str(slug)] = shapely.multipolygons(shapely.get_parts(rounded))
    return shapes
