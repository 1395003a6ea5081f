"""The bottom line (docs/finance.md): control totals stated as an I&E surplus, and incentive funds
with a cliff, received in full in a year whose conditions are all met and lost in full otherwise.

A control total is an in-year row shifted by the do-nothing surplus; an incentive fund is one
binary per (fund, year) that may be 1 only if every condition row holds (big-M from the data).
The same module gives the results' finance figures, so the model and years.csv cannot disagree.
"""

from __future__ import annotations

import numpy as np
import pyomo.core as pyo
import scipy.sparse as sp

from cipopt.model.family import Family, hard, missed_by, no_rule_rows, no_rules, not_relaxed, nothing
from cipopt.model.context import (
    BuildNotes, Infeasibility, ModelContext, add_rows, extend_objective, fmt, row_is_empty, stack_rows,
)

CONTROL_TOTAL, INCENTIVE, BASELINE = FINANCE_ROWS = ("c_control_total", "c_incentive_condition", "c_cost_baseline")

DO_NOTHING_LINES = ("income", "pay", "non_pay", "capital_charges", "surplus")
MET_ABS_TOL, MET_REL_TOL = 1e-6, 1e-9  # a condition counts as met within the checker's tolerance


def do_nothing(ctx: ModelContext, line: str, org: str | None) -> np.ndarray:
    """(T,) a do-nothing I&E line for an organisation (None: every organisation's summed)."""
    out = np.zeros(ctx.coef.n_years)
    fin = ctx.instance.finance
    for position in (fin.organisations if fin else ()):
        if org is not None and position.org != org:
            continue
        for y, year in position.do_nothing.items():
            out[ctx.year_of[int(y)]] += getattr(year, line)
    return out


def opening_cash(ctx: ModelContext, org: str | None) -> float:
    fin = ctx.instance.finance
    return float(sum(p.opening_cash for p in (fin.organisations if fin else ()) if org is None or p.org == org))


def _scheme_columns(ctx: ModelContext, scheme_ids, weights=None) -> np.ndarray:
    """(P,) weight of each allowed start whose scheme is listed (0 elsewhere)."""
    out = np.zeros(ctx.coef.n_pairs)
    for k, sid in enumerate(scheme_ids):
        i = ctx.coef.scheme_index[sid]
        out[ctx.coef.pairs_of_scheme[i]] += 1.0 if weights is None else weights[k]
    return out


def non_cash_saving(ctx: ModelContext, org: str | None) -> sp.csr_array:
    """(T x P) the savings of the non-cash-releasing schemes counted for `org` (they release no cash)."""
    fin = ctx.instance.finance
    listed = sorted(set(fin.non_cash_releasing)) if fin else []
    savings = (ctx.coef.matrix("saving", org, ctx.expected) + ctx.coef.matrix("nonrecurrent_saving", org, ctx.expected))
    return sp.csr_array(savings @ sp.diags_array(np.minimum(_scheme_columns(ctx, listed), 1.0)))


def income_flow(ctx: ModelContext, org: str | None) -> sp.csr_array:
    """(T x P) the signed income the schemes move into `org` (None: every flow): factor x saving."""
    fin = ctx.instance.finance
    flows = [f for f in (fin.income_flows if fin else ()) if org is None or f.org == org]
    weights = _scheme_columns(ctx, [f.scheme for f in flows], [f.factor for f in flows])
    return sp.csr_array(ctx.coef.matrix("saving", None, ctx.expected) @ sp.diags_array(weights))


def _shift(ctx: ModelContext, k: int) -> sp.csr_array:
    """(T x T) moves a yearly row k years later: (shift @ m)[y] = m[y - k]."""
    n = ctx.coef.n_years
    return sp.csr_array(sp.eye_array(n, n, k=-k))


def depreciation(ctx: ModelContext, org: str | None) -> sp.csr_array:
    """(T x P) straight-line depreciation of the plan's capital over the asset life, from the year after."""
    charges = ctx.instance.finance.capital_charges if ctx.instance.finance else None
    capital = ctx.coef.matrix("capital_cost", org)
    if charges is None:
        return sp.csr_array(capital.shape)
    total = sum((_shift(ctx, k) for k in range(1, min(charges.asset_life, ctx.coef.n_years) + 1)),
                sp.csr_array((ctx.coef.n_years, ctx.coef.n_years)))
    return sp.csr_array(total @ capital / charges.asset_life)


def pdc(ctx: ModelContext, org: str | None) -> sp.csr_array:
    """(T x P) the PDC dividend: pdc_rate x the new assets' net book value at the start of the year."""
    charges = ctx.instance.finance.capital_charges if ctx.instance.finance else None
    capital = ctx.coef.matrix("capital_cost", org)
    if charges is None:
        return sp.csr_array(capital.shape)
    n = ctx.coef.n_years
    cumulative = sp.csr_array(np.tril(np.ones((n, n))))
    book = cumulative @ (capital - depreciation(ctx, org))
    return sp.csr_array(charges.pdc_rate * (_shift(ctx, 1) @ book))


def receipts(ctx: ModelContext, org: str | None, gain: bool) -> sp.csr_array:
    """(T x P) capital receipts (or, with `gain`, the gain on disposal) `offset` years after the selling scheme starts,
    for the organisation that runs it."""
    coef = ctx.coef
    fin = ctx.instance.finance
    rows, cols, vals = [], [], []
    for r in (fin.capital_receipts if fin else ()):
        i = coef.scheme_index[r.scheme]
        if org is not None and ctx.instance.schemes[i].org != org:
            continue
        for p in coef.pairs_of_scheme[i]:
            if coef.pair_start[p] + r.offset >= coef.n_years:
                continue  # the sale completes after the plan years
            rows.append(int(coef.pair_start[p]) + r.offset)
            cols.append(int(p))
            vals.append(r.value - r.book_value if gain else r.value)
    return sp.csr_array((vals, (rows, cols)), shape=(coef.n_years, coef.n_pairs))


def baseline_saving(ctx: ModelContext, base) -> sp.csr_array:
    """(T x P) the recurrent saving (plan value) of the schemes that cut one cost base."""
    weights = np.minimum(_scheme_columns(ctx, sorted(set(base.schemes))), 1.0)
    return sp.csr_array(ctx.coef.matrix("saving") @ sp.diags_array(weights))


def annuity_after_plan(instance) -> float:
    """Sum of the discount factors of the appraisal years after the last plan year (0 without)."""
    fin = instance.finance
    if fin is None or fin.appraisal_years is None:
        return 0.0
    r, n = instance.discount_rate, len(instance.years)
    return float(sum((1.0 + r) ** -k for k in range(n, fin.appraisal_years)))


def terminal_value(ctx: ModelContext, every_mode: bool = False) -> np.ndarray:
    """(P,) what each start adds beyond the plan years: the last year's recurrent net saving, each
    appraisal year after it, discounted (in the objective under net_present_value only; in the
    plan's reported net present value, `every_mode`, always)."""
    counted = every_mode or ctx.instance.objective.mode == "net_present_value"
    factor = annuity_after_plan(ctx.instance) if counted else 0.0
    if factor == 0.0:
        return np.zeros(ctx.coef.n_pairs)
    return factor * ctx.coef.recurrent_net_saving(None, ctx.expected)[[ctx.coef.n_years - 1]].toarray()[0]


def limit_matrix(ctx: ModelContext, lim) -> sp.csr_array:
    """(T x P) what a limit counts: its metric for its organisation, less capital receipts when
    `finance.receipts_raise` names it (a sale raises the capital envelope)."""
    matrix = ctx.coef.matrix(lim.metric, lim.org)
    fin = ctx.instance.finance
    if fin is None or lim.id not in fin.receipts_raise:
        return matrix
    out = sp.csr_array(matrix - receipts(ctx, lim.org, gain=False))
    out.eliminate_zeros()
    out.sort_indices()
    return out


def bottom_line(ctx: ModelContext, org: str | None) -> sp.csr_array:
    """(T x P) what a start adds to the organisation's surplus before incentives: in-year net saving,
    less the savings that release no cash, plus the income flows."""
    def make():
        m = (ctx.coef.in_year_net_saving(org, ctx.expected) - non_cash_saving(ctx, org) + income_flow(ctx, org)
             + receipts(ctx, org, gain=True) - depreciation(ctx, org) - pdc(ctx, org))
        m = sp.csr_array(m)
        m.eliminate_zeros()
        m.sort_indices()
        return m
    return ctx.coef.memo(("finance_bottom_line", org, ctx.expected), make)  # variants with finance are rebuilt


def conditions(ctx: ModelContext) -> dict[str, tuple[sp.csr_array, dict[int, float]]]:
    """Every rule an incentive fund may name: id -> ((T x P) achieved, {year: required})."""
    out = {}
    for t in ctx.instance.targets:
        out[t.id] = (ctx.coef.target_matrix(t.basis, t.org, ctx.expected), dict(t.values))
    fin = ctx.instance.finance
    for ct in (fin.control_totals if fin else ()):
        surplus = do_nothing(ctx, "surplus", ct.org)
        required = {int(y): v - surplus[ctx.year_of[int(y)]] for y, v in ct.values.items()}
        out[ct.id] = (bottom_line(ctx, ct.org), required)
    return out


def _lowest(matrix: sp.csr_array, yi: int, pair_scheme: np.ndarray, n_schemes: int) -> float:
    """The least a row can be: each scheme's most negative start (a scheme starts at most once)."""
    row = matrix[[yi]].tocoo()
    worst = np.zeros(n_schemes)
    np.minimum.at(worst, pair_scheme[row.col], row.data)
    return float(worst.sum())


def add_to(m: pyo.ConcreteModel, ctx: ModelContext, notes: BuildNotes) -> None:
    fin = ctx.instance.finance
    if fin is None:
        return
    coef, year_of = ctx.coef, ctx.year_of
    rules = conditions(ctx)

    # control totals: in-year net saving (+ shortfall when soft) >= required surplus - do-nothing surplus
    soft = [(ct.id, int(y)) for ct in fin.control_totals if not ct.hard for y in sorted(ct.values)]
    m.CONTROL_YEARS_SOFT = pyo.Set(dimen=2, ordered=True, initialize=soft)
    m.v_control_shortfall = pyo.Var(m.CONTROL_YEARS_SOFT, domain=pyo.NonNegativeReals)
    keys, lower, matrices, chosen, extra = [], [], [], [], []
    for ct in fin.control_totals:
        matrix, required = rules[ct.id]
        years = []
        for y in sorted(ct.values):
            need = required[int(y)]
            if ct.hard and row_is_empty(matrix, year_of[int(y)]):
                if need > 0:
                    notes.infeasibilities.append(Infeasibility(
                        CONTROL_TOTAL, f"hard control total {ct.id} needs {fmt(need)} of net saving in {y} "
                                           "but no eligible scheme can contribute to it"))
                continue
            if not ct.hard:
                extra.append((len(keys), 1.0, m.v_control_shortfall[ct.id, int(y)]))
            keys.append((ct.id, int(y)))
            lower.append(need)
            years.append(year_of[int(y)])
        matrices.append(matrix)
        chosen.append(np.array(years, dtype=np.int64))
    add_rows(m, CONTROL_TOTAL, keys, stack_rows(matrices, chosen, coef.n_pairs), lower, np.inf, extra=extra,
             index=[(ct.id, int(y)) for ct in fin.control_totals for y in sorted(ct.values)])

    # incentive funds: v_incentive[f, y] = 1 only if each condition naming y holds:
    # a x - M v >= b - M with M = b - (least a x can be); a condition that always holds has no row
    paid = [(f, int(y)) for f in fin.incentive_funds for y in sorted(f.values) if f.values[y] > 0]
    m.INCENTIVE_YEARS = pyo.Set(dimen=2, ordered=True, initialize=[(f.id, y) for f, y in paid])
    m.v_incentive = pyo.Var(m.INCENTIVE_YEARS, domain=pyo.Binary)
    keys, lower, matrices, chosen, extra = [], [], [], [], []
    for f, y in paid:
        yi = year_of[y]
        for c in f.conditions:
            matrix, required = rules[c]
            if y not in required:
                continue
            big_m = required[y] - _lowest(matrix, yi, coef.pair_scheme, len(coef.scheme_ids))
            if big_m <= 0:
                continue
            extra.append((len(keys), -big_m, m.v_incentive[f.id, y]))
            keys.append((f.id, c, y))
            lower.append(required[y] - big_m)
            matrices.append(matrix)
            chosen.append(np.array([yi], dtype=np.int64))
    add_rows(m, INCENTIVE, keys, stack_rows(matrices, chosen, coef.n_pairs), lower, np.inf,
             extra=extra)

    # shared cost baselines: the listed schemes' recurrent savings (plan values) <= the base
    keys, upper, matrices, chosen = [], [], [], []
    for base in fin.cost_baselines:
        matrix = baseline_saving(ctx, base)
        for y in sorted(base.values):
            yi = year_of[int(y)]
            if row_is_empty(matrix, yi):
                if base.values[y] < 0:
                    notes.infeasibilities.append(Infeasibility(
                        BASELINE, f"cost baseline {base.id} is {fmt(base.values[y])} in {y}, below 0"))
                continue
            keys.append((base.id, int(y)))
            upper.append(base.values[y])
            matrices.append(matrix)
            chosen.append(np.array([yi], dtype=np.int64))
    add_rows(m, BASELINE, keys, stack_rows(matrices, chosen, coef.n_pairs), -np.inf, upper,
             index=[(b.id, int(y)) for b in fin.cost_baselines for y in sorted(b.values)])

    money = ctx.instance.objective.mode != "weighted_score"
    terms = [(-ct.shortfall_penalty * coef.discount[year_of[y]], m.v_control_shortfall[cid, y])
             for ct in fin.control_totals if not ct.hard for cid, y in [(ct.id, int(y)) for y in sorted(ct.values)]]
    terms += [((f.values[y] * coef.discount[year_of[y]]) if money else 0.0, m.v_incentive[f.id, y]) for f, y in paid]
    if terms:
        extend_objective(m, terms)


def _reads(instance) -> frozenset[str]:
    """With a finance section every field: the incentive rows' big-M holds targets' values and
    schemes' figures, so no variant is re-solved in place (docs/finance.md)."""
    if instance.finance is None:
        return frozenset({"finance"})
    return frozenset(type(instance).model_fields)




def _words(name: str, index, instance, amount: float | None = None) -> str:
    what = {CONTROL_TOTAL: "control total", INCENTIVE: "incentive fund", BASELINE: "cost baseline"}[name]
    return missed_by(f"{what} {index[0]} in {index[-1]}", amount)


# -- the figures of a plan -------------------------------------------------------------------------
def met(achieved: float, required: float, magnitude: float) -> bool:
    return required - achieved <= MET_ABS_TOL + MET_REL_TOL * (abs(required) + magnitude)


def incentives_received(ctx: ModelContext, x: np.ndarray) -> dict[tuple[str, int], float]:
    """(fund, year) -> the amount received by the plan `x`: all of it if every condition is met."""
    fin = ctx.instance.finance
    if fin is None:
        return {}
    rules = conditions(ctx)
    achieved = {c: (matrix @ x, abs(matrix) @ x) for c, (matrix, _) in rules.items()}
    out = {}
    for f in fin.incentive_funds:
        for y, amount in sorted(f.values.items()):
            yi = ctx.year_of[int(y)]
            ok = all(met(achieved[c][0][yi], rules[c][1][int(y)], achieved[c][1][yi])
                     for c in f.conditions if int(y) in rules[c][1])
            out[f.id, int(y)] = amount if ok else 0.0
    return out


def finance_value(ctx: ModelContext, x: np.ndarray) -> float:
    """What the finance family adds to the objective: discounted incentives (money modes) less
    the discounted penalty on soft control-total shortfalls."""
    if ctx.instance.finance is None:
        return 0.0
    # capital receipts are in the start values (model/objective.py)
    value = incentive_value(ctx, x) if ctx.instance.objective.mode != "weighted_score" else 0.0
    return value - control_total_penalty(ctx, x)


def incentive_value(ctx: ModelContext, x: np.ndarray) -> float:
    """The discounted incentive money the plan receives (part of its net present value in every mode)."""
    if ctx.instance.finance is None:
        return 0.0
    d = ctx.coef.discount
    return float(sum(amount * d[ctx.year_of[y]] for (_, y), amount in incentives_received(ctx, x).items()))


def control_total_penalty(ctx: ModelContext, x: np.ndarray) -> float:
    """The discounted penalty on soft control totals' shortfalls (part of the shortfall penalty)."""
    fin = ctx.instance.finance
    if fin is None:
        return 0.0
    d = ctx.coef.discount
    rules = conditions(ctx)
    value = 0.0
    for ct in fin.control_totals:
        if ct.hard:
            continue
        achieved = rules[ct.id][0] @ x
        for y, need in rules[ct.id][1].items():
            value += ct.shortfall_penalty * d[ctx.year_of[y]] * max(0.0, need - achieved[ctx.year_of[y]])
    return value


def finance_rows(ctx: ModelContext, x: np.ndarray, scopes: list) -> list[tuple]:
    """years.csv rows (year, org or None, measure, value, sense, bound, shortfall) of the bottom line."""
    fin = ctx.instance.finance
    if fin is None:
        return []
    coef, years = ctx.coef, [int(y) for y in ctx.coef.years]
    received = incentives_received(ctx, x)
    nan = float("nan")
    out = []
    for scope in scopes:
        lines = {line: do_nothing(ctx, line, scope) for line in DO_NOTHING_LINES}
        incentive = np.zeros(len(years))
        for f in fin.incentive_funds:
            if scope is None or f.org == scope:
                for y in f.values:
                    incentive[ctx.year_of[int(y)]] += received[f.id, int(y)]
        flows = income_flow(ctx, scope) @ x
        no_cash = non_cash_saving(ctx, scope) @ x
        received_cash, gain = receipts(ctx, scope, gain=False) @ x, receipts(ctx, scope, gain=True) @ x
        dep, dividend = depreciation(ctx, scope) @ x, pdc(ctx, scope) @ x
        surplus = (lines["surplus"] + coef.net_saving_total("in_year", scope, x, ctx.expected) - no_cash + flows
                   + gain - dep - dividend + incentive)
        # cash: the surplus less its non-cash parts (the gain; depreciation is added back), plus the
        # receipts, less the capital spent
        cash = opening_cash(ctx, scope) + np.cumsum(surplus - gain + dep + received_cash
                                                    - coef.total("capital_cost", scope, x))
        for yi, y in enumerate(years):
            for line in DO_NOTHING_LINES:
                out.append((y, scope, f"do_nothing:{line}", lines[line][yi], "", nan, nan))
            out.append((y, scope, "income_flow", flows[yi], "", nan, nan))
            out.append((y, scope, "capital_receipt", received_cash[yi], "", nan, nan))
            out.append((y, scope, "gain_on_disposal", gain[yi], "", nan, nan))
            out.append((y, scope, "depreciation", dep[yi], "", nan, nan))
            out.append((y, scope, "pdc", dividend[yi], "", nan, nan))
            out.append((y, scope, "non_cash_releasing_saving", no_cash[yi], "", nan, nan))
            out.append((y, scope, "incentive_received", incentive[yi], "", nan, nan))
            out.append((y, scope, "surplus", surplus[yi], "", nan, nan))
            out.append((y, scope, "cash", cash[yi], "", nan, nan))
    rules = conditions(ctx)
    for ct in fin.control_totals:
        achieved = rules[ct.id][0] @ x
        base = do_nothing(ctx, "surplus", ct.org)
        for y in sorted(ct.values):
            yi = ctx.year_of[int(y)]
            value = base[yi] + achieved[yi]
            out.append((int(y), ct.org, f"control_total:{ct.id}", value, ">=", ct.values[y],
                        max(0.0, ct.values[y] - value)))
    for base in fin.cost_baselines:
        cut = baseline_saving(ctx, base) @ x
        for y in sorted(base.values):
            value = cut[ctx.year_of[int(y)]]
            out.append((int(y), None, f"cost_baseline:{base.id}", value, "<=", base.values[y],
                        max(0.0, value - base.values[y])))
    for f in fin.incentive_funds:
        for y in sorted(f.values):
            got = received[f.id, int(y)]
            out.append((int(y), f.org, f"incentive:{f.id}", got, "", f.values[y], f.values[y] - got))
    return out


FAMILY = Family(
    name="finance", add_to=add_to, rows=FINANCE_ROWS, reads=_reads,
    rebounds=frozenset(), keeps_rows=nothing, rebound=nothing,
    price=hard, words=_words, proved=not_relaxed, rules=no_rules, rule_rows=no_rule_rows,
)
