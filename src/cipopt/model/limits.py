"""Limits: a per-year bound (<=, >=, ==) on the plan value of any metric, per organisation or all."""

from __future__ import annotations

import numpy as np
import pyomo.core as pyo

from cipopt.model.context import (
    BuildNotes, Infeasibility, ModelContext, add_rows, fmt, stack_rows,
)
from cipopt.model.finance import limit_matrix


def _holds(value: float, sense: str, bound: float) -> bool:
    return {"<=": value <= bound, ">=": value >= bound, "==": value == bound}[sense]


def add_to(m: pyo.ConcreteModel, ctx: ModelContext, notes: BuildNotes) -> None:
    year_of = ctx.year_of
    index = [(lim.id, int(y)) for lim in ctx.instance.limits for y in sorted(lim.values)]
    keys, lower, upper, matrices, rows = [], [], [], [], []
    for lim in ctx.instance.limits:
        matrix = limit_matrix(ctx, lim)  # one (years x starts) matrix per limit (docs/finance.md: receipts_raise)
        nonempty = np.diff(matrix.indptr) > 0
        chosen = []
        for y in sorted(lim.values):
            bound, yi = lim.values[y], year_of[y]
            if not nonempty[yi]:
                if not _holds(0.0, lim.sense, bound):
                    notes.infeasibilities.append(Infeasibility(
                        "c_limit", f"limit {lim.id} needs {lim.metric} {lim.sense} {fmt(bound)} in {y} "
                                   "but no eligible scheme has any"))
                continue
            keys.append((lim.id, int(y)))
            chosen.append(yi)
            lower.append(-np.inf if lim.sense == "<=" else bound)
            upper.append(np.inf if lim.sense == ">=" else bound)
        matrices.append(matrix)
        rows.append(np.array(chosen, dtype=np.int64))
    add_rows(m, "c_limit", keys, stack_rows(matrices, rows, ctx.coef.n_pairs), lower, upper, index=index)
