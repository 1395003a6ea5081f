"""The spreadsheet form of an instance: one .xlsx workbook, and the workbooks cipopt writes.

Reading: `read_workbook` turns a workbook into a `RawInstance` (the tables as stripped strings
indexed by spreadsheet row, the `context` sheet as the mapping instance.yaml would give), so
`parse_raw` applies every input check of a folder. Messages name the workbook, the sheet and the
row (and, for the context sheet, the column), e.g. `plan.xlsx, sheet schemes, row 7, column
confidence: '1.5' is out of range`.

The `context` sheet (docs/reports.md) holds instance.yaml as blocks, each under a title row:

    settings        key | value | note             (name, years, discount_rate, objective.mode, ...)
    organisations   id | name | sector
    targets         id | org | basis | hard | shortfall_penalty | <one column per year>
    limits          id | org | metric | sense | <one column per year>
    quality         domain | scheme_min | portfolio_min
    criteria        id | weight | weight_min | weight_max
    fair_shares     id | org | sector | metric | min_share | years   (extension, docs/ranking.md)
    risk_groups     id | correlation                (docs/risk.md)

Writing: `instance_workbook` (an instance, or a blank annotated template when None) and
`results_workbook` (plan, targets, years, summary and reasons of a solve), both as bytes for an
atomic `write_file`.
"""

from __future__ import annotations

import json

import dataclasses
import datetime as dt
import io
import math
import os
import re
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd

from cipopt.io.export import SCHEME_COLUMNS, TABLE_COLUMNS, instance_context, instance_tables
from cipopt.io.load import TABLES, RawInstance, parse_raw, suggestion_text, _bulk
from cipopt.io.text import parse_bool, parse_year, regular_file_problem
from cipopt.schema.instance import CATEGORIES, Instance
from cipopt.schema.problems import InputError, ProblemLog
from cipopt.solve.result import SolveResult

CONTEXT_SHEET = "context"
README_SHEET = "README"
SECTIONS = ("settings", "organisations", "targets", "limits", "quality", "criteria", "fair_shares", "risk_groups")
_SECTION_COLUMNS: dict[str, tuple[str, ...]] = {
    "settings": ("key", "value"),
    "organisations": ("id", "name", "sector"),
    "targets": ("id", "org", "basis", "hard", "shortfall_penalty"),
    "limits": ("id", "org", "metric", "sense"),
    "quality": ("domain", "scheme_min", "portfolio_min"),
    "criteria": ("id", "weight", "weight_min", "weight_max"),
    "fair_shares": ("id", "org", "sector", "metric", "min_share", "years"),
    "risk_groups": ("id", "correlation"),
}
_YEAR_SECTIONS = ("targets", "limits")
_LIST_SETTINGS = ("years", "quality.domains", "criteria_order")
SETTINGS_KEYS: tuple[tuple[str, str], ...] = (
    ("format_version", "1: the version of the instance format this workbook follows"),
    ("name", "the plan's name, shown on every report"),
    ("money_unit", "one unit for all money in the workbook (default GBP thousand)"),
    ("years", "the plan's financial years, by the calendar year each starts in: 2025, 2026, 2027"),
    ("discount_rate", "present values discount year y by (1+r)^-(y - first year); default 0.035 (Green Book)"),
    ("objective.mode", "net_present_value (default), savings or weighted_score"),
    ("objective.risk", "expected (default: savings count at confidence x value), none (face value), cvar or "
                       "chance (docs/risk.md)"),
    ("quality.max_risk", "a scheme whose qia_risk exceeds this is ineligible unless its QIA is approved"),
    ("quality.hard_max_risk", "above this a scheme is ineligible even if approved"),
    ("solver.time_limit", "seconds the solver may take (empty: no limit)"),
    ("solver.mip_gap", "relative gap at which a plan counts as optimal (default 0.0001)"),
    ("solver.threads", "solver threads (empty: the solver's choice)"),
    ("criteria_order", "bids only: criteria in order of importance, e.g. population_health, finance"),
)
_NOTE = "note"

BOOLEAN_COLUMNS = {"mandatory", "qia_approved", "excluded", "hard"}
CHOICES: dict[str, tuple[str, ...]] = {
    "category": CATEGORIES,
    "kind": ("requires", "excludes", "together", "precedes"),
    "basis": ("recurrent", "in_year", "full_year_effect"),
    "sense": ("<=", ">=", "=="),
    "sector": ("acute", "community", "mental_health", "primary_care", "commissioner", "ambulance", "other"),
    "objective.mode": ("net_present_value", "savings", "weighted_score"),
    "objective.risk": ("expected", "none", "cvar", "chance"),
    "delivery_distribution": ("triangular", "pert"),
    **{c: ("true", "false") for c in BOOLEAN_COLUMNS},
}

COLUMN_NOTES: dict[str, dict[str, str]] = {
    "schemes": {
        "id": "Required. Unique short id of the scheme, e.g. agency-price-cap.",
        "name": "Name shown in reports (default: the id).",
        "category": "One of: " + ", ".join(CATEGORIES) + " (default other).",
        "org": "Organisation that runs the scheme (default: the first organisation).",
        "earliest_start": "First year the scheme may start, e.g. 2025 (default: the first plan year).",
        "latest_start": "Last year the scheme may start (default: the last plan year).",
        "mandatory": "true: the scheme must be selected (default false).",
        "confidence": "Probability of delivery, 0 to 1 (default 1).",
        "recurrent_saving": "Full-year effect of the recurrent saving, per year, in the money unit.",
        "first_year_fraction": "Share of the recurrent saving delivered in the start year (default 0.5).",
        "nonrecurrent_saving": "One-off saving in the start year.",
        "one_off_cost": "Revenue cost in the start year.",
        "capital_cost": "Capital cost in the start year (counts against limits and NPV, never targets).",
        "running_cost": "Recurrent revenue cost in every active year.",
        "double_running_cost": "Revenue cost while old and new services run side by side.",
        "double_running_years": "How many years double running lasts, from the start year.",
        "safety": "QIA score: -2 major harm, -1 minor harm, 0 neutral, +1 minor benefit, +2 major benefit.",
        "effectiveness": "QIA score (clinical outcomes), -2 to +2.",
        "experience": "QIA score (patient experience), -2 to +2.",
        "access": "QIA score (access), -2 to +2.",
        "qia_risk": "Residual quality risk, likelihood (1-5) x consequence (1-5); default 1.",
        "qia_approved": "true: the medical and nursing directors signed off the QIA with mitigations.",
        "excluded": "true: the scheme may not be selected (a decision already taken).",
        "delivery_low": "If it delivers: the lowest multiplier of its savings (default 1; docs/risk.md).",
        "delivery_likely": "If it delivers: the most likely multiplier of its savings (default 1).",
        "delivery_high": "If it delivers: the highest multiplier of its savings (default 1).",
        "delivery_distribution": "triangular (default) or pert: the multiplier's shape between low and high.",
        "slip_probability": "Probability that its savings start one year late, 0 to 1 (default 0).",
        "risk_group": "A risk group of the context sheet: its members succeed or fail together.",
    },
    "profiles": {
        "scheme": "Scheme id.", "offset": "Years after the start year (0 = the start year).",
        "metric": "saving, nonrecurrent_saving, one_off_cost, capital_cost, running_cost, "
                  "double_running_cost or a custom metric such as pmo_days.",
        "value": "The amount at that offset; these rows replace the derived values of the metric.",
    },
    "relations": {
        "kind": "requires (a needs b, b at least lag years earlier), excludes (not both), together "
                "(both or neither), precedes (if both, b starts at least lag years after a).",
        "a": "Scheme id.", "b": "Scheme id.", "lag": "Years (default 0); requires and precedes only.",
    },
    "shares": {
        "scheme": "Scheme id.", "org": "Organisation id.",
        "saving_share": "Share of the savings this organisation gets, 0 to 1 (a scheme's shares sum to 1).",
        "cost_share": "Share of the costs this organisation pays, 0 to 1 (a scheme's shares sum to 1).",
    },
    "risk_groups": {
        "id": "Id that the schemes sheet's risk_group names.",
        "correlation": "0 to 1: how strongly its members succeed or fail together (1: all or nothing).",
    },
    "scores": {
        "scheme": "Scheme id.", "criterion": "Criterion id (listed in the context sheet's criteria block).",
        "score": "Appraisal score, 0 to 100.",
    },
    "organisations": {
        "id": "Short unique id used in schemes org, shares, targets and limits.",
        "name": "Full name.", "sector": "acute, community, mental_health, primary_care, commissioner, "
                                         "ambulance or other.",
    },
    "targets": {
        "id": "Unique id of the target, e.g. underlying.",
        "org": "Organisation whose share counts (empty: the whole system).",
        "basis": "recurrent (the underlying position, default), in_year (the control total) or full_year_effect "
                 "(the underlying position at exit run-rate, docs/finance.md).",
        "hard": "true: must be met; false (default): a shortfall is allowed at the penalty.",
        "shortfall_penalty": "Objective lost per unit of shortfall, discounted like money (default 1).",
        "year": "Savings required in this year against the do-nothing forecast (empty: no target).",
    },
    "limits": {
        "id": "Unique id of the limit, e.g. capital.",
        "org": "Organisation counted (empty: everything).",
        "metric": "What is summed over active schemes: capital_cost, pmo_days, wte_nursing, ...",
        "sense": "<= (default), >= or == (pick it from the list, or type = or '==: Excel reads a bare == as a formula).",
        "year": "The bound in this year (empty: no bound).",
    },
    "quality": {
        "domain": "A quality domain (safety, effectiveness, experience, access, or a numeric schemes column).",
        "scheme_min": "A scheme scoring below this in the domain is ineligible unless its QIA is approved.",
        "portfolio_min": "Each year the summed score of active schemes in the domain must be at least this.",
    },
    "criteria": {
        "id": "Criterion id used in the scores sheet.", "weight": "Exact weight.",
        "weight_min": "Lowest plausible weight (for robust ranking).",
        "weight_max": "Highest plausible weight (for robust ranking).",
    },
}

_EXCEL_SUFFIXES = (".xlsx", ".xlsm")


def is_workbook_path(path: str | Path) -> bool:
    return Path(path).suffix.lower() in (*_EXCEL_SUFFIXES, ".xls")


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


def _table_frame(rows: list[tuple[int, list[Any]]], label: str, log: ProblemLog) -> pd.DataFrame | None:
    """A sheet as read_csv_table gives a CSV file: stripped strings, spreadsheet row numbers."""
    if not rows:
        log.error(label, "is empty: expected a header row", row=1)
        return None
    header_row, header_cells = rows[0]
    header = [_cell_text(c) for c in header_cells]
    ok = True
    seen: set[str] = set()
    for position, name in enumerate(header, start=1):
        if name == "":
            log.error(label, f"column {_column_letter(position)} has no name in the header", row=header_row)
            ok = False
        elif name in seen:
            log.error(label, f"column {name!r} appears twice in the header", row=header_row, column=name)
            ok = False
        seen.add(name)
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
    frame = pd.DataFrame(body, columns=header, dtype=object)
    frame.index = pd.Index(numbers, dtype="int64")
    return frame


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
            values = {h: c for h, c in zip(header, cells) if h and h != _NOTE}
            if all(_cell_text(v) == "" for v in values.values()):
                continue
            getattr(self, f"_{section}")(values, number, header, header_row)
        return self.data

    def _check_header(self, section: str, header: list[str], row: int) -> bool:
        first = _SECTION_COLUMNS[section][0]
        if not header or header[0] != first:
            self.log.error(self.label, f"the {section} block needs a header row starting with {first!r} "
                                       f"(columns: {', '.join(_SECTION_COLUMNS[section])}"
                                       f"{', then one column per year' if section in _YEAR_SECTIONS else ''})",
                           row=row)
            return False
        if section in _YEAR_SECTIONS:
            for h in header[1:]:
                if h and h not in _SECTION_COLUMNS[section] and h != _NOTE and parse_year(h)[0] is None \
                        and h not in _KNOWN_FIELDS[section]:
                    hint = suggestion_text(h, _SECTION_COLUMNS[section])
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
        target[path[-1]] = _split_list(value) if key in _LIST_SETTINGS else _scalar(value)
        self.cells[key] = (row, "value")

    def _item(self, section: str, values: dict[str, Any], row: int) -> dict[str, Any]:
        items = self.data.setdefault(section, [])
        item: dict[str, Any] = {}
        position = len(items)
        items.append(item)
        self.cells[f"{section}[{position}]"] = (row, None)
        for column, cell in values.items():
            if _cell_text(cell) == "" or (section in _YEAR_SECTIONS and parse_year(column)[0] is not None
                                          and column not in _SECTION_COLUMNS[section]):
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
            if column in _SECTION_COLUMNS[section] or column in _KNOWN_FIELDS[section]:
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
            if column not in _SECTION_COLUMNS["quality"] and _cell_text(cell) != "":
                self.log.warn(self.label, f"column {column!r} of the quality block is not known and is "
                                          "ignored (columns: domain, scheme_min, portfolio_min)",
                              row=row, column=column)


_LIST_SECTIONS = ("organisations", "targets", "limits", "criteria", "fair_shares", "risk_groups")
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
            frame = _table_frame(rows, label, log) if rows is not None else None
            if frame is None:
                raw.unreadable.add(name)
            else:
                raw.tables[name] = frame
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
    with _bulk():
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


# -- writing -----------------------------------------------------------------------------------

_HEADER_FILL = "1F4E79"
_TITLE_FILL = "D9E1F2"


def _fy_years(n: int = 5) -> list[int]:
    today = dt.date.today()
    first = today.year if today.month >= 4 else today.year - 1
    return list(range(first, first + n))


def _excel_value(value: Any) -> Any:
    """Cells as typed values; a float that 16 digits would round is written as exact text."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        if float("%.16g" % value) != value:
            return repr(value)
    return value


def _cell(ws, row: int, column: int, value: Any):
    """Write a cell; text is always text (openpyxl would take "==" or "=x" for a formula)."""
    cell = ws.cell(row=row, column=column, value=value)
    if isinstance(value, str) and value.startswith("="):
        cell.data_type = "s"
    return cell


class _Sheets:
    """Small helpers to write formatted sheets with openpyxl."""

    def __init__(self):
        from openpyxl import Workbook

        self.book = Workbook()
        self._first = True

    def sheet(self, title: str):
        if self._first:
            ws = self.book.active
            ws.title = title
            self._first = False
        else:
            ws = self.book.create_sheet(title)
        return ws

    @staticmethod
    def header(ws, row: int, names: list[str], notes: dict[str, str] | None = None) -> None:
        from openpyxl.comments import Comment
        from openpyxl.styles import Font, PatternFill

        for col, name in enumerate(names, start=1):
            cell = _cell(ws, row, col, name)
            cell.font = Font(bold=True, color="FFFFFF")
            cell.fill = PatternFill("solid", fgColor=_HEADER_FILL)
            note = (notes or {}).get(str(name))
            if note is None and notes and parse_year(str(name))[0] is not None:
                note = notes.get("year")
            if note:
                cell.comment = Comment(note, "cipopt", width=320, height=110)

    @staticmethod
    def title(ws, row: int, text: str, span: int = 4) -> None:
        from openpyxl.styles import Font, PatternFill

        cell = _cell(ws, row, 1, text)
        cell.font = Font(bold=True, size=12)
        for col in range(1, span + 1):
            ws.cell(row=row, column=col).fill = PatternFill("solid", fgColor=_TITLE_FILL)

    @staticmethod
    def widths(ws, widths: dict[int, float]) -> None:
        from openpyxl.utils import get_column_letter

        for col, width in widths.items():
            ws.column_dimensions[get_column_letter(col)].width = width

    @staticmethod
    def fit(ws, frame: pd.DataFrame, start_col: int = 1, cap: float = 60) -> None:
        from openpyxl.utils import get_column_letter

        for i, column in enumerate(frame.columns):
            cells = [str(column)] + [str(v) for v in frame[column].head(500).tolist() if v is not None]
            width = min(cap, max(8.0, max(len(c) for c in cells) * 1.1 + 2))
            ws.column_dimensions[get_column_letter(start_col + i)].width = width

    @staticmethod
    def choices(ws, column_letter: str, first_row: int, last_row: int, values: tuple[str, ...],
                what: str) -> None:
        from openpyxl.worksheet.datavalidation import DataValidation

        dv = DataValidation(type="list", formula1='"' + ",".join(values) + '"', allow_blank=True,
                            showErrorMessage=True, errorTitle="Not allowed",
                            error=f"{what}: choose one of {', '.join(values)}")
        dv.add(f"{column_letter}{first_row}:{column_letter}{last_row}")
        ws.add_data_validation(dv)

    def bytes(self) -> bytes:
        buffer = io.BytesIO()
        self.book.save(buffer)
        return buffer.getvalue()


_TEMPLATE_ROWS = 500  # rows of the template that carry drop-down validation


def instance_workbook(instance: Instance | None = None) -> bytes:
    """An instance as an annotated workbook, or with None a blank template to fill in."""
    from openpyxl.utils import get_column_letter

    w = _Sheets()
    _readme(w.sheet(README_SHEET), blank=instance is None)
    context = instance_context(instance) if instance is not None else {}
    years = list(context.get("years") or _fy_years())
    _context_sheet(w, context, years, blank=instance is None)
    tables = instance_tables(instance) if instance is not None else {}
    for name in TABLES:
        frame = tables.get(name)
        columns = list(frame.columns) if frame is not None else list(
            SCHEME_COLUMNS if name == "schemes" else TABLE_COLUMNS[name])
        if instance is not None and frame is None and name != "schemes":
            continue  # an optional table the instance does not have
        ws = w.sheet(name)
        w.header(ws, 1, columns, {**_model_notes(name), **COLUMN_NOTES.get(name, {})})
        ws.freeze_panes = "B2" if name == "schemes" else "A2"
        if frame is not None:
            for r, row in enumerate(frame.itertuples(index=False), start=2):
                for c, value in enumerate(row, start=1):
                    _cell(ws, r, c, _excel_value(value))
        last = max(_TEMPLATE_ROWS, (len(frame) if frame is not None else 0) + 200)
        for c, column in enumerate(columns, start=1):
            if column in CHOICES:
                w.choices(ws, get_column_letter(c), 2, last, CHOICES[column], column)
        w.widths(ws, {c: max(10, min(40, len(col) + 4)) for c, col in enumerate(columns, start=1)})
        if name == "schemes":
            w.widths(ws, {2: 45})
        _print_setup(ws, instance.name if instance is not None else "cipopt instance workbook")
    return w.bytes()


def _model_notes(table: str) -> dict[str, str]:
    """Notes for columns this module does not describe: the model's own field documentation."""
    from cipopt.io.export import field_docs

    return field_docs(TABLES[table].model) if table in TABLES else {}


def _readme(ws, blank: bool) -> None:
    from openpyxl.styles import Alignment, Font

    lines = [
        ("cipopt instance workbook (instance format version 1)", True),
        ("", False),
        ("Fill in the sheets, then run:  cipopt solve THIS.xlsx --excel results.xlsx", False),
        ("", False),
        ("context: the plan context in blocks under title rows: settings (name, years, objective, "
         "quality risk limits), organisations, targets and limits (one column per year), quality "
         "domains and criteria.", False),
        ("schemes: one row per candidate scheme (required). Hover over a header for what it means.", False),
        ("profiles: phased amounts that replace a scheme's derived values (optional).", False),
        ("relations: requires / excludes / together / precedes links between schemes (optional).", False),
        ("shares: who gets the savings and pays the costs when schemes span organisations (optional).", False),
        ("scores: appraisal scores of bids, for weighted_score (optional).", False),
        ("", False),
        ("An empty cell takes the column's default. Booleans are true/false (yes/no, 1/0 are read too). "
         "Money is in the money unit of the settings block. Extra columns of the schemes sheet are "
         "custom metrics (numbers, e.g. pmo_days) or labels (text, e.g. lead, stage).", False),
        ("Formulas are read by their last calculated value: save the workbook in Excel before solving.", False),
        ("This README sheet is ignored when the workbook is read.", False),
    ]
    if blank:
        lines.insert(3, ("The years in the targets and limits headers are an example: make them the "
                         "plan's years.", False))
    for r, (text, bold) in enumerate(lines, start=1):
        cell = _cell(ws, r, 1, text)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        if bold:
            cell.font = Font(bold=True, size=14)
    ws.column_dimensions["A"].width = 120


def _context_sheet(w: _Sheets, context: dict[str, Any], years: list[int], blank: bool) -> None:
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    ws = w.sheet(CONTEXT_SHEET)
    grey = Font(italic=True, color="666666")
    r = 1
    w.title(ws, r, "settings", 3)
    r += 1
    w.header(ws, r, ["key", "value", _NOTE])
    r += 1
    flat = _flatten_settings(context)
    if blank:
        flat.setdefault("format_version", 1)
        flat.setdefault("years", ", ".join(map(str, years)))
    for key, note in SETTINGS_KEYS:
        _cell(ws, r, 1, key)
        _cell(ws, r, 2, _excel_value(flat.pop(key, None)))
        _cell(ws, r, 3, note).font = grey
        if key in CHOICES:
            w.choices(ws, "B", r, r, CHOICES[key], key)
        r += 1
    for key, value in flat.items():  # keys this page does not list (kept, and warned when read)
        _cell(ws, r, 1, key)
        _cell(ws, r, 2, _excel_value(value))
        r += 1

    def block(title: str, columns: list[str], rows: list[list[Any]], spare: int) -> None:
        nonlocal r
        r += 1
        w.title(ws, r, title, max(3, len(columns)))
        r += 1
        w.header(ws, r, columns, COLUMN_NOTES.get(title))
        for c, column in enumerate(columns, start=1):
            if isinstance(column, int):  # a year stays a number (as read back) but shows as 2025/26
                ws.cell(r, c).number_format = f'0"/{(column + 1) % 100:02d}"'
        r += 1
        first = r
        for values in rows:
            for c, value in enumerate(values, start=1):
                _cell(ws, r, c, _excel_value(value))
            r += 1
        r += spare
        for c, column in enumerate(columns, start=1):
            if column in CHOICES and r > first:
                w.choices(ws, get_column_letter(c), first, r - 1, CHOICES[column], f"{title} {column}")

    spare = 3 if blank else 0
    orgs = context.get("organisations", [])
    block("organisations", ["id", "name", "sector"],
          [[o.get("id"), o.get("name"), o.get("sector")] for o in orgs], spare)
    targets = context.get("targets", [])
    block("targets", ["id", "org", "basis", "hard", "shortfall_penalty", *years],
          [[t.get("id"), t.get("org"), t.get("basis"), t.get("hard"), t.get("shortfall_penalty"),
            *[t.get("values", {}).get(y) for y in years]] for t in targets], spare)
    limits = context.get("limits", [])
    block("limits", ["id", "org", "metric", "sense", *years],
          [[lim.get("id"), lim.get("org"), lim.get("metric"), lim.get("sense"),
            *[lim.get("values", {}).get(y) for y in years]] for lim in limits], spare)
    quality = context.get("quality", {})
    domains = quality.get("domains", ["safety", "effectiveness", "experience", "access"] if blank else [])
    block("quality", ["domain", "scheme_min", "portfolio_min"],
          [[d, quality.get("scheme_min", {}).get(d), quality.get("portfolio_min", {}).get(d)] for d in domains], 0)
    criteria = context.get("criteria", [])
    if criteria or blank:
        block("criteria", ["id", "weight", "weight_min", "weight_max"],
              [[c.get("id"), c.get("weight"), c.get("weight_min"), c.get("weight_max")] for c in criteria], spare)
    fair = context.get("fair_shares", [])
    if fair:  # format extension (docs/ranking.md): only when the instance has one
        block("fair_shares", list(_SECTION_COLUMNS["fair_shares"]),
              [[f.get("id"), f.get("org"), f.get("sector"), f.get("metric"), f.get("min_share"),
                ", ".join(str(y) for y in f["years"]) if f.get("years") else None] for f in fair], 0)
    risk_groups = context.get("risk_groups", [])
    if risk_groups or blank:  # the blank form has the risk_group column, so the block that defines them
        block("risk_groups", ["id", "correlation"], [[g.get("id"), g.get("correlation")] for g in risk_groups], spare)
    w.widths(ws, {1: 24, 2: 34, 3: 14, 4: 10, 5: 18})
    for c in range(6, 6 + len(years)):
        w.widths(ws, {c: 11})
    ws.column_dimensions[get_column_letter(3)].width = 14
    _print_setup(ws, str(context.get("name") or "cipopt instance workbook"), title_rows=None)


def _flatten_settings(context: dict[str, Any]) -> dict[str, Any]:
    """The settings block's keys of a context: scalars, dotted for nested ones; lists as text."""
    flat: dict[str, Any] = {}
    for key, value in context.items():
        if key in ("organisations", "targets", "limits", "criteria", "fair_shares", "risk_groups"):
            continue
        if key == "finance":  # docs/finance.md: nested lists of mappings, kept as one JSON (= YAML) cell
            flat[key] = json.dumps(value, separators=(", ", ": "))
            continue
        if key == "quality":
            for name, v in value.items():
                if name in ("domains", "scheme_min", "portfolio_min"):
                    continue
                flat[f"quality.{name}"] = v
            continue
        if isinstance(value, dict):
            for name, v in value.items():
                flat[f"{key}.{name}"] = v
            continue
        if isinstance(value, list):
            flat[key] = ", ".join(str(v) for v in value)
            continue
        flat[key] = value
    return flat


def template_workbook() -> bytes:
    """A blank workbook to fill in: annotated headers, drop-downs for categories, kinds, booleans."""
    return instance_workbook(None)


# -- the results workbook ---------------------------------------------------------------------
# A workbook a finance team files: every table an Excel Table (filters, banding) under a frozen
# header, money in accounting format (negatives in brackets, a dash for zero) with its unit in the
# header, years labelled 2025/26 on every sheet, each sheet set to print on A4, and a native chart
# per target of the net saving achieved against what is required.

# Accounting formats: positive, negative in brackets, zero as a dash, text as is.
ACCOUNTING_FORMAT = '_(#,##0_);(#,##0);_("-"_);_(@_)'
ACCOUNTING_FORMAT_1 = '_(#,##0.0_);(#,##0.0);_("-"_);_(@_)'
NUMBER_FORMAT = '_(#,##0.0_);(#,##0.0);_("-"_);_(@_)'  # other quantities (days, WTE, QIA scores)
_MONEY_FORMAT = ACCOUNTING_FORMAT  # names kept for callers of the earlier formats
_MONEY_FORMAT_1 = ACCOUNTING_FORMAT_1

_UNIT_LABELS = {"gbp": "£", "gbp thousand": "£000", "gbp thousands": "£000", "gbp k": "£000", "£000": "£000",
                "gbp million": "£m", "gbp millions": "£m", "gbp m": "£m", "£m": "£m", "£": "£"}
_NET_MEASURES = ("recurrent_net_saving", "in_year_net_saving")


def money_label(unit: str) -> str:
    """The money unit as a finance header writes it: "GBP thousand" -> "£000", "GBP million" -> "£m"."""
    return _UNIT_LABELS.get(" ".join(str(unit).lower().split()), str(unit))


def year_label(year: Any) -> Any:
    """A plan year as the financial year it starts: 2025 -> "2025/26" (None stays None)."""
    if year is None or (isinstance(year, float) and math.isnan(year)) or year is pd.NA:
        return None
    y = int(year)
    return f"{y}/{(y + 1) % 100:02d}"


def _is_money_metric(metric: str) -> bool:
    from cipopt.schema.instance import BUILTIN_METRICS

    names = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", metric)
    return bool(names) and all(n in BUILTIN_METRICS or n in _NET_MEASURES for n in names)


def measure_unit(measure: str, instance: Instance) -> str:
    """The unit of a years.csv measure: the money unit for money, else what is counted."""
    from cipopt.schema.instance import BUILTIN_METRICS

    unit = money_label(instance.money_unit)
    if measure.startswith("target:") or measure in _NET_MEASURES or measure in BUILTIN_METRICS:
        return unit
    if measure.startswith("limit:"):
        limit = next((lim for lim in instance.limits if lim.id == measure.removeprefix("limit:")), None)
        if limit is not None:
            return unit if _is_money_metric(limit.metric) else limit.metric
        return ""
    if measure.startswith("quality:"):
        return "QIA score"
    return measure  # a custom metric counts itself (pmo_days, wte_nursing)


def _plain_value(value: Any) -> Any:
    """A frame cell as openpyxl takes it: None for missing and non-finite, Python scalars."""
    if value is pd.NA or value is pd.NaT:
        return None
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _table_name(title: str) -> str:
    return "t_" + re.sub(r"\W", "_", title)


def _print_setup(ws, title: str, landscape: bool = True, title_rows: str | None = "1:1") -> None:
    """A4, fitted to the page width, header rows repeated, the plan and page number in the margins."""
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.5
    if title_rows:
        ws.print_title_rows = title_rows
    ws.oddHeader.left.text = title[:200].replace("&", "&&")
    ws.oddHeader.right.text = "&A"
    ws.oddFooter.left.text = "cipopt"
    ws.oddFooter.right.text = "page &P of &N"


def _write_frame(w: _Sheets, title: str, frame: pd.DataFrame, money: set[str] = frozenset(),
                 percent: set[str] = frozenset(), number: set[str] = frozenset(),
                 row_formats: list[dict[str, str]] | None = None, print_title: str = ""):
    """A frame as an Excel Table under a frozen header, formatted by column (or per row)."""
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.table import Table, TableStyleInfo

    ws = w.sheet(title)
    headers = [str(c) for c in frame.columns]
    w.header(ws, 1, headers)
    ws.freeze_panes = "A2"
    for r, row in enumerate(frame.itertuples(index=False), start=2):
        formats = row_formats[r - 2] if row_formats is not None else {}
        for c, value in enumerate(row, start=1):
            cell = _cell(ws, r, c, _plain_value(value))
            column = headers[c - 1]
            if column in formats:
                cell.number_format = formats[column]
            elif column in money:
                cell.number_format = ACCOUNTING_FORMAT
            elif column in percent:
                cell.number_format = "0.0%"
            elif column in number:
                cell.number_format = NUMBER_FORMAT
    if len(frame.columns) and len(frame):
        ref = f"A1:{get_column_letter(len(frame.columns))}{len(frame) + 1}"
        table = Table(displayName=_table_name(title), ref=ref)
        table.tableStyleInfo = TableStyleInfo(name="TableStyleMedium2", showRowStripes=True)
        ws.add_table(table)
    w.fit(ws, frame)
    _print_setup(ws, print_title)
    return ws


def targets_frame(years: pd.DataFrame, instance: Instance) -> pd.DataFrame:
    """Targets as a board reads them: one row per target and line (achieved, required, shortfall)."""
    targets = years[years["measure"].astype(str).str.startswith("target:")]
    rows = []
    for (measure, org), group in targets.groupby(["measure", "org"], sort=False):
        by_year = {int(r.year): r for r in group.itertuples()}
        for line, field in (("achieved", "value"), ("required", "bound"), ("shortfall", "shortfall")):
            row = {"target": measure.removeprefix("target:"), "org": org, "line": line}
            for y in instance.years:
                r = by_year.get(y)
                value = getattr(r, field) if r is not None else None
                row[y] = None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)
            rows.append(row)
    return pd.DataFrame(rows, columns=["target", "org", "line", *instance.years])


def _target_charts(ws, frame: pd.DataFrame, instance: Instance, unit: str) -> None:
    """One native chart per target: the net saving achieved (bars) against the requirement (line)."""
    from openpyxl.chart import BarChart, LineChart, Reference, Series

    n_years = len(instance.years)
    if not n_years or not len(frame):
        return
    basis = {t.id: t.basis for t in instance.targets}
    categories = Reference(ws, min_col=4, max_col=3 + n_years, min_row=1, max_row=1)
    anchor_row = len(frame) + 4
    for k, start in enumerate(range(0, len(frame), 3)):
        target, org = frame.iloc[start]["target"], frame.iloc[start]["org"]
        first = start + 2  # the achieved row on the sheet (row 1 is the header)
        what = {"recurrent": "recurrent", "full_year_effect": "full-year-effect"}.get(basis.get(target), "in-year")
        bar = BarChart()
        bar.type = "col"
        bar.title = f"{target} ({org}): {what} net saving against the target, {unit}"
        bar.y_axis.title = unit
        bar.x_axis.title = "financial year"
        bar.y_axis.numFmt = "#,##0"
        bar.y_axis.majorGridlines = None
        achieved = Series(Reference(ws, min_col=4, max_col=3 + n_years, min_row=first, max_row=first),
                          title="achieved")
        bar.series.append(achieved)
        bar.set_categories(categories)
        line = LineChart()
        required = Series(Reference(ws, min_col=4, max_col=3 + n_years, min_row=first + 1, max_row=first + 1),
                          title="required")
        line.series.append(required)
        line.set_categories(categories)
        bar.x_axis.delete = False
        bar.y_axis.delete = False
        bar += line
        bar.legend.position = "b"
        bar.width, bar.height = 16, 7.5
        ws.add_chart(bar, f"B{anchor_row + 16 * k}")


BOTTOM_LINE_MEASURES = (  # docs/finance.md, in the order of a board paper
    "do_nothing:income", "do_nothing:pay", "do_nothing:non_pay", "do_nothing:capital_charges",
    "do_nothing:surplus", "in_year_net_saving", "non_cash_releasing_saving", "income_flow", "gain_on_disposal",
    "depreciation", "pdc", "incentive_received", "surplus", "capital_receipt", "cash",
)


def bottom_line_frame(years: pd.DataFrame, instance: Instance) -> pd.DataFrame:
    """One row per organisation (`all` first) and bottom-line measure, one column per year."""
    rows = []
    for org in ["all", *(instance.org_ids if len(instance.organisations) > 1 else ())]:
        here = years[years["org"] == org]
        for measure in BOTTOM_LINE_MEASURES:
            values = here[here["measure"] == measure].set_index("year")["value"]
            rows.append({"org": org, "measure": measure, **{y: values.get(y) for y in instance.years}})
    return pd.DataFrame(rows, columns=["org", "measure", *instance.years])


def results_workbook(outcome: SolveResult, reasons: pd.DataFrame | None = None) -> bytes:
    """The results of a solve as formatted sheets: summary, plan, targets, years, the bottom line
    (with `finance`), reasons."""
    from openpyxl.styles import Alignment, Font
    from openpyxl.worksheet.table import Table, TableStyleInfo

    inst = outcome.instance
    unit = money_label(inst.money_unit)
    w = _Sheets()
    ws = w.sheet("summary")
    summary = outcome.summary()
    _cell(ws, 1, 1, inst.name).font = Font(bold=True, size=14)
    score = summary["objective_mode"] == "weighted_score"
    # The objective is the solver's (net present value or savings, less any shortfall penalties):
    # it is labelled as the objective, never as net present value.
    items: list[tuple[str, Any, str | None]] = [
        ("status", summary["status"], None),
        ("objective" + ("" if score else f" ({unit})"), summary["objective"], None if score else ACCOUNTING_FORMAT_1),
        ("what the objective is", summary.get("objective_meaning"), None),
        ("objective mode", summary["objective_mode"], None),
    ]
    for key, words in (("net_present_value", "net present value"), ("shortfall_penalty", "shortfall penalty")):
        if key in summary:
            items.append((f"{words} ({unit})", summary[key], ACCOUNTING_FORMAT_1))
    items += [
        ("risk", summary["risk"], None),
        ("money unit", f"{summary['money_unit']} ({unit})", None),
        ("MIP gap", summary["mip_gap"], "0.0000%"),
        ("schemes selected", f"{summary['selected']} of {summary['schemes']}", None),
        ("years", f"{year_label(inst.years[0])} to {year_label(inst.years[-1])}" if inst.years else "-", None),
        ("independent checker", summary["checker"] or "-", None),
        ("solver", f"{summary['solver']} {summary['solver_version']}", None),
        ("solver options", ", ".join(f"{k}={v}" for k, v in summary["solver_options"].items()), None),
        ("build seconds", summary["build_seconds"], "0.00"),
        ("solve seconds", summary["solve_seconds"], "0.00"),
        ("instance sha256", summary["instance_sha256"], None),
        ("cipopt version", summary["cipopt_version"], None),
    ]
    items += [("message", message, None) for message in summary["messages"]]
    w.header(ws, 3, ["item", "value"])
    r = 4
    for key, value, fmt in items:
        _cell(ws, r, 1, key).font = Font(bold=True)
        cell = _cell(ws, r, 2, _plain_value(value))
        if fmt and value is not None:
            cell.number_format = fmt
        cell.alignment = Alignment(horizontal="left")
        r += 1
    table = Table(displayName="t_summary", ref=f"A3:B{r - 1}")
    table.tableStyleInfo = TableStyleInfo(name="TableStyleLight9", showRowStripes=True)
    ws.add_table(table)
    ws.freeze_panes = "A4"
    w.widths(ws, {1: 26, 2: 80})
    _print_setup(ws, inst.name, landscape=False, title_rows="3:3")
    if outcome.plan_frame is not None:
        plan = outcome.plan_frame.copy()
        order = plan["start_year"].astype("Float64").fillna(float("inf"))
        plan = plan.iloc[order.argsort(kind="stable")]
        plan["start_year"] = [year_label(y) for y in plan["start_year"].astype(object)]
        plan["selected"] = ["yes" if s else "no" for s in plan["selected"]]
        _write_frame(w, "plan", plan, print_title=inst.name)
        tf = targets_frame(outcome.years, inst)
        labels = {y: f"{year_label(y)} ({unit})" for y in inst.years}
        tf.columns = [labels.get(c, c) if isinstance(c, int) else c for c in tf.columns]
        tws = _write_frame(w, "targets", tf, money=set(labels.values()), print_title=inst.name)
        _target_charts(tws, tf, inst, unit)
        years = outcome.years.copy()
        units = [measure_unit(str(m), inst) for m in years["measure"]]
        years.insert(3, "unit", units)
        years["year"] = [year_label(y) for y in years["year"]]
        fmt = [{c: (ACCOUNTING_FORMAT if u == unit else NUMBER_FORMAT) for c in ("value", "bound", "shortfall")}
               for u in units]
        _write_frame(w, "years", years, row_formats=fmt, print_title=inst.name)
        if inst.finance is not None:  # docs/finance.md: the board's bottom line
            bl = bottom_line_frame(outcome.years, inst)
            bl.columns = [year_label(c) if isinstance(c, int) else c for c in bl.columns]
            _write_frame(w, "bottom line", bl, money={c for c in bl.columns if "/" in str(c)}, print_title=inst.name)
    if reasons is not None:
        frame = reasons.copy()
        frame["start_year"] = [year_label(y) for y in frame["start_year"].astype(object)]
        if "selected" in frame:
            frame["selected"] = ["yes" if s else "no" for s in frame["selected"]]  # as on the plan sheet
        _write_frame(w, "reasons", frame, print_title=inst.name)
        w.widths(w.book["reasons"], {4: 90})
    return w.bytes()
