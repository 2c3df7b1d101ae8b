"""Who is logged in, and the guards every coordinator page uses: login required, no caching, safe redirects.

Shared by the coordinator and moderation blueprints, so each imports it instead of the other. A login is a
server-side record (``mapaid.sessions``); Flask's signed cookie carries only its random id under ``sid``,
so the server secret alone cannot make one, and ending the record ends every copy of the cookie. The
known-device cookie (``mapaid.devices``) is a cookie of its own, beside Flask's: it outlives logins.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import unquote, urlsplit

from flask import Blueprint, abort, current_app, g, make_response, redirect, request, session, url_for
from flask.wrappers import Response
from werkzeug.wrappers import Response as BaseResponse

from mapaid import devices, sessions
from mapaid.db import get_store, now, settings, today
from mapaid.loginguard import LoginGuard
from mapaid.models import DeviceRecord

View = TypeVar("View", bound=Callable[..., Any])


def _policy() -> sessions.Policy:
    return sessions.Policy.from_settings(settings())


def current_coordinator() -> str | None:
    """The coordinator whose live login this request's cookie names, once per request (``g``)."""
    if "coordinator" not in g:
        sid = session.get("sid")
        g.coordinator = (
            sessions.resume(get_store(), sid, now(), _policy()) if isinstance(sid, str) and sid else None
        )
    name: str | None = g.coordinator
    return name


def begin_login(name: str) -> None:
    """Log ``name`` in with a new session id: whatever the cookie held before (a CSRF token, an older
    login, an id someone planted) is dropped, so nobody can fix the id in advance."""
    end_login()
    session["sid"] = sessions.start(get_store(), name, now(), _policy())
    g.coordinator = name


def end_login() -> None:
    """End this cookie's login on the server (every copy of the cookie with it) and clear the cookie."""
    sid = session.get("sid")
    if isinstance(sid, str) and sid:
        sessions.end(get_store(), sid)
    session.clear()
    g.coordinator = None


def known_device(name: str) -> DeviceRecord | None:
    """The known device of ``name`` this request's device cookie stands for, if any (``devices.known``)."""
    return devices.known(get_store(), request.cookies.get(devices.COOKIE), name, today())


def remember_device(response: BaseResponse, name: str, device: DeviceRecord | None) -> None:
    """After ``name`` logged in: give this browser a device cookie (a new one, or a renewed one), unless
    the one it came with stays good. HttpOnly; SameSite=Strict, since only our own login and logout forms
    need it (a link from another site never carries it); Secure with ``MAPAID_SECURE_COOKIES``."""
    fresh = devices.remember(get_store(), name, device, today())
    if fresh is not None:
        response.set_cookie(
            devices.COOKIE,
            fresh,
            max_age=devices.max_age_s(),
            path=devices.COOKIE_PATH,
            secure=settings().secure_cookies,
            httponly=True,
            samesite="Strict",
        )


def forget_device(response: BaseResponse) -> None:
    """Forget this browser's known device on the server and take its cookie away."""
    devices.forget(get_store(), request.cookies.get(devices.COOKIE))
    response.delete_cookie(
        devices.COOKIE,
        path=devices.COOKIE_PATH,
        secure=settings().secure_cookies,
        httponly=True,
        samesite="Strict",
    )


def login_guard() -> LoginGuard:
    guard: LoginGuard = current_app.extensions["mapaid.loginguard"]
    return guard


def no_store(bp: Blueprint) -> None:
    """Every answer of ``bp`` (pages, JSON, redirects and errors alike) is kept by no cache: they show
    contacts, hidden posts and who is logged in."""

    @bp.after_request
    def _no_store(response: Response) -> Response:
        response.headers["Cache-Control"] = "no-store"
        return response


def _unsafe_char(char: str) -> bool:
    """Characters a browser may drop or reinterpret in a URL: controls, any whitespace, backslashes."""
    return char == "\\" or char.isspace() or unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp", "Zs")


def is_local_path(target: str) -> bool:
    """Whether ``target`` is a path on this site and nothing a browser could read as another site:
    no control characters, whitespace or backslashes (browsers drop tab, CR and LF, and read ``\\`` as
    ``/``, so ``/<tab>/evil`` and ``/\\evil`` become ``//evil``), no scheme, no host, no leading ``//``;
    the same once percent-decoded, in case something down the line decodes it."""
    for form in (target, unquote(target)):
        if any(_unsafe_char(c) for c in form):
            return False
        if not form.startswith("/") or form.startswith("//"):
            return False
        parts = urlsplit(form)
        if parts.scheme or parts.netloc:
            return False
    return True


def local_target(target: str | None) -> str:
    """``target`` if it is a path on this site, else the dashboard: no open redirects."""
    if target and is_local_path(target):
        return target
    return url_for("coordinator.dashboard")


def login_required(view: View) -> View:
    """Pages redirect to the login page (coming back afterwards); the API answers 401. Sets g.coordinator."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        name = current_coordinator()
        if name is None:
            if request.path.startswith("/api/"):
                abort(401, description="Log in as a coordinator first.")
            query = request.query_string.decode()
            return redirect(url_for("coordinator.login", next=request.path + (f"?{query}" if query else "")))
        return view(*args, **kwargs)

    return cast(View, wrapped)


def private_page(body: str, status: int = 200) -> Response:
    """A response no cache keeps (``no-store``): coordinator pages show contacts and hidden posts."""
    response = make_response(body, status)
    response.headers["Cache-Control"] = "no-store"
    return response
