"""Build the Pyomo model from an instance: the ordered registry of constraint families.

Each family module exports `FAMILY` (cipopt.model.family.Family): its build `add_to(model, ctx,
notes)`, the rows it adds (named in docs/formulation.md), the instance fields it reads, how a
variant re-bounds them, its relaxation price and its words. The order matters only in that
selection comes first (it makes the start variables) and targets come before the objective (they
make the shortfall variables); finance and risk extend o_objective.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyomo.core as pyo

from cipopt.bulk import no_cyclic_gc
from cipopt.coefficients import Coefficients, build_coefficients
from cipopt.model import fairness, finance, limits, objective, quality, relations, risk, selection, targets
from cipopt.model.context import BuildNotes, ModelContext, recorded_rows
from cipopt.model.family import Family
from cipopt.schema.instance import Instance
from cipopt.schema.rules import RuleRef

FAMILIES: tuple[Family, ...] = tuple(module.FAMILY for module in (
    selection, targets, limits, fairness, quality, relations, objective, finance, risk))
FAMILY_OF_ROW: dict[str, Family] = {name: family for family in FAMILIES for name in family.rows}


@dataclass
class BuiltModel:
    model: pyo.ConcreteModel
    ctx: ModelContext
    notes: BuildNotes

    @property
    def coef(self) -> Coefficients:
        return self.ctx.coef


def build_model(instance: Instance, coef: Coefficients | None = None) -> BuiltModel:
    ctx = ModelContext(instance=instance, coef=coef or build_coefficients(instance))
    m = pyo.ConcreteModel(name=instance.name)
    notes = BuildNotes()
    with no_cyclic_gc():  # a million expression terms: the collector would dominate (see bulk.py)
        for family in FAMILIES:
            before = len(recorded_rows(m))
            family.add_to(m, ctx, notes)
            stray = [b.name for b in recorded_rows(m)[before:] if not family.owns(b.name)]
            if stray:  # the LP file's row names are the families' declared rows, and only those
                raise RuntimeError(f"family {family.name} added rows it does not declare: {', '.join(stray)}")
    return BuiltModel(model=m, ctx=ctx, notes=notes)


class UniqueLPNames:
    """LP-file names for `cipopt build --lp`: Pyomo's readable names, made unique.

    The LP format allows few characters, so Pyomo writes `v_start[e-rostering,2025]` and
    `v_start[e_rostering,2025]` both as `v_start(e_rostering_2025)`; any two ids may meet so.
    A name already taken by another component gets the first free suffix `_2`, `_3`, ..."""

    def __init__(self):
        from pyomo.core.base.label import LPFileLabeler

        self._readable = LPFileLabeler()
        self._taken: set[str] = set()
        self._named: dict[int, tuple[object, str]] = {}

    def __call__(self, component) -> str:
        known = self._named.get(id(component))
        if known is not None and known[0] is component:
            return known[1]
        base = self._readable(component)
        name, n = base, 1
        while name in self._taken:
            n += 1
            name = f"{base}_{n}"
        self._taken.add(name)
        self._named[id(component)] = (component, name)
        return name


def write_lp(model, path: str) -> None:
    """The model as an LP file whose names are readable and unique, whatever the ids."""
    import pyomo.environ  # noqa: F401  (registers the LP writer; the rest of cipopt needs only pyomo.core)

    model.write(str(path), io_options={"symbolic_solver_labels": True, "labeler": UniqueLPNames()})


def rule_rows(ref: RuleRef, instance: Instance) -> list[tuple[str, object]]:
    """(row name, index) of every row the rule may have (one per year it names; a quality floor: every
    year), from the family that holds it; a row the build left out (no scheme counts in it) is absent
    from the loaded model."""
    return [row for family in FAMILIES for row in family.rule_rows(ref, instance)]
