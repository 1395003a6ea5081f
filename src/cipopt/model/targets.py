"""Savings targets per year: recurrent (the underlying position) or in-year, hard or soft.

A soft target gets a shortfall variable that the objective penalises; a hard one must hold.
Per organisation through the shares, or for the whole system.
"""

from __future__ import annotations

import pyomo.environ as pyo

from cipopt.model.context import (
    BuildNotes, Infeasibility, ModelContext, fmt, linear_row, row_is_empty,
)


def target_rows(ctx: ModelContext):
    """(target, year, year index) for every year a target names."""
    year_of = ctx.year_of
    return [
        (t, int(y), year_of[int(y)])
        for t in ctx.instance.targets
        for y in sorted(t.values)
    ]


def add_to(m: pyo.ConcreteModel, ctx: ModelContext, notes: BuildNotes) -> None:
    rows = target_rows(ctx)
    m.TARGET_YEARS_SOFT = pyo.Set(
        dimen=2, ordered=True, initialize=[(t.id, y) for t, y, _ in rows if not t.hard])
    m.v_shortfall = pyo.Var(m.TARGET_YEARS_SOFT, domain=pyo.NonNegativeReals)

    for basis, name in (("recurrent", "c_target_recurrent"), ("in_year", "c_target_in_year")):
        these = {(t.id, y): (t, yi) for t, y, yi in rows if t.basis == basis}

        def rule(m, tid, y, these=these):
            t, yi = these[tid, y]
            matrix = ctx.coef.target_matrix(t.basis, t.org, ctx.expected)
            required = t.values[y]
            extra = [] if t.hard else [(1.0, m.v_shortfall[tid, y])]
            if row_is_empty(matrix, yi) and not extra:
                if required > 0:
                    notes.infeasibilities.append(Infeasibility(
                        name, f"hard target {tid} needs {fmt(required)} in {y} but no eligible "
                              "scheme can contribute to it"))
                return pyo.Constraint.Skip
            return linear_row(m.pair_vars, matrix, yi, extra) >= required

        setattr(m, name, pyo.Constraint(list(these), rule=rule))
