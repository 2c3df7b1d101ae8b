"""The gazetteer for the search box: ``/places.json``, the same bytes for everyone.

The page searches it in the browser (mapaid/static/places.js), so the server never learns what anyone
looked for: this route takes no parameter at all.
"""

from __future__ import annotations

from typing import Any

import orjson
from flask import Blueprint, make_response, request
from flask.wrappers import Response
from flask_babel import gettext, pgettext

from mapaid import places
from mapaid.cache import SharedCache
from mapaid.db import get_store, settings
from mapaid.i18n import current_language
from mapaid.public import public_read

bp = Blueprint("places", __name__)
# The gazetteer of one database, rebuilt when it is written to (places are loaded rarely; the revision
# also grows with posts, which costs a rebuild of ~20 ms now and then).
_GAZETTEERS: SharedCache[bytes] = SharedCache("gazetteer", 4)


def _gazetteer_bytes() -> bytes:
    store = get_store()
    return _GAZETTEERS.get_or_make(
        lambda: orjson.dumps(places.gazetteer(store)),
        database=str(settings().database),
        revision=store.revision(),
        districts=store.get_meta("districts_version") or "0",
    )


@bp.get("/places.json")
@public_read
def gazetteer() -> Response:
    """Every named place, compact (see places.gazetteer); cacheable by browsers and proxies alike."""
    response = make_response(_gazetteer_bytes())
    response.mimetype = "application/json"
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response  # ETag and 304s: mapaid.httpcache


def kind_labels() -> dict[str, str]:
    return {
        "metro": pgettext("place kind", "metro station"),
        "street": pgettext("place kind", "street"),
        "square": pgettext("place kind", "square"),
        "area": pgettext("place kind", "neighbourhood"),
        "station": pgettext("place kind", "railway station"),
        "stop": pgettext("place kind", "stop"),
        "entrance": pgettext("place kind", "metro entrance"),
        "park": pgettext("place kind", "park"),
        "school": pgettext("place kind", "school"),
        "place": pgettext("place kind", "place"),
        "shop": pgettext("place kind", "shop"),
        "house": pgettext("place kind", "house"),
    }


def search_config() -> dict[str, Any] | None:
    """What the page's search box needs (its words and the gazetteer's address), or None when no place
    is loaded (then the page shows no search box)."""
    store = get_store()
    found = places.sources(store)
    if not found:
        return None
    return {
        "url": f"{request.script_root}/places.json",
        "lang": current_language(),
        "kinds": kind_labels(),
        "credits": sorted(found),
        "labels": {
            "loading": gettext("Loading the list of places…"),
            "found": gettext("%(n)s places found; use the arrow keys to choose one."),
            "none": gettext("No place of that name. Try another spelling or a nearby street."),
            "shown": gettext("The map shows %(name)s; now click your hexagon."),
            # An address was chosen: the hexagon holding it is marked (cells.js), on the map pages only
            # marked, on the posting form chosen for the post.
            "probably": {
                "go": gettext(
                    "Your block is probably this one, marked on the map. Tap it to see what is near."
                ),
                "pick": gettext(
                    "Your block is probably this one, marked on the map and chosen. Tap another if it is not."
                ),
            },
        },
    }
