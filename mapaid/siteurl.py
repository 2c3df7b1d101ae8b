"""Absolute URLs in answers: from ``MAPAID_BASE_URL`` when it is set, never from a header a client chose.

Werkzeug builds ``request.host_url`` from the ``Host`` header (and, behind a trusted proxy, from
``X-Forwarded-Host``), which any client sets as it likes; nginx passes whatever reaches its default server.
An answer that put that host into a link would point a visitor, or a GIS client following an OGC API
``next`` link, at a host of the sender's choosing, and a cache (ours, a proxy's, a client's) could keep
it for everyone. With the setting, the Host header reaches no answer. Without it (a site on one's own
machine) links follow the request, as before.
"""

from __future__ import annotations

from flask import request

from mapaid.db import settings


def absolute(path: str) -> str:
    """``path`` (from the app's root, starting with ``/``) as an absolute URL."""
    base = settings().base_url
    if base is None:
        base = request.url_root.rstrip("/")  # scheme, host and the script root (a proxy's prefix)
    return f"{base}{path}"
