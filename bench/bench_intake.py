"""Issue 2 benchmarks, 1,000,000 rows, each beside its peer in the same run.

1. privacy step + district join (``privacy.coarsen``) vs geopandas ``sjoin`` of the same points;
2. ``mapaid import`` of a CSV vs pyogrio writing the same rows to a GeoPackage;
3. ``mapaid export`` to GeoJSON vs geopandas ``to_file`` of the same frame.

Each measurement runs in a fresh subprocess so its peak memory (max RSS, interpreter included) is its own.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

N = int(os.environ.get("BENCH_ROWS", "1000000"))
ROOT = Path(__file__).resolve().parent.parent
CATEGORIES = ("food", "medicine", "transport", "childcare", "shelter", "legal", "tech", "other")
SECRET = "bench-secret"


def _env(db: Path) -> dict[str, str]:
    return {
        **os.environ,
        "MAPAID_DATABASE": str(db),
        "MAPAID_SECRET_KEY": SECRET,
        "MAPAID_INSTANCE": str(db.parent),
    }


def _make_data(folder: Path) -> tuple[Path, Path]:
    """A database with the Minsk districts and a CSV of N clustered demo rows inside them."""
    from mapaid.demo import generate
    from mapaid.store import open_store

    db = folder / "template.sqlite3"
    subprocess.run(
        [sys.executable, "-m", "mapaid.cli", "init-db"], env=_env(db), check=True, capture_output=True
    )
    store = open_store(db)
    area = store.area()
    frame = generate(area, N + N // 50, seed=7, categories=CATEGORIES)
    frame["lat"], frame["lon"] = frame["lat"].round(6), frame["lon"].round(6)
    frame = frame[area.contains(frame["lon"].to_numpy(), frame["lat"].to_numpy())].head(N)
    store.close()
    csv = folder / "posts.csv"
    frame.to_csv(csv, index=False)
    return db, csv


# -- the measured tasks, each run alone in a subprocess ------------------------------------------
def task_coarsen(db: str, csv: str) -> None:
    import numpy as np
    import pandas as pd

    from mapaid.privacy import coarsen
    from mapaid.store import open_store

    frame = pd.read_csv(csv, usecols=["lat", "lon"])
    lat, lon = frame["lat"].to_numpy(), frame["lon"].to_numpy()
    store = open_store(db)
    start = time.perf_counter()
    area = store.area()
    result = coarsen(lat, lon, np.full(len(lat), -1, dtype=np.int64), area, 9)
    _report(time.perf_counter() - start, rows=len(lat), outside=len(result.outside))


def task_sjoin(db: str, csv: str) -> None:
    import geopandas as gpd
    import pandas as pd

    from mapaid.store import open_store

    frame = pd.read_csv(csv, usecols=["lat", "lon"])
    districts = open_store(db).area().districts[["slug", "geometry"]]
    start = time.perf_counter()
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(frame["lon"], frame["lat"]), crs=4326)
    joined = gpd.sjoin(points, districts, how="left", predicate="within")
    _report(time.perf_counter() - start, rows=len(joined), outside=int(joined["slug"].isna().sum()))


def task_import(db: str, csv: str) -> None:
    from click.testing import CliRunner

    from mapaid.cli import main

    start = time.perf_counter()
    result = CliRunner().invoke(main, ["import", csv], env=_env(Path(db)))
    assert result.exit_code == 0, result.output[-2000:]
    _report(time.perf_counter() - start, output=result.output.strip().splitlines()[-1])


def task_gpkg(db: str, csv: str) -> None:
    import geopandas as gpd
    import pandas as pd
    import pyogrio

    start = time.perf_counter()
    frame = pd.read_csv(csv)
    geo = gpd.GeoDataFrame(
        frame.drop(columns=["lat", "lon"]), geometry=gpd.points_from_xy(frame["lon"], frame["lat"]), crs=4326
    )
    pyogrio.write_dataframe(geo, Path(db).with_suffix(".gpkg"), layer="posts", driver="GPKG")
    _report(time.perf_counter() - start, rows=len(geo))


def task_export(db: str, csv: str) -> None:
    from click.testing import CliRunner

    from mapaid.cli import main

    out = Path(db).with_suffix(".geojson")
    start = time.perf_counter()
    result = CliRunner().invoke(main, ["export", "-o", str(out)], env=_env(Path(db)))
    assert result.exit_code == 0, result.output[-2000:]
    _report(time.perf_counter() - start, bytes=out.stat().st_size)


def task_to_file(db: str, csv: str) -> None:
    import geopandas as gpd

    from mapaid.clock import SYSTEM
    from mapaid.export import public_frame
    from mapaid.store import open_store

    store = open_store(db)
    frame = public_frame(store.posts(SYSTEM.today()), store.area(), 9)
    geo = gpd.GeoDataFrame(
        frame.drop(columns=["lon", "lat"]), geometry=gpd.points_from_xy(frame["lon"], frame["lat"]), crs=4326
    )
    out = Path(db).with_suffix(".peer.geojson")
    start = time.perf_counter()
    geo.to_file(out, driver="GeoJSON", engine="pyogrio")
    _report(time.perf_counter() - start, bytes=out.stat().st_size)


def _report(seconds: float, **extra: object) -> None:
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, **extra}))


def _run(task: str, db: Path, csv: Path) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.bench_intake", task, str(db), str(csv)],
        cwd=ROOT,
        env=_env(db),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode:
        raise RuntimeError(f"{task} failed:\n{proc.stderr[-3000:]}")
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _line(label: str, ours: dict[str, float], peer: dict[str, float], peer_name: str, target: str) -> None:
    ratio = peer["seconds"] / ours["seconds"]
    print(
        f"{label:<34} ours {ours['seconds']:7.2f} s {ours['peak_mb']:7.0f} MB peak | "
        f"{peer_name} {peer['seconds']:7.2f} s {peer['peak_mb']:7.0f} MB peak | "
        f"peer/ours {ratio:5.2f}x  (target {target})"
    )


def main() -> None:
    import shutil

    with tempfile.TemporaryDirectory(prefix="mapaid-bench-") as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        template, csv = _make_data(folder)
        print(f"{N:,} rows of clustered synthetic Minsk posts (setup {time.perf_counter() - start:.0f} s)")
        db = folder / "bench.sqlite3"
        shutil.copy(template, db)
        ours = _run("task_coarsen", db, csv)
        peer = _run("task_sjoin", db, csv)
        assert ours["outside"] == peer["outside"] == 0, (ours, peer)
        _line("privacy step + district join", ours, peer, "geopandas sjoin", ">= 3x faster")
        ours = _run("task_import", db, csv)
        peer = _run("task_gpkg", db, csv)
        _line("mapaid import (CSV -> SQLite)", ours, peer, "pyogrio -> GPKG", "peer/ours >= 0.33")
        ours = _run("task_export", db, csv)
        peer = _run("task_to_file", db, csv)
        _line("mapaid export (GeoJSON)", ours, peer, "geopandas to_file", ">= 3x faster")


if __name__ == "__main__":
    if len(sys.argv) == 4:
        globals()[sys.argv[1]](sys.argv[2], sys.argv[3])
    else:
        main()
