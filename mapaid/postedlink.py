"""The one-time private link between ``POST /post`` and ``GET /posted`` (post, then redirect: a reload
never posts again, and the link never travels in a redirect or a query string).

It rides in a cookie of its own, ``mapaid_posted``: the post's id and token encrypted and authenticated
(Fernet: AES-CBC and HMAC-SHA256, under a key derived from the server secret for this one use), valid for
ten minutes, HttpOnly, SameSite=Lax. Whoever reads the browser's cookie jar, a proxy's log of cookies or a
screenshot of developer tools gets ciphertext, not the private link. The cookie is cleared by the answer to
the very next request that carries it, whatever that request is (``/posted``, a stylesheet, a page in
another tab): one request reads it, none after. It stays out of Flask's session, so no other answer
touches the session (which would add ``Vary: Cookie`` to public reads) on its account.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from cryptography.fernet import Fernet, InvalidToken
from flask import Flask, g, request
from flask.wrappers import Response

from mapaid.db import clock, settings

COOKIE = "mapaid_posted"
TTL_S = 600  # as long as the form's own one-time nonce (mapaid.formonce) keeps the same link
_PURPOSE = b"mapaid posted-link cookie v1"


def _fernet() -> Fernet:
    key = hmac.new(settings().secret_key.encode(), _PURPOSE, hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def _now() -> int:
    return int(clock().now().timestamp())


def hand_over(post_id: str, token: str) -> None:
    """Give this answer the cookie that lets the next request show the private link once."""
    plain = json.dumps([post_id, token]).encode()
    g.posted_link = _fernet().encrypt_at_time(plain, _now()).decode("ascii")


def take() -> tuple[str, str] | None:
    """The id and token the request's cookie holds, if it is ours and not older than ``TTL_S``."""
    sealed = request.cookies.get(COOKIE)
    if not sealed:
        return None
    try:
        post_id, token = json.loads(_fernet().decrypt_at_time(sealed.encode("ascii"), TTL_S, _now()))
    except (InvalidToken, UnicodeError, ValueError, TypeError):
        return None
    return str(post_id), str(token)


def init_app(app: Flask) -> None:
    @app.after_request
    def _set_or_clear(response: Response) -> Response:
        sealed = g.get("posted_link")
        if not sealed and COOKIE not in request.cookies:
            return response
        response.set_cookie(
            COOKIE,
            sealed or "",
            max_age=TTL_S if sealed else 0,
            expires=None if sealed else 0,
            path=request.script_root or "/",
            httponly=True,
            secure=settings().secure_cookies,
            samesite="Lax",
        )
        return response
