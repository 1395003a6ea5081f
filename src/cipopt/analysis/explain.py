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
from cipopt.model.build import rule_rows
from cipopt.model.context import fmt
from cipopt.pipeline import Planner, SolveOptions, SolveOutcome
from cipopt.results import Plan
from cipopt.schema.instance import Instance
from cipopt.schema.rules import RuleRef

TIGHT_REL = 1e-6
EVERY_YEAR = "all"  # the `year` of a rule eased by one amount in every year it names
FLOOR_REL = 1e-6  # a better plan: an objective above the reference's by this share (at least 1e-6)
Progress = Callable[[int, int, str], None]
"""progress(done, total, label): the sweep protocol of cipopt.analysis.sweep, labels prefixed with
the phase ('schemes: ...', 'breakpoints: ...', 'rules: ...'), each phase counted from 0 to its own total."""


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
        ref = RuleRef.from_measure(r.measure)
        if (ref is not None and ref.kind == "target" and r.shortfall > TIGHT_REL * max(1.0, abs(r.bound))) or at_bound:
            tight.add((r.measure, int(r.year)))
    return tight


def rule_matrices(planner: Planner) -> dict[str, object]:
    """measure (limit:ID, target:ID, quality:D) -> (years x allowed starts) coefficients of its rows."""
    inst, coef = planner.instance, planner.coef
    out: dict[str, object] = {}
    for lim in inst.limits:
        out[RuleRef("limit", lim.id).measure] = coef.matrix(lim.metric, lim.org)
    for t in inst.targets:
        out[RuleRef("target", t.id).measure] = coef.target_matrix(t.basis, t.org, planner.ctx.expected)
    for d in inst.quality.portfolio_min:
        out[RuleRef("quality", d).measure] = coef.matrix(d)
    return out


def uses(planner: Planner, matrices: dict, scheme_id: str, start: int,
         tight: set[tuple[str, int]]) -> list[tuple[str, int, float]]:
    """(measure, year, coefficient) of the binding rules the scheme counts in when it starts in
    `start`: a nonzero coefficient in the rule's row, in a year it is active, where the rule binds."""
    coef = planner.coef
    pair = next(p for p in coef.pairs_of_scheme[coef.scheme_index[scheme_id]]
                if int(coef.years[coef.pair_start[p]]) == start)
    out = []
    for measure, year in sorted(tight):
        if year < start or measure not in matrices:
            continue
        value = float(matrices[measure][[coef.year_index(year)], [pair]][0])
        if abs(value) > 1e-9:
            out.append((measure, year, value))
    return out


def _describe_uses(used: list[tuple[str, int, float]]) -> str:
    by_rule: dict[str, list[str]] = {}
    for measure, year, value in used:
        by_rule.setdefault(measure, []).append(f"{year}: {fmt(value)}")
    return "; ".join(f"{m} ({', '.join(ys)})" for m, ys in by_rule.items())


def _resolve(planner: Planner, tasks: list[VariantTask], labels: list[str], progress: Progress | None,
             sweep: Sweep, phase: str) -> list[SolveOutcome]:
    """The re-solves, as one sweep (here, or on a Dask cluster), in order."""
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
    matrices = rule_matrices(planner)
    for (row, s, start), out in zip(pending, outcomes):
        if out.status in ("infeasible",):
            what = "running it" if start is None else "leaving it out"
            row.update(kind="blocked", reason=f"{what} is impossible: " + "; ".join(out.messages[1:] or out.messages))
        elif out.objective is None:
            row.update(kind="unknown", reason=f"the forced re-solve ended {out.status}")
        else:
            price = reference.objective - out.objective
            left, came = _changes(plan, out.plan, s.id)
            # the binding rules it counts in, in the plan that has it
            runs_from = out.plan[s.id] if start is None else start
            with_it = _tight_rules(out) if start is None else tight_before
            used = uses(planner, matrices, s.id, runs_from, with_it)
            row.update(forced_objective=out.objective, price=price, displaced=", ".join(left),
                       brought_in=", ".join(came), binding=_describe_uses(used))
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
                rule = f"; binding rules it counts in: {_describe_uses(used)}" if used else ""
                row.update(kind="worth it", reason=f"in from {start}: forcing it out loses {money}{detail}{rule}")
            else:
                detail = f", displacing {', '.join(left)}" if left else ""
                rule = (f" (starting in {runs_from} it would count in the binding rules {_describe_uses(used)})"
                        if used else "")
                row.update(kind="not worth it", reason=f"out: forcing it in costs {money}{detail}{rule}")
            if out.status == "feasible":
                row["reason"] += f" (forced re-solve stopped at a gap of {out.mip_gap:.2%})"
    return pd.DataFrame(rows)


def _with_bound(inst: Instance, kind: str, rule_id: str, year: int, value: float) -> Instance:
    """A variant with one rule's bound in one year set to `value` (a quality floor: every year,
    being one value for all years), the edited rule validated."""
    return RuleRef(kind, rule_id).with_value(inst, year, value)


def _shifted(inst: Instance, ref: RuleRef, delta: float) -> Instance:
    """A variant with a limit's or target's bound eased by `delta` in every year it names."""
    sign = 1.0 if ref.kind == "limit" and ref.rule(inst).sense == "<=" else -1.0
    return ref.with_values(inst, {y: v + sign * delta for y, v in ref.values(inst).items()})


def _rows_of(planner: Planner, ref: RuleRef, year: int) -> tuple[list[int], str]:
    """The loaded model's rows of a rule (a quality floor: every year's) and its sense."""
    inst = planner.instance
    sense = ref.rule(inst).sense if ref.kind == "limit" else ">="
    found = [planner.row_of(name, index) for name, index in rule_rows(ref.at(year), inst)]
    return [j for j in found if j is not None], sense


def explain_rules(planner: Planner, reference: SolveOutcome, options: SolveOptions,
                  progress: Progress | None = None, sweep: Sweep = IN_PROCESS) -> pd.DataFrame:
    """Per rule and year, the value of easing it where that changes the answer (module docstring)."""
    inst = reference.instance
    years = reference.years
    rules = years[years["measure"].str.contains(":") & years["bound"].notna()]
    tight = _tight_rules(reference)
    options = solver_threads(options, inst, sweep)
    z0 = reference.objective
    floor = z0 + FLOOR_REL * max(1.0, abs(z0))
    rows, pending, tasks, labels = [], [], [], []
    by_floor: dict[str, list[dict]] = {}  # quality floor -> its rows (one floor for all years: one search)
    searched = _Searches(progress, len(rules) + len(_multi_year_rules(inst)))
    for r in rules.itertuples():
        searched.next(f"{r.measure} {int(r.year)}")
        ref = RuleRef.from_measure(r.measure, int(r.year), r.org)
        kind, _, rule_id = r.measure.partition(":") if ref is None else (ref.kind, "", ref.id)
        year = int(r.year)
        row = {"rule": r.measure, "kind": kind, "year": year, "org": r.org, "value": r.value, "sense": r.sense,
               "bound": r.bound, "shortfall": r.shortfall, "tight": (r.measure, year) in tight,
               "breakpoint": None, "step": None, "gain": None, "marginal_value": None, "method": ""}
        rows.append(row)
        if ref is None:  # a finance rule (docs/finance.md): its rows are not eased here
            row["method"] = "a finance rule: the value of easing it is not computed"
            continue
        if kind == "quality":
            by_floor.setdefault(rule_id, []).append(row)
            if len(by_floor[rule_id]) > 1:
                continue
        target = next((t for t in inst.targets if t.id == rule_id), None) if kind == "target" else None
        if target is not None and not target.hard and r.shortfall > TIGHT_REL * max(1.0, abs(r.bound)):
            d = float(planner.coef.discount[planner.coef.year_index(year)])
            per_unit = target.shortfall_penalty * d
            row.update(breakpoint=r.bound, step=r.shortfall, gain=per_unit * r.shortfall, marginal_value=per_unit,
                       method=f"a soft target in shortfall: each unit eased saves its penalty {target.shortfall_penalty:g}"
                              f" x the discount {d:.4f}, exactly, for the first {fmt(r.shortfall)} units")
            continue
        if r.sense == "==":
            row["method"] = "an equality limit: the value of easing it is not computed"
            continue
        found, sense = _rows_of(planner, ref, year)
        where = "in every year" if kind == "quality" else f"in {year}"
        if not found:
            row.update(gain=0.0, marginal_value=0.0, method="no scheme counts in it: easing it changes nothing")
            continue
        probe = planner.probe(found, sense, objective_floor=floor, options=options)
        if probe.status == "infeasible":
            row.update(gain=0.0, marginal_value=0.0,
                       method=f"no easing, up to removing the rule {where}, gives a better plan (a solve proved it)")
            continue
        if probe.status != "optimal" or probe.value is None:
            row["method"] = f"the search for the first bound that changes the answer ended {probe.status}: no value is claimed"
            continue
        better = probe.value - r.bound if sense == "<=" else r.bound - probe.value
        if better <= TIGHT_REL * max(1.0, abs(r.bound)):
            row["method"] = "a better plan keeps the bound as it is: the plan explained is not optimal"
            continue
        slack = 1e-7 * max(1.0, abs(probe.value))
        eased = probe.value + slack if sense == "<=" else probe.value - slack
        row.update(breakpoint=probe.value, step=better)
        pending.append((row, kind, rule_id))
        tasks.append(VariantTask(_with_bound(inst, kind, rule_id, year, eased), options, reference.plan))
        labels.append(f"{r.measure} {year}")
    rows += _every_year(planner, reference, options, floor, tight, pending, tasks, labels, searched)
    searched.close()
    for (row, kind, rule_id), out in zip(pending, _resolve(planner, tasks, labels, progress, sweep, "rules")):
        if row["year"] == EVERY_YEAR:
            if out.objective is None:
                row["method"] = f"the re-solve with every year eased by {fmt(row['step'])} ended {out.status}"
                continue
            gain = out.objective - z0
            if gain <= FLOOR_REL * max(1.0, abs(z0)) / 2:
                row["method"] = "the re-solve at the candidate easing found no better plan: no value is claimed"
                continue
            row.update(gain=gain, marginal_value=gain / row["step"],
                       method=f"eased by the same amount in every year it names: the first amount at which a "
                              f"better plan exists is {fmt(row['step'])}; there the objective gains {fmt(gain)}")
            continue
        where = "in every year" if kind == "quality" else f"in {row['year']}"
        if out.objective is None:
            row["method"] = f"the re-solve at the breakpoint {fmt(row['breakpoint'])} ended {out.status}"
        elif out.objective - z0 <= FLOOR_REL * max(1.0, abs(z0)) / 2:
            row["method"] = (f"the re-solve at the candidate breakpoint {fmt(row['breakpoint'])} found no better "
                             "plan: no value is claimed")
        else:
            gain = out.objective - z0
            row.update(gain=gain, marginal_value=gain / row["step"],
                       method=f"the first bound at which a better plan exists is {fmt(row['breakpoint'])} {where} "
                              f"(a step of {fmt(row['step'])}); there the objective gains {fmt(gain)}")
            if out.status == "feasible":
                row["method"] += f" (that re-solve stopped at a gap of {out.mip_gap:.2%})"
    for floor_rows in by_floor.values():  # one floor for every year: its rows share the answer
        first = floor_rows[0]
        for other in floor_rows[1:]:
            other.update({k: first[k] for k in ("breakpoint", "step", "gain", "marginal_value", "method")})
    return pd.DataFrame(rows)


def _every_year(planner: Planner, reference: SolveOutcome, options: SolveOptions, floor: float,
                tight: set[tuple[str, int]], pending: list, tasks: list, labels: list,
                searched: "_Searches") -> list[dict]:
    """Rows for each limit and hard target of several years eased by one amount in every year:
    a rule that binds in many years may be worth nothing eased in one year alone."""
    inst = reference.instance
    out = []
    for ref, sense, values in _multi_year_rules(inst):
        kind, rule_id, org, measure = ref.kind, ref.id, ref.org, ref.measure
        searched.next(f"{measure} in every year")
        found = []  # (row, bound) of the years it names that have a row
        for y in sorted(values):
            rows_y, _ = _rows_of(planner, ref, int(y))
            found += [(rows_y[0], values[y])] if rows_y else []
        row = {"rule": measure, "kind": kind, "year": EVERY_YEAR, "org": org or "all", "value": None, "sense": sense,
               "bound": None, "shortfall": None, "tight": any(m == measure for m, _ in tight),
               "breakpoint": None, "step": None, "gain": None, "marginal_value": None, "method": ""}
        out.append(row)
        if not found:
            row.update(gain=0.0, marginal_value=0.0, method="no scheme counts in it: easing it changes nothing")
            continue
        probe = planner.probe([j for j, _ in found], sense, objective_floor=floor, options=options,
                              shift_from=[b for _, b in found])
        if probe.status == "infeasible":
            row.update(gain=0.0, marginal_value=0.0, method="no easing in every year, up to removing the rule, "
                                                             "gives a better plan (a solve proved it)")
        elif probe.status != "optimal" or probe.value is None:
            row["method"] = f"the search for the first easing that changes the answer ended {probe.status}"
        elif probe.value <= TIGHT_REL * max(1.0, max(abs(b) for _, b in found)):
            row["method"] = "a better plan keeps the bounds as they are: the plan explained is not optimal"
        else:
            row["step"] = probe.value
            eased = probe.value + 1e-7 * max(1.0, abs(probe.value))
            pending.append((row, kind, rule_id))
            tasks.append(VariantTask(_shifted(inst, ref, eased), options, reference.plan))
            labels.append(f"{measure} every year")
    return out


def _multi_year_rules(inst: Instance) -> list[tuple]:
    """The limits (not ==) and hard targets naming several years: each is also eased in every year at once."""
    rules = [(RuleRef("limit", lim.id, org=lim.org), lim.sense, lim.values) for lim in inst.limits if lim.sense != "=="]
    rules += [(RuleRef("target", t.id, org=t.org), ">=", t.values) for t in inst.targets if t.hard]
    return [r for r in rules if len(r[2]) >= 2]


class _Searches:
    """Counts the breakpoint searches (one per rule and year, one per rule eased in every year) for progress."""

    def __init__(self, progress: Progress | None, total: int):
        self.progress, self.total, self.done = progress, total, 0

    def next(self, label: str) -> None:
        if self.progress:
            self.progress(min(self.done, self.total), self.total, f"breakpoints: {label}")
        self.done += 1

    def close(self) -> None:
        if self.progress:
            self.progress(self.total, self.total, "breakpoints")


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
