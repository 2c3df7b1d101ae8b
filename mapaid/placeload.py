"""Reading named places from files: OpenStreetMap XML (.osm, .osm.bz2), metro4all's CSV, the
opendataby street list (Wikidata + OSM JSON), and simple CSV or GeoJSON lists of named points.

Every reader returns ``Place`` records; ``mapaid.places`` clips and stores them. A file we cannot read is
refused with ``PlacesError`` naming the problem (not OSM, no named place ...), never half loaded.
"""

from __future__ import annotations

import bz2
import csv
import io
import json
import xml.etree.ElementTree as ET
from array import array
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import shapely
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from mapaid import belnames
from mapaid.places import Place

FORMATS = ("osm", "csv", "geojson", "metro4all", "streets-json")
Progress = Callable[[int], None]

STREETS = frozenset(
    [
        "motorway",
        "trunk",
        "primary",
        "secondary",
        "tertiary",
        "unclassified",
        "residential",
        "living_street",
        "pedestrian",
        "road",
        "primary_link",
        "secondary_link",
        "tertiary_link",
    ]
)
SCHOOLS = frozenset({"school", "college", "university", "kindergarten"})
AMENITIES = frozenset({"pharmacy", "hospital", "clinic", "post_office", "library", "marketplace", "theatre"})
PARKS = frozenset({"park", "garden"})
AREAS = frozenset({"neighbourhood", "suburb", "quarter", "city_block"})
OTHER_NAMES = ("old_name", "alt_name", "loc_name", "official_name", "short_name")
NAMED_LIKE_STREETS = frozenset({"street", "square"})


class PlacesError(ValueError):
    """A places file we cannot use; the message says why."""


def kind_of(tags: dict[str, str], element: str) -> str | None:
    """What a tagged OSM element is, for the gazetteer, or None when residents would not search for it."""
    railway, highway = tags.get("railway"), tags.get("highway")
    if railway == "subway_entrance" or tags.get("entrance") == "subway":
        return "entrance"
    if tags.get("station") == "subway" or (railway == "station" and tags.get("subway") == "yes"):
        return "metro" if element != "way" or tags.get("building") is None else None
    if railway in ("station", "halt"):
        return "station"
    if tags.get("place") == "square" or (highway == "pedestrian" and tags.get("area") == "yes"):
        return "square"
    if element == "node" and (
        highway == "bus_stop" or railway == "tram_stop" or tags.get("public_transport") == "platform"
    ):
        return "stop"
    if element == "way" and (
        highway in STREETS or (highway == "service" and belnames.street_like(tags.get("name", "")))
    ):
        return "street"
    return _tagged_kind(tags)


def _tagged_kind(tags: dict[str, str]) -> str | None:
    for key, values, kind in (
        ("place", AREAS, "area"),
        ("amenity", SCHOOLS, "school"),
        ("leisure", PARKS, "park"),
        ("amenity", AMENITIES, "place"),
    ):
        if tags.get(key) in values:
            return kind
    return "shop" if "shop" in tags else None


def _addressed(tags: dict[str, str]) -> bool:
    """An OSM element with a street address: a house number on a named street."""
    street = tags.get("addr:street", "").strip()
    return bool(tags.get("addr:housenumber", "").strip() and street and not _damaged(street))


def _damaged(value: str) -> bool:
    """A name some editor saved without its letters ("Kaval?ska? slabada"): worse than none."""
    return "?" in value or "\ufffd" in value


def osm_place(kind: str, tags: dict[str, str], points: list[tuple[float, float]]) -> Place | None:
    """A place from an OSM element's tags and the points of its geometry."""
    tags = {
        k: v for k, v in tags.items() if not (_damaged(v) and (k.startswith("name") or k.endswith("name")))
    }
    name = tags.get("name") or tags.get("name:be") or tags.get("name:ru")
    if not name or not points:
        return None
    names = {lang: tags[f"name:{lang}"] for lang in ("be", "ru", "en") if tags.get(f"name:{lang}")}
    alt = [
        belnames.plain(v)
        for k, v in tags.items()
        if (k.startswith("name:") and k[5:] not in names and ":" not in k[5:])
        or k.split(":")[0] in OTHER_NAMES
    ]
    if kind in NAMED_LIKE_STREETS:
        names = _street_names(names)
    lon = sum(p[0] for p in points) / len(points)
    lat = sum(p[1] for p in points) / len(points)
    line = points if kind == "street" else None
    return Place(kind, name, lon, lat, names, alt, line, "osm")


def _street_names(names: dict[str, str]) -> dict[str, str]:
    """A street's or square's names as the map labels it (mapaid/basemap.py): Belarusian in the official
    spelling, and English in the national Latin transliteration where OSM has no English name."""
    if names.get("be"):
        names["be"] = belnames.official(names["be"])
        names.setdefault("en", belnames.latin(names["be"]))
    return names


def house_place(street: str, number: str, shapes: list[list[tuple[float, float]]]) -> Place:
    """One address (``addr:street`` + ``addr:housenumber``) at the centre of its building: the largest
    building outline carrying it, else the mean of the points (entrances, shops) that carry it. A house
    is kept as kind "house" named by its number, with its street (as the address spells it) in ``alt``:
    the gazetteer ties it to that street (``places.gazetteer``)."""
    areas = [shapely.Polygon(s) for s in shapes if len(s) >= 4]
    areas = [a for a in areas if a.is_valid and a.area > 0]
    if areas:
        centre = max(areas, key=lambda a: a.area).centroid
        lon, lat = centre.x, centre.y
    else:
        points = [p for s in shapes for p in s]
        lon, lat = _mean(points)
    return Place("house", number.strip(), lon, lat, {}, [street.strip()], None, "osm")


@contextmanager
def _opened(path: Path, progress: Progress | None) -> Iterator[IO[bytes]]:
    with path.open("rb") as raw:
        counted: IO[bytes] = _Counting(raw, progress) if progress is not None else raw  # type: ignore[assignment]
        if path.name.endswith(".bz2"):
            with bz2.open(counted) as unpacked:
                yield unpacked
        else:
            yield counted


class _Counting(io.RawIOBase):
    """A file that reports how many bytes were read (of the file on disk, compressed or not)."""

    def __init__(self, inner: IO[bytes], progress: Progress) -> None:
        self.inner, self.progress = inner, progress

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.inner.read(len(buffer))
        buffer[: len(data)] = data
        self.progress(len(data))
        return len(data)

    def close(self) -> None:
        self.inner.close()
        super().close()


class _OsmReader:
    """One pass over OSM XML: nodes as points, ways by their nodes (a street's ways joined by name),
    relations (parks, squares) by their member ways once every way is known."""

    def __init__(self) -> None:
        self.coords: dict[int, tuple[float, float]] = {}
        self.way_nodes: dict[int, array[int]] = {}
        self.places: list[Place] = []
        self.streets: dict[str, list[tuple[dict[str, str], list[tuple[float, float]]]]] = defaultdict(list)
        self.relations: list[tuple[str | None, dict[str, str], list[int]]] = []
        # (street, number) -> [(is it a building outline, its points)]
        self.houses: dict[tuple[str, str], list[tuple[bool, list[tuple[float, float]]]]] = defaultdict(list)

    def add(self, el: ET.Element) -> None:
        tags = {t.get("k", ""): t.get("v", "") for t in el.iter("tag")}
        if el.tag == "node":
            point = (float(el.get("lon", "nan")), float(el.get("lat", "nan")))
            self.coords[int(el.get("id", "0"))] = point
            self._keep(kind_of(tags, "node"), tags, [point])
            self._address(tags, False, [point])
        elif el.tag == "way":
            refs = array("q", (int(n.get("ref", "0")) for n in el.iter("nd")))
            self.way_nodes[int(el.get("id", "0"))] = refs
            kind = kind_of(tags, "way")
            points = [self.coords[r] for r in refs if r in self.coords]
            if kind == "street" and tags.get("name"):
                self.streets[tags["name"]].append((tags, points))
            else:
                self._keep(kind, tags, points)
            self._address(tags, len(refs) > 3 and refs[0] == refs[-1], points)
        elif el.tag == "relation":
            kind = kind_of(tags, "relation")
            if (kind and kind != "street") or _addressed(tags):
                ways = [int(m.get("ref", "0")) for m in el.iter("member") if m.get("type") == "way"]
                self.relations.append((kind if kind != "street" else None, tags, ways))

    def _address(self, tags: dict[str, str], outline: bool, points: list[tuple[float, float]]) -> None:
        if _addressed(tags) and points:
            address = (tags["addr:street"].strip(), tags["addr:housenumber"].strip())
            self.houses[address].append((outline, points))

    def _keep(self, kind: str | None, tags: dict[str, str], points: list[tuple[float, float]]) -> None:
        if kind and (place := osm_place(kind, tags, points)):
            self.places.append(place)

    def finish(self) -> list[Place]:
        for kind, tags, ways in self.relations:
            points = [self.coords[r] for w in ways for r in self.way_nodes.get(w, ()) if r in self.coords]
            self._keep(kind, tags, points)
            outlines = [[self.coords[r] for r in self.way_nodes.get(w, ()) if r in self.coords] for w in ways]
            for outline in outlines:
                self._address(tags, len(outline) > 3 and outline[0] == outline[-1], outline)
        for (street, number), found in self.houses.items():
            buildings = [points for outline, points in found if outline]
            self.places.append(house_place(street, number, buildings or [p for _, p in found]))
        for pieces in self.streets.values():
            tags = {}
            for piece_tags, _ in pieces:
                tags.update({k: v for k, v in piece_tags.items() if k not in tags})
            points = [p for _, piece in pieces for p in piece[:: max(1, len(piece) // 6)]]
            self._keep("street", tags, points)
        return self.places


def read_osm(path: Path, progress: Progress | None = None) -> list[Place]:
    """Named places from OSM XML (.osm, .osm.bz2), read as a stream; entities and DTDs are refused."""
    reader = _OsmReader()
    with _opened(path, progress) as handle:
        try:
            events = iterparse(handle, events=("start", "end"), forbid_dtd=True)
            _, root = next(events)
            if root.tag != "osm":
                raise PlacesError(f"{path.name} is XML but not OpenStreetMap data (<{root.tag}>)")
            for event, el in events:
                if event == "end" and el.tag in ("node", "way", "relation"):
                    reader.add(el)
                    el.clear()
        except (ET.ParseError, DefusedXmlException) as exc:
            raise PlacesError(f"{path.name} is not OpenStreetMap XML: {exc}") from None
        except (OSError, EOFError, StopIteration) as exc:
            raise PlacesError(f"{path.name} could not be read as OpenStreetMap XML: {exc!r}") from None
    return reader.finish()


def _sniff_csv(path: Path) -> tuple[list[dict[str, str]], str]:
    text = path.read_text(encoding="utf-8-sig")
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    rows = list(csv.DictReader(io.StringIO(text), delimiter=delimiter))
    return rows, first


def read_metro4all(path: Path) -> list[Place]:
    """metro4all's ``stations.csv`` (stations in ru/be/en) or ``portals.csv`` (entrances, named by their
    station and the streets beside them; the stations file must sit beside it)."""
    rows, _ = _sniff_csv(path)
    if rows and "id_entrance" in rows[0]:
        stations = {r["id_station"]: r for r in _sniff_csv(path.with_name("stations.csv"))[0]}
        places = []
        for r in rows:
            station = stations.get(r["id_station"], {})
            names = {
                lang: f"{station.get(f'name_{lang}', '')} — {r[f'name_{lang}']}".strip(" —")
                for lang in ("be", "ru", "en")
            }
            places.append(
                Place("entrance", names["be"], float(r["lon"]), float(r["lat"]), names, [], None, "metro4all")
            )
        return places
    return [
        Place(
            "metro",
            r["name_be"],
            float(r["lon"]),
            float(r["lat"]),
            {lang: r[f"name_{lang}"] for lang in ("be", "ru", "en") if r.get(f"name_{lang}")},
            [],
            None,
            "metro4all",
        )
        for r in rows
    ]


def read_streets_json(path: Path) -> list[Place]:
    """opendataby/osm-streets: ``be-tarask.json`` (Belarusian names in the classical spelling, OSM lines)
    and, beside it, ``en.json`` (the same streets in łacinka). Shown as the map labels them: Belarusian in
    the official spelling, English in the national Latin transliteration; the file's own spellings stay
    searchable as other names."""
    data = json.loads(path.read_text(encoding="utf-8"))
    latin_path = path.with_name("en.json")
    latin = json.loads(latin_path.read_text(encoding="utf-8"))["results"] if latin_path.exists() else {}
    places = []
    for key, item in data["results"].items():
        geometry = item.get("g") or {}
        lines = geometry.get("coordinates") or []
        if geometry.get("type") == "LineString":
            lines = [lines]
        points = [(float(x), float(y)) for line in lines for x, y in line]
        if not points or not item.get("n"):
            continue
        names = _street_names({"be": item["n"]})
        alt = [n for n in (item["n"], latin.get(key, {}).get("n")) if n and n not in names.values()]
        lon = sum(p[0] for p in points) / len(points)
        lat = sum(p[1] for p in points) / len(points)
        places.append(Place("street", names["be"], lon, lat, names, alt, points, "osm"))
    return places


def _list_place(props: dict[str, Any], lon: float, lat: float) -> Place | None:
    names = {
        lang: str(props[k])
        for lang in ("be", "ru", "en")
        for k in (f"name_{lang}", f"name:{lang}")
        if props.get(k)
    }
    name = str(props.get("name") or names.get("be") or names.get("ru") or names.get("en") or "").strip()
    if not name:
        return None
    return Place(
        str(props.get("kind") or "place").strip() or "place", name, lon, lat, names, [], None, "list"
    )


def read_csv_list(path: Path) -> list[Place]:
    """A CSV of named points: ``lat, lon, name`` and optionally ``name_be, name_ru, name_en, kind``."""
    rows, first = _sniff_csv(path)
    if rows and {"id_station", "id_entrance"} & set(rows[0]):
        return read_metro4all(path)
    columns = {c.strip().lower() for c in (rows[0] if rows else {})}
    if not {"lat", "lon"} <= columns:
        raise PlacesError(
            f"{path.name}: a places CSV needs the columns lat, lon and name (found: {first[:80]})"
        )
    places = []
    for number, row in enumerate(rows, start=2):
        row = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
        try:
            lon, lat = float(row["lon"]), float(row["lat"])
        except ValueError:
            raise PlacesError(f"{path.name} line {number}: lat and lon must be numbers") from None
        if place := _list_place(row, lon, lat):
            places.append(place)
    return places


def read_geojson_list(path: Path) -> list[Place]:
    """A GeoJSON FeatureCollection of named features (any geometry: its points' mean is the place)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PlacesError(f"{path.name} is not GeoJSON: {exc}") from None
    if isinstance(data, dict) and "results" in data and "language" in data:
        return read_streets_json(path)
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise PlacesError(f"{path.name} is not a GeoJSON FeatureCollection")
    places = []
    for feature in data.get("features") or []:
        points = list(_points((feature.get("geometry") or {}).get("coordinates")))
        if points and (place := _list_place(feature.get("properties") or {}, *_mean(points))):
            places.append(place)
    return places


def _points(coords: Any) -> Iterator[tuple[float, float]]:
    if isinstance(coords, list) and len(coords) >= 2 and all(isinstance(c, int | float) for c in coords[:2]):
        yield float(coords[0]), float(coords[1])
    elif isinstance(coords, list):
        for c in coords:
            yield from _points(c)


def _mean(points: list[tuple[float, float]]) -> tuple[float, float]:
    return sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points)


def guess_format(path: Path) -> str:
    name = path.name.lower()
    if name.endswith((".osm", ".osm.bz2", ".osm.xml")):
        return "osm"
    if name.endswith(".csv"):
        return "csv"
    if name.endswith((".geojson", ".json")):
        return "geojson"
    head = path.open("rb").read(200).lstrip()
    if head.startswith(b"<"):
        return "osm"
    if head.startswith(b"{"):
        return "geojson"
    raise PlacesError(f"{path.name} is not an OSM, CSV or GeoJSON file (say which with --format)")


def read(path: Path, fmt: str | None = None, progress: Progress | None = None) -> list[Place]:
    """Every named place in ``path``; PlacesError if it holds none or is not a places file."""
    fmt = fmt or guess_format(path)
    readers: dict[str, Callable[[Path], list[Place]]] = {
        "osm": lambda p: read_osm(p, progress),
        "csv": read_csv_list,
        "geojson": read_geojson_list,
        "metro4all": read_metro4all,
        "streets-json": read_streets_json,
    }
    try:
        places = readers[fmt](path)
    except UnicodeDecodeError:
        raise PlacesError(f"{path.name} is not a text {fmt.upper()} file") from None
    except (KeyError, ValueError) as exc:
        if isinstance(exc, PlacesError):
            raise
        raise PlacesError(f"{path.name} is not a {fmt} places file: {exc!r}") from None
    if not places:
        raise PlacesError(f"{path.name} holds no named place")
    return places
