"""Reading a workbook: `read_workbook` turns it into a `RawInstance` (the tables as stripped strings
indexed by spreadsheet row, the `context` sheet as the mapping instance.yaml would give), so
`parse_raw` applies every input check of a folder. Messages name the workbook, the sheet and the
row (and, for the context sheet, the column), e.g. `plan.xlsx, sheet schemes, row 7, column
confidence: '1.5' is out of range`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
import zipfile
from pathlib import Path
from typing import Any


from cipopt.bulk import no_cyclic_gc
from cipopt.io.folder import RawInstance
from cipopt.io.load import parse_raw
from cipopt.io.messages import suggestion_text
from cipopt.io.tables import TABLES
from cipopt.io.text import Table, header_is_sound, parse_bool, parse_year, regular_file_problem
from cipopt.io.workbook_layout import (
    BOOLEAN_COLUMNS, CONTEXT_SHEET, LIST_SETTINGS, NOTE, README_SHEET, SECTION_COLUMNS, SECTIONS, YEAR_SECTIONS,
)
from cipopt.schema.docs import SECTION_MODELS
from cipopt.schema.instance import Instance
from cipopt.schema.problems import InputError, ProblemLog

# -- reading -----------------------------------------------------------------------------------

def _cell_text(value: Any) -> str:
    """A cell as the text a CSV export of it would hold (stripped)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value).strip()


def _open(path: Path, label: str, log: ProblemLog):
    import openpyxl

    if not os.path.lexists(path):
        log.error(label, "no such workbook")
        return None
    if path.is_dir():
        log.error(label, "is a folder; a workbook is an .xlsx file")
        return None
    if path.suffix.lower() == ".xls":
        log.error(label, "is an old-style Excel workbook (.xls): save it as an Excel Workbook (.xlsx)")
        return None
    problem = regular_file_problem(path)  # a device or FIFO never ends; the size cap comes first
    if problem:
        log.error(label, problem)
        return None
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
    except OSError as exc:
        log.error(label, f"cannot be read: {exc.strerror or exc}")
        return None
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        log.error(label, "is an old-style or password-protected workbook: save it as an unprotected "
                         "Excel Workbook (.xlsx)")
        return None
    if not head.startswith(b"PK"):
        log.error(label, "is not an Excel workbook (.xlsx)")
        return None
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        log.error(label, f"is not a readable Excel workbook (.xlsx): {exc}")
        return None
    if unpacked > MAX_UNPACKED_BYTES:  # a zip bomb: a few MB that unpack to gigabytes
        log.error(label, f"unpacks to {unpacked / 2**20:,.0f} MiB, above the cap of {MAX_UNPACKED_BYTES / 2**20:g} MiB "
                         "for a workbook (docs/input-errors.md)")
        return None
    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as exc:
        log.error(label, f"is not a readable Excel workbook (.xlsx): {exc}")
        return None
    except SyntaxError as exc:  # xml ParseError (and lxml's) derive from it
        log.error(label, f"is a damaged workbook: a part of it is not well-formed XML ({_xml_where(exc)}); "
                         "open it in Excel and save it again")
        return None


def _formula_book(path: Path):
    """The workbook with formulas as written, only when some worksheet holds a formula (to find
    formula cells without a saved value); None otherwise or when it cannot be opened."""
    import openpyxl

    try:
        with zipfile.ZipFile(path) as archive:
            if not any(b"<f>" in archive.read(n) or b"<f " in archive.read(n)
                       for n in archive.namelist() if n.startswith("xl/worksheets/") and n.endswith(".xml")):
                return None
        return openpyxl.load_workbook(path, read_only=True, data_only=False)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError, SyntaxError):
        return None


def _xml_where(exc: SyntaxError) -> str:
    position = getattr(exc, "position", None)
    if position:
        return f"line {position[0]}, column {position[1] + 1}"
    return f"line {exc.lineno}" if getattr(exc, "lineno", None) else "at an unknown place"


MAX_UNPACKED_BYTES = 256 * 1024 * 1024
"""The most a workbook may unpack to (its parts' uncompressed sizes, read from the zip directory
before anything is unpacked): docs/input-errors.md, "Size caps"."""


class SheetUnreadable(Exception):
    """A worksheet's XML is broken: the sheet is reported, not an internal error."""


def _sheet_rows_checked(sheet, formulas, label: str, log: ProblemLog) -> list[tuple[int, list[Any]]] | None:
    """The sheet's rows (every real cell, whatever its declared <dimension>), or None with a located
    problem when its XML is broken or a formula cell has no value Excel saved."""
    try:
        rows = _sheet_rows(sheet)
    except SyntaxError as exc:
        log.error(label, f"is damaged: its XML is not well-formed ({_xml_where(exc)}); open the workbook in "
                         "Excel and save it again")
        return None
    if formulas is not None:
        missing = _formulas_without_values(formulas, rows)
        if missing:
            shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
            log.error(label, f"formula cells {shown} have no saved value (the workbook was written by a program "
                             "that does not calculate): open it in Excel, recalculate and save it", row=None)
            return None
    return rows


def _formulas_without_values(formulas, rows: list[tuple[int, list[Any]]]) -> list[str]:
    """Cells that hold a formula but no cached value: read as empty, a saving would become 0."""
    values = {number: cells for number, cells in rows}
    missing = []
    try:
        formulas.reset_dimensions()
        for number, cells in enumerate(formulas.iter_rows(min_row=1, min_col=1, values_only=True), start=1):
            for position, cell in enumerate(cells, start=1):
                if isinstance(cell, str) and cell.startswith("="):
                    got = values.get(number, [])
                    if position > len(got) or got[position - 1] is None:
                        missing.append(f"{_column_letter(position)}{number}")
    except SyntaxError:
        return missing
    return missing


def _sheet_rows(sheet) -> list[tuple[int, list[Any]]]:
    """(spreadsheet row, cells) of the non-blank rows, trailing empty cells dropped."""
    rows = []
    if hasattr(sheet, "reset_dimensions"):  # read every cell, not just the range <dimension> declares
        sheet.reset_dimensions()
    for number, cells in enumerate(sheet.iter_rows(min_row=1, min_col=1, values_only=True), start=1):
        values = list(cells)
        while values and (values[-1] is None or (isinstance(values[-1], str) and not values[-1].strip())):
            values.pop()
        if values:
            rows.append((number, values))
    return rows


def _sheet_table(rows: list[tuple[int, list[Any]]], label: str, log: ProblemLog) -> Table | None:
    """A sheet as read_table gives a CSV file: stripped strings, spreadsheet row numbers, and the
    header's own row (blank rows above it count)."""
    if not rows:
        log.error(label, "is empty: expected a header row", row=1)
        return None
    header_row, header_cells = rows[0]
    header = [_cell_text(c) for c in header_cells]
    ok = header_is_sound(header, label, log, header_row, column_name=_column_letter, quote=repr)
    width = len(header)
    body: list[list[str]] = []
    numbers: list[int] = []
    for number, cells in rows[1:]:
        text = [_cell_text(c) for c in cells]
        if len(text) > width:
            extra = [(i, c) for i, c in enumerate(text[width:], start=width + 1) if c]
            if extra:
                i, c = extra[0]
                log.error(label, f"cell {_column_letter(i)}{number} holds {c!r} but its column has no "
                                 "name in the header", row=number)
                ok = False
                continue
        text = (text + [""] * width)[:width]
        if not "".join(text):
            continue
        body.append(text)
        numbers.append(number)
    if not ok:
        return None
    columns = [list(cells) for cells in zip(*body)] if body else [[] for _ in header]
    return Table(header, numbers, dict(zip(header, columns)), header_row)


def _column_letter(position: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(position)


@dataclasses.dataclass
class _ContextReader:
    """The context sheet read as the mapping instance.yaml gives, remembering where each key is."""

    label: str
    log: ProblemLog
    data: dict[str, Any] = dataclasses.field(default_factory=dict)
    cells: dict[str, tuple[int, str | None]] = dataclasses.field(default_factory=dict)

    def read(self, rows: list[tuple[int, list[Any]]]) -> dict[str, Any] | None:
        section: str | None = None
        header: list[str] | None = None
        header_row = 0
        for number, cells in rows:
            first = _cell_text(cells[0]).lower() if cells else ""
            rest_empty = all(_cell_text(c) == "" for c in cells[1:])
            if first.strip("[]") in SECTIONS and rest_empty:
                section, header = first.strip("[]"), None
                if section in _LIST_SECTIONS:  # an empty block means the key is not given
                    if not isinstance(self.data.get(section, []), list):
                        self.log.error(self.label, f"{section} is given both as settings keys and as a "
                                                   "block", row=number)
                        return None
                continue
            if section is None:
                if first == "key":  # a settings header with no title row above it
                    section = "settings"
                else:
                    self.log.error(self.label, f"expected a section title ({', '.join(SECTIONS)}) above "
                                               f"this row, found {_cell_text(cells[0])!r}", row=number)
                    return None
            if header is None:
                header = [_normal(_cell_text(c)) for c in cells]
                header_row = number
                if not self._check_header(section, header, number):
                    return None
                self.cells.setdefault(_SECTION_KEY[section], (number, None))
                continue
            values = {h: c for h, c in zip(header, cells) if h and h != NOTE}
            if all(_cell_text(v) == "" for v in values.values()):
                continue
            getattr(self, f"_{section}")(values, number, header, header_row)
        return self.data

    def _check_header(self, section: str, header: list[str], row: int) -> bool:
        first = SECTION_COLUMNS[section][0]
        if not header or header[0] != first:
            self.log.error(self.label, f"the {section} block needs a header row starting with {first!r} "
                                       f"(columns: {', '.join(SECTION_COLUMNS[section])}"
                                       f"{', then one column per year' if section in YEAR_SECTIONS else ''})",
                           row=row)
            return False
        if section in YEAR_SECTIONS:
            for h in header[1:]:
                if h and h not in SECTION_COLUMNS[section] and h != NOTE and parse_year(h)[0] is None \
                        and h not in _KNOWN_FIELDS[section]:
                    hint = suggestion_text(h, SECTION_COLUMNS[section])
                    self.log.warn(self.label, f"column {h!r}{hint} is neither a {section[:-1]} field nor a "
                                              "year; it is passed on as a key", row=row, column=h)
        return True

    # one method per section -----------------------------------------------------------------
    def _settings(self, values: dict[str, Any], row: int, header: list[str], header_row: int) -> None:
        key = _cell_text(values.get("key"))
        value = values.get("value")
        if key == "" or _cell_text(value) == "":
            return
        path = [p.strip() for p in key.split(".")]
        target = self.data
        for part in path[:-1]:
            node = target.setdefault(part, {})
            if not isinstance(node, dict):
                self.log.error(self.label, f"key {key!r} is given twice", row=row)
                return
            target = node
        if path[-1] in target:
            self.log.error(self.label, f"key {key!r} is given twice (the first value is kept)", row=row,
                           column="key")
            return
        target[path[-1]] = _split_list(value) if key in LIST_SETTINGS else _scalar(value)
        self.cells[key] = (row, "value")

    def _item(self, section: str, values: dict[str, Any], row: int) -> dict[str, Any]:
        items = self.data.setdefault(section, [])
        item: dict[str, Any] = {}
        position = len(items)
        items.append(item)
        self.cells[f"{section}[{position}]"] = (row, None)
        for column, cell in values.items():
            if _cell_text(cell) == "" or (section in YEAR_SECTIONS and parse_year(column)[0] is not None
                                          and column not in SECTION_COLUMNS[section]):
                continue
            item[column] = _bool_cell(cell) if column in BOOLEAN_COLUMNS else _scalar(cell)
            if column == "sense" and item[column] == "=":  # "==" is awkward to type in Excel
                item[column] = "=="
            self.cells[f"{section}[{position}].{column}"] = (row, column)
        return item

    def _organisations(self, values, row, header, header_row) -> None:
        self._item("organisations", values, row)

    def _criteria(self, values, row, header, header_row) -> None:
        self._item("criteria", values, row)

    def _fair_shares(self, values, row, header, header_row) -> None:
        item = self._item("fair_shares", values, row)
        if "years" in item:
            item["years"] = _split_list(values["years"])

    def _risk_groups(self, values, row, header, header_row) -> None:
        self._item("risk_groups", values, row)

    def _targets(self, values, row, header, header_row) -> None:
        self._rule("targets", values, row)

    def _limits(self, values, row, header, header_row) -> None:
        self._rule("limits", values, row)

    def _rule(self, section: str, values: dict[str, Any], row: int) -> None:
        item = self._item(section, values, row)
        position = len(self.data[section]) - 1
        by_year: dict[Any, Any] = {}
        for column, cell in values.items():
            if column in SECTION_COLUMNS[section] or column in _KNOWN_FIELDS[section]:
                continue
            year, _ = parse_year(column)
            if year is None or _cell_text(cell) == "":
                continue
            by_year[year] = _scalar(cell)
            self.cells[f"{section}[{position}].values.{year}"] = (row, column)
        item["values"] = by_year
        self.cells[f"{section}[{position}].values"] = (row, None)

    def _quality(self, values, row, header, header_row) -> None:
        domain = _cell_text(values.get("domain"))
        if domain == "":
            self.log.error(self.label, "a quality row needs its domain", row=row, column="domain")
            return
        quality = self.data.setdefault("quality", {})
        domains = quality.setdefault("domains", [])
        self.cells[f"quality.domains[{len(domains)}]"] = (row, "domain")
        domains.append(domain)
        for name in ("scheme_min", "portfolio_min"):
            cell = values.get(name)
            if _cell_text(cell) != "":
                quality.setdefault(name, {})[domain] = _scalar(cell)
                self.cells[f"quality.{name}.{domain}"] = (row, name)
                self.cells.setdefault(f"quality.{name}", (row, name))
        for column, cell in values.items():
            if column not in SECTION_COLUMNS["quality"] and _cell_text(cell) != "":
                self.log.warn(self.label, f"column {column!r} of the quality block is not known and is "
                                          "ignored (columns: domain, scheme_min, portfolio_min)",
                              row=row, column=column)


_LIST_SECTIONS = tuple(SECTION_MODELS)  # the blocks that are lists of instance.yaml
_SECTION_KEY = {"settings": "", "organisations": "organisations", "targets": "targets", "limits": "limits",
                "quality": "quality", "criteria": "criteria", "fair_shares": "fair_shares",
                "risk_groups": "risk_groups"}
_KNOWN_FIELDS = {"targets": ("values",), "limits": ("values",)}
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _normal(name: str) -> str:
    return "_".join(name.strip().lower().replace("-", " ").split())


def _scalar(cell: Any) -> Any:
    """A context cell as YAML would type it: numbers stay numbers, plain numeric text becomes one."""
    if isinstance(cell, str):
        text = cell.strip()
        if _PLAIN_NUMBER.match(text):
            number = float(text)
            return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number
        return text
    if isinstance(cell, (dt.date, dt.time)):
        return _cell_text(cell)
    return cell


def _bool_cell(cell: Any) -> Any:
    if isinstance(cell, str):
        parsed = parse_bool(cell)
        return parsed if parsed is not None else cell.strip()
    return cell


def _split_list(cell: Any) -> Any:
    """years: "2025, 2026, 2027" (or one number) as a list; brackets are allowed."""
    if isinstance(cell, str):
        text = cell.strip().removeprefix("[").removesuffix("]")
        return [_scalar(p) for p in re.split(r"[,;]", text) if p.strip()]
    return [_scalar(cell)]


def _relocate(problem, label: str, cells: dict[str, tuple[int, str | None]]):
    """A context problem located by YAML key, moved to its row and column of the context sheet."""
    if problem.file != label or not problem.key or problem.row is not None:
        return problem
    key = problem.key
    while key:
        if key in cells:
            row, column = cells[key]
            return dataclasses.replace(problem, row=row, column=column, key=None if column else problem.key)
        cut = max(key.rfind("."), key.rfind("["))
        key = key[:cut] if cut > 0 else ""
    return problem


def read_workbook(path: str | Path, log: ProblemLog) -> tuple[RawInstance, dict] | None:
    """The workbook as a `RawInstance` and the context cells map; None when it cannot be opened."""
    path = Path(path)
    book_label = str(path)
    book = _open(path, book_label, log)
    if book is None:
        return None
    formula_book = _formula_book(path)
    try:
        sheets = {name.strip().lower(): book[name] for name in book.sheetnames}
        formula_sheets = ({name.strip().lower(): formula_book[name] for name in formula_book.sheetnames}
                          if formula_book is not None else {})
        raw = RawInstance(source=str(path), context={})
        context_label = f"{book_label}, sheet {CONTEXT_SHEET}"
        raw.labels = {"context": context_label}
        raw.names = {"context": f"sheet {CONTEXT_SHEET}", **{name: f"sheet {name}" for name in TABLES}}
        cells: dict[str, tuple[int, str | None]] = {}
        if CONTEXT_SHEET not in sheets:
            log.error(book_label, f"has no sheet named {CONTEXT_SHEET!r}: it holds the plan context "
                                  "(years, targets, limits, quality rules); see docs/reports.md"
                                  f"{suggestion_text(CONTEXT_SHEET, sheets)}")
            raw.unreadable.add("context")
        else:
            reader = _ContextReader(context_label, log)
            rows = _sheet_rows_checked(sheets[CONTEXT_SHEET], formula_sheets.get(CONTEXT_SHEET), context_label, log)
            data = reader.read(rows) if rows is not None else None
            if data is None:
                raw.unreadable.add("context")
            else:
                raw.context, cells = data, reader.cells
        for name, spec in TABLES.items():
            label = f"{book_label}, sheet {name}"
            raw.labels[name] = label
            if name not in sheets:
                if spec.required:
                    log.error(book_label, f"has no sheet named {name!r}: every instance needs one, with one "
                                          f"row per scheme{suggestion_text(name, sheets)}")
                    raw.unreadable.add(name)
                continue
            rows = _sheet_rows_checked(sheets[name], formula_sheets.get(name), label, log)
            table = _sheet_table(rows, label, log) if rows is not None else None
            if table is None:
                raw.unreadable.add(name)
            else:
                raw.tables[name] = table
        known = {CONTEXT_SHEET, README_SHEET.lower(), *TABLES}
        for name in book.sheetnames:
            if name.strip().lower() not in known:
                hint = suggestion_text(name.strip().lower(), known)
                log.warn(book_label, f"sheet {name!r} is not a sheet of the instance format and is ignored{hint}")
    finally:
        book.close()
        if formula_book is not None:
            formula_book.close()
    return raw, cells


def load_workbook_instance(path: str | Path, log: ProblemLog | None = None) -> Instance:
    """Read and validate an instance workbook; raise `InputError` listing every problem."""
    log = log if log is not None else ProblemLog()
    inner = ProblemLog()
    with no_cyclic_gc():
        read = read_workbook(path, inner)
        parsed = None
        if read is not None:
            raw, cells = read
            parsed = parse_raw(raw, inner)
            context_label = raw.labels["context"]
            inner.problems = [_relocate(p, context_label, cells) for p in inner.problems]
    log.problems.extend(inner.problems)
    if parsed is None:
        raise InputError(log.problems)
    return parsed[0]
