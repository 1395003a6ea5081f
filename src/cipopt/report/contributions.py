"""The board paper's figures from a plan: each category's (or scheme's) part of the savings against
a target, recomputed from the instance (report/html.py draws them)."""

from __future__ import annotations

import numpy as np

from cipopt.schema.instance import CATEGORIES, Instance


def _starts(instance: Instance, plan: dict[str, int | None]):
    from cipopt.coefficients import build_coefficients
    from cipopt.results import starts_from_plan

    coef = build_coefficients(instance)
    try:
        return coef, starts_from_plan(coef, plan)
    except (ValueError, KeyError):
        return coef, None


def category_contributions(instance: Instance, plan: dict[str, int | None], basis: str, org: str | None
                           ) -> dict[str, np.ndarray] | None:
    """Per category, the plan's net contribution to a target's measure in each year (None if the
    plan starts a scheme where it may not start: the checker says so; the report shows totals)."""
    coef, x = _starts(instance, plan)
    if x is None:
        return None
    matrix = coef.target_matrix(basis, org, instance.objective.counts_confidence)
    category = np.array([instance.schemes[s].category for s in coef.pair_scheme], dtype=object) \
        if coef.n_pairs else np.array([], dtype=object)
    out: dict[str, np.ndarray] = {}
    for c in CATEGORIES:
        mask = (category == c).astype(float)
        if not mask.any():
            continue
        values = matrix @ (x * mask)
        if np.any(np.abs(values) > 1e-9):
            out[c] = np.asarray(values, dtype=float)
    return out


def target_parts(instance: Instance, plan: dict[str, int | None], basis: str, org: str | None
                 ) -> tuple[dict[str, np.ndarray], np.ndarray] | None:
    """A target's measure split the way a board reads it: the savings per category (at confidence
    x value when the objective counts confidence) and the costs it nets off, as positive amounts.
    savings - costs is the measure (years.csv's achieved)."""
    from cipopt.coefficients import IN_YEAR_TERMS, RECURRENT_TERMS
    from cipopt.schema.instance import SAVING_METRICS

    coef, x = _starts(instance, plan)
    if x is None:
        return None
    expected = instance.objective.counts_confidence
    terms = RECURRENT_TERMS if basis == "recurrent" else IN_YEAR_TERMS
    category = np.array([instance.schemes[s].category for s in coef.pair_scheme], dtype=object) \
        if coef.n_pairs else np.array([], dtype=object)
    savings: dict[str, np.ndarray] = {}
    costs = np.zeros(len(instance.years))
    for sign, metric in terms:
        if sign < 0:
            costs += coef.total(metric, org, x)
            continue
        for c in CATEGORIES:
            mask = (category == c).astype(float)
            if mask.any():
                part = coef.total(metric, org, x * mask, expected and metric in SAVING_METRICS)
                if np.any(np.abs(part) > 1e-9):
                    savings[c] = savings.get(c, 0.0) + np.asarray(part, dtype=float)
    return savings, costs
