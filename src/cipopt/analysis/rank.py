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
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cipopt.analysis.sweep import IN_PROCESS, Sweep, run_sweep, solver_threads
from cipopt.analysis.weights import (
    WeightSet, central_weights, require_feasible, sample_weights_how, weight_set, with_weights,
)
from cipopt.check import check_plan
from cipopt.coefficients import build_coefficients
from cipopt.model.fairness import share_row
from cipopt.model.context import ModelContext
from cipopt.model.finance import limit_matrix
from cipopt.model.objective import scheme_scores
from cipopt.pipeline import Planner, SolveOptions
from cipopt.report.text import money
from cipopt.schema.instance import Instance
from cipopt.schema.problems import InputError, Problem
from cipopt.schema.rules import RuleRef

DEFAULT_STEPS = 20
DEFAULT_SAMPLES = 200
DEFAULT_SEED = 1
FUND_WORDS = ("fund", "pot", "budget")
ROW_TOL = 1e-6
NESTED_SHOWN = 10
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


# -- the greedy ranking ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Rows:
    """Rules as (rows x allowed starts) arrays, the fund's rows marked so a level can scale them."""

    matrix: np.ndarray  # (R, P)
    bound: np.ndarray  # (R,)
    upper: np.ndarray  # (R,) True: use <= bound; False: use >= bound
    fund: np.ndarray  # (R,) True for the fund limit's rows


@dataclass(frozen=True)
class Unit:
    """A bid, or bids that must join together, as the greedy ranking funds them."""

    members: tuple[int, ...]  # scheme indices
    value: float
    cost: float  # against the full fund, at the earliest allowed starts
    mandatory: bool

    @property
    def value_for_money(self) -> float:
        return math.inf if self.cost <= ROW_TOL else self.value / self.cost


@dataclass
class GreedyData:
    coef: Any
    rows: Rows
    units: list[Unit]
    relations: tuple
    value: np.ndarray  # (S,) each bid's weighted score
    cost: np.ndarray  # (S,) each bid's fund cost at its earliest allowed start (nan: no allowed start)


def _rules_rows(instance: Instance, coef, fund: str) -> Rows:
    expected = instance.objective.counts_confidence  # as the model counts targets (ModelContext.expected)
    years = {int(y): i for i, y in enumerate(coef.years)}
    mats, bounds, upper, is_fund = [], [], [], []

    def add(matrix, values: dict, up: bool, fund_rows: bool = False) -> None:
        dense = matrix.toarray()
        for y, v in values.items():
            mats.append(dense[years[int(y)]])
            bounds.append(float(v))
            upper.append(up)
            is_fund.append(fund_rows)

    for lim in instance.limits:
        m = limit_matrix(ModelContext(instance=instance, coef=coef), lim)  # docs/finance.md receipts_raise
        if lim.sense in ("<=", "=="):
            add(m, lim.values, True, lim.id == fund)
        if lim.sense in (">=", "=="):
            add(m, lim.values, False)
    for t in instance.targets:
        if t.hard:
            add(coef.target_matrix(t.basis, t.org, expected), t.values, False)
    for d, floor in instance.quality.portfolio_min.items():
        add(coef.matrix(d), {y: floor for y in instance.years}, False)
    if instance.fair_shares:
        ctx = ModelContext(instance=instance, coef=coef)
        for rule in instance.fair_shares:
            row = share_row(ctx, rule).toarray().reshape(-1)
            mats.append(row)
            bounds.append(0.0)
            upper.append(False)
            is_fund.append(False)
    n = coef.n_pairs
    return Rows(np.array(mats).reshape(len(mats), n), np.array(bounds), np.array(upper, dtype=bool),
                np.array(is_fund, dtype=bool))


def _together_groups(instance: Instance, index: dict[str, int]) -> list[list[int]]:
    parent = list(range(len(index)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for r in instance.relations:
        if r.kind == "together":
            parent[find(index[r.a])] = find(index[r.b])
    groups: dict[int, list[int]] = {}
    for i in range(len(index)):
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())


def greedy_data(instance: Instance, coef, fund: str) -> GreedyData:
    """What the greedy ranking needs, computed once per instance (weights fixed)."""
    rows = _rules_rows(instance, coef, fund)
    index = coef.scheme_index
    value = scheme_scores(instance, coef)  # what the weighted_score objective counts
    fund_lim = next(lim for lim in instance.limits if lim.id == fund)
    fund_m = coef.matrix(fund_lim.metric, fund_lim.org).toarray()
    fund_years = [coef.year_index(y) for y in fund_lim.values]
    per_pair = fund_m[fund_years].sum(axis=0)
    cost = np.full(len(coef.scheme_ids), np.nan)
    for i, pairs in enumerate(coef.pairs_of_scheme):
        if len(pairs):
            cost[i] = per_pair[pairs[0]]
    mandatory = {s.id for s in instance.schemes if s.mandatory}
    units = []
    for members in _together_groups(instance, index):
        if any(np.isnan(cost[i]) for i in members):
            continue  # a bid with no allowed start (ineligible, excluded): its group cannot be funded
        units.append(Unit(tuple(members), float(value[members].sum()), float(cost[members].sum()),
                          any(coef.scheme_ids[i] in mandatory for i in members)))
    units.sort(key=lambda u: (-u.value_for_money, -u.value, min(u.members)))
    return GreedyData(coef, rows, units, tuple(instance.relations), value, cost)


def _relations_allow(relations, starts: dict[str, int], sid: str, t: int) -> bool:
    for r in relations:
        if r.kind == "requires" and r.a == sid and not (r.b in starts and starts[r.b] <= t - r.lag):
            return False
        if r.kind == "excludes" and ((r.a == sid and r.b in starts) or (r.b == sid and r.a in starts)):
            return False
        if r.kind == "precedes":
            if r.a == sid and r.b in starts and starts[r.b] < t + r.lag:
                return False
            if r.b == sid and r.a in starts and t < starts[r.a] + r.lag:
                return False
    return True


def greedy_plan(data: GreedyData, fraction: float) -> dict[str, int | None]:
    """The value-for-money ranking's portfolio at `fraction` of the fund (docs/ranking.md).

    Bids (a `together` group counts as one bid, its scores and costs summed) are taken in order of
    value for money (score per unit of fund cost at the earliest allowed start; no fund cost
    first; ties by higher score). Mandatory bids are placed first. A bid is funded, at the
    earliest allowed start that keeps the rules, when after adding it every `<=` limit (the fund
    at this level included) still holds in every year, no `>=` limit, hard target or quality
    floor that held is broken, and its relations hold with the bids already funded (`requires`:
    the other bid is in and starts early enough; `excludes`: the other is not in; `precedes`:
    the start order). Bids of no value are not funded. Each step funds the best-placed bid that
    can be funded now, until none can: a bid held back by a rule (the bid it requires not yet in,
    a fair share that would fall short) gets its turn as soon as the rule allows, ahead of every
    bid below it. What the greedy cannot steer towards (a hard target, a `>=` limit not yet met)
    is judged at the end by the independent checker.
    """
    coef, rows = data.coef, data.rows
    bound = np.where(rows.fund, rows.bound * fraction, rows.bound)
    tol = ROW_TOL * (1 + np.abs(bound))
    use = np.zeros(len(bound))
    starts: dict[str, int] = {}
    funded: set[int] = set()
    ids = coef.scheme_ids

    def fits(after: np.ndarray) -> bool:
        up = rows.upper
        if np.any(after[up] > bound[up] + tol[up]):
            return False
        held = use[~up] >= bound[~up] - tol[~up]
        return not np.any(held & (after[~up] < bound[~up] - tol[~up]))

    def place(unit: Unit, force: bool) -> bool:
        nonlocal use
        saved_use, added = use.copy(), []
        for i in unit.members:
            pairs = coef.pairs_of_scheme[i]
            chosen = None
            for p in pairs:
                t = int(coef.years[coef.pair_start[p]])
                after = use + rows.matrix[:, p]
                if _relations_allow(data.relations, starts, ids[i], t) and fits(after):
                    chosen = (p, t, after)
                    break
            if chosen is None and force:
                p = pairs[0]
                chosen = (p, int(coef.years[coef.pair_start[p]]), use + rows.matrix[:, p])
            if chosen is None:
                for sid in added:
                    del starts[sid]
                use = saved_use
                return False
            starts[ids[i]] = chosen[1]
            use = chosen[2]
            added.append(ids[i])
        return True

    for k, unit in enumerate(data.units):
        if unit.mandatory:
            place(unit, force=True)
            funded.add(k)
    while True:  # each step funds the best-placed bid that can be funded now
        for k, unit in enumerate(data.units):
            if k not in funded and unit.value > 0 and place(unit, force=False):
                funded.add(k)
                break
        else:
            return {sid: starts.get(sid) for sid in ids}


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


# -- the result -----------------------------------------------------------------------------------

@dataclass
class RankResult:
    instance: Instance  # the ranking instance
    fund: str
    fund_total: float
    fractions: list[float]
    levels: list[dict[str, Any]]
    weight_set: WeightSet
    centre: np.ndarray
    centre_how: str
    samples: np.ndarray  # (N x criteria); empty when the weights are exact
    sample_results: list[dict[str, Any]]
    data: GreedyData
    seed: int
    sampling: str = ""
    notes: list[str] = field(default_factory=list)

    # per bid ----------------------------------------------------------------------------------
    def _membership(self) -> np.ndarray:
        """(levels x schemes) True where the bid is in the optimal portfolio (False: no plan)."""
        ids = self.data.coef.scheme_ids
        out = np.zeros((len(self.levels), len(ids)), dtype=bool)
        for k, lv in enumerate(self.levels):
            if lv["plan"]:
                out[k] = [lv["plan"].get(s) is not None for s in ids]
        return out

    def _greedy_rank(self) -> dict[str, int]:
        ranks = {}
        for r, unit in enumerate(self.data.units, start=1):
            for i in unit.members:
                ranks[self.data.coef.scheme_ids[i]] = r
        return ranks

    def core_index(self) -> np.ndarray | None:
        ids = self.data.coef.scheme_ids
        if self.weight_set.is_point:
            return None
        plans = [r["plan"] for r in self.sample_results if r["plan"] is not None]
        if not plans:
            return None
        return np.array([np.mean([p.get(s) is not None for p in plans]) for s in ids])

    def non_nested(self) -> list[tuple[str, float, float]]:
        """(bid, budget where it is in, larger budget where it is out again)."""
        member = self._membership()
        ids = self.data.coef.scheme_ids
        has_plan = [lv["plan"] is not None for lv in self.levels]
        out = []
        for j, sid in enumerate(ids):
            ins = [k for k in range(len(self.levels)) if member[k, j]]
            if not ins:
                continue
            later_out = [k for k in range(ins[0] + 1, len(self.levels)) if has_plan[k] and not member[k, j]]
            if later_out:
                out.append((sid, self.budget(ins[0]), self.budget(later_out[0])))
        return out

    def budget(self, k: int) -> float:
        return round(self.fractions[k] * self.fund_total, 9)

    def bids(self) -> pd.DataFrame:
        coef = self.data.coef
        ids = coef.scheme_ids
        member = self._membership()
        has_plan = np.array([lv["plan"] is not None for lv in self.levels])
        core = self.core_index()
        greedy_rank = self._greedy_rank()
        schemes = {s.id: s for s in self.instance.schemes}
        rows = []
        for j, sid in enumerate(ids):
            ins = np.flatnonzero(member[:, j])
            entry = int(ins[0]) if len(ins) else None
            stays = None if entry is None else bool(member[entry:, j][has_plan[entry:]].all())
            cost = self.data.cost[j]
            value = self.data.value[j]
            vfm = (math.inf if cost <= ROW_TOL else value / cost) if not np.isnan(cost) else None
            ci = None if core is None else float(core[j])
            rows.append({
                "bid": sid, "name": schemes[sid].name or sid, "org": schemes[sid].org,
                "score": value, "fund_cost": None if np.isnan(cost) else float(cost),
                "value_for_money": vfm, "greedy_rank": greedy_rank.get(sid),
                "entry_fraction": None if entry is None else self.fractions[entry],
                "entry_budget": None if entry is None else self.budget(entry),
                "stays_in": stays,
                "in_at_full_budget": bool(member[-1, j]) if has_plan[-1] else None,
                "in_greedy_at_full_budget": self.levels[-1]["greedy"].get(sid) is not None,
                "core_index": ci, "core_class": _core_class(ci),
                "why_never": coef.ineligible.get(sid) or ("excluded" if schemes[sid].excluded else None)
                if entry is None else None,
            })
        frame = pd.DataFrame(rows)
        never = frame["entry_fraction"].isna()
        key = frame["entry_fraction"].fillna(2.0)
        ci = frame["core_index"].fillna(-1.0) if core is not None else 0.0
        frame = frame.assign(_never=never, _key=key, _ci=ci).sort_values(
            ["_never", "_key", "_ci", "score"], ascending=[True, True, False, False], kind="stable")
        frame.insert(0, "rank", range(1, len(frame) + 1))
        return frame.drop(columns=["_never", "_key", "_ci"]).reset_index(drop=True)

    def levels_table(self) -> pd.DataFrame:
        rows = []
        prev: set[str] | None = None
        for k, lv in enumerate(self.levels):
            chosen = {s for s, y in (lv["plan"] or {}).items() if y is not None}
            greedy = {s for s, y in lv["greedy"].items() if y is not None}
            opt = lv["objective"] if lv["plan"] is not None else None
            gv = lv["greedy_value"] if lv["greedy_ok"] else None
            loss = None if opt is None or gv is None else opt - gv
            rows.append({
                "step": k, "fraction": self.fractions[k], "fund_budget": self.budget(k),
                "status": lv["status"], "optimal_value": opt, "mip_gap": lv["mip_gap"],
                "optimal_net_present_value": lv["net_present_value"] if lv["plan"] is not None else None,
                "optimal_shortfall_penalty": lv["shortfall_penalty"] if lv["plan"] is not None else None,
                "greedy_value": lv["greedy_value"], "greedy_keeps_rules": lv["greedy_ok"],
                "greedy_net_present_value": lv["greedy_net_present_value"],
                "greedy_shortfall_penalty": lv["greedy_shortfall_penalty"],
                "greedy_loss": loss, "greedy_loss_share": None if loss is None or not opt else loss / opt,
                "optimal_bids": len(chosen) if lv["plan"] is not None else None, "greedy_bids": len(greedy),
                "entering": " ".join(sorted(chosen - prev)) if prev is not None and lv["plan"] else "",
                "leaving": " ".join(sorted(prev - chosen)) if prev is not None and lv["plan"] else "",
                "optimal_portfolio": " ".join(sorted(chosen)) if lv["plan"] is not None else "",
                "greedy_portfolio": " ".join(sorted(greedy)),
                "greedy_breaks": "; ".join(lv["greedy_breaks"]),
            })
            if lv["plan"] is not None:
                prev = chosen
        return pd.DataFrame(rows)

    def portfolios(self) -> pd.DataFrame:
        """Tidy: one row per level and bid, in the optimal and the greedy portfolio or not."""
        rows = []
        for k, lv in enumerate(self.levels):
            for sid in self.data.coef.scheme_ids:
                opt = (lv["plan"] or {}).get(sid)
                g = lv["greedy"].get(sid)
                rows.append({"step": k, "fund_budget": self.budget(k), "bid": sid,
                             "in_optimal": None if lv["plan"] is None else opt is not None,
                             "optimal_start": opt, "in_greedy": g is not None, "greedy_start": g})
        frame = pd.DataFrame(rows)
        for c in ("optimal_start", "greedy_start"):
            frame[c] = frame[c].astype("Int64")
        return frame

    def samples_table(self) -> pd.DataFrame:
        rows = []
        for i, (w, r) in enumerate(zip(self.samples, self.sample_results)):
            row = {"sample": i + 1}
            row.update({f"weight:{c}": float(v) for c, v in zip(self.weight_set.ids, w)})
            chosen = sorted(s for s, y in (r["plan"] or {}).items() if y is not None)
            row.update(status=r["status"], objective=r["objective"], net_present_value=r["net_present_value"],
                       shortfall_penalty=r["shortfall_penalty"], bids=len(chosen), portfolio=" ".join(chosen))
            rows.append(row)
        return pd.DataFrame(rows, columns=["sample", *[f"weight:{c}" for c in self.weight_set.ids],
                                           "status", "objective", "net_present_value", "shortfall_penalty",
                                           "bids", "portfolio"])

    def errors(self) -> list[str]:
        return [f"a solve ended in error: {'; '.join(r['messages'])}"
                for r in self.levels + self.sample_results if r["status"] == "error"]

    def summary(self) -> dict[str, Any]:
        lv = self.levels_table()
        bids = self.bids()
        worst = lv.dropna(subset=["greedy_loss"])
        core = self.core_index()
        return {
            "instance_name": self.instance.name, "instance_sha256": self.instance.sha256(),
            "fund": self.fund, "fund_total": self.fund_total, "money_unit": self.instance.money_unit,
            "steps": len(self.fractions) - 1,
            "central_weights": dict(zip(self.weight_set.ids, map(float, self.centre))),
            "central_weights_from": self.centre_how,
            "weight_set": self.weight_set.describe(),
            "samples": len(self.samples), "seed": self.seed,
            "sampling": self._sampling_words(),
            "value_meaning": "weighted score less shortfall penalties (a score, not money); "
                             "net_present_value: the portfolio's NPV, no penalties",
            "optimal_value_at_full_budget": _num(lv["optimal_value"].iloc[-1]),
            "optimal_net_present_value_at_full_budget": _num(lv["optimal_net_present_value"].iloc[-1]),
            "optimal_shortfall_penalty_at_full_budget": _num(lv["optimal_shortfall_penalty"].iloc[-1]),
            "greedy_value_at_full_budget": _num(lv["greedy_value"].iloc[-1]),
            "greedy_loss_at_full_budget": _num(lv["greedy_loss"].iloc[-1]),
            "largest_greedy_loss": None if worst.empty else _num(worst["greedy_loss"].max()),
            "largest_greedy_loss_budget": None if worst.empty else
            _num(worst.loc[worst["greedy_loss"].idxmax(), "fund_budget"]),
            "nested": not self.non_nested(),
            "not_nested": [{"bid": b, "in_at": i, "out_at": o} for b, i, o in self.non_nested()],
            "core": None if core is None else sorted(bids.loc[bids["core_class"] == "core", "bid"]),
            "borderline": None if core is None else sorted(bids.loc[bids["core_class"] == "borderline", "bid"]),
            "exterior": None if core is None else sorted(bids.loc[bids["core_class"] == "exterior", "bid"]),
            "notes": list(self.notes),
        }

    def _sampling_words(self) -> str | None:
        if self.weight_set.is_point or not len(self.samples):
            return None
        if self.sampling == "hit-and-run":
            return ("hit-and-run from the centre of the feasible weight set (the set is too thin for exact "
                    "rejection sampling; uniform in the limit)")
        return ("flat Dirichlet(1) on the free weights" + (", sorted into criteria_order" if self.weight_set.order
                                                             else "") +
                ", rejection outside the ranges (exactly uniform on the feasible weight set)")

    def lines(self) -> list[str]:
        unit = self.instance.money_unit
        out = [f"Ranking of {len(self.data.coef.scheme_ids)} bids against fund {self.fund} "
               f"({money(self.fund_total)} {unit} over {len(self._fund_years())} years), "
               f"{len(self.fractions) - 1} budget steps",
               f"weights: {self.centre_how}: " + ", ".join(f"{c} {v:.3f}" for c, v in zip(self.weight_set.ids, self.centre))]
        if not self.weight_set.is_point and not len(self.samples):
            out.append("robust view: not computed (--samples 0)")
        elif not self.weight_set.is_point:
            how = ", by hit-and-run" if self.sampling == "hit-and-run" else ""
            out.append(f"robust view: {len(self.samples)} weight vectors, uniform on {self.weight_set.describe()} "
                       f"(seed {self.seed}{how})")
        out.append("")
        bids = self.bids()
        per, scale = ("score/£m", 1000.0) if unit == "GBP thousand" else ("score/unit", 1.0)
        # columns as wide as their longest entry: a bid id or organisation is never cut short
        bid_w = max([3, *(len(str(b)) for b in bids["bid"])])
        org_w = max([3, *(len(str(o)) for o in bids["org"])])
        header = f"{'rank':>4}  {'bid':<{bid_w}} {'org':<{org_w}} {'score':>6} {'fund cost':>10} {per:>9} " \
                 f"{'greedy':>6} {'entry budget':>13} {'stays':>5}  {'core':>5} {'class':<10}"
        out.append(header)
        for r in bids.itertuples():
            vfm = "-" if r.value_for_money is None or pd.isna(r.value_for_money) else \
                ("free" if math.isinf(r.value_for_money) else f"{r.value_for_money * scale:,.2f}")
            entry = "never" if pd.isna(r.entry_budget) else f"{money(r.entry_budget)} ({r.entry_fraction:.0%})"
            stays = "" if r.stays_in is None or pd.isna(r.stays_in) else ("yes" if r.stays_in else "NO")
            core = "" if r.core_index is None or pd.isna(r.core_index) else f"{r.core_index:.2f}"
            grank = "" if r.greedy_rank is None or pd.isna(r.greedy_rank) else f"{int(r.greedy_rank)}"
            cost = "-" if r.fund_cost is None or pd.isna(r.fund_cost) else money(r.fund_cost)
            out.append(f"{r.rank:>4}  {r.bid:<{bid_w}} {str(r.org):<{org_w}} {r.score:>6.1f} {cost:>10} {vfm:>9} "
                       f"{grank:>6} {entry:>13} {stays:>5}  {core:>5} {(r.core_class or ''):<10}")
        out.append("")
        out.append("optimal, greedy, loss: weighted score less shortfall penalties (a score, not money); "
                   f"NPV: the optimal portfolio's net present value ({unit}, no penalties)")
        out.append(f"{'budget':>10} {'':>5} {'optimal':>9} {'greedy':>9} {'loss':>8} {'NPV':>10}  bids in (optimal/greedy)")
        for r in self.levels_table().itertuples():
            opt = r.status if r.optimal_value is None or pd.isna(r.optimal_value) else f"{r.optimal_value:,.1f}"
            gv = f"{r.greedy_value:,.1f}" + ("" if r.greedy_keeps_rules else "*")
            loss = "" if r.greedy_loss is None or pd.isna(r.greedy_loss) else f"{r.greedy_loss:,.1f}"
            npv = "-" if r.optimal_net_present_value is None or pd.isna(r.optimal_net_present_value) \
                else money(r.optimal_net_present_value)
            nb = "-" if r.optimal_bids is None or pd.isna(r.optimal_bids) else int(r.optimal_bids)
            out.append(f"{money(r.fund_budget):>10} {r.fraction:>5.0%} {opt:>9} {gv:>9} {loss:>8} {npv:>10}  "
                       f"{nb}/{r.greedy_bids}")
        if any(not lv["greedy_ok"] for lv in self.levels):
            out.append("* the greedy portfolio breaks a rule at this budget (see budget_levels.csv greedy_breaks)")
        nn = self.non_nested()
        out.append("")
        if nn:
            out.append("The optimal portfolios are NOT nested: a bid in at one budget leaves at a larger one:")
            out += [f"  {b}: in at {money(i)}, out again at {money(o)}" for b, i, o in nn[:NESTED_SHOWN]]
            if len(nn) > NESTED_SHOWN:
                out.append(f"  ... and {len(nn) - NESTED_SHOWN} more (bids.csv stays_in, portfolios.csv)")
        else:
            out.append("The optimal portfolios are nested: a bid in at a budget stays in at every larger budget.")
        out += self.notes
        return out

    def _fund_years(self) -> list[int]:
        return sorted(next(lim for lim in self.instance.limits if lim.id == self.fund).values)


def _num(v) -> float | None:
    return None if v is None or pd.isna(v) else float(v)


def _core_class(ci: float | None) -> str | None:
    if ci is None:
        return None
    if ci >= 1 - 1e-12:
        return "core"
    if ci <= 1e-12:
        return "exterior"
    return "borderline"


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
