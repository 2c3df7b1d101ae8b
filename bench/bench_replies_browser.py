"""Private replies in the browser (issue 9): what encrypting and decrypting a message costs a resident's
browser, beside posting a post through the form, measured in the same run.

The real app served by waitress on a fresh database, Debian Chromium headless, and the page's own
mapaid/static/replycrypto.js. For each curve the browser has (X25519 where WebCrypto offers it, P-256
always): the median time to make a key pair, to encrypt one 1,000-character message as a new answer does
(a conversation's key derived afresh: key import, ECDH, HKDF, the start hash, then padding and AES-GCM,
scheme version 2) and to decrypt it as the reader's page does (the same derivation, AES-GCM, the running
hash). Beside them, the median time from pressing "Post"
on the form to the private link's page with its ``#k=`` key (which includes making the post's key pair).
Target: encrypting or decrypting a message takes under a tenth of posting a post.
"""

from __future__ import annotations

import logging
import statistics
import tempfile
import threading
import time
from pathlib import Path

import h3.api.basic_int as h3
from click.testing import CliRunner
from playwright.sync_api import Page, sync_playwright
from waitress.server import create_server

from mapaid import create_app
from mapaid.cli import main as cli

BATCHES = 15
PER_BATCH = 20
POSTS = 12
CHARS = 1000
CELL = h3.int_to_str(h3.latlng_to_cell(53.9023, 27.5619, 9))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ROOMY = {"POST_LIMIT": "100000 per minute", "POST_LIMIT_TOTAL": "100000 per minute"}
TARGET_RATIO = 0.1

# The browser's clock is coarse (0.1 ms steps): each figure is one batch of operations over its size, and
# the median is taken over the batches.
CRYPTO = """async ([curve, batches, per, chars]) => {
  const C = window.mapaidReplyCrypto;
  const DAY = "2026-11-27";
  const text = ("Могу помочь с продуктами 🙂 " + "x".repeat(chars)).slice(0, chars);
  const post = await C.generate(curve);
  const times = {keys: [], encrypt: [], decrypt: []};
  for (let b = 0; b < batches; b++) {
    let t = performance.now();
    const mine = [];
    for (let i = 0; i < per; i++) { mine.push(await C.generate(curve)); }
    times.keys.push((performance.now() - t) / per);
    t = performance.now();
    const wires = [];
    for (let i = 0; i < per; i++) {
      const writer = C.party("BenchPost", post.public, mine[i].public, mine[i].private, false);
      wires.push(await writer.write(text, DAY));
    }
    times.encrypt.push((performance.now() - t) / per);
    t = performance.now();
    const back = [];
    for (let i = 0; i < per; i++) {
      const reader = C.party("BenchPost", post.public, mine[i].public, post.private, true);
      const reading = await reader.readAll([{from: "replier", message: wires[i], day: DAY}]);
      back.push(reading.shown.length ? reading.shown[0].text : null);
    }
    times.decrypt.push((performance.now() - t) / per);
    if (back.some((b) => b !== text)) { throw new Error("round trip failed"); }
  }
  return times;
}"""


def _row(what: str, value: float, peer: float | None = None) -> None:
    ratio = f"  {value / peer:8.5f} x posting  target < {TARGET_RATIO:g} x  " if peer else ""
    verdict = ("ok" if value / peer < TARGET_RATIO else "OVER") if peer else ""
    print(f"  {what:<52} median {value:8.3f} ms{ratio}{verdict}")


def _post_once(page: Page, base: str, n: int) -> float:
    page.goto(f"{base}/post?cell={CELL}&lang=en")
    page.check("#kind-need")
    page.select_option("#category", "food")
    page.fill("#text", f"Bench post number {n}: groceries from the market")
    started = time.perf_counter()
    page.click("#submit")
    page.wait_for_function("() => location.hash.startsWith('#k=')")
    return (time.perf_counter() - started) * 1000


def main() -> None:
    logging.getLogger("waitress").setLevel(logging.ERROR)  # its queue warnings are no figure
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = {
            "MAPAID_DATABASE": str(folder / "mapaid.sqlite3"),
            "MAPAID_SECRET_KEY": "bench-secret",
            "MAPAID_INSTANCE": str(folder),
        }
        result = CliRunner().invoke(cli, ["init-db"], env=env)
        assert result.exit_code == 0, result.output
        app = create_app(
            {"DATABASE": env["MAPAID_DATABASE"], "SECRET_KEY": "bench-secret", "INSTANCE_DIR": tmp, **ROOMY}
        )
        server = create_server(app, host="127.0.0.1", port=0, threads=4)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{server.effective_port}"  # type: ignore[union-attr]
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
                page = browser.new_page()
                _post_once(page, base, 0)  # warm up: the form's map, the scripts, the first key
                posting = statistics.median(_post_once(page, base, n) for n in range(1, POSTS + 1))
                print(f"Posting through the form (press Post to the private link with #k=), {POSTS} posts:")
                _row("post a post", posting)
                page.goto(f"{base}/post?cell={CELL}&lang=en")
                preferred = page.evaluate("() => window.mapaidReplyCrypto.preferredCurve()")
                curves = ["x25519", "p256"] if preferred == "x25519" else ["p256"]
                print(
                    f"One {CHARS}-character message in the browser, {BATCHES} batches of {PER_BATCH}"
                    f" (this browser posts on {preferred}):"
                )
                for curve in curves:
                    times = page.evaluate(CRYPTO, [curve, BATCHES, PER_BATCH, CHARS])
                    _row(f"{curve}: make a key pair", statistics.median(times["keys"]), posting)
                    _row(
                        f"{curve}: encrypt (derive the key, AES-GCM)",
                        statistics.median(times["encrypt"]),
                        posting,
                    )
                    _row(
                        f"{curve}: decrypt (derive the key, AES-GCM)",
                        statistics.median(times["decrypt"]),
                        posting,
                    )
                browser.close()
        finally:
            server.close()
            thread.join(timeout=5)


if __name__ == "__main__":
    main()
