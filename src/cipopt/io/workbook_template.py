"""Writing an instance as an annotated workbook (`instance_workbook`), or a blank one to fill in
(`template_workbook`): every column and key the models have, with their notes and drop-downs."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from cipopt.io.export import SCHEME_COLUMNS, TABLE_COLUMNS, instance_context, instance_tables
from cipopt.io.tables import TABLES
from cipopt.io.workbook_layout import (
    COLUMN_CHOICES, COLUMN_NOTES, CONTEXT_SHEET, NOTE, README_SHEET, SECTION_COLUMNS, SECTIONS, SETTINGS_CHOICES,
    SETTINGS_KEYS, YEAR_SECTIONS, Sheets, excel_value, print_setup, put_cell,
)
from cipopt.schema.docs import SECTION_MODELS
from cipopt.schema.instance import Instance

def _fy_years(n: int = 5) -> list[int]:
    today = dt.date.today()
    first = today.year if today.month >= 4 else today.year - 1
    return list(range(first, first + n))


_TEMPLATE_ROWS = 500  # rows of the template that carry drop-down validation


def instance_workbook(instance: Instance | None = None) -> bytes:
    """An instance as an annotated workbook, or with None a blank template to fill in."""
    from openpyxl.utils import get_column_letter

    w = Sheets()
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
        w.header(ws, 1, columns, COLUMN_NOTES[name])
        ws.freeze_panes = "B2" if name == "schemes" else "A2"
        if frame is not None:
            for r, row in enumerate(frame.itertuples(index=False), start=2):
                for c, value in enumerate(row, start=1):
                    put_cell(ws, r, c, excel_value(value))
        last = max(_TEMPLATE_ROWS, (len(frame) if frame is not None else 0) + 200)
        for c, column in enumerate(columns, start=1):
            if column in COLUMN_CHOICES[name]:
                w.choices(ws, get_column_letter(c), 2, last, COLUMN_CHOICES[name][column], column)
        w.widths(ws, {c: max(10, min(40, len(col) + 4)) for c, col in enumerate(columns, start=1)})
        if name == "schemes":
            w.widths(ws, {2: 45})
        print_setup(ws, instance.name if instance is not None else "cipopt instance workbook")
    return w.bytes()


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
        cell = put_cell(ws, r, 1, text)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        if bold:
            cell.font = Font(bold=True, size=14)
    ws.column_dimensions["A"].width = 120


def _context_sheet(w: Sheets, context: dict[str, Any], years: list[int], blank: bool) -> None:
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    ws = w.sheet(CONTEXT_SHEET)
    grey = Font(italic=True, color="666666")
    r = 1
    w.title(ws, r, "settings", 3)
    r += 1
    w.header(ws, r, ["key", "value", NOTE])
    r += 1
    flat = _flatten_settings(context)
    if blank:
        flat.setdefault("format_version", 1)
        flat.setdefault("years", ", ".join(map(str, years)))
    for key, note in SETTINGS_KEYS:
        put_cell(ws, r, 1, key)
        put_cell(ws, r, 2, excel_value(flat.pop(key, None)))
        put_cell(ws, r, 3, note).font = grey
        if key in SETTINGS_CHOICES:
            w.choices(ws, "B", r, r, SETTINGS_CHOICES[key], key)
        r += 1
    for key, value in flat.items():  # keys this page does not list (kept, and warned when read)
        put_cell(ws, r, 1, key)
        put_cell(ws, r, 2, excel_value(value))
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
                put_cell(ws, r, c, excel_value(value))
            r += 1
        r += spare
        for c, column in enumerate(columns, start=1):
            if column in COLUMN_CHOICES.get(title, {}) and r > first:
                w.choices(ws, get_column_letter(c), first, r - 1, COLUMN_CHOICES[title][column], f"{title} {column}")

    spare = 3 if blank else 0

    def cell(item: dict[str, Any], column: str) -> Any:
        value = item.get(column)
        return ", ".join(str(v) for v in value) if isinstance(value, list) else value

    for section in SECTIONS[1:]:
        if section == "quality":
            quality = context.get("quality", {})
            domains = quality.get("domains", ["safety", "effectiveness", "experience", "access"] if blank else [])
            block("quality", list(SECTION_COLUMNS["quality"]),
                  [[d, quality.get("scheme_min", {}).get(d), quality.get("portfolio_min", {}).get(d)]
                   for d in domains], 0)
            continue
        items = context.get(section, [])
        if not items and not blank and section not in ("organisations", "targets", "limits"):
            continue  # an optional block the instance does not use
        names = list(SECTION_COLUMNS[section])
        extra = years if section in YEAR_SECTIONS else []
        block(section, [*names, *extra],
              [[cell(item, c) for c in names] + [item.get("values", {}).get(y) for y in extra] for item in items],
              spare if section != "quality" else 0)
    w.widths(ws, {1: 24, 2: 34, 3: 14, 4: 10, 5: 18})
    for c in range(6, 6 + len(years)):
        w.widths(ws, {c: 11})
    ws.column_dimensions[get_column_letter(3)].width = 14
    print_setup(ws, str(context.get("name") or "cipopt instance workbook"), title_rows=None)


def _flatten_settings(context: dict[str, Any]) -> dict[str, Any]:
    """The settings block's keys of a context: scalars, dotted for nested ones; lists as text."""
    flat: dict[str, Any] = {}
    for key, value in context.items():
        if key in SECTION_MODELS:  # blocks of their own
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
