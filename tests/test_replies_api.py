"""Private replies through the JSON API (docs/replies.md), with the Python implementation as both clients:
the poster posts with a key, a neighbour opens a conversation, the poster lists and answers, the neighbour
reads. Limits give clear 4xx answers; a post's conversations leave the disk with it; posts without a key
take none; coordinators see a report, never a message."""

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
from mapaid.replycrypto import Party
from mapaid.store import SCHEMA_VERSION, Store, StoreError, open_store

CELL = h3.int_to_str(h3.latlng_to_cell(53.9023, 27.5619, 9))
HELLO = "Могу помочь с продуктами, 3-й подъезд"
ANSWER = "Спасибо! Буду дома после шести — кв. 41"


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


def reply(client: FlaskClient, poster: Poster, text: str = HELLO) -> Replier:
    keys = replycrypto.generate(replycrypto.curve_of(replycrypto.load_public(poster.keys.public)))
    party = Party(poster.id, poster.keys.public, keys.public, keys.private, poster=False)
    answer = client.post(
        f"/api/v1/posts/{poster.id}/threads", json={"key": keys.public, "message": party.write(text)}
    )
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert body["link"] == f"/thread/{body['thread']}/{body['token']}"
    assert answer.headers["Cache-Control"] == "no-store"
    return Replier(body["thread"], body["token"], keys, party)


def poster_party(poster: Poster, replier_key: str) -> Party:
    return Party(poster.id, poster.keys.public, replier_key, poster.keys.private, poster=True)


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
    (thread,) = body["threads"]
    assert thread["thread"] == neighbour.thread and thread["replier_key"] == neighbour.keys.public
    (first,) = thread["messages"]
    assert first["from"] == "replier" and first["day"] == today.isoformat()
    me = poster_party(poster, thread["replier_key"])
    assert me.read(first["message"], "replier") == HELLO

    answered = client.post(
        f"/api/v1/threads/{neighbour.thread}/messages",
        json={"message": me.write(ANSWER)},
        headers={"X-Post-Token": poster.token},
    )
    assert answered.status_code == 201 and answered.get_json() == {"messages": 2}

    read = client.get(f"/api/v1/threads/{neighbour.thread}", headers={"X-Thread-Token": neighbour.token})
    assert read.status_code == 200 and read.headers["Cache-Control"] == "no-store"
    seen = read.get_json()
    assert (seen["thread"], seen["post"], seen["post_key"], seen["replier_key"]) == (
        neighbour.thread,
        poster.id,
        poster.keys.public,
        neighbour.keys.public,
    )
    assert [m["from"] for m in seen["messages"]] == ["replier", "poster"]
    assert [neighbour.party.read(m["message"], m["from"]) for m in seen["messages"]] == [HELLO, ANSWER]

    again = client.post(
        f"/api/v1/threads/{neighbour.thread}/messages",
        json={"message": neighbour.party.write("Хорошо, в 18:30")},
        headers={"X-Thread-Token": neighbour.token},
    )
    assert again.status_code == 201 and again.get_json() == {"messages": 3}
    stored = peek(database, "SELECT sender, message FROM messages ORDER BY seq")
    assert [s for s, _ in stored] == ["replier", "poster", "replier"]
    assert all(m.startswith("v1.") for _, m in stored)
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
    ]
    bodies = set()
    for method, path, headers in wrong:
        answer = getattr(client, method)(path, headers=headers, json={"message": neighbour.party.write("x")})
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
    for path, header in (
        (f"/api/v1/threads/{neighbour.thread}", "X-Thread-Token"),
        (f"/api/v1/posts/{poster.id}/threads", "X-Post-Token"),
    ):
        missing = client.get(path)
        assert missing.status_code == 400 and missing.get_json()["field"] == header
    both = client.post(
        f"/api/v1/threads/{neighbour.thread}/messages",
        json={"message": neighbour.party.write("x")},
        headers={"X-Thread-Token": neighbour.token, "X-Post-Token": poster.token},
    )
    assert both.status_code == 400


def test_the_direction_comes_from_the_token(client: FlaskClient) -> None:
    """The poster's token writes as the poster, the thread's as the replier: a message the replier sealed
    for the poster and sent with the post's token is stored as the poster's, and nobody can read it."""
    poster = post(client)
    neighbour = reply(client, poster)
    as_poster = client.post(
        f"/api/v1/threads/{neighbour.thread}/messages",
        json={"message": poster_party(poster, neighbour.keys.public).write(ANSWER)},
        headers={"X-Post-Token": poster.token},
    )
    assert as_poster.status_code == 201
    read = client.get(f"/api/v1/threads/{neighbour.thread}", headers={"X-Thread-Token": neighbour.token})
    assert [m["from"] for m in read.get_json()["messages"]] == ["replier", "poster"]
    turned = neighbour.party.write("turned around")
    client.post(
        f"/api/v1/threads/{neighbour.thread}/messages",
        json={"message": turned},
        headers={"X-Post-Token": poster.token},
    )
    last = client.get(f"/api/v1/threads/{neighbour.thread}", headers={"X-Thread-Token": neighbour.token})
    stored = last.get_json()["messages"][-1]
    assert stored["from"] == "poster"
    with pytest.raises(replycrypto.BadMessage):
        neighbour.party.read(stored["message"], stored["from"])


def test_threads_of_one_post_are_kept_apart(client: FlaskClient) -> None:
    poster = post(client)
    first, second = reply(client, poster, "первый"), reply(client, poster, "второй")
    assert first.keys.public != second.keys.public
    one = client.get(f"/api/v1/threads/{first.thread}", headers={"X-Thread-Token": first.token}).get_json()
    assert (
        len(one["messages"]) == 1 and first.party.read(one["messages"][0]["message"], "replier") == "первый"
    )
    assert (
        client.get(f"/api/v1/threads/{second.thread}", headers={"X-Thread-Token": first.token}).status_code
        == 404
    )
    listed = client.get(
        f"/api/v1/posts/{poster.id}/threads", headers={"X-Post-Token": poster.token}
    ).get_json()
    texts = {
        poster_party(poster, t["replier_key"]).read(t["messages"][0]["message"], "replier")
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
    message = Party(post_id, keys.public, keys.public, keys.private, poster=False).write("hello")
    answer = client.post(f"/api/v1/posts/{post_id}/threads", json={"key": keys.public, "message": message})
    assert answer.status_code == 409 and answer.get_json()["field"] == "id"
    assert "no private replies" in answer.get_json()["error"]
    listed = client.get(
        f"/api/v1/posts/{post_id}/threads", headers={"X-Post-Token": plain.get_json()["token"]}
    )
    assert listed.get_json() == {"post": post_id, "post_key": None, "threads": []}


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
    late = client.post(
        f"/api/v1/threads/{neighbour.thread}/messages",
        json={"message": neighbour.party.write("ещё актуально?")},
        headers={"X-Thread-Token": neighbour.token},
    )
    assert late.status_code == 409 and "no longer takes messages" in late.get_json()["error"]
    keys = replycrypto.generate()
    party = Party(poster.id, poster.keys.public, keys.public, keys.private, poster=False)
    fresh = client.post(
        f"/api/v1/posts/{poster.id}/threads", json={"key": keys.public, "message": party.write("hi")}
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
    answer = client.post(
        f"/api/v1/threads/{other.thread}/messages",
        json={"message": other.party.write("hello?")},
        headers={"X-Thread-Token": other.token},
    )
    assert answer.status_code == 409


def test_bad_keys_and_messages_get_422_naming_the_field(client: FlaskClient) -> None:
    poster = post(client)  # P-256
    x = replycrypto.generate("x25519")
    good = reply(client, poster)
    message = good.party.write("hi")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"key": x.public, "message": message}, "key"),  # another curve than the post's
        ({"key": "AAAA", "message": message}, "key"),
        ({"key": None, "message": message}, "key"),
        ({"key": good.keys.public, "message": "hello in clear"}, "message"),
        ({"key": good.keys.public, "message": "v2." + message[3:]}, "message"),
        ({"key": good.keys.public, "message": message + "="}, "message"),
        ({"key": good.keys.public, "message": "v1.AAAA"}, "message"),  # shorter than nonce and tag
        ({"key": good.keys.public}, "message"),
        ({"key": good.keys.public, "message": message, "name": "Ivan"}, "name"),
    ]
    for body, field in cases:
        answer = client.post(f"/api/v1/posts/{poster.id}/threads", json=body)
        assert answer.status_code == 422, body
        assert answer.get_json()["field"] == field
    assert client.post(f"/api/v1/posts/{poster.id}/threads", data="x").status_code == 400


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
    too_long = tight.post(
        f"/api/v1/posts/{poster.id}/threads", json={"key": keys.public, "message": party.write("x" * 41)}
    )
    assert too_long.status_code == 422 and "at most 10 characters" in too_long.get_json()["error"]
    headers = {"X-Thread-Token": neighbour.token}
    for n in (2, 3):
        sent = tight.post(
            f"/api/v1/threads/{neighbour.thread}/messages",
            json={"message": neighbour.party.write("ok")},
            headers=headers,
        )
        assert sent.get_json() == {"messages": n}
    full = tight.post(
        f"/api/v1/threads/{neighbour.thread}/messages",
        json={"message": neighbour.party.write("ok")},
        headers=headers,
    )
    assert full.status_code == 409 and "full (3 messages)" in full.get_json()["error"]
    reply(tight, poster, "и я")
    third = tight.post(
        f"/api/v1/posts/{poster.id}/threads", json={"key": keys.public, "message": party.write("hi")}
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
        f"/api/v1/posts/{poster.id}/threads", json={"key": keys.public, "message": party.write("hi")}
    )
    assert fourth.status_code == 429 and fourth.headers["Retry-After"]
    headers = {"X-Thread-Token": neighbour.token}
    path = f"/api/v1/threads/{neighbour.thread}/messages"
    codes = [
        client.post(path, json={"message": neighbour.party.write("x")}, headers=headers).status_code
        for _ in range(3)
    ]
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
    answer = poster_party(poster, neighbour.keys.public).write(ANSWER)
    client.post(
        f"/api/v1/threads/{neighbour.thread}/messages",
        json={"message": answer},
        headers={"X-Post-Token": poster.token},
    )
    read = client.get(f"/api/v1/threads/{neighbour.thread}", headers={"X-Thread-Token": neighbour.token})
    return poster, neighbour, [m["message"] for m in read.get_json()["messages"]]


def _gone(database: str, wires: list[str], replier_key: str) -> None:
    """Gone from the tables at once, and from the files after the store's erase (housekeeping's)."""
    assert peek_one(database, "SELECT count(*) FROM threads") == 0
    assert peek_one(database, "SELECT count(*) FROM messages") == 0
    erase(database)
    on_disk = database_bytes(database)
    for wire in wires:
        assert wire[3:40].encode() not in on_disk
    assert replier_key[30:].encode() not in on_disk


def test_a_deleted_post_takes_its_conversations_off_the_disk(client: FlaskClient, database: str) -> None:
    poster, neighbour, wires = _conversation(client)
    on_disk = database_bytes(database)
    assert all(w[3:40].encode() in on_disk for w in wires)  # the search can find them while they live
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
            " WHERE name IN ('threads', 'messages') AND sql LIKE '%WITHOUT ROWID%'",
        )
        assert len(without_rowid) == 2


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
        *(w[3:40] for w in wires),
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
        assert peek_one(database, "SELECT version FROM schema_version") == SCHEMA_VERSION == 9
        assert store.get(post_id)["text"] == "Хлеб" and store.reply_key(post_id) is None  # type: ignore[index]
        assert store.threads_of(post_id) == []
    finally:
        store.close()
    poster = post(client)
    assert reply(client, poster).thread
