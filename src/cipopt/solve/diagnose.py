"""Why no plan exists, in words: an elastic re-solve of the loaded model, and proofs.

An elastic re-solve with penalised slacks on chosen rows. We allow only the rules a board can
change to bend: hard targets, limits, quality floors, fair shares, mandatory selections and the
risk rule; start-once rows, relations and the binaries' bounds stay hard. Each constraint family
states its rows' price (cipopt.model.family): per unit of the row's own bound (a limit of 4,000
missed by 400 costs as much as a floor of -3 missed by 0.3), and dropping a mandatory scheme (a
decision, not a number) costs as much as missing a rule ten times over, so the smallest relative
change that makes a plan possible is what is reported: which rules it bent and by how much, in
the family's words.

The relaxed plan shows only one way out; it does not show how far a rule can be met. So every
"at most X can be achieved" is backed by a solve that maximises that rule's measure alone, every
other rule kept (`cipopt.solve.probe`; its dual bound is the proof), or is not said. A diagnosis
stopped by its time limit says so and names no cause (docs/figures.md).
"""

from __future__ import annotations

import time

import highspy
import numpy as np

from cipopt.coefficients import Coefficients
from cipopt.model.build import FAMILY_OF_ROW
from cipopt.model.family import Proof
from cipopt.schema.instance import Instance
from cipopt.solve.highs import INF, HighsSession, new_highs
from cipopt.solve.probe import probe_rows

VIOLATION_TOL = 1e-6
RELAX_GAP = 1e-6
MAX_PROOFS = 20  # rules whose bound is proved by its own solve; the rest are only named


def _row(form, j: int) -> tuple[str, object]:
    con = form.rows[j][0]
    return con.parent_component().name, con.index()


def diagnose(session: HighsSession, instance: Instance, coef: Coefficients, pair_columns: np.ndarray,
             time_limit: float | None = None) -> list[str]:
    """Sentences naming the rules a relaxation bent, by how much, and what solves proved of each."""
    started = time.perf_counter()
    form = session.form
    h = session.highs
    lp = h.getLp()
    row_lower = np.asarray(lp.row_lower_)
    row_upper = np.asarray(lp.row_upper_)
    penalties = np.full(len(form.rows), -1.0)  # -1: this row may not be relaxed
    by_row = form.matrix.tocsr()  # the rows' terms: fair-share prices here, the words below
    for j, (con, _) in enumerate(form.rows):
        name = con.parent_component().name
        bound = row_lower[j] if np.isfinite(row_lower[j]) else row_upper[j]
        lo, hi = by_row.indptr[j], by_row.indptr[j + 1]
        price = FAMILY_OF_ROW[name].price(name, float(bound), float(np.abs(by_row.data[lo:hi]).sum()))
        if price is not None:
            penalties[j] = price
    state, x = _relax(h, by_row, penalties, row_lower, row_upper, time_limit)
    if state == "infeasible":  # proved: even with every relaxable rule bent no plan exists
        return ["even with every target, limit, quality floor and mandatory selection relaxed no plan "
                "exists: the relations and start windows cannot hold together"]
    if x is None:
        return [f"the diagnosis stopped ({state}) before it found which rules to relax; no cause is named "
                "(a longer --time-limit may find one)"]
    proved_smallest = state == "optimal"
    activity = by_row @ x
    column_scheme = np.full(len(form.columns), -1)
    present = pair_columns >= 0
    column_scheme[pair_columns[present]] = coef.pair_scheme[present]
    mandatory = frozenset(s.id for s in instance.schemes if s.mandatory)

    def drivers(j: int, plan: np.ndarray) -> list[str]:
        lo, hi = by_row.indptr[j], by_row.indptr[j + 1]
        cols = by_row.indices[lo:hi]
        values = by_row.data[lo:hi]
        used = [(c, v) for c, v in zip(cols, values) if plan[c] > 0.5 and column_scheme[c] >= 0 and v != 0]
        return [coef.scheme_ids[column_scheme[c]] for c, _ in used]

    bent = []  # (row, the side it missed: ">=" below its lower bound, "<=" above its upper bound, amount)
    for j in range(len(form.rows)):
        if penalties[j] < 0:
            continue
        low = row_lower[j] - activity[j] if np.isfinite(row_lower[j]) else 0.0
        high = activity[j] - row_upper[j] if np.isfinite(row_upper[j]) else 0.0
        tol = VIOLATION_TOL * max(1.0, abs(row_lower[j]) if np.isfinite(row_lower[j]) else abs(row_upper[j]))
        if max(low, high) > tol:
            bent.append((j, ">=" if low >= high else "<=", max(low, high)))
    if not bent:
        return ["no plan keeps every rule, and no single rule could be named"]

    def label(j: int, amount: float) -> str:
        name, index = _row(form, j)
        return FAMILY_OF_ROW[name].words(name, index, instance, amount)

    which = "the smallest relaxation" if proved_smallest else "a relaxation (the search stopped early: a smaller one may exist)"
    sentences = [f"{which} found, each rule's change measured against its own size, bends "
                 + "; ".join(label(j, amount) for j, _, amount in bent)]
    for k, (j, side, _) in enumerate(bent):
        left = None if time_limit is None else time_limit - (time.perf_counter() - started)
        if k >= MAX_PROOFS or (left is not None and left <= 0):
            sentences.append(f"{len(bent) - k} more rule(s) named above were not examined one by one "
                             "(time or count limit): no bound is claimed for them")
            break
        probe = probe_rows(h, by_row, [j], side, time_limit=left)
        words = _proved(j, side, probe, form, instance, mandatory, row_lower, row_upper,
                        lambda plan, j=j: drivers(j, plan))
        if words:
            sentences.append(words)
        others = [i for i, _, _ in bent if i != j]
        if probe.status == "infeasible" and others:  # then: how far it reaches with the others set aside
            left = None if time_limit is None else time_limit - (time.perf_counter() - started)
            if left is None or left > 0:
                apart = probe_rows(h, by_row, [j], side, time_limit=left, set_aside=others)
                words = _proved(j, side, apart, form, instance, mandatory, row_lower, row_upper,
                                lambda plan, j=j: drivers(j, plan))
                if words and apart.status != "infeasible":
                    sentences.append(words.replace("together with the other rules",
                                                   "even with the other rules the relaxation bent set aside"))
    return sentences


def _relax(h: highspy.Highs, by_row, penalties: np.ndarray, row_lower: np.ndarray, row_upper: np.ndarray,
           time_limit: float | None) -> tuple[str, np.ndarray | None]:
    """The elastic re-solve, on a copy of the loaded model: every relaxable row gets a priced slack on
    each bounded side and the priced total is minimised. Our own solve, so its status is known:
    'optimal' (the smallest relaxation, within a gap of 1e-6), 'infeasible' (none exists), or why it
    stopped. Returns the status and the plan's columns (None: no relaxed plan found)."""
    lp = h.getLp()
    n = lp.num_col_
    r = new_highs()
    r.passModel(h.getModel())
    r.changeColsCost(n, np.arange(n, dtype=np.int32), np.zeros(n))
    r.changeObjectiveOffset(0.0)
    r.changeObjectiveSense(highspy.ObjSense.kMinimize)
    for j in np.flatnonzero(penalties >= 0):
        for sign, bounded in ((1.0, np.isfinite(row_lower[j])), (-1.0, np.isfinite(row_upper[j]))):
            if bounded:
                r.addCol(float(penalties[j]), 0.0, INF, 1, np.array([j], dtype=np.int32), np.array([sign]))
    r.setOptionValue("mip_rel_gap", RELAX_GAP)
    r.setOptionValue("time_limit", float(time_limit) if time_limit else INF)
    r.run()
    status = r.getModelStatus()
    if status == highspy.HighsModelStatus.kInfeasible:
        return "infeasible", None
    has_plan = r.getInfo().primal_solution_status == highspy.kSolutionStatusFeasible
    x = np.asarray(r.getSolution().col_value, dtype=float)[:n] if has_plan else None
    return ("optimal" if status == highspy.HighsModelStatus.kOptimal else r.modelStatusToString(status)), x


def _proved(j, side, probe, form, instance, mandatory, row_lower, row_upper, drivers) -> str | None:
    """The sentence a solve optimising row j alone proved (its dual bound), in its family's words, or None."""
    name, index = _row(form, j)
    family = FAMILY_OF_ROW[name]
    if probe.status == "infeasible":
        return (f"{family.words(name, index, instance)} is not the only cause: even without it the other rules "
                "cannot all hold")
    bound = probe.bound
    if bound is None:
        return None
    required = row_lower[j] if side == ">=" else row_upper[j]
    tol = VIOLATION_TOL * max(1.0, abs(required))
    if (side == ">=" and bound >= required - tol) or (side == "<=" and bound <= required + tol):
        return None  # the solve could not prove the rule out of reach
    proof = Proof(side=side, bound=float(bound), row_lower=float(row_lower[j]), row_upper=float(row_upper[j]),
                  drivers=drivers, plan=probe.x, mandatory=mandatory)
    return family.proved(name, index, proof, instance)
