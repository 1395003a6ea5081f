"""Quality floors: per year and QIA domain, the portfolio's summed score stays above a minimum.

Scheme-level QIA eligibility (scheme_min, max_risk, hard_max_risk, qia_approved) is applied to
the set of allowed starts (see selection); this family holds the portfolio rule.
"""

from __future__ import annotations

import numpy as np
import pyomo.core as pyo

from cipopt.model.context import (
    BuildNotes, Infeasibility, ModelContext, add_rows, fmt, stack_rows,
)
from cipopt.model.family import Family, Proof, fields, keeps_shape, missed_by, per_unit_of_bound, proof_suffix
from cipopt.model.limits import _names
from cipopt.schema.instance import Instance
from cipopt.schema.rules import RuleRef

FLOOR = "c_quality_floor"


def add_to(m: pyo.ConcreteModel, ctx: ModelContext, notes: BuildNotes) -> None:
    floors = ctx.instance.quality.portfolio_min
    years = [int(y) for y in ctx.coef.years]
    keys, lower, matrices, rows = [], [], [], []
    for domain, minimum in floors.items():
        matrix = ctx.coef.matrix(domain)
        nonempty = np.diff(matrix.indptr) > 0
        chosen = []
        for yi, y in enumerate(years):
            if not nonempty[yi]:
                if minimum > 0:
                    notes.infeasibilities.append(Infeasibility(
                        FLOOR, f"the {domain} floor {fmt(minimum)} in {y} needs schemes that "
                                           "improve it, and no eligible scheme does"))
                continue
            keys.append((domain, y))
            chosen.append(yi)
            lower.append(minimum)
        matrices.append(matrix)
        rows.append(np.array(chosen, dtype=np.int64))
    add_rows(m, FLOOR, keys, stack_rows(matrices, rows, ctx.coef.n_pairs), lower, np.inf,
             index=[(d, y) for d in floors for y in years])


def _shape(instance: Instance) -> tuple:
    """Floors may change in place; which domains have one, and the domains, not."""
    return tuple(instance.quality.domains), tuple(sorted(instance.quality.portfolio_min))


def _rebound(ctx: ModelContext, rows) -> None:
    for d, value in ctx.instance.quality.portfolio_min.items():
        for y in ctx.instance.years:
            rows.set_row(FLOOR, (d, y), value, np.inf, f"the {d} floor in {y}")



def _words(name: str, index, instance: Instance, amount: float | None = None) -> str:
    return missed_by(f"the {index[0]} quality floor in {index[1]}", amount)


def _proved(name: str, index, proof: Proof, instance: Instance) -> str | None:
    domain, year = index
    counted = f" (schemes counted: {_names(proof.drivers(proof.plan))})" if proof.plan is not None else ""
    return (f"the {domain} quality floor in {year} is {fmt(proof.row_lower)}; the portfolio's {domain} score "
            f"can be at most {fmt(proof.bound)} together with the other rules{counted}{proof_suffix(proof.side)}")


def _rules(instance: Instance) -> list[RuleRef]:
    return [RuleRef("quality", d) for d in instance.quality.portfolio_min]


def _rule_rows(ref: RuleRef, instance: Instance) -> list:
    """A floor is one value for every year: all its years' rows, whichever year is named."""
    if ref.kind != "quality":
        return []
    return [(FLOOR, (ref.id, int(y))) for y in instance.years]


FAMILY = Family(
    name="quality", add_to=add_to, rows=(FLOOR,),
    reads=fields("quality", "schemes", "years"),
    rebounds=frozenset({"quality", "schemes"}),
    keeps_rows=keeps_shape(_shape, "the variant changes which quality floors there are"),
    rebound=_rebound,
    price=per_unit_of_bound, words=_words, proved=_proved, rules=_rules, rule_rows=_rule_rows,
)
