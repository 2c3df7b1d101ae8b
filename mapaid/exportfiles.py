"""Unfiltered exports built once per state of the data and served from files (issue 17, item 4).

Every ``GET``, ``HEAD``, 304 and ``Range`` request of ``/export/posts.gpkg`` used to build the whole file:
ten clients asking for one byte each kept both cores busy. Now each file is built once for its ``Key``
and written under the instance folder (``<instance>/exports/``); ETag, 304, HEAD and byte ranges are
answered from the file and what is stored beside it (mapaid.httpcache.send_stored), without a rebuild.

What a file holds is public data, the same for everyone who asks: the exports anyone may download. So it
may sit on disk (mapaid.cache's policy: kept, keyed on everything that shapes it, never on where anyone
looks). Its times are set to midnight of its day, so the folder keeps no record of when someone first
asked (the inode's change time, which no program can set, still says when it was written).

- **Key**: the database (a hash of the setting, so no path or password lands in a name), the served
  area's version, the store's revision and the day (together, the *generation*: a deletion, a hide or a
  publication round changes the revision, and posts expire by day), then the dataset, format and what
  else shapes the bytes (language, ``MAPAID_CSV_BOM``, ``within``, resolution, categories). Every request
  reads the revision first, so no answer is older than the data it asked about; a file may be newer than
  its key (a write between reading the revision and the posts), never older.
- **Files**: ``<generation>.<dataset>.<shape>.<etag>.<ext>`` holds the body, and ``.gz`` beside it the
  deterministic gzip of a text format (mapaid.compress); both are named by their content, written under a
  temporary name and renamed, so a name never holds two bodies. ``<generation>.<dataset>.<shape>.<ext>.json``
  points to them (ETag and lengths) and is linked into place only if absent: the first process to finish
  a file wins and every other process uses its file as it is, so several ``mapaid serve`` processes on
  one machine share the folder safely (several machines each build their own).
- **Single flight**: in one process one request builds a file and the others asking for it meanwhile
  wait for it (mapaid.buildslots bounds both; beyond, 503 with ``Retry-After``). Processes do not wait
  for each other: two may build the same file once, and the first one's is kept.
- **Bounded**: after each build, files of the database's other generations are removed (a process still
  sending one keeps its open file), as are other databases' files two days old, and temporary files an
  hour old that a stopped process left behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from mapaid import compress, dburl
from mapaid.buildslots import BuildSlots

FOLDER = "exports"
STALE_TEMP_S = 3600  # a temporary file this old was left by a process that stopped while writing it
OTHER_DATABASE_DAYS = 2  # another database's files are kept this many days, then removed
ATTEMPTS = 3  # a file removed between finding and opening it (another process's sweep) is built again

Shape = tuple[tuple[str, str], ...]


def database_id(database: str) -> str:
    """A short name for the database setting: a hash of it without its password."""
    return hashlib.sha256(dburl.redact(database).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Key:
    """Everything that shapes one export file (see the module docstring)."""

    database: str  # database_id() of the setting
    districts: str  # the served area's version
    revision: int
    day: date
    dataset: str  # posts, districts
    extension: str  # geojson, csv, gpkg
    shape: Shape = ()  # (name, value) pairs: language, byte-order mark, within ...

    @property
    def generation(self) -> str:
        return f"{self.database}.{self.day.isoformat()}.{self.revision}.{self.districts}"

    @property
    def stem(self) -> str:
        shape = hashlib.sha256(repr(sorted(self.shape)).encode()).hexdigest()[:12]
        return f"{self.generation}.{self.dataset}.{shape}"

    @property
    def pointer(self) -> str:
        return f"{self.stem}.{self.extension}.json"

    def body(self, etag: str) -> str:
        return f"{self.stem}.{etag}.{self.extension}"


@dataclass(frozen=True)
class Entry:
    """One built file: the body (``length`` bytes, strong ETag ``etag`` as mapaid.httpcache defines it)
    and, for text formats, its gzip beside it (``packed``)."""

    body: Path
    etag: str
    length: int
    packed: Path | None = None
    packed_length: int | None = None

    def open(self, packed: bool) -> tuple[BinaryIO, BinaryIO | None]:
        """The body open for reading, and the gzip too when asked and there is one."""
        plain = self.body.open("rb")
        if not packed or self.packed is None:
            return plain, None
        try:
            return plain, self.packed.open("rb")
        except OSError:
            plain.close()
            raise


@dataclass
class _Flight:
    """One build in this process, which other requests for the same file wait for."""

    done: threading.Event = field(default_factory=threading.Event)
    entry: Entry | None = None
    error: BaseException | None = None


class ExportFiles:
    """The export files of one app, in ``folder``; ``slots`` bound the builds and the waiting."""

    def __init__(self, folder: Path, slots: BuildSlots, etag: Callable[[bytes], str]) -> None:
        self.folder = folder
        self.slots = slots
        self._etag = etag
        self._lock = threading.Lock()
        self._flights: dict[str, _Flight] = {}

    def open(
        self, key: Key, build: Callable[[], bytes], textual: bool, packed: bool
    ) -> tuple[Entry, BinaryIO, BinaryIO | None]:
        """The file for ``key`` (built by ``build`` when there is none), open: (entry, body, gzip or None).
        ``textual``: a format worth keeping gzipped; ``packed``: open the gzip too (the client takes it)."""
        for attempt in range(ATTEMPTS):
            try:
                entry = self.find(key) or self._build_once(key, build, textual)
                return (entry, *entry.open(packed))
            except FileNotFoundError:  # another process's sweep removed it just now
                if attempt == ATTEMPTS - 1:
                    raise
                self._forget(key)
        raise AssertionError("unreachable")  # pragma: no cover

    def find(self, key: Key) -> Entry | None:
        """The entry stored for ``key``, if a file was built for it."""
        try:
            stored = json.loads((self.folder / key.pointer).read_bytes())
            etag, length, packed = str(stored["etag"]), int(stored["length"]), stored["packed"]
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError):  # not ours, or cut short: build it again
            (self.folder / key.pointer).unlink(missing_ok=True)
            return None
        body = self.folder / key.body(etag)
        gz = body.with_name(body.name + ".gz") if packed is not None else None
        return Entry(body, etag, length, gz, None if packed is None else int(packed))

    def _forget(self, key: Key) -> None:
        """Drop the pointer of ``key`` if its body or gzip is gone, so that it is built again."""
        entry = self.find(key)
        if entry is not None and not all(p.exists() for p in (entry.body, entry.packed) if p is not None):
            (self.folder / key.pointer).unlink(missing_ok=True)

    def _build_once(self, key: Key, build: Callable[[], bytes], textual: bool) -> Entry:
        """Build the file, or wait for the request of this process already building it."""
        with self._lock:
            flight = self._flights.get(key.pointer)
            leader = flight is None
            if leader:
                self.slots.files.take()  # raises Busy when every build slot is taken
                flight = self._flights[key.pointer] = _Flight()
            else:
                self.slots.waiting.take()
        assert flight is not None
        if not leader:
            try:
                flight.done.wait()
            finally:
                self.slots.waiting.give_back()
            if isinstance(flight.error, FileNotFoundError):  # open() tries again
                raise FileNotFoundError(key.pointer) from flight.error
            if flight.entry is None:
                raise RuntimeError("building the export failed") from flight.error
            return flight.entry
        try:
            flight.entry = self.find(key) or self._build(key, build, textual)  # it may have come meanwhile
            return flight.entry
        except BaseException as error:
            flight.error = error
            raise
        finally:
            with self._lock:
                del self._flights[key.pointer]
            flight.done.set()
            self.slots.files.give_back()

    def _build(self, key: Key, build: Callable[[], bytes], textual: bool) -> Entry:
        body = build()
        etag = self._etag(body)
        packed = compress.pack(body) if textual and len(body) >= compress.MIN_SIZE else None
        self.folder.mkdir(parents=True, exist_ok=True)
        midnight = datetime.combine(key.day, datetime.min.time(), tzinfo=UTC).timestamp()
        path = self._write(key.body(etag), body, midnight)
        if packed is not None:
            self._write(key.body(etag) + ".gz", packed, midnight)
        stored = {"etag": etag, "length": len(body), "packed": None if packed is None else len(packed)}
        if not self._link(key.pointer, json.dumps(stored).encode(), midnight):
            kept = self.find(key)  # another process was first: its file is the one
            if kept is not None and kept.etag != etag:
                path.unlink(missing_ok=True)
                path.with_name(path.name + ".gz").unlink(missing_ok=True)
            if kept is not None:
                return kept
        self._sweep(key)
        entry = self.find(key)
        if entry is None:  # a sweep of another process took it at once: open() builds it again
            raise FileNotFoundError(key.pointer)
        return entry

    def _staged(self, name: str, data: bytes, stamp: float) -> Path:
        """``data`` written whole and flushed to disk under a temporary name beside ``name``, dated
        ``stamp``; the caller moves it into place and removes whatever is left."""
        temporary = self.folder / f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        try:
            with temporary.open("wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.utime(temporary, (stamp, stamp))
        except BaseException:  # a full disk, say: no half file left behind
            temporary.unlink(missing_ok=True)
            raise
        return temporary

    def _write(self, name: str, data: bytes, stamp: float) -> Path:
        """``data`` as ``name``: staged, then renamed over whatever was there."""
        temporary = self._staged(name, data, stamp)
        try:
            path = self.folder / name
            os.replace(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
        return path

    def _link(self, name: str, data: bytes, stamp: float) -> bool:
        """``data`` as ``name`` unless a file of that name is there already (False then)."""
        temporary = self._staged(name, data, stamp)
        try:
            os.link(temporary, self.folder / name)
        except FileExistsError:
            return False
        finally:
            temporary.unlink(missing_ok=True)
        return True

    def _sweep(self, key: Key) -> None:
        """Remove what no request will ask for again (the module docstring's "Bounded")."""
        now = time.time()
        for entry in os.scandir(self.folder):
            name = entry.name
            if name.startswith("."):
                if name.endswith(".tmp") and _age(entry, now) > STALE_TEMP_S:
                    _remove(entry.path)
                continue
            database, _, rest = name.partition(".")
            if database == key.database:
                if not name.startswith(key.generation + "."):
                    _remove(entry.path)
            elif _day(rest) < key.day - timedelta(days=OTHER_DATABASE_DAYS):
                _remove(entry.path)


def _age(entry: os.DirEntry[str], now: float) -> float:
    try:
        return now - entry.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _day(rest: str) -> date:
    """The day a file's name gives after its database (far past for a name that is not ours)."""
    try:
        return date.fromisoformat(rest.partition(".")[0])
    except ValueError:
        return date.min + timedelta(days=OTHER_DATABASE_DAYS + 1)


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
