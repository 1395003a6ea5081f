"""An infeasible instance is never just "infeasible": the rules that cannot hold, in words."""

from __future__ import annotations

from golden import make, solve


def messages(inst) -> str:
    out = solve(inst)
    assert out.status == "infeasible"
    return " | ".join(out.messages)


def test_mandatory_schemes_over_the_capital_limit():
    inst = make([{"id": "A", "capital_cost": 3000, "mandatory": True},
                 {"id": "B", "capital_cost": 2200, "mandatory": True},
                 {"id": "C", "recurrent_saving": 100}], years=[2026],
                limits=[{"id": "capital", "metric": "capital_cost", "values": {2026: 4000}}])
    assert ("at least 5,200 of capital_cost is needed in 2026 together with the other rules (mandatory schemes "
            "A and B); the capital limit is <= 4,000") in messages(inst)


def test_hard_target_out_of_reach_under_a_limit():
    inst = make([{"id": "A", "recurrent_saving": 100}, {"id": "B", "recurrent_saving": 50, "pmo_days": 10}],
                targets=[{"id": "u", "values": {2025: 140}, "hard": True}],
                limits=[{"id": "pmo", "metric": "pmo_days", "values": {2025: 5}}])
    text = messages(inst)
    assert "hard target u needs 140 of recurrent net saving in 2025; at most 100 can be achieved" in text


def test_quality_floor_broken_by_mandatory_schemes():
    inst = make([{"id": "A", "experience": -1, "mandatory": True},
                 {"id": "B", "experience": -1, "mandatory": True}],
                quality={"portfolio_min": {"experience": -1}})
    text = messages(inst)
    assert "the experience quality floor in 2027 is -1" in text and "A and B" in text


def test_at_least_limit_out_of_reach_because_of_a_relation():
    inst = make([{"id": "A", "agency": 3}, {"id": "B", "agency": 4}],
                relations=[{"kind": "excludes", "a": "A", "b": "B"}],
                limits=[{"id": "agency-ceiling", "metric": "agency", "sense": ">=", "values": {2025: 6}}])
    assert "at most 4 of agency can be reached in 2025" in messages(inst)
    assert "the agency-ceiling limit asks for >= 6" in messages(inst)


def test_structure_alone_impossible():
    # A requires B a year earlier, but B may start only in the last year: A cannot run, and A is mandatory.
    inst = make([{"id": "A", "mandatory": True, "recurrent_saving": 1}, {"id": "B", "earliest_start": 2027}],
                relations=[{"kind": "requires", "a": "A", "b": "B", "lag": 1}])
    text = messages(inst)
    assert "mandatory scheme A cannot run together with the other rules" in text
