"""Issue 10 exports at BENCH_EXPORT_ROWS posts (default 200,000), each beside its peer in the same run.

1. GeoPackage: ours (Arrow to GDAL, typed Date/Integer fields, version 1.2) vs GeoPandas ``to_file`` of the
   same rows (what the export did before: text dates, Integer64);
2. CSV: ours (formula neutralisation, WKT column, byte-order mark) vs pandas ``to_csv`` of the same columns
   without WKT, which GDAL could not read as points;
3. GeoJSON: ours (Arrow string kernels, Feature ids) vs GeoPandas ``to_json``.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

N = int(os.environ.get("BENCH_EXPORT_ROWS", "200000"))


def _frame(n: int) -> pd.DataFrame:
    """A public frame like ``export.public_frame`` makes, with Russian text and Minsk positions."""
    rng = np.random.default_rng(10)
    texts = np.array(
        ["Нужна помощь с продуктами", "Магу падвезці да паліклінікі", "Soup tonight"], dtype=object
    )
    days = np.array([f"2026-11-{d:02d}" for d in range(1, 29)], dtype=object)
    return pd.DataFrame(
        {
            "id": [f"{i:020x}" for i in rng.integers(0, 2**62, n)],
            "kind": rng.choice(np.array(["offer", "need"], dtype=object), n),
            "category": rng.choice(np.array(["food", "medicine", "transport"], dtype=object), n),
            "text": rng.choice(texts, n),
            "contact": None,
            "district": "centralny",
            "district_name": "Центральный",
            "cell": "891f4eab6d3ffff",
            "uncertainty_m": 400,
            "created": rng.choice(days, n),
            "expires": "2026-12-20",
            "status": "open",
            "lon": np.round(rng.uniform(27.4, 27.7, n), 5),
            "lat": np.round(rng.uniform(53.83, 53.97, n), 5),
        }
    )


def _timed(task: Callable[[], int]) -> tuple[float, int]:
    start = time.perf_counter()
    size = task()
    return time.perf_counter() - start, size


def _line(name: str, ours: tuple[float, int], peer: tuple[float, int], peer_name: str) -> None:
    print(
        f"{name:8} ours {ours[0]:6.2f} s {ours[1] / 1e6:7.1f} MB | {peer_name} {peer[0]:6.2f} s "
        f"{peer[1] / 1e6:7.1f} MB | time ratio peer/ours {peer[0] / ours[0]:.2f}x",
        flush=True,
    )


def main() -> None:
    import geopandas as gpd

    from mapaid import export

    frame = _frame(N)
    print(f"{N:,} posts")
    with tempfile.TemporaryDirectory(prefix="mapaid-bench-") as folder:
        out = Path(folder)

        def ours_gpkg() -> int:
            export.to_gpkg(frame, out / "ours.gpkg")
            return (out / "ours.gpkg").stat().st_size

        def peer_gpkg() -> int:
            geo = gpd.GeoDataFrame(
                frame[list(export.PROPERTIES)],
                geometry=gpd.points_from_xy(frame["lon"], frame["lat"]),
                crs="EPSG:4326",
            )
            geo.to_file(out / "peer.gpkg", layer="posts", driver="GPKG", engine="pyogrio")
            return (out / "peer.gpkg").stat().st_size

        _line("gpkg", _timed(ours_gpkg), _timed(peer_gpkg), "geopandas to_file")

        def ours_csv() -> int:
            return len(export.to_csv(frame))

        def peer_csv() -> int:
            return len(frame.to_csv(index=False, float_format="%.5f").encode())

        _line("csv", _timed(ours_csv), _timed(peer_csv), "pandas to_csv (no WKT)")

        def ours_geojson() -> int:
            return len(export.to_geojson(frame))

        def peer_geojson() -> int:
            geo = gpd.GeoDataFrame(
                frame[list(export.PROPERTIES)],
                geometry=gpd.points_from_xy(frame["lon"], frame["lat"]),
                crs="EPSG:4326",
            )
            return len(geo.to_json().encode())

        _line("geojson", _timed(ours_geojson), _timed(peer_geojson), "geopandas to_json")


if __name__ == "__main__":
    main()
