"""Small value types shared by the steps of the data flow.

``Submissions`` hold exact points and never leave intake and privacy. What the store accepts is
``privacy.CoarsePosts``, which has no field that could carry an exact coordinate and which only the privacy
step can make (it lives and is sealed there): the type-level half of the privacy guarantee.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Final, Literal

import numpy as np
import numpy.typing as npt


class Kind(StrEnum):
    OFFER = "offer"
    NEED = "need"


class Status(StrEnum):
    """What a post shows to coordinators, exports and imports: open, fulfilled or hidden."""

    OPEN = "open"
    FULFILLED = "fulfilled"
    HIDDEN = "hidden"


# A post's status in the store from its arrival (or a coordinator's restore) until the next publication
# round makes it open (mapaid/rounds.py). Not a ``Status``: no page, list, export or import ever shows or
# takes it, and every public read, which asks for ``open``, passes it by without having to know of it.
PENDING: Final = "pending"
Stored = Status | Literal["pending"]  # what the store's status column holds


MAX_TEXT = 280
MAX_CONTACT = 100

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Submissions:
    """Validated posts still carrying the exact points people gave (columns of equal length).

    Only ``intake`` builds these and only ``privacy.coarsen`` reads ``lat``/``lon``.
    ``cell`` is set instead of lat/lon for rows where the poster chose a hexagon (-1 where not).
    """

    kind: list[str]
    category: list[str]
    text: list[str]
    contact: list[str | None]
    expires_days: list[int]
    lat: FloatArray
    lon: FloatArray
    cell: IntArray
    source_line: list[int]
    created_day: list[date] | None = None  # from an imported export; None: today
    status: list[str] | None = None  # from an imported export; None: all open

    def __len__(self) -> int:
        return len(self.kind)


@dataclass(frozen=True)
class District:
    slug: str
    name_be: str
    name_ru: str
    name_en: str
    osm_relation_id: int | None

    def name(self, lang: str = "en") -> str:
        return {"be": self.name_be, "ru": self.name_ru}.get(lang, self.name_en)


@dataclass(frozen=True)
class Coordinator:
    name: str
    created_day: str


@dataclass(frozen=True)
class AuditEntry:
    at: str
    coordinator: str
    action: str
    post_id: str


@dataclass(frozen=True)
class Published:
    """What one publication round made public (mapaid/rounds.py): ``posts`` new to the public (new
    posts and coordinators' restores), ``changes`` edits and extensions of posts already public."""

    posts: int = 0
    changes: int = 0

    @property
    def any(self) -> bool:
        return bool(self.posts or self.changes)


@dataclass(frozen=True)
class Search:
    """What the moderation list shows beyond the column filters: ``text`` found in a post's text or
    contact (any case, taken literally), one ``cell``, only ``reported`` posts (most reported first), and
    ``keep``: a post just acted on, listed in its place even if it no longer matches, so the list does not
    jump under the coordinator's eyes."""

    text: str = ""
    cell: int | None = None
    reported: bool = False
    keep: str | None = None


@dataclass(frozen=True)
class SessionRecord:
    """A coordinator's login as the store keeps it (mapaid/sessions.py): a hash of the cookie's id, the
    account (its name and a tag of its row) and times as the start of a publication window (seconds)."""

    id_hash: str
    coordinator: str
    account: str
    created: int
    seen: int
    ends: int


@dataclass(frozen=True)
class DeviceRecord:
    """A coordinator's known device as the store keeps it (mapaid/devices.py): a hash of the cookie's id,
    the account (its name and a tag of its row, as sessions have) and the UTC day it was remembered."""

    id_hash: str
    coordinator: str
    account: str
    day: date
