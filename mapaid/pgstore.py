"""The PostgreSQL + PostGIS store (``MAPAID_DATABASE=postgresql://...``), implementing ``mapaid.store.Store``
with the same behaviour as ``SQLiteStore``: the same rows, orders, filters, frames and return values.

Connections come from one pool per database URL per process (``psycopg_pool``), shared by the store
objects ``open_store`` makes per request and per command; ``close`` gives the connection back. Reads run in
autocommit; every write method is one transaction.

Privacy on PostgreSQL (docs/deploy.md, "PostgreSQL/PostGIS"): a heap table keeps a deleted or replaced
row in its file until the table is rewritten, and each row carries the id of the transaction that wrote
it (``xmin``) where it was appended (``ctid``). A deletion or an edit removes the post from every answer at
once and names the tables (partitions) that still hold its text; ``erase_removed`` (housekeeping) rewrites
those, one short transaction each, so a reader waits for one partition's rewrite at most
(mapaid/pgerase.py). The daily round has every table written by more than one transaction rewritten too,
so rows lose the order in which they came.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from itertools import repeat
from typing import Any, Literal
from urllib.parse import urlsplit

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import psycopg
import shapely
from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from mapaid import migrations, pgerase, pgschema
from mapaid.cache import SharedCache
from mapaid.dburl import redact
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
from mapaid.store import DRAFT_COLUMNS, PLACE_COLUMNS, POST_COLUMNS, BBox, Days, StoreError, statuses
from mapaid.threads import Message, Thread, in_order
from mapaid.visibility import ROUND_WORK, public_where
from mapaid.walkpairs import Distances

Conn = psycopg.Connection[Any]

POOL_MAX = 20  # connections per process and database: more than the server's threads (serving.py)
POOL_WAIT_S = 30.0
_POOLS: dict[str, ConnectionPool[Conn]] = {}
_POOLS_LOCK = threading.Lock()
_AREAS: SharedCache[Area] = SharedCache("served area (PostGIS)", 8)
_WALKS: SharedCache[Distances | None] = SharedCache("street walking distances (PostGIS)", 8)
_SLICE = 50_000
_VACUUM_FROM = 50_000  # rows in one batch from which ``add`` vacuums and analyses the posts at once

# Days leave the database as ISO text, as SQLite keeps them.
_DAY = "to_char({0}, 'YYYY-MM-DD')"
_POST_EXPR = {
    "created_day": _DAY.format("created_day"),
    "expires_day": _DAY.format("expires_day"),
    "draft_expires": _DAY.format("draft_expires"),
}
PUBLIC = public_where("%s")  # what is public (mapaid.visibility), today bound as the one parameter
SELECT_POSTS = (
    "SELECT "
    + ", ".join(f"{_POST_EXPR[c]} AS {c}" if c in _POST_EXPR else c for c in POST_COLUMNS)
    + " FROM posts"
)
SELECT_PRIVATE = (
    "SELECT "
    + ", ".join(f"{_POST_EXPR[c]} AS {c}" if c in _POST_EXPR else c for c in (*POST_COLUMNS, *DRAFT_COLUMNS))
    + " FROM posts"
)
_REVISE = "UPDATE meta SET value = (value::bigint + 1)::text WHERE key = 'revision'"
# A pending post's columns as the round writes it anew: open, with any waiting change (a restored post may
# carry one) in place of the public text and day.
_AS_PUBLISHED = {
    "status": "'open'",
    "text": "coalesce(draft_text, text)",
    "expires_day": "coalesce(draft_expires, expires_day)",
    "draft_text": "NULL",
    "draft_expires": "NULL",
}
# Rows of conversations and reports written since the last publication round (``fresh``), cleared by the
# round so they carry its transaction id; rows a writer holds right now wait for the next round rather
# than making the round wait for the writer (which may be waiting for the round's lock on posts).
_UNFRESH = {
    "threads": "UPDATE threads SET fresh = false WHERE id IN"
    " (SELECT id FROM threads WHERE fresh FOR UPDATE SKIP LOCKED)",
    "messages": "UPDATE messages SET fresh = false WHERE (thread_id, seq) IN"
    " (SELECT thread_id, seq FROM messages WHERE fresh FOR UPDATE SKIP LOCKED)",
    "reports": "UPDATE reports SET fresh = false WHERE (post_id, reason, day) IN"
    " (SELECT post_id, reason, day FROM reports WHERE fresh FOR UPDATE SKIP LOCKED)",
}


def pool(url: str) -> ConnectionPool[Conn]:
    """The process's pool for ``url``, opened on first use (after one plain connection, so a database
    that is not there fails at once with the server's reason rather than after the pool's wait)."""
    with _POOLS_LOCK:
        found = _POOLS.get(url)
        if found is None:
            try:
                psycopg.connect(url, connect_timeout=10).close()
            except psycopg.Error as exc:
                raise StoreError(
                    f"cannot connect to the PostgreSQL database {redact(url)}: {_reason(exc, url)}"
                ) from None
            found = ConnectionPool(
                url,
                min_size=1,
                max_size=POOL_MAX,
                kwargs={"autocommit": True},
                open=False,
                name="mapaid",
                # A connection the server dropped while it sat in the pool (a restart, a failover) is
                # replaced before a request gets it, not discovered by the request's first query.
                check=ConnectionPool.check_connection,
            )
            try:
                found.open(wait=True, timeout=POOL_WAIT_S)
            except PoolTimeout:
                found.close()
                raise StoreError(f"cannot connect to the PostgreSQL database {redact(url)}") from None
            _POOLS[url] = found
        return found


def _reason(exc: psycopg.Error, url: str) -> str:
    """The server's or libpq's reason, its last line, with the URL's password (if any) blanked."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    reason = lines[-1] if lines else type(exc).__name__
    password = urlsplit(url).password
    return reason.replace(password, "***") if password else reason


def close_pool(url: str) -> None:
    """Close the process's pool for ``url``, if any (before the database is dropped or renamed)."""
    with _POOLS_LOCK:
        found = _POOLS.pop(url, None)
    if found is not None:
        found.close()


def close_pools() -> None:
    """Close every pool of the process (tests, and a process that is ending)."""
    with _POOLS_LOCK:
        for found in _POOLS.values():
            found.close()
        _POOLS.clear()


def _in(column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
    if column == "cell":
        return "cell = ANY(%s::bigint[])", [[int(v) for v in values]]
    return f"{column} = ANY(%s::text[])", [[str(v) for v in values]]


def _frame(rows: list[tuple[Any, ...]], columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame.from_records(rows, columns=list(columns))


class PostGISStore:
    """One connection of the pool, for one request or command."""

    dialect: Literal["postgresql"] = "postgresql"

    def __init__(self, url: str) -> None:
        self.url = url
        self._pool = pool(url)
        try:
            self.db: Conn = self._pool.getconn(timeout=POOL_WAIT_S)
        except PoolTimeout:
            raise StoreError(f"no free connection to {redact(url)} within {POOL_WAIT_S:.0f} s") from None

    def close(self) -> None:
        db = getattr(self, "db", None)
        if db is not None:
            del self.db
            self._pool.putconn(db)

    def _all(self, query: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[tuple[Any, ...]]:
        return self.db.execute(query, params).fetchall()

    def _one(self, query: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> tuple[Any, ...] | None:
        return self.db.execute(query, params).fetchone()

    @contextmanager
    def transaction(self, *, revise: bool = True) -> Iterator[psycopg.Cursor[Any]]:
        """All or nothing; ``revise`` counts the write in the store's revision (as SQLite's: only writes
        that change a public answer; the others pass False and run ``_REVISE`` when they turn out to)."""
        with self.db.transaction(), self.db.cursor() as cur:
            yield cur
            if revise:
                cur.execute(_REVISE)

    # -- schema and metadata ---------------------------------------------------------------------
    def init_schema(self) -> None:
        """Create the schema (and the postgis extension) or upgrade an older one, in one transaction."""
        try:
            migrations.upgrade(self)
        except psycopg.errors.InsufficientPrivilege as exc:
            raise StoreError(
                f"{self.where()}: this user may not create the schema ({exc.diag.message_primary}); run "
                "`CREATE EXTENSION postgis` as a superuser in the database, or grant CREATE on it"
            ) from None

    def check_schema(self) -> None:
        migrations.check(self)

    def schema_version(self) -> int | None:
        if self._one("SELECT to_regclass('schema_version')") == (None,):
            return None
        row = self._one("SELECT version FROM schema_version")
        return None if row is None else int(row[0])

    def where(self) -> str:
        return redact(self.url)

    def _cache_key(self) -> str:
        """Which database, for the keys of mapaid.cache (the URL without its password)."""
        return redact(self.url)

    def schema_transaction(self) -> Any:
        return self.transaction(revise=False)

    def create_current(self, conn: psycopg.Cursor[Any]) -> None:
        for statement in pgschema.STATEMENTS:
            conn.execute(statement)

    def write_version(self, conn: psycopg.Cursor[Any], version: int, first: bool) -> None:
        if first:
            conn.execute("INSERT INTO schema_version VALUES (%s)", (version,))
            conn.execute("INSERT INTO meta VALUES ('revision', '1') ON CONFLICT DO NOTHING")
        else:
            conn.execute("UPDATE schema_version SET version = %s", (version,))

    def get_meta(self, key: str) -> str | None:
        row = self._one("SELECT value FROM meta WHERE key = %s", (key,))
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as cur:
            _set_meta(cur, key, value)

    def revision(self) -> int:
        return int(self.get_meta("revision") or 0)

    # -- districts -----------------------------------------------------------------------------
    def has_districts(self) -> bool:
        return self._one("SELECT EXISTS (SELECT 1 FROM districts)") == (True,)

    def replace_districts(self, frame: gpd.GeoDataFrame, metric_epsg: int) -> None:
        if self.count():
            raise StoreError(
                "the database already holds posts tied to the current districts; load new districts "
                "into a new database (MAPAID_DATABASE)"
            )
        rows = [
            (
                r.slug,
                None if pd.isna(r.osm_relation_id) else int(r.osm_relation_id),
                r.name_be,
                r.name_ru,
                r.name_en,
                shapely.to_wkb(r.geometry),
            )
            for r in frame.itertuples()
        ]
        with self.transaction() as cur:
            cur.execute("DELETE FROM districts")
            cur.executemany(
                "INSERT INTO districts VALUES (%s, %s, %s, %s, %s,"
                " ST_Multi(ST_SetSRID(ST_GeomFromWKB(%s), 4326)))",
                rows,
            )
            _set_meta(cur, "metric_epsg", str(metric_epsg))
            _set_meta(cur, "districts_version", secrets.token_hex(8))

    def area(self) -> Area:
        """The served area, shared by every store of the process on the same database (mapaid.cache)."""
        return _AREAS.get_or_make(
            self._load_area, database=self._cache_key(), districts=self.get_meta("districts_version") or "0"
        )

    def _load_area(self) -> Area:
        rows = self._all(
            "SELECT slug, osm_relation_id, name_be, name_ru, name_en, ST_AsBinary(geom) FROM districts"
            " ORDER BY slug"
        )
        if not rows:
            raise StoreError("no districts loaded; run `mapaid init-db` or `mapaid districts load FILE`")
        keys = ("slug", "osm_relation_id", "name_be", "name_ru", "name_en")
        records = [dict(zip(keys, r[:5], strict=True)) for r in rows]
        geoms = shapely.from_wkb([bytes(r[5]) for r in rows])
        frame = gpd.GeoDataFrame(records, geometry=geoms, crs=WGS84)
        epsg = self.get_meta("metric_epsg")
        area = Area.from_frame(frame, int(epsg) if epsg else None)
        res = self.get_meta("cell_res")
        if res is not None:
            area.table(int(res))
        return area

    # -- walking distances ---------------------------------------------------------------------
    def replace_walks(self, walks: Distances, info: dict[str, str]) -> None:
        rows = []
        for i, (cell, snap) in enumerate(zip(walks.cells.tolist(), walks.snap_m.tolist(), strict=True)):
            neighbours, decimetres = walks.row(i)
            rows.append((cell, snap, neighbours.astype("<i8").tobytes(), decimetres.astype("<u2").tobytes()))
        districts = self.get_meta("districts_version") or "0"
        with self.transaction() as cur:
            cur.execute("DELETE FROM walk_cells")
            with cur.copy("COPY walk_cells (cell, snap_m, neighbours, decimetres) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            for key, value in info.items():
                _set_meta(cur, f"network_{key}", value)
            _set_meta(cur, "network_districts", districts)
            _set_meta(cur, "network_version", secrets.token_hex(8))

    def walks(self) -> Distances | None:
        version = self.get_meta("network_version")
        districts = self.get_meta("districts_version") or "0"
        if version is None or self.get_meta("network_districts") != districts:
            return None
        return _WALKS.get_or_make(self._load_walks, database=self._cache_key(), network=version)

    def _load_walks(self) -> Distances:
        rows = self._all("SELECT cell, snap_m, neighbours, decimetres FROM walk_cells ORDER BY cell")
        cells = np.array([r[0] for r in rows], dtype=np.int64)
        snap = np.array([r[1] for r in rows], dtype=np.float64)
        neighbours = [np.frombuffer(bytes(r[2]), dtype="<i8") for r in rows]
        counts = np.fromiter(map(len, neighbours), dtype=np.int64, count=len(rows))
        start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        joined = np.concatenate(neighbours).astype(np.int64) if rows else np.empty(0, dtype=np.int64)
        metres = (
            np.concatenate([np.frombuffer(bytes(r[3]), dtype="<u2") for r in rows]).astype(np.uint16)
            if rows
            else np.empty(0, dtype=np.uint16)
        )
        return Distances(cells, snap, start, joined, metres)

    # -- posts ---------------------------------------------------------------------------------
    def add(
        self, posts: CoarsePosts, progress: Callable[[int], None] | None = None, *, pending: bool = False
    ) -> None:
        """Insert in id order (COPY, in slices so ``progress`` hears how far it got), with the outlines
        of cells new to the table; one transaction. ``pending`` posts wait for the publication round,
        which writes them anew and adds their cells (``publish_pending``)."""
        order = np.argsort(np.array(posts.id, dtype="S"), kind="stable")

        def take(values: Sequence[Any]) -> list[Any]:
            return np.asarray(values, dtype=object)[order].tolist()  # type: ignore[no-any-return]

        created: Iterator[date] | list[date] = (
            repeat(posts.created_day) if isinstance(posts.created_day, date) else take(posts.created_day)
        )
        rows = list(
            zip(
                take(posts.id),
                take(posts.kind),
                take(posts.category),
                take(posts.text),
                take(posts.contact),
                posts.cell[order].tolist(),
                take(posts.district),
                created,
                take(posts.expires_day),
                statuses(posts, pending, take),
                take(posts.token_hash),
                posts.lon[order].tolist(),
                posts.lat[order].tolist(),
                take(posts.reply_key if posts.reply_key is not None else [None] * len(posts)),
                strict=False,  # repeat() is endless; the other columns have one value per post
            )
        )
        with self.transaction(revise=not pending) as cur:
            for start in range(0, len(rows), _SLICE):
                with cur.copy(
                    "COPY posts (id, kind, category, text, contact, cell, district, created_day,"
                    " expires_day, status, token_hash, lon, lat, reply_key) FROM STDIN"
                ) as copy:
                    for row in rows[start : start + _SLICE]:
                        copy.write_row(row)
                if progress:
                    progress(min(_SLICE, len(rows) - start))
            if not pending:
                _add_cells(cur, np.unique(posts.cell))
            if len(rows) > 1:  # an import: the tables it filled from empty are as a rewrite leaves them
                pgerase.seal(cur, pgerase.leaves(cur, ("posts", "cells")))
        if len(rows) >= _VACUUM_FROM:
            # Planner statistics and the visibility map for a big batch now, not whenever autovacuum
            # comes: the tally reads the covering index alone only where the map says the pages are clean.
            self.db.execute("VACUUM (ANALYZE) posts, cells")

    def posts(self, today: date, *, public: bool = True, **filters: Sequence[str]) -> pd.DataFrame:
        where: list[str] = []
        params: list[Any] = []
        if public:
            where.append(PUBLIC)
            params.append(today)
        for column, values in filters.items():
            if column not in ("kind", "category", "district", "status", "cell", "id"):
                raise ValueError(f"cannot filter posts by {column}")
            if values:
                condition, bound = _in(column, list(values))
                where.append(condition)
                params += bound
        query = SELECT_POSTS + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id"
        return _frame(self._all(query, params), POST_COLUMNS)

    def public_page(
        self,
        today: date,
        limit: int,
        offset: int,
        bbox: BBox | None = None,
        days: Days | None = None,
        **filters: Sequence[str],
    ) -> tuple[pd.DataFrame, int]:
        """As SQLite's: the box is tested against the position as published (5 decimals)."""
        where = [PUBLIC]
        params: list[Any] = [today]
        if bbox is not None:
            where.append(
                "round(lon::numeric, 5) BETWEEN %s AND %s AND round(lat::numeric, 5) BETWEEN %s AND %s"
            )
            params += [bbox[0], bbox[2], bbox[1], bbox[3]]
        if days is not None and days[0] is not None:
            where.append("expires_day >= %s")
            params.append(days[0])
        if days is not None and days[1] is not None:
            where.append("created_day <= %s")
            params.append(days[1])
        for column, values in filters.items():
            if column not in ("kind", "category", "district"):
                raise ValueError(f"cannot filter posts by {column}")
            if values:
                condition, bound = _in(column, list(values))
                where.append(condition)
                params += bound
        condition = " WHERE " + " AND ".join(where)
        row = self._one("SELECT count(*) FROM posts" + condition, params)
        matched = int(row[0]) if row else 0
        rows = self._all(
            SELECT_POSTS + condition + " ORDER BY id LIMIT %s OFFSET %s", [*params, limit, offset]
        )
        return _frame(rows, POST_COLUMNS), matched

    def public_span(self, today: date) -> tuple[str, str] | None:
        row = self._one(
            f"SELECT {_DAY.format('min(created_day)')}, {_DAY.format('max(expires_day)')} FROM posts"
            f" WHERE {PUBLIC}",
            (today,),
        )
        return None if row is None or row[0] is None else (str(row[0]), str(row[1]))

    def open_counts(self, today: date) -> pd.DataFrame:
        rows = self._all(
            f"SELECT cell, district, kind, count(*) FROM posts WHERE {PUBLIC} GROUP BY cell, district, kind",
            (today,),
        )
        return _frame(rows, ["cell", "district", "kind", "n"])

    def open_tally(self, today: date) -> pd.DataFrame:
        """The planner's own plan, with room to hash the groups in memory. Forcing the cell-first covering
        index (as SQLite reads it) won at 100,000 posts but lost 2-4x at a million, where the visibility
        map lags behind the writes and the "index-only" scan visits every row's page anyway."""
        with self.db.transaction(), self.db.cursor() as cur:
            cur.execute("SET LOCAL work_mem = '64MB'")
            rows = cur.execute(
                "SELECT kind, category, cell, district, count(*) FROM posts"
                f" WHERE {PUBLIC} GROUP BY cell, kind, category, district",
                (today,),
            ).fetchall()
        return _frame(rows, ["kind", "category", "cell", "district", "n"])

    def get(self, post_id: str) -> dict[str, Any] | None:
        with self.db.cursor(row_factory=dict_row) as cur:
            found: dict[str, Any] | None = cur.execute(
                SELECT_PRIVATE + " WHERE id = %s", (post_id,)
            ).fetchone()
        return found

    def token_hash(self, post_id: str) -> str | None:
        row = self._one("SELECT token_hash FROM posts WHERE id = %s", (post_id,))
        return None if row is None else row[0]

    @staticmethod
    def _status(cur: psycopg.Cursor[Any], post_id: str) -> str | None:
        """The post's status, its row locked for the rest of the transaction."""
        row = cur.execute("SELECT status FROM posts WHERE id = %s FOR UPDATE", (post_id,)).fetchone()
        return None if row is None else str(row[0])

    def set_status(self, post_id: str, status: Status) -> bool:
        with self.transaction(revise=False) as cur:
            before = self._status(cur, post_id)
            if before is None:
                return False
            cur.execute("UPDATE posts SET status = %s WHERE id = %s", (str(status), post_id))
            if (before == Status.OPEN) != (status == Status.OPEN):
                cur.execute(_REVISE)
        return True

    def set_expiry(self, post_id: str, expires_day: date, *, draft: bool = False) -> bool:
        with self.transaction(revise=False) as cur:
            return self._change(cur, post_id, "expires_day", expires_day, draft) is not None

    def set_text(self, post_id: str, text: str, *, draft: bool = False) -> bool:
        """The edited text (or its draft). Text it takes back (the public text, or an earlier draft or
        pending text) leaves the table's files at the next erase (``erase_removed``: the
        ``posts_replaced`` trigger names its partition); so does the text a round replaces."""
        with self.transaction(revise=False) as cur:
            return self._change(cur, post_id, "text", text, draft) is not None

    @staticmethod
    def _change(cur: psycopg.Cursor[Any], post_id: str, column: str, value: Any, draft: bool) -> bool | None:
        """As SQLite's ``_change``; None when there is no such post, else whether a value was replaced
        (for text: whether text was taken back)."""
        waiting = f"draft_{column.removesuffix('_day')}"  # draft_text, draft_expires
        row = cur.execute(
            sql.SQL("SELECT status, {} IS NOT NULL FROM posts WHERE id = %s FOR UPDATE").format(
                sql.Identifier(waiting)
            ),
            (post_id,),
        ).fetchone()
        if row is None:
            return None
        status, had_draft = str(row[0]), bool(row[1])
        if draft and status == Status.OPEN:
            cur.execute(
                sql.SQL("UPDATE posts SET {} = nullif(%s, {}) WHERE id = %s").format(
                    sql.Identifier(waiting), sql.Identifier(column)
                ),
                (value, post_id),
            )
            return had_draft
        cur.execute(
            sql.SQL("UPDATE posts SET {} = %s, {} = NULL WHERE id = %s").format(
                sql.Identifier(column), sql.Identifier(waiting)
            ),
            (value, post_id),
        )
        if status == Status.OPEN:
            cur.execute(_REVISE)
        return True

    def delete(self, post_id: str) -> bool:
        return self._remove("id = %s", (post_id,)) > 0

    def purge_expired(self, today: date) -> int:
        """Delete posts past their last day (an extension waiting for its round counts); and, as
        housekeeping's daily round, name for the next erase every table or partition written by more than
        one transaction since its last rewrite, so the day's new posts lose the order in which they came
        (see the module's docstring). Expired posts were in no public answer: no revision."""
        return self._remove("greatest(expires_day, draft_expires) < %s", (today,), daily=True, public=False)

    def purge_fulfilled(self) -> int:
        """Delete fulfilled posts (and their contacts and conversations); no public answer held them."""
        return self._remove("status = 'fulfilled'", (), public=False)

    def _remove(
        self, where: str, params: tuple[Any, ...], *, daily: bool = False, public: bool = True
    ) -> int:
        """Delete the posts ``where`` picks with their conversations, reports and now empty cells, in one
        transaction: gone from every answer at once. The triggers name the partitions that held them for
        the next erase (``erase_removed``); the ``posts_gone`` trigger deletes what a concurrent write
        added to a post between the first statements and the post's own deletion. The revision moves on
        if an open post went and ``public`` (the caller's posts may be in a public answer)."""
        of_posts = f"SELECT id FROM posts WHERE {where}"
        with self.transaction(revise=False) as cur:
            of_threads = f"SELECT id FROM threads WHERE post_id IN ({of_posts})"
            cur.execute(f"DELETE FROM messages WHERE thread_id IN ({of_threads})", params)
            cur.execute(f"DELETE FROM threads WHERE post_id IN ({of_posts})", params)
            cur.execute(f"DELETE FROM reports WHERE post_id IN ({of_posts})", params)
            cur.execute(f"DELETE FROM blocked_keys WHERE post_id IN ({of_posts})", params)
            gone = cur.execute(f"DELETE FROM posts WHERE {where} RETURNING cell, status = 'open'", params)
            rows = gone.fetchall()
            _drop_empty_cells(cur, sorted({int(r[0]) for r in rows}))
            if daily:
                pgerase.mark_unsealed(cur)
            if public and any(bool(r[1]) for r in rows):
                cur.execute(_REVISE)
        return len(rows)

    # -- publication rounds (mapaid/rounds.py) -----------------------------------------------------
    def publish_pending(self) -> Published:
        """The round (``Store.publish_pending``), under a lock that keeps writers of posts out (readers
        go on): pending posts without conversations or reports (every new post; a restored one may have
        some) are deleted and written anew in id order, so they share this transaction's ``xmin`` and lie
        in the table in id order, and the cells they bring are added now; waiting changes replace the
        public text and day; conversations' and reports' rows written since the last round are written
        again (``fresh``). What the round deleted, replaced or rewrote is named for the erase (the
        triggers of mapaid/pgschema.py), which ``rounds.publish`` runs right after it."""
        with self.transaction(revise=False) as cur:
            cur.execute("LOCK TABLE posts IN EXCLUSIVE MODE")
            columns = ", ".join(pgerase.columns(cur, "posts"))
            pending = f"{ROUND_WORK} AND status = 'pending'"
            cur.execute(
                f"CREATE TEMP TABLE round_posts ON COMMIT DROP AS SELECT {columns} FROM posts p"
                f" WHERE {pending} AND NOT EXISTS (SELECT 1 FROM threads t WHERE t.post_id = p.id)"
                " AND NOT EXISTS (SELECT 1 FROM reports r WHERE r.post_id = p.id)"
            )
            cur.execute("DELETE FROM posts WHERE id IN (SELECT id FROM round_posts)")
            moved = cur.rowcount
            published = ", ".join(_AS_PUBLISHED.get(c, c) for c in columns.split(", "))
            cur.execute(f"INSERT INTO posts ({columns}) SELECT {published} FROM round_posts ORDER BY id")
            cur.execute(f"UPDATE posts SET status = 'open' WHERE {pending} RETURNING cell")
            cells = [int(r[0]) for r in cur.fetchall()]
            restored = len(cells)
            cells += [int(r[0]) for r in cur.execute("SELECT DISTINCT cell FROM round_posts")]
            drafted = f"{ROUND_WORK} AND (draft_text IS NOT NULL OR draft_expires IS NOT NULL)"
            row = cur.execute(f"SELECT count(*) FROM posts WHERE {drafted} AND status = 'open'").fetchone()
            changes = int(row[0]) if row else 0
            cur.execute(
                "UPDATE posts SET text = coalesce(draft_text, text), expires_day = coalesce(draft_expires,"
                f" expires_day), draft_text = NULL, draft_expires = NULL WHERE {drafted}"
            )
            _add_cells(cur, np.unique(np.array(cells, dtype=np.int64)))
            for statement in _UNFRESH.values():
                cur.execute(statement)
            done = Published(moved + restored, changes)
            if done.any:
                cur.execute(_REVISE)
        return done

    def erase_removed(self) -> int:
        """Rewrite the tables (partitions) that hold deleted or replaced text, one short transaction
        each (mapaid/pgerase.py); how many."""
        return pgerase.erase(self.db)

    def compact(self) -> None:
        """Nothing more to do: ``purge_expired`` names every partition written by more than one
        transaction for the erase that follows it, which rewrites them in key order."""

    def count(self, *, all_statuses: bool = True) -> int:
        query = "SELECT count(*) FROM posts" + ("" if all_statuses else " WHERE status = 'open'")
        row = self._one(query)
        return int(row[0]) if row else 0

    # -- private replies -------------------------------------------------------------------------
    def reply_key(self, post_id: str) -> str | None:
        row = self._one("SELECT reply_key FROM posts WHERE id = %s", (post_id,))
        return None if row is None else row[0]

    _THREAD = f"SELECT id, post_id, replier_key, token_hash, {_DAY.format('day')} FROM threads"

    def thread(self, thread_id: str) -> Thread | None:
        row = self._one(self._THREAD + " WHERE id = %s", (thread_id,))
        return None if row is None else Thread(*(str(v) for v in row))

    def threads_of(self, post_id: str) -> list[Thread]:
        rows = self._all(self._THREAD + " WHERE post_id = %s ORDER BY id", (post_id,))
        return [Thread(*(str(v) for v in row)) for row in rows]

    def threads_page(self, post_id: str, limit: int, offset: int) -> tuple[list[Thread], int]:
        rows = self._all(
            self._THREAD + " t WHERE post_id = %s ORDER BY coalesce((SELECT max(m.day) FROM messages m"
            " WHERE m.thread_id = t.id), t.day) DESC, id LIMIT %s OFFSET %s",
            (post_id, limit, offset),
        )
        total = self._one("SELECT count(*) FROM threads WHERE post_id = %s", (post_id,))
        return [Thread(*(str(v) for v in row)) for row in rows], int(total[0]) if total else 0

    def delete_thread(self, thread_id: str, blocked: str) -> bool:
        """The conversation's messages and row go (their text leaves the files at the next erase, as an
        edited post's old text does); the key's hash stays, so it starts no other with the post."""
        with self.transaction(revise=False) as cur:
            row = cur.execute("SELECT post_id FROM threads WHERE id = %s FOR UPDATE", (thread_id,)).fetchone()
            if row is None:
                return False
            cur.execute("DELETE FROM messages WHERE thread_id = %s", (thread_id,))
            cur.execute("DELETE FROM threads WHERE id = %s", (thread_id,))
            cur.execute(
                "INSERT INTO blocked_keys (post_id, key_hash) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (row[0], blocked),
            )
        return True

    def messages(self, thread_id: str) -> list[Message]:
        rows = self._all(
            f"SELECT sender, message, {_DAY.format('day')} FROM messages WHERE thread_id = %s ORDER BY seq",
            (thread_id,),
        )
        return [Message(row[0], str(row[1]), str(row[2])) for row in rows]

    def start_thread(
        self, thread: Thread, first: Message, max_threads: int, open_on: str, blocked: str
    ) -> str | None:
        with self.transaction(revise=False) as cur:
            # The post's row lock serialises conversations of one post, so two cannot both be the last.
            if not _lock_open_post(cur, thread.post_id, open_on):
                return "post"
            sql_blocked = "SELECT 1 FROM blocked_keys WHERE post_id = %s AND key_hash = %s"
            if cur.execute(sql_blocked, (thread.post_id, blocked)).fetchone() is not None:
                return "blocked"
            row = cur.execute("SELECT count(*) FROM threads WHERE post_id = %s", (thread.post_id,)).fetchone()
            if row is not None and row[0] >= max_threads:
                return "full"
            cur.execute(
                "INSERT INTO threads (id, post_id, replier_key, token_hash, day) VALUES (%s, %s, %s, %s, %s)",
                (thread.id, thread.post_id, thread.replier_key, thread.token_hash, thread.day),
            )
            cur.execute(
                "INSERT INTO messages (thread_id, seq, sender, message, day) VALUES (%s, 0, %s, %s, %s)",
                (thread.id, first.sender, first.message, first.day),
            )
        return None

    def add_message(
        self,
        thread_id: str,
        message: Message,
        max_messages: int,
        open_on: str,
        expect: tuple[int, int] | None = None,
    ) -> int | str:
        with self.transaction(revise=False) as cur:
            row = cur.execute("SELECT post_id FROM threads WHERE id = %s FOR UPDATE", (thread_id,)).fetchone()
            if row is None:
                return "thread"
            if not _lock_open_post(cur, str(row[0]), open_on, share=True):
                return "post"
            counted = cur.execute(
                "SELECT sender, count(*), max(seq) FROM messages WHERE thread_id = %s GROUP BY sender",
                (thread_id,),
            ).fetchall()
            counts = {str(r[0]): int(r[1]) for r in counted}
            count, last = sum(counts.values()), max((int(r[2]) for r in counted), default=-1)
            if count >= max_messages:
                return "full"
            if not in_order(counts, message.sender, expect):
                return "order"
            cur.execute(
                "INSERT INTO messages (thread_id, seq, sender, message, day) VALUES (%s, %s, %s, %s, %s)",
                (thread_id, last + 1, message.sender, message.message, message.day),
            )
        return count + 1

    # -- coordinators ----------------------------------------------------------------------------
    # Accounts change no public answer: their writes leave the revision alone.
    def add_coordinator(self, name: str, password_hash: str, created_day: date) -> bool:
        with self.transaction(revise=False) as cur:
            cur.execute(
                "INSERT INTO coordinators VALUES (%s, %s, %s) ON CONFLICT (name) DO NOTHING",
                (name, password_hash, created_day),
            )
            return cur.rowcount > 0

    def remove_coordinator(self, name: str) -> bool:
        with self.transaction(revise=False) as cur:
            cur.execute("DELETE FROM sessions WHERE coordinator = %s", (name,))
            cur.execute("DELETE FROM devices WHERE coordinator = %s", (name,))
            cur.execute("DELETE FROM coordinators WHERE name = %s", (name,))
            removed = cur.rowcount > 0
            if removed:
                pgerase.reseal(cur, pgschema.ACCOUNT_FAMILY)
        return removed

    def set_password_hash(self, name: str, password_hash: str) -> bool:
        with self.transaction(revise=False) as cur:
            cur.execute("UPDATE coordinators SET password_hash = %s WHERE name = %s", (password_hash, name))
            if cur.rowcount == 0:
                return False
            cur.execute("DELETE FROM sessions WHERE coordinator = %s", (name,))
            cur.execute("DELETE FROM devices WHERE coordinator = %s", (name,))
            pgerase.reseal(cur, pgschema.ACCOUNT_FAMILY)
        return True

    def password_hash(self, name: str) -> str | None:
        row = self._one("SELECT password_hash FROM coordinators WHERE name = %s", (name,))
        return None if row is None else str(row[0])

    def coordinators(self) -> list[Coordinator]:
        rows = self._all(f"SELECT name, {_DAY.format('created_day')} FROM coordinators ORDER BY name")
        return [Coordinator(str(r[0]), str(r[1])) for r in rows]

    def purge_login_failures(self) -> int:
        """PostGIS databases never had the ``login_failures`` table (failures live in memory): nothing."""
        return 0

    # -- coordinator logins ------------------------------------------------------------------------
    def add_session(self, record: SessionRecord) -> None:
        with self.transaction(revise=False) as cur:
            cur.execute(
                "INSERT INTO sessions VALUES (%s, %s, %s, %s, %s, %s)",
                (
                    record.id_hash,
                    record.coordinator,
                    record.account,
                    record.created,
                    record.seen,
                    record.ends,
                ),
            )

    def session(self, id_hash: str) -> tuple[SessionRecord, str | None] | None:
        row = self._one(
            "SELECT s.id_hash, s.coordinator, s.account, s.created, s.seen, s.ends, c.password_hash"
            " FROM sessions AS s LEFT JOIN coordinators AS c ON c.name = s.coordinator WHERE s.id_hash = %s",
            (id_hash,),
        )
        if row is None:
            return None
        record = SessionRecord(str(row[0]), str(row[1]), str(row[2]), int(row[3]), int(row[4]), int(row[5]))
        return record, None if row[6] is None else str(row[6])

    def touch_session(self, id_hash: str, seen: int, ends: int) -> None:
        with self.transaction(revise=False) as cur:
            cur.execute("UPDATE sessions SET seen = %s, ends = %s WHERE id_hash = %s", (seen, ends, id_hash))

    def end_session(self, id_hash: str) -> None:
        with self.transaction(revise=False) as cur:
            cur.execute("DELETE FROM sessions WHERE id_hash = %s", (id_hash,))

    def purge_sessions(self, now: int) -> int:
        with self.transaction(revise=False) as cur:
            cur.execute(
                "DELETE FROM sessions WHERE ends <= %s OR coordinator NOT IN (SELECT name FROM coordinators)",
                (int(now),),
            )
            return int(cur.rowcount)

    def session_count(self) -> int:
        row = self._one("SELECT count(*) FROM sessions")
        return int(row[0]) if row else 0

    # -- coordinators' known devices ---------------------------------------------------------------
    def add_device(self, record: DeviceRecord, keep: int, replaces: str | None = None) -> bool:
        with self.transaction(revise=False) as cur:
            cur.execute(
                "INSERT INTO devices (id_hash, coordinator, account, day)"
                " SELECT %s, name, %s, %s FROM coordinators WHERE name = %s",
                (record.id_hash, record.account, record.day, record.coordinator),
            )
            if cur.rowcount == 0:
                return False
            if replaces is not None:
                cur.execute("DELETE FROM devices WHERE id_hash = %s", (replaces,))
            cur.execute(
                "DELETE FROM devices WHERE coordinator = %s AND id_hash NOT IN (SELECT id_hash FROM devices"
                " WHERE coordinator = %s ORDER BY id_hash = %s DESC, day DESC, id_hash LIMIT %s)",
                (record.coordinator, record.coordinator, record.id_hash, keep),
            )
        return True

    def device(self, id_hash: str) -> tuple[DeviceRecord, str | None] | None:
        row = self._one(
            "SELECT d.id_hash, d.coordinator, d.account, d.day, c.password_hash"
            " FROM devices AS d LEFT JOIN coordinators AS c ON c.name = d.coordinator WHERE d.id_hash = %s",
            (id_hash,),
        )
        if row is None:
            return None
        record = DeviceRecord(str(row[0]), str(row[1]), str(row[2]), row[3])
        return record, None if row[4] is None else str(row[4])

    def forget_device(self, id_hash: str) -> None:
        with self.transaction(revise=False) as cur:
            cur.execute("DELETE FROM devices WHERE id_hash = %s", (id_hash,))

    def purge_devices(self, until: date) -> int:
        with self.transaction(revise=False) as cur:
            cur.execute(
                "DELETE FROM devices WHERE day <= %s OR coordinator NOT IN (SELECT name FROM coordinators)",
                (until,),
            )
            return int(cur.rowcount)

    # -- reports and moderation ------------------------------------------------------------------
    def add_report(self, post_id: str, reason: str, day: date) -> bool:
        with self.transaction(revise=False) as cur:
            cur.execute(
                # FOR KEY SHARE: a deletion of the post waits for this report, then deletes it too (what the
                # foreign key's check did before the post tables were partitioned).
                "INSERT INTO reports (post_id, reason, day, count)"
                f" SELECT id, %s, %s, 1 FROM posts WHERE id = %s AND {PUBLIC} FOR KEY SHARE"
                " ON CONFLICT (post_id, reason, day) DO UPDATE SET count = reports.count + 1, fresh = true",
                (reason, day, post_id, day),
            )
            return cur.rowcount > 0

    def reports_by_reason(self, post_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        found: dict[str, dict[str, int]] = {}
        if not post_ids:
            return found
        rows = self._all(
            "SELECT post_id, reason, sum(count) FROM reports WHERE post_id = ANY(%s::text[])"
            " GROUP BY post_id, reason",
            ([str(i) for i in post_ids],),
        )
        for post_id, reason, count in rows:
            found.setdefault(str(post_id), {})[str(reason)] = int(count)
        return found

    def reports_queued(self) -> int:
        row = self._one("SELECT count(DISTINCT post_id) FROM reports")
        return int(row[0]) if row else 0

    def moderate(
        self, post_id: str, status: Stored | None, entry: AuditEntry, *, resolve_reports: bool
    ) -> bool:
        """As SQLite's: the revision moves on when the post enters or leaves the public answers."""
        with self.transaction(revise=False) as cur:
            before = self._status(cur, post_id)
            if before is None:
                return False
            if status is not None:
                cur.execute("UPDATE posts SET status = %s WHERE id = %s", (str(status), post_id))
                if (before == Status.OPEN) != (status == Status.OPEN):
                    cur.execute(_REVISE)
            if resolve_reports:
                cur.execute("DELETE FROM reports WHERE post_id = %s", (post_id,))
            cur.execute(
                "INSERT INTO audit (at, coordinator, action, post_id) VALUES (%s, %s, %s, %s)",
                (entry.at, entry.coordinator, entry.action, entry.post_id),
            )
        return True

    def audit_trail(self, limit: int = 100, post_id: str | None = None) -> list[AuditEntry]:
        query = "SELECT at, coordinator, action, post_id FROM audit"
        params: list[Any] = []
        if post_id is not None:
            query += " WHERE post_id = %s"
            params.append(post_id)
        rows = self._all(query + " ORDER BY seq DESC LIMIT %s", [*params, limit])
        return [AuditEntry(str(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in rows]

    def purge_audit(self, before: date) -> int:
        with self.transaction(revise=False) as cur:
            cur.execute("DELETE FROM audit WHERE at < %s", (before.isoformat(),))
            return int(cur.rowcount)

    def moderation_page(
        self, filters: Mapping[str, Sequence[str]], search: Search, limit: int, offset: int
    ) -> tuple[pd.DataFrame, int]:
        where: list[str] = ["status <> 'pending'"]  # coordinators see a post from its first round on
        params: list[Any] = []
        for column in ("kind", "category", "district", "status"):
            values = list(filters.get(column, ()))
            if values:
                condition, bound = _in(column, values)
                where.append(condition)
                params += bound
        if search.cell is not None:
            where.append("cell = %s")
            params.append(int(search.cell))
        if search.text:
            # strpos, not LIKE: the text is taken literally. lower() folds by the collation it is given: the
            # columns' own "C" folds ASCII only, ICU's root locale folds Cyrillic as casefold does.
            where.append(
                '(strpos(lower(text COLLATE "und-x-icu"), %s) > 0'
                " OR strpos(lower(coalesce(contact, '') COLLATE \"und-x-icu\"), %s) > 0)"
            )
            needle = search.text.casefold()
            params += [needle, needle]
        if search.reported:
            where.append("id IN (SELECT post_id FROM reports)")
        clause = " WHERE " + " AND ".join(where)
        row = self._one("SELECT count(*) FROM posts" + clause, params)
        total = int(row[0]) if row else 0
        if search.keep is not None:
            clause = f" WHERE ({' AND '.join(where)}) OR id = %s"
            params = [*params, search.keep]
        count = "(SELECT coalesce(sum(count), 0) FROM reports WHERE post_id = posts.id)"
        order = f"{count} DESC, created_day DESC, id" if search.reported else "created_day DESC, id"
        rows = self._all(
            SELECT_POSTS + clause + f" ORDER BY {order} LIMIT %s OFFSET %s", [*params, limit, offset]
        )
        return _frame(rows, POST_COLUMNS), total

    # -- named places ----------------------------------------------------------------------------
    def place_rows(self) -> list[dict[str, Any]]:
        with self.db.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(f"SELECT {', '.join(PLACE_COLUMNS)} FROM places ORDER BY id").fetchall()
        for row in rows:
            if row["line"] is not None:
                row["line"] = bytes(row["line"])
        return rows

    def replace_places(self, rows: Sequence[Mapping[str, Any]]) -> None:
        columns = PLACE_COLUMNS[1:]
        with self.transaction() as cur:
            cur.execute("DELETE FROM places")
            with cur.copy(f"COPY places ({', '.join(PLACE_COLUMNS)}) FROM STDIN") as copy:
                for i, row in enumerate(rows, start=1):
                    copy.write_row((i, *(row.get(c) for c in columns)))

    def place_kinds(self) -> dict[str, int]:
        return {str(k): int(n) for k, n in self._all("SELECT kind, count(*) FROM places GROUP BY kind")}

    def place_sources(self) -> set[str]:
        return {str(r[0]) for r in self._all("SELECT DISTINCT source FROM places")}

    # -- one form, one post (mapaid/formonce.py) -------------------------------------------------
    def claim_form(
        self, key: str, now: int, stale_before: int, expired_before: int
    ) -> tuple[bool, bytes | None]:
        with self.transaction(revise=False) as cur:
            # Rows past their time go; rows another claim is deleting right now are skipped, not waited for.
            cur.execute(
                "DELETE FROM form_once WHERE key IN"
                " (SELECT key FROM form_once WHERE at < %s AND key <> %s FOR UPDATE SKIP LOCKED)",
                (expired_before, key),
            )
            cur.execute(
                "INSERT INTO form_once VALUES (%s, %s, NULL) ON CONFLICT (key) DO NOTHING", (key, now)
            )
            if cur.rowcount:
                return True, None
            cur.execute("SELECT at, sealed FROM form_once WHERE key = %s FOR UPDATE", (key,))
            row = cur.fetchone()
            if row is None:  # released between the two statements: a repeat may try again
                cur.execute("INSERT INTO form_once VALUES (%s, %s, NULL)", (key, now))
                return True, None
            at, sealed = int(row[0]), row[1]
            if at < expired_before or (sealed is None and at < stale_before):
                cur.execute("UPDATE form_once SET at = %s, sealed = NULL WHERE key = %s", (now, key))
                return True, None
            return False, None if sealed is None else bytes(sealed)

    def finish_form(self, key: str, sealed: bytes, now: int) -> None:
        with self.transaction(revise=False) as cur:
            cur.execute(
                "INSERT INTO form_once VALUES (%s, %s, %s)"
                " ON CONFLICT (key) DO UPDATE SET at = excluded.at, sealed = excluded.sealed",
                (key, now, sealed),
            )

    def release_form(self, key: str) -> None:
        with self.transaction(revise=False) as cur:
            cur.execute("DELETE FROM form_once WHERE key = %s AND sealed IS NULL", (key,))

    def purge_forms(self, before: int) -> int:
        with self.transaction(revise=False) as cur:
            cur.execute("DELETE FROM form_once WHERE at < %s", (before,))
            return int(cur.rowcount)

    # -- chores several server processes share (mapaid/housekeeping.py) -------------------------
    def take_lease(self, name: str, now: int, until: int) -> bool:
        with self.transaction(revise=False) as cur:
            cur.execute(
                "INSERT INTO meta VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
                " WHERE meta.value::bigint <= %s",
                (f"lease_{name}", str(until), now),
            )
            return cur.rowcount > 0

    def release_lease(self, name: str) -> None:
        with self.transaction(revise=False) as cur:
            cur.execute("UPDATE meta SET value = '0' WHERE key = %s", (f"lease_{name}",))


def _set_meta(cur: psycopg.Cursor[Any], key: str, value: str) -> None:
    cur.execute(
        "INSERT INTO meta VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


_COPY_CELLS_FROM = 1000  # new cells in one write from which they go through COPY and a temporary table


def _add_cells(cur: psycopg.Cursor[Any], cells: np.ndarray) -> None:
    """The outlines of ``cells`` the table does not hold yet (lon/lat rings, closed). Another server's
    transaction may be adding the same cell at this moment (two first posts in one hexagon), one we
    cannot see yet: ``ON CONFLICT DO NOTHING`` waits for it and then keeps its row, where a plain insert
    failed the second post with a duplicate key. The outlines found are held (``FOR KEY SHARE``) until
    commit, so a deletion emptying one of them at the same time (``_drop_empty_cells``) either waits and
    then sees this post, or has deleted it first and this insert puts it back. A big import copies its
    cells into a temporary table first (COPY is fast but has no ON CONFLICT)."""
    known = {
        int(r[0])
        for r in cur.execute(
            "SELECT cell FROM cells WHERE cell = ANY(%s::bigint[]) ORDER BY cell FOR KEY SHARE",
            ([int(c) for c in cells],),
        )
    }
    new = sorted(int(c) for c in cells if int(c) not in known)
    if not new:
        return
    rows = [(cell, _outline(cell)) for cell in new]
    if len(rows) < _COPY_CELLS_FROM:
        cur.executemany("INSERT INTO cells (cell, geom) VALUES (%s, %s) ON CONFLICT (cell) DO NOTHING", rows)
        return
    cur.execute("CREATE TEMP TABLE new_cells (cell bigint, geom text) ON COMMIT DROP")
    with cur.copy("COPY new_cells (cell, geom) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    cur.execute(
        "INSERT INTO cells (cell, geom) SELECT cell, geom::geometry FROM new_cells ORDER BY cell"
        " ON CONFLICT (cell) DO NOTHING"
    )


def _drop_empty_cells(cur: psycopg.Cursor[Any], cells: Sequence[int]) -> None:
    """Delete the outlines of ``cells`` that no post is in any more. Their rows are taken first, in a
    statement of their own: a post being added in one of them holds its row (``_add_cells``) until it
    commits, and the deletion's own statement, which starts after, then sees that post."""
    if not cells:
        return
    cur.execute(
        "SELECT cell FROM cells WHERE cell = ANY(%s::bigint[]) ORDER BY cell FOR UPDATE", (list(cells),)
    )
    cur.execute(
        "DELETE FROM cells WHERE cell = ANY(%s::bigint[])"
        " AND NOT EXISTS (SELECT 1 FROM posts WHERE posts.cell = cells.cell)",
        (list(cells),),
    )


def _outline(cell: int) -> str:
    """A hexagon's outline as EWKT, lon/lat, closed."""
    ring = [(lng, lat) for lat, lng in h3.cell_to_boundary(h3.int_to_str(cell))]
    return "SRID=4326;" + str(shapely.to_wkt(shapely.Polygon([*ring, ring[0]]), rounding_precision=-1))


def _lock_open_post(cur: psycopg.Cursor[Any], post_id: str, day: str, *, share: bool = False) -> bool:
    mode = "FOR SHARE" if share else "FOR UPDATE"
    found = cur.execute(
        f"SELECT 1 FROM posts WHERE id = %s AND {PUBLIC} {mode}",
        (post_id, day),
    ).fetchone()
    return found is not None


def open_postgis(url: str, *, create: bool = False) -> PostGISStore:
    """Open the database at ``url``; ``create`` makes (or upgrades) the schema, else it must be current."""
    try:
        store = PostGISStore(url)
    except psycopg.OperationalError:
        raise StoreError(f"cannot connect to the PostgreSQL database {redact(url)}") from None
    try:
        if create:
            store.init_schema()
        else:
            store.check_schema()
    except BaseException:
        store.close()
        raise
    return store
