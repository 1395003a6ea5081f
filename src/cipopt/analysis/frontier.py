"""Trade-off curves by the epsilon-constraint method: the best plan as one rule is tightened.

The varied rule is a limit, a target or a portfolio quality floor (`quality:DOMAIN`). Each point
of the curve sets the rule's bound to a value and solves the instance to optimality (gap 0 by
default); the objective at each point is the best that any plan keeping that bound can do, so
the points trace the frontier between the objective and the rule. All points are re-solved in
one loaded model (only the rule's row bounds change), from the tightest point to the loosest,
each given the previous point's plan as a first incumbent (a plan that keeps a tighter bound
keeps a looser one).

How the bound follows the point's value `p` (see docs/whatif.md):

- a limit or target, by default: every year's value is multiplied by `p` (the instance's yearly
  profile keeps its shape; `p = 1` is the instance as given);
- with `level=True`: every year the rule names gets the value `p`;
- a quality floor: the floor is `p` in every year.

The default range runs from the tightest value at which a plan exists to the value at which
the rule stops binding (or the instance's own value, if that is looser):

- `<=` limits: from the level at which the least the metric could be (0 for costs) is required,
  or, if no plan exists there, the least feasible value found by bisection; to the level the
  plan that ignores the limit uses;
- `>=` limits, quality floors and hard targets: from the level the plan that ignores the rule
  reaches, up to the best achievable (bisection on feasibility, started from the most the rule's
  measure could be);
- soft targets: from 0 (the target asks for nothing) up to the level no plan could meet in any
  year; beyond it the plan no longer changes and the objective falls by the penalty.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cipopt.analysis.sweep import (
    IN_PROCESS, Sweep, VariantTask, feasible_start, planner_setup, run_sweep, solve_variant, solver_threads,
)
from cipopt.analysis.whatif import compare_plans
from cipopt.coefficients import build_coefficients
from cipopt.model.context import ModelContext
from cipopt.model.finance import limit_matrix
from cipopt.pipeline import Planner, SolveOptions, SolveOutcome
from cipopt.report.text import OBJECTIVE_WORDS, money
from cipopt.results import starts_from_plan
from cipopt.schema.instance import Instance
from cipopt.schema.problems import InputError, Problem
from cipopt.schema.rules import RuleRef
from cipopt.solve.result import objective_words

DEFAULT_POINTS = 11
BISECTION_TOL = 1e-3
"""The tight end of a default range is found to this fraction of the range."""
BISECTION_STEPS = 14
QUALITY_PREFIX = "quality:"
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class Rule:
    """The rule a frontier varies, and how its yearly bounds follow the point's value `p`."""

    kind: str  # "limit" | "target" | "quality"
    id: str  # limit or target id, or the quality domain
    sense: str  # "<=" | ">=" | "=="
    base: dict[int, float]  # the instance's yearly values (quality: the floor in every year, or {})
    years: tuple[int, ...]  # the years the rule bounds
    level: bool  # True: the value p in every year; False: p x the instance's values
    hard: bool = True  # soft targets: False
    org: str | None = None
    measure: str = ""  # the years.csv measure holding the rule's use: limit:ID, target:ID, quality:D

    @property
    def name(self) -> str:
        return f"{QUALITY_PREFIX}{self.id}" if self.kind == "quality" else self.id

    @property
    def ref(self) -> RuleRef:
        return RuleRef(self.kind, self.id, org=self.org)

    @property
    def parameter(self) -> str:
        return "level" if self.level else "factor"

    def values(self, p: float) -> dict[int, float]:
        if self.level:
            return {y: float(p) for y in self.years}
        return {y: float(p) * v for y, v in self.base.items()}

    @property
    def current(self) -> float | None:
        """The instance's own point: factor 1, or the level when every year has the same value."""
        if not self.level:
            return 1.0
        levels = set(self.base.values())
        return levels.pop() if len(levels) == 1 else None

    def increasing(self) -> int:
        """+1 when the yearly bounds rise with p, -1 when they fall (a negative profile scaled)."""
        if self.level:
            return 1
        moving = [v for v in self.base.values() if v != 0]
        return 1 if moving and moving[0] > 0 else -1

    def loosening(self) -> int:
        """+1 when a larger p loosens the rule (the objective can only improve), -1 when it tightens."""
        looser_when_higher = 1 if self.sense == "<=" else -1
        return looser_when_higher * self.increasing()

    def p_at(self, year: int, value: float) -> float | None:
        """The p at which the bound of `year` equals `value` (None when that year does not move)."""
        if self.level:
            return float(value)
        b = self.base.get(year, 0.0)
        return None if b == 0 else float(value) / b

    def describe(self) -> str:
        what = {"limit": "limit", "target": "target", "quality": "quality floor"}[self.kind]
        how = "the same value in every year" if self.level else "a factor on the instance's yearly values"
        return f"{what} {self.name} ({self.sense}), varied as {how}"


def resolve_rule(instance: Instance, vary: str, *, level: bool = False) -> Rule:
    """The rule a `--vary` argument names; `InputError` when there is none."""
    vary = vary.strip()
    if vary.startswith(QUALITY_PREFIX):
        domain = vary[len(QUALITY_PREFIX):]
        if domain not in instance.quality.domains:
            raise InputError([Problem("--vary", f"{domain!r} is not a quality domain of the instance: expected "
                                                + ", ".join(f"quality:{d}" for d in instance.quality.domains))])
        floor = instance.quality.portfolio_min.get(domain)
        base = {} if floor is None else {y: float(floor) for y in instance.years}
        return Rule("quality", domain, ">=", base, tuple(instance.years), True, measure=vary)
    for lim in instance.limits:
        if lim.id == vary:
            return _checked(Rule("limit", lim.id, lim.sense, dict(lim.values), tuple(sorted(lim.values)), level,
                                 org=lim.org, measure=RuleRef("limit", lim.id).measure))
    for t in instance.targets:
        if t.id == vary:
            return _checked(Rule("target", t.id, ">=", dict(t.values), tuple(sorted(t.values)), level,
                                 hard=t.hard, org=t.org, measure=RuleRef("target", t.id).measure))
    names = [lim.id for lim in instance.limits] + [t.id for t in instance.targets] + \
        [f"{QUALITY_PREFIX}{d}" for d in instance.quality.domains]
    close = difflib.get_close_matches(vary, names, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise InputError([Problem("--vary", f"unknown rule {vary!r}{hint}: expected a limit "
                                        f"({', '.join(lim.id for lim in instance.limits) or 'none'}), a target "
                                        f"({', '.join(t.id for t in instance.targets) or 'none'}) or "
                                        f"quality:DOMAIN ({', '.join(instance.quality.domains)})")])


def _checked(rule: Rule) -> Rule:
    if not rule.years:
        raise InputError([Problem("--vary", f"{rule.kind} {rule.id} names no year, so there is nothing to vary")])
    if not rule.level:
        signs = {np.sign(v) for v in rule.base.values() if v != 0}
        if not signs:
            raise InputError([Problem("--vary", f"every value of {rule.kind} {rule.id} is 0, so a factor cannot "
                                                "change it: use --level to give the value itself")])
        if len(signs) > 1:
            raise InputError([Problem("--vary", f"{rule.kind} {rule.id} has positive and negative values, so a "
                                                "factor moves them in opposite directions: use --level")])
    return rule


def rule_instance(instance: Instance, rule: Rule, values: dict[int, float]) -> Instance:
    """The instance with the rule's yearly bounds replaced (quality: one floor, every year), validated."""
    if rule.kind == "quality":
        floor = next(iter(values.values()))
        return rule.ref.with_values(instance, {y: floor for y in instance.years})
    return rule.ref.with_values(instance, values)


# -- the curve ------------------------------------------------------------------------------------

@dataclass
class FrontierPoint:
    p: float
    values: dict[int, float]
    outcome: SolveOutcome
    warm_start: bool = False
    entering: list[str] = field(default_factory=list)
    leaving: list[str] = field(default_factory=list)
    moved: list[tuple[str, int, int]] = field(default_factory=list)

    @property
    def has_plan(self) -> bool:
        return self.outcome.plan is not None and self.outcome.status.has_plan

    def use(self, rule: Rule) -> dict[int, float]:
        """The rule's measure per year in this point's plan (limit use, target achieved, quality sum)."""
        if not self.has_plan or self.outcome.years is None:
            return {}
        frame = self.outcome.years
        rows = frame[frame["measure"] == rule.measure]
        if rule.kind == "quality":
            rows = rows[rows["org"] == "all"]
        return {int(r.year): float(r.value) for r in rows.itertuples()}


@dataclass
class Frontier:
    instance: Instance
    rule: Rule
    points: list[FrontierPoint]
    range_notes: list[str] = field(default_factory=list)
    solves: int = 0
    """Solves spent finding the default range (beyond the points themselves)."""
    rebuilds: int = 0
    """Models built afresh after the first (0: every solve changed only the loaded model's bounds)."""

    def table(self) -> pd.DataFrame:
        years = list(self.instance.years)
        records = []
        for i, pt in enumerate(self.points):
            out = pt.outcome
            rec: dict[str, Any] = {
                "point": i, self.rule.parameter: pt.p, "status": out.status.value,
                "objective": out.objective if pt.has_plan else None,
                "net_present_value": out.net_present_value if pt.has_plan else None,
                "shortfall_penalty": out.shortfall_penalty if pt.has_plan else None,
                "risk_penalty": out.risk_penalty if pt.has_plan else None,
                "selected": len(out.selected) if pt.has_plan else None,
                "entering": ";".join(pt.entering), "leaving": ";".join(pt.leaving),
                "moved": ";".join(f"{s} {a}->{b}" for s, a, b in pt.moved),
                "slack": self.slack(pt), "warm_start": pt.warm_start,
                "solve_seconds": round(out.solve_seconds, 3),
                "messages": " | ".join(out.messages),
            }
            for y in self.rule.years:
                rec[f"bound:{y}"] = pt.values.get(y)
            use = pt.use(self.rule)
            for y in self.rule.years:
                rec[f"use:{y}"] = use.get(y)
            if pt.has_plan and out.years is not None:
                system = out.years[out.years["org"] == "all"]
                for measure in ("recurrent_net_saving", "in_year_net_saving"):
                    for r in system[system["measure"] == measure].itertuples():
                        rec[f"{measure}:{int(r.year)}"] = float(r.value)
            else:
                for measure in ("recurrent_net_saving", "in_year_net_saving"):
                    for y in years:
                        rec[f"{measure}:{y}"] = None
            records.append(rec)
        return pd.DataFrame.from_records(records)

    def slack(self, pt: FrontierPoint) -> float | None:
        """The least room left under the rule over its years at this point's plan (0: it holds
        with equality in some year; negative for a soft target: the largest shortfall)."""
        use = pt.use(self.rule)
        gaps = []
        for y, bound in pt.values.items():
            if y not in use:
                continue
            if self.rule.sense == "<=":
                gaps.append(bound - use[y])
            elif self.rule.sense == ">=":
                gaps.append(use[y] - bound)
            else:
                gaps.append(-abs(use[y] - bound))
        if not gaps:
            return None
        least = min(gaps)
        return 0.0 if abs(least) <= 1e-9 * max(1.0, *(abs(b) for b in pt.values.values())) else least

    def summary(self) -> dict[str, Any]:
        return {
            "instance_name": self.instance.name, "instance_sha256": self.instance.sha256(),
            "objective_mode": self.instance.objective.mode, "money_unit": self.instance.money_unit,
            "objective_meaning": objective_words(self.instance),
            "rule": {"kind": self.rule.kind, "id": self.rule.id, "sense": self.rule.sense,
                     "varied_as": self.rule.parameter, "instance_values": self.rule.base,
                     "hard": self.rule.hard},
            "range": [self.points[0].p, self.points[-1].p] if self.points else None,
            "range_notes": self.range_notes, "range_solves": self.solves,
            "solver_options": self.points[0].outcome.options if self.points else {},
            "points": [{"p": pt.p, "status": pt.outcome.status.value,
                        "objective": pt.outcome.objective if pt.has_plan else None,
                        "net_present_value": pt.outcome.net_present_value if pt.has_plan else None,
                        "shortfall_penalty": pt.outcome.shortfall_penalty if pt.has_plan else None,
                        "risk_penalty": pt.outcome.risk_penalty if pt.has_plan else None,
                        "checker": None if pt.outcome.check is None else ("accepted" if pt.outcome.check.ok else "rejected"),
                        "mip_gap": pt.outcome.mip_gap,
                        "entering": pt.entering, "leaving": pt.leaving,
                        "messages": list(pt.outcome.messages)} for pt in self.points],
        }

    def lines(self) -> list[str]:
        inst, rule = self.instance, self.rule
        mode = inst.objective.mode
        unit = "" if mode == "weighted_score" else f", {inst.money_unit}"
        last = inst.years[-1]
        lines = [f"frontier: {inst.name}", f"varying {rule.describe()}",
                 f"objective: {OBJECTIVE_WORDS[mode]}{unit}; NPV: net present value ({inst.money_unit}, "
                 "no penalties); penalty: discounted shortfall penalties"]
        lines += [f"  {n}" for n in self.range_notes]
        lines.append("")
        header = [rule.parameter, "bounds", "status", "objective", "NPV", "penalty", f"recurrent {last}", "slack",
                  "entering", "leaving"]
        table = [header]
        for pt in self.points:
            if rule.kind == "quality":
                bounds = f"{next(iter(pt.values.values())):.4g} every year"
            else:
                bounds = "/".join(money(pt.values[y]) for y in rule.years)
            figures = {}
            if pt.has_plan:
                frame = pt.outcome.years
                rows = frame[(frame["org"] == "all") & (frame["measure"] == "recurrent_net_saving")]
                figures = {int(r.year): float(r.value) for r in rows.itertuples()}
            slack = self.slack(pt)
            table.append([
                f"{pt.p:.4g}", bounds, pt.outcome.status.value,
                money(pt.outcome.objective) if pt.has_plan else "-",
                money(pt.outcome.net_present_value) if pt.has_plan else "-",
                money((pt.outcome.shortfall_penalty or 0.0) + (pt.outcome.risk_penalty or 0.0)) if pt.has_plan else "-",
                money(figures.get(last)), money(slack),
                ", ".join(pt.entering) or "-", ", ".join(pt.leaving) or "-",
            ])
        widths = [max(len(r[i]) for r in table) for i in range(len(header))]
        right = {0, 3, 4, 5, 6, 7}
        for r in table:
            lines.append("  " + "  ".join(c.rjust(w) if i in right else c.ljust(w)
                                          for i, (c, w) in enumerate(zip(r, widths))).rstrip())
        bad = [pt for pt in self.points if not pt.has_plan]
        for pt in bad:
            lines.append(f"  at {pt.p:.4g}: {pt.outcome.status.value}")
            lines += [f"    {m}" for m in pt.outcome.messages]
        return lines


def _rule_matrix(coef, rule: Rule, expected: bool):
    """(years x allowed starts): what each start adds to the rule's measure."""
    if rule.kind == "limit":
        lim = next(lim for lim in coef.instance.limits if lim.id == rule.id)
        return limit_matrix(ModelContext(instance=coef.instance, coef=coef), lim)  # docs/finance.md receipts_raise
    if rule.kind == "target":
        t = next(t for t in coef.instance.targets if t.id == rule.id)
        return coef.target_matrix(t.basis, t.org, expected)
    return coef.matrix(rule.id, None)


def _usage(coef, rule: Rule, expected: bool, plan) -> dict[int, float]:
    """The rule's measure per year in a plan."""
    values = _rule_matrix(coef, rule, expected) @ starts_from_plan(coef, plan)
    return {int(y): float(v) for y, v in zip(coef.years, values)}


def _usage_bounds(coef, rule: Rule, expected: bool) -> tuple[dict[int, float], dict[int, float]]:
    """(least, most) the rule's measure could be in each year, over any plan (one start per scheme)."""
    matrix = _rule_matrix(coef, rule, expected)
    dense = matrix.toarray() if coef.n_pairs else np.zeros((coef.n_years, 0))
    low = np.zeros(coef.n_years)
    high = np.zeros(coef.n_years)
    for pairs in coef.pairs_of_scheme:
        if len(pairs):
            block = dense[:, pairs]
            low += np.minimum(block.min(axis=1), 0.0)
            high += np.maximum(block.max(axis=1), 0.0)
    years = [int(y) for y in coef.years]
    return dict(zip(years, low.tolist())), dict(zip(years, high.tolist()))


class _Solver:
    """The frontier's one planner, counting solves and reporting progress."""

    def __init__(self, planner: Planner, options: SolveOptions, rule: Rule, progress: Progress | None):
        self.planner, self.options, self.rule, self.progress = planner, options, rule, progress
        self.solves = 0
        self.step, self.total = 0, 0

    def solve(self, values: dict[int, float], *, feasibility: bool = False, start=None, label: str = ""):
        variant = rule_instance(self.planner.instance, self.rule, values)
        options = self.options
        if feasibility:
            options = SolveOptions(time_limit=options.time_limit, mip_gap=math.inf, threads=options.threads)
        if self.progress and label:
            self.progress(self.step, self.total, label)
        warm = start is not None and feasible_start(variant, start)
        outcome = self.planner.solve(options, variant=variant, start=start if warm else None)
        self.solves += 1
        return outcome, warm


def _tightest_p(rule: Rule, usage: dict[int, float], loosen: int) -> float | None:
    """The tightest p that a plan with this usage keeps: the loosest of the per-year thresholds."""
    ps = [rule.p_at(y, usage[y]) for y in rule.years if y in usage]
    ps = [p for p in ps if p is not None]
    if not ps:
        return None
    return max(ps) if loosen > 0 else min(ps)


def default_range(solver: _Solver, rule: Rule, coef, expected: bool) -> tuple[float, float, list[str]]:
    """The (tight, loose) ends of the default range, in p, and how they were found."""
    low, high = _usage_bounds(coef, rule, expected)
    loosen = rule.loosening()
    looser = max if loosen > 0 else min
    notes: list[str] = []
    if rule.sense == "==":
        raise InputError([Problem("--vary", f"limit {rule.id} is an equality (==): give the range with --from "
                                            "and --to")])
    if rule.kind == "target" and not rule.hard:
        # the soft target asks for nothing at 0; beyond the level no plan meets in any year the
        # shortfall is (value - achieved) in every year and the plan no longer depends on it
        ends = [rule.p_at(y, high[y]) for y in rule.years]
        ends = [p for p in ends if p is not None]
        tight = max(ends) if rule.increasing() > 0 else min(ends)
        notes.append(f"from 0 (the target asks for nothing) to {tight:.4g}, above which no plan could meet "
                     "it in any year, so the plan no longer changes")
        return 0.0, tight, notes

    # the plan that ignores the rule: where the rule stops binding
    slack = {y: (high[y] + 1.0 + 1e-6 * abs(high[y])) if rule.sense == "<=" else (low[y] - 1.0 - 1e-6 * abs(low[y]))
             for y in rule.years}
    if rule.kind == "quality":
        value = max(slack.values()) if rule.sense == "<=" else min(slack.values())
        slack = {y: value for y in rule.years}
    free, _ = solver.solve(slack, label="range: the plan that ignores the rule")
    if not free.status.has_plan:
        raise InputError([Problem("--vary", f"no plan exists even when {rule.name} is ignored "
                                            f"({free.status.value}), so it has no trade-off curve: "
                                            + "; ".join(free.messages))])
    loose_end = _tightest_p(rule, _usage(coef, rule, expected, free.plan), loosen)
    if loose_end is None:
        loose_end = 0.0
    current = rule.current
    if current is not None and looser(current, loose_end) == current and current != loose_end:
        notes.append(f"the instance's own value {current:.4g} is looser than where the rule stops binding "
                     f"({loose_end:.4g}); the curve runs to the instance's value")
        loose_end = current
    else:
        notes.append(f"the rule stops binding at {loose_end:.4g} (the best plan that ignores it keeps it there)")

    # the most the rule could ask for, from the coefficients alone
    extreme = low if rule.sense == "<=" else high
    ends = [rule.p_at(y, extreme[y]) for y in rule.years]
    ends = [p for p in ends if p is not None]
    bound = looser(ends) if ends else loose_end
    probe, _ = solver.solve(rule.values(bound), feasibility=True, label="range: the tightest value")
    if _has_plan(probe):
        what = "0" if bound == 0 else f"{bound:.4g}"
        notes.append(f"a plan exists even at {what}, the tightest value the rule's measure allows")
        return bound, loose_end, notes
    if probe.status.value != "infeasible":
        notes.append(f"the solver could not tell whether a plan exists at {bound:.4g} ({probe.status.value}); "
                     "the curve starts where the rule stops binding")
        return loose_end, loose_end, notes
    # bisection between bound (no plan) and loose_end (a plan): the tightest value with a plan
    bad, good = bound, loose_end
    tol = BISECTION_TOL * max(abs(loose_end - bound), 1e-12)
    for _ in range(BISECTION_STEPS):
        if abs(good - bad) <= tol:
            break
        mid = (good + bad) / 2
        probe, _ = solver.solve(rule.values(mid), feasibility=True, label="range: bisection for the tightest value")
        if _has_plan(probe):
            kept = _tightest_p(rule, _usage(coef, rule, expected, probe.plan), loosen)
            good = mid if kept is None else _between(kept, mid, bad)
        elif probe.status.value == "infeasible":
            bad = mid
        else:
            break
    notes.append(f"no plan exists at {bound:.4g}; the tightest value with a plan is {good:.4g} "
                 f"(found by bisection to {tol:.2g})")
    return good, loose_end, notes


def _has_plan(probe: SolveOutcome) -> bool:
    """A feasibility probe found a plan the independent checker accepts. (Stopped at its first
    incumbent, the solver's own objective may count shortfalls above the least needed, which the
    pipeline reports as a mismatch; the plan itself is what tells feasibility.)"""
    return probe.plan is not None and probe.check is not None and probe.check.ok


def _between(kept: float, mid: float, bad: float) -> float:
    """The probe's plan keeps the rule down to `kept`, at least as tight as `mid`: move there,
    never past the known-infeasible `bad`."""
    lo, hi = sorted((mid, bad))
    if lo <= kept <= hi and kept != bad:
        return kept
    return mid


def run_frontier(instance: Instance, vary: str, *, points: int = DEFAULT_POINTS, start: float | None = None,
                 stop: float | None = None, level: bool = False, options: SolveOptions = SolveOptions(mip_gap=0.0),
                 progress: Progress | None = None, sweep: Sweep = IN_PROCESS) -> Frontier:
    """The trade-off curve of the objective against one rule, with `points` evenly spaced values.

    The range is found in this process. The points are solved here as one chain of starts
    (each from the tighter point's plan), or, with a Dask `sweep`, as independent tasks."""
    if points < 2:
        raise InputError([Problem("--points", f"{points} is too few: a curve needs at least 2 points")])
    rule = resolve_rule(instance, vary, level=level)
    coef = build_coefficients(instance)
    expected = instance.objective.counts_confidence
    anchor = instance
    if rule.kind == "quality" and not rule.base:
        # the instance has no floor in this domain: build the model with a floor that never binds,
        # so that every point only moves its bound
        low, _ = _usage_bounds(coef, rule, expected)
        anchor = rule_instance(instance, rule, {y: min(low.values()) - 1.0 for y in rule.years})
    planner = Planner(anchor, verbose=options.verbose)
    solver = _Solver(planner, options, rule, progress)
    solver.total = points
    notes: list[str] = []
    if start is None or stop is None:
        tight, loose, notes = default_range(solver, rule, planner.coef, expected)
        lo, hi = sorted((tight, loose))
        start = lo if start is None else start
        stop = hi if stop is None else stop
    range_solves = solver.solves
    grid = np.linspace(start, stop, points)
    # solve from the tightest to the loosest, so that each plan is a valid start for the next
    order = sorted(range(points), key=lambda k: grid[k] * rule.loosening())
    solved: dict[int, FrontierPoint] = {}
    rebuilds = 0
    if sweep.in_process:
        previous = None
        for step, k in enumerate(order):
            solver.step = step
            p = float(grid[k])
            values = rule.values(p)
            outcome, warm = solver.solve(values, start=previous, label=f"{rule.parameter} {p:.4g}")
            solved[k] = FrontierPoint(p=p, values=values, outcome=outcome, warm_start=warm)
            if solved[k].has_plan:
                previous = outcome.plan
        if progress:
            progress(points, points, "done")
    else:
        # on a cluster the points are independent tasks (no chain of starts between them)
        on_workers = solver_threads(options, anchor, sweep)
        values = {k: rule.values(float(grid[k])) for k in order}
        tasks = [VariantTask(rule_instance(anchor, rule, values[k]), on_workers) for k in order]
        results = run_sweep(planner_setup, anchor, solve_variant, tasks, sweep=sweep, state=planner,
                            progress=progress, labels=[f"{rule.parameter} {grid[k]:.4g}" for k in order])
        for k, res in zip(order, results):
            solved[k] = FrontierPoint(p=float(grid[k]), values=values[k], outcome=res.outcome,
                                      warm_start=res.warm_start)
            rebuilds += res.rebuilt
    ordered = [solved[k] for k in range(points)]
    last_plan = None
    for pt in ordered:
        if pt.has_plan:
            if last_plan is not None:
                pt.entering, pt.leaving, pt.moved = compare_plans(last_plan, pt.outcome.plan)
            last_plan = pt.outcome.plan
    return Frontier(instance=instance, rule=rule, points=ordered, range_notes=notes, solves=range_solves,
                    rebuilds=planner.rebuilds + rebuilds)
