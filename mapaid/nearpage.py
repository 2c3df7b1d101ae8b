"""What ``/near/<cell>`` shows, from data frames: the map (origin hexagon, reach, posts) and the list.

Posts do not become one folium Marker each (a few hundred kilobytes of generated script for a busy
neighbourhood); they go into the page once, as compact columns of JSON, and our own ``near.js`` draws them
in a marker cluster. Popups are built with ``textContent``, so user text is never markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import folium
import geopandas as gpd
import h3.api.basic_int as h3
import numpy as np
import pandas as pd

from mapaid.maps import KIND_COLOURS, MapParts, base_map, render
from mapaid.models import IntArray
from mapaid.spatial import CIRCUITY, WALK_M_PER_MIN

MAP_LIMIT = 1000  # nearest posts drawn on the map; the list pages through all of them
PAGE_SIZE = 50
ORIGIN_STYLE: dict[str, Any] = {"color": "#1d4ed8", "weight": 3, "fill": True, "fill_opacity": 0.15}
REACH_STYLE: dict[str, Any] = {"color": "#1d4ed8", "weight": 1.5, "dash_array": "6 6", "fill": False}


@dataclass(frozen=True)
class MapOptions:
    lang: str
    tiles: str | None = None
    tiles_attribution: str | None = None


def reach_bounds(cells: IntArray, origin: int) -> tuple[float, float, float, float]:
    """West, south, east, north of the hexagons within reach (the origin alone if none)."""
    chosen = cells if len(cells) else np.array([origin], dtype=np.int64)
    points = np.array([p for c in chosen.tolist() for p in h3.cell_to_boundary(int(c))])
    return (points[:, 1].min(), points[:, 0].min(), points[:, 1].max(), points[:, 0].max())


def near_map(
    districts: gpd.GeoDataFrame, origin: int, within_m: int, cells: IntArray, options: MapOptions
) -> MapParts:
    """Districts, the resident's hexagon and a dashed ring of straight-line reach (within / 1.3)."""
    fmap = base_map(
        districts,
        options.lang,
        bounds=reach_bounds(cells, origin),
        tiles=options.tiles,
        tiles_attribution=options.tiles_attribution,
        cluster=True,
    )
    ring = [list(p) for p in h3.cell_to_boundary(origin)]
    folium.Polygon(ring, **ORIGIN_STYLE).add_to(fmap)
    lat, lon = h3.cell_to_latlng(origin)
    folium.Circle([lat, lon], radius=within_m / CIRCUITY, interactive=False, **REACH_STYLE).add_to(fmap)
    return render(fmap)


def posts_columns(frame: pd.DataFrame, limit: int = MAP_LIMIT) -> dict[str, list[Any]]:
    """The nearest ``limit`` posts of a public frame (with ``walk_m``) as columns for ``near.js``."""
    head = frame.head(limit)
    contact = [None if c is None or c != c else str(c) for c in head["contact"].tolist()]
    return {
        "id": head["id"].tolist(),
        "kind": head["kind"].tolist(),
        "category": head["category"].tolist(),
        "text": head["text"].tolist(),
        "contact": contact,
        "district": head["district_name"].tolist(),
        "expires": head["expires"].tolist(),
        "minutes": walk_minutes_list(head["walk_m"].to_numpy()),
        "lon": head["lon"].tolist(),
        "lat": head["lat"].tolist(),
    }


def walk_minutes_list(metres: np.ndarray) -> list[int]:
    """Whole minutes at 4.8 km/h (DESIGN.md); a nearby post in the same hexagon shows as 0."""
    return [int(m) for m in np.rint(np.asarray(metres, dtype=float) / WALK_M_PER_MIN).tolist()]


def page_items(frame: pd.DataFrame, page: int, size: int = PAGE_SIZE) -> list[dict[str, Any]]:
    """One page of the list, as plain dicts for the template (which escapes every value)."""
    part = frame.iloc[(page - 1) * size : page * size]
    records: list[dict[str, Any]] = [{str(k): v for k, v in r.items()} for r in part.to_dict("records")]
    for record, minutes in zip(records, walk_minutes_list(part["walk_m"].to_numpy()), strict=True):
        record["minutes"] = minutes
        contact = record.get("contact")
        record["contact"] = None if contact is None or contact != contact else contact
    return records


def page_count(total: int, size: int = PAGE_SIZE) -> int:
    return max(1, -(-total // size))


def kinds_legend(labels: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """(colour, label) entries for the legend, in KIND_COLOURS order."""
    names = dict(labels)
    return [(colour, names.get(kind, kind)) for kind, colour in KIND_COLOURS.items()]
