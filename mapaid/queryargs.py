"""The one reader of request arguments: filters, paging, ``within``, ``bbox``, ``cell`` and the coordinators'
search, for pages, the JSON API, exports, the OGC API and the command line alike.

Before this module three parsers read the same filters three ways (``?category=food,medicine`` was a 400
on ``/near`` and a 200 on the API; a repeated ``&category=`` was dropped on ``/near``). Here every list
filter takes repeated parameters and comma-separated values alike, blanks and case ignored; an empty value
means "all"; a value we do not know is refused, naming it and what is allowed, never an empty result that
looks like "nothing there".

Nothing here knows Flask. Arguments come from anything with ``getlist`` (a werkzeug ``MultiDict``) or from
a plain mapping of names to a value or a tuple of values (click's options). A bad argument raises
``BadArgument(field, message)``: the web layer (mapaid.web) answers it with a 4xx, as JSON
``{"error", "field"}`` under /api/ and as a page in the visitor's language elsewhere; the CLI turns it into
a click error. Messages are ``mapaid.messages.Message``: English for JSON and the CLI, translated on pages.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import h3.api.basic_int as h3
import numpy as np

from mapaid.geo import Area
from mapaid.intake import h3_cell
from mapaid.messages import N_, Choices, Message
from mapaid.models import Kind, Search, Status
from mapaid.moderation import MAX_QUERY
from mapaid.spatial import DEFAULT_WITHIN, WITHIN_CHOICES

KINDS = tuple(str(k) for k in Kind)
STATUSES = tuple(str(s) for s in Status)
MAX_PAGE = 1_000_000  # 10^9 posts at the API's 1,000 a page; OFFSET stays far below 2^63
MAX_OFFSET = 1_000_000_000  # as MAX_PAGE: far below SQLite's 64-bit OFFSET, far past any real list
DEFAULT_LIMIT = 100  # OGC API items a page when the client does not say
MAX_LIMIT = 1000  # most OGC API items a page
BLANKS = " \t\n\r\f\v"  # blanks a list item may have around it: ASCII only, all matched by a pattern's \s
_DIGITS = re.compile(r"[0-9]+")  # ASCII only: "²".isdigit() is true, yet int("²") fails
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")  # no nan, inf or "1_0"


class BadArgument(ValueError):
    """An argument the site cannot use. ``field`` names it (as the client spelt the parameter),
    ``message`` says what is wrong and what would do, ``status`` is the HTTP status the web answers with
    (400; 404 for a place outside the served area)."""

    def __init__(self, field: str, message: Message, status: int = 400) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.status = status


class Source(Protocol):
    """What arguments are read from: a werkzeug ``MultiDict`` (``request.args``) has this."""

    def getlist(self, key: str) -> list[str]: ...


Args = Source | Mapping[str, str | Sequence[str] | None]


def values(args: Args, name: str) -> list[str]:
    """Every raw value given for ``name``, from a MultiDict or from a mapping (a CLI option's tuple)."""
    if hasattr(args, "getlist"):
        return [str(v) for v in args.getlist(name)]
    raw = args.get(name)
    if raw is None:
        return []
    if isinstance(raw, str):
        return [raw]
    return [str(v) for v in raw]


def one(args: Args, name: str) -> str:
    """The single value of ``name`` ("" when absent); given twice is an error, not a silent pick."""
    given = values(args, name)
    if len(given) > 1:
        raise BadArgument(name, Message(N_("give %(name)s once"), name=name))
    return given[0] if given else ""


@dataclass(frozen=True)
class Vocabulary:
    """The values this site allows: its categories and its districts' slugs (kinds and statuses are fixed)."""

    categories: tuple[str, ...]
    districts: tuple[str, ...]

    @classmethod
    def of(cls, categories: Sequence[str], area: Area) -> Vocabulary:
        return cls(tuple(categories), tuple(area.slugs))


@dataclass(frozen=True)
class Filters:
    """Which posts: each tuple empty for "all", else the values asked for (known, lower case, no repeats)."""

    kind: tuple[str, ...] = ()
    category: tuple[str, ...] = ()
    district: tuple[str, ...] = ()
    status: tuple[str, ...] = ()

    def store_args(self) -> dict[str, list[str]]:
        """As ``Store.posts`` and ``moderation.listing`` take them (status only when asked for)."""
        chosen = {"kind": list(self.kind), "category": list(self.category), "district": list(self.district)}
        return chosen | ({"status": list(self.status)} if self.status else {})

    def query(self) -> dict[str, str]:
        """The filters as query arguments (comma-separated), for links that keep them; empty ones left out."""
        return {k: ",".join(v) for k, v in self.store_args().items() if v}


def _list(args: Args, name: str, allowed: Sequence[str]) -> tuple[str, ...]:
    """A list filter: repeated and comma-separated values alike, blanks and case ignored, each once."""
    found: dict[str, None] = {}
    for raw in values(args, name):
        for part in raw.split(","):
            given = part.strip(BLANKS)
            value = given.lower() if given.isascii() else given  # the Kelvin sign is no "k"
            if not value:
                continue
            if value not in allowed:
                raise BadArgument(name, _unknown(name, given, allowed))
            found[value] = None
    return tuple(found)


def _unknown(name: str, value: str, allowed: Sequence[str]) -> Message:
    shown = repr(value[:40])
    if name == "kind":
        return Message(N_("unknown kind %(value)s (use offer or need)"), value=shown)
    if name == "category":
        choices = Choices("category", tuple(allowed))
        return Message(
            N_("unknown category %(value)s (use one of: %(choices)s)"), value=shown, choices=choices
        )
    return Message(
        N_("unknown %(name)s %(value)s; one of: %(allowed)s"),
        name=name,
        value=shown,
        allowed=", ".join(allowed),
    )


def filters(args: Args, vocabulary: Vocabulary, *, any_status: bool = False) -> Filters:
    """kind, category, district and status. Public lists (``any_status`` false: pages, API, exports, OGC
    API) hold open, unexpired posts only, so a status there can only be ``open`` and is dropped; the
    coordinators' lists (``any_status``) take any status."""
    status = _list(args, "status", STATUSES)
    if not any_status:
        if any(s != str(Status.OPEN) for s in status):
            message = N_("public exports hold open, unexpired posts only; status can only be open")
            raise BadArgument("status", Message(message))
        status = ()
    return Filters(
        kind=_list(args, "kind", KINDS),
        category=_list(args, "category", vocabulary.categories),
        district=_list(args, "district", vocabulary.districts),
        status=status,
    )


def within(args: Args, choices: Sequence[int] = WITHIN_CHOICES, default: int = DEFAULT_WITHIN) -> int:
    """Walking metres, one of ``choices`` (400, 800, 1200 by default; 800 when absent)."""
    raw = one(args, "within")
    if raw == "":
        return default
    if not _DIGITS.fullmatch(raw) or int(raw) not in choices:
        allowed = ", ".join(str(c) for c in choices)
        template = N_("within must be one of %(allowed)s (metres), not %(value)s")
        raise BadArgument("within", Message(template, allowed=allowed, value=repr(raw[:20])))
    return int(raw)


def _whole(args: Args, name: str, low: int, high: int, message: Message | None = None) -> int | None:
    """A whole number from ``low`` to ``high`` in ASCII digits, no blanks or signs (None when absent)."""
    raw = one(args, name)
    if not raw:
        return None
    if not _DIGITS.fullmatch(raw) or not low <= int(raw) <= high:
        template = N_("%(name)s must be a whole number from %(low)s to %(high)s")
        raise BadArgument(name, message or Message(template, name=name, low=low, high=high))
    return int(raw)


def page(args: Args, most: int = MAX_PAGE) -> int:
    """A page number from 1 (when absent) to ``most``: a bound, as SQLite's OFFSET is a 64-bit integer
    (past the last page a page is empty anyway)."""
    message = Message(N_("page must be a whole number from 1 to %(most)s"), most=most)
    value = _whole(args, "page", 1, most, message)
    return 1 if value is None else value


@dataclass(frozen=True)
class Window:
    """A slice of a list: at most ``limit`` items from ``offset`` (0: the first)."""

    limit: int
    offset: int = 0

    def next(self, matched: int) -> Window | None:
        """The following slice, or None when this one reaches the end of ``matched`` items."""
        start = self.offset + self.limit
        return Window(self.limit, start) if start < matched else None

    def previous(self) -> Window | None:
        return Window(self.limit, max(0, self.offset - self.limit)) if self.offset > 0 else None


def window(args: Args, default: int = DEFAULT_LIMIT, most: int = MAX_LIMIT, *, clamp: bool = False) -> Window:
    """``limit`` (1 to ``most``, ``default`` when absent) and ``offset`` (0 to MAX_OFFSET). With ``clamp``
    a limit above ``most`` is served as ``most`` rather than refused, as OGC API - Features recommends."""
    high = MAX_OFFSET if clamp else most
    limit = _whole(args, "limit", 1, high)
    offset = _whole(args, "offset", 0, MAX_OFFSET)
    return Window(default if limit is None else min(limit, most), 0 if offset is None else offset)


@dataclass(frozen=True)
class BBox:
    """A box in WGS 84 degrees, as OGC API - Features gives it: west, south, east, north."""

    minlon: float
    minlat: float
    maxlon: float
    maxlat: float

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.minlon, self.minlat, self.maxlon, self.maxlat)


def bbox(args: Args) -> BBox | None:
    """``bbox=minlon,minlat,maxlon,maxlat``: four finite numbers in range, west <= east, south <= north
    (None when absent). A box across the antimeridian or in 3D is refused: no served city needs one."""
    raw = one(args, "bbox")
    if not raw:
        return None
    parts = [p.strip() for p in raw.split(",")]
    template = N_("bbox must be four numbers: minlon,minlat,maxlon,maxlat")
    if len(parts) != 4 or not all(_NUMBER.fullmatch(p) for p in parts):
        raise BadArgument("bbox", Message(template))
    west, south, east, north = (float(p) for p in parts)
    if not all(math.isfinite(v) for v in (west, south, east, north)):
        raise BadArgument("bbox", Message(template))
    if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= 90 and -90 <= north <= 90):
        raise BadArgument(
            "bbox", Message(N_("bbox must lie within longitudes -180 to 180 and latitudes -90 to 90"))
        )
    if west > east or south > north:
        raise BadArgument(
            "bbox",
            Message(N_("bbox must give its west and south edges first (minlon <= maxlon, minlat <= maxlat)")),
        )
    return BBox(west, south, east, north)


def cell_id(text: str, res: int, area: Area | None, name: str = "cell") -> int:
    """An H3 cell id (hex) at the site's resolution; a finer one is lifted to its parent (a page never needs
    more than the cell). With ``area``, the cell must lie inside it (404 otherwise: nothing is there)."""
    cell = h3_cell(text)
    if cell is None:
        raise BadArgument(name, Message(N_("%(value)s is not an H3 cell id"), value=repr(text.strip()[:20])))
    if h3.get_resolution(cell) < res:
        coarser = N_("cell %(value)s is coarser than this site's hexagons (resolution %(res)s)")
        raise BadArgument(name, Message(coarser, value=text.strip(), res=res))
    if h3.get_resolution(cell) > res:
        cell = h3.cell_to_parent(cell, res)
    if area is not None and area.cell_districts(np.array([cell], dtype=np.int64))[0][0] < 0:
        raise BadArgument(name, Message(N_("that hexagon is outside the served area")), status=404)
    return int(cell)


def cell(args: Args, res: int, area: Area | None, *, required: bool = False) -> int | None:
    """The ``cell`` argument (see ``cell_id``); None when absent and not ``required``."""
    raw = one(args, "cell")
    if raw:
        return cell_id(raw, res, area)
    if required:
        template = N_("cell is required: the H3 id of the hexagon to measure walking distance from")
        raise BadArgument("cell", Message(template))
    return None


def search(args: Args, res: int, keep: str | None = None) -> Search:
    """The coordinators' ``q`` (text, at most MAX_QUERY characters, blanks collapsed), ``cell`` (one
    hexagon at the site's resolution, anywhere) and ``reported`` (1: reported posts only; 0 or absent:
    all)."""
    raw = one(args, "q")
    text = " ".join(raw.split())
    if len(raw) > MAX_QUERY:  # as typed, blanks and all: what the OpenAPI document's maxLength counts
        raise BadArgument("q", Message(N_("A search is at most %(n)s characters."), n=MAX_QUERY))
    reported = one(args, "reported")
    if reported not in ("", "0", "1"):
        raise BadArgument("reported", Message(N_("reported must be 1 or left out")))
    return Search(text=text, cell=cell(args, res, None), reported=reported == "1", keep=keep)
