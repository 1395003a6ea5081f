"""`objective.risk: cvar | chance` against brute force over every plan of tiny instances.

The brute force shares only the scenario draws with the model (`cipopt.uncertainty.sample`, the
documented procedure): each plan's scenario net savings come from plain loops over schemes and
years (tests/bruteforce.py's reading of the format), its CVaR from the definition (the least of
Rockafellar and Uryasev's function over its breakpoints), its base objective from
tests/bruteforce.py under `risk: expected`.
"""

from __future__ import annotations

import itertools
import math
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from bruteforce import evaluate, scheme_value, share_of
from cipopt.check import check_plan
from cipopt.cli import main
from cipopt.pipeline import Planner, SolveOptions
from cipopt.uncertainty import sample
from instances_factory import make_instance, scheme

ROOT = Path(__file__).resolve().parents[1]
EXACT = SolveOptions(mip_gap=0.0, time_limit=60)
YEARS = (2025, 2026)


def tiny(u=(30.0, 95.0), **objective):
    return make_instance(
        years=YEARS, discount_rate=0.1,
        risk_groups=({"id": "wf", "correlation": 0.6},),
        schemes=(
            scheme("a", recurrent_saving=60.0, first_year_fraction=0.5, confidence=0.6, one_off_cost=5.0,
                   delivery_low=0.5, delivery_high=1.2, risk_group="wf"),
            scheme("b", recurrent_saving=45.0, first_year_fraction=1.0, confidence=0.9, running_cost=4.0,
                   slip_probability=0.3, delivery_low=0.8, delivery_likely=0.9, delivery_distribution="pert"),
            scheme("c", recurrent_saving=80.0, first_year_fraction=0.5, confidence=0.5, capital_cost=30.0,
                   risk_group="wf", earliest_start=2025, latest_start=2025),
            scheme("d", recurrent_saving=30.0, first_year_fraction=1.0, confidence=0.95, one_off_cost=20.0),
            scheme("e", recurrent_saving=25.0, first_year_fraction=0.5),  # a sure, smaller alternative to a
        ),
        relations=({"kind": "excludes", "a": "a", "b": "e"},),
        targets=({"id": "u", "basis": "recurrent", "values": {2025: u[0], 2026: u[1]}, "shortfall_penalty": 0.5},
                 {"id": "cash", "basis": "in_year", "values": {2026: 90.0}, "shortfall_penalty": 0.2}),
        limits=({"id": "capital", "metric": "capital_cost", "values": {2025: 25.0}},),  # c can never run
        objective={"mode": "net_present_value", "seed": 7, **objective},
    )


def plans(instance):
    options = []
    for s in instance.schemes:
        lo = s.earliest_start or YEARS[0]
        hi = s.latest_start or YEARS[-1]
        options.append([None, *range(lo, hi + 1)])
    for starts in itertools.product(*options):
        yield {s.id: t for s, t in zip(instance.schemes, starts)}


def scenario_achieved(instance, draws, plan, target) -> list[list[float]]:
    """Per draw, per year of the target: its net saving, by plain loops."""
    savings = ("saving",) if target.basis == "recurrent" else ("saving", "nonrecurrent_saving")
    costs = ("running_cost",) if target.basis == "recurrent" else ("running_cost", "one_off_cost", "double_running_cost")
    out = []
    for w in range(draws.n):
        row = []
        for y in sorted(target.values):
            total = 0.0
            for j, s in enumerate(instance.schemes):
                t = plan[s.id]
                if t is None:
                    continue
                start = t + int(draws.slipped[w, j])
                if y >= start:
                    got = draws.multiplier[w, j] if draws.delivered[w, j] else 0.0
                    total += got * sum(scheme_value(s, m, y - start, {}) * share_of(instance, s, target.org, m)
                                       for m in savings)
                if y >= t:
                    total -= sum(scheme_value(s, m, y - t, {}) * share_of(instance, s, target.org, m) for m in costs)
            row.append(total)
        out.append(row)
    return out


def losses(instance, draws, plan, ids) -> list[float]:
    out = [0.0] * draws.n
    for target in instance.targets:
        if target.id not in ids:
            continue
        years = sorted(target.values)
        for w, row in enumerate(scenario_achieved(instance, draws, plan, target)):
            for y, got in zip(years, row):
                out[w] += (1 + instance.discount_rate) ** -(y - YEARS[0]) * max(0.0, target.values[y] - got)
    return out


def cvar_by_definition(values: list[float], alpha: float) -> float:
    n = len(values)
    return min(eta + sum(max(0.0, v - eta) for v in values) / ((1 - alpha) * n) for eta in values)


def base_objective(instance, plan):
    ok, value = evaluate(instance.model_copy(update={"objective": instance.objective.model_copy(
        update={"risk": "expected"})}), plan)
    return ok, value


def solve(instance):
    outcome = Planner(instance).solve(EXACT)
    assert outcome.status.value == "optimal", outcome.messages
    assert outcome.check.ok
    return outcome


def test_cvar_penalty_matches_brute_force_over_every_plan():
    inst = tiny(risk="cvar", alpha=0.75, draws=24, cvar_penalty=0.8)
    draws = sample(inst, 7, 24)
    best = -math.inf
    for plan in plans(inst):
        ok, value = base_objective(inst, plan)
        if ok:
            best = max(best, value - 0.8 * cvar_by_definition(losses(inst, draws, plan, {"u", "cash"}), 0.75))
    outcome = solve(inst)
    assert outcome.objective == pytest.approx(best, abs=1e-6)
    assert outcome.check.objective == pytest.approx(best, abs=1e-6)
    # the penalty changed the choice: the expected-value plan is not the CVaR plan here
    expected = solve(inst.model_copy(update={"objective": inst.objective.model_copy(update={"risk": "expected"})}))
    assert expected.plan != outcome.plan


def test_cvar_bound_matches_brute_force_and_the_checker_enforces_it():
    inst = tiny(risk="cvar", alpha=0.8, draws=20, cvar_max=25.0, risk_targets=("u",))
    draws = sample(inst, 7, 20)
    best, values = -math.inf, {}
    for plan in plans(inst):
        ok, value = base_objective(inst, plan)
        risk = cvar_by_definition(losses(inst, draws, plan, {"u"}), 0.8)
        values[tuple(plan.values())] = (ok, value, risk)
        if ok and risk <= 25.0 + 1e-9:
            best = max(best, value)
    unbounded = max(v for ok, v, _ in values.values() if ok)
    assert best < unbounded - 1e-6  # the bound binds
    outcome = solve(inst)
    assert outcome.objective == pytest.approx(best, abs=1e-6)
    assert outcome.check.risk_figures["risk_cvar"] <= 25.0 + 1e-6
    worst = max((p for p in plans(inst) if values[tuple(p.values())][0] and values[tuple(p.values())][2] > 26),
                key=lambda p: values[tuple(p.values())][2])
    report = check_plan(inst, worst)
    assert [v.rule for v in report.violations] == ["risk_cvar"]
    assert report.risk_figures["risk_cvar"] == pytest.approx(values[tuple(worst.values())][2], rel=1e-9)


def test_chance_constraint_matches_brute_force():
    inst = tiny(u=(20.0, 85.0), risk="chance", draws=30, chance_target="u", chance_probability=0.8)
    draws = sample(inst, 7, 30)
    target = inst.targets[0]
    allowed = math.floor(0.2 * 30 + 1e-9)
    best, shares = -math.inf, []
    for plan in plans(inst):
        ok, value = base_objective(inst, plan)
        rows = scenario_achieved(inst, draws, plan, target)
        misses = sum(any(got < target.values[y] - 1e-9 for y, got in zip(sorted(target.values), row)) for row in rows)
        shares.append(1 - misses / 30)
        if ok and misses <= allowed:
            best = max(best, value)
    unconstrained = max(base_objective(inst, p)[1] for p in plans(inst) if base_objective(inst, p)[0])
    assert best < unconstrained - 1e-6  # the probability binds
    outcome = solve(inst)
    assert outcome.objective == pytest.approx(best, abs=1e-6)
    assert outcome.check.risk_figures["risk_chance_met"] >= 0.8 - 1e-9
    low = next(p for p, share in zip(plans(inst), shares) if share < 0.8 and base_objective(inst, p)[0])
    assert [v.rule for v in check_plan(inst, low).violations] == ["risk_chance"]


def test_a_variant_with_other_risk_settings_or_targets_is_rebuilt():
    inst = tiny(risk="cvar", alpha=0.75, draws=24, cvar_penalty=0.8)
    planner = Planner(inst)
    base = planner.solve(EXACT)
    for update in ({"cvar_penalty": 0.0}, {"seed": 8}, {"risk": "expected"}):
        variant = inst.model_copy(update={"objective": inst.objective.model_copy(update=update)})
        again = planner.solve(EXACT, variant=variant)
        assert again.objective == pytest.approx(Planner(variant).solve(EXACT).objective, abs=1e-6)
    harder = inst.model_copy(update={"targets": (inst.targets[0].model_copy(update={"values": {2025: 60.0, 2026: 150.0}}),
                                                 inst.targets[1])})
    moved = planner.solve(EXACT, variant=harder)
    assert moved.objective == pytest.approx(Planner(harder).solve(EXACT).objective, abs=1e-6)
    assert moved.objective < base.objective
    independent = inst.model_copy(update={"risk_groups": (inst.risk_groups[0].model_copy(update={"correlation": 0.0}),)})
    assert planner.solve(EXACT, variant=independent).objective == pytest.approx(
        Planner(independent).solve(EXACT).objective, abs=1e-6)
    assert planner.rebuilds == 5


def test_the_checker_values_the_risk_term_like_the_model():
    inst = tiny(risk="cvar", alpha=0.9, draws=40, cvar_penalty=1.0)
    plan = {"a": 2025, "b": 2026, "c": None, "d": 2025, "e": None}
    outcome = Planner(inst).evaluate(plan)
    assert outcome.status.value == "feasible", outcome.messages
    by_hand = base_objective(inst, plan)[1] - cvar_by_definition(
        losses(inst, sample(inst, 7, 40), plan, {"u", "cash"}), 0.9)
    assert outcome.objective == pytest.approx(by_hand, abs=1e-6)
    assert outcome.check.objective == pytest.approx(by_hand, abs=1e-6)


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.mark.parametrize("objective, message", [
    ("{mode: net_present_value, risk: cvar}", "risk cvar needs cvar_max"),
    ("{risk: chance, chance_target: underlyng, chance_probability: 0.8}", "unknown target 'underlyng'"),
    ("{risk: chance, chance_target: underlying}", "risk chance needs chance_probability"),
    ("{risk: cvar, cvar_max: 10, alpha: 1}", "key objective.alpha"),
    ("{risk: cvar, cvar_penalty: 1, risk_targets: [nope]}", "key objective.risk_targets[0]: unknown target 'nope'"),
])
def test_incomplete_risk_settings_are_bad_input(tmp_path, objective, message):
    folder = tmp_path / "inst"
    shutil.copytree(ROOT / "instances" / "tiny", folder)
    text = (folder / "instance.yaml").read_text()
    start = text.index("objective:")
    end = text.index("solver:")
    (folder / "instance.yaml").write_text(text[:start] + f"objective: {objective}\n" + text[end:])
    result = run("solve", folder, "--no-store")
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_an_unreachable_probability_is_infeasible_and_says_how_far_it_can_go():
    inst = tiny(u=(20.0, 85.0), risk="chance", draws=30, chance_target="u", chance_probability=1.0)
    outcome = Planner(inst).solve(EXACT)
    assert outcome.status.value == "infeasible"
    best = max(sum(not any(got < inst.targets[0].values[y] - 1e-9
                           for y, got in zip(sorted(inst.targets[0].values), row))
                   for row in scenario_achieved(inst, sample(inst, 7, 30), plan, inst.targets[0]))
               for plan in plans(inst) if base_objective(inst, plan)[0])
    assert f"target u can be met in at most {best} of the 30 scenarios" in " ".join(outcome.messages)
