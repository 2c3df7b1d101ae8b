"""Count the references the Python heap holds to given H3 cells: as integers, as hex ids inside strings, in
numpy arrays and in Arrow string arrays. Used to show that serving a page leaves no trace of its cell.

Every object the garbage collector tracks is a root; from there the walk follows ``gc.get_referents`` into
what the collector does not track (tuples and dicts of plain values, numpy arrays), so a cell held anywhere in
a live object is found. Freed memory is not (no Python object holds it any more).
"""

from __future__ import annotations

import contextlib
import gc
import re
from collections.abc import Iterable

import h3.api.basic_int as h3
import numpy as np
import pyarrow as pa

HEX_ID = re.compile(r"[0-9a-f]{15}")
_ATOMS = (int, float, complex, bool, type(None))


class _Counter:
    def __init__(self, cells: np.ndarray) -> None:
        self.sorted = np.sort(cells.astype(np.int64))
        self.index = {int(c): i for i, c in enumerate(self.sorted.tolist())}
        self.hexes = {h3.int_to_str(c): i for c, i in self.index.items()}
        self.counts = np.zeros(len(self.sorted), dtype=np.int64)
        self.strings: dict[int, list[int]] = {}

    def text(self, value: str) -> None:
        hits = self.strings.get(id(value))
        if hits is None:
            hits = [self.hexes[m] for m in HEX_ID.findall(value) if m in self.hexes]
            self.strings[id(value)] = hits
        for i in hits:
            self.counts[i] += 1

    def number(self, value: int) -> None:
        i = self.index.get(value)
        if i is not None:
            self.counts[i] += 1

    def array(self, values: np.ndarray) -> None:
        if values.dtype.kind in "iu" and values.dtype.itemsize == 8 and values.size:
            flat = values.ravel().astype(np.int64, copy=False)
            at = np.minimum(np.searchsorted(self.sorted, flat), len(self.sorted) - 1)
            np.add.at(self.counts, at[self.sorted[at] == flat], 1)
        elif values.dtype.kind in "OUS" and values.size <= 5_000_000:
            for item in values.ravel().tolist():
                self.atom(item)

    def arrow(self, values: pa.Array | pa.ChunkedArray) -> None:
        if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
            for item in values.to_pylist():
                if item is not None:
                    self.text(item)
        elif pa.types.is_integer(values.type):
            self.array(np.asarray(values.to_numpy(zero_copy_only=False)))

    def atom(self, value: object) -> bool:
        """Count ``value`` if it is a leaf; False when it is a container to walk into."""
        if type(value) is int:
            self.number(value)
        elif isinstance(value, str):
            self.text(value)
        elif isinstance(value, bytes | bytearray):
            self.text(bytes(value).decode("latin-1"))
        elif isinstance(value, np.integer):
            with contextlib.suppress(TypeError):  # a half-made scalar (numpy's own internals)
                self.number(int(value))
        elif isinstance(value, _ATOMS):
            pass
        else:
            return False
        return True


def references(cells: np.ndarray, ignore: Iterable[object] = ()) -> dict[int, int]:
    """{cell: how many references to it the heap holds}, not counting what ``ignore`` holds directly."""
    gc.collect()
    counter = _Counter(cells)
    roots = gc.get_objects()
    skip = {id(o) for o in ignore} | {id(roots), id(counter), id(counter.index), id(counter.hexes)}
    skip |= {id(counter.sorted), id(counter.strings), id(cells)}
    seen: set[int] = set()
    stack: list[object] = list(roots)
    skip |= {id(stack), id(seen), id(skip)}
    while stack:
        obj = stack.pop()
        if id(obj) in seen or id(obj) in skip:
            continue
        seen.add(id(obj))
        if isinstance(obj, np.ndarray):
            counter.array(obj)
        elif isinstance(obj, pa.Array | pa.ChunkedArray):
            counter.arrow(obj)
        for ref in gc.get_referents(obj):
            if not counter.atom(ref) and not gc.is_tracked(ref):
                stack.append(ref)  # tracked objects are roots already
    del roots, stack
    return dict(zip(counter.sorted.tolist(), counter.counts.tolist(), strict=True))
