"""What a resident reads for a hexagon: its district (and, once mapaid.places lands, the nearest named
place), never its 15-character H3 id, which means nothing to a person. One function, so every page
names a hexagon the same way."""

from __future__ import annotations

import numpy as np
from flask_babel import gettext

from mapaid.geo import Area


def hexagon_district(area: Area, cell: int, lang: str) -> str:
    """The name (in ``lang``) of the district under the cell's centre, '' outside every district."""
    code, _ = area.cell_districts(np.array([cell], dtype=np.int64))
    return area.by_slug[area.slugs[int(code[0])]].name(lang) if code[0] >= 0 else ""


def hexagon_label(area: Area, cell: int, lang: str) -> str:
    """ "A hexagon in Frunzensky district" in the request's language.

    TODO(lead, at merge): name the nearest place too, with mapaid.places.nearest(...), e.g.
    "near Kastryčnickaja metro, Tsentralny district"."""
    district = hexagon_district(area, cell, lang)
    if not district:
        return str(gettext("a hexagon outside the served districts"))
    return str(gettext("a hexagon in %(district)s district", district=district))
