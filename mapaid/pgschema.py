"""The PostgreSQL/PostGIS schema, as ``mapaid.migrations`` creates it (the same tables as SQLite's, with
geometry columns GIS tools open as layers).

- ``posts.geom``: the *display* point (generated from ``lon``/``lat``, which the privacy step computes from
  cell, district, id and the server secret), never a point anyone gave; GiST-indexed.
- ``cells``: the outline of every hexagon that holds a post (``geometry(Polygon, 4326)``, GiST), kept with
  the posts in the same transactions, so QGIS draws posts, cells and districts as three layers.
- ``districts.geom``: ``geometry(MultiPolygon, 4326)``, GiST.
- Text keys are ``COLLATE "C"``: ids, names and places sort by code point, as SQLite's binary order does,
  whatever locale the database was created with.
- Days are ``date`` (QGIS shows them as dates); the store hands them out as ISO text, as SQLite keeps them.
- Cells are ``bigint``: an H3 id's top bit is always 0, so it fits a signed 64-bit integer as in SQLite.
"""

from __future__ import annotations

T = 'text COLLATE "C"'

# The tables of the "post family": rewritten together in id order by the store's clean-up (pgstore.reseal).
POST_FAMILY = ("posts", "cells", "reports", "threads", "messages", "blocked_keys")
ACCOUNT_FAMILY = ("coordinators", "sessions")  # resealed when an account or a password goes

# One form, one post (mapaid/formonce.py): a keyed hash of a posting form's nonce, when the row was
# written (seconds), and the post it made sealed under a key only the nonce gives (NULL while pending).
FORM_ONCE_TABLE = f"""CREATE TABLE IF NOT EXISTS form_once (
    key {T} PRIMARY KEY,
    at bigint NOT NULL,
    sealed bytea
)"""

# The replier keys a post's poster blocked (mapaid/replies.py ``key_hash``): a hash, nothing else.
BLOCKED_TABLE = f"""CREATE TABLE IF NOT EXISTS blocked_keys (
    post_id {T} NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
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
    status {T} NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'fulfilled', 'hidden')),
    token_hash {T},
    lon double precision NOT NULL,
    lat double precision NOT NULL,
    reply_key {T} CHECK (reply_key IS NULL OR char_length(reply_key) <= 200),
    geom geometry(Point, 4326) GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lon, lat), 4326)) STORED
)""",
    # Cell first (posts near a hexagon), covering for the unmet-needs tally as in SQLite.
    "CREATE INDEX IF NOT EXISTS posts_cell ON posts (cell, kind, category, district, status, expires_day)",
    "CREATE INDEX IF NOT EXISTS posts_geom ON posts USING gist (geom)",
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
    f"""CREATE TABLE IF NOT EXISTS audit (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at {T} NOT NULL,
    coordinator {T} NOT NULL,
    action {T} NOT NULL,
    post_id {T} NOT NULL
)""",
    f"""CREATE TABLE IF NOT EXISTS reports (
    post_id {T} NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    reason {T} NOT NULL CHECK (reason IN ('spam', 'dangerous', 'personal', 'other')),
    day date NOT NULL,
    count integer NOT NULL CHECK (count > 0),
    PRIMARY KEY (post_id, reason, day)
)""",
    """CREATE TABLE IF NOT EXISTS walk_cells (
    cell bigint PRIMARY KEY,
    snap_m double precision NOT NULL,
    neighbours bytea NOT NULL,
    decimetres bytea NOT NULL
)""",
    f"""CREATE TABLE IF NOT EXISTS threads (
    id {T} PRIMARY KEY,
    post_id {T} NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    replier_key {T} NOT NULL CHECK (char_length(replier_key) <= 200),
    token_hash {T} NOT NULL,
    day date NOT NULL
)""",
    "CREATE INDEX IF NOT EXISTS threads_post ON threads (post_id)",
    f"""CREATE TABLE IF NOT EXISTS messages (
    thread_id {T} NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    seq integer NOT NULL CHECK (seq >= 0),
    sender {T} NOT NULL CHECK (sender IN ('poster', 'replier')),
    message {T} NOT NULL,
    day date NOT NULL,
    PRIMARY KEY (thread_id, seq)
)""",
    BLOCKED_TABLE,
    FORM_ONCE_TABLE,
)

# Columns of each table a reseal rewrites, as it copies them (generated columns are computed again).
FAMILY_COLUMNS = {
    "posts": (
        "id, kind, category, text, contact, cell, district, created_day, expires_day, status,"
        " token_hash, lon, lat, reply_key"
    ),
    "cells": "cell, geom",
    "reports": "post_id, reason, day, count",
    "threads": "id, post_id, replier_key, token_hash, day",
    "messages": "thread_id, seq, sender, message, day",
    "blocked_keys": "post_id, key_hash",
    "coordinators": "name, password_hash, created_day",
    "sessions": "id_hash, coordinator, account, created, seen, ends",
}
FAMILY_ORDER = {
    "posts": "id",
    "cells": "cell",
    "reports": "post_id, reason, day",
    "threads": "id",
    "messages": "thread_id, seq",
    "blocked_keys": "post_id, key_hash",
    "coordinators": "name",
    "sessions": "id_hash",
}
