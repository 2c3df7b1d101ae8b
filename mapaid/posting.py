"""One post from a resident (form or JSON API), and what its private token allows later.

A new post goes through ``pipeline.ingest`` like every import, so the exact point (when the API is given
lat/lon) is coarsened before anything is stored. The poster gets a random token once; the store keeps
only its hash.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

import h3.api.basic_int as h3
import pandas as pd

from mapaid.intake import IntakeError, Problem, Rules, validate_frame, validate_one
from mapaid.messages import N_, Message
from mapaid.models import Status
from mapaid.pipeline import ingest
from mapaid.privacy import token_matches
from mapaid.replycrypto import BadKey, load_public
from mapaid.store import Store


@dataclass(frozen=True)
class Created:
    id: str
    cell: int
    district: str
    token: str


class Action(StrEnum):
    FULFILLED = "fulfilled"
    DELETE = "delete"
    EXTEND = "extend"
    EDIT = "edit"


def check_reply_key(value: object) -> str | None:
    """A poster's public key for private replies (docs/replies.md), or None for a post that takes none
    (left out, null or empty); ``IntakeError`` on the field ``reply_key`` if it is not a P-256 or X25519
    key as the scheme writes one."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_KEY_CHARS:
        raise _bad_key()
    try:
        load_public(value)
    except BadKey:
        raise _bad_key() from None
    return value


MAX_KEY_CHARS = 200  # a P-256 key is 122 characters, an X25519 key 59 (posts.reply_key checks 200 too)


def _bad_key() -> IntakeError:
    message = Message(N_("reply_key must be a P-256 or X25519 public key (base64url SubjectPublicKeyInfo)"))
    return IntakeError([Problem("", "reply_key", message)])


def create(
    data: Mapping[str, object], rules: Rules, store: Store, secret: bytes, *, at_once: bool
) -> Created:
    """Validate and store one post; raises ``IntakeError`` naming the fields at fault. ``reply_key``
    (optional) is the poster's public key for private replies; the other fields go through the intake.
    Unless ``at_once`` (rounds off), the post waits for the next publication round (mapaid/rounds.py)."""
    data = dict(data)
    key = data.pop("reply_key", None)
    validate_one(data, rules)
    reply_key = check_reply_key(key)
    row = {k: v for k, v in data.items() if k != "expires_days"}
    if data.get("expires_days") is not None:
        row["expires"] = data["expires_days"]
    result = ingest(
        pd.DataFrame([row], dtype=object),
        [""],
        rules,
        store,
        secret,
        with_tokens=True,
        reply_keys=[reply_key],
        pending=not at_once,
    )
    token = result.tokens[0]
    assert token is not None
    return Created(result.posts.id[0], int(result.posts.cell[0]), result.posts.district[0], token)


EXTEND_CHOICES = (7, 14, 30)  # the form's "extend by N days" buttons, those within the site's limit


def extend_choices(max_days: int) -> list[int]:
    return [d for d in EXTEND_CHOICES if d <= max_days]


def extended_day(current: date, days: int, today: date, max_days: int) -> date:
    """``days`` more than the post has now (counted from today if it has already run out), but never
    past ``max_days`` from today: the limit a new post has."""
    return min(max(current, today) + timedelta(days=days), today + timedelta(days=max_days))


def extend(store: Store, post_id: str, days: int, rules: Rules, *, at_once: bool) -> date | None:
    """Give an authorised post ``days`` more; its new last day, or None when the post is gone. The
    caller checks the token (``authorised``) and that ``days`` is 1..max (``check_days``). Unless
    ``at_once``, a public post's new day waits for the next round (its draft, counted from here on)."""
    post = store.get(post_id)
    if post is None:
        return None
    current = date.fromisoformat(str(post["draft_expires"] or post["expires_day"]))
    day = extended_day(current, days, rules.today, rules.max_expires_days)
    if day != current:
        store.set_expiry(post_id, day, draft=not at_once)
    return day


def check_days(days: object, rules: Rules) -> int:
    """A whole number of days from 1 to the site's limit, or ``IntakeError`` on the field ``days``."""
    if isinstance(days, str) and days.strip().isdigit():
        days = int(days.strip())
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= rules.max_expires_days:
        raise IntakeError(
            [Problem("", "days", f"days must be a whole number from 1 to {rules.max_expires_days}")]
        )
    return days


def edit_text(store: Store, post_id: str, text: object, rules: Rules, *, at_once: bool) -> str | None:
    """Replace an authorised post's text with ``text`` checked as a new post's would be (every problem
    with it in ``IntakeError``); the text as stored, or None when the post is gone. Nothing else about
    the post, and nothing about its place, changes or is recorded. Unless ``at_once``, a public post's
    new text waits for the next round as its draft."""
    post = store.get(post_id)
    if post is None:
        return None
    if not isinstance(text, str):
        raise IntakeError([Problem("", "text", "text must be text")])
    cell = h3.int_to_str(post["cell"])
    probe = {"kind": "offer", "category": rules.categories[0], "text": text, "cell": cell}
    try:
        checked = validate_one(probe, rules)
    except IntakeError as error:
        raise IntakeError([p for p in error.problems if p.field == "text"] or error.problems) from None
    new = str(checked.text[0])
    if new != (post["draft_text"] or post["text"]):
        store.set_text(post_id, new, draft=not at_once)
    return new


def form_problems(data: Mapping[str, str | object], rules: Rules) -> list[Problem]:
    """Every problem with a form's fields at once, a missing hexagon included (``validate_one`` stops
    at a missing place, since the API may say where in two ways; the form has one)."""
    row = {k: data.get(k, "") for k in ("kind", "category", "text", "contact", "cell")}
    row["expires"] = data.get("expires_days", "")
    _, problems = validate_frame(pd.DataFrame([row], dtype=object), [""], rules)
    if not row["cell"]:
        problems = [p for p in problems if p.field not in ("lat", "lon")]
        problems.insert(0, Problem("", "cell", "say where: choose a hexagon"))
    try:
        check_reply_key(data.get("reply_key"))
    except IntakeError as error:
        problems += error.problems
    return problems


def authorised(store: Store, post_id: str, token: str) -> bool:
    """Whether ``token`` is this post's private token (constant-time comparison of hashes)."""
    return bool(token) and token_matches(token, store.token_hash(post_id))


def apply(store: Store, post_id: str, token: str, action: Action) -> bool:
    """Mark fulfilled or delete, if the token is right; False when the post or token does not match."""
    if not authorised(store, post_id, token):
        return False
    if action is Action.DELETE:
        return store.delete(post_id)
    if action is Action.FULFILLED:
        return store.set_status(post_id, Status.FULFILLED)
    raise ValueError(f"{action} takes more than a token; see extend and edit_text")
