"""Re-solve a built model for a variant of its instance by changing bounds and costs in place.

Analyses (what-if, explanations, rankings, frontiers, alternatives) ask many questions of one
instance: "and if the capital limit were 3,000?", "and if this scheme were forced in?". Each is
expressed as a variant `Instance` (pure data, which the results and the checker then use), and
this module works out whether the built model can answer it by changing column bounds, row bounds
and costs only. It asks the constraint families (cipopt.model.build.FAMILIES): a variant changing
an instance field that a family reads is re-solved in place only if that family re-bounds the
field and says its rows still fit; each family then sets its own rows' bounds and costs. When the
variant changes the structure (other schemes, coefficients, rules with other years), it says why
not and the caller builds afresh.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cipopt.model.build import FAMILIES, BuiltModel
from cipopt.model.context import ModelContext
from cipopt.model.selection import same_figures
from cipopt.schema.instance import Instance
from cipopt.solve.highs import StandardForm


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


def _same(a, b) -> bool:
    """Fields equal; variants made by `model_copy` share unchanged rows, so identity is checked first."""
    if a is b:
        return True
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(x is y or x == y for x, y in zip(a, b))
    return a == b


def changed_fields(base: Instance, variant: Instance) -> set[str]:
    """The instance fields in which the variant differs from the base."""
    if base is variant:
        return set()
    return {name for name in type(base).model_fields if not _same(getattr(base, name), getattr(variant, name))}


def structure_change(base: ModelContext, variant: Instance) -> str | None:
    """Why the built model cannot be the variant's by bounds and costs alone, or None when it can."""
    changed = changed_fields(base.instance, variant)
    if not changed:
        return None
    if "schemes" in changed:  # every family's coefficients are made from the schemes' figures: compared once
        why = same_figures(base.instance, variant)
        if why:
            return why
    for family in FAMILIES:
        touched = changed & family.reads(base.instance)
        if not touched:
            continue
        fixed = sorted(touched - family.rebounds)
        if fixed:
            return f"the variant changes {fixed[0]}, which the {family.name} rows are built from"
        why = family.keeps_rows(base, variant)
        if why:
            return why
    return None


@dataclass
class Rebounds:
    """The bounds and costs the families set for a variant (cipopt.model.family.RowBounds)."""

    bounds: Bounds
    rows: dict
    form: StandardForm
    pair_columns: np.ndarray
    model: object
    base: Instance

    def has_row(self, name: str, index) -> bool:
        return (name, index) in self.rows

    def set_row(self, name: str, index, lower: float, upper: float, what: str) -> None:
        j = self.rows.get((name, index))
        if j is None:
            if lower > 0 or upper < 0:  # the built row was empty (no scheme contributes)
                self.bounds.infeasible.append(f"{what}: no eligible scheme can contribute to it")
            return
        self.bounds.row_lower[j], self.bounds.row_upper[j] = lower, upper

    def raise_row_lower(self, name: str, index, lower: float) -> None:
        self.bounds.row_lower[self.rows[name, index]] = lower

    def close_start(self, pair: int) -> None:
        if self.pair_columns[pair] >= 0:
            self.bounds.col_upper[self.pair_columns[pair]] = 0.0

    def force_start(self, pair: int) -> None:
        if self.pair_columns[pair] < 0:
            self.bounds.forced_pairs.append(pair)
        else:
            self.bounds.col_lower[self.pair_columns[pair]] = 1.0

    def infeasible(self, message: str) -> None:
        self.bounds.infeasible.append(message)

    def set_start_costs(self, values: np.ndarray) -> None:
        present = self.pair_columns >= 0
        self.bounds.col_cost[self.pair_columns[present]] = values[present]

    def set_var_cost(self, var, cost: float) -> None:
        j = self.form.column_of.get(id(var))
        if j is not None:
            self.bounds.col_cost[j] = cost


def variant_bounds(
    built: BuiltModel, form: StandardForm, rows: dict, pair_columns: np.ndarray, variant: Instance
) -> Bounds:
    """The bounds and costs that make the built model the variant's; `NotInPlace` when none can."""
    why = structure_change(built.ctx, variant)
    if why:
        raise NotInPlace(why)
    b = Bounds.of(form)
    writer = Rebounds(b, rows, form, pair_columns, built.model, built.ctx.instance)
    ctx = ModelContext(instance=variant, coef=built.coef)
    for family in FAMILIES:
        family.rebound(ctx, writer)
    return b
