"""Explanations a board will accept: each verified on instances worked out by hand."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from cipopt.analysis.explain import NothingToExplain, explain
from cipopt.check import check_plan
from cipopt.cli import main
from cipopt.pipeline import Planner, SolveOptions
from golden import make

EXACT = SolveOptions(mip_gap=0.0)


def by_scheme(result):
    return {r.scheme: r for r in result.schemes.itertuples()}


def test_prices_of_forcing_each_scheme_the_other_way():
    # A: saving 100/yr, worth 300 from 2025. N: saving 10/yr, one-off 50: at best -20 (from 2025).
    # H: ineligible (safety -1). X requires Y a year earlier; Y may start only in 2027: X is blocked.
    inst = make([{"id": "A", "recurrent_saving": 100},
                 {"id": "N", "recurrent_saving": 10, "one_off_cost": 50},
                 {"id": "H", "recurrent_saving": 500, "safety": -1},
                 {"id": "X", "recurrent_saving": 40}, {"id": "Y", "earliest_start": 2027}],
                quality={"scheme_min": {"safety": 0}},
                relations=[{"kind": "requires", "a": "X", "b": "Y", "lag": 1}])
    rows = by_scheme(explain(Planner(inst), EXACT))
    assert rows["A"].kind == "worth it" and rows["A"].price == pytest.approx(300)
    assert "forcing it out loses 300" in rows["A"].reason
    assert rows["N"].kind == "not worth it" and rows["N"].price == pytest.approx(20)
    assert "forcing it in costs 20" in rows["N"].reason
    assert rows["H"].kind == "ineligible" and "safety score -1 is below the minimum 0" in rows["H"].reason
    assert rows["X"].kind == "blocked" and "running it is impossible" in rows["X"].reason
    assert rows["Y"].kind == "indifferent"  # Y costs and saves nothing


def test_displacement_and_the_binding_limit():
    # One year, capital 100: P (saving 300, capital 100) beats R (saving 250, capital 100).
    # Forcing R in displaces P and costs 50; the capital limit is what they compete for.
    inst = make([{"id": "P", "recurrent_saving": 300, "capital_cost": 100},
                 {"id": "R", "recurrent_saving": 250, "capital_cost": 100}], years=[2025],
                limits=[{"id": "capital", "metric": "capital_cost", "values": {2025: 100}}])
    result = explain(Planner(inst), EXACT)
    rows = by_scheme(result)
    assert rows["R"].price == pytest.approx(50) and rows["R"].displaced == "P"
    assert "limit:capital (2025: 100)" in rows["R"].reason
    assert rows["P"].price == pytest.approx(50) and rows["P"].brought_in == "R"
    capital = result.rules[result.rules.rule == "limit:capital"].iloc[0]
    # lumpy: easing the limit changes nothing until both fit (200); there R joins P
    both = check_plan(inst, {"P": 2025, "R": 2025}).objective - check_plan(inst, {"P": 2025}).objective
    assert capital.tight and capital.breakpoint == pytest.approx(200) and capital.step == pytest.approx(100)
    assert capital.gain == pytest.approx(both) and capital.marginal_value == pytest.approx(both / 100)


def test_marginal_value_of_a_target_in_shortfall():
    # C: saving 100/yr from 2025, one-off 500; the soft target of 200 in 2027 (penalty 3) is
    # missed by 100 whatever is done, so easing it gains 3 per unit over the first 100 units.
    inst = make([{"id": "C", "recurrent_saving": 100, "one_off_cost": 500}],
                targets=[{"id": "u", "values": {2027: 200}, "shortfall_penalty": 3}])
    rules = explain(Planner(inst), EXACT).rules
    row = rules[rules.rule == "target:u"].iloc[0]
    assert row.tight and row.step == pytest.approx(100)
    assert row.marginal_value == pytest.approx(3.0)


def test_a_given_plan_is_explained_against_its_alternatives():
    inst = make([{"id": "A", "recurrent_saving": 100}, {"id": "N", "recurrent_saving": 10, "one_off_cost": 50}])
    result = explain(Planner(inst), EXACT, plan={"A": 2026, "N": 2025})
    rows = by_scheme(result)
    assert result.reference.objective == pytest.approx(200 - 20)
    assert rows["N"].kind == "better the other way"  # leaving N out would gain
    with pytest.raises(NothingToExplain):
        explain(Planner(inst), EXACT, plan={"A": 2030})


def test_explain_command_writes_tables(tmp_path):
    result = CliRunner().invoke(main, ["explain", "instances/tiny", "--out", str(tmp_path / "x"), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "skill-mix" in result.output and "ineligible" in result.output
    assert (tmp_path / "x" / "explain_schemes.csv").exists() and (tmp_path / "x" / "explain_rules.csv").exists()


def test_explain_and_alternatives_on_an_infeasible_instance_say_why(tmp_path):
    import shutil

    inst = tmp_path / "inst"
    shutil.copytree("instances/tiny", inst)
    text = (inst / "instance.yaml").read_text().replace("hard: false", "hard: true")
    (inst / "instance.yaml").write_text(text.replace("values: {2025: 100, 2026: 200, 2027: 300}", "values: {2025: 1000}"))
    for command, headline in ((["explain", str(inst), "--quiet"], "nothing to explain: infeasible"),
                              (["alternatives", str(inst), "--quiet"], "no plan to start from: infeasible")):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 3
        assert headline in result.output and "hard target underlying needs 1,000" in result.output
