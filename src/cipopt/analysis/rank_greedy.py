"""The ranking a panel would make by hand, kept to the same rules: fund bids in order of value
for money while they fit (docs/ranking.md). `cipopt.analysis.rank` compares it with the optimum
at each fund level; kept apart from the sweep and the tables, being a heuristic of its own."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from cipopt.model.context import ModelContext
from cipopt.model.fairness import share_row
from cipopt.model.finance import limit_matrix
from cipopt.model.objective import scheme_scores
from cipopt.schema.instance import Instance

ROW_TOL = 1e-6


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
