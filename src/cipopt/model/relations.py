"""Logical links between schemes: requires, excludes, together, precedes (with lags in years).

Timing rules use the aggregated "started by year tau" form, which is tighter than big-M:
  requires a b lag:  started_a(<= tau) <= started_b(<= tau - lag)            for every tau
  precedes a b lag:  started_b(<= tau) + started_a(> tau - lag) <= 1         for every tau
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
from pyomo.core.expr.numeric_expr import LinearExpression

from cipopt.model.context import BuildNotes, ModelContext


def _strictest(ctx: ModelContext, kind: str) -> dict[tuple[str, str], int]:
    """One row set per (a, b) of a kind; a repeated relation keeps its largest lag."""
    out: dict[tuple[str, str], int] = {}
    for r in ctx.instance.relations:
        if r.kind == kind:
            out[(r.a, r.b)] = max(out.get((r.a, r.b), 0), r.lag)
    return out


def add_to(m: pyo.ConcreteModel, ctx: ModelContext, notes: BuildNotes) -> None:
    coef = ctx.coef
    pairs = coef.pairs_of_scheme
    index = coef.scheme_index
    years = [int(y) for y in coef.years]
    v = m.pair_vars

    def starts(sid: str) -> np.ndarray:
        return pairs[index[sid]]

    def start_years(sid: str) -> np.ndarray:
        return coef.pair_start[starts(sid)] + years[0]

    def expr(terms: list[tuple[float, int]]) -> LinearExpression:
        return LinearExpression(constant=0.0, linear_coefs=[c for c, _ in terms],
                                linear_vars=[v[p] for _, p in terms])

    def selected(sid: str, coef_: float = 1.0) -> list[tuple[float, int]]:
        return [(coef_, int(p)) for p in starts(sid)]

    def started_by(sid: str, tau: int, coef_: float = 1.0) -> list[tuple[float, int]]:
        ps, ys = starts(sid), start_years(sid)
        return [(coef_, int(p)) for p, y in zip(ps, ys) if y <= tau]

    def started_after(sid: str, tau: int) -> list[tuple[float, int]]:
        ps, ys = starts(sid), start_years(sid)
        return [(1.0, int(p)) for p, y in zip(ps, ys) if y > tau]

    requires = _strictest(ctx, "requires")
    rows_req = {
        (a, b, tau): started_by(a, tau) + started_by(b, tau - lag, -1.0)
        for (a, b), lag in requires.items() for tau in years if started_by(a, tau)
    }
    m.c_requires = pyo.Constraint(list(rows_req), rule=lambda m, a, b, tau: expr(rows_req[a, b, tau]) <= 0)

    precedes = _strictest(ctx, "precedes")
    rows_pre = {}
    for (a, b), lag in precedes.items():
        for tau in years:
            later_a = started_after(a, tau - lag)
            b_by = started_by(b, tau)
            if later_a and b_by:
                rows_pre[a, b, tau] = b_by + later_a
    m.c_precedes = pyo.Constraint(list(rows_pre), rule=lambda m, a, b, tau: expr(rows_pre[a, b, tau]) <= 1)

    excludes = [ab for ab in _strictest(ctx, "excludes") if len(starts(ab[0])) and len(starts(ab[1]))]
    m.c_excludes = pyo.Constraint(
        excludes, rule=lambda m, a, b: expr(selected(a) + selected(b)) <= 1)

    together = [ab for ab in _strictest(ctx, "together") if len(starts(ab[0])) or len(starts(ab[1]))]
    m.c_together = pyo.Constraint(
        together, rule=lambda m, a, b: expr(selected(a) + selected(b, -1.0)) == 0)
