"""Places: the loaders on the real shipped extracts, clipping, refusals that name the problem, the
skeleton that makes spellings meet, ``nearest``, ``/places.json`` and the credits on the pages."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import Cli
from flask.testing import FlaskClient

from mapaid import placeload, places
from mapaid.config import DEFAULT_PLACES, SHIPPED_GEODATA, resolve
from mapaid.store import Store

METRO = SHIPPED_GEODATA / "minsk-metro4all"
PASS = SHIPPED_GEODATA / "minsk-pass.osm.bz2"
STREETS = SHIPPED_GEODATA / "minsk-streets" / "be-tarask.json"


def _by_name(found: list[places.Place], name: str, kind: str | None = None) -> places.Place:
    """The first place named ``name`` (of ``kind``: a street's houses carry its name too)."""
    return next(p for p in found if name in p.all_names() and kind in (None, p.kind))


def test_metro4all_stations_and_entrances_in_three_languages() -> None:
    stations = placeload.read(METRO / "stations.csv")
    assert len(stations) == 29 and {p.kind for p in stations} == {"metro"}
    october = _by_name(stations, "Кастрычніцкая")
    assert october.names == {"be": "Кастрычніцкая", "ru": "Октябрьская", "en": "Kastryčnickaja"}
    assert october.source == "metro4all"
    entrances = placeload.read(METRO / "portals.csv")
    assert len(entrances) == 240 and {p.kind for p in entrances} == {"entrance"}
    assert all(p.names["ru"].startswith(tuple(s.names["ru"] for s in stations)) for p in entrances)


def test_street_list_whole_city_belarusian_and_latin() -> None:
    streets = placeload.read(STREETS)
    assert len(streets) == 486 and {p.kind for p in streets} == {"street"}
    kirava = _by_name(streets, "вуліца Кірава")
    assert kirava.names == {"be": "вуліца Кірава", "en": "vulica Kirava"}
    assert kirava.line and len(kirava.line) >= 2
    lons = [p.lon for p in streets]
    assert min(lons) < 27.45 and max(lons) > 27.8  # across the city, not one corner


def test_osm_extract_every_kind_with_names_in_languages() -> None:
    found = placeload.read(PASS)
    kinds = {k: sum(p.kind == k for p in found) for k in places.KINDS}
    assert kinds["street"] >= 80 and kinds["stop"] >= 40 and kinds["shop"] >= 300
    assert kinds["school"] >= 5 and kinds["park"] >= 3 and kinds["square"] >= 2 and kinds["metro"] >= 3
    kirova = _by_name(found, "улица Кирова", "street")
    assert kirova.kind == "street" and kirova.names["be"] == "вуліца Кірава"
    assert kirova.line and len(kirova.line) > 2
    assert any(p.kind == "square" and p.names.get("en") == "Independence Square" for p in found)


def test_damaged_names_are_dropped() -> None:
    """The Kovalskaya Sloboda extract was saved with '?' for every non-ASCII letter."""
    found = placeload.read(SHIPPED_GEODATA / "minsk-kovalskaya-sloboda.osm.bz2")
    assert found and not [n for p in found for n in p.all_names() if "?" in n]


def test_init_db_loaded_and_merged_the_shipped_places(store: Store) -> None:
    counts = places.count(store)
    assert counts["metro"] >= 29 and counts["street"] >= 486 + 50 and counts["entrance"] >= 150
    stored = places.all_places(store)
    kirava = [p for p in stored if p.kind == "street" and p.names.get("be") == "вуліца Кірава"]
    assert len(kirava) == 1  # one street from two files, its Russian name from OSM
    assert kirava[0].names["ru"] == "улица Кирова" and kirava[0].names["en"] == "vulica Kirava"
    october = [p for p in stored if p.kind == "metro" and p.names.get("ru") == "Октябрьская"]
    assert len(october) == 1


def test_places_are_clipped_to_the_served_area(tmp_path: Path, cli: Cli, store: Store) -> None:
    listing = tmp_path / "points.csv"
    listing.write_text(
        "lat,lon,name,name_ru,kind\n53.9,27.55,Наш двор,Наш двор,place\n60.17,24.94,Kamppi,,place\n",
        encoding="utf-8",
    )
    result = cli("places", "load", str(listing))
    assert result.exit_code == 0, result.output
    assert "1 of 2 named places in the served area" in result.output
    names = {n for p in places.all_places(store) for n in p.all_names()}
    assert "Наш двор" in names and "Kamppi" not in names
    assert "list" in places.sources(store)


def test_geojson_list(tmp_path: Path, cli: Cli, store: Store) -> None:
    path = tmp_path / "p.geojson"
    feature = {
        "type": "Feature",
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[27.5, 53.9], [27.51, 53.9], [27.51, 53.91], [27.5, 53.9]]],
        },
        "properties": {"name": "Двор на Кальварыйскай", "name:en": "Kalvaryjskaja yard", "kind": "park"},
    }
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}), encoding="utf-8")
    result = cli("places", "load", str(path))
    assert result.exit_code == 0, result.output
    yard = _by_name(places.all_places(store), "Двор на Кальварыйскай")
    assert yard.kind == "park" and yard.names["en"] == "Kalvaryjskaja yard"


BAD: dict[str, tuple[str, bytes]] = {
    "not xml": ("a.osm", b"hello, this is not XML"),
    "other xml": ("b.osm", b"<?xml version='1.0'?><gpx><wpt lat='53.9' lon='27.5'/></gpx>"),
    "entities": (
        "c.osm",
        b"<?xml version='1.0'?><!DOCTYPE osm [<!ENTITY a 'aaaa'>]><osm><node id='1' lat='53.9' lon='27.5'>"
        b"<tag k='name' v='&a;'/><tag k='shop' v='yes'/></node></osm>",
    ),
    "unnamed": ("d.osm", b"<osm><node id='1' lat='53.9' lon='27.5'><tag k='shop' v='yes'/></node></osm>"),
    "no columns": ("e.csv", b"x;y;title\n1;2;a\n"),
    "not json": ("f.geojson", b"{nope"),
    "not a collection": ("g.geojson", b'{"type": "Point", "coordinates": [27.5, 53.9]}'),
    "unknown": ("h.bin", b"\x00\x01\x02binary"),
    "bad bz2": ("i.osm.bz2", b"BZh9 not really"),
}
EXPECTED = {
    "not xml": "is not OpenStreetMap XML",
    "other xml": "is XML but not OpenStreetMap data (<gpx>)",
    "entities": "is not OpenStreetMap XML",
    "unnamed": "holds no named place",
    "no columns": "needs the columns lat, lon and name",
    "not json": "is not GeoJSON",
    "not a collection": "is not a GeoJSON FeatureCollection",
    "unknown": "is not an OSM, CSV or GeoJSON file",
    "bad bz2": "could not be read",
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_files_are_refused_naming_the_problem(case: str, tmp_path: Path, cli: Cli, store: Store) -> None:
    name, content = BAD[case]
    path = tmp_path / name
    path.write_bytes(content)
    before = places.count(store)
    result = cli("places", "load", str(path))
    assert result.exit_code != 0
    assert EXPECTED[case] in result.output and name in result.output, result.output
    assert places.count(store) == before


def test_a_file_outside_the_served_area_is_refused(tmp_path: Path, cli: Cli) -> None:
    path = tmp_path / "helsinki.csv"
    path.write_text("lat,lon,name\n60.17,24.94,Kamppi\n60.16,24.95,Kaartinkaupunki\n", encoding="utf-8")
    result = cli("places", "load", str(path))
    assert result.exit_code != 0
    assert "none of its 2 named places lies in the served area" in result.output


def test_places_list_and_clear(cli: Cli, store: Store) -> None:
    listed = cli("places", "list")
    assert "metro\t" in listed.output and "total\t" in listed.output
    assert cli("places", "clear").exit_code == 0
    assert places.count(store) == {}


SAME = [
    ("Kastrychnitskaya", "Кастрычніцкая", "Kastryčnickaja"),
    ("Uručča", "Уручча", "Uruchcha"),
    ("Niamiha", "Няміга", "Nyamiha"),
    ("Maskoŭskaja", "Маскоўская", "Maskouskaya"),
    ("вуліца Кірава", "vulica Kirava", "vulitsa Kirava"),
    ("Шчорса", "Щорса", "Shchorsa"),
    ("Łahojski", "Лагойскі", "Lahojski"),
    ("падʼезд", "подъезд", "pad'ezd"),
    ("Плошча", "Ploshcha", "Plošča"),
    ("Щорса", "Shchorsa", "Ščorsa"),
]


@pytest.mark.parametrize("spellings", SAME, ids=[s[0] for s in SAME])
def test_spellings_meet_in_one_skeleton(spellings: tuple[str, ...]) -> None:
    assert len({places.skeleton(s) for s in spellings}) == 1, [places.skeleton(s) for s in spellings]


def test_skeleton_is_ascii_words() -> None:
    folded = places.skeleton("  Плошча   Перамогі, 1-ы завулак! ")
    assert folded == "plasca peramahi 1 i zavulak"
    assert places.skeleton("Кирова") != places.skeleton("Кірэева")


def test_nearest_names_a_place_in_the_language_asked(store: Store) -> None:
    # Beside Kastrychnitskaya / Kupalaŭskaja metro: a metro station's name in each language.
    assert places.nearest(store, 27.5622, 53.9019, "be") == "Кастрычніцкая"
    assert places.nearest(store, 27.5622, 53.9019, "ru") == "Октябрьская"
    assert places.nearest(store, 27.5622, 53.9019, "en") == "Kastryčnickaja"
    # Far from everything named (a forest at the city's edge within 50 m): nothing.
    assert places.nearest(store, 27.46, 53.97, "en", within_m=50) is None


def test_gazetteer_is_small_public_and_the_same_for_everyone(client: FlaskClient) -> None:
    first = client.get("/places.json", headers={"Accept-Language": "ru"})
    second = client.get("/places.json", headers={"Accept-Language": "en", "Cookie": "lang=be"})
    assert first.status_code == 200 and first.data == second.data
    assert first.mimetype == "application/json"
    assert "public" in first.headers["Cache-Control"] and first.headers.get("ETag")
    assert "Set-Cookie" not in first.headers
    assert len(first.data) < 300_000 and len(gzip.compress(first.data)) < 80_000
    data: dict[str, Any] = json.loads(first.data)
    assert data["k"] == list(places.KINDS) and len(data["d"]) == 9
    row = next(r for r in data["p"] if r[4] == "Кастрычніцкая")
    assert data["k"][row[0]] == "metro" and row[5] == "Октябрьская" and row[6] == "Kastryčnickaja"
    assert all(len(str(c).split(".")[-1]) <= 4 for r in data["p"] for c in r[2:4])
    again = client.get("/places.json", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


@pytest.mark.parametrize("lang", ["be", "ru", "en"])
@pytest.mark.parametrize("path", ["/", "/post"])
def test_pages_with_the_search_credit_osm_and_metro4all(client: FlaskClient, path: str, lang: str) -> None:
    page = client.get(f"{path}?lang={lang}").get_data(as_text=True)
    assert 'role="combobox"' in page and 'id="place-q"' in page and "places.js" in page
    assert "© OpenStreetMap contributors" in page
    assert "Metro4all (NextGIS)" in page and "CC BY-SA 4.0" in page
    assert 'name="place' not in page  # the query is never a form field


def test_no_places_no_search_box(client: FlaskClient, store: Store) -> None:
    places.clear(store)
    page = client.get("/").get_data(as_text=True)
    assert "place-q" not in page and "Metro4all" not in page
    assert json.loads(client.get("/places.json").data)["p"] == []


def test_shipped_places_only_with_the_shipped_districts(tmp_path: Path) -> None:
    def settings(**overrides: object) -> Any:
        return resolve({"SECRET_KEY": "x", **overrides})

    assert settings().places == DEFAULT_PLACES
    assert settings(DISTRICTS=str(tmp_path / "helsinki.gpkg")).places == ()
    named = settings(DISTRICTS=str(tmp_path / "h.gpkg"), PLACES=f"{tmp_path}/a.osm, {tmp_path}/b.csv")
    assert named.places == (tmp_path / "a.osm", tmp_path / "b.csv")
    assert all(p.exists() for p in DEFAULT_PLACES)


def osm_building_centre(street: str, number: str) -> tuple[float, float]:
    """(lat, lon) of the centroid of the building the centre's OSM extract gives this address, read
    from the XML with shapely here, independently of the loader."""
    import bz2
    import xml.etree.ElementTree as ET

    import shapely

    coords: dict[str, tuple[float, float]] = {}
    with bz2.open(PASS) as f:
        for _, el in ET.iterparse(f):
            if el.tag == "node":
                coords[el.get("id", "")] = (float(el.get("lon", "0")), float(el.get("lat", "0")))
            elif el.tag == "way":
                tags = {t.get("k"): t.get("v") for t in el.iter("tag")}
                if tags.get("addr:street") == street and tags.get("addr:housenumber") == number:
                    centre = shapely.Polygon([coords[n.get("ref", "")] for n in el.iter("nd")]).centroid
                    return centre.y, centre.x
            if el.tag in ("way", "relation"):
                el.clear()
    raise AssertionError(f"no building {street}, {number} in the extract")


def test_house_numbers_are_read_at_their_buildings() -> None:
    found = placeload.read(PASS)
    houses = [p for p in found if p.kind == "house"]
    assert len(houses) >= 900  # 1,375 objects carry an address; shops in one building share it
    kirava = {p.name: p for p in houses if p.alt == ["улица Кирова"]}
    assert {"1", "8", "8 к1", "8 к2", "33"} <= set(kirava)
    lat, lon = osm_building_centre("улица Кирова", "8")
    assert abs(kirava["8"].lat - lat) < 1e-9 and abs(kirava["8"].lon - lon) < 1e-9  # not a shop's node
    assert len({(p.alt[0], p.name) for p in houses}) == len(houses)  # one place per address
    assert not [p for p in houses if "?" in p.alt[0]]


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("8", "8"),
        ("8а", "8a"),
        ("8А", "8a"),
        ("8-а", "8a"),
        ("8 к1", "8k1"),
        ("8к1", "8k1"),
        ("8 корпус 1", "8k1"),
        ("8 korp. 1", "8k1"),
        ("8/2", "8/2"),
        ("11", "11"),
        ("22 к10", "22k10"),
    ],
)
def test_house_numbers_fold_to_one_key(typed: str, key: str) -> None:
    assert places.house_key(typed) == key


def test_gazetteer_ties_houses_to_their_streets(client: FlaskClient) -> None:
    response = client.get("/places.json")
    data: dict[str, Any] = json.loads(response.data)
    assert data["k"][-1] == "house" and len(data["h"]) >= 900
    street = next(i for i, r in enumerate(data["p"]) if r[4] == "вуліца Кірава")
    assert data["p"][street][5] == "улица Кирова" and data["p"][street][6] == "vulica Kirava"
    houses = {h[1]: h for h in data["h"] if h[0] == street}
    assert {"1", "8", "8 к1", "33"} <= set(houses)
    lat, lon = osm_building_centre("улица Кирова", "8")
    assert (houses["8"][3], houses["8"][2]) == (round(lat, 5), round(lon, 5))
    assert data["d"][houses["8"][4]][2] == "Leninsky District"
    assert all(data["k"][data["p"][h[0]][0]] in ("street", "square") for h in data["h"])
    # No place row is a house (they are the "h" list), and nearest() never names a hexagon by one.
    assert not [r for r in data["p"] if data["k"][r[0]] == "house"]
