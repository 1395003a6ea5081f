"""Why no plan exists, in words: an elastic re-solve of the loaded model.

HiGHS's `feasibilityRelaxation` re-solves the MIP with penalised slacks on chosen rows. We allow
only the rules a board can change to bend: hard targets, limits, quality floors and mandatory
selections; start-once rows, relations and the binaries' bounds stay hard. Each slack is priced
per unit of its row's own bound (a limit of 4,000 missed by 400 costs as much as a floor of -3
missed by 0.3), and dropping a mandatory scheme (a decision, not a number) costs as much as
missing a rule ten times over, so the smallest relative change that makes a plan possible is what
is reported, with the schemes that drive each rule in the year concerned.
"""

from __future__ import annotations

import highspy
import numpy as np

from cipopt.coefficients import Coefficients
from cipopt.model.context import fmt
from cipopt.schema.instance import Instance
from cipopt.solve.highs import HighsSession

RELAXABLE = ("c_target_recurrent", "c_target_in_year", "c_target_full_year_effect", "c_limit", "c_quality_floor",
             "c_mandatory", "c_fair_share")
VIOLATION_TOL = 1e-6
MANDATORY_PENALTY = 10.0
RISK_RELAXABLE = ("c_cvar_max", "c_chance_count")
RISK_PENALTY = 0.01


def _names(ids: list[str], limit: int = 6) -> str:
    ids = sorted(ids)
    if len(ids) > limit:
        return ", ".join(ids[:limit]) + f" and {len(ids) - limit} more"
    if len(ids) > 1:
        return ", ".join(ids[:-1]) + " and " + ids[-1]
    return ids[0] if ids else "no scheme"


def diagnose(session: HighsSession, instance: Instance, coef: Coefficients, pair_columns: np.ndarray) -> list[str]:
    """Sentences naming the rules that cannot hold together, and by how much."""
    form = session.form
    h = session.highs
    lp = h.getLp()
    row_lower = np.asarray(lp.row_lower_)
    row_upper = np.asarray(lp.row_upper_)
    penalties = np.full(len(form.rows), -1.0)  # -1: this row may not be relaxed
    by_row = form.matrix.tocsr()  # the rows' terms: fair-share prices here, the words below
    for j, (con, _) in enumerate(form.rows):
        name = con.parent_component().name
        if name == "c_mandatory":
            penalties[j] = MANDATORY_PENALTY
        elif name == "c_fair_share":  # bound 0: priced per unit of the row's own scale instead
            lo, hi = by_row.indptr[j], by_row.indptr[j + 1]
            penalties[j] = 1.0 / max(1.0, float(np.abs(by_row.data[lo:hi]).sum()))
        elif name in RELAXABLE or name in RISK_RELAXABLE:
            bound = row_lower[j] if np.isfinite(row_lower[j]) else row_upper[j]
            # docs/risk.md: the risk rule bends first, being the one asked for
            price = RISK_PENALTY if name in RISK_RELAXABLE else 1.0
            penalties[j] = price / max(1.0, abs(bound))
    no_bounds = np.full(len(form.columns), -1.0)
    # feasibilityRelaxation runs in this thread holding Python's GIL; a HiGHS worker thread that
    # fires highspy's callback (a sub-MIP heuristic does) would wait for the GIL for ever.
    h.disableCallbacks()
    try:
        status = h.feasibilityRelaxation(1.0, 1.0, 1.0, no_bounds, no_bounds, penalties)
    finally:
        h.enableCallbacks()
    solution = h.getSolution()
    if status == highspy.HighsStatus.kError or not solution.value_valid:
        # no relaxed plan: the fixed structure alone is impossible
        return ["even with every target, limit, quality floor and mandatory selection relaxed no plan "
                "exists: the relations and start windows cannot hold together"]
    x = np.asarray(solution.col_value)
    activity = np.asarray(solution.row_value)
    column_scheme = np.full(len(form.columns), -1)
    present = pair_columns >= 0
    column_scheme[pair_columns[present]] = coef.pair_scheme[present]
    mandatory = {s.id for s in instance.schemes if s.mandatory}
    limits = {lim.id: lim for lim in instance.limits}
    targets = {t.id: t for t in instance.targets}

    def drivers(j: int) -> list[str]:
        lo, hi = by_row.indptr[j], by_row.indptr[j + 1]
        cols = by_row.indices[lo:hi]
        values = by_row.data[lo:hi]
        used = [(c, v) for c, v in zip(cols, values) if x[c] > 0.5 and column_scheme[c] >= 0 and v != 0]
        return [coef.scheme_ids[column_scheme[c]] for c, _ in used]

    sentences = []
    for j, (con, _) in enumerate(form.rows):
        if penalties[j] < 0:
            continue
        low = row_lower[j] - activity[j] if np.isfinite(row_lower[j]) else 0.0
        high = activity[j] - row_upper[j] if np.isfinite(row_upper[j]) else 0.0
        tol = VIOLATION_TOL * max(1.0, abs(row_lower[j]) if np.isfinite(row_lower[j]) else abs(row_upper[j]))
        if max(low, high) <= tol:
            continue
        name, index = con.parent_component().name, con.index()
        if name == "c_mandatory":
            sentences.append(f"mandatory scheme {index} cannot run together with the other rules")
        elif name == "c_limit":
            lid, year = index
            lim = limits[lid]
            who = drivers(j)
            forced = [s for s in who if s in mandatory]
            if high > 0:
                subject = (f"mandatory scheme{'s' if len(forced) > 1 else ''} {_names(forced)}"
                           if forced and len(forced) == len(who) else f"the smallest workable plan ({_names(who)})")
                sentences.append(
                    f"{subject} need{'s' if len(who) == 1 and forced else ''} {fmt(activity[j])} of {lim.metric} "
                    f"in {year}; the {lid} limit is {lim.sense} {fmt(row_upper[j])}")
            else:
                sentences.append(
                    f"at most {fmt(activity[j])} of {lim.metric} can be reached in {year} together with the other "
                    f"rules; the {lid} limit asks for {lim.sense} {fmt(row_lower[j])}")
        elif name in ("c_target_recurrent", "c_target_in_year", "c_target_full_year_effect"):
            tid, year = index
            t = targets[tid]
            basis = {"recurrent": "recurrent", "full_year_effect": "full-year-effect"}.get(t.basis, "in-year")
            sentences.append(
                f"hard target {tid} needs {fmt(row_lower[j])} of {basis} net saving in {year}; at most "
                f"{fmt(activity[j])} can be achieved together with the other rules")
        elif name == "c_fair_share":
            rule = next(r for r in instance.fair_shares if r.id == index)
            who = rule.org if rule.org is not None else f"sector {rule.sector}"
            sentences.append(
                f"fair share {index}: {who} cannot get {rule.min_share:.0%} of {rule.metric} while keeping the "
                f"other rules (short by {fmt(-activity[j])})")
        elif name == "c_quality_floor":
            domain, year = index
            sentences.append(
                f"the {domain} quality floor in {year} is {fmt(row_lower[j])}; the plan cannot keep the "
                f"portfolio's {domain} score above {fmt(activity[j])} while keeping the other rules "
                f"(schemes counted: {_names(drivers(j))})")
        elif name == "c_cvar_max":
            o = instance.objective
            sentences.append(
                f"the CVaR at alpha {o.alpha:g} of the shortfall cannot be brought below {fmt(activity[j])} "
                f"over the {o.draws:,} scenarios together with the other rules; cvar_max is {fmt(row_upper[j])}")
        elif name == "c_chance_count":
            o = instance.objective
            met = o.draws - activity[j]
            sentences.append(
                f"target {o.chance_target} can be met in at most {met:,.0f} of the {o.draws:,} scenarios "
                f"({met / o.draws:.1%}) together with the other rules; chance_probability asks for "
                f"{o.chance_probability:.1%}")
    return sentences or ["no plan keeps every rule, and no single rule could be named"]
