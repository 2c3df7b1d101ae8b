"""`mapaid import`: every kind of bad input is refused with its line and reason, and nothing is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Cli
from helpers import row, write_csv, write_geojson
from peek import peek

from mapaid.store import Store

GOOD = [row(53.90, 27.56), row(53.87, 27.60, kind="need", category="medicine", text="Insulin, please")]


def _state(store: Store) -> tuple[int, int]:
    return store.count(), store.revision()


BAD_ROWS = [
    (row(float("nan"), 27.56), "lat is not a number"),
    ({**row(53.9, 27.56), "lat": "nan"}, "lat is not a number"),
    (row(53.9, float("inf")), "lon is not a finite number"),
    ({**row(53.9, 27.56), "lon": "-Infinity"}, "lon is not a finite number"),
    (row(95.0, 27.56), "lat is out of range"),
    (row(53.9, 190.0), "lon is out of range"),
    ({**row(53.9, 27.56), "lat": "fifty-three"}, "lat is not a number"),
    ({**row(53.9, 27.56), "lon": ""}, "lon is missing"),
    (row(60.17, 24.94), "outside the served area"),
    (row(53.9, 27.56, kind="gift"), "unknown kind 'gift'"),
    (row(53.9, 27.56, kind=""), "kind is missing"),
    (row(53.9, 27.56, category="weapons"), "unknown category 'weapons'"),
    (row(53.9, 27.56, text="x" * 281), "text is 281 characters long; at most 280"),
    (row(53.9, 27.56, text="   "), "text is empty"),
    (row(53.9, 27.56, contact="c" * 101), "contact is 101 characters long; at most 100"),
    (row(53.9, 27.56, expires="61"), "expires must be between 1 and 60 days"),
    (row(53.9, 27.56, expires="0"), "expires must be between 1 and 60 days"),
    (row(53.9, 27.56, expires="2.5"), "expires must be between 1 and 60 days"),
    (row(53.9, 27.56, expires="next week"), "expires must be a number of days or a date"),
]


CASES = [("csv", bad, message) for bad, message in BAD_ROWS] + [
    ("geojson", bad, message)
    for bad, message in BAD_ROWS
    if isinstance(bad["lat"], float) and isinstance(bad["lon"], float)  # GeoJSON coordinates are numbers
]


@pytest.mark.parametrize(("fmt", "bad", "message"), CASES, ids=[f"{f}-{m}" for f, _, m in CASES])
def test_a_bad_row_aborts_the_import_naming_line_and_reason(
    tmp_path: Path, cli: Cli, store: Store, bad: dict[str, object], message: str, fmt: str
) -> None:
    before = _state(store)
    if fmt == "csv":
        path = write_csv(tmp_path / "posts.csv", [*GOOD, bad])
        where = "line 4"
    else:
        path = write_geojson(tmp_path / "posts.geojson", [*GOOD, bad])
        where = "feature 3"
    result = cli("import", str(path))
    assert result.exit_code == 1
    assert f"{where}: {message}" in result.output
    assert "nothing was imported" in result.output
    assert _state(store) == before


def test_every_bad_line_is_listed_and_skip_invalid_keeps_the_good(
    tmp_path: Path, cli: Cli, store: Store
) -> None:
    rows = [GOOD[0], row(95, 27.5), GOOD[1], row(53.9, 27.56, kind="gift"), row(53.9, 27.56, text="")]
    path = write_csv(tmp_path / "posts.csv", rows)
    result = cli("import", str(path))
    assert result.exit_code == 1
    assert [line for line in result.output.splitlines() if line.startswith("line ")] == [
        "line 3: lat is out of range (±90)",
        "line 5: unknown kind 'gift' (use offer or need)",
        "line 6: text is empty",
    ]
    assert store.count() == 0
    result = cli("import", str(path), "--skip-invalid")
    assert result.exit_code == 0, result.output
    assert "imported 2 posts, skipped 3 bad rows" in result.output
    assert "skipped line 5: unknown kind 'gift'" in result.output
    assert store.count() == 2


def test_line_numbers_count_quoted_newlines_and_blank_lines(tmp_path: Path, cli: Cli) -> None:
    path = tmp_path / "posts.csv"
    path.write_text(
        'lat,lon,kind,category,text\n53.9,27.56,offer,food,"two\nlines"\n\n53.9,27.56,offer,fod,typo\n',
        encoding="utf-8",
    )
    result = cli("import", str(path))
    assert "line 5: unknown category 'fod'" in result.output


BROKEN_FILES = [
    ("empty.csv", b"", "empty.csv is empty"),
    ("header.csv", b"lat,lon,kind,category,text\n", "has a header but no rows"),
    ("columns.csv", b"lat,lon,kind\n53.9,27.5,offer\n", "line 1: missing column(s): category, text"),
    ("quote.csv", b'lat,lon,kind,category,text\n53.9,27.5,offer,food,"open\n', "line 2: broken CSV"),
    ("extra.csv", b"lat,lon,kind,category,text\n53.9,27.5,offer,food,a,b\n", "line 2: expected 5 fields"),
    (
        "latin1.csv",
        "lat,lon,kind,category,text\n53.9,27.5,offer,food,caf\xe9\n".encode("latin-1"),
        "is not UTF-8 text",
    ),
    ("empty.geojson", b"", "empty.geojson is empty"),
    ("broken.geojson", b'{"type": "FeatureCollection", "features": [', "is not valid JSON (line 1"),
    ("list.geojson", b"[]", "is not a GeoJSON FeatureCollection"),
    ("none.geojson", b'{"type": "FeatureCollection", "features": []}', "has no features"),
    (
        "polygon.geojson",
        b'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {},'
        b' "geometry": {"type": "Polygon", "coordinates": []}}]}',
        "feature 1: geometry must be a Point",
    ),
    (
        "crs.geojson",
        b'{"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": '
        b'"EPSG:3857"}}, "features": [{"type": "Feature", "properties": {}, "geometry": {"type": "Point", '
        b'"coordinates": [3068000, 7150000]}}]}',
        "GeoJSON must be WGS 84 lon/lat",
    ),
    ("posts.txt", b"hello", "use a .csv or .geojson file"),
]


@pytest.mark.parametrize(("name", "content", "message"), BROKEN_FILES, ids=[b[0] for b in BROKEN_FILES])
def test_a_broken_file_is_refused_with_a_reason(
    tmp_path: Path, cli: Cli, store: Store, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    before = _state(store)
    result = cli("import", str(path))
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    assert _state(store) == before


def test_csv_and_geojson_import_the_same_posts(tmp_path: Path, cli: Cli, store: Store, database: str) -> None:
    rows = [*GOOD, row(53.93, 27.65, expires="2026-12-31", contact="@yard_7")]
    assert cli("import", str(write_csv(tmp_path / "a.csv", rows))).exit_code == 0
    assert cli("import", str(write_geojson(tmp_path / "a.geojson", rows))).exit_code == 0
    stored = peek(
        database,
        "SELECT kind, category, text, contact, cell, district FROM posts"
        " ORDER BY cell, kind, category, text, contact, district",
    )
    assert stored[0::2] == stored[1::2]
    assert store.count() == 6


def test_long_imports_show_a_progress_bar(tmp_path: Path, cli: Cli, store: Store) -> None:
    path = write_csv(tmp_path / "many.csv", [row(53.88 + i * 1e-6, 27.56) for i in range(12_000)])
    result = cli("import", str(path), "--progress")
    assert result.exit_code == 0, result.output
    assert "coarsen + write: 100%" in result.output
    assert "24000/24000" in result.output
    assert store.count() == 12_000


def test_control_characters_are_refused_and_line_ends_normalised(
    tmp_path: Path, cli: Cli, store: Store, database: str
) -> None:
    rows = [row(53.9, 27.56, text="bell\x07"), row(53.9, 27.56, contact="two\nlines")]
    result = cli("import", str(write_geojson(tmp_path / "c.geojson", rows)))
    assert "feature 1: text contains control characters" in result.output
    assert "feature 2: contact must be a single line of text" in result.output
    ok = [row(53.9, 27.56, text="first\r\nsecond\rthird\tcolumn")]
    assert cli("import", str(write_geojson(tmp_path / "ok.geojson", ok))).exit_code == 0
    assert peek(database, "SELECT text FROM posts") == [("first\nsecond\nthird\tcolumn",)]
