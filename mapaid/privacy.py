"""The privacy step: exact points in, coarse cells out. The only module that reads an exact point.

What leaves here is a function of the H3 cell, the cell's district, the post's random id and the server
secret. The district is chosen per *cell* (by its centre), not per point, so two posts from anywhere in one
cell are alike in every stored and published field but their id and text (DESIGN.md, invariant 2). The
displayed position is drawn inside cell ∩ district by a keyed hash of the id: repeating a post from the same
home draws new ids, never fresh noise around the true point, so averaging reveals only the cell (invariant 3).

What leaves here for the store is ``CoarsePosts``, and nothing else can make one: its constructor wants
this module's private seal (``_SEAL``). Building one anywhere else fails the type check (a missing
argument) and, at run time, with a ``TypeError``; ``Store.add`` takes nothing else, so raw ``Submissions``
handed to a store fail the type check too (tests/test_privacy_type.py runs mypy to show both).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import KW_ONLY, InitVar, dataclass
from datetime import date, timedelta
from itertools import repeat

import h3.api.basic_int as h3
import numpy as np
import pandas as pd
import shapely

from mapaid.geo import Area, CellInfo
from mapaid.models import FloatArray, IntArray, Submissions

ID_BYTES = 10  # 80 random bits: unguessable
TOKEN_BYTES = 24
DISPLAY_DECIMALS = 5
_SHRINK = 0.8  # draw inside triangles shrunk towards their centroid, so rounding stays inside


class _Seal:
    """The privacy step's mark on what it makes. One instance, private to this module: ``CoarsePosts``
    checks for it, so a batch of posts the store accepts has been through ``to_posts``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<privacy seal>"


_SEAL = _Seal()


@dataclass(frozen=True)
class CoarsePosts:
    """New posts after the privacy step: everything the store may hold, nothing more.

    ``lon``/``lat`` are the *display* position, a function of (cell, district, id, server secret) only.
    ``seal`` must be this module's own (``_SEAL``): only the privacy step makes these (``to_posts``).
    """

    id: list[str]
    kind: list[str]
    category: list[str]
    text: list[str]
    contact: list[str | None]
    cell: IntArray
    district: list[str]
    created_day: date | list[date]  # one day for all (a post, an import), or one per post (a round trip)
    expires_day: list[date]
    token_hash: list[str | None]
    lon: FloatArray
    lat: FloatArray
    # Public keys for private replies (docs/replies.md), one per post or None where a post takes no
    # replies; None for the whole batch (imports, the demo) when no post has one.
    reply_key: list[str | None] | None = None
    status: list[str] | None = None  # None: all open
    _: KW_ONLY
    seal: InitVar[_Seal]

    def __post_init__(self, seal: _Seal) -> None:
        if seal is not _SEAL:
            raise TypeError(
                "CoarsePosts are made by the privacy step only (mapaid.privacy.to_posts, or "
                "pipeline.ingest): the store takes nothing that has not been through it"
            )

    def __len__(self) -> int:
        return len(self.id)


class OutsideArea(ValueError):
    """Raised for a single point outside every district."""

    def __init__(self) -> None:
        super().__init__("outside the served area")


@dataclass(frozen=True)
class Coarse:
    """The privacy step's output for a batch: per row a cell and a district code (-1: outside)."""

    cell: IntArray
    code: IntArray  # index into Area.slugs, -1 where the point is outside every district

    @property
    def outside(self) -> list[int]:
        """Row indices whose point lies outside every district."""
        return np.flatnonzero(self.code < 0).tolist()


def coarsen(lat: FloatArray, lon: FloatArray, cell: IntArray, area: Area, res: int) -> Coarse:
    """Cells for points (where ``cell`` is -1) at resolution ``res``, and their districts.

    The district join runs once per distinct cell, not per point. A given cell finer than ``res`` is
    lifted to its parent. The exact point is not kept or returned.
    """
    cells = cell.copy()
    from_point = cells < 0
    todo = np.flatnonzero(from_point)
    if len(todo):
        points = map(h3.latlng_to_cell, lat[todo].tolist(), lon[todo].tolist(), repeat(res))
        cells[todo] = np.fromiter(points, dtype=np.int64, count=len(todo))
    for i in np.flatnonzero(~from_point).tolist():
        if h3.get_resolution(int(cells[i])) > res:
            cells[i] = h3.cell_to_parent(int(cells[i]), res)
    inverse, unique = pd.factorize(cells)  # hashing, not sorting: a million cells in milliseconds
    unique_code, covered = area.cell_districts(np.asarray(unique, dtype=np.int64))
    code = unique_code[inverse]
    # Rows from points in cells that straddle the edge of the served area: test the point itself.
    rows = np.flatnonzero(~covered[inverse] & (code >= 0) & from_point)
    if len(rows):
        code[rows[~area.contains(lon[rows], lat[rows])]] = -1
    return Coarse(cell=cells, code=code)


def new_ids(n: int) -> list[str]:
    """Random ids, 20 hex digits (80 bits) each: safe in URLs and shells, cheap to make a million of.

    Each is drawn on its own, in the order of the rows, and never sorted here: sorted ids handed out in
    row order would give back the order of an import's rows (or of a batch's posting) to anyone who sorts
    by id. Ordered by id, posts come in an order no one chose; the store sorts a batch before writing it."""
    text = secrets.token_bytes(ID_BYTES * n).hex()
    width = 2 * ID_BYTES
    return [text[i : i + width] for i in range(0, len(text), width)]


def new_token() -> tuple[str, str]:
    """A private delete token for the poster and the hash the server keeps of it."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str, stored_hash: str | None) -> bool:
    return stored_hash is not None and hmac.compare_digest(token_hash(token), stored_hash)


def _uniforms(ids: list[str], secret: bytes) -> FloatArray:
    """Three numbers in [0, 1) per id from a keyed BLAKE2b of it: stable, unpredictable without the secret."""
    keyed = hashlib.blake2b(key=hashlib.blake2b(secret, digest_size=32).digest(), digest_size=12)

    def digest(post_id: str) -> bytes:
        h = keyed.copy()  # copying a keyed state skips the key schedule: ~1.5x faster per id
        h.update(post_id.encode())
        return h.digest()

    digests = b"".join(map(digest, ids))
    words = np.frombuffer(digests, dtype="<u4").reshape(-1, 3)
    return words.astype(np.float64) / 2.0**32


def _triangles(shape: shapely.Geometry) -> tuple[FloatArray, FloatArray]:
    """Triangles (n, 3, 2) covering ``shape``, shrunk towards their centroids, and cumulative area shares."""
    tris = shapely.get_parts(shapely.constrained_delaunay_triangles(shape))
    coords = np.array([np.asarray(t.exterior.coords)[:3] for t in tris])
    centroid = coords.mean(axis=1, keepdims=True)
    coords = centroid + _SHRINK * (coords - centroid)
    a, b, c = coords[:, 0], coords[:, 1], coords[:, 2]
    areas = np.abs((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (c[:, 0] - a[:, 0]) * (b[:, 1] - a[:, 1]))
    return coords, np.cumsum(areas) / areas.sum()


def _place_in(info: CellInfo, u: FloatArray) -> tuple[FloatArray, FloatArray]:
    coords, cumulative = _triangles(info.shape)
    k = np.minimum(np.searchsorted(cumulative, u[:, 0], side="right"), len(coords) - 1)
    s, t = u[:, 1].copy(), u[:, 2].copy()
    flip = s + t > 1
    s[flip], t[flip] = 1 - s[flip], 1 - t[flip]
    a, b, c = coords[k, 0], coords[k, 1], coords[k, 2]
    pts = np.round(a + s[:, None] * (b - a) + t[:, None] * (c - a), DISPLAY_DECIMALS)
    # Not contains_xy: it would prepare the cached, shared shape, and a prepared geometry must not be
    # queried by two threads at once (see Area._lock).
    ok = np.asarray(shapely.contains(info.shape, shapely.points(pts)))
    if not ok.all():  # rounding pushed a point across a sliver's edge: use a point surely inside
        fallback = np.round(np.asarray(shapely.point_on_surface(info.shape).coords[0]), DISPLAY_DECIMALS)
        pts[~ok] = fallback
    return pts[:, 0], pts[:, 1]


def display_positions(
    cells: IntArray, ids: list[str], area: Area, secret: bytes
) -> tuple[FloatArray, FloatArray]:
    """Where each post is drawn: inside its cell ∩ district, chosen by a keyed hash of its id."""
    lon = np.empty(len(ids))
    lat = np.empty(len(ids))
    if not ids:
        return lon, lat
    u = _uniforms(ids, secret)
    unique, inverse = np.unique(cells, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(unique) + 1))
    for j, info in enumerate(area.cell_info(unique)):
        if info is None:
            raise OutsideArea()
        rows = order[bounds[j] : bounds[j + 1]]
        lon[rows], lat[rows] = _place_in(info, u[rows])
    return lon, lat


def _take(values: list[str], rows: IntArray) -> list[str]:
    return np.asarray(values, dtype=object)[rows].tolist()  # type: ignore[no-any-return]


def to_posts(
    subs: Submissions,
    coarse: Coarse,
    area: Area,
    secret: bytes,
    today: date,
    *,
    with_tokens: bool,
    reply_keys: list[str | None] | None = None,
) -> tuple[CoarsePosts, list[str | None]]:
    """Assemble storable posts from submissions and their coarse cells; returns the posts and the
    private tokens (None where the poster gets none, as for bulk imports). ``reply_keys``, one per
    submission, are the posters' public keys for private replies (checked by the caller)."""
    keep = np.flatnonzero(coarse.code >= 0)
    ids = new_ids(len(keep))
    cells = coarse.cell[keep]
    lon, lat = display_positions(cells, ids, area, secret)
    pairs = [new_token() for _ in keep] if with_tokens else []
    tokens: list[str | None] = [t for t, _ in pairs] if with_tokens else [None] * len(keep)
    hashes: list[str | None] = [h for _, h in pairs] if with_tokens else [None] * len(keep)
    days = np.asarray(subs.expires_days, dtype=np.int64)[keep]
    expiry = {int(d): today + timedelta(days=int(d)) for d in np.unique(days)}
    posts = CoarsePosts(
        id=ids,
        kind=_take(subs.kind, keep),
        category=_take(subs.category, keep),
        text=_take(subs.text, keep),
        contact=np.asarray(subs.contact, dtype=object)[keep].tolist(),
        cell=cells,
        district=np.asarray(area.slugs, dtype=object)[coarse.code[keep]].tolist(),
        created_day=today if subs.created_day is None else [subs.created_day[i] for i in keep.tolist()],
        expires_day=[expiry[d] for d in days.tolist()],
        token_hash=hashes,
        lon=lon,
        lat=lat,
        reply_key=None if reply_keys is None else [reply_keys[i] for i in keep.tolist()],
        status=None if subs.status is None else _take(subs.status, keep),
        seal=_SEAL,
    )
    return posts, tokens
