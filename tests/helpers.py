"""Small helpers shared by the foundation tests: writing input files, reading the database raw."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from pathlib import Path

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


def database_bytes(db: Path) -> bytes:
    """The database file and its WAL and shared-memory files: everything SQLite keeps on disk."""
    return b"".join(
        p.read_bytes()
        for p in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm"))
        if p.exists()
    )
