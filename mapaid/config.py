"""Settings and their documentation, read from the environment.

Every setting has a default that works for a local Minsk instance. The README's table of settings is
checked against ``SETTINGS`` by a test, so a setting cannot be added here without being documented there.
This module does no I/O; ``load_settings`` only reads ``os.environ``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from mapaid import dburl

PACKAGE_DIR = Path(__file__).resolve().parent
# The project runs from its checkout (``pip install -e .``), so shipped data lives beside the package.
SHIPPED_GEODATA = PACKAGE_DIR.parent / "geodata"
DEFAULT_DISTRICTS = SHIPPED_GEODATA / "minsk-districts.geojson"
# Named places (mapaid.places) for the shipped Minsk districts: metro first (its names in three languages
# are the best), then the city-wide streets, then everything named in the two OSM extracts.
DEFAULT_PLACES = tuple(
    SHIPPED_GEODATA / name
    for name in (
        "minsk-metro4all/stations.csv",
        "minsk-metro4all/portals.csv",
        "minsk-streets/be-tarask.json",
        "minsk-pass.osm.bz2",
        "minsk-kovalskaya-sloboda.osm.bz2",
    )
)
DEFAULT_BASEMAP = SHIPPED_GEODATA / "minsk-basemap.json"

DEFAULT_CATEGORIES = (
    "food",
    "medicine",
    "transport",
    "childcare",
    "shelter",
    "legal",
    "tech",
    "other",
)


@dataclass(frozen=True)
class Setting:
    """One environment variable: its name, what it means and its default (as text)."""

    env: str
    key: str
    default: str
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "MAPAID_INSTANCE",
        "INSTANCE_DIR",
        "instance",
        "Folder for the database and the generated secret key.",
    ),
    Setting(
        "MAPAID_DATABASE",
        "DATABASE",
        "<instance>/mapaid.sqlite3",
        "The database: a SQLite file's path (or `sqlite:///PATH`), or a PostGIS database's "
        "`postgresql://user:password@host/dbname` URL (docs/deploy.md). Other kinds are refused.",
    ),
    Setting(
        "MAPAID_SECRET_KEY",
        "SECRET_KEY",
        "<generated into instance/secret_key>",
        "Server secret: signs sessions and keys the hash that places posts inside their cell.",
    ),
    Setting(
        "MAPAID_CELL_RES",
        "CELL_RES",
        "9",
        "H3 resolution posts are coarsened to (9: ~0.1 km² cells; 8: ~0.74 km²).",
    ),
    Setting(
        "MAPAID_DISTRICTS",
        "DISTRICTS",
        "the shipped Minsk districts",
        "District polygons loaded by `mapaid init-db` into an empty database.",
    ),
    Setting(
        "MAPAID_PLACES",
        "PLACES",
        "the shipped Minsk places, with the shipped districts",
        "Comma-separated places files (OSM, CSV, GeoJSON) `mapaid init-db` loads when no place is loaded.",
    ),
    Setting(
        "MAPAID_CATEGORIES",
        "CATEGORIES",
        ",".join(DEFAULT_CATEGORIES),
        "Comma-separated list of post categories.",
    ),
    Setting(
        "MAPAID_DEFAULT_EXPIRES_DAYS",
        "DEFAULT_EXPIRES_DAYS",
        "14",
        "Days a post stays up when the poster does not say.",
    ),
    Setting("MAPAID_MAX_EXPIRES_DAYS", "MAX_EXPIRES_DAYS", "60", "Longest a post may stay up, in days."),
    Setting(
        "MAPAID_TILES",
        "TILES",
        "",
        "Optional raster tile URL template ({z}/{x}/{y}); none by default, the map draws our own data.",
    ),
    Setting(
        "MAPAID_TILES_ATTRIBUTION",
        "TILES_ATTRIBUTION",
        "",
        "Attribution shown under the tiles of MAPAID_TILES.",
    ),
    Setting(
        "MAPAID_BASEMAP",
        "BASEMAP",
        "the shipped Minsk streets and metro",
        "Street and metro layer the maps draw (`mapaid basemap build` makes one); `none` draws none.",
    ),
    Setting(
        "MAPAID_SECURE_COOKIES",
        "SECURE_COOKIES",
        "",
        "Set to 1 when served over HTTPS: session cookies get the Secure flag.",
    ),
    Setting(
        "MAPAID_POST_LIMIT",
        "POST_LIMIT",
        "5 per minute;30 per day",
        "Posts one client (a keyed hash of its address) may make, form and API together; more get 429.",
    ),
    Setting(
        "MAPAID_POST_LIMIT_TOTAL",
        "POST_LIMIT_TOTAL",
        "600 per minute",
        "Posts the whole site takes, from everyone together; a flood from many addresses stops there.",
    ),
    Setting(
        "MAPAID_WRITE_LIMIT",
        "WRITE_LIMIT",
        "60 per minute",
        "Other writes one client may make: private-link and API fulfil/extend/edit/delete, coordinators'"
        " moderation.",
    ),
    Setting(
        "MAPAID_READ_LIMIT",
        "READ_LIMIT",
        "300 per 10 seconds;1200 per minute",
        "Requests under /export/ and /ogcapi one client may make; more get 429 (other reads are not"
        " limited).",
    ),
    Setting(
        "MAPAID_TRUSTED_PROXIES",
        "TRUSTED_PROXIES",
        "0",
        "Reverse proxies in front of the app; their X-Forwarded-For/-Proto/-Host are believed (0: none).",
    ),
    Setting(
        "MAPAID_REPLY_START_LIMIT",
        "REPLY_START_LIMIT",
        "3 per day",
        "Private conversations one client may start with one post (besides MAPAID_POST_LIMIT); more get 429.",
    ),
    Setting(
        "MAPAID_REPLY_MAX_CHARS",
        "REPLY_MAX_CHARS",
        "1000",
        "Longest private reply, in characters (the server checks the encrypted size against it).",
    ),
    Setting(
        "MAPAID_REPLY_MAX_MESSAGES",
        "REPLY_MAX_MESSAGES",
        "50",
        "Messages one private conversation may hold, both sides together.",
    ),
    Setting(
        "MAPAID_REPLY_MAX_THREADS",
        "REPLY_MAX_THREADS",
        "100",
        "Private conversations one post may have.",
    ),
    Setting(
        "MAPAID_SESSION_HOURS",
        "SESSION_HOURS",
        "12",
        "A coordinator's login lasts at most this many hours, however busy.",
    ),
    Setting(
        "MAPAID_SESSION_IDLE_MINUTES",
        "SESSION_IDLE_MINUTES",
        "60",
        "A coordinator's login ends after this many minutes without a request.",
    ),
    Setting(
        "MAPAID_PUBLISH_MINUTES",
        "PUBLISH_MINUTES",
        "30",
        "New posts, edits and extensions become public together, at one secret moment in each window of "
        "this many minutes (0: at once; decimals allowed; at most 1440).",
    ),
    Setting(
        "MAPAID_AUDIT_DAYS",
        "AUDIT_DAYS",
        "90",
        "Days the coordinators' audit trail keeps an action (kept to the day), then it is deleted.",
    ),
    Setting(
        "MAPAID_EXPORT_BUILDS",
        "EXPORT_BUILDS",
        "2",
        "Exports each server process builds at once, per kind (files of the export cache; filtered exports"
        " and OGC API item pages); as many more may wait for a file being built. Beyond: 503 with"
        " Retry-After. Files already built are always served.",
    ),
    Setting(
        "MAPAID_CSV_BOM",
        "CSV_BOM",
        "1",
        "CSV exports start with a UTF-8 byte-order mark, so spreadsheets read Cyrillic; 0 leaves it out.",
    ),
    Setting(
        "MAPAID_ACCESS_LOG",
        "ACCESS_LOG",
        "off",
        "What `mapaid serve` logs of answered requests: `off` (a line per 5xx answer only), `hourly` (counts"
        " per hour, route pattern and status class) or `requests` (a line per request); never an address.",
    ),
    Setting(
        "MAPAID_BASE_URL",
        "BASE_URL",
        "",
        "The site's public address (`https://mapaid.example.org`); every absolute URL in an answer uses it"
        " instead of the request's Host header.",
    ),
)


MAX_TRUSTED_PROXIES = 5
ACCESS_LOGS = ("off", "hourly", "requests")  # MAPAID_ACCESS_LOG's values (mapaid.logs)
_OFF = ("", "0", "false", "no", "off")


@dataclass(frozen=True)
class Settings:
    """Typed view of every setting, the one place the app, its views and the CLI read them from
    (``mapaid.db.settings()`` in a request; ``cli_settings()`` in a command). No module reads
    ``app.config`` for a setting (tests/test_settings_one_place.py checks).

    The rate limits stay text here ("" for the shipped default): mapaid.limits checks and applies them."""

    database: str  # a SQLite path or a postgresql:// URL (mapaid.dburl); show it as ``database_shown``
    instance_dir: Path
    secret_key: str
    cell_res: int
    districts: Path
    places: tuple[Path, ...] = ()
    categories: tuple[str, ...] = DEFAULT_CATEGORIES
    default_expires_days: int = 14
    max_expires_days: int = 60
    session_hours: int = 12
    session_idle_minutes: int = 60
    tiles: str | None = None  # a raster tile URL template; None: our own data only
    tiles_attribution: str | None = None
    basemap: Path | None = DEFAULT_BASEMAP  # the street and metro layer; None: switched off
    secure_cookies: bool = False
    trusted_proxies: int = 0
    post_limit: str = ""
    post_limit_total: str = ""
    write_limit: str = ""
    read_limit: str = ""
    reply_start_limit: str = ""
    reply_max_chars: int = 1000
    reply_max_messages: int = 50
    reply_max_threads: int = 100
    csv_bom: bool = True
    publish_minutes: float = 30.0  # the publication round's window (mapaid/rounds.py); 0: publish at once
    audit_days: int = 90
    access_log: str = "off"  # one of ACCESS_LOGS
    base_url: str | None = None  # scheme://host[:port][/path], no trailing slash; None: from the request
    export_builds: int = 2

    @property
    def database_shown(self) -> str:
        """The database setting fit for output and logs: a URL's password replaced by ``***``."""
        return dburl.redact(self.database)


SecretLoader = Callable[[Path], str]


class ConfigError(ValueError):
    """A setting has a value we cannot use; the message names the variable."""


def _int_setting(name: str, raw: object, low: int, high: int) -> int:
    try:
        value = int(str(raw))
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, not {value}")
    return value


MAX_PUBLISH_MINUTES = 1440
MIN_PUBLISH_MINUTES = 0.01  # 0.6 s: shorter windows are not rounds any more, only work


def _minutes(name: str, raw: object) -> float:
    """A window in minutes: 0 (none), or a decimal number from ``MIN_PUBLISH_MINUTES`` to a day."""
    text = str(raw).strip()
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{name} must be a number of minutes (such as 30 or 0.5), not {raw!r}") from None
    if not math.isfinite(value) or value < 0:
        raise ConfigError(f"{name} must be 0 (publish at once) or a positive number of minutes, not {raw!r}")
    if value > MAX_PUBLISH_MINUTES:
        raise ConfigError(f"{name} must be at most {MAX_PUBLISH_MINUTES} minutes (a day), not {raw!r}")
    if 0 < value < MIN_PUBLISH_MINUTES:
        raise ConfigError(
            f"{name} must be 0 (publish at once) or at least {MIN_PUBLISH_MINUTES} minutes, not {raw!r}"
        )
    return value


def _flag(name: str, raw: object) -> bool:
    value = str(raw).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be 1 or 0, not {raw!r}")


def _places(raw: object, districts: Path) -> tuple[Path, ...]:
    """MAPAID_PLACES, or the shipped Minsk places when the districts are the shipped Minsk ones (another
    city gets none unless it names its own files)."""
    if raw is None:
        return DEFAULT_PLACES if districts.resolve() == DEFAULT_DISTRICTS else ()
    if isinstance(raw, str):
        return tuple(Path(p.strip()) for p in raw.split(",") if p.strip())
    return tuple(Path(str(p)) for p in raw)  # type: ignore[attr-defined]


def _text(raw: object) -> str | None:
    """An optional text setting: None when absent or blank."""
    text = "" if raw is None else str(raw).strip()
    return text or None


def _basemap(raw: object) -> Path | None:
    """MAPAID_BASEMAP: a layer file, ``none`` to draw none, the shipped Minsk layer when unset."""
    text = _text(raw)
    if text is None:
        return DEFAULT_BASEMAP
    return None if text.lower() == "none" else Path(text)


def _access_log(raw: object) -> str:
    value = str(raw).strip().lower() or "off"
    if value not in ACCESS_LOGS:
        raise ConfigError(f"MAPAID_ACCESS_LOG must be one of {', '.join(ACCESS_LOGS)}, not {raw!r}")
    return value


def _base_url(raw: object) -> str | None:
    """MAPAID_BASE_URL: an http(s) address with a host and at most a port and a path (no query, fragment,
    user or password), kept without its trailing slash; None when unset."""
    text = _text(raw)
    if text is None:
        return None
    parts = urlsplit(text)
    try:
        port_ok = parts.port != 0
    except ValueError:  # not a number, or out of range
        port_ok = False
    plain = not any(c.isspace() or c in "?#@\\\"'<>" for c in text)
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok or not plain:
        raise ConfigError(
            f"MAPAID_BASE_URL must be the site's address, like https://mapaid.example.org, not {raw!r}"
        )
    return text.rstrip("/")


def environ_overrides(environ: Mapping[str, str] | None = None) -> dict[str, object]:
    """The settings present in the environment, keyed like Flask config (``CELL_RES`` ...)."""
    env = os.environ if environ is None else environ
    return {s.key: env[s.env] for s in SETTINGS if env.get(s.env, "") != ""}


def resolve(overrides: Mapping[str, object], secret_loader: SecretLoader | None = None) -> Settings:
    """Turn raw overrides into checked settings; the secret is loaded (or made) only when missing."""
    instance = Path(str(overrides.get("INSTANCE_DIR", "instance")))
    database = str(overrides.get("DATABASE", instance / "mapaid.sqlite3"))
    try:
        dburl.parse(database)
    except dburl.DatabaseSettingError as exc:
        raise ConfigError(str(exc)) from None
    secret = overrides.get("SECRET_KEY")
    if not secret:
        loader = secret_loader or default_secret_loader
        secret = loader(instance)
    categories_raw = overrides.get("CATEGORIES", DEFAULT_CATEGORIES)
    if isinstance(categories_raw, str):
        categories = tuple(c.strip().lower() for c in categories_raw.split(",") if c.strip())
    else:
        categories = tuple(str(c) for c in categories_raw)  # type: ignore[attr-defined]
    if not categories:
        raise ConfigError("MAPAID_CATEGORIES must name at least one category")
    districts = Path(str(overrides.get("DISTRICTS", DEFAULT_DISTRICTS)))
    max_days = _int_setting("MAPAID_MAX_EXPIRES_DAYS", overrides.get("MAX_EXPIRES_DAYS", 60), 1, 366)
    return Settings(
        database=database,
        instance_dir=instance,
        secret_key=str(secret),
        cell_res=_int_setting("MAPAID_CELL_RES", overrides.get("CELL_RES", 9), 5, 11),
        districts=districts,
        places=_places(overrides.get("PLACES"), districts),
        categories=categories,
        default_expires_days=_int_setting(
            "MAPAID_DEFAULT_EXPIRES_DAYS", overrides.get("DEFAULT_EXPIRES_DAYS", 14), 1, max_days
        ),
        max_expires_days=max_days,
        session_hours=_int_setting("MAPAID_SESSION_HOURS", overrides.get("SESSION_HOURS", 12), 1, 24 * 30),
        session_idle_minutes=_int_setting(
            "MAPAID_SESSION_IDLE_MINUTES", overrides.get("SESSION_IDLE_MINUTES", 60), 1, 24 * 60 * 30
        ),
        tiles=_text(overrides.get("TILES")),
        tiles_attribution=_text(overrides.get("TILES_ATTRIBUTION")),
        basemap=_basemap(overrides.get("BASEMAP")),
        secure_cookies=str(overrides.get("SECURE_COOKIES") or "").strip().lower() not in _OFF,
        trusted_proxies=_int_setting(
            "MAPAID_TRUSTED_PROXIES", overrides.get("TRUSTED_PROXIES") or 0, 0, MAX_TRUSTED_PROXIES
        ),
        post_limit=_text(overrides.get("POST_LIMIT")) or "",
        post_limit_total=_text(overrides.get("POST_LIMIT_TOTAL")) or "",
        write_limit=_text(overrides.get("WRITE_LIMIT")) or "",
        read_limit=_text(overrides.get("READ_LIMIT")) or "",
        reply_start_limit=_text(overrides.get("REPLY_START_LIMIT")) or "",
        reply_max_chars=_int_setting(
            "MAPAID_REPLY_MAX_CHARS", overrides.get("REPLY_MAX_CHARS", 1000), 1, 4000
        ),
        reply_max_messages=_int_setting(
            "MAPAID_REPLY_MAX_MESSAGES", overrides.get("REPLY_MAX_MESSAGES", 50), 1, 10_000
        ),
        reply_max_threads=_int_setting(
            "MAPAID_REPLY_MAX_THREADS", overrides.get("REPLY_MAX_THREADS", 100), 1, 100_000
        ),
        csv_bom=_flag("MAPAID_CSV_BOM", overrides.get("CSV_BOM", "1")),
        publish_minutes=_minutes("MAPAID_PUBLISH_MINUTES", overrides.get("PUBLISH_MINUTES", 30)),
        audit_days=_int_setting("MAPAID_AUDIT_DAYS", overrides.get("AUDIT_DAYS", 90), 1, 3660),
        access_log=_access_log(overrides.get("ACCESS_LOG", "off")),
        base_url=_base_url(overrides.get("BASE_URL")),
        export_builds=_int_setting("MAPAID_EXPORT_BUILDS", overrides.get("EXPORT_BUILDS", 2), 1, 64),
    )


def default_secret_loader(instance: Path) -> str:
    """Read ``instance/secret_key``, creating it (mode 600) on first use.

    This is the one place config touches the disk, and only when no secret was given. Several server
    processes may start at once on a fresh instance folder: the key is written whole to a file of its own
    and linked into place, which only one of them can do, so all of them read the same key, never a
    half-written one.
    """
    import secrets

    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(mode=0o700, parents=True, exist_ok=True)  # the key and the database: owner only
    key = secrets.token_hex(32)
    draft = instance / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(key + "\n")
        os.link(draft, path)
    except FileExistsError:  # another process made it first: theirs is the key
        return path.read_text().strip()
    finally:
        draft.unlink(missing_ok=True)
    return key


def journal_stream() -> tuple[int, int] | None:
    """systemd's ``JOURNAL_STREAM`` (``device:inode`` of the journal's stream, set for a service whose
    output goes to journald), not a setting of ours: mapaid.logs marks each line's priority for journald
    when standard error is that stream. None when unset or not in that form."""
    device, _, inode = os.environ.get("JOURNAL_STREAM", "").partition(":")
    try:
        return int(device), int(inode)
    except ValueError:
        return None


def load_settings(overrides: Mapping[str, object] | None = None) -> Settings:
    """Settings from the environment, with ``overrides`` (Flask-style keys) taking precedence."""
    merged: dict[str, object] = environ_overrides()
    merged.update(overrides or {})
    return resolve(merged)
