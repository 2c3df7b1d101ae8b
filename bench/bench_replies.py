"""Private replies on the server (issue 9): the time to store one message and to list a thread, beside
posting a post, measured in the same run through the Flask test client on a file SQLite database with
100,000 posts, 20,000 of them with a reply key and 40,000 conversations of several messages each.

The server does no cryptography (it stores public keys and ciphertext, docs/replies.md; it checks a version-2
message's header: its counters come next, its day is the site's), so a message costs about what any small
write costs; posting a post is the peer (the same kind of request, with the privacy step and the posts
table's indexes). Target: storing a message and listing a thread no slower than posting a post (ratio <= 1).
A poster's list is one page of at most 10 conversations (issue 17). Each request opens and closes its own
connection (mapaid.db), and closing the last one checkpoints the WAL: that dominates both write figures on a
quiet database. The browser's encrypt/decrypt timings are in bench/bench_replies_browser.py.
"""

from __future__ import annotations

import random
import secrets
import tempfile
import time
from pathlib import Path

import h3.api.basic_int as h3
import numpy as np

from bench.bench_near import SECRET, make_db
from mapaid import create_app, replycrypto
from mapaid.clock import SYSTEM
from mapaid.privacy import new_ids, token_hash
from mapaid.replycrypto import Direction, Header
from mapaid.replythread import Party
from mapaid.store import open_store
from mapaid.threads import Message, Thread

POSTS = 100_000
KEYED = 20_000
THREADS = 40_000
MESSAGES_EACH = 4
RUNS = 300
TEXT = "Могу помочь с продуктами в субботу утром, живу в соседнем доме, третий подъезд. " * 2
ROOMY = {
    "POST_LIMIT": "1000000 per minute",
    "POST_LIMIT_TOTAL": "1000000 per minute",
    "WRITE_LIMIT": "1000000 per minute",
}


def _conversations(db: Path) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]], list[str]]:
    """Reply keys on KEYED posts and THREADS conversations among them (real keys, real ciphertext).
    Returns (thread id, thread token, post id) per conversation, (post id, post key) per keyed post,
    and a few sealed messages to send."""
    store = open_store(db)
    day = SYSTEM.today().isoformat()
    ids = [r[0] for r in store.db.execute("SELECT id FROM posts ORDER BY random() LIMIT ?", (KEYED,))]
    poster, replier = replycrypto.generate("p256"), replycrypto.generate("p256")
    with store.transaction() as tx:
        tx.executemany("UPDATE posts SET reply_key = ? WHERE id = ?", [(poster.public, i) for i in ids])
    wires = {
        post_id: Party(post_id, poster.public, replier.public, replier.private, poster=False).write(TEXT, day)
        for post_id in ids[:2000]
    }
    rng = random.Random(9)
    threads = []
    for thread_id in new_ids(THREADS):
        post_id = rng.choice(ids[:2000])
        token = secrets.token_urlsafe(24)
        thread = Thread(thread_id, post_id, replier.public, token_hash(token), day)
        store.start_thread(thread, Message("replier", wires[post_id], day), 100, day, "0" * 64)
        for _ in range(MESSAGES_EACH - 1):
            store.add_message(thread_id, Message("poster", wires[post_id], day), 50, day)
        threads.append((thread_id, token, post_id))
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    # The next message of a thread set up so: the replier's second (counter 1), after the poster's three.
    # The server checks a message's header, never its encryption: one sealed under any key will do.
    nexts = [
        replycrypto.seal(
            bytes(32), "BenchPost", Direction.TO_POSTER, TEXT, Header(1, 3, day), bytes(32), bytes(32)
        )
        for _ in range(8)
    ]
    return threads, [(i, poster.public) for i in ids[:2000]], nexts


def _median(ms: list[float]) -> float:
    return float(np.median(ms))


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="mapaid-bench-") as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        db = make_db(folder, POSTS)
        threads, keyed, wires = _conversations(db)
        print(
            f"{POSTS:,} posts, {KEYED:,} with a reply key, {THREADS:,} conversations of"
            f" {MESSAGES_EACH} messages (setup {time.perf_counter() - start:.0f} s)"
        )
        app = create_app({"DATABASE": str(db), "SECRET_KEY": SECRET, "TESTING": True, **ROOMY})
        client = app.test_client()
        cell = h3.int_to_str(h3.latlng_to_cell(53.9023, 27.5619, 9))
        rng = random.Random(3)
        post_ms, store_ms, read_ms, list_ms = [], [], [], []
        for i in range(RUNS):
            body = {"kind": "need", "category": "food", "text": TEXT[:200], "cell": cell}
            t0 = time.perf_counter()
            made = client.post("/api/v1/posts", json=body)
            post_ms.append((time.perf_counter() - t0) * 1000)
            assert made.status_code == 201, made.get_json()

            thread_id, token, post_id = threads[i]
            t0 = time.perf_counter()
            sent = client.post(
                f"/api/v1/threads/{thread_id}/messages",
                json={"message": wires[i % len(wires)]},
                headers={"X-Thread-Token": token},
            )
            store_ms.append((time.perf_counter() - t0) * 1000)
            assert sent.status_code == 201, sent.get_json()

            thread_id, token, post_id = rng.choice(threads)
            t0 = time.perf_counter()
            read = client.get(f"/api/v1/threads/{thread_id}", headers={"X-Thread-Token": token})
            read_ms.append((time.perf_counter() - t0) * 1000)
            assert read.status_code == 200

        store = open_store(db)
        tokens = {}
        for post_id, _ in keyed[:RUNS]:
            token = secrets.token_urlsafe(24)
            tokens[post_id] = token
        with store.transaction() as tx:
            tx.executemany(
                "UPDATE posts SET token_hash = ? WHERE id = ?",
                [(token_hash(t), p) for p, t in tokens.items()],
            )
        per_post = [len(store.threads_of(p)) for p in tokens]
        store.close()
        for post_id, token in tokens.items():
            t0 = time.perf_counter()
            listed = client.get(f"/api/v1/posts/{post_id}/threads", headers={"X-Post-Token": token})
            list_ms.append((time.perf_counter() - t0) * 1000)
            assert listed.status_code == 200

        peer = _median(post_ms)
        print(f"posting a post (POST /api/v1/posts), the peer:        median {peer:6.2f} ms")
        for label, ms in (
            ("storing one message (POST .../messages)", store_ms),
            (f"reading a thread ({MESSAGES_EACH}-{MESSAGES_EACH + 1} messages, GET /threads/<id>)", read_ms),
            (
                f"a poster listing page 1 of ~{np.mean(per_post):.0f} threads (GET /posts/<id>/threads)",
                list_ms,
            ),
        ):
            ours = _median(ms)
            print(f"{label:<55} median {ours:6.2f} ms  ratio to posting {ours / peer:4.2f} (target <= 1)")


if __name__ == "__main__":
    main()
