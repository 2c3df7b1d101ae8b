"""The one path from raw rows to stored posts: intake -> privacy -> store.

The CLI import, the demo generator and the web views all call ``ingest``; none of them repeats a step.
Everything is checked before anything is written, and the write is one transaction, so a bad row or a
crash leaves the store as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from mapaid.intake import IntakeError, Problem, Rules, validate_frame
from mapaid.messages import N_, Message
from mapaid.models import Submissions
from mapaid.privacy import Coarse, CoarsePosts, coarsen, to_posts
from mapaid.store import Store

CHUNK = 50_000
Progress = Callable[[int], None]


@dataclass(frozen=True)
class Ingested:
    """What an ingest did: the posts written, the private tokens handed out, the rows refused."""

    posts: CoarsePosts
    tokens: list[str | None]
    problems: list[Problem]


def _coarsen_chunked(subs: Submissions, rules: Rules, store: Store, progress: Progress | None) -> Coarse:
    area = store.area()
    parts = []
    for start in range(0, len(subs), CHUNK):
        stop = min(start + CHUNK, len(subs))
        parts.append(
            coarsen(subs.lat[start:stop], subs.lon[start:stop], subs.cell[start:stop], area, rules.cell_res)
        )
        if progress:
            progress(stop - start)
    if not parts:
        return Coarse(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64))
    return Coarse(cell=np.concatenate([p.cell for p in parts]), code=np.concatenate([p.code for p in parts]))


def ingest(
    frame: pd.DataFrame,
    where: Sequence[str],
    rules: Rules,
    store: Store,
    secret: bytes,
    *,
    skip_invalid: bool = False,
    with_tokens: bool = False,
    progress: Progress | None = None,
    reply_keys: Sequence[str | None] | None = None,
    pending: bool = False,
) -> Ingested:
    """Validate, coarsen and store rows. Raises ``IntakeError`` listing every bad row unless
    ``skip_invalid``, in which case the good rows are stored and the bad ones returned. ``reply_keys``
    (one per row, already checked) are public keys for private replies, stored with their posts.
    ``pending``: the posts wait for the next publication round (a resident's post; mapaid/rounds.py);
    otherwise they are public at once (an operator's import or demo batch)."""
    subs, problems = validate_frame(frame, where, rules)
    coarse = _coarsen_chunked(subs, rules, store, progress)
    problems += [
        Problem(where[subs.source_line[i]], "location", Message(N_("outside the served area")))
        for i in coarse.outside
    ]
    if problems and not skip_invalid:
        raise IntakeError(sorted(problems, key=Problem.order))
    if len(subs) == len(coarse.outside):
        raise IntakeError(problems or [Problem("", "file", "nothing to import")])
    keys = None if reply_keys is None else [reply_keys[i] for i in subs.source_line]
    posts, tokens = to_posts(
        subs, coarse, store.area(), secret, rules.today, with_tokens=with_tokens, reply_keys=keys
    )
    store.add(posts, progress, pending=pending)
    return Ingested(posts, tokens, sorted(problems, key=Problem.order))


def rules_for(
    categories: Sequence[str],
    cell_res: int,
    today: date,
    default_expires_days: int = 14,
    max_expires_days: int = 60,
) -> Rules:
    return Rules(
        tuple(categories),
        cell_res,
        today,
        default_expires_days,
        max_expires_days,
    )
