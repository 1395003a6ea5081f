"""Which schemes run and when: one binary per allowed (scheme, start year), at most one start.

The allowed starts are a sparse set: only years inside a scheme's start window, and none for a
scheme the QIA rules make ineligible. Mandatory schemes must start exactly once.
"""

from __future__ import annotations

import numpy as np
import pyomo.core as pyo
import scipy.sparse as sp

from cipopt.model.context import BuildNotes, Infeasibility, ModelContext, add_rows


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

    m.SCHEMES_MANDATORY = pyo.Set(initialize=[ids[i] for i in mandatory if len(pairs[i])], ordered=True)
    m.SCHEMES_SEVERAL_STARTS = pyo.Set(
        initialize=[ids[i] for i in range(len(ids)) if len(pairs[i]) > 1 and i not in mandatory_set],
        ordered=True,
    )
    index = coef.scheme_index
    for name, schemes, lower in (("c_mandatory", m.SCHEMES_MANDATORY, 1.0),
                                 ("c_start_once", m.SCHEMES_SEVERAL_STARTS, -np.inf)):
        keys = list(schemes)
        add_rows(m, name, keys, once_rows([pairs[index[s]] for s in keys], coef.n_pairs), lower, 1.0,
                 index=schemes)


def once_rows(starts: list[np.ndarray], n_pairs: int) -> sp.csr_array:
    """One row per scheme, 1 on each of its allowed starts: the sum of its start variables."""
    counts = np.array([len(p) for p in starts], dtype=np.int64)
    columns = np.concatenate(starts) if starts else np.zeros(0, dtype=np.int64)
    indptr = np.concatenate([[0], np.cumsum(counts)])
    return sp.csr_array((np.ones(len(columns)), columns, indptr), shape=(len(starts), n_pairs))
