"""Validators for public reads: ``ETag``, ``Last-Modified``, 304 answers, and byte ranges of downloads.

What they may say, and why (nothing about other people beyond what the body shows):

- ``ETag`` is strong: the first 128 bits of SHA-256 of the body as sent without compression, with ``-gz``
  appended when the body goes gzipped (another representation, so another tag; mapaid.compress is
  deterministic, so the tag stays strong). A hash of the body tells only what the body tells. Not the
  store's revision: that counts every write anywhere, hidden and deleted posts included.
- ``Last-Modified`` must be no earlier than the last change of the body, and no finer than a day, as every
  other time we publish (a post's time of day is never shown). A body depends on the store's revision and
  on the day (posts expire by day). This process remembers when it first saw each revision
  (``SharedCache`` keyed on database and revision only, mapaid.cache): when that was before today, nothing
  has changed since midnight, and midnight (UTC) is the answer; otherwise the answer is the current time,
  which is never too early and says nothing, and ``If-Modified-Since`` is not taken at its word (a write
  in the same second as the client's copy would otherwise get a 304): a 200, the ETag still saves the
  bytes. So ``Last-Modified`` tells at most that nothing was written today.
- ``Cache-Control: public, no-cache`` unless the view said otherwise: anyone may keep a copy, and checks
  back each time (an ``If-None-Match`` costs one request and no body).
- ``Range`` (downloads only): ``Accept-Ranges: bytes``, 206 with ``Content-Range`` on the uncompressed
  file, 416 with ``Content-Range: bytes */N`` when no byte is asked for that exists. A compressed answer
  does not offer ranges.
- An unfiltered export comes from a file built once (mapaid.exportfiles): ``send_stored`` answers it
  with the ETag and length stored beside the file, so the tags are the same as if the body were hashed
  here, and a 304, a HEAD or a range costs a file read, not a build.

Times come from the app's clock (mapaid.clock), ``Date`` included, so a test's fixed clock fixes them.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, time

from flask import request
from flask.wrappers import Response
from flask_babel import gettext
from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.http import http_date
from werkzeug.wsgi import wrap_file

from mapaid.cache import SharedCache
from mapaid.db import clock, get_store, settings
from mapaid.storedfile import StoredFile

DEFAULT_CACHE_CONTROL = "public, no-cache"
GZIP_SUFFIX = "-gz"
_FIRST_SEEN: SharedCache[datetime] = SharedCache("revision first seen", 8)


def etag(body: bytes, gzip: bool) -> str:
    """The strong entity tag of ``body`` (uncompressed), as sent gzipped or not."""
    return hashlib.sha256(body).hexdigest()[:32] + (GZIP_SUFFIX if gzip else "")


def last_modified(now: datetime) -> tuple[datetime, bool]:
    """Midnight today when this process saw the store's revision before today (True: a time one can
    compare with), else ``now`` (False)."""
    store = get_store()
    seen = _FIRST_SEEN.get_or_make(lambda: now, database=str(settings().database), revision=store.revision())
    midnight = datetime.combine(now.date(), time(0), tzinfo=UTC)
    return (midnight, True) if seen < midnight else (now, False)


def validate(response: Response, *, gzip: bool, ranges: bool) -> Response:
    """Add the validators to a 200 answer and answer the request's conditions and range."""
    if response.is_streamed or response.direct_passthrough or response.mimetype == "text/html":
        return response  # a page carries a fresh nonce: no two are the same
    body = response.get_data()
    return _answer(response, etag(body, gzip), len(body), ranges and not gzip)


def send_stored(response: StoredFile, *, gzip: bool, ranges: bool) -> Response:
    """Attach the file of an export-cache answer (its gzip when ``gzip``) and answer as ``validate``
    does, from the ETag and length stored with it, without reading the file."""
    entry = response.entry
    source = response.packed if gzip else response.plain
    length = entry.packed_length if gzip else entry.length
    if source is None or length is None:  # pragma: no cover - compress.chosen asks for a stored gzip only
        raise ValueError("no gzip of this file was opened")
    response.response = wrap_file(request.environ, source)
    response.direct_passthrough = True
    response.headers["Content-Length"] = str(length)
    if gzip:
        response.headers["Content-Encoding"] = "gzip"
    return _answer(response, entry.etag + (GZIP_SUFFIX if gzip else ""), entry.length, ranges and not gzip)


def _answer(response: Response, tag: str, length: int, offer: bool) -> Response:
    """Validators and conditions for a body of ``length`` bytes tagged ``tag``; ranges when ``offer``."""
    now = clock().now()
    response.set_etag(tag)
    modified, comparable = last_modified(now)
    response.headers["Last-Modified"] = http_date(modified)
    response.headers["Date"] = http_date(now)
    response.headers.setdefault("Cache-Control", DEFAULT_CACHE_CONTROL)
    environ = dict(request.environ)
    if not comparable:  # a date from the client cannot vouch for this body: no 304, no range on it
        environ.pop("HTTP_IF_MODIFIED_SINCE", None)
        if not environ.get("HTTP_IF_RANGE", '"').startswith(('"', "W/")):
            environ.pop("HTTP_RANGE", None)
    try:
        response.make_conditional(environ, accept_ranges=offer, complete_length=length if offer else None)
    except RequestedRangeNotSatisfiable:
        return _unsatisfiable(response, length)
    return response


def _unsatisfiable(response: Response, length: int) -> Response:
    """416: no byte of the asked range exists; says how many do."""
    if isinstance(response, StoredFile):
        response.close()  # its files; the words below take their place
    response.set_data(gettext("That part of the file does not exist; it has %(n)s bytes.", n=length))
    response.mimetype = "text/plain"
    response.status_code = 416
    response.headers["Content-Range"] = f"bytes */{length}"
    response.headers.pop("ETag", None)
    response.headers.pop("Last-Modified", None)
    response.headers.pop("Content-Disposition", None)
    return response
