"""Scripts and stylesheets, all served by the app itself so pages work with the internet cut off.

Leaflet and Leaflet.markercluster come from their XStatic packages on PyPI (the versions folium's defaults
name), under ``/static/vendor/<package>/``; our own files live in ``mapaid/static`` under ``/static/``.
Nothing here ever names another host.
"""

from __future__ import annotations

from pathlib import Path

import xstatic.pkg.leaflet as xs_leaflet
import xstatic.pkg.leaflet_markercluster as xs_markercluster
from flask import Blueprint, abort, send_from_directory
from flask.wrappers import Response

VENDOR_PREFIX = "/static/vendor"
VENDOR: dict[str, Path] = {
    "leaflet": Path(xs_leaflet.BASE_DIR),
    "leaflet-markercluster": Path(xs_markercluster.BASE_DIR),
}
LEAFLET_VERSION = str(xs_leaflet.VERSION)

# (name, path) pairs in folium's shape: what a map page loads, in order.
LEAFLET_JS = ("leaflet", f"{VENDOR_PREFIX}/leaflet/leaflet.js")
LEAFLET_CSS = ("leaflet_css", f"{VENDOR_PREFIX}/leaflet/leaflet.css")
CLUSTER_JS = ("markercluster_js", f"{VENDOR_PREFIX}/leaflet-markercluster/leaflet.markercluster.js")
CLUSTER_CSS = (
    ("markercluster_css", f"{VENDOR_PREFIX}/leaflet-markercluster/MarkerCluster.css"),
    ("markercluster_default_css", f"{VENDOR_PREFIX}/leaflet-markercluster/MarkerCluster.Default.css"),
)

bp = Blueprint("assets", __name__)


@bp.get(f"{VENDOR_PREFIX}/<package>/<path:filename>")
def vendor(package: str, filename: str) -> Response:
    """A file of a vendored package; ``send_from_directory`` refuses paths leaving the package folder."""
    folder = VENDOR.get(package)
    if folder is None:
        abort(404)
    return send_from_directory(folder, filename, max_age=86400)
