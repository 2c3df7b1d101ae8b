"""What a resident reads for a hexagon: its district and the nearest named place (a metro station, a square,
a street), never its 15-character H3 id, which means nothing to a person. One function, so every page
names a hexagon the same way. The place is looked up from the hexagon's centre, so the label says no more
than the hexagon does."""

from __future__ import annotations

import h3.api.basic_int as h3
import numpy as np
from flask_babel import gettext

from mapaid import places
from mapaid.geo import Area
from mapaid.store import Store


def hexagon_district(area: Area, cell: int, lang: str) -> str:
    """The name (in ``lang``) of the district under the cell's centre, '' outside every district."""
    code, _ = area.cell_districts(np.array([cell], dtype=np.int64))
    return area.by_slug[area.slugs[int(code[0])]].name(lang) if code[0] >= 0 else ""


def hexagon_label(store: Store, cell: int, lang: str) -> str:
    """ "A hexagon in Tsentralny District, near Kastryčnickaja" in the request's language (without the
    place when none is named close to the hexagon's centre)."""
    district = hexagon_district(store.area(), cell, lang)
    if not district:
        return str(gettext("a hexagon outside the served districts"))
    lat, lon = h3.cell_to_latlng(cell)
    place = places.nearest(store, lon, lat, lang)
    if place:
        return str(gettext("a hexagon in %(district)s, close to %(place)s", district=district, place=place))
    return str(gettext("a hexagon in %(district)s", district=district))
