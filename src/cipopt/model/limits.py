"""Limits: a per-year bound (<=, >=, ==) on the plan value of any metric, per organisation or all."""

from __future__ import annotations

import numpy as np
import pyomo.core as pyo

from cipopt.model.context import (
    BuildNotes, Infeasibility, ModelContext, add_rows, fmt, stack_rows,
)
from cipopt.model.family import Family, Proof, fields, keeps_shape, missed_by, per_unit_of_bound, proof_suffix
from cipopt.model.finance import limit_matrix
from cipopt.schema.instance import Instance
from cipopt.schema.rules import RuleRef

LIMIT = "c_limit"


def _holds(value: float, sense: str, bound: float) -> bool:
    return {"<=": value <= bound, ">=": value >= bound, "==": value == bound}[sense]


def add_to(m: pyo.ConcreteModel, ctx: ModelContext, notes: BuildNotes) -> None:
    year_of = ctx.year_of
    index = [(lim.id, int(y)) for lim in ctx.instance.limits for y in sorted(lim.values)]
    keys, lower, upper, matrices, rows = [], [], [], [], []
    for lim in ctx.instance.limits:
        matrix = limit_matrix(ctx, lim)  # one (years x starts) matrix per limit (docs/finance.md: receipts_raise)
        nonempty = np.diff(matrix.indptr) > 0
        chosen = []
        for y in sorted(lim.values):
            bound, yi = lim.values[y], year_of[y]
            if not nonempty[yi]:
                if not _holds(0.0, lim.sense, bound):
                    notes.infeasibilities.append(Infeasibility(
                        LIMIT, f"limit {lim.id} needs {lim.metric} {lim.sense} {fmt(bound)} in {y} "
                                   "but no eligible scheme has any"))
                continue
            keys.append((lim.id, int(y)))
            chosen.append(yi)
            lower.append(-np.inf if lim.sense == "<=" else bound)
            upper.append(np.inf if lim.sense == ">=" else bound)
        matrices.append(matrix)
        rows.append(np.array(chosen, dtype=np.int64))
    add_rows(m, LIMIT, keys, stack_rows(matrices, rows, ctx.coef.n_pairs), lower, upper, index=index)


def _shape(instance: Instance) -> tuple:
    """What the rows are built on: values may change in place; ids, organisations, metrics, senses
    and years not."""
    return tuple((lim.id, lim.org, lim.metric, lim.sense, tuple(sorted(lim.values))) for lim in instance.limits)


def _rebound(ctx: ModelContext, rows) -> None:
    for lim in ctx.instance.limits:
        for y, value in lim.values.items():
            lower = -np.inf if lim.sense == "<=" else value
            upper = np.inf if lim.sense == ">=" else value
            rows.set_row(LIMIT, (lim.id, y), lower, upper, f"limit {lim.id} in {y}")



def _words(name: str, index, instance: Instance, amount: float | None = None) -> str:
    return missed_by(f"limit {index[0]} in {index[1]}", amount)


def _names(ids: list[str], limit: int = 6) -> str:
    ids = sorted(ids)
    if len(ids) > limit:
        return ", ".join(ids[:limit]) + f" and {len(ids) - limit} more"
    if len(ids) > 1:
        return ", ".join(ids[:-1]) + " and " + ids[-1]
    return ids[0] if ids else "no scheme"


def _proved(name: str, index, proof: Proof, instance: Instance) -> str | None:
    lid, year = index
    lim = next(lim for lim in instance.limits if lim.id == lid)
    if proof.side == "<=":
        who = proof.drivers(proof.plan) if proof.plan is not None else []
        forced = [s for s in who if s in proof.mandatory]
        subject = (f" (mandatory scheme{'s' if len(forced) > 1 else ''} {_names(forced)})"
                   if forced and len(forced) == len(who) else "")
        return (f"at least {fmt(proof.bound)} of {lim.metric} is needed in {year} together with the other rules"
                f"{subject}; the {lid} limit is {lim.sense} {fmt(proof.row_upper)}{proof_suffix(proof.side)}")
    return (f"at most {fmt(proof.bound)} of {lim.metric} can be reached in {year} together with the other rules; "
            f"the {lid} limit asks for {lim.sense} {fmt(proof.row_lower)}{proof_suffix(proof.side)}")


def _rules(instance: Instance) -> list[RuleRef]:
    return [RuleRef("limit", lim.id, org=lim.org) for lim in instance.limits]


def _rule_rows(ref: RuleRef, instance: Instance) -> list:
    if ref.kind != "limit":
        return []
    lim = ref.rule(instance)
    years = sorted(lim.values) if ref.year is None else [ref.year]
    return [(LIMIT, (lim.id, int(y))) for y in years]


FAMILY = Family(
    name="limits", add_to=add_to, rows=(LIMIT,),
    reads=fields("limits", "finance", "schemes", "shares", "organisations", "profiles"),
    rebounds=frozenset({"limits", "schemes"}),
    keeps_rows=keeps_shape(_shape, "the variant changes which limits there are or the years they name"),
    rebound=_rebound,
    price=per_unit_of_bound, words=_words, proved=_proved, rules=_rules, rule_rows=_rule_rows,
)
