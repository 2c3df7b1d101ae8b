"""Languages: Belarusian, Russian and English, chosen per request (Flask-Babel).

The choice comes from ``?lang=`` (the switcher on every page, remembered in a cookie), then the cookie,
then the browser's Accept-Language. Compiled catalogues (.mo) are committed beside their .po sources so a
fresh clone works without a build step; a test checks they match.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Flask, g, request
from flask.wrappers import Response
from flask_babel import Babel, get_locale, lazy_gettext

LANGUAGES = ("be", "ru", "en")
LANGUAGE_NAMES = {"be": "Беларуская", "ru": "Русский", "en": "English"}
DEFAULT_LANGUAGE = "en"
COOKIE = "lang"

babel = Babel()


def select_locale() -> str:
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


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    babel.init_app(app, locale_selector=select_locale)
    app.after_request(_remember)
    app.context_processor(
        lambda: {
            "lang_links": switcher_links,
            "lang": current_language,
            "kind_label": kind_label,
            "category_label": category_label,
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
