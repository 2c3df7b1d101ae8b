"""Languages: Belarusian, Russian and English, chosen per request (Flask-Babel).

The choice comes from ``?lang=`` (the switcher on every page, remembered in a cookie), then the cookie,
then the browser's Accept-Language. Compiled catalogues (.mo) are committed beside their .po sources so a
fresh clone works without a build step; a test checks they match.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from urllib.parse import urlencode

from flask import Flask, g, request
from flask.wrappers import Response
from flask_babel import Babel, format_date, format_datetime, get_locale, gettext, lazy_gettext, pgettext

from mapaid.messages import Message

LANGUAGES = ("be", "ru", "en")
LANGUAGE_NAMES = {"be": "Беларуская", "ru": "Русский", "en": "English"}
DEFAULT_LANGUAGE = "en"
COOKIE = "lang"

babel = Babel()


def select_locale() -> str:
    """The request's language. Flask-Babel asks once per request, when something is about to be said
    in a language: ``declare_language`` takes that as the sign that the language shaped the answer."""
    g.language_asked = True
    asked = request.args.get("lang", "")
    if asked in LANGUAGES:
        return asked
    remembered = request.cookies.get(COOKIE, "")
    if remembered in LANGUAGES:
        return remembered
    return request.accept_languages.best_match(LANGUAGES) or DEFAULT_LANGUAGE


def current_language() -> str:
    """The language of this request, as one of LANGUAGES (for district names and cache keys)."""
    locale = get_locale()
    code = locale.language if locale is not None else DEFAULT_LANGUAGE
    return code if code in LANGUAGES else DEFAULT_LANGUAGE


def switcher_links() -> list[tuple[str, str, str, bool]]:
    """(code, name, url, is_current) for the language switcher: this page in each language. A view may
    name another path for it in ``g.lang_path`` (the page showing a new post's private link points the
    switcher at the link itself, so switching keeps it shown); the query string stays ``lang`` alone."""
    current = current_language()
    path = g.get("lang_path") or request.path
    links = []
    for code in LANGUAGES:
        kept = request.args.items(multi=True) if path == request.path else ()
        args = [(k, v) for k, v in kept if k != "lang"]
        args.append(("lang", code))
        links.append((code, LANGUAGE_NAMES[code], f"{path}?{urlencode(args)}", code == current))
    return links


def _remember(response: Response) -> Response:
    asked = request.args.get("lang", "")
    if asked in LANGUAGES and request.cookies.get(COOKIE) != asked:
        response.set_cookie(COOKIE, asked, max_age=365 * 86400, httponly=True, samesite="Lax")
    return response


def declare_language(response: Response) -> None:
    """Say which language an answer is in (``Content-Language``) when one shaped it, and what chose it
    (``Vary``): the address's ``?lang=`` needs no Vary; otherwise the cookie, then Accept-Language did. An
    answer that said nothing in a language (the API's posts, a file) gets neither, so shared caches keep
    one copy for everyone."""
    if not g.get("language_asked"):
        return
    response.headers["Content-Language"] = current_language()
    if request.args.get("lang", "") not in LANGUAGES:
        response.vary.add("Accept-Language")
        response.vary.add("Cookie")


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale)
    app.after_request(_remember)
    app.context_processor(
        lambda: {
            "lang_links": switcher_links,
            "lang": current_language,
            "kind_label": kind_label,
            "category_label": category_label,
            "status_label": status_label,
            "format_day": format_day,
            "format_moment": format_moment,
        }
    )


KIND_LABELS = {"offer": lazy_gettext("Offer"), "need": lazy_gettext("Need")}
CATEGORY_LABELS = {
    "food": lazy_gettext("Food"),
    "medicine": lazy_gettext("Medicine"),
    "transport": lazy_gettext("Transport"),
    "childcare": lazy_gettext("Childcare"),
    "shelter": lazy_gettext("Shelter"),
    "legal": lazy_gettext("Legal help"),
    "tech": lazy_gettext("Tech help"),
    "other": lazy_gettext("Other"),
}


def kind_label(kind: str) -> str:
    return str(KIND_LABELS.get(kind, kind))


def category_label(category: str) -> str:
    """A configured category's name in this request's language (its own id when we have no name)."""
    return str(CATEGORY_LABELS.get(category, category))


def status_label(status: str) -> str:
    """A post's status in this request's language (English shows the stored word)."""
    labels = {
        "open": pgettext("post status", "open"),
        "hidden": pgettext("post status", "hidden"),
        "fulfilled": pgettext("post status", "fulfilled"),
        "expired": pgettext("post status", "expired"),
        "pending": pgettext("post status", "waiting for the next round"),
    }
    return str(labels.get(status, status))


def _label(group: str, value: str) -> str:
    return kind_label(value) if group == "kind" else category_label(value) if group == "category" else value


def translate(text: str) -> str:
    """A message for this page: a ``Message`` from a lower layer (intake, nearby) in the visitor's
    language, allowed kinds and categories by their names; other text as it is."""
    return text.render(gettext, _label) if isinstance(text, Message) else text


def format_day(day: date | str) -> str:
    """A day in the visitor's language by Babel's long format ("28 лістапада 2026 г.", "November 28,
    2026"); an ISO day as the store keeps it is read first."""
    value = date.fromisoformat(day) if isinstance(day, str) else day
    return str(format_date(value, "long"))


def format_days(days: Iterable[date | str]) -> list[str]:
    """``format_day`` for a column of days, each distinct day formatted once (a list holds a few)."""
    values = list(days)
    names = {day: format_day(day) for day in set(values)}
    return [names[day] for day in values]


def format_moment(moment: datetime | str) -> str:
    """A UTC time (an ISO string like "2026-11-28T06:05:00Z" or a datetime) in the visitor's language,
    shown in UTC."""
    value = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return str(format_datetime(value, "medium"))
