"""What protects a conversation, in headless Chromium on one real server per store (issue 17, items 7-8).

- Someone who can write the database reorders, replays, drops or re-dates a message, or swaps the thread's
  replier key or the post's key (SQL through tests/peek.py): the reader's page (the neighbour's or the
  poster's) shows what came before, stops there saying why, warns that the conversation was changed, and
  offers no answer box. On a phone and a laptop, in Belarusian, Russian and English; axe stays clean.
- The poster pages through a post's conversations (newest first, ten a page) and deletes one after a
  confirmation; its sender's key can then start no other conversation with the post.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import h3.api.basic_int as h3
import pytest
from conftest import PUBLISH_AT_ONCE, ROOMY_LIMITS, TEST_NOW, TEST_SECRET
from databases import Databases
from flask import Flask
from livesite import serve, shot
from pagesite import DESKTOP, PHONE
from peek import peek_one, poke
from playwright.sync_api import Browser, Page, expect
from test_a11y import check

from mapaid import create_app, replycrypto
from mapaid.clock import FixedClock
from mapaid.replies import PAGE_SIZE
from mapaid.replythread import Party

pytestmark = pytest.mark.browser
CELL = h3.int_to_str(h3.latlng_to_cell(53.9023, 27.5619, 9))
DAY = TEST_NOW.date().isoformat()


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, store_kind: str, databases: Databases
) -> Iterator[tuple[str, str]]:
    folder = tmp_path_factory.mktemp("replies-guard")
    db = databases.fresh(store_kind, folder)
    app: Flask = create_app(
        {
            "DATABASE": db,
            "SECRET_KEY": TEST_SECRET,
            "INSTANCE_DIR": str(folder / "instance"),
            "CLOCK": FixedClock(TEST_NOW),
            **ROOMY_LIMITS,
            **PUBLISH_AT_ONCE,
        }
    )
    with serve(app) as base:
        yield base, db


def _api(base: str, method: str, path: str, headers: dict[str, str] | None = None, body: Any = None) -> Any:
    request = urllib.request.Request(
        f"{base}/api/v1{path}",
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    with urllib.request.urlopen(request) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


@dataclass
class Talk:
    """A post and one conversation with it, made through the API by two Python clients."""

    post: str
    token: str
    post_keys: replycrypto.KeyPair
    thread: str
    thread_token: str
    replier_keys: replycrypto.KeyPair

    def manage(self, base: str, lang: str) -> str:
        return f"{base}/manage/{self.post}/{self.token}?lang={lang}#k={self.post_keys.private}"

    def link(self, base: str, lang: str) -> str:
        print_ = replycrypto.fingerprint(self.post_keys.public)
        fragment = f"#k={self.replier_keys.private}&p={print_}"
        return f"{base}/thread/{self.thread}/{self.thread_token}?lang={lang}{fragment}"

    def parties(self) -> tuple[Party, Party]:
        args = (self.post, self.post_keys.public, self.replier_keys.public)
        return Party(*args, self.post_keys.private, True), Party(*args, self.replier_keys.private, False)


def _post(base: str, curve: replycrypto.Curve = "x25519") -> tuple[str, str, replycrypto.KeyPair]:
    keys = replycrypto.generate(curve)
    made = _api(
        base,
        "POST",
        "/posts",
        body={
            "kind": "need",
            "category": "food",
            "text": "Нужны продукты",
            "cell": CELL,
            "reply_key": keys.public,
        },
    )
    return made["id"], made["token"], keys


def _start(base: str, post: tuple[str, str, replycrypto.KeyPair], text: str) -> Talk:
    post_id, token, keys = post
    mine = replycrypto.generate(replycrypto.curve_of(replycrypto.load_public(keys.public)))
    party = Party(post_id, keys.public, mine.public, mine.private, poster=False)
    made = _api(
        base,
        "POST",
        f"/posts/{post_id}/threads",
        body={"key": mine.public, "message": party.write(text, DAY)},
    )
    return Talk(post_id, token, keys, made["thread"], made["token"], mine)


def _say(base: str, talk: Talk, poster: bool, text: str) -> None:
    party = talk.parties()[0 if poster else 1]
    headers = {"X-Post-Token": talk.token} if poster else {"X-Thread-Token": talk.thread_token}
    thread = _api(base, "GET", f"/threads/{talk.thread}", headers)
    wire = party.write(text, thread["today"], party.read_api(thread["messages"]))
    _api(base, "POST", f"/threads/{talk.thread}/messages", headers, {"message": wire})


TEXTS = ["Могу помочь в субботу", "Спасибо! Во сколько?", "В 10 утра", "Подъезд 3, код 2580", "Буду"]


def _talk_of_five(base: str) -> Talk:
    talk = _start(base, _post(base), TEXTS[0])
    for n, text in enumerate(TEXTS[1:]):
        _say(base, talk, n % 2 == 0, text)
    return talk


# (attack, SQL with ? for the thread id, whose page reads it, screen, language, the stop's words, shown)
STOPPED = {
    "order": {
        "be": "Тут паведамленне прапушчана, паўторана або стаіць не на сваім месцы, таму далей нічога"
        " не паказваецца.",
        "ru": "Здесь сообщение пропущено, повторено или стоит не на своём месте, поэтому дальше ничего"
        " не показано.",
        "en": "A message is missing, repeated or out of order here, so nothing from here on is shown.",
    },
    "day": {"ru": "Дату этого сообщения изменили, поэтому оно не показывается."},
    "damaged": {"be": "Гэтае паведамленне было зменена або пашкоджана, таму яно не паказваецца."},
}
TAMPERED = {
    "be": "Гэтую размову змянілі на серверы",
    "ru": "Этот разговор изменили на сервере",
    "en": "This conversation was changed on the server",
}
ATTACKS = [
    (
        "reorder",
        "UPDATE messages SET seq = 100 + (3 - seq) WHERE thread_id = ? AND seq IN (2, 3)",
        "replier",
        "phone",
        "ru",
        "order",
        2,
    ),
    (
        "replay",
        "INSERT INTO messages (thread_id, seq, sender, message, day)"
        " SELECT thread_id, 10, sender, message, day FROM messages WHERE thread_id = ? AND seq = 1",
        "poster",
        "laptop",
        "be",
        "order",
        5,
    ),
    ("drop", "DELETE FROM messages WHERE thread_id = ? AND seq = 2", "replier", "phone", "en", "order", 2),
    (
        "re-date",
        "UPDATE messages SET day = '2026-11-01' WHERE thread_id = ? AND seq = 3",
        "poster",
        "laptop",
        "ru",
        "day",
        3,
    ),
    (
        "replier key swapped",
        "UPDATE threads SET replier_key = ? WHERE id = ?",
        "poster",
        "phone",
        "be",
        "damaged",
        0,
    ),
]


def _open(page: Page, url: str | None = None) -> None:
    """Open a private link, or (None) reload it (a goto to the same address with a fragment would not)."""
    if url is None:
        page.reload()
    else:
        page.goto(url)
    page.wait_for_function("() => document.querySelectorAll('.message-text, .message-damaged').length > 0")


@pytest.mark.parametrize(
    ("attack", "sql", "reader", "screen", "lang", "why", "shown"), ATTACKS, ids=[a[0] for a in ATTACKS]
)
def test_the_reader_s_page_stops_at_what_a_database_writer_did(
    browser: Browser,
    served: tuple[str, str],
    attack: str,
    sql: str,
    reader: str,
    screen: str,
    lang: str,
    why: str,
    shown: int,
) -> None:
    base, db = served
    talk = _talk_of_five(base)
    context = browser.new_context(**(PHONE if screen == "phone" else DESKTOP), locale=lang)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    url = talk.manage(base, lang) if reader == "poster" else talk.link(base, lang)
    box = "#answer-0" if reader == "poster" else "#answer"
    _open(page, url)
    assert page.locator(".message-text").all_inner_texts() == TEXTS
    expect(page.locator(box)).to_be_visible()

    params: tuple[str, ...] = (talk.thread,)
    if attack == "replier key swapped":
        params = (replycrypto.generate("x25519").public, talk.thread)
    assert poke(db, sql, params) >= 1
    _open(page)
    assert page.locator(".message-text").all_inner_texts() == TEXTS[:shown]
    assert page.locator(".message-damaged").inner_text() == STOPPED[why][lang]
    assert page.locator(".tampered").inner_text().startswith(TAMPERED[lang])
    assert page.locator(".tampered").get_attribute("role") == "alert"
    assert page.locator(box).count() == 0 or not page.locator(box).is_visible()
    for text in TEXTS[shown + 1 :]:
        assert text not in page.locator("#threads").inner_text()  # nothing after the stop is decrypted
    assert check(page, f"{attack} {lang} {screen}") == []
    shot(page, f"replies-guard-{attack.replace(' ', '-')}-{screen}-{lang}")
    assert not errors, errors
    context.close()


def test_a_swapped_post_key_is_caught_by_the_replier_s_link(
    browser: Browser, served: tuple[str, str]
) -> None:
    base, db = served
    talk = _talk_of_five(base)
    context = browser.new_context(**DESKTOP, locale="en")
    page = context.new_page()
    _open(page, talk.link(base, "en"))
    swapper = replycrypto.generate("x25519")
    assert poke(db, "UPDATE posts SET reply_key = ? WHERE id = ?", (swapper.public, talk.post)) == 1
    page.reload()
    expect(page.locator("#replies-state")).to_have_text(
        re.compile("^The post's key on the server is not the one you wrote to")
    )
    assert page.locator(".message-text").count() == 0 and page.locator("#answer").count() == 0
    # A link from before fingerprints (no &p=) cannot tell; it still reads, as before.
    page.goto(talk.link(base, "en").split("&p=")[0])
    page.reload()  # (a new fragment alone does not load the page again)
    page.wait_for_selector(".message-damaged")  # its messages were sealed to the real key: they do not read
    assert check(page, "post key swapped en laptop") == []
    context.close()
    poke(db, "UPDATE posts SET reply_key = ? WHERE id = ?", (talk.post_keys.public, talk.post))


@pytest.mark.parametrize(("screen", "lang"), [("phone", "ru"), ("laptop", "en")])
def test_the_poster_pages_through_conversations_and_deletes_one(
    browser: Browser, served: tuple[str, str], screen: str, lang: str
) -> None:
    base, db = served
    post = _post(base)
    talks = [_start(base, post, f"сосед номер {n}") for n in range(PAGE_SIZE + 2)]
    context = browser.new_context(**(PHONE if screen == "phone" else DESKTOP), locale=lang)
    page = context.new_page()
    page.goto(talks[0].manage(base, lang))
    page.wait_for_function(f"() => document.querySelectorAll('.thread').length === {PAGE_SIZE}")
    words = {
        "ru": (
            "Разговоры 1–10 из 12",
            "Разговоры 11–12 из 12",
            "Более старые разговоры",
            "Более новые разговоры",
        ),
        "en": (
            "Conversations 1–10 of 12",
            "Conversations 11–12 of 12",
            "Older conversations",
            "Newer conversations",
        ),
    }[lang]
    nav = page.locator("nav.thread-pages")
    assert nav.locator("p").first.inner_text() == words[0]
    assert page.locator(".thread h3").first.inner_text().endswith(" 1")
    page.get_by_role("button", name=words[2]).click()
    page.wait_for_function("() => document.querySelectorAll('.thread').length === 2")
    assert nav.locator("p").first.inner_text() == words[1]
    assert page.evaluate("() => document.activeElement.id") == "replies-title"
    assert [h.inner_text() for h in page.locator(".thread h3").all()][-1].endswith(" 12")
    assert check(page, f"pages {lang} {screen}") == []

    # Delete the last conversation of this page, after saying yes.
    last = page.locator(".thread").last
    gone_text = last.locator(".message-text").inner_text()
    victim = talks[int(gone_text.rsplit(" ", 1)[1])]  # "сосед номер N"
    delete_words = {
        "ru": ("Удалить этот разговор", "Да, удалить", "Разговор удалён."),
        "en": ("Delete this conversation", "Yes, delete it", "The conversation was deleted."),
    }[lang]
    last.get_by_role("button", name=delete_words[0]).click()
    expect(last.locator(".confirm-delete")).to_be_visible()
    assert check(page, f"delete {lang} {screen}") == []
    shot(page, f"replies-guard-delete-{screen}-{lang}")
    last.get_by_role("button", name=delete_words[1]).click()
    expect(page.locator("#replies-state")).to_have_text(delete_words[2])
    page.wait_for_function("() => document.querySelectorAll('.thread').length === 1")
    assert gone_text not in page.locator("#threads").inner_text()
    assert peek_one(db, "SELECT count(*) FROM threads WHERE post_id = ?", (post[0],)) == PAGE_SIZE + 1
    with pytest.raises(urllib.error.HTTPError) as refused:
        _api(base, "GET", f"/threads/{victim.thread}", {"X-Thread-Token": victim.thread_token})
    assert refused.value.code == 404
    party = victim.parties()[1]
    with pytest.raises(urllib.error.HTTPError) as blocked:
        _api(
            base,
            "POST",
            f"/posts/{victim.post}/threads",
            body={"key": victim.replier_keys.public, "message": party.write("again", DAY)},
        )
    assert blocked.value.code == 403
    context.close()
