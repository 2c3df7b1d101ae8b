"""Messages made below the web layer (intake, nearby, maps), translated only where they are shown.

Lower layers know nothing of Flask or of the visitor's language. A ``Message`` is a ``str`` whose value is
the English text, so the command line, logs and the JSON API keep their English as before; it also keeps
its template (the catalogue's msgid, marked with ``N_`` so ``pybabel extract`` finds it, N_ being one of
Babel's default keywords) and its parameters, so a page can look the template up in the visitor's
language and fill in the same values (``render``). Lists of allowed values (``Choices``) stay ids in
English and become labels on pages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from babel.support import NullTranslations, Translations

TRANSLATIONS = Path(__file__).parent / "translations"


def N_(template: str) -> str:  # gettext's conventional name for the no-op marker
    """Mark ``template`` for the catalogue without translating it here."""
    return template


@dataclass(frozen=True)
class Choices:
    """Allowed values of one ``group`` (``kind``, ``category``): ids in English, labels on pages."""

    group: str
    values: tuple[str, ...]

    def __str__(self) -> str:
        return ", ".join(self.values)


Param = str | int | float | Choices
Label = Callable[[str, str], str]  # (group, value) -> the value's name in the page's language


class Message(str):
    """English text that remembers its msgid (``template``) and ``params``, for translating later."""

    template: str
    params: Mapping[str, Param]

    def __new__(cls, template: str, **params: Param) -> Message:
        english = {k: str(v) if isinstance(v, Choices) else v for k, v in params.items()}
        made = super().__new__(cls, template % english if params else template)
        made.template = template
        made.params = params
        return made

    def render(self, translate: Callable[[str], str], label: Label | None = None) -> str:
        """This message through ``translate`` (a gettext), its parameters filled in; ``Choices`` as
        labels when ``label`` is given (pages), as ids otherwise."""
        text = translate(self.template)
        if not self.params:
            return text
        return text % {k: _param(v, label) for k, v in self.params.items()}


def _param(value: Param, label: Label | None) -> Param:
    if isinstance(value, Choices):
        return ", ".join(label(value.group, v) if label else v for v in value.values)
    return value


@lru_cache(maxsize=8)
def catalogue(lang: str) -> NullTranslations:
    """The compiled catalogue of ``lang`` (English: none), for lower layers that are given a language
    (the maps' credit lines) and have no request to ask."""
    return Translations.load(str(TRANSLATIONS), [lang], domain="messages")


def translate(lang: str, text: str) -> str:
    """``text`` (a msgid, or a ``Message``) in ``lang``, from the same catalogue Flask-Babel reads."""
    gettext = catalogue(lang).gettext
    return text.render(gettext) if isinstance(text, Message) else gettext(text)
