"""Private replies on the server's side: who may start, read, write and delete a conversation, and its
limits.

The server holds public keys and ciphertext only (docs/replies.md); it checks what it can without a key:
that a key is a P-256 or X25519 public key on the post's curve (not of small order), that a message is a
well-formed version-2 message no bigger than ``MAPAID_REPLY_MAX_CHARS`` characters can make, that its
header's counters come next in the conversation (so two tabs writing at once get a 409, not a thread whose
readers would take it for tampering), that its day is the site's (a day either side), and the counts. Who
is who comes from the token: a thread's token makes the replier, the post's token the poster. An unknown
thread and a wrong token look alike (``Refused("thread")``), and tokens are compared in constant time.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import date
from typing import Literal

from mapaid.models import Status
from mapaid.privacy import new_ids, new_token, token_hash, token_matches
from mapaid.replycrypto import (
    BUCKETS,
    MAX_PLAINTEXT_BYTES,
    BadKey,
    Header,
    curve_of,
    header_of,
    load_public,
    wire_chars,
)
from mapaid.store import Store
from mapaid.threads import Message, Sender, Thread

_NO_HASH = token_hash("")  # compared against when there is no thread, so both cases take the same work
PAGE_SIZE = 10  # conversations per page of a poster's list: what one opening of the private link costs

Why = Literal[
    "post",
    "no-key",
    "threads-full",
    "key",
    "message",
    "thread",
    "closed",
    "messages-full",
    "blocked",
    "order",
    "day",
]


@dataclass(frozen=True)
class Limits:
    """``MAPAID_REPLY_MAX_CHARS``, ``_MAX_MESSAGES`` and ``_MAX_THREADS``."""

    max_chars: int = 1000
    max_messages: int = 50
    max_threads: int = 100


class Refused(Exception):
    """Why a conversation cannot be started, read or written (the API turns ``why`` into a status)."""

    def __init__(self, why: Why) -> None:
        super().__init__(why)
        self.why = why


@dataclass(frozen=True)
class Started:
    thread: str
    token: str  # shown once; the server keeps its hash


@dataclass(frozen=True)
class Conversation:
    thread: Thread
    messages: list[Message]


@dataclass(frozen=True)
class Page:
    """One page of a post's conversations, newest first."""

    conversations: list[Conversation]
    number: int
    pages: int
    total: int


def max_wire_chars(max_chars: int) -> int:
    """The longest wire text a message of ``max_chars`` characters makes: at most 4 UTF-8 bytes each, padded
    to the bucket that holds them (docs/replies.md), with header, nonce and tag, in base64url after v2."""
    longest = min(4 * max_chars, MAX_PLAINTEXT_BYTES) + 2
    return wire_chars(next(b for b in BUCKETS if b >= longest))


def key_hash(post_id: str, key: str) -> str:
    """What the server keeps of a replier key its poster blocked: the key's own text is not kept."""
    return hashlib.sha256(f"mapaid-blocked-key\x00{post_id}\x00{key}".encode()).hexdigest()


def check_message(message: object, limits: Limits, today: date) -> tuple[str, Header]:
    header = header_of(message)
    if header is None or not isinstance(message, str) or len(message) > max_wire_chars(limits.max_chars):
        raise Refused("message")
    if abs((date.fromisoformat(header.day) - today).days) > 1:
        raise Refused("day")
    return message, header


def start(store: Store, post_id: str, key: object, message: object, today: date, limits: Limits) -> Started:
    """A replier's first message to an open post with a reply key: a new thread with a fresh token."""
    post = store.get(post_id)
    if post is None or post["status"] != Status.OPEN or post["expires_day"] < today.isoformat():
        raise Refused("post")
    post_key = store.reply_key(post_id)
    if post_key is None:
        raise Refused("no-key")
    if not isinstance(key, str):
        raise Refused("key")
    try:
        replier = load_public(key)
    except BadKey:
        raise Refused("key") from None
    if curve_of(replier) != curve_of(load_public(post_key)):
        raise Refused("key")
    text, header = check_message(message, limits, today)
    if (header.counter, header.seen) != (0, 0):
        raise Refused("order")
    token, hashed = new_token()
    thread = Thread(new_ids(1)[0], post_id, key, hashed, today.isoformat())
    why = store.start_thread(
        thread,
        Message("replier", text, header.day),
        limits.max_threads,
        today.isoformat(),
        key_hash(post_id, key),
    )
    if why == "full":
        raise Refused("threads-full")
    if why == "blocked":
        raise Refused("blocked")
    if why is not None:  # pragma: no cover - closed between the check above and the write
        raise Refused("post")
    return Started(thread.id, token)


def by_thread_token(store: Store, thread_id: str, token: str) -> Thread:
    """The thread whose token ``token`` is; ``Refused("thread")`` for an unknown id and a wrong token
    alike."""
    thread = store.thread(thread_id)
    matches = token_matches(token, thread.token_hash if thread else _NO_HASH)
    if thread is None or not matches or not token:
        raise Refused("thread")
    return thread


def post_authorised(store: Store, post_id: str, token: str) -> bool:
    """Whether ``token`` is the post's private token (constant time; a missing post costs the same)."""
    stored = store.token_hash(post_id)
    matches = token_matches(token, stored or _NO_HASH)
    return bool(token) and stored is not None and matches


def by_post_token(store: Store, thread_id: str, token: str) -> Thread:
    """The thread, if ``token`` is its post's private token; ``Refused("thread")`` otherwise, alike for an
    unknown thread, an unknown post and a wrong token."""
    thread = store.thread(thread_id)
    authorised = post_authorised(store, thread.post_id if thread else "", token)
    if thread is None or not authorised:
        raise Refused("thread")
    return thread


def read(store: Store, thread: Thread) -> Conversation:
    return Conversation(thread, store.messages(thread.id))


def threads_of(store: Store, post_id: str) -> list[Conversation]:
    return [Conversation(t, store.messages(t.id)) for t in store.threads_of(post_id)]


def page_of(store: Store, post_id: str, number: int) -> Page:
    """Page ``number`` (from 1) of a post's conversations, ``PAGE_SIZE`` at most, the one with the newest
    message first: opening a private link costs the same whatever the number of conversations."""
    threads, total = store.threads_page(post_id, PAGE_SIZE, (number - 1) * PAGE_SIZE)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    return Page([Conversation(t, store.messages(t.id)) for t in threads], number, pages, total)


def write(store: Store, thread: Thread, sender: Sender, message: object, today: date, limits: Limits) -> int:
    """Append a message from ``sender``; how many the thread now holds."""
    text, header = check_message(message, limits, today)
    result = store.add_message(
        thread.id,
        Message(sender, text, header.day),
        limits.max_messages,
        today.isoformat(),
        (header.counter, header.seen),
    )
    if result == "full":
        raise Refused("messages-full")
    if result == "post":
        raise Refused("closed")
    if result == "order":
        raise Refused("order")
    if isinstance(result, str):  # pragma: no cover - deleted between the token check and the write
        raise Refused("thread")
    return result


def delete(store: Store, thread: Thread) -> None:
    """The poster deletes a conversation and blocks its replier key for the post."""
    if not store.delete_thread(thread.id, key_hash(thread.post_id, thread.replier_key)):  # pragma: no cover
        raise Refused("thread")  # deleted between the token check and now
