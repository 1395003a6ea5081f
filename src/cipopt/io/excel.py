"""The spreadsheet form of an instance: one .xlsx workbook, and the workbooks cipopt writes.

One name to import from; the work is split along its seams:

- `workbook_layout`: the sheets, the `context` sheet's blocks and columns, header notes and
  drop-downs (read from the models), and the helpers every written workbook uses;
- `workbook_read`: `read_workbook` and `load_workbook_instance`, every input check of a folder,
  with messages that name the workbook, sheet, row and column;
- `workbook_template`: `instance_workbook` (an instance, or a blank annotated template when None)
  and `template_workbook`;
- `workbook_results`: `results_workbook` (plan, targets, years, summary and reasons of a solve).

Writers return bytes for an atomic `write_file`.
"""

from __future__ import annotations

from cipopt.io.folder import is_workbook_path
from cipopt.io.workbook_layout import (
    BOOLEAN_COLUMNS, COLUMN_CHOICES, COLUMN_NOTES, CONTEXT_SHEET, README_SHEET, SECTION_COLUMNS, SECTIONS,
    SETTINGS_KEYS,
)
from cipopt.io.workbook_read import (
    MAX_UNPACKED_BYTES, SheetUnreadable, load_workbook_instance, read_workbook,
)
from cipopt.io.workbook_results import (
    ACCOUNTING_FORMAT, BOTTOM_LINE_MEASURES, NUMBER_FORMAT, bottom_line_frame, measure_unit, money_label,
    results_workbook, targets_frame, year_label,
)
from cipopt.io.workbook_template import instance_workbook, template_workbook

__all__ = [
    "ACCOUNTING_FORMAT", "BOOLEAN_COLUMNS", "BOTTOM_LINE_MEASURES", "COLUMN_CHOICES", "COLUMN_NOTES", "CONTEXT_SHEET",
    "MAX_UNPACKED_BYTES", "NUMBER_FORMAT", "README_SHEET", "SECTIONS", "SECTION_COLUMNS", "SETTINGS_KEYS",
    "SheetUnreadable", "bottom_line_frame", "instance_workbook", "is_workbook_path", "load_workbook_instance",
    "measure_unit", "money_label", "read_workbook", "results_workbook", "targets_frame", "template_workbook",
    "year_label",
]
