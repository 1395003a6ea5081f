"""The objective: net present value, discounted savings, or a weighted appraisal score,
less the discounted penalty on every soft target's shortfall."""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo

from cipopt.coefficients import Coefficients
from cipopt.model.context import BuildNotes, ModelContext, set_objective
from cipopt.schema.instance import Instance
from cipopt.schema.nominal import nominal_weights


def scheme_scores(instance: Instance, coef: Coefficients) -> np.ndarray:
    """(S,) each scheme's weighted appraisal score: sum over criteria of weight x score."""
    nominal = nominal_weights(instance)  # exact weights, or the centroid of ranges / an order
    weights = nominal[0] if nominal else {}
    per_scheme = np.zeros(len(coef.scheme_ids))
    for sc in instance.scores:
        per_scheme[coef.scheme_index[sc.scheme]] += weights.get(sc.criterion, 0.0) * sc.score
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
        net = net - coef.matrix("capital_cost")
    return coef.discount @ net


def npv_values(ctx: ModelContext) -> np.ndarray:
    """(P,) what each allowed start adds to the net present value, in every objective mode: the
    board's figure is the same whatever the solver maximised (docs/semantics.md)."""
    coef = ctx.coef
    return coef.discount @ (coef.in_year_net_saving(expected=ctx.expected) - coef.matrix("capital_cost"))


def add_to(m: pyo.ConcreteModel, ctx: ModelContext, notes: BuildNotes) -> None:
    targets = {t.id: t for t in ctx.instance.targets}
    year_of = ctx.year_of
    penalties = [
        (-targets[tid].shortfall_penalty * ctx.coef.discount[year_of[y]], m.v_shortfall[tid, y])
        for tid, y in m.TARGET_YEARS_SOFT
    ]
    set_objective(m, "o_objective", start_values(ctx), penalties, maximize=True)
