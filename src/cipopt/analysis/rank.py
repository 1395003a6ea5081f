"""Ranking transformation-fund bids a panel can defend: entry budgets, greedy loss, core index.

Three questions, all answered by re-solves of one built model (`run_sweep`, one task per solve):

- **Entry budget.** The fund limit (a `<=` limit) is scaled from 0 to its value in K steps and
  the weighted-score portfolio solved to optimality at each level. A bid's entry budget is the
  smallest level at which it is in the optimal portfolio; optimal portfolios need not be nested
  (a bid in at one budget may leave at a larger one), and where they are not, this says so.
- **Greedy loss.** At each level the usual ranking (fund bids in order of value for money, score
  per unit of fund, while they fit) is built by `greedy_plan` with the same rules a panel keeps,
  checked by the independent checker, and compared with the optimum.
- **Core index** (Robust Portfolio Modeling, Liesiö, Mild and Salo, 2007): the share of weight
  vectors, sampled uniformly from the feasible weight set (`cipopt.analysis.weights`), under which
  the bid is in the optimal portfolio at the full budget: core (1), borderline, exterior (0).

Here: which limit is the fund, the ranking instance, and the sweep; the greedy ranking is
`rank_greedy`, the result and its tables `rank_tables`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from cipopt.analysis.rank_greedy import GreedyData, greedy_data, greedy_plan
from cipopt.analysis.rank_tables import RankResult
from cipopt.analysis.sweep import IN_PROCESS, Sweep, run_sweep, solver_threads
from cipopt.analysis.weights import (
    WeightSet, central_weights, require_feasible, sample_weights_how, weight_set, with_weights,
)
from cipopt.check import check_plan
from cipopt.coefficients import build_coefficients
from cipopt.pipeline import Planner, SolveOptions
from cipopt.schema.instance import Instance
from cipopt.schema.problems import InputError, Problem
from cipopt.schema.rules import RuleRef

DEFAULT_STEPS = 20
DEFAULT_SAMPLES = 200
DEFAULT_SEED = 1
FUND_WORDS = ("fund", "pot", "budget")
Progress = Callable[[int, int, str], None]


# -- which limit is the fund ----------------------------------------------------------------------

def fund_limit(instance: Instance, fund: str | None) -> str:
    """The id of the fund limit: `fund` if given (a `<=` limit), else the only or the obvious one."""
    upper = [lim for lim in instance.limits if lim.sense == "<=" and lim.values]
    if fund is not None:
        for lim in instance.limits:
            if lim.id == fund:
                if lim.sense != "<=":
                    raise InputError([Problem("--fund", f"limit {fund!r} has sense {lim.sense!r}: the fund must "
                                                        "be a '<=' limit (the money the panel can award)")])
                if not lim.values:
                    raise InputError([Problem("--fund", f"limit {fund!r} names no year, so it has no budget")])
                return fund
        raise InputError([Problem("--fund", f"unknown limit {fund!r}: expected one of "
                                            f"{', '.join(lim.id for lim in upper) or 'none (no <= limit)'}")])
    if len(upper) == 1:
        return upper[0].id
    named = [lim for lim in upper if any(w in lim.id.lower() or w in lim.metric.lower() for w in FUND_WORDS)]
    if len(named) == 1:
        return named[0].id
    if not upper:
        raise InputError([Problem("instance.yaml", "rank needs a fund: a '<=' limit on the money awarded, and "
                                                   "the instance has none", key="limits")])
    raise InputError([Problem("--fund", "the instance has several '<=' limits ("
                                        f"{', '.join(lim.id for lim in upper)}): name the fund with --fund LIMIT_ID")])


def scaled_fund(instance: Instance, fund: str, fraction: float) -> Instance:
    """The instance with the fund limit's every yearly value multiplied by `fraction`."""
    ref = RuleRef("limit", fund)
    return ref.with_values(instance, {y: v * fraction for y, v in ref.values(instance).items()})


def ranking_instance(instance: Instance) -> tuple[Instance, WeightSet, np.ndarray, str]:
    """The instance as ranked: objective weighted_score at the central weights."""
    if not instance.scores:
        raise InputError([Problem("scores.csv", "rank needs the bids' appraisal scores (scores.csv) and the "
                                                "criteria in instance.yaml")])
    ws = weight_set(instance)
    if not ws.ids:
        raise InputError([Problem("instance.yaml", "rank needs criteria (or criteria_order) to weigh the scores",
                                  key="criteria")])
    require_feasible(ws)
    centre, how = central_weights(ws)
    base = with_weights(instance, ws.ids, centre)
    if base.objective.mode != "weighted_score":
        base = base.model_copy(update={"objective": base.objective.model_copy(update={"mode": "weighted_score"})})
    return base, ws, centre, how


# -- the sweep: setup once, one task per solve ----------------------------------------------------

@dataclass(frozen=True)
class RankPayload:
    instance: Instance  # the ranking instance (weighted_score, central weights)
    fund: str
    options: SolveOptions


@dataclass
class RankState:
    planner: Planner
    payload: RankPayload
    greedy: GreedyData


def setup(payload: RankPayload) -> RankState:
    """Build and hand off the model once per process; precompute the greedy ranking's data."""
    planner = Planner(payload.instance)
    return RankState(planner, payload, greedy_data(payload.instance, planner.coef, payload.fund))


@dataclass(frozen=True)
class LevelTask:
    step: int
    fraction: float


@dataclass(frozen=True)
class WeightTask:
    sample: int
    weights: tuple[float, ...]


def _solved(outcome) -> dict[str, Any]:
    return {"status": outcome.status.value, "objective": outcome.objective, "mip_gap": outcome.mip_gap,
            "net_present_value": outcome.net_present_value, "shortfall_penalty": outcome.shortfall_penalty,
            "plan": dict(outcome.plan) if outcome.plan is not None and outcome.status.has_plan else None,
            "messages": list(outcome.messages)}


def work(state: RankState, task: LevelTask | WeightTask) -> dict[str, Any]:
    """One re-solve of the loaded model: a fund level (with its greedy plan) or a weight sample."""
    base, fund = state.payload.instance, state.payload.fund
    if isinstance(task, LevelTask):
        variant = scaled_fund(base, fund, task.fraction)
        greedy = greedy_plan(state.greedy, task.fraction)
        report = check_plan(variant, greedy)
        start = greedy if report.ok else None
        # a fund level's portfolio is shown (portfolios.csv): checked, but no tables (none is read)
        result = _solved(state.planner.solve(state.payload.options, variant=variant, start=start, tables=False))
        result.update(greedy=greedy, greedy_value=report.objective, greedy_ok=report.ok,
                      greedy_net_present_value=report.net_present_value, greedy_shortfall_penalty=report.penalty,
                      greedy_breaks=[v.message for v in report.violations])
        return result
    ids = tuple(c.id for c in base.criteria)
    variant = with_weights(base, ids, np.array(task.weights))
    # a weight sample's plan is only counted into the core indices, never shown: no check, no tables
    return _solved(state.planner.solve(state.payload.options, variant=variant, tables=False, checked=False))


def run_rank(instance: Instance, *, fund: str | None = None, steps: int = DEFAULT_STEPS,
             samples: int = DEFAULT_SAMPLES, seed: int = DEFAULT_SEED, options: SolveOptions | None = None,
             sweep: Sweep = IN_PROCESS, progress: Progress | None = None) -> RankResult:
    """Entry budgets and greedy loss over `steps` fund levels, and core indices from `samples` weights."""
    if steps < 1:
        raise InputError([Problem("--steps", "must be at least 1")])
    fund_id = fund_limit(instance, fund)
    base, ws, centre, how = ranking_instance(instance)
    options = solver_threads(options or SolveOptions(mip_gap=0.0), instance, sweep)
    payload = RankPayload(base, fund_id, options)
    # on a cluster the workers build the model; here only the greedy ranking's data is needed
    state = setup(payload) if sweep.in_process else None
    greedy = state.greedy if state is not None else greedy_data(base, build_coefficients(base), fund_id)
    fractions = [k / steps for k in range(steps + 1)]
    draws = np.zeros((0, len(ws.ids)))
    sampling = ""
    notes = []
    if ws.is_point:
        notes.append("The weights are exact (no ranges, no order of importance): there is no robust view to "
                     "compute; give weight_min/weight_max or criteria_order to get core indices.")
    elif samples > 0:
        draws, sampling = sample_weights_how(ws, samples, np.random.default_rng(seed))
    tasks: list = [LevelTask(k, f) for k, f in enumerate(fractions)] + \
        [WeightTask(i, tuple(map(float, w))) for i, w in enumerate(draws)]
    labels = [f"budget {f:.0%}" for f in fractions] + [f"weights {i + 1}" for i in range(len(draws))]
    results = run_sweep(setup, payload, work, tasks, sweep=sweep, state=state, progress=progress, labels=labels)
    fund_total = float(sum(next(lim for lim in base.limits if lim.id == fund_id).values.values()))
    if instance.objective.mode != "weighted_score":
        notes.append(f"The instance's objective is {instance.objective.mode}; bids are ranked by weighted score.")
    return RankResult(base, fund_id, fund_total, fractions, results[:len(fractions)], ws, centre, how, draws,
                      results[len(fractions):], greedy, seed, sampling, notes)
