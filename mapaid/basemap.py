"""Our own street map: named streets and metro stations from the shipped geodata, so a resident with no tiles
and no location can still find their block by a street or a station they know.

``build`` turns the sources in ``geodata/`` (OpenStreetMap streets joined with Wikidata for the whole city,
the full OpenStreetMap extract of the centre, metro4all's stations and lines) into one compact JSON file,
``geodata/minsk-basemap.json`` (``mapaid basemap build``): lines simplified to a few metres, coordinates
rounded to 5 decimals (about a metre), names in every language the sources have. ``for_language`` cuts it
to one language for ``/basemap/<lang>.json``, which every map page loads as a separate cacheable request and
``static/basemap.js`` draws under the hexagons. Nothing here depends on a visitor: public data only.
"""

from __future__ import annotations

import bz2
import csv
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson
import shapely
from shapely.geometry import shape

from mapaid import belnames
from mapaid.places import skeleton

ATTRIBUTION = "Streets and buildings © OpenStreetMap contributors (ODbL); metro: metro4all, CC BY-SA 4.0"
LANGS = ("be", "ru", "en")
SIMPLIFY_DEG = 0.00004  # ~3-4 m in Minsk: invisible at zoom 17, a third of the vertices of the OSM ways
BUILDING_SIMPLIFY_DEG = 0.00001  # ~1 m: a building keeps its shape at zoom 18
CITY = "Менск"  # the Minsk streets of the Wikidata join (its "c", in Taraškievica)
# Streets drawn from the full OSM extract: ones a resident names when saying where they live.
OSM_HIGHWAYS = frozenset(
    {
        "trunk",
        "primary",
        "secondary",
        "tertiary",
        "unclassified",
        "residential",
        "living_street",
        "pedestrian",
    }
)
SOURCES = {
    "streets": "minsk-streets-wikidata-be.json",
    "centre": "minsk-pass.osm.bz2",
    "stations": "minsk-metro-stations.csv",
    "lines": "minsk-metro-lines.geojson",
}
_HSTORE = re.compile(r'"((?:[^"\\]|\\.)*)"=>"((?:[^"\\]|\\.)*)"')


def _coords(geom: Any, tolerance: float = SIMPLIFY_DEG) -> list[list[list[float]]]:
    """A (multi)line as lists of [lat, lon] parts, simplified and rounded: Leaflet's order, 5 decimals."""
    geom = shapely.simplify(geom, tolerance, preserve_topology=False)
    parts = getattr(geom, "geoms", [geom])
    return [[[round(y, 5), round(x, 5)] for x, y in part.coords] for part in parts if len(part.coords) > 1]


def _merged_lines(lines: list[Any]) -> list[list[list[float]]]:
    """One street's ways joined end to end where they meet (OSM splits a street at every crossing), so
    the map has stretches long enough to write its name along, then simplified."""
    parts = [p for g in lines for p in getattr(g, "geoms", [g])]
    return _coords(shapely.line_merge(shapely.MultiLineString(parts)))


def wikidata_streets(path: Path) -> Iterator[dict[str, Any]]:
    """The city's streets from the OSM + Wikidata join. Its Belarusian names are in the classical spelling
    (Taraškievica): shown in the official one (``belnames.official``), and in Latin on English pages."""
    data = orjson.loads(path.read_bytes())
    for item in data["results"].values():
        if item.get("c") == CITY:
            be = belnames.official(str(item["n"]))
            yield {"names": {"be": be, "en": belnames.latin(be)}, "lines": _merged_lines([shape(item["g"])])}


def _tags(other: object) -> dict[str, str]:
    return {k: v.replace('\\"', '"') for k, v in _HSTORE.findall(other if isinstance(other, str) else "")}


def _text(value: object) -> str:
    """A text field of an OSM layer: "" where it is missing (GDAL gives pandas a float NaN there, which
    is true and printed "nan": how a nameless street came to be labelled "nan")."""
    return value.strip() if isinstance(value, str) else ""


def _osm_layer(path: Path, layer: str, columns: list[str]) -> Any:
    """One layer of a full OSM extract (GDAL's OSM driver) as a GeoDataFrame."""
    import pyogrio

    with tempfile.TemporaryDirectory() as tmp:
        source = path
        if path.suffix == ".bz2":  # GDAL's /vsibz2/ is not in every build: decompress beside it
            source = Path(tmp) / path.stem
            with bz2.open(path) as packed, source.open("wb") as plain:
                shutil.copyfileobj(packed, plain)
        return pyogrio.read_dataframe(source, layer=layer, columns=columns)


def street_names(name: str, tags: dict[str, str]) -> dict[str, str]:
    """A street's names per language: ``name:be`` (official spelling), ``name:ru`` or the local name,
    ``name:en`` or the Belarusian name in Latin letters."""
    names = {lang: _text(tags.get(f"name:{lang}")) for lang in LANGS}
    if names["be"]:
        names["be"] = belnames.official(names["be"])
    names["ru"] = names["ru"] or name
    names["en"] = names["en"] or (belnames.latin(names["be"]) if names["be"] else "")
    return {lang: value for lang, value in names.items() if value}


def osm_streets(path: Path) -> tuple[list[dict[str, Any]], dict[str, dict[str, str]]]:
    """Named streets of a full OSM extract with their names per language (``street_names``), ways of one
    name merged into one feature and joined where they meet; and the names of every named way with a
    ``highway`` tag (links and service roads too) by the skeleton of each Belarusian spelling, to give
    the city-wide list's streets their Russian names and to know them under their classical spelling."""
    frame = _osm_layer(path, "lines", ["name", "highway", "other_tags"])
    by_name: dict[str, tuple[dict[str, str], list[Any]]] = {}
    known: dict[str, dict[str, str]] = {}
    for raw_name, highway, other, geom in zip(
        frame["name"], frame["highway"], frame["other_tags"], frame.geometry, strict=True
    ):
        name = _text(raw_name)
        if not name or not _text(highway) or geom is None:
            continue
        tags = _tags(other)
        names = street_names(name, tags)
        for spelling in (names.get("be"), _text(tags.get("name:be-tarask"))):
            if spelling:
                known.setdefault(skeleton(belnames.official(spelling)), names)
        if highway in OSM_HIGHWAYS or (highway == "service" and belnames.street_like(name)):
            by_name.setdefault(name, (names, []))[1].append(geom)
    streets = [{"names": names, "lines": _merged_lines(lines)} for names, lines in by_name.values()]
    return streets, known


def osm_buildings(path: Path) -> list[list[list[int]]]:
    """Building outlines of a full OSM extract, light enough to draw under the hexagons: simplified to
    about a metre, on a 1e-5 degree grid, each ring as integers [lat, lon, then steps from the last
    point] (a third of the bytes of JSON decimals). Courtyards (inner rings) kept: they make a block."""
    frame = _osm_layer(path, "multipolygons", ["building"])
    shapes = []
    for building, geom in zip(frame["building"], frame.geometry, strict=True):
        if not _text(building) or geom is None:
            continue
        for polygon in getattr(geom, "geoms", [geom]):
            rings = [polygon.exterior, *polygon.interiors]
            encoded = [_ring(shapely.simplify(r, BUILDING_SIMPLIFY_DEG)) for r in rings]
            if len(encoded[0]) >= 6:  # at least a triangle left
                shapes.append([r for r in encoded if len(r) >= 6])
    return shapes


def _ring(ring: Any) -> list[int]:
    points = [(round(y * 1e5), round(x * 1e5)) for x, y in ring.coords[:-1]]
    flat: list[int] = []
    last = (0, 0)
    for point in points:
        if point != last:
            flat += [point[0] - last[0], point[1] - last[1]]
            last = point
    return flat


def _merge(
    city: Iterable[dict[str, Any]], centre: list[dict[str, Any]], known: dict[str, dict[str, str]]
) -> list[dict[str, Any]]:
    """The centre's detailed streets, and the city-wide ones the centre does not have (by the skeleton of
    the Belarusian name, in either spelling), named in every language the centre knows for them."""
    drawn = {skeleton(s["names"].get("be", "")) for s in centre}
    kept = []
    for street in city:
        key = skeleton(street["names"]["be"])
        if key not in drawn and skeleton(known.get(key, {}).get("be", "")) not in drawn:
            street["names"] = {**known.get(key, {}), **street["names"]}
            kept.append(street)
    return kept + centre


def stations(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8", newline="") as f:
        return [
            {
                "names": {lang: row[f"name_{lang}"].strip() for lang in LANGS},
                "at": [round(float(row["lat"]), 5), round(float(row["lon"]), 5)],
                "line": int(row["id_line"]),
            }
            for row in csv.DictReader(f, delimiter=";")
        ]


def metro_lines(path: Path) -> list[dict[str, Any]]:
    data = orjson.loads(path.read_bytes())
    return [
        {"colour": str(f["properties"]["color"]), "lines": _coords(shape(f["geometry"]))}
        for f in data["features"]
    ]


def build(geodata: Path) -> dict[str, Any]:
    """The basemap from the sources in ``geodata`` (``SOURCES``); a missing source is left out."""

    def have(key: str) -> Path | None:
        path = geodata / SOURCES[key]
        return path if path.exists() else None

    city = have("streets")
    centre = have("centre")
    detailed, known = osm_streets(centre) if centre else ([], {})
    streets = _merge(wikidata_streets(city) if city else (), detailed, known)
    lines = have("lines")
    station_file = have("stations")
    colours = {1: "#0078bf", 2: "#ed1b35"}
    found = stations(station_file) if station_file else []
    for s in found:
        s["colour"] = colours.get(s.pop("line"), "#555f6e")
    return {
        "attribution": ATTRIBUTION,
        "streets": streets,
        "metro": {"stations": found, "lines": metro_lines(lines) if lines else []},
        "buildings": osm_buildings(centre) if centre else [],
    }


def for_language(basemap: dict[str, Any], lang: str) -> dict[str, Any]:
    """One language's layer: each street and station named in ``lang``, else Belarusian, else any (a
    street without any name is drawn, never labelled). Buildings are left out: ``buildings`` serves them
    apart, for the zooms that draw them."""

    def name(names: dict[str, str]) -> str:
        return names.get(lang) or names.get("be") or next(iter(names.values()), "")

    return {
        "attribution": basemap["attribution"],
        "streets": [[name(s["names"]), s["lines"]] for s in basemap["streets"]],
        "stations": [[name(s["names"]), s["at"], s["colour"]] for s in basemap["metro"]["stations"]],
        "lines": [[m["colour"], m["lines"]] for m in basemap["metro"]["lines"]],
    }


def buildings(basemap: dict[str, Any]) -> dict[str, Any]:
    """The building outlines (``osm_buildings``), the same in every language."""
    return {"attribution": basemap["attribution"], "scale": 1e5, "buildings": basemap.get("buildings", [])}


def write(basemap: dict[str, Any], path: Path) -> int:
    data = orjson.dumps(basemap)
    path.write_bytes(data)
    return len(data)


def load(path: Path) -> dict[str, Any]:
    value: dict[str, Any] = orjson.loads(path.read_bytes())
    return value
