"""Solves that back a sentence: the most (or least) a rule's rows can be while the others hold.

A board is told "at most 5,995 can be achieved in 2025" or "easing capital in 2026 to 3,420 is
the first step that changes the plan" only when a solve proved it. These solves run on a copy of
the loaded HiGHS model (the session itself is left as it was): the rule's rows are freed, a new
column t stands for their bound (every row at least t for a `>=` rule, at most t for a `<=`
rule) and t alone is maximised (or minimised), optionally among plans whose objective is at least
a floor. The MIP's dual bound is a proof even when the time limit stops it first.
"""

from __future__ import annotations

from dataclasses import dataclass

import highspy
import numpy as np

from cipopt.solve.highs import INF, new_highs

PROBE_GAP = 0.0
PROBE_TOL = 1e-9


@dataclass(frozen=True)
class Probe:
    """What the solve proved about t. `status`: optimal, infeasible (no plan keeps the other rules,
    with the floor if any), unbounded, time_limit or HiGHS's word for another stop (t and the
    bound as far as the solve got)."""

    status: str
    value: float | None  # t at the best plan found (None: no plan)
    bound: float | None  # proved: t can be no better than this (the dual bound)
    x: np.ndarray | None = None  # that plan's columns (without t)


def probe_rows(highs: highspy.Highs, matrix_rows, rows: list[int], sense: str, *,
               objective_floor: float | None = None, time_limit: float | None = None,
               threads: int | None = None, shift_from: list[float] | None = None,
               set_aside: list[int] = ()) -> Probe:
    """Best t with rows[i]·x >= t (sense '>=', t maximised) or <= t ('<=', t minimised), every
    other row of the loaded model kept, and (if given) the objective at least `objective_floor`.
    With `shift_from` (the rows' bounds b_i), t is instead the least easing of every row at once:
    rows[i]·x <= b_i + t ('<=') or >= b_i - t ('>='), t minimised.

    Rows in `set_aside` are dropped for this solve. `matrix_rows` is the constraint matrix in CSR form."""
    model = highs.getModel()
    lp = highs.getLp()
    n = lp.num_col_
    costs = np.asarray(lp.col_cost_, dtype=float)
    offset = float(lp.offset_)
    maximize = lp.sense_ == highspy.ObjSense.kMaximize
    h = new_highs()
    h.passModel(model)
    h.setOptionValue("mip_rel_gap", PROBE_GAP)
    h.setOptionValue("mip_abs_gap", 1e-9)
    # a binary at 1e-7 (within HiGHS's default integrality tolerance) can fake a better plan by
    # more than the objective floor's margin: be strict
    h.setOptionValue("mip_feasibility_tolerance", PROBE_TOL)
    h.setOptionValue("time_limit", float(time_limit) if time_limit else INF)
    # `threads` is not set: HiGHS fixes its thread pool once per process, and a second, different
    # setting makes the run fail; the probe takes the pool the process has
    rows = list(rows)
    freed = rows + [j for j in set_aside if j not in rows]
    h.changeRowsBounds(len(freed), np.array(freed, dtype=np.int32), np.full(len(freed), -INF), np.full(len(freed), INF))
    if objective_floor is not None:
        keep = np.flatnonzero(costs != 0)
        sign = 1.0 if maximize else -1.0
        h.addRow(sign * (objective_floor - offset), INF, len(keep), keep.astype(np.int32), sign * costs[keep])
    h.changeColsCost(n, np.arange(n, dtype=np.int32), np.zeros(n))
    h.changeObjectiveOffset(0.0)
    h.addCol(1.0, -INF, INF, 0, np.zeros(0, dtype=np.int32), np.zeros(0))
    t = n
    for k, j in enumerate(rows):
        lo, hi = matrix_rows.indptr[j], matrix_rows.indptr[j + 1]
        base = 0.0 if shift_from is None else float(shift_from[k])
        t_coefficient = 1.0 if shift_from is not None and sense == ">=" else -1.0
        cols = np.append(matrix_rows.indices[lo:hi], t).astype(np.int32)
        vals = np.append(matrix_rows.data[lo:hi], t_coefficient).astype(float)
        if sense == ">=":
            h.addRow(base, INF, len(cols), cols, vals)
        else:
            h.addRow(-INF, base, len(cols), cols, vals)
    maximise = sense == ">=" and shift_from is None
    h.changeObjectiveSense(highspy.ObjSense.kMaximize if maximise else highspy.ObjSense.kMinimize)
    h.run()
    status = h.getModelStatus()
    info = h.getInfo()
    if status == highspy.HighsModelStatus.kInfeasible:
        return Probe("infeasible", None, None)
    if status in (highspy.HighsModelStatus.kUnbounded, highspy.HighsModelStatus.kUnboundedOrInfeasible):
        return Probe("unbounded", None, None)
    has_plan = info.primal_solution_status == highspy.kSolutionStatusFeasible
    x = np.asarray(h.getSolution().col_value, dtype=float) if has_plan else None
    value = float(x[t]) if x is not None else None
    if status == highspy.HighsModelStatus.kOptimal:
        return Probe("optimal", value, value, x[:n])
    dual = getattr(info, "mip_dual_bound", None)
    bound = float(dual) if dual is not None and np.isfinite(dual) and abs(dual) < INF else None
    stopped = "time_limit" if status == highspy.HighsModelStatus.kTimeLimit else h.modelStatusToString(status)
    return Probe(stopped, value, bound, None if x is None else x[:n])
