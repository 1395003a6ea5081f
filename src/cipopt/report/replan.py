"""How a re-plan is shown: terminal lines, a workbook and a one-page HTML report of its own
(plan vs actual vs forecast by scheme and month, the recovery actions, the run it re-plans)."""

from __future__ import annotations

import html
import io

import numpy as np
import pandas as pd

from cipopt.report.text import money


def run_words(result) -> str:
    a = result.approved
    if a is None:
        return "no approved plan given (--against RUN): changes are not compared"
    return f"re-plans run {a.run_id} of the run history"


def recovery_table(result) -> pd.DataFrame:
    """The recovery actions: schemes newly started in the remaining months of the current year."""
    s = result.schemes
    return s[s["change"].str.startswith("recovery")].reset_index(drop=True)


def lines(result) -> list[str]:
    a, inst, out = result.actuals, result.instance, result.outcome
    unit = inst.money_unit
    text = [f"{inst.name}: re-plan as at {a.as_at.calendar} (month {a.as_at.month} of "
            f"{a.as_at.year}/{(a.as_at.year + 1) % 100:02d}); {run_words(result)}",
            f"status: {out.status.value}" + ("" if out.objective is None else
                                             f"   objective (remaining choice, {unit}): {money(out.objective)}")]
    text += [f"  {m}" for m in list(out.messages) + list(result.messages)]
    if result.outturn is None:
        return text
    text.append(f"\nthe year {a.as_at.year}/{(a.as_at.year + 1) % 100:02d} ({unit}; forecast outturn = delivered to "
                "date + what the remaining months deliver)")
    for r in result.outturn.itertuples():
        gap = (f"gap {money(r.gap_before_recovery)}" if r.gap_before_recovery > 0
               else f"no gap ({money(-r.gap_before_recovery)} ahead)")
        what = (f"control total {r.target} (the in-year net saving it needs, {r.org})" if r.basis == "control total"
                else f"target {r.target} ({r.basis}, {r.org})")
        text.append(f"  {what}: required {money(r.required)}, delivered to date "
                    f"{money(r.delivered_to_date)}, started schemes forecast {money(r.forecast_started)}, {gap}")
        closes = (f"; of the gap it closes {money(r.gap_closed_recurrent)} recurrently and "
                  f"{money(r.gap_closed_nonrecurrent)} non-recurrently" if r.gap_before_recovery > 0 else "")
        text.append(f"    the recovery adds {money(r.recovery_recurrent)} recurrent and {money(r.recovery_nonrecurrent)} "
                    f"non-recurrent{closes}; forecast outturn {money(r.forecast_outturn)}, shortfall "
                    f"{money(r.shortfall)}")
    if result.approved is not None:
        done = result.months[result.months["month_number"] <= a.as_at.month]
        plan, actual = float(done["plan"].sum()), float(done["actual"].sum())
        behind = f" ({actual / plan:.0%} of the phased plan)" if plan > 0 else ""
        text.append(f"  savings to date: {money(actual)} delivered against {money(plan)} planned{behind}")
    rec = recovery_table(result)
    text.append(f"\nrecovery actions: {len(rec)} new start(s) in the remaining months")
    for r in rec.itertuples():
        text.append(f"  {r.scheme} ({r.name}) from {r.start_month}")
    changed = result.schemes[~result.schemes["change"].isin(["not selected", "as approved", "started as approved",
                                                             "started", "later start"])
                             & ~result.schemes["change"].str.startswith("recovery")]
    if len(changed):
        text.append("\nchanges against the approved plan" if result.approved else "\nstatus changes")
        for r in changed.itertuples():
            text.append(f"  {r.scheme}: {r.change}")
    if out.check is not None and result.check is not None:
        text.append("\nindependent check: " + ("every rule holds and the outturn agrees"
                                               if out.check.ok and result.check.ok else "REJECTED"))
    return text


def workbook_bytes(result) -> bytes:
    """replan.xlsx: a README sheet (as-at, the run it re-plans), schemes, recovery, outturn, months, years."""
    buffer = io.BytesIO()
    about = pd.DataFrame([
        ("instance", result.instance.name), ("as at", result.actuals.as_at.calendar),
        ("re-plans", run_words(result)), ("actuals", result.actuals.source),
        ("status", result.outcome.status.value), ("objective (remaining choice)", result.outcome.objective),
        ("money unit", result.instance.money_unit)], columns=["item", "value"])
    sheets = {"README": about, "schemes": result.schemes, "recovery": recovery_table(result),
              "outturn": result.outturn, "months": result.months, "years": result.outcome.years}
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        for name, frame in sheets.items():
            if frame is not None:
                frame.to_excel(writer, sheet_name=name, index=False)
    return buffer.getvalue()


PLAIN = {"year", "start_year", "approved_start_year", "month_number"}  # numbers that are not money


def _table(frame: pd.DataFrame) -> str:
    def cell(v, column) -> str:
        if v is None or (not isinstance(v, str) and pd.isna(v)):
            return ""
        if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and column not in PLAIN:
            return money(float(v))
        return html.escape(str(v))
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{cell(v, c)}</td>" for v, c in zip(row, frame.columns)) + "</tr>"
                   for row in frame.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def html_report(result) -> str:
    """A self-contained page: the re-plan section, with the month table pivoted by scheme."""
    return html_page(result.derived.name, result.actuals.as_at.calendar, run_words(result), result.instance.money_unit,
                     result.outturn, recovery_table(result), result.schemes, result.months)


def html_from_folder(folder) -> str:
    """The same page from a `cipopt replan --out` folder (what `cipopt report` draws for one)."""
    import json
    from pathlib import Path

    folder = Path(folder)
    summary = json.loads((folder / "summary.json").read_text())
    run = summary.get("against_run")
    words = (f"re-plans run {run} of the run history" if run is not None
             else "no approved plan given (--against RUN): changes are not compared")
    tables = {name: pd.read_csv(folder / f"{name}.csv", keep_default_na=False, na_values=[""])
              for name in ("outturn", "recovery", "plan", "months")}
    for name in ("recovery", "plan"):
        for column in ("approved_start_year", "start_year"):
            tables[name][column] = tables[name][column].astype("Int64")
        for column in ("name", "status", "rag", "start_month", "change"):
            values = tables[name][column].astype(object)
            tables[name][column] = values.where(values.notna(), "")
    tables["outturn"]["year"] = tables["outturn"]["year"].astype("Int64")
    tables["months"]["month_number"] = tables["months"]["month_number"].astype("Int64")
    return html_page(summary.get("instance_name", ""), summary["as_at"], words, summary.get("money_unit", ""),
                     tables["outturn"], tables["recovery"], tables["plan"], tables["months"])


def html_page(name: str, as_at: str, words: str, unit: str, outturn: pd.DataFrame, recovery: pd.DataFrame,
              schemes: pd.DataFrame, months: pd.DataFrame) -> str:
    parts = [f"<h1>Re-plan as at {html.escape(as_at)}</h1>",
             f"<p>{html.escape(name)}; {html.escape(words)}; money in {html.escape(unit)}.</p>",
             "<h2>The year: forecast outturn against the requirement</h2>", _table(outturn),
             "<h2>Recovery actions</h2>", _table(recovery),
             "<h2>Schemes: approved, actual and re-planned</h2>", _table(schemes)]
    for measure in ("plan", "actual", "forecast"):
        values = months.dropna(subset=[measure])
        if len(values):
            wide = values.pivot_table(index="scheme", columns="month", values=measure, aggfunc="sum", sort=False)
            parts += [f"<h2>Savings by scheme and month: {measure}</h2>", _table(wide.reset_index())]
    style = ("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:1.5em}"
             "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}td:first-child{text-align:left}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Re-plan</title><style>{style}</style></head>"
            f"<body>{''.join(parts)}</body></html>")
