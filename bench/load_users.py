"""The visitors of bench/bench_load.py: a locustfile (``locust -f bench/load_users.py``), not a benchmark.

Set by the benchmark through the environment:
- ``LOAD_HOSTS``: the servers, comma-separated; one user class per server, so locust spreads the users
  evenly over them (as a round-robin proxy would) without a proxy's own CPU in the way;
- ``LOAD_DATA``: a JSON file with ``cells`` (cells that hold posts, i.e. the served area) and ``categories``;
- ``LOAD_MODE``: ``mixed`` (90 % reads, half ``/near/<cell>`` pages and half API queries, 10 % posts through
  the API) or ``health`` (``/health`` only: the ceiling of the same setup).

Users do not wait between requests: 50 users are 50 requests in flight, so requests/s is what the servers
can give, not what the users ask for. ``FastHttpUser`` (geventhttpclient) keeps the load generator cheap on
a machine whose cores it shares with the servers.
"""

from __future__ import annotations

import json
import os
import random

from locust import FastHttpUser, constant

DATA = json.loads(open(os.environ["LOAD_DATA"], encoding="utf-8").read())  # noqa: SIM115 - read once at import
CELLS: list[str] = DATA["cells"]
CATEGORIES: list[str] = DATA["categories"]
WITHIN = (400, 800, 1200)
MODE = os.environ.get("LOAD_MODE", "mixed")


def near(user: FastHttpUser) -> None:
    cell = random.choice(CELLS)
    user.client.get(f"/near/{cell}?within={random.choice(WITHIN)}", name="/near/<cell>")


def api(user: FastHttpUser) -> None:
    cell = random.choice(CELLS)
    user.client.get(f"/api/v1/posts?cell={cell}&within={random.choice(WITHIN)}", name="GET /api/v1/posts")


def post(user: FastHttpUser) -> None:
    body = {
        "kind": random.choice(("offer", "need")),
        "category": random.choice(CATEGORIES),
        "text": f"Load test post {random.randrange(1 << 30)}",
        "cell": random.choice(CELLS),
        "expires_days": 7,
    }
    user.client.post("/api/v1/posts", json=body, name="POST /api/v1/posts")


def health(user: FastHttpUser) -> None:
    user.client.get("/health", name="/health")


class Visitor(FastHttpUser):
    abstract = True
    wait_time = constant(0)
    tasks = {near: 45, api: 45, post: 10} if MODE == "mixed" else [health]


for _i, _host in enumerate(os.environ["LOAD_HOSTS"].split(",")):
    globals()[f"Visitor{_i}"] = type(f"Visitor{_i}", (Visitor,), {"host": _host, "abstract": False})
