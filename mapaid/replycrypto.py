"""Private replies' primitives, in Python: the same bytes a browser's WebCrypto makes (docs/replies.md).

Keys and their texts, the two message keys of a conversation, and one message sealed or opened: version 2
(what every program writes now: a counter, the day and running hashes of both directions in the
associated data, the text padded to a few sizes) and version 1 (read-only: messages written before). The
order of a whole conversation is checked in mapaid/replythread.py, which reads with these.

The server never runs this on behalf of a person: it holds public keys and ciphertext only, and checks
what it can without a key (``well_formed``, ``header_of``, ``load_public``). Every choice here is written
down in docs/replies.md; change both together and bump the version.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Literal

from cryptography.exceptions import InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

V1, V2 = "v1", "v2"
LABELS = {V1: b"mapaid-reply-v1", V2: b"mapaid-reply-v2"}
NONCE_BYTES = 12
TAG_BYTES = 16
HEADER_BYTES = 14  # counter (2), seen (2), day (10 ASCII)
MAX_PLAINTEXT_BYTES = 4000  # UTF-8 bytes of text; the app's own character limit is lower (docs/replies.md)
# Version 2 pads (2-byte length, text, zeros) to the smallest of these; the last is the scheme's maximum.
BUCKETS = (64, 256, 1024, 2 + MAX_PLAINTEXT_BYTES)
MAX_COUNT = 0xFFFF
# The longest wire texts: "vN." + base64url(...), unpadded.
MAX_V1_CHARS = len(V1) + 1 + (NONCE_BYTES + MAX_PLAINTEXT_BYTES + TAG_BYTES + 2) * 4 // 3
Curve = Literal["p256", "x25519"]
PrivateKey = ec.EllipticCurvePrivateKey | x25519.X25519PrivateKey
PublicKey = ec.EllipticCurvePublicKey | x25519.X25519PublicKey

# The X25519 public keys (u-coordinates, little-endian) of small order (RFC 7748 §7; libsodium's list):
# with any of them ECDH gives a fixed or all-zero secret that the other side's key does not enter.
_P25519 = 2**255 - 19
SMALL_ORDER_X25519 = frozenset(
    {
        0,
        1,
        325606250916557431795983626356110631294008115727848805560023387167927233504,
        39382357235489614581723060781553021112529911719440698176882885853963445705823,
        _P25519 - 1,
        _P25519,
        _P25519 + 1,
    }
)


class Direction(StrEnum):
    """Who a message is for; each direction has its own key, so a message cannot be turned around."""

    TO_POSTER = "to-poster"
    TO_REPLIER = "to-replier"

    @property
    def other(self) -> Direction:
        return Direction.TO_REPLIER if self is Direction.TO_POSTER else Direction.TO_POSTER


class BadKey(ValueError):
    """Not a P-256 or X25519 key in the form the scheme uses."""


class BadMessage(ValueError):
    """Not a message of a known version, or one that does not decrypt: changed, cut, or for someone else."""


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64u(text: str) -> bytes:
    """Unpadded base64url, in its one canonical spelling: the last character's unused bits must be zero.
    (Otherwise two texts, a character apart, decode to the same bytes: a changed message would read.)"""
    if not text or len(text) % 4 == 1 or not text.isascii():
        raise ValueError("not base64url")
    if not all(c.isalnum() or c in "-_" for c in text):
        raise ValueError("not base64url")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as error:
        raise ValueError("not base64url") from error
    if b64u(raw) != text:
        raise ValueError("not base64url (not its canonical spelling)")
    return raw


@dataclass(frozen=True)
class KeyPair:
    private: str  # base64url PKCS#8 DER: goes in a private link's fragment, never to a server
    public: str  # base64url SubjectPublicKeyInfo DER: goes to the server


def generate(curve: Curve = "p256") -> KeyPair:
    key: PrivateKey = (
        ec.generate_private_key(ec.SECP256R1()) if curve == "p256" else x25519.X25519PrivateKey.generate()
    )
    return KeyPair(private=private_text(key), public=public_text(key.public_key()))


def private_text(key: PrivateKey) -> str:
    der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return b64u(der)


def public_text(key: PublicKey) -> str:
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return b64u(der)


def load_public(text: str) -> PublicKey:
    """A public key as the server checks it before storing: base64url SPKI, P-256 or X25519 only, in the
    one form the scheme writes (DER as WebCrypto exports it: a P-256 point uncompressed, an X25519
    u-coordinate below the field prime with the top bit clear), and for X25519 not of small order (a key
    that makes every conversation's secret the same, whatever the other side's key)."""
    if not isinstance(text, str):
        raise BadKey("a public key is text")
    try:
        key = serialization.load_der_public_key(unb64u(text))
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        raise BadKey("not a public key (base64url SubjectPublicKeyInfo, P-256 or X25519)") from error
    if isinstance(key, x25519.X25519PublicKey):
        u = int.from_bytes(
            key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw), "little"
        )
        if u >= _P25519 or u in SMALL_ORDER_X25519:
            raise BadKey("the X25519 key is of small order or not in its canonical form")
    elif not (isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1)):
        raise BadKey("the key must be on P-256 or X25519")
    if public_text(key) != text:
        raise BadKey("the key must be DER SubjectPublicKeyInfo as WebCrypto exports it (uncompressed point)")
    return key


def load_private(text: str) -> PrivateKey:
    if not isinstance(text, str):
        raise BadKey("a private key is text")
    try:
        key = serialization.load_der_private_key(unb64u(text), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        raise BadKey("not a private key (base64url PKCS#8, P-256 or X25519)") from error
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return key
    if isinstance(key, x25519.X25519PrivateKey):
        return key
    raise BadKey("the key must be on P-256 or X25519")


def curve_of(key: PublicKey | PrivateKey) -> Curve:
    return "x25519" if isinstance(key, x25519.X25519PublicKey | x25519.X25519PrivateKey) else "p256"


def fingerprint(public: str) -> str:
    """What a replier's link carries of the post's key (``&p=``): base64url of the first 16 bytes of
    SHA-256(SPKI), 22 characters, so a post key swapped on the server is noticed (docs/replies.md)."""
    return b64u(hashlib.sha256(unb64u(public)).digest()[:16])


def _shared(own: PrivateKey, peer: PublicKey) -> bytes:
    try:
        if isinstance(own, x25519.X25519PrivateKey) and isinstance(peer, x25519.X25519PublicKey):
            return own.exchange(peer)
        if isinstance(own, ec.EllipticCurvePrivateKey) and isinstance(peer, ec.EllipticCurvePublicKey):
            return own.exchange(ec.ECDH(), peer)
    except ValueError as error:  # an X25519 key of small order: no shared secret
        raise BadKey("no shared secret with this key") from error
    raise BadKey("the two keys of a conversation must be on the same curve")


def message_key(
    own_private: str,
    peer_public: str,
    post_key: str,
    replier_key: str,
    direction: Direction,
    version: str = V2,
) -> bytes:
    """K_d = HKDF-SHA-256(IKM = ECDH(own, peer), salt = SHA-256(label 0x00 post SPKI replier SPKI),
    info = label " " direction, 32 bytes). Either side derives the same key for a direction; each version
    has its own label, so its keys are its own."""
    label = LABELS[version]
    shared = _shared(load_private(own_private), load_public(peer_public))
    salt = hashlib.sha256(label + b"\x00" + unb64u(post_key) + unb64u(replier_key)).digest()
    info = label + b" " + direction.value.encode("ascii")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(shared)


# -- version 1: read-only -----------------------------------------------------------------------------
def associated_data_v1(post_id: str, direction: Direction) -> bytes:
    return LABELS[V1] + b"\x00" + post_id.encode("ascii") + b"\x00" + direction.value.encode("ascii")


def seal_v1(key: bytes, post_id: str, direction: Direction, text: str, nonce: bytes) -> str:
    """A version-1 message, for the test vectors only (nothing writes version 1 any more)."""
    sealed = AESGCM(key).encrypt(nonce, text.encode("utf-8"), associated_data_v1(post_id, direction))
    return f"{V1}.{b64u(nonce + sealed)}"


def _raw(message: object, version: str, longest: int, shortest: int) -> bytes | None:
    if not isinstance(message, str) or not message.startswith(version + ".") or len(message) > longest:
        return None
    try:
        raw = unb64u(message[len(version) + 1 :])
    except ValueError:
        return None
    return raw if len(raw) >= shortest else None


def open_v1(key: bytes, post_id: str, direction: Direction, message: str) -> str:
    raw = _raw(message, V1, MAX_V1_CHARS, NONCE_BYTES + 1 + TAG_BYTES)
    if raw is None:
        raise BadMessage("not a version-1 message")
    try:
        plain = AESGCM(key).decrypt(
            raw[:NONCE_BYTES], raw[NONCE_BYTES:], associated_data_v1(post_id, direction)
        )
    except InvalidTag as error:
        raise BadMessage("the message does not decrypt: changed, cut short, or not for this key") from error
    return _utf8(plain)


def _utf8(plain: bytes) -> str:
    try:
        return plain.decode("utf-8")
    except UnicodeDecodeError as error:  # sealed by a program that did not follow the scheme
        raise BadMessage("the message is not UTF-8 text") from error


# -- version 2 ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Header:
    """What a version-2 message says in clear (and binds in its associated data): its number among its
    sender's messages, how many of the other side's messages its writer had read, and its day."""

    counter: int
    seen: int
    day: str  # YYYY-MM-DD

    def pack(self) -> bytes:
        if not (0 <= self.counter <= MAX_COUNT and 0 <= self.seen <= MAX_COUNT) or not _is_day(self.day):
            raise BadMessage("a header has two counts of 0 to 65535 and a day YYYY-MM-DD")
        return self.counter.to_bytes(2, "big") + self.seen.to_bytes(2, "big") + self.day.encode("ascii")

    @classmethod
    def unpack(cls, raw: bytes) -> Header | None:
        day = raw[4:HEADER_BYTES].decode("ascii", "replace")
        if len(raw) < HEADER_BYTES or not _is_day(day):  # (a short raw gives a short day)
            return None
        return cls(int.from_bytes(raw[:2], "big"), int.from_bytes(raw[2:4], "big"), day)


def _is_day(text: str) -> bool:
    try:
        return len(text) == 10 and date.fromisoformat(text).isoformat() == text
    except ValueError:
        return False


def start_hash(post_id: str, post_key: str, replier_key: str) -> bytes:
    """Where both directions' running hashes begin: it binds the post and both public keys, so a message
    read against another key (one swapped on the server) does not decrypt."""
    label = LABELS[V2]
    return hashlib.sha256(
        label + b"\x00start\x00" + post_id.encode("ascii") + b"\x00" + unb64u(post_key) + unb64u(replier_key)
    ).digest()


def chain_next(chain: bytes, wire: str) -> bytes:
    """A direction's running hash after one more of its messages (of either version, as stored)."""
    return hashlib.sha256(chain + wire.encode("ascii")).digest()


def associated_data(
    post_id: str, direction: Direction, header: Header, own_chain: bytes, seen_chain: bytes
) -> bytes:
    """label 0x00 post id 0x00 direction 0x00 header ‖ the writer's direction's running hash before this
    message ‖ the other direction's running hash after the ``seen`` messages its writer had read."""
    return (
        LABELS[V2]
        + b"\x00"
        + post_id.encode("ascii")
        + b"\x00"
        + direction.value.encode("ascii")
        + b"\x00"
        + header.pack()
        + own_chain
        + seen_chain
    )


def pad(text: str) -> bytes:
    """2-byte length ‖ UTF-8 text ‖ zeros, to the smallest bucket that holds it: "yes" and a phone number
    make messages of the same size."""
    plain = text.encode("utf-8")
    if not 1 <= len(plain) <= MAX_PLAINTEXT_BYTES:
        raise BadMessage(f"a message is 1 to {MAX_PLAINTEXT_BYTES} bytes of UTF-8")
    body = len(plain).to_bytes(2, "big") + plain
    size = next(b for b in BUCKETS if b >= len(body))
    return body + bytes(size - len(body))


def unpad(padded: bytes) -> str:
    """The text of a padded plaintext, refusing any other size, length or padding than ``pad`` makes."""
    length = int.from_bytes(padded[:2], "big")
    if len(padded) not in BUCKETS or not 1 <= length <= min(len(padded) - 2, MAX_PLAINTEXT_BYTES):
        raise BadMessage("the message's padding is not the scheme's")
    if any(padded[2 + length :]) or next(b for b in BUCKETS if b >= length + 2) != len(padded):
        raise BadMessage("the message's padding is not the scheme's")
    return _utf8(padded[2 : 2 + length])


def wire_chars(padded_bytes: int) -> int:
    """The length of a version-2 wire text whose padded plaintext is ``padded_bytes`` long."""
    raw = HEADER_BYTES + NONCE_BYTES + padded_bytes + TAG_BYTES
    return len(V2) + 1 + (raw * 4 + 2) // 3


MAX_V2_CHARS = wire_chars(BUCKETS[-1])


def header_of(message: object) -> Header | None:
    """The header of a well-formed version-2 message (alphabet, size, a padded length the scheme makes, a
    valid day), or None: what the server can check without a key."""
    raw = _raw(message, V2, MAX_V2_CHARS, HEADER_BYTES + NONCE_BYTES + BUCKETS[0] + TAG_BYTES)
    if raw is None or len(raw) - HEADER_BYTES - NONCE_BYTES - TAG_BYTES not in BUCKETS:
        return None
    return Header.unpack(raw)


def well_formed(message: object) -> bool:
    """A version-2 message the server may store (version 1 is read-only)."""
    return header_of(message) is not None


def seal(
    key: bytes,
    post_id: str,
    direction: Direction,
    text: str,
    header: Header,
    own_chain: bytes,
    seen_chain: bytes,
    nonce: bytes | None = None,
) -> str:
    """``v2.`` + base64url(header ‖ nonce ‖ AES-256-GCM(padded text) ‖ tag). ``nonce`` is for test vectors
    only: a fresh random one per message is what makes reusing a key safe."""
    nonce = os.urandom(NONCE_BYTES) if nonce is None else nonce
    if len(nonce) != NONCE_BYTES:
        raise BadMessage("the nonce is 12 bytes")
    aad = associated_data(post_id, direction, header, own_chain, seen_chain)
    sealed = AESGCM(key).encrypt(nonce, pad(text), aad)
    return f"{V2}.{b64u(header.pack() + nonce + sealed)}"


def open_message(
    key: bytes, post_id: str, direction: Direction, message: str, own_chain: bytes, seen_chain: bytes
) -> tuple[Header, str]:
    """A version-2 message's header and text, given the running hashes its reader expects; BadMessage
    when it does not decrypt against them (changed, moved, replayed, or another conversation's)."""
    header = header_of(message)
    if header is None:
        raise BadMessage("not a version-2 message")
    raw = unb64u(message[len(V2) + 1 :])
    nonce, sealed = raw[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES], raw[HEADER_BYTES + NONCE_BYTES :]
    aad = associated_data(post_id, direction, header, own_chain, seen_chain)
    try:
        padded = AESGCM(key).decrypt(nonce, sealed, aad)
    except InvalidTag as error:
        raise BadMessage("the message does not decrypt: changed, moved, or not for this key") from error
    return header, unpad(padded)
