"""What-if comparison: the base plan and each scenario's plan, solved with one built model.

One `Planner` is built for the base instance; every scenario is passed to it as a variant, so a
scenario that changes only bounds, windows, flags, penalties or weights is re-solved in the model
HiGHS already holds, and one that changes coefficients (a scaled metric) is rebuilt once. The
base plan is given to HiGHS as a first incumbent wherever the checker says it keeps the
scenario's rules. An infeasible scenario is a row of the comparison with its reasons, not a crash.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from cipopt.analysis.scenario import Applied
from cipopt.analysis.sweep import (
    IN_PROCESS, Sweep, VariantTask, planner_setup, run_sweep, solve_variant, solver_threads,
)
from cipopt.pipeline import Planner, SolveOptions, SolveOutcome
from cipopt.report.text import OBJECTIVE_WORDS, describe_worst, money, worst_shortfalls
from cipopt.schema.instance import Instance
from cipopt.schema.rules import RuleRef
from cipopt.solve.result import objective_words

BASE = "base"
Progress = Callable[[int, int, str], None]
"""progress(done, total, label): called before each solve and once at the end (done == total)."""

LEAD_COLUMNS = [
    "scenario", "description", "status", "objective", "change_vs_base", "change_pct", "net_present_value",
    "npv_change_vs_base", "shortfall_penalty", "risk_penalty", "selected",
    "schemes_in", "schemes_out", "schemes_moved", "rebuilt", "warm_start", "solve_seconds", "notes",
]


@dataclass
class WhatIfRow:
    name: str
    description: str
    outcome: SolveOutcome
    rebuilt: bool = False
    """The scenario changed the model's structure, so the model was built afresh for it."""
    warm_start: bool = False
    """The base plan keeps the scenario's rules and was given to HiGHS as a first incumbent."""
    changes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    schemes_in: list[str] = field(default_factory=list)
    schemes_out: list[str] = field(default_factory=list)
    moved: list[tuple[str, int, int]] = field(default_factory=list)  # (scheme, base start, new start)

    @property
    def has_plan(self) -> bool:
        return self.outcome.plan is not None and self.outcome.status.has_plan


@dataclass
class WhatIf:
    instance: Instance
    rows: list[WhatIfRow]
    options: SolveOptions

    @property
    def base(self) -> WhatIfRow:
        return self.rows[0]

    def change(self, row: WhatIfRow) -> tuple[float | None, float | None]:
        base, value = self.base.outcome.objective, row.outcome.objective
        if base is None or value is None or not row.has_plan or not self.base.has_plan:
            return None, None
        diff = value - base
        return diff, (diff / abs(base) if abs(base) > 1e-9 else None)

    def npv_change(self, row: WhatIfRow) -> float | None:
        base, value = self.base.outcome.net_present_value, row.outcome.net_present_value
        if base is None or value is None or not row.has_plan or not self.base.has_plan:
            return None
        return value - base

    # -- tables ---------------------------------------------------------------------------------
    def table(self) -> pd.DataFrame:
        """One row per scenario (the base first): the comparison, as whatif.csv holds it."""
        records = []
        years = list(self.instance.years)
        for row in self.rows:
            out = row.outcome
            diff, pct = self.change(row)
            rec: dict[str, Any] = {
                "scenario": row.name, "description": row.description, "status": out.status.value,
                "objective": out.objective if row.has_plan else None,
                "change_vs_base": diff, "change_pct": None if pct is None else 100.0 * pct,
                "net_present_value": out.net_present_value if row.has_plan else None,
                "npv_change_vs_base": self.npv_change(row),
                "shortfall_penalty": out.shortfall_penalty if row.has_plan else None,
                "risk_penalty": out.risk_penalty if row.has_plan else None,
                "selected": len(out.selected) if row.has_plan else None,
                "schemes_in": ";".join(row.schemes_in), "schemes_out": ";".join(row.schemes_out),
                "schemes_moved": ";".join(f"{s} {a}->{b}" for s, a, b in row.moved),
                "rebuilt": row.rebuilt, "warm_start": row.warm_start,
                "solve_seconds": round(out.solve_seconds, 3),
                "notes": " | ".join(row.notes + out.messages),
            }
            if row.has_plan and out.years is not None:
                rec.update(_wide_figures(out, years))
            records.append(rec)
        frame = pd.DataFrame.from_records(records)
        rest = [c for c in frame.columns if c not in LEAD_COLUMNS]
        return frame[LEAD_COLUMNS + _order(rest, years)]

    def years(self) -> pd.DataFrame:
        """Tidy: every scenario's years table (years.csv of `cipopt solve`) with a scenario column."""
        frames = []
        for row in self.rows:
            if row.has_plan and row.outcome.years is not None:
                frames.append(row.outcome.years.assign(scenario=row.name))
        if not frames:
            return pd.DataFrame(columns=["scenario", "year", "org", "measure", "value", "sense", "bound", "shortfall"])
        frame = pd.concat(frames, ignore_index=True)
        return frame[["scenario"] + [c for c in frame.columns if c != "scenario"]]

    def plans(self) -> pd.DataFrame:
        """Tidy: one row per scenario and scheme with its start year (empty when not selected)."""
        records = []
        for row in self.rows:
            if not row.has_plan:
                continue
            for sid, year in row.outcome.plan.items():
                records.append({"scenario": row.name, "scheme": sid, "selected": year is not None,
                                "start_year": year})
        frame = pd.DataFrame.from_records(records, columns=["scenario", "scheme", "selected", "start_year"])
        frame["start_year"] = frame["start_year"].astype("Int64")
        return frame

    def summary(self) -> dict[str, Any]:
        return {
            "instance_name": self.instance.name,
            "instance_sha256": self.instance.sha256(),
            "objective_mode": self.instance.objective.mode,
            "objective_meaning": objective_words(self.instance),
            "money_unit": self.instance.money_unit,
            "solver_options": self.base.outcome.options,
            "scenarios": [
                {
                    "scenario": row.name, "description": row.description,
                    "status": row.outcome.status.value,
                    "objective": _json(row.outcome.objective) if row.has_plan else None,
                    "change_vs_base": _json(self.change(row)[0]),
                    "net_present_value": _json(row.outcome.net_present_value) if row.has_plan else None,
                    "npv_change_vs_base": _json(self.npv_change(row)),
                    "shortfall_penalty": _json(row.outcome.shortfall_penalty) if row.has_plan else None,
                    "risk_penalty": _json(row.outcome.risk_penalty) if row.has_plan else None,
                    "worst_shortfall": {t: {"year": y, "shortfall": v} for t, (y, v) in
                                        worst_shortfalls(row.outcome.years).items()} if row.has_plan else None,
                    "mip_gap": _json(row.outcome.mip_gap),
                    "checker": None if row.outcome.check is None else ("accepted" if row.outcome.check.ok else "rejected"),
                    "instance_sha256": row.outcome.instance.sha256(),
                    "rebuilt": row.rebuilt, "warm_start": row.warm_start,
                    "solve_seconds": round(row.outcome.solve_seconds, 4),
                    "schemes_in": row.schemes_in, "schemes_out": row.schemes_out,
                    "schemes_moved": [{"scheme": s, "base": a, "scenario": b} for s, a, b in row.moved],
                    "changes": row.changes, "notes": row.notes, "messages": list(row.outcome.messages),
                }
                for row in self.rows
            ],
        }

    # -- terminal -------------------------------------------------------------------------------
    def lines(self) -> list[str]:
        inst = self.instance
        mode = inst.objective.mode
        unit = "" if mode == "weighted_score" else f", {inst.money_unit}"
        last = inst.years[-1]
        lines = [f"what-if: {inst.name}", f"objective: {OBJECTIVE_WORDS[mode]}{unit}; NPV: net present value "
                 f"({inst.money_unit}, no penalties); penalty: discounted shortfall penalties", ""]
        header = ["scenario", "status", "objective", "vs base", "NPV", "NPV vs base", "penalty",
                  f"recurrent {last}", "in-year total", "in", "out", "moved"]
        table = [header]
        for row in self.rows:
            out = row.outcome
            diff, pct = self.change(row)
            if row.has_plan:
                figures = _wide_figures(out, list(inst.years))
                recurrent = figures.get(f"recurrent_net_saving:{last}")
                in_year = sum(figures.get(f"in_year_net_saving:{y}", 0.0) for y in inst.years)
                vs = "-" if row is self.base else (
                    f"{diff:+,.0f}" + (f" ({pct:+.1%})" if pct is not None else "") if diff is not None else "-")
                npv_diff = self.npv_change(row)
                npv_vs = "-" if row is self.base or npv_diff is None else f"{npv_diff:+,.0f}"
                penalty = (out.shortfall_penalty or 0.0) + (out.risk_penalty or 0.0)
                table.append([row.name, out.status.value, money(out.objective), vs, money(out.net_present_value),
                              npv_vs, money(penalty), money(recurrent), money(in_year), str(len(row.schemes_in)),
                              str(len(row.schemes_out)), str(len(row.moved))])
            else:
                table.append([row.name, out.status.value] + ["-"] * (len(header) - 2))
        lines += _render(table, right=range(2, len(header)))

        plans = [r for r in self.rows if r.has_plan]
        if plans:
            lines += ["", f"recurrent net saving by year ({inst.money_unit}):"]
            table = [["scenario"] + [str(y) for y in inst.years]]
            for row in plans:
                figures = _wide_figures(row.outcome, list(inst.years))
                table.append([row.name] + [money(figures.get(f"recurrent_net_saving:{y}")) for y in inst.years])
            lines += _render(table, right=range(1, len(inst.years) + 1))
            worst = {row.name: worst_shortfalls(row.outcome.years) for row in plans}
            ids = [t.id for t in inst.targets]
            if ids:
                lines += ["", f"shortfall per target, its worst year ({inst.money_unit}; never summed over years "
                              "or targets):"]
                table = [["scenario"] + ids]
                for row in plans:
                    table.append([row.name] + [describe_worst(*worst[row.name].get(t, (None, 0.0))) for t in ids])
                lines += _render(table, right=range(1, len(ids) + 1))

        for row in self.rows[1:]:
            lines.append("")
            lines.append(f"{row.name}: {row.description}" if row.description else f"{row.name}:")
            if row.has_plan:
                if not (row.schemes_in or row.schemes_out or row.moved):
                    lines.append("  the same schemes in the same years as the base")
                if row.schemes_in:
                    lines.append(f"  in:    {', '.join(row.schemes_in)}")
                if row.schemes_out:
                    lines.append(f"  out:   {', '.join(row.schemes_out)}")
                if row.moved:
                    lines.append("  moved: " + ", ".join(f"{s} {a}->{b}" for s, a, b in row.moved))
            for note in row.notes:
                lines.append(f"  note: {note}")
            for message in row.outcome.messages:
                lines.append(f"  {message}")
        return lines


def _json(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _wide_figures(outcome: SolveOutcome, years: list[int]) -> dict[str, float]:
    """Savings per year (system), shortfall per target and year, quality sums per domain and year."""
    frame = outcome.years
    out: dict[str, float] = {}
    system = frame[frame["org"] == "all"]
    for measure in ("recurrent_net_saving", "in_year_net_saving"):
        rows = system[system["measure"] == measure]
        for r in rows.itertuples():
            out[f"{measure}:{int(r.year)}"] = float(r.value)
    for r in frame.itertuples():
        ref = RuleRef.from_measure(r.measure)
        if ref is not None and ref.kind == "target":
            out[f"shortfall:{ref.id}:{int(r.year)}"] = float(r.shortfall)
    quality = system[system["measure"].str.startswith("quality:")]
    for r in quality.itertuples():
        out[f"{r.measure}:{int(r.year)}"] = float(r.value)
    return out


def _order(columns: list[str], years: list[int]) -> list[str]:
    """Figures grouped by measure, years in order."""
    def key(name: str):
        head, _, year = name.rpartition(":")
        kind = next((i for i, p in enumerate(("recurrent_net_saving", "in_year_net_saving", "shortfall:", "quality:"))
                     if head.startswith(p)), 9)
        return (kind, head, int(year) if year.isdigit() else 0)
    return sorted(columns, key=key)


def _render(table: list[list[str]], right=()) -> list[str]:
    right = set(right)
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    return ["  " + "  ".join(c.rjust(w) if i in right else c.ljust(w)
                             for i, (c, w) in enumerate(zip(r, widths))).rstrip() for r in table]


def compare_plans(base: dict[str, int | None], other: dict[str, int | None]) -> tuple[list[str], list[str], list]:
    """Schemes in (selected only in `other`), out (only in `base`) and moved (another start year)."""
    into = sorted(s for s, y in other.items() if y is not None and base.get(s) is None)
    out = sorted(s for s, y in base.items() if y is not None and other.get(s) is None)
    moved = sorted((s, base[s], y) for s, y in other.items()
                   if y is not None and base.get(s) is not None and base[s] != y)
    return into, out, moved


def run_whatif(instance: Instance, scenarios: list[Applied], options: SolveOptions = SolveOptions(), *,
               planner: Planner | None = None, progress: Progress | None = None,
               sweep: Sweep = IN_PROCESS) -> WhatIf:
    """Solve the base instance and every scenario with one planner; compare them with the base.

    The base is solved here; the scenarios are one sweep (`sweep`: in this process by default, or
    on a Dask cluster, where each worker builds the base model once and re-solves it)."""
    planner = planner or Planner(instance, verbose=options.verbose)
    total = len(scenarios) + 1
    if progress:
        progress(0, total, BASE)
    base = planner.solve(options)
    rows = [WhatIfRow(name=BASE, description="the instance as given", outcome=base)]
    base_plan = base.plan if base.status.has_plan else None
    on_workers = solver_threads(options, instance, sweep)
    tasks = [VariantTask(applied.instance, on_workers, base_plan, check_start=True) for applied in scenarios]
    shifted = (lambda done, _, label: progress(done + 1, total, label)) if progress else None
    solved = run_sweep(planner_setup, instance, solve_variant, tasks, sweep=sweep, state=planner,
                       progress=shifted, labels=[a.name for a in scenarios])
    for applied, res in zip(scenarios, solved):
        outcome = dataclasses.replace(res.outcome, instance=applied.instance)  # a worker solved a copy of it
        row = WhatIfRow(name=applied.name, description=applied.description, outcome=outcome,
                        rebuilt=res.rebuilt, warm_start=res.warm_start,
                        changes=list(applied.changes), notes=list(applied.notes))
        if base_plan is not None and row.has_plan:
            row.schemes_in, row.schemes_out, row.moved = compare_plans(base_plan, outcome.plan)
        rows.append(row)
    return WhatIf(instance=instance, rows=rows, options=options)
