"""folium maps from data frames, offline: every asset from our own ``/static/``, no tiles unless configured.

Pages embed a map in three parts (what goes in <head>, the map's <div>, its script), so our own templates,
language switcher and forms sit around it. folium's asset lists are class attributes and ``add_js_link``
changes them for every map in the process, so each map gets its own lists here, pointing at the app.
Data comes in as data frames (districts, posts); nothing here opens a database.

folium draws the map and nothing else: no string from data or settings ever goes through its templates.
branca renders an element's output a second time as a Jinja template, so a district named
``{{ lipsum.__globals__.os.getpid() }}`` ran on the server, and folium's tooltips and popups put values
into ``innerHTML``. The data layers (districts, unmet needs, tiles) therefore travel as a ``Layers`` spec in
a JSON block beside folium's script, and our own ``static/layers.js`` draws them, building tooltips and
popups from text nodes. Every inline <script> and <style> carries the placeholder nonce of ``csp.py``, and
nothing we make has a ``style=`` attribute, so pages run under a policy without ``'unsafe-inline'``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import orjson
import shapely
from branca.element import MacroElement
from jinja2 import Template
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup, escape

from mapaid import csp
from mapaid.assets import CLUSTER_CSS, CLUSTER_JS, LEAFLET_CSS, LEAFLET_JS
from mapaid.cache import Same, SharedCache
from mapaid.messages import N_, translate

OSM_ATTRIBUTION = N_("Districts © OpenStreetMap contributors (ODbL)")  # credit(lang) gives it translated
DISTRICT_STYLE = {"color": "#555f6e", "weight": 1.5, "fillColor": "#dfe6ee", "fillOpacity": 0.35}
KIND_COLOURS = {"offer": "#1b7f3b", "need": "#c2410c"}
DEFAULT_ZOOM = 11
MIN_ZOOM = 9
MAX_ZOOM = 18
ZOOM_LIMITS: dict[str, Any] = {"minZoom": MIN_ZOOM, "maxZoom": MAX_ZOOM}
LAYERS_JS = "/static/layers.js"  # absolute, like folium's asset links (see assets.py)
MAPUI_JS = "/static/mapui.js"  # gestures, credits button, labels: the map's behaviour on phones
# folium's page head carries its own viewport with ``maximum-scale=1.0, user-scalable=no``: it forbids
# pinch zoom (WCAG 1.4.4, axe's meta-viewport) and would compete with base.html's. Our pages keep one.
_VIEWPORT_META = re.compile(r"<meta\s+name=[\"']viewport[\"'][^>]*>\s*", re.IGNORECASE)
BASEMAP_JS = "/static/basemap.js"
BASEMAP_ATTRIBUTION = "Streets and buildings © OpenStreetMap contributors · metro: metro4all (CC BY-SA 4.0)"


@dataclass(frozen=True)
class Detail:
    """A tooltip or popup: the feature properties ``fields`` as a table, with ``labels`` as row headings
    (none when None). Shown by layers.js as text."""

    fields: Sequence[str]
    labels: Sequence[str] | None = None
    link: tuple[str, str] | None = None  # (property holding a path on this site, the link's text)


@dataclass(frozen=True)
class DataLayer:
    """A GeoJSON layer for layers.js; each feature's ``properties.style`` styles it. ``name`` labels it in
    the layer switch (if the map has one)."""

    data: dict[str, Any]
    name: str
    attribution: str | None = None
    tooltip: Detail | None = None
    popup: Detail | None = None


@dataclass(frozen=True)
class Layers:
    """What layers.js adds to a folium map: optional raster tiles, GeoJSON layers, a layer switch."""

    layers: Sequence[DataLayer]
    tiles: str | None = None
    tiles_attribution: str | None = None
    tiles_name: str = "tiles"
    control: bool = False
    basemap: str | None = None  # URL of our street and metro layer (views/basemap.py), drawn by basemap.js

    def spec(self) -> dict[str, Any]:
        raster = None
        if self.tiles:
            attribution = self.tiles_attribution or self.tiles
            raster = {"url": self.tiles, "attribution": attribution, "name": self.tiles_name}
        return {
            "raster": raster,
            "control": self.control,
            "basemap": {"url": self.basemap, "attribution": BASEMAP_ATTRIBUTION} if self.basemap else None,
            "layers": [
                {
                    "name": layer.name,
                    "data": layer.data,
                    "attribution": layer.attribution,
                    "tooltip": _detail(layer.tooltip),
                    "popup": _detail(layer.popup),
                }
                for layer in self.layers
            ],
        }


def _detail(detail: Detail | None) -> dict[str, Any] | None:
    if detail is None:
        return None
    return {
        "fields": list(detail.fields),
        "labels": None if detail.labels is None else list(detail.labels),
        "link": None if detail.link is None else {"field": detail.link[0], "text": detail.link[1]},
    }


@dataclass(frozen=True)
class MapParts:
    """A rendered map, split for embedding: ``head`` (links, styles), ``html`` (the div), ``script`` (the
    map's JavaScript) and ``layers`` (the JSON spec for layers.js); a page puts ``script_element`` where its
    scripts go. ``name`` is the map's JavaScript variable, for our own scripts to find it. Inline elements
    carry the placeholder nonce (csp.py), so parts can be cached and shared."""

    head: Markup
    html: Markup
    script: Markup
    layers: Markup
    name: str
    basemap: bool = False

    @property
    def script_element(self) -> Markup:
        """folium's script (with the placeholder nonce), then the data layers and layers.js to draw them
        (and basemap.js when the map has our street layer)."""
        extra = f'\n<script src="{BASEMAP_JS}"></script>' if self.basemap else ""
        return Markup(  # noqa: S704 - folium's script holds no data; layers is escaped JSON
            f"<script {csp.ATTRIBUTE}>{self.script}</script>\n"
            f'<script type="application/json" class="mapaid-layers" data-map="{self.name}">{self.layers}'
            f'</script>\n<script src="{LAYERS_JS}"></script>\n<script src="{MAPUI_JS}"></script>{extra}'
        )


_DISTRICTS_JSON: SharedCache[dict[str, Any]] = SharedCache("district GeoJSON", 16)
_BASE_PARTS: SharedCache[MapParts] = SharedCache("base map", 24)


def offline(element: Any, *, cluster: bool = False) -> None:
    """Point one folium element's asset lists at our own copies (instance attributes shadow the
    class-wide lists, so no other map in the process is touched)."""
    element.default_js = [LEAFLET_JS, *([CLUSTER_JS] if cluster else [])]
    element.default_css = [LEAFLET_CSS, *(CLUSTER_CSS if cluster else ())]


def districts_geojson(districts: gpd.GeoDataFrame, lang: str) -> dict[str, Any]:
    """Districts as a FeatureCollection with ``slug``, ``name`` (in ``lang``) and a style; 5 decimals.

    Cached per frame and language (mapaid.cache): the district layer goes into every map page."""
    return _DISTRICTS_JSON.get_or_make(
        lambda: _districts_geojson(districts, lang), districts=Same(districts), lang=lang
    )


def _districts_geojson(districts: gpd.GeoDataFrame, lang: str) -> dict[str, Any]:
    name_column = f"name_{lang}" if f"name_{lang}" in districts.columns else "name_en"
    geoms = shapely.transform(districts.geometry.values, lambda xy: np.round(xy, 5))
    features = [
        {
            "type": "Feature",
            "geometry": orjson.loads(shapely.to_geojson(geom)),
            "properties": {"slug": str(slug), "name": str(name), "style": DISTRICT_STYLE},
        }
        for slug, name, geom in zip(districts["slug"], districts[name_column], geoms, strict=True)
    ]
    return {"type": "FeatureCollection", "features": features}


class StillFit(MacroElement):
    """fitBounds without animation. folium's ``fit_bounds`` animates from its start zoom, and while that
    animation runs Leaflet undoes any view a page script sets (it ends on the zoom it started for)."""

    _template = Template(
        """{% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.fitBounds({{ this.bounds|tojson }}, {animate: false});
        {% endmacro %}"""
    )

    def __init__(self, bounds: list[list[float]]) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "StillFit"
        self.bounds = [[float(v) for v in corner] for corner in bounds]


def base_map(
    districts: gpd.GeoDataFrame, *, bounds: Sequence[float] | None = None, cluster: bool = False
) -> folium.Map:
    """The folium map of the served area, without layers (``base_layers`` adds districts and tiles).

    ``bounds`` (west, south, east, north) is what the map shows first; the whole area by default."""
    west, south, east, north = bounds if bounds is not None else districts.total_bounds
    fmap = folium.Map(
        location=[(south + north) / 2, (west + east) / 2],
        zoom_start=DEFAULT_ZOOM,
        tiles=None,
        control_scale=True,
        prefer_canvas=False,
        # folium hands min_zoom/max_zoom to the tile layer; without tiles the map itself needs them
        # (marker clusters refuse a map with no maximum).
        **ZOOM_LIMITS,
    )
    offline(fmap, cluster=cluster)
    fmap.add_child(StillFit([[south, west], [north, east]]))
    return fmap


def credit(lang: str, text: str = OSM_ATTRIBUTION) -> str:
    """A credit line in the page's language (maps are made per language; no request is needed)."""
    return translate(lang, text)


def base_layers(
    districts: gpd.GeoDataFrame,
    lang: str,
    *,
    tiles: str | None = None,
    tiles_attribution: str | None = None,
    basemap: str | None = None,
) -> Layers:
    """The districts as the vector basemap (a tooltip names each), our streets and metro from ``basemap``
    (a URL) when there are any, raster tiles only when configured."""
    layer = DataLayer(districts_geojson(districts, lang), "districts", credit(lang), tooltip=Detail(["name"]))
    return Layers([layer], tiles=tiles, tiles_attribution=tiles_attribution, basemap=basemap)


def render(fmap: folium.Map, layers: Layers) -> MapParts:
    """Render a map once and split it for a page template, every inline element with the placeholder
    nonce (the one place folium's output is prepared for the policy), its data layers as JSON that cannot
    end its element (``<``, ``>``, ``&``, ``'`` escaped)."""
    root: Any = fmap.get_root()  # a branca Figure, typed as its base Element
    root.render()
    return MapParts(
        head=csp.add_nonces(without_viewport(root.header.render())),
        html=csp.add_nonces(root.html.render()),
        script=Markup(root.script.render()),  # noqa: S704 - folium's own script, numbers and our names only
        layers=htmlsafe_json_dumps(layers.spec()),
        name=fmap.get_name(),
        basemap=layers.basemap is not None,
    )


def without_viewport(head: str) -> str:
    """folium's head without its viewport meta, so base.html's (which allows pinch zoom) is the only one."""
    return _VIEWPORT_META.sub("", head)


def base_parts(
    districts: gpd.GeoDataFrame,
    lang: str,
    *,
    tiles: str | None = None,
    tiles_attribution: str | None = None,
    cluster: bool = False,
    basemap: str | None = None,
) -> MapParts:
    """The rendered base map of the whole area, made once per language and tile setting.

    Pages that only add their own layers and view (from their page data, by our scripts) reuse it:
    folium compiles its templates on every render, which would be most of a page's time. The same for
    everyone (mapaid.cache): nothing in it depends on who asks or where they look."""
    return _BASE_PARTS.get_or_make(
        lambda: render(
            base_map(districts, cluster=cluster),
            base_layers(districts, lang, tiles=tiles, tiles_attribution=tiles_attribution, basemap=basemap),
        ),
        districts=Same(districts),
        lang=lang,
        tiles=tiles,
        attribution=tiles_attribution,
        cluster=cluster,
        basemap=basemap,
    )


def script_json(value: Any) -> Markup:
    """JSON to put inside a <script type="application/json"> element: like Jinja's ``tojson`` (no ``<``,
    ``>``, ``&`` or ``'`` left to end the element early) but through orjson, for big page data."""
    text = orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY).decode()
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027")):
        text = text.replace(char, escaped)
    return Markup(text)  # noqa: S704 - escaped above


def legend_html(title: str, entries: Iterable[tuple[str, str]], *, shape: str = "dot") -> Markup:
    """A small legend (HTML only, no d3 from a CDN as branca's colour scale would load).

    ``entries`` are (CSS colour, label); ``shape`` is ``dot`` for markers or ``box`` for areas. Swatches
    are SVG with a ``fill`` attribute, not ``style=""``, which a policy without 'unsafe-inline' refuses."""
    if shape not in _SWATCHES:
        raise ValueError(f"shape must be one of {', '.join(_SWATCHES)}")
    rows = "".join(
        f'<li><svg class="legend-{shape}" viewBox="0 0 10 10" aria-hidden="true">'
        f"{_SWATCHES[shape].format(fill=_colour(colour))}</svg>{escape(label)}</li>"
        for colour, label in entries
    )
    return Markup(f'<div class="legend"><strong>{escape(title)}</strong><ul>{rows}</ul></div>')  # noqa: S704


_SWATCHES = {
    "dot": '<circle cx="5" cy="5" r="5" fill="{fill}"/>',
    "box": '<rect width="10" height="10" fill="{fill}"/>',
}
_COLOUR = re.compile(r"#[0-9a-fA-F]{3,8}")


def _colour(value: str) -> str:
    if not _COLOUR.fullmatch(value):
        raise ValueError(f"not a hex colour: {value!r}")
    return value


def step_colours(values: Sequence[float], colours: Sequence[str], bins: Sequence[float]) -> list[str]:
    """Colour per value from ascending ``bins`` (len(colours) - 1 inner edges): for choropleths whose
    legend is drawn with ``legend_html`` instead of branca's colour map."""
    if len(bins) != len(colours) - 1:
        raise ValueError("need one colour more than bin edges")
    index = np.searchsorted(np.asarray(bins, dtype=float), np.asarray(values, dtype=float), side="right")
    return [colours[int(i)] for i in index]
