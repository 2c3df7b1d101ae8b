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
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from datetime import date
from itertools import repeat
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from mapaid import migrations
from mapaid.cache import SharedCache
from mapaid.geo import WGS84, Area
from mapaid.models import (
    AuditEntry,
    Coordinator,
    DeviceRecord,
    Published,
    Search,
    SessionRecord,
    Status,
    Stored,
)
from mapaid.privacy import CoarsePosts
from mapaid.store import (
    DRAFT_COLUMNS,
    PLACE_COLUMNS,
    POST_COLUMNS,
    SCHEMA_VERSION,
    SELECT_POSTS,
    TALLY_COLUMNS,
    BBox,
    Days,
    StoreError,
    statuses,
)
from mapaid.threads import SCHEMA as THREADS_SCHEMA
from mapaid.threads import ThreadTables, delete_for_posts
from mapaid.visibility import ROUND_WORK, public_where
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
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'fulfilled', 'hidden', 'pending')),
    token_hash TEXT,
    lon REAL NOT NULL,  -- display position: a function of cell, district, id and the server secret
    lat REAL NOT NULL,
    reply_key TEXT CHECK (reply_key IS NULL OR length(reply_key) <= 200),  -- public key text, docs/replies.md
    -- A change of a public post waiting for the next publication round (mapaid/rounds.py), shown only on
    -- the poster's private link until then.
    draft_text TEXT CHECK (draft_text IS NULL OR length(draft_text) BETWEEN 1 AND 280),
    draft_expires TEXT
) WITHOUT ROWID"""
POSTS_INDEX = (
    "CREATE INDEX IF NOT EXISTS posts_cell ON posts (cell, kind, category, district, status, expires_day)"
)
# The few rows a publication round has work on (``ROUND_WORK``): a round reads these, never the table.
ROUND_INDEX = f"CREATE INDEX IF NOT EXISTS posts_round ON posts (id) WHERE {ROUND_WORK}"
# Every column a post's row holds, as ``publish_pending`` copies it.
STORED_COLUMNS = (*POST_COLUMNS, "token_hash", *DRAFT_COLUMNS)

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

# One form, one post (mapaid/formonce.py): a keyed hash of a posting form's nonce, the publication window
# its row was written in (the window's start, seconds), and the post it made (id and token) sealed under a
# key only the nonce gives, or NULL while the post is being made. Rows live ten minutes past their window;
# WITHOUT ROWID, so the file keeps no order of arrival either.
FORM_ONCE_TABLE = """CREATE TABLE IF NOT EXISTS form_once (
    key TEXT PRIMARY KEY,
    at INTEGER NOT NULL,
    sealed BLOB
) WITHOUT ROWID"""

# Coordinators' known devices (mapaid/devices.py): a hash of the random id in the device cookie, never the
# id, the account (its name and the tag of its row, as sessions have) and the UTC day it was remembered or
# renewed; no time of day. WITHOUT ROWID: no order of arrival either.
DEVICES_TABLE = """CREATE TABLE IF NOT EXISTS devices (
    id_hash TEXT PRIMARY KEY,
    coordinator TEXT NOT NULL,
    account TEXT NOT NULL,
    day TEXT NOT NULL
) WITHOUT ROWID"""
# An account keeps its newest devices: the one just written first, then by day, the same day's by hash.
DROP_OLDEST_DEVICES = (
    "DELETE FROM devices WHERE coordinator = ? AND id_hash NOT IN (SELECT id_hash FROM devices"
    " WHERE coordinator = ? ORDER BY id_hash = ? DESC, day DESC, id_hash LIMIT ?)"
)

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
{round_index};
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
-- as the start of a publication round's window (mapaid/sessions.py): when the login began, when it was last
-- used and when it ends unless used again.
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
-- Who moderated what and on which UTC day (never a time of day), deliberately without any location;
-- deleted after MAPAID_AUDIT_DAYS by the daily housekeeping.
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    coordinator TEXT NOT NULL,
    action TEXT NOT NULL,
    post_id TEXT NOT NULL
);
{reports};
{walk_cells};
{form_once};
{devices};
{threads}""".replace("{posts}", POSTS_TABLE.format(name="IF NOT EXISTS posts") + ";")
    .replace("{posts_index}", POSTS_INDEX)
    .replace("{round_index}", ROUND_INDEX)
    .replace("{reports}", REPORTS_TABLE)
    .replace("{walk_cells}", WALK_CELLS_TABLE)
    .replace("{form_once}", FORM_ONCE_TABLE)
    .replace("{devices}", DEVICES_TABLE)
    .replace("{threads}", THREADS_SCHEMA)
)


PUBLIC = public_where("?")  # what is public (mapaid.store.public_where), today bound as the one parameter
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

    def __init__(self, path: Path | str, *, timeout: float | None = None) -> None:
        self.path = Path(path)
        self.busy_timeout_ms = _BUSY_TIMEOUT_MS if timeout is None else max(1, round(timeout * 1000))
        self.write_wait_s = _WRITE_WAIT_S if timeout is None else timeout
        owner_only(self.path)
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        for pragma in (
            "journal_mode = WAL",
            "synchronous = NORMAL",
            "foreign_keys = ON",
            "secure_delete = ON",
            f"busy_timeout = {self.busy_timeout_ms}",
            f"cache_size = {_CACHE}",
        ):
            self.db.execute(f"PRAGMA {pragma}")
        # The moderation search's case folding (``moderation_page``): Unicode, where LIKE folds ASCII only.
        self.db.create_function("mapaid_fold", 1, _fold, deterministic=True)

    # -- schema and metadata ---------------------------------------------------------------
    dialect: Literal["sqlite"] = "sqlite"

    def init_schema(self) -> None:
        """Create the schema, or upgrade an older one (``mapaid init-db``), in one transaction
        (``mapaid.migrations``)."""
        # A step may rebuild a table others refer to (SQLite's own procedure for a changed constraint):
        # with foreign keys on, dropping the old table would delete its conversations and reports.
        self.db.execute("PRAGMA foreign_keys = OFF")
        try:
            found = migrations.upgrade(self)
        finally:
            self.db.execute("PRAGMA foreign_keys = ON")
        if found is not None and found < SCHEMA_VERSION:
            self._forget()  # older copies of the rebuilt table's pages leave the WAL too

    def check_schema(self) -> None:
        """Refuse a database this mapaid cannot use, saying what to run (``mapaid.migrations.check``)."""
        migrations.check(self)

    def schema_version(self) -> int | None:
        """The schema version the database holds, None when it is not a mapaid database (yet)."""
        try:
            row = self.db.execute("SELECT version FROM schema_version").fetchone()
        except sqlite3.DatabaseError:
            row = None
        return None if row is None else int(row[0])

    # What mapaid.migrations needs besides the version: a name for messages, the transaction, the schema.
    def where(self) -> str:
        return str(self.path)

    def schema_transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return self.transaction()

    def create_current(self, conn: sqlite3.Connection) -> None:
        for statement in SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)

    def write_version(self, conn: sqlite3.Connection, version: int, first: bool) -> None:
        if first:
            conn.execute("INSERT INTO schema_version VALUES (?)", (version,))
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('revision', '0')")
        else:
            conn.execute("UPDATE schema_version SET version = ?", (version,))

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
        """Grows with every write that changes a public answer (and only then), so caches of derived
        pages know when to drop, and nobody learns from a dropped cache that something private was
        written."""
        return int(self.get_meta("revision") or 0)

    @staticmethod
    def _revise(db: sqlite3.Connection) -> None:
        """Count this transaction's write in the revision: call it inside ``transaction(revise=False)``
        once the write is known to change a public answer."""
        db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'revision'")

    @contextmanager
    def transaction(self, *, revise: bool = True) -> Iterator[sqlite3.Connection]:
        """All or nothing: an exception anywhere inside rolls every statement back. ``revise`` counts the
        write in the store's revision, which drops caches of derived pages: only for writes that change a
        public answer (districts, places, walks); the others pass False and call ``_revise`` when they
        turn out to change one."""
        self._begin_write()
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        else:
            if revise:
                self._revise(self.db)
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
        deadline = time.monotonic() + self.write_wait_s
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
            self.db.execute(f"PRAGMA busy_timeout = {self.busy_timeout_ms}")

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
    def add(
        self, posts: CoarsePosts, progress: Callable[[int], None] | None = None, *, pending: bool = False
    ) -> None:
        """Insert in id order (random ids inserted as they come scatter writes over the whole table), in
        slices so ``progress`` hears how far it got; one transaction all the same. ``pending`` posts wait
        for the publication round (``Store.add``)."""
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
                statuses(posts, pending, take),
                strict=False,  # repeat() is endless; the other columns have one value per post
            )
        )
        with self.transaction(revise=not pending) as db:
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
        if public:
            # A few hundred cells near someone: steer SQLite to the cell index (the unary + keeps it from
            # considering any index on status or expiry).
            where.append(public_where("?", "+") if filters.get("cell") else PUBLIC)
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
        where = [PUBLIC]
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
            f"SELECT min(created_day), max(expires_day) FROM posts WHERE {PUBLIC}",  # noqa: S608 - fixed SQL
            (today.isoformat(),),
        ).fetchone()
        return None if row[0] is None else (str(row[0]), str(row[1]))

    def open_counts(self, today: date) -> pd.DataFrame:
        """Open, unexpired posts counted per cell, district and kind (columns cell, district, kind, n):
        the home map's counts, without reading a single text."""
        cursor = self.db.execute(
            f"SELECT cell, district, kind, count(*) FROM posts WHERE {PUBLIC}"  # noqa: S608 - fixed SQL
            " GROUP BY cell, district, kind",
            (today.isoformat(),),
        )
        cursor.row_factory = None
        return pd.DataFrame.from_records(cursor.fetchall(), columns=["cell", "district", "kind", "n"])

    def get(self, post_id: str) -> dict[str, Any] | None:
        row = self.db.execute(
            f"SELECT {', '.join((*POST_COLUMNS, *DRAFT_COLUMNS))} FROM posts WHERE id = ?",  # noqa: S608
            (post_id,),
        ).fetchone()
        return None if row is None else dict(row)

    def token_hash(self, post_id: str) -> str | None:
        row = self.db.execute("SELECT token_hash FROM posts WHERE id = ?", (post_id,)).fetchone()
        return None if row is None else row[0]

    def _status(self, db: sqlite3.Connection, post_id: str) -> str | None:
        row = db.execute("SELECT status FROM posts WHERE id = ?", (post_id,)).fetchone()
        return None if row is None else str(row[0])

    def set_status(self, post_id: str, status: Status) -> bool:
        with self.transaction(revise=False) as db:
            before = self._status(db, post_id)
            if before is None:
                return False
            db.execute("UPDATE posts SET status = ? WHERE id = ?", (str(status), post_id))
            if (before == Status.OPEN) != (status == Status.OPEN):
                self._revise(db)
        return True

    def set_expiry(self, post_id: str, expires_day: date, *, draft: bool = False) -> bool:
        """A poster's "extend by N days" (mapaid.posting decides the day; the store only writes it)."""
        with self.transaction(revise=False) as db:
            return self._change(db, post_id, "expires_day", expires_day.isoformat(), draft)

    def set_text(self, post_id: str, text: str, *, draft: bool = False) -> bool:
        """A poster's edited text, already through the intake. The old text's pages are overwritten
        (``secure_delete``) and the WAL cut, as for a deletion: an edit often takes something back."""
        with self.transaction(revise=False) as db:
            changed = self._change(db, post_id, "text", text, draft)
        self._forget()
        return changed

    def _change(self, db: sqlite3.Connection, post_id: str, column: str, value: str, draft: bool) -> bool:
        """Write a poster's change of ``column`` (text or expires_day): into its draft column when
        ``draft`` and the post is public (open), where it waits for the round (and is dropped when it
        equals the public value); otherwise into the column itself, which drops any draft of it."""
        status = self._status(db, post_id)
        if status is None:
            return False
        waiting = f"draft_{column.removesuffix('_day')}"  # draft_text, draft_expires
        if draft and status == Status.OPEN:
            db.execute(
                f"UPDATE posts SET {waiting} = nullif(?, {column}) WHERE id = ?",  # noqa: S608 - fixed names
                (value, post_id),
            )
            return True
        db.execute(f"UPDATE posts SET {column} = ?, {waiting} = NULL WHERE id = ?", (value, post_id))  # noqa: S608
        if status == Status.OPEN:
            self._revise(db)
        return True

    def delete(self, post_id: str) -> bool:
        with self.transaction(revise=False) as db:
            if self._status(db, post_id) == Status.OPEN:
                self._revise(db)
            delete_for_posts(db, "id = ?", (post_id,))  # its conversations, in the same transaction
            deleted = db.execute("DELETE FROM posts WHERE id = ?", (post_id,)).rowcount > 0
        self._forget()
        return deleted

    def purge_expired(self, today: date) -> int:
        """Expired posts were in no public answer since their last day ended: no revision."""
        gone = "max(expires_day, coalesce(draft_expires, expires_day)) < ?"
        with self.transaction(revise=False) as db:
            delete_for_posts(db, gone, (today.isoformat(),))
            deleted = db.execute(f"DELETE FROM posts WHERE {gone}", (today.isoformat(),)).rowcount  # noqa: S608
        self._forget()
        return int(deleted)

    def purge_fulfilled(self) -> int:
        """Delete fulfilled posts (and their contacts and conversations): once help was found, nobody needs
        them. No public answer held them any more: no revision."""
        with self.transaction(revise=False) as db:
            delete_for_posts(db, "status = 'fulfilled'", ())
            deleted = db.execute("DELETE FROM posts WHERE status = 'fulfilled'").rowcount
        self._forget()
        return int(deleted)

    # -- publication rounds (mapaid/rounds.py) ---------------------------------------------
    def publish_pending(self) -> Published:
        """The round (``Store.publish_pending``). Pending posts without conversations or reports (every
        new post; a restored one may have some) are deleted and written anew in id order, so the place a
        row takes on its page says nothing about when in the window it came (``secure_delete`` zeroes the
        old cells; ``compact`` rewrites the whole file daily)."""
        with self.transaction(revise=False) as db:
            pending = f"{ROUND_WORK} AND status = 'pending'"  # the partial index's rows, then the filter
            cursor = db.execute(
                f"SELECT {', '.join(STORED_COLUMNS)} FROM posts WHERE {pending}"  # noqa: S608 - fixed SQL
                " AND id NOT IN (SELECT post_id FROM threads) AND id NOT IN (SELECT post_id FROM reports)"
                " ORDER BY id"
            )
            cursor.row_factory = None
            moved = [_published(row) for row in cursor.fetchall()]
            db.executemany("DELETE FROM posts WHERE id = ?", [(row[0],) for row in moved])
            marks = ", ".join("?" * len(STORED_COLUMNS))
            db.executemany(f"INSERT INTO posts ({', '.join(STORED_COLUMNS)}) VALUES ({marks})", moved)  # noqa: S608
            restored = db.execute(f"UPDATE posts SET status = 'open' WHERE {pending}").rowcount  # noqa: S608
            drafted = f"{ROUND_WORK} AND (draft_text IS NOT NULL OR draft_expires IS NOT NULL)"
            changes = int(
                db.execute(f"SELECT count(*) FROM posts WHERE {drafted} AND status = 'open'").fetchone()[0]  # noqa: S608
            )
            db.execute(
                "UPDATE posts SET text = coalesce(draft_text, text),"  # noqa: S608 - fixed SQL
                " expires_day = coalesce(draft_expires, expires_day), draft_text = NULL, draft_expires = NULL"
                f" WHERE {drafted}"
            )
            done = Published(len(moved) + int(restored), changes)
            if done.any:
                self._revise(db)
        return done

    def erase_removed(self) -> int:
        """Nothing left in the file: ``secure_delete`` zeroed removed rows as they went (the text a round
        replaced too); their older pages leave the WAL here. Nothing rewritten: 0."""
        self._forget()
        return 0

    def compact(self) -> None:
        """VACUUM: every page written anew, rows in key order, no free page left with old bytes, so
        the file keeps no order in which rows came (a page's cells otherwise lie in the order they were
        written). In memory (``temp_store``): its working copy of the whole database never touches a
        temporary file. Readers go on meanwhile (WAL); writers wait for it, as for any write, and a
        write that holds the database makes it try again (``_WRITE_WAIT_S``). The WAL, which held the
        new copy, is cut afterwards."""
        deadline = time.monotonic() + self.write_wait_s
        self.db.execute("PRAGMA temp_store = MEMORY")
        try:
            while True:
                try:
                    self.db.execute("VACUUM")
                    break
                except sqlite3.OperationalError as error:
                    if error.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                        raise
                time.sleep(random.uniform(*_WRITE_RETRY_S))
        finally:
            self.db.execute("PRAGMA temp_store = DEFAULT")
        self._forget()

    def _forget(self) -> None:
        """After a deletion: ``secure_delete`` has zeroed the rows in the database file, but the WAL still
        holds older copies of those pages. Copy the WAL back and cut it to nothing, so a seized disk does
        not give back what a poster took down. Best effort: a reader that is mid-query keeps it for now."""
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def count(self, *, all_statuses: bool = True) -> int:
        if all_statuses:
            return int(self.db.execute("SELECT count(*) FROM posts").fetchone()[0])
        return int(self.db.execute("SELECT count(*) FROM posts WHERE status = 'open'").fetchone()[0])

    def open_tally(self, today: date) -> pd.DataFrame:
        """Open, unexpired posts counted per kind, category, cell and district (``TALLY_COLUMNS``, see
        ``TALLY_SQL``)."""
        cursor = self.db.execute(TALLY_SQL, (today.isoformat(),))
        cursor.row_factory = None
        return pd.DataFrame.from_records(cursor.fetchall(), columns=list(TALLY_COLUMNS))

    # -- coordinators (mapaid/accounts.py) -------------------------------------------------
    # Accounts change no public answer: their writes leave the revision alone.
    def add_coordinator(self, name: str, password_hash: str, created_day: date) -> bool:
        try:
            with self.transaction(revise=False) as db:
                if db.execute("SELECT 1 FROM coordinators WHERE name = ?", (name,)).fetchone():
                    raise _NothingToWrite
                db.execute(
                    "INSERT INTO coordinators VALUES (?, ?, ?)",
                    (name, password_hash, created_day.isoformat()),
                )
        except _NothingToWrite:
            return False
        return True

    def remove_coordinator(self, name: str) -> bool:
        with self.transaction(revise=False) as db:
            db.execute("DELETE FROM sessions WHERE coordinator = ?", (name,))
            db.execute("DELETE FROM devices WHERE coordinator = ?", (name,))
            return db.execute("DELETE FROM coordinators WHERE name = ?", (name,)).rowcount > 0

    def set_password_hash(self, name: str, password_hash: str) -> bool:
        try:
            with self.transaction(revise=False) as db:
                sql = "UPDATE coordinators SET password_hash = ? WHERE name = ?"
                if not db.execute(sql, (password_hash, name)).rowcount:
                    raise _NothingToWrite
                db.execute("DELETE FROM sessions WHERE coordinator = ?", (name,))
                db.execute("DELETE FROM devices WHERE coordinator = ?", (name,))
        except _NothingToWrite:
            return False
        return True

    def password_hash(self, name: str) -> str | None:
        row = self.db.execute("SELECT password_hash FROM coordinators WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def coordinators(self) -> list[Coordinator]:
        rows = self.db.execute("SELECT name, created_day FROM coordinators ORDER BY name").fetchall()
        return [Coordinator(str(r[0]), str(r[1])) for r in rows]

    def purge_login_failures(self) -> int:
        return int(self.db.execute("DELETE FROM login_failures").rowcount)

    # -- coordinator logins (mapaid/sessions.py) -------------------------------------------
    # These skip ``transaction`` on purpose (each is one statement, atomic on its own): a login is not a
    # change of the data and must not bump the revision that page caches key on.
    def add_session(self, record: SessionRecord) -> None:
        self.db.execute(
            "INSERT INTO sessions (id_hash, coordinator, account, created, seen, ends)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (record.id_hash, record.coordinator, record.account, record.created, record.seen, record.ends),
        )

    def session(self, id_hash: str) -> tuple[SessionRecord, str | None] | None:
        row = self.db.execute(
            "SELECT s.id_hash, s.coordinator, s.account, s.created, s.seen, s.ends, c.password_hash"
            " FROM sessions AS s LEFT JOIN coordinators AS c ON c.name = s.coordinator WHERE s.id_hash = ?",
            (id_hash,),
        ).fetchone()
        if row is None:
            return None
        record = SessionRecord(str(row[0]), str(row[1]), str(row[2]), int(row[3]), int(row[4]), int(row[5]))
        return record, None if row[6] is None else str(row[6])

    def touch_session(self, id_hash: str, seen: int, ends: int) -> None:
        self.db.execute("UPDATE sessions SET seen = ?, ends = ? WHERE id_hash = ?", (seen, ends, id_hash))

    def end_session(self, id_hash: str) -> None:
        self.db.execute("DELETE FROM sessions WHERE id_hash = ?", (id_hash,))

    def purge_sessions(self, now: int) -> int:
        cursor = self.db.execute(
            "DELETE FROM sessions WHERE ends <= ? OR coordinator NOT IN (SELECT name FROM coordinators)",
            (int(now),),
        )
        return int(cursor.rowcount)

    def session_count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM sessions").fetchone()[0])

    # -- coordinators' known devices (mapaid/devices.py) ---------------------------------------
    def add_device(self, record: DeviceRecord, keep: int, replaces: str | None = None) -> bool:
        with self.transaction(revise=False) as db:
            added = db.execute(
                "INSERT INTO devices (id_hash, coordinator, account, day)"
                " SELECT ?, name, ?, ? FROM coordinators WHERE name = ?",
                (record.id_hash, record.account, record.day.isoformat(), record.coordinator),
            ).rowcount
            if not added:
                return False
            if replaces is not None:
                db.execute("DELETE FROM devices WHERE id_hash = ?", (replaces,))
            db.execute(DROP_OLDEST_DEVICES, (record.coordinator, record.coordinator, record.id_hash, keep))
        return True

    def device(self, id_hash: str) -> tuple[DeviceRecord, str | None] | None:
        row = self.db.execute(
            "SELECT d.id_hash, d.coordinator, d.account, d.day, c.password_hash"
            " FROM devices AS d LEFT JOIN coordinators AS c ON c.name = d.coordinator WHERE d.id_hash = ?",
            (id_hash,),
        ).fetchone()
        if row is None:
            return None
        record = DeviceRecord(str(row[0]), str(row[1]), str(row[2]), date.fromisoformat(str(row[3])))
        return record, None if row[4] is None else str(row[4])

    def forget_device(self, id_hash: str) -> None:
        self.db.execute("DELETE FROM devices WHERE id_hash = ?", (id_hash,))

    def purge_devices(self, until: date) -> int:
        cursor = self.db.execute(
            "DELETE FROM devices WHERE day <= ? OR coordinator NOT IN (SELECT name FROM coordinators)",
            (until.isoformat(),),
        )
        return int(cursor.rowcount)

    # -- reports and moderation (mapaid/reports.py, mapaid/moderation.py) --------------------
    def add_report(self, post_id: str, reason: str, day: date) -> bool:
        """One statement, so atomic on its own, and outside ``transaction``: no page depends on reports,
        so a flood of them cannot flush caches."""
        iso = day.isoformat()
        return self.db.execute(_ADD_REPORT, (reason, iso, post_id, iso)).rowcount > 0

    def reports_by_reason(self, post_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        ids = list(post_ids)
        found: dict[str, dict[str, int]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                f"SELECT post_id, reason, sum(count) FROM reports WHERE post_id IN ({marks})"  # noqa: S608
                " GROUP BY post_id, reason",
                chunk,
            ).fetchall()
            for post_id, reason, count in rows:
                found.setdefault(str(post_id), {})[str(reason)] = int(count)
        return found

    def reports_queued(self) -> int:
        return int(self.db.execute("SELECT count(DISTINCT post_id) FROM reports").fetchone()[0])

    def moderate(
        self, post_id: str, status: Stored | None, entry: AuditEntry, *, resolve_reports: bool
    ) -> bool:
        """The revision moves on when the post enters or leaves the public answers (a hide or a
        fulfilment of an open post; a restore when rounds are off); a dismissal or a restore waiting for
        its round changes none."""
        try:
            with self.transaction(revise=False) as db:
                before = self._status(db, post_id)
                if before is None:
                    raise _NothingToWrite
                if status is not None:
                    db.execute("UPDATE posts SET status = ? WHERE id = ?", (str(status), post_id))
                    if (before == Status.OPEN) != (status == Status.OPEN):
                        self._revise(db)
                if resolve_reports:
                    db.execute("DELETE FROM reports WHERE post_id = ?", (post_id,))
                db.execute(
                    "INSERT INTO audit (at, coordinator, action, post_id) VALUES (?, ?, ?, ?)",
                    (entry.at, entry.coordinator, entry.action, entry.post_id),
                )
        except _NothingToWrite:
            return False
        return True

    def audit_trail(self, limit: int = 100, post_id: str | None = None) -> list[AuditEntry]:
        sql = "SELECT at, coordinator, action, post_id FROM audit"
        params: list[object] = []
        if post_id is not None:
            sql += " WHERE post_id = ?"
            params.append(post_id)
        rows = self.db.execute(sql + " ORDER BY seq DESC LIMIT ?", [*params, limit]).fetchall()
        return [AuditEntry(str(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in rows]

    def purge_audit(self, before: date) -> int:
        with self.transaction(revise=False) as db:
            return int(db.execute("DELETE FROM audit WHERE at < ?", (before.isoformat(),)).rowcount)

    def moderation_page(
        self, filters: Mapping[str, Sequence[str]], search: Search, limit: int, offset: int
    ) -> tuple[pd.DataFrame, int]:
        """Paged in SQL, so a page of a million posts reads a hundred rows. The text search folds case with
        Python's ``casefold`` (``mapaid_fold``, registered on the connection): SQLite's LIKE folds ASCII
        letters only, and posts are mostly Cyrillic."""
        where, params = _moderation_where(filters, search)
        # Column names are fixed here, never from the request; values are parameters.
        clause = " WHERE " + " AND ".join(where)
        total = int(self.db.execute("SELECT count(*) FROM posts" + clause, params).fetchone()[0])  # noqa: S608
        if search.keep is not None:
            clause = f" WHERE ({' AND '.join(where)}) OR id = ?"
            params = [*params, search.keep]
        count = "(SELECT coalesce(sum(count), 0) FROM reports WHERE post_id = posts.id)"
        order = f"{count} DESC, created_day DESC, id" if search.reported else "created_day DESC, id"
        cursor = self.db.execute(
            SELECT_POSTS + clause + f" ORDER BY {order} LIMIT ? OFFSET ?", [*params, limit, offset]
        )
        cursor.row_factory = None
        return pd.DataFrame.from_records(cursor.fetchall(), columns=list(POST_COLUMNS)), total

    # -- named places (mapaid/places.py) ---------------------------------------------------
    def place_rows(self) -> list[dict[str, Any]]:
        try:
            rows = self.db.execute(f"SELECT {', '.join(PLACE_COLUMNS)} FROM places ORDER BY id").fetchall()  # noqa: S608
        except sqlite3.OperationalError as exc:  # a database made before places existed, not yet upgraded
            if _table_missing(exc):
                return []
            raise
        return [dict(r) for r in rows]

    def replace_places(self, rows: Sequence[Mapping[str, Any]]) -> None:
        columns = PLACE_COLUMNS[1:]
        with self.transaction() as db:
            db.execute("DELETE FROM places")
            db.executemany(
                f"INSERT INTO places ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",  # noqa: S608
                [tuple(row[c] for c in columns) for row in rows],
            )

    def place_kinds(self) -> dict[str, int]:
        try:
            rows = self.db.execute("SELECT kind, count(*) FROM places GROUP BY kind").fetchall()
        except sqlite3.OperationalError as exc:
            if _table_missing(exc):
                return {}
            raise
        return {str(r[0]): int(r[1]) for r in rows}

    def place_sources(self) -> set[str]:
        try:
            return {str(r[0]) for r in self.db.execute("SELECT DISTINCT source FROM places")}
        except sqlite3.OperationalError as exc:
            if _table_missing(exc):
                return set()
            raise

    def close(self) -> None:
        self.db.close()

    # -- one form, one post (mapaid/formonce.py) -------------------------------------------
    def claim_form(
        self, key: str, now: int, stale_before: int, expired_before: int
    ) -> tuple[bool, bytes | None]:
        with self.transaction(revise=False) as db:
            db.execute("DELETE FROM form_once WHERE at < ?", (expired_before,))
            row = db.execute("SELECT at, sealed FROM form_once WHERE key = ?", (key,)).fetchone()
            if row is None:
                db.execute("INSERT INTO form_once VALUES (?, ?, NULL)", (key, now))
                return True, None
            if row["sealed"] is not None:
                return False, bytes(row["sealed"])
            if int(row["at"]) < stale_before:  # its server gave up or died while making the post
                db.execute("UPDATE form_once SET at = ? WHERE key = ?", (now, key))
                return True, None
            return False, None

    def finish_form(self, key: str, sealed: bytes, now: int) -> None:
        with self.transaction(revise=False) as db:
            db.execute(
                "INSERT INTO form_once VALUES (?, ?, ?)"
                " ON CONFLICT (key) DO UPDATE SET at = excluded.at, sealed = excluded.sealed",
                (key, now, sealed),
            )

    def release_form(self, key: str) -> None:
        with self.transaction(revise=False) as db:
            db.execute("DELETE FROM form_once WHERE key = ? AND sealed IS NULL", (key,))

    def purge_forms(self, before: int) -> int:
        with self.transaction(revise=False) as db:
            return int(db.execute("DELETE FROM form_once WHERE at < ?", (before,)).rowcount)

    # -- chores several server processes share (mapaid/housekeeping.py) -------------------
    def take_lease(self, name: str, now: int, until: int) -> bool:
        with self.transaction(revise=False) as db:
            taken = db.execute(
                "INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
                " WHERE CAST(meta.value AS INTEGER) <= ?",
                (f"lease_{name}", str(until), now),
            )
            return taken.rowcount > 0

    def release_lease(self, name: str) -> None:
        with self.transaction(revise=False) as db:
            db.execute("UPDATE meta SET value = '0' WHERE key = ?", (f"lease_{name}",))


# The unmet-needs tally (``open_tally``). The index posts_cell covers every column and is ordered like the
# GROUP BY, so SQLite streams it without touching the table or sorting; the unary + keeps the planner from
# weighing any index on status or expiry against it. District is a function of the cell, so grouping by it
# splits nothing.
TALLY_SQL = (
    "SELECT kind, category, cell, district, count(*) FROM posts"  # noqa: S608 - fixed SQL
    f" WHERE {public_where('?', '+')} GROUP BY cell, kind, category, district"
)


def _published(row: Sequence[Any]) -> tuple[Any, ...]:
    """A pending post's stored row (``STORED_COLUMNS``) as the round writes it anew: open, with any
    waiting change (a restored post may carry one) in place of the public text and day."""
    values = dict(zip(STORED_COLUMNS, row, strict=True))
    values["status"] = str(Status.OPEN)
    values["text"] = values["draft_text"] or values["text"]
    values["expires_day"] = values["draft_expires"] or values["expires_day"]
    values["draft_text"] = values["draft_expires"] = None
    return tuple(values[c] for c in STORED_COLUMNS)


class _NothingToWrite(Exception):
    """Raised inside ``transaction`` to roll it back when a write finds nothing to change (no revision
    bump either): the method then answers False."""


def _table_missing(exc: sqlite3.OperationalError) -> bool:
    return "no such table" in str(exc)


# One statement, so it is atomic on its own; the SELECT's WHERE keeps SQLite from reading ON CONFLICT as a
# join's ON, and finds nothing (so nothing is written) unless the post is open and unexpired.
_ADD_REPORT = (
    "INSERT INTO reports (post_id, reason, day, count)"  # noqa: S608 - fixed SQL
    f" SELECT id, ?, ?, 1 FROM posts WHERE id = ? AND {PUBLIC}"
    " ON CONFLICT (post_id, reason, day) DO UPDATE SET count = count + 1"
)
_MODERATION_FILTERS = ("kind", "category", "district", "status")


def like_pattern(text: str) -> str:
    """A LIKE pattern (with ``ESCAPE '\\'``) matching ``text`` anywhere, its own ``%`` and ``_`` literal."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _fold(value: str | None) -> str | None:
    """Unicode case folding for ``mapaid_fold``: SQLite's LIKE folds ASCII letters only."""
    return None if value is None else value.casefold()


def _moderation_where(filters: Mapping[str, Sequence[str]], search: Search) -> tuple[list[str], list[object]]:
    where: list[str] = ["status <> 'pending'"]  # coordinators see a post from its first round on
    params: list[object] = []
    for column in _MODERATION_FILTERS:
        values = list(filters.get(column, ()))
        if values:
            where.append(f"{column} IN ({','.join('?' * len(values))})")
            params.extend(values)
    if search.cell is not None:
        where.append("cell = ?")
        params.append(search.cell)
    if search.text:
        where.append(
            "(mapaid_fold(text) LIKE ? ESCAPE '\\' OR mapaid_fold(coalesce(contact, '')) LIKE ? ESCAPE '\\')"
        )
        pattern = like_pattern(search.text.casefold())
        params.extend([pattern, pattern])
    if search.reported:
        where.append("id IN (SELECT post_id FROM reports)")
    return where, params


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


def open_sqlite(path: Path | str, *, create: bool = False, timeout: float | None = None) -> SQLiteStore:
    """Open the database at ``path``; ``create`` makes the schema, otherwise it must exist already.
    ``timeout``: seconds a statement or a write waits for a lock (the URL's ``?timeout=``)."""
    store = SQLiteStore(path, timeout=timeout)
    if create:
        store.init_schema()
    else:
        store.check_schema()
    return store
