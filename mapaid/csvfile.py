"""CSV files a spreadsheet opens without running anything, and that ``mapaid import`` reads back exactly.

Coordinators open exports in spreadsheets, and a cell starting with ``=``, ``+``, ``-``, ``@``, tab or CR
is taken as a formula there (``=HYPERLINK(...)`` in a post's text or a district name from OpenStreetMap).
As OWASP's CSV-injection guidance says, such a cell gets a leading single quote, which spreadsheets show
as text. The rule is made reversible so a round trip keeps every text as it was:

- writing prefixes ``'`` to a value matching ``^'*[=+\\-@\\t\\r]`` (so ``'=x`` becomes ``''=x``);
- reading strips one leading ``'`` from a value matching ``^'+[=+\\-@\\t\\r]``.

A value the writer leaves alone never matches the reader's pattern, and a prefixed one always does, so
``read(write(x)) == x`` for every text. Rows end in CRLF (RFC 4180), which also makes the CSV writer
quote a field holding a bare CR, which it would otherwise write as it is, breaking the row.

Files start with a UTF-8 byte-order mark (``MAPAID_CSV_BOM``, on by default): without one, Excel and
LibreOffice take a CSV for the local 8-bit code page and show Cyrillic as mojibake. GDAL, pandas and
``mapaid import`` skip it.
"""

from __future__ import annotations

import pandas as pd

WRITE_PATTERN = r"^'*[=+\-@\t\r]"
READ_PATTERN = r"^'+[=+\-@\t\r]"


def _texts(values: pd.Series) -> pd.Series:
    """True where the value is a string (a column of text may hold None, or dates as objects)."""
    if pd.api.types.is_string_dtype(values.dtype) and values.dtype != object:
        return values.notna()
    return values.map(lambda v: isinstance(v, str)).astype(bool)


def neutralise(values: pd.Series) -> pd.Series:
    """The column with ``'`` before each text a spreadsheet would read as a formula."""
    if values.dtype != object and not pd.api.types.is_string_dtype(values.dtype):
        return values
    texts = _texts(values)
    if not texts.any():
        return values
    hits = pd.Series(False, index=values.index)
    hits[texts] = values[texts].astype(str).str.match(WRITE_PATTERN).fillna(False).astype(bool)
    if not hits.any():
        return values
    out = values.astype(object).copy()
    out[hits] = "'" + values[hits].astype(str)
    return out


def restore(values: pd.Series) -> pd.Series:
    """A column read from CSV (text, '' where empty) with the writer's ``'`` taken off again."""
    hits = values.str.match(READ_PATTERN).fillna(False).astype(bool)
    if not hits.any():
        return values
    return values.where(~hits, values.str.slice(1))


BOM = "\ufeff".encode()


def to_csv(frame: pd.DataFrame, float_format: str, bom: bool = True) -> bytes:
    """``frame`` as UTF-8 CSV with every text column neutralised and CRLF row ends, after a byte-order
    mark unless ``bom`` is false."""
    safe = frame.copy()
    for column in safe.columns:
        safe[column] = neutralise(frame[column])
    text = safe.to_csv(index=False, float_format=float_format, lineterminator="\r\n").encode()
    return BOM + text if bom else text
