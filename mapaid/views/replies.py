"""Private replies in the JSON API (docs/replies.md, "The HTTP API"): start a conversation with a post, read
it, list a post's conversations a page at a time, write in one, delete one (the poster), report its post.

The server stores and hands out public keys and ciphertext; who may read or write comes from a token in a
header (``X-Thread-Token`` for the replier, ``X-Post-Token`` for the poster), never from a cookie, so CSRF
protection does not apply. A thread route asks for its header before it looks the thread up, so a missing
header gets the same answer whether or not the thread exists (401 where either token will do, 400 where
one header is required). Every answer, errors included, is
``Cache-Control: no-store``. Logs name the route pattern only (mapaid.logs), never a token, key or message.
"""

from __future__ import annotations

from typing import Any, NoReturn

from flask import Blueprint, make_response, request
from flask.wrappers import Response

from mapaid import queryargs, replies, reports
from mapaid.db import get_store, settings, today
from mapaid.replies import Conversation, Limits, Refused
from mapaid.threads import Sender, Thread
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
            f"message must be an encrypted v2 message (docs/replies.md) of at most {lim.max_chars}"
            " characters",
            "message",
        ),
        "thread": (404, "no conversation with this id and token", "id"),
        "closed": (409, "the post no longer takes messages (fulfilled, hidden or expired)", "id"),
        "messages-full": (409, f"this conversation is full ({lim.max_messages} messages)", "message"),
        "blocked": (403, "the poster deleted a conversation with this key and takes no other from it", "key"),
        "order": (
            409,
            "the message's counters do not come next in this conversation (it has moved on): read it again"
            " and write after its last message",
            "message",
        ),
        "day": (
            422,
            f"message must carry the site's day, {today().isoformat()} (or a day either side)",
            "message",
        ),
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


def _one_token() -> tuple[Sender, str]:
    """Who the request is from, by which one of the two token headers it sends; otherwise a 401 (no
    usable credentials, as on the post routes), asked before any lookup so that it says nothing about
    whether the thread exists."""
    as_replier = request.headers.get(THREAD_HEADER, "")
    as_poster = request.headers.get(TOKEN_HEADER, "")
    if bool(as_replier) == bool(as_poster):
        fail(
            401,
            f"send exactly one private token: {THREAD_HEADER} (replier) or {TOKEN_HEADER} (poster)",
            THREAD_HEADER,
        )
    return ("replier", as_replier) if as_replier else ("poster", as_poster)


def _thread(thread_id: str, sender: Sender, token: str) -> Thread:
    store = get_store()
    try:
        if sender == "replier":
            return replies.by_thread_token(store, thread_id, token)
        return replies.by_post_token(store, thread_id, token)
    except Refused as error:
        _refused(error)


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
    """One conversation, oldest message first: the replier's (``X-Thread-Token``) or, with the post's
    token, the poster's; with the site's day, which the next message carries."""
    thread = _thread(thread_id, *_one_token())
    store = get_store()
    conversation = replies.read(store, thread)
    return _json(
        {
            "thread": thread.id,
            "post": thread.post_id,
            "post_key": store.reply_key(thread.post_id),
            "replier_key": thread.replier_key,
            "today": today().isoformat(),
            "messages": _messages(conversation),
        }
    )


@bp.delete("/threads/<thread_id>")
def delete_thread(thread_id: str) -> Response:
    """The poster deletes a conversation with their post, and its replier key can start no other."""
    token = _header(TOKEN_HEADER)
    thread = _thread(thread_id, "poster", token)
    try:
        replies.delete(get_store(), thread)
    except Refused as error:  # pragma: no cover - deleted by another request in between
        _refused(error)
    return make_response("", 204)


@bp.get("/posts/<post_id>/threads")
def post_threads(post_id: str) -> Response:
    """The poster's view: their post's conversations, ``replies.PAGE_SIZE`` a page (``?page=``), the one
    with the newest message first."""
    store = get_store()
    if not replies.post_authorised(store, post_id, _header(TOKEN_HEADER)):
        fail(404, "no post with this id and token", "id")
    page = replies.page_of(store, post_id, queryargs.page(request.args))
    threads = [
        {"thread": c.thread.id, "replier_key": c.thread.replier_key, "messages": _messages(c)}
        for c in page.conversations
    ]
    return _json(
        {
            "post": post_id,
            "post_key": store.reply_key(post_id),
            "today": today().isoformat(),
            "page": page.number,
            "pages": page.pages,
            "per_page": replies.PAGE_SIZE,
            "total": page.total,
            "threads": threads,
        }
    )


@bp.post("/threads/<thread_id>/messages")
def post_message(thread_id: str) -> Response:
    """``{"message": wire}`` from the replier (``X-Thread-Token``) or the poster (``X-Post-Token``)."""
    sender, token = _one_token()
    thread = _thread(thread_id, sender, token)
    data = _json_object()
    _only(data, ("message",))
    try:
        count = replies.write(get_store(), thread, sender, data.get("message"), today(), limits())
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
