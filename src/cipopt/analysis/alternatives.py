"""Several genuinely different near-optimal plans, and how much each pick of the best plan matters.

After the optimum (value z*), the loaded model gets an objective floor z >= z* - within x |z*|
and, for every plan found so far, a no-good cut requiring at least D schemes to be decided
differently (in instead of out, out instead of in, or another start year):

    sum_{s in P} (1 - x_{s,t_s}) + sum_{s not in P} sum_t x_{s,t} >= D

Each re-solve gives the best plan that differs from all earlier ones, so the list is best first;
when a re-solve is infeasible, fewer than K such plans exist. The rows are removed afterwards,
so the planner is left as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cipopt.analysis.explain import forced
from cipopt.pipeline import Planner, SolveOptions, SolveOutcome
from cipopt.results import Plan
from cipopt.schema.instance import Instance
from cipopt.solve.highs import INF


class NoOptimum(Exception):
    def __init__(self, outcome: SolveOutcome):
        super().__init__("; ".join(outcome.messages) or outcome.status.value)
        self.outcome = outcome


@dataclass
class Alternatives:
    plans: list[SolveOutcome]  # best first; plans[0] is the optimum
    requested: int
    within: float
    min_difference: int
    summary: pd.DataFrame  # one row per plan
    years: pd.DataFrame  # tidy: plan, year, org, measure, value, bound, shortfall
    starts: pd.DataFrame  # tidy: plan, scheme, start_year
    importance: pd.DataFrame  # the optimal plan's schemes: loss when excluded, rank, core

    @property
    def exhausted(self) -> bool:
        return len(self.plans) < self.requested


def decisions_differ(a: Plan, b: Plan) -> list[str]:
    return sorted(s for s in a if a.get(s) != b.get(s))


def _no_good_cut(planner: Planner, plan: Plan, d: int):
    coef, columns = planner.coef, planner.pair_columns
    cols, vals, constant = [], [], 0.0
    for i, sid in enumerate(coef.scheme_ids):
        pairs = [p for p in coef.pairs_of_scheme[i] if columns[p] >= 0]
        if not pairs:
            continue  # no variable in the model: decided the same way in every plan
        start = plan.get(sid)
        for p in pairs:
            if start is not None and int(coef.years[coef.pair_start[p]]) == start:
                cols.append(columns[p])
                vals.append(-1.0)
                constant += 1.0
            elif start is None:
                cols.append(columns[p])
                vals.append(1.0)
    return (d - constant, INF, np.array(cols, dtype=np.int64), np.array(vals))


def _objective_floor(planner: Planner, bounds, floor: float):
    cols = np.flatnonzero(bounds.col_cost)
    return (floor - planner.form.offset, INF, cols, bounds.col_cost[cols])


def find_alternatives(
    planner: Planner, options: SolveOptions = SolveOptions(), *, count: int = 3, within: float = 0.02,
    min_difference: int = 1, variant: Instance | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> Alternatives:
    """progress(done, total, label): the searches for alternatives (at most count - 1), then the
    re-solves without each non-mandatory scheme of the best plan, each phase counted to its end."""
    if count < 1 or min_difference < 1 or within < 0:
        raise ValueError("count and min_difference must be at least 1 and within at least 0")
    best = planner.solve(options, variant=variant)
    if not best.status.has_plan:
        raise NoOptimum(best)
    floor = best.objective - within * abs(best.objective)
    plans = [best]
    searches = count - 1
    while len(plans) < count:
        if progress:
            progress(len(plans) - 1, searches, f"alternatives: plan {len(plans) + 1}")
        found = list(plans)
        if not len(_no_good_cut(planner, best.plan, min_difference)[2]):
            break  # no decision is open to the solver: the optimum is the only plan

        def rows(bounds, found=found):
            return [_objective_floor(planner, bounds, floor)] + [
                _no_good_cut(planner, p.plan, min_difference) for p in found]

        out = planner.solve(options, variant=variant, extra_rows=rows, start=None)
        if not out.status.has_plan:
            break
        plans.append(out)
    if progress and searches:
        progress(searches, searches, "alternatives")  # the search ends, perhaps early: no plan is left
    importance = _importance(planner, options, plans, variant or planner.instance, progress)
    return Alternatives(plans, count, within, min_difference, *_tables(plans), importance)


def _tables(plans: list[SolveOutcome]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    best = plans[0]
    summary, years, starts = [], [], []
    for k, p in enumerate(plans, start=1):
        added = sorted(s for s, y in p.plan.items() if y is not None and best.plan.get(s) is None)
        removed = sorted(s for s, y in best.plan.items() if y is not None and p.plan.get(s) is None)
        moved = sorted(s for s, y in p.plan.items()
                       if y is not None and best.plan.get(s) is not None and best.plan[s] != y)
        summary.append({
            "plan": k, "status": p.status.value, "objective": p.objective,
            "below_best": best.objective - p.objective,
            "below_best_pct": 100 * (best.objective - p.objective) / max(abs(best.objective), 1e-9),
            "net_present_value": p.net_present_value, "shortfall_penalty": p.shortfall_penalty,
            "risk_penalty": p.risk_penalty,
            "selected": len(p.selected), "differs_from_best": len(decisions_differ(best.plan, p.plan)),
            "added": ";".join(added), "removed": ";".join(removed), "moved": ";".join(moved),
        })
        y = p.years.copy()
        y.insert(0, "plan", k)
        years.append(y)
        starts += [{"plan": k, "scheme": s, "start_year": year} for s, year in p.plan.items()]
    frame = pd.DataFrame(starts)
    frame["start_year"] = frame["start_year"].astype("Int64")
    return pd.DataFrame(summary), pd.concat(years, ignore_index=True), frame


def _importance(planner: Planner, options: SolveOptions, plans: list[SolveOutcome], instance: Instance,
                progress) -> pd.DataFrame:
    best = plans[0]
    rows = []
    by_id = {s.id: s for s in instance.schemes}
    total = sum(1 for sid in best.selected if not by_id[sid].mandatory)
    done = 0
    for sid in best.selected:
        scheme = next(s for s in instance.schemes if s.id == sid)
        in_all = all(p.plan.get(sid) is not None for p in plans)
        row = {"scheme": sid, "name": scheme.name, "start_year": best.plan[sid], "mandatory": scheme.mandatory,
               "loss_when_excluded": None, "status_when_excluded": "", "in_every_alternative": in_all}
        if scheme.mandatory:
            row["status_when_excluded"] = "mandatory"
        else:
            if progress:
                progress(done, total, f"importance: without {sid}")
            done += 1
            out = planner.solve(options, variant=forced(instance, sid, selected=False), start={**best.plan, sid: None})
            row["status_when_excluded"] = out.status.value
            if out.objective is not None:
                row["loss_when_excluded"] = best.objective - out.objective
        rows.append(row)
    if progress and total:
        progress(total, total, "importance")
    frame = pd.DataFrame(rows, columns=["scheme", "name", "start_year", "mandatory", "loss_when_excluded",
                                        "status_when_excluded", "in_every_alternative"])
    if frame.empty:
        frame["rank"] = []
        return frame
    # mandatory schemes (and ones the plan cannot do without) rank first: they cannot be dropped
    loss = frame["loss_when_excluded"].astype(float).fillna(np.inf)
    frame["rank"] = loss.rank(ascending=False, method="min").astype(int)
    return frame.sort_values(["rank", "scheme"], ignore_index=True)
