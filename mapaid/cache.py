"""The app's one cache policy: what may be kept between requests, and under which key.

A cache is a memory and a timing channel: an entry that exists, or an answer that comes faster, says that
someone asked before. So mapaid keeps only what is the same for everyone, keyed on everything that shapes it:

- Kept: output derived from public data and settings alone: the rendered base map and the district GeoJSON
  per language, the hexagon grid's chunk index, the served area, per-revision aggregates (unmet needs and
  their map, the home map's counts per area), the street layer per language, and on disk the unfiltered
  exports per revision, day and language (mapaid.exportfiles, same rule: no place in a key). Whoever asks
  with the same key gets the same value.
- Key: every input that shapes the value, by name (``KEY_PARTS``: language, districts, database, revision,
  day, distance, categories, resolution, tile settings). A value may not depend on anything else.
- Never: where a viewer looks. No key names a cell, chunk or box at any resolution (``SharedCache`` refuses
  any part outside ``KEY_PARTS``), and no page is cached whole, because pages carry per-response values (the
  CSRF token, the visitor's own query in the language links). Answers about a place (``/near/<cell>``,
  ``GET /api/v1/posts``) are computed afresh on every request, from tables built for the whole served area at
  once (``geo.CellTable``), so they take the same time and say the same whoever asked before.
- Not even by accident: Python 3.11's ``urllib.parse.urlsplit`` remembers the last 128 URLs it split, and
  waitress and werkzeug split every request's URL with it, so it held the cells of the last requests.
  ``init_app`` empties it after every request.
"""

from __future__ import annotations

import threading
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from flask import Flask

V = TypeVar("V")

KEY_PARTS = frozenset(
    {
        "lang",  # language of the words in the value
        "districts",  # which served area (its version, or the very object: ``Same``)
        "database",  # which database file
        "revision",  # the store's revision: grows with every write that changes a public answer
        "day",  # posts expire by day
        "within",  # walking distance asked (400, 800, 1200)
        "categories",  # configured categories
        "res",  # H3 resolution of the site
        "tiles",  # configured tile URL
        "attribution",  # configured tile attribution
        "cluster",  # whether the map carries the marker-cluster assets
        "basemap",  # configured street/metro layer file (public shipped data)
        "network",  # which street graph's walking distances (its version, mapaid/network.py)
    }
)
Part = str | int | bool | date | tuple[str, ...] | None


class Same:
    """A key part that matches one object only (a districts frame, an Area): compared by identity, and
    holding the object, so its id cannot be reused by another while the entry lives."""

    __slots__ = ("obj",)

    def __init__(self, obj: object) -> None:
        self.obj = obj

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Same) and other.obj is self.obj

    def __hash__(self) -> int:
        return id(self.obj)


class SharedCache(Generic[V]):
    """A bounded, thread-safe LRU of values that are the same for everyone who asks with the same key."""

    def __init__(self, name: str, max_entries: int) -> None:
        self.name = name
        self.max_entries = max_entries
        self._items: OrderedDict[tuple[tuple[str, Part | Same], ...], V] = OrderedDict()
        self._lock = threading.Lock()
        REGISTRY.append(self)

    def get_or_make(self, make: Callable[[], V], **parts: Part | Same) -> V:
        """The value for ``parts``, made by ``make()`` when absent. Made outside the lock: two threads may
        both make it, and the value is the same either way."""
        unknown = set(parts) - KEY_PARTS
        if unknown:
            raise ValueError(
                f"{self.name}: {sorted(unknown)} may not shape a cached value (see mapaid.cache)"
            )
        key = tuple(sorted(parts.items()))
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = make()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)
        return value

    def entries(self) -> list[dict[str, Part | Same]]:
        """The keys held, as their named parts."""
        with self._lock:
            return [dict(k) for k in self._items]

    def values(self) -> list[V]:
        with self._lock:
            return list(self._items.values())

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


REGISTRY: list[SharedCache[Any]] = []  # every cache of the process, for tests to inspect


def forget_request_urls(_exc: BaseException | None = None) -> None:
    """Empty the standard library's memory of recently split URLs (see the module docstring)."""
    clear = getattr(urllib.parse.urlsplit, "cache_clear", None)
    if clear is not None:
        clear()


def init_app(app: Flask) -> None:
    app.teardown_request(forget_request_urls)
