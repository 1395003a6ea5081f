"""How an instance workbook is laid out: its sheets, the blocks of the `context` sheet and their
columns, the header notes and drop-downs (all read from the models, cipopt.schema.docs), and the
small helpers every workbook cipopt writes uses.

The `context` sheet (docs/reports.md) holds instance.yaml as blocks, each under a title row:

    settings        key | value | note             (name, years, discount_rate, objective.mode, ...)
    organisations   id | name | sector
    targets         id | org | basis | hard | shortfall_penalty | <one column per year>
    limits          id | org | metric | sense | <one column per year>
    quality         domain | scheme_min | portfolio_min
    criteria        id | weight | weight_min | weight_max
    fair_shares     id | org | sector | metric | min_share | years   (extension, docs/ranking.md)
    risk_groups     id | correlation                (docs/risk.md)
"""

from __future__ import annotations

import io
import math
from typing import Any

import pandas as pd

from cipopt.io.text import parse_year
from cipopt.schema.docs import (
    SECTION_MODELS, TABLE_MODELS, nested_model, choices, columns, default_text, description, is_list, yaml_keys,
)
from cipopt.schema.instance import Quality

CONTEXT_SHEET = "context"
README_SHEET = "README"
SECTIONS = ("settings", "organisations", "targets", "limits", "quality", "criteria", "fair_shares", "risk_groups")
# A block's columns are its model's fields (a target's and a limit's `values` are the year columns).
SECTION_COLUMNS: dict[str, tuple[str, ...]] = {
    "settings": ("key", "value"),
    **{section: tuple(f for f in model.model_fields if f != "values") for section, model in SECTION_MODELS.items()},
    "quality": ("domain", "scheme_min", "portfolio_min"),
}
YEAR_SECTIONS = ("targets", "limits")
_QUALITY_NOTES = {"domain": (Quality, "domains"), "scheme_min": (Quality, "scheme_min"),
                  "portfolio_min": (Quality, "portfolio_min")}


def _settings_fields() -> tuple[tuple[str, type, str], ...]:
    """(key, model, field) of the settings block: every key of instance.yaml that is not a block of
    its own, nested ones dotted (objective.mode); `finance` is one cell of JSON (= YAML)."""
    out = []
    for key, model, name in yaml_keys():
        top = key.split(".")[0].split("[")[0]
        if top in SECTION_MODELS or "[]" in key or (top == "finance" and key != "finance") \
                or (key.startswith("quality.") and key.split(".")[1] in ("domains", "scheme_min", "portfolio_min")):
            continue
        if key != "finance" and nested_model(model.model_fields[name].annotation) is not None:
            continue  # quality, objective, solver: their keys are listed instead
        out.append((key, model, name))
    return tuple(out)


_SETTINGS_FIELDS = _settings_fields()
LIST_SETTINGS = tuple(key for key, model, name in yaml_keys()  # a settings cell `a, b, c` is a list
                       if is_list(model, name) and "[" not in key and key.split(".")[0] not in SECTION_MODELS
                       and not key.startswith("finance"))
NOTE = "note"

# Booleans and drop-downs come from the models: a Literal's values, true/false, or a field's stated choices.
BOOLEAN_COLUMNS = {name for model in (*TABLE_MODELS.values(), *SECTION_MODELS.values())
                   for name in model.model_fields if choices(model, name) == ("true", "false")}


def _note(model, name: str) -> str:
    """A header's note: the field's documentation, and its default."""
    text = description(model, name)
    default = default_text(model, name)
    if default == "required":
        return f"Required. {text}"
    return f"{text} (default {default})" if default else text


def _block_notes(model, names) -> dict[str, str]:
    notes = {name: _note(model, name) for name in names if name in model.model_fields}
    if "values" in model.model_fields:
        notes["year"] = description(model, "values")  # one column per year: each may be left empty
    return notes


def _block_choices(model, names) -> dict[str, tuple[str, ...]]:
    return {name: c for name in names if name in model.model_fields and (c := choices(model, name)) and len(c) > 1}


SETTINGS_KEYS: tuple[tuple[str, str], ...] = tuple((key, _note(model, name)) for key, model, name in _SETTINGS_FIELDS)
SETTINGS_CHOICES = {key: c for key, model, name in _SETTINGS_FIELDS if (c := choices(model, name)) and len(c) > 1}
COLUMN_NOTES: dict[str, dict[str, str]] = {
    **{table: _block_notes(model, columns(table)) for table, model in TABLE_MODELS.items()},
    **{section: _block_notes(model, model.model_fields) for section, model in SECTION_MODELS.items()},
    "quality": {column: _note(*where) for column, where in _QUALITY_NOTES.items()},
}
COLUMN_CHOICES: dict[str, dict[str, tuple[str, ...]]] = {
    **{table: _block_choices(model, columns(table)) for table, model in TABLE_MODELS.items()},
    **{section: _block_choices(model, model.model_fields) for section, model in SECTION_MODELS.items()},
}



# -- writing -----------------------------------------------------------------------------------

_HEADER_FILL = "1F4E79"
_TITLE_FILL = "D9E1F2"


def excel_value(value: Any) -> Any:
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


def put_cell(ws, row: int, column: int, value: Any):
    """Write a cell; text is always text (openpyxl would take "==" or "=x" for a formula)."""
    cell = ws.cell(row=row, column=column, value=value)
    if isinstance(value, str) and value.startswith("="):
        cell.data_type = "s"
    return cell


class Sheets:
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
            cell = put_cell(ws, row, col, name)
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

        cell = put_cell(ws, row, 1, text)
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


def print_setup(ws, title: str, landscape: bool = True, title_rows: str | None = "1:1") -> None:
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
