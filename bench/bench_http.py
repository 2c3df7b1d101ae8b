"""gzip's effect in bytes (issue 10, item 3): the largest pages and the exports at 100,000 open posts, each
as sent to a client that accepts gzip beside the same answer uncompressed, with the ratio, and the time
compressing adds (the answer's own time beside it). GeoPackage is never compressed (already binary,
and GDAL reads it in ranges), so it shows 1.00.

Pages are compressed only for visitors without a session (mapaid.compress: BREACH), as these are here;
the busiest ``/near`` page is the cell whose 15-minute walk holds the most posts among 200 sampled.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import h3.api.basic_int as h3
import numpy as np

from bench.bench_near import SECRET, make_db, sample_cells
from mapaid import create_app

POSTS = 100_000
GZIP = {"Accept-Encoding": "gzip"}


def _busiest(client: Any, cells: list[str]) -> str:
    sizes = {c: len(client.get(f"/api/v1/posts?cell={c}&within=1200").get_data()) for c in cells}
    return max(sizes, key=lambda c: sizes[c])


def _measure(client: Any, url: str) -> tuple[int, int, float, float]:
    """(plain bytes, gzip bytes, plain ms, gzip ms): the median of three of each."""
    plain_ms, packed_ms = [], []
    for _ in range(3):
        start = time.perf_counter()
        plain = client.get(url)
        plain_ms.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        packed = client.get(url, headers=GZIP)
        packed_ms.append((time.perf_counter() - start) * 1000)
    assert plain.status_code == packed.status_code == 200, url
    return (
        len(plain.get_data()),
        len(packed.get_data()),
        float(np.median(plain_ms)),
        float(np.median(packed_ms)),
    )


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="mapaid-bench-http-") as tmp:
        folder = Path(tmp)
        db = make_db(folder, POSTS, seed=11)
        app = create_app({"DATABASE": str(db), "SECRET_KEY": SECRET, "INSTANCE_DIR": str(folder)})
        client = app.test_client(use_cookies=False)
        busiest = _busiest(client, sample_cells(db, 200, seed=5))
        lat, lon = h3.cell_to_latlng(h3.str_to_int(busiest))
        urls = {
            "page /": "/?lang=be",
            "page /near (busiest, 15 min)": f"/near/{busiest}?within=1200&lang=be",
            "page /post": f"/post?cell={busiest}&lang=be",
            "API /api/v1/posts (busiest)": f"/api/v1/posts?cell={busiest}&within=1200",
            "export posts.geojson": "/export/posts.geojson",
            "export posts.csv": "/export/posts.csv",
            "export posts.gpkg": "/export/posts.gpkg",
            "export districts.geojson": "/export/districts.geojson",
            "places.json": "/places.json",
            "basemap/be.json": "/basemap/be.json",
        }
        print(f"{POSTS:,} open posts; busiest cell {busiest} ({lat:.4f}, {lon:.4f})")
        print(f"{'answer':32} {'plain':>12} {'gzip':>12} {'ratio':>6} {'plain ms':>9} {'gzip ms':>8}")
        for name, url in urls.items():
            plain, packed, plain_ms, packed_ms = _measure(client, url)
            ratio = packed / plain
            print(f"{name:32} {plain:>12,} {packed:>12,} {ratio:>6.2f} {plain_ms:>9.1f} {packed_ms:>8.1f}")


if __name__ == "__main__":
    main()
