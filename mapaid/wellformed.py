"""Requests whose path, query string or form body is not UTF-8 are refused with a 400.

Werkzeug decodes such bytes with replacement characters, so ``%ED%A0%80`` (a lone surrogate, as some
encoders write it) or any other broken sequence would reach a post's text as U+FFFD and be stored as if the
person had typed it. Refusing says what is wrong instead; the JSON API's bodies are checked by the intake,
which names the field (``"\\ud800"`` escapes decode to a lone surrogate there).
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from flask import Flask, abort, request
from flask_babel import gettext

FORM = "application/x-www-form-urlencoded"


def _utf8(raw: bytes, *, percent_encoded: bool = True) -> bool:
    try:
        (unquote_to_bytes(raw.replace(b"+", b" ")) if percent_encoded else raw).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def check() -> None:
    """Abort with 400 unless path, query string and a url-encoded form body are UTF-8 once decoded."""
    path = request.environ.get("PATH_INFO", "").encode("latin-1", "replace")  # WSGI: decoded, as latin-1
    if not (_utf8(path, percent_encoded=False) and _utf8(request.query_string)):
        abort(400, description=gettext("The address is not UTF-8 text."))
    if request.mimetype == FORM and not _utf8(request.get_data(cache=True)):
        abort(400, description=gettext("The form is not UTF-8 text."))


def init_app(app: Flask) -> None:
    app.before_request(check)
