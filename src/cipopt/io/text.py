"""Reading untrusted text files as Excel and people write them, and parsing their cells."""

from __future__ import annotations

import csv
import io
import math
import re
from pathlib import Path

import pandas as pd

from cipopt.schema.problems import ProblemLog

_TRUE = {"true", "yes", "1", "y", "t"}
_FALSE = {"false", "no", "0", "n", "f"}
_MONEY = re.compile(r"^\(?-?\s*[£$€]?\s*-?[0-9][0-9,]*(\.[0-9]+)?\)?$")


def read_text(path: Path, label: str, log: ProblemLog) -> str | None:
    """UTF-8 (with or without BOM) or Windows-1252, as Excel writes CSV; None if unreadable."""
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        log.error(label, "is a folder, expected a file")
        return None
    except OSError as exc:
        log.error(label, f"cannot be read: {exc.strerror or exc}")
        return None
    if b"\x00" in data:
        log.error(label, "is not a text file (it holds binary data)")
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        log.error(label, "is neither UTF-8 nor Windows-1252 text")
        return None


def read_csv_table(text: str, label: str, log: ProblemLog) -> pd.DataFrame | None:
    """A table of stripped strings with spreadsheet row numbers as its index; blank rows dropped.

    A row longer than the header is refused (its cells would shift silently); a shorter one is
    padded, as spreadsheets drop trailing empty cells.
    """
    try:
        records = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        log.error(label, f"is not a well-formed CSV table ({exc})")
        return None
    if not records or not any(c.strip() for c in records[0]):
        log.error(label, "is empty: expected a header row")
        return None
    header = [c.strip() for c in records[0]]
    while header and header[-1] == "":
        header.pop()
    ok = True
    seen: set[str] = set()
    for c in header:
        if c == "":
            log.error(label, "a column has no name in the header", row=1)
            ok = False
        elif c in seen:
            log.error(label, f"column {c!r} appears twice in the header", row=1)
            ok = False
        seen.add(c)
    width = len(header)
    rows, index = [], []
    for number, record in enumerate(records[1:], start=2):
        cells = [c.strip() for c in record]
        if not any(cells):
            continue
        if len(cells) > width:
            if any(cells[width:]):
                log.error(label, f"has {len(cells)} cells but the header names {width} columns "
                                 "(a value with a comma needs quotes)", row=number)
                ok = False
                continue
            cells = cells[:width]
        rows.append(cells + [""] * (width - len(cells)))
        index.append(number)
    if not ok:
        return None
    return pd.DataFrame(rows, columns=header, index=pd.Index(index), dtype=object)


def parse_bool(raw: str) -> bool | None:
    v = raw.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    return None


def parse_number(raw: str) -> tuple[float | None, str | None]:
    """A number and, if it had to be read leniently (money, thousands, percent), a warning."""
    try:
        value = float(raw)
    except ValueError:
        value = None
    if value is not None:
        if math.isfinite(value):
            return value, None
        return None, None
    text = raw.strip()
    if text.endswith("%"):
        inner, _ = parse_number(text[:-1])
        if inner is not None:
            return inner / 100.0, f"percentage {raw!r} read as {inner / 100.0:g}"
        return None, None
    if _MONEY.match(text):
        negative = text.startswith("(") and text.endswith(")") or "-" in text
        digits = re.sub(r"[^0-9.]", "", text)
        try:
            value = float(digits)
        except ValueError:
            return None, None
        value = -value if negative else value
        return value, f"money written as {raw!r} read as {value:g}"
    return None, None


def number_column(
    frame: pd.DataFrame, column: str, label: str, log: ProblemLog, *, integer: bool = False
) -> pd.Series:
    """Parse one column to numbers (NaN where empty), logging each bad cell with its row."""
    raw = frame[column]
    values = pd.to_numeric(raw.where(raw != ""), errors="coerce")
    bad = values.isna() & (raw != "")
    for row in raw.index[bad.to_numpy()]:
        cell = raw.at[row]
        value, warning = parse_number(cell)
        if value is None:
            kind = "a whole number" if integer else "a number"
            log.error(label, f"{cell!r} is not {kind}", row=int(row), column=column)
            continue
        values.at[row] = value
        if warning:
            log.warn(label, warning, row=int(row), column=column)
    infinite = values.isin([math.inf, -math.inf])
    for row in values.index[infinite.to_numpy()]:
        log.error(label, f"{raw.at[row]!r} is not a finite number", row=int(row), column=column)
        values.at[row] = math.nan
    if integer:
        fractional = values.notna() & (values != values.round())
        for row in values.index[fractional.to_numpy()]:
            log.error(label, f"{raw.at[row]!r} is not a whole number", row=int(row), column=column)
            values.at[row] = math.nan
    return values


def bool_column(frame: pd.DataFrame, column: str, label: str, log: ProblemLog) -> pd.Series:
    out = {}
    for row, cell in frame[column].items():
        if cell == "":
            continue
        value = parse_bool(cell)
        if value is None:
            log.error(label, f"{cell!r} is not true/false (also yes/no, 1/0)", row=int(row), column=column)
        else:
            out[row] = value
    return pd.Series(out, dtype=object).reindex(frame.index)


def is_numeric_column(frame: pd.DataFrame, column: str) -> bool:
    raw = frame[column]
    filled = raw[raw != ""]
    if filled.empty:
        return False
    return bool(pd.to_numeric(filled, errors="coerce").notna().all())
