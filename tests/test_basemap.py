"""The street layer, the home map's counts and /near's walking bands through the Flask test client.

Counts: equal to the store's open posts per area at every level, no position finer than the area, the same
answer for every visitor and kept per revision (never per viewer). Streets: built from the shipped sources,
compact, names per language. Bands: the wording per distance, and the map draws every listed post's cell."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import h3.api.basic_int as h3
import numpy as np
import pandas as pd
import pytest
from conftest import TEST_SECRET
from flask import Flask
from flask.testing import FlaskClient

from mapaid import basemap, counts
from mapaid.cache import REGISTRY
from mapaid.config import DEFAULT_BASEMAP, DEFAULT_CATEGORIES, SHIPPED_GEODATA
from mapaid.export import public_frame
from mapaid.pipeline import ingest, rules_for
from mapaid.spatial import walk_bands
from mapaid.store import Store

CENTRE = (53.8904, 27.5513)


def _fill(store: Store, today: date, n: int = 300, seed: int = 3) -> None:
    """Posts over the whole city, offers and needs mixed, two of them fulfilled (not counted)."""
    rng = np.random.default_rng(seed)
    west, south, east, north = store.area().districts.total_bounds
    cells: list[str] = []
    while len(cells) < n:
        lat, lon = rng.uniform(south, north), rng.uniform(west, east)
        cell = h3.latlng_to_cell(lat, lon, 9)
        if store.area().cell_districts(np.array([cell], dtype=np.int64))[0][0] >= 0:
            cells.append(h3.int_to_str(cell))
    rows = pd.DataFrame(
        {
            "cell": cells,
            "kind": rng.choice(["offer", "need"], size=n),
            "category": "food",
            "text": [f"post {i}" for i in range(n)],
        }
    )
    ingest(
        rows, [str(i) for i in range(n)], rules_for(DEFAULT_CATEGORIES, 9, today), store, TEST_SECRET.encode()
    )


def _areas(client: FlaskClient, level: str) -> dict[str, tuple[int, int, float, float]]:
    response = client.get(f"/counts.json?res={level}")
    assert response.status_code == 200
    return {a[0]: (a[1], a[2], a[3], a[4]) for a in response.get_json()["areas"]}


def test_counts_equal_the_open_posts_of_each_area(client: FlaskClient, store: Store, today: date) -> None:
    _fill(store, today)
    open_posts = store.posts(today)
    first = open_posts["id"].iloc[0]
    store.set_status(first, "fulfilled")  # type: ignore[arg-type]
    open_posts = store.posts(today)
    assert len(open_posts) == 299

    def expected(keys: list[Any]) -> dict[str, tuple[int, int]]:
        frame = pd.DataFrame({"key": keys, "kind": open_posts["kind"].tolist()})
        table = pd.crosstab(frame["key"], frame["kind"])
        return {str(k): (int(r.get("offer", 0)), int(r.get("need", 0))) for k, r in table.iterrows()}

    districts = _areas(client, "district")
    assert {k: v[:2] for k, v in districts.items()} == expected(open_posts["district"].tolist())
    cells = open_posts["cell"].astype(np.int64).tolist()
    for res in (7, 8, 9):
        parents = [h3.int_to_str(h3.cell_to_parent(int(c), res)) for c in cells]
        assert {k: v[:2] for k, v in _areas(client, str(res)).items()} == expected(parents)
    assert client.get("/counts.json?res=10").status_code == 400
    assert client.get("/counts.json?res=6").status_code == 400


def test_counts_show_no_position_beyond_the_area(client: FlaskClient, store: Store, today: date) -> None:
    _fill(store, today, n=80)
    for res in (7, 8, 9):
        for cell, (_o, _n, lat, lon) in _areas(client, str(res)).items():
            clat, clon = h3.cell_to_latlng(h3.str_to_int(cell))
            assert (lat, lon) == (round(clat, 5), round(clon, 5))  # the cell's own centre, nothing finer
    points = store.area().districts.set_index("slug").geometry.representative_point()
    for slug, (_o, _n, lat, lon) in _areas(client, "district").items():
        assert (lat, lon) == (round(points[slug].y, 5), round(points[slug].x, 5))
    # No shown position of any post (exports, the /near map) appears in any answer.
    shown = public_frame(store.posts(today), store.area(), 9, "en")
    positions = {(round(lat, 5), round(lon, 5)) for lat, lon in zip(shown["lat"], shown["lon"], strict=True)}
    answered = {(a[2], a[3]) for r in counts.levels(9) for a in _areas(client, r).values()}
    assert answered and not answered & positions
    bodies = "".join(client.get(f"/counts.json?res={r}").get_data(as_text=True) for r in counts.levels(9))
    assert "text" not in bodies and "post " not in bodies and "id" not in bodies


def test_counts_are_the_same_for_every_visitor_and_follow_the_revision(
    app: Flask, store: Store, today: date
) -> None:
    _fill(store, today, n=50)
    answers = set()
    for lang, address in (("be", "10.0.0.1"), ("ru", "10.0.0.2"), ("en", "2001:db8::1")):
        client = app.test_client()
        client.set_cookie("lang", lang)
        response = client.get("/counts.json?res=8", environ_base={"REMOTE_ADDR": address})
        assert response.headers["Cache-Control"] == "public, no-cache"
        # Only the encoding varies (mapaid.compress): never the language, the cookie or the visitor.
        assert "Set-Cookie" not in response.headers and response.headers["Vary"] == "Accept-Encoding"
        answers.add((response.get_data(), response.headers["ETag"]))
    assert len(answers) == 1
    body, etag = answers.pop()
    again = app.test_client().get("/counts.json?res=8", headers={"If-None-Match": etag})
    assert again.status_code == 304
    # The cache holds per-revision values, named by level, never by a viewer's cell or box.
    cache = next(c for c in REGISTRY if c.name == "area counts")
    for entry in cache.entries():
        assert set(entry) == {"database", "revision", "day"}
    _fill(store, today, n=1, seed=9)
    after = app.test_client().get("/counts.json?res=8")
    assert after.get_data() != body and after.headers["ETag"] != etag


def test_the_street_layer_is_built_from_the_shipped_sources(tmp_path: Path) -> None:
    built = basemap.build(SHIPPED_GEODATA)
    assert len(built["streets"]) > 486  # the city's Wikidata streets and the centre's OSM streets
    assert len(built["metro"]["stations"]) == 29 and len(built["metro"]["lines"]) == 8
    russian = [s for s in built["streets"] if "ru" in s["names"]]
    assert len(russian) > 50 and sum(1 for s in russian if s["names"].get("be")) > 50
    size = basemap.write(built, tmp_path / "layer.json")
    assert size < 400_000
    assert json.loads((tmp_path / "layer.json").read_bytes()) == json.loads(DEFAULT_BASEMAP.read_bytes())


@pytest.mark.parametrize(
    ("lang", "station", "street"),
    [
        ("be", "Плошча Леніна", "вуліца Кірава"),
        ("ru", "Площадь Ленина", "улица Кирова"),
        ("en", "Plošča Lienina", "vulica Kirava"),  # Latin, as the station names and street signs
    ],
)
def test_the_street_layer_speaks_the_page_language(
    client: FlaskClient, lang: str, station: str, street: str
) -> None:
    response = client.get(f"/basemap/{lang}.json")
    assert response.status_code == 200 and response.headers["Cache-Control"].startswith("public")
    assert len(response.data) < 400_000
    data = response.get_json()
    assert station in [s[0] for s in data["stations"]]
    assert street in [s[0] for s in data["streets"]]
    numbers = re.findall(r"-?\d+\.\d+", response.get_data(as_text=True))
    assert numbers and max(len(n.split(".")[1]) for n in numbers) <= 5
    assert "OpenStreetMap" in data["attribution"] and "metro4all" in data["attribution"]
    assert client.get("/basemap/xx.json").status_code == 404


def test_pages_load_the_layer_and_credit_it(client: FlaskClient, config: dict[str, Any]) -> None:
    html = client.get("/?lang=be").get_data(as_text=True)
    assert "/static/basemap.js" in html and "/basemap/be.json" in html and "/static/counts.js" in html
    assert "metro4all (CC BY-SA 4.0)" in html
    assert "Streets and buildings \\u00a9 OpenStreetMap contributors" in html
    from mapaid import create_app

    off = create_app({**config, "BASEMAP": "none"}).test_client()
    assert "/static/basemap.js" not in off.get("/").get_data(as_text=True)
    assert off.get("/basemap/en.json").status_code == 404


def test_walking_bands_in_words() -> None:
    assert walk_bands([0, 1, 430, 599, 600, 780, 999, 1000, 1200]) == [0, 1, 1, 1, 2, 2, 2, 3, 3]


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("en", ["in your hexagon", "about 5 minutes", "about 10 minutes", "about 15 minutes"]),
        ("ru", ["в вашем шестиугольнике", "около 5 минут", "около 10 минут", "около 15 минут"]),
        ("be", ["у вашым шасцікутніку", "каля 5 хвілін", "каля 10 хвілін", "каля 15 хвілін"]),
    ],
)
def test_near_lists_bands_and_draws_every_listed_cell(
    client: FlaskClient, store: Store, today: date, lang: str, words: list[str]
) -> None:
    origin = h3.latlng_to_cell(*CENTRE, 9)
    cells = [h3.int_to_str(c) for k in range(5) for c in h3.grid_ring(origin, k)]
    rows = pd.DataFrame({"cell": cells, "kind": "need", "category": "food", "text": "bread"})
    ingest(
        rows,
        [str(i) for i in range(len(rows))],
        rules_for(DEFAULT_CATEGORIES, 9, today),
        store,
        TEST_SECRET.encode(),
    )
    html = client.get(f"/near/{h3.int_to_str(origin)}?within=1200&lang={lang}").get_data(as_text=True)
    listed = re.findall(r'<span class="walk walk-band-(\d)"[^>]*>([^<]*)</span>', html)
    assert {int(b) for b, _ in listed} == {0, 1, 2, 3}
    for band, text in listed:
        assert text == words[int(band)]
    assert "±" not in html and "× 1.3" not in html
    blob = json.loads(re.search(r'id="mapaid-posts">(.*?)</script>', html, re.S).group(1))  # type: ignore[union-attr]
    drawn = {cell for cell, _band, _ring in blob["view"]["reach"]}
    assert "radius" not in blob["view"]  # no circle that disagrees with the list
    ids = re.findall(r'<li class="post" data-id="([^"]+)"', html)
    assert ids and set(ids) <= set(blob["posts"]["id"])
    for lat, lon in zip(blob["posts"]["lat"], blob["posts"]["lon"], strict=True):
        assert h3.int_to_str(h3.latlng_to_cell(lat, lon, 9)) in drawn
    for post_id in ids:
        cell = store.get(post_id)["cell"]  # type: ignore[index]
        assert h3.int_to_str(int(cell)) in drawn
    # each drawn cell's band is the band the list gives a post there
    bands = {cell: band for cell, band, _ring in blob["view"]["reach"]}
    for post_id, band in zip(blob["posts"]["id"], blob["posts"]["band"], strict=True):
        assert bands[h3.int_to_str(int(store.get(post_id)["cell"]))] == band  # type: ignore[index]


def test_no_street_or_station_is_labelled_nan_in_any_language() -> None:
    """A way with a highway tag and no name came out of GDAL with a float NaN for its name, which was
    drawn as "nan" (near 53.884, 27.569): no label of the shipped layer, in any language, is "nan" or
    empty."""
    shipped = basemap.load(DEFAULT_BASEMAP)
    for lang in ("be", "ru", "en"):
        layer = basemap.for_language(shipped, lang)
        names = [s[0] for s in layer["streets"]] + [s[0] for s in layer["stations"]]
        bad = [n for n in names if not isinstance(n, str) or not n.strip() or re.search(r"(?i)\bnan\b", n)]
        assert not bad, (lang, bad)
    for street in shipped["streets"]:
        assert all(isinstance(n, str) and n.strip() for n in street["names"].values()), street["names"]


# What only the classical spelling writes: a soft sign before a soft consonant, э after a labial in a
# loanword, the old names of Brest, Hrodna and Minsk.
TARASK = re.compile(r"[зсцн]ь(?:дз|[бвгджзклмнпрстфхцчшў])[еёіюяь]|праспэкт|Менск|Берасьц|Гарадзенск", re.I)


def test_belarusian_labels_are_in_the_official_spelling() -> None:
    shipped = basemap.load(DEFAULT_BASEMAP)
    be = [s[0] for s in basemap.for_language(shipped, "be")["streets"]]
    assert not [n for n in be if TARASK.search(n)]
    assert "вуліца Свярдлова" in be and "праспект Машэрава" in be and "Брэсцкая вуліца" in be
    # One street once, under either spelling: Sviardlova is in the city list and in the centre's OSM.
    assert be.count("вуліца Свярдлова") == 1
    en = [s[0] for s in basemap.for_language(shipped, "en")["streets"]]
    assert "vulica Sviardlova" in en and not [n for n in en if re.search("[а-яёіў]", n, re.I)]


def test_the_spelling_rules_match_osm_where_it_has_both() -> None:
    """Every street of the centre's extract with both ``name:be`` and ``name:be-tarask``: the rules turn
    the second into the first; official names pass unchanged."""
    import bz2
    import xml.etree.ElementTree as ET

    from mapaid.belnames import latin, official

    pairs, official_names = {}, set()
    with bz2.open(SHIPPED_GEODATA / "minsk-pass.osm.bz2") as f:
        for _, el in ET.iterparse(f):
            if el.tag == "way":
                tags = {t.get("k"): t.get("v") for t in el.iter("tag")}
                if tags.get("highway") and tags.get("name:be"):
                    official_names.add(tags["name:be"])
                    if tags.get("name:be-tarask"):
                        pairs[tags["name:be-tarask"]] = tags["name:be"]
            if el.tag in ("way", "relation"):
                el.clear()
    pairs.pop("ву́ліца Мясьнікя́на")  # OSM's two tags name two people here (Мяснікоў, Мясьнікян)
    assert len(pairs) >= 25
    assert {t: official(t) for t in pairs} == pairs
    assert {n: official(n) for n in official_names} == {n: n for n in official_names}
    assert latin("вуліца Кірава") == "vulica Kirava" and latin("Плошча Леніна") == "Plošča Lienina"
    assert latin("Уручча") == "Uručča" and latin("праспект Незалежнасці") == "praspiekt Niezaliežnasci"


def _decode(rings: list[list[int]], scale: float) -> list[list[tuple[float, float]]]:
    out = []
    for flat in rings:
        lat = lon = 0
        ring = []
        for i in range(0, len(flat), 2):
            lat, lon = lat + flat[i], lon + flat[i + 1]
            ring.append((lat / scale, lon / scale))
        out.append(ring)
    return out


def test_building_outlines_are_served_apart_and_light(client: FlaskClient) -> None:
    response = client.get("/basemap/buildings.json")
    assert response.status_code == 200 and response.headers["Cache-Control"].startswith("public")
    assert len(response.data) < 100_000
    data = response.get_json()
    assert "OpenStreetMap" in data["attribution"]
    buildings = [_decode(b, data["scale"]) for b in data["buildings"]]
    assert len(buildings) >= 1_000
    points = [p for b in buildings for ring in b for p in ring]
    assert all(len(ring) >= 3 for b in buildings for ring in b)
    # The centre's extract (53.8806-53.8992 N, 27.5243-27.5746 E), and the buildings crossing its edge.
    assert all(53.875 < lat < 53.905 and 27.515 < lon < 27.585 for lat, lon in points)
    assert any(len(b) > 1 for b in buildings)  # courtyards kept
    for lang in ("be", "ru", "en"):
        layer = client.get(f"/basemap/{lang}.json")
        assert "buildings" not in layer.get_json() and len(layer.data) < 90_000  # 97 KB before
