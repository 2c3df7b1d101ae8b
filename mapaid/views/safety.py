"""The Safety page (what is public, what is private, what the server never has) and the neutral page the
"Quick exit" button leaves for (issue 18, item 4).

The neutral page is our own blank page, not another site: it works with no other host reachable (a
resident behind a filtered network, or offline with the page in her cache), tells no third party that
someone left mapaid, and is not "about:blank", which a link cannot open. base.js replaces the history
entry with it (``location.replace``), so Back does not come back to the page she left; without scripts
the button is a plain link to it. Both pages are the same for everyone, so both may be cached.
"""

from __future__ import annotations

from flask import Blueprint, make_response, render_template
from flask.wrappers import Response

bp = Blueprint("safety", __name__)

# Nothing on it names the site or what it is for: no title, no text, no script, no style; the empty icon
# keeps the browser from asking for /favicon.ico (a 404).
BLANK = (
    b'<!doctype html>\n<html><head><meta charset="utf-8"><link rel="icon" href="data:,">'
    b"<title></title></head><body></body></html>\n"
)


@bp.get("/safety")
def safety() -> Response:
    """Plain words on what the site keeps, in the visitor's language (rendered per request: the header
    carries the visitor's language links)."""
    response = make_response(render_template("safety.html"))
    response.mimetype = "text/html"
    return response


@bp.get("/blank")
def blank() -> Response:
    """The Quick exit's target: empty, and kept by the browser for a day so it opens without the network."""
    response = make_response(BLANK)
    response.mimetype = "text/html"
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response
