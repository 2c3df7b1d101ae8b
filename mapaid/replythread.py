"""A conversation read and written as a whole, in order (docs/replies.md, "Reading a conversation").

Whoever can write the server's database can reorder, replay, drop, re-date or swap what a conversation
holds; each message can only be checked against the ones before it. ``Party.read_all`` reads a stored
conversation oldest first and stops at the first message that does not fit: one that does not decrypt
against the running hashes of what came before (changed, replayed, moved, another key's), one whose
counter shows a gap, a repeat or a reorder, one that acknowledges messages not before it, one whose stored
day is not its sealed day, a version-1 message after a version-2 one. What it read is shown; the rest is
not even decrypted (a thread of junk costs one failed decryption). ``Party.write`` seals the next message
against a reading, and refuses to when the reading did not end cleanly: a conversation that was changed
on the server takes no new message.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from mapaid.replycrypto import (
    V1,
    V2,
    BadKey,
    BadMessage,
    Direction,
    Header,
    chain_next,
    header_of,
    message_key,
    open_message,
    open_v1,
    seal,
    start_hash,
)

Sender = Literal["poster", "replier"]
# Why a reading stopped: a message that does not decrypt ("damaged"), one out of its place ("order": a
# gap, a repeat, a reorder, a downgrade to version 1) or one whose stored day is not its own ("day").
Why = Literal["damaged", "order", "day"]


def direction_of(sender: str) -> Direction:
    return Direction.TO_POSTER if sender == "replier" else Direction.TO_REPLIER


@dataclass(frozen=True)
class Shown:
    """One message as read: who sent it, its text, its day (for version 2 the sealed one) and version."""

    sender: Sender
    text: str
    day: str
    version: str


@dataclass
class Reading:
    """A conversation read oldest first, as far as it checks out."""

    shown: list[Shown]
    total: int  # messages stored
    chains: dict[Direction, list[bytes]]  # chains[d][k]: d's running hash after its first k messages
    why: Why | None = None  # None: every message read
    v2: set[Direction] = field(default_factory=set)  # directions with a version-2 message so far

    @property
    def intact(self) -> bool:
        return self.why is None

    @property
    def unread(self) -> int:
        """Messages after the one the reading stopped at, never decrypted."""
        return self.total - len(self.shown) - (0 if self.intact else 1)

    def count(self, direction: Direction) -> int:
        return len(self.chains[direction]) - 1


@dataclass(frozen=True)
class Party:
    """One side of a thread: its own private key and the two public keys the thread is between."""

    post_id: str
    post_key: str  # the poster's public key
    replier_key: str  # the replier's public key (one fresh pair per thread)
    own_private: str
    poster: bool  # True for the poster's side
    _keys: dict[tuple[Direction, str], bytes] = field(default_factory=dict, compare=False, repr=False)

    def key(self, direction: Direction, version: str = V2) -> bytes:
        if (direction, version) not in self._keys:
            peer = self.replier_key if self.poster else self.post_key
            self._keys[direction, version] = message_key(
                self.own_private, peer, self.post_key, self.replier_key, direction, version
            )
        return self._keys[direction, version]

    @property
    def outgoing(self) -> Direction:
        return Direction.TO_REPLIER if self.poster else Direction.TO_POSTER

    def read_all(self, messages: Iterable[tuple[object, object, object]]) -> Reading:
        """``messages`` as stored, oldest first: (sender, wire text, stored day) each."""
        items = list(messages)
        start = start_hash(self.post_id, self.post_key, self.replier_key)
        reading = Reading([], len(items), {d: [start] for d in Direction})
        for sender, wire, day in items:
            why = self._read_one(reading, sender, wire, day)
            if why is not None:
                reading.why = why
                break
        return reading

    def read_api(self, messages: Iterable[Mapping[str, Any]]) -> Reading:
        """The ``messages`` of the API's answers (``from``, ``message``, ``day``)."""
        return self.read_all((m.get("from"), m.get("message"), m.get("day")) for m in messages)

    def _read_one(self, reading: Reading, sender: object, wire: object, day: object) -> Why | None:
        if sender not in ("poster", "replier") or not isinstance(wire, str) or not isinstance(day, str):
            return "damaged"
        direction = direction_of(sender)
        own = reading.chains[direction]
        try:
            if wire.startswith(V1 + "."):
                if direction in reading.v2:
                    return "order"
                text, version = open_v1(self.key(direction, V1), self.post_id, direction, wire), V1
            else:
                header = header_of(wire)
                if header is None:
                    return "damaged"
                if header.counter != len(own) - 1 or header.seen > reading.count(direction.other):
                    return "order"
                seen = reading.chains[direction.other][header.seen]
                _, text = open_message(self.key(direction), self.post_id, direction, wire, own[-1], seen)
                if header.day != day:
                    return "day"
                reading.v2.add(direction)
                version = V2
        except (BadMessage, BadKey):
            return "damaged"
        reading.shown.append(Shown(sender, text, day, version))
        own.append(chain_next(own[-1], wire))
        return None

    def write(self, text: str, day: str, reading: Reading | None = None, nonce: bytes | None = None) -> str:
        """The next message of this side, after ``reading`` (None: the conversation's first message),
        dated ``day`` (the site's day: the server stores messages of its own day and the day before or
        after only). Refused when the reading stopped early: nothing new goes into a conversation that
        was changed on the server."""
        reading = reading if reading is not None else self.read_all(())
        if not reading.intact:
            raise BadMessage("this conversation was changed on the server; no new message can go into it")
        out = self.outgoing
        header = Header(reading.count(out), reading.count(out.other), day)
        chains = reading.chains
        return seal(
            self.key(out), self.post_id, out, text, header, chains[out][-1], chains[out.other][-1], nonce
        )

    def read_v1(self, message: str, sender: Sender) -> str:
        """One version-1 message alone (as version 1 read them: no order to check)."""
        direction = direction_of(sender)
        return open_v1(self.key(direction, V1), self.post_id, direction, message)
