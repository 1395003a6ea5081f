"""Three independent readings of the format page must agree on random small instances:
the checker (numpy), the brute-force evaluator of tests/bruteforce.py (plain loops) and the MIP.

The instances (tests/instances_factory.py) put every rule in play at once: windows, QIA
eligibility, mandatory schemes, relations of every kind with lags, limits of every sense per
organisation with shares, hard and soft targets of both bases, profiles, both risk modes.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cipopt.check import check_plan
from cipopt.schema.instance import Objective, Target

from bruteforce import all_plans, broken_rules, brute_force, evaluate
from instances_factory import instances, make_instance, plans, scheme

try:  # the solver pipeline is written alongside; if it is missing its tests fail, never skip
    from cipopt.pipeline import SolveOptions, solve_instance
    PIPELINE_ERROR: ImportError | None = None
except ImportError as exc:  # pragma: no cover - only while the pipeline does not exist
    PIPELINE_ERROR = exc

REL = 1e-6  # objectives agree to this, relative (HiGHS' tolerances are 1e-6 to 1e-7)
ALL_MODES = ("net_present_value", "savings", "weighted_score")
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def close(a: float, b: float, rel: float = REL) -> bool:
    return abs(a - b) <= rel * max(1.0, abs(a), abs(b))


@pytest.mark.slow
@SETTINGS
@given(st.data())
def test_checker_and_bruteforce_evaluator_agree_on_random_plans(data):
    instance = data.draw(instances(max_schemes=6, max_years=4, modes=ALL_MODES))
    plan = data.draw(plans(instance))
    report = check_plan(instance, plan)
    broken, value = broken_rules(instance, plan)
    event("feasible plan" if not broken else f"{len(broken)} rule kind(s) broken")
    assert {v.rule for v in report.violations} == broken, report.lines()
    assert report.ok == (not broken) == evaluate(instance, plan)[0]
    assert close(report.objective, value, 1e-9), (report.objective, value)


@pytest.mark.slow
@settings(SETTINGS, max_examples=25)
@given(instances(max_schemes=4, max_years=3, modes=ALL_MODES))
def test_checker_accepts_the_bruteforce_optima_and_judges_plans_alike(instance):
    best, optima = brute_force(instance)
    event("infeasible instance" if best is None else "feasible instance")
    for plan in optima:
        report = check_plan(instance, plan)
        assert report.ok, report.lines()
        assert close(report.objective, best, 1e-9)
    # plans within the windows (up to ~60 of them, spread evenly): the same verdicts
    every = list(all_plans(instance))
    for plan in every[:: max(1, len(every) // 60)]:
        assert {v.rule for v in check_plan(instance, plan).violations} == broken_rules(instance, plan)[0], plan


def solve(instance):
    if PIPELINE_ERROR is not None:
        pytest.fail(f"cipopt.pipeline cannot be imported: {PIPELINE_ERROR}")
    return solve_instance(instance, SolveOptions(mip_gap=0.0))


def assert_mip_agrees_with_bruteforce(instance) -> None:
    best, _ = brute_force(instance)
    outcome = solve(instance)
    if best is None:
        assert outcome.status == "infeasible", (outcome.status, outcome.messages)
        return
    assert outcome.status == "optimal", (outcome.status, outcome.messages)
    assert outcome.objective is not None and close(outcome.objective, best), (outcome.objective, best)
    plan = {s.id: outcome.plan.get(s.id) for s in instance.schemes}
    report = check_plan(instance, plan)
    assert report.ok, report.lines()
    assert close(report.objective, best)
    feasible, value = evaluate(instance, plan)
    assert feasible and close(value, best)


@pytest.mark.slow
@settings(SETTINGS, max_examples=45)
@given(instances(max_schemes=5, max_years=3, modes=ALL_MODES))
def test_mip_optimum_equals_bruteforce_and_the_checker_accepts_its_plan(instance):
    event("npv / savings / score: " + instance.objective.mode)
    assert_mip_agrees_with_bruteforce(instance)


def test_an_infeasible_instance_is_infeasible_for_mip_and_bruteforce():
    # 100 recurrent at most: a hard target of 500 cannot be met by any plan
    instance = make_instance(
        schemes=(scheme("A", recurrent_saving=100), scheme("B", recurrent_saving=20)),
        targets=(Target(id="cip", values={2027: 500}, hard=True),),
        objective=Objective(risk="none"))
    assert brute_force(instance) == (None, [])
    assert solve(instance).status == "infeasible"


def test_a_feasible_instance_with_a_known_optimum():
    # r = 0, risk none, savings: A started 2025 saves 50 + 100 + 100 = 250 against B's
    # 20 + 40 + 40 = 100; they exclude each other, so A alone is best (250).
    from cipopt.schema.instance import Relation

    instance = make_instance(
        schemes=(scheme("A", recurrent_saving=100), scheme("B", recurrent_saving=40)),
        relations=(Relation(kind="excludes", a="A", b="B"),), discount_rate=0.0,
        objective=Objective(mode="savings", risk="none"))
    best, optima = brute_force(instance)
    assert best == pytest.approx(250) and optima == [{"A": 2025, "B": None}]
    assert_mip_agrees_with_bruteforce(instance)
