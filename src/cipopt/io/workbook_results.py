"""The results workbook of `cipopt solve --excel`: plan, targets, years, summary and reasons of a solve."""

from __future__ import annotations

import math
import re
from typing import Any

import pandas as pd

from cipopt.io.workbook_layout import Sheets, print_setup, put_cell
from cipopt.schema.instance import Instance
from cipopt.schema.rules import RuleRef
from cipopt.solve.result import SolveResult

# -- the results workbook ---------------------------------------------------------------------
# A workbook a finance team files: every table an Excel Table (filters, banding) under a frozen
# header, money in accounting format (negatives in brackets, a dash for zero) with its unit in the
# header, years labelled 2025/26 on every sheet, each sheet set to print on A4, and a native chart
# per target of the net saving achieved against what is required.

# Accounting formats: positive, negative in brackets, zero as a dash, text as is.
ACCOUNTING_FORMAT = '_(#,##0_);(#,##0);_("-"_);_(@_)'
ACCOUNTING_FORMAT_1 = '_(#,##0.0_);(#,##0.0);_("-"_);_(@_)'
NUMBER_FORMAT = '_(#,##0.0_);(#,##0.0);_("-"_);_(@_)'  # other quantities (days, WTE, QIA scores)

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
    ref = RuleRef.from_measure(measure)
    if (ref is not None and ref.kind == "target") or measure in _NET_MEASURES or measure in BUILTIN_METRICS:
        return unit
    if ref is not None and ref.kind == "limit":
        limit = next((lim for lim in instance.limits if lim.id == ref.id), None)
        if limit is not None:
            return unit if _is_money_metric(limit.metric) else limit.metric
        return ""
    if ref is not None and ref.kind == "quality":
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


def _write_frame(w: Sheets, title: str, frame: pd.DataFrame, money: set[str] = frozenset(),
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
            cell = put_cell(ws, r, c, _plain_value(value))
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
    print_setup(ws, print_title)
    return ws


def targets_frame(years: pd.DataFrame, instance: Instance) -> pd.DataFrame:
    """Targets as a board reads them: one row per target and line (achieved, required, shortfall)."""
    rows = []
    for ref, group in RuleRef.groups(years, "target").items():
        by_year = {int(r.year): r for r in group.itertuples()}
        for line, field in (("achieved", "value"), ("required", "bound"), ("shortfall", "shortfall")):
            row = {"target": ref.id, "org": ref.org, "line": line}
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
    w = Sheets()
    ws = w.sheet("summary")
    summary = outcome.summary()
    put_cell(ws, 1, 1, inst.name).font = Font(bold=True, size=14)
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
        put_cell(ws, r, 1, key).font = Font(bold=True)
        cell = put_cell(ws, r, 2, _plain_value(value))
        if fmt and value is not None:
            cell.number_format = fmt
        cell.alignment = Alignment(horizontal="left")
        r += 1
    table = Table(displayName="t_summary", ref=f"A3:B{r - 1}")
    table.tableStyleInfo = TableStyleInfo(name="TableStyleLight9", showRowStripes=True)
    ws.add_table(table)
    ws.freeze_panes = "A4"
    w.widths(ws, {1: 26, 2: 80})
    print_setup(ws, inst.name, landscape=False, title_rows="3:3")
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
