"""One post from a resident (form or JSON API), and what its private token allows later.

A new post goes through ``pipeline.ingest`` like every import, so the exact point (when the API is given
lat/lon) is coarsened before anything is stored. The poster gets a random token once; the store keeps
only its hash.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

import pandas as pd

from mapaid.intake import Rules, validate_one
from mapaid.models import Status
from mapaid.pipeline import ingest
from mapaid.privacy import token_matches
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


def create(data: Mapping[str, object], rules: Rules, store: Store, secret: bytes) -> Created:
    """Validate and store one post; raises ``IntakeError`` naming the fields at fault."""
    validate_one(data, rules)
    row = {k: v for k, v in data.items() if k != "expires_days"}
    if data.get("expires_days") is not None:
        row["expires"] = data["expires_days"]
    result = ingest(pd.DataFrame([row], dtype=object), [""], rules, store, secret, with_tokens=True)
    token = result.tokens[0]
    assert token is not None
    return Created(result.posts.id[0], int(result.posts.cell[0]), result.posts.district[0], token)


def authorised(store: Store, post_id: str, token: str) -> bool:
    """Whether ``token`` is this post's private token (constant-time comparison of hashes)."""
    return bool(token) and token_matches(token, store.token_hash(post_id))


def apply(store: Store, post_id: str, token: str, action: Action) -> bool:
    """Mark fulfilled or delete, if the token is right; False when the post or token does not match."""
    if not authorised(store, post_id, token):
        return False
    if action is Action.DELETE:
        return store.delete(post_id)
    return store.set_status(post_id, Status.FULFILLED)
