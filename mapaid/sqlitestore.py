"""The default store: one SQLite file (WAL mode), implementing ``mapaid.store.Store``.

The store never sees an exact point: ``add`` takes ``CoarsePosts``. Deleted rows are overwritten on disk
(``secure_delete``), because a seized disk should not give back what a poster took down.
"""

from __future__ import annotations

import os
import random
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import date
from itertools import repeat
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from mapaid.cache import SharedCache
from mapaid.geo import WGS84, Area
from mapaid.models import CoarsePosts, Status
from mapaid.store import POST_COLUMNS, SCHEMA_VERSION, SELECT_POSTS, BBox, Days, StoreError
from mapaid.threads import SCHEMA as THREADS_SCHEMA
from mapaid.threads import ThreadTables, add_reply_key_column, delete_for_posts
from mapaid.walkpairs import Distances

# Posts are kept in the order of their random id (WITHOUT ROWID: the table is a B-tree on the id alone),
# so neither a table scan nor the file keeps the order in which they came (a rowid would count them).
POSTS_TABLE = """CREATE TABLE {name} (
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
    lat REAL NOT NULL,
    reply_key TEXT CHECK (reply_key IS NULL OR length(reply_key) <= 200)  -- public key text, docs/replies.md
) WITHOUT ROWID"""
POSTS_INDEX = (
    "CREATE INDEX IF NOT EXISTS posts_cell ON posts (cell, kind, category, district, status, expires_day)"
)

# Residents' reports of a post (mapaid/reports.py): how many came per post, reason and day, and nothing about
# who sent them or when within the day. WITHOUT ROWID, so not even the order in which they came is kept; the
# rows go with their post (ON DELETE CASCADE) and when a coordinator resolves them (hide or dismiss).
REPORTS_TABLE = """CREATE TABLE IF NOT EXISTS reports (
    post_id TEXT NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    reason TEXT NOT NULL CHECK (reason IN ('spam', 'dangerous', 'personal', 'other')),
    day TEXT NOT NULL,
    count INTEGER NOT NULL CHECK (count > 0),
    PRIMARY KEY (post_id, reason, day)
) WITHOUT ROWID"""

# Walking distances on the street graph (mapaid/network.py, `mapaid network build`): one row per cell the
# graph covers, with the covered cells within 1,500 m on foot as little-endian int64 ids and, parallel,
# uint16 decimetres. Public data (the street grid), nothing about anyone's place; which file and day it
# was built from is in meta (network_*). Replaced whole, in one transaction.
WALK_CELLS_TABLE = """CREATE TABLE IF NOT EXISTS walk_cells (
    cell INTEGER PRIMARY KEY,
    snap_m REAL NOT NULL,
    neighbours BLOB NOT NULL,
    decimetres BLOB NOT NULL
) WITHOUT ROWID"""

SCHEMA = (
    """
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
{posts}
-- By cell first (posts near a hexagon), and the other columns make it covering for the unmet-needs tally
-- (mapaid/unmet.py), which reads open posts per cell, kind and category from this index alone, in its
-- order: ~10x faster than from the table at a million posts, and cheaper on insert than a second index.
{posts_index};
-- No index on (status, expires_day): nearly every post is open and unexpired, so such an index selects
-- nothing, costs every insert and turns a sequential read of the table into a random one.
CREATE TABLE IF NOT EXISTS coordinators (
    name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,  -- argon2id
    created_day TEXT NOT NULL
);
-- Failed logins, as older mapaid kept them (a hash of the name typed). No longer written: the login
-- throttle lives in memory (mapaid/loginguard.py), and accounts.purge_stale empties this table.
CREATE TABLE IF NOT EXISTS login_failures (name_hash TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS login_failures_name ON login_failures (name_hash, at);
-- Coordinator logins (mapaid/sessions.py): a hash of the random id in the cookie, never the id itself,
-- the account (its name and a tag of its row, so a re-added name does not inherit old logins), and times
-- in whole minutes: when the login began, when it was last used and when it ends unless used again.
CREATE TABLE IF NOT EXISTS sessions (
    id_hash TEXT PRIMARY KEY,
    coordinator TEXT NOT NULL,
    account TEXT NOT NULL,
    created INTEGER NOT NULL,
    seen INTEGER NOT NULL,
    ends INTEGER NOT NULL
);
-- Named places for the search box and for naming a hexagon (mapaid/places.py): public data (OpenStreetMap,
-- metro4all, lists an operator loads), never anything a resident typed. A street keeps its name once, a
-- representative point and a simplified line ("line": lon, lat pairs as little-endian float64: numbers
-- are never stored as text, see tests/test_exact_points_nowhere.py).
CREATE TABLE IF NOT EXISTS places (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    name_be TEXT,
    name_ru TEXT,
    name_en TEXT,
    alt TEXT NOT NULL DEFAULT '',  -- other names (other languages, old names), separated by '|'
    district TEXT,
    lon REAL NOT NULL,
    lat REAL NOT NULL,
    line BLOB,
    source TEXT NOT NULL  -- osm, metro4all or list: which credit the pages show
);
-- Who moderated what and when, deliberately without any location.
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    coordinator TEXT NOT NULL,
    action TEXT NOT NULL,
    post_id TEXT NOT NULL
);
{reports};
{walk_cells};
{threads}""".replace("{posts}", POSTS_TABLE.format(name="IF NOT EXISTS posts") + ";")
    .replace("{posts_index}", POSTS_INDEX)
    .replace("{reports}", REPORTS_TABLE)
    .replace("{walk_cells}", WALK_CELLS_TABLE)
    .replace("{threads}", THREADS_SCHEMA)
)


def _posts_without_rowid(db: sqlite3.Connection) -> None:
    """Schema 1 -> 2: posts rebuilt as a WITHOUT ROWID table keyed by the random id, every row and column
    kept. The old table's pages are overwritten as they are freed (``secure_delete``)."""
    db.execute(POSTS_TABLE.format(name="posts_v2"))
    columns = ", ".join(_V1_POST_COLUMNS)
    db.execute(f"INSERT INTO posts_v2 ({columns}) SELECT {columns} FROM posts ORDER BY id")  # noqa: S608
    db.execute("DROP TABLE posts")
    db.execute("ALTER TABLE posts_v2 RENAME TO posts")
    db.execute(POSTS_INDEX)


def _reports(db: sqlite3.Connection) -> None:
    """Schema 2 -> 3: the reports table (nothing else changes)."""
    db.execute(REPORTS_TABLE)


def _walking_network(db: sqlite3.Connection) -> None:
    """Schema 4 -> 5 (issue 11, walking network): the walk_cells table, empty until `mapaid network build`."""
    db.execute(WALK_CELLS_TABLE)


_V1_POST_COLUMNS = (*POST_COLUMNS[: POST_COLUMNS.index("reply_key")], "token_hash")
# What brings a database from schema version N to N + 1, each run inside the upgrade's one transaction.
# 3 -> 4: posts.reply_key (the threads and messages tables come with the schema's CREATE ... IF NOT EXISTS);
# 4 -> 5: the walk_cells table.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    1: _posts_without_rowid,
    2: _reports,
    3: add_reply_key_column,
    4: _walking_network,
}


_SLICE = 50_000  # rows per executemany: progress is reported between slices
_CACHE = -262144  # KiB: up to 256 MB of pages per connection
_BULK_CACHE = -1048576  # KiB: 1 GB while a big batch is written
_REBUILD_FROM = 100_000  # rows in one batch from which secondary indexes are rebuilt rather than updated
_BUSY_TIMEOUT_MS = 5000  # how long a statement waits for a lock another connection holds
_WRITE_WAIT_S = 30.0  # how long a write transaction waits for the database's one writer slot
_WRITE_RETRY_S = (0.001, 0.01)  # the random pause between two tries for it
_AREAS: SharedCache[Area] = SharedCache("served area", 8)
_WALKS: SharedCache[Distances | None] = SharedCache("street walking distances", 8)


def _each(days: date | list[date], order: np.ndarray) -> Iterator[str] | list[str]:
    """ISO days in ``order``: one day repeated for a batch made today, or each post's own."""
    if isinstance(days, date):
        return repeat(days.isoformat())
    text = {d: d.isoformat() for d in set(days)}
    return [text[days[i]] for i in order.tolist()]


class SQLiteStore(ThreadTables):
    """The default store: one SQLite file in WAL mode (conversations: ``ThreadTables``)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        owner_only(self.path)
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        for pragma in (
            "journal_mode = WAL",
            "synchronous = NORMAL",
            "foreign_keys = ON",
            "secure_delete = ON",
            f"busy_timeout = {_BUSY_TIMEOUT_MS}",
            f"cache_size = {_CACHE}",
        ):
            self.db.execute(f"PRAGMA {pragma}")

    # -- schema and metadata ---------------------------------------------------------------
    def init_schema(self) -> None:
        """Create the schema, or upgrade an older one (``mapaid init-db``), in one transaction."""
        found = self._version()
        if found is not None and found > SCHEMA_VERSION:
            raise StoreError(self._newer(found))
        with self.transaction() as db:
            for version in range(found or SCHEMA_VERSION, SCHEMA_VERSION):
                MIGRATIONS[version](db)
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            if found is None:
                db.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))
                db.execute("INSERT OR IGNORE INTO meta VALUES ('revision', '0')")
            else:
                db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))
        if found is not None and found < SCHEMA_VERSION:
            self._forget()  # older copies of the rebuilt table's pages leave the WAL too

    def check_schema(self) -> None:
        """Refuse a database this mapaid cannot use, saying what to run. An older schema is not upgraded
        behind the operator's back: the upgrade rewrites whole tables, so it is a step of its own."""
        found = self._version()
        if found is None:
            raise StoreError(f"{self.path} is not a mapaid database yet; run `mapaid init-db`")
        if found > SCHEMA_VERSION:
            raise StoreError(self._newer(found))
        if found < SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has schema version {found}, this mapaid needs {SCHEMA_VERSION}; run "
                "`mapaid init-db` to upgrade it (it keeps every post)"
            )

    def _version(self) -> int | None:
        try:
            row = self.db.execute("SELECT version FROM schema_version").fetchone()
        except sqlite3.DatabaseError:
            row = None
        return None if row is None else int(row[0])

    def _newer(self, found: int) -> str:
        return f"{self.path} has schema version {found}, from a newer mapaid (this one has {SCHEMA_VERSION})"

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as db:
            self._set_meta(db, key, value)

    @staticmethod
    def _set_meta(db: sqlite3.Connection, key: str, value: str) -> None:
        db.execute(
            "INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def revision(self) -> int:
        """Grows with every write, so caches of derived pages know when to drop."""
        return int(self.get_meta("revision") or 0)

    @contextmanager
    def transaction(self, *, revise: bool = True) -> Iterator[sqlite3.Connection]:
        """All or nothing: an exception anywhere inside rolls every statement back. ``revise`` counts the
        write in the store's revision, which drops caches of derived pages; writes no page shows (private
        conversations) leave it alone."""
        self._begin_write()
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        else:
            if revise:
                self.db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'revision'")
            self.db.execute("COMMIT")

    def _begin_write(self) -> None:
        """BEGIN IMMEDIATE: take the database's one writer slot, waiting up to ``_WRITE_WAIT_S`` for it.

        SQLite's own wait (``busy_timeout``) tries again at growing intervals, 100 ms apart after the
        first few; with writers in several threads of several processes, each holding the slot a few
        milliseconds, a writer that waits can miss every moment the slot is free for the whole 5 s and
        fail with "database is locked", although no write took long: two `mapaid serve` processes
        writing one file did so about once in 300 writes (tests/test_faults.py). So we try without
        SQLite's wait, at short random intervals, which gives each waiting writer its fair share of the
        free moments, and for longer: a write that waits is slow, one that fails loses what a person sent.
        """
        deadline = time.monotonic() + _WRITE_WAIT_S
        self.db.execute("PRAGMA busy_timeout = 0")
        try:
            while True:
                try:
                    self.db.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as error:
                    if error.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                        raise
                time.sleep(random.uniform(*_WRITE_RETRY_S))
        finally:
            self.db.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")

    # -- districts -------------------------------------------------------------------------
    def has_districts(self) -> bool:
        return bool(self.db.execute("SELECT count(*) FROM districts").fetchone()[0])

    def replace_districts(self, frame: gpd.GeoDataFrame, metric_epsg: int) -> None:
        if self.count():
            raise StoreError(
                "the database already holds posts tied to the current districts; load new districts "
                "into a new database (MAPAID_DATABASE)"
            )
        with self.transaction() as db:
            db.execute("DELETE FROM districts")
            db.executemany(
                "INSERT INTO districts VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        r.slug,
                        None if pd.isna(r.osm_relation_id) else int(r.osm_relation_id),
                        r.name_be,
                        r.name_ru,
                        r.name_en,
                        shapely.to_wkb(r.geometry),
                    )
                    for r in frame.itertuples()
                ],
            )
            self._set_meta(db, "metric_epsg", str(metric_epsg))
            self._set_meta(db, "districts_version", secrets.token_hex(8))

    def area(self) -> Area:
        """The served area. Built once per set of districts and shared by every connection to the same
        file (mapaid.cache), with the cell table of the database's resolution built at once, so a web
        request neither re-reads polygons nor meets a cell nobody asked about before."""
        return _AREAS.get_or_make(
            self._load_area,
            database=str(self.path.resolve()),
            districts=self.get_meta("districts_version") or "0",
        )

    def _load_area(self) -> Area:
        rows = self.db.execute(
            "SELECT slug, osm_relation_id, name_be, name_ru, name_en, geometry FROM districts ORDER BY slug"
        ).fetchall()
        if not rows:
            raise StoreError("no districts loaded; run `mapaid init-db` or `mapaid districts load FILE`")
        records = [dict(r) for r in rows]
        geoms = shapely.from_wkb([r.pop("geometry") for r in records])
        frame = gpd.GeoDataFrame(records, geometry=geoms, crs=WGS84)
        epsg = self.get_meta("metric_epsg")
        area = Area.from_frame(frame, int(epsg) if epsg else None)
        res = self.get_meta("cell_res")
        if res is not None:
            area.table(int(res))
        return area

    # -- walking distances on the street graph (mapaid/network.py) -------------------------
    def replace_walks(self, walks: Distances, info: dict[str, str]) -> None:
        """The street graph's walking distances, replacing the old ones in one transaction; ``info``
        (file, day, ...) goes into meta as ``network_<key>``, with the districts it was built for."""
        rows = []
        for i, (cell, snap) in enumerate(zip(walks.cells.tolist(), walks.snap_m.tolist(), strict=True)):
            neighbours, decimetres = walks.row(i)
            rows.append((cell, snap, neighbours.astype("<i8").tobytes(), decimetres.astype("<u2").tobytes()))
        with self.transaction() as db:
            db.execute("DELETE FROM walk_cells")
            db.executemany("INSERT INTO walk_cells VALUES (?, ?, ?, ?)", rows)
            for key, value in info.items():
                self._set_meta(db, f"network_{key}", value)
            self._set_meta(db, "network_districts", self.get_meta("districts_version") or "0")
            self._set_meta(db, "network_version", secrets.token_hex(8))

    def walks(self) -> Distances | None:
        """The stored walking distances, or None when no graph was built for the current districts. Read
        once per build and shared (mapaid.cache): the same whole-area table for everyone."""
        version = self.get_meta("network_version")
        districts = self.get_meta("districts_version") or "0"
        if version is None or self.get_meta("network_districts") != districts:
            return None
        return _WALKS.get_or_make(self._load_walks, database=str(self.path.resolve()), network=version)

    def _load_walks(self) -> Distances:
        cursor = self.db.execute("SELECT cell, snap_m, neighbours, decimetres FROM walk_cells ORDER BY cell")
        cursor.row_factory = None
        rows = cursor.fetchall()
        cells = np.array([r[0] for r in rows], dtype=np.int64)
        snap = np.array([r[1] for r in rows], dtype=np.float64)
        neighbours = [np.frombuffer(r[2], dtype="<i8") for r in rows]
        counts = np.fromiter(map(len, neighbours), dtype=np.int64, count=len(rows))
        start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        joined = np.concatenate(neighbours).astype(np.int64) if rows else np.empty(0, dtype=np.int64)
        metres = (
            np.concatenate([np.frombuffer(r[3], dtype="<u2") for r in rows]).astype(np.uint16)
            if rows
            else np.empty(0, dtype=np.uint16)
        )
        return Distances(cells, snap, start, joined, metres)

    # -- posts -----------------------------------------------------------------------------
    def add(self, posts: CoarsePosts, progress: Callable[[int], None] | None = None) -> None:
        """Insert in id order (random ids inserted as they come scatter writes over the whole table), in
        slices so ``progress`` hears how far it got; one transaction all the same."""
        expiry = {d: d.isoformat() for d in set(posts.expires_day)}
        order = np.argsort(np.array(posts.id, dtype="S"), kind="stable")

        def take(values: Sequence[Any]) -> list[Any]:
            return np.asarray(values, dtype=object)[order].tolist()  # type: ignore[no-any-return]

        rows = list(
            zip(
                take(posts.id),
                take(posts.kind),
                take(posts.category),
                take(posts.text),
                take(posts.contact),
                posts.cell[order].tolist(),
                take(posts.district),
                take([expiry[d] for d in posts.expires_day]),
                take(posts.token_hash),
                posts.lon[order].tolist(),
                posts.lat[order].tolist(),
                take(posts.reply_key if posts.reply_key is not None else [None] * len(posts)),
                _each(posts.created_day, order),
                repeat(str(Status.OPEN)) if posts.status is None else take(posts.status),
                strict=False,  # repeat() is endless; the other columns have one value per post
            )
        )
        with self.transaction() as db:
            # A batch as big as the table: dropping the secondary indexes and building them afresh (one
            # sort each) beats updating them row by row. DDL is transactional, so a failure restores them.
            rebuild = len(rows) >= max(_REBUILD_FROM, self.count())
            indexes = (
                db.execute(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'posts'"
                    " AND sql IS NOT NULL"
                ).fetchall()
                if rebuild
                else []
            )
            for name, _ in indexes:
                db.execute(f'DROP INDEX "{name}"')
            if rebuild:  # room for the whole batch's pages: fewer spills to the WAL mid-transaction
                db.execute(f"PRAGMA cache_size = {_BULK_CACHE}")
            for start in range(0, len(rows), _SLICE):
                db.executemany(
                    "INSERT INTO posts (id, kind, category, text, contact, cell, district, expires_day,"
                    " token_hash, lon, lat, reply_key, created_day, status)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows[start : start + _SLICE],
                )
                if progress:
                    progress(min(_SLICE, len(rows) - start))
            for _, sql in indexes:
                db.execute(sql)
            db.execute(f"PRAGMA cache_size = {_CACHE}")

    def posts(self, today: date, *, public: bool = True, **filters: Sequence[str]) -> pd.DataFrame:
        """Posts as a data frame; ``public`` keeps open, unexpired ones. Filters: column -> allowed values
        (kind, category, district, status, cell)."""
        where, params = [], []
        if public and filters.get("cell"):
            # A few hundred cells near someone: steer SQLite to the cell index (the unary + keeps it from
            # considering any index on status or expiry).
            where.append("+status = 'open' AND +expires_day >= ?")
            params.append(today.isoformat())
        elif public:
            where.append("status = 'open' AND expires_day >= ?")
            params.append(today.isoformat())
        for column, values in filters.items():
            if column not in ("kind", "category", "district", "status", "cell", "id"):
                raise ValueError(f"cannot filter posts by {column}")
            if values:
                values = list(values)
                where.append(f"{column} IN ({','.join('?' * len(values))})")
                params.extend(values)
        sql = SELECT_POSTS
        if where:
            sql += " WHERE " + " AND ".join(where)
        # By the random id, which carries no time: no output built from this comes in posting order.
        cursor = self.db.execute(sql + " ORDER BY id", params)
        cursor.row_factory = None  # plain tuples: much faster for big reads
        return pd.DataFrame.from_records(cursor.fetchall(), columns=list(POST_COLUMNS))

    def public_page(
        self,
        today: date,
        limit: int,
        offset: int,
        bbox: BBox | None = None,
        days: Days | None = None,
        **filters: Sequence[str],
    ) -> tuple[pd.DataFrame, int]:
        """``limit`` open, unexpired posts in id order after the first ``offset``, and how many match in
        all (OGC API's ``numberMatched``). ``bbox`` is tested against the shown position as published (5
        decimals), so a point a client sees inside the box was returned for it. Only the page's rows are
        read: at 100,000 posts the count and a page of 1,000 at any offset take milliseconds. ``days``
        keeps posts open on some day between its ends (made on or before the last, expiring on or after
        the first)."""
        where = ["status = 'open'", "expires_day >= ?"]
        params: list[Any] = [today.isoformat()]
        if bbox is not None:
            where.append("round(lon, 5) BETWEEN ? AND ? AND round(lat, 5) BETWEEN ? AND ?")
            params += [bbox[0], bbox[2], bbox[1], bbox[3]]
        if days is not None and days[0] is not None:
            where.append("expires_day >= ?")
            params.append(days[0].isoformat())
        if days is not None and days[1] is not None:
            where.append("created_day <= ?")
            params.append(days[1].isoformat())
        for column, values in filters.items():
            if column not in ("kind", "category", "district"):
                raise ValueError(f"cannot filter posts by {column}")
            if values:
                where.append(f"{column} IN ({','.join('?' * len(values))})")
                params.extend(values)
        condition = " WHERE " + " AND ".join(where)
        count = "SELECT count(*) FROM posts" + condition  # noqa: S608 - fixed columns, values bound
        matched = int(self.db.execute(count, params).fetchone()[0])
        cursor = self.db.execute(
            SELECT_POSTS + condition + " ORDER BY id LIMIT ? OFFSET ?", [*params, limit, offset]
        )
        cursor.row_factory = None
        return pd.DataFrame.from_records(cursor.fetchall(), columns=list(POST_COLUMNS)), matched

    def public_span(self, today: date) -> tuple[str, str] | None:
        """The first day an open post was made and the last day one is open (ISO days), or None."""
        row = self.db.execute(
            "SELECT min(created_day), max(expires_day) FROM posts WHERE status = 'open' AND expires_day >= ?",
            (today.isoformat(),),
        ).fetchone()
        return None if row[0] is None else (str(row[0]), str(row[1]))

    def open_counts(self, today: date) -> pd.DataFrame:
        """Open, unexpired posts counted per cell, district and kind (columns cell, district, kind, n):
        the home map's counts, without reading a single text."""
        cursor = self.db.execute(
            "SELECT cell, district, kind, count(*) FROM posts WHERE status = 'open' AND expires_day >= ?"
            " GROUP BY cell, district, kind",
            (today.isoformat(),),
        )
        cursor.row_factory = None
        return pd.DataFrame.from_records(cursor.fetchall(), columns=["cell", "district", "kind", "n"])

    def get(self, post_id: str) -> dict[str, Any] | None:
        row = self.db.execute(
            SELECT_POSTS + " WHERE id = ?",
            (post_id,),
        ).fetchone()
        return None if row is None else dict(row)

    def token_hash(self, post_id: str) -> str | None:
        row = self.db.execute("SELECT token_hash FROM posts WHERE id = ?", (post_id,)).fetchone()
        return None if row is None else row[0]

    def set_status(self, post_id: str, status: Status) -> bool:
        with self.transaction() as db:
            return db.execute("UPDATE posts SET status = ? WHERE id = ?", (str(status), post_id)).rowcount > 0

    def set_expiry(self, post_id: str, expires_day: date) -> bool:
        """A poster's "extend by N days" (mapaid.posting decides the day; the store only writes it)."""
        with self.transaction() as db:
            sql = "UPDATE posts SET expires_day = ? WHERE id = ?"
            return db.execute(sql, (expires_day.isoformat(), post_id)).rowcount > 0

    def set_text(self, post_id: str, text: str) -> bool:
        """A poster's edited text, already through the intake. The old text's pages are overwritten
        (``secure_delete``) and the WAL cut, as for a deletion: an edit often takes something back."""
        with self.transaction() as db:
            changed = db.execute("UPDATE posts SET text = ? WHERE id = ?", (text, post_id)).rowcount > 0
        self._forget()
        return changed

    def delete(self, post_id: str) -> bool:
        with self.transaction() as db:
            delete_for_posts(db, "id = ?", (post_id,))  # its conversations, in the same transaction
            deleted = db.execute("DELETE FROM posts WHERE id = ?", (post_id,)).rowcount > 0
        self._forget()
        return deleted

    def purge_expired(self, today: date) -> int:
        with self.transaction() as db:
            delete_for_posts(db, "expires_day < ?", (today.isoformat(),))
            deleted = db.execute("DELETE FROM posts WHERE expires_day < ?", (today.isoformat(),)).rowcount
        self._forget()
        return int(deleted)

    def purge_fulfilled(self) -> int:
        """Delete fulfilled posts (and their contacts and conversations): once help was found, nobody needs
        them."""
        with self.transaction() as db:
            delete_for_posts(db, "status = 'fulfilled'", ())
            deleted = db.execute("DELETE FROM posts WHERE status = 'fulfilled'").rowcount
        self._forget()
        return int(deleted)

    def _forget(self) -> None:
        """After a deletion: ``secure_delete`` has zeroed the rows in the database file, but the WAL still
        holds older copies of those pages. Copy the WAL back and cut it to nothing, so a seized disk does
        not give back what a poster took down. Best effort: a reader that is mid-query keeps it for now."""
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def count(self, *, all_statuses: bool = True) -> int:
        if all_statuses:
            return int(self.db.execute("SELECT count(*) FROM posts").fetchone()[0])
        return int(self.db.execute("SELECT count(*) FROM posts WHERE status = 'open'").fetchone()[0])

    def close(self) -> None:
        self.db.close()


def owner_only(path: Path) -> None:
    """Make the database readable by its owner only, before SQLite opens it: its folder is made 0700
    when we create it, the file is created 0600 (SQLite gives its -wal and -shm the file's mode), and an
    older database, WAL or shared-memory file that others could read is tightened to 0600."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            if file.stat().st_mode & 0o077:
                file.chmod(0o600)
        except (FileNotFoundError, PermissionError):  # not there, or not ours to change
            pass


def open_sqlite(path: Path | str, *, create: bool = False) -> SQLiteStore:
    """Open the database at ``path``; ``create`` makes the schema, otherwise it must exist already."""
    store = SQLiteStore(path)
    if create:
        store.init_schema()
    else:
        store.check_schema()
    return store
