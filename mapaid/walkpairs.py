"""Walking distances between covered cells as the store keeps them and the walking module reads them.

Its own small module (numpy only) so the store and the web process need neither the OSM reader nor scipy:
those are for ``mapaid network build`` (mapaid/network.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from mapaid.models import FloatArray, IntArray


@dataclass(frozen=True)
class Distances:
    """Covered cells (sorted) with their snapping metres; for covered cell ``cells[i]``, its neighbours
    are ``neighbours[start[i]:start[i + 1]]`` at ``decimetres[...] / 10`` metres on foot (itself not
    included: a cell is 0 m from itself)."""

    cells: IntArray
    snap_m: FloatArray
    start: IntArray
    neighbours: IntArray
    decimetres: npt.NDArray[np.uint16]

    @property
    def pairs(self) -> int:
        return len(self.neighbours)

    def nbytes(self) -> int:
        """Memory of the look-up arrays."""
        return int(
            self.cells.nbytes
            + self.snap_m.nbytes
            + self.start.nbytes
            + self.neighbours.nbytes
            + self.decimetres.nbytes
        )

    def row(self, i: int) -> tuple[IntArray, npt.NDArray[np.uint16]]:
        return self.neighbours[self.start[i] : self.start[i + 1]], self.decimetres[
            self.start[i] : self.start[i + 1]
        ]


def empty() -> Distances:
    return Distances(
        np.empty(0, dtype=np.int64),
        np.empty(0),
        np.zeros(1, dtype=np.int64),
        np.empty(0, dtype=np.int64),
        np.empty(0, dtype=np.uint16),
    )
