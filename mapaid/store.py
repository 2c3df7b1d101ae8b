"""Where everything lives: the ``Store`` protocol every storage backend implements, and ``open_store``,
which picks the backend from the database setting.

Every query the product runs goes through this protocol: posts, districts, conversations, coordinators and
their logins, reports, moderation and its audit, the unmet-needs tally, places and walking distances. A
second backend is a second file (``sqlitestore.py``, the default; ``pgstore.py``, PostgreSQL with PostGIS),
and nothing outside those files writes SQL against the product's database.

The store never sees an exact point: ``add`` takes ``privacy.CoarsePosts``, which only the privacy step can
make (see mapaid/privacy.py), so handing it raw submissions fails the type check and, at run time, the seal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from itertools import repeat
from typing import TYPE_CHECKING, Any, Protocol

import geopandas as gpd
import pandas as pd

from mapaid.geo import Area
from mapaid.models import (
    PENDING,
    AuditEntry,
    Coordinator,
    DeviceRecord,
    Published,
    Search,
    SessionRecord,
    Status,
    Stored,
)
from mapaid.threads import Message, Thread
from mapaid.walkpairs import Distances

if TYPE_CHECKING:
    from mapaid.privacy import CoarsePosts

SCHEMA_VERSION = 10
POST_COLUMNS = (
    "id",
    "kind",
    "category",
    "text",
    "contact",
    "cell",
    "district",
    "created_day",
    "expires_day",
    "status",
    "lon",
    "lat",
    "reply_key",  # the poster's public key for private replies (mapaid/threads.py), or NULL
)
SELECT_POSTS = f"SELECT {', '.join(POST_COLUMNS)} FROM posts"  # noqa: S608 - fixed column names
# What the poster's private link shows beyond the public columns (``get``): a change of a public post that
# waits for the next publication round (mapaid/rounds.py). Public reads never select these.
DRAFT_COLUMNS = ("draft_text", "draft_expires")


# The columns of a stored place (mapaid/places.py), as ``place_rows`` gives them: public data only.
PLACE_COLUMNS = (
    "id",
    "kind",
    "name",
    "name_be",
    "name_ru",
    "name_en",
    "alt",
    "district",
    "lon",
    "lat",
    "line",
    "source",
)
# The columns of the unmet-needs tally (``open_tally``): open, unexpired posts counted per group.
TALLY_COLUMNS = ("kind", "category", "cell", "district", "n")

BBox = tuple[float, float, float, float]  # min lon, min lat, max lon, max lat (CRS84)
Days = tuple[date | None, date | None]  # first and last day, either open


def statuses(posts: CoarsePosts, pending: bool, take: Callable[[Sequence[Any]], list[Any]]) -> Iterable[str]:
    """The status each new post is stored with: ``pending`` for all when they wait for their round
    (whatever the intake gave), else each its own (an import of an export), or open."""
    if pending:
        return repeat(PENDING)
    return repeat(str(Status.OPEN)) if posts.status is None else take(posts.status)


class StoreError(RuntimeError):
    """The database is not in a state we can work with, or the setting names one we cannot open; the
    message says what to run or to change."""


class Store(Protocol):
    """What callers need from storage: SQLite (``sqlitestore.SQLiteStore``) and PostGIS
    (``pgstore.PostGISStore``) keep the same contract, and the whole test suite runs on both.

    Every write method is one transaction: all of it or, on any error, none of it.
    """

    # -- schema and metadata -------------------------------------------------------------------
    def init_schema(self) -> None: ...
    def check_schema(self) -> None: ...
    def schema_version(self) -> int | None: ...
    def get_meta(self, key: str) -> str | None: ...
    def set_meta(self, key: str, value: str) -> None: ...
    def revision(self) -> int: ...
    def close(self) -> None: ...

    # -- districts and the served area ---------------------------------------------------------
    def has_districts(self) -> bool: ...
    def replace_districts(self, frame: gpd.GeoDataFrame, metric_epsg: int) -> None: ...
    def area(self) -> Area: ...

    # -- walking distances on the street graph (mapaid/network.py) -----------------------------
    def replace_walks(self, walks: Distances, info: dict[str, str]) -> None: ...
    def walks(self) -> Distances | None: ...

    # -- posts ---------------------------------------------------------------------------------
    def add(
        self, posts: CoarsePosts, progress: Callable[[int], None] | None = None, *, pending: bool = False
    ) -> None:
        """Store new posts in one transaction. ``pending``: they wait for the next publication round
        (status ``pending``; no public answer and no revision changes), as a resident's new post does
        while rounds are on; otherwise they are public at once (imports, the demo, rounds off)."""
        ...

    def posts(self, today: date, *, public: bool = True, **filters: Sequence[str]) -> pd.DataFrame:
        """Posts in id order (``POST_COLUMNS``); ``public`` keeps what ``mapaid.visibility.public_where``
        allows."""
        ...

    def get(self, post_id: str) -> dict[str, Any] | None:
        """One post as its private link sees it, whatever its status: ``POST_COLUMNS`` and
        ``DRAFT_COLUMNS`` (ISO days). Never for a public answer: those read ``posts``."""
        ...

    def open_counts(self, today: date) -> pd.DataFrame: ...
    def public_page(
        self,
        today: date,
        limit: int,
        offset: int,
        bbox: BBox | None = None,
        days: Days | None = None,
        **filters: Sequence[str],
    ) -> tuple[pd.DataFrame, int]: ...
    def public_span(self, today: date) -> tuple[str, str] | None: ...
    def token_hash(self, post_id: str) -> str | None: ...
    def set_status(self, post_id: str, status: Status) -> bool:
        """A poster's "fulfilled": immediate, whether the post is public or pending."""
        ...

    def set_expiry(self, post_id: str, expires_day: date, *, draft: bool = False) -> bool:
        """A new last day. ``draft`` (rounds on): an open post's goes into ``draft_expires`` and shows
        at the next round; a post nobody sees yet (pending, hidden, fulfilled) takes it at once."""
        ...

    def set_text(self, post_id: str, text: str, *, draft: bool = False) -> bool:
        """New text, as ``set_expiry`` (``draft_text``). Text taken back (replaced, or a draft replaced
        by another) leaves the database's files at once, as for a deletion."""
        ...

    def delete(self, post_id: str) -> bool:
        """Immediate, whatever the post's status: safety first."""
        ...

    def purge_expired(self, today: date) -> int:
        """Delete posts past their last day (an extension waiting for its round counts)."""
        ...

    def purge_fulfilled(self) -> int: ...

    # -- publication rounds (mapaid/rounds.py) ---------------------------------------------------
    def publish_pending(self) -> Published:
        """The round, in one transaction: every pending post becomes open and every waiting change of
        text or expiry replaces the public one; the revision moves on only if something did. Posts are
        written anew in id order, so nothing in a row or its place in the table says when in the window
        it came (PostgreSQL: they share the round's ``xmin``, as do conversations and reports written
        since the last round)."""
        ...

    def erase_removed(self) -> int:
        """Erase from the database's files what deletions, edits and rounds took out of every answer
        since the last erase; how many tables (or partitions) were rewritten. SQLite overwrites removed
        rows at once (nothing left: 0; it cuts its WAL); PostGIS rewrites the partitions that held them,
        one short transaction each, so readers never wait for the whole table (mapaid/pgerase.py).
        Housekeeping runs it on a timer and after each round."""
        ...

    def compact(self) -> None:
        """Daily: rewrite the database so its pages keep no order of arrival (SQLite's VACUUM;
        PostgreSQL's daily ``purge_expired`` names every partition for the erase, which does the same)."""
        ...

    def count(self, *, all_statuses: bool = True) -> int: ...
    def open_tally(self, today: date) -> pd.DataFrame:
        """Open, unexpired posts counted per kind, category, cell and district (``TALLY_COLUMNS``): the
        unmet-needs tally reads a few thousand rows, never every post."""
        ...

    # -- private replies (mapaid/threads.py) ---------------------------------------------------
    def reply_key(self, post_id: str) -> str | None: ...
    def thread(self, thread_id: str) -> Thread | None: ...
    def threads_of(self, post_id: str) -> list[Thread]: ...
    def threads_page(self, post_id: str, limit: int, offset: int) -> tuple[list[Thread], int]: ...
    def messages(self, thread_id: str) -> list[Message]: ...
    def start_thread(
        self, thread: Thread, first: Message, max_threads: int, open_on: str, blocked: str
    ) -> str | None: ...
    def add_message(
        self,
        thread_id: str,
        message: Message,
        max_messages: int,
        open_on: str,
        expect: tuple[int, int] | None = None,
    ) -> int | str: ...
    def delete_thread(self, thread_id: str, blocked: str) -> bool: ...

    # -- coordinators (mapaid/accounts.py) -----------------------------------------------------
    def add_coordinator(self, name: str, password_hash: str, created_day: date) -> bool:
        """False, writing nothing, when ``name`` exists already."""
        ...

    def remove_coordinator(self, name: str) -> bool:
        """The account, every login of it and its known devices, in one transaction; False when there was
        none."""
        ...

    def set_password_hash(self, name: str, password_hash: str) -> bool:
        """The new hash, the end of every login of ``name`` and of its known devices, in one transaction;
        False when there is no such coordinator (nothing written)."""
        ...

    def password_hash(self, name: str) -> str | None: ...
    def coordinators(self) -> list[Coordinator]:
        """Every account, by name."""
        ...

    def purge_login_failures(self) -> int:
        """Empty the ``login_failures`` rows an older mapaid left (failures are counted in memory now)."""
        ...

    # -- coordinator logins (mapaid/sessions.py) -----------------------------------------------
    def add_session(self, record: SessionRecord) -> None: ...
    def session(self, id_hash: str) -> tuple[SessionRecord, str | None] | None:
        """The login and its account's current password hash (None when the account is gone)."""
        ...

    def touch_session(self, id_hash: str, seen: int, ends: int) -> None: ...
    def end_session(self, id_hash: str) -> None: ...
    def purge_sessions(self, now: int) -> int:
        """Delete logins that end at or before ``now`` or whose account is gone; how many."""
        ...

    def session_count(self) -> int: ...

    # -- coordinators' known devices (mapaid/devices.py) -----------------------------------------
    # Written without bumping the revision, like logins: no page shows them.
    def add_device(self, record: DeviceRecord, keep: int, replaces: str | None = None) -> bool:
        """In one transaction: write ``record``, delete the device ``replaces`` (renewed by it), and keep
        ``record`` and the account's newest others up to ``keep`` in all, deleting the rest (the same day's
        in hash order). False, writing nothing, when the account is gone."""
        ...

    def device(self, id_hash: str) -> tuple[DeviceRecord, str | None] | None:
        """The device and its account's current password hash (None when the account is gone)."""
        ...

    def forget_device(self, id_hash: str) -> None: ...
    def purge_devices(self, until: date) -> int:
        """Delete devices remembered on or before ``until`` or whose account is gone; how many."""
        ...

    # -- reports and moderation (mapaid/reports.py, mapaid/moderation.py) -----------------------
    def add_report(self, post_id: str, reason: str, day: date) -> bool:
        """Count one report; False (nothing written) unless the post is open and unexpired on ``day``."""
        ...

    def reports_by_reason(self, post_ids: Sequence[str]) -> dict[str, dict[str, int]]: ...
    def reports_queued(self) -> int:
        """How many posts have reports waiting."""
        ...

    def moderate(
        self, post_id: str, status: Stored | None, entry: AuditEntry, *, resolve_reports: bool
    ) -> bool:
        """In one transaction: set ``status`` (None: leave it; ``pending`` for a restore that waits for
        the round), delete the post's reports when ``resolve_reports``, and append ``entry`` to the audit.
        False, writing nothing, when there is no such post."""
        ...

    def purge_audit(self, before: date) -> int:
        """Delete the audit entries of days before ``before``; how many."""
        ...

    def audit_trail(self, limit: int = 100, post_id: str | None = None) -> list[AuditEntry]:
        """Latest first."""
        ...

    def moderation_page(
        self, filters: Mapping[str, Sequence[str]], search: Search, limit: int, offset: int
    ) -> tuple[pd.DataFrame, int]:
        """One page (``POST_COLUMNS``) of the posts ``filters`` (kind, category, district, status) and
        ``search`` pick, whatever their status but pending (``search.keep`` is shown even then, so a
        restored post stays in its row until the round): newest day first, then by id; reported only:
        most reported first. And how many match (``search.keep`` is listed but not counted)."""
        ...

    # -- named places (mapaid/places.py) -------------------------------------------------------
    def place_rows(self) -> list[dict[str, Any]]:
        """Every stored place as a dict of ``PLACE_COLUMNS`` (``line``: bytes or None), by id."""
        ...

    def replace_places(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """All stored places become ``rows`` (``PLACE_COLUMNS`` without ``id``), in one transaction."""
        ...

    def place_kinds(self) -> dict[str, int]: ...
    def place_sources(self) -> set[str]: ...

    # -- one form, one post (mapaid/formonce.py) -------------------------------------------------
    # Shared by every server process, so a double tap whose two submissions reach two servers still makes
    # one post. ``key`` is a keyed hash of the form's nonce; ``sealed`` is the post's id and token encrypted
    # under a key only the nonce gives (the client holds it), so the rows name no post. Times are seconds
    # since the epoch, always the start of a round window (mapaid/formonce.py). None of these writes
    # counts in the revision: no page shows them.
    def claim_form(
        self, key: str, now: int, stale_before: int, expired_before: int
    ) -> tuple[bool, bytes | None]:
        """In one transaction that first deletes the rows written before ``expired_before``: (True, None)
        when this caller now holds the form (a pending row is written, or one left pending since before
        ``stale_before`` is taken over); (False, sealed) when the form made its post already; (False,
        None) while another thread or server is still making it."""
        ...

    def finish_form(self, key: str, sealed: bytes, now: int) -> None:
        """The claimed form made its post: ``sealed`` replaces the pending mark, kept from ``now``."""
        ...

    def release_form(self, key: str) -> None:
        """The claimed form made no post: its pending row goes, so a repeat may try again."""
        ...

    def purge_forms(self, before: int) -> int:
        """Delete the form rows written before ``before``; how many."""
        ...

    # -- chores several server processes share (mapaid/housekeeping.py) -------------------------
    def take_lease(self, name: str, now: int, until: int) -> bool:
        """Hold the lease ``name`` until ``until`` if nobody holds it at ``now`` (milliseconds since the
        epoch), in one atomic step; False, writing nothing, while another holds it. Each server tries; one
        does the chore. Callers pass only scheduled times (a round's moment and its window's end, a UTC
        midnight), never the moment a request came."""
        ...

    def release_lease(self, name: str) -> None:
        """Give the lease ``name`` up (a chore that failed, so another may try again)."""
        ...


def open_store(database: str | Any, *, create: bool = False) -> Store:
    """Open the database the setting names: a ``postgresql://`` (or ``postgres://``) URL is PostGIS, a
    ``sqlite:///`` URL or a plain path is a SQLite file; anything else is refused with a message, never
    taken for a file name. ``create`` makes (or upgrades) the schema, otherwise it must be current."""
    from mapaid.dburl import DatabaseSettingError, parse

    try:
        found = parse(database)
    except DatabaseSettingError as exc:
        raise StoreError(str(exc)) from None
    if found.kind == "postgresql":
        from mapaid.pgstore import open_postgis

        return open_postgis(found.target, create=create)
    from mapaid.sqlitestore import open_sqlite

    return open_sqlite(found.target, create=create, timeout=found.timeout)
