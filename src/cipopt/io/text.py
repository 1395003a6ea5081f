"""Reading untrusted text files as Excel and people write them, and parsing their cells.

Everything here reports into a `ProblemLog` instead of raising: a file that cannot be read, a
cell that is not a number, a row with too many cells. Lenient readings (money written as
"£1,200", "12.5%", "2025/26" for a year, Windows-1252 text) are accepted with a warning that
says what was read, so that nobody is surprised by a number they did not write.

A table is read into a light `Table` (text cells by column, with spreadsheet row numbers), so
that `cipopt validate` needs no pandas; `read_csv_table` and the `*_column` functions give the
same as pandas objects to the readers that work on frames (plan.csv, actuals). Columns are parsed
with one fast pass over their cells; only the cells it refuses are looked at one by one.
"""

from __future__ import annotations

import csv
import errno
import io
import math
import os
import re
import stat
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cipopt.schema.problems import ProblemLog, show

if TYPE_CHECKING:  # pandas is imported only by the functions that give frames
    import pandas as pd

_TRUE = {"true", "yes", "1", "y", "t"}
_FALSE = {"false", "no", "0", "n", "f"}
_BOOLS = {**{v: True for v in _TRUE}, **{v: False for v in _FALSE}}
# Money as spreadsheets format it: optional sign or accounting brackets, a currency sign,
# digits grouped in threes by commas, optional decimals. "1,5" (a decimal comma) is refused.
_MONEY = re.compile(
    r"^(?P<open>\()?\s*(?P<sign>[-+])?\s*(?P<cur>[£$€])?\s*(?P<sign2>-)?\s*"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)\s*(?P<close>\))?$"
)
_FIN_YEAR = re.compile(r"^(?:FY\s*)?(\d{4})\s*[/-]\s*(\d{2}|\d{4})$", re.IGNORECASE)
# C0 control characters other than tab, line feed, carriage return (and form feed / vertical
# tab, which spreadsheets use for line breaks inside cells): text files never hold many of these.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")

_MAGIC = (
    (b"PK\x03\x04", "an Excel workbook or other zip archive, not text: save the sheet as CSV"),
    (b"\xd0\xcf\x11\xe0", "an old-style Excel workbook (.xls), not text: save the sheet as CSV"),
    (b"%PDF", "a PDF document, not text"),
)
_UTF16 = ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))


# -- files -------------------------------------------------------------------------------------

MAX_FILE_BYTES = 256 * 1024 * 1024
"""The largest table or workbook read (docs/input-errors.md, "Size caps"): checked before reading."""
MAX_ROWS = 2_000_000
"""The most rows one table may have, counted before the table is parsed."""
MAX_YAML_BYTES = 4 * 1024 * 1024
"""The largest YAML file read (instance.yaml, a scenario): real ones are a few kilobytes."""


def regular_file_problem(path: Path, cap: int = MAX_FILE_BYTES) -> str | None:
    """Why `path` may not be read as an input file, or None: only regular files (a device such as
    /dev/zero never ends and a FIFO blocks), within the size cap, checked before any byte is read."""
    try:
        info = os.stat(path)  # follows links: what would be read
    except FileNotFoundError:
        if os.path.islink(path):
            return "is a link to a file that does not exist"
        return "does not exist"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "is a symbolic link that loops back on itself"
        return f"cannot be read: {exc.strerror or exc}"
    if stat.S_ISDIR(info.st_mode):
        return "is a folder, expected a file"
    if not stat.S_ISREG(info.st_mode):
        kind = ("a named pipe (FIFO)" if stat.S_ISFIFO(info.st_mode) else
                "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode) else
                "a socket" if stat.S_ISSOCK(info.st_mode) else "not a regular file")
        return f"is {kind}, not a regular file: only regular files are read"
    if info.st_size > cap:
        return (f"is {info.st_size / 2**20:,.1f} MiB, above the cap of {cap / 2**20:g} MiB for one input file "
                "(docs/input-errors.md)")
    return None


def read_text(path: Path, label: str, log: ProblemLog, cap: int = MAX_FILE_BYTES) -> str | None:
    """The text of a file, or None (with the reason logged) if it cannot be used as text.

    UTF-8 with or without a byte-order mark, UTF-16 with a BOM (Excel's "Unicode text") and
    Windows-1252 (Excel's plain "CSV", e.g. a £ sign as byte A3) are read; the BOM never
    reaches the first column name. Only regular files within `cap` bytes are read.
    """
    path = Path(path)
    problem = regular_file_problem(path, cap)
    if problem:
        log.error(label, problem)
        return None
    try:
        with path.open("rb") as handle:
            data = handle.read(cap + 1)  # a file that grew after the check is still capped
        if len(data) > cap:
            log.error(label, f"is above the cap of {cap / 2**20:g} MiB for one input file (docs/input-errors.md)")
            return None
    except IsADirectoryError:
        log.error(label, "is a folder, expected a file")
        return None
    except OSError as exc:
        log.error(label, f"cannot be read: {exc.strerror or exc}")
        return None
    return decode_text(data, label, log)


def decode_text(data: bytes, label: str, log: ProblemLog) -> str | None:
    """Bytes to text by the rules of `read_text` (separate so that tests and other forms can use it)."""
    for magic, what in _MAGIC:
        if data.startswith(magic):
            log.error(label, f"is {what}")
            return None
    text = None
    for bom, codec in _UTF16:
        if data.startswith(bom):
            try:
                text = data[len(bom):].decode(codec)
            except UnicodeDecodeError:
                log.error(label, "starts like UTF-16 text but is not valid UTF-16")
                return None
    if text is None:
        if b"\x00" in data:
            log.error(label, "is not a text file (it holds binary data)")
            return None
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            try:
                text = data.decode("cp1252")
            except UnicodeDecodeError as exc1252:
                line = data[: exc1252.start].count(b"\n") + 1
                log.error(label, f"is neither UTF-8 nor Windows-1252 text (byte "
                                 f"0x{data[exc1252.start]:02X} at line {line})")
                return None
            line = data[: exc.start].count(b"\n") + 1
            log.warn(label, f"is not UTF-8 (byte 0x{data[exc.start]:02X} at line {line}); read as "
                            "Windows-1252, the encoding of Excel's plain 'CSV' files")
    text = text.lstrip("\ufeff").removeprefix("ï»¿").rstrip("\x1a")
    controls = len(_CONTROL.findall(text))
    if controls > max(3, len(text) // 1000):
        log.error(label, f"is not a text file ({controls} control characters)")
        return None
    return text


# -- tables ------------------------------------------------------------------------------------

def _clean_header(cell: str) -> str:
    return cell.replace("\ufeff", "").replace("\u200b", "").strip()


def _delimiter(text: str, label: str, log: ProblemLog) -> tuple[str, str]:
    """The cell separator and the text without an Excel `sep=` line.

    Comma, unless the first line holds no comma but tabs (Excel's "Unicode text") or
    semicolons (Excel in locales that write decimal commas), which are read with a warning.
    """
    first, _, rest = text.partition("\n")
    head = first.strip("\r").strip()
    match = re.fullmatch(r"sep=(.)", head)
    if match:
        return match.group(1), rest
    if "," not in head:
        for sep, name in (("\t", "tab"), (";", "semicolon")):
            if sep in head:
                log.warn(label, f"cells are separated by {name}s, not commas; read as {name}-separated",
                         row=1)
                return sep, text
    return ",", text


class Table:
    """A table as read: stripped text cells by column, each row's spreadsheet row number in `rows`.

    What the instance readers work on; light (no pandas) so that checking an instance is quick."""

    __slots__ = ("columns", "rows", "cells", "header_row")

    def __init__(self, columns: list[str], rows: list[int], cells: dict[str, list[str]], header_row: int = 1):
        self.columns = list(columns)
        self.rows = rows
        self.cells = cells
        self.header_row = header_row

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, column: str) -> list[str]:
        return self.cells[column]

    def take(self, keep: list[bool]) -> "Table":
        """The rows where `keep` is true."""
        return Table(self.columns, [r for r, k in zip(self.rows, keep) if k],
                     {c: [v for v, k in zip(cells, keep) if k] for c, cells in self.cells.items()}, self.header_row)

    def renamed(self, names: dict[str, str]) -> "Table":
        return Table([names.get(c, c) for c in self.columns], self.rows,
                     {names.get(c, c): cells for c, cells in self.cells.items()}, self.header_row)

    def to_frame(self) -> "pd.DataFrame":
        """The table as a pandas frame of strings indexed by spreadsheet row (for the frame readers)."""
        import numpy as np
        import pandas as pd

        frame = pd.DataFrame({c: self.cells[c] for c in self.columns}, columns=self.columns, dtype=object)
        frame.index = pd.Index(np.asarray(self.rows, dtype=np.int64))
        frame.attrs["header_row"] = self.header_row
        return frame

    @classmethod
    def of(cls, table: Any) -> "Table":
        """A `Table` as is, or one from a frame of strings (a workbook sheet) with the same meaning."""
        if isinstance(table, Table):
            return table
        columns = [str(c) for c in table.columns]
        return cls(columns, [int(r) for r in table.index.tolist()],
                   {str(c): table[c].tolist() for c in table.columns}, int(table.attrs.get("header_row", 1)))


def header_is_sound(header: list[str], label: str, log: ProblemLog, row: int, column_name=str, quote=None) -> bool:
    """Every column of a header named, and once (a CSV file's columns by number, a sheet's by
    letter: `column_name`); each problem logged at the header's row."""
    quote = quote or show
    ok = True
    seen: set[str] = set()
    for position, name in enumerate(header, start=1):
        if name == "":
            log.error(label, f"column {column_name(position)} has no name in the header", row=row)
            ok = False
        elif name in seen:
            log.error(label, f"column {quote(name)} appears twice in the header", row=row, column=name)
            ok = False
        seen.add(name)
    return ok


def read_csv_table(text: str, label: str, log: ProblemLog) -> "pd.DataFrame | None":
    """`read_table` as a pandas frame of strings indexed by spreadsheet row number."""
    table = read_table(text, label, log)
    return table.to_frame() if table is not None else None


def read_table(text: str, label: str, log: ProblemLog) -> Table | None:
    """A table of stripped strings with spreadsheet row numbers; blank rows dropped.

    The header is row 1 and a record spanning several lines (a quoted line break) is one row,
    as a spreadsheet shows it. A row longer than the header is refused (its cells would shift
    silently); a shorter one is padded, as spreadsheets drop trailing empty cells. An
    unterminated quote is an error, not a silently swallowed rest of the file.
    """
    lines = text.count("\n")
    if lines > MAX_ROWS:
        log.error(label, f"has {lines:,} lines, above the cap of {MAX_ROWS:,} rows for one table (docs/input-errors.md)")
        return None
    delimiter, text = _delimiter(text, label, log)
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))
    except csv.Error:
        _report_csv_error(text, delimiter, label, log)
        return None
    first = next((i for i, r in enumerate(records) if any(c.strip() for c in r)), None)
    if first is None:
        log.error(label, "is empty: expected a header row", row=1)
        return None
    head_row = first + 1  # blank lines above the header still count as spreadsheet rows
    header = [_clean_header(c) for c in records[first]]
    while header and header[-1] == "":
        header.pop()
    ok = header_is_sound(header, label, log, head_row)
    width = len(header)
    body = records[first + 1:]
    for i, record in enumerate(body):
        if len(record) == width:
            continue
        if len(record) > width:
            extra = [c for c in record[width:] if c.strip()]
            if extra:
                log.error(label, f"has {len(record)} cells but the header names {width} columns; "
                                 f"extra value {show(extra[0].strip())} (a value holding a comma needs "
                                 "quotes)", row=i + head_row + 1)
                ok = False
                continue
            body[i] = record[:width]
        else:
            body[i] = record + [""] * (width - len(record))
    if not ok:
        return None
    keep = [i for i, record in enumerate(body) if any(record)]  # any(): a non-empty cell (fast)
    rows = [body[i] for i in keep] if len(keep) != len(body) else body
    numbers = [i + head_row + 1 for i in keep]
    columns = [list(c) for c in zip(*rows)] if rows else [[] for _ in header]
    stripped = False
    for k, cells in enumerate(columns):
        if _needs_strip(cells):
            columns[k] = [c.strip() for c in cells]
            stripped = True
    table = Table(header, numbers, dict(zip(header, columns)), head_row)
    if stripped and numbers:  # a row of spaces only is blank too
        filled = [any(row) for row in zip(*columns)] if columns else [False] * len(numbers)
        if not all(filled):
            table = table.take(filled)
    return table


def _report_csv_error(text: str, delimiter: str, label: str, log: ProblemLog) -> None:
    """Read again record by record to say in which row the CSV breaks, and how."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    row = 1
    try:
        for _ in reader:
            row += 1
    except csv.Error as exc:
        reason = str(exc)
        where = f" at line {reader.line_num}"
        if "unexpected end of data" in reason:
            reason, where = "a quote (\") opened in this row is never closed (the file ends inside it)", ""
        elif "expected after" in reason:
            reason = "a quoted value must be followed by a comma or the end of the line"
        elif "field larger than field limit" in reason:
            reason = "a cell is longer than 131,072 characters (an unclosed quote?)"
        log.error(label, f"is not a well-formed CSV table{where}: {reason}", row=row)


_EDGE_SPACE = re.compile(r"(?:^|\x00)\s|\s(?:\x00|$)")


def _needs_strip(cells: list[str]) -> bool:
    """Whether any cell has spaces at an end (one regex over the joined column: fast)."""
    return bool(_EDGE_SPACE.search("\x00".join(cells)))


# -- cells -------------------------------------------------------------------------------------

def parse_bool(raw: str) -> bool | None:
    return _BOOLS.get(raw.strip().lower())


def parse_number(raw: str) -> tuple[float | None, str | None]:
    """A number and, if it had to be read leniently (money, thousands, percent), a warning.

    Plain decimals and exponents are read silently; "£1,200", "(1,200)" (accounting negative)
    and "12.5%" with a warning; anything else ("12k", "1,5", "n/a") gives (None, None).
    """
    text = raw.strip()
    try:  # a plain number as Python reads it ("-1.5", "2e3", "1_000"); "nan" and "inf" are refused
        value = float(text)
        return (value, None) if math.isfinite(value) else (None, None)
    except ValueError:
        pass
    if text.endswith("%"):
        inner, lenient = parse_number(text[:-1])
        if inner is not None and lenient is None:
            value = float(Decimal(repr(inner)) / 100)  # 33.3% is 0.333, not 0.33299999999999996
            return value, f"percentage {show(raw)} read as {value:.15g}"
        return None, None
    match = _MONEY.match(text)
    if match is None or bool(match["open"]) != bool(match["close"]):
        return None, None
    if match["sign"] and match["sign2"]:
        return None, None
    value = float(match["num"].replace(",", ""))
    if not math.isfinite(value):
        return None, None
    if match["open"] or match["sign"] == "-" or match["sign2"]:
        value = -value
    return value, f"money written as {show(raw)} read as {value:.15g}"


def parse_year(raw: str) -> tuple[int | None, str | None]:
    """A plan year: 2025, or a financial year written "2025/26", "2025-26" or "FY2025/26" (warned)."""
    text = raw.strip()
    value, warning = parse_number(text)
    if value is not None and warning is None:
        return (int(value), None) if value == round(value) else (None, None)
    match = _FIN_YEAR.match(text)
    if match:
        first, second = int(match[1]), int(match[2])
        if second in (first + 1, (first + 1) % 100):
            return first, f"financial year {show(raw)} read as {first} (the year it starts in)"
    return None, None


def plain_number(cell: str) -> float | None:
    """A cell as a number the fast way (as pandas' to_numeric reads one), else None."""
    try:
        value = float(cell)
    except ValueError:
        return None
    return None if value != value else value


def number_cells(
    cells: list[str], rows: list[int], column: str, label: str, log: ProblemLog, *,
    integer: bool = False, year: bool = False, expected: str | None = None, money: bool = False,
) -> list[float]:
    """Parse one column's cells to floats (NaN where empty or bad), logging each bad cell with its row.

    The fast path reads the whole column at once; only cells it refuses are read one by one,
    leniently (money, percent, financial years when `year`), with a warning for each lenient
    reading. `expected` replaces "a number" in the message of a bad cell. A `money` column
    refuses percentages.
    """
    nan = math.nan
    try:
        values = [float(c) if c else nan for c in cells]
    except ValueError:
        values = [plain_number(c) if c else nan for c in cells]
        values = [nan if v is None else v for v in values]
    isfinite = math.isfinite
    bad = [i for i, (c, v) in enumerate(zip(cells, values)) if c and not isfinite(v)]
    if integer or year:
        kind = expected or ("a year such as 2025" if year else "a whole number")
    else:
        kind = expected or "a number"
    for i in bad:
        cell = cells[i]
        value, warning = parse_year(cell) if year else parse_number(cell)
        if money and value is not None and cell.strip().endswith("%"):
            values[i] = nan
            log.error(label, f"{show(cell)} is a percentage, but this column is money: write the amount "
                             "(a percentage of what is not known)", row=int(rows[i]), column=column)
            continue
        values[i] = nan if value is None else float(value)
        if value is None:
            log.error(label, f"{show(cell)} is not {kind}", row=int(rows[i]), column=column)
        elif warning:
            log.warn(label, warning, row=int(rows[i]), column=column)
    if integer or year:
        fractional = [i for i, v in enumerate(values) if v == v and v != round(v)]
        for i in fractional:
            log.error(label, f"{show(cells[i])} is not {kind}", row=int(rows[i]), column=column)
            values[i] = nan
    return values


def number_column(
    frame: "pd.DataFrame", column: str, label: str, log: ProblemLog, *,
    integer: bool = False, year: bool = False, expected: str | None = None, money: bool = False,
) -> "pd.Series":
    """`number_cells` of a frame's column, as a Series on the frame's index."""
    import pandas as pd

    raw = frame[column]
    values = number_cells(raw.tolist(), raw.index.tolist(), column, label, log, integer=integer, year=year,
                          expected=expected, money=money)
    return pd.Series(values, index=raw.index, name=column, dtype=float)


def bool_cells(cells: list[str], rows: list[int], column: str, label: str, log: ProblemLog) -> list[bool | None]:
    """true/false, yes/no, 1/0, y/n, t/f in any case; None where empty or bad (bad ones logged)."""
    values = [_BOOLS.get(c.lower()) for c in cells]
    for i, (c, v) in enumerate(zip(cells, values)):
        if v is None and c:
            log.error(label, f"{show(c)} is not true or false (yes/no and 1/0 are read too)",
                      row=int(rows[i]), column=column)
    return values


def bool_column(frame: "pd.DataFrame", column: str, label: str, log: ProblemLog) -> "pd.Series":
    """`bool_cells` of a frame's column, as a Series of objects on the frame's index."""
    import pandas as pd

    raw = frame[column]
    return pd.Series(bool_cells(raw.tolist(), raw.index.tolist(), column, label, log), index=raw.index,
                     name=column, dtype=object)


def is_numeric_cells(cells: list[str]) -> bool:
    """Every filled cell reads as a number (plainly or leniently) and at least one is filled."""
    filled = [c for c in cells if c != ""]
    if not filled:
        return False
    return all(plain_number(c) is not None or parse_number(c)[0] is not None for c in filled)


def is_numeric_column(frame: "pd.DataFrame", column: str) -> bool:
    """`is_numeric_cells` of a frame's column."""
    return is_numeric_cells(frame[column].tolist())
