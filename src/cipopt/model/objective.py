"""The objective: net present value, discounted savings, or a weighted appraisal score,
less the discounted penalty on every soft target's shortfall."""

from __future__ import annotations

import numpy as np
import pyomo.core as pyo

from cipopt.coefficients import Coefficients
from cipopt.model.context import BuildNotes, ModelContext, set_objective
from cipopt.model.family import Family, fields, hard, keeps_shape, no_rule_rows, no_rules, not_relaxed, nothing
from cipopt.model.finance import receipts, terminal_value
from cipopt.schema.instance import Instance
from cipopt.schema.nominal import nominal_weights


def scheme_scores(instance: Instance, coef: Coefficients) -> np.ndarray:
    """(S,) each scheme's weighted appraisal score: sum over criteria of weight x score."""
    nominal = nominal_weights(instance)  # exact weights, or the centroid of ranges / an order
    weights = nominal[0] if nominal else {}
    per_scheme = np.zeros(len(coef.scheme_ids))
    for sc in instance.scores:
        per_scheme[coef.scheme_index[sc.scheme]] += weights.get(sc.criterion, 0.0) * sc.score
    scale = instance.finance.score_scale if instance.finance else None
    if scale is not None:  # docs/finance.md: a bid's benefit scales its scores
        per_scheme *= np.array([s.metrics.get(scale, 0.0) for s in instance.schemes])
    return per_scheme


def start_values(ctx: ModelContext) -> np.ndarray:
    """(P,) what each allowed start adds to the objective, before shortfall penalties."""
    coef = ctx.coef
    inst = ctx.instance
    mode = inst.objective.mode
    if mode == "weighted_score":
        return scheme_scores(inst, coef)[coef.pair_scheme]
    net = coef.in_year_net_saving(expected=ctx.expected)
    if mode == "net_present_value":
        net = net - coef.matrix("capital_cost") + receipts(ctx, None, gain=False)  # docs/finance.md: sales are cash
        return coef.discount @ net + terminal_value(ctx)  # docs/finance.md: the appraisal period
    return coef.discount @ net


def npv_values(ctx: ModelContext) -> np.ndarray:
    """(P,) what each allowed start adds to the net present value, in every objective mode: the
    board's figure is the same whatever the solver maximised (docs/semantics.md)."""
    coef = ctx.coef
    net = coef.in_year_net_saving(expected=ctx.expected) - coef.matrix("capital_cost")
    if ctx.instance.finance is None:
        return coef.discount @ net
    # docs/finance.md: a sale is cash in; the appraisal period's terminal value is part of the NPV
    return coef.discount @ (net + receipts(ctx, None, gain=False)) + terminal_value(ctx, every_mode=True)


def add_to(m: pyo.ConcreteModel, ctx: ModelContext, notes: BuildNotes) -> None:
    targets = {t.id: t for t in ctx.instance.targets}
    year_of = ctx.year_of
    penalties = [
        (-targets[tid].shortfall_penalty * ctx.coef.discount[year_of[y]], m.v_shortfall[tid, y])
        for tid, y in m.TARGET_YEARS_SOFT
    ]
    set_objective(m, "o_objective", start_values(ctx), penalties, maximize=True)


def _soft(instance: Instance) -> list[tuple[str, int]]:
    """The shortfall columns: weights, scores' weights and penalties are costs, changed in place;
    which soft targets and years there are, not."""
    return [(t.id, int(y)) for t in instance.targets if not t.hard for y in sorted(t.values)]



def _rebound(ctx: ModelContext, rows) -> None:
    """The variant's objective: each start's value, and each soft target's discounted penalty."""
    rows.set_start_costs(start_values(ctx))
    targets = {t.id: t for t in ctx.instance.targets}
    m, coef = rows.model, ctx.coef
    for tid, y in m.TARGET_YEARS_SOFT:
        rows.set_var_cost(m.v_shortfall[tid, y], -targets[tid].shortfall_penalty * coef.discount[coef.year_index(y)])


FAMILY = Family(
    name="objective", add_to=add_to, rows=(),
    reads=fields("objective", "targets", "criteria", "criteria_order", "scores", "finance", "discount_rate",
                 "years", "schemes", "shares", "organisations", "profiles"),
    rebounds=frozenset({"criteria", "criteria_order", "targets", "schemes"}),
    keeps_rows=keeps_shape(_soft, "the variant changes which soft targets there are"),
    rebound=_rebound, price=hard, words=nothing, proved=not_relaxed, rules=no_rules, rule_rows=no_rule_rows,
)
