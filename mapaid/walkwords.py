"""How a walking distance was measured, in the words pages show (mapaid/walking.py measures it).

"network": the street graph (OpenStreetMap ways) covers both hexagons; "estimate": the straight line
between hexagon centres x 1.3. Pages say which, in the request's language. The resident's pages say the
factor as "+ 30%" rather than "× 1.3": they show no formula (issue 8, tests/test_resident.py); the
coordinator's pages, the report and the API documentation name the factor itself.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from flask_babel import gettext


def walk_source_words() -> dict[str, str]:
    """``walk_source`` value -> words, in the request's language."""
    return {
        "network": str(gettext("on foot by the streets")),
        "estimate": str(gettext("estimate: straight line + 30%")),
    }


def walk_summary(network: npt.NDArray[np.bool_]) -> str:
    """One sentence for a page: where its walking distances came from."""
    if len(network) and network.all():
        return str(gettext("Walking distances: on foot by the streets (OpenStreetMap)."))
    if not network.any():
        return str(gettext("Walking distances: estimate: straight line + 30%."))
    return str(
        gettext(
            "Walking distances: on foot by the streets where the street map covers both hexagons, "
            "elsewhere estimate: straight line + 30%."
        )
    )
