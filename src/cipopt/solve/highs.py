"""Hand a built Pyomo model to HiGHS in one call and keep the `highspy.Highs` object.

Pyomo's `LinearStandardFormCompiler` turns the model into CSC arrays (about 1 us a nonzero,
against about 5 us for Pyomo's stock HiGHS interfaces, see ../shared/solver-notes.md), which go to
`Highs.passModel` at once. Keeping the `Highs` object lets later analyses re-solve with changed
bounds, costs or added rows, warm-start from a plan, and stop a solve honestly: a watchdog
cancels a solve that overruns its time limit (HiGHS does not check the limit inside a long root
LP), and Ctrl-C cancels cleanly.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import threading
import time
from dataclasses import dataclass, field

import highspy
import numpy as np
import scipy.sparse as sp
from pyomo.core import Constraint, Objective, Var

from cipopt.bulk import no_cyclic_gc
from cipopt.errors import SolveInterrupted  # noqa: F401  (raised here; defined in the light module)
from cipopt.model.context import recorded_objective, recorded_rows
from cipopt.solve.status import SolveStatus, map_status

INF = highspy.kHighsInf
WATCHDOG_GRACE = 2.0  # seconds past the time limit before the watchdog cancels the solve
STOP_GRACE = 3.0  # seconds a cancelled solve gets to stop before it is abandoned (HiGHS not polling)


HIGHS_VERSION = f"{highspy.HIGHS_VERSION_MAJOR}.{highspy.HIGHS_VERSION_MINOR}.{highspy.HIGHS_VERSION_PATCH}"


@contextlib.contextmanager
def _quiet_stdout():
    """HiGHS prints a banner from C++ when the first `Highs` is made; keep it off our output."""
    try:
        sys.stdout.flush()
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # captured stdout (tests): nothing to silence
        yield
        return
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), fd)
            yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


def new_highs(verbose: bool = False) -> highspy.Highs:
    if verbose:
        h = highspy.Highs()
    else:
        with _quiet_stdout():
            h = highspy.Highs()
    h.setOptionValue("output_flag", bool(verbose))
    return h


@dataclass
class StandardForm:
    """A model as arrays, with the Pyomo components behind each column and row."""

    col_cost: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    integrality: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    matrix: sp.csc_array
    offset: float
    maximize: bool
    columns: list  # pyomo VarData per column
    rows: list  # (pyomo ConstraintData, sense) per row: sense -1 >=, 0 ==, 1 <=
    column_of: dict[int, int] = field(default_factory=dict)  # id(VarData) -> column

    def columns_for(self, variables: list) -> np.ndarray:
        """Column of each variable, -1 for a variable that appears nowhere (its value is free: 0)."""
        get = self.column_of.get
        return np.fromiter((get(id(v), -1) for v in variables), dtype=np.int64, count=len(variables))


def compile_model(model) -> StandardForm:
    """The model as arrays for HiGHS: assembled from the rows the families recorded, when they
    recorded every row (cipopt.model.context.add_rows), else by Pyomo's compiler.

    Both give the same StandardForm, array for array and in the same order (tests hold this):
    the assembly only skips walking a million expression terms a second time (the compiler
    takes about 1 us a term and as much memory again as the terms).
    """
    with no_cyclic_gc():  # an object per term (see cipopt.bulk)
        form = assemble_recorded(model)
    return form if form is not None else compile_with_pyomo(model)  # which pauses the collector itself


def compile_with_pyomo(model) -> StandardForm:
    """Pyomo's LinearStandardFormCompiler (mixed form), for any linear Pyomo model.

    Imported here: the families record their rows (compile_model), so a solve seldom needs it,
    and its import (with pyomo.network) costs about 0.02 s of every start."""
    from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

    with no_cyclic_gc():  # the compiler makes an object per term too (see cipopt.bulk)
        info = LinearStandardFormCompiler().write(model, mixed_form=True, set_sense=None)
    columns = info.columns
    n = len(columns)
    lower, upper, integer = _column_bounds(columns)
    rhs = np.asarray(info.rhs, dtype=float)
    sense = np.fromiter((s for _, s in info.rows), dtype=np.int8, count=len(info.rows))
    row_lower = np.where(sense <= 0, rhs, -INF)
    row_upper = np.where(sense >= 0, rhs, INF)
    objective = info.objectives[0]
    cost = info.c.toarray()[0] if info.c.shape[0] else np.zeros(n)
    offset = float(info.c_offset[0]) if len(info.c_offset) else 0.0
    return StandardForm(
        col_cost=np.asarray(cost, dtype=float),
        col_lower=lower, col_upper=upper, integrality=integer,
        row_lower=row_lower, row_upper=row_upper,
        matrix=sp.csc_array(info.A) if n else sp.csc_array((len(rhs), 0)),
        offset=offset,
        maximize=not objective.is_minimizing(),
        columns=columns, rows=list(info.rows),
        column_of={id(v): j for j, v in enumerate(columns)},
    )


def _column_bounds(columns: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(columns)
    lower = np.empty(n)
    upper = np.empty(n)
    integer = np.zeros(n, dtype=np.int32)
    for j, var in enumerate(columns):
        lb, ub = var.bounds
        lower[j] = -INF if lb is None else lb
        upper[j] = INF if ub is None else ub
        if var.is_integer():
            integer[j] = 1
    return lower, upper, integer


def assemble_recorded(model) -> StandardForm | None:
    """The standard form from the recorded row blocks and objective, in the order Pyomo's
    compiler gives: rows by component then index, columns by variable component in order of
    first use (the objective first), every index of a component, unused columns dropped.
    None when the model has rows or an objective that were not recorded (then use the compiler).
    """
    blocks = recorded_rows(model)
    objective = recorded_objective(model)
    constraints = list(model.component_objects(Constraint, active=True, descend_into=True))
    objectives = list(model.component_objects(Objective, active=True, descend_into=True))
    if (objective is None or [o.name for o in objectives] != [objective.name]
            or [c.name for c in constraints] != [b.name for b in blocks]
            or any(len(c) != len(b.keys) or not all(d.active for d in c.values()) for c, b in zip(constraints, blocks))
            or any(v.fixed for comp in model.component_objects(Var, descend_into=True) for v in comp.values())):
        return None
    pair_vars = model.pair_vars
    n_pairs = len(pair_vars)
    # columns: every variable component, in order of first use (objective, then rows)
    order, seen = [], set()

    def use(var) -> None:
        comp = var.parent_component()
        if id(comp) not in seen:
            seen.add(id(comp))
            order.append(comp)

    start_comp = pair_vars[0].parent_component() if n_pairs else None
    if np.any(objective.pair_costs != 0):
        use(pair_vars[0])
    for var in objective.extra_vars:  # in the expression even at coefficient 0
        use(var)
    for b in blocks:  # each row's start terms come before its other terms
        with_pairs = np.flatnonzero(np.diff(b.matrix.indptr) > 0)
        first_pair_row = with_pairs[0] if len(with_pairs) else len(b.keys)
        for r, var in zip(b.extra_rows.tolist(), b.extra_vars):
            if r >= first_pair_row:
                break
            use(var)
        if len(with_pairs):
            use(pair_vars[0])
        for var in b.extra_vars:
            use(var)
    # global column numbers: the start variables first, then the other variables in order of use
    others = {}
    for comp in order:
        if comp is not start_comp:
            for var in comp.values():
                others.setdefault(id(var), (n_pairs + len(others), var))
    n_all = n_pairs + len(others)

    def column(var) -> int:
        return others[id(var)][0]

    row_parts, col_parts, val_parts, lower, upper, rows = [], [], [], [], [], []
    first = 0
    for comp, b in zip(constraints, blocks):
        coo = b.matrix.tocoo()
        row_parts += [coo.row.astype(np.int64) + first, b.extra_rows + first]
        col_parts += [coo.col.astype(np.int64), np.array([column(v) for v in b.extra_vars], dtype=np.int64)]
        val_parts += [coo.data, b.extra_coefs]
        lower.append(b.lower)
        upper.append(b.upper)
        sense = np.where(b.lower == b.upper, 0, np.where(np.isfinite(b.lower), -1, 1))
        rows += [(comp[k], int(s)) for k, s in zip(b.keys, sense)]
        first += len(b.keys)
    n_rows = first
    a = sp.csc_array((np.concatenate(val_parts) if val_parts else np.zeros(0),
                      (np.concatenate(row_parts) if row_parts else np.zeros(0, np.int64),
                       np.concatenate(col_parts) if col_parts else np.zeros(0, np.int64))),
                     shape=(n_rows, n_all))
    a.sum_duplicates()
    a.eliminate_zeros()
    cost = np.zeros(n_all)
    cost[:n_pairs] = objective.pair_costs
    for var, c in zip(objective.extra_vars, objective.extra_coefs):
        cost[column(var)] += c
    # the compiler's column order: components in order of first use, each in its index order
    position = []
    for comp in order:
        position.append(np.arange(n_pairs) if comp is start_comp
                        else np.array([column(v) for v in comp.values()], dtype=np.int64))
    position = np.concatenate(position) if position else np.zeros(0, dtype=np.int64)
    used = (np.diff(a.indptr)[position] > 0) | (cost[position] != 0)
    position = position[used]
    a = sp.csc_array(a[:, position])
    all_vars = list(pair_vars) + [v for _, v in others.values()]
    columns = [all_vars[j] for j in position.tolist()]
    col_lower, col_upper, integer = _column_bounds(columns)
    row_lower = np.concatenate(lower) if lower else np.zeros(0)
    row_upper = np.concatenate(upper) if upper else np.zeros(0)
    row_lower = np.where(np.isfinite(row_lower), row_lower, -INF)
    row_upper = np.where(np.isfinite(row_upper), row_upper, INF)
    return StandardForm(
        col_cost=cost[position], col_lower=col_lower, col_upper=col_upper, integrality=integer,
        row_lower=row_lower, row_upper=row_upper,
        matrix=a if len(columns) else sp.csc_array((n_rows, 0)),
        offset=0.0, maximize=objective.maximize, columns=columns, rows=rows,
        column_of={id(v): j for j, v in enumerate(columns)},
    )


@dataclass
class RawSolution:
    status: SolveStatus
    model_status: str
    objective: float | None
    dual_bound: float | None
    mip_gap: float | None
    x: np.ndarray | None
    seconds: float
    stopped_by_watchdog: bool = False
    best_bound: float | None = None  # HiGHS's best bound, even with no plan of its own
    abandoned: bool = False  # HiGHS did not stop when cancelled; its thread was left to finish


class HighsSession:
    """One compiled model loaded into HiGHS, solved and re-solved in place."""

    def __init__(self, form: StandardForm, *, verbose: bool = False):
        self.form = form
        self.highs = new_highs(verbose)
        self.highs.HandleUserInterrupt = True  # lets cancelSolve stop simplex, IPM and MIP
        self._threads_set = False
        self.abandoned = False  # a solve that would not stop is still running: no more use of HiGHS
        a = form.matrix
        status = self.highs.passModel(
            a.shape[1], a.shape[0], a.nnz, 1,  # 1 = column-wise
            -1 if form.maximize else 1, form.offset,
            form.col_cost, form.col_lower, form.col_upper, form.row_lower, form.row_upper,
            a.indptr.astype(np.int32), a.indices.astype(np.int32), a.data.astype(float),
            form.integrality,
        )
        if status == highspy.HighsStatus.kError:
            raise RuntimeError("HiGHS refused the model")

    @property
    def version(self) -> str:
        return HIGHS_VERSION

    def set_start(self, columns: np.ndarray, values: np.ndarray) -> None:
        """A MIP start (a known plan), which HiGHS completes and uses as a first incumbent."""
        keep = columns >= 0
        self.highs.setSolution(int(keep.sum()), columns[keep].astype(np.int32), values[keep].astype(float))

    def set_column_bounds(self, columns: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        keep = columns >= 0
        self.highs.changeColsBounds(int(keep.sum()), columns[keep].astype(np.int32),
                                    lower[keep].astype(float), upper[keep].astype(float))

    def set_row_bounds(self, rows: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        if len(rows):
            self.highs.changeRowsBounds(len(rows), rows.astype(np.int32), lower.astype(float), upper.astype(float))

    def set_costs(self, columns: np.ndarray, costs: np.ndarray) -> None:
        if len(columns):
            self.highs.changeColsCost(len(columns), columns.astype(np.int32), costs.astype(float))

    def add_rows(self, rows: list[tuple[float, float, np.ndarray, np.ndarray]]) -> np.ndarray:
        """Append rows (lower, upper, columns, values); returns their indices, for `delete_rows`."""
        first = self.highs.getNumRow()
        for lower, upper, columns, values in rows:
            self.highs.addRow(float(lower), float(upper), len(columns), columns.astype(np.int32), values.astype(float))
        return np.arange(first, first + len(rows), dtype=np.int32)

    def delete_rows(self, indices: np.ndarray) -> None:
        if len(indices):
            self.highs.deleteRows(len(indices), indices.astype(np.int32))

    def apply(self, new, old) -> None:
        """Move the loaded model from bounds/costs `old` to `new`, changing only what differs."""
        cols = np.flatnonzero((new.col_lower != old.col_lower) | (new.col_upper != old.col_upper))
        self.set_column_bounds(cols, new.col_lower[cols], new.col_upper[cols])
        rows = np.flatnonzero((new.row_lower != old.row_lower) | (new.row_upper != old.row_upper))
        self.set_row_bounds(rows, new.row_lower[rows], new.row_upper[rows])
        costs = np.flatnonzero(new.col_cost != old.col_cost)
        self.set_costs(costs, new.col_cost[costs])

    def solve(self, *, time_limit: float | None, mip_gap: float, threads: int | None = None,
              seed: int = 0, grace: float = WATCHDOG_GRACE) -> RawSolution:
        """Solve; `grace` seconds past `time_limit` the watchdog cancels, STOP_GRACE later it abandons."""
        h = self.highs
        h.setOptionValue("mip_rel_gap", float(mip_gap))
        h.setOptionValue("random_seed", int(seed))
        h.setOptionValue("time_limit", float(time_limit) if time_limit else INF)
        if threads and not self._threads_set:
            h.setOptionValue("threads", int(threads))
            self._threads_set = True
        if self.abandoned:
            raise RuntimeError("HiGHS is still running an abandoned solve")
        started = time.perf_counter()
        watchdog_fired = threading.Event()
        thread = h.startSolve()
        try:
            while True:
                done, _ = h.wait(0.05)
                if done:
                    break
                overrun = time.perf_counter() - started - (time_limit or 0.0) - grace
                if time_limit and overrun > 0:
                    watchdog_fired.set()
                    h.cancelSolve()
                if time_limit and overrun > STOP_GRACE:  # HiGHS is not polling: leave its (daemon) thread
                    self.abandoned = True
                    with contextlib.suppress(OSError, AttributeError, TypeError):  # Linux: a thread is a task
                        os.setpriority(os.PRIO_PROCESS, thread.native_id, 19)  # let the check and write run first
                    return RawSolution(SolveStatus.TIME_LIMIT_NO_SOLUTION, "not stopped when cancelled",
                                       None, None, None, None, time.perf_counter() - started, True,
                                       abandoned=True)
        except KeyboardInterrupt:
            h.cancelSolve()
            while not h.wait(0.05)[0]:
                pass
            raise SolveInterrupted() from None
        finally:
            if not self.abandoned:
                thread.join(timeout=5)
        seconds = time.perf_counter() - started
        return self._read_solution(seconds, watchdog_fired.is_set())

    def _read_solution(self, seconds: float, watchdog: bool) -> RawSolution:
        h = self.highs
        model_status = h.getModelStatus()
        info = h.getInfo()
        empty = model_status == highspy.HighsModelStatus.kModelEmpty
        if empty:  # no columns: the rows hold only if every bound admits 0
            lp = h.getLp()
            lower, upper = np.asarray(lp.row_lower_), np.asarray(lp.row_upper_)
            empty_ok = bool(np.all(lower <= 1e-9) and np.all(upper >= -1e-9))
            has_incumbent = empty_ok
            status = SolveStatus.OPTIMAL if empty_ok else SolveStatus.INFEASIBLE
        else:
            has_incumbent = info.primal_solution_status == highspy.kSolutionStatusFeasible
            status = map_status(model_status, has_incumbent)
        if watchdog and status == SolveStatus.OPTIMAL:
            status = SolveStatus.FEASIBLE
        x = None
        objective = dual = gap = None
        if has_incumbent and status.has_plan:
            x = np.asarray(h.getSolution().col_value, dtype=float)
            objective = float(info.objective_function_value) if not empty else self.form.offset
            dual = _finite(getattr(info, "mip_dual_bound", None))
            gap = _finite(getattr(info, "mip_gap", None))
            if status == SolveStatus.OPTIMAL and (gap is None or not self.form.integrality.any()):
                gap, dual = 0.0, objective
        best = None if empty else _finite(getattr(info, "mip_dual_bound", None))
        if best is None and status == SolveStatus.OPTIMAL:
            best = objective
        return RawSolution(status, h.modelStatusToString(model_status), objective, dual, gap, x,
                           seconds, watchdog, best_bound=best)


def _finite(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) and abs(value) < INF else None
