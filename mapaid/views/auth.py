"""Who is logged in, and the guards every coordinator page uses: login required, no caching, safe redirects.

Shared by the coordinator and moderation blueprints, so each imports it instead of the other.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import abort, g, make_response, redirect, request, session, url_for
from flask.wrappers import Response

from mapaid import accounts
from mapaid.db import get_store

View = TypeVar("View", bound=Callable[..., Any])


def current_coordinator() -> str | None:
    """The logged-in coordinator, if the account still exists (removing it ends its sessions)."""
    name = session.get("coordinator")
    if not isinstance(name, str) or not accounts.exists(get_store(), name):
        return None
    return name


def local_target(target: str | None) -> str:
    """``target`` if it is a path on this site, else the dashboard: no open redirects. No control
    characters: CR/LF cannot go in a Location header, and browsers drop tab/CR/LF (``/\t/host`` is
    ``//host``)."""
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and not any(ch < " " or ch == "\x7f" for ch in target)
    ):
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
        g.coordinator = name
        return view(*args, **kwargs)

    return cast(View, wrapped)


def private_page(body: str, status: int = 200) -> Response:
    """A response no cache keeps (``no-store``): coordinator pages show contacts and hidden posts."""
    response = make_response(body, status)
    response.headers["Cache-Control"] = "no-store"
    return response
