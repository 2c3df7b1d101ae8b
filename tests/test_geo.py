"""The served area is shared by the web server's threads: its lookups must hold up under concurrent use."""

from __future__ import annotations

import threading

import h3.api.basic_int as h3
import numpy as np

from mapaid.geo import Area
from mapaid.store import Store


def test_concurrent_cell_lookups_agree_with_serial_ones(store: Store) -> None:
    """Prepared GEOS geometries build their indexes lazily and shapely queries them without the GIL;
    unguarded, threads meeting new cells at once crash the process or read a half-merged cache."""
    shared = store.area()
    rng = np.random.default_rng(3)
    west, south, east, north = shared.districts.total_bounds
    batches = [
        np.unique(
            [h3.latlng_to_cell(rng.uniform(south, north), rng.uniform(west, east), 9) for _ in range(400)]
        )
        for _ in range(16)
    ]
    expected = [Area.from_frame(shared.districts.copy()).cell_districts(b) for b in batches]
    for _ in range(3):
        area = Area.from_frame(shared.districts.copy())  # cold caches, unprepared indexes
        results: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        errors: list[BaseException] = []
        start = threading.Barrier(8)

        def work(
            k: int,
            area: Area = area,
            results: dict = results,  # type: ignore[type-arg]
            errors: list = errors,  # type: ignore[type-arg]
            start: threading.Barrier = start,
        ) -> None:
            try:
                start.wait()
                for i in range(k, len(batches), 8):
                    area.contains(np.array([27.55]), np.array([53.9]))
                    results[i] = area.cell_districts(batches[i])
                    area.cell_info(batches[i][:50])
            except BaseException as exc:  # reported below, from the main thread
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        for i, (code, covered) in enumerate(expected):
            assert np.array_equal(results[i][0], code) and np.array_equal(results[i][1], covered)
