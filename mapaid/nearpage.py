"""What ``/near/<cell>`` shows, from data frames: the map (origin hexagon, reach, posts) and the list.

Posts do not become one folium Marker each (a few hundred kilobytes of generated script for a busy
neighbourhood); they go into the page once, as compact columns of JSON, and our own ``near.js`` draws them
in a marker cluster. Popups are built with ``textContent``, so user text is never markup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import h3.api.basic_int as h3
import numpy as np
import pandas as pd

from mapaid.maps import MapParts, base_parts
from mapaid.models import FloatArray, IntArray
from mapaid.spatial import walk_bands

MAP_LIMIT = 1000  # nearest posts drawn on the map; the list pages through all of them
PAGE_SIZE = 50
ORIGIN_STYLE: dict[str, Any] = {"color": "#1d4ed8", "weight": 3, "fill": True, "fillOpacity": 0.15}
# The reachable hexagons, shaded by band (own hexagon, about 5, 10, 15 minutes): nearer is darker.
BAND_STYLES: list[dict[str, Any]] = [
    {"color": "#1d4ed8", "weight": 0.5, "opacity": 0.5, "fillColor": "#1d4ed8", "fillOpacity": opacity}
    for opacity in (0.22, 0.16, 0.1, 0.05)
]


@dataclass(frozen=True)
class MapOptions:
    lang: str
    tiles: str | None = None
    tiles_attribution: str | None = None
    basemap: str | None = None  # URL of the street and metro layer


@dataclass(frozen=True)
class Labels:
    """Words of the list in the request's language, looked up once per page rather than per post."""

    kinds: dict[str, str]
    categories: dict[str, str]
    bands: list[str]  # "in your hexagon", "about 5 minutes", ... (spatial.walk_bands)
    until: str  # with {d} for the day
    sources: dict[str, str] = field(default_factory=dict)  # walk_source -> how it was measured, in words


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
        basemap=options.basemap,
    )


def _ring(cell: int) -> list[list[float]]:
    return [[round(a, 6), round(b, 6)] for a, b in h3.cell_to_boundary(cell)]


def near_view(origin: int, cells: IntArray, metres: FloatArray | None = None) -> dict[str, Any]:
    """The resident's hexagon, the hexagons within reach (``cells`` with their walking ``metres``; each
    as [id, band, outline], shaded by band) and the view, for near.js. The list counts a post in when its
    cell is among ``cells``, so the map draws exactly the area the list covers."""
    west, south, east, north = reach_bounds(cells, origin)
    bands = walk_bands(metres if metres is not None else np.zeros(len(cells)))
    return {
        "origin": _ring(origin),
        "reach": [
            [h3.int_to_str(int(c)), b, _ring(int(c))] for c, b in zip(cells.tolist(), bands, strict=True)
        ],
        "bounds": [[round(south, 6), round(west, 6)], [round(north, 6), round(east, 6)]],
        "originStyle": ORIGIN_STYLE,
        "bandStyles": BAND_STYLES,
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
        "band": walk_bands(head["walk_m"].to_numpy()),
        "reply": _replies(head),
        "source": _sources(head),
        "lon": head["lon"].tolist(),
        "lat": head["lat"].tolist(),
    }


def _replies(frame: pd.DataFrame) -> list[bool]:
    """Which posts take private replies (have a reply key): only those get an answer button."""
    if "reply" not in frame:
        return [False] * len(frame)
    return [bool(r) for r in frame["reply"].tolist()]


def _sources(frame: pd.DataFrame) -> list[str]:
    """``walk_source`` per post (mapaid/walking.py); "estimate" for a frame made without it."""
    if "walk_source" in frame:
        return [str(s) for s in frame["walk_source"].tolist()]
    return ["estimate"] * len(frame)


def page_items(frame: pd.DataFrame, page: int, labels: Labels, size: int = PAGE_SIZE) -> list[dict[str, Any]]:
    """One page of the list, as plain dicts of text for the template (which escapes every value)."""
    part = frame.iloc[(page - 1) * size : page * size]
    bands = walk_bands(part["walk_m"].to_numpy())
    sources = _sources(part)
    columns = ("id", "kind", "category", "text", "contact", "district_name", "expires")
    rows: list[list[Any]] = [part[c].tolist() for c in columns]
    items = []
    replies = _replies(part)
    for (post_id, kind, category, text, contact, district, expires), band, reply, source in zip(
        zip(*rows, strict=True), bands, replies, sources, strict=True
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
                "walk": labels.bands[band],
                "band": band,
                "reply": reply,
                "walk_source": source,
                "walk_how": labels.sources.get(source, ""),
            }
        )
    return items


def page_count(total: int, size: int = PAGE_SIZE) -> int:
    return max(1, -(-total // size))
