"""Which OpenStreetMap ways a person can walk: the one place the walking graph's tag rules live.

``mapaid network build`` (mapaid/network.py) keeps a way when ``walkable(tags)`` says so. The rules, in
order:

1. ``foot=no``, ``foot=private`` (or ``foot=use_sidepath``): never, whatever else the way says.
2. ``foot=yes|designated|permissive``: always (a footpath across a car park, a trunk road's pavement
   mapped on the road itself).
3. ``access=private|no`` (and no foot tag allowing it, see 2.): never: gated yards, factory grounds.
4. ``highway`` in ``ALWAYS``: footways, paths, steps, pedestrian streets, living streets, residential
   and service roads, unclassified, tertiary and larger streets (and their links).
5. ``highway`` in ``WITH_SIDEWALK`` (trunk roads) only with a sidewalk on the road itself
   (``sidewalk=both|left|right|yes``); ``sidewalk=separate`` means it is mapped as its own footway.
6. Anything else (motorways, construction, proposed, raceways, cycleways and tracks without a foot tag,
   railways, waterways) is not walked.
"""

from __future__ import annotations

from collections.abc import Mapping

ALWAYS = frozenset(
    {
        "footway",
        "path",
        "pedestrian",
        "steps",
        "living_street",
        "residential",
        "service",
        "unclassified",
        "tertiary",
        "tertiary_link",
        "secondary",
        "secondary_link",
        "primary",
        "primary_link",
        "road",  # unknown classification: an ordinary street until someone says otherwise
        "corridor",  # indoor passages, e.g. through the railway station
        "platform",
    }
)
WITH_SIDEWALK = frozenset({"trunk", "trunk_link"})
SIDEWALK_ON_ROAD = frozenset({"both", "left", "right", "yes"})
FOOT_YES = frozenset({"yes", "designated", "permissive"})
FOOT_NO = frozenset({"no", "private", "use_sidepath"})
ACCESS_NO = frozenset({"private", "no"})
NEVER = frozenset({"motorway", "motorway_link", "construction", "proposed", "abandoned", "raceway"})


def walkable(tags: Mapping[str, str]) -> bool:
    """Whether a way with these tags belongs to the walking graph (rules in the module docstring)."""
    highway = tags.get("highway")
    if highway is None or highway in NEVER:
        return False
    foot = tags.get("foot")
    if foot in FOOT_NO:
        return False
    if foot in FOOT_YES:
        return True
    if tags.get("access") in ACCESS_NO:
        return False
    if highway in ALWAYS:
        return True
    if highway in WITH_SIDEWALK:
        sidewalk = tags.get("sidewalk") or tags.get("sidewalk:both") or ""
        return sidewalk in SIDEWALK_ON_ROAD
    return False
