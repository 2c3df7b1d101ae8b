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

ATTRIBUTION = "Streets © OpenStreetMap contributors (ODbL); metro: metro4all, CC BY-SA 4.0"
LANGS = ("be", "ru", "en")
SIMPLIFY_DEG = 0.00004  # ~3-4 m in Minsk: invisible at zoom 17, a third of the vertices of the OSM ways
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


def _coords(geom: Any) -> list[list[list[float]]]:
    """A (multi)line as lists of [lat, lon] parts, simplified and rounded: Leaflet's order, 5 decimals."""
    geom = shapely.simplify(geom, SIMPLIFY_DEG, preserve_topology=False)
    parts = getattr(geom, "geoms", [geom])
    return [[[round(y, 5), round(x, 5)] for x, y in part.coords] for part in parts if len(part.coords) > 1]


def wikidata_streets(path: Path) -> Iterator[dict[str, Any]]:
    """The city's streets from the OSM + Wikidata join: Belarusian (Taraškievica) names only."""
    data = orjson.loads(path.read_bytes())
    for item in data["results"].values():
        if item.get("c") == CITY:
            yield {"names": {"be": str(item["n"])}, "lines": _coords(shape(item["g"]))}


def _tags(other: object) -> dict[str, str]:
    return {k: v.replace('\\"', '"') for k, v in _HSTORE.findall(other if isinstance(other, str) else "")}


def osm_streets(path: Path) -> Iterator[dict[str, Any]]:
    """Named streets of a full OSM extract (GDAL's OSM driver), with name:be / name:ru / name:en. Ways of
    one name are merged into one feature so each street is labelled once."""
    import pyogrio

    with tempfile.TemporaryDirectory() as tmp:
        source = path
        if path.suffix == ".bz2":  # GDAL's /vsibz2/ is not in every build: decompress beside it
            source = Path(tmp) / path.stem
            with bz2.open(path) as packed, source.open("wb") as plain:
                shutil.copyfileobj(packed, plain)
        frame = pyogrio.read_dataframe(source, layer="lines", columns=["name", "highway", "other_tags"])
    by_name: dict[str, dict[str, Any]] = {}
    for name, highway, other, geom in zip(
        frame["name"], frame["highway"], frame["other_tags"], frame.geometry, strict=True
    ):
        if not name or highway not in OSM_HIGHWAYS or geom is None:
            continue
        tags = _tags(other)
        names = {lang: tags[f"name:{lang}"] for lang in LANGS if tags.get(f"name:{lang}")}
        names.setdefault("ru", str(name))
        entry = by_name.setdefault(str(name), {"names": names, "lines": []})
        entry["lines"].extend(_coords(geom))
    yield from by_name.values()


def _merge(city: Iterable[dict[str, Any]], centre: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """City-wide streets, with the centre's detailed ones instead where a Belarusian name matches (the
    centre's carry Russian names too); the rest of the centre's added."""
    detailed = list(centre)
    known = {s["names"].get("be") for s in detailed}
    return [s for s in city if s["names"]["be"] not in known] + detailed


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
    streets = _merge(wikidata_streets(city) if city else (), osm_streets(centre) if centre else ())
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
    }


def for_language(basemap: dict[str, Any], lang: str) -> dict[str, Any]:
    """One language's layer: each street and station named in ``lang``, else Belarusian, else any."""

    def name(names: dict[str, str]) -> str:
        return names.get(lang) or names.get("be") or next(iter(names.values()), "")

    return {
        "attribution": basemap["attribution"],
        "streets": [[name(s["names"]), s["lines"]] for s in basemap["streets"]],
        "stations": [[name(s["names"]), s["at"], s["colour"]] for s in basemap["metro"]["stations"]],
        "lines": [[m["colour"], m["lines"]] for m in basemap["metro"]["lines"]],
    }


def write(basemap: dict[str, Any], path: Path) -> int:
    data = orjson.dumps(basemap)
    path.write_bytes(data)
    return len(data)


def load(path: Path) -> dict[str, Any]:
    value: dict[str, Any] = orjson.loads(path.read_bytes())
    return value
