"""The Python implementation of private replies (mapaid/replycrypto.py) against docs/replies.md: it
reproduces the test vectors the browser must reproduce too, refuses any message changed by one byte, turned
around, moved to another post or cut short, and takes only P-256 and X25519 keys in the scheme's form."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from mapaid import replycrypto as rc
from mapaid.replycrypto import BadKey, BadMessage, Direction, Party

VECTORS = json.loads((Path(__file__).parent / "data" / "reply-vectors.json").read_text())["vectors"]
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@pytest.fixture(params=[v["curve"] for v in VECTORS])
def vector(request: pytest.FixtureRequest) -> dict[str, Any]:
    found: dict[str, Any] = next(v for v in VECTORS if v["curve"] == request.param)
    return found


def test_both_curves_have_vectors() -> None:
    assert sorted(v["curve"] for v in VECTORS) == ["p256", "x25519"]


def test_the_vectors_message_keys_are_reproduced_from_either_side(vector: dict[str, Any]) -> None:
    post, poster, replier = vector["post_id"], vector["poster"], vector["replier"]
    del post
    for direction, expected in (
        (Direction.TO_POSTER, "key_to_poster_hex"),
        (Direction.TO_REPLIER, "key_to_replier_hex"),
    ):
        from_poster = rc.message_key(
            poster["private"], replier["public"], poster["public"], replier["public"], direction
        )
        from_replier = rc.message_key(
            replier["private"], poster["public"], poster["public"], replier["public"], direction
        )
        assert from_poster.hex() == from_replier.hex() == vector[expected]


def test_the_vectors_messages_are_reproduced_byte_for_byte_and_read_back(vector: dict[str, Any]) -> None:
    poster, replier = vector["poster"], vector["replier"]
    for item in vector["messages"]:
        direction = Direction(item["direction"])
        key = bytes.fromhex(
            vector["key_to_poster_hex" if direction is Direction.TO_POSTER else "key_to_replier_hex"]
        )
        sealed = rc.seal(key, vector["post_id"], direction, item["text"], bytes.fromhex(item["nonce_hex"]))
        assert sealed == item["message"]
        for side in (True, False):
            party = Party(
                vector["post_id"],
                poster["public"],
                replier["public"],
                (poster if side else replier)["private"],
                side,
            )
            assert party.read(item["message"], item["from"]) == item["text"]


def test_the_vector_keys_are_in_the_scheme_form(vector: dict[str, Any]) -> None:
    for side in ("poster", "replier"):
        public = rc.load_public(vector[side]["public"])
        private = rc.load_private(vector[side]["private"])
        assert rc.curve_of(public) == rc.curve_of(private) == vector["curve"]
        assert rc.public_text(private.public_key()) == vector[side]["public"]
        assert len(rc.unb64u(vector[side]["public"])) == (91 if vector["curve"] == "p256" else 44)


def _variants(message: str) -> list[str]:
    """The message with each character changed (to two other base64url characters), each raw byte flipped
    (re-encoded), the version changed, and cut short by one character and by one raw byte."""
    body = message[3:]
    out = []
    for i, c in enumerate(body):
        others = [a for a in ALPHABET if a != c]
        for other in (others[0], others[i % len(others)]):
            out.append("v1." + body[:i] + other + body[i + 1 :])
    raw = rc.unb64u(body)
    for i in range(len(raw)):
        out.append("v1." + rc.b64u(raw[:i] + bytes([raw[i] ^ 0x01]) + raw[i + 1 :]))
    out += ["v2." + body, "V1." + body, message[:-1], "v1." + rc.b64u(raw[:-1]), message + "A"]
    return out


def test_a_message_changed_anywhere_by_one_byte_is_refused(vector: dict[str, Any]) -> None:
    item = vector["messages"][0]
    party = Party(
        vector["post_id"],
        vector["poster"]["public"],
        vector["replier"]["public"],
        vector["poster"]["private"],
        True,
    )
    assert party.read(item["message"], item["from"]) == item["text"]
    variants = _variants(item["message"])
    assert len(variants) > 2 * len(item["message"])
    for changed in variants:
        assert changed != item["message"]
        with pytest.raises(BadMessage):
            party.read(changed, item["from"])


def test_a_message_is_refused_in_the_other_direction_or_on_another_post(vector: dict[str, Any]) -> None:
    poster, replier = vector["poster"], vector["replier"]
    party = Party(vector["post_id"], poster["public"], replier["public"], poster["private"], True)
    for item in vector["messages"]:
        other = "poster" if item["from"] == "replier" else "replier"
        with pytest.raises(BadMessage):
            party.read(item["message"], other)  # the same bytes as if sent the other way
        elsewhere = Party("0" * 20, poster["public"], replier["public"], poster["private"], True)
        with pytest.raises(BadMessage):
            elsewhere.read(item["message"], item["from"])


def test_a_message_is_refused_in_another_conversation(vector: dict[str, Any]) -> None:
    """The salt binds both public keys: a stranger's key pair, or the same keys in the other roles, reads
    nothing."""
    poster, replier = vector["poster"], vector["replier"]
    item = vector["messages"][0]
    stranger = rc.generate(vector["curve"])
    for party in (
        Party(vector["post_id"], poster["public"], stranger.public, poster["private"], True),
        Party(vector["post_id"], replier["public"], poster["public"], replier["private"], True),
    ):
        with pytest.raises(BadMessage):
            party.read(item["message"], item["from"])


@pytest.mark.parametrize("curve", ["p256", "x25519"])
def test_fresh_keys_talk_both_ways_with_a_fresh_nonce_every_time(curve: rc.Curve) -> None:
    post, neighbour = rc.generate(curve), rc.generate(curve)
    poster = Party("abc123", post.public, neighbour.public, post.private, True)
    replier = Party("abc123", post.public, neighbour.public, neighbour.private, False)
    first, second = replier.write("Привет"), replier.write("Привет")
    assert first != second  # a new random nonce per message
    assert poster.read(first, "replier") == replier.read(first, "replier") == "Привет"
    answer = poster.write("Дзякуй! 🙂")
    assert replier.read(answer, "poster") == "Дзякуй! 🙂"
    assert rc.well_formed(answer)


def test_message_sizes_are_checked() -> None:
    key = bytes(32)
    with pytest.raises(BadMessage):
        rc.seal(key, "p", Direction.TO_POSTER, "")
    with pytest.raises(BadMessage):
        rc.seal(key, "p", Direction.TO_POSTER, "я" * 2001)  # 4002 bytes
    longest = rc.seal(key, "p", Direction.TO_POSTER, "x" * rc.MAX_PLAINTEXT_BYTES)
    assert rc.well_formed(longest) and len(longest) <= rc.MAX_MESSAGE_CHARS
    with pytest.raises(BadMessage):
        rc.seal(key, "p", Direction.TO_POSTER, "x", nonce=bytes(11))
    for junk in (None, 3, "", "v1.", "v1.AAAA", "v1.not base64!", "v2." + longest[3:], "v1.=" + longest[3:]):
        assert not rc.well_formed(junk)
        with pytest.raises(BadMessage):
            rc.open_message(key, "p", Direction.TO_POSTER, junk)  # type: ignore[arg-type]


def test_only_p256_and_x25519_keys_in_the_scheme_form_are_taken() -> None:
    p256 = ec.generate_private_key(ec.SECP256R1()).public_key()
    compressed = p256.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
    compressed_spki = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), compressed)
    assert rc.load_public(rc.public_text(compressed_spki))  # the same key, exported uncompressed: fine
    # SubjectPublicKeyInfo with the compressed point: a valid key, but not what WebCrypto exports or takes
    spki_compressed = bytes.fromhex("3039301306072a8648ce3d020106082a8648ce3d030107032200") + compressed
    assert serialization.load_der_public_key(spki_compressed) == p256
    unknown_algorithm = bytes.fromhex("3019300b06092b0601040182370101030a00") + bytes(9)
    others = [
        rc.public_text(ec.generate_private_key(ec.SECP384R1()).public_key()),  # type: ignore[arg-type]
        rc.b64u(
            ed25519.Ed25519PrivateKey.generate()
            .public_key()
            .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        ),
        rc.b64u(spki_compressed),
        rc.b64u(unknown_algorithm),
        rc.generate("p256").private,  # a private key where a public one belongs
        "",
        "not a key",
        rc.public_text(p256) + "A",
        rc.public_text(p256) + "=",
        rc.public_text(p256)[:-1],
    ]
    for text in others:
        with pytest.raises(BadKey):
            rc.load_public(text)
    with pytest.raises(BadKey):
        rc.load_public(None)  # type: ignore[arg-type]
    with pytest.raises(BadKey):
        rc.load_private(rc.generate("x25519").public)


def test_keys_of_two_curves_make_no_conversation() -> None:
    p, x = rc.generate("p256"), rc.generate("x25519")
    with pytest.raises(BadKey):
        rc.message_key(p.private, x.public, p.public, x.public, Direction.TO_POSTER)


def test_base64url_is_read_in_its_canonical_spelling_only() -> None:
    assert rc.unb64u("AQ") == b"\x01"
    for text in ("AR", "AQ=", "A", "AQ==", "+/", "AQ\n"):
        with pytest.raises(ValueError):
            rc.unb64u(text)
