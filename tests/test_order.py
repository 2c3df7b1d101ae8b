"""Posting order leaves no trace: no output, API list or table scan gives posts back in the order they came,
and a database of schema version 1 (rowid table) is upgraded to the WITHOUT ROWID table, keeping every post.

A numbered sequence of posts (one by one through the API, and one CSV import) is read back from every
output. The statistic is Kendall's tau between the order read and the order posted: 1 for the same order,
-1 for reversed, about 0 for an order unrelated to it. For 60 posts in an unrelated order tau has a standard
deviation of about 0.09, so the bound |tau| <= 0.5 holds unless the order follows the posting order.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import h3.api.basic_int as h3
import pyogrio
import pytest
from conftest import TEST_NOW
from databases import is_postgres, sqlite_only
from flask.testing import FlaskClient
from helpers import row, write_csv
from peek import peek, peek_one

from mapaid import accounts, moderation
from mapaid.sqlitestore import SQLiteStore
from mapaid.store import SCHEMA_VERSION, Store, StoreError, open_store

N = 60
HOME = (53.9023, 27.5619)  # one cell for all: the API list then orders them by its tie-break alone
CELL = h3.int_to_str(h3.latlng_to_cell(*HOME, 9))
PASSWORD = "correct horse battery"
NUMBERED = re.compile(r"^(api|import) (\d+)$")


def kendall_tau(order: list[int]) -> float:
    """Kendall's tau between ``order`` and 0, 1, 2, ... (no ties)."""
    n = len(order)
    concordant = sum(1 for i in range(n) for j in range(i + 1, n) if order[i] < order[j])
    pairs = n * (n - 1) // 2
    return (2 * concordant - pairs) / pairs


def _sequences(texts: list[str]) -> dict[str, list[int]]:
    """The numbers of the posts of each sequence, in the order an output gave them."""
    out: dict[str, list[int]] = {"api": [], "import": []}
    for text in texts:
        match = NUMBERED.match(text)
        if match:
            out[match.group(1)].append(int(match.group(2)))
    return out


def _assert_unordered(name: str, texts: list[str]) -> None:
    for source, numbers in _sequences(texts).items():
        assert sorted(numbers) == list(range(N)), (name, source, numbers)
        tau = kendall_tau(numbers)
        assert abs(tau) <= 0.5, f"{name} gives the {source} sequence back in order (tau {tau:.2f}): {numbers}"


@pytest.fixture
def numbered(client: FlaskClient, cli: Any, tmp_path: Path) -> FlaskClient:
    """N posts through the API, one by one, then N posts in one CSV import, all in the same cell."""
    for i in range(N):
        data = {"kind": "offer", "category": "food", "text": f"api {i}", "lat": HOME[0], "lon": HOME[1]}
        assert client.post("/api/v1/posts", json=data).status_code == 201
    rows = [row(*HOME, text=f"import {i}", expires="20") for i in range(N)]
    assert cli("import", str(write_csv(tmp_path / "numbered.csv", rows))).exit_code == 0
    return client


def test_exports_do_not_keep_posting_order(numbered: FlaskClient, tmp_path: Path) -> None:
    geojson = numbered.get("/export/posts.geojson").get_json()
    _assert_unordered("GeoJSON export", [f["properties"]["text"] for f in geojson["features"]])
    text = numbered.get("/export/posts.csv").get_data(as_text=True)
    _assert_unordered("CSV export", [r["text"] for r in csv.DictReader(io.StringIO(text))])
    gpkg = tmp_path / "posts.gpkg"
    gpkg.write_bytes(numbered.get("/export/posts.gpkg").data)
    _assert_unordered("GeoPackage export", pyogrio.read_dataframe(gpkg, layer="posts")["text"].tolist())


def test_cli_exports_do_not_keep_posting_order(numbered: FlaskClient, cli: Any, tmp_path: Path) -> None:
    out = tmp_path / "cli.geojson"
    assert cli("export", "-o", str(out)).exit_code == 0
    features = json.loads(out.read_text(encoding="utf-8"))["features"]
    _assert_unordered("mapaid export", [f["properties"]["text"] for f in features])


def test_api_lists_do_not_keep_posting_order(numbered: FlaskClient, store: Store) -> None:
    near = numbered.get(f"/api/v1/posts?cell={CELL}&within=400").get_json()
    _assert_unordered("GET /api/v1/posts", [f["properties"]["text"] for f in near["features"]])
    page = numbered.get(f"/near/{CELL}?within=400").get_data(as_text=True)
    shown = re.findall(r"(?:api|import) \d+", page.split('id="mapaid-posts"')[1].split("</script>")[0])
    _assert_unordered("/near map data", shown)
    accounts.add(store, "anna", PASSWORD, TEST_NOW.date())
    form = numbered.get("/coordinator/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert csrf
    login = {"name": "anna", "password": PASSWORD, "csrf_token": csrf.group(1)}
    assert numbered.post("/coordinator/login", data=login).status_code == 302
    listed = numbered.get("/api/v1/coordinator/posts").get_json()["posts"]
    _assert_unordered("coordinator API", [p["text"] for p in listed])
    frame, _ = moderation.listing(store, TEST_NOW.date(), {}, limit=1000)
    _assert_unordered("moderation list", frame["text"].tolist())


def test_a_plain_table_scan_does_not_keep_posting_order(
    numbered: FlaskClient, database: str, store: Store
) -> None:
    """SQLite: the table is a B-tree on the random id (WITHOUT ROWID). PostgreSQL: a table keeps rows where
    they were appended, each with the id of the transaction that wrote it (xmin), until the store's erase
    rewrites it (mapaid/pgerase.py): here one more post is deleted and housekeeping's daily round runs
    (the purge, then the erase); afterwards each partition's rows lie in id order and carry one xmin."""
    if is_postgres(database):
        extra = {"kind": "offer", "category": "food", "text": "extra", "lat": HOME[0], "lon": HOME[1]}
        answer = numbered.post("/api/v1/posts", json=extra)
        assert answer.status_code == 201 and store.delete(answer.get_json()["id"])
        store.purge_expired(TEST_NOW.date())
        assert store.erase_removed() > 0
    texts = [r[0] for r in peek(database, "SELECT text FROM (SELECT * FROM posts) AS scan")]
    star = [r[3] for r in peek(database, "SELECT * FROM posts")]
    _assert_unordered("SELECT * FROM posts", star)
    _assert_unordered("a subquery over posts", texts)
    if is_postgres(database):
        mixed = "SELECT tableoid FROM posts GROUP BY tableoid HAVING count(DISTINCT xmin::text) > 1"
        assert peek_one(database, f"SELECT count(*) FROM ({mixed}) AS written_by_several") == 0
    else:
        ((sql,),) = peek(database, "SELECT sql FROM sqlite_master WHERE name = 'posts'")
        assert "WITHOUT ROWID" in sql


# mapaid/store.py at schema version 1, as shipped.
V1_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS districts (
    slug TEXT PRIMARY KEY,
    osm_relation_id INTEGER,
    name_be TEXT NOT NULL,
    name_ru TEXT NOT NULL,
    name_en TEXT NOT NULL,
    geometry BLOB NOT NULL  -- WKB, EPSG:4326
);
CREATE TABLE IF NOT EXISTS posts (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('offer', 'need')),
    category TEXT NOT NULL,
    text TEXT NOT NULL CHECK (length(text) BETWEEN 1 AND 280),
    contact TEXT CHECK (contact IS NULL OR length(contact) <= 100),
    cell INTEGER NOT NULL,
    district TEXT NOT NULL REFERENCES districts (slug),
    created_day TEXT NOT NULL,
    expires_day TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'fulfilled', 'hidden')),
    token_hash TEXT,
    lon REAL NOT NULL,  -- display position: a function of cell, district, id and the server secret
    lat REAL NOT NULL
);
-- By cell first (posts near a hexagon), and the other columns make it covering for the unmet-needs tally
-- (mapaid/unmet.py), which reads open posts per cell, kind and category from this index alone, in its
-- order: ~10x faster than from the table at a million posts, and cheaper on insert than a second index.
CREATE INDEX IF NOT EXISTS posts_cell ON posts (cell, kind, category, district, status, expires_day);
-- No index on (status, expires_day): nearly every post is open and unexpired, so such an index selects
-- nothing, costs every insert and turns a sequential read of the table into a random one.
CREATE TABLE IF NOT EXISTS coordinators (
    name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,  -- argon2id
    created_day TEXT NOT NULL
);
-- Failed logins of the last minute, by a hash of the name typed (never the name or password itself).
CREATE TABLE IF NOT EXISTS login_failures (name_hash TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS login_failures_name ON login_failures (name_hash, at);
-- Who moderated what and when, deliberately without any location.
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    coordinator TEXT NOT NULL,
    action TEXT NOT NULL,
    post_id TEXT NOT NULL
);
"""


def _v1_database(path: Path, template: Path) -> list[tuple[Any, ...]]:
    """A schema-1 file (the old SCHEMA text) holding the template's districts and numbered posts in a rowid
    table; returns the posts as written."""
    db = sqlite3.connect(path)
    db.executescript(V1_SCHEMA)
    db.execute("ATTACH DATABASE ? AS template", (str(template),))
    db.execute("INSERT INTO districts SELECT * FROM template.districts")
    db.execute("INSERT INTO meta SELECT * FROM template.meta")
    db.commit()
    db.execute("DETACH DATABASE template")
    db.execute("INSERT INTO schema_version VALUES (1)")
    district = db.execute("SELECT slug FROM districts ORDER BY slug LIMIT 1").fetchone()[0]
    cell = h3.latlng_to_cell(*HOME, 9)
    day = TEST_NOW.date().isoformat()
    posts = [
        (
            f"{(i * 7919) % 1000:020x}",
            "need" if i % 2 else "offer",
            "food",
            f"old {i}",
            None if i % 3 else "@c",
            cell,
            district,
            day,
            "2999-01-01",
            "hidden" if i == 5 else "open",
            f"{i:064x}",
            27.56 + i * 1e-5,
            53.9,
        )
        for i in range(N)
    ]
    db.executemany("INSERT INTO posts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", posts)
    db.execute(
        "INSERT INTO audit (at, coordinator, action, post_id) VALUES ('2026-01-01T00:00:00Z', 'a', 'x', ?)",
        (posts[5][0],),
    )
    db.commit()
    db.close()
    return posts


@sqlite_only
def test_a_version_1_file_is_refused_until_init_db_upgrades_it(
    tmp_path: Path, template_db: Path, cli: Any, database: str
) -> None:
    """SQLite only: schema 1 is an older SQLite file's; PostgreSQL databases begin at the current schema."""
    db_path = Path(database)
    db_path.unlink()
    posts = _v1_database(db_path, template_db)
    with pytest.raises(StoreError, match=r"schema version 1.*run `mapaid init-db`"):
        open_store(database)
    refused = cli("export")
    assert refused.exit_code != 0 and "mapaid init-db" in refused.output
    assert cli("init-db").exit_code == 0
    open_store(database).close()
    assert peek_one(database, "SELECT version FROM schema_version") == SCHEMA_VERSION
    assert "WITHOUT ROWID" in peek_one(database, "SELECT sql FROM sqlite_master WHERE name = 'posts'")
    columns = (
        "id, kind, category, text, contact, cell, district, created_day, expires_day, status, token_hash"
    )
    columns += ", lon, lat"
    assert peek(database, f"SELECT {columns} FROM posts ORDER BY id") == sorted(posts)
    indexes = {r[0] for r in peek(database, "SELECT name FROM sqlite_master WHERE tbl_name = 'posts'")}
    assert "posts_cell" in indexes
    assert peek_one(database, "SELECT count(*) FROM audit") == 1
    assert peek(database, "PRAGMA foreign_key_check") == []
    assert peek_one(database, "PRAGMA integrity_check") == "ok"
    assert cli("init-db").exit_code == 0  # again: nothing to do
    assert cli("export").exit_code == 0


def test_a_failing_upgrade_leaves_the_version_1_file_as_it_was(tmp_path: Path, template_db: Path) -> None:
    """SQLite only (an older SQLite file's upgrade), so it asks for no ``store_kind``."""
    path = tmp_path / "v1.sqlite3"
    _v1_database(path, template_db)
    db = sqlite3.connect(path)
    db.execute(
        "INSERT INTO posts VALUES ('dup', 'offer', 'food', 't', NULL, 1, 'x', 'd', 'd', 'open', NULL, 0, 0)"
    )
    db.execute(
        "UPDATE posts SET district = 'nowhere' WHERE id = 'dup'"
    )  # breaks the foreign key in v2's copy
    db.commit()
    before = db.execute("SELECT * FROM posts ORDER BY rowid").fetchall()
    db.close()
    store = SQLiteStore(path)
    with pytest.raises(sqlite3.IntegrityError):
        store.init_schema()
    store.close()
    db = sqlite3.connect(path)
    assert db.execute("SELECT version FROM schema_version").fetchall() == [(1,)]
    assert db.execute("SELECT * FROM posts ORDER BY rowid").fetchall() == before
    db.close()
