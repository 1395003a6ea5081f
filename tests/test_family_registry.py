"""The constraint families' registry: every family states every part, owns its rows, and declares
every instance field it reads (so that no variant can re-solve in place with stale rows).

The reads are recorded, not trusted: the instance is wrapped in a proxy that notes each field
read while a family builds (its coefficients included, from a fresh Coefficients object, so a
matrix another family made first cannot hide a read), and the record must lie within what the
family declares.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import types
from pathlib import Path

import pyomo.environ as pyo
import pytest

import cipopt.model
from cipopt.coefficients import build_coefficients
from cipopt.model import build
from cipopt.model.context import BuildNotes, ModelContext, recorded_rows
from cipopt.model.family import Family
from cipopt.schema.instance import Instance
from cipopt.schema.rules import RuleRef
from cipopt.solve.variant import changed_fields, structure_change
from instances_factory import load_clean

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = [ROOT / "instances" / n for n in ("tiny", "holby", "fund", "system")]
RISKY = ROOT / "examples" / "holby-risk"


def _risk(instance: Instance, **objective) -> Instance:
    return instance.model_copy(update={"objective": instance.objective.model_copy(
        update={"draws": 20, **objective})})


@pytest.fixture(scope="module")
def instances() -> dict[str, Instance]:
    out = {p.name: load_clean(p) for p in SHIPPED}
    risky = load_clean(RISKY)
    out["cvar"] = _risk(risky, risk="cvar", cvar_max=1e9)
    out["chance"] = _risk(risky, risk="chance", chance_target=risky.targets[0].id, chance_probability=0.5)
    return out


class Recording:
    """An Instance whose field reads are noted in `self.reads` (properties and methods run on the
    proxy, so the fields they read are noted too)."""

    def __init__(self, real: Instance):
        object.__setattr__(self, "_real", real)
        object.__setattr__(self, "reads", set())

    def __getattr__(self, name):
        real = object.__getattribute__(self, "_real")
        if name in type(real).model_fields:
            object.__getattribute__(self, "reads").add(name)
            return getattr(real, name)
        attr = getattr(type(real), name, None)
        if isinstance(attr, property):
            return attr.fget(self)
        if isinstance(attr, types.FunctionType):
            return attr.__get__(self)
        return getattr(real, name)


def _recorded_reads(instance: Instance) -> dict[str, set[str]]:
    """Per family, the instance fields read while it built (after the families before it)."""
    out = {}
    for k, family in enumerate(build.FAMILIES):
        proxy = Recording(instance)
        before = ModelContext(instance=proxy, coef=build_coefficients(proxy))
        m = pyo.ConcreteModel()
        for earlier in build.FAMILIES[:k]:  # the variables it builds on
            earlier.add_to(m, before, BuildNotes())
        fresh = ModelContext(instance=proxy, coef=build_coefficients(proxy))
        proxy.reads.clear()  # what the coefficients read when built is counted below
        family.add_to(m, fresh, BuildNotes())
        out[family.name] = set(proxy.reads)
    # what building the coefficients reads is the selection family's (it makes the columns)
    proxy = Recording(instance)
    build_coefficients(proxy)
    out["selection"] |= proxy.reads
    return out


def test_every_family_module_is_registered_once():
    package = Path(cipopt.model.__file__).parent
    with_family = []
    for info in pkgutil.iter_modules([str(package)]):
        module = importlib.import_module(f"cipopt.model.{info.name}")
        if isinstance(getattr(module, "FAMILY", None), Family):
            with_family.append(module.FAMILY)
        else:
            assert not hasattr(module, "add_to"), f"cipopt.model.{info.name} builds rows but exports no FAMILY"
    assert sorted(f.name for f in with_family) == sorted(f.name for f in build.FAMILIES)
    assert len({f.name for f in build.FAMILIES}) == len(build.FAMILIES)


@pytest.mark.parametrize("family", build.FAMILIES, ids=lambda f: f.name)
def test_every_family_states_every_part(family):
    for part in dataclasses.fields(Family):
        value = getattr(family, part.name)
        assert value is not None, f"{family.name} lacks {part.name}"
        if part.name not in ("name", "rows", "rebounds"):
            assert callable(value), f"{family.name}.{part.name} is not callable"
    assert family.rebounds <= set(Instance.model_fields)


def test_a_family_lacking_a_part_cannot_be_made():
    parts = {f.name: None for f in dataclasses.fields(Family)}
    del parts["price"]
    with pytest.raises(TypeError, match="price"):
        Family(**parts)


def test_each_row_belongs_to_one_family():
    names = [n for f in build.FAMILIES for n in f.rows]
    assert len(names) == len(set(names))
    assert set(build.FAMILY_OF_ROW) == set(names)


@pytest.mark.parametrize("name", ["tiny", "holby", "fund", "system", "cvar", "chance"])
def test_every_built_row_is_a_familys_and_has_words(instances, name):
    instance = instances[name]
    built = build.build_model(instance)
    blocks = recorded_rows(built.model)
    assert blocks, "the model has rows"
    for block in blocks:
        family = build.FAMILY_OF_ROW.get(block.name)
        assert family is not None, f"row {block.name} is no family's"
        for key in block.keys[:3]:
            words = family.words(block.name, key, instance)
            assert isinstance(words, str) and words and "c_" not in words
            price = family.price(block.name, 1.0, 1.0)
            assert price is None or price > 0


@pytest.mark.parametrize("name", ["tiny", "holby", "fund", "system", "cvar", "chance"])
def test_a_family_reads_only_the_fields_it_declares(instances, name):
    instance = instances[name]
    for family, reads in _recorded_reads(instance).items():
        declared = next(f for f in build.FAMILIES if f.name == family).reads(instance)
        assert reads <= declared, f"{family} reads {sorted(reads - declared)} without declaring them"


def test_the_recording_catches_an_undeclared_read(instances, monkeypatch):
    """The check above can fail: a family that reads one more field is caught."""
    import cipopt.model.relations as relations

    original = relations.add_to

    def reads_more(m, ctx, notes):
        ctx.instance.risk_groups  # a read the family does not declare
        original(m, ctx, notes)

    family = dataclasses.replace(relations.FAMILY, add_to=reads_more)
    monkeypatch.setattr(build, "FAMILIES", tuple(family if f.name == "relations" else f for f in build.FAMILIES))
    reads = _recorded_reads(instances["tiny"])["relations"]
    assert "risk_groups" in reads and "risk_groups" not in family.reads(instances["tiny"])


def test_a_field_a_family_reads_without_rebounding_it_rebuilds(instances):
    """Every field some family reads but cannot re-bound forces a fresh build; a field no family
    reads (the solver options) does not."""
    base = instances["tiny"]
    ctx = build.build_model(base).ctx
    other_rate = base.model_copy(update={"discount_rate": base.discount_rate + 0.01})
    assert changed_fields(base, other_rate) == {"discount_rate"}
    assert "discount_rate" in (structure_change(ctx, other_rate) or "")
    solver = base.model_copy(update={"solver": base.solver.model_copy(update={"mip_gap": 0.5})})
    assert structure_change(ctx, solver) is None
    if base.limits:
        ref = RuleRef("limit", base.limits[0].id)
        eased = ref.with_values(base, {y: v * 2 for y, v in ref.values(base).items()})
        assert structure_change(ctx, eased) is None
    renamed = base.model_copy(update={"relations": base.relations[1:]})
    if base.relations:
        assert "relations" in (structure_change(ctx, renamed) or "")


def test_rule_rows_name_rows_of_the_built_model(instances):
    instance = instances["holby"]
    built = build.build_model(instance)
    have = {(b.name, k) for b in recorded_rows(built.model) for k in b.keys}
    refs = [r for f in build.FAMILIES for r in f.rules(instance)]
    assert {r.kind for r in refs} >= {"target", "limit"}
    for ref in refs:
        rows = build.rule_rows(ref, instance)
        assert rows, ref
        assert all(build.FAMILY_OF_ROW[name].rule_rows(ref, instance) for name, _ in rows)
    assert any(row in have for ref in refs for row in build.rule_rows(ref, instance))


def test_rule_refs_round_trip_and_validate_bound_edits(instances):
    instance = instances["holby"]
    t = instance.targets[0]
    ref = RuleRef.from_measure(f"target:{t.id}")
    assert ref == RuleRef("target", t.id) and ref.measure == f"target:{t.id}"
    assert RuleRef.from_measure("recurrent_net_saving") is None
    assert RuleRef.from_measure("control_total:x") is None
    year = sorted(t.values)[0]
    edited = ref.with_value(instance, year, 123.0)
    assert RuleRef("target", t.id).values(edited)[year] == 123.0
    assert edited.targets[1:] == instance.targets[1:] and instance.targets[0].values[year] == t.values[year]
    with pytest.raises(ValueError, match="finite"):
        ref.with_value(instance, year, float("nan"))
    with pytest.raises(ValueError, match="plan year"):
        ref.with_value(instance, 1999, 1.0)
    with pytest.raises(ValueError):
        RuleRef("tagret", t.id)
    with pytest.raises(ValueError, match="no target"):
        RuleRef("target", "no-such-target").with_value(instance, year, 1.0)
    domain = instance.quality.domains[0]
    floored = RuleRef("quality", domain).with_value(instance, year, -5.0)
    assert floored.quality.portfolio_min[domain] == -5.0
    with pytest.raises(ValueError, match="one value"):
        RuleRef("quality", domain).with_values(instance, {y: float(i) for i, y in enumerate(instance.years)})


def test_years_rows_are_grouped_by_the_rule_they_measure():
    import pandas as pd

    years = pd.DataFrame({
        "measure": ["target:underlying", "target:underlying", "limit:capital", "control_total:holby",
                    "quality:experience", "recurrent_net_saving", "target:ct"],
        "org": ["holby", "holby", "all", "holby", "all", "all", "all"],
        "year": [2025, 2026, 2025, 2025, 2025, 2025, 2025],
        "value": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
    })
    targets = RuleRef.groups(years, "target")
    assert list(targets) == [RuleRef("target", "underlying", org="holby"), RuleRef("target", "ct", org="all")]
    assert targets[RuleRef("target", "underlying", org="holby")]["value"].tolist() == [1.0, 2.0]
    assert list(RuleRef.groups(years, "quality")) == [RuleRef("quality", "experience", org="all")]
    assert list(RuleRef.groups(years, "limit")) == [RuleRef("limit", "capital", org="all")]
    with pytest.raises(ValueError):
        RuleRef.groups(years, "control_total")
