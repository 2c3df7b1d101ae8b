"""Coordinator pages in Belarusian and Russian: headings, tables, legends, popups, flash messages and district
names follow the chosen language (Accept-Language or the switcher), and nothing falls back to English."""

from __future__ import annotations

import json
import re
from datetime import date
from html.parser import HTMLParser
from typing import Any

import pytest
from flask.testing import FlaskClient
from scene import HOME, Scene, build

from mapaid import accounts, create_app
from mapaid.store import Store

PASSWORD = "correct horse battery"
DISTRICT = {"be": "Фрунзенскі", "ru": "Фрунзенский", "en": "Frunzyenski"}
OTHER_DISTRICT = {"be": "Партызанскі", "ru": "Партизанский", "en": "Partyzanski"}
WORDS: dict[str, dict[str, str]] = {
    "be": {
        "login": "Уваход для каардынатараў",
        "heading": "Патрэбы, якія не можа задаволіць ніводная прапанова ў межах 800 м",
        "title": "Незадаволеныя патрэбы · mapaid",
        "per_category": "Па катэгорыях",
        "district": "Раён",
        "legend": "Незадаволеныя патрэбы па раёнах",
        "layer": "Шасцікутнікі з незадаволенымі патрэбамі",
        "popup": "Задаволена патрэб",
        "hexagons": r"\d+ шасцікутнік\w* з незадаволенымі патрэбамі\.",
        "moderation": "Мадэрацыя",
        "audit": "Журнал дзеянняў",
        "open": "адкрыты",
        "hidden_flash": "Допіс {id} схаваны.",
        "hidden": "схаваны",
        "hide_action": "схаванне",
        "wrong": "Няправільнае імя або пароль.",
        "no_post": "Такога допісу няма",
        "bad_sort": "sort павінен быць адным з",
        "tiles": "Падкладка мапы",
    },
    "ru": {
        "login": "Вход для координаторов",
        "heading": "Просьбы, которые не может удовлетворить ни одно предложение в пределах 800 м",
        "title": "Неудовлетворённые просьбы · mapaid",
        "per_category": "По категориям",
        "district": "Район",
        "legend": "Неудовлетворённые просьбы по районам",
        "layer": "Шестиугольники с неудовлетворёнными просьбами",
        "popup": "Удовлетворено просьб",
        "hexagons": r"\d+ шестиугольник\w* с неудовлетворёнными просьбами\.",
        "moderation": "Модерация",
        "audit": "Журнал действий",
        "open": "открыто",
        "hidden_flash": "Объявление {id} скрыто.",
        "hidden": "скрыто",
        "hide_action": "скрытие",
        "wrong": "Неверное имя или пароль.",
        "no_post": "Такого объявления нет",
        "bad_sort": "sort должен быть одним из",
        "tiles": "Подложка карты",
    },
}
# English text that must not show on a translated page (headings, legends, layer names, popup labels).
ENGLISH = (
    "Coordinator login",
    "Needs no offer within",
    "Unmet needs",
    "Per category",
    "Districts by unmet needs",
    "Hexagons with unmet needs",
    "Needs met",
    "Walking distance",
    "Audit trail",
    "Moderation",
    "Log out",
    "Log out and forget this device",
    "Public map",
)
# Elements whose text is the same in every language.
NEUTRAL = re.compile(r"^(CSV|GeoJSON|GeoPackage|mapaid|[0-9a-z]{6,}|[#\d\s–≥▲▼.,%—]*)$")


class Texts(HTMLParser):
    """Text of headings, table headers, labels, buttons, options, links and paragraphs inside <main> and
    the main navigation: what a reader sees of the page's own wording (not user data in table cells)."""

    TRACKED = frozenset({"h1", "h2", "th", "label", "button", "option", "a", "p", "strong", "title"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[list[str]] = []
        self.tags: list[str] = []
        self.scope = 0
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag == "main" or (tag == "nav" and "main-nav" in classes) or tag == "title":
            self.scope += 1
        if self.scope and tag in self.TRACKED:
            self.tags.append(tag)
            self.stack.append([])

    def handle_endtag(self, tag: str) -> None:
        if self.tags and self.tags[-1] == tag:
            self.tags.pop()
            text = " ".join("".join(self.stack.pop()).split())
            if text:
                self.found.append(text)
        if tag in ("main", "nav", "title") and self.scope:
            self.scope -= 1

    def handle_data(self, data: str) -> None:
        if self.stack:
            self.stack[-1].append(data)


def visible(html: str) -> set[str]:
    parser = Texts()
    parser.feed(html)
    return {t for t in parser.found if not NEUTRAL.match(t)}


def scripted(text: str) -> str:
    """``text`` as folium writes it into the map's script (JSON, non-ASCII escaped)."""
    return json.dumps(text)[1:-1]


def token(client: FlaskClient, path: str = "/coordinator/login") -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert match, path
    return match.group(1)


def login(client: FlaskClient, password: str = PASSWORD) -> Any:
    data = {"name": "anna", "password": password, "csrf_token": token(client)}
    return client.post("/coordinator/login", data=data)


def speaking(client: FlaskClient, lang: str) -> FlaskClient:
    """The client, sending ``Accept-Language: lang`` with every request from now on."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = lang
    return client


@pytest.fixture
def scene(store: Store, today: date) -> Scene:
    accounts.add(store, "anna", PASSWORD, today)
    return build(store, today)


def english_texts(config: dict[str, Any], path: str) -> set[str]:
    """The same page's visible wording in English, from a separate session."""
    client = speaking(create_app(config).test_client(), "en")
    assert login(client).status_code == 302
    response = client.get(path)
    assert response.status_code == 200
    return visible(response.text)


@pytest.mark.parametrize("lang", ["be", "ru"])
def test_login_page_and_its_errors_are_translated(client: FlaskClient, scene: Scene, lang: str) -> None:
    speaking(client, lang)
    page = client.get("/coordinator/login").text
    assert f'<html lang="{lang}">' in page and WORDS[lang]["login"] in page
    assert "Coordinator login" not in page and "Password" not in page
    response = login(client, password="not the password")
    assert response.status_code == 401 and WORDS[lang]["wrong"] in response.text
    assert "Wrong name or password" not in response.text


@pytest.mark.parametrize("lang", ["be", "ru"])
def test_dashboard_in_the_chosen_language(
    client: FlaskClient, scene: Scene, config: dict[str, Any], lang: str
) -> None:
    speaking(client, lang)
    assert login(client).status_code == 302
    response = client.get("/coordinator")
    assert response.status_code == 200
    html = response.text
    words = WORDS[lang]
    assert f'<html lang="{lang}">' in html and f"<title>{words['title']}</title>" in html
    assert f"<h1>{words['heading']}</h1>" in html and f"<h2>{words['per_category']}</h2>" in html
    assert words["district"] in html and re.search(words["hexagons"], html)
    assert words["legend"] in html  # the colour legend's title
    assert scripted(words["layer"]) in html  # the layer switch, in the map's script
    assert f'"{scripted(words["popup"])}"' in html  # a popup label
    row = re.search(rf'<tr data-district="{HOME}"[^>]*>(.*?)</tr>', html, re.S)
    assert row and DISTRICT[lang] in row.group(1)  # the table's district names
    assert re.search(rf'"name": "(\\u2605 )?{re.escape(scripted(DISTRICT[lang]))}"', html)  # popups
    assert OTHER_DISTRICT[lang] in html
    for english in (*ENGLISH, DISTRICT["en"], OTHER_DISTRICT["en"]):
        assert english not in html, english
    texts, english = visible(html), english_texts(config, "/coordinator")
    assert len(texts) > 20 and not texts & english, texts & english


@pytest.mark.parametrize("lang", ["be", "ru"])
def test_moderation_in_the_chosen_language(
    client: FlaskClient, scene: Scene, store: Store, config: dict[str, Any], lang: str
) -> None:
    speaking(client, lang)
    assert login(client).status_code == 302
    words = WORDS[lang]
    html = client.get("/coordinator/posts").text
    assert f"<h1>{words['moderation']}</h1>" in html and f"<h2>{words['audit']}</h2>" in html
    assert f">{DISTRICT[lang]}</option>" in html and f">{DISTRICT[lang]}</td>" in html
    assert f'<td class="status">{words["open"]}</td>' in html
    for english in (*ENGLISH, DISTRICT["en"], ">open<", "All districts", "Any status"):
        assert english not in html, english
    texts, english = visible(html), english_texts(config, "/coordinator/posts")
    assert len(texts) > 20 and not texts & english, texts & english

    post = scene.ids["nm"]
    data = {"csrf_token": token(client, "/coordinator/posts"), "next": "/coordinator/posts"}
    assert client.post(f"/coordinator/posts/{post}/hide", data=data).status_code == 302
    assert store.get(post)["status"] == "hidden"  # type: ignore[index]
    html = client.get("/coordinator/posts").text
    assert words["hidden_flash"].format(id=post) in html  # the flash message
    assert f'<td class="status">{words["hidden"]}</td>' in html
    assert f"<td>{words['hide_action']}</td>" in html  # the audit trail
    assert f"Post {post} is hidden." not in html and "<td>hide</td>" not in html


@pytest.mark.parametrize("lang", ["be", "ru"])
def test_error_messages_of_coordinator_pages_are_translated(
    client: FlaskClient, scene: Scene, lang: str
) -> None:
    speaking(client, lang)
    assert login(client).status_code == 302
    response = client.get("/coordinator?sort=colour")
    assert response.status_code == 400 and WORDS[lang]["bad_sort"] in response.text
    gone = client.post(
        "/coordinator/posts/nosuchpost/hide", data={"csrf_token": token(client, "/coordinator/posts")}
    )
    assert gone.status_code == 404 and WORDS[lang]["no_post"] in gone.text


def test_switcher_chooses_and_remembers_the_language(client: FlaskClient, scene: Scene) -> None:
    speaking(client, "en")
    assert login(client).status_code == 302
    page = client.get("/coordinator").text
    assert all(f'hreflang="{code}"' in page for code in ("be", "ru", "en"))  # the switcher
    assert "<h1>Needs no offer within 800 m can meet</h1>" in page and DISTRICT["en"] in page
    link = re.search(r'<a href="([^"]+)" hreflang="ru"', page)
    assert link and "lang=ru" in link.group(1)
    switched = client.get(link.group(1).replace("&amp;", "&")).text
    assert f"<h1>{WORDS['ru']['heading']}</h1>" in switched and DISTRICT["ru"] in switched
    remembered = client.get("/coordinator/posts").text  # still Accept-Language: en, but the cookie says ru
    assert f"<h1>{WORDS['ru']['moderation']}</h1>" in remembered and DISTRICT["ru"] in remembered
    back = client.get("/coordinator/posts?lang=en").text
    assert "<h1>Moderation</h1>" in back and DISTRICT["en"] in back


def test_english_stays_english(client: FlaskClient, scene: Scene) -> None:
    speaking(client, "en")
    assert login(client).status_code == 302
    html = client.get("/coordinator").text
    assert "<h1>Needs no offer within 800 m can meet</h1>" in html and "Districts by unmet needs" in html
    assert DISTRICT["en"] in html and DISTRICT["be"] not in html
    posts = client.get("/coordinator/posts").text
    assert '<td class="status">open</td>' in posts and "<h2>Audit trail</h2>" in posts


@pytest.mark.parametrize("lang", ["be", "ru"])
def test_tile_layer_name_is_translated(config: dict[str, Any], scene: Scene, lang: str) -> None:
    app = create_app({**config, "TILES": "/tiles/{z}/{x}/{y}.png", "TILES_ATTRIBUTION": "local tiles"})
    client = speaking(app.test_client(), lang)
    assert login(client).status_code == 302
    html = client.get("/coordinator").text
    assert f'"{scripted(WORDS[lang]["tiles"])}"' in html and '"tiles"' not in html
