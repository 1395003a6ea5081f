"""Build the Pyomo model from an instance: the ordered registry of constraint families.

Each family module has `add_to(model, ctx, notes)` and adds the components named in
docs/formulation.md; the order matters only in that selection comes first (it makes the start
variables) and targets come before the objective (they make the shortfall variables).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyomo.core as pyo

from cipopt.bulk import no_cyclic_gc
from cipopt.coefficients import Coefficients, build_coefficients
from cipopt.model import fairness, finance, limits, objective, quality, relations, risk, selection, targets
from cipopt.model.context import BuildNotes, ModelContext
from cipopt.schema.instance import Instance

FAMILIES = (selection, targets, limits, fairness, quality, relations, objective, finance, risk)  # finance and risk extend o_objective


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
            family.add_to(m, ctx, notes)
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
