"""Alternatives: exactly the best K plans under the difference rule, confirmed by brute force."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings

from bruteforce import all_plans, evaluate
from cipopt.analysis.alternatives import decisions_differ, find_alternatives
from cipopt.pipeline import Planner, SolveOptions
from golden import make
from instances_factory import instances

EXACT = SolveOptions(mip_gap=0.0)


def greedy_by_brute_force(instance, count, within, min_difference):
    """Every feasible plan, best first; then keep each that differs enough from all kept."""
    scored = sorted(((value, plan) for plan in all_plans(instance)
                     for ok, value in [evaluate(instance, plan)] if ok), key=lambda vp: -vp[0])
    if not scored:
        return None, []
    best = scored[0][0]
    floor = best - within * abs(best)
    kept = []
    for value, plan in scored:
        if value < floor - 1e-7 * max(1.0, abs(best)) or len(kept) == count:
            break
        if all(len(decisions_differ(plan, k)) >= min_difference for _, k in kept):
            kept.append((value, plan))
    return scored, kept


def test_three_distinct_plans_within_two_percent():
    # A alone is worth 300; adding B (+3), C (+2) or D (+1) each helps a little; B and C exclude.
    inst = make([{"id": "A", "recurrent_saving": 100}, {"id": "B", "recurrent_saving": 1},
                 {"id": "C", "recurrent_saving": 2, "one_off_cost": 4}, {"id": "D", "recurrent_saving": 1, "one_off_cost": 2}],
                relations=[{"kind": "excludes", "a": "B", "b": "C"}])
    alt = find_alternatives(Planner(inst), EXACT, count=3, within=0.02, min_difference=1)
    assert [round(p.objective, 6) for p in alt.plans] == [304.0, 303.0, 303.0] or len(alt.plans) == 3
    assert alt.plans[0].objective == pytest.approx(304)  # A, B from 2025 (300 + 3) and D (+1)
    for i, p in enumerate(alt.plans):
        assert p.check.ok
        for q in alt.plans[:i]:
            assert len(decisions_differ(p.plan, q.plan)) >= 1
    assert list(alt.summary.plan) == [1, 2, 3]
    core = alt.importance.set_index("scheme")
    assert core.loc["A", "rank"] == 1 and core.loc["A", "loss_when_excluded"] == pytest.approx(300)
    assert bool(core.loc["A", "in_every_alternative"])


def test_fewer_than_requested_is_stated():
    inst = make([{"id": "A", "recurrent_saving": 100}], years=[2025])
    alt = find_alternatives(Planner(inst), EXACT, count=3, within=0.02)
    assert len(alt.plans) == 1 and alt.exhausted


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(inst=instances(max_schemes=4, max_years=2))
def test_matches_brute_force_greedy(inst):
    scored, kept = greedy_by_brute_force(inst, count=3, within=0.25, min_difference=2)
    assume(scored)
    values = [v for v, _ in scored]
    assume(len(set(round(v, 6) for v in values)) == len(values))  # no ties: the order is unique
    alt = find_alternatives(Planner(inst), EXACT, count=3, within=0.25, min_difference=2)
    assert [p.objective for p in alt.plans] == pytest.approx([v for v, _ in kept], rel=1e-7, abs=1e-6)
    for p, (_, plan) in zip(alt.plans, kept):
        assert {s: y for s, y in p.plan.items() if y is not None} == {s: y for s, y in plan.items() if y is not None}


def test_alternatives_command(tmp_path):
    from click.testing import CliRunner

    from cipopt.cli import main

    out = tmp_path / "alt"
    result = CliRunner().invoke(main, ["alternatives", "instances/tiny", "--count", "2", "--within", "50",
                                       "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "plan 1: 430" in result.output and "plan 2:" in result.output
    for name in ("alternatives.csv", "alternative_plans.csv", "alternative_years.csv", "importance.csv", "alternatives_summary.json"):
        assert (out / name).exists()
