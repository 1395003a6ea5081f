"""The bottom line recomputed by the checker (docs/finance.md), from the instance alone.

Its own reading of the finance extension: the do-nothing I&E summed from `finance.organisations`,
each control total as do-nothing surplus + in-year net saving - savings that release no cash +
income flows, each incentive fund received in a
year only if every condition naming the year is met (within the checker's tolerance), the
surplus after incentives, and cash as opening cash + cumulative (surplus - capital spend).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from cipopt.check.figures import PlanFigures
from cipopt.check.report import Violation, fmt
from cipopt.schema.nominal import nominal_weights

ALL = "all"
LINES = ("income", "pay", "non_pay", "capital_charges")


def _position(instance, org: str | None) -> dict[str, np.ndarray]:
    """Per do-nothing line (and `surplus`), per plan year, for an organisation or all of them."""
    col = {int(y): i for i, y in enumerate(instance.years)}
    out = {line: np.zeros(len(instance.years)) for line in LINES}
    for p in instance.finance.organisations:
        if org is None or p.org == org:
            for y, year in p.do_nothing.items():
                for line in LINES:
                    out[line][col[int(y)]] += getattr(year, line)
    out["surplus"] = out["income"] - out["pay"] - out["non_pay"] - out["capital_charges"]
    return out


def _flows(instance, fig: PlanFigures, org: str | None) -> np.ndarray:
    """Per year: the signed income the plan's schemes move into `org` (None: every flow)."""
    savings = fig.contribution("saving", None, expected=True)
    out = np.zeros(fig.horizon)
    for flow in instance.finance.income_flows:
        if org is None or flow.org == org:
            out += flow.factor * savings[fig.index[flow.scheme]]
    return out


def _no_cash(instance, fig: PlanFigures, org: str | None) -> np.ndarray:
    """Per year: the savings for `org` of the schemes that release no cash."""
    rows = [fig.index[s] for s in set(instance.finance.non_cash_releasing)]
    both = fig.contribution("saving", org, expected=True) + fig.contribution("nonrecurrent_saving", org, expected=True)
    return both[rows].sum(axis=0) if rows else np.zeros(fig.horizon)


def _capital(instance, fig: PlanFigures, org: str | None) -> dict[str, np.ndarray]:
    """Per year: receipts and gains of disposals `offset` years after the selling scheme starts; depreciation of the
    plan's capital spend (straight line over the asset life from the next year) and PDC on its opening
    net book value."""
    h = fig.horizon
    out = {"receipt": np.zeros(h), "gain": np.zeros(h), "depreciation": np.zeros(h), "pdc": np.zeros(h)}
    for r in instance.finance.capital_receipts:
        i = fig.index[r.scheme]
        if org is None or instance.schemes[i].org == org:
            sold = fig.active[i] & (fig.offset[i] == r.offset)
            out["receipt"] += np.where(sold, r.value, 0.0)
            out["gain"] += np.where(sold, r.value - r.book_value, 0.0)
    charges = instance.finance.capital_charges
    if charges is not None:
        spend = fig.total("capital_cost", org)
        for y in range(h):
            for k in range(1, charges.asset_life + 1):
                if y - k >= 0:
                    out["depreciation"][y] += spend[y - k] / charges.asset_life
        book = np.cumsum(spend - out["depreciation"])
        out["pdc"][1:] = charges.pdc_rate * book[:-1]
    return out


def _before_incentive(instance, fig: PlanFigures, org: str | None) -> np.ndarray:
    """Per year: do-nothing surplus + in-year net saving - savings releasing no cash + income flows
    + gains on disposal - depreciation - PDC."""
    cap = _capital(instance, fig, org)
    return (_position(instance, org)["surplus"] + fig.net_saving_total("in_year", org)
            - _no_cash(instance, fig, org) + _flows(instance, fig, org)
            + cap["gain"] - cap["depreciation"] - cap["pdc"])


def receipts_raising(instance, fig: PlanFigures, lim) -> np.ndarray:
    """Per year: the capital receipts that raise a limit named in `finance.receipts_raise` (else 0)."""
    if instance.finance is None or lim.id not in instance.finance.receipts_raise:
        return np.zeros(fig.horizon)
    return _capital(instance, fig, lim.org)["receipt"]


def _bounds(instance, values: dict) -> np.ndarray:
    return np.array([values.get(y, np.nan) for y in instance.years], dtype=float)


def _condition(instance, fig: PlanFigures, rule_id: str):
    """(achieved, required, magnitude) per year of a target or control total (NaN: no requirement)."""
    for t in instance.targets:
        if t.id == rule_id:
            return fig.net_saving_total(t.basis, t.org), _bounds(instance, t.values), fig.magnitude(t.basis, t.org)
    ct = next(c for c in instance.finance.control_totals if c.id == rule_id)
    cap = _capital(instance, fig, ct.org)
    magnitude = (fig.magnitude("in_year", ct.org) + np.abs(_flows(instance, fig, ct.org))
                 + _no_cash(instance, fig, ct.org)
                 + np.abs(cap["gain"]) + cap["depreciation"] + cap["pdc"] + fig.abs_total("capital_cost", ct.org))
    return _before_incentive(instance, fig, ct.org), _bounds(instance, ct.values), magnitude


class FinanceCheck(NamedTuple):
    rows: list  # years rows of the bottom line
    violations: list[Violation]
    objective: float  # added to the objective: discounted incentives received; under net_present_value
    #                   receipts and the terminal value; under weighted_score the benefit scale's change
    penalty: float  # the discounted penalty on soft control totals
    npv: float  # added to the plan's net present value in every mode: incentives, receipts, terminal value


def check_finance(instance, fig: PlanFigures, tolerance) -> FinanceCheck:
    """The finance extension's rules and figures, recomputed from the instance (docs/finance.md)."""
    if instance.finance is None:
        return FinanceCheck([], [], 0.0, 0.0, 0.0)
    fin = instance.finance
    h = fig.horizon
    d = (1.0 + instance.discount_rate) ** -(fig.years - fig.years[0]).astype(float)
    nan = np.full(h, np.nan)
    rows, out = [], []
    received: dict[str, np.ndarray] = {}
    for f in fin.incentive_funds:
        amount = np.nan_to_num(_bounds(instance, f.values))
        ok = np.ones(h, dtype=bool)
        for c in f.conditions:
            achieved, required, magnitude = _condition(instance, fig, c)
            miss = required - achieved
            ok &= np.isnan(required) | (miss <= tolerance(required, magnitude))
        received[f.id] = np.where(ok, amount, 0.0)
        rows.append((f.org, f"incentive:{f.id}", received[f.id], _bounds(instance, f.values),
                     _bounds(instance, f.values) - received[f.id]))
    penalty = 0.0
    for ct in fin.control_totals:
        achieved, required, magnitude = _condition(instance, fig, ct.id)
        short = np.where(np.isnan(required), np.nan, np.maximum(0.0, required - achieved))
        rows.append((ct.org or ALL, f"control_total:{ct.id}", achieved, required, short))
        if not ct.hard:
            penalty += ct.shortfall_penalty * float(d @ np.nan_to_num(short))
            continue
        who = f"{ct.org}'s" if ct.org else "the system's"
        for y in np.flatnonzero(short > tolerance(required, magnitude)):
            out.append(Violation(
                "control_total", int(fig.years[y]), (), float(short[y]),
                f"control_total {ct.id} in {fig.years[y]}: {who} surplus {fmt(achieved[y])} misses the hard "
                f"control total {fmt(required[y])} by {fmt(short[y])}"))
    savings = fig.metric("saving")  # plan values, schemes x years
    for base in fin.cost_baselines:
        members = sorted({fig.index[s] for s in base.schemes})
        cut = savings[members].sum(axis=0)
        bound = _bounds(instance, base.values)
        over = np.where(np.isnan(bound), np.nan, np.maximum(0.0, cut - bound))
        rows.append((ALL, f"cost_baseline:{base.id}", cut, bound, over))
        for y in np.flatnonzero(over > tolerance(bound, np.abs(savings[members]).sum(axis=0))):
            cutting = tuple(instance.schemes[i].id for i in members if savings[i, y] != 0)
            out.append(Violation(
                "cost_baseline", int(fig.years[y]), cutting, float(over[y]),
                f"cost_baseline {base.id} in {fig.years[y]}: the schemes cutting it save {fmt(cut[y])}, more than "
                f"the base {fmt(bound[y])} by {fmt(over[y])} (schemes: {', '.join(cutting)})"))
    orgs = [None] + (list(instance.org_ids) if len(instance.organisations) > 1 else [])
    for org in orgs:
        label = org or ALL
        position = _position(instance, org)
        incentive = sum((r for f in fin.incentive_funds if org is None or f.org == org
                         for r in [received[f.id]]), np.zeros(h))
        surplus = _before_incentive(instance, fig, org) + incentive
        opening = sum(p.opening_cash for p in fin.organisations if org is None or p.org == org)
        cap = _capital(instance, fig, org)
        cash = opening + np.cumsum(surplus - cap["gain"] + cap["depreciation"] + cap["receipt"]
                                   - fig.total("capital_cost", org))
        for line in (*LINES, "surplus"):
            rows.append((label, f"do_nothing:{line}", position[line], nan, nan))
        rows.append((label, "income_flow", _flows(instance, fig, org), nan, nan))
        rows.append((label, "capital_receipt", cap["receipt"], nan, nan))
        rows.append((label, "gain_on_disposal", cap["gain"], nan, nan))
        rows.append((label, "depreciation", cap["depreciation"], nan, nan))
        rows.append((label, "pdc", cap["pdc"], nan, nan))
        rows.append((label, "non_cash_releasing_saving", _no_cash(instance, fig, org), nan, nan))
        rows.append((label, "incentive_received", incentive, nan, nan))
        rows.append((label, "surplus", surplus, nan, nan))
        rows.append((label, "cash", cash, nan, nan))
    money = instance.objective.mode != "weighted_score"
    received_value = float(sum(d @ r for r in received.values()))
    sales = float(d @ _capital(instance, fig, None)["receipt"])  # a sale is cash in, like capital spent is cash out
    terminal = 0.0
    if fin.appraisal_years is not None:  # the last year's recurrent net saving, to the appraisal's end
        later = (1.0 + instance.discount_rate) ** -np.arange(fig.horizon, fin.appraisal_years, dtype=float)
        terminal = float(later.sum()) * float(fig.net_saving_total("recurrent", None)[-1])
    npv = received_value + sales + terminal
    incentives = received_value if money else 0.0
    if instance.objective.mode == "net_present_value":
        incentives += sales + terminal
    if instance.objective.mode == "weighted_score" and fin.score_scale is not None:
        # the plain weighted score is in the checker's objective; the scale turns it into score x benefit
        nominal = nominal_weights(instance)  # exact weights, or the centroid of ranges / an order
        weight = nominal[0] if nominal else {}
        for sc in instance.scores:
            i = fig.index[sc.scheme]
            if fig.selected[i]:
                benefit = instance.schemes[i].metrics.get(fin.score_scale, 0.0)
                incentives += weight.get(sc.criterion, 0.0) * sc.score * (benefit - 1.0)
    return FinanceCheck(rows, out, incentives, penalty, npv)
