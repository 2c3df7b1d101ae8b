"""Whole conversations through a real `mapaid serve` (a subprocess, its log captured), with the
`mapaid reply` command as the neighbour's and the poster's client: afterwards, the plaintext of every
message and every private key (its text and its DER bytes) are searched for in the database file and its
WAL, in everything the server logged and in every response body, and found nowhere. No request carries a
fragment or a private key. (Issue 9: "a seized server holds only ciphertext it cannot read".)"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h3.api.basic_int as h3
import pytest
from click.testing import CliRunner, Result
from databases import Databases
from helpers import database_bytes
from livesite import free_port
from peek import peek, poke

from mapaid import cli_reply, replycrypto
from mapaid.cli import main

CELL = h3.int_to_str(h3.latlng_to_cell(53.9023, 27.5619, 9))
TEXTS = {
    "hello": "Могу привезти продукты в субботу, живу в соседнем доме",
    "answer": "Дзякуй! Пад'езд 3, кватэра 41, код 2580",
    "again": "Хорошо, буду в 11:00 — позвоню в домофон",
    "bot": "Automated volunteer desk: a driver can take you to the pharmacy on Monday",
    "bot answer": "Yes please, flat 12, ring twice",
}


@dataclass
class Recorder:
    """Every request the reply command makes and every answer it gets, as bytes."""

    requests: list[bytes] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)


class _Answer(io.BytesIO):
    pass


@dataclass
class Site:
    base: str
    db: str  # a SQLite file or a PostgreSQL URL
    log: Path
    recorder: Recorder


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, store_kind: str, databases: Databases) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("live")
    db = databases.fresh(store_kind, folder)
    env = {
        "MAPAID_DATABASE": db,
        "MAPAID_SECRET_KEY": "live-test-secret",
        "MAPAID_INSTANCE": str(folder / "instance"),
        "MAPAID_CELL_RES": "9",
        "MAPAID_POST_LIMIT": "1000 per minute",
        "MAPAID_WRITE_LIMIT": "1000 per minute",
        "MAPAID_ACCESS_LOG": "requests",  # the most the log can hold: a line per request, still no secret
        "MAPAID_PUBLISH_MINUTES": "0",  # posts open to conversations at once
        "MAPAID_REPLY_START_LIMIT": "1000 per day",
    }
    port = free_port()
    log = folder / "serve.log"
    with log.open("w") as written:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mapaid.cli", "serve", "--port", str(port)],
            env={**os.environ, **env},
            stdout=written,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(f"{base}/api/v1/districts", timeout=5).read()
                    break
                except OSError:
                    assert proc.poll() is None and time.monotonic() < deadline, "server did not come up"
                    time.sleep(0.2)
            yield Site(base, db, log, Recorder())
        finally:
            proc.terminate()
            proc.wait(timeout=10)


@pytest.fixture
def reply(site: Site, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run `mapaid reply ...` in-process against the live server, recording its requests and answers."""
    real = urllib.request.urlopen

    def recording(request: urllib.request.Request, timeout: float) -> _Answer:
        headers = "\n".join(f"{k}: {v}" for k, v in request.header_items())
        site.recorder.requests.append(
            f"{request.get_method()} {request.full_url}\n{headers}\n".encode() + (request.data or b"")
        )  # type: ignore[operator]
        try:
            with real(request, timeout=timeout) as answer:
                body = answer.read()
        except urllib.error.HTTPError as error:
            body = error.read()
            site.recorder.bodies.append(body)
            raise urllib.error.HTTPError(
                error.url, error.code, error.msg, error.hdrs, io.BytesIO(body)
            ) from None
        site.recorder.bodies.append(body)
        return _Answer(body)

    monkeypatch.setattr(cli_reply.urllib.request, "urlopen", recording)

    def run(*args: str, input: str | None = None) -> Result:
        result = CliRunner().invoke(main, ["reply", *args], input=input, catch_exceptions=False)
        return result

    return run


def _post(site: Site, curve: replycrypto.Curve) -> tuple[str, str, replycrypto.KeyPair]:
    """The poster's side of posting from the web form: a key pair made here, only the public key sent."""
    keys = replycrypto.generate(curve)
    body = {
        "kind": "need",
        "category": "food",
        "text": "Нужны продукты",
        "cell": CELL,
        "reply_key": keys.public,
    }
    request = urllib.request.Request(
        f"{site.base}/api/v1/posts",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        raw = answer.read()
    site.recorder.bodies.append(raw)
    created = json.loads(raw)
    return created["id"], created["token"], keys


def _messages(body: bytes) -> list[dict[str, str]]:
    """The messages in an answer (a thread, or a post's threads), none for other answers."""
    try:
        data = json.loads(body)
    except ValueError:
        return []
    if not isinstance(data, dict):
        return []
    found = list(data["messages"]) if isinstance(data.get("messages"), list) else []
    for thread in data.get("threads", []):
        found += thread["messages"]
    return found


def _private_keys(*links: str) -> list[str]:
    return [link.split("#k=", 1)[1].split("&", 1)[0] for link in links]  # a replier's ends in &p=...


def test_whole_conversations_leave_no_plaintext_or_private_key_anywhere(site: Site, reply: Any) -> None:
    post_id, token, poster_keys = _post(site, "p256")
    manage = f"{site.base}/manage/{post_id}/{token}#k={poster_keys.private}"

    answered = reply("answer", f"{site.base}/api/v1/posts/{post_id}", TEXTS["hello"])
    assert answered.exit_code == 0, answered.output
    thread_link = answered.output.strip()
    assert thread_link.startswith(f"{site.base}/thread/") and "#k=" in thread_link

    read = reply("read", manage)
    assert read.exit_code == 0, read.output
    assert read.output.startswith("conversation ") and f"replier: {TEXTS['hello']}" in read.output
    assert reply("write", manage, TEXTS["answer"]).output.strip() == "sent (2 messages in the conversation)"
    assert reply("write", thread_link, "-", input=TEXTS["again"] + "\n").exit_code == 0
    theirs = reply("read", thread_link).output.splitlines()
    assert all(len(line.split(" ", 1)[0]) == len("2026-11-27") for line in theirs)  # each starts with its day
    assert [line.split(" ", 1)[1] for line in theirs] == [
        f"you: {TEXTS['hello']}",
        f"poster: {TEXTS['answer']}",
        f"you: {TEXTS['again']}",
    ]

    # A second post, on X25519, answered by id with --server; two conversations, so --thread is needed.
    other_id, other_token, other_keys = _post(site, "x25519")
    other_manage = f"{site.base}/manage/{other_id}/{other_token}#k={other_keys.private}"
    bot = reply("answer", other_id, "--server", site.base, TEXTS["bot"]).output.strip()
    second = reply(
        "answer", f"{site.base}/near/{CELL}/{other_id}", "--server", site.base, "ещё один ответ"
    ).output.strip()
    assert bot.startswith(f"{site.base}/thread/") and second.startswith(f"{site.base}/thread/")
    unsure = reply("write", other_manage, TEXTS["bot answer"])
    assert unsure.exit_code != 0 and "2 conversations; say which with --thread ID" in unsure.output
    bot_thread = bot.split("/thread/", 1)[1].split("/", 1)[0]
    assert reply("write", other_manage, "--thread", bot_thread, TEXTS["bot answer"]).exit_code == 0
    assert f"poster: {TEXTS['bot answer']}" in reply("read", bot).output
    both = reply("read", other_manage).output
    assert both.count("conversation ") == 2 and TEXTS["bot"] in both and "ещё один ответ" in both

    # What the server has: on disk, in its log, in every answer it gave.
    private = [poster_keys.private, other_keys.private, *_private_keys(thread_link, bot, second)]
    needles: list[bytes] = [t.encode("utf-8") for t in TEXTS.values()] + [
        b"\xd0\xb5\xd1\x89\xd1\x91 \xd0\xbe\xd0\xb4\xd0\xb8\xd0\xbd"
    ]
    needles += [k.encode() for k in private] + [replycrypto.unb64u(k) for k in private]
    time.sleep(0.2)  # waitress writes its access line after the answer
    places = {
        "database": database_bytes(site.db),
        "log": site.log.read_bytes(),
        "responses": b"\n".join(site.recorder.bodies),
        "requests": b"\n".join(site.recorder.requests),
    }
    # The search finds what is there: public keys on disk and in answers, the routes in the log.
    assert (
        poster_keys.public.encode() in places["database"]
        and other_keys.public.encode() in places["responses"]
    )
    assert b"POST /api/v1/threads/<thread_id>/messages 201" in places["log"]
    for where, haystack in places.items():
        for needle in needles:
            assert needle not in haystack, (where, needle[:20])
    assert b"#" not in places["requests"] and b"k=" not in places["requests"]
    # The log names route patterns only: no id, token, key or ciphertext; the database keeps token hashes.
    threads = [
        link.split("/thread/", 1)[1].split("#", 1)[0].split("/") for link in (thread_link, bot, second)
    ]
    wires = [m["message"] for body in site.recorder.bodies for m in _messages(body)]
    assert len(wires) >= 5
    tokens = [token, other_token, *(t for _, t in threads)]
    secrets = [
        post_id,
        other_id,
        *(i for i, _ in threads),
        *tokens,
        poster_keys.public,
        other_keys.public,
        *wires,
    ]
    for secret in secrets:
        assert secret.encode() not in places["log"], secret[:20]
    for secret in tokens:
        assert secret.encode() not in places["database"]


def test_the_reply_command_says_what_is_wrong(site: Site, reply: Any) -> None:
    post_id, token, keys = _post(site, "p256")
    no_key = reply("read", f"{site.base}/manage/{post_id}/{token}")
    assert no_key.exit_code != 0 and "no #k=" in no_key.output
    assert "no replies yet" in reply("read", f"{site.base}/manage/{post_id}/{token}#k={keys.private}").output
    wrong = reply("read", f"{site.base}/manage/{post_id}/{token}x#k={keys.private}")
    assert wrong.exit_code != 0 and "404" in wrong.output
    assert "not a private link" in reply("read", f"{site.base}/near/{CELL}").output
    assert "--server" in reply("answer", post_id, "hi").output
    plain = urllib.request.Request(
        f"{site.base}/api/v1/posts",
        data=json.dumps({"kind": "offer", "category": "food", "text": "Суп", "cell": CELL}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(plain, timeout=30) as answer:
        plain_id = json.loads(answer.read())["id"]
    refused = reply("answer", plain_id, "--server", site.base, "hello")
    assert refused.exit_code != 0 and "takes no private replies" in refused.output


def test_the_reply_command_stops_at_what_was_changed_on_the_server(site: Site, reply: Any) -> None:
    """Issue 17, item 8, with `mapaid reply` as both clients and SQL on the database as the attacker: a
    re-dated message stops the reading there and the conversation takes no answer; a swapped post key is
    caught by the replier's link's fingerprint (&p=), a swapped replier key by the poster's reading. And
    the poster deletes a conversation (item 7)."""
    post_id, token, keys = _post(site, "x25519")
    manage = f"{site.base}/manage/{post_id}/{token}#k={keys.private}"
    link = reply("answer", post_id, "--server", site.base, "first, from the neighbour").output.strip()
    assert f"&p={replycrypto.fingerprint(keys.public)}" in link
    thread = link.split("/thread/", 1)[1].split("/", 1)[0]
    assert reply("write", manage, "second, from the poster").exit_code == 0
    assert reply("write", link, "third, from the neighbour").exit_code == 0
    assert reply("read", link).exit_code == 0

    assert (
        poke(site.db, "UPDATE messages SET day = '2026-01-01' WHERE thread_id = ? AND seq = 1", (thread,))
        == 1
    )
    read = reply("read", link)
    assert read.exit_code == 0 and "first, from the neighbour" in read.output
    assert "second, from the poster" not in read.output and "third" not in read.output
    assert "re-dated on the server; the conversation stops here (1 later messages not read)" in read.output
    refused = reply("write", manage, "my flat is 41")
    assert refused.exit_code != 0 and "changed on the server" in refused.output
    assert peek(site.db, "SELECT count(*) FROM messages WHERE thread_id = ?", (thread,)) == [(3,)]

    swapper = replycrypto.generate("x25519")
    assert poke(site.db, "UPDATE posts SET reply_key = ? WHERE id = ?", (swapper.public, post_id)) == 1
    swapped = reply("read", link)
    assert swapped.exit_code != 0 and "not the one this conversation began with" in swapped.output
    assert "first, from the neighbour" not in swapped.output
    poke(site.db, "UPDATE posts SET reply_key = ? WHERE id = ?", (keys.public, post_id))

    fresh = reply("answer", post_id, "--server", site.base, "another neighbour").output.strip()
    other = fresh.split("/thread/", 1)[1].split("/", 1)[0]
    assert poke(site.db, "UPDATE threads SET replier_key = ? WHERE id = ?", (swapper.public, other)) == 1
    blocked = reply("write", manage, "--thread", other, "my flat is 41")
    assert blocked.exit_code != 0 and "changed on the server" in blocked.output

    gone = reply("delete", manage, "--thread", other)
    assert gone.exit_code == 0 and "deleted" in gone.output
    assert other not in reply("read", manage).output
