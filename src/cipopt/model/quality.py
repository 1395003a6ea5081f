"""Quality floors: per year and QIA domain, the portfolio's summed score stays above a minimum.

Scheme-level QIA eligibility (scheme_min, max_risk, hard_max_risk, qia_approved) is applied to
the set of allowed starts (see selection); this family holds the portfolio rule.
"""

from __future__ import annotations

import pyomo.environ as pyo

from cipopt.model.context import (
    BuildNotes, Infeasibility, ModelContext, fmt, linear_row, row_is_empty,
)


def add_to(m: pyo.ConcreteModel, ctx: ModelContext, notes: BuildNotes) -> None:
    floors = ctx.instance.quality.portfolio_min
    years = [int(y) for y in ctx.coef.years]
    year_of = ctx.year_of

    def rule(m, domain, y):
        matrix = ctx.coef.matrix(domain)
        minimum = floors[domain]
        if row_is_empty(matrix, year_of[y]):
            if minimum > 0:
                notes.infeasibilities.append(Infeasibility(
                    "c_quality_floor", f"the {domain} floor {fmt(minimum)} in {y} needs schemes that "
                                       "improve it, and no eligible scheme does"))
            return pyo.Constraint.Skip
        return linear_row(m.pair_vars, matrix, year_of[y]) >= minimum

    m.c_quality_floor = pyo.Constraint(
        [(d, y) for d in floors for y in years], rule=rule)
