"""Read CSV, GeoJSON and GeoPackage files of offers and needs into frames for ``intake.validate_frame``.

Our own exports read back as they were: a ``cell`` column is taken instead of the shown position (which
only says where in the cell a post is drawn), and ``created``, ``expires`` (a date) and ``status`` are kept,
so ``mapaid export`` then ``mapaid import`` into a fresh instance gives the same posts (new ids).

Reading problems (not UTF-8, broken quoting, not a FeatureCollection, an empty file) are reported like
row problems, with the line or feature, so the person fixing the file sees one kind of message.
"""

from __future__ import annotations

import csv
import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import overload

import numpy as np
import pandas as pd
import pyogrio

from mapaid import csvfile
from mapaid.geo import WGS84
from mapaid.intake import IntakeError, Problem

CSV_REQUIRED = ("lat", "lon", "kind", "category", "text")
CSV_OPTIONAL = ("expires", "contact", "cell", "created", "status")
PROPERTIES = ("kind", "category", "text", "contact", "expires", "cell", "created", "status")


def read_csv(path: Path) -> tuple[pd.DataFrame, Sequence[str]]:
    """The rows as text columns and, per row, where it stands in the file ('line N')."""
    try:
        with warnings.catch_warnings():
            # A first row longer than the header would silently become an index; make pandas say so.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(
                path,
                dtype=str,
                keep_default_na=False,
                skip_blank_lines=False,
                encoding="utf-8-sig",  # our exports start with a byte-order mark (csvfile)
                index_col=False,
            )
    except pd.errors.EmptyDataError:
        raise IntakeError([Problem("", "file", f"{path.name} is empty")]) from None
    except UnicodeDecodeError:
        raise IntakeError([Problem("", "file", f"{path.name} is not UTF-8 text")]) from None
    except (pd.errors.ParserError, pd.errors.ParserWarning):
        raise IntakeError([_locate_csv_error(path)]) from None
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    frame = frame[[c for c in frame.columns if c in (*CSV_REQUIRED, *CSV_OPTIONAL)]]
    for column in frame.columns:  # undo the quote our CSV exports put before formula-like text
        frame[column] = csvfile.restore(frame[column])
    missing = [c for c in CSV_REQUIRED if c not in frame.columns]
    if missing:
        raise IntakeError(
            [
                Problem(
                    "line 1",
                    "file",
                    f"missing column(s): {', '.join(missing)}; "
                    f"the header must name {', '.join(CSV_REQUIRED)}",
                )
            ]
        )
    # A quoted field may span lines; count them so messages point at the line a text editor shows.
    newlines = np.zeros(len(frame), dtype=np.int64)
    if _line_count(path) > len(frame) + 1:  # some field holds a line break (cheap to rule out)
        for column in frame.columns:
            newlines += frame[column].str.count("\n").to_numpy(dtype=np.int64)
    first_line = 2 + np.arange(len(frame)) + np.concatenate(([0], np.cumsum(newlines)[:-1]))
    blank = (frame == "").all(axis=1).to_numpy()
    frame = frame[~blank]
    if frame.empty:
        raise IntakeError([Problem("", "file", f"{path.name} has a header but no rows")])
    return frame, Lines(first_line[~blank])


class Lines(Sequence[str]):
    """'line N' for each row, made only for the rows a message is about."""

    def __init__(self, numbers: np.ndarray) -> None:
        self.numbers = numbers

    def __len__(self) -> int:
        return len(self.numbers)

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[str]: ...
    def __getitem__(self, i: int | slice) -> str | Sequence[str]:
        if isinstance(i, slice):
            return [f"line {n}" for n in self.numbers[i].tolist()]
        return f"line {int(self.numbers[i])}"


def _line_count(path: Path) -> int:
    """Lines in the file, counting a last line without a line break."""
    count, last = 0, b"\n"
    with path.open("rb") as handle:
        while block := handle.read(1 << 22):
            count += block.count(b"\n")
            last = block[-1:]
    return count + (last != b"\n")


def _locate_csv_error(path: Path) -> Problem:
    """pandas says little about where CSV breaks; the csv module, slower, knows the line."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle, strict=True)
        width = None
        start = 1
        try:
            for row in reader:
                if width is None:
                    width = len(row)
                elif row and len(row) != width:
                    return Problem(
                        f"line {reader.line_num}",
                        "file",
                        f"expected {width} fields like the header, found {len(row)}",
                    )
                start = reader.line_num + 1
        except csv.Error as exc:
            return Problem(f"line {start}", "file", f"broken CSV ({exc}); is a quote left open?")
    return Problem("", "file", f"{path.name} is not valid CSV")


def read_geojson(path: Path) -> tuple[pd.DataFrame, list[str]]:
    """Point features of a FeatureCollection (RFC 7946, lon/lat) as rows; properties as columns."""
    try:
        data = json.loads(path.read_bytes())
    except UnicodeDecodeError:
        raise IntakeError([Problem("", "file", f"{path.name} is not UTF-8 text")]) from None
    except json.JSONDecodeError as exc:
        message = (
            "is empty"
            if not exc.doc.strip()
            else f"is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        )
        raise IntakeError([Problem("", "file", f"{path.name} {message}")]) from None
    if (
        not isinstance(data, dict)
        or data.get("type") != "FeatureCollection"
        or not isinstance(data.get("features"), list)
    ):
        raise IntakeError([Problem("", "file", f"{path.name} is not a GeoJSON FeatureCollection")])
    crs = (data.get("crs") or {}).get("properties", {}).get("name", "")
    if crs and not str(crs).upper().endswith(("CRS84", "4326")):
        raise IntakeError([Problem("", "file", f"{path.name} is in {crs}; GeoJSON must be WGS 84 lon/lat")])
    if not data["features"]:
        raise IntakeError([Problem("", "file", f"{path.name} has no features")])
    rows, where, problems = [], [], []
    for n, feature in enumerate(data["features"], start=1):
        label = f"feature {n}"
        geometry = feature.get("geometry") if isinstance(feature, dict) else None
        coords = geometry.get("coordinates") if isinstance(geometry, dict) else None
        if (
            not isinstance(geometry, dict)
            or geometry.get("type") != "Point"
            or not isinstance(coords, list)
            or len(coords) < 2
        ):
            problems.append(Problem(label, "geometry", "geometry must be a Point with lon and lat"))
            continue
        props = feature.get("properties") or {}
        if not isinstance(props, dict):
            problems.append(Problem(label, "properties", "properties must be an object"))
            continue
        row = {k: props.get(k) for k in PROPERTIES}
        # As text, so NaN and Infinity (which Python's JSON reader lets through) are named as such.
        row["lon"], row["lat"] = (None if c is None else str(c) for c in coords[:2])
        rows.append(row)
        where.append(label)
    if problems:
        raise IntakeError(problems)
    return pd.DataFrame(rows, dtype=object), where


def _gpkg_layer(path: Path) -> str:
    """The layer to import: ``posts`` (as our exports name it), or the file's only layer."""
    try:
        layers = [str(name) for name, _ in pyogrio.list_layers(path)]
    except pyogrio.errors.DataSourceError:
        raise IntakeError([Problem("", "file", f"{path.name} is not a GeoPackage")]) from None
    if "posts" in layers or len(layers) == 1:
        return "posts" if "posts" in layers else layers[0]
    raise IntakeError(
        [Problem("", "file", f"{path.name} has layers {', '.join(layers)}; name the one to import posts")]
    )


def read_gpkg(path: Path) -> tuple[pd.DataFrame, list[str]]:
    """Point features of a GeoPackage layer (any CRS, reprojected to lon/lat); fields as columns."""
    frame = pyogrio.read_dataframe(path, layer=_gpkg_layer(path))
    if frame.crs is not None and not frame.crs.equals(WGS84):
        frame = frame.to_crs(WGS84)
    where = [f"feature {n}" for n in range(1, len(frame) + 1)]
    points = frame.geometry.geom_type.eq("Point").to_numpy() & ~frame.geometry.is_empty.to_numpy()
    if not points.all():
        raise IntakeError(
            [
                Problem(where[i], "geometry", "geometry must be a Point with lon and lat")
                for i in np.flatnonzero(~points).tolist()
            ]
        )
    if frame.empty:
        raise IntakeError([Problem("", "file", f"{path.name} has no features")])
    rows = pd.DataFrame(index=frame.index, dtype=object)
    for name in PROPERTIES:
        if name in frame.columns:
            rows[name] = _as_text(frame[name])
    rows["lon"] = frame.geometry.x.astype(str)
    rows["lat"] = frame.geometry.y.astype(str)
    return rows.reset_index(drop=True), where


def _as_text(values: pd.Series) -> pd.Series:
    """A field as text for the intake: dates as YYYY-MM-DD (a GeoPackage Date), None where null."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        text = values.dt.strftime("%Y-%m-%d")
    else:
        text = values.astype(object).where(values.notna(), None).map(lambda v: v if v is None else str(v))
    out: pd.Series = text.astype(object).where(text.notna(), None)
    return out


def read_any(path: Path) -> tuple[pd.DataFrame, Sequence[str]]:
    """By extension: .csv, .geojson/.json or .gpkg."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return read_csv(path)
    if suffix in (".geojson", ".json"):
        return read_geojson(path)
    if suffix == ".gpkg":
        return read_gpkg(path)
    hint = "use a .csv or .geojson file, or a GeoPackage (.gpkg)"
    raise IntakeError([Problem("", "file", f"cannot import {path.name}: {hint}")])
