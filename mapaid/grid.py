"""The hexagons a resident can click, sent to the browser in coarse chunks.

The page cannot compute H3 cells itself (H3 for JavaScript is not on PyPI), so the server sends cell
outlines. They come grouped by a parent cell three levels coarser (~36 km² for the default resolution 9):
the page asks for the chunks overlapping its view by the parent's id, which says no more about the
resident than "somewhere in this part of the city", and finds the clicked (or located) hexagon itself.
The outlines are public (they are the grid, not anyone's place).
"""

from __future__ import annotations

from dataclasses import dataclass

import h3.api.basic_int as h3
import numpy as np

from mapaid.cache import Same, SharedCache
from mapaid.geo import Area

CHUNK_STEPS = 3
COORD_DECIMALS = 6


@dataclass(frozen=True)
class Chunk:
    """A parent cell and the bounding box (west, south, east, north) of its children in the area."""

    parent: int
    bbox: tuple[float, float, float, float]


@dataclass(frozen=True)
class Grid:
    res: int
    chunks: dict[int, Chunk]
    children: dict[int, list[int]]  # parent -> the cells of the area in it


_GRIDS: SharedCache[Grid] = SharedCache("hexagon grid", 8)


def grid(area: Area, res: int) -> Grid:
    """The chunks of the area at ``res``, built once per area from its whole-area cell table: the same
    for everyone, and nothing is looked up per request."""
    return _GRIDS.get_or_make(lambda: _build(area, res), districts=Same(area), res=res)


def _build(area: Area, res: int) -> Grid:
    children: dict[int, list[int]] = {}
    for cell in area.table(res).cells.tolist():
        children.setdefault(int(h3.cell_to_parent(cell, max(0, res - CHUNK_STEPS))), []).append(cell)
    chunks = {}
    for parent, cells in children.items():
        points = np.array([p for c in cells for p in h3.cell_to_boundary(c)])
        lat, lon = points[:, 0], points[:, 1]
        bbox = (float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max()))
        chunks[parent] = Chunk(parent, tuple(round(v, 5) for v in bbox))  # type: ignore[arg-type]
    return Grid(res, chunks, children)


def chunk_index(area: Area, res: int) -> list[list[object]]:
    """[[parent id (hex), west, south, east, north], ...] for the page to pick chunks by its view."""
    return [[h3.int_to_str(c.parent), *c.bbox] for c in grid(area, res).chunks.values()]


def chunk_cells(area: Area, res: int, parent: int) -> list[list[object]] | None:
    """[[cell id (hex), [[lat, lon] x 6]], ...] for the cells of one chunk inside the area; None for a
    parent that is not a chunk of this area. Made afresh per request: which chunks were asked for is
    where people look, so it is not remembered (mapaid.cache)."""
    cells = grid(area, res).children.get(parent)
    if cells is None:
        return None
    return [
        [
            h3.int_to_str(cell),
            [
                [round(lat, COORD_DECIMALS), round(lon, COORD_DECIMALS)]
                for lat, lon in h3.cell_to_boundary(cell)
            ],
        ]
        for cell in cells
    ]
