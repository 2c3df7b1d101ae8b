"""Named places (streets, squares, stops, metro stations, schools, shops, parks), kept by the store.

Places are public data an operator loads (``mapaid places load``); nothing a resident types is ever stored
or sent here. The page downloads the whole gazetteer once (``gazetteer``: the same bytes for everyone) and
searches it in the browser (``mapaid/static/places.js``), so a search says nothing to the server. On the
server side ``nearest`` names a hexagon by the closest place ("near Kastrychnitskaya metro").

``skeleton`` folds a name in Cyrillic (Belarusian, Russian), Belarusian Latin (łacinka) or an English
transliteration to one ASCII form, so "Kastrychnitskaya", "Kastryčnickaja" and "Кастрычніцкая" meet; the
page's script mirrors it rule for rule (a browser test checks that they agree).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely

from mapaid.store import Store

LANGS = ("be", "ru", "en")
# Kinds in the order results are preferred when they match equally well.
KINDS = (
    "metro",
    "street",
    "square",
    "area",
    "station",
    "stop",
    "entrance",
    "park",
    "school",
    "place",
    "shop",
    "house",
)
# Places closer than this (metres) with a name in common are one place (a stop's platform and its pole,
# one street in two files); a street's pieces may lie far apart along it.
MERGE_M = {"street": 4000.0, "metro": 1000.0, "area": 1500.0, "park": 800.0}
MERGE_DEFAULT_M = 300.0

_CYRILLIC = str.maketrans(
    {
        "а": "a", "б": "b", "в": "v", "г": "h", "ґ": "g", "д": "d", "е": "e", "ё": "e", "є": "e",
        "ж": "z", "з": "z", "и": "i", "і": "i", "ї": "i", "й": "i", "к": "k", "л": "l", "м": "m",
        "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ў": "u", "ф": "f",
        "х": "h", "ц": "c", "ч": "c", "ш": "s", "щ": "sc", "ъ": "", "ь": "", "ы": "i", "э": "e",
        "ю": "iu", "я": "ia", "ł": "l", "'": "", "ʼ": "", "’": "", "`": "", "ß": "ss", "ø": "o",
    }
)  # fmt: skip
# Latin spellings of the same sounds: English (sh, zh, kh, ts; shch becomes "sc" like щ), łacinka after its
# diacritics are dropped (č -> c, š -> s), and letters that differ only by spelling habit.
_LATIN = (
    ("sh", "s"), ("zh", "z"), ("ch", "c"), ("kh", "h"), ("ts", "c"),
    ("tz", "c"), ("x", "ks"), ("w", "u"), ("q", "k"), ("g", "h"), ("j", "i"), ("y", "i"), ("o", "a"),
)  # fmt: skip
_IOTATED = re.compile(r"i(?=[aeu])")  # я = ja = ya = ia -> a: written three ways, heard as one
_DOUBLE = re.compile(r"([a-z0-9])\1+")  # Belarusian doubles consonants (Уручча), Russian does not
_NOT_WORD = re.compile(r"[^a-z0-9]+")


_HOUSE_PART = re.compile(r"korpus|korp|kor")
_NOT_HOUSE = re.compile(r"[^a-z0-9/]+")


def house_key(number: str) -> str:
    """A house number folded for matching: "8 к1", "8к1" and "8 корпус 1" are "8k1", "8А" and "8-а" are
    "8a", "8/2" stays (it is not 82). Mirrored by ``houseKey`` in mapaid/static/places.js."""
    text = number.lower().translate(_CYRILLIC)
    return _NOT_HOUSE.sub("", _HOUSE_PART.sub("k", text))


def skeleton(text: str) -> str:
    """``text`` folded to an ASCII skeleton: case and diacritics dropped, Cyrillic transliterated, the
    letters Belarusian and Russian spell differently (и/і/ы, о/а, г/h, щ/шч, ъ/ʼ, е/э, ў/у) made one.
    Words are kept apart by single spaces. Mirrored by ``skeleton`` in mapaid/static/places.js."""
    text = unicodedata.normalize("NFD", text.lower())
    text = "".join(c for c in text if not unicodedata.combining(c)).translate(_CYRILLIC)
    for latin, plain in _LATIN:
        text = text.replace(latin, plain)
    text = _IOTATED.sub("", text)
    text = _DOUBLE.sub(r"\1", text)
    return _NOT_WORD.sub(" ", text).strip()


@dataclass
class Place:
    """One named place as a loader reads it, before it is clipped and stored."""

    kind: str
    name: str
    lon: float
    lat: float
    names: dict[str, str] = field(default_factory=dict)  # language -> name (be, ru, en)
    alt: list[str] = field(default_factory=list)  # other languages, old and alternative names
    line: list[tuple[float, float]] | None = None
    source: str = "osm"

    def all_names(self) -> list[str]:
        return [n for n in (self.name, *self.names.values(), *self.alt) if n]


def _metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Equirectangular distance: plenty for telling whether two places in one city are the same."""
    x = math.radians(lon2 - lon1) * math.cos(math.radians((lat1 + lat2) / 2))
    return 6_371_000.0 * math.hypot(x, math.radians(lat2 - lat1))


def _row_place(row: Mapping[str, Any]) -> Place:
    names = {lang: row[f"name_{lang}"] for lang in LANGS if row[f"name_{lang}"]}
    line = (
        [(float(x), float(y)) for x, y in np.frombuffer(row["line"], "<f8").reshape(-1, 2)]
        if row["line"]
        else None
    )
    alt = [a for a in row["alt"].split("|") if a]
    return Place(row["kind"], row["name"], row["lon"], row["lat"], names, alt, line, row["source"])


def _merge(into: Place, other: Place) -> None:
    for lang, name in other.names.items():
        into.names.setdefault(lang, name)
    known = set(into.all_names())
    for name in other.all_names():
        if name not in known:
            known.add(name)
            into.alt.append(name)
    if other.line:
        into.line = (into.line or []) + other.line


def merged(places: Iterable[Place]) -> list[Place]:
    """One place per kind and name within a short distance: names in other languages and line pieces
    of the duplicates are added to the first."""
    kept: list[Place] = []
    index: dict[tuple[str, str], list[Place]] = {}
    for place in places:
        keys = _keys(place)
        limit = MERGE_M.get(place.kind, MERGE_DEFAULT_M)
        same = next(
            (
                other
                for key in keys
                for other in index.get(key, [])
                if _metres(other.lon, other.lat, place.lon, place.lat) <= limit
            ),
            None,
        )
        if same is None:
            kept.append(place)
            same = place
        else:
            _merge(same, place)
        for key in keys | _keys(same):
            if same not in index.setdefault(key, []):
                index[key].append(same)
    return kept


def _keys(place: Place) -> set[tuple[str, str]]:
    """What makes two places one when they lie close: a name in common; for a house, its street and
    number together (the houses of one street are many places)."""
    if place.kind == "house":
        return {("house", f"{skeleton(street)}|{house_key(place.name)}") for street in place.alt[:1]}
    return {(place.kind, skeleton(n)) for n in place.all_names()}


def all_places(store: Store) -> list[Place]:
    return [_row_place(r) for r in store.place_rows()]


def count(store: Store) -> dict[str, int]:
    """Places per kind."""
    return store.place_kinds()


def inside(store: Store, places: Sequence[Place]) -> list[Place]:
    """The places that lie in the served area (a street: any point of its line)."""
    area = store.area()
    kept = []
    for place in places:
        points = place.line or [(place.lon, place.lat)]
        lon = np.array([p[0] for p in points])
        lat = np.array([p[1] for p in points])
        hit = area.contains(lon, lat)
        if hit.any():
            if place.line:
                place.line = [p for p, ok in zip(points, hit, strict=True) if ok]
                place.lon, place.lat = _middle(place.line)
            kept.append(place)
    return kept


def _middle(points: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """The point of a line nearest the mean of its points: on the street, in its middle."""
    mx = sum(p[0] for p in points) / len(points)
    my = sum(p[1] for p in points) / len(points)
    return min(points, key=lambda p: (p[0] - mx) ** 2 + (p[1] - my) ** 2)


def _districts(store: Store, places: Sequence[Place]) -> list[str | None]:
    area = store.area()
    lon = np.array([p.lon for p in places], dtype=float)
    lat = np.array([p.lat for p in places], dtype=float)
    found: list[str | None] = [None] * len(places)
    for row in area.districts.itertuples():
        for i in np.flatnonzero(shapely.contains_xy(row.geometry, lon, lat)):
            found[i] = found[i] or str(row.slug)
    return found


def add(store: Store, places: Sequence[Place]) -> int:
    """Store ``places`` (clipped with ``inside``) merged with those stored before; returns how many
    places the table holds afterwards. All or nothing."""
    kept = merged([*all_places(store), *places])
    districts = _districts(store, kept) if kept else []
    store.replace_places([_row(p, d) for p, d in zip(kept, districts, strict=True)])
    return len(kept)


def _row(place: Place, district: str | None) -> dict[str, Any]:
    """A place as the store keeps it (``PLACE_COLUMNS`` without ``id``); a street's line as little-endian
    float64 lon, lat pairs, at most 40 points."""
    line = np.asarray(place.line[:40], dtype="<f8").tobytes() if place.line else None
    return {
        "kind": place.kind,
        "name": place.name,
        **{f"name_{lang}": place.names.get(lang) for lang in LANGS},
        "alt": "|".join(place.alt),
        "district": district,
        "lon": place.lon,
        "lat": place.lat,
        "line": line,
        "source": place.source,
    }


def clear(store: Store) -> None:
    store.replace_places([])


def sources(store: Store) -> set[str]:
    """Where the stored places come from (``osm``, ``metro4all``, ``list``): the credits a page owes."""
    return store.place_sources()


def gazetteer(store: Store) -> dict[str, Any]:
    """The whole gazetteer in the compact form the page searches: kinds and districts once, then per
    place ``[kind, district, lon, lat, be, ru, en, other names]`` with coordinates to 4 decimals (~10 m)
    and a translation left empty when it equals the Belarusian name; then per house (``h``)
    ``[street, number, lon, lat, district]``: the index of its street among the places, its number as
    the address writes it, and the centre of its building to 5 decimals (a metre: the hexagon that holds
    it must come out the same in the browser). Mostly the same for everyone."""
    districts = store.area().by_slug
    slugs = list(districts)
    rows, houses = [], []
    for r in sorted(store.place_rows(), key=lambda r: (r["kind"], r["name"])):
        where = slugs.index(r["district"]) if r["district"] in districts else -1
        if r["kind"] == "house":
            houses.append((r, where))
            continue
        be = r["name_be"] or r["name"]
        ru = r["name_ru"] if r["name_ru"] and r["name_ru"] != be else ""
        en = r["name_en"] if r["name_en"] and r["name_en"] != be else ""
        known = {be, ru, en}
        alt = "|".join(a for a in r["alt"].split("|") if a and a not in known)
        kind = KINDS.index(r["kind"]) if r["kind"] in KINDS else KINDS.index("place")
        rows.append([kind, where, round(r["lon"], 4), round(r["lat"], 4), be, ru, en, alt])
    return {
        "v": 2,
        "k": list(KINDS),
        "d": [[districts[s].name_be, districts[s].name_ru, districts[s].name_en] for s in slugs],
        "p": rows,
        "h": _houses(rows, houses),
    }


def _houses(rows: list[list[Any]], houses: Sequence[tuple[Mapping[str, Any], int]]) -> list[list[Any]]:
    """Each house tied to the street its address names: the nearest street (or square) place with that
    name in any language. A house whose street is not among the places is left out: the search finds a
    house by its street."""
    streets: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        if KINDS[row[0]] in ("street", "square"):
            for name in [*row[4:7], *row[7].split("|")]:
                if name:
                    streets.setdefault(skeleton(name), []).append(i)
    out = []
    for r, where in houses:
        street = r["alt"].split("|")[0]
        found = streets.get(skeleton(street), [])
        if not found:
            continue
        near = min(found, key=lambda i: _metres(rows[i][2], rows[i][3], r["lon"], r["lat"]))
        out.append([near, r["name"], round(r["lon"], 5), round(r["lat"], 5), where])
    out.sort(key=lambda h: (h[0], house_key(h[1])))
    return out


def display_name(place: Place, lang: str) -> str:
    """The place's name in ``lang``, else in Belarusian, Russian, English, else its own name."""
    for code in (lang, "be", "ru", "en"):
        if place.names.get(code):
            return place.names[code]
    return place.name


def nearest(store: Store, lon: float, lat: float, lang: str, *, within_m: float = 600.0) -> str | None:
    """The name, in ``lang``, of the named place nearest to (lon, lat) within ``within_m`` metres, for
    naming a hexagon by its centre ("near Kastrychnitskaya"). Metro stations, squares and streets are
    preferred to shops and stops a little closer (they are what people say), and a street is measured
    to the nearest point of its line. None when nothing named is that close."""
    weight = {"metro": 0.5, "square": 0.8, "street": 1.0, "area": 1.0, "park": 1.0, "station": 0.8}
    best: tuple[float, Place] | None = None
    for place in all_places(store):
        if place.kind in ("entrance", "shop", "house"):
            continue
        points = place.line or [(place.lon, place.lat)]
        d = min(_metres(x, y, lon, lat) for x, y in points)
        if d > within_m:
            continue
        score = d * weight.get(place.kind, 1.5)
        if best is None or score < best[0]:
            best = (score, place)
    return None if best is None else display_name(best[1], lang)
