"""Why each scheme is in or out, and what each limit and target is worth, by re-solving.

For a board paper every scheme gets one sentence: ineligible (which QIA rule), blocked (the
rules that make it impossible, from the infeasibility diagnosis), or the price of forcing it the
other way: the objective lost when the model is re-solved with it forced out (if in the plan) or
in (if out), with the schemes that change places and the rules that bind. Every limit, target
and quality floor gets its marginal value: the objective change per unit when the model is
re-solved with the bound eased by a small step (a rule with slack is worth 0 for small steps).

All re-solves reuse one built model (`Planner` variants: in place, warm-started from the
reference plan where it is still feasible), stated as sweeps so that they can run on a Dask
cluster (docs/sweeps.md), where each worker builds the model once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pandas as pd

from cipopt.analysis.sweep import (
    IN_PROCESS, Sweep, VariantTask, cluster, planner_setup, run_sweep, solve_variant, solver_threads,
)
from cipopt.model.context import fmt
from cipopt.pipeline import Planner, SolveOptions, SolveOutcome
from cipopt.results import Plan
from cipopt.schema.instance import Instance

TIGHT_REL = 1e-6
STEP_SHARE = 0.10
Progress = Callable[[int, int, str], None]
"""progress(done, total, label): the sweep protocol of cipopt.analysis.sweep, labels prefixed with
the phase ('schemes: ...', 'rules: ...'), each phase counted from 0 to its own number of re-solves."""


class NothingToExplain(Exception):
    """No reference plan: the instance is infeasible, or the given plan breaks a rule."""

    def __init__(self, outcome: SolveOutcome):
        super().__init__("; ".join(outcome.messages) or outcome.status.value)
        self.outcome = outcome


@dataclass
class Explanation:
    reference: SolveOutcome
    schemes: pd.DataFrame
    rules: pd.DataFrame


def forced(instance: Instance, scheme_id: str, selected: bool) -> Instance:
    """A variant with one scheme forced in (mandatory) or out (no start year allowed)."""
    def change(s):
        if s.id != scheme_id:
            return s
        if selected:
            return s.model_copy(update={"mandatory": True})
        return s.model_copy(update={"mandatory": False, "excluded": True})
    return instance.model_copy(update={"schemes": tuple(change(s) for s in instance.schemes)})


def _money(instance: Instance, value: float) -> str:
    return f"{fmt(value)} ({instance.money_unit})" if instance.objective.mode != "weighted_score" else fmt(value)


def _changes(before: Plan, after: Plan, skip: str) -> tuple[list[str], list[str]]:
    out = sorted(s for s, y in before.items() if y is not None and after.get(s) is None and s != skip)
    into = sorted(s for s, y in after.items() if y is not None and before.get(s) is None and s != skip)
    return out, into


def _tight_rules(outcome: SolveOutcome) -> set[tuple[str, int]]:
    """(measure, year) of limits and floors at their bound, and targets in shortfall."""
    years = outcome.years
    rules = years[years["measure"].str.contains(":") & years["bound"].notna()]
    tight = set()
    for r in rules.itertuples():
        at_bound = abs(r.value - r.bound) <= TIGHT_REL * max(1.0, abs(r.bound))
        if (r.measure.startswith("target:") and r.shortfall > TIGHT_REL * max(1.0, abs(r.bound))) or at_bound:
            tight.add((r.measure, int(r.year)))
    return tight


def _describe_rules(rules: Iterable[tuple[str, int]]) -> str:
    by_rule: dict[str, list[int]] = {}
    for measure, year in sorted(rules):
        by_rule.setdefault(measure, []).append(year)
    return "; ".join(f"{m} ({', '.join(str(y) for y in ys)})" for m, ys in by_rule.items())


def _resolve(planner: Planner, tasks: list[VariantTask], labels: list[str], progress: Progress | None,
             sweep: Sweep, phase: str) -> list[SolveOutcome]:
    """The re-solves, as one sweep (here, or on a Dask cluster), in order; progress counts the
    re-solves actually made (not the schemes or rules that need none)."""
    step = (lambda done, total, label: progress(done, total, phase if done >= total else f"{phase}: {label}")) \
        if progress else None
    results = run_sweep(planner_setup, planner.instance, solve_variant, tasks, sweep=sweep, state=planner,
                        progress=step, labels=labels)
    return [r.outcome for r in results]


def explain_schemes(planner: Planner, reference: SolveOutcome, options: SolveOptions,
                    progress: Progress | None = None, sweep: Sweep = IN_PROCESS) -> pd.DataFrame:
    inst = reference.instance
    plan = reference.plan
    tight_before = _tight_rules(reference)
    options = solver_threads(options, inst, sweep)
    rows, pending, tasks = [], [], []
    for s in inst.schemes:
        start = plan.get(s.id)
        row = {"scheme": s.id, "name": s.name, "category": s.category, "selected": start is not None,
               "start_year": start, "kind": "", "reason": "", "forced_objective": None,
               "price": None, "displaced": "", "brought_in": "", "binding": ""}
        why_not = planner.coef.ineligible.get(s.id)
        if s.excluded:
            row.update(kind="excluded", reason="excluded: a decision already taken (the scheme may not be selected)")
        elif why_not:
            row.update(kind="ineligible", reason=f"ineligible under the QIA rules: {why_not}")
        elif s.mandatory and start is not None:
            row.update(kind="mandatory", reason="mandatory: it must run")
        else:
            variant = forced(inst, s.id, selected=start is None)
            warm = None if start is None else {**plan, s.id: None}  # the plan without it still keeps most rules
            pending.append((row, s, start))
            tasks.append(VariantTask(variant, options, warm))
        rows.append(row)
    outcomes = _resolve(planner, tasks, [s.id for _, s, _ in pending], progress, sweep, "schemes")
    for (row, s, start), out in zip(pending, outcomes):
        if out.status in ("infeasible",):
            what = "running it" if start is None else "leaving it out"
            row.update(kind="blocked", reason=f"{what} is impossible: " + " ".join(out.messages[1:] or out.messages))
        elif out.objective is None:
            row.update(kind="unknown", reason=f"the forced re-solve ended {out.status}")
        else:
            price = reference.objective - out.objective
            left, came = _changes(plan, out.plan, s.id)
            # the rules it competes for: tight, in the years it runs, in the plan that has it
            runs_from = out.plan[s.id] if start is None else start
            with_it = _tight_rules(out) if start is None else tight_before
            binding = {(m, y) for m, y in with_it if y >= runs_from}
            row.update(forced_objective=out.objective, price=price, displaced=", ".join(left),
                       brought_in=", ".join(came), binding=_describe_rules(binding))
            money = _money(inst, abs(price))
            if abs(price) <= 1e-6 * max(1.0, abs(reference.objective)):
                row.update(kind="indifferent", reason="an equally good plan exists "
                           + ("without it" if start is not None else "with it"))
            elif price < 0:  # only when explaining a given plan that is not optimal
                other = "leaving it out" if start is not None else "running it"
                row.update(kind="better the other way",
                           reason=f"{other} would gain {money} over the given plan")
            elif start is not None:
                detail = f"; without it {', '.join(came)} would run instead" if came else ""
                rule = f"; it uses room in {_describe_rules(binding)}" if binding else ""
                row.update(kind="worth it", reason=f"in from {start}: forcing it out loses {money}{detail}{rule}")
            else:
                detail = f", displacing {', '.join(left)}" if left else ""
                rule = f" ({_describe_rules(binding)} bind)" if binding else ""
                row.update(kind="not worth it", reason=f"out: forcing it in costs {money}{detail}{rule}")
            if out.status == "feasible":
                row["reason"] += f" (forced re-solve stopped at a gap of {out.mip_gap:.2%})"
    return pd.DataFrame(rows)


def _eased(inst: Instance, kind: str, rule_id: str, year: int, step: float) -> Instance:
    """A variant with one rule's bound in one year eased by `step`."""
    if kind == "limit":
        def ease(lim):
            if lim.id != rule_id:
                return lim
            delta = step if lim.sense in ("<=", "==") else -step
            return lim.model_copy(update={"values": {**lim.values, year: lim.values[year] + delta}})
        return inst.model_copy(update={"limits": tuple(ease(lim) for lim in inst.limits)})
    if kind == "target":
        def ease_t(t):
            if t.id != rule_id:
                return t
            return t.model_copy(update={"values": {**t.values, year: t.values[year] - step}})
        return inst.model_copy(update={"targets": tuple(ease_t(t) for t in inst.targets)})
    q = inst.quality
    # a floor is one value for every year: easing it in one year is not expressible, so ease all years
    floors = {**q.portfolio_min, rule_id: q.portfolio_min[rule_id] - step}
    return inst.model_copy(update={"quality": q.model_copy(update={"portfolio_min": floors})})


def explain_rules(planner: Planner, reference: SolveOutcome, options: SolveOptions,
                  progress: Progress | None = None, sweep: Sweep = IN_PROCESS) -> pd.DataFrame:
    inst = reference.instance
    years = reference.years
    rules = years[years["measure"].str.contains(":") & years["bound"].notna()]
    tight = _tight_rules(reference)
    options = solver_threads(options, inst, sweep)
    rows, pending, tasks, labels = [], [], [], []
    floor_rows: dict[str, list[dict]] = {}  # quality floor -> its rows (one floor for all years: one re-solve)
    for r in rules.itertuples():
        kind, rule_id = r.measure.split(":", 1)
        year = int(r.year)
        # Plans are lumpy: a 1% change rarely moves a MIP optimum, so ease by 10% (at least 1 unit).
        step = max(1.0, round(STEP_SHARE * abs(r.bound), 6)) if kind != "quality" else 1.0
        row = {"rule": r.measure, "kind": kind, "year": year, "org": r.org, "value": r.value, "sense": r.sense,
               "bound": r.bound, "shortfall": r.shortfall, "tight": (r.measure, year) in tight,
               "step": step, "marginal_value": 0.0, "method": ""}
        rows.append(row)
        if not row["tight"]:
            slack = abs(r.bound - r.value)
            row["method"] = f"not binding: {fmt(slack)} of slack, so a small change is worth 0"
        elif kind == "quality" and rule_id in floor_rows:
            floor_rows[rule_id].append(row)
        else:
            if kind == "quality":
                floor_rows[rule_id] = []
            pending.append((row, kind, rule_id, step))
            tasks.append(VariantTask(_eased(inst, kind, rule_id, year, step), options, reference.plan))
            labels.append(f"{r.measure} {year}")
    for (row, kind, rule_id, step), out in zip(pending, _resolve(planner, tasks, labels, progress, sweep, "rules")):
        if out.objective is None:
            row["method"] = f"re-solve with the bound eased by {fmt(step)} ended {out.status}"
            for other in floor_rows.get(rule_id, []) if kind == "quality" else []:
                other["method"] = row["method"]
            continue
        value = (out.objective - reference.objective) / step
        row.update(marginal_value=value, method=f"re-solve with the bound eased by {fmt(step)}")
        if kind == "quality":
            row["method"] += " in every year (one floor for all years)"
            for other in floor_rows[rule_id]:
                other.update(marginal_value=value, method=f"re-solve with the floor eased by {fmt(step)} in "
                                                          "every year (one floor for all years)")
    return pd.DataFrame(rows)


def explain(planner: Planner, options: SolveOptions = SolveOptions(), *, plan: Plan | None = None,
            progress: Progress | None = None, sweep: Sweep = IN_PROCESS) -> Explanation:
    """Explain the optimal plan, or a given plan (checked first) against the same instance.

    The reference is solved here; the re-solves are sweeps (`sweep`: here, or on a Dask cluster)."""
    reference = planner.solve(options) if plan is None else planner.evaluate(plan)
    if not reference.status.has_plan:
        raise NothingToExplain(reference)
    with cluster(sweep):  # one cluster, and one build per worker, for both sweeps
        return Explanation(
            reference=reference,
            schemes=explain_schemes(planner, reference, options, progress, sweep),
            rules=explain_rules(planner, reference, options, progress, sweep),
        )
