"""Private replies' conversations: their value types (``Thread``, ``Message``), which every store uses, and
the SQLite store's tables for them (``ThreadTables``, a mixin of ``sqlitestore.SQLiteStore``; the only SQL
outside sqlitestore.py, and SQLite's alone: another backend keeps conversations in its own file).

What is kept is written down in docs/replies.md ("What the server keeps"): per conversation a random id,
its post, the replier's public key, a hash of the thread token and the day it began; per message its
position, sender, ciphertext (the wire text, never plaintext) and day; per post the hashes of the replier
keys its poster blocked by deleting their conversations. No address, no time of day, no private key. The
tables are ``WITHOUT ROWID`` (keyed by random ids and hashes), so neither a scan nor the file keeps the
order in which conversations began. Conversations go with their post: the store deletes them, and the
blocked keys, explicitly in the same transaction as the post (``delete_for_posts``), and ``ON DELETE
CASCADE`` catches any path that forgets. Writes here do not bump the store's revision: no public page or
cached aggregate depends on conversations, so a flood of messages cannot flush caches.
"""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Literal

from mapaid.visibility import public_where

Sender = Literal["poster", "replier"]

THREADS_TABLE = """CREATE TABLE IF NOT EXISTS threads (
    id TEXT PRIMARY KEY,
    post_id TEXT NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    replier_key TEXT NOT NULL CHECK (length(replier_key) <= 200),
    token_hash TEXT NOT NULL,
    day TEXT NOT NULL
) WITHOUT ROWID"""
THREADS_INDEX = "CREATE INDEX IF NOT EXISTS threads_post ON threads (post_id)"
MESSAGES_TABLE = """CREATE TABLE IF NOT EXISTS messages (
    thread_id TEXT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL CHECK (seq >= 0),
    sender TEXT NOT NULL CHECK (sender IN ('poster', 'replier')),
    message TEXT NOT NULL,
    day TEXT NOT NULL,
    PRIMARY KEY (thread_id, seq)
) WITHOUT ROWID"""
# The replier keys a post's poster blocked (mapaid/replies.py ``key_hash``): a hash, nothing else.
BLOCKED_TABLE = """CREATE TABLE IF NOT EXISTS blocked_keys (
    post_id TEXT NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    key_hash TEXT NOT NULL CHECK (length(key_hash) = 64),
    PRIMARY KEY (post_id, key_hash)
) WITHOUT ROWID"""
SCHEMA = ";\n".join((THREADS_TABLE, THREADS_INDEX, MESSAGES_TABLE, BLOCKED_TABLE)) + ";\n"

# The conversations of the posts a WHERE clause on ``posts`` selects, for deletion with them.
_MESSAGES_OF = (
    "DELETE FROM messages WHERE thread_id IN"
    " (SELECT id FROM threads WHERE post_id IN (SELECT id FROM posts WHERE {where}))"
)
_THREADS_OF = "DELETE FROM threads WHERE post_id IN (SELECT id FROM posts WHERE {where})"
_BLOCKED_OF = "DELETE FROM blocked_keys WHERE post_id IN (SELECT id FROM posts WHERE {where})"
# A post's conversations, the one with the newest message first (days only), then by their random ids.
_PAGE = (
    "SELECT t.id, t.post_id, t.replier_key, t.token_hash, t.day FROM threads t WHERE t.post_id = ?"
    " ORDER BY coalesce((SELECT max(m.day) FROM messages m WHERE m.thread_id = t.id), t.day) DESC, t.id"
    " LIMIT ? OFFSET ?"
)


def add_reply_key_column(db: sqlite3.Connection) -> None:
    """Schema 3 -> 4: ``posts.reply_key`` (the tables come with the schema's CREATE ... IF NOT EXISTS).
    A database upgraded from schema 1 already has the column (its posts table was rebuilt as now)."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(posts)")}
    if "reply_key" not in columns:
        db.execute(
            "ALTER TABLE posts ADD COLUMN reply_key TEXT"
            " CHECK (reply_key IS NULL OR length(reply_key) <= 200)"
        )


def add_blocked_keys_table(db: sqlite3.Connection) -> None:
    """Schema 9 -> 10: ``blocked_keys`` (a poster's blocked repliers)."""
    db.execute(BLOCKED_TABLE)


def delete_for_posts(db: sqlite3.Connection, where: str, params: tuple[object, ...]) -> int:
    """Inside the caller's transaction, before it deletes posts: delete the messages, threads and blocked
    keys of the posts ``where`` selects (a fixed SQL condition on ``posts``; values are ``params``). How
    many conversations went."""
    db.execute(_MESSAGES_OF.format(where=where), params)
    db.execute(_BLOCKED_OF.format(where=where), params)
    return int(db.execute(_THREADS_OF.format(where=where), params).rowcount)


@dataclass(frozen=True)
class Thread:
    id: str
    post_id: str
    replier_key: str
    token_hash: str
    day: str


@dataclass(frozen=True)
class Message:
    sender: Sender
    message: str  # the wire text: "v2." + base64url(header ‖ nonce ‖ ciphertext ‖ tag), or a v1 one
    day: str


OTHER: dict[str, Sender] = {"poster": "replier", "replier": "poster"}


class ThreadTables:
    """The SQLite store's conversation methods (mixed into ``SQLiteStore``, which provides ``db``)."""

    db: sqlite3.Connection

    def transaction(self, *, revise: bool = True) -> AbstractContextManager[sqlite3.Connection]:
        """The store's own (``SQLiteStore.transaction``); conversations write with ``revise=False``, which
        leaves the store's revision alone (see the module's docstring)."""
        raise NotImplementedError

    def reply_key(self, post_id: str) -> str | None:
        row = self.db.execute("SELECT reply_key FROM posts WHERE id = ?", (post_id,)).fetchone()
        return None if row is None else row[0]

    def thread(self, thread_id: str) -> Thread | None:
        row = self.db.execute(
            "SELECT id, post_id, replier_key, token_hash, day FROM threads WHERE id = ?", (thread_id,)
        ).fetchone()
        return None if row is None else Thread(*(str(v) for v in row))

    def threads_of(self, post_id: str) -> list[Thread]:
        """A post's conversations in the order of their random ids (which carries no time)."""
        rows = self.db.execute(
            "SELECT id, post_id, replier_key, token_hash, day FROM threads WHERE post_id = ? ORDER BY id",
            (post_id,),
        ).fetchall()
        return [Thread(*(str(v) for v in row)) for row in rows]

    def threads_page(self, post_id: str, limit: int, offset: int) -> tuple[list[Thread], int]:
        """One page of a post's conversations, the one with the newest message first (by day; a stable
        order by random id within a day), and how many it has in all."""
        rows = self.db.execute(_PAGE, (post_id, limit, offset)).fetchall()
        (total,) = self.db.execute("SELECT count(*) FROM threads WHERE post_id = ?", (post_id,)).fetchone()
        return [Thread(*(str(v) for v in row)) for row in rows], int(total)

    def delete_thread(self, thread_id: str, blocked: str) -> bool:
        """Delete a conversation and its messages, and keep ``blocked`` (a hash of its replier key) so that
        key starts no other with the post. False when there was no such conversation."""
        with self.transaction(revise=False) as db:
            row = db.execute("SELECT post_id FROM threads WHERE id = ?", (thread_id,)).fetchone()
            if row is None:
                return False
            db.execute("DELETE FROM messages WHERE thread_id = ?", (thread_id,))
            db.execute("DELETE FROM threads WHERE id = ?", (thread_id,))
            db.execute(
                "INSERT OR IGNORE INTO blocked_keys (post_id, key_hash) VALUES (?, ?)", (row[0], blocked)
            )
        return True

    def messages(self, thread_id: str) -> list[Message]:
        """Oldest first."""
        rows = self.db.execute(
            "SELECT sender, message, day FROM messages WHERE thread_id = ? ORDER BY seq", (thread_id,)
        ).fetchall()
        return [Message(row[0], str(row[1]), str(row[2])) for row in rows]

    def start_thread(
        self, thread: Thread, first: Message, max_threads: int, open_on: str, blocked: str
    ) -> str | None:
        """Store a new conversation with its first message, in one transaction, if its post is open and
        unexpired on ``open_on`` (an ISO day), has fewer than ``max_threads`` conversations and did not
        block its replier key (``blocked``: the key's hash). None when stored; otherwise why not:
        ``"post"`` (no such open post), ``"blocked"`` or ``"full"``."""
        with self.transaction(revise=False) as db:
            if not _is_open(db, thread.post_id, open_on):
                return "post"
            sql = "SELECT 1 FROM blocked_keys WHERE post_id = ? AND key_hash = ?"
            if db.execute(sql, (thread.post_id, blocked)).fetchone() is not None:
                return "blocked"
            (count,) = db.execute(
                "SELECT count(*) FROM threads WHERE post_id = ?", (thread.post_id,)
            ).fetchone()
            if count >= max_threads:
                return "full"
            db.execute(
                "INSERT INTO threads (id, post_id, replier_key, token_hash, day) VALUES (?, ?, ?, ?, ?)",
                (thread.id, thread.post_id, thread.replier_key, thread.token_hash, thread.day),
            )
            db.execute(
                "INSERT INTO messages (thread_id, seq, sender, message, day) VALUES (?, 0, ?, ?, ?)",
                (thread.id, first.sender, first.message, first.day),
            )
        return None

    def add_message(
        self,
        thread_id: str,
        message: Message,
        max_messages: int,
        open_on: str,
        expect: tuple[int, int] | None = None,
    ) -> int | str:
        """Append ``message`` to a conversation whose post is open and unexpired on ``open_on``, if it holds
        fewer than ``max_messages`` and, given ``expect`` (the message's counter and how many of the other
        side's it acknowledges), if the sender has sent exactly that many and the other side at least that
        many. The number of messages it now holds, or why not: ``"thread"`` (gone), ``"post"`` (the post
        no longer takes messages), ``"full"`` or ``"order"``."""
        with self.transaction(revise=False) as db:
            row = db.execute("SELECT post_id FROM threads WHERE id = ?", (thread_id,)).fetchone()
            if row is None:
                return "thread"
            if not _is_open(db, str(row[0]), open_on):
                return "post"
            sql = "SELECT sender, count(*) FROM messages WHERE thread_id = ? GROUP BY sender"
            counts = {str(s): int(n) for s, n in db.execute(sql, (thread_id,)).fetchall()}
            count = sum(counts.values())
            if count >= max_messages:
                return "full"
            if not in_order(counts, message.sender, expect):
                return "order"
            db.execute(
                "INSERT INTO messages (thread_id, seq, sender, message, day)"
                " VALUES (?, (SELECT coalesce(max(seq), -1) + 1 FROM messages WHERE thread_id = ?), ?, ?, ?)",
                (thread_id, thread_id, message.sender, message.message, message.day),
            )
        return int(count) + 1


def in_order(counts: dict[str, int], sender: Sender, expect: tuple[int, int] | None) -> bool:
    """Whether a message numbered ``expect[0]`` among its sender's, after reading ``expect[1]`` of the
    other side's, comes next in a thread holding ``counts`` messages per sender (None: no check)."""
    if expect is None:
        return True
    counter, seen = expect
    return counter == counts.get(sender, 0) and seen <= counts.get(OTHER[sender], 0)


def _is_open(db: sqlite3.Connection, post_id: str, day: str) -> bool:
    """Whether a post takes new conversations and messages: open and unexpired on ``day`` (ISO)."""
    sql = f"SELECT 1 FROM posts WHERE id = ? AND {public_where('?')}"  # noqa: S608 - fixed SQL
    return db.execute(sql, (post_id, day)).fetchone() is not None
