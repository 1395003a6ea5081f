"""Limits: a per-year bound (<=, >=, ==) on the plan value of any metric, per organisation or all."""

from __future__ import annotations

import pyomo.environ as pyo

from cipopt.model.context import (
    BuildNotes, Infeasibility, ModelContext, fmt, linear_row, row_is_empty,
)


def _holds(value: float, sense: str, bound: float) -> bool:
    return {"<=": value <= bound, ">=": value >= bound, "==": value == bound}[sense]


def add_to(m: pyo.ConcreteModel, ctx: ModelContext, notes: BuildNotes) -> None:
    year_of = ctx.year_of
    limits = {lim.id: lim for lim in ctx.instance.limits}
    index = [(lim.id, int(y)) for lim in ctx.instance.limits for y in sorted(lim.values)]

    def rule(m, lid, y):
        lim = limits[lid]
        matrix = ctx.coef.matrix(lim.metric, lim.org)
        bound = lim.values[y]
        yi = year_of[y]
        if row_is_empty(matrix, yi):
            if not _holds(0.0, lim.sense, bound):
                notes.infeasibilities.append(Infeasibility(
                    "c_limit", f"limit {lid} needs {lim.metric} {lim.sense} {fmt(bound)} in {y} "
                               "but no eligible scheme has any"))
            return pyo.Constraint.Skip
        body = linear_row(m.pair_vars, matrix, yi)
        if lim.sense == "<=":
            return body <= bound
        if lim.sense == ">=":
            return body >= bound
        return body == bound

    m.c_limit = pyo.Constraint(index, rule=rule)
