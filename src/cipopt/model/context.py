"""The one frozen object every constraint family reads, and the row-building helpers they share."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyomo.core as pyo
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


# -- rows as arrays ------------------------------------------------------------------------------
# Families state their rows as sparse blocks over the allowed starts; `add_rows` makes the Pyomo
# constraints from them (the model, its names, its LP export) and keeps the arrays, so that the
# hand-off to HiGHS can assemble the standard form with numpy instead of walking every term again
# (cipopt.solve.highs.compile_model; a test holds the two forms identical).

@dataclass
class RowBlock:
    """The rows of one constraint component: rows x allowed starts, plus other variables' terms."""

    name: str
    keys: list  # the index of each row, in row order
    matrix: sp.csr_array  # (rows x P) coefficients on the start variables
    lower: np.ndarray  # -inf where none
    upper: np.ndarray  # +inf where none
    extra_rows: np.ndarray  # (K,) row of each term on another variable
    extra_vars: list  # (K,) that variable (a Pyomo VarData)
    extra_coefs: np.ndarray  # (K,)


@dataclass
class ObjectiveArrays:
    name: str
    pair_costs: np.ndarray  # (P,)
    extra_vars: list
    extra_coefs: np.ndarray
    maximize: bool


def recorded_rows(m) -> list[RowBlock]:
    """The row blocks `add_rows` recorded on a model, in the order the components were added."""
    return m.__dict__.setdefault("_cipopt_row_blocks", [])


def recorded_objective(m) -> ObjectiveArrays | None:
    return m.__dict__.get("_cipopt_objective")


def add_rows(m, name: str, keys: list, matrix: sp.csr_array, lower, upper, extra=(), index=None) -> None:
    """Add constraint component `name`: row i is lower[i] <= matrix[i] @ v_start + extra <= upper[i].

    `keys` index the rows; `index` is the component's whole index set (default `keys`): an index
    without a row is a rule that holds trivially (Pyomo's Constraint.Skip). `extra` is
    (row, coefficient, variable) triplets on other variables (shortfalls). Equal bounds make an
    equality, one infinite bound a one-sided row, as `body >= lower` / `body <= upper`.
    """
    matrix = sp.csr_array(matrix)
    lower = np.broadcast_to(np.asarray(lower, dtype=float), (len(keys),))
    upper = np.broadcast_to(np.asarray(upper, dtype=float), (len(keys),))
    extra = list(extra)
    extra_rows = np.array([r for r, _, _ in extra], dtype=np.int64)
    extra_coefs = np.array([c for _, c, _ in extra], dtype=float)
    extra_vars = [v for _, _, v in extra]
    by_row: dict[int, list] = {}
    for r, c, v in extra:
        by_row.setdefault(r, []).append((c, v))
    pair_vars = m.pair_vars
    indptr, indices, data = matrix.indptr, matrix.indices, matrix.data
    columns = indices.tolist()
    values = data.tolist()
    exprs = {}
    for i, key in enumerate(keys):
        lo, hi = indptr[i], indptr[i + 1]
        coefs = values[lo:hi]
        variables = [pair_vars[c] for c in columns[lo:hi]]
        for coef, var in by_row.get(i, ()):
            coefs.append(coef)
            variables.append(var)
        body = LinearExpression(constant=0.0, linear_coefs=coefs, linear_vars=variables)
        low, up = float(lower[i]), float(upper[i])
        if low == up:
            exprs[key] = body == up
        elif np.isfinite(low) == np.isfinite(up):  # the standard form assembly keeps rows one-sided
            raise ValueError(f"{name}[{key}]: a row needs one finite bound or two equal ones")
        elif np.isfinite(low):
            exprs[key] = body >= low
        else:
            exprs[key] = body <= up
    if keys == [None] and index is None:  # one row: a scalar constraint, as `Constraint(expr=...)`
        m.add_component(name, pyo.Constraint(expr=exprs[None]))
    else:
        m.add_component(name, pyo.Constraint(list(keys) if index is None else index, rule=exprs))
    recorded_rows(m).append(RowBlock(name, list(keys), matrix, np.array(lower), np.array(upper),
                                     extra_rows, extra_vars, extra_coefs))


def set_objective(m, name: str, pair_costs: np.ndarray, extra=(), maximize: bool = True) -> None:
    """The objective sum_p pair_costs[p] v_start[p] + sum coefficient x variable over `extra`."""
    extra = list(extra)
    m.add_component(name, pyo.Objective(
        expr=vector_expression(m.pair_vars, pair_costs, extra), sense=pyo.maximize if maximize else pyo.minimize))
    m.__dict__["_cipopt_objective"] = ObjectiveArrays(
        name, np.asarray(pair_costs, dtype=float), [v for _, v in extra],
        np.array([c for c, _ in extra], dtype=float), maximize)


def extend_objective(m, extra) -> None:
    """Add coefficient x variable terms (a family's price, e.g. the CVaR's) to the recorded objective."""
    extra = list(extra)
    record = recorded_objective(m)
    objective = m.component(record.name)
    objective.set_value(objective.expr + vector_expression(m.pair_vars, np.zeros(len(m.pair_vars)), extra))
    record.extra_vars = list(record.extra_vars) + [v for _, v in extra]
    record.extra_coefs = np.concatenate([record.extra_coefs, np.array([c for c, _ in extra], dtype=float)])


def stack_rows(matrices: list[sp.csr_array], rows: list[np.ndarray], n_cols: int) -> sp.csr_array:
    """One CSR of the given rows of each matrix, in order (rows[k] of matrices[k])."""
    if not matrices:
        return sp.csr_array((0, n_cols))
    return sp.csr_array(sp.vstack([mat[r] for mat, r in zip(matrices, rows)], format="csr"))
