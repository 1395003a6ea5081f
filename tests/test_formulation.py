"""docs/formulation.md and the built model name the same components, both ways."""

from __future__ import annotations

import re
from pathlib import Path

import pyomo.environ as pyo

from cipopt.model.build import build_model
from golden import make

DOC = Path(__file__).resolve().parents[1] / "docs" / "formulation.md"
MODEL_NAME = re.compile(r"`((?:c|v|o)_[a-z_]+|[A-Z][A-Z_]+)`")


def every_family_instance():
    return make(
        [{"id": "A", "recurrent_saving": 100, "mandatory": True},
         {"id": "B", "recurrent_saving": 50, "pmo_days": 2},
         {"id": "C", "recurrent_saving": 40, "experience": -1},
         {"id": "D", "recurrent_saving": 30}],
        targets=[{"id": "u", "basis": "recurrent", "values": {2026: 10}},
                 {"id": "cash", "basis": "in_year", "values": {2025: 1}, "hard": True}],
        limits=[{"id": "pmo", "metric": "pmo_days", "values": {2025: 5}}],
        quality={"portfolio_min": {"experience": -1}},
        relations=[{"kind": "requires", "a": "B", "b": "A"}, {"kind": "excludes", "a": "C", "b": "D"},
                   {"kind": "together", "a": "B", "b": "D"}, {"kind": "precedes", "a": "A", "b": "C", "lag": 1}],
    )


def risk_instances():
    """The risk family in both of its forms (docs/risk.md), on the same schemes and targets."""
    base = every_family_instance()
    cvar = {"risk": "cvar", "draws": 5, "cvar_max": 100.0, "cvar_penalty": 1.0}
    chance = {"risk": "chance", "draws": 5, "chance_target": "u", "chance_probability": 0.6}
    return [base.model_copy(update={"objective": base.objective.model_copy(update=o)}) for o in (cvar, chance)]


def finance_instance():
    """The bottom line (docs/finance.md): a soft control total and a fund conditioned on it and a target."""
    base = every_family_instance()
    finance = {
        "organisations": [{"org": "trust", "opening_cash": 10, "do_nothing": {2025: {"income": 100, "pay": 90}}}],
        "control_totals": [{"id": "ct", "values": {2025: 20, 2026: 0}, "shortfall_penalty": 0.5}],
        "incentive_funds": [{"id": "psf", "org": "trust", "values": {2025: 5, 2026: 5}, "conditions": ["ct", "u"]}],
        "cost_baselines": [{"id": "agency", "schemes": ["B", "C"], "values": {2026: 60}}],
    }
    return base.model_validate({**base.model_dump(), "finance": finance})


def model_names():
    names = set()
    for instance in [every_family_instance(), *risk_instances(), finance_instance()]:
        m = build_model(instance).model
        for ctype in (pyo.Set, pyo.Var, pyo.Constraint, pyo.Objective):
            for component in m.component_objects(ctype, descend_into=True):
                if not component.name.endswith("_index"):  # Pyomo's implicit index sets
                    names.add(component.name)
    return names


def test_every_model_component_is_documented_and_back():
    documented = set(MODEL_NAME.findall(DOC.read_text()))
    built = model_names()
    assert built - documented == set(), "components missing from docs/formulation.md"
    assert documented - built == set(), "docs/formulation.md names components the model lacks"


def test_every_family_builds_rows():
    m = build_model(every_family_instance()).model
    for name in ("c_mandatory", "c_start_once", "c_target_recurrent", "c_target_in_year", "c_limit",
                 "c_quality_floor", "c_requires", "c_excludes", "c_together", "c_precedes"):
        assert len(getattr(m, name)) > 0, name
    m = build_model(finance_instance()).model
    for name in ("c_control_total", "c_incentive_condition", "c_cost_baseline"):
        assert len(getattr(m, name)) > 0, name
    cvar, chance = (build_model(i).model for i in risk_instances())
    for m, names in ((cvar, ("c_risk_shortfall", "c_cvar_excess", "c_cvar_max")),
                     (chance, ("c_chance_target", "c_chance_count"))):
        for name in names:
            assert len(getattr(m, name)) > 0, name
