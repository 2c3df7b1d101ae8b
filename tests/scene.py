"""A hand-made scene whose unmet needs are known by construction, for the unmet-needs tests.

Around a centre hexagon C deep inside one district (every cell within 4 rings in that district):
- 2 food needs at C; a food offer in a cell 400-800 m walk away: met within 800 and 1200 m, not 400 m.
- 1 medicine need at C; at C itself a *transport* offer (other category) and medicine offers that are
  hidden, fulfilled or expired: none of them counts, so it is unmet at every distance.
- 1 legal need at C and a legal offer at C (0 m): met at every distance.
- 1 childcare need at C; a childcare offer 800-1200 m away: met within 1200 m only.
In another district, far away (> 1200 m): 1 shelter need with no shelter offer anywhere near, and a
tech offer; the shelter offer placed beside the first scene is too far to help.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import h3.api.basic_int as h3
import numpy as np
import pandas as pd
import shapely

from mapaid.config import DEFAULT_CATEGORIES
from mapaid.geo import Area
from mapaid.models import Status
from mapaid.pipeline import ingest, rules_for
from mapaid.store import Store
from mapaid.walking import estimate_m as walk_m

SECRET = b"test-secret-not-for-production"
HOME = "frunzensky"
AWAY = "partizansky"


def _deep_cell(area: Area, slug: str, rings: int = 4) -> int:
    """A cell whose whole ``rings``-disk lies in district ``slug``, near the district's inner point."""
    geom = area.districts.loc[area.districts["slug"] == slug].geometry.iloc[0]
    point = shapely.point_on_surface(geom)
    start = h3.latlng_to_cell(point.y, point.x, 9)
    for candidate in h3.grid_disk(start, 12):
        disk = np.array(h3.grid_disk(candidate, rings), dtype=np.int64)
        infos = area.cell_info(disk)
        if all(i is not None and i.district == slug and i.covered for i in infos):
            return int(candidate)
    raise AssertionError(f"no cell deep inside {slug}")


def _cell_at(area: Area, centre: int, low: float, high: float) -> int:
    """A cell whose walking distance from ``centre`` is in (low, high]."""
    disk = np.array(h3.grid_disk(centre, 6), dtype=np.int64)
    metres = walk_m(centre, disk, area)
    picked = disk[(metres > low) & (metres <= high)]
    assert len(picked), (low, high)
    return int(picked[0])


@dataclass
class Scene:
    centre: int
    near_food: int
    far_childcare: int
    away: int
    ids: dict[str, str] = field(default_factory=dict)
    # expected unmet needs per distance: {within: {district: {category: unmet}}}
    unmet: dict[int, dict[str, dict[str, int]]] = field(default_factory=dict)
    offers: dict[str, int] = field(default_factory=dict)  # open offers per district
    needs: dict[str, int] = field(default_factory=dict)

    def total_unmet(self, within: int, district: str) -> int:
        return sum(self.unmet[within][district].values())


def _rows(rows: list[tuple[str, str, int, str]], expires: int = 10) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "kind": [r[0] for r in rows],
            "category": [r[1] for r in rows],
            "cell": [h3.int_to_str(r[2]) for r in rows],
            "text": [r[3] for r in rows],
            "expires": [str(expires)] * len(rows),
        }
    )


def _add(store: Store, rows: list[tuple[str, str, int, str]], today: date) -> list[str]:
    frame = _rows(rows)
    result = ingest(
        frame, [f"row {i}" for i in range(len(frame))], rules_for(DEFAULT_CATEGORIES, 9, today), store, SECRET
    )
    return list(result.posts.id)


def build(store: Store, today: date) -> Scene:
    area = store.area()
    centre = _deep_cell(area, HOME)
    near = _cell_at(area, centre, 400, 800)
    far = _cell_at(area, centre, 800, 1200)
    away = _deep_cell(area, AWAY, rings=1)
    assert walk_m(centre, np.array([away]), area)[0] > 3000
    scene = Scene(centre, near, far, away)
    ids = _add(
        store,
        [
            ("need", "food", centre, "need food 1"),
            ("need", "food", centre, "need food 2"),
            ("offer", "food", near, "offer food near"),
            ("need", "medicine", centre, "need medicine"),
            ("offer", "transport", centre, "offer transport"),
            ("offer", "medicine", centre, "offer medicine hidden"),
            ("offer", "medicine", centre, "offer medicine fulfilled"),
            ("need", "legal", centre, "need legal"),
            ("offer", "legal", centre, "offer legal"),
            ("need", "childcare", centre, "need childcare"),
            ("offer", "childcare", far, "offer childcare far"),
            ("offer", "shelter", centre, "offer shelter (far from the need)"),
            ("need", "shelter", away, "need shelter away"),
            ("offer", "tech", away, "offer tech away"),
        ],
        today,
    )
    names = [
        "nf1",
        "nf2",
        "of",
        "nm",
        "ot",
        "om_hidden",
        "om_fulfilled",
        "nl",
        "ol",
        "nc",
        "oc",
        "os",
        "ns",
        "ox",
    ]
    scene.ids = dict(zip(names, ids, strict=True))
    store.set_status(scene.ids["om_hidden"], Status.HIDDEN)
    store.set_status(scene.ids["om_fulfilled"], Status.FULFILLED)
    # An offer that expired yesterday: posted 11 days ago for 10 days.
    expired = _add(
        store, [("offer", "medicine", centre, "offer medicine expired")], today - timedelta(days=11)
    )
    scene.ids["om_expired"] = expired[0]
    scene.unmet = {
        400: {HOME: {"food": 2, "medicine": 1, "childcare": 1}, AWAY: {"shelter": 1}},
        800: {HOME: {"medicine": 1, "childcare": 1}, AWAY: {"shelter": 1}},
        1200: {HOME: {"medicine": 1}, AWAY: {"shelter": 1}},
    }
    scene.offers = {HOME: 5, AWAY: 1}  # open ones: food, transport, legal, childcare, shelter; tech
    scene.needs = {HOME: 5, AWAY: 1}
    return scene
