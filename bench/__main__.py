"""Run every benchmark module (bench/bench_*.py, each with a ``main()``): ``make bench``.

Each prints its figures beside the same work done by the peer its issue names, measured in the same run,
with the ratio, so a reader can see the claim and its evidence side by side.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path


def run() -> None:
    here = Path(__file__).parent
    sys.path.insert(0, str(here.parent))
    wanted = set(sys.argv[1:])
    for path in sorted(here.glob("bench_*.py")):
        if wanted and path.stem not in wanted:
            continue
        print(f"\n=== {path.stem} ===", flush=True)
        importlib.import_module(f"bench.{path.stem}").main()


if __name__ == "__main__":
    run()
