"""Private replies through the JSON API (docs/replies.md), with the Python implementation as both clients:
the poster posts with a key, a neighbour opens a conversation, the poster lists (a page at a time) and
answers, the neighbour reads. Limits give clear 4xx answers; a post's conversations leave the disk with
it; posts without a key take none; coordinators see a report, never a message. Issue 17: the poster
deletes a conversation and blocks its key; junk from many clients cannot silence a post; one opening of
the private link costs the same whatever the number of conversations; what someone who can write the
database does to a conversation (reorder, replay, drop, re-date, swap a key) is caught by its reader; the
server stores only version-2 messages whose counters come next; a missing token header says nothing about
whether a thread exists."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import h3.api.basic_int as h3
import pytest
from databases import is_postgres, sqlite_only
from flask import Flask
from flask.testing import FlaskClient
from helpers import database_bytes, erase
from peek import columns, peek, peek_one, poke

from mapaid import accounts, create_app, replycrypto
from mapaid.clock import FixedClock
from mapaid.replies import PAGE_SIZE, key_hash, max_wire_chars
from mapaid.replythread import Party, Reading
from mapaid.store import SCHEMA_VERSION, Store, StoreError, open_store

CELL = h3.int_to_str(h3.latlng_to_cell(53.9023, 27.5619, 9))
HELLO = "Могу помочь с продуктами, 3-й подъезд"
ANSWER = "Спасибо! Буду дома после шести — кв. 41"
DAY = "2026-11-27"  # the tests' day (conftest.TEST_NOW)


@dataclass
class Poster:
    id: str
    token: str
    keys: replycrypto.KeyPair


@dataclass
class Replier:
    thread: str
    token: str
    keys: replycrypto.KeyPair
    party: Party


def post(client: FlaskClient, curve: replycrypto.Curve = "p256", **fields: Any) -> Poster:
    keys = replycrypto.generate(curve)
    body = {
        "kind": "need",
        "category": "food",
        "text": "Нужны продукты",
        "cell": CELL,
        "reply_key": keys.public,
    }
    body.update(fields)
    answer = client.post("/api/v1/posts", json=body)
    assert answer.status_code == 201, answer.get_json()
    return Poster(answer.get_json()["id"], answer.get_json()["token"], keys)


def reply(client: FlaskClient, poster: Poster, text: str = HELLO, day: str = DAY, **environ: str) -> Replier:
    keys = replycrypto.generate(replycrypto.curve_of(replycrypto.load_public(poster.keys.public)))
    party = Party(poster.id, poster.keys.public, keys.public, keys.private, poster=False)
    answer = client.post(
        f"/api/v1/posts/{poster.id}/threads",
        json={"key": keys.public, "message": party.write(text, day)},
        environ_base=environ,
    )
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert body["link"] == f"/thread/{body['thread']}/{body['token']}"
    assert answer.headers["Cache-Control"] == "no-store"
    return Replier(body["thread"], body["token"], keys, party)


def poster_party(poster: Poster, replier_key: str) -> Party:
    return Party(poster.id, poster.keys.public, replier_key, poster.keys.private, poster=True)


def read(client: FlaskClient, thread: str, party: Party, headers: dict[str, str]) -> tuple[Reading, str]:
    """A conversation read through the API as its reader does: the reading and the site's day."""
    answer = client.get(f"/api/v1/threads/{thread}", headers=headers)
    assert answer.status_code == 200, answer.get_json()
    return party.read_api(answer.get_json()["messages"]), answer.get_json()["today"]


def say(client: FlaskClient, thread: str, party: Party, headers: dict[str, str], text: str) -> Any:
    """Read the conversation, then write the next message in it, as a client does."""
    reading, day = read(client, thread, party, headers)
    return client.post(
        f"/api/v1/threads/{thread}/messages",
        json={"message": party.write(text, day, reading)},
        headers=headers,
    )


@pytest.mark.parametrize("curve", ["p256", "x25519"])
def test_a_whole_conversation_between_two_python_clients(
    client: FlaskClient, store: Store, database: str, today: date, curve: replycrypto.Curve
) -> None:
    poster = post(client, curve)
    assert (
        client.get(f"/api/v1/posts/{poster.id}").get_json()["properties"]["reply_key"] == poster.keys.public
    )
    neighbour = reply(client, poster)

    listed = client.get(f"/api/v1/posts/{poster.id}/threads", headers={"X-Post-Token": poster.token})
    assert listed.status_code == 200 and listed.headers["Cache-Control"] == "no-store"
    body = listed.get_json()
    assert body["post"] == poster.id and body["post_key"] == poster.keys.public
    assert (body["today"], body["page"], body["pages"], body["total"]) == (today.isoformat(), 1, 1, 1)
    (thread,) = body["threads"]
    assert thread["thread"] == neighbour.thread and thread["replier_key"] == neighbour.keys.public
    (first,) = thread["messages"]
    assert first["from"] == "replier" and first["day"] == today.isoformat()
    me = poster_party(poster, thread["replier_key"])
    reading = me.read_api(thread["messages"])
    assert reading.intact and [s.text for s in reading.shown] == [HELLO]

    as_poster = {"X-Post-Token": poster.token}
    answered = say(client, neighbour.thread, me, as_poster, ANSWER)
    assert answered.status_code == 201 and answered.get_json() == {"messages": 2}

    seen = client.get(f"/api/v1/threads/{neighbour.thread}", headers={"X-Thread-Token": neighbour.token})
    assert seen.status_code == 200 and seen.headers["Cache-Control"] == "no-store"
    body = seen.get_json()
    assert (body["thread"], body["post"], body["post_key"], body["replier_key"], body["today"]) == (
        neighbour.thread,
        poster.id,
        poster.keys.public,
        neighbour.keys.public,
        today.isoformat(),
    )
    assert [m["from"] for m in body["messages"]] == ["replier", "poster"]
    assert [s.text for s in neighbour.party.read_api(body["messages"]).shown] == [HELLO, ANSWER]
    # The poster reads one conversation with the post's token, too.
    assert client.get(f"/api/v1/threads/{neighbour.thread}", headers=as_poster).get_json() == body

    as_replier = {"X-Thread-Token": neighbour.token}
    again = say(client, neighbour.thread, neighbour.party, as_replier, "Хорошо, в 18:30")
    assert again.status_code == 201 and again.get_json() == {"messages": 3}
    stored = peek(database, "SELECT sender, message FROM messages ORDER BY seq")
    assert [s for s, _ in stored] == ["replier", "poster", "replier"]
    assert all(m.startswith("v2.") for _, m in stored)
    assert HELLO.encode() not in database_bytes(database)


# -- who may do what ---------------------------------------------------------------------------------------
def test_an_unknown_thread_and_a_wrong_token_get_the_same_404(client: FlaskClient) -> None:
    poster = post(client)
    neighbour = reply(client, poster)
    other = post(client)
    wrong = [
        ("get", f"/api/v1/threads/{neighbour.thread}", {"X-Thread-Token": neighbour.token + "x"}),
        ("get", f"/api/v1/threads/{'0' * 20}", {"X-Thread-Token": neighbour.token}),
        ("get", f"/api/v1/threads/{neighbour.thread}", {"X-Thread-Token": poster.token}),
        ("post", f"/api/v1/threads/{neighbour.thread}/messages", {"X-Thread-Token": "nope"}),
        ("post", f"/api/v1/threads/{neighbour.thread}/messages", {"X-Post-Token": other.token}),
        ("post", f"/api/v1/threads/{neighbour.thread}/messages", {"X-Post-Token": neighbour.token}),
        ("post", f"/api/v1/threads/{'0' * 20}/messages", {"X-Post-Token": poster.token}),
        ("post", f"/api/v1/threads/{neighbour.thread}/report", {"X-Thread-Token": poster.token}),
        ("get", f"/api/v1/threads/{neighbour.thread}", {"X-Post-Token": other.token}),
        ("delete", f"/api/v1/threads/{neighbour.thread}", {"X-Post-Token": other.token}),
        ("delete", f"/api/v1/threads/{neighbour.thread}", {"X-Post-Token": neighbour.token}),
        ("delete", f"/api/v1/threads/{'0' * 20}", {"X-Post-Token": poster.token}),
    ]
    bodies = set()
    for method, path, headers in wrong:
        answer = getattr(client, method)(
            path, headers=headers, json={"message": neighbour.party.write("x", DAY)}
        )
        assert answer.status_code == 404, (path, headers)
        assert answer.headers["Cache-Control"] == "no-store"
        bodies.add(answer.get_data())
    assert bodies == {b'{"error":"no conversation with this id and token","field":"id"}\n'}
    lists = [
        client.get(f"/api/v1/posts/{poster.id}/threads", headers={"X-Post-Token": other.token}),
        client.get(f"/api/v1/posts/{poster.id}/threads", headers={"X-Post-Token": neighbour.token}),
        client.get(f"/api/v1/posts/{'0' * 20}/threads", headers={"X-Post-Token": poster.token}),
    ]
    assert {(a.status_code, a.get_data()) for a in lists} == {
        (404, b'{"error":"no post with this id and token","field":"id"}\n')
    }
    missing = client.get(f"/api/v1/posts/{poster.id}/threads")
    assert missing.status_code == 400 and missing.get_json()["field"] == "X-Post-Token"
    both = client.post(
        f"/api/v1/threads/{neighbour.thread}/messages",
        json={"message": neighbour.party.write("x", DAY)},
        headers={"X-Thread-Token": neighbour.token, "X-Post-Token": poster.token},
    )
    assert both.status_code == 401
    both_headers = {"X-Thread-Token": neighbour.token, "X-Post-Token": poster.token}
    assert client.get(f"/api/v1/threads/{neighbour.thread}", headers=both_headers).status_code == 401


def test_without_a_token_every_thread_route_answers_the_same_whether_or_not_the_thread_exists(
    client: FlaskClient,
) -> None:
    """Issue 17, item 9: the message route answered 400 for a thread that exists and 404 for one that does
    not, which told anyone whether a conversation id was real. Now every thread route asks for its token
    header first: the same answer, byte for byte, for both."""
    poster = post(client)
    neighbour = reply(client, poster)
    wire = neighbour.party.write("x", DAY)
    both = {"X-Thread-Token": neighbour.token, "X-Post-Token": poster.token}
    requests = [  # where either token will do, 401; where one header is required, 400 naming it
        ("get", "/api/v1/threads/{}", {}, 401),
        ("get", "/api/v1/threads/{}", both, 401),
        ("delete", "/api/v1/threads/{}", {}, 400),
        ("delete", "/api/v1/threads/{}", {"X-Thread-Token": neighbour.token}, 400),
        ("post", "/api/v1/threads/{}/messages", {}, 401),
        ("post", "/api/v1/threads/{}/messages", both, 401),
        ("post", "/api/v1/threads/{}/report", {}, 400),
        ("post", "/api/v1/threads/{}/report", {"X-Post-Token": poster.token}, 400),
    ]
    for method, path, headers, status in requests:
        answers = [
            getattr(client, method)(
                path.format(thread), headers=headers, json={"message": wire, "reason": "spam"}
            )
            for thread in (neighbour.thread, "0" * 20, "nonsense")
        ]
        assert {(a.status_code, a.get_data()) for a in answers} == {
            (answers[0].status_code, answers[0].get_data())
        }
        assert answers[0].status_code == status, (method, path)
    assert peek_one(client.application.config["DATABASE"], "SELECT count(*) FROM messages") == 1


def test_the_direction_comes_from_the_token(client: FlaskClient) -> None:
    """The poster's token writes as the poster, the thread's as the replier: a message the replier sealed
    for the poster and sent with the post's token is stored as the poster's, and nobody can read it."""
    poster = post(client)
    neighbour = reply(client, poster)
    as_poster = say(
        client,
        neighbour.thread,
        poster_party(poster, neighbour.keys.public),
        {"X-Post-Token": poster.token},
        ANSWER,
    )
    assert as_poster.status_code == 201
    as_replier = {"X-Thread-Token": neighbour.token}
    got = client.get(f"/api/v1/threads/{neighbour.thread}", headers=as_replier)
    assert [m["from"] for m in got.get_json()["messages"]] == ["replier", "poster"]
    # The replier's next message (counter 1, having seen the poster's one), sent with the post's token: the
    # server stores it as the poster's (whose counter 1 it fits), and nobody can read it.
    reading, day = read(client, neighbour.thread, neighbour.party, as_replier)
    turned = neighbour.party.write("turned around", day, reading)
    sent = client.post(
        f"/api/v1/threads/{neighbour.thread}/messages",
        json={"message": turned},
        headers={"X-Post-Token": poster.token},
    )
    assert sent.status_code == 201
    last = client.get(f"/api/v1/threads/{neighbour.thread}", headers=as_replier).get_json()["messages"]
    assert last[-1]["from"] == "poster"
    reading = neighbour.party.read_api(last)
    assert reading.why == "damaged" and len(reading.shown) == 2


def test_threads_of_one_post_are_kept_apart(client: FlaskClient) -> None:
    poster = post(client)
    first, second = reply(client, poster, "первый"), reply(client, poster, "второй")
    assert first.keys.public != second.keys.public
    one = client.get(f"/api/v1/threads/{first.thread}", headers={"X-Thread-Token": first.token}).get_json()
    assert [s.text for s in first.party.read_api(one["messages"]).shown] == ["первый"]
    assert (
        client.get(f"/api/v1/threads/{second.thread}", headers={"X-Thread-Token": first.token}).status_code
        == 404
    )
    listed = client.get(
        f"/api/v1/posts/{poster.id}/threads", headers={"X-Post-Token": poster.token}
    ).get_json()
    texts = {
        poster_party(poster, t["replier_key"]).read_api(t["messages"]).shown[0].text
        for t in listed["threads"]
    }
    assert texts == {"первый", "второй"}
    assert [t["thread"] for t in listed["threads"]] == sorted(t["thread"] for t in listed["threads"])


# -- what a post must be to take replies --------------------------------------------------------------------
def test_a_post_without_a_key_takes_no_thread(client: FlaskClient) -> None:
    plain = client.post(
        "/api/v1/posts", json={"kind": "need", "category": "food", "text": "Хлеб", "cell": CELL}
    )
    post_id = plain.get_json()["id"]
    assert client.get(f"/api/v1/posts/{post_id}").get_json()["properties"]["reply_key"] is None
    keys = replycrypto.generate()
    message = Party(post_id, keys.public, keys.public, keys.private, poster=False).write("hello", DAY)
    answer = client.post(f"/api/v1/posts/{post_id}/threads", json={"key": keys.public, "message": message})
    assert answer.status_code == 409 and answer.get_json()["field"] == "id"
    assert "no private replies" in answer.get_json()["error"]
    listed = client.get(
        f"/api/v1/posts/{post_id}/threads", headers={"X-Post-Token": plain.get_json()["token"]}
    )
    assert listed.get_json() == {
        "post": post_id,
        "post_key": None,
        "today": DAY,
        "page": 1,
        "pages": 1,
        "per_page": PAGE_SIZE,
        "total": 0,
        "threads": [],
    }


def test_reply_key_is_checked_published_and_kept_out_of_exports(client: FlaskClient, store: Store) -> None:
    base = {"kind": "need", "category": "food", "text": "Хлеб", "cell": CELL}
    p384 = replycrypto.b64u(bytes.fromhex("3076301006072a8648ce3d020106052b81040022036200") + bytes(97))
    for bad in ("not a key", 42, replycrypto.generate().private, p384, "A" * 300):
        answer = client.post("/api/v1/posts", json={**base, "reply_key": bad})
        assert answer.status_code == 422, bad
        assert answer.get_json()["field"] == "reply_key"
    assert store.count() == 0
    for empty in (None, ""):
        answer = client.post("/api/v1/posts", json={**base, "reply_key": empty})
        assert answer.status_code == 201
        assert store.reply_key(answer.get_json()["id"]) is None
    poster = post(client, "x25519")
    features = client.get(f"/api/v1/posts?cell={CELL}").get_json()["features"]
    keys = {f["properties"]["id"]: f["properties"]["reply_key"] for f in features}
    assert keys[poster.id] == poster.keys.public and list(keys.values()).count(None) == 2
    frame = store.posts(date(2026, 11, 27), id=[poster.id])
    assert frame["reply_key"].tolist() == [poster.keys.public]  # for the pages
    for fmt in ("geojson", "csv"):
        exported = client.get(f"/export/posts.{fmt}")
        assert exported.status_code == 200
        assert poster.keys.public.encode() not in exported.data and b"reply_key" not in exported.data


def test_the_form_takes_reply_key_as_a_hidden_field(client: FlaskClient, store: Store) -> None:
    form = client.get("/post").text
    nonce = re.search(r'name="form_nonce" value="([^"]+)"', form)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    keys = replycrypto.generate()
    data = {"kind": "need", "category": "food", "text": "Лекарства", "cell": CELL, "expires_days": "14"}
    data["csrf_token"] = token.group(1) if token else ""
    bad = client.post("/post", data={**data, "reply_key": "garbage"})
    assert bad.status_code == 422 and store.count() == 0
    data["form_nonce"] = nonce.group(1) if nonce else ""
    made = client.post("/post", data={**data, "reply_key": keys.public})
    assert made.status_code == 303
    (post_id,) = store.posts(date(2026, 11, 27))["id"].tolist()
    assert store.reply_key(post_id) == keys.public


def test_only_open_unexpired_posts_take_threads_and_messages(
    client: FlaskClient, store: Store, clock: FixedClock
) -> None:
    poster = post(client, expires_days=1)
    neighbour = reply(client, poster)
    assert (
        client.post(
            f"/api/v1/posts/{poster.id}/fulfilled", headers={"X-Post-Token": poster.token}
        ).status_code
        == 200
    )
    late = say(
        client, neighbour.thread, neighbour.party, {"X-Thread-Token": neighbour.token}, "ещё актуально?"
    )
    assert late.status_code == 409 and "no longer takes messages" in late.get_json()["error"]
    keys = replycrypto.generate()
    party = Party(poster.id, poster.keys.public, keys.public, keys.private, poster=False)
    fresh = client.post(
        f"/api/v1/posts/{poster.id}/threads", json={"key": keys.public, "message": party.write("hi", DAY)}
    )
    assert fresh.status_code == 404
    # The conversation stays readable until the post goes.
    assert (
        client.get(
            f"/api/v1/threads/{neighbour.thread}", headers={"X-Thread-Token": neighbour.token}
        ).status_code
        == 200
    )

    expiring = post(client, expires_days=1)
    other = reply(client, expiring)
    clock.advance(timedelta(days=2))
    answer = say(client, other.thread, other.party, {"X-Thread-Token": other.token}, "hello?")
    assert answer.status_code == 409


def test_bad_keys_and_messages_get_422_naming_the_field(client: FlaskClient) -> None:
    poster = post(client)  # P-256
    x = replycrypto.generate("x25519")
    good = reply(client, poster)
    message = good.party.write("hi", DAY)
    raw = replycrypto.unb64u(message[3:])
    v1 = Party(poster.id, poster.keys.public, good.keys.public, good.keys.private, False)
    v1_message = replycrypto.seal_v1(
        v1.key(replycrypto.Direction.TO_POSTER, "v1"), poster.id, v1.outgoing, "hi", bytes(12)
    )
    cases: list[tuple[dict[str, Any], str]] = [
        ({"key": x.public, "message": message}, "key"),  # another curve than the post's
        ({"key": "AAAA", "message": message}, "key"),
        ({"key": None, "message": message}, "key"),
        ({"key": good.keys.public, "message": "hello in clear"}, "message"),
        ({"key": good.keys.public, "message": "v1." + message[3:]}, "message"),
        ({"key": good.keys.public, "message": v1_message}, "message"),  # version 1 is read-only now
        ({"key": good.keys.public, "message": message + "="}, "message"),
        ({"key": good.keys.public, "message": "v2.AAAA"}, "message"),  # shorter than header, nonce and tag
        ({"key": good.keys.public, "message": "v2." + replycrypto.b64u(raw[:-1])}, "message"),  # not a bucket
        (
            {
                "key": good.keys.public,
                "message": "v2." + replycrypto.b64u(raw[:4] + b"2026-13-01" + raw[14:]),
            },
            "message",
        ),
        ({"key": good.keys.public, "message": good.party.write("hi", "2026-11-25")}, "message"),  # not today
        ({"key": good.keys.public}, "message"),
        ({"key": good.keys.public, "message": message, "name": "Ivan"}, "name"),
    ]
    for body, field in cases:
        answer = client.post(f"/api/v1/posts/{poster.id}/threads", json=body)
        assert answer.status_code == 422, body
        assert answer.get_json()["field"] == field
    assert client.post(f"/api/v1/posts/{poster.id}/threads", data="x").status_code == 400
    stale = client.post(
        f"/api/v1/posts/{poster.id}/threads",
        json={"key": good.keys.public, "message": good.party.write("hi", "2026-11-25")},
    )
    assert "the site's day, 2026-11-27" in stale.get_json()["error"]
    # A day either side of the site's is taken (a clock near midnight) and kept as the message says.
    for day in ("2026-11-26", "2026-11-28"):
        keys = replycrypto.generate()
        party = Party(poster.id, poster.keys.public, keys.public, keys.private, poster=False)
        made = client.post(
            f"/api/v1/posts/{poster.id}/threads", json={"key": keys.public, "message": party.write("hi", day)}
        )
        assert made.status_code == 201
        assert (
            peek_one(
                client.application.config["DATABASE"],
                "SELECT day FROM messages WHERE thread_id = ?",
                (made.get_json()["thread"],),
            )
            == day
        )


# -- limits --------------------------------------------------------------------------------------------------
@pytest.fixture
def tight(config: dict[str, Any]) -> FlaskClient:
    app: Flask = create_app(
        {**config, "REPLY_MAX_CHARS": 10, "REPLY_MAX_MESSAGES": 3, "REPLY_MAX_THREADS": 2}
    )
    return app.test_client()


def test_limits_on_length_messages_and_threads_give_clear_answers(tight: FlaskClient) -> None:
    poster = post(tight)
    neighbour = reply(tight, poster, "я" * 10)  # ten characters of two bytes each: within the limit
    keys = replycrypto.generate()
    party = Party(poster.id, poster.keys.public, keys.public, keys.private, poster=False)
    # Padded, a message's size says only which bucket it fills: ten characters of up to 4 bytes fit the
    # 64-byte one, so the server refuses what needs the next (the browser counts the characters).
    too_long = tight.post(
        f"/api/v1/posts/{poster.id}/threads", json={"key": keys.public, "message": party.write("x" * 63, DAY)}
    )
    assert too_long.status_code == 422 and "at most 10 characters" in too_long.get_json()["error"]
    assert max_wire_chars(10) == len(party.write("x", DAY)) == len(party.write("x" * 62, DAY))
    headers = {"X-Thread-Token": neighbour.token}
    for n in (2, 3):
        sent = say(tight, neighbour.thread, neighbour.party, headers, "ok")
        assert sent.get_json() == {"messages": n}
    full = say(tight, neighbour.thread, neighbour.party, headers, "ok")
    assert full.status_code == 409 and "full (3 messages)" in full.get_json()["error"]
    reply(tight, poster, "и я")
    third = tight.post(
        f"/api/v1/posts/{poster.id}/threads", json={"key": keys.public, "message": party.write("hi", DAY)}
    )
    assert (
        third.status_code == 409 and "as many conversations as it can take (2)" in third.get_json()["error"]
    )


def test_writes_are_rate_limited(config: dict[str, Any]) -> None:
    app = create_app({**config, "POST_LIMIT": "3 per minute", "WRITE_LIMIT": "2 per minute"})
    client = app.test_client()
    poster = post(client)
    neighbour = reply(client, poster)
    reply(client, poster)
    keys = replycrypto.generate()
    party = Party(poster.id, poster.keys.public, keys.public, keys.private, poster=False)
    fourth = client.post(
        f"/api/v1/posts/{poster.id}/threads", json={"key": keys.public, "message": party.write("hi", DAY)}
    )
    assert fourth.status_code == 429 and fourth.headers["Retry-After"]
    headers = {"X-Thread-Token": neighbour.token}
    codes = [say(client, neighbour.thread, neighbour.party, headers, "x").status_code for _ in range(3)]
    assert codes == [201, 201, 429]
    assert (
        client.post(
            f"/api/v1/threads/{neighbour.thread}/report", json={"reason": "spam"}, headers=headers
        ).status_code
        == 429
    )


# -- gone with the post ------------------------------------------------------------------------------------
def _conversation(
    client: FlaskClient, curve: replycrypto.Curve = "p256", **fields: Any
) -> tuple[Poster, Replier, list[str]]:
    poster = post(client, curve, **fields)
    neighbour = reply(client, poster)
    me = poster_party(poster, neighbour.keys.public)
    assert say(client, neighbour.thread, me, {"X-Post-Token": poster.token}, ANSWER).status_code == 201
    got = client.get(f"/api/v1/threads/{neighbour.thread}", headers={"X-Thread-Token": neighbour.token})
    return poster, neighbour, [m["message"] for m in got.get_json()["messages"]]


def _sealed(wire: str) -> bytes:
    """A stretch of a message's ciphertext (past its header and nonce, which other messages share)."""
    return wire[40:80].encode()


def _gone(database: str, wires: list[str], replier_key: str) -> None:
    """Gone from the tables at once, and from the files after the store's erase (housekeeping's)."""
    assert peek_one(database, "SELECT count(*) FROM threads") == 0
    assert peek_one(database, "SELECT count(*) FROM messages") == 0
    erase(database)
    on_disk = database_bytes(database)
    for wire in wires:
        assert _sealed(wire) not in on_disk
    assert replier_key[30:].encode() not in on_disk


def test_a_deleted_post_takes_its_conversations_off_the_disk(client: FlaskClient, database: str) -> None:
    poster, neighbour, wires = _conversation(client)
    on_disk = database_bytes(database)
    assert all(_sealed(w) in on_disk for w in wires)  # the search can find them while they live
    assert (
        client.delete(f"/api/v1/posts/{poster.id}", headers={"X-Post-Token": poster.token}).status_code == 204
    )
    _gone(database, wires, neighbour.keys.public)
    assert (
        client.get(
            f"/api/v1/threads/{neighbour.thread}", headers={"X-Thread-Token": neighbour.token}
        ).status_code
        == 404
    )


def test_an_expired_post_purged_takes_its_conversations(
    client: FlaskClient, store: Store, database: str, today: date
) -> None:
    _, neighbour, wires = _conversation(client, expires_days=1)
    keep, _, kept = _conversation(client, expires_days=30)
    assert store.purge_expired(today + timedelta(days=2)) == 1
    assert peek_one(database, "SELECT count(*) FROM threads") == 1  # the other post's stays
    assert peek_one(database, "SELECT count(*) FROM messages") == 2
    client.delete(f"/api/v1/posts/{keep.id}", headers={"X-Post-Token": keep.token})
    _gone(database, wires + kept, neighbour.keys.public)


def test_a_fulfilled_post_purged_takes_its_conversations(
    client: FlaskClient, store: Store, database: str
) -> None:
    poster, neighbour, wires = _conversation(client, "x25519")
    client.post(f"/api/v1/posts/{poster.id}/fulfilled", headers={"X-Post-Token": poster.token})
    assert store.purge_fulfilled() == 1
    _gone(database, wires, neighbour.keys.public)


def test_the_cascade_catches_a_deletion_that_forgets_the_conversations(
    client: FlaskClient, database: str
) -> None:
    poster, _, _ = _conversation(client)
    assert (
        poke(database, "DELETE FROM posts WHERE id = ?", (poster.id,)) == 1
    )  # as a forgetful deletion would
    assert peek_one(database, "SELECT count(*) FROM threads") == 0
    assert peek_one(database, "SELECT count(*) FROM messages") == 0


def test_the_tables_keep_days_hashes_and_ciphertext_only(client: FlaskClient, database: str) -> None:
    """And on SQLite not even the order in which they came (WITHOUT ROWID); on PostgreSQL the store's reseal
    puts rows in key order whenever text is taken back (mapaid/pgstore.py)."""
    _, neighbour, _ = _conversation(client)
    # PostgreSQL marks rows written since the last publication round (``fresh``, cleared by the round so
    # the row carries the round's transaction id): a flag, no time.
    fresh = {"fresh"} if is_postgres(database) else set()
    assert set(columns(database, "threads")) == {
        "id",
        "post_id",
        "replier_key",
        "token_hash",
        "day",
        *fresh,
    }
    assert set(columns(database, "messages")) == {
        "thread_id",
        "seq",
        "sender",
        "message",
        "day",
        *fresh,
    }
    (row,) = peek(database, "SELECT token_hash, day FROM threads")
    assert row[0] != neighbour.token and len(row[0]) == 64 and row[1] == "2026-11-27"
    if not is_postgres(database):
        without_rowid = peek(
            database,
            "SELECT name FROM sqlite_master"
            " WHERE name IN ('threads', 'messages', 'blocked_keys') AND sql LIKE '%WITHOUT ROWID%'",
        )
        assert len(without_rowid) == 3
    assert set(columns(database, "blocked_keys")) == {"post_id", "key_hash"}


# -- coordinators -----------------------------------------------------------------------------------------
def test_a_report_through_a_thread_reaches_coordinators_without_any_message(
    client: FlaskClient, app: Flask, store: Store, database: str, today: date
) -> None:
    poster, neighbour, wires = _conversation(client)
    headers = {"X-Thread-Token": neighbour.token}
    sent = client.post(
        f"/api/v1/threads/{neighbour.thread}/report", json={"reason": "dangerous"}, headers=headers
    )
    assert sent.status_code == 202 and sent.get_json() == {"id": poster.id, "reason": "dangerous"}
    assert (
        client.post(
            f"/api/v1/threads/{neighbour.thread}/report", json={"reason": "rude"}, headers=headers
        ).status_code
        == 422
    )
    assert peek(database, "SELECT post_id, reason, count FROM reports") == [(poster.id, "dangerous", 1)]

    accounts.add(store, "anna", "correct horse battery", today)
    coordinator = app.test_client()
    login = coordinator.get("/coordinator/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', login)
    data = {"name": "anna", "password": "correct horse battery", "csrf_token": csrf.group(1) if csrf else ""}
    assert coordinator.post("/coordinator/login", data=data).status_code == 302
    queue = coordinator.get("/coordinator/posts?reported=1")
    assert poster.id in queue.text and "dangerous or a scam: 1" in queue.text
    seen = b"".join(
        coordinator.get(path).data
        for path in (
            "/coordinator/posts?reported=1",
            "/coordinator/posts",
            "/api/v1/coordinator/posts",
            "/coordinator",
        )
    )
    for secret in (
        *(_sealed(w).decode() for w in wires),
        neighbour.keys.public,
        poster.keys.public,
        HELLO,
        ANSWER,
        neighbour.token,
    ):
        assert secret.encode() not in seen


# -- schema ------------------------------------------------------------------------------------------------
@sqlite_only
def test_init_db_upgrades_a_schema_3_database_keeping_its_posts(
    database: str, cli: Any, client: FlaskClient
) -> None:
    """SQLite only: schema 3 is an older SQLite file's; PostgreSQL databases begin at the current schema."""
    made = client.post(
        "/api/v1/posts", json={"kind": "need", "category": "food", "text": "Хлеб", "cell": CELL}
    )
    post_id = made.get_json()["id"]
    db = sqlite3.connect(database, isolation_level=None)
    db.execute("DROP TABLE blocked_keys")  # schema 10's, after all of them
    db.execute("DROP TABLE messages")
    db.execute("DROP TABLE threads")
    db.execute("DROP TABLE walk_cells")  # schema 5's street walks came after the replies (schema 4)
    db.execute("DROP TABLE form_once")  # and schema 6's posting-form rows after them
    db.execute("DROP TABLE devices")  # and schema 9's coordinators' known devices
    db.execute("ALTER TABLE posts DROP COLUMN reply_key")
    db.execute("UPDATE schema_version SET version = 3")
    db.close()
    with pytest.raises(StoreError, match="run `mapaid init-db`"):
        open_store(database)
    assert cli("init-db").exit_code == 0
    store = open_store(database)
    try:
        assert peek_one(database, "SELECT version FROM schema_version") == SCHEMA_VERSION == 10
        assert store.get(post_id)["text"] == "Хлеб" and store.reply_key(post_id) is None  # type: ignore[index]
        assert store.threads_of(post_id) == []
    finally:
        store.close()
    poster = post(client)
    assert reply(client, poster).thread


def test_init_db_upgrades_a_schema_6_database_with_the_blocked_keys_table(
    database: str, cli: Any, client: FlaskClient
) -> None:
    poster = post(client)
    neighbour = reply(client, poster)
    poke(database, "DROP TABLE blocked_keys")  # as schema 6 had it
    poke(database, "UPDATE schema_version SET version = 6")
    with pytest.raises(StoreError, match="run `mapaid init-db`"):
        open_store(database)
    assert cli("init-db").exit_code == 0
    assert peek_one(database, "SELECT version FROM schema_version") == 10
    assert peek_one(database, "SELECT count(*) FROM messages") == 1
    assert (
        client.delete(
            f"/api/v1/threads/{neighbour.thread}", headers={"X-Post-Token": poster.token}
        ).status_code
        == 204
    )
    assert peek_one(database, "SELECT count(*) FROM blocked_keys") == 1


# -- issue 17, item 7: a post's replies cannot be silenced ------------------------------------------------
def test_the_poster_deletes_a_conversation_and_blocks_its_key(
    client: FlaskClient, database: str, today: date
) -> None:
    poster = post(client)
    junk, kept = reply(client, poster, "junk"), reply(client, poster, "a real neighbour")
    as_poster = {"X-Post-Token": poster.token}
    assert (
        client.delete(f"/api/v1/threads/{junk.thread}", headers={"X-Thread-Token": junk.token}).status_code
        == 400
    )
    gone = client.delete(f"/api/v1/threads/{junk.thread}", headers=as_poster)
    assert gone.status_code == 204 and gone.headers["Cache-Control"] == "no-store"
    assert (
        client.get(f"/api/v1/threads/{junk.thread}", headers={"X-Thread-Token": junk.token}).status_code
        == 404
    )
    assert client.delete(f"/api/v1/threads/{junk.thread}", headers=as_poster).status_code == 404
    assert peek(database, "SELECT thread_id FROM messages") == [(kept.thread,)]
    # What is kept of the blocked key: a hash, nothing else, and not the key's text.
    ((post_id, hashed),) = peek(database, "SELECT post_id, key_hash FROM blocked_keys")
    assert (post_id, hashed) == (poster.id, key_hash(poster.id, junk.keys.public))
    erase(database)  # PostgreSQL's files keep deleted rows until the erase (housekeeping's) rewrites them
    assert junk.keys.public[20:].encode() not in database_bytes(database)
    # The blocked key starts no other conversation with this post; a fresh key, or another post, still can.
    again = client.post(
        f"/api/v1/posts/{poster.id}/threads",
        json={"key": junk.keys.public, "message": junk.party.write("let me in", DAY)},
    )
    assert again.status_code == 403 and again.get_json()["field"] == "key"
    reply(client, poster, "from a fresh key")
    other = post(client)
    party = Party(other.id, other.keys.public, junk.keys.public, junk.keys.private, poster=False)
    elsewhere = client.post(
        f"/api/v1/posts/{other.id}/threads", json={"key": junk.keys.public, "message": party.write("hi", DAY)}
    )
    assert elsewhere.status_code == 201
    # The blocked keys go with their post, explicitly (not left to the cascade).
    assert client.delete(f"/api/v1/posts/{poster.id}", headers=as_poster).status_code == 204
    assert peek_one(database, "SELECT count(*) FROM blocked_keys") == 0
    erase(database)
    assert hashed.encode() not in database_bytes(database)


def test_junk_conversations_from_many_clients_can_no_longer_silence_a_post(config: dict[str, Any]) -> None:
    """Issue 17, item 7: 100 junk conversations from 20 addresses, each inside its limits, made every
    genuine neighbour get 409. With the shipped limits one client starts 3 conversations with one post a
    day, so 20 addresses make 60 of the 100 a post takes; the poster pages through them and deletes them."""
    shipped = {k: v for k, v in config.items() if k != "REPLY_START_LIMIT"}
    client = create_app({**shipped, "POST_LIMIT": "5 per minute;30 per day"}).test_client()
    poster = post(client)
    codes = []
    for n in range(20):
        address = f"198.51.100.{n + 1}"
        for _ in range(5):
            keys = replycrypto.generate()
            party = Party(poster.id, poster.keys.public, keys.public, keys.private, poster=False)
            answer = client.post(
                f"/api/v1/posts/{poster.id}/threads",
                json={"key": keys.public, "message": party.write("junk " * 10, DAY)},
                environ_base={"REMOTE_ADDR": address},
            )
            codes.append(answer.status_code)
    assert codes.count(201) == 60 and codes.count(429) == 40
    assert codes[:5] == [201, 201, 201, 429, 429]
    genuine = reply(client, poster, "Я могу помочь", REMOTE_ADDR="203.0.113.9")
    as_poster = {"X-Post-Token": poster.token}
    seen: list[str] = []
    page = 1
    while True:
        listed = client.get(f"/api/v1/posts/{poster.id}/threads?page={page}", headers=as_poster).get_json()
        assert listed["total"] == 61 and listed["pages"] == 7 and len(listed["threads"]) <= PAGE_SIZE
        seen += [t["thread"] for t in listed["threads"]]
        if page == listed["pages"]:
            break
        page += 1
    assert len(seen) == len(set(seen)) == 61 and genuine.thread in seen
    for thread in seen:
        if thread != genuine.thread:
            assert client.delete(f"/api/v1/threads/{thread}", headers=as_poster).status_code == 204
    (left,) = client.get(f"/api/v1/posts/{poster.id}/threads", headers=as_poster).get_json()["threads"]
    assert left["thread"] == genuine.thread


def _bytes_of_one_opening(client: FlaskClient, poster: Poster) -> int:
    """What opening the private link costs: the page, and the first page of conversations its script
    asks for."""
    page = client.get(f"/manage/{poster.id}/{poster.token}")
    listed = client.get(f"/api/v1/posts/{poster.id}/threads", headers={"X-Post-Token": poster.token})
    assert page.status_code == listed.status_code == 200
    return len(page.data) + len(listed.data)


def test_one_opening_of_the_private_link_costs_the_same_whatever_the_number_of_conversations(
    client: FlaskClient,
) -> None:
    """Issue 17, item 7: 27.5 MB per opening when full. The list is paged: 100 conversations cost what
    10 do (before: ten times as much)."""
    few, many = post(client), post(client)
    for poster, n in ((few, PAGE_SIZE), (many, 100)):
        for _ in range(n):
            neighbour = reply(client, poster, "x" * 200)
            say(client, neighbour.thread, neighbour.party, {"X-Thread-Token": neighbour.token}, "y" * 200)
    small, large = _bytes_of_one_opening(client, few), _bytes_of_one_opening(client, many)
    assert large <= small * 1.05, (small, large)


def test_the_poster_s_list_is_newest_first_by_day_then_stable(client: FlaskClient, clock: FixedClock) -> None:
    poster = post(client, expires_days=30)
    as_poster = {"X-Post-Token": poster.token}
    days = []
    neighbours = []
    for n in range(2 * PAGE_SIZE + 3):
        if n % 4 == 0:
            clock.advance(timedelta(days=1))
        neighbours.append(reply(client, poster, f"number {n}", clock.today().isoformat()))
        days.append(clock.today().isoformat())
    # An old conversation with a new message comes first.
    clock.advance(timedelta(days=1))
    revived = neighbours[0]
    assert (
        say(
            client, revived.thread, revived.party, {"X-Thread-Token": revived.token}, "still there?"
        ).status_code
        == 201
    )
    pages = [
        client.get(f"/api/v1/posts/{poster.id}/threads?page={n}", headers=as_poster).get_json()
        for n in (1, 2, 3)
    ]
    order = [t["thread"] for p in pages for t in p["threads"]]
    assert [len(p["threads"]) for p in pages] == [PAGE_SIZE, PAGE_SIZE, 3]
    assert order[0] == revived.thread
    last_days = [max(m["day"] for m in t["messages"]) for p in pages for t in p["threads"]]
    assert last_days == sorted(last_days, reverse=True)
    for day in set(last_days):
        same = [t for t, d in zip(order, last_days, strict=True) if d == day]
        assert same == sorted(same)  # within a day: the random ids' order, the same every time
    again = [
        t["thread"]
        for n in (1, 2, 3)
        for t in client.get(f"/api/v1/posts/{poster.id}/threads?page={n}", headers=as_poster).get_json()[
            "threads"
        ]
    ]
    assert again == order and sorted(order) == sorted(n.thread for n in neighbours)
    assert (
        client.get(f"/api/v1/posts/{poster.id}/threads?page=4", headers=as_poster).get_json()["threads"] == []
    )
    for bad in ("0", "-1", "x", "1.5"):
        answer = client.get(f"/api/v1/posts/{poster.id}/threads?page={bad}", headers=as_poster)
        assert answer.status_code == 400 and answer.get_json()["field"] == "page"


@pytest.mark.parametrize("curve", ["p256", "x25519"])
def test_keys_of_small_order_are_refused_at_intake(client: FlaskClient, curve: replycrypto.Curve) -> None:
    spki = bytes.fromhex("302a300506032b656e032100")
    small = [replycrypto.b64u(spki + bytes(32)), replycrypto.b64u(spki + (1).to_bytes(32, "little"))]
    base = {"kind": "need", "category": "food", "text": "Хлеб", "cell": CELL}
    for key in small:
        answer = client.post("/api/v1/posts", json={**base, "reply_key": key})
        assert answer.status_code == 422 and answer.get_json()["field"] == "reply_key"
    poster = post(client, curve)
    good = reply(client, poster)
    for key in small:
        answer = client.post(
            f"/api/v1/posts/{poster.id}/threads", json={"key": key, "message": good.party.write("hi", DAY)}
        )
        assert answer.status_code == 422 and answer.get_json()["field"] == "key"


def test_yes_and_a_phone_number_are_stored_the_same_size(client: FlaskClient, database: str) -> None:
    poster = post(client)
    neighbour = reply(client, poster, "+375 29 123 45 67")
    me = poster_party(poster, neighbour.keys.public)
    assert say(client, neighbour.thread, me, {"X-Post-Token": poster.token}, "yes").status_code == 201
    sizes = peek(database, "SELECT length(message) FROM messages ORDER BY seq")
    assert sizes[0] == sizes[1]


# -- issue 17, item 8: what a database writer does is caught by the reader ------------------------------
def test_two_tabs_writing_at_once_get_a_409_not_a_broken_conversation(client: FlaskClient) -> None:
    """The server stores a message only if its counters come next: the second of two messages sealed
    after the same reading is refused, so the conversation its readers see stays whole."""
    poster = post(client)
    neighbour = reply(client, poster)
    headers = {"X-Thread-Token": neighbour.token}
    reading, day = read(client, neighbour.thread, neighbour.party, headers)
    path = f"/api/v1/threads/{neighbour.thread}/messages"
    first = client.post(
        path, json={"message": neighbour.party.write("one tab", day, reading)}, headers=headers
    )
    second = client.post(
        path, json={"message": neighbour.party.write("another", day, reading)}, headers=headers
    )
    assert first.status_code == 201 and second.status_code == 409
    assert "read it again" in second.get_json()["error"]
    # A message that claims to have read more of the other side's than there are: refused too.
    bogus = Party(poster.id, poster.keys.public, neighbour.keys.public, neighbour.keys.private, False)
    reading, day = read(client, neighbour.thread, bogus, headers)
    reading.chains[replycrypto.Direction.TO_REPLIER].append(bytes(32))
    refused = client.post(path, json={"message": bogus.write("seen", day, reading)}, headers=headers)
    assert refused.status_code == 409
    assert neighbour.party.read_api(
        client.get(f"/api/v1/threads/{neighbour.thread}", headers=headers).get_json()["messages"]
    ).intact


def _thread_of_five(client: FlaskClient, curve: replycrypto.Curve) -> tuple[Poster, Replier, Party]:
    poster = post(client, curve)
    neighbour = reply(client, poster, "first")
    me = poster_party(poster, neighbour.keys.public)
    for n, (party, headers) in enumerate(
        [(me, {"X-Post-Token": poster.token}), (neighbour.party, {"X-Thread-Token": neighbour.token})] * 2
    ):
        assert say(client, neighbour.thread, party, headers, f"message {n + 2}").status_code == 201
    return poster, neighbour, me


ATTACKS: dict[str, list[str]] = {
    # What someone who can write the database does, in SQL both stores speak (? is the thread id).
    "reorder": ["UPDATE messages SET seq = 100 + (3 - seq) WHERE thread_id = ? AND seq IN (2, 3)"],
    "replay": [
        "UPDATE messages SET seq = seq + 10 WHERE thread_id = ? AND seq >= 2",
        "INSERT INTO messages (thread_id, seq, sender, message, day)"
        " SELECT thread_id, 2, sender, message, day FROM messages WHERE thread_id = ? AND seq = 1",
    ],
    "drop": ["DELETE FROM messages WHERE thread_id = ? AND seq = 2"],
    "re-date": ["UPDATE messages SET day = '2026-11-20' WHERE thread_id = ? AND seq = 2"],
}
WHY = {"reorder": "order", "replay": "order", "drop": "order", "re-date": "day"}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_a_database_writer_cannot_reorder_replay_drop_or_redate_undetected(
    client: FlaskClient, database: str, attack: str
) -> None:
    poster, neighbour, me = _thread_of_five(client, "x25519")
    as_poster, as_replier = {"X-Post-Token": poster.token}, {"X-Thread-Token": neighbour.token}
    assert read(client, neighbour.thread, me, as_poster)[0].intact
    for sql in ATTACKS[attack]:
        assert poke(database, sql, (neighbour.thread,)) >= 1
    for party, headers in ((me, as_poster), (neighbour.party, as_replier)):
        reading, day = read(client, neighbour.thread, party, headers)
        assert reading.why == WHY[attack], attack
        assert [s.text for s in reading.shown] == ["first", "message 2"]
        with pytest.raises(replycrypto.BadMessage):
            party.write("the door code is 2580", day, reading)


def test_a_swapped_replier_key_is_caught_and_the_swapper_gets_no_answer(
    client: FlaskClient, database: str
) -> None:
    poster, neighbour, _ = _thread_of_five(client, "p256")
    swapper = replycrypto.generate("p256")
    assert (
        poke(database, "UPDATE threads SET replier_key = ? WHERE id = ?", (swapper.public, neighbour.thread))
        == 1
    )
    listed = client.get(
        f"/api/v1/posts/{poster.id}/threads", headers={"X-Post-Token": poster.token}
    ).get_json()
    (thread,) = listed["threads"]
    fooled = poster_party(poster, thread["replier_key"])
    reading = fooled.read_api(thread["messages"])
    assert reading.why == "damaged" and reading.shown == [] and reading.unread == 4
    with pytest.raises(replycrypto.BadMessage):
        fooled.write("my flat is 41", DAY, reading)
