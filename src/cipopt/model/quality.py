"""Quality floors: per year and QIA domain, the portfolio's summed score stays above a minimum.

Scheme-level QIA eligibility (scheme_min, max_risk, hard_max_risk, qia_approved) is applied to
the set of allowed starts (see selection); this family holds the portfolio rule.
"""

from __future__ import annotations

import numpy as np
import pyomo.core as pyo

from cipopt.model.context import (
    BuildNotes, Infeasibility, ModelContext, add_rows, fmt, stack_rows,
)


def add_to(m: pyo.ConcreteModel, ctx: ModelContext, notes: BuildNotes) -> None:
    floors = ctx.instance.quality.portfolio_min
    years = [int(y) for y in ctx.coef.years]
    keys, lower, matrices, rows = [], [], [], []
    for domain, minimum in floors.items():
        matrix = ctx.coef.matrix(domain)
        nonempty = np.diff(matrix.indptr) > 0
        chosen = []
        for yi, y in enumerate(years):
            if not nonempty[yi]:
                if minimum > 0:
                    notes.infeasibilities.append(Infeasibility(
                        "c_quality_floor", f"the {domain} floor {fmt(minimum)} in {y} needs schemes that "
                                           "improve it, and no eligible scheme does"))
                continue
            keys.append((domain, y))
            chosen.append(yi)
            lower.append(minimum)
        matrices.append(matrix)
        rows.append(np.array(chosen, dtype=np.int64))
    add_rows(m, "c_quality_floor", keys, stack_rows(matrices, rows, ctx.coef.n_pairs), lower, np.inf,
             index=[(d, y) for d in floors for y in years])
