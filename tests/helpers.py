"""Small helpers shared by the foundation tests: writing input files, reading the database raw (on either
store: ``database_bytes``)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from databases import is_postgres

HEADER = ("lat", "lon", "kind", "category", "text", "expires", "contact")


def write_csv(path: Path, rows: Iterable[Mapping[str, object]], header: Iterable[str] = HEADER) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(header), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
    return path


def write_geojson(path: Path, rows: Iterable[Mapping[str, object]]) -> Path:
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [row["lon"], row["lat"]]},
            "properties": {k: v for k, v in row.items() if k not in ("lat", "lon")},
        }
        for row in rows
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    return path


def row(lat: float, lon: float, **extra: object) -> dict[str, object]:
    base: dict[str, object] = {"lat": lat, "lon": lon, "kind": "offer", "category": "food", "text": "Soup"}
    base.update(extra)
    return base


def erase(database: str | Path) -> int:
    """What housekeeping runs every few minutes (mapaid/housekeeping.py, ``ERASE_EVERY``): on PostGIS the
    rewrite of the partitions that still hold removed text in their files (mapaid/pgerase.py); SQLite
    overwrote it as it went (nothing to do). How many tables were rewritten."""
    from mapaid.store import open_store

    store = open_store(database)
    try:
        return store.erase_removed()
    finally:
        store.close()


def database_bytes(database: str | Path) -> bytes:
    """Everything the store keeps on disk for this database.

    SQLite: the database file and its WAL and shared-memory files. PostgreSQL: every file of the database's
    own folder (``base/<oid>``: tables, their TOAST, indexes, free-space maps), after a CHECKPOINT wrote the
    changed pages out of the server's memory. Not the cluster's write-ahead log (``pg_wal``), which all
    databases share and which PostgreSQL recycles after checkpoints; the tests run as root, so they may read
    the server's files."""
    if is_postgres(str(database)):
        return _postgres_database_bytes(str(database))
    db = Path(database)
    return b"".join(
        p.read_bytes()
        for p in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm"))
        if p.exists()
    )


def _postgres_database_bytes(url: str) -> bytes:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")
        (folder,) = conn.execute("SHOW data_directory").fetchone()  # type: ignore[misc]
        (oid,) = conn.execute("SELECT oid FROM pg_database WHERE datname = current_database()").fetchone()  # type: ignore[misc]
    files = sorted((Path(folder) / "base" / str(oid)).iterdir())
    return b"".join(p.read_bytes() for p in files if p.is_file())


def batch_in_cell(store: Any, ids: list[str], cell: int, today: date) -> Any:
    """Posts with chosen ``ids`` (one in ``cell`` each), made by the privacy step itself (``coarsen``,
    ``to_posts``): the store takes nothing else. Only the ids are chosen (``new_ids`` is patched for the
    call), so a test can make a batch that breaks a constraint, such as an id the store holds already."""
    from unittest import mock

    import numpy as np

    from mapaid import privacy
    from mapaid.models import Submissions

    n = len(ids)
    subs = Submissions(
        kind=["offer"] * n,
        category=["food"] * n,
        text=["x"] * n,
        contact=[None] * n,
        expires_days=[4] * n,
        lat=np.full(n, np.nan),
        lon=np.full(n, np.nan),
        cell=np.full(n, cell, dtype=np.int64),
        source_line=list(range(n)),
    )
    area = store.area()
    coarse = privacy.coarsen(subs.lat, subs.lon, subs.cell, area, h3_resolution(cell))
    with mock.patch.object(privacy, "new_ids", lambda count: list(ids[:count])):
        posts, _ = privacy.to_posts(subs, coarse, area, b"test secret", today, with_tokens=False)
    return posts


def h3_resolution(cell: int) -> int:
    import h3.api.basic_int as h3

    return int(h3.get_resolution(cell))
