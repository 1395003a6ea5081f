"""Re-solving a built model for variants of its instance gives what a fresh build gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from cipopt.io.load import load_instance
from cipopt.pipeline import Planner, SolveOptions

ROOT = Path(__file__).resolve().parents[1]
EXACT = SolveOptions(mip_gap=0.0, time_limit=120)


@pytest.fixture(scope="module")
def holby():
    """Holby without its bottom line: an instance with `finance` is rebuilt for every variant by
    design (docs/finance.md), so the in-place re-solve is tested on the rest of it."""
    return load_instance(ROOT / "instances" / "holby").model_copy(update={"finance": None})


def test_a_variant_of_an_instance_with_a_bottom_line_is_rebuilt_and_equals_a_fresh_build():
    full = load_instance(ROOT / "instances" / "holby")
    planner = Planner(full)
    planner.solve(EXACT)
    variant = with_limit(full, "capital", 0.5)
    before = planner.rebuilds
    again = planner.solve(EXACT, variant=variant)
    assert planner.rebuilds == before + 1
    assert again.objective == pytest.approx(Planner(variant).solve(EXACT).objective, rel=1e-9)


@pytest.fixture(scope="module")
def planner(holby):
    return Planner(holby)


@pytest.fixture(scope="module")
def base_objective(planner):
    return planner.solve(EXACT).objective


def with_limit(inst, limit_id, factor):
    limits = tuple(
        lim.model_copy(update={"values": {y: v * factor for y, v in lim.values.items()}})
        if lim.id == limit_id else lim for lim in inst.limits)
    return inst.model_copy(update={"limits": limits})


def with_scheme(inst, sid, **changes):
    schemes = tuple(s.model_copy(update=changes) if s.id == sid else s for s in inst.schemes)
    return inst.model_copy(update={"schemes": schemes})


def variants(inst):
    first_optional = next(s for s in inst.schemes if not s.mandatory and s.id in inst_selected_ids(inst))
    return {
        "capital halved": with_limit(inst, "capital", 0.5),
        "pmo doubled": with_limit(inst, "pmo", 2.0),
        "penalties x3": inst.model_copy(update={"targets": tuple(
            t.model_copy(update={"shortfall_penalty": t.shortfall_penalty * 3}) for t in inst.targets)}),
        "window narrowed": with_scheme(inst, first_optional.id, earliest_start=first_optional.latest_start or 2029,
                                       latest_start=first_optional.latest_start or 2029),
        "mandatory dropped": with_scheme(inst, next(s.id for s in inst.schemes if s.mandatory), mandatory=False),
        "expensive scheme forced in": with_scheme(inst, "ward-closure", mandatory=True),
    }


_selected_cache: dict = {}


def inst_selected_ids(inst):
    key = inst.sha256()
    if key not in _selected_cache:
        _selected_cache[key] = set(Planner(inst).solve(EXACT).selected)
    return _selected_cache[key]


@pytest.mark.parametrize("name", ["capital halved", "pmo doubled", "penalties x3", "window narrowed",
                                  "mandatory dropped", "expensive scheme forced in"])
def test_in_place_variant_equals_fresh_build(planner, holby, base_objective, name):
    variant = variants(holby)[name]
    before = planner.rebuilds
    in_place = planner.solve(EXACT, variant=variant)
    assert planner.rebuilds == before, "this variant should not need a rebuild"
    fresh = Planner(variant).solve(EXACT)
    assert in_place.status == fresh.status
    if fresh.objective is not None:
        assert in_place.objective == pytest.approx(fresh.objective, rel=1e-9, abs=1e-6)
        assert in_place.check.ok
    # and the base is restored afterwards
    assert planner.solve(EXACT).objective == pytest.approx(base_objective, rel=1e-9)


def test_structural_variant_is_rebuilt(planner, holby):
    richer = with_scheme(holby, "epr", recurrent_saving=5000)
    before = planner.rebuilds
    out = planner.solve(EXACT, variant=richer)
    assert planner.rebuilds == before + 1
    assert out.objective == pytest.approx(Planner(richer).solve(EXACT).objective, rel=1e-9)
    assert out.instance is richer


def test_a_warm_start_does_not_change_the_optimum(planner, holby):
    base = planner.solve(EXACT)
    again = planner.solve(EXACT, start=base.plan)
    assert again.objective == pytest.approx(base.objective, rel=1e-9)
