"""Synthetic offers and needs for trying mapaid out. No real chat, person or place is used.

Posts are spread over districts in proportion to how many open yard chats each Minsk district had in the
2020 dze.chat directory (aggregate counts, see geodata/SOURCE.md), and clustered around a few made-up
neighbourhood centres per district, roughly as the chats were (median nearest-neighbour distance ~200 m).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from mapaid.geo import Area

# Open yard chats per district in the 2020 directory (693 inside Minsk).
CHATS_2020 = {
    "frunzensky": 163,
    "moskovsky": 138,
    "pervomaysky": 79,
    "leninsky": 73,
    "zavodskoy": 62,
    "sovetsky": 58,
    "oktyabrsky": 47,
    "centralny": 47,
    "partizansky": 26,
}

TEXTS = {
    ("offer", "food"): [
        "Can share soup and bread tonight",
        "Extra potatoes from the dacha, come by",
        "Will buy groceries for anyone who cannot go out",
    ],
    ("need", "food"): ["Need groceries delivered this week", "Looking for baby formula"],
    ("offer", "medicine"): ["Have a spare blood pressure monitor", "Can pick up prescriptions"],
    ("need", "medicine"): ["Need insulin pen needles", "Looking for someone to fetch medicine"],
    ("offer", "transport"): [
        "Driving to the centre at 9 most mornings",
        "Can give a lift to the hospital",
    ],
    ("need", "transport"): ["Need a ride to a court hearing", "Need help moving a fridge"],
    ("offer", "childcare"): [
        "Can watch kids after school",
        "Retired teacher, happy to help with homework",
    ],
    ("need", "childcare"): ["Need someone to pick up my son from school"],
    ("offer", "shelter"): ["Spare room for a few nights"],
    ("need", "shelter"): ["Need a place to stay for two nights"],
    ("offer", "legal"): ["Lawyer, free first consultation", "Can explain how to file an appeal"],
    ("need", "legal"): ["Need advice after a detention", "Looking for a lawyer for a relative"],
    ("offer", "tech"): ["Can set up a VPN or fix a laptop", "Will teach secure messaging"],
    ("need", "tech"): ["Phone is broken, need help recovering contacts"],
    ("offer", "other"): ["Yard concert on Sunday, bring tea", "Have a ladder and tools to lend"],
    ("need", "other"): ["Need help carrying things to the 5th floor"],
}
KINDS_WEIGHT = {"offer": 0.55, "need": 0.45}
CLUSTER_SIGMA_DEG = 0.0025  # ~170-280 m at Minsk's latitude


def district_weights(area: Area) -> np.ndarray:
    """Chat counts where we know them (Minsk), otherwise district area."""
    if set(area.slugs) <= set(CHATS_2020):
        weights = np.array([CHATS_2020[s] for s in area.slugs], dtype=float)
    else:
        weights = area.districts.to_crs(area.metric_crs).area.to_numpy()
    result: np.ndarray = weights / weights.sum()
    return result


def _points_in(geom: shapely.Geometry, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points inside ``geom``: clustered around a few centres, each centre itself inside."""
    west, south, east, north = geom.bounds
    centres: list[tuple[float, float]] = []
    while len(centres) < max(3, n // 40 + 1):
        x, y = rng.uniform(west, east), rng.uniform(south, north)
        if shapely.contains_xy(geom, x, y):
            centres.append((x, y))
    out = np.empty((0, 2))
    while len(out) < n:
        k = rng.integers(0, len(centres), size=2 * (n - len(out)) + 8)
        pts = np.array(centres)[k] + rng.normal(0, CLUSTER_SIGMA_DEG, size=(len(k), 2)) * [1.7, 1.0]
        pts = pts[shapely.contains_xy(geom, pts[:, 0], pts[:, 1])]
        out = np.vstack([out, pts])
    result: np.ndarray = out[:n]
    return result


def generate(area: Area, n: int, seed: int, categories: tuple[str, ...]) -> pd.DataFrame:
    """``n`` synthetic rows with lat, lon, kind, category, text, expires: the same columns as a CSV import."""
    rng = np.random.default_rng(seed)
    per_district = rng.multinomial(n, district_weights(area))
    coords = np.vstack(
        [
            _points_in(geom, int(m), rng)
            for geom, m in zip(area.districts.geometry.values, per_district, strict=True)
        ]
    )
    kinds = rng.choice(list(KINDS_WEIGHT), size=n, p=list(KINDS_WEIGHT.values()))
    cats = rng.choice(list(categories), size=n)
    texts = [
        TEXTS.get((k, c), TEXTS[(k, "other")])[
            int(rng.integers(0, 1 << 30)) % len(TEXTS.get((k, c), TEXTS[(k, "other")]))
        ]
        for k, c in zip(kinds.tolist(), cats.tolist(), strict=True)
    ]
    return pd.DataFrame(
        {
            "lat": coords[:, 1],
            "lon": coords[:, 0],
            "kind": kinds,
            "category": cats,
            "text": texts,
            "expires": rng.integers(3, 31, size=n).astype(str),
        }
    )
