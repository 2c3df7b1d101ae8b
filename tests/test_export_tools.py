"""Exports GIS tools and spreadsheets take as they are (issue 10).

GDAL's CSV driver with its default options sees points (the WKT column); spreadsheets read Cyrillic (the
byte-order mark); GeoPackages are version 1.2 with Date and Integer fields, the same layout when empty, and
pass GDAL 3.6's ogrinfo and its ``validate_gpkg.py`` (Debian's gdal-bin and python3-gdal); GeoJSON posts
carry a Feature id and districts are all MultiPolygon; pyogrio reads every format of both datasets with
equal counts and the registry's content types; and ``mapaid export`` then ``mapaid import`` into a fresh
instance keeps every post, its cell, created day, expiry and status, posts on their last day included.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pyogrio
import pytest
from conftest import Cli
from flask.testing import FlaskClient
from helpers import row, write_csv
from peek import poke

from mapaid.renderers import RENDERERS
from mapaid.store import Store, open_store

SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's, with python3-gdal: GDAL 3.6's own validator
VALIDATE_GPKG = Path("/usr/lib/python3/dist-packages/osgeo_utils/samples/validate_gpkg.py")
GPKG_APPLICATION_ID = 0x47504B47  # "GPKG"
BOM = b"\xef\xbb\xbf"
FINGERPRINT = [
    *("kind", "category", "text", "contact", "cell", "district"),
    *("created_day", "expires_day", "status"),
]


@pytest.fixture
def site(cli: Cli, store: Store, database: str, today: date) -> Cli:
    """120 demo posts (Russian, Belarusian, English text); some made days ago, two on their last day."""
    assert cli("demo", "--posts", "120", "--seed", "10").exit_code == 0
    ids = sorted(store.posts(today, public=False)["id"])[:6]
    for i, post_id in enumerate(ids[:4]):
        day = today - timedelta(days=3 * i + 1)
        # The store stamps a new post with today; a post made days ago is written in directly.
        assert (
            poke(database, "UPDATE posts SET created_day = ? WHERE id = ?", (day.isoformat(), post_id)) == 1
        )
    assert store.set_expiry(ids[4], today) and store.set_expiry(ids[5], today)
    return cli


def _fingerprint(store: Store, today: date) -> list[tuple[object, ...]]:
    """What a round trip keeps of each post (ids and shown positions are new in a new instance)."""
    posts = store.posts(today)
    return sorted(tuple(r) for r in posts[FINGERPRINT].astype(object).itertuples(index=False))


def _tool(*args: str) -> subprocess.CompletedProcess[str]:
    assert shutil.which(args[0]), f"{args[0]} is missing: `make install-test` installs gdal-bin"
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)


# -- CSV -----------------------------------------------------------------------------------------


def test_gdal_csv_driver_with_default_options_sees_points(
    tmp_path: Path, site: Cli, store: Store, today: date
) -> None:
    path = tmp_path / "posts.csv"
    assert site("export", "--format", "csv", "--lang", "ru", "-o", str(path)).exit_code == 0
    frame = pyogrio.read_dataframe(path)  # the CSV driver, no open options
    assert len(frame) == len(store.posts(today)) == 120
    assert (frame.geometry.geom_type == "Point").all()
    assert pyogrio.read_info(path)["crs"] is None  # a CSV says no CRS; GDAL reports none
    assert (frame.geometry.x.round(5) == frame["lon"].astype(float)).all()
    assert (frame.geometry.y.round(5) == frame["lat"].astype(float)).all()
    assert frame.columns[0] == "id"  # the byte-order mark is not part of the first name
    assert set(frame["text"]) == set(store.posts(today)["text"])  # Cyrillic as it was
    assert frame["district_name"].str.contains("[а-яё]").all()

    ogr = _tool("ogrinfo", "-ro", "-al", "-q", str(path))  # Debian's GDAL 3.6 command line
    assert ogr.returncode == 0 and ogr.stderr == "", ogr.stderr
    assert len(re.findall(r"^  POINT \(2[78]\.\d+ 5[34]\.\d+\)$", ogr.stdout, flags=re.M)) == 120


def test_csv_starts_with_a_byte_order_mark_unless_turned_off(
    tmp_path: Path, site: Cli, client: FlaskClient
) -> None:
    assert client.get("/export/posts.csv").data.startswith(BOM + b"id,")
    assert client.get("/export/districts.csv").data.startswith(BOM + b"district,")
    assert site("export", "--format", "csv").stdout_bytes.startswith(BOM + b"id,")
    plain = Cli({**site.env, "MAPAID_CSV_BOM": "0"}, site.clock)
    assert plain("export", "--format", "csv").stdout_bytes.startswith(b"id,")
    refused = Cli({**site.env, "MAPAID_CSV_BOM": "maybe"}, site.clock)("export", "--format", "csv")
    assert refused.exit_code == 1 and "MAPAID_CSV_BOM must be 1 or 0" in refused.output


def _ods_texts(ods: Path) -> list[str]:
    table = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
    text = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
    with zipfile.ZipFile(ods) as archive:
        root = ET.fromstring(archive.read("content.xml"))
    return [
        "\n".join("".join(p.itertext()) for p in cell.iter(f"{{{text}}}p"))
        for cell in root.iter(f"{{{table}}}table-cell")
    ]


def test_libreoffice_reads_cyrillic_from_the_csv_exports(
    tmp_path: Path, site: Cli, client: FlaskClient, store: Store, today: date
) -> None:
    assert shutil.which("soffice"), "LibreOffice is missing: `make install-test` installs it"
    folder = tmp_path / "csv"
    folder.mkdir()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "ru"
    (folder / "posts.csv").write_bytes(client.get("/export/posts.csv").data)
    (folder / "districts.csv").write_bytes(client.get("/export/districts.csv").data)
    converted = subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation={(tmp_path / 'lo-profile').as_uri()}",
            "--headless",
            # comma-separated, double quotes, the character set left for LibreOffice to find (as its
            # import dialog does when a file is opened), from line 1
            "--infilter=Text - txt - csv (StarCalc):44,34,,1",
            "--convert-to",
            "ods",
            "--outdir",
            str(tmp_path / "ods"),
            str(folder / "posts.csv"),
            str(folder / "districts.csv"),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    assert converted.returncode == 0, converted.stderr
    posts = _ods_texts(tmp_path / "ods" / "posts.ods")
    assert posts[0] == "id"  # the mark opened the file, it is not shown in the first cell
    texts = set(store.posts(today)["text"])
    assert sum(1 for t in texts if re.search("[а-яё]", t)) > 50
    assert texts <= set(posts)
    districts = _ods_texts(tmp_path / "ods" / "districts.ods")
    assert districts[0] == "district" and "Центральный" in districts


# -- GeoPackage ----------------------------------------------------------------------------------


def _gpkg_layout(path: Path) -> dict[str, object]:
    info = pyogrio.read_info(path)
    return {
        "layers": [tuple(layer) for layer in pyogrio.list_layers(path)],
        "fields": dict(zip(info["fields"], info["ogr_types"], strict=True)),
        "geometry": (info["geometry_name"], info["geometry_type"], info["crs"]),
    }


def _check_gpkg_file(path: Path, table: str, geometry: str) -> None:
    """The checks GDAL's validate_gpkg.py makes, by GDAL 3.6's own copy, and a few more by hand."""
    assert VALIDATE_GPKG.exists(), "python3-gdal is missing: `make install-test` installs it"
    validated = _tool(SYSTEM_PYTHON, str(VALIDATE_GPKG), str(path))
    assert validated.returncode == 0 and validated.stdout == validated.stderr == "", validated.stderr
    opened = _tool("ogrinfo", "-ro", "-so", "-al", str(path))  # GDAL 3.6 opens it without a warning
    assert opened.returncode == 0 and opened.stderr == "", opened.stderr
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA application_id").fetchone()[0] == GPKG_APPLICATION_ID
        assert db.execute("PRAGMA user_version").fetchone()[0] == 10200  # GeoPackage 1.2
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        assert db.execute("SELECT table_name, data_type, srs_id FROM gpkg_contents").fetchall() == [
            (table, "features", 4326)
        ]
        columns = "SELECT table_name, geometry_type_name, srs_id FROM gpkg_geometry_columns"
        assert db.execute(columns).fetchall() == [(table, geometry, 4326)]
        assert db.execute("SELECT count(*) FROM gpkg_spatial_ref_sys WHERE srs_id = 4326").fetchone()[0] == 1
        assert (
            db.execute(f"SELECT count(*) FROM rtree_{table}_geom").fetchone()[0]
            == db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        )


def test_geopackage_has_date_and_integer_fields_and_the_same_layout_when_empty(
    tmp_path: Path, site: Cli, env: dict[str, str], more_databases: Callable[[str], str]
) -> None:
    full = tmp_path / "posts.gpkg"
    assert site("export", "--format", "gpkg", "-o", str(full)).exit_code == 0
    fresh = more_databases("nobody")
    empty = tmp_path / "empty.gpkg"
    nobody = Cli({**env, "MAPAID_DATABASE": fresh}, site.clock)
    assert nobody("export", "--format", "gpkg", "-o", str(empty)).exit_code == 0

    layout = _gpkg_layout(full)
    assert layout == _gpkg_layout(empty)
    assert layout["layers"] == [("posts", "Point")]
    assert layout["geometry"] == ("geom", "Point", "EPSG:4326")
    fields = layout["fields"]
    assert isinstance(fields, dict)
    assert fields.pop("uncertainty_m") == "OFTInteger"
    assert fields.pop("created") == fields.pop("expires") == "OFTDate"
    assert set(fields.values()) == {"OFTString"}
    assert pyogrio.read_info(full)["features"] == 120 and pyogrio.read_info(empty)["features"] == 0
    for path in (full, empty):
        _check_gpkg_file(path, "posts", "POINT")


def test_district_geopackage_passes_the_same_checks(tmp_path: Path, site: Cli, client: FlaskClient) -> None:
    path = tmp_path / "districts.gpkg"
    path.write_bytes(client.get("/export/districts.gpkg?within=800").data)
    _check_gpkg_file(path, "districts", "MULTIPOLYGON")
    fields = _gpkg_layout(path)["fields"]
    assert isinstance(fields, dict)
    assert fields["offers"] == fields["within_m"] == fields["rank"] == "OFTInteger"
    assert fields["share_met"] == "OFTReal" and fields["name"] == "OFTString"


# -- GeoJSON -------------------------------------------------------------------------------------


def _decimals(data: object) -> int:
    """The most decimals of any coordinate in a GeoJSON geometry's nested lists."""
    if isinstance(data, list):
        return max((_decimals(x) for x in data), default=0)
    text = repr(data)
    return len(text.partition(".")[2])


def test_posts_carry_a_feature_id_and_districts_are_multipolygons_with_ids(
    tmp_path: Path, site: Cli, client: FlaskClient
) -> None:
    posts = json.loads(site("export").stdout_bytes)
    assert all(f["id"] == f["properties"]["id"] for f in posts["features"])
    api = client.get("/api/v1/posts?cell=891f4eab6d3ffff&within=1200")  # the API shares the renderer
    assert all(f["id"] == f["properties"]["id"] for f in api.get_json()["features"])
    for url in ("/api/v1/districts", "/export/districts.geojson"):
        answer = client.get(url)
        features = answer.get_json()["features"]
        assert len(features) == 9
        assert {f["geometry"]["type"] for f in features} == {"MultiPolygon"}, url
        key = "slug" if url.startswith("/api") else "district"
        assert all(f["id"] == f["properties"][key] for f in features), url
        assert max(_decimals(f["geometry"]["coordinates"]) for f in features) <= 5, url
        path = tmp_path / f"{url.rsplit('/', 1)[1]}.geojson"
        path.write_bytes(answer.data)
        assert pyogrio.read_info(path)["geometry_type"] == "MultiPolygon", url


# -- every format --------------------------------------------------------------------------------


def test_every_format_of_both_datasets_reads_with_pyogrio_with_equal_counts(
    tmp_path: Path, site: Cli, client: FlaskClient
) -> None:
    counts: dict[str, set[int]] = {"posts": set(), "districts": set()}
    for dataset in counts:
        for renderer in RENDERERS.values():
            answer = client.get(f"/export/{dataset}.{renderer.extension}")
            assert answer.status_code == 200
            assert answer.headers["Content-Type"] == renderer.media_type
            path = tmp_path / f"{dataset}.{renderer.extension}"
            path.write_bytes(answer.data)
            frame = pyogrio.read_dataframe(path)
            expected = "Point" if dataset == "posts" else "MultiPolygon"
            assert (frame.geometry.geom_type == expected).all(), (dataset, renderer.name)
            counts[dataset].add(len(frame))
            if renderer.terminal and dataset == "posts":  # the command line writes the same bytes
                assert site("export", "--format", renderer.name).stdout_bytes == answer.data
    assert counts == {"posts": {120}, "districts": {9}}
    assert RENDERERS["geojson"].media_type == "application/geo+json"
    assert RENDERERS["csv"].media_type == "text/csv; charset=utf-8"
    assert RENDERERS["gpkg"].media_type == "application/geopackage+sqlite3"


# -- round trips ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["geojson", "csv", "gpkg"])
def test_export_then_import_into_a_fresh_instance_keeps_every_post(
    tmp_path: Path, site: Cli, store: Store, today: date, more_databases: Callable[[str], str], fmt: str
) -> None:
    exported = tmp_path / f"posts.{fmt}"
    assert site("export", "--format", fmt, "-o", str(exported)).exit_code == 0
    fresh = more_databases("fresh")
    result = Cli({**site.env, "MAPAID_DATABASE": fresh}, site.clock)("import", str(exported))
    assert result.exit_code == 0, result.output
    assert "imported 120 posts" in result.output
    original = _fingerprint(store, today)
    copy = open_store(fresh)
    try:
        assert _fingerprint(copy, today) == original
    finally:
        copy.close()
    assert sum(1 for p in original if p[FINGERPRINT.index("expires_day")] == today.isoformat()) == 2
    assert len({p[FINGERPRINT.index("created_day")] for p in original}) == 5


def test_intake_takes_an_expiry_of_today_and_refuses_days_past_and_unknown_statuses(
    tmp_path: Path, cli: Cli, store: Store, today: date
) -> None:
    header = ("lat", "lon", "kind", "category", "text", "expires", "created", "status")
    good = [
        row(53.9, 27.56, expires=today.isoformat(), created=(today - timedelta(days=30)).isoformat()),
        row(53.9, 27.56, expires="3", status="fulfilled"),
    ]
    assert cli("import", str(write_csv(tmp_path / "good.csv", good, header))).exit_code == 0
    stored = store.posts(today, public=False).sort_values("status")
    assert stored[["expires_day", "created_day", "status"]].values.tolist() == [
        [(today + timedelta(days=3)).isoformat(), today.isoformat(), "fulfilled"],
        [today.isoformat(), (today - timedelta(days=30)).isoformat(), "open"],
    ]
    bad = {
        "expires is a day that has passed": row(53.9, 27.56, expires=(today - timedelta(days=1)).isoformat()),
        "created is a day still to come": row(53.9, 27.56, created=(today + timedelta(days=1)).isoformat()),
        "created must be a date like": row(53.9, 27.56, created="yesterday"),
        "unknown status 'gone'": row(53.9, 27.56, status="gone"),
        "expires must be between 1 and 60 days": row(53.9, 27.56, expires="0"),
    }
    for message, fields in bad.items():
        result = cli("import", str(write_csv(tmp_path / "bad.csv", [fields], header)))
        assert result.exit_code == 1 and f"line 2: {message}" in result.output, (message, result.output)
    assert store.count() == 2


def test_the_api_cannot_set_a_created_day_or_status(client: FlaskClient) -> None:
    body = {"kind": "offer", "category": "food", "text": "Soup", "lat": 53.9, "lon": 27.56}
    for field, value in (("created", "2020-01-01"), ("status", "hidden")):
        answer = client.post("/api/v1/posts", json={**body, field: value})
        assert answer.status_code in (400, 422) and answer.get_json()["field"] == field
