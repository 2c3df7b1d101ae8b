"""Private replies, scheme version 1, in Python: the same bytes a browser's WebCrypto makes (docs/replies.md).

The server never runs this on behalf of a person: it holds public keys and ciphertext only. This module is
for programs that take part in a conversation (a bot, the ``mapaid reply`` command) and for the tests that
check the browser and Python read each other's messages. Every choice here is written down in
docs/replies.md; change both together and bump the version.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from cryptography.exceptions import InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = "v1"
LABEL = b"mapaid-reply-v1"
NONCE_BYTES = 12
MAX_PLAINTEXT_BYTES = 4000  # UTF-8 bytes; the app's own character limit is lower (docs/replies.md)
# "v1." + base64url(12-byte nonce + plaintext + 16-byte tag), unpadded
MAX_MESSAGE_CHARS = len(VERSION) + 1 + (NONCE_BYTES + MAX_PLAINTEXT_BYTES + 16 + 2) * 4 // 3
Curve = Literal["p256", "x25519"]
PrivateKey = ec.EllipticCurvePrivateKey | x25519.X25519PrivateKey
PublicKey = ec.EllipticCurvePublicKey | x25519.X25519PublicKey


class Direction(StrEnum):
    """Who a message is for; each direction has its own key, so a message cannot be turned around."""

    TO_POSTER = "to-poster"
    TO_REPLIER = "to-replier"


class BadKey(ValueError):
    """Not a P-256 or X25519 key in the form the scheme uses."""


class BadMessage(ValueError):
    """Not a version-1 message, or one that does not decrypt: changed, cut, or for someone else."""


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
    one form the scheme writes (DER as WebCrypto exports it: a P-256 point uncompressed), so every
    implementation can import what the server hands out."""
    if not isinstance(text, str):
        raise BadKey("a public key is text")
    try:
        key = serialization.load_der_public_key(unb64u(text))
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        raise BadKey("not a public key (base64url SubjectPublicKeyInfo, P-256 or X25519)") from error
    if not (isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1)) and not (
        isinstance(key, x25519.X25519PublicKey)
    ):
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
    own_private: str, peer_public: str, post_key: str, replier_key: str, direction: Direction
) -> bytes:
    """K_d = HKDF-SHA-256(IKM = ECDH(own, peer), salt = SHA-256(label 0x00 post SPKI replier SPKI),
    info = label " " direction, 32 bytes). Either side derives the same key for a direction."""
    shared = _shared(load_private(own_private), load_public(peer_public))
    salt = hashlib.sha256(LABEL + b"\x00" + unb64u(post_key) + unb64u(replier_key)).digest()
    info = LABEL + b" " + direction.value.encode("ascii")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(shared)


def associated_data(post_id: str, direction: Direction) -> bytes:
    return LABEL + b"\x00" + post_id.encode("ascii") + b"\x00" + direction.value.encode("ascii")


def seal(key: bytes, post_id: str, direction: Direction, text: str, nonce: bytes | None = None) -> str:
    """``v1.`` + base64url(nonce ‖ AES-256-GCM ciphertext ‖ tag). ``nonce`` is for test vectors only:
    a fresh random one per message is what makes reusing a key safe."""
    plain = text.encode("utf-8")
    if not 1 <= len(plain) <= MAX_PLAINTEXT_BYTES:
        raise BadMessage(f"a message is 1 to {MAX_PLAINTEXT_BYTES} bytes of UTF-8")
    nonce = os.urandom(NONCE_BYTES) if nonce is None else nonce
    if len(nonce) != NONCE_BYTES:
        raise BadMessage("the nonce is 12 bytes")
    sealed = AESGCM(key).encrypt(nonce, plain, associated_data(post_id, direction))
    return f"{VERSION}.{b64u(nonce + sealed)}"


def well_formed(message: object) -> bool:
    """What the server can check without a key: version, alphabet and size."""
    if (
        not isinstance(message, str)
        or not message.startswith(VERSION + ".")
        or len(message) > MAX_MESSAGE_CHARS
    ):
        return False
    try:
        raw = unb64u(message[len(VERSION) + 1 :])
    except ValueError:
        return False
    return len(raw) >= NONCE_BYTES + 1 + 16


def open_message(key: bytes, post_id: str, direction: Direction, message: str) -> str:
    if not well_formed(message):
        raise BadMessage("not a version-1 message")
    raw = unb64u(message[len(VERSION) + 1 :])
    try:
        plain = AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], associated_data(post_id, direction))
    except InvalidTag as error:
        raise BadMessage("the message does not decrypt: changed, cut short, or not for this key") from error
    try:
        return plain.decode("utf-8")
    except UnicodeDecodeError as error:  # sealed by a program that did not follow the scheme
        raise BadMessage("the message is not UTF-8 text") from error


@dataclass(frozen=True)
class Party:
    """One side of a thread: its own private key and the two public keys the thread is between."""

    post_id: str
    post_key: str  # the poster's public key
    replier_key: str  # the replier's public key (one fresh pair per thread)
    own_private: str
    poster: bool  # True for the poster's side

    def _key(self, direction: Direction) -> bytes:
        peer = self.replier_key if self.poster else self.post_key
        return message_key(self.own_private, peer, self.post_key, self.replier_key, direction)

    @property
    def outgoing(self) -> Direction:
        return Direction.TO_REPLIER if self.poster else Direction.TO_POSTER

    @property
    def incoming(self) -> Direction:
        return Direction.TO_POSTER if self.poster else Direction.TO_REPLIER

    def write(self, text: str) -> str:
        return seal(self._key(self.outgoing), self.post_id, self.outgoing, text)

    def read(self, message: str, sender: Literal["poster", "replier"]) -> str:
        """Either side can read the whole thread: its own messages too (same key for a direction)."""
        direction = Direction.TO_REPLIER if sender == "poster" else Direction.TO_POSTER
        return open_message(self._key(direction), self.post_id, direction, message)
