"""Fair shares (format extension): a group of organisations gets at least a share of a metric.

Over the rule's years, the metric counted for the group (one organisation, or every organisation
of a sector, each by the shares rule of targets and limits) is at least `min_share` times the
metric counted for the whole system. The row is linear because the share is of what the plan
itself awards: sum_y (group(y) - min_share * all(y)) . x >= 0.
"""

from __future__ import annotations

import numpy as np
import pyomo.core as pyo
import scipy.sparse as sp

from cipopt.coefficients import ALL
from cipopt.model.context import BuildNotes, ModelContext, add_rows, fmt, row_is_empty, stack_rows
from cipopt.model.family import Family, Proof, fields, missed_by, no_rule_rows, no_rules, nothing, proof_suffix
from cipopt.schema.instance import FairShare, Instance

FAIR_SHARE = "c_fair_share"


def group_orgs(instance: Instance, rule: FairShare) -> list[str]:
    """The organisations a rule's group is made of."""
    if rule.org is not None:
        return [rule.org]
    return [o.id for o in instance.organisations if o.sector == rule.sector]


def share_row(ctx: ModelContext, rule: FairShare) -> sp.csr_array:
    """(1 x P): what each allowed start adds to group - min_share x system over the rule's years."""
    coef = ctx.coef
    years = [coef.year_index(y) for y in (rule.years or ctx.instance.years)]
    group = sum((coef.matrix(rule.metric, org) for org in group_orgs(ctx.instance, rule)),
                sp.csr_array((coef.n_years, coef.n_pairs)))
    body = group - rule.min_share * coef.matrix(rule.metric, ALL)
    row = np.asarray(body[years].sum(axis=0)).reshape(1, -1)
    out = sp.csr_array(row)
    out.eliminate_zeros()
    return out


def add_to(m: pyo.ConcreteModel, ctx: ModelContext, notes: BuildNotes) -> None:
    rules = list(ctx.instance.fair_shares)
    rows = [share_row(ctx, r) for r in rules]
    kept = [k for k, row in enumerate(rows) if not row_is_empty(row, 0)]  # else 0 >= 0: nothing can break it
    matrix = stack_rows([rows[k] for k in kept], [np.array([0])] * len(kept), ctx.coef.n_pairs)
    add_rows(m, FAIR_SHARE, [rules[k].id for k in kept], matrix, 0.0, np.inf, index=[r.id for r in rules])


def _price(name: str, bound: float, scale: float) -> float | None:
    """The bound is 0: priced per unit of the row's own scale (its coefficients' sum) instead."""
    return 1.0 / max(1.0, scale)


def _words(name: str, index, instance: Instance, amount: float | None = None) -> str:
    return missed_by(f"fair share {index}", amount)


def _proved(name: str, index, proof: Proof, instance: Instance) -> str | None:
    rule = next(r for r in instance.fair_shares if r.id == index)
    who = rule.org if rule.org is not None else f"sector {rule.sector}"
    return (f"fair share {index}: {who} cannot get {rule.min_share:.0%} of {rule.metric} together with the "
            f"other rules (short by at least {fmt(-proof.bound)}){proof_suffix(proof.side)}")


FAMILY = Family(
    name="fairness", add_to=add_to, rows=(FAIR_SHARE,),
    reads=fields("fair_shares", "organisations", "schemes", "shares", "years", "profiles"),
    rebounds=frozenset({"schemes"}), keeps_rows=nothing, rebound=nothing,
    price=_price, words=_words, proved=_proved, rules=no_rules, rule_rows=no_rule_rows,
)
