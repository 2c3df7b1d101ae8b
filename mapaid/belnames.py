"""Belarusian street names as the map and the search show them: in the official orthography (OSM's
``name:be``) and, for English pages, in the national Latin transliteration that Minsk's street signs and
metro4all's station names use ("vulica Kirava", "Plošča Lienina").

The city-wide street list we ship (opendataby/osm-streets, 2016) spells its names in the classical
orthography (Taraškievica: "вуліца Сьвярдлова", "праспэкт Машэрава"). ``official`` rewrites such a name
by the rules that separate the two spellings of street names (soft signs of assimilated softness, э after
labials and velars in loanwords, ґ, a word-initial ў) and a short table of names that differ by more
than spelling ("Берасьцейская" is "Брэсцкая"). It is checked against every centre street whose OSM entry
has both spellings (tests/test_basemap.py); a loanword's rarer differences may remain.
"""

from __future__ import annotations

import re
import unicodedata

# Whole words that differ by more than the rules below (case as written in names).
_WORDS = {
    "Берасьцейская": "Брэсцкая",
    "Берасьцейскі": "Брэсцкі",
    "Гарадзенская": "Гродзенская",
    "Менская": "Мінская",
    "Менскі": "Мінскі",
    "Эўфрасіньні": "Еўфрасінні",
    "Люксэмбург": "Люксембург",
    "Фабрыцыўса": "Фабрыцыуса",
    "Менск": "Мінск",
    "пляц": "плошча",
    "Пляц": "Плошча",
}
_CONSONANT = "бвгджзклмнпрстфхцчшў"
# A soft sign after з, с, ц, дз, н that only marks softness taken from the next, itself soft, consonant:
# "сьв(я)", "зьм(і)", "сьц(і)", "ньн(і)". Official spelling drops it ("Кузьмы" keeps its own).
_ASSIMILATED = re.compile(rf"(?<=[зсцнЗСЦН])ь(?=(?:дз|[{_CONSONANT}])[еёіюяь])")
# Tarask writes э after these consonants in loanwords ("праспэкт", "Лібкнэхта"); official writes е.
_LOAN_E = re.compile(r"(?<=[пбмфвкгхлнПБМФВКГХЛН])э")
_INITIAL_U = re.compile(r"(?<![\w’ʼ'])Ў")
_WORD = re.compile(r"[\w’ʼ'-]+")
_STRESS = "\u0301"
# The words that make a name a street's (OSM tags some lanes as service roads: "Студенческий переулок").
_STREET_WORD = re.compile(
    r"(?<!\w)(улица|вуліца|переулок|завулак|проезд|праезд|площадь|плошча|проспект|праспект|бульвар|тракт)(?!\w)",
    re.IGNORECASE,
)


def plain(name: str) -> str:
    """``name`` without stress marks (some OSM names carry them: "ву́ліца")."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", name).replace(_STRESS, ""))


def street_like(name: str) -> bool:
    """Whether ``name`` names a street (has a word for street, lane, square, avenue ...)."""
    return bool(_STREET_WORD.search(name))


def official(name: str) -> str:
    """A Belarusian name in the official orthography, from either spelling (official names pass
    unchanged)."""
    text = plain(name)
    text = _WORD.sub(lambda m: _WORDS.get(m.group(0), m.group(0)), text)
    text = text.replace("ґ", "г").replace("Ґ", "Г")
    text = _ASSIMILATED.sub("", text)
    text = _LOAN_E.sub("е", text)
    return _INITIAL_U.sub("У", text)


_LATIN = {
    "а": "a", "б": "b", "в": "v", "г": "h", "ґ": "g", "д": "d", "ж": "ž", "з": "z", "і": "i", "й": "j",
    "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u",
    "ў": "ŭ", "ф": "f", "х": "ch", "ц": "c", "ч": "č", "ш": "š", "ы": "y", "ь": "ʹ", "э": "e", "и": "i",
    "щ": "šč", "ъ": "",
}  # fmt: skip
_IOTATED = {"е": "e", "ё": "o", "ю": "u", "я": "a"}
_VOWELS = set("аеёіоуыэюяи")


def latin(name: str) -> str:
    """A Belarusian (official) name in the national Latin transliteration (2007, as on Minsk's signs):
    е, ё, ю, я are je, jo, ju, ja at a word's start and after a vowel, ў, ь or an apostrophe, and
    ie, io, iu, ia after a consonant."""
    out: list[str] = []
    previous = ""
    for char in plain(name):
        lower = char.lower()
        if lower in _IOTATED:
            after_consonant = previous.isalpha() and previous not in _VOWELS and previous not in "ўь"
            piece = ("i" if after_consonant else "j") + _IOTATED[lower]
        elif lower in "'’ʼ":
            piece = ""
        else:
            piece = _LATIN.get(lower, char if lower == char else lower)
        if char != lower and piece:
            piece = piece[0].upper() + piece[1:]
        out.append(piece)
        previous = lower
    return "".join(out)
