"""Build the Pyomo model from an instance: the ordered registry of constraint families.

Each family module has `add_to(model, ctx, notes)` and adds the components named in
docs/formulation.md; the order matters only in that selection comes first (it makes the start
variables) and targets come before the objective (they make the shortfall variables).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyomo.environ as pyo

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
