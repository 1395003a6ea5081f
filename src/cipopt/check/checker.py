"""The independent plan checker: every rule of instance-format.md, recomputed from the instance.

Read it next to `docs/format.md` and `docs/semantics.md`: one function per rule
family, in the order of the format page. It uses only the validated `Instance` and numpy, never
the model or `cipopt.coefficients`, so that a plan from the optimiser is confirmed by code that
could not share its mistakes. Rule ids and tolerances are documented in docs/checker.md.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
import pandas as pd

from cipopt.check.finance import check_finance, receipts_raising
from cipopt.check.figures import NOT_SELECTED, PlanFigures, metric_name
from cipopt.check.report import CheckReport, Violation, fmt, name_schemes
from cipopt.check.risk import check_risk
from cipopt.schema.instance import BUILTIN_METRICS, Instance
from cipopt.schema.nominal import nominal_weights
from cipopt.schema.rules import RuleRef

# Tolerances, in the unit of the row (money rows: the instance's money unit). See docs/checker.md.
ABS_TOL = 1e-6  # = HiGHS mip_feasibility_tolerance, which bounds the solver's own row violations
REL_TOL = 1e-9  # floating-point rounding of sums of up to ~1e5 terms, relative to their size
ALL = "all"  # the org label of whole-system rows in `years`
Rows = list[tuple[str, str, np.ndarray, np.ndarray, np.ndarray]]  # (org, measure, value, bound, shortfall)
MAX_YEAR = 10**6  # a start beyond this is no year at all (and would overflow the year arithmetic)


def tolerance(bound: np.ndarray | float, magnitude: np.ndarray | float) -> np.ndarray | float:
    """How far a row may miss its bound and still count as kept."""
    return ABS_TOL + REL_TOL * (np.abs(bound) + magnitude)


def check_plan(instance: Instance, plan: dict[str, int | None]) -> CheckReport:
    """Judge a plan (scheme id -> start year, None or absent = not selected) against every rule."""
    violations: list[Violation] = []
    starts = _plan_starts(instance, plan, violations)
    fig = PlanFigures(instance, starts)
    violations += check_windows(instance, fig, starts)
    violations += check_eligibility(instance, fig, starts)
    violations += check_excluded(instance, fig, starts)
    violations += check_mandatory(instance, fig)
    violations += check_relations(instance, fig, starts)
    target_rows, shortfalls, target_violations = check_targets(instance, fig)
    violations += target_violations
    limit_rows, limit_violations = check_limits(instance, fig)
    violations += limit_violations
    quality_rows, quality_violations = check_quality_floor(instance, fig)
    violations += quality_violations
    violations += check_fair_shares(instance, fig)
    objective, penalty = plan_objective(instance, fig, shortfalls)
    finance = check_finance(instance, fig, tolerance)  # docs/finance.md
    violations += finance.violations
    objective += finance.objective - finance.penalty
    penalty += finance.penalty
    risk_violations, risk_figures = check_risk(instance, fig, starts)  # docs/risk.md
    violations += risk_violations
    risk_term = 0.0
    if instance.objective.risk == "cvar" and instance.objective.cvar_penalty:
        risk_term = instance.objective.cvar_penalty * risk_figures["risk_cvar"]
        objective -= risk_term
    years = _years_frame(instance, fig, target_rows + limit_rows + quality_rows + finance.rows)
    notes = []
    if instance.objective.mode == "weighted_score":
        nominal = nominal_weights(instance)
        if nominal and nominal[1] != "the exact weights of instance.yaml":
            notes.append(f"weighted_score counts {nominal[1]}: "
                         + ", ".join(f"{c} {w:.4g}" for c, w in nominal[0].items()))
    return CheckReport(
        violations=violations, objective=objective, years=years,
        objective_mode=instance.objective.mode, risk=instance.objective.risk,
        money_unit=instance.money_unit, penalty=penalty, selected=int(fig.selected.sum()), notes=notes,
        risk_figures=risk_figures, net_present_value=plan_npv(instance, fig) + finance.npv, risk_penalty=risk_term,
    )


# -- the plan itself ---------------------------------------------------------------------------
def _plan_starts(instance: Instance, plan: dict, violations: list[Violation]) -> np.ndarray:
    """One start year per scheme (NOT_SELECTED if none); names unknown to the instance are broken."""
    known = {s.id for s in instance.schemes}
    for sid in plan:
        if sid not in known:
            violations.append(Violation(
                "unknown_scheme", None, (str(sid),), 1.0,
                f"unknown_scheme: the plan names scheme {sid} which is not in the instance"))
    starts = np.full(len(instance.schemes), NOT_SELECTED, dtype=np.int64)
    for i, s in enumerate(instance.schemes):
        start = plan.get(s.id)
        if start is None:
            continue
        whole = isinstance(start, Integral) and not isinstance(start, bool)
        if not whole and isinstance(start, Real) and not isinstance(start, bool) and math.isfinite(start) \
                and float(start).is_integer():
            whole, start = True, int(start)
        if not whole or abs(int(start)) > MAX_YEAR:
            violations.append(Violation(
                "window", None, (s.id,), 1.0,
                f"window: scheme {s.id} has start year {start!r}, which is not a whole-number year; "
                "it is counted as not selected"))
            continue
        starts[i] = int(start)
    return starts


# -- selection and timing ----------------------------------------------------------------------
def check_windows(instance: Instance, fig: PlanFigures, starts: np.ndarray) -> list[Violation]:
    """Each selected scheme starts within earliest_start..latest_start (defaults: the plan years)."""
    first, last = instance.years[0], instance.years[-1]
    schemes = instance.schemes
    earliest = np.array([first if s.earliest_start is None else s.earliest_start for s in schemes], dtype=np.int64)
    latest = np.array([last if s.latest_start is None else s.latest_start for s in schemes], dtype=np.int64)
    early = np.where(fig.selected, earliest - starts, 0)
    late = np.where(fig.selected, starts - latest, 0)
    out = []
    for i in np.flatnonzero((early > 0) | (late > 0)):
        s = instance.schemes[i]
        by = int(max(early[i], late[i]))
        out.append(Violation(
            "window", int(starts[i]), (s.id,), float(by),
            f"window: scheme {s.id} starts in {starts[i]}, outside its window {earliest[i]}-{latest[i]} "
            f"by {by} year{'s' if by > 1 else ''}"))
    return out


def check_excluded(instance: Instance, fig: PlanFigures, starts: np.ndarray) -> list[Violation]:
    """A scheme marked `excluded` (a decision already taken, or a what-if) may not be selected."""
    return [
        Violation("excluded", int(starts[i]), (s.id,), 1.0,
                  f"excluded: scheme {s.id} is excluded (it may not be selected) but starts in {starts[i]}")
        for i, s in enumerate(instance.schemes) if s.excluded and fig.selected[i]
    ]


def ineligibility_reasons(instance: Instance, scheme) -> list[tuple[str, float]]:
    """semantics.md, Quality impact assessment: why a scheme may not be selected, with the excess."""
    q = instance.quality
    reasons: list[tuple[str, float]] = []
    if q.hard_max_risk is not None and scheme.qia_risk > q.hard_max_risk:
        reasons.append((f"qia_risk {fmt(scheme.qia_risk)} is above hard_max_risk {fmt(q.hard_max_risk)}",
                        scheme.qia_risk - q.hard_max_risk))
    if scheme.qia_approved:
        return reasons
    for domain, minimum in q.scheme_min.items():
        score = scheme.domain_score(domain)  # the schemes.csv score, never a profile
        if score < minimum:
            reasons.append((f"{domain} score {fmt(score)} is below scheme_min {fmt(minimum)} "
                            "and the QIA is not approved", minimum - score))
    if q.max_risk is not None and scheme.qia_risk > q.max_risk:
        reasons.append((f"qia_risk {fmt(scheme.qia_risk)} is above max_risk {fmt(q.max_risk)} "
                        "and the QIA is not approved", scheme.qia_risk - q.max_risk))
    return reasons


def check_eligibility(instance: Instance, fig: PlanFigures, starts: np.ndarray) -> list[Violation]:
    """Selected schemes must be eligible; the mask is vectorised, the words come per offender."""
    q = instance.quality
    risk, approved = fig.column("qia_risk"), fig.column("qia_approved") > 0
    barred = np.zeros(len(instance.schemes), dtype=bool)
    if q.hard_max_risk is not None:
        barred |= risk > q.hard_max_risk
    unless_approved = np.zeros_like(barred)
    for domain, minimum in q.scheme_min.items():
        unless_approved |= fig.score(domain) < minimum
    if q.max_risk is not None:
        unless_approved |= risk > q.max_risk
    barred |= unless_approved & ~approved
    out = []
    for i in np.flatnonzero(fig.selected & barred):
        s = instance.schemes[i]
        reasons = ineligibility_reasons(instance, s)
        out.append(Violation(
            "eligibility", int(starts[i]), (s.id,), float(max(r[1] for r in reasons)),
            f"eligibility: scheme {s.id} is selected (start {starts[i]}) but is ineligible: "
            + "; ".join(r[0] for r in reasons)))
    return out


def check_mandatory(instance: Instance, fig: PlanFigures) -> list[Violation]:
    return [
        Violation("mandatory", None, (s.id,), 1.0, f"mandatory: scheme {s.id} is mandatory but not selected")
        for i, s in enumerate(instance.schemes) if s.mandatory and not fig.selected[i]
    ]


# -- relations ---------------------------------------------------------------------------------
def check_relations(instance: Instance, fig: PlanFigures, starts: np.ndarray) -> list[Violation]:
    """semantics.md, Relations, with x = selected and t = start year."""
    if not instance.relations:
        return []
    a = np.array([fig.index[r.a] for r in instance.relations])
    b = np.array([fig.index[r.b] for r in instance.relations])
    lag = np.array([r.lag for r in instance.relations], dtype=np.int64)
    kind = np.array([r.kind for r in instance.relations])
    xa, xb, ta, tb = fig.selected[a], fig.selected[b], starts[a], starts[b]
    both = xa & xb

    # requires a b lag: x_a <= x_b, and if a is selected t_b <= t_a - lag
    req = kind == "requires"
    req_missing = req & xa & ~xb
    req_late = np.where(req & both, tb - (ta - lag), 0)
    # excludes a b: x_a + x_b <= 1
    exc = (kind == "excludes") & both
    # together a b: x_a = x_b
    tog = (kind == "together") & (xa != xb)
    # precedes a b lag: if both are selected, t_b >= t_a + lag
    pre_early = np.where((kind == "precedes") & both, (ta + lag) - tb, 0)

    out = []
    for i, r in enumerate(instance.relations):
        label = f"relation:{r.kind} {r.a} {r.b}" + (f" (lag {r.lag})" if r.lag else "")
        pair = (r.a, r.b)
        if req_missing[i]:
            out.append(Violation("relation:requires", int(ta[i]), pair, 1.0,
                                 f"{label}: {r.a} is selected (start {ta[i]}) but {r.b} is not"))
        elif req_late[i] > 0:
            out.append(Violation("relation:requires", int(ta[i]), pair, float(req_late[i]),
                                 f"{label}: {r.b} starts in {tb[i]}, {req_late[i]} year(s) too late for {r.a} "
                                 f"starting in {ta[i]} (needs {r.b} by {ta[i] - lag[i]})"))
        elif exc[i]:
            out.append(Violation("relation:excludes", int(max(ta[i], tb[i])), pair, 1.0,
                                 f"{label}: both are selected ({r.a} in {ta[i]}, {r.b} in {tb[i]})"))
        elif tog[i]:
            on, off = (r.a, r.b) if xa[i] else (r.b, r.a)
            out.append(Violation("relation:together", int(ta[i] if xa[i] else tb[i]), pair, 1.0,
                                 f"{label}: {on} is selected but {off} is not; they go together or not at all"))
        elif pre_early[i] > 0:
            out.append(Violation("relation:precedes", int(tb[i]), pair, float(pre_early[i]),
                                 f"{label}: {r.b} starts in {tb[i]}, {pre_early[i]} year(s) too early "
                                 f"(needs {ta[i] + lag[i]} or later, after {r.a} in {ta[i]})"))
    return out


# -- targets, limits, quality floor ------------------------------------------------------------
def _bounds(instance: Instance, values: dict[int, float]) -> np.ndarray:
    """A bound per plan year; NaN where the rule lists no value (no bound that year)."""
    return np.array([values.get(y, np.nan) for y in instance.years], dtype=float)


def check_targets(instance: Instance, fig: PlanFigures) -> tuple[Rows, dict[str, np.ndarray], list[Violation]]:
    """Hard targets must be met; every target's shortfall max(0, value − achieved) is recorded.

    Returns years-frame rows, the shortfall per soft target (for the objective) and violations.
    """
    rows, shortfalls, out = [], {}, []
    for t in instance.targets:
        achieved = fig.net_saving_total(t.basis, t.org)
        bound = _bounds(instance, t.values)
        shortfall = np.where(np.isnan(bound), np.nan, np.maximum(0.0, bound - achieved))
        rows.append((t.org or ALL, RuleRef("target", t.id).measure, achieved, bound, shortfall))
        if not t.hard:
            shortfalls[t.id] = np.nan_to_num(shortfall)
            continue
        tol = tolerance(bound, fig.magnitude(t.basis, t.org))
        who = f" for {t.org}" if t.org else " for the system"
        for y in np.flatnonzero(shortfall > tol):
            out.append(Violation(
                "target_hard", int(fig.years[y]), (), float(shortfall[y]),
                f"target_hard {t.id} in {fig.years[y]}: {t.basis.replace('_', '-')} net saving{who} "
                f"{fmt(achieved[y])} misses the hard target {fmt(bound[y])} by {fmt(shortfall[y])}"))
    return rows, shortfalls, out


_SENSE_WORDS = {"<=": "exceeds the bound", ">=": "is below the bound", "==": "differs from the required"}


def check_limits(instance: Instance, fig: PlanFigures) -> tuple[Rows, list[Violation]]:
    """Per year with a value: Σ active plan values (no confidence) of the metric for the org, by sense."""
    rows, out = [], []
    ids = [s.id for s in instance.schemes]
    for lim in instance.limits:
        use = fig.total(lim.metric, lim.org) - receipts_raising(instance, fig, lim)  # docs/finance.md
        bound = _bounds(instance, lim.values)
        if lim.sense == "<=":
            miss = use - bound
        elif lim.sense == ">=":
            miss = bound - use
        else:
            miss = np.abs(use - bound)
        miss = np.where(np.isnan(bound), np.nan, np.maximum(0.0, miss))
        rows.append((lim.org or ALL, RuleRef("limit", lim.id).measure, use, bound, miss))
        tol = tolerance(bound, fig.abs_total(lim.metric, lim.org) + receipts_raising(instance, fig, lim))
        who = f" for {lim.org}" if lim.org else ""
        for y in np.flatnonzero(miss > tol):
            schemes = tuple(ids[i] for i in fig.contributors(lim.metric, lim.org, y))
            out.append(Violation(
                "limit", int(fig.years[y]), schemes, float(miss[y]),
                f"limit {lim.id} in {fig.years[y]}: {metric_name(lim.metric)}{who} {fmt(use[y])} "
                f"{_SENSE_WORDS[lim.sense]} {fmt(bound[y])} by {fmt(miss[y])} "
                f"(schemes: {name_schemes(schemes) or 'none'})"))
    return rows, out


def check_fair_shares(instance: Instance, fig: PlanFigures) -> list[Violation]:
    """fair_shares (semantics.md extension): over the rule's years, the group's total of the metric
    (its organisations' parts, by the shares rule) is at least min_share of the system's total."""
    out = []
    ids = [s.id for s in instance.schemes]
    position = {int(y): i for i, y in enumerate(fig.years)}
    for rule in instance.fair_shares:
        members = [rule.org] if rule.org is not None else \
            [o.id for o in instance.organisations if o.sector == rule.sector]
        cols = [position[int(y)] for y in (rule.years or instance.years)]
        system_terms = fig.contribution(rule.metric, None)[:, cols]
        group_terms = sum((fig.contribution(rule.metric, org)[:, cols] for org in members),
                          np.zeros_like(system_terms))
        system, group = float(system_terms.sum()), float(group_terms.sum())
        required = rule.min_share * system
        miss = required - group
        if miss > float(tolerance(required, np.abs(system_terms).sum())):
            who = rule.org if rule.org is not None else f"sector {rule.sector}"
            schemes = tuple(ids[i] for i in np.flatnonzero(np.abs(group_terms).sum(axis=1) > 0))
            out.append(Violation(
                "fair_share", None, schemes, miss,
                f"fair_share {rule.id}: {who} gets {fmt(group)} of {metric_name(rule.metric)}, "
                f"{group / system:.1%} of the system's {fmt(system)}, below the minimum share "
                f"{rule.min_share:.1%} by {fmt(miss)}" if system else
                f"fair_share {rule.id}: {who} gets {fmt(group)} of {metric_name(rule.metric)}, "
                f"below {rule.min_share:.1%} of the system's {fmt(system)} by {fmt(miss)}"))
    return out


def check_quality_floor(instance: Instance, fig: PlanFigures) -> tuple[Rows, list[Violation]]:
    """portfolio_min[d]: every plan year, Σ domain d over active schemes (system, plan values) >= min."""
    rows, out = [], []
    ids = [s.id for s in instance.schemes]
    floors = instance.quality.portfolio_min
    for d in instance.quality.domains:
        terms = fig.metric(d)
        total = terms.sum(axis=0)
        if d not in floors:
            rows.append((ALL, RuleRef("quality", d).measure, total, np.full(fig.horizon, np.nan), np.full(fig.horizon, np.nan)))
            continue
        bound = np.full(fig.horizon, float(floors[d]))
        shortfall = np.maximum(0.0, bound - total)
        rows.append((ALL, RuleRef("quality", d).measure, total, bound, shortfall))
        tol = tolerance(bound, np.abs(terms).sum(axis=0))
        for y in np.flatnonzero(shortfall > tol):
            harm = tuple(ids[i] for i in np.flatnonzero(terms[:, y] < 0))
            out.append(Violation(
                "quality_floor", int(fig.years[y]), harm, float(shortfall[y]),
                f"quality_floor {d} in {fig.years[y]}: the portfolio's {d} score {fmt(total[y])} is below "
                f"portfolio_min {fmt(bound[y])} by {fmt(shortfall[y])} "
                f"(schemes scoring below 0: {name_schemes(harm) or 'none'})"))
    return rows, out


# -- objective ---------------------------------------------------------------------------------
def plan_objective(instance: Instance, fig: PlanFigures, shortfalls: dict[str, np.ndarray]) -> tuple[float, float]:
    """The objective of semantics.md and the discounted soft-shortfall penalty P inside it."""
    d = (1.0 + instance.discount_rate) ** -(fig.years - fig.years[0]).astype(float)
    penalty = sum(t.shortfall_penalty * float(d @ shortfalls[t.id]) for t in instance.targets if not t.hard)
    mode = instance.objective.mode
    if mode == "weighted_score":
        nominal = nominal_weights(instance)  # the format's meaning: exact weights, or W's centroid
        weight = nominal[0] if nominal else {}
        score = sum(weight.get(sc.criterion, 0.0) * sc.score for sc in instance.scores
                    if fig.selected[fig.index[sc.scheme]])
        return float(score) - penalty, penalty
    net = fig.net_saving_total("in_year", None)
    if mode == "net_present_value":
        net = net - fig.total("capital_cost", None)
    return float(d @ net) - penalty, penalty


def plan_npv(instance: Instance, fig: PlanFigures) -> float:
    """The net present value of semantics.md in every objective mode: Σ_y d(y)·(N(all, y) −
    capital_cost(all, y)), no penalties; what a board reads as the plan's NPV."""
    d = (1.0 + instance.discount_rate) ** -(fig.years - fig.years[0]).astype(float)
    return float(d @ (fig.net_saving_total("in_year", None) - fig.total("capital_cost", None)))


# -- yearly figures ----------------------------------------------------------------------------
def _years_frame(instance: Instance, fig: PlanFigures, rule_rows: Rows) -> pd.DataFrame:
    """Tidy table: one row per (year, org, measure): value, bound and shortfall (NaN if no bound)."""
    orgs: list[str | None] = [None] + (list(instance.org_ids) if len(instance.organisations) > 1 else [])
    rows = []
    nan = np.full(fig.horizon, np.nan)
    for org in orgs:
        label = org or ALL
        for m in BUILTIN_METRICS:
            rows.append((label, m, fig.total(m, org), nan, nan))
        rows.append((label, "recurrent_net_saving", fig.net_saving_total("recurrent", org), nan, nan))
        rows.append((label, "in_year_net_saving", fig.net_saving_total("in_year", org), nan, nan))
    rows += rule_rows
    # Rows are built measure by measure; the table is ordered year, then org, then measure.
    n, h = len(rows), fig.horizon
    frame = pd.DataFrame({
        "year": np.tile(fig.years, n),
        "org": np.repeat([r[0] for r in rows], h),
        "measure": np.repeat([r[1] for r in rows], h),
        "value": np.concatenate([r[2] for r in rows]).astype(float),
        "bound": np.concatenate([r[3] for r in rows]).astype(float),
        "shortfall": np.concatenate([r[4] for r in rows]).astype(float),
    })
    org_rank = {o: i for i, o in enumerate([ALL, *instance.org_ids])}
    row_rank = np.repeat([org_rank[r[0]] * n + k for k, r in enumerate(rows)], h)
    order = np.lexsort((row_rank, frame["year"].to_numpy()))
    return frame.iloc[order].reset_index(drop=True)
