"""The one frozen object every constraint family reads, and the row-building helpers they share."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from pyomo.core.expr.numeric_expr import LinearExpression

from cipopt.coefficients import Coefficients
from cipopt.schema.instance import Instance


@dataclass(frozen=True)
class ModelContext:
    instance: Instance
    coef: Coefficients

    @property
    def expected(self) -> bool:
        """Savings count at confidence x value (every risk but none: expected, cvar, chance)."""
        return self.instance.objective.counts_confidence

    @property
    def year_of(self) -> dict[int, int]:
        return {int(y): i for i, y in enumerate(self.coef.years)}


@dataclass
class Infeasibility:
    """A rule that no plan can keep, found while building (e.g. a bound no scheme can reach)."""

    rule: str
    message: str


@dataclass
class BuildNotes:
    """What building learnt that the solve and the user need: structural infeasibilities."""

    infeasibilities: list[Infeasibility] = field(default_factory=list)


def linear_row(pair_vars: list, matrix: sp.csr_array, row: int, extra=()) -> LinearExpression:
    """A Pyomo linear expression from one sparse matrix row over the start variables."""
    lo, hi = matrix.indptr[row], matrix.indptr[row + 1]
    cols = matrix.indices[lo:hi]
    coefs = matrix.data[lo:hi].tolist()
    variables = [pair_vars[c] for c in cols]
    for coef, var in extra:
        coefs.append(coef)
        variables.append(var)
    return LinearExpression(constant=0.0, linear_coefs=coefs, linear_vars=variables)


def vector_expression(pair_vars: list, vector: np.ndarray, extra=()) -> LinearExpression:
    """A Pyomo linear expression sum_p vector[p] * v_start[p] (zeros dropped)."""
    cols = np.flatnonzero(vector)
    coefs = vector[cols].tolist()
    variables = [pair_vars[c] for c in cols]
    for coef, var in extra:
        coefs.append(coef)
        variables.append(var)
    return LinearExpression(constant=0.0, linear_coefs=coefs, linear_vars=variables)


def row_is_empty(matrix: sp.csr_array, row: int) -> bool:
    return matrix.indptr[row] == matrix.indptr[row + 1]


def fmt(value: float) -> str:
    return f"{value:,.6g}" if abs(value) < 1e6 else f"{value:,.0f}"
