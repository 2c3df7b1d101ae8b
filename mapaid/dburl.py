"""What ``MAPAID_DATABASE`` names: a SQLite file or a PostgreSQL database, told apart by the value alone.

Accepted: a ``postgresql://`` (or ``postgres://``) URL, a ``sqlite:///`` URL (SQLAlchemy's form: the path
follows the third slash, so ``sqlite:////srv/mapaid.sqlite3`` is absolute and ``sqlite:///mapaid.sqlite3``
relative) or a plain path. Any other ``scheme://`` is refused, never taken for a file name: a typo in the
setting would otherwise create a SQLite file called ``mysql:`` and run on it without a word.

A ``sqlite:///`` URL may end in ``?timeout=SECONDS`` (the name Python's ``sqlite3.connect`` and SQLAlchemy
use): how long a statement waits for a lock another connection holds, a write for the one writer's slot
included, before it fails. Without it a statement waits 5 s and a write 30 s. Any other query parameter is
refused, for the same reason as an unknown scheme.

A URL may carry a password; ``redact`` is the only form of it that goes into a message, a log or the
output of a command.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, urlsplit, urlunsplit

ACCEPTED = "a postgresql:// (or postgres://) URL, a sqlite:/// URL or the path of a SQLite file"
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
POSTGRES_SCHEMES = ("postgresql", "postgres")


class DatabaseSettingError(ValueError):
    """The database setting names a kind of database mapaid cannot use; the message says which it can."""


@dataclass(frozen=True)
class Database:
    """A parsed setting: which store and where (the file's path, or the URL as given)."""

    kind: Literal["sqlite", "postgresql"]
    target: str
    timeout: float | None = None  # SQLite: seconds a statement waits for a lock (None: the store's own)

    @property
    def path(self) -> Path:
        return Path(self.target)


def parse(value: str | Path) -> Database:
    """Which store ``value`` names; ``DatabaseSettingError`` for anything else."""
    if isinstance(value, Path):
        return Database("sqlite", str(value))
    text = value.strip()
    if not text:
        raise DatabaseSettingError(f"the database setting is empty; give {ACCEPTED}")
    found = _SCHEME.match(text)
    if found is None:
        return Database("sqlite", text)
    scheme = found.group(1).lower()
    if scheme in POSTGRES_SCHEMES:
        return Database("postgresql", text)
    if scheme == "sqlite":
        path = text[len("sqlite:///") :] if text.lower().startswith("sqlite:///") else ""
        path, _, query = path.partition("?")
        if not path:
            raise DatabaseSettingError(f"{redact(text)} names no file; write sqlite:///PATH")
        return Database("sqlite", path, _timeout(query))
    raise DatabaseSettingError(f"mapaid cannot use a {scheme}:// database; MAPAID_DATABASE takes {ACCEPTED}")


_MAX_TIMEOUT_S = 3600.0


def _timeout(query: str) -> float | None:
    """``timeout=SECONDS`` from a sqlite:/// URL's query, the one parameter it takes."""
    if not query:
        return None
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        pairs = [("", query)]
    unknown = sorted({key for key, _ in pairs if key != "timeout"})
    if unknown:
        raise DatabaseSettingError(
            f"a sqlite:/// URL takes one parameter, timeout=SECONDS; not {', '.join(map(repr, unknown))}"
        )
    value = pairs[-1][1]
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= _MAX_TIMEOUT_S:  # NaN fails this too
        raise DatabaseSettingError(
            f"timeout={value!r} in the sqlite:/// URL is not a number of seconds"
            f" from 0 to {_MAX_TIMEOUT_S:.0f}"
        )
    return seconds


def redact(value: str | Path) -> str:
    """``value`` fit to show: a URL's password (in the address or as ``?password=``) replaced by ``***``;
    the user, host and database stay, they say which database is meant."""
    text = str(value)
    found = _SCHEME.match(text)
    if found is None:
        return text
    try:
        parts = urlsplit(text)
        password = parts.password
    except ValueError:  # not a URL we can take apart: show its scheme only
        return f"{found.group(0)}***"
    if password is not None:
        host = parts.netloc.rsplit("@", 1)[-1]
        parts = parts._replace(netloc=f"{parts.username or ''}:***@{host}")
    query = _QUERY_PASSWORD.sub(r"\1***", parts.query)
    return urlunsplit(parts._replace(query=query))


_QUERY_PASSWORD = re.compile(r"((?:^|&)password=)[^&]*", re.IGNORECASE)
