"""Private replies through the JSON API (docs/replies.md), with the Python implementation as both clients:
the poster posts with a key, a neighbour opens a conversation, the poster lists and answers, the neighbour
reads. Limits give clear 4xx answers; a post's conversations leave the disk with it; posts without a key
take none; coordinators see a report, never a message."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import h3.api.basic_int as h3
import pytest
from flask.testing import FlaskClient
from helpers import database_bytes

from mapaid import replycrypto
from mapaid.replycrypto import Party
from mapaid.store import SQLiteStore

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
    client: FlaskClient, store: SQLiteStore, today: date, curve: replycrypto.Curve
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
    stored = store.db.execute("SELECT sender, message FROM messages ORDER BY seq").fetchall()
    assert [s for s, _ in stored] == ["replier", "poster", "replier"]
    assert all(m.startswith("v1.") for _, m in stored)
    assert HELLO.encode() not in database_bytes(store.path)
