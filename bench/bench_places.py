"""The place search: the gazetteer's size and the search's time in the browser, beside their targets.

Issue 8: the page downloads the whole gazetteer (compact, a few hundred KB at most) and searches it in the
browser as the person types; a search should take under 50 ms on this machine. Here: a fresh database
with the shipped Minsk places (``mapaid init-db``, timed too), the real app served by waitress, Debian
Chromium headless, and the page's own index (mapaid/static/places.js) searched repeatedly for a 3-letter
query, a full name, a full name in another script, a misspelt one and a street with a house number (issue
18: the gazetteer carries the centre's 900-odd addresses); the median of each is printed, and the
gazetteer's houses counted.
"""

from __future__ import annotations

import gzip
import statistics
import tempfile
import threading
import time
from pathlib import Path

import orjson
from click.testing import CliRunner
from playwright.sync_api import sync_playwright
from waitress.server import create_server

from mapaid import create_app
from mapaid.cli import main as cli

RUNS = 60
TARGET_MS = 50.0
TARGET_BYTES = 300_000
TARGET_INIT_S = 10.0
QUERIES = {
    "3 letters (Kas)": "Kas",
    "full name (Кастрычніцкая)": "Кастрычніцкая",
    "full name, Latin (Kastrychnitskaya)": "Kastrychnitskaya",
    "street in Russian (улица Кирова)": "улица Кирова",
    "misspelt (Kastrichnitskaja)": "Kastrichnitskaja",
    "house number (Кирова 8)": "Кирова 8",
    "house number, Latin, block (Kirava 8 k1)": "Kirava 8 k1",
}
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _row(what: str, value: float, unit: str, target: float) -> None:
    verdict = "ok" if value <= target else "OVER"
    print(f"{what:<52} {value:>10.1f} {unit:<3}  target < {target:g} {unit}  {verdict}")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = {
            "MAPAID_DATABASE": str(folder / "mapaid.sqlite3"),
            "MAPAID_SECRET_KEY": "bench-secret",
            "MAPAID_INSTANCE": str(folder),
        }
        started = time.perf_counter()
        result = CliRunner().invoke(cli, ["init-db"], env=env)
        init_s = time.perf_counter() - started
        assert result.exit_code == 0, result.output
        app = create_app(
            {"DATABASE": env["MAPAID_DATABASE"], "SECRET_KEY": "bench-secret", "INSTANCE_DIR": tmp}
        )
        server = create_server(app, host="127.0.0.1", port=0, threads=4)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{server.effective_port}"  # type: ignore[union-attr]
        try:
            raw = app.test_client().get("/places.json").data
            _row("init-db with the shipped places", init_s, "s", TARGET_INIT_S)
            _row("gazetteer /places.json, raw", len(raw) / 1000, "KB", TARGET_BYTES / 1000)
            houses = len(orjson.loads(raw).get("h", []))
            print(f"{'gazetteer: places, houses':<52} {len(orjson.loads(raw)['p']):>10} {houses:>5}")
            _row(
                "gazetteer /places.json, gzip -6",
                len(gzip.compress(raw, 6)) / 1000,
                "KB",
                TARGET_BYTES / 1000,
            )
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
                page = browser.new_page()
                page.goto(base + "/")
                started = time.perf_counter()
                page.focus("#place-q")
                page.wait_for_function("() => window.mapaidPlaces.index !== undefined")
                _row(
                    "gazetteer fetched and indexed (once)", (time.perf_counter() - started) * 1000, "ms", 1000
                )
                for label, query in QUERIES.items():
                    times = page.evaluate(
                        """([q, runs]) => {
                            const index = window.mapaidPlaces.index, out = [];
                            for (let i = 0; i < runs; i++) {
                                const t = performance.now();
                                index.search(q, 8);
                                out.push(performance.now() - t);
                            }
                            return out;
                        }""",
                        [query, RUNS],
                    )
                    _row(f"search: {label}, median", statistics.median(times), "ms", TARGET_MS)
                browser.close()
        finally:
            server.close()
            thread.join(timeout=5)


if __name__ == "__main__":
    main()
