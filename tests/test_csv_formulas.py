"""CSV exports open in a spreadsheet as text, never as formulas, and `mapaid import` reads them back exactly.

Post text, contact and district names (from OpenStreetMap, which anyone edits) that start like a formula
get a leading ``'`` (OWASP's CSV-injection advice); the import takes it off again. LibreOffice Calc,
headless, converts real exports to ODS, and no cell of the result holds a formula.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from conftest import ROOMY_LIMITS, Cli
from hypothesis import example, given, settings
from hypothesis import strategies as st
from peek import peek

from mapaid import create_app, csvfile
from mapaid.clock import FixedClock

ROOT = Path(__file__).resolve().parent.parent
PAYLOADS = ["=1+1", '=HYPERLINK("http://x","y")', "+1", "-1+2", "@SUM(1)", "\t=1+1", "\r=1+1"]
POSTABLE = PAYLOADS[:5]  # the intake strips a post's leading blanks; tab and CR lead only district names
FORMULA_LEAD = tuple("=+-@\t\r")
ODS = {
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
}


@settings(database=None, deadline=None)  # nothing written to the work tree
@given(st.text())
@example("'=x")
@example("''-1")
@example("-")
@example("=")
@example("'")
@example("''")
@example("'plain")
@example("plain text")
@example("\t=1+1")
@example("\r\n=1")
def test_the_rule_is_reversible_and_leaves_no_formula_lead(text: str) -> None:
    written = csvfile.neutralise(pd.Series([text], dtype=object))[0]
    assert not written.startswith(FORMULA_LEAD)
    assert csvfile.restore(pd.Series([written], dtype=str))[0] == text
    if not text.lstrip("'").startswith(FORMULA_LEAD):
        assert written == text  # only formula-like text changes


def _csv_cells(data: bytes) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(data.decode("utf-8"), newline="")) for cell in row]


ROUND_TRIP = ["'=x", "''-1", "-", "=", "plain text", "@SUM(1)", "+1", "'", "''", "'plain", "-1+2", *POSTABLE]


def test_export_then_import_keeps_every_text(
    cli: Cli, env: dict[str, str], tmp_path: Path, more_databases: Callable[[str], str]
) -> None:
    client = create_app(
        {
            "DATABASE": env["MAPAID_DATABASE"],
            "SECRET_KEY": "k",
            "TESTING": True,
            "CLOCK": cli.clock,
            **ROOMY_LIMITS,
        }
    ).test_client()
    for i, text in enumerate(ROUND_TRIP):
        contact = ROUND_TRIP[-1 - i]
        body = {
            "kind": "offer",
            "category": "food",
            "text": text,
            "contact": contact,
            "lat": 53.9,
            "lon": 27.56,
        }
        assert client.post("/api/v1/posts", json=body).status_code == 201, text
    exported = tmp_path / "posts.csv"
    assert cli("export", "--format", "csv", "-o", str(exported)).exit_code == 0
    cells = _csv_cells(exported.read_bytes())
    assert not [c for c in cells if c.startswith(FORMULA_LEAD)]
    assert client.get("/export/posts.csv").data == exported.read_bytes()

    fresh = more_databases("fresh")
    result = Cli({**env, "MAPAID_DATABASE": fresh}, cli.clock)("import", str(exported))
    assert result.exit_code == 0, result.output
    rows = peek(fresh, "SELECT text, coalesce(contact, '') FROM posts")
    assert sorted(rows) == sorted(zip(ROUND_TRIP, reversed(ROUND_TRIP), strict=True))


@pytest.fixture
def payload_site(tmp_path: Path, env: dict[str, str], clock: FixedClock, empty_database: str) -> Cli:
    """A database whose district names are formula payloads, with a payload post in each district."""
    source = json.loads((ROOT / "geodata" / "minsk-districts.geojson").read_text(encoding="utf-8"))
    for feature, payload in zip(source["features"], PAYLOADS, strict=False):
        feature["properties"].update(name_en=payload, name_ru=payload, name_be=payload)
    districts = tmp_path / "payload-districts.geojson"
    districts.write_text(json.dumps(source), encoding="utf-8")
    db = empty_database
    site = Cli({**env, "MAPAID_DATABASE": db, "MAPAID_DISTRICTS": str(districts)}, clock)
    assert site("init-db").exit_code == 0
    app = create_app({"DATABASE": db, "SECRET_KEY": "k", "TESTING": True, "CLOCK": clock, **ROOMY_LIMITS})
    client = app.test_client()
    points = gpd.read_file(districts).representative_point()
    for i, point in enumerate(points):
        text, contact = POSTABLE[i % len(POSTABLE)], POSTABLE[-1 - i % len(POSTABLE)]
        for kind in ("offer", "need"):
            body = {"kind": kind, "category": "food", "text": text, "contact": contact}
            answer = client.post("/api/v1/posts", json={**body, "lat": point.y, "lon": point.x})
            assert answer.status_code == 201, answer.get_json()
    return site


def _cell_texts(ods: Path) -> tuple[str, list[str]]:
    """content.xml of an ODS file, and the text of each cell (paragraphs joined by LF, tabs kept)."""
    with zipfile.ZipFile(ods) as archive:
        content = archive.read("content.xml").decode("utf-8")
    texts = []
    for cell in ET.fromstring(content).iter(f"{{{ODS['table']}}}table-cell"):
        paragraphs = []
        for p in cell.iter(f"{{{ODS['text']}}}p"):
            parts = [p.text or ""]
            for child in p:
                parts.append("\t" if child.tag == f"{{{ODS['text']}}}tab" else "")
                parts.append(child.tail or "")
            paragraphs.append("".join(parts))
        texts.append("\n".join(paragraphs))
    return content, texts


def test_libreoffice_reads_every_export_as_text(payload_site: Cli, tmp_path: Path) -> None:
    assert shutil.which("soffice"), "LibreOffice is missing: `make install-test` installs it"
    folder = tmp_path / "csv"
    folder.mkdir()
    assert payload_site("export", "--format", "csv", "-o", str(folder / "cli-posts.csv")).exit_code == 0
    db = payload_site.env["MAPAID_DATABASE"]
    app = create_app({"DATABASE": db, "SECRET_KEY": "k", "TESTING": True, "CLOCK": payload_site.clock})
    client = app.test_client()
    (folder / "web-posts.csv").write_bytes(client.get("/export/posts.csv").data)
    (folder / "districts.csv").write_bytes(client.get("/export/districts.csv").data)
    files = sorted(folder.glob("*.csv"))

    started = time.perf_counter()
    converted = subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation={(tmp_path / 'lo-profile').as_uri()}",  # parallel runs do not clash
            "--headless",
            "--convert-to",
            "ods",
            "--outdir",
            str(tmp_path / "ods"),
            *map(str, files),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    seconds = time.perf_counter() - started
    print(f"LibreOffice converted {len(files)} CSV exports in {seconds:.1f} s")
    assert converted.returncode == 0, converted.stderr

    for csv_file in files:
        content, texts = _cell_texts(tmp_path / "ods" / f"{csv_file.stem}.ods")
        assert "table:formula" not in content, csv_file.name
        for payload in PAYLOADS if csv_file.stem == "districts" else PAYLOADS + POSTABLE:
            assert "'" + payload.replace("\r", "\n") in texts, (csv_file.name, payload)
