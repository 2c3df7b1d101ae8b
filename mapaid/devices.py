"""Known devices: a browser that logged in to an account before gets its own password-hashing lane.

Why: one process checks one anonymous password at a time (``mapaid.accounts``), and many addresses, each
inside its per-client allowance, can keep that slot busy; coordinators then met "busy, retry" on almost
every try. After a successful login the browser gets a long-lived cookie holding a random id
(``secrets.token_urlsafe(32)``, 256 bits); the ``devices`` table keeps its SHA-256, the account (its name
and the tag of its row, as logins do: ``sessions.account_tag``) and the UTC day it was remembered, and
nothing else. A later login that presents such a cookie *for the name it tries* has its password checked
in a slot anonymous traffic never takes.

What the cookie is not: a login. The password is still checked, every try is counted by the login guard
like any other, and failures through one device also count per device (``LoginGuard.admit_device``), so
a stolen cookie buys no extra guesses and only a few checks a minute in the reserved lane.

A device is forgotten when its account's password changes or the account is removed (the store does it in
the same transaction), when the coordinator logs out with "forget this device", ``LIFETIME_DAYS`` after it
was remembered, and when its account keeps more than ``MAX_PER_ACCOUNT`` (the oldest go). A device in
use is renewed (a new id, today's day) once it is ``RENEW_DAYS`` old, so a coordinator who logs in every
month never loses the lane, while the table's days stay coarse: a day per device per month at most, not
a day per login. A record of an account made again under the same name, or re-keyed behind the store's
back, no longer matches its tag and is dropped when next presented.

What a seized database learns from the table: which coordinator names have how many remembered
browsers, and on which days those were remembered or renewed (no time of day, no address, no browser
detail). The hashes give no cookie that works. A seized *browser* holding the cookie shows that it was
used by a coordinator of this site; "log out and forget this device" removes it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import date, timedelta

from mapaid import sessions
from mapaid.models import DeviceRecord
from mapaid.store import Store

COOKIE = "mapaid_device"
COOKIE_PATH = "/coordinator"  # the login and logout forms, and nothing outside the coordinator pages
MAX_PER_ACCOUNT = 10
LIFETIME_DAYS = 180
RENEW_DAYS = 30
_ID = re.compile(r"^[A-Za-z0-9_-]{43}$")  # what token_urlsafe(32) makes; anything else is no device


def id_hash(device_id: str) -> str:
    """What the table keeps of a device id: a plain hash suffices for 256 random bits."""
    return hashlib.sha256(b"mapaid-device\0" + device_id.encode()).hexdigest()


def max_age_s() -> int:
    """How long the browser keeps the cookie: as long as the server keeps the device."""
    return LIFETIME_DAYS * 86400


def known(store: Store, device_id: str | None, name: str, today: date) -> DeviceRecord | None:
    """The device this cookie stands for, if it is a live device of ``name``'s current account; None for
    no cookie, a forged or malformed one, another account's, one forgotten, run out or re-keyed (those
    last two rows are deleted on the way)."""
    if not device_id or not _ID.match(device_id):
        return None
    key = id_hash(device_id)
    found = store.device(key)
    if found is None:
        return None
    record, password_hash = found
    alive = (
        password_hash is not None
        and secrets.compare_digest(record.account, sessions.account_tag(password_hash))
        and record.day > today - timedelta(days=LIFETIME_DAYS)
    )
    if not alive:
        store.forget_device(key)
        return None
    return record if record.coordinator == name else None


def remember(store: Store, name: str, device: DeviceRecord | None, today: date) -> str | None:
    """After ``name`` logged in: the id for a new device cookie, or None when ``device`` (the known device
    this login came through) stays as it is. A new device replaces the one it renews; the account keeps
    its newest ``MAX_PER_ACCOUNT``. None as well when the account went meanwhile."""
    if device is not None and device.day > today - timedelta(days=RENEW_DAYS):
        return None
    password_hash = store.password_hash(name)
    if password_hash is None:
        return None
    device_id = secrets.token_urlsafe(32)
    record = DeviceRecord(id_hash(device_id), name, sessions.account_tag(password_hash), today)
    replaced = device.id_hash if device is not None else None
    if not store.add_device(record, MAX_PER_ACCOUNT, replaces=replaced):
        return None
    return device_id


def forget(store: Store, device_id: str | None) -> None:
    """This browser's device is forgotten (a logout that asks for it): its cookie opens no lane again."""
    if device_id and _ID.match(device_id):
        store.forget_device(id_hash(device_id))


def purge(store: Store, today: date) -> int:
    """Delete devices that ran out or whose account is gone (housekeeping); how many."""
    return store.purge_devices(today - timedelta(days=LIFETIME_DAYS))
