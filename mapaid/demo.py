"""Synthetic offers and needs for trying mapaid out. No real chat, person or place is used.

Posts are spread over districts in proportion to how many open yard chats each Minsk district had in the
2020 dze.chat directory (aggregate counts, see geodata/SOURCE.md), and clustered around a few made-up
neighbourhood centres per district, roughly as the chats were (median nearest-neighbour distance ~200 m).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from mapaid.geo import Area

# Open yard chats per district in the 2020 directory (693 inside Minsk).
CHATS_2020 = {
    "frunzensky": 163,
    "moskovsky": 138,
    "pervomaysky": 79,
    "leninsky": 73,
    "zavodskoy": 62,
    "sovetsky": 58,
    "oktyabrsky": 47,
    "centralny": 47,
    "partizansky": 26,
}

# Texts in the mix the 2020 yard chats had: mostly Russian (the language most of Minsk speaks day to
# day), a good share of Belarusian (which many chats took up that year), a little English (students and
# foreigners living in the city). All made up: no person, address, phone number or chat link.
LANGUAGE_MIX = {"ru": 0.6, "be": 0.3, "en": 0.1}
TEXTS: dict[tuple[str, str], dict[str, list[str]]] = {
    ("offer", "food"): {
        "ru": [
            "Сварила большую кастрюлю супа, могу поделиться сегодня вечером",
            "Есть лишняя картошка и морковь с дачи, заходите",
            "Куплю продукты тем, кто не может выйти из дома",
            "Испекла пироги, угощу соседей",
        ],
        "be": [
            "Магу падзяліцца супам і хлебам сёння ўвечары",
            "Ёсць лішняя бульба з лецішча, забірайце",
            "Закуплю прадукты для тых, хто не можа выйсці з дому",
        ],
        "en": ["Can share soup and bread tonight", "Will buy groceries for anyone who cannot go out"],
    },
    ("need", "food"): {
        "ru": [
            "Нужно привезти продукты на этой неделе, сама не хожу",
            "Ищу детскую смесь, первая ступень",
            "Пожилому соседу нужна помощь с покупками раз в неделю",
        ],
        "be": ["Патрэбна дапамога з прадуктамі на гэтым тыдні", "Шукаю дзіцячую сумесь"],
        "en": ["Need groceries delivered this week"],
    },
    ("offer", "medicine"): {
        "ru": [
            "Могу забрать лекарства из аптеки по рецепту",
            "Есть лишний тонометр, отдам",
            "Медсестра, могу сделать укол или измерить давление",
        ],
        "be": ["Магу забраць лекі з аптэкі", "Ёсць лішні тонометр, аддам бясплатна"],
        "en": ["Can pick up prescriptions from the pharmacy"],
    },
    ("need", "medicine"): {
        "ru": [
            "Нужны иглы для инсулиновой ручки",
            "Ищу, кто заберёт лекарства из аптеки для мамы",
            "Нужен костыль на пару недель",
        ],
        "be": ["Патрэбны іголкі для інсулінавай ручкі", "Хто можа прывезці лекі з аптэкі?"],
        "en": ["Looking for someone to fetch medicine"],
    },
    ("offer", "transport"): {
        "ru": [
            "Езжу в центр почти каждое утро в 9, могу подвезти",
            "Отвезу в больницу или на процедуры",
            "Есть машина с большим багажником, помогу с перевозкой",
        ],
        "be": ["Магу падвезці ў бальніцу", "Еду ў цэнтр раніцай, вазьму пасажыра"],
        "en": ["Can give a lift to the hospital"],
    },
    ("need", "transport"): {
        "ru": [
            "Нужно доехать до больницы на приём во вторник",
            "Помогите перевезти холодильник",
            "Нужно отвезти передачу, сама не за рулём",
        ],
        "be": ["Трэба дабрацца да бальніцы ў аўторак", "Патрэбна дапамога перавезці халадзільнік"],
        "en": ["Need a ride to a hospital appointment"],
    },
    ("offer", "childcare"): {
        "ru": [
            "Могу посидеть с детьми после школы",
            "Учительница на пенсии, помогу с уроками",
            "Погуляю с ребёнком, пока вы на работе",
        ],
        "be": ["Магу пасядзець з дзецьмі пасля школы", "Дапамагу з урокамі па беларускай мове"],
        "en": ["Can watch kids after school"],
    },
    ("need", "childcare"): {
        "ru": ["Нужно забрать сына из садика в четверг", "Ищу няню на пару часов вечером"],
        "be": ["Хто можа забраць сына са школы ў пятніцу?"],
        "en": ["Need someone to pick up my son from school"],
    },
    ("offer", "shelter"): {
        "ru": ["Есть свободная комната на несколько ночей", "Могу приютить на пару дней"],
        "be": ["Ёсць вольны пакой на некалькі начэй"],
        "en": ["Spare room for a few nights"],
    },
    ("need", "shelter"): {
        "ru": ["Нужно где-то переночевать две ночи", "Ищу жильё на неделю для семьи с ребёнком"],
        "be": ["Патрэбна месца пераначаваць на дзве ночы"],
        "en": ["Need a place to stay for two nights"],
    },
    ("offer", "legal"): {
        "ru": [
            "Юрист, бесплатная первая консультация",
            "Подскажу, как составить жалобу или апелляцию",
            "Помогу разобраться с документами",
        ],
        "be": ["Юрыст, першая кансультацыя бясплатна", "Растлумачу, як падаць скаргу"],
        "en": ["Lawyer, free first consultation"],
    },
    ("need", "legal"): {
        "ru": ["Нужна консультация юриста для родственника", "Нужен совет, как составить заявление"],
        "be": ["Патрэбна кансультацыя юрыста", "Шукаю адваката для сваяка"],
        "en": ["Looking for a lawyer for a relative"],
    },
    ("offer", "tech"): {
        "ru": [
            "Починю ноутбук или телефон",
            "Настрою VPN и покажу, как безопасно переписываться",
            "Помогу восстановить данные с флешки",
        ],
        "be": ["Магу паправіць ноўтбук", "Навучу карыстацца бяспечнымі мэсэнджарамі"],
        "en": ["Can set up a VPN or fix a laptop"],
    },
    ("need", "tech"): {
        "ru": ["Сломался телефон, нужно восстановить контакты", "Не включается ноутбук, помогите"],
        "be": ["Зламаўся ноўтбук, патрэбна дапамога"],
        "en": ["Phone is broken, need help recovering contacts"],
    },
    ("offer", "other"): {
        "ru": [
            "Концерт во дворе в воскресенье, приносите чай",
            "Дам на время стремянку и инструменты",
            "Выгуляю собаку, если вы заболели",
        ],
        "be": ["Канцэрт у двары ў нядзелю, бярыце гарбату", "Пазычу драбіны і інструменты"],
        "en": ["Have a ladder and tools to lend"],
    },
    ("need", "other"): {
        "ru": ["Помогите занести вещи на 5 этаж", "Нужно выгулять собаку пару дней"],
        "be": ["Дапамажыце занесці рэчы на 5 паверх"],
        "en": ["Need help carrying things to the 5th floor"],
    },
}
KINDS_WEIGHT = {"offer": 0.55, "need": 0.45}
CLUSTER_SIGMA_DEG = 0.0025  # ~170-280 m at Minsk's latitude


def district_weights(area: Area) -> np.ndarray:
    """Chat counts where we know them (Minsk), otherwise district area."""
    if set(area.slugs) <= set(CHATS_2020):
        weights = np.array([CHATS_2020[s] for s in area.slugs], dtype=float)
    else:
        weights = area.districts.to_crs(area.metric_crs).area.to_numpy()
    result: np.ndarray = weights / weights.sum()
    return result


def _points_in(geom: shapely.Geometry, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points inside ``geom``: clustered around a few centres, each centre itself inside."""
    west, south, east, north = geom.bounds
    centres: list[tuple[float, float]] = []
    while len(centres) < max(3, n // 40 + 1):
        x, y = rng.uniform(west, east), rng.uniform(south, north)
        if shapely.contains_xy(geom, x, y):
            centres.append((x, y))
    out = np.empty((0, 2))
    while len(out) < n:
        k = rng.integers(0, len(centres), size=2 * (n - len(out)) + 8)
        pts = np.array(centres)[k] + rng.normal(0, CLUSTER_SIGMA_DEG, size=(len(k), 2)) * [1.7, 1.0]
        pts = pts[shapely.contains_xy(geom, pts[:, 0], pts[:, 1])]
        out = np.vstack([out, pts])
    result: np.ndarray = out[:n]
    return result


def _text(choices: list[str], draw: int) -> str:
    return choices[draw % len(choices)]


def generate(area: Area, n: int, seed: int, categories: tuple[str, ...]) -> pd.DataFrame:
    """``n`` synthetic rows with lat, lon, kind, category, text, expires: the same columns as a CSV import.

    Texts are Russian, Belarusian or English in the proportions of ``LANGUAGE_MIX``."""
    rng = np.random.default_rng(seed)
    per_district = rng.multinomial(n, district_weights(area))
    coords = np.vstack(
        [
            _points_in(geom, int(m), rng)
            for geom, m in zip(area.districts.geometry.values, per_district, strict=True)
        ]
    )
    kinds = rng.choice(list(KINDS_WEIGHT), size=n, p=list(KINDS_WEIGHT.values()))
    cats = rng.choice(list(categories), size=n)
    # languages from a generator of their own, so positions, kinds and expiry stay what a seed gave before
    langs = np.random.default_rng([seed, 8]).choice(list(LANGUAGE_MIX), size=n, p=list(LANGUAGE_MIX.values()))
    texts = [
        _text(TEXTS.get((k, c), TEXTS[(k, "other")])[lang], int(rng.integers(0, 1 << 30)))
        for k, c, lang in zip(kinds.tolist(), cats.tolist(), langs.tolist(), strict=True)
    ]
    return pd.DataFrame(
        {
            "lat": coords[:, 1],
            "lon": coords[:, 0],
            "kind": kinds,
            "category": cats,
            "text": texts,
            "expires": rng.integers(3, 31, size=n).astype(str),
        }
    )
