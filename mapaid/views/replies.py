"""Private replies in the JSON API (docs/replies.md, "The HTTP API"): start a conversation with a post, read
it, list a post's conversations, write in one, report its post.

The server stores and hands out public keys and ciphertext; who may read or write comes from a token in a
header (``X-Thread-Token`` for the replier, ``X-Post-Token`` for the poster), never from a cookie, so CSRF
protection does not apply. Every answer, errors included, is ``Cache-Control: no-store``. Logs name the
route pattern only (mapaid.logs), never a token, key or message.
"""

from __future__ import annotations

from typing import Any, NoReturn

from flask import Blueprint, request
from flask.wrappers import Response

from mapaid import replies, reports
from mapaid.db import get_store, settings, today
from mapaid.replies import Conversation, Limits, Refused
from mapaid.views.api import TOKEN_HEADER, _json, _json_object, fail
from mapaid.web import csrf

bp = Blueprint("replies", __name__, url_prefix="/api/v1")
csrf.exempt(bp)
THREAD_HEADER = "X-Thread-Token"


@bp.after_request
def _no_store(response: Response) -> Response:
    """Conversations are private: no cache, shared or the browser's own, may keep an answer."""
    response.headers["Cache-Control"] = "no-store"
    return response


def limits() -> Limits:
    s = settings()
    return Limits(s.reply_max_chars, s.reply_max_messages, s.reply_max_threads)


def _refused(error: Refused) -> NoReturn:
    """The status and words for each reason a request is refused."""
    lim = limits()
    answers: dict[str, tuple[int, str, str]] = {
        "post": (404, "no open post with this id", "id"),
        "no-key": (409, "this post takes no private replies (it has no reply_key)", "id"),
        "threads-full": (
            409,
            f"this post has as many conversations as it can take ({lim.max_threads})",
            "id",
        ),
        "key": (422, "key must be a P-256 or X25519 public key on the post's curve (docs/replies.md)", "key"),
        "message": (
            422,
            f"message must be an encrypted v1 message (docs/replies.md) of at most {lim.max_chars}"
            " characters",
            "message",
        ),
        "thread": (404, "no conversation with this id and token", "id"),
        "closed": (409, "the post no longer takes messages (fulfilled, hidden or expired)", "id"),
        "messages-full": (409, f"this conversation is full ({lim.max_messages} messages)", "message"),
    }
    status, message, field = answers[error.why]
    fail(status, message, field)


def _only(data: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        fail(422, f"unknown field {unknown[0]!r}; send only {' and '.join(allowed)}", unknown[0])


def _header(name: str) -> str:
    token = request.headers.get(name, "")
    if not token:
        fail(400, f"send the private token in the {name} header", name)
    return token


def _messages(conversation: Conversation) -> list[dict[str, str]]:
    return [{"from": m.sender, "message": m.message, "day": m.day} for m in conversation.messages]


@bp.post("/posts/<post_id>/threads")
def create_thread(post_id: str) -> Response:
    """``{"key": replier public key, "message": wire}``: a new conversation with an open post."""
    data = _json_object()
    _only(data, ("key", "message"))
    try:
        started = replies.start(get_store(), post_id, data.get("key"), data.get("message"), today(), limits())
    except Refused as error:
        _refused(error)
    link = f"{request.script_root}/thread/{started.thread}/{started.token}"
    response = _json({"thread": started.thread, "token": started.token, "link": link}, 201)
    response.headers["Location"] = f"{request.script_root}/api/v1/threads/{started.thread}"
    return response


@bp.get("/threads/<thread_id>")
def read_thread(thread_id: str) -> Response:
    """The replier's view of their conversation, oldest message first."""
    store = get_store()
    try:
        thread = replies.by_thread_token(store, thread_id, _header(THREAD_HEADER))
    except Refused as error:
        _refused(error)
    conversation = replies.read(store, thread)
    return _json(
        {
            "thread": thread.id,
            "post": thread.post_id,
            "post_key": store.reply_key(thread.post_id),
            "replier_key": thread.replier_key,
            "messages": _messages(conversation),
        }
    )


@bp.get("/posts/<post_id>/threads")
def post_threads(post_id: str) -> Response:
    """The poster's view: every conversation with their post."""
    store = get_store()
    if not replies.post_authorised(store, post_id, _header(TOKEN_HEADER)):
        fail(404, "no post with this id and token", "id")
    threads = [
        {"thread": c.thread.id, "replier_key": c.thread.replier_key, "messages": _messages(c)}
        for c in replies.threads_of(store, post_id)
    ]
    return _json({"post": post_id, "post_key": store.reply_key(post_id), "threads": threads})


@bp.post("/threads/<thread_id>/messages")
def post_message(thread_id: str) -> Response:
    """``{"message": wire}`` from the replier (``X-Thread-Token``) or the poster (``X-Post-Token``)."""
    as_replier = request.headers.get(THREAD_HEADER, "")
    as_poster = request.headers.get(TOKEN_HEADER, "")
    if get_store().thread(thread_id) is None:  # no conversation: the 404 any token would get
        _refused(Refused("thread"))
    if bool(as_replier) == bool(as_poster):
        fail(
            400,
            f"send one private token: {THREAD_HEADER} (replier) or {TOKEN_HEADER} (poster)",
            THREAD_HEADER,
        )
    store = get_store()
    try:
        if as_replier:
            thread = replies.by_thread_token(store, thread_id, as_replier)
        else:
            thread = replies.by_post_token(store, thread_id, as_poster)
        data = _json_object()
        _only(data, ("message",))
        count = replies.write(
            store, thread, "replier" if as_replier else "poster", data.get("message"), today(), limits()
        )
    except Refused as error:
        _refused(error)
    return _json({"messages": count}, 201)


@bp.post("/threads/<thread_id>/report")
def report_thread(thread_id: str) -> Response:
    """``{"reason": ...}``: the replier reports the conversation's post to the coordinators, who see the
    report as any other (post, reason, day) and never a message."""
    store = get_store()
    try:
        thread = replies.by_thread_token(store, thread_id, _header(THREAD_HEADER))
    except Refused as error:
        _refused(error)
    data = _json_object()
    _only(data, ("reason",))
    reason = data.get("reason")
    if not isinstance(reason, str) or reason not in reports.REASONS:
        fail(422, f"reason must be one of {', '.join(reports.REASONS)}", "reason")
    if not reports.add(store, thread.post_id, reason, today()):
        fail(404, "no open post with this id", "id")
    return _json({"id": thread.post_id, "reason": reason}, 202)
