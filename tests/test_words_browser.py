"""Her words (issue 18, item 2) in headless Chromium, on a phone (390x844, touch) in Belarusian, Russian
and English, on one real server for the module (posts published at once):

- words.js, run in the page under its real policy, finds house, entrance and flat numbers, phone numbers
  and @handles in be/ru/en, and nothing in ordinary texts;
- the posting form says above the text field that the text is public and can be downloaded whole;
  "под'езд 4", "кв. 12" and "+375 29 …" each bring up "This may show where you live. Remove it?" before
  anything is sent (axe-core clean with it open); "go back and edit" keeps her on the form with her text,
  "send anyway" posts it; an ordinary text posts with no question;
- on the private page "Change your post" is folded (a <details>), says the text is public, sits next to
  the post and not under the replies' answer box, and its edit asks the same question.
Screenshots go to test-artifacts/."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import h3.api.basic_int as h3
import pytest
from livesite import Live, Watch, shot
from pagesite import PHONE
from playwright.sync_api import Browser, Page, expect
from test_a11y import check

from mapaid.store import open_store

pytestmark = pytest.mark.browser
CELL = h3.int_to_str(h3.latlng_to_cell(53.9023, 27.5619, 9))

FOUND = [
    "Нужны продукты, под'езд 4",
    "Нужны продукты, подъезд 4",
    "4-й подъезд, 5 этаж",
    "Патрэбны хлеб, пад'езд 2",
    "Патрэбны хлеб, падʼезд 3",
    "кв. 12, звоните",
    "кв.12",
    "кватэра 7",
    "квартира № 9",
    "flat 12",
    "entrance 4",
    "apt 3",
    "Apt. 3B",
    "д. 5",
    "дом 5",
    "ул. Кирова 8",
    "+375 29 123-45-67",
    "+375 29",
    "80 29 1234567",
    "тел. 2345678",
    "пишите @minsk_help",
    "telegram t.me/minsk_help",
    "mail me: olga.k@mail.by",
]
ORDINARY = [
    "Need bread, 2 loaves",
    "Могу привезти лекарства в 18:00",
    "Нужна помощь донести продукты с рынка, 5-й этаж без лифта",
    "Магу дапамагчы ў суботу раніцай 🙂 — Алесь",
    "Встречу у подъезда в 10 утра",
    "Insulin pens, please",
    "Cat food, 3 cans by Friday, +7 days is fine",
    "Патрэбны малако і хлеб, 2 пакеты, да 20.12",
    "Сижу дома 2 недели, нужна компания",
]
WORDS: dict[str, dict[str, str]] = {
    "en": {
        "need": "I need help",
        "public": "anyone can download all posts",
        "ask": "This may show where you live. Remove it?",
        "edit": "Go back and edit",
        "send": "Send anyway",
        "change": "Change your post",
        "edit_public": "is public",
    },
    "ru": {
        "need": "Мне нужна помощь",
        "public": "скачать все объявления",
        "ask": "Это может показать, где вы живёте. Убрать?",
        "edit": "Вернуться и исправить",
        "send": "Всё равно отправить",
        "change": "Изменить пост",
        "edit_public": "публичный",
    },
    "be": {
        "need": "Мне патрэбна дапамога",
        "public": "спампаваць усе допісы",
        "ask": "Гэта можа паказаць, дзе вы жывяце. Прыбраць?",
        "edit": "Вярнуцца і выправіць",
        "send": "Усё роўна адправіць",
        "change": "Змяніць допіс",
        "edit_public": "публічны",
    },
}
RISKY = ["Нужны продукты, под'езд 4", "Хлеб и молоко, кв. 12", "Звоните +375 29 123 45 67"]


def test_words_js_finds_what_points_at_a_door(browser: Browser, live: Live) -> None:
    page = browser.new_page()
    page.goto(f"{live.base}/post?cell={CELL}")
    finds: list[list[Any]] = page.evaluate(
        "(texts) => texts.map((t) => window.mapaidWords.find(t).map((f) => f.text))", FOUND + ORDINARY
    )
    missed = [text for text, found in zip(FOUND, finds, strict=False) if not found]
    false_alarms = {t: f for t, f in zip(ORDINARY, finds[len(FOUND) :], strict=True) if f}
    assert not missed, missed
    assert not false_alarms, false_alarms
    page.close()


def _choose_need(page: Page, lang: str) -> None:
    page.get_by_text(WORDS[lang]["need"], exact=True).click()


@pytest.mark.parametrize("lang", ["be", "ru", "en"])
def test_the_form_warns_before_a_door_is_posted(browser: Browser, live: Live, lang: str) -> None:
    base, words = live.base, WORDS[lang]
    context = browser.new_context(**PHONE, locale=lang, permissions=[])
    page = context.new_page()
    watch = Watch(page)
    name = f"words-{lang}"

    page.goto(f"{base}/post?cell={CELL}&lang={lang}")
    notice = page.locator("#text-public")
    expect(notice).to_be_visible()
    assert words["public"] in notice.inner_text()
    # measured in one step, so a scroll between two measurements cannot move one of them
    above = page.evaluate(
        """() => document.getElementById("text-public").getBoundingClientRect().bottom
                 <= document.getElementById("text").getBoundingClientRect().top"""
    )
    assert above
    assert "text-public" in (page.locator("#text").get_attribute("aria-describedby") or "")
    _choose_need(page, lang)
    dialog = page.locator("#words-dialog")
    expect(dialog).to_be_hidden()

    for number, text in enumerate(RISKY):
        page.fill("#text", text)
        page.click("#submit")
        expect(dialog).to_be_visible()
        assert dialog.get_by_role("heading").inner_text() == words["ask"]
        assert dialog.locator("#words-found").inner_text() != ""
        if number == 0:
            shot(page, f"{name}-1-question")
            problems = check(page, f"words form {lang} with the question")
            assert not problems, problems
        dialog.get_by_role("button", name=words["edit"]).click()
        expect(dialog).to_be_hidden()
        assert urlsplit(page.url).path == "/post"
        assert page.input_value("#text") == text  # her text stays
        assert page.evaluate("() => document.activeElement && document.activeElement.id") == "text"
    shot(page, f"{name}-2-back-to-edit")

    page.click("#submit")  # the last risky text, once more: now she keeps it
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name=words["send"]).click()
    page.wait_for_selector("#new-post")
    page.wait_for_function("() => location.hash.startsWith('#k=')")  # the reply key was made on the way
    kept = page.locator("#private-link").get_attribute("href")
    assert kept
    post_id = urlsplit(kept).path.rsplit("/", 2)[1]
    store = open_store(live.db)
    try:
        post = store.get(post_id)
        assert post is not None and post["text"] == RISKY[-1]
    finally:
        store.close()
    shot(page, f"{name}-3-sent-anyway")

    page.goto(f"{base}/post?cell={CELL}&lang={lang}")
    _choose_need(page, lang)
    page.fill("#text", "Need bread, 2 loaves")
    page.click("#submit")  # no question: the dialog would hold the form back
    page.wait_for_selector("#new-post")
    # posting.js puts the private link into the address bar once the page has loaded: wait for it
    page.wait_for_function("() => location.pathname.startsWith('/manage/') && location.hash !== ''")
    assert not watch.errors, watch.errors
    context.close()


@pytest.mark.parametrize("lang", ["be", "ru", "en"])
def test_change_your_post_is_folded_and_public(browser: Browser, live: Live, lang: str) -> None:
    base, words = live.base, WORDS[lang]
    context = browser.new_context(**PHONE, locale=lang, permissions=[])
    page = context.new_page()
    watch = Watch(page)
    page.goto(f"{base}/post?cell={CELL}&lang={lang}")
    _choose_need(page, lang)
    page.fill("#text", "Insulin pens, please")
    page.click("#submit")
    page.wait_for_selector("#new-post")
    page.wait_for_function("() => location.hash.startsWith('#k=')")

    fold = page.locator("details#change-post")
    expect(fold).to_have_count(1)
    assert fold.get_attribute("open") is None
    assert fold.locator("summary").inner_text().strip() == words["change"]
    expect(page.locator("#new-text")).to_be_hidden()
    order = page.evaluate(
        """() => {
          const fold = document.getElementById("change-post");
          const replies = document.getElementById("replies");
          return {
            before: fold.previousElementSibling && fold.previousElementSibling.id,
            afterReplies: !!(replies.compareDocumentPosition(fold) & Node.DOCUMENT_POSITION_FOLLOWING),
          };
        }"""
    )
    assert order["before"] != "replies" and not order["afterReplies"], order
    shot(page, f"words-{lang}-4-private-folded")

    fold.locator("summary").click()
    expect(page.locator("#new-text")).to_be_visible()
    assert words["edit_public"] in page.locator("#edit-public").inner_text()
    page.fill("#new-text", "Insulin pens, кв. 12")
    page.click("#edit")
    dialog = page.locator("#words-dialog")
    expect(dialog).to_be_visible()
    shot(page, f"words-{lang}-5-private-question")
    dialog.get_by_role("button", name=words["edit"]).click()
    expect(dialog).to_be_hidden()
    assert page.input_value("#new-text") == "Insulin pens, кв. 12"
    page.fill("#new-text", "Insulin pens and strips")
    page.click("#edit")
    page.wait_for_selector(".success[role=status]")
    assert page.locator(".post-text").inner_text() == "Insulin pens and strips"
    assert not watch.errors, watch.errors
    context.close()


def test_without_javascript_the_form_posts_as_before(browser: Browser, live: Live) -> None:
    """No script, no question: the dialog stays closed and the text goes up as typed."""
    context = browser.new_context(**PHONE, locale="ru", java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live.base}/post?cell={CELL}&lang=ru")
    expect(page.locator("#text-public")).to_be_visible()
    expect(page.locator("#words-dialog")).to_be_hidden()
    page.get_by_text(WORDS["ru"]["need"], exact=True).click()
    page.fill("#text", "Хлеб и молоко, кв. 12")
    page.click("#submit")
    page.wait_for_selector("#new-post")
    assert page.locator(".post-text").inner_text() == "Хлеб и молоко, кв. 12"
    expect(page.locator("#change-post")).to_have_count(1)
    context.close()
