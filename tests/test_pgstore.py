"""The PostGIS store (mapaid/pgstore.py) against a real PostgreSQL + PostGIS cluster (tests/pgdb.py):
the same answers as SQLite for every protocol method (one body run on both stores), geometry columns GDAL
reads as layers, the privacy properties on PostgreSQL (no exact point, no insertion order after a reseal,
removed text gone from the table files), migrations on both stores and the database setting's dispatch."""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import psycopg
import pyogrio
import pytest
import shapely
from click.testing import CliRunner
from conftest import PUBLISH_AT_ONCE, ROOMY_LIMITS, TEST_SECRET
from helpers import row, write_csv
from pgdb import admin, drop_database, fresh_database
from test_exact_points_nowhere import HOMES, _binary_forms, _pair_present, _text_forms, far_side_homes

from mapaid import create_app, migrations, pgstore
from mapaid.cli import main
from mapaid.config import DEFAULT_CATEGORIES, ConfigError
from mapaid.dburl import Database, DatabaseSettingError, parse, redact
from mapaid.models import AuditEntry, Search, SessionRecord, Status
from mapaid.pgschema import PARTITIONS
from mapaid.pgstore import PostGISStore
from mapaid.pipeline import ingest, rules_for
from mapaid.sqlitestore import SQLiteStore
from mapaid.store import DRAFT_COLUMNS, POST_COLUMNS, SCHEMA_VERSION, Store, StoreError, open_store
from mapaid.threads import Message, Thread
from mapaid.walkpairs import Distances

SECRET = TEST_SECRET.encode()
NOT_BLOCKED = "0" * 64  # a blocked-key hash no test blocks


@pytest.fixture(params=["sqlite", "postgis"])
def both(request: pytest.FixtureRequest) -> Iterator[Store]:
    """A fresh store with Minsk's districts and no posts, on each backend in turn."""
    database = (
        str(request.getfixturevalue("db_path"))
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    store = open_store(database)
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def pg(pg_url: str) -> Iterator[PostGISStore]:
    store = open_store(pg_url)
    assert isinstance(store, PostGISStore)
    try:
        yield store
    finally:
        store.close()


Row = tuple[float, float, str, str, str, int]  # lat, lon, kind, category, text, expires in days


def _frame(rows: list[Row]) -> pd.DataFrame:
    """``rows`` as an import's table."""
    return pd.DataFrame(
        {
            "lat": [str(r[0]) for r in rows],
            "lon": [str(r[1]) for r in rows],
            "kind": [r[2] for r in rows],
            "category": [r[3] for r in rows],
            "text": [r[4] for r in rows],
            "expires": [str(r[5]) for r in rows],
        }
    )


def _add(store: Store, today: date, rows: list[Row], **kw: Any) -> dict[str, str]:
    """Ingest ``rows``; {text: id}."""
    result = ingest(
        _frame(rows),
        [f"row {i}" for i in range(len(rows))],
        rules_for(DEFAULT_CATEGORIES, 9, today),
        store,
        SECRET,
        **kw,
    )
    return dict(zip(result.posts.text, result.posts.id, strict=True))


ROWS = [
    (*HOMES[0], "offer", "food", "Soup for two", 10),
    (*HOMES[0], "need", "medicine", "Insulin please", 3),
    (*HOMES[1], "need", "food", "Bread", 1),
    (*HOMES[2], "offer", "transport", "A ride to the clinic", 20),
    (*HOMES[3], "need", "legal", "Help with a letter", 5),
    (*HOMES[4], "offer", "childcare", "Can watch kids", 7),
]


def _label(frame: pd.DataFrame, ids: dict[str, str]) -> list[dict[str, Any]]:
    """A frame's rows with ids as the post's text (ids are random per run), after checking id order."""
    assert list(frame["id"]) == sorted(frame["id"]), "not in id order"
    names = {v: k for k, v in ids.items()}
    rows = frame.assign(id=frame["id"].map(names)).to_dict("records")
    return sorted(rows, key=lambda r: (str(r.get("id")), str(r.get("cell")), str(r.get("kind"))))


def _dtypes(frame: pd.DataFrame) -> dict[str, str]:
    return {c: str(t) for c, t in frame.dtypes.items()}


def posts_transcript(store: Store, today: date) -> list[Any]:
    """Every posts method, its answers made comparable across stores (ids, positions and hashes are
    random or keyed per post; everything else must be the same)."""
    out: list[Any] = []
    ids = _add(store, today, ROWS, with_tokens=True)
    assert store.count() == len(ROWS)

    def frame_view(frame: pd.DataFrame) -> Any:
        return (_dtypes(frame), _label(frame.drop(columns=["lon", "lat"]), ids))

    everything = store.posts(today, public=False)
    out.append(frame_view(everything))
    assert list(everything.columns) == list(POST_COLUMNS)
    assert everything["cell"].dtype == np.int64
    out.append(frame_view(store.posts(today)))
    by_text = everything.set_index("text")
    cell = int(by_text.loc["Insulin please", "cell"])
    out.append(frame_view(store.posts(today, cell=[str(cell)], kind=["need"])))
    out.append(frame_view(store.posts(today, category=["food", "legal"], district=[], status=["open"])))
    out.append(frame_view(store.posts(today, id=[ids["Bread"]])))
    with pytest.raises(ValueError, match="cannot filter"):
        store.posts(today, text=["x"])
    out.append(frame_view(store.posts(today + timedelta(days=4))))  # Bread and Insulin expired

    page, matched = store.public_page(today, 2, 1)
    out.append((matched, len(page), list(page["id"]) == sorted(store.posts(today)["id"])[1:3]))
    lon, lat = float(by_text.loc["Bread", "lon"]), float(by_text.loc["Bread", "lat"])
    box = (round(lon, 5), round(lat, 5), round(lon, 5), round(lat, 5))
    page, matched = store.public_page(today, 10, 0, bbox=box)
    out.append((matched, sorted(page["text"])))
    page, matched = store.public_page(today, 10, 0, days=(today + timedelta(days=6), None), kind=["offer"])
    out.append((matched, sorted(page["text"])))
    page, matched = store.public_page(today, 10, 0, days=(None, today - timedelta(days=1)))
    out.append((matched, _dtypes(page)))
    out.append(store.public_span(today))
    out.append(store.public_span(today + timedelta(days=100)))

    counts = store.open_counts(today)
    out.append((_dtypes(counts), sorted(map(tuple, counts.to_numpy().tolist()))))
    tally = store.open_tally(today)
    out.append((list(tally.columns), sorted(map(tuple, tally.to_numpy().tolist()))))

    got = store.get(ids["Soup for two"])
    assert got is not None and set(got) == {*POST_COLUMNS, *DRAFT_COLUMNS}
    out.append({k: v for k, v in got.items() if k not in ("id", "lon", "lat")})
    out.append({k: type(v).__name__ for k, v in got.items()})
    out.append(store.get("nope"))
    assert store.token_hash(ids["Bread"]) and store.token_hash("nope") is None

    before = store.revision()
    out.append(store.set_status(ids["Bread"], Status.FULFILLED))
    out.append(store.set_status("nope", Status.HIDDEN))
    out.append(store.set_expiry(ids["Soup for two"], today + timedelta(days=30)))
    out.append(store.set_expiry("nope", today))
    out.append(store.set_text(ids["Can watch kids"], "Can watch kids on Sundays"))
    out.append(store.set_text("nope", "x"))
    out.append(store.revision() > before)
    out.append(store.count(all_statuses=False))
    out.append(store.purge_fulfilled())
    out.append(store.purge_expired(today + timedelta(days=4)))  # Insulin (3 days)
    out.append(store.delete(ids["Help with a letter"]))
    out.append(store.delete(ids["Help with a letter"]))
    out.append(sorted(store.posts(today, public=False)["text"]))
    out.append(store.count())
    return out


def test_posts_methods_answer_the_same_on_both_stores(db_path: Path, pg_url: str, today: date) -> None:
    transcripts = []
    for database in (str(db_path), pg_url):
        store = open_store(database)
        try:
            transcripts.append(posts_transcript(store, today))
        finally:
            store.close()
    sqlite, postgis = transcripts
    for i, (a, b) in enumerate(zip(sqlite, postgis, strict=True)):
        assert a == b, f"step {i}"


def rest_transcript(store: Store, today: date) -> list[Any]:
    """The methods beyond posts: meta, districts, conversations, coordinators, logins, reports,
    moderation and its audit, places, walking distances; answers comparable across stores."""
    out: list[Any] = []
    # districts and walking distances, replaced while the store holds no posts
    area = store.area()
    frame = area.districts.drop(
        columns=[c for c in area.districts.columns if c.startswith("_")], errors="ignore"
    )
    store.replace_districts(frame.iloc[::-1], 32635)
    again = store.area()
    out.append(
        (again is not area, list(again.slugs), again.metric_crs.to_epsg(), store.get_meta("metric_epsg"))
    )
    out.append(bool(shapely.equals(again.districts.geometry.values, area.districts.geometry.values).all()))
    out.append(store.walks())
    walks = Distances(
        np.array([10, 20], dtype=np.int64),
        np.array([1.5, 2.5]),
        np.array([0, 2, 3], dtype=np.int64),
        np.array([10, 20, 20], dtype=np.int64),
        np.array([0, 123, 0], dtype=np.uint16),
    )
    store.replace_walks(walks, {"file": "minsk.osm.pbf", "day": "2026-11-27"})
    got = store.walks()
    assert got is not None and store.walks() is got  # shared (mapaid.cache)
    out.append(
        [
            np.asarray(getattr(got, f)).tolist()
            for f in ("cells", "snap_m", "start", "neighbours", "decimetres")
        ]
    )
    out.append((store.get_meta("network_file"), store.get_meta("network_day")))

    ids = _add(store, today, ROWS)
    names = {v: k for k, v in ids.items()}
    with pytest.raises(StoreError, match="already holds posts"):
        store.replace_districts(frame, 32635)
    out.append((store.schema_version(), store.has_districts(), store.get_meta("nothing")))
    store.set_meta("colour", "green")
    store.set_meta("colour", "blue")
    out.append(store.get_meta("colour"))
    out.append(sorted(store.area().by_slug))

    # conversations
    post = ids["Soup for two"]
    out.append(store.reply_key(post))
    first = Message("replier", "v1.first", today.isoformat())
    out.append(
        store.start_thread(
            Thread("t-b", post, "key-b", "hash-b", today.isoformat()),
            first,
            2,
            today.isoformat(),
            NOT_BLOCKED,
        )
    )
    out.append(
        store.start_thread(
            Thread("t-a", post, "key-a", "hash-a", today.isoformat()),
            first,
            2,
            today.isoformat(),
            NOT_BLOCKED,
        )
    )
    out.append(
        store.start_thread(
            Thread("t-c", post, "key-c", "hash-c", today.isoformat()),
            first,
            2,
            today.isoformat(),
            NOT_BLOCKED,
        )
    )
    out.append(
        store.start_thread(
            Thread("t-d", "nope", "k", "h", today.isoformat()), first, 2, today.isoformat(), NOT_BLOCKED
        )
    )
    out.append([t.id for t in store.threads_of(post)])
    found = store.thread("t-a")
    out.append(found and (found.id, names[found.post_id], found.replier_key, found.token_hash, found.day))
    out.append(store.thread("nope"))
    reply = Message("poster", "v1.second", today.isoformat())
    out.append(store.add_message("t-a", reply, 3, today.isoformat()))
    out.append(store.add_message("t-a", reply, 3, today.isoformat()))
    out.append(store.add_message("t-a", reply, 3, today.isoformat()))
    out.append(store.add_message("nope", reply, 3, today.isoformat()))
    out.append(store.add_message("t-b", reply, 3, (today + timedelta(days=30)).isoformat()))
    out.append(store.messages("t-a"))
    # issue 17: counters that must come next, pages newest first, a poster's deletion and its blocked key
    out.append(store.add_message("t-b", reply, 5, today.isoformat(), (1, 1)))  # the poster has sent none
    out.append(store.add_message("t-b", reply, 5, today.isoformat(), (0, 2)))  # the replier sent one
    out.append(store.add_message("t-b", reply, 5, today.isoformat(), (0, 1)))
    later = Message("replier", "v2.later", (today + timedelta(days=1)).isoformat())
    out.append(store.add_message("t-a", later, 9, today.isoformat(), (1, 3)))
    threads, total = store.threads_page(post, 1, 0)
    out.append(([(t.id, t.day) for t in threads], total))
    threads, total = store.threads_page(post, 1, 1)
    out.append(([(t.id, t.day) for t in threads], total))
    threads, total = store.threads_page(post, 5, 2)
    out.append(([(t.id, t.day) for t in threads], total))
    blocked = "b" * 64
    out.append(store.delete_thread("t-b", blocked))
    out.append(store.delete_thread("t-b", blocked))
    out.append((store.thread("t-b"), store.messages("t-b"), [t.id for t in store.threads_of(post)]))
    again = Thread("t-e", post, "key-b", "hash-e", today.isoformat())
    out.append(store.start_thread(again, first, 5, today.isoformat(), blocked))
    out.append(store.start_thread(again, first, 5, today.isoformat(), NOT_BLOCKED))

    # coordinators and their logins
    out.append(store.add_coordinator("zed", "hash-z", today))
    out.append(store.add_coordinator("amy", "hash-a", today))
    out.append(store.add_coordinator("amy", "other", today))
    out.append(store.coordinators())
    out.append((store.password_hash("amy"), store.password_hash("nobody")))
    store.add_session(SessionRecord("s1", "amy", "tag", 60, 60, 3660))
    store.add_session(SessionRecord("s2", "zed", "tag", 60, 60, 120))
    store.add_session(SessionRecord("s3", "ghost", "tag", 60, 60, 99999))
    out.append(store.session("s1"))
    out.append(store.session("s3"))
    out.append(store.session("nope"))
    store.touch_session("s1", 120, 3720)
    out.append(store.session("s1"))
    out.append(store.session_count())
    out.append(store.purge_sessions(200))  # s2 ended, s3 has no account
    store.end_session("s1")
    out.append(store.session_count())
    store.add_session(SessionRecord("s4", "amy", "tag", 60, 60, 3660))
    out.append(store.set_password_hash("amy", "hash-a2"))
    out.append(store.set_password_hash("nobody", "x"))
    out.append((store.password_hash("amy"), store.session_count()))
    store.add_session(SessionRecord("s5", "zed", "tag", 60, 60, 3660))
    out.append(store.remove_coordinator("zed"))
    out.append(store.remove_coordinator("zed"))
    out.append((store.coordinators(), store.session_count()))
    out.append(store.purge_login_failures())

    # reports and moderation
    bread, soup, kids = ids["Bread"], ids["Soup for two"], ids["Can watch kids"]
    before = store.revision()
    out.append(store.add_report(bread, "spam", today))
    out.append(store.add_report(bread, "spam", today))
    out.append(store.add_report(bread, "personal", today))
    out.append(store.add_report(soup, "other", today))
    out.append(store.add_report("nope", "spam", today))
    out.append(store.add_report(bread, "spam", today + timedelta(days=5)))  # Bread expired by then
    out.append(store.revision() == before)
    reasons = store.reports_by_reason([bread, soup, kids])
    out.append({names[k]: v for k, v in reasons.items()})
    out.append(store.reports_queued())
    page, total = store.moderation_page({}, Search(reported=True), 10, 0)
    out.append((total, list(page["text"])))
    page, total = store.moderation_page({"kind": ["need"]}, Search(), 10, 0)
    out.append((total, sorted(page["text"]), list(page["id"]) == sorted(page["id"])))
    page, total = store.moderation_page({}, Search(text="SOUP"), 10, 0)
    out.append((total, list(page["text"])))
    page, total = store.moderation_page({}, Search(text="%"), 10, 0)
    out.append((total, list(page["text"])))
    page, total = store.moderation_page({"category": ["legal"]}, Search(keep=kids), 10, 0)
    out.append((total, sorted(page["text"]), _dtypes(page)))
    entry = AuditEntry("2026-11-27T12:00:00Z", "amy", "hide", bread)
    out.append(store.moderate(bread, Status.HIDDEN, entry, resolve_reports=True))
    out.append(
        store.moderate("nope", Status.HIDDEN, AuditEntry("t", "amy", "hide", "nope"), resolve_reports=True)
    )
    dismiss = AuditEntry("2026-11-27T12:01:00Z", "amy", "dismiss", soup)
    out.append(store.moderate(soup, None, dismiss, resolve_reports=False))
    out.append((store.reports_queued(), store.get(bread)["status"]))  # type: ignore[index]
    out.append([(e.at, e.action, names[e.post_id]) for e in store.audit_trail()])
    out.append([e.action for e in store.audit_trail(1)])
    out.append([e.action for e in store.audit_trail(post_id=soup)])

    # places
    places = [
        {
            "kind": "street",
            "name": "вуліца Кірава",
            "name_be": "вуліца Кірава",
            "name_ru": "улица Кирова",
            "name_en": None,
            "alt": "",
            "district": None,
            "lon": 27.55,
            "lat": 53.9,
            "line": np.array([27.55, 53.9, 27.56, 53.91], dtype="<f8").tobytes(),
            "source": "osm",
        },
        {
            "kind": "metro",
            "name": "Kastrychnitskaya",
            "name_be": None,
            "name_ru": None,
            "name_en": None,
            "alt": "a|b",
            "district": "tsentralny",
            "lon": 27.56,
            "lat": 53.9,
            "line": None,
            "source": "list",
        },
    ]
    store.replace_places(places)
    store.replace_places(places)
    out.append(store.place_rows())
    out.append((store.place_kinds(), store.place_sources()))
    return out


def test_the_other_methods_answer_the_same_on_both_stores(db_path: Path, pg_url: str, today: date) -> None:
    transcripts = []
    for database in (str(db_path), pg_url):
        store = open_store(database)
        try:
            transcripts.append(rest_transcript(store, today))
        finally:
            store.close()
    sqlite, postgis = transcripts
    for i, (a, b) in enumerate(zip(sqlite, postgis, strict=True)):
        assert a == b, f"step {i}"


# -- the database setting ---------------------------------------------------------------------------


def test_open_store_picks_the_backend_from_the_setting(
    pg_url: str, tmp_path: Path, template_db: Path
) -> None:
    for url in (pg_url, pg_url.replace("postgresql://", "postgres://", 1)):
        store = open_store(url)
        assert isinstance(store, PostGISStore)
        store.close()
    for setting in (str(template_db), f"sqlite:///{template_db}", template_db):
        store = open_store(setting)
        assert isinstance(store, SQLiteStore) and store.path == Path(template_db)
        store.close()
    store = open_store("sqlite:///" + str(tmp_path / "new.sqlite3"), create=True)
    assert isinstance(store, SQLiteStore) and (tmp_path / "new.sqlite3").exists()
    store.close()


def test_another_kind_of_database_is_refused_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StoreError, match=r"postgresql://.*sqlite:///"):
        open_store("mysql://x")
    env = {"MAPAID_DATABASE": "mysql://x", "MAPAID_SECRET_KEY": "x", "MAPAID_INSTANCE": str(tmp_path / "i")}
    result = CliRunner().invoke(main, ["init-db"], env=env)
    assert result.exit_code == 1
    assert "mysql://" in result.output and "postgresql://" in result.output and "sqlite:///" in result.output
    with pytest.raises(ConfigError, match=r"cannot use a mysql:// database.*postgresql://"):
        create_app({"DATABASE": "mysql://x", "SECRET_KEY": "x", "INSTANCE_DIR": str(tmp_path / "i")})
    assert not list(tmp_path.rglob("mysql*")), "a file named after the URL"


def test_a_password_in_the_url_is_never_shown(pg_url: str, tmp_path: Path) -> None:
    secret = "Sekr1t-pass-word"
    with_password = pg_url.replace("mapaid@", f"mapaid:{secret}@", 1)  # trust auth ignores it
    env = {"MAPAID_DATABASE": with_password, "MAPAID_SECRET_KEY": "x", "MAPAID_INSTANCE": str(tmp_path / "i")}
    result = CliRunner().invoke(main, ["init-db"], env=env)
    assert result.exit_code == 0, result.output
    assert "mapaid:***@" in result.output and secret not in result.output
    unreachable = f"postgresql://mapaid:{secret}@127.0.0.1:1/nothing"
    result = CliRunner().invoke(main, ["export"], env={**env, "MAPAID_DATABASE": unreachable})
    assert result.exit_code == 1 and "cannot connect" in result.output and secret not in result.output
    with pytest.raises(StoreError) as caught:
        open_store(unreachable + "?password=" + secret)
    assert secret not in str(caught.value)


# -- PostGIS as GIS tools see it ------------------------------------------------------------------


def gdal_source(url: str) -> str:
    """GDAL's PostgreSQL connection string for ``url``."""
    parts = urlsplit(url)
    return f"PG:host={parts.hostname} port={parts.port} user={parts.username} dbname={parts.path.lstrip('/')}"


def test_two_first_posts_in_one_hexagon_at_once_both_land(pg: PostGISStore, today: date) -> None:
    """Another server's transaction is adding the hexagon's outline (not committed yet) when this one adds
    a post there: the store waits for it and keeps its row. With a plain insert the second post failed
    with a duplicate key: a 500 under load, one post in about a thousand (test_faults)."""
    import h3.api.basic_int as h3

    cell = h3.latlng_to_cell(*HOMES[3], 9)
    assert pg.count() == 0
    other = psycopg.connect(pg.url)
    other.execute(
        "INSERT INTO cells (cell, geom) VALUES (%s, %s)", (cell, pgstore._outline(cell))
    )  # the other server, mid-transaction
    outcome: list[BaseException | dict[str, str]] = []

    def post() -> None:
        second = open_store(pg.url)
        try:
            outcome.append(_add(second, today, [(*HOMES[3], "need", "food", "Bread at once", 3)]))
        except BaseException as exc:  # handed to the test's thread
            outcome.append(exc)
        finally:
            second.close()

    thread = threading.Thread(target=post)
    thread.start()
    thread.join(timeout=1.0)
    assert thread.is_alive()  # waiting on the other transaction's cell
    other.commit()
    other.close()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], dict), outcome
    assert pg.count() == 1
    assert [int(c) for c in pg.posts(today)["cell"]] == [cell]


def test_gdal_reads_posts_cells_and_districts_as_layers(
    pg: PostGISStore, today: date, tmp_path: Path
) -> None:
    """Debian's GDAL (the one QGIS uses; pyogrio's wheel has no PostgreSQL driver) copies each table as a
    layer of its geometry type."""
    _add(pg, today, ROWS)
    source = gdal_source(pg.url)

    def layer(name: str) -> Any:
        out = tmp_path / f"{name}.geojson"
        command = ["ogr2ogr", "-preserve_fid", "-f", "GeoJSON", str(out), source, name]
        subprocess.run(command, check=True, capture_output=True)
        info = subprocess.run(["ogrinfo", "-so", source, name], check=True, capture_output=True, text=True)
        assert re.search(r"Geometry Column (NOT NULL )?= geom", info.stdout), info.stdout
        assert 'ID["EPSG",4326]' in info.stdout
        return pyogrio.read_dataframe(out, fid_as_index=True)
        return pyogrio.read_dataframe(out)

    posts = layer("posts")
    assert len(posts) == len(ROWS) and set(posts.geom_type) == {"Point"}
    stored = pg.posts(today, public=False).set_index("id")
    shown = posts.set_index("id")
    assert np.allclose(shown.geometry.x, stored.loc[shown.index, "lon"], atol=1e-9)
    assert np.allclose(shown.geometry.y, stored.loc[shown.index, "lat"], atol=1e-9)
    cells = layer("cells")
    assert set(cells.geom_type) == {"Polygon"} and set(cells.index) == set(stored["cell"])  # cell: the FID
    outline = dict(zip(cells.index, cells.geometry, strict=True))
    assert all(outline[c].contains(p) for c, p in zip(shown["cell"], shown.geometry, strict=True))
    districts = layer("districts")
    assert len(districts) == 9 and set(districts.geom_type) == {"MultiPolygon"}
    with admin(pg.url) as conn:
        indexed = {
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_indexes WHERE indexdef LIKE '%USING gist (geom)%'"
            ).fetchall()
        }
    assert indexed >= {"posts", "cells", "districts"}


# -- privacy on PostgreSQL -------------------------------------------------------------------------


def database_files(url: str) -> bytes:
    """Every relation file of the database (``pg_relation_filepath``: tables, TOAST, indexes, with their
    segments and free-space and visibility maps), after a checkpoint has written out shared buffers."""
    with admin(url) as conn:
        conn.execute("CHECKPOINT")
        (data,) = conn.execute("SHOW data_directory").fetchone()  # type: ignore[misc]
        paths = [
            r[0]
            for r in conn.execute(
                "SELECT pg_relation_filepath(oid) FROM pg_class WHERE pg_relation_filepath(oid) IS NOT NULL"
            ).fetchall()
        ]
    found = []
    for relative in paths:
        main = Path(data) / relative
        found += [p for p in main.parent.glob(main.name + "*") if p.is_file()]
    assert found
    return b"".join(p.read_bytes() for p in found)


def wal_since(url: str, first: str) -> bytes:
    """The WAL segments from ``first`` (a segment's file name) to the current one: what the cluster
    logged since (later names are recycled segments waiting for reuse)."""
    last = wal_segment(url)
    with admin(url) as conn:
        (data,) = conn.execute("SHOW data_directory").fetchone()  # type: ignore[misc]
    wal = sorted(p for p in (Path(data) / "pg_wal").glob("0*") if p.is_file() and first <= p.name <= last)
    assert wal
    return b"".join(p.read_bytes() for p in wal)


def wal_segment(url: str) -> str:
    with admin(url) as conn:
        (name,) = conn.execute("SELECT pg_walfile_name(pg_current_wal_lsn())").fetchone()  # type: ignore[misc]
    return str(name)


def test_no_exact_point_in_the_database_or_its_wal(pg_url: str, tmp_path: Path) -> None:
    store = open_store(pg_url)
    far_homes = far_side_homes(store.area())
    store.close()
    rows = [row(lat, lon) for lat, lon in HOMES] * 3 + [row(lat, lon) for lat, lon in far_homes] * 5
    path = write_csv(tmp_path / "homes.csv", rows)
    env = {
        "MAPAID_DATABASE": pg_url,
        "MAPAID_SECRET_KEY": TEST_SECRET,
        "MAPAID_INSTANCE": str(tmp_path / "i"),
    }
    first = wal_segment(pg_url)
    result = CliRunner().invoke(main, ["import", str(path)], env=env)
    assert result.exit_code == 0, result.output
    data = database_files(pg_url) + wal_since(pg_url, first)
    for lat, lon in HOMES + far_homes:
        for form in _text_forms(lat) + _text_forms(lon) + _binary_forms(lat) + _binary_forms(lon):
            assert form not in data, (lat, lon, form)
    with admin(pg_url) as conn:
        shown = np.array(conn.execute("SELECT ST_Y(geom), ST_X(geom) FROM posts").fetchall())
    assert len(shown) == len(rows)
    assert _pair_present(shown[:, 0], shown[:, 1], far_homes) == []


def _physical(url: str, table: str, key: str) -> list[tuple[str, list[str], list[int]]]:
    """The table's partitions (the table itself when it has none), each with its keys in the order they
    lie in its file and the ids of the transactions that wrote them, in the same order."""
    with admin(url) as conn:
        rows = conn.execute(
            f"SELECT tableoid::regclass::text, {key}::text, xmin::text::bigint FROM {table}"
            " ORDER BY tableoid::regclass::text, ctid"
        ).fetchall()
    found: dict[str, tuple[list[str], list[int]]] = {}
    for part, value, writer in rows:
        keys, writers = found.setdefault(str(part), ([], []))
        keys.append(str(value))
        writers.append(int(writer))
    return [(part, keys, writers) for part, (keys, writers) in found.items()]


def _sealed(url: str, table: str, key: str) -> bool:
    """Whether the table's files keep no arrival order: in each partition the rows lie in key order and
    one transaction wrote them all."""
    parts = _physical(url, table, key)
    ordered = all(keys == sorted(keys, key=int if key == "cell" else str) for _, keys, _ in parts)
    return ordered and all(len(set(writers)) == 1 for _, _, writers in parts)


def _by_writer(url: str) -> list[str]:
    """Post ids in the order of the transactions that wrote them (ties: by partition, then id)."""
    rows = [
        (w, part, k)
        for part, keys, ws in _physical(url, "posts", "id")
        for k, w in zip(keys, ws, strict=True)
    ]
    return [k for _, _, k in sorted(rows)]


def test_housekeeping_leaves_no_insertion_order_in_the_files(pg: PostGISStore, today: date) -> None:
    added = []
    for i in range(8):  # one post per transaction, as people post
        (post_id,) = _add(pg, today, [(*HOMES[i % 5], "offer", "food", f"post {i}", 10)]).values()
        added.append(post_id)
    parts = _physical(pg.url, "posts", "id")
    in_files = [k for _, keys, _ in parts for k in keys]
    writers = {w for _, _, ws in parts for w in ws}
    assert sorted(in_files) == sorted(added) and len(writers) == 8  # what a heap keeps until the erase
    assert _by_writer(pg.url) == added  # xmin alone gives the order in which the posts came
    pg.purge_expired(today)  # housekeeping's daily round (nothing expired) ...
    pg.erase_removed()  # ... and the erase it runs
    assert _sealed(pg.url, "posts", "id") and _sealed(pg.url, "cells", "cell")
    # Partitions are rewritten one after another, in the order of their names: xmin now says which
    # partition (a hash of the random id) was rewritten first, not which post came first.
    by_partition = [k for part, keys, _ in sorted(_physical(pg.url, "posts", "id")) for k in keys]
    assert _by_writer(pg.url) == by_partition != added
    assert pg.count() == 8


def test_removed_text_leaves_the_table_files(pg: PostGISStore, today: date) -> None:
    texts = [
        "Zyx-delete-me",
        "Zyx-old-wording",
        "Zyx-expired",
        "Zyx-fulfilled",
        "Zyx-raw-delete",
        "Zyx-stays",
    ]
    rows = [(*HOMES[i % 5], "need", "food", t, 1 if t == "Zyx-expired" else 10) for i, t in enumerate(texts)]
    made = ingest(
        _frame(rows), list(texts), rules_for(DEFAULT_CATEGORIES, 9, today), pg, SECRET, with_tokens=True
    )
    ids = dict(zip(made.posts.text, made.posts.id, strict=True))
    tokens = [t for t in made.tokens if t]
    assert len(tokens) == len(texts)
    message = "v1.Zyx-private-message"
    first = Message("replier", message, today.isoformat())
    assert (
        pg.start_thread(
            Thread("t1", ids["Zyx-delete-me"], "k", "h", today.isoformat()),
            first,
            5,
            today.isoformat(),
            "0" * 64,
        )
        is None
    )
    before = database_files(pg.url)
    assert all(t.encode() in before for t in texts) and message.encode() in before
    assert not [t for t in tokens if t.encode() in before]  # tokens are kept as hashes only

    # Without the store's clean-up, PostgreSQL keeps a deleted row in the file (until a VACUUM happens to
    # compact its page over it, or the page is reused): the hazard is real.
    with admin(pg.url) as conn:
        conn.execute("DELETE FROM posts WHERE id = %s", (ids["Zyx-raw-delete"],))
    assert b"Zyx-raw-delete" in database_files(pg.url)

    assert pg.delete(ids["Zyx-delete-me"])
    assert pg.set_text(ids["Zyx-old-wording"], "Zyx-new-wording")
    assert pg.purge_expired(today + timedelta(days=2)) == 1
    assert pg.set_status(ids["Zyx-fulfilled"], Status.FULFILLED)
    assert pg.purge_fulfilled() == 1
    assert sorted(pg.posts(today, public=False)["text"]) == ["Zyx-new-wording", "Zyx-stays"]  # at once
    assert pg.erase_removed() > 0  # what housekeeping runs every few minutes (mapaid/pgerase.py)
    after = database_files(pg.url)
    for gone in (
        "Zyx-delete-me",
        "Zyx-old-wording",
        "Zyx-expired",
        "Zyx-fulfilled",
        "Zyx-raw-delete",
        message,
    ):
        assert gone.encode() not in after, gone
    assert b"Zyx-stays" in after and b"Zyx-new-wording" in after
    assert sorted(pg.posts(today, public=False)["text"]) == ["Zyx-new-wording", "Zyx-stays"]


def test_an_old_password_hash_leaves_the_files(pg: PostGISStore, today: date) -> None:
    assert pg.add_coordinator("amy", "$argon2id$Zyx-old-hash", today)
    assert pg.add_coordinator("bob", "$argon2id$Zyx-bob-hash", today)
    assert b"Zyx-old-hash" in database_files(pg.url)
    assert pg.set_password_hash("amy", "$argon2id$Zyx-new-hash")
    assert pg.remove_coordinator("bob")
    after = database_files(pg.url)
    assert b"Zyx-old-hash" not in after and b"Zyx-bob-hash" not in after and b"Zyx-new-hash" in after


# -- schema versions, one runner for both stores -----------------------------------------------------


def _extra_table(fail: bool) -> Callable[[Any], None]:
    def step(conn: Any) -> None:
        conn.execute("CREATE TABLE extra (x integer)")
        if fail:
            raise RuntimeError("the step failed half-way")

    return step


def _has_extra(store: Store) -> bool:
    if isinstance(store, PostGISStore):
        return store._one("SELECT to_regclass('extra')") != (None,)
    assert isinstance(store, SQLiteStore)
    return store.db.execute("SELECT 1 FROM sqlite_master WHERE name = 'extra'").fetchone() is not None


def test_an_upgrade_is_one_transaction_on_both_stores(both: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    assert both.schema_version() == SCHEMA_VERSION
    both.check_schema()
    failing = migrations.Step(
        SCHEMA_VERSION + 1, "test", sqlite=_extra_table(True), postgresql=_extra_table(True)
    )
    monkeypatch.setattr(migrations, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setattr(migrations, "STEPS", (*migrations.STEPS, failing))
    with pytest.raises(StoreError, match=r"run `mapaid init-db` to upgrade"):
        both.check_schema()
    with pytest.raises(RuntimeError, match="half-way"):
        both.init_schema()
    assert both.schema_version() == SCHEMA_VERSION and not _has_extra(both)
    working = migrations.Step(
        SCHEMA_VERSION + 1, "test", sqlite=_extra_table(False), postgresql=_extra_table(False)
    )
    monkeypatch.setattr(migrations, "STEPS", (*migrations.STEPS[:-1], working))
    both.init_schema()
    assert both.schema_version() == SCHEMA_VERSION + 1 and _has_extra(both)
    both.check_schema()
    monkeypatch.undo()
    with pytest.raises(StoreError, match="from a newer mapaid"):
        both.check_schema()
    with pytest.raises(StoreError, match="from a newer mapaid"):
        both.init_schema()


def test_an_empty_postgresql_database_says_what_to_run(pg_admin: str) -> None:
    url = fresh_database(pg_admin, "template0")
    try:
        with pytest.raises(StoreError, match=r"not a mapaid database yet; run `mapaid init-db`"):
            open_store(url)
        store = open_store(url, create=True)  # creates the postgis extension too
        assert store.schema_version() == SCHEMA_VERSION and not store.has_districts()
        assert store.revision() == 1
        with admin(url) as conn:
            conn.execute("UPDATE schema_version SET version = 4")
        with pytest.raises(StoreError, match="which no postgresql database had"):
            store.init_schema()
        store.close()
    finally:
        drop_database(pg_admin, url)


def test_a_role_that_may_not_create_postgis_is_told_what_to_run(pg_admin: str, tmp_path: Path) -> None:
    url = fresh_database(pg_admin, "template0")
    name = urlsplit(url).path.lstrip("/")
    role = f"plain_{name}"  # one per test: workers run side by side
    with admin(pg_admin) as conn:
        conn.execute(f'DROP ROLE IF EXISTS "{role}"')
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
        conn.execute(f'ALTER DATABASE "{name}" OWNER TO "{role}"')
    plain = url.replace("mapaid@", f"{role}:pw-Zyx@", 1)
    try:
        env = {"MAPAID_DATABASE": plain, "MAPAID_SECRET_KEY": "x", "MAPAID_INSTANCE": str(tmp_path / "i")}
        result = CliRunner().invoke(main, ["init-db"], env=env)
        assert result.exit_code == 1
        assert "CREATE EXTENSION postgis" in result.output and "pw-Zyx" not in result.output
        with admin(url) as conn:
            conn.execute("CREATE EXTENSION postgis")
        result = CliRunner().invoke(main, ["init-db"], env=env)
        assert result.exit_code == 0, result.output
    finally:
        drop_database(pg_admin, plain)
        with admin(pg_admin) as conn:
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')


def test_every_step_says_what_it_does_for_each_dialect() -> None:
    assert [s.to for s in migrations.STEPS] == list(range(2, SCHEMA_VERSION + 1))
    for step in migrations.STEPS:
        assert step.why and step.sqlite is not None
        assert step.postgresql is not None or step.to <= migrations.FIRST["postgresql"]


# -- connections ---------------------------------------------------------------------------------------


def test_a_connection_the_server_dropped_is_replaced_before_use(pg_url: str, pg_admin: str) -> None:
    store = open_store(pg_url)
    assert isinstance(store, PostGISStore)
    (pid,) = store._one("SELECT pg_backend_pid()") or (0,)
    store.close()
    with admin(pg_admin) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
    again = open_store(pg_url)
    assert again.count() == 0 and again.has_districts()
    again.close()


def test_stores_share_one_pool_per_url_and_give_connections_back(pg_url: str) -> None:
    first, second = open_store(pg_url), open_store(pg_url)
    assert isinstance(first, PostGISStore) and isinstance(second, PostGISStore)
    assert first._pool is second._pool is pgstore.pool(pg_url)
    assert first.db is not second.db
    used = first._pool.get_stats()["pool_size"] - first._pool.get_stats().get("pool_available", 0)
    first.close()
    second.close()
    stats = pgstore.pool(pg_url).get_stats()
    assert stats["pool_size"] - stats.get("pool_available", 0) == used - 2


def test_the_app_runs_on_postgis(pg_url: str, tmp_path: Path, clock: Any) -> None:
    env = {
        "MAPAID_DATABASE": pg_url,
        "MAPAID_SECRET_KEY": TEST_SECRET,
        "MAPAID_INSTANCE": str(tmp_path / "i"),
    }
    result = CliRunner().invoke(main, ["demo", "--posts", "300"], env=env, obj={"clock": clock})
    assert result.exit_code == 0, result.output
    app = create_app(
        {
            "DATABASE": pg_url,
            "SECRET_KEY": TEST_SECRET,
            "TESTING": True,
            "INSTANCE_DIR": str(tmp_path / "i"),
            "CLOCK": clock,
            **ROOMY_LIMITS,
            **PUBLISH_AT_ONCE,
        }
    )
    client = app.test_client()
    store = open_store(pg_url)
    cell = int(store.posts(clock.today())["cell"].iloc[0])
    store.close()
    for path in (
        "/",
        f"/near/{cell:x}",
        f"/api/v1/posts?cell={cell:x}",
        "/export/posts.csv",
        "/ogcapi/collections/posts/items",
        "/counts.json?res=9",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
    made = client.post(
        "/api/v1/posts",
        json={"kind": "need", "category": "food", "text": "Zyx soup", "lat": HOMES[0][0], "lon": HOMES[0][1]},
    )
    assert made.status_code == 201, made.get_json()
    near = client.get(f"/api/v1/posts?cell={made.get_json()['cell']}").get_json()
    assert "Zyx soup" in str(near)


def _filenodes(url: str) -> dict[str, int]:
    """Every post-family table or partition and the file it is in now (a rewrite gives it a new one)."""
    with admin(url) as conn:
        rows = conn.execute(
            "SELECT c.relname, pg_relation_filenode(c.oid) FROM pg_class c WHERE c.relkind = 'r'"
            " AND (c.relname IN ('cells', 'reports') OR c.relname ~ '^(posts|threads|messages)_p[0-9]+$')"
        ).fetchall()
    return {str(name): int(node) for name, node in rows}


def test_housekeeping_reseals_only_what_was_written_since(pg: PostGISStore, today: date) -> None:
    """One batch into empty tables is written in id order by one transaction: nothing to reseal, so a
    server that starts on a freshly imported million posts does not rewrite them. A change rewrites the
    one partition it touched, not the table."""
    _add(pg, today, ROWS)
    assert _sealed(pg.url, "posts", "id")
    before = _filenodes(pg.url)
    assert len(before) == 2 + 3 * PARTITIONS
    pg.purge_expired(today)
    assert pg.erase_removed() == 0
    assert _filenodes(pg.url) == before  # not rewritten
    changed = pg.posts(today)["id"].iloc[0]
    pg.set_status(changed, Status.HIDDEN)  # a second writer
    pg.purge_expired(today)
    assert pg.erase_removed() == 1
    after = _filenodes(pg.url)
    with admin(pg.url) as conn:
        (part,) = conn.execute(
            "SELECT tableoid::regclass::text FROM posts WHERE id = %s", (changed,)
        ).fetchone()  # type: ignore[misc]
    assert {name for name in before if after[name] != before[name]} == {part}
    assert _sealed(pg.url, "posts", "id")


def test_redact_hides_every_spelling_of_a_password() -> None:
    assert (
        redact("postgresql://amy:s3cret@db.example.org:5432/mapaid")
        == "postgresql://amy:***@db.example.org:5432/mapaid"
    )
    assert (
        redact("postgres://db/mapaid?sslmode=require&password=s3cret")
        == "postgres://db/mapaid?sslmode=require&password=***"
    )
    assert redact("postgresql://amy@db/mapaid") == "postgresql://amy@db/mapaid"
    assert "s3cret" not in redact("postgresql://amy:s3cret@[::1/mapaid")  # not even a URL we can parse
    assert redact("/srv/mapaid/mapaid.sqlite3") == "/srv/mapaid/mapaid.sqlite3"
    assert parse("sqlite:///relative.sqlite3").target == "relative.sqlite3"
    assert parse("sqlite:////srv/m.sqlite3").target == "/srv/m.sqlite3"
    assert parse("C:\\mapaid\\m.sqlite3").kind == "sqlite"
    with pytest.raises(DatabaseSettingError, match="names no file"):
        parse("sqlite://")


def test_a_sqlite_url_sets_how_long_a_write_waits_for_a_lock(template_db: Path, tmp_path: Path) -> None:
    """``?timeout=SECONDS`` on a sqlite:/// URL: a write on a locked file fails after it, not after the
    30 s a write otherwise waits for the writer's slot; any other parameter, or a bad value, is refused."""
    assert parse("sqlite:////srv/m.sqlite3?timeout=2.5") == Database("sqlite", "/srv/m.sqlite3", 2.5)
    assert parse("sqlite:////srv/m.sqlite3").timeout is None
    for bad, why in (
        ("?timeout=soon", "not a number of seconds"),
        ("?timeout=0", "not a number of seconds"),
        ("?timeout=nan", "not a number of seconds"),
        ("?timeout=7200", "not a number of seconds"),
        ("?mode=ro", "takes one parameter, timeout=SECONDS; not 'mode'"),
        ("?timeout=1&cache=shared", "not 'cache'"),
    ):
        with pytest.raises(DatabaseSettingError, match=re.escape(why)):
            parse(f"sqlite:////srv/m.sqlite3{bad}")
    path = tmp_path / "locked.sqlite3"
    shutil.copy(template_db, path)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    store = open_store(f"sqlite:///{path}?timeout=0.3")
    try:
        started = time.monotonic()
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            store.add_coordinator("amy", "$argon2id$x", date(2026, 11, 27))
        assert time.monotonic() - started < 10  # far below the 30 s of the default
    finally:
        store.close()
        other.execute("ROLLBACK")
        other.close()
