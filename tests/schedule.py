"""How `make test` spreads the suite over its xdist workers: one work unit per module *and store*, the
longest first.

``--dist loadfile`` kept a module's SQLite and PostGIS halves on one worker, so the longest modules ran
twice in a row there while other workers sat idle at the end; and xdist hands out units in the order it
is given them (biggest first by test count, which says little about time). Here a unit is a module's
tests on one store (``store_kind`` is module-scoped, so each half still sets up its servers once), and
the units are ordered by how long they took in a recorded run (``durations.json``), the longest first:
the classic longest-processing-time rule, which leaves the short units to fill in at the end.
``python -m pytest ... --record-durations`` rewrites the file after a full run; a unit it does not know
counts one second per test, so a new module is still scheduled, only less well.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from xdist.scheduler import LoadScopeScheduling

DURATIONS = Path(__file__).with_name("durations.json")
_STORE = re.compile(r"\[(sqlite|postgis)[-\]]")


def unit_of(nodeid: str) -> str:
    """``tests/test_x.py[sqlite]`` for a test on SQLite, ``tests/test_x.py`` for one without a store."""
    module = nodeid.split("::", 1)[0]
    found = _STORE.search(nodeid.split("::", 1)[-1])
    return f"{module}[{found.group(1)}]" if found else module


class ModuleAndStoreScheduling(LoadScopeScheduling):
    """xdist's scope scheduling with a module's two store halves as two scopes, in collection order."""

    def _split_scope(self, nodeid: str) -> str:
        return unit_of(nodeid)


def longest_first(items: list[pytest.Item]) -> None:
    """Reorder ``items`` unit by unit, the longest unit first; a unit's tests keep their order (pytest has
    grouped them by store and fixture already)."""
    known: dict[str, float] = json.loads(DURATIONS.read_text(encoding="utf-8")) if DURATIONS.exists() else {}
    counts = Counter(unit_of(item.nodeid) for item in items)
    first: dict[str, int] = {}
    for index, item in enumerate(items):
        first.setdefault(unit_of(item.nodeid), index)

    def key(item: pytest.Item) -> tuple[float, int]:
        unit = unit_of(item.nodeid)
        return (-known.get(unit, float(counts[unit])), first[unit])

    items.sort(key=key)


class Recorder:
    """Sums each unit's setup, call and teardown times as the reports arrive (on xdist's controller),
    and writes them to ``durations.json`` at the end of a run that passed."""

    def __init__(self) -> None:
        self.seconds: Counter[str] = Counter()

    def add(self, report: Any) -> None:
        self.seconds[unit_of(report.nodeid)] += float(report.duration)

    def write(self) -> None:
        rounded = {unit: round(s, 1) for unit, s in sorted(self.seconds.items())}
        DURATIONS.write_text(json.dumps(rounded, indent=1) + "\n", encoding="utf-8")
