"""Tidy tables from a plan: plan.csv and years.csv, computed with the model's own coefficients.

The independent checker computes the same figures its own way; a test holds the two equal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cipopt.coefficients import Coefficients
from cipopt.model.context import ModelContext
from cipopt.model.finance import control_total_penalty, finance_rows, finance_value, incentive_value, limit_matrix
from cipopt.model.objective import npv_values, start_values
from cipopt.model.risk import risk_penalty
from cipopt.schema.instance import BUILTIN_METRICS, STANDARD_DOMAINS
from cipopt.schema.rules import RuleRef

Plan = dict[str, int | None]  # scheme id -> start year, None when not selected

YEARS_COLUMNS = ["year", "org", "measure", "value", "sense", "bound", "shortfall"]


def plan_from_starts(coef: Coefficients, chosen: np.ndarray) -> Plan:
    """A plan from a 0/1 (or near 0/1) vector over the allowed starts."""
    plan: Plan = {sid: None for sid in coef.scheme_ids}
    for p in np.flatnonzero(chosen > 0.5):
        plan[coef.scheme_ids[coef.pair_scheme[p]]] = int(coef.years[coef.pair_start[p]])
    return plan


def starts_from_plan(coef: Coefficients, plan: Plan) -> np.ndarray:
    """The 0/1 vector over allowed starts of a plan; a start outside the allowed set raises."""
    x = np.zeros(coef.n_pairs)
    pairs = coef.pairs_of_scheme
    for sid, year in plan.items():
        if year is None:
            continue
        s = coef.scheme_index[sid]
        match = [p for p in pairs[s] if coef.years[coef.pair_start[p]] == year]
        if not match:
            raise ValueError(f"scheme {sid} may not start in {year}")
        x[match[0]] = 1.0
    return x


def target_shortfalls(ctx: ModelContext, x: np.ndarray) -> list[tuple]:
    """(target, year, achieved, shortfall) for every year each target names."""
    out = []
    for t in ctx.instance.targets:
        achieved = ctx.coef.target_matrix(t.basis, t.org, ctx.expected) @ x
        for y, required in sorted(t.values.items()):
            value = float(achieved[ctx.coef.year_index(y)])
            out.append((t, y, value, max(0.0, required - value)))
    return out


@dataclass(frozen=True)
class ObjectiveParts:
    """What a board reads apart: the plan's NPV, the shortfall penalties and the risk term, and
    the objective the solver maximised from them (docs/figures.md)."""

    net_present_value: float  # sum_y d(y) (in-year net saving - capital cost), no penalties
    shortfall_penalty: float  # sum_y d(y) sum_soft targets penalty x shortfall
    risk_penalty: float  # risk cvar: cvar_penalty x CVaR (else 0)
    objective: float  # what was maximised: the mode's value less both penalties


def objective_parts(ctx: ModelContext, x: np.ndarray) -> ObjectiveParts:
    """The plan's objective and its parts, evaluated exactly (shortfalls as max(0, required - achieved))."""
    penalty = float(sum(
        t.shortfall_penalty * ctx.coef.discount[ctx.coef.year_index(y)] * short
        for t, y, _, short in target_shortfalls(ctx, x) if not t.hard
    ))
    risk = float(risk_penalty(ctx, x))
    return ObjectiveParts(
        net_present_value=float(npv_values(ctx) @ x) + incentive_value(ctx, x),
        shortfall_penalty=penalty + control_total_penalty(ctx, x), risk_penalty=risk,
        objective=float(start_values(ctx) @ x) - penalty - risk + finance_value(ctx, x))


def plan_table(ctx: ModelContext, plan: Plan) -> pd.DataFrame:
    rows = [
        {"scheme": s.id, "selected": plan.get(s.id) is not None,
         "start_year": plan.get(s.id), "name": s.name, "category": s.category, "org": s.org}
        for s in ctx.instance.schemes
    ]
    frame = pd.DataFrame(rows, columns=["scheme", "selected", "start_year", "name", "category", "org"])
    frame["start_year"] = frame["start_year"].astype("Int64")
    return frame


def years_table(ctx: ModelContext, x: np.ndarray) -> pd.DataFrame:
    inst, coef = ctx.instance, ctx.coef
    years = [int(y) for y in coef.years]
    scopes: list[str | None] = [None] + (list(inst.org_ids) if len(inst.organisations) > 1 else [])
    custom = sorted(coef.metric_names() - set(BUILTIN_METRICS) - set(STANDARD_DOMAINS) - set(inst.quality.domains))
    shortfalls = {(t.id, y): (a, s) for t, y, a, s in target_shortfalls(ctx, x)}
    records = []

    def add(year, scope, measure, value, sense="", bound=np.nan, shortfall=np.nan):
        records.append((year, scope or "all", measure, float(value), sense, bound, shortfall))

    for scope in scopes:  # totals without caching a matrix per organisation and metric
        series = {m: coef.total(m, scope, x) for m in (*BUILTIN_METRICS, *custom)}
        recurrent = coef.net_saving_total("recurrent", scope, x, ctx.expected)
        in_year = coef.net_saving_total("in_year", scope, x, ctx.expected)
        quality = {d: coef.total(d, scope, x) for d in inst.quality.domains}
        for yi, y in enumerate(years):
            for m, values in series.items():
                add(y, scope, m, values[yi])
            add(y, scope, "recurrent_net_saving", recurrent[yi])
            add(y, scope, "in_year_net_saving", in_year[yi])
            for d, values in quality.items():
                floor = inst.quality.portfolio_min.get(d) if scope is None else None
                if floor is None:
                    add(y, scope, RuleRef("quality", d).measure, values[yi])
                else:
                    add(y, scope, RuleRef("quality", d).measure, values[yi], ">=", floor, max(0.0, floor - values[yi]))
    for t in inst.targets:  # each under its own organisation (or all)
        for y in sorted(t.values):
            achieved, short = shortfalls[t.id, y]
            add(y, t.org, RuleRef("target", t.id).measure, achieved, ">=", t.values[y], short)
    for lim in inst.limits:
        use = limit_matrix(ctx, lim) @ x
        for y in sorted(lim.values):
            value, bound = float(use[coef.year_index(y)]), lim.values[y]
            broken = {"<=": value - bound, ">=": bound - value, "==": abs(value - bound)}[lim.sense]
            add(y, lim.org, RuleRef("limit", lim.id).measure, value, lim.sense, bound, max(0.0, broken))
    for row in finance_rows(ctx, x, scopes):  # docs/finance.md: the bottom line
        add(*row)
    frame = pd.DataFrame.from_records(records, columns=YEARS_COLUMNS)
    return frame.sort_values(["year", "org"], kind="stable", ignore_index=True)
