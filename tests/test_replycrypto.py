"""The Python implementation of private replies (mapaid/replycrypto.py, mapaid/replythread.py) against
docs/replies.md: it reproduces the test vectors the browser must reproduce too (version 1, read-only now,
and version 2), refuses any message changed by one byte, turned around, moved to another post or cut
short; reads a conversation in order and stops at the first message that was reordered, replayed, dropped,
re-dated or read against a swapped key; pads "yes" and a phone number to the same size; and takes only
P-256 and X25519 keys in the scheme's form, no X25519 key of small order."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from mapaid import replycrypto as rc
from mapaid.replycrypto import BadKey, BadMessage, Direction
from mapaid.replythread import Party

VECTORS = json.loads((Path(__file__).parent / "data" / "reply-vectors.json").read_text())
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
DAY = "2026-11-27"


def _by_curve(version: str, curve: str) -> dict[str, Any]:
    found: dict[str, Any] = next(v for v in VECTORS[version] if v["curve"] == curve)
    return found


@pytest.fixture(params=["p256", "x25519"])
def v1(request: pytest.FixtureRequest) -> dict[str, Any]:
    return _by_curve("v1", request.param)


@pytest.fixture(params=["p256", "x25519"])
def v2(request: pytest.FixtureRequest) -> dict[str, Any]:
    return _by_curve("v2", request.param)


def _parties(vector: dict[str, Any]) -> tuple[Party, Party]:
    poster, replier = vector["poster"], vector["replier"]
    args = (vector["post_id"], poster["public"], replier["public"])
    return Party(*args, poster["private"], True), Party(*args, replier["private"], False)


def _stored(vector: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(m["from"], m["message"], m["day"]) for m in vector["messages"]]


def test_both_curves_have_vectors_of_both_versions() -> None:
    for version in ("v1", "v2"):
        assert sorted(v["curve"] for v in VECTORS[version]) == ["p256", "x25519"]


# -- version 1: still read ---------------------------------------------------------------------------------
def test_the_v1_vectors_keys_are_reproduced_from_either_side(v1: dict[str, Any]) -> None:
    poster, replier = v1["poster"], v1["replier"]
    for direction, expected in (
        (Direction.TO_POSTER, "key_to_poster_hex"),
        (Direction.TO_REPLIER, "key_to_replier_hex"),
    ):
        from_poster = rc.message_key(
            poster["private"], replier["public"], poster["public"], replier["public"], direction, rc.V1
        )
        from_replier = rc.message_key(
            replier["private"], poster["public"], poster["public"], replier["public"], direction, rc.V1
        )
        assert from_poster.hex() == from_replier.hex() == v1[expected]


def test_the_v1_vectors_messages_are_reproduced_and_still_read(v1: dict[str, Any]) -> None:
    for item in v1["messages"]:
        direction = Direction(item["direction"])
        key = bytes.fromhex(
            v1["key_to_poster_hex" if direction is Direction.TO_POSTER else "key_to_replier_hex"]
        )
        sealed = rc.seal_v1(key, v1["post_id"], direction, item["text"], bytes.fromhex(item["nonce_hex"]))
        assert sealed == item["message"]
        for party in _parties(v1):
            assert party.read_v1(item["message"], item["from"]) == item["text"]
    for party in _parties(v1):
        reading = party.read_all((m["from"], m["message"], DAY) for m in v1["messages"])
        assert reading.intact and [s.text for s in reading.shown] == [m["text"] for m in v1["messages"]]
        assert [s.version for s in reading.shown] == ["v1", "v1"] and reading.shown[0].day == DAY


def test_the_vector_keys_are_in_the_scheme_form(v1: dict[str, Any]) -> None:
    for side in ("poster", "replier"):
        public = rc.load_public(v1[side]["public"])
        private = rc.load_private(v1[side]["private"])
        assert rc.curve_of(public) == rc.curve_of(private) == v1["curve"]
        assert rc.public_text(private.public_key()) == v1[side]["public"]
        assert len(rc.unb64u(v1[side]["public"])) == (91 if v1["curve"] == "p256" else 44)


def _variants(message: str) -> list[str]:
    """The message with each character changed (to two other base64url characters), each raw byte flipped
    (re-encoded), the version changed, and cut short by one character and by one raw byte."""
    version, body = message[:3], message[3:]
    out = []
    for i, c in enumerate(body):
        others = [a for a in ALPHABET if a != c]
        for other in (others[0], others[i % len(others)]):
            out.append(version + body[:i] + other + body[i + 1 :])
    raw = rc.unb64u(body)
    for i in range(len(raw)):
        out.append(version + rc.b64u(raw[:i] + bytes([raw[i] ^ 0x01]) + raw[i + 1 :]))
    other_version = "v2." if version == "v1." else "v1."
    out += [other_version + body, version.upper() + body, message[:-1], version + rc.b64u(raw[:-1])]
    return [*out, message + "A"]


def test_a_v1_message_changed_anywhere_by_one_byte_is_refused(v1: dict[str, Any]) -> None:
    item = v1["messages"][0]
    poster, _ = _parties(v1)
    variants = _variants(item["message"])
    assert len(variants) > 2 * len(item["message"])
    for changed in variants:
        assert changed != item["message"]
        with pytest.raises(BadMessage):
            poster.read_v1(changed, item["from"])
        assert poster.read_all([(item["from"], changed, DAY)]).why == "damaged"


# -- version 2 ---------------------------------------------------------------------------------------------
def test_the_v2_vectors_keys_and_hashes_are_reproduced(v2: dict[str, Any]) -> None:
    poster, replier = _parties(v2)
    for side in (poster, replier):
        assert side.key(Direction.TO_POSTER).hex() == v2["key_to_poster_hex"]
        assert side.key(Direction.TO_REPLIER).hex() == v2["key_to_replier_hex"]
    assert v2["key_to_poster_hex"] != _by_curve("v1", v2["curve"])["key_to_poster_hex"]  # a label of its own
    assert (
        rc.start_hash(v2["post_id"], v2["poster"]["public"], v2["replier"]["public"]).hex() == v2["start_hex"]
    )
    assert rc.fingerprint(v2["poster"]["public"]) == v2["fingerprint"] and len(v2["fingerprint"]) == 22


def test_the_v2_vectors_conversation_is_reproduced_byte_for_byte_and_read_by_both(v2: dict[str, Any]) -> None:
    poster, replier = _parties(v2)
    stored: list[tuple[str, str, str]] = []
    for item in v2["messages"]:
        side = poster if item["from"] == "poster" else replier
        reading = side.read_all(stored)
        direction = Direction(item["direction"])
        assert reading.chains[direction][-1].hex() == item["own_chain_hex"]
        assert reading.chains[direction.other][item["seen"]].hex() == item["seen_chain_hex"]
        wire = side.write(item["text"], item["day"], reading, bytes.fromhex(item["nonce_hex"]))
        assert wire == item["message"]
        header = rc.header_of(wire)
        assert header == rc.Header(item["counter"], item["seen"], item["day"])
        assert len(rc.pad(item["text"])) == item["padded_bytes"]
        stored.append((item["from"], wire, item["day"]))
    for side in (poster, replier):
        reading = side.read_all(stored)
        assert reading.intact and reading.unread == 0
        assert [(s.sender, s.text, s.day, s.version) for s in reading.shown] == [
            (m["from"], m["text"], m["day"], "v2") for m in v2["messages"]
        ]


def test_a_conversation_begun_in_v1_reads_and_goes_on_in_v2(v2: dict[str, Any]) -> None:
    poster, replier = _parties(v2)
    after = v2["after_v1"]
    stored = [(m["from"], m["message"], m["day"]) for m in after["stored"]]
    before = replier.read_all(stored[:-1])
    assert before.intact and [s.version for s in before.shown] == ["v1", "v1"]
    assert (
        replier.write(after["text"], stored[-1][2], before, bytes.fromhex(after["nonce_hex"]))
        == stored[-1][1]
    )
    for side in (poster, replier):
        reading = side.read_all(stored)
        assert reading.intact and [s.version for s in reading.shown] == ["v1", "v1", "v2"]
        assert reading.shown[-1].text == after["text"]
    # A version-1 message after a version-2 one of the same side: a downgrade, refused.
    v1_again = (stored[0][0], stored[0][1], stored[0][2])
    assert poster.read_all([*stored, v1_again]).why == "order"


def test_a_v2_message_changed_anywhere_by_one_byte_is_refused(v2: dict[str, Any]) -> None:
    poster, _ = _parties(v2)
    first = v2["messages"][0]
    assert poster.read_all([(first["from"], first["message"], first["day"])]).intact
    variants = _variants(first["message"])
    for changed in variants:
        reading = poster.read_all([(first["from"], changed, first["day"])])
        assert reading.why in ("damaged", "order", "day") and reading.shown == [], changed
    with pytest.raises(BadMessage):
        poster.write("an answer", DAY, poster.read_all([(first["from"], variants[0], first["day"])]))


def test_a_v2_message_is_refused_turned_around_elsewhere_or_in_another_conversation(
    v2: dict[str, Any],
) -> None:
    poster, replier = _parties(v2)
    item = v2["messages"][0]
    stranger = rc.generate(v2["curve"])
    others = [
        Party("0" * 20, poster.post_key, poster.replier_key, poster.own_private, True),
        Party(v2["post_id"], poster.post_key, stranger.public, poster.own_private, True),
        Party(v2["post_id"], replier.post_key, poster.post_key, replier.own_private, True),
    ]
    for party in others:
        assert party.read_all([(item["from"], item["message"], item["day"])]).why == "damaged"
    assert poster.read_all([("poster", item["message"], item["day"])]).why in ("damaged", "order")


def _conversation(curve: rc.Curve, turns: list[str]) -> tuple[Party, Party, list[tuple[str, str, str]]]:
    post, neighbour = rc.generate(curve), rc.generate(curve)
    poster = Party("abc123", post.public, neighbour.public, post.private, True)
    replier = Party("abc123", post.public, neighbour.public, neighbour.private, False)
    stored: list[tuple[str, str, str]] = []
    for i, who in enumerate(turns):
        side = poster if who == "poster" else replier
        day = f"2026-11-{20 + i:02d}"
        stored.append((who, side.write(f"message {i} from the {who}", day, side.read_all(stored)), day))
    return poster, replier, stored


TURNS = ["replier", "poster", "replier", "poster", "replier"]


@pytest.mark.parametrize(
    ("attack", "change", "why"),
    [
        ("reorder", lambda s: [s[0], s[2], s[1], s[3], s[4]], "order"),
        ("reorder within a side", lambda s: [s[2], s[1], s[0], s[3], s[4]], "order"),
        ("replay", lambda s: [*s[:3], s[2], *s[3:]], "order"),
        ("replay at the end", lambda s: [*s, s[0]], "order"),
        ("drop", lambda s: [s[0], s[1], s[3], s[4]], "order"),
        ("drop the first", lambda s: s[1:], "order"),
        ("re-date", lambda s: [*s[:2], (s[2][0], s[2][1], "2026-11-01"), *s[3:]], "day"),
        ("sender swapped", lambda s: [*s[:2], ("poster", s[2][1], s[2][2]), *s[3:]], "damaged"),
    ],
)
def test_reading_stops_at_a_reordered_replayed_dropped_or_redated_message(
    attack: str, change: Any, why: str
) -> None:
    poster, replier, stored = _conversation("x25519", TURNS)
    for side in (poster, replier):
        assert side.read_all(stored).intact
        reading = side.read_all(change(stored))
        assert reading.why == why, attack
        with pytest.raises(BadMessage):
            side.write("shall I answer?", DAY, reading)
    damaged = replier.read_all(change(stored))
    assert all(s.text.startswith("message ") for s in damaged.shown)


def test_a_reading_stops_at_the_first_damaged_message_and_decrypts_nothing_after_it() -> None:
    poster, _, stored = _conversation("p256", TURNS)
    wire = stored[1][1]
    broken = [
        *stored[:1],
        (stored[1][0], wire[:-2] + ("AA" if wire[-2:] != "AA" else "BA"), stored[1][2]),
        *stored[2:],
    ]
    reading = poster.read_all(broken)
    assert reading.why == "damaged" and len(reading.shown) == 1 and reading.unread == 3
    calls = []
    real = rc.open_message

    def counted(*args: Any) -> Any:
        calls.append(1)
        return real(*args)

    pytest.MonkeyPatch().setattr("mapaid.replythread.open_message", counted)
    try:
        poster.read_all(broken)
    finally:
        pytest.MonkeyPatch().undo()
    assert len(calls) == 2  # the first message and the damaged one; the three after it are never opened


def test_a_swapped_replier_key_makes_the_poster_refuse_to_answer() -> None:
    """Whoever swaps a thread's replier key for their own cannot read the neighbour's messages under it,
    and the poster's reading stops at the first one: no answer is sealed for the swapped key."""
    poster, replier, stored = _conversation("p256", TURNS[:2])
    swapper = rc.generate("p256")
    fooled = Party(poster.post_id, poster.post_key, swapper.public, poster.own_private, True)
    reading = fooled.read_all(stored)
    assert reading.why == "damaged" and reading.shown == []
    with pytest.raises(BadMessage):
        fooled.write("my address is ...", DAY, reading)
    # The neighbour's own answers were bound to the keys they were written for, too.
    assert replier.read_all(stored).intact


def test_writing_acknowledges_what_was_read_and_concurrent_messages_still_read() -> None:
    """Both sides write at once (each after reading the same two messages): the server stores them one
    after the other, and either order reads, since neither acknowledges the other."""
    poster, replier, stored = _conversation("x25519", TURNS[:2])
    a = poster.write("from the poster", DAY, poster.read_all(stored))
    b = replier.write("from the neighbour", DAY, replier.read_all(stored))
    for both in ([("poster", a, DAY), ("replier", b, DAY)], [("replier", b, DAY), ("poster", a, DAY)]):
        assert poster.read_all(stored + both).intact and replier.read_all(stored + both).intact
    # But a message that acknowledges one stored after it was moved before it: refused.
    c = replier.write("after your answer", DAY, replier.read_all([*stored, ("poster", a, DAY)]))
    assert rc.header_of(c) == rc.Header(1, 2, DAY)
    assert poster.read_all([*stored, ("replier", c, DAY), ("poster", a, DAY)]).why == "order"


def test_padding_makes_yes_and_a_phone_number_the_same_size() -> None:
    poster, _, stored = _conversation("p256", ["replier"])
    reading = poster.read_all(stored)
    sizes = {len(poster.write(text, DAY, reading)) for text in ("yes", "+375 29 123 45 67", "Да", "🙂" * 15)}
    assert len(sizes) == 1
    assert [
        len(rc.pad(t)) for t in ("x", "x" * 62, "x" * 63, "x" * 254, "x" * 255, "я" * 511, "я" * 512)
    ] == [
        64,
        64,
        256,
        256,
        1024,
        1024,
        4002,
    ]
    assert len(rc.pad("x" * rc.MAX_PLAINTEXT_BYTES)) == rc.BUCKETS[-1] == 4002
    for text in ("", "я" * 2001):
        with pytest.raises(BadMessage):
            rc.pad(text)
    for padded in (b"\x00\x03yes" + bytes(58), b"\x00\x03yes" + bytes(58) + b"\x01", b"\x00\x00" + bytes(62)):
        with pytest.raises(BadMessage):
            rc.unpad(padded)
    assert rc.unpad(rc.pad("yes")) == "yes"


def test_headers_and_sizes_are_checked() -> None:
    key = bytes(32)
    header = rc.Header(0, 0, DAY)
    longest = rc.seal(
        key, "p", Direction.TO_POSTER, "x" * rc.MAX_PLAINTEXT_BYTES, header, bytes(32), bytes(32)
    )
    assert rc.well_formed(longest) and len(longest) == rc.MAX_V2_CHARS
    with pytest.raises(BadMessage):
        rc.seal(key, "p", Direction.TO_POSTER, "x", header, bytes(32), bytes(32), nonce=bytes(11))
    for bad in (
        rc.Header(-1, 0, DAY),
        rc.Header(0, 70000, DAY),
        rc.Header(0, 0, "2026-02-30"),
        rc.Header(0, 0, "27.11.2026"),
    ):
        with pytest.raises(BadMessage):
            bad.pack()
    short = rc.seal(key, "p", Direction.TO_POSTER, "x", header, bytes(32), bytes(32))
    raw = rc.unb64u(short[3:])
    undated = "v2." + rc.b64u(raw[:4] + b"2026-13-01" + raw[14:])
    unpadded = "v2." + rc.b64u(raw[:-1])
    v1_message = VECTORS["v1"][0]["messages"][0]["message"]
    for junk in (
        None,
        3,
        "",
        "v2.",
        "v2.AAAA",
        "v2.not base64!",
        "v2.=" + short[3:],
        undated,
        unpadded,
        v1_message,
    ):
        assert not rc.well_formed(junk)
        assert rc.header_of(junk) is None


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


X25519_SPKI = bytes.fromhex("302a300506032b656e032100")
# The X25519 points of small order, as 32 little-endian bytes (RFC 7748; libsodium's blocklist).
SMALL_ORDER = [
    "0000000000000000000000000000000000000000000000000000000000000000",  # 0 (order 4)
    "0100000000000000000000000000000000000000000000000000000000000000",  # 1 (order 1)
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",  # order 8
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",  # order 8
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # p - 1 (order 2)
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # p (= 0)
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # p + 1 (= 1)
]


def _x25519_text(raw: bytes) -> str:
    return rc.b64u(X25519_SPKI + raw)


@pytest.mark.parametrize("point", SMALL_ORDER)
def test_x25519_keys_of_small_order_are_refused(point: str) -> None:
    raw = bytes.fromhex(point)
    for spelt in (raw, raw[:31] + bytes([raw[31] | 0x80])):  # and with the top bit set (the same point)
        with pytest.raises(BadKey):
            rc.load_public(_x25519_text(spelt))
    good = rc.generate("x25519")
    assert rc.load_public(good.public)
    top_bit = rc.unb64u(good.public)[12:]
    with pytest.raises(BadKey):  # a valid point, spelt with its unused top bit set: not WebCrypto's form
        rc.load_public(_x25519_text(top_bit[:31] + bytes([top_bit[31] | 0x80])))


def test_keys_of_two_curves_make_no_conversation() -> None:
    p, x = rc.generate("p256"), rc.generate("x25519")
    with pytest.raises(BadKey):
        rc.message_key(p.private, x.public, p.public, x.public, Direction.TO_POSTER)


def test_base64url_is_read_in_its_canonical_spelling_only() -> None:
    assert rc.unb64u("AQ") == b"\x01"
    for text in ("AR", "AQ=", "A", "AQ==", "+/", "AQ\n"):
        with pytest.raises(ValueError):
            rc.unb64u(text)
