"""Read any city's district polygons and make them fit to serve: one CRS, valid, not overlapping.

Rejections name the feature (or the pair), because the person loading the file has to fix it in QGIS.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely

from mapaid.geo import WGS84, choose_metric_crs

NAME_COLUMNS = ("name_be", "name_ru", "name_en")
# Overlap below this many m² (a 10 x 10 m patch) is a digitising sliver along a shared border, as real
# district files have (Helsinki's, reprojected, has 8 m²), not two districts claiming land.
OVERLAP_TOLERANCE_M2 = 100.0
# A slug goes into URLs, filters, exports and page attributes: short lowercase ASCII, nothing to escape.
SLUG_PATTERN = re.compile(r"[a-z][a-z0-9-]{0,39}")
SLUG_RULE = "1 to 40 lowercase ASCII letters, digits and hyphens, starting with a letter"

_TRANSLIT = str.maketrans(
    {
        "а": "a",
        "б": "b",
        "в": "v",
        "г": "g",
        "ґ": "g",
        "д": "d",
        "е": "e",
        "ё": "yo",
        "ж": "zh",
        "з": "z",
        "и": "i",
        "і": "i",
        "й": "y",
        "к": "k",
        "л": "l",
        "м": "m",
        "н": "n",
        "о": "o",
        "п": "p",
        "р": "r",
        "с": "s",
        "т": "t",
        "у": "u",
        "ў": "w",
        "ф": "f",
        "х": "kh",
        "ц": "ts",
        "ч": "ch",
        "ш": "sh",
        "щ": "shch",
        "ъ": "",
        "ы": "y",
        "ь": "",
        "э": "e",
        "ю": "yu",
        "я": "ya",
    }
)


# BGN/PCGN romanisation of Belarusian (as OSM's name:en and the English Wikipedia spell Minsk's districts:
# Frunzyenski, Maskowski); a file with Belarusian names and no English ones gets its English names so.
_BGN_BE = {
    **{c: c for c in "abcdefghijklmnopqrstuvwxyz"},
    "а": "a", "б": "b", "в": "v", "г": "h", "ґ": "g", "д": "d", "е": "ye", "ё": "yo", "ж": "zh", "з": "z",
    "і": "i", "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r",
    "с": "s", "т": "t", "у": "u", "ў": "w", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh",
    "щ": "shch", "ы": "y", "ь": "", "ъ": "", "э": "e", "ю": "yu", "я": "ya", "'": "", "’": "", "ʼ": "",
}  # fmt: skip


def romanize_be(name: str) -> str:
    """A Belarusian name in Latin letters (BGN/PCGN): "Фрунзенскі раён" -> "Frunzyenski rayon"."""
    out = []
    for char in name:
        latin = _BGN_BE.get(char.lower(), char)
        out.append(latin.capitalize() if char.isupper() else latin)
    return "".join(out)


class DistrictError(ValueError):
    """The district file cannot be served as it is; the message says which feature and why."""


def slugify(name: str) -> str:
    """ASCII slug fitting SLUG_PATTERN: Cyrillic transliterated, accents dropped, everything else to
    hyphens, ``d-`` before a leading digit, cut to 40 characters."""
    text = name.lower().translate(_TRANSLIT)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", text).strip("-") or "district"
    if slug[0].isdigit():
        slug = f"d-{slug}"
    return slug[:40].rstrip("-")


def _label(frame: pd.DataFrame, name_field: str, i: int) -> str:
    return f"feature {i + 1} ({frame[name_field].iloc[i]!s})"


def read_districts(path: Path, name_field: str | None = None) -> gpd.GeoDataFrame:
    """Districts from any vector file GDAL reads, as slug, names, osm_relation_id and geometry in 4326."""
    try:
        frame = gpd.read_file(path, engine="pyogrio")
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise DistrictError(f"cannot read {path}: {exc}") from None
    if frame.empty:
        raise DistrictError(f"{path} holds no features")
    if frame.crs is None:
        raise DistrictError(f"{path} does not say its coordinate reference system (CRS)")
    name_field = name_field or next(
        (c for c in ("name_en", "name", "NAME", "nimi") if c in frame.columns), None
    )
    if name_field is None or name_field not in frame.columns:
        fields = ", ".join(c for c in frame.columns if c != "geometry")
        raise DistrictError(
            f"no name field {name_field or 'name'!r}; pick one with --name-field from: {fields}"
        )
    frame = frame.to_crs(WGS84)
    _check_polygons(frame, name_field)
    out = gpd.GeoDataFrame(
        {
            "slug": frame["slug"] if "slug" in frame.columns else frame[name_field].map(str).map(slugify),
            "osm_relation_id": pd.to_numeric(
                frame.get("osm_relation_id", frame.get("osmRelationId")), errors="coerce"
            )
            if {"osm_relation_id", "osmRelationId"} & set(frame.columns)
            else pd.NA,
        },
        geometry=frame.geometry.values,
        crs=WGS84,
    )
    for column in NAME_COLUMNS:
        out[column] = (frame[column] if column in frame.columns else frame[name_field]).map(str)
    out["name_en"] = _english_names(frame, name_field)
    _check_slugs(frame, out, name_field)
    duplicated = out["slug"][out["slug"].duplicated()].tolist()
    if duplicated:
        raise DistrictError(f"two districts share the name/slug {duplicated[0]!r}")
    _check_overlaps(out, name_field="name_en")
    return out[["slug", "osm_relation_id", *NAME_COLUMNS, "geometry"]]


def _given(values: pd.Series) -> pd.Series:
    """Which values hold a name (not missing, not blank)."""
    return values.notna() & (values.map(str).str.strip() != "")


def _english_names(frame: pd.DataFrame, name_field: str) -> pd.Series:
    """``name_en`` where the file gives it; else the romanised ``name_be`` (when given); else the name."""
    names = frame[name_field].map(str)
    if "name_be" in frame.columns:
        romanized = frame["name_be"].map(lambda v: romanize_be(str(v)))
        names = romanized.where(_given(frame["name_be"]), names)
    if "name_en" in frame.columns:
        names = frame["name_en"].map(str).where(_given(frame["name_en"]), names)
    return names


def _check_slugs(frame: pd.DataFrame, out: pd.DataFrame, name_field: str) -> None:
    """Refuse a slug the file gives that is not SLUG_PATTERN (made ones always are), naming the feature."""
    for i, slug in enumerate(out["slug"].tolist()):
        if not isinstance(slug, str) or not SLUG_PATTERN.fullmatch(slug):
            shown = "no slug" if slug is None or slug != slug else f"the slug {slug!r}"
            raise DistrictError(f"{_label(frame, name_field, i)} has {shown}; a slug is {SLUG_RULE}")


def _check_polygons(frame: gpd.GeoDataFrame, name_field: str) -> None:
    """Repair invalid polygons in place; reject what is not (or does not repair to) a polygon with area."""
    for i, geom in enumerate(frame.geometry.values):
        label = _label(frame, name_field, i)
        if geom is None or geom.is_empty:
            raise DistrictError(f"{label} has no geometry")
        if geom.geom_type not in ("Polygon", "MultiPolygon"):
            raise DistrictError(f"{label} is a {geom.geom_type}, not a polygon")
        if not geom.is_valid:
            reason = shapely.is_valid_reason(geom)
            fixed = shapely.make_valid(geom)
            parts = [
                g for g in getattr(fixed, "geoms", [fixed]) if g.geom_type in ("Polygon", "MultiPolygon")
            ]
            if not parts:
                raise DistrictError(f"{label} is not a valid polygon ({reason}) and cannot be repaired")
            geom = frame.geometry.values[i] = shapely.union_all(parts)
        if shapely.area(geom) < 1e-12:  # degrees²: about a hundredth of a square metre
            raise DistrictError(f"{label} has no area")


def _check_overlaps(frame: gpd.GeoDataFrame, name_field: str) -> None:
    metric = frame.to_crs(choose_metric_crs(frame.total_bounds))
    geoms = metric.geometry.values
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    for a, b in zip(left, right, strict=True):
        if a >= b:
            continue
        overlap = shapely.area(shapely.intersection(geoms[a], geoms[b]))
        if overlap > OVERLAP_TOLERANCE_M2:
            raise DistrictError(
                f"districts {frame[name_field].iloc[a]!r} and {frame[name_field].iloc[b]!r} "
                f"overlap by {overlap:,.0f} m²; each place must belong to one district"
            )
