"""Which schemes run and when: one binary per allowed (scheme, start year), at most one start.

The allowed starts are a sparse set: only years inside a scheme's start window, and none for a
scheme the QIA rules make ineligible. Mandatory schemes must start exactly once.
"""

from __future__ import annotations

import pyomo.environ as pyo
from pyomo.core.expr.numeric_expr import LinearExpression

from cipopt.model.context import BuildNotes, Infeasibility, ModelContext


def add_to(m: pyo.ConcreteModel, ctx: ModelContext, notes: BuildNotes) -> None:
    coef = ctx.coef
    years = coef.years
    ids = coef.scheme_ids
    m.STARTS = pyo.Set(
        dimen=2, ordered=True,
        initialize=[(ids[s], int(years[t])) for s, t in zip(coef.pair_scheme, coef.pair_start)],
    )
    m.v_start = pyo.Var(m.STARTS, domain=pyo.Binary)
    m.pair_vars = list(m.v_start.values())  # column p of every coefficient matrix

    pairs = coef.pairs_of_scheme
    mandatory = [i for i, s in enumerate(ctx.instance.schemes) if s.mandatory]
    mandatory_set = set(mandatory)
    for i in mandatory:
        if len(pairs[i]) == 0:
            sid = ids[i]
            why = coef.ineligible.get(sid) or (
                "it is excluded" if ctx.instance.schemes[i].excluded else "it has no start year inside the plan years")
            notes.infeasibilities.append(Infeasibility(
                "c_mandatory", f"mandatory scheme {sid} cannot be selected: {why}"))

    def once(s_index: int) -> LinearExpression:
        vars_ = [m.pair_vars[p] for p in pairs[s_index]]
        return LinearExpression(constant=0.0, linear_coefs=[1.0] * len(vars_), linear_vars=vars_)

    m.SCHEMES_MANDATORY = pyo.Set(initialize=[ids[i] for i in mandatory if len(pairs[i])], ordered=True)
    m.SCHEMES_SEVERAL_STARTS = pyo.Set(
        initialize=[ids[i] for i in range(len(ids)) if len(pairs[i]) > 1 and i not in mandatory_set],
        ordered=True,
    )
    index = coef.scheme_index
    m.c_mandatory = pyo.Constraint(m.SCHEMES_MANDATORY, rule=lambda m, s: once(index[s]) == 1)
    m.c_start_once = pyo.Constraint(m.SCHEMES_SEVERAL_STARTS, rule=lambda m, s: once(index[s]) <= 1)
