"""The coordinator's map: districts coloured by unmet needs, a hexagon layer of where the gaps are.

Built from the frames ``unmet.district_table`` and ``unmet.cell_table`` give; nothing here reads the store.
Colours come from a fixed sequential palette with our own HTML legend (``maps.legend_html``), because
branca's colour map pulls d3 from a CDN and the page must work offline.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import folium
import h3.api.basic_int as h3
import numpy as np
import orjson
import pandas as pd
import shapely
from markupsafe import Markup

from mapaid.geo import Area, cell_polygons
from mapaid.maps import (
    DataLayer,
    Detail,
    Layers,
    MapParts,
    credit,
    districts_geojson,
    legend_html,
    offline,
    render,
    step_colours,
)

PALETTE = ("#f4f4f2", "#fdd0a2", "#fd8d3c", "#d94801", "#7f2704")  # 0, then four classes of more
HIGHLIGHT = "#1d4ed8"  # outline of the most unserved districts
MOST_UNSERVED = 3


def class_edges(maximum: int) -> list[int]:
    """Lower edges of the four non-zero classes: 1 and three more up to ``maximum``, strictly rising."""
    edges = [1]
    for q in (0.25, 0.5, 0.75):
        edges.append(max(edges[-1] + 1, math.ceil(maximum * q)))
    return edges


def legend_entries(edges: Sequence[int]) -> list[tuple[str, str]]:
    labels = ["0"]
    for i, low in enumerate(edges):
        if i + 1 < len(edges):
            high = edges[i + 1] - 1
            labels.append(str(low) if high == low else f"{low}–{high}")
        else:
            labels.append(f"≥ {low}")
    return list(zip(PALETTE, labels, strict=True))


def most_unserved(table: pd.DataFrame, n: int = MOST_UNSERVED) -> list[str]:
    """Slugs of the ``n`` districts with the most unmet needs (none when nothing is unmet)."""
    ranked = table[table["unmet"] > 0].sort_values("rank")
    return [str(s) for s in ranked["district"].head(n)]


def _percent(share: float) -> str:
    return "—" if pd.isna(share) else f"{share * 100:.0f}%"


def _by_category(row: Mapping[Any, Any], categories: Sequence[str], labels: dict[str, str]) -> str:
    parts = [
        f"{labels.get(c, c)} {row[f'{c}_unmet']}/{row[f'{c}_needs']}" for c in categories if row[f"{c}_needs"]
    ]
    return " · ".join(parts) or "—"


def _district_features(
    table: pd.DataFrame, area: Area, lang: str, categories: Sequence[str], labels: dict[str, str]
) -> dict[str, Any]:
    edges = class_edges(int(table["unmet"].max()) if len(table) else 0)
    colours = dict(zip(table["district"], step_colours(table["unmet"].tolist(), PALETTE, edges), strict=True))
    top = set(most_unserved(table))
    rows = {str(r["district"]): r for r in table.to_dict("records")}
    features = []
    for feature in districts_geojson(area.districts, lang)["features"]:
        slug = feature["properties"]["slug"]
        row = rows[slug]
        style = {
            "color": HIGHLIGHT if slug in top else "#555f6e",
            "weight": 4 if slug in top else 1.2,
            "fillColor": colours[slug],
            "fillOpacity": 0.7,
        }
        properties = {
            "slug": slug,
            "name": ("★ " if slug in top else "") + str(row["name"]),
            "offers": int(row["offers"]),
            "needs": int(row["needs"]),
            "unmet": int(row["unmet"]),
            "met": _percent(row["share_met"]),
            "by_category": _by_category(row, categories, labels),
            "style": style,
        }
        features.append({"type": "Feature", "geometry": feature["geometry"], "properties": properties})
    return {"type": "FeatureCollection", "features": features}


CellLink = Callable[[str, Sequence[str]], str]  # (hex cell id, categories with unmet needs) -> a local path
GAP_CLASS = "gap-hexagon"  # the hexagons' SVG class, for the page's own styles and tests


def _cell_features(
    cells: pd.DataFrame, categories: Sequence[str], labels: dict[str, str], link: CellLink | None = None
) -> dict[str, Any]:
    polygons = cell_polygons(cells["cell"].to_numpy(dtype=np.int64))
    polygons = shapely.transform(polygons, lambda xy: np.round(xy, 5)) if len(polygons) else polygons
    edges = class_edges(int(cells["unmet"].max()) if len(cells) else 0)
    colours = step_colours(cells["unmet"].tolist(), PALETTE, edges)
    features = []
    for row, polygon, colour in zip(cells.to_dict("records"), polygons, colours, strict=True):
        detail = " · ".join(
            f"{labels.get(c, c)} {row[f'{c}_unmet']}" for c in categories if row[f"{c}_unmet"]
        )
        properties: dict[str, Any] = {
            "unmet": int(row["unmet"]),
            "detail": detail,
            "style": {
                "color": "#7f2704",
                "weight": 1,
                "fillColor": colour,
                "fillOpacity": 0.85,
                "className": GAP_CLASS,
            },
        }
        if link is not None:
            unmet = [c for c in categories if row[f"{c}_unmet"]]
            properties["href"] = link(h3.int_to_str(int(row["cell"])), unmet)
        features.append(
            {
                "type": "Feature",
                "geometry": orjson.loads(shapely.to_geojson(polygon)),
                "properties": properties,
            }
        )
    return {"type": "FeatureCollection", "features": features}


def unmet_map(
    table: pd.DataFrame,
    cells: pd.DataFrame,
    area: Area,
    *,
    lang: str,
    categories: Sequence[str],
    labels: dict[str, str],
    aliases: dict[str, str],
    tiles: str | None = None,
    tiles_attribution: str | None = None,
    cell_link: CellLink | None = None,
) -> MapParts:
    """The choropleth with popups, the hexagon layer and a layer switch; ``aliases`` label popup fields
    (offers, needs, unmet, met, by_category), layer names (districts, hexagons, optional tiles) and the
    hexagons' link (``list``) in the page's language. With ``cell_link``, a hexagon's popup links to the
    list of its unmet needs (the path ``cell_link`` makes)."""
    west, south, east, north = area.districts.total_bounds
    fmap = folium.Map(location=[(south + north) / 2, (west + east) / 2], tiles=None, control_scale=True)
    offline(fmap)
    fmap.fit_bounds([[south, west], [north, east]])
    fields = ["name", "offers", "needs", "unmet", "met", "by_category"]
    layers = [
        DataLayer(
            _district_features(table, area, lang, categories, labels),
            aliases["districts"],
            credit(lang),
            tooltip=Detail(["name", "unmet"], ["", aliases["unmet"]]),
            popup=Detail(fields, ["", *(aliases[f] for f in fields[1:])]),
        )
    ]
    if len(cells):
        detail = Detail(["unmet", "detail"], [aliases["unmet"], ""])
        link = (
            Detail(detail.fields, detail.labels, ("href", aliases.get("list", "list")))
            if cell_link is not None
            else None
        )
        layers.append(
            DataLayer(
                _cell_features(cells, categories, labels, cell_link),
                aliases["hexagons"],
                tooltip=detail,
                popup=link,
            )
        )
    spec = Layers(
        layers,
        tiles=tiles,
        tiles_attribution=tiles_attribution,
        tiles_name=aliases.get("tiles", "tiles"),
        control=True,
    )
    return render(fmap, spec)


def legend(maximum: int, title: str, extra: Sequence[tuple[str, str]] = ()) -> Markup:
    """A colour legend for counts up to ``maximum`` in the classes the layers use, plus ``extra`` entries."""
    return legend_html(title, [*legend_entries(class_edges(maximum)), *extra], shape="box")
