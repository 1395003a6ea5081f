"""Savings targets per year: recurrent (the underlying position) or in-year, hard or soft.

A soft target gets a shortfall variable that the objective penalises; a hard one must hold.
Per organisation through the shares, or for the whole system.
"""

from __future__ import annotations

import numpy as np
import pyomo.core as pyo

from cipopt.model.context import (
    BuildNotes, Infeasibility, ModelContext, add_rows, fmt, row_is_empty, stack_rows,
)
from cipopt.model.family import Family, Proof, fields, keeps_shape, missed_by, per_unit_of_bound, proof_suffix
from cipopt.schema.instance import Instance
from cipopt.schema.rules import RuleRef


# the rows of each target basis; full_year_effect is an extension (docs/finance.md)
TARGET_ROWS = (("recurrent", "c_target_recurrent"), ("in_year", "c_target_in_year"),
               ("full_year_effect", "c_target_full_year_effect"))


def target_rows(ctx: ModelContext):
    """(target, year, year index) for every year a target names."""
    year_of = ctx.year_of
    return [
        (t, int(y), year_of[int(y)])
        for t in ctx.instance.targets
        for y in sorted(t.values)
    ]


def add_to(m: pyo.ConcreteModel, ctx: ModelContext, notes: BuildNotes) -> None:
    rows = target_rows(ctx)
    m.TARGET_YEARS_SOFT = pyo.Set(
        dimen=2, ordered=True, initialize=[(t.id, y) for t, y, _ in rows if not t.hard])
    m.v_shortfall = pyo.Var(m.TARGET_YEARS_SOFT, domain=pyo.NonNegativeReals)

    for basis, name in TARGET_ROWS:
        these = [t for t in ctx.instance.targets if t.basis == basis]
        keys, lower, matrices, chosen, extra = [], [], [], [], []
        for t in these:
            matrix = ctx.coef.target_matrix(t.basis, t.org, ctx.expected)  # one per target
            years = []
            for y, yi in ((int(y), ctx.year_of[int(y)]) for y in sorted(t.values)):
                required = t.values[y]
                if t.hard and row_is_empty(matrix, yi):
                    if required > 0:
                        notes.infeasibilities.append(Infeasibility(
                            name, f"hard target {t.id} needs {fmt(required)} in {y} but no eligible "
                                  "scheme can contribute to it"))
                    continue
                if not t.hard:
                    extra.append((len(keys), 1.0, m.v_shortfall[t.id, y]))
                keys.append((t.id, y))
                lower.append(required)
                years.append(yi)
            matrices.append(matrix)
            chosen.append(np.array(years, dtype=np.int64))
        add_rows(m, name, keys, stack_rows(matrices, chosen, ctx.coef.n_pairs), lower, np.inf,
                 extra=extra, index=[(t.id, int(y)) for t in these for y in sorted(t.values)])


ROW_OF_BASIS = dict(TARGET_ROWS)
BASIS_OF_ROW = {name: basis for basis, name in TARGET_ROWS}


def _shape(instance: Instance) -> tuple:
    """What the rows are built on: values and penalties may change in place; ids, organisations,
    bases, hardness and years not."""
    return tuple((t.id, t.org, t.basis, t.hard, tuple(sorted(t.values))) for t in instance.targets)


def _rebound(ctx: ModelContext, rows) -> None:
    for t in ctx.instance.targets:
        name = ROW_OF_BASIS[t.basis]
        for y, value in t.values.items():
            rows.set_row(name, (t.id, y), value, np.inf, f"target {t.id} in {y}")



def _words(name: str, index, instance: Instance, amount: float | None = None) -> str:
    return missed_by(f"hard target {index[0]} in {index[1]}", amount)


def _proved(name: str, index, proof: Proof, instance: Instance) -> str | None:
    tid, year = index
    basis = BASIS_OF_ROW[name]
    basis = {"recurrent": "recurrent", "full_year_effect": "full-year-effect"}.get(basis, "in-year")
    return (f"hard target {tid} needs {fmt(proof.row_lower)} of {basis} net saving in {year}; at most "
            f"{fmt(proof.bound)} can be achieved together with the other rules{proof_suffix(proof.side)}")


def _rules(instance: Instance) -> list[RuleRef]:
    return [RuleRef("target", t.id, org=t.org) for t in instance.targets]


def _rule_rows(ref: RuleRef, instance: Instance) -> list:
    if ref.kind != "target":
        return []
    t = ref.rule(instance)
    years = sorted(t.values) if ref.year is None else [ref.year]
    return [(ROW_OF_BASIS[t.basis], (t.id, int(y))) for y in years]


FAMILY = Family(
    name="targets", add_to=add_to, rows=tuple(ROW_OF_BASIS.values()),
    reads=fields("targets", "objective", "schemes", "shares", "organisations"),
    rebounds=frozenset({"targets", "schemes"}),
    keeps_rows=keeps_shape(_shape, "the variant changes which targets there are or the years they name"),
    rebound=_rebound,
    price=per_unit_of_bound, words=_words, proved=_proved, rules=_rules, rule_rows=_rule_rows,
)
