"""Raw input (CSV, GeoJSON, form, JSON) -> validated ``Submissions``. No geometry, no database.

Validation is vectorised over a data frame so a million-row import is checked in seconds, and every
problem is collected (with its line or feature and the field) rather than stopping at the first one.
Each problem's message is a ``mapaid.messages.Message``: English text (the CLI and the API show it as it
is) that keeps its msgid and parameters, so pages show it in the visitor's language.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import h3.api.basic_int as h3
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mapaid.config import Settings
from mapaid.messages import N_, Choices, Message, Param
from mapaid.models import MAX_CONTACT, MAX_TEXT, Kind, Status, Submissions

TEXT_FIELDS = ("kind", "category", "text", "contact", "expires")
FILE_FIELDS = ("created", "status")  # what an export says of a post, read back by ``mapaid import`` only
_CONTROL = r"[\x00-\x1f\x7f]"
_CONTROL_IN_TEXT = r"[\x00-\x08\x0b-\x1f\x7f]"  # tab and line feed are allowed in a post's text
_SURROGATE = re.compile("[\ud800-\udfff]")
_H3_HEX = re.compile(r"[0-9a-f]{1,16}")


def h3_cell(text: str) -> int | None:
    """The valid H3 cell that ``text`` (hex, any case, surrounding blanks ignored) names, else None.

    Only up to 16 hex digits: h3's C core takes 64-bit ids and raises on a longer number; and no ``0x``,
    sign or underscores, which Python's ``int(text, 16)`` would accept."""
    value = text.strip().lower()
    if not _H3_HEX.fullmatch(value):
        return None
    cell = int(value, 16)
    return cell if h3.is_valid_cell(cell) else None


@dataclass(frozen=True)
class Rules:
    """What valid input looks like for this instance."""

    categories: tuple[str, ...]
    cell_res: int
    today: date
    default_expires_days: int = 14
    max_expires_days: int = 60

    @classmethod
    def from_settings(cls, settings: Settings, today: date) -> Rules:
        """The rules for ``today``, the UTC day from the caller's clock (``mapaid.clock``)."""
        return cls(
            settings.categories,
            settings.cell_res,
            today,
            settings.default_expires_days,
            settings.max_expires_days,
        )


@dataclass(frozen=True)
class Problem:
    """One reason one input row was refused. ``where`` is 'line 7', 'feature 3' or '' for a single post.

    ``message`` is English; a ``Message`` (as intake's own are) can also be shown in a page's language;
    the importer's file-level messages, for the command line only, are plain text."""

    where: str
    field: str
    message: str

    def __str__(self) -> str:
        prefix = f"{self.where}: " if self.where else ""
        return f"{prefix}{self.message}"

    def order(self) -> int:
        """The line or feature number, for listing problems in file order."""
        digits = "".join(ch for ch in self.where if ch.isdigit())
        return int(digits) if digits else 0


@dataclass
class IntakeError(ValueError):
    """Input that cannot be taken as it is; ``problems`` lists every reason found."""

    problems: list[Problem] = field(default_factory=list)

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


def _no_errors(index: pd.Index) -> np.ndarray:
    """A column of per-row messages, '' where fine. A NumPy object array, not a Series: pandas turns a
    ``Message`` (a str) into plain text on some assignments, and the message would lose its msgid."""
    return np.full(len(index), "", dtype=object)


def _each(template: str, **columns: pd.Series | Param) -> np.ndarray:
    """One ``Message`` per row of the Series among ``columns`` (other values shared), for a masked
    assignment."""
    rows = [c.tolist() for c in columns.values() if isinstance(c, pd.Series)]
    out = np.empty(len(rows[0]), dtype=object)
    for i, values in enumerate(zip(*rows, strict=True)):
        it = iter(values)
        params = {k: next(it) if isinstance(v, pd.Series) else v for k, v in columns.items()}
        out[i] = Message(template, **params)
    return out


def _clean(values: pd.Series) -> pd.Series:
    """Text, with missing values as ''; CSV columns are text already and pass through cheaply."""
    if values.isna().any():
        values = values.where(values.notna(), "")
    return values.astype(str)


def _numbers(text: pd.Series) -> np.ndarray:
    """Floats from text, NaN where blank or not a number. Arrow parses a clean column in C; a column with
    any bad value falls back to pandas, which marks just those."""
    values = pa.array(text, from_pandas=True, type=pa.large_string())
    try:
        parsed = pc.cast(
            pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.large_string()), values), pa.float64()
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
    return np.asarray(parsed.to_numpy(zero_copy_only=False), dtype=np.float64)


def _coordinate(raw: pd.Series, name: str, limit: float) -> tuple[np.ndarray, np.ndarray]:
    """Parsed values and an error message per row ('' where fine)."""
    text = _clean(raw).str.strip()
    value = _numbers(text)
    error = _no_errors(raw.index)
    error[text == ""] = Message(N_("%(name)s is missing"), name=name)
    error[(text != "") & np.isnan(value)] = Message(N_("%(name)s is not a number"), name=name)
    finite = np.isfinite(value)
    error[~finite & ~np.isnan(value)] = Message(N_("%(name)s is not a finite number"), name=name)
    error[finite & (np.abs(np.where(finite, value, 0)) > limit)] = Message(
        N_("%(name)s is out of range (±%(limit)s)"), name=name, limit=f"{limit:g}"
    )
    return value, error


def _dates(text: pd.Series) -> pd.Series:
    """ISO dates (YYYY-MM-DD) as timestamps, NaT where blank or not such a date."""
    return pd.to_datetime(text.where(text != ""), format="%Y-%m-%d", errors="coerce")


def _expiry(raw: pd.Series, rules: Rules) -> tuple[np.ndarray, np.ndarray]:
    """Days until expiry from a number of days or an ISO date; the default where empty.

    A date may be today: a post on its last day is still up (the store shows posts until their expiry day
    has passed), so an export taken today imports today. A number of days is at least 1."""
    text = _clean(raw).str.strip()
    days = pd.Series(_numbers(text), index=text.index)
    as_date = _dates(text.where(days.isna(), ""))
    from_date = (as_date - pd.Timestamp(rules.today)).dt.days
    days = days.fillna(from_date)
    error = _no_errors(raw.index)
    bad_form = (text != "") & days.isna()
    error[bad_form] = Message(N_("expires must be a number of days or a date like 2026-12-31"))
    whole = days.notna() & (days == days.round())
    shortest = np.where(as_date.notna(), 0, 1)
    out_of_range = days.notna() & (~whole | (days < shortest) | (days > rules.max_expires_days))
    error[out_of_range] = Message(
        N_("expires must be between 1 and %(days)s days from today"), days=rules.max_expires_days
    )
    error[as_date.notna() & (days < 0)] = Message(N_("expires is a day that has passed"))
    days = days.where(text != "", rules.default_expires_days).fillna(rules.default_expires_days)
    return days.to_numpy(dtype=np.int64, na_value=0), error


def _created(raw: pd.Series, rules: Rules) -> tuple[list[date], np.ndarray]:
    """The day each post was made: today where not given (a form, the API, a plain import), else the
    date an export wrote, so a round trip keeps it. Not after today (so never after a valid expiry)."""
    text = _clean(raw).str.strip()
    as_date = _dates(text)
    error = _no_errors(raw.index)
    error[(text != "") & as_date.isna()] = Message(N_("created must be a date like 2026-11-28"))
    ago = (pd.Timestamp(rules.today) - as_date).dt.days.to_numpy(dtype=np.float64, na_value=np.nan)
    error[ago < 0] = Message(N_("created is a day still to come"))
    days = np.nan_to_num(ago, nan=0.0).astype(np.int64)
    day_of = {int(d): rules.today - timedelta(days=int(d)) for d in np.unique(days)}
    return [day_of[d] for d in days.tolist()], error


def _status(raw: pd.Series) -> tuple[list[str], np.ndarray]:
    """A post's status as an export wrote it (open where not given)."""
    text = _clean(raw).str.strip().str.lower()
    text = text.where(text != "", str(Status.OPEN))
    statuses = [s.value for s in Status]
    error = _no_errors(raw.index)
    bad = ~text.isin(statuses)
    error[bad] = _each(
        N_("unknown status %(value)s (use one of: %(choices)s)"),
        value=_clean(raw)[bad].str.slice(0, 20).map(repr),
        choices=", ".join(statuses),
    )
    return text.tolist(), error


def _cells(raw: pd.Series, rules: Rules) -> tuple[np.ndarray, np.ndarray]:
    text = _clean(raw).str.strip().str.lower()
    cells = np.full(len(text), -1, dtype=np.int64)
    error = _no_errors(raw.index)
    for i, value in enumerate(text.tolist()):
        if not value:
            continue
        cell = h3_cell(value)
        if cell is None:
            error[i] = Message(N_("cell %(value)s is not an H3 cell id"), value=repr(value[:20]))
        elif h3.get_resolution(cell) < rules.cell_res:
            error[i] = Message(
                N_("cell %(value)s is coarser than resolution %(res)s; pick a smaller hexagon"),
                value=value,
                res=rules.cell_res,
            )
        else:
            cells[i] = cell
    return cells, error


def _take_surrogates(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Rows per column whose value holds a lone surrogate, blanked in ``frame``.

    JSON's ``"\\ud800"`` escape makes such a string (from the API or a GeoJSON file); UTF-8 cannot encode
    it, so Arrow, SQLite and every page would fail on it. Only object columns are searched: text read
    from a UTF-8 file cannot hold one."""
    found: dict[str, np.ndarray] = {}
    for column in frame.columns:
        if frame[column].dtype != object:
            continue
        bad = np.fromiter(
            (isinstance(v, str) and _SURROGATE.search(v) is not None for v in frame[column].tolist()),
            dtype=bool,
            count=len(frame),
        )
        if bad.any():
            found[str(column)] = bad
            frame.loc[bad, column] = ""
    return found


def _text_errors(frame: pd.DataFrame, rules: Rules) -> dict[str, np.ndarray]:
    kind = frame["kind"].str.strip().str.lower()
    category = frame["category"].str.strip().str.lower()
    text = frame["text"].str.replace("\r\n?", "\n", regex=True).str.strip()
    contact = frame["contact"].str.strip()
    kinds = [k.value for k in Kind]
    errors = {name: _no_errors(frame.index) for name in ("kind", "category", "text", "contact")}
    bad = ~kind.isin(kinds)
    errors["kind"][bad] = _each(
        N_("unknown kind %(value)s (use offer or need)"), value=frame["kind"][bad].str.slice(0, 20).map(repr)
    )
    errors["kind"][kind == ""] = Message(N_("kind is missing (offer or need)"))
    bad = ~category.isin(rules.categories)
    errors["category"][bad] = _each(
        N_("unknown category %(value)s (use one of: %(choices)s)"),
        value=frame["category"][bad].str.slice(0, 20).map(repr),
        choices=Choices("category", rules.categories),
    )
    errors["category"][category == ""] = Message(N_("category is missing"))
    errors["text"][text.str.contains(_CONTROL_IN_TEXT, regex=True)] = Message(
        N_("text contains control characters; plain text, tabs and line breaks only")
    )
    errors["contact"][contact.str.contains(_CONTROL, regex=True)] = Message(
        N_("contact must be a single line of text")
    )
    length = text.str.len()
    long = length > MAX_TEXT
    errors["text"][long] = _each(
        N_("text is %(length)s characters long; at most %(limit)s"), length=length[long], limit=MAX_TEXT
    )
    errors["text"][length == 0] = Message(N_("text is empty"))
    clen = contact.str.len()
    long = clen > MAX_CONTACT
    errors["contact"][long] = _each(
        N_("contact is %(length)s characters long; at most %(limit)s"), length=clen[long], limit=MAX_CONTACT
    )
    frame["kind"], frame["category"], frame["text"], frame["contact"] = (
        kind,
        category,
        text,
        contact,
    )
    return errors


def validate_frame(
    frame: pd.DataFrame, where: Sequence[str], rules: Rules
) -> tuple[Submissions, list[Problem]]:
    """Check every row; returns the good rows as submissions and a problem per bad field.

    ``frame`` has columns kind, category, text and either lat/lon or cell (contact, expires optional).
    """
    frame = frame.reset_index(drop=True)
    for column in (*TEXT_FIELDS, *FILE_FIELDS, "lat", "lon", "cell"):
        if column not in frame.columns:
            frame[column] = ""
    surrogates = _take_surrogates(frame)
    for column in TEXT_FIELDS:
        frame[column] = _clean(frame[column])
    errors = _text_errors(frame, rules)
    cells, errors["cell"] = _cells(frame["cell"], rules)
    lat, errors["lat"] = _coordinate(frame["lat"], "lat", 90)
    lon, errors["lon"] = _coordinate(frame["lon"], "lon", 180)
    has_cell = cells >= 0
    errors["lat"][has_cell | (errors["cell"] != "")] = ""
    errors["lon"][has_cell | (errors["cell"] != "")] = ""
    days, errors["expires"] = _expiry(frame["expires"], rules)
    created, errors["created"] = _created(frame["created"], rules)
    status, errors["status"] = _status(frame["status"])
    for column, bad in surrogates.items():
        if column in errors:
            errors[column][bad] = Message(
                N_("%(name)s holds a lone surrogate (an unpaired \\ud800-\\udfff escape)"), name=column
            )
    problems = [
        Problem(where[i], name, message)
        for name, series in errors.items()
        for i, message in zip(np.flatnonzero(series != "").tolist(), series[series != ""], strict=True)
    ]
    problems.sort(key=lambda p: (p.order(), list(errors).index(p.field)))
    bad = np.zeros(len(frame), dtype=bool)
    for series in errors.values():
        bad |= series != ""
    good = np.flatnonzero(~bad)
    contact = frame["contact"].to_numpy(dtype=object)[good]
    subs = Submissions(
        kind=frame["kind"].to_numpy(dtype=object)[good].tolist(),
        category=frame["category"].to_numpy(dtype=object)[good].tolist(),
        text=frame["text"].to_numpy(dtype=object)[good].tolist(),
        contact=[c or None for c in contact.tolist()],
        expires_days=days[good].tolist(),
        lat=np.where(has_cell, np.nan, lat)[good],
        lon=np.where(has_cell, np.nan, lon)[good],
        cell=cells[good],
        source_line=good.tolist(),
        created_day=[created[i] for i in good.tolist()],
        status=[status[i] for i in good.tolist()],
    )
    return subs, problems


def validate_one(data: Mapping[str, object], rules: Rules) -> Submissions:
    """One post from a form or the JSON API; raises ``IntakeError`` naming the fields at fault."""
    unknown = set(data) - {*TEXT_FIELDS, "expires_days", "lat", "lon", "cell"}
    if unknown:
        name = sorted(unknown)[0]
        raise IntakeError([Problem("", name, Message(N_("unknown field %(name)s"), name=repr(name)))])
    row = {k: data.get(k) for k in (*TEXT_FIELDS, "lat", "lon", "cell")}
    if data.get("expires_days") is not None:
        row["expires"] = data["expires_days"]
    for name in ("kind", "category", "text", "contact", "cell", "expires"):
        value = row.get(name)
        if (value is not None and not isinstance(value, str | int)) or isinstance(value, bool):
            raise IntakeError([Problem("", name, Message(N_("%(name)s must be text"), name=name))])
    if row.get("cell") in (None, "") and (row.get("lat") in (None, "") or row.get("lon") in (None, "")):
        raise IntakeError([Problem("", "cell", Message(N_("say where: a cell id, or lat and lon")))])
    subs, problems = validate_frame(pd.DataFrame([row], dtype=object), [""], rules)
    if problems:
        raise IntakeError(problems)
    return subs
