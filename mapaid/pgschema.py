"""The PostgreSQL/PostGIS schema, as ``mapaid.migrations`` creates it (the same tables as SQLite's, with
geometry columns GIS tools open as layers).

- ``posts.geom``: the *display* point (generated from ``lon``/``lat``, which the privacy step computes from
  cell, district, id and the server secret), never a point anyone gave; GiST-indexed.
- ``cells``: the outline of every hexagon that holds a post (``geometry(Polygon, 4326)``, GiST), kept with
  the posts in the same transactions, so QGIS draws posts, cells and districts as three layers. A hexagon's
  row is written by the publication round that publishes its first post, never when a post arrives.
- ``fresh`` (conversations, messages, reports): set on every row written since the last publication round,
  which clears it, so every such row then carries the round's transaction id (``xmin``), not its own.
- ``districts.geom``: ``geometry(MultiPolygon, 4326)``, GiST.
- Text keys are ``COLLATE "C"``: ids, names and places sort by code point, as SQLite's binary order does,
  whatever locale the database was created with.
- Days are ``date`` (QGIS shows them as dates); the store hands them out as ISO text, as SQLite keeps them.
- Cells are ``bigint``: an H3 id's top bit is always 0, so it fits a signed 64-bit integer as in SQLite.
- ``posts`` (by id), ``threads`` (by id) and ``messages`` (by thread) are hash-partitioned into
  ``PARTITIONS`` tables each (``posts_p00`` ...), so that erasing what a deletion or an edit removed
  (mapaid/pgerase.py) rewrites a few small tables, each in its own short transaction, instead of the whole
  post family under one lock. A thread and its messages hash alike (same key type), so they share a
  partition number. No foreign key points at a partitioned family table (a partition it references could
  not be truncated): the store deletes conversations and reports with their post explicitly, and the
  ``*_gone`` triggers below catch any path that forgets, as ``ON DELETE CASCADE`` did.
- ``erase_due``: the family's tables (partitions, or ``cells`` and ``reports`` whole) that hold removed
  text until the next erase rewrites them; written by triggers in the transaction that removed it, so a
  crash between a deletion and its erase is caught by the next erase. ``erase_sealed``: which transaction
  last wrote each of them whole (the daily round rewrites those holding rows of any other).
"""

from __future__ import annotations

from mapaid.visibility import ROUND_WORK

T = 'text COLLATE "C"'

# The tables of the "post family": what a deletion or an edit removes from them is erased by rewriting the
# tables (or their partitions) that held it (mapaid/pgerase.py).
POST_FAMILY = ("posts", "cells", "reports", "threads", "messages", "blocked_keys")
ACCOUNT_FAMILY = ("coordinators", "sessions", "devices")  # resealed when an account or a password goes
# Hash-partitioned family tables and their partition keys; how many partitions each (measured: see
# mapaid/pgerase.py).
PARTITIONED = {"posts": "id", "threads": "id", "messages": "thread_id"}
PARTITIONS = 64


def partition_name(table: str, remainder: int) -> str:
    return f"{table}_p{remainder:02d}"


def partitions(table: str) -> tuple[str, ...]:
    """The statements that make ``table``'s partitions (``PARTITIONED``), each only if missing."""
    return tuple(
        f"CREATE TABLE IF NOT EXISTS {partition_name(table, r)} PARTITION OF {table}"
        f" FOR VALUES WITH (MODULUS {PARTITIONS}, REMAINDER {r})"
        for r in range(PARTITIONS)
    )


# One form, one post (mapaid/formonce.py): a keyed hash of a posting form's nonce, the start of the
# publication window the row was written in (seconds), and the post it made sealed under a key only the
# nonce gives (NULL while pending).
FORM_ONCE_TABLE = f"""CREATE TABLE IF NOT EXISTS form_once (
    key {T} PRIMARY KEY,
    at bigint NOT NULL,
    sealed bytea
)"""

# What needs erasing (mapaid/pgerase.py): each family table (a partition of a partitioned one) in which a
# row was deleted, a post's text, draft or contact replaced, or a round wrote a row again, is named once per
# transaction (a transaction-local setting remembers it), in that transaction. No key: an insert never
# waits for another's.
ERASE_DUE_TABLE = f"CREATE TABLE IF NOT EXISTS erase_due (relation {T} NOT NULL)"
# The transaction that last wrote each family table (partition) whole, in key order: its last rewrite, or
# the one batch that filled it. A table holding any row another transaction wrote still shows the order in
# which those rows came (``xmin``, ``ctid``), and the daily round names it for the next erase.
ERASE_SEALED_TABLE = f"CREATE TABLE IF NOT EXISTS erase_sealed (relation {T} PRIMARY KEY, xid xid NOT NULL)"
_MARK = """CREATE OR REPLACE FUNCTION mapaid_erase_due() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('mapaid.erase_' || TG_TABLE_NAME, true) IS DISTINCT FROM 'due' THEN
        INSERT INTO erase_due (relation) VALUES (TG_TABLE_NAME);
        PERFORM set_config('mapaid.erase_' || TG_TABLE_NAME, 'due', true);
    END IF;
    RETURN NULL;
END $$"""
# In place of ON DELETE CASCADE: a post's conversations, reports and blocked keys, a thread's messages.
_POSTS_GONE = """CREATE OR REPLACE FUNCTION mapaid_posts_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM threads WHERE post_id IN (SELECT id FROM gone);
    DELETE FROM reports WHERE post_id IN (SELECT id FROM gone);
    DELETE FROM blocked_keys WHERE post_id IN (SELECT id FROM gone);
    RETURN NULL;
END $$"""
_THREADS_GONE = """CREATE OR REPLACE FUNCTION mapaid_threads_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM messages WHERE thread_id IN (SELECT id FROM gone);
    RETURN NULL;
END $$"""
# Columns ANALYZE keeps no statistics of: its samples (most common values, histogram bounds) of text,
# contacts, ciphertext and ids would be copies of them in pg_statistic, which no erase rewrites. The
# queries never filter on them by range or frequency (ids are looked up through unique keys).
NO_STATISTICS = {
    "posts": ("id", "text", "contact", "token_hash", "reply_key", "draft_text"),
    "threads": ("id", "post_id", "replier_key", "token_hash"),
    "messages": ("thread_id", "message"),
    "reports": ("post_id",),
    "blocked_keys": ("post_id", "key_hash"),
}


def no_statistics(table: str) -> str:
    """The statement that keeps ANALYZE's samples of ``table``'s ``NO_STATISTICS`` columns out of
    pg_statistic (on a partitioned table: its partitions too)."""
    return f"ALTER TABLE {table} " + ", ".join(
        f"ALTER COLUMN {c} SET STATISTICS 0" for c in NO_STATISTICS[table]
    )


ERASE_STATEMENTS: tuple[str, ...] = (
    *(no_statistics(table) for table in NO_STATISTICS),
    ERASE_DUE_TABLE,
    ERASE_SEALED_TABLE,
    _MARK,
    _POSTS_GONE,
    _THREADS_GONE,
    *(
        f"CREATE OR REPLACE TRIGGER {table}_erase AFTER DELETE ON {table}"
        " FOR EACH ROW EXECUTE FUNCTION mapaid_erase_due()"
        for table in POST_FAMILY
    ),
    "CREATE OR REPLACE TRIGGER posts_replaced AFTER UPDATE ON posts FOR EACH ROW"
    " WHEN (OLD.text IS DISTINCT FROM NEW.text OR OLD.contact IS DISTINCT FROM NEW.contact"
    " OR OLD.draft_text IS DISTINCT FROM NEW.draft_text)"
    " EXECUTE FUNCTION mapaid_erase_due()",
    # A publication round writes again the conversations' and reports' rows that came since the last one
    # (``fresh``): their old versions, which carry the moment they came (``xmin``), leave at the erase.
    *(
        f"CREATE OR REPLACE TRIGGER {table}_rewritten AFTER UPDATE ON {table} FOR EACH ROW"
        " EXECUTE FUNCTION mapaid_erase_due()"
        for table in ("threads", "messages", "reports")
    ),
    "CREATE OR REPLACE TRIGGER posts_gone AFTER DELETE ON posts REFERENCING OLD TABLE AS gone"
    " FOR EACH STATEMENT EXECUTE FUNCTION mapaid_posts_gone()",
    "CREATE OR REPLACE TRIGGER threads_gone AFTER DELETE ON threads REFERENCING OLD TABLE AS gone"
    " FOR EACH STATEMENT EXECUTE FUNCTION mapaid_threads_gone()",
)
# Coordinators' known devices (mapaid/devices.py): a hash of the cookie's random id, the account (name and
# the tag of its row, as sessions have) and the UTC day it was remembered or renewed.
DEVICES_TABLE = f"""CREATE TABLE IF NOT EXISTS devices (
    id_hash {T} PRIMARY KEY,
    coordinator {T} NOT NULL,
    account {T} NOT NULL,
    day date NOT NULL
)"""
# The replier keys a post's poster blocked (mapaid/replies.py ``key_hash``): a hash, nothing else.
BLOCKED_TABLE = f"""CREATE TABLE IF NOT EXISTS blocked_keys (
    post_id {T} NOT NULL,
    key_hash {T} NOT NULL CHECK (char_length(key_hash) = 64),
    PRIMARY KEY (post_id, key_hash)
)"""

STATEMENTS: tuple[str, ...] = (
    "CREATE EXTENSION IF NOT EXISTS postgis",
    "CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)",
    f"CREATE TABLE IF NOT EXISTS meta (key {T} PRIMARY KEY, value {T} NOT NULL)",
    f"""CREATE TABLE IF NOT EXISTS districts (
    slug {T} PRIMARY KEY,
    osm_relation_id bigint,
    name_be {T} NOT NULL,
    name_ru {T} NOT NULL,
    name_en {T} NOT NULL,
    geom geometry(MultiPolygon, 4326) NOT NULL
)""",
    "CREATE INDEX IF NOT EXISTS districts_geom ON districts USING gist (geom)",
    f"""CREATE TABLE IF NOT EXISTS posts (
    id {T} PRIMARY KEY,
    kind {T} NOT NULL CHECK (kind IN ('offer', 'need')),
    category {T} NOT NULL,
    text {T} NOT NULL CHECK (char_length(text) BETWEEN 1 AND 280),
    contact {T} CHECK (contact IS NULL OR char_length(contact) <= 100),
    cell bigint NOT NULL,
    district {T} NOT NULL REFERENCES districts (slug),
    created_day date NOT NULL,
    expires_day date NOT NULL,
    status {T} NOT NULL DEFAULT 'open' CONSTRAINT posts_status_check
        CHECK (status IN ('open', 'fulfilled', 'hidden', 'pending')),
    token_hash {T},
    lon double precision NOT NULL,
    lat double precision NOT NULL,
    reply_key {T} CHECK (reply_key IS NULL OR char_length(reply_key) <= 200),
    draft_text {T} CHECK (draft_text IS NULL OR char_length(draft_text) BETWEEN 1 AND 280),
    draft_expires date,
    geom geometry(Point, 4326) GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lon, lat), 4326)) STORED
) PARTITION BY HASH (id)""",
    *partitions("posts"),
    # Cell first (posts near a hexagon), covering for the unmet-needs tally as in SQLite.
    "CREATE INDEX IF NOT EXISTS posts_cell ON posts (cell, kind, category, district, status, expires_day)",
    "CREATE INDEX IF NOT EXISTS posts_geom ON posts USING gist (geom)",
    f"CREATE INDEX IF NOT EXISTS posts_round ON posts (id) WHERE {ROUND_WORK}",
    """CREATE TABLE IF NOT EXISTS cells (
    cell bigint PRIMARY KEY,
    geom geometry(Polygon, 4326) NOT NULL
)""",
    "CREATE INDEX IF NOT EXISTS cells_geom ON cells USING gist (geom)",
    f"""CREATE TABLE IF NOT EXISTS coordinators (
    name {T} PRIMARY KEY,
    password_hash {T} NOT NULL,
    created_day date NOT NULL
)""",
    f"""CREATE TABLE IF NOT EXISTS sessions (
    id_hash {T} PRIMARY KEY,
    coordinator {T} NOT NULL,
    account {T} NOT NULL,
    created bigint NOT NULL,
    seen bigint NOT NULL,
    ends bigint NOT NULL
)""",
    f"""CREATE TABLE IF NOT EXISTS places (
    id integer PRIMARY KEY,
    kind {T} NOT NULL,
    name {T} NOT NULL,
    name_be {T},
    name_ru {T},
    name_en {T},
    alt {T} NOT NULL DEFAULT '',
    district {T},
    lon double precision NOT NULL,
    lat double precision NOT NULL,
    line bytea,
    source {T} NOT NULL,
    geom geometry(Point, 4326) GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lon, lat), 4326)) STORED
)""",
    # Who moderated what on which UTC day (never a time of day); deleted after MAPAID_AUDIT_DAYS.
    f"""CREATE TABLE IF NOT EXISTS audit (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at {T} NOT NULL,
    coordinator {T} NOT NULL,
    action {T} NOT NULL,
    post_id {T} NOT NULL
)""",
    f"""CREATE TABLE IF NOT EXISTS reports (
    post_id {T} NOT NULL,
    reason {T} NOT NULL CHECK (reason IN ('spam', 'dangerous', 'personal', 'other')),
    day date NOT NULL,
    count integer NOT NULL CHECK (count > 0),
    fresh boolean NOT NULL DEFAULT true,
    PRIMARY KEY (post_id, reason, day)
)""",
    "CREATE INDEX IF NOT EXISTS reports_fresh ON reports (post_id) WHERE fresh",
    """CREATE TABLE IF NOT EXISTS walk_cells (
    cell bigint PRIMARY KEY,
    snap_m double precision NOT NULL,
    neighbours bytea NOT NULL,
    decimetres bytea NOT NULL
)""",
    f"""CREATE TABLE IF NOT EXISTS threads (
    id {T} PRIMARY KEY,
    post_id {T} NOT NULL,
    replier_key {T} NOT NULL CHECK (char_length(replier_key) <= 200),
    token_hash {T} NOT NULL,
    day date NOT NULL,
    fresh boolean NOT NULL DEFAULT true
) PARTITION BY HASH (id)""",
    *partitions("threads"),
    "CREATE INDEX IF NOT EXISTS threads_post ON threads (post_id)",
    "CREATE INDEX IF NOT EXISTS threads_fresh ON threads (id) WHERE fresh",
    f"""CREATE TABLE IF NOT EXISTS messages (
    thread_id {T} NOT NULL,
    seq integer NOT NULL CHECK (seq >= 0),
    sender {T} NOT NULL CHECK (sender IN ('poster', 'replier')),
    message {T} NOT NULL,
    day date NOT NULL,
    fresh boolean NOT NULL DEFAULT true,
    PRIMARY KEY (thread_id, seq)
) PARTITION BY HASH (thread_id)""",
    *partitions("messages"),
    "CREATE INDEX IF NOT EXISTS messages_fresh ON messages (thread_id, seq) WHERE fresh",
    FORM_ONCE_TABLE,
    BLOCKED_TABLE,
    *ERASE_STATEMENTS,
    DEVICES_TABLE,
)
