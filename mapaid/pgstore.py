"""The PostgreSQL + PostGIS store (``MAPAID_DATABASE=postgresql://...``), implementing ``mapaid.store.Store``
with the same behaviour as ``SQLiteStore``: the same rows, orders, filters, frames and return values.

Connections come from one pool per database URL per process (``psycopg_pool``), shared by the store
objects ``open_store`` makes per request and per command; ``close`` gives the connection back. Reads run in
autocommit; every write method is one transaction.

Privacy on PostgreSQL (docs/deploy.md, "PostgreSQL/PostGIS"): a heap table keeps rows where they were
appended (``ctid``) and each row version carries the id of the transaction that wrote it (``xmin``), and
a deleted or replaced row stays in the table's file until the table is rewritten. So whenever text is
taken back (``delete``, ``set_text``, ``purge_*``) the store *reseals* the post tables in the same
transaction: it copies the remaining rows aside, truncates the tables (new, empty files; the old ones are
unlinked at commit) and writes the rows back in id order. Afterwards the files hold no copy of what was
removed, rows lie in id order and all carry the same ``xmin``. Between reseals, posts added or changed
since the last one still show their order by ``ctid`` and ``xmin``; housekeeping reseals daily.
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

from mapaid import migrations, pgschema
from mapaid.cache import SharedCache
from mapaid.dburl import redact
from mapaid.geo import WGS84, Area
from mapaid.models import AuditEntry, Coordinator, Search, SessionRecord, Status
from mapaid.privacy import CoarsePosts
from mapaid.store import PLACE_COLUMNS, POST_COLUMNS, BBox, Days, StoreError
from mapaid.threads import Message, Thread, in_order
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
_POST_EXPR = {"created_day": _DAY.format("created_day"), "expires_day": _DAY.format("expires_day")}
SELECT_POSTS = (
    "SELECT "
    + ", ".join(f"{_POST_EXPR[c]} AS {c}" if c in _POST_EXPR else c for c in POST_COLUMNS)
    + " FROM posts"
)
_REVISE = "UPDATE meta SET value = (value::bigint + 1)::text WHERE key = 'revision'"


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
        """All or nothing; ``revise`` counts the write in the store's revision (as SQLite's)."""
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
    def add(self, posts: CoarsePosts, progress: Callable[[int], None] | None = None) -> None:
        """Insert in id order (COPY, in slices so ``progress`` hears how far it got), with the outlines
        of cells new to the table; one transaction."""
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
                repeat(str(Status.OPEN)) if posts.status is None else take(posts.status),
                take(posts.token_hash),
                posts.lon[order].tolist(),
                posts.lat[order].tolist(),
                take(posts.reply_key if posts.reply_key is not None else [None] * len(posts)),
                strict=False,  # repeat() is endless; the other columns have one value per post
            )
        )
        with self.transaction() as cur:
            for start in range(0, len(rows), _SLICE):
                with cur.copy(
                    "COPY posts (id, kind, category, text, contact, cell, district, created_day,"
                    " expires_day, status, token_hash, lon, lat, reply_key) FROM STDIN"
                ) as copy:
                    for row in rows[start : start + _SLICE]:
                        copy.write_row(row)
                if progress:
                    progress(min(_SLICE, len(rows) - start))
            _add_cells(cur, np.unique(posts.cell))
        if len(rows) >= _VACUUM_FROM:
            # Planner statistics and the visibility map for a big batch now, not whenever autovacuum
            # comes: the tally reads the covering index alone only where the map says the pages are clean.
            self.db.execute("VACUUM (ANALYZE) posts, cells")

    def posts(self, today: date, *, public: bool = True, **filters: Sequence[str]) -> pd.DataFrame:
        where: list[str] = []
        params: list[Any] = []
        if public:
            where.append("status = 'open' AND expires_day >= %s")
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
        where = ["status = 'open'", "expires_day >= %s"]
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
            " WHERE status = 'open' AND expires_day >= %s",
            (today,),
        )
        return None if row is None or row[0] is None else (str(row[0]), str(row[1]))

    def open_counts(self, today: date) -> pd.DataFrame:
        rows = self._all(
            "SELECT cell, district, kind, count(*) FROM posts WHERE status = 'open' AND expires_day >= %s"
            " GROUP BY cell, district, kind",
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
                " WHERE status = 'open' AND expires_day >= %s GROUP BY cell, kind, category, district",
                (today,),
            ).fetchall()
        return _frame(rows, ["kind", "category", "cell", "district", "n"])

    def get(self, post_id: str) -> dict[str, Any] | None:
        with self.db.cursor(row_factory=dict_row) as cur:
            found: dict[str, Any] | None = cur.execute(
                (SELECT_POSTS + " WHERE id = %s"), (post_id,)
            ).fetchone()
        return found

    def token_hash(self, post_id: str) -> str | None:
        row = self._one("SELECT token_hash FROM posts WHERE id = %s", (post_id,))
        return None if row is None else row[0]

    def set_status(self, post_id: str, status: Status) -> bool:
        with self.transaction() as cur:
            cur.execute("UPDATE posts SET status = %s WHERE id = %s", (str(status), post_id))
            return cur.rowcount > 0

    def set_expiry(self, post_id: str, expires_day: date) -> bool:
        with self.transaction() as cur:
            cur.execute("UPDATE posts SET expires_day = %s WHERE id = %s", (expires_day, post_id))
            return cur.rowcount > 0

    def set_text(self, post_id: str, text: str) -> bool:
        """The edited text; the old one leaves the table's files (``reseal``) in the same transaction."""
        with self.transaction() as cur:
            _lock_family(cur)
            cur.execute("UPDATE posts SET text = %s WHERE id = %s", (text, post_id))
            changed = cur.rowcount > 0
            if changed:
                reseal(cur)
        return changed

    def delete(self, post_id: str) -> bool:
        return self._remove("id = %s", (post_id,)) > 0

    def purge_expired(self, today: date) -> int:
        """Delete posts past their last day; reseals even when none went, if rows were written since the
        last reseal: housekeeping's daily round is when the day's new posts lose the order in which they
        came (see the module's docstring)."""
        return self._remove("expires_day < %s", (today,), always=True)

    def purge_fulfilled(self) -> int:
        """Delete fulfilled posts (and their contacts and conversations)."""
        return self._remove("status = 'fulfilled'", ())

    def _remove(self, where: str, params: tuple[Any, ...], *, always: bool = False) -> int:
        """Delete the posts ``where`` picks with their conversations, reports and now empty cells, then
        reseal the tables, all in one transaction."""
        with self.transaction() as cur:
            _lock_family(cur)
            cur.execute(
                f"DELETE FROM blocked_keys WHERE post_id IN (SELECT id FROM posts WHERE {where})", params
            )
            cur.execute(f"DELETE FROM posts WHERE {where}", params)
            deleted = cur.rowcount
            cur.execute(
                "DELETE FROM cells WHERE NOT EXISTS (SELECT 1 FROM posts p WHERE p.cell = cells.cell)"
            )
            if deleted > 0 or (always and not _sealed(cur)):
                reseal(cur)
        return int(deleted)

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
        """The conversation's messages and row go (their text leaves the files at the next reseal, as an
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
    def add_coordinator(self, name: str, password_hash: str, created_day: date) -> bool:
        with self.transaction() as cur:
            cur.execute(
                "INSERT INTO coordinators VALUES (%s, %s, %s) ON CONFLICT (name) DO NOTHING",
                (name, password_hash, created_day),
            )
            return cur.rowcount > 0

    def remove_coordinator(self, name: str) -> bool:
        with self.transaction() as cur:
            cur.execute("DELETE FROM sessions WHERE coordinator = %s", (name,))
            cur.execute("DELETE FROM coordinators WHERE name = %s", (name,))
            removed = cur.rowcount > 0
            if removed:
                _lock_family(cur, pgschema.ACCOUNT_FAMILY)
                reseal(cur, pgschema.ACCOUNT_FAMILY)
        return removed

    def set_password_hash(self, name: str, password_hash: str) -> bool:
        with self.transaction() as cur:
            cur.execute("UPDATE coordinators SET password_hash = %s WHERE name = %s", (password_hash, name))
            if cur.rowcount == 0:
                return False
            cur.execute("DELETE FROM sessions WHERE coordinator = %s", (name,))
            _lock_family(cur, pgschema.ACCOUNT_FAMILY)
            reseal(cur, pgschema.ACCOUNT_FAMILY)
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

    # -- reports and moderation ------------------------------------------------------------------
    def add_report(self, post_id: str, reason: str, day: date) -> bool:
        with self.transaction(revise=False) as cur:
            cur.execute(
                "INSERT INTO reports (post_id, reason, day, count)"
                " SELECT id, %s, %s, 1 FROM posts WHERE id = %s AND status = 'open' AND expires_day >= %s"
                " ON CONFLICT (post_id, reason, day) DO UPDATE SET count = reports.count + 1",
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
        self, post_id: str, status: Status | None, entry: AuditEntry, *, resolve_reports: bool
    ) -> bool:
        with self.transaction() as cur:
            if status is None:
                cur.execute("SELECT 1 FROM posts WHERE id = %s FOR UPDATE", (post_id,))
            else:
                cur.execute("UPDATE posts SET status = %s WHERE id = %s", (str(status), post_id))
            if cur.rowcount <= 0:
                return False
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

    def moderation_page(
        self, filters: Mapping[str, Sequence[str]], search: Search, limit: int, offset: int
    ) -> tuple[pd.DataFrame, int]:
        where: list[str] = []
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
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        row = self._one("SELECT count(*) FROM posts" + clause, params)
        total = int(row[0]) if row else 0
        if search.keep is not None and where:
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
    failed the second post with a duplicate key. A big import copies its cells into a temporary table
    first (COPY is fast but has no ON CONFLICT)."""
    known = {
        int(r[0])
        for r in cur.execute(
            "SELECT cell FROM cells WHERE cell = ANY(%s::bigint[])", ([int(c) for c in cells],)
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


def _outline(cell: int) -> str:
    """A hexagon's outline as EWKT, lon/lat, closed."""
    ring = [(lng, lat) for lat, lng in h3.cell_to_boundary(h3.int_to_str(cell))]
    return "SRID=4326;" + str(shapely.to_wkt(shapely.Polygon([*ring, ring[0]]), rounding_precision=-1))


def _lock_family(cur: psycopg.Cursor[Any], family: Sequence[str] = pgschema.POST_FAMILY) -> None:
    """Take a family's tables (the post tables unless told) before a reseal: writers that would reseal
    queue here instead of deadlocking on each other's row locks; readers wait for the rewrite
    (milliseconds at a city's size)."""
    cur.execute(f"LOCK TABLE {', '.join(family)} IN ACCESS EXCLUSIVE MODE")


def _lock_open_post(cur: psycopg.Cursor[Any], post_id: str, day: str, *, share: bool = False) -> bool:
    mode = "FOR SHARE" if share else "FOR UPDATE"
    found = cur.execute(
        f"SELECT 1 FROM posts WHERE id = %s AND status = 'open' AND expires_day >= %s {mode}",
        (post_id, day),
    ).fetchone()
    return found is not None


def _sealed(cur: psycopg.Cursor[Any]) -> bool:
    """Whether the post tables are as a reseal leaves them: every row written by one transaction (the
    last reseal, or the one batch that filled empty tables, which writes in key order too). Any later
    post, change, report or message is a second writer. One sequential read of each table."""
    writers = {
        str(r[0])
        for table in pgschema.POST_FAMILY
        for r in cur.execute(sql.SQL("SELECT DISTINCT xmin::text FROM {}").format(sql.Identifier(table)))
    }
    return len(writers) <= 1


def reseal(cur: psycopg.Cursor[Any], family: Sequence[str] = pgschema.POST_FAMILY) -> None:
    """Rewrite a family of tables (the post tables unless told) inside the caller's transaction: copy the
    rows aside, truncate (new, empty files; the old files, with every deleted or replaced row in them, are
    unlinked at commit), write the rows back in key order. Afterwards no deleted text is left in the
    tables' files, rows lie in key order and every row carries this transaction's id. The secondary
    indexes and foreign keys are dropped for the rewrite and made again at its end (one sort and one check
    each, instead of one per row): ~2 s at 100,000 posts, during which readers wait (``_lock_family``).
    The temporary copies go at commit.

    The account tables (``ACCOUNT_FAMILY``) are resealed when an account or a password goes, so the old
    argon2 hash, which could be attacked offline, leaves their files as SQLite's secure_delete zeroes it.
    A VACUUM FULL would not do: it keeps every row version an open snapshot in the database might still
    see (an autovacuum worker's, another request's). The WAL keeps old rows for a while (docs/deploy.md).
    """
    names = [sql.Literal(t) for t in family]
    keys = cur.execute(
        sql.SQL(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE contype = 'f' AND conrelid::regclass::text IN ({}) ORDER BY conname"
        ).format(sql.SQL(", ").join(names))
    ).fetchall()
    indexes = cur.execute(
        sql.SQL(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
            " AND tablename IN ({}) AND indexname NOT IN (SELECT conname FROM pg_constraint)"
            " ORDER BY indexname"
        ).format(sql.SQL(", ").join(names))
    ).fetchall()
    for table in family:
        cur.execute(
            sql.SQL("CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT {} FROM {}").format(
                sql.Identifier(f"keep_{table}"),
                sql.SQL(pgschema.FAMILY_COLUMNS[table]),
                sql.Identifier(table),
            )
        )
    for table, name, _ in keys:
        cur.execute(
            sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(sql.Identifier(table), sql.Identifier(name))
        )
    for name, _ in indexes:
        cur.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
    cur.execute(sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(map(sql.Identifier, family))))
    for table in family:
        columns = sql.SQL(pgschema.FAMILY_COLUMNS[table])
        cur.execute(
            sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ORDER BY {}").format(
                sql.Identifier(table),
                columns,
                columns,
                sql.Identifier(f"keep_{table}"),
                sql.SQL(pgschema.FAMILY_ORDER[table]),
            )
        )
        cur.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(f"keep_{table}")))
    for _, definition in indexes:
        cur.execute(sql.SQL(definition))
    for table, name, definition in keys:
        cur.execute(
            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
                sql.Identifier(table), sql.Identifier(name), sql.SQL(definition)
            )
        )


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
