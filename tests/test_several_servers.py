"""Several app servers on one database (issue 12, item 4): what they must share they share through the
database (or the instance folder), so each sees the others' writes at once and a start together is safe."""

from __future__ import annotations

import threading
from pathlib import Path

from mapaid.config import default_secret_loader


def _start_together(instance: Path, servers: int) -> tuple[list[str], list[BaseException]]:
    start = threading.Barrier(servers)
    keys: list[str] = []
    errors: list[BaseException] = []

    def load() -> None:
        start.wait()
        try:
            keys.append(default_secret_loader(instance))
        except BaseException as error:  # the test reports every failure
            errors.append(error)

    threads = [threading.Thread(target=load) for _ in range(servers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return keys, errors


def test_servers_starting_together_on_a_fresh_instance_share_one_secret_key(tmp_path: Path) -> None:
    for attempt in range(20):  # a race: try it often enough to lose it
        instance = tmp_path / f"instance-{attempt}"
        keys, errors = _start_together(instance, 8)
        assert errors == []
        assert len(keys) == 8 and len(set(keys)) == 1 and len(keys[0]) == 64
        assert (instance / "secret_key").read_text().strip() == keys[0]
        assert sorted(p.name for p in instance.iterdir()) == ["secret_key"]
