"""What the report reads: a solution folder of `cipopt solve --out` (with the files later
analyses add to it), or a fund panel's folder of `cipopt rank --out`, checked against the instance."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from cipopt.schema.instance import Instance
from cipopt.schema.problems import InputError, ProblemLog

SIMULATION_FILE = "simulation.csv"
ALTERNATIVES_FILE, IMPORTANCE_FILE, EXPLAIN_FILE = "alternatives.csv", "importance.csv", "explain_schemes.csv"
BIDS_FILE, LEVELS_FILE = "bids.csv", "budget_levels.csv"  # `cipopt rank --out`


@dataclass
class ReportInputs:
    instance: Instance
    summary: dict[str, Any]
    plan: dict[str, int | None] | None
    years: pd.DataFrame | None
    simulation: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)
    solution_dir: str = ""
    alternatives: pd.DataFrame | None = None  # alternatives.csv of `cipopt alternatives`
    importance: pd.DataFrame | None = None  # importance.csv of `cipopt alternatives`
    explanations: pd.DataFrame | None = None  # explain_schemes.csv of `cipopt explain`
    bids: pd.DataFrame | None = None  # bids.csv of `cipopt rank`: the folder is a fund panel's ranking
    levels: pd.DataFrame | None = None  # budget_levels.csv of `cipopt rank`

    @property
    def is_ranking(self) -> bool:
        return self.bids is not None


def _simulation_of(instance: Instance, sim: pd.DataFrame, label: str, log: ProblemLog) -> pd.DataFrame | None:
    """The simulation table if its years and targets are the instance's (else another instance's run)."""
    years, targets = {str(y) for y in instance.years}, {t.id for t in instance.targets}
    found = len(log.errors)
    for i, (year, target) in enumerate(zip(sim["year"], sim["target"] if "target" in sim.columns else
                                           [None] * len(sim))):
        shown = str(year).removesuffix(".0")
        if shown not in years:
            log.error(label, f"year {shown} is not a plan year ({instance.years[0]}-{instance.years[-1]}): "
                             "was it simulated for another instance?", row=i + 2, column="year")
        if target is not None and not pd.isna(target) and str(target) not in targets:
            log.error(label, f"target {str(target)!r} is not a target of the instance: was it simulated for "
                             "another instance?", row=i + 2, column="target")
        if len(log.errors) - found >= 5:
            break  # a file from another instance: a few rows say so
    return sim if len(log.errors) == found else None


def read_solution(instance: Instance, folder: str | Path, log: ProblemLog) -> ReportInputs:
    """The files of a solution folder, checked against the instance; InputError on bad input."""
    from cipopt.io.plan import read_plan

    folder = Path(folder)
    if not folder.is_dir():
        log.error(str(folder), "no such solution folder: give the --out folder of cipopt solve")
        raise InputError(log.problems)
    summary_path = folder / "summary.json"
    summary: dict[str, Any] = {}
    if not summary_path.exists():
        log.error(str(summary_path), "is missing: the solution folder of cipopt solve holds summary.json")
    else:
        try:
            summary = json.loads(summary_path.read_text(encoding="utf-8"))
            if not isinstance(summary, dict):
                raise ValueError("not a JSON object")
        except (ValueError, OSError) as exc:
            log.error(str(summary_path), f"is not a readable summary: {exc}")
            summary = {}
        if summary and not (folder / BIDS_FILE).exists():  # a rank folder's summary is rank's own
            _check_solve_summary(summary, str(summary_path), log)
        if log.errors:
            raise InputError(log.problems)
    plan = None
    years = None
    plan_path, years_path = folder / "plan.csv", folder / "years.csv"
    if plan_path.exists():
        try:
            plan = read_plan(plan_path, instance, log)
        except InputError:
            pass
    elif summary.get("status") in PLAN_STATUSES and not (folder / BIDS_FILE).exists():
        log.error(str(plan_path), "is missing, though summary.json says a plan was found")
    if plan_path.exists() and summary and summary.get("status") not in PLAN_STATUSES:
        log.error(str(plan_path), f"lies beside a summary.json whose status is {summary.get('status')!r} "
                                  "(no plan): the folder mixes two runs; solve again with --out")
    if years_path.exists():
        try:
            years = _restored(pd.read_csv(years_path, keep_default_na=True))
            missing = {"year", "org", "measure", "value"} - set(years.columns)
            if missing:
                log.error(str(years_path), f"lacks the columns {', '.join(sorted(missing))}", row=1)
                years = None
        except (ValueError, OSError, pd.errors.ParserError) as exc:
            log.error(str(years_path), f"is not a readable years table: {exc}")
    elif plan is not None:
        log.error(str(years_path), "is missing: the solution folder of cipopt solve holds years.csv")
    if plan is None and years is None and not (folder / BIDS_FILE).exists() and "status" not in summary \
            and summary_path.exists() and not log.errors:
        log.error(str(folder), "holds neither a plan (cipopt solve --out) nor a ranking (cipopt rank --out)")
    simulation = None
    sim_path = folder / SIMULATION_FILE
    if sim_path.exists():
        try:
            simulation = _restored(pd.read_csv(sim_path))
            if "year" not in simulation.columns:
                log.error(str(sim_path), "needs a 'year' column", row=1)
                simulation = None
            else:
                simulation = _simulation_of(instance, simulation, str(sim_path), log)
        except (ValueError, OSError, pd.errors.ParserError) as exc:
            log.error(str(sim_path), f"is not a readable table: {exc}")
    optional = {}
    for name, needed in ((ALTERNATIVES_FILE, {"plan", "objective"}), (IMPORTANCE_FILE, {"scheme", "rank"}),
                         (EXPLAIN_FILE, {"scheme", "reason"}),
                         (BIDS_FILE, {"rank", "bid", "score", "fund_cost", "value_for_money", "entry_budget"}),
                         (LEVELS_FILE, {"fund_budget", "optimal_value", "greedy_value"})):
        path = folder / name
        if not path.exists():
            continue
        try:
            frame = _restored(pd.read_csv(path, keep_default_na=False, na_values=[""]))
        except (ValueError, OSError, pd.errors.ParserError) as exc:
            log.error(str(path), f"is not a readable table: {exc}")
            continue
        missing = needed - set(frame.columns)
        if missing:
            log.error(str(path), f"lacks the columns {', '.join(sorted(missing))}", row=1)
        else:
            optional[name] = frame
    if log.errors:
        raise InputError(log.problems)
    notes = []
    sha = summary.get("instance_sha256")
    if sha and sha != instance.sha256():
        message = (f"the solution was made for another instance (hash {sha[:12]}, this instance "
                   f"{instance.sha256()[:12]}): figures from the solution folder may not match it")
        log.warn(str(summary_path), message)
        notes.append(message)
    return ReportInputs(instance, summary, plan, years, simulation, notes, str(folder),
                        alternatives=optional.get(ALTERNATIVES_FILE), importance=optional.get(IMPORTANCE_FILE),
                        explanations=optional.get(EXPLAIN_FILE), bids=optional.get(BIDS_FILE),
                        levels=optional.get(LEVELS_FILE))


def _restored(frame: pd.DataFrame) -> pd.DataFrame:
    """cipopt's own CSV back as written: cells neutralised against formula injection restored."""
    from cipopt.io.write import restore

    return frame.map(lambda v: restore(v) if isinstance(v, str) else v)


PLAN_STATUSES = ("optimal", "feasible")
SOLVE_STATUSES = ("optimal", "feasible", "infeasible", "time_limit_no_solution", "error")
_SUMMARY_NUMBERS = ("objective", "net_present_value", "shortfall_penalty", "risk_penalty", "mip_gap", "dual_bound",
                    "build_seconds", "solve_seconds")
_SUMMARY_TEXTS = ("solver", "solver_version", "instance_sha256", "objective_mode", "cipopt_version", "checker")


def _check_solve_summary(summary: dict, label: str, log: ProblemLog) -> None:
    """A solution folder's summary.json is untrusted too: it must be a solve's, its values typed."""
    if "solver" not in summary or "status" not in summary:
        log.error(label, "is not the summary of cipopt solve (no status and solver): the folder is "
                         "not a solve's --out folder (cipopt simulate, check and the analyses write their own)")
        return
    if summary["status"] not in SOLVE_STATUSES:
        log.error(label, f"key status: {str(summary['status'])[:40]!r} is not a solve status "
                         f"({', '.join(SOLVE_STATUSES)})")
    for key in _SUMMARY_NUMBERS:
        value = summary.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or (isinstance(value, float) and not math.isfinite(value))):
            log.error(label, f"key {key}: {str(value)[:40]!r} is not a number")
    for key in _SUMMARY_TEXTS:
        value = summary.get(key)
        if value is not None and not isinstance(value, str):
            log.error(label, f"key {key}: {str(value)[:40]!r} is not text")
    messages = summary.get("messages", [])
    if not isinstance(messages, list) or not all(isinstance(m, str) for m in messages):
        log.error(label, "key messages: is not a list of text")
    options = summary.get("solver_options")
    if options is not None and not isinstance(options, dict):
        log.error(label, "key solver_options: is not a mapping")
