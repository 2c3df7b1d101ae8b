"""No English message can reach a Belarusian or Russian page (issue 8, item 8).

Two checks. The catalogue: every msgid that ``pybabel extract`` finds in mapaid (templates, views and the
lower layers' ``N_``-marked messages, intake's among them) has a Belarusian and a Russian translation in
the compiled catalogues the app reads. The pages: resident and coordinator pages in be and ru, with every
error we can provoke (the form with all its errors, 400, 404, 429, a wrong login), rendered through the
app; no English text of the catalogue appears in what a visitor sees (text, titles, labels and the
strings of the pages' JSON: map credits, status lines), leaving out what people typed (post texts,
contacts), ids in <code> and the brand.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import h3.api.basic_int as h3
import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.support import Translations
from flask.testing import FlaskClient

from mapaid import accounts, create_app, demo
from mapaid.config import DEFAULT_CATEGORIES
from mapaid.districts import read_districts, romanize_be
from mapaid.store import Store

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "mapaid" / "translations"
CENTRE = (53.9023, 27.5619)
CELL = h3.int_to_str(h3.latlng_to_cell(*CENTRE, 9))
OUTSIDE = h3.int_to_str(h3.latlng_to_cell(55.75, 37.62, 9))  # Moscow: a valid cell, not served
COARSE = h3.int_to_str(h3.latlng_to_cell(*CENTRE, 5))
PASSWORD = "correct horse battery"
USER_TEXT = "Soup and bread tonight, any time after six"  # English a resident typed: allowed anywhere
# Words that are the same in every language: the brand, names of formats and of the map's data source.
SAME_EVERYWHERE = {"mapaid", "OpenStreetMap", "ODbL", "GeoJSON", "CSV", "UTF-8", "H3", "posts.geojson"}
# Elements whose text is someone's data, not our wording.
USER_DATA_CLASSES = {"post-text", "contact"}
USER_DATA_KEYS = {"text", "contact", "id"}


Msgid = str | tuple[str, ...]  # a plural message has a singular and a plural msgid


def extracted() -> dict[tuple[str | None, Msgid], str]:
    """(context, msgid) -> where, for every message ``make translations`` would extract from mapaid."""
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    keywords = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}
    found: dict[tuple[str | None, Msgid], str] = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
        ROOT / "mapaid", method_map, keywords=keywords
    ):
        if message:
            found.setdefault((context, message), f"{filename}:{lineno}")
    return found


def _ids(msgid: Msgid) -> tuple[str, ...]:
    return msgid if isinstance(msgid, tuple) else (msgid,)


def test_the_extractor_finds_the_lower_layers_messages() -> None:
    """``N_`` marks are picked up: intake's, nearby's and the maps' credit line are in the catalogue."""
    msgids = {one for _context, msgid in extracted() for one in _ids(msgid)}
    for msgid in (
        "text is empty",
        "text is %(length)s characters long; at most %(limit)s",
        "unknown category %(value)s (use one of: %(choices)s)",
        "that hexagon is outside the served area",
        "Districts © OpenStreetMap contributors (ODbL)",
    ):
        assert msgid in msgids, msgid


@pytest.mark.parametrize("lang", ["be", "ru"])
def test_every_extracted_message_is_translated(lang: str) -> None:
    catalogue = Translations.load(str(TRANSLATIONS), [lang], domain="messages")
    missing = []
    for (context, msgid), where in sorted(extracted().items(), key=lambda kv: kv[1]):
        if isinstance(msgid, tuple):  # every plural form, for numbers that need each
            texts = [catalogue.ngettext(msgid[0], msgid[1], n) for n in (1, 3, 5)]
        else:
            texts = [catalogue.pgettext(context, msgid) if context else catalogue.gettext(msgid)]
        if any(not t.strip() or (t in _ids(msgid) and not _same_everywhere(t)) for t in texts):
            missing.append(f"{where}: {msgid!r}")
    assert not missing, f"{len(missing)} untranslated in {lang}:\n" + "\n".join(missing)


def _same_everywhere(msgid: str) -> bool:
    return all(word in SAME_EVERYWHERE for word in re.findall(r"[A-Za-z][\w.-]*", msgid))


# --- the pages ---------------------------------------------------------------------------------------


class Visible(HTMLParser):
    """What a visitor reads: text outside <script>/<style>, titles, labels and placeholders, and the
    string values of the pages' JSON blocks (map credits, layer names, messages for scripts); without
    people's own text (post texts, contacts), <code> ids and form values."""

    SKIP = frozenset({"script", "style", "code", "textarea"})

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self.stack: list[tuple[str, bool]] = []  # (tag, hidden from us)
        self.json: list[str] = []

    def _hidden(self) -> bool:
        return any(hidden for _tag, hidden in self.stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        classes = set((a.get("class") or "").split())
        json_block = tag == "script" and (a.get("type") or "") == "application/json"
        hidden = tag in self.SKIP or bool(classes & USER_DATA_CLASSES)
        if tag not in ("br", "img", "input", "meta", "link", "hr", "source", "wbr"):
            self.stack.append((tag, hidden and not json_block))
            if json_block:
                self.json.append("")
        if not self._hidden():
            for name in ("title", "placeholder", "aria-label", "alt"):
                if a.get(name):
                    self.texts.append(str(a[name]))

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            open_tag, _hidden = self.stack.pop()
            if open_tag == tag:
                break

    def handle_data(self, data: str) -> None:
        if self.stack and self.stack[-1][0] == "script" and self.json and not self.stack[-1][1]:
            self.json[-1] += data
        elif not self._hidden():
            self.texts.append(data)

    def everything(self) -> str:
        strings = [*self.texts]
        for block in self.json:
            if block.strip():
                strings.extend(_strings(json.loads(block)))
        return " ¶ ".join(" ".join(s.split()) for s in strings if s.strip())


def _strings(value: Any, key: str = "") -> Iterator[str]:
    if key in USER_DATA_KEYS:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, str(k))
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v, key)


def visible(html: str) -> str:
    parser = Visible()
    parser.feed(html)
    return parser.everything()


def english_fragments() -> dict[str, str]:
    """Pieces of every English message (split at its placeholders) that would betray it on a page:
    each with a Latin word of three letters or more that is not the same in every language."""
    fragments: dict[str, str] = {}
    for (_context, msgid), where in extracted().items():
        for piece in (p for one in _ids(msgid) for p in re.split(r"%\(\w+\)[sd]|%s|\{\w*\}", one)):
            piece = " ".join(piece.split()).strip(" .,:;()·–—-")
            words = [w for w in re.findall(r"[A-Za-z][A-Za-z'’-]+", piece) if w not in SAME_EVERYWHERE]
            if any(len(w) >= 3 for w in words):
                fragments.setdefault(piece, where)
    return fragments


FILE_NAME = re.compile(r"[\w-]+\.(?:geojson|csv|gpkg|xlsx)\b")


def leaks(text: str, fragments: dict[str, str]) -> list[str]:
    """The English fragments found in ``text`` (file names, the same in every language, left out)."""
    text = FILE_NAME.sub(" ", text)
    found = []
    for piece, where in fragments.items():
        if re.search(rf"(?<![A-Za-z]){re.escape(piece)}(?![A-Za-z])", text):
            found.append(f"{piece!r} (from {where})")
    return found


def _csrf(client: FlaskClient, path: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True))
    assert match, path
    return match.group(1)


def _post(client: FlaskClient, **fields: str) -> Any:
    data = {"csrf_token": _csrf(client, "/post"), "cell": CELL, "kind": "need", "category": "food"}
    return client.post("/post", data={**data, "text": USER_TEXT, **fields})


def resident_pages(client: FlaskClient, today: date) -> Iterator[tuple[str, int, str]]:
    """(what, status, html) of the resident pages and every error they can show."""
    assert _post(client).status_code == 303  # post, then redirect to the page that shows the link once
    created = client.get("/posted")
    link = re.search(r'data-private-url="(/manage/[^"]+)"', created.get_data(as_text=True))
    assert link
    manage = link.group(1)
    yield "posted", created.status_code, created.get_data(as_text=True)
    for path in (
        "/",
        f"/near/{CELL}",
        f"/near/{CELL}?within=1200&kind=need&category=food",
        "/post",
        f"/post?cell={CELL}&kind=need",
        manage,
        "/safety",
        "/nowhere",  # 404 with werkzeug's own description
        f"/near/{OUTSIDE}",  # 404 from nearby
        "/near/zzz",
        f"/near/{COARSE}",
        f"/near/{CELL}?within=7",
        f"/near/{CELL}?kind=gift",
        f"/near/{CELL}?category=music",
        f"/near/{CELL}?page=0",
        "/manage/nosuchpost/nosuchtoken",
        "/export/nothing.csv",
        "/export/posts.xlsx",
        "/export/posts.csv?status=hidden",
    ):
        response = client.get(path)
        yield path, response.status_code, response.get_data(as_text=True)
    every_error = {
        "kind": "gift",
        "category": "music",
        "text": "x" * 300,
        "contact": "y" * 150,
        "expires_days": "99",
    }
    for what, fields in (
        ("all errors", every_error),
        ("empty", {"text": "", "kind": "", "category": "", "contact": "a\x01b", "expires_days": "soon"}),
        ("no cell", {"cell": ""}),
        ("bad cell", {"cell": "zzz"}),
        ("coarse cell", {"cell": COARSE}),
        ("outside", {"cell": OUTSIDE}),
        ("control characters", {"text": "a\x02b"}),
    ):
        response = _post(client, **fields)
        assert response.status_code == 422, what
        yield f"POST /post ({what})", response.status_code, response.get_data(as_text=True)
    response = client.post(manage, data={"csrf_token": _csrf(client, manage), "action": "fulfilled"})
    yield "fulfilled", response.status_code, response.get_data(as_text=True)
    response = client.post(manage, data={"csrf_token": _csrf(client, manage), "action": "explode"})
    yield "bad action", response.status_code, response.get_data(as_text=True)
    response = client.post(manage, data={"csrf_token": "stale", "action": "delete"})
    yield "stale form", response.status_code, response.get_data(as_text=True)


def coordinator_pages(client: FlaskClient) -> Iterator[tuple[str, int, str]]:
    response = client.get("/coordinator/login")
    yield "login", response.status_code, response.get_data(as_text=True)
    token = _csrf(client, "/coordinator/login")
    for name, password in (("anna", "not the password"), ("", "")):
        data = {"csrf_token": token, "name": name, "password": password}
        response = client.post("/coordinator/login", data=data)
        yield f"login error ({name or 'empty'})", response.status_code, response.get_data(as_text=True)
    data = {"csrf_token": token, "name": "anna", "password": PASSWORD}
    assert client.post("/coordinator/login", data=data).status_code == 302
    for path in (
        "/coordinator",
        "/coordinator?within=1200",
        "/coordinator/posts",
        "/coordinator/posts?status=fulfilled",
        "/coordinator?sort=colour",
        "/coordinator?order=up",
        "/coordinator/posts?district=atlantis",
        "/coordinator/posts?page=-1",
    ):
        response = client.get(path)
        yield path, response.status_code, response.get_data(as_text=True)


@pytest.mark.parametrize("lang", ["be", "ru"])
def test_no_english_message_reaches_a_translated_page(
    client: FlaskClient, store: Store, today: date, lang: str
) -> None:
    accounts.add(store, "anna", PASSWORD, today)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = lang
    fragments = english_fragments()
    assert len(fragments) > 150
    seen: set[int] = set()
    problems = []
    for what, status, html in (*resident_pages(client, today), *coordinator_pages(client)):
        assert f'<html lang="{lang}">' in html, what
        seen.add(status)
        text = visible(html)
        assert USER_TEXT not in text  # people's own words are left out, not checked
        problems += [f"{what} [{status}]: {leak}" for leak in leaks(text, fragments)]
    assert {200, 400, 401, 404, 422} <= seen, seen  # the new post's page is a 200 after the redirect
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("lang", ["be", "ru"])
def test_the_429_page_is_translated(config: dict[str, Any], lang: str) -> None:
    client = create_app({**config, "POST_LIMIT": "1 per minute"}).test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = lang
    assert _post(client).status_code == 303
    response = _post(client)
    assert response.status_code == 429
    html = response.get_data(as_text=True)
    assert f'<html lang="{lang}">' in html
    assert not leaks(visible(html), english_fragments())
    assert {"be": "Занадта шмат запытаў", "ru": "Слишком много запросов"}[lang] in html


def test_the_form_names_every_error_in_the_visitors_language(client: FlaskClient) -> None:
    """Intake's messages on the form, with their numbers and the allowed categories by name."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "ru"
    html = _post(client, text="x" * 300, category="music", expires_days="99").get_data(as_text=True)
    assert "В тексте 300 знаков; можно не больше 280" in html
    assert "Срок должен быть от 1 до 60 дней от сегодняшнего дня" in html
    assert "Неизвестная категория &#39;music&#39; (возможные: Еда, Лекарства," in html
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "be"
    html = _post(client, text="").get_data(as_text=True)
    assert "Напішыце, што вам патрэбна або што вы можаце даць." in html and "text is empty" not in html


def test_the_api_and_the_command_line_keep_english(client: FlaskClient) -> None:
    response = client.post(
        "/api/v1/posts",
        json={"kind": "need", "category": "music", "text": "x", "cell": CELL},
        headers={"Accept-Language": "ru"},
    )
    assert response.status_code == 422
    body = response.get_json()
    assert body["field"] == "category"
    assert body["error"].startswith("unknown category 'music' (use one of: food, medicine,")


@pytest.mark.parametrize(
    ("lang", "day", "status"),
    [("be", "11 снежня 2026 г.", "выкананы"), ("ru", "11 декабря 2026 г.", "выполнено")],
)
def test_dates_and_statuses_in_the_visitors_language(
    client: FlaskClient, today: date, lang: str, day: str, status: str
) -> None:
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = lang
    assert today + timedelta(days=14) == date(2026, 12, 11)
    assert _post(client, expires_days="14").status_code == 303
    created = client.get("/posted").get_data(as_text=True)
    link = re.search(r'data-private-url="(/manage/[^"]+)"', created)
    assert link
    near = client.get(f"/near/{CELL}").get_data(as_text=True)
    assert day in visible(near) and "2026-12-11" not in visible(near)
    manage = link.group(1)
    done = client.post(manage, data={"csrf_token": _csrf(client, manage), "action": "fulfilled"})
    text = visible(done.get_data(as_text=True))
    assert day in text and status in text and "2026-12-11" not in text


def test_demo_posts_come_in_the_languages_of_the_chats(store: Store) -> None:
    """Mostly Russian, a good share of Belarusian, a little English, in every kind and category; made up
    (no phone numbers, links or handles)."""
    frame = demo.generate(store.area(), 4000, 2020, DEFAULT_CATEGORIES)
    language = {text: lang for texts in demo.TEXTS.values() for lang, some in texts.items() for text in some}
    counts = frame["text"].map(language).value_counts(normalize=True)
    for lang, share in demo.LANGUAGE_MIX.items():
        assert abs(counts[lang] - share) < 0.03, (lang, counts[lang])
    for (kind, category), texts in demo.TEXTS.items():
        assert set(texts) == {"ru", "be", "en"}, (kind, category)
        rows = frame[(frame["kind"] == kind) & (frame["category"] == category)]
        assert len(set(rows["text"])) >= 3, (kind, category)
    for text in language:
        assert not re.search(r"\d{4,}|https?:|t\.me|@|www\.", text), text


def test_english_pages_name_districts_in_english(client: FlaskClient) -> None:
    """The shipped districts carry OSM's name:en, or the romanised Belarusian name where the OSM data at
    hand has none; never a Cyrillic name on an English page."""
    html = client.get(f"/near/{CELL}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Around your hexagon in Leninsky District." in html
    index = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    for name in ("Frunzyenski District", "Tsentralny District", "Maskowski District"):
        assert name in index
    assert not re.search("[А-Яа-яІіЎў]", visible(index).replace("Беларуская", "").replace("Русский", ""))


def test_a_file_without_english_names_gets_the_belarusian_ones_romanised(tmp_path: Path) -> None:
    source = json.loads((ROOT / "geodata" / "minsk-districts.geojson").read_text(encoding="utf-8"))
    for feature in source["features"]:
        del feature["properties"]["name_en"]
        del feature["properties"]["slug"]
    source["features"][0]["properties"]["name_be"] = ""  # no Belarusian name either: the name it has
    path = tmp_path / "districts.geojson"
    path.write_text(json.dumps(source), encoding="utf-8")
    frame = read_districts(path, name_field="name_ru")
    names = dict(zip(frame["name_ru"], frame["name_en"], strict=True))
    assert names["Фрунзенский"] == "Frunzyenski" and names["Московский"] == "Maskowski"
    assert names["Заводской"] == "Заводской"  # the first feature: nothing to romanise
    assert romanize_be("Фрунзенскі раён") == "Frunzyenski rayon"
