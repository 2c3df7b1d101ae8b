"""Private replies in headless Chromium (issue 9, browser side), on one real server (waitress, as
``mapaid serve``) for the module:

- replycrypto.js reproduces tests/data/reply-vectors.json on both curves, version 1 (read only) and 2,
  refuses a changed message, pads "yes" and a phone number alike, and refuses X25519 keys of small order;
- a poster (phone, touch, Russian) posts a need through the form; a neighbour (laptop, Belarusian), in a
  browser context of their own, answers it from /near; the poster reads the answer through the private
  link (with ``#k=``) and answers; the neighbour reads that through theirs. Every request of both contexts
  goes to our host, and none carries a fragment, a ``#``, either private key or a message's plaintext;
- the browser and mapaid.replycrypto (Python) read each other's messages, through the API;
- one byte changed in a stored message makes the reader's page stop there: the messages before it are
  shown, none after it, with a warning and no answer box (issue 17: a changed conversation takes no answer);
- the post's public page in English, and a private link without its ``#k=`` explains what is missing.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import h3.api.basic_int as h3
import pytest
from conftest import DATA, PUBLISH_AT_ONCE, ROOMY_LIMITS, TEST_NOW, TEST_SECRET
from databases import Databases
from flask import Flask
from livesite import carries, serve, shot, typed_forms
from pagesite import DESKTOP, PHONE
from peek import peek, poke
from playwright.sync_api import Browser, BrowserContext, Page, Request, expect

from mapaid import create_app, replycrypto
from mapaid.clock import FixedClock
from mapaid.replythread import Party
from mapaid.store import open_store

pytestmark = pytest.mark.browser
CELL = h3.int_to_str(h3.latlng_to_cell(53.9023, 27.5619, 9))
NEED = "Нужна помощь донести продукты с рынка, 5-й этаж без лифта"
ANSWER = "Магу дапамагчы ў суботу раніцай 🙂 — Алесь"
THANKS = "Спасибо! Суббота, 10 утра подходит"
FROM_PYTHON = "Written by a bot in Python: see you at 10"


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, store_kind: str, databases: Databases
) -> Iterator[tuple[str, str]]:
    folder = tmp_path_factory.mktemp("replies-browser")
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


class Recorder:
    """Every request a browser context makes, and every script error its pages raise."""

    def __init__(self, context: BrowserContext) -> None:
        self.requests: list[Request] = []
        self.errors: list[str] = []
        context.on("request", lambda request: self.requests.append(request))
        context.on("page", lambda page: page.on("pageerror", lambda exc: self.errors.append(str(exc))))


def _api(base: str, method: str, path: str, headers: dict[str, str], body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{base}/api/v1{path}",
        data=data,
        method=method,
        headers={"Content-Type": "application/json", **headers},
    )
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read())


def test_replycrypto_js_reproduces_the_vectors(browser: Browser, served: tuple[str, str]) -> None:
    base, _ = served
    vectors = json.loads((DATA / "reply-vectors.json").read_text())
    page = browser.new_page()
    page.goto(f"{base}/post?cell={CELL}")  # a page of ours, under its real policy, that loads the module
    found = page.evaluate(
        """async ([v1s, v2s]) => {
          const C = window.mapaidReplyCrypto;
          const unhex = (h) => new Uint8Array(h.match(/../g).map((x) => parseInt(x, 16)));
          const refused = async (promise) => {
            try { await promise; return false; } catch (e) { return e.name; }
          };
          const out = {curve: await C.preferredCurve(), v1: [], v2: []};
          for (const v of v1s) {
            const keys = (own, peer, d) =>
              C.messageKeyBytes(own, peer, v.poster.public, v.replier.public, d, "v1");
            const row = {
              toPosterReplier: C.hex(await keys(v.replier.private, v.poster.public, "to-poster")),
              toPosterPoster: C.hex(await keys(v.poster.private, v.replier.public, "to-poster")),
              toReplier: C.hex(await keys(v.poster.private, v.replier.public, "to-replier")),
              publicOf: await C.publicOf(v.poster.private, v.curve),
              messages: [],
            };
            for (const m of v.messages) {
              const key = unhex(m.direction === "to-poster" ? v.key_to_poster_hex : v.key_to_replier_hex);
              const flip = m.message[10] === "A" ? "B" : "A";
              const other = m.direction === "to-poster" ? "to-replier" : "to-poster";
              row.messages.push({
                sealed: await C.sealV1(key, v.post_id, m.direction, m.text, unhex(m.nonce_hex)),
                opened: await C.openV1(key, v.post_id, m.direction, m.message),
                changed: await refused(
                  C.openV1(key, v.post_id, m.direction, m.message.slice(0, 10) + flip + m.message.slice(11))),
                turned: await refused(C.openV1(key, v.post_id, other, m.message)),
                moved: await refused(C.openV1(key, v.post_id, m.direction, "AnotherPost")),
              });
            }
            const reader = C.party(v.post_id, v.poster.public, v.replier.public, v.poster.private, true);
            const reading = await reader.readAll(
              v.messages.map((m) => ({from: m.from, message: m.message, day: "2026-11-27"})));
            row.read = [reading.why, reading.shown.map((s) => s.text)];
            out.v1.push(row);
          }
          for (const v of v2s) {
            const poster = C.party(v.post_id, v.poster.public, v.replier.public, v.poster.private, true);
            const replier = C.party(v.post_id, v.poster.public, v.replier.public, v.replier.private, false);
            const row = {
              start: C.hex(await C.startHash(v.post_id, v.poster.public, v.replier.public)),
              toPoster: C.hex(await replier.key("to-poster", "v2")),
              toReplier: C.hex(await poster.key("to-replier", "v2")),
              fingerprint: await C.fingerprint(v.poster.public),
              sealed: [], fresh: [],
            };
            const stored = [];
            for (const m of v.messages) {
              const side = m.from === "poster" ? poster : replier;
              const reading = await side.readAll(stored);
              const other = m.direction === "to-poster" ? "to-replier" : "to-poster";
              const own = reading.chains[m.direction];
              const key = await side.key(m.direction, "v2");
              const header = {counter: m.counter, seen: m.seen, day: m.day};
              row.sealed.push(await C.seal(key, v.post_id, m.direction, m.text, header,
                own[own.length - 1], reading.chains[other][m.seen], unhex(m.nonce_hex)));
              row.fresh.push((await side.write(m.text, m.day, reading)) !== m.message);
              stored.push({from: m.from, message: m.message, day: m.day});
            }
            const byPoster = await poster.readAll(stored);
            const byReplier = await replier.readAll(stored);
            row.read = [byPoster.why, byReplier.why, byPoster.shown.map((s) => [s.text, s.day, s.version])];
            const first = stored[0].message;
            const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            const last = ALPHABET.indexOf(first[first.length - 1]);
            const variants = {
              changed: first.slice(0, 40) + (first[40] === "A" ? "B" : "A") + first.slice(41),
              cut: first.slice(0, -3),
              respelt: (first.length - 3) % 4 === 0 ? "junk" : first.slice(0, -1) + ALPHABET[last ^ 1],
            };
            row.refused = {};
            for (const [name, wire] of Object.entries(variants)) {
              const list = [{...stored[0], message: wire}, ...stored.slice(1)];
              row.refused[name] = (await poster.readAll(list)).why;
            }
            const orders = {
              reorder: [stored[0], stored[2], stored[1], ...stored.slice(3)],
              replay: [...stored.slice(0, 3), stored[2], ...stored.slice(3)],
              drop: [stored[0], ...stored.slice(2)],
              redate: [stored[0], {...stored[1], day: "2026-11-01"}, ...stored.slice(2)],
            };
            row.orders = {};
            for (const [name, list] of Object.entries(orders)) {
              const reading = await replier.readAll(list);
              const write = await refused(replier.write("x", "2026-11-27", reading));
              row.orders[name] = [reading.why, reading.shown.length, write];
            }
            const mixed = await replier.readAll(v.after_v1.stored);
            row.mixed = [mixed.why, mixed.shown.map((s) => s.version)];
            const swapper = (await C.generate(v.curve)).public;
            const swapped = C.party(v.post_id, v.poster.public, swapper, v.poster.private, true);
            const swappedReading = await swapped.readAll(stored);
            row.swapped = [swappedReading.why, swappedReading.shown.length, swappedReading.unread];
            const sizes = [];
            for (const text of ["yes", "+375 29 123 45 67"]) {
              sizes.push((await poster.write(text, "2026-11-27", byPoster)).length);
            }
            row.sizes = sizes;
            out.v2.push(row);
          }
          const spki = "MCowBQYDK2VuAyEA";
          const small = [C.b64u(new Uint8Array([...C.unb64u(spki + "AAAA"), ...new Uint8Array(29)])),
            C.b64u(new Uint8Array([...C.unb64u(spki + "AAAA").slice(0, 12), 1, ...new Uint8Array(31)]))];
          out.small = [];
          for (const key of small) {
            out.small.push(await refused(Promise.resolve().then(() => C.curveOf(key))));
          }
          const made = await C.generate("x25519");
          out.made = C.curveOf(made.public);
          return out;
        }""",
        [vectors["v1"], vectors["v2"]],
    )
    page.close()
    assert found["curve"] == "x25519"  # Debian's Chromium has X25519 in WebCrypto
    for vector, row in zip(vectors["v1"], found["v1"], strict=True):
        assert row["toPosterReplier"] == row["toPosterPoster"] == vector["key_to_poster_hex"]
        assert row["toReplier"] == vector["key_to_replier_hex"]
        assert row["publicOf"] == vector["poster"]["public"]
        for message, got in zip(vector["messages"], row["messages"], strict=True):
            assert got["sealed"] == message["message"] and got["opened"] == message["text"]
            assert got["changed"] == got["turned"] == got["moved"] == "BadMessage"
        assert row["read"] == [None, [m["text"] for m in vector["messages"]]]
    for vector, row in zip(vectors["v2"], found["v2"], strict=True):
        assert (row["start"], row["toPoster"], row["toReplier"], row["fingerprint"]) == (
            vector["start_hex"],
            vector["key_to_poster_hex"],
            vector["key_to_replier_hex"],
            vector["fingerprint"],
        )
        assert row["sealed"] == [m["message"] for m in vector["messages"]]
        assert all(row["fresh"])  # a fresh random nonce when none is given
        assert row["read"] == [None, None, [[m["text"], m["day"], "v2"] for m in vector["messages"]]]
        assert row["refused"] == {"changed": "damaged", "cut": "damaged", "respelt": "damaged"}
        assert row["orders"] == {
            "reorder": ["order", 1, "BadMessage"],
            "replay": ["order", 3, "BadMessage"],
            "drop": ["order", 1, "BadMessage"],
            "redate": ["day", 1, "BadMessage"],
        }
        assert row["mixed"] == [None, ["v1", "v1", "v2"]]
        assert row["swapped"] == ["damaged", 0, len(vector["messages"]) - 1]
        assert row["sizes"][0] == row["sizes"][1]
    assert found["small"] == ["BadKey", "BadKey"] and found["made"] == "x25519"


def _post_a_need(page: Page, base: str) -> tuple[str, str, str]:
    """The poster posts through the form (in Russian, on a phone); returns post id, token, private key."""
    page.goto(f"{base}/post?cell={CELL}&lang=ru")
    assert page.locator("#replies-note").is_visible()
    page.check("#kind-need")
    page.select_option("#category", "food")
    page.fill("#text", NEED)
    page.click("#submit")
    page.wait_for_selector("#new-post")
    page.wait_for_function("() => location.hash.startsWith('#k=')")
    url = urlsplit(page.url)
    post_id, token = url.path.rsplit("/", 2)[1:]
    key = url.fragment.removeprefix("k=")
    assert page.evaluate("() => sessionStorage.length") == 0  # the key's one trip is over
    link = page.locator("#private-link")
    # The page's script puts the key into the shown link once it has loaded: wait for it, then check the rest.
    expect(link).to_have_attribute("href", re.compile(re.escape(f"/manage/{post_id}/{token}#k={key}") + "$"))
    assert link.inner_text().endswith(f"#k={key}")
    assert page.locator("#copy-link").get_attribute("data-url").endswith(f"#k={key}")  # type: ignore[union-attr]
    for href in page.locator(".langs a").evaluate_all("links => links.map(a => a.getAttribute('href'))"):
        assert href.endswith(f"#k={key}")
    page.wait_for_selector("#replies-state:has-text('Ответов пока нет')")
    return post_id, token, key


def test_a_poster_and_a_neighbour_talk_privately(browser: Browser, served: tuple[str, str]) -> None:
    base, db = served
    poster_context = browser.new_context(**PHONE, locale="ru")
    neighbour_context = browser.new_context(**DESKTOP, locale="be")
    poster_seen, neighbour_seen = Recorder(poster_context), Recorder(neighbour_context)
    poster, neighbour = poster_context.new_page(), neighbour_context.new_page()

    post_id, post_token, poster_key = _post_a_need(poster, base)
    store = open_store(db)
    try:
        stored = store.get(post_id)
    finally:
        store.close()
    assert stored is not None
    assert stored["reply_key"] == replycrypto.public_text(replycrypto.load_private(poster_key).public_key())
    shot(poster, "replies-1-posted-phone-ru")

    # The neighbour finds the need in the list of their hexagon and answers it (Belarusian, laptop).
    neighbour.goto(f"{base}/near/{CELL}?lang=be")
    item = neighbour.locator(f"li.post[data-id='{post_id}']")
    item.locator(f"a[data-post='{post_id}']").click()  # "show on map": its popup has the button too
    popup_answer = neighbour.locator(".leaflet-popup a.answer-button")
    assert popup_answer.inner_text() == "Я магу дапамагчы"
    assert popup_answer.get_attribute("href") == f"/p/{post_id}"
    item.get_by_role("link", name="Я магу дапамагчы").click()
    neighbour.wait_for_url(f"{base}/p/{post_id}")
    neighbour.fill("#answer", ANSWER)
    assert neighbour.locator("#answer-count").inner_text().startswith(f"{len(ANSWER)} з ")
    neighbour.get_by_role("button", name="Адправіць прыватна").click()
    neighbour.wait_for_selector("#reply-result:visible")
    assert neighbour.evaluate("() => document.activeElement.id") == "reply-result-title"
    thread_link = neighbour.locator("#private-link").get_attribute("href")
    assert thread_link and "/thread/" in thread_link and "#k=" in thread_link
    neighbour_key, post_print = thread_link.split("#k=", 1)[1].split("&p=")
    assert post_print == replycrypto.fingerprint(str(stored["reply_key"]))
    thread_id, thread_token = urlsplit(thread_link).path.rsplit("/", 2)[1:]
    shot(neighbour, "replies-2-answered-laptop-be")

    # The poster opens their private link again (with #k=): the answer, decrypted here; and answers it.
    poster.reload()
    poster.wait_for_selector(".thread .message-text")
    assert poster.locator(".thread .message-text").all_inner_texts() == [ANSWER]
    poster.fill("#answer-0", THANKS)
    poster.get_by_role("button", name="Отправить приватно").click()
    poster.wait_for_function("() => document.querySelectorAll('.thread .message-text').length === 2")
    shot(poster, "replies-3-poster-reads-phone-ru")

    # The neighbour opens their private link and reads the answer.
    opened = neighbour.goto(thread_link)
    assert opened is not None and opened.headers["cache-control"] == "no-store"
    neighbour.wait_for_function("() => document.querySelectorAll('.message-text').length === 2")
    assert neighbour.locator(".message-text").all_inner_texts() == [ANSWER, THANKS]
    assert neighbour.locator(".message.mine .message-text").all_inner_texts() == [ANSWER]

    # Python reads what the browsers wrote, and writes what the browser then reads.
    thread = _api(base, "GET", f"/threads/{thread_id}", {"X-Thread-Token": thread_token})
    party = Party(post_id, stored["reply_key"], thread["replier_key"], neighbour_key, poster=False)
    assert [s.text for s in party.read_api(thread["messages"]).shown] == [ANSWER, THANKS]
    bot = Party(post_id, stored["reply_key"], thread["replier_key"], poster_key, poster=True)
    _api(
        base,
        "POST",
        f"/threads/{thread_id}/messages",
        {"X-Post-Token": post_token},
        {"message": bot.write(FROM_PYTHON, thread["today"], bot.read_api(thread["messages"]))},
    )
    neighbour.reload()
    neighbour.wait_for_function("() => document.querySelectorAll('.message-text').length === 3")
    assert neighbour.locator(".message-text").all_inner_texts() == [ANSWER, THANKS, FROM_PYTHON]

    # One byte changed on the server: the reader stops at that message (issue 17: nothing after it is
    # decrypted), says so, and offers no answer in a conversation that was changed.
    ((wire,),) = peek(
        db,
        "SELECT message FROM messages WHERE thread_id = ? AND sender = 'poster' ORDER BY seq LIMIT 1",
        (thread_id,),
    )
    changed = wire[:40] + ("A" if wire[40] != "A" else "B") + wire[41:]
    # What someone who can write to the database could do; no store call changes a message.
    assert poke(db, "UPDATE messages SET message = ? WHERE message = ?", (changed, wire)) == 1
    neighbour.reload()
    neighbour.wait_for_selector(".message-damaged")
    assert neighbour.locator(".message-text").all_inner_texts() == [ANSWER]
    assert (
        neighbour.locator(".message-damaged").inner_text()
        == "Гэтае паведамленне было зменена або пашкоджана, таму яно не паказваецца."
    )
    assert neighbour.locator(".message-unread").inner_text() == "Не прачытана наступных паведамленняў: 1."
    assert neighbour.locator(".tampered").inner_text().startswith("Гэтую размову змянілі на серверы")
    assert not neighbour.locator("#answer").is_visible()
    assert THANKS not in neighbour.content() and FROM_PYTHON not in neighbour.content()
    shot(neighbour, "replies-4-damaged-laptop-be")

    # "Report this post" from the conversation: the post is reported, through the API.
    neighbour.check("input[name=reason][value=spam]")
    neighbour.get_by_role("button", name="Адправіць скаргу").click()
    neighbour.wait_for_selector("#report-status.success")
    assert peek(db, "SELECT reason FROM reports WHERE post_id = ?", (post_id,)) == [("spam",)]

    # A wrong token and an unknown conversation: the same 404, saying nothing more.
    wrong = neighbour.goto(f"{base}/thread/{thread_id}/{thread_token[:-2]}xx")
    wrong_text = neighbour.locator("main").inner_text()
    unknown = neighbour.goto(f"{base}/thread/{'0' * len(thread_id)}/{thread_token}")
    assert wrong is not None and unknown is not None and wrong.status == unknown.status == 404
    assert neighbour.locator("main").inner_text() == wrong_text

    # The same link without its #k= says what is missing, and reads nothing.
    poster.goto(f"{base}/manage/{post_id}/{post_token}")
    assert poster.locator("#replies-no-key").is_visible()
    assert poster.locator(".message").count() == 0

    secrets = typed_forms(poster_key) + typed_forms(neighbour_key)
    words = [w for text in (NEED[-20:], ANSWER, THANKS) for w in typed_forms(text)]
    for seen in (poster_seen, neighbour_seen):
        assert seen.requests
        for request in seen.requests:
            assert urlsplit(request.url).netloc == urlsplit(base).netloc, request.url
            assert "#" not in request.url, request.url
            assert carries(request, secrets) == [], request.url
            assert carries(request, ["#k=", "%23k%3D", "%23k="]) == [], request.url
            if request.method != "POST" or urlsplit(request.url).path != "/post":
                assert carries(request, words) == [], request.url  # only the public post's own text is sent
        assert not seen.errors, seen.errors
    poster_context.close()
    neighbour_context.close()


def test_the_public_post_page(browser: Browser, served: tuple[str, str]) -> None:
    base, _ = served
    context = browser.new_context(**DESKTOP, locale="en")
    page = context.new_page()
    made = _api(
        base,
        "POST",
        "/posts",
        {},
        {
            "kind": "offer",
            "category": "medicine",
            "text": "Spare blood pressure monitor",
            "cell": CELL,
            "reply_key": replycrypto.generate("p256").public,
        },
    )
    page.goto(f"{base}/p/{made['id']}?lang=en")
    config = json.loads(page.locator("#mapaid-replies").text_content() or "{}")
    assert config["today"] == TEST_NOW.date().isoformat()  # what the first message carries
    assert page.locator("h1").inner_text() == "Offer: Medicine"
    assert page.locator("#answer-title").inner_text() == "I need this too"
    assert "Spare blood pressure monitor" in page.locator(".post-text").inner_text()
    assert made["token"] not in page.content()
    page.fill("#answer", "x" * 1001)
    assert "over" in (page.locator("#answer-count").get_attribute("class") or "")
    page.get_by_role("button", name="Send privately").click()
    assert "at most 1000 characters" in page.locator(".reply-form .reply-status").inner_text()
    shot(page, "replies-5-public-post-laptop-en")
    assert page.goto(f"{base}/p/NoSuchPost").status == 404  # type: ignore[union-attr]
    context.close()


def test_without_javascript_the_form_still_posts(browser: Browser, served: tuple[str, str]) -> None:
    """No script, no key: the post goes up and simply takes no private replies; the form says so."""
    base, db = served
    context = browser.new_context(**PHONE, locale="en", java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{base}/post?cell={CELL}&lang=en")
    assert "nobody can answer it privately" in page.locator("form.post").inner_text()
    page.check("#kind-need")
    page.select_option("#category", "transport")
    page.fill("#text", "A lift to the clinic, no script here")
    page.click("#submit")
    page.wait_for_selector("#new-post")
    assert "posted without a key" in page.locator("#replies").inner_text()
    post_id = (page.locator("#private-link").get_attribute("href") or "").rsplit("/", 2)[1]
    store = open_store(db)
    try:
        assert store.get(post_id)["reply_key"] is None  # type: ignore[index]
    finally:
        store.close()
    page.goto(f"{base}/p/{post_id}")
    assert page.locator("#replies").count() == 0
    assert "takes no private replies" in page.locator("main").inner_text()
    context.close()
