"""Re-solve a built model for a variant of its instance by changing bounds and costs in place.

Analyses (what-if, explanations, rankings, frontiers, alternatives) ask many questions of one
instance: "and if the capital limit were 3,000?", "and if this scheme were forced in?". Each is
expressed as a variant `Instance` (pure data, which the results and the checker then use), and
this module works out whether the built model can answer it by changing column bounds, row bounds
and costs only. When the variant changes the structure (other schemes, coefficients, rules with
other years), it says why not and the caller builds afresh.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cipopt.coefficients import qia_ineligibility
from cipopt.model.build import BuiltModel
from cipopt.model.context import ModelContext
from cipopt.model.objective import start_values
from cipopt.model.targets import TARGET_ROWS
from cipopt.schema.instance import Instance
from cipopt.solve.highs import INF, StandardForm

# Scheme fields a variant may change in place: they only narrow or widen what the rows allow.
SCHEME_FIELDS_IN_PLACE = {"mandatory", "earliest_start", "latest_start", "qia_approved", "excluded"}


class NotInPlace(Exception):
    """The variant changes the model's structure: it needs a fresh build (the message says why)."""


@dataclass
class Bounds:
    col_lower: np.ndarray
    col_upper: np.ndarray
    col_cost: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    infeasible: list[str] = field(default_factory=list)
    # allowed starts forced in whose variable the compiled model dropped (it touches no row and
    # no cost, so forcing it changes nothing but the plan): set in the plan after the solve
    forced_pairs: list[int] = field(default_factory=list)

    @classmethod
    def of(cls, form: StandardForm) -> "Bounds":
        return cls(form.col_lower.copy(), form.col_upper.copy(), form.col_cost.copy(),
                   form.row_lower.copy(), form.row_upper.copy())


def row_index(form: StandardForm) -> dict[tuple[str, object], int]:
    return {(con.parent_component().name, con.index()): j for j, (con, _) in enumerate(form.rows)}


def _rules(instance: Instance) -> tuple:
    """The shape of the rules (ids, years, senses): what must match for an in-place re-solve."""
    return (
        instance.years, instance.discount_rate, instance.organisations, instance.objective,
        tuple(c.id for c in instance.criteria), instance.quality.domains,
        tuple(sorted(instance.quality.portfolio_min)),
        tuple((t.id, t.org, t.basis, t.hard, tuple(sorted(t.values))) for t in instance.targets),
        tuple((lim.id, lim.org, lim.metric, lim.sense, tuple(sorted(lim.values))) for lim in instance.limits),
        instance.fair_shares,
    )


def _same(a: tuple, b: tuple) -> bool:
    """Tables equal; variants made by `model_copy` share unchanged rows, so identity is checked first."""
    return a is b or (len(a) == len(b) and all(x is y or x == y for x, y in zip(a, b)))


def _same_structure(base: Instance, variant: Instance) -> bool:
    if base is variant:
        return True
    if _rules(base) != _rules(variant):
        return False
    if base.finance is not None or variant.finance is not None:
        return False  # docs/finance.md: the incentive rows' big-M holds targets' values and schemes' figures
    if base.objective.risk in ("cvar", "chance") and (base.targets != variant.targets
                                                       or base.risk_groups != variant.risk_groups):
        return False  # the scenario rows (and chance's big-M) hold the targets' values and the draws
    if not all(_same(getattr(base, t), getattr(variant, t)) for t in ("profiles", "relations", "shares", "scores")):
        return False
    if len(base.schemes) != len(variant.schemes):
        return False
    return all(
        a is b or a.model_dump(exclude=SCHEME_FIELDS_IN_PLACE) == b.model_dump(exclude=SCHEME_FIELDS_IN_PLACE)
        for a, b in zip(base.schemes, variant.schemes)
    )


def _allowed(instance: Instance) -> set[tuple[str, int]]:
    first, last = instance.years[0], instance.years[-1]
    out = set()
    for s in instance.schemes:
        if s.excluded or qia_ineligibility(s, instance):
            continue
        lo = s.earliest_start if s.earliest_start is not None else first
        hi = s.latest_start if s.latest_start is not None else last
        out.update((s.id, y) for y in range(max(lo, first), min(hi, last) + 1))
    return out


def variant_bounds(
    built: BuiltModel, form: StandardForm, rows: dict, pair_columns: np.ndarray, variant: Instance
) -> Bounds:
    """The bounds and costs that make the built model the variant's; `NotInPlace` when none can."""
    base = built.ctx.instance
    if not _same_structure(base, variant):
        raise NotInPlace("the variant changes the model's structure")
    coef = built.coef
    allowed = _allowed(variant)
    pair_keys = [(coef.scheme_ids[s], int(coef.years[t])) for s, t in zip(coef.pair_scheme, coef.pair_start)]
    if not allowed <= set(pair_keys):
        raise NotInPlace("the variant allows starts the base model does not have")

    b = Bounds.of(form)
    m = built.model
    ctx = ModelContext(instance=variant, coef=coef)

    # starts the variant no longer allows
    for p, key in enumerate(pair_keys):
        if key not in allowed and pair_columns[p] >= 0:
            b.col_upper[pair_columns[p]] = 0.0

    # mandatory flags
    pairs = coef.pairs_of_scheme
    for i, (old, new) in enumerate(zip(base.schemes, variant.schemes)):
        if old.mandatory == new.mandatory:
            continue
        sid = old.id
        if ("c_mandatory", sid) in rows:
            b.row_lower[rows["c_mandatory", sid]] = 1.0 if new.mandatory else 0.0
        elif ("c_start_once", sid) in rows:
            b.row_lower[rows["c_start_once", sid]] = 1.0
        else:
            usable = [p for p in pairs[i] if (sid, int(coef.years[coef.pair_start[p]])) in allowed]
            if not usable:
                b.infeasible.append(f"mandatory scheme {sid} cannot be selected: it has no allowed start year")
            elif pair_columns[usable[0]] < 0:
                b.forced_pairs.append(int(usable[0]))
            else:
                b.col_lower[pair_columns[usable[0]]] = 1.0

    def set_row(name: str, index, lower: float, upper: float, what: str) -> None:
        j = rows.get((name, index))
        if j is None:
            if lower > 0 or upper < 0:  # the built row was empty (no scheme contributes)
                b.infeasible.append(f"{what}: no eligible scheme can contribute to it")
            return
        b.row_lower[j], b.row_upper[j] = lower, upper

    for t in variant.targets:
        name = dict(TARGET_ROWS)[t.basis]
        for y, value in t.values.items():
            set_row(name, (t.id, y), value, INF, f"target {t.id} in {y}")
    for lim in variant.limits:
        for y, value in lim.values.items():
            lower = -INF if lim.sense == "<=" else value
            upper = INF if lim.sense == ">=" else value
            set_row("c_limit", (lim.id, y), lower, upper, f"limit {lim.id} in {y}")
    for d, value in variant.quality.portfolio_min.items():
        for y in variant.years:
            set_row("c_quality_floor", (d, y), value, INF, f"the {d} floor in {y}")

    # costs: the objective of the variant (weights, penalties)
    values = start_values(ctx)
    present = pair_columns >= 0
    b.col_cost[pair_columns[present]] = values[present]
    targets = {t.id: t for t in variant.targets}
    for tid, y in m.TARGET_YEARS_SOFT:
        j = form.column_of.get(id(m.v_shortfall[tid, y]))
        if j is not None:
            b.col_cost[j] = -targets[tid].shortfall_penalty * coef.discount[coef.year_index(y)]
    return b
