"""The one-byte-range attack of issue 17, item 4, against a running server, for tests/test_export_flood.py
and bench/bench_exports_attack.py: ``connections`` keep-alive connections each asking for
``Range: bytes=0-0`` of a file as fast as the answers come, from a process of their own (so the attack and
the measuring client do not share an interpreter lock), while one client times a page.

``interleaved`` alternates quiet and attack phases, so a machine whose load drifts during the run (other
tests, other people) weighs on both sides alike, and returns every timing of each side.

The attacker connects from another loopback address (``ATTACKER_ADDRESS``) than the measuring client, as
an attacker on the internet is another client than the neighbour whose map it slows: what is held or
refused per client (mapaid/readlimit.py, mapaid/holds.py) must not be what spares the page.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

ATTACKER_ADDRESS = "127.0.0.2"  # Linux routes all of 127.0.0.0/8 to the loopback interface
# Runs in its own process: argv host port path connections source; stops at the end of its stdin and prints
# the statuses it got as JSON.
ATTACKER = r"""
import http.client, json, sys, threading
host, port, path, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
source = (sys.argv[5], 0)
stop = threading.Event()
statuses = {}
lock = threading.Lock()

def attack():
    seen = {}
    while not stop.is_set():
        connection = http.client.HTTPConnection(host, port, timeout=120, source_address=source)
        try:
            while not stop.is_set():
                connection.request("GET", path, headers={"Range": "bytes=0-0"})
                answer = connection.getresponse()
                answer.read()
                seen[answer.status] = seen.get(answer.status, 0) + 1
                if answer.will_close:
                    break
        except OSError:
            seen["error"] = seen.get("error", 0) + 1
        finally:
            connection.close()
    with lock:
        for status, n in seen.items():
            statuses[str(status)] = statuses.get(str(status), 0) + n

threads = [threading.Thread(target=attack) for _ in range(count)]
for thread in threads:
    thread.start()
print("ready", flush=True)
sys.stdin.read()
stop.set()
for thread in threads:
    thread.join()
print(json.dumps(statuses), flush=True)
"""


@dataclass
class Timings:
    """Seconds per request of the timed page, quiet and under attack; the attack's answers by status."""

    quiet: list[float] = field(default_factory=list)
    attacked: list[float] = field(default_factory=list)
    answers: Counter[str] = field(default_factory=Counter)

    def medians(self) -> tuple[float, float]:
        return _median(self.quiet), _median(self.attacked)

    def summary(self) -> str:
        quiet, attacked = self.medians()
        return (
            f"/near median quiet {quiet * 1000:.1f} ms (n={len(self.quiet)}), under attack "
            f"{attacked * 1000:.1f} ms (n={len(self.attacked)}), ratio {attacked / quiet:.2f}; "
            f"attack answers {dict(self.answers)}"
        )


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def timed(base: str, path: str, seconds: float) -> list[float]:
    """Ask for ``path`` one request after another on one keep-alive connection for ``seconds``."""
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=120)
    out: list[float] = []
    try:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            start = time.perf_counter()
            connection.request("GET", path)
            answer = connection.getresponse()
            answer.read()
            if answer.status != 200:
                raise AssertionError(f"{path} answered {answer.status}")
            out.append(time.perf_counter() - start)
    finally:
        connection.close()
    return out


class Attack:
    """The attacking process, for the length of a ``with`` block; ``answers`` after it."""

    def __init__(self, base: str, path: str, connections: int) -> None:
        parts = urlsplit(base)
        self.args = [parts.hostname or "127.0.0.1", str(parts.port), path, str(connections), ATTACKER_ADDRESS]
        self.answers: Counter[str] = Counter()

    def __enter__(self) -> Attack:
        self.process = subprocess.Popen(
            [sys.executable, "-c", ATTACKER, *self.args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        ready = self.process.stdout.readline().strip()
        if ready != "ready":
            self.process.kill()
            raise RuntimeError(f"the attacker did not start: {ready!r}")
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            out, _ = self.process.communicate(input="", timeout=180)
            self.answers.update(json.loads(out.strip().splitlines()[-1]))
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()


def interleaved(
    base: str,
    page: str,
    target: str,
    *,
    rounds: int = 4,
    quiet_s: float = 2.5,
    attack_s: float = 5.0,
    connections: int = 10,
) -> Timings:
    """``rounds`` of a quiet phase then an attack phase on ``target``, timing ``page`` throughout."""
    timings = Timings()
    for _ in range(rounds):
        timings.quiet += timed(base, page, quiet_s)
        with Attack(base, target, connections) as attack:
            timings.attacked += timed(base, page, attack_s)
        timings.answers.update(attack.answers)
    return timings
