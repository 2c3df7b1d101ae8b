"""Private replies, the pages: a post's public page (where a neighbour answers it) and a conversation's
private link (where the neighbour reads the answer). docs/replies.md is the scheme.

Only wiring. Encryption and decryption happen in the browser (static/replycrypto.js, static/replies.js):
these views hand the page public keys, ids and words, never a private key (the key lives in the link's
fragment, which no request carries) and never a message. The pages' scripts talk to the JSON API
(views/api.py) for the ciphertext.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import h3.api.basic_int as h3
from flask import Blueprint, abort, g, render_template, request
from flask.wrappers import Response
from flask_babel import format_date, gettext
from markupsafe import Markup

from mapaid.db import get_store, settings, today
from mapaid.hexlabel import hexagon_label
from mapaid.i18n import current_language
from mapaid.maps import script_json
from mapaid.replies import Refused, by_thread_token
from mapaid.siteurl import absolute
from mapaid.views.reports import reason_choices
from mapaid.views.resident import _html

bp = Blueprint("replypages", __name__)


def max_chars() -> int:
    return settings().reply_max_chars


def _labels(role: str) -> dict[str, str]:
    """The words replies.js shows, in this request's language ({n} and {max} are filled in there)."""
    them = {"poster": gettext("Neighbour"), "replier": gettext("The poster"), "answer": gettext("The poster")}
    answer = {
        "poster": gettext("Your answer"),
        "replier": gettext("Your message"),
        "answer": gettext("Your message to the poster"),
    }
    return {
        "loading": gettext("Decrypting the messages in your browser…"),
        "none": gettext("No replies yet. New ones show when you open this page again."),
        "reload": gettext("New messages show when you open this page again."),
        "conversation": gettext("Conversation {n}"),
        "you": gettext("You"),
        "them": them[role],
        "damaged": gettext("This message was changed or damaged, so it is not shown."),
        "answerLabel": answer[role],
        "send": gettext("Send privately"),
        "sending": gettext("Encrypting and sending…"),
        "sent": gettext("Sent."),
        "empty": gettext("Write a message first."),
        "tooLong": gettext("A message can be at most {max} characters."),
        "count": gettext("{n} of {max} characters"),
        "full": gettext("This conversation is full: no more messages can be added."),
        "fullPost": gettext(
            "This post cannot take more answers: it has as many conversations as it can hold,"
            " or it has ended."
        ),
        "gone": gettext("This post or conversation is no longer there (it may have ended or been deleted)."),
        "tooMany": gettext("Too many messages from you just now; try again in a few minutes."),
        "refused": gettext("The site did not accept this message; please try again."),
        "offline": gettext("Could not reach the site; check your connection and try again."),
        "unsupported": gettext(
            "This browser cannot encrypt or read replies (it lacks WebCrypto); try a current browser."
        ),
        "wrongKey": gettext("The key in this link does not fit; open the full private link again."),
        "chooseReason": gettext("Choose a reason."),
        "reported": gettext(
            "Reported. Thank you: coordinators will look at the post; they never see messages."
        ),
        **_guard_labels(),
    }


def _guard_labels() -> dict[str, str]:
    """The words for what protects a conversation: where its reading stopped and why, a swapped key, a
    refused write, deleting a conversation and the pages of them (docs/replies.md)."""
    return {
        "stopped_damaged": gettext("This message was changed or damaged, so it is not shown."),
        "stopped_order": gettext(
            "A message is missing, repeated or out of order here, so nothing from here on is shown."
        ),
        "stopped_day": gettext("The date of this message was changed, so it is not shown."),
        "unread": gettext("Later messages not read: {n}."),
        "tampered": gettext(
            "This conversation was changed on the server: a message in it was altered, moved, removed or"
            " re-dated. To be safe, no answer can be sent in it."
        ),
        "postKeyChanged": gettext(
            "The post's key on the server is not the one you wrote to: someone may have changed it to read"
            " your messages. Nothing is shown, and do not write here."
        ),
        "moved": gettext("The conversation changed just now; please send your message again."),
        "stale": gettext("This page was opened on another day: reload it, then send your message again."),
        "blocked": gettext("The poster has closed conversations from this browser's key."),
        "deleteThread": gettext("Delete this conversation"),
        "deleteAsk": gettext(
            "Delete this conversation for good? Its messages go, and this neighbour can start no other"
            " conversation with your post from the same key."
        ),
        "deleteYes": gettext("Yes, delete it"),
        "deleteNo": gettext("No, keep it"),
        "deleted": gettext("The conversation was deleted."),
        "pagesLabel": gettext("Pages of conversations"),
        "pageOf": gettext("Conversations {from}–{to} of {total}"),
        "newer": gettext("Newer conversations"),
        "older": gettext("Older conversations"),
    }


def _months() -> list[str]:
    """ "{d} <month>" for each month, in this language's own form (Babel: Belarusian and Russian months
    in the genitive), so the pages say a message's day the same way everywhere, whatever the browser's
    own locale data holds."""
    return [format_date(date(2001, m, 1), "d MMMM").replace("1", "{d}", 1) for m in range(1, 13)]


def replies_config(role: str, **ids: str | None) -> Markup:
    """The JSON block replies.js reads: role, where the API is, the ids and public keys, the limit, words."""
    config: dict[str, Any] = {
        "role": role,
        "api": f"{request.script_root}/api/v1",
        "root": request.script_root,
        "lang": current_language(),
        "maxChars": max_chars(),
        "labels": _labels(role),
        "months": _months(),
        **ids,
    }
    return script_json(config)


def _open_post(post_id: str) -> dict[str, Any]:
    frame = get_store().posts(today(), id=[post_id])
    if frame.empty:
        abort(404, description=gettext("There is no open post with this id (it may have ended)."))
    return {str(k): v for k, v in frame.iloc[0].to_dict().items()}


@bp.get("/p/<post_id>")
def post_page(post_id: str) -> Response:
    """One open post, public (what the list shows of it), and the box to answer it privately when it has
    a reply key. Closed, hidden, expired and unknown posts are all the same 404."""
    post = _open_post(post_id)
    cell = int(post["cell"])
    reply_key = post.get("reply_key") or None
    body = render_template(
        "postpage.html",
        post=post,
        hexagon=hexagon_label(get_store(), cell, current_language()),
        cell=h3.int_to_str(cell),
        replies=replies_config("answer", post=post_id, postKey=reply_key, today=today().isoformat())
        if reply_key
        else None,
        max_chars=max_chars(),
    )
    return _html(body)


@bp.get("/thread/<thread_id>/<token>")
def thread_page(thread_id: str, token: str) -> Response:
    """A replier's private link: the conversation, read in the browser with the key in the fragment. An
    unknown conversation and a wrong token are the same 404 (mapaid.replies compares in constant time)."""
    store = get_store()
    try:
        thread = by_thread_token(store, thread_id, token)
    except Refused:
        abort(
            404,
            description=gettext(
                "This private link does not match any conversation (its post may have ended)."
            ),
        )
    post = store.get(thread.post_id)
    if post is None:  # pragma: no cover - a thread goes with its post, in the same transaction
        abort(404)
    path = f"{request.script_root}/thread/{thread_id}/{token}"
    g.lang_path = path  # the language switcher reopens the link itself; replies.js adds the #k=
    body = render_template(
        "thread.html",
        post=post,
        hexagon=hexagon_label(store, int(post["cell"]), current_language()),
        thread_url=absolute(f"/thread/{thread_id}/{token}"),
        replies=replies_config("replier", thread=thread_id, token=token),
        reasons=reason_choices(),
    )
    return _html(body, private=True)
