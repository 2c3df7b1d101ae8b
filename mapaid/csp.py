"""Content-Security-Policy with a fresh nonce per response, for pages that may be cached and shared.

Rendered HTML (page caches, the base maps folium makes once per language) carries a fixed placeholder
in its ``nonce`` attributes; ``fill`` swaps it for the response's own random nonce just before the page
leaves, so a cached page stays shareable and no visitor ever sees another visitor's nonce. Only elements
we wrote (our templates, folium's generated code) carry the placeholder; data never makes one, because
every escaper on the way to a page (Jinja's autoescape, ``maps.script_json``, the map layers' JSON) turns
the ``"`` of ``nonce="…"`` into something else (test_csp.py tries). The policy allows scripts and styles
from our own host and inline ones only with the nonce: no ``'unsafe-inline'``, so a name that slipped
through as markup still could neither run (``onerror=``) nor restyle the page.
"""

from __future__ import annotations

import re
import secrets
from urllib.parse import urlsplit

from markupsafe import Markup

PLACEHOLDER = "mapaid-csp-nonce"
ATTRIBUTE = f'nonce="{PLACEHOLDER}"'
_ATTRIBUTE_BYTES = ATTRIBUTE.encode()
# An opening <script> or <style> tag; the attributes are checked in _tag for src= and an existing nonce.
_OPENING = re.compile(r"<(script|style)(\s[^>]*)?>", re.IGNORECASE)


def new_nonce() -> str:
    """128 random bits, URL-safe base64 (a valid CSP nonce)."""
    return secrets.token_urlsafe(16)


def _tag(match: re.Match[str]) -> str:
    name, attributes = match.group(1), match.group(2) or ""
    lowered = attributes.lower()
    if "nonce=" in lowered or re.search(r"\bsrc\s*=", lowered):
        return match.group(0)  # a file from our host ('self') needs no nonce
    return f"<{name} {ATTRIBUTE}{attributes}>"


def add_nonces(html: str) -> Markup:
    """Give every inline <script> and <style> element of generated ``html`` the placeholder nonce.

    For markup we generate ourselves (folium's output), never for data: data goes into pages escaped."""
    return Markup(_OPENING.sub(_tag, html))  # noqa: S704 - our own generated markup, only tags changed


def fill(body: bytes, nonce: str) -> bytes:
    """The page with its placeholder nonce attributes set to ``nonce``."""
    return body.replace(_ATTRIBUTE_BYTES, f'nonce="{nonce}"'.encode())


def policy(tiles: str | None, nonce: str | None) -> str:
    """Only our own host, plus the tile server's images when tiles are configured: the browser itself
    refuses anything that would reach another host. Inline scripts and styles run only with ``nonce``
    (none at all when ``nonce`` is None, as for JSON and files)."""
    images = "'self' data:"
    if tiles:
        parts = urlsplit(tiles.replace("{s}", "a"))
        host = parts.netloc.replace("a.", "*.", 1) if "{s}" in tiles else parts.netloc
        images += f" {parts.scheme}://{host}"
    inline = f" 'nonce-{nonce}'" if nonce else ""
    return (
        f"default-src 'self'; script-src 'self'{inline}; style-src 'self'{inline}; "
        f"img-src {images}; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; "
        "base-uri 'self'; form-action 'self'"
    )
