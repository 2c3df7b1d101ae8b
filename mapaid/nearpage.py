"""What ``/near/<cell>`` shows, from data frames: the map (origin hexagon, reach, posts) and the list.

Posts do not become one folium Marker each (a few hundred kilobytes of generated script for a busy
neighbourhood); they go into the page once, as compact columns of JSON, and our own ``near.js`` draws them
in a marker cluster. Popups are built with ``textContent``, so user text is never markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import h3.api.basic_int as h3
import numpy as np
import pandas as pd

from mapaid.maps import MapParts, base_parts
from mapaid.models import IntArray
from mapaid.spatial import CIRCUITY, WALK_M_PER_MIN

MAP_LIMIT = 1000  # nearest posts drawn on the map; the list pages through all of them
PAGE_SIZE = 50
ORIGIN_STYLE: dict[str, Any] = {"color": "#1d4ed8", "weight": 3, "fill": True, "fillOpacity": 0.15}
REACH_STYLE: dict[str, Any] = {"color": "#1d4ed8", "weight": 1.5, "dashArray": "6 6", "fill": False}


@dataclass(frozen=True)
class MapOptions:
    lang: str
    tiles: str | None = None
    tiles_attribution: str | None = None


@dataclass(frozen=True)
class Labels:
    """Words of the list in the request's language, looked up once per page rather than per post."""

    kinds: dict[str, str]
    categories: dict[str, str]
    walk: str  # with {m} for minutes
    here: str
    until: str  # with {d} for the day


def reach_bounds(cells: IntArray, origin: int) -> tuple[float, float, float, float]:
    """West, south, east, north of the hexagons within reach (the origin alone if none)."""
    chosen = cells if len(cells) else np.array([origin], dtype=np.int64)
    points = np.array([p for c in chosen.tolist() for p in h3.cell_to_boundary(int(c))])
    return (
        float(points[:, 1].min()),
        float(points[:, 0].min()),
        float(points[:, 1].max()),
        float(points[:, 0].max()),
    )


def near_map(districts: gpd.GeoDataFrame, options: MapOptions) -> MapParts:
    """The folium map of the area (rendered once per language); ``near_view`` says what to show on it."""
    return base_parts(
        districts,
        options.lang,
        tiles=options.tiles,
        tiles_attribution=options.tiles_attribution,
        cluster=True,
    )


def near_view(origin: int, within_m: int, cells: IntArray) -> dict[str, Any]:
    """The resident's hexagon, a ring of straight-line reach (within / 1.3) and the view, for near.js."""
    west, south, east, north = reach_bounds(cells, origin)
    lat, lon = h3.cell_to_latlng(origin)
    return {
        "origin": [[round(a, 6), round(b, 6)] for a, b in h3.cell_to_boundary(origin)],
        "centre": [round(lat, 6), round(lon, 6)],
        "radius": round(within_m / CIRCUITY, 1),
        "bounds": [[round(south, 6), round(west, 6)], [round(north, 6), round(east, 6)]],
        "originStyle": ORIGIN_STYLE,
        "reachStyle": REACH_STYLE,
    }


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


def page_items(frame: pd.DataFrame, page: int, labels: Labels, size: int = PAGE_SIZE) -> list[dict[str, Any]]:
    """One page of the list, as plain dicts of text for the template (which escapes every value)."""
    part = frame.iloc[(page - 1) * size : page * size]
    minutes = walk_minutes_list(part["walk_m"].to_numpy())
    columns = ("id", "kind", "category", "text", "contact", "district_name", "expires")
    rows: list[list[Any]] = [part[c].tolist() for c in columns]
    items = []
    for (post_id, kind, category, text, contact, district, expires), m in zip(
        zip(*rows, strict=True), minutes, strict=True
    ):
        items.append(
            {
                "id": post_id,
                "kind": kind,
                "kind_text": labels.kinds.get(kind, kind),
                "category_text": labels.categories.get(category, category),
                "text": text,
                "contact": contact if isinstance(contact, str) and contact else None,
                "district_name": district,
                "until": labels.until.replace("{d}", str(expires)),
                "walk": labels.here if m == 0 else labels.walk.replace("{m}", str(m)),
            }
        )
    return items


def page_count(total: int, size: int = PAGE_SIZE) -> int:
    return max(1, -(-total // size))
