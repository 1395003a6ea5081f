"""`cipopt frontier`: trade-off curves by the epsilon-constraint method, against curves worked out
by hand, and monotone in the right direction on holby."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from cipopt.analysis.frontier import resolve_rule, run_frontier
from cipopt.cli import main
from cipopt.io.load import load_instance
from cipopt.pipeline import SolveOptions
from cipopt.schema.problems import InputError
from golden import make

ROOT = Path(__file__).resolve().parents[1]
HOLBY = ROOT / "instances" / "holby"
TINY = ROOT / "instances" / "tiny"
EXACT = SolveOptions(mip_gap=0.0, time_limit=120)


def objectives(frontier):
    return [pt.outcome.objective for pt in frontier.points]


def one_year(schemes, **context):
    return make(schemes, years=[2025], **context)


# -- curves worked out by hand ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def two_schemes():
    # A: saves 300, costs 100 capital (NPV 200); B: saves 120, costs 50 capital (NPV 70).
    # Best plan under capital <= v: nothing below 50; B for 50 <= v < 100; A for 100 <= v < 150; both above.
    return one_year([{"id": "A", "recurrent_saving": 300, "capital_cost": 100},
                     {"id": "B", "recurrent_saving": 120, "capital_cost": 50}],
                    limits=[{"id": "capital", "metric": "capital_cost", "values": {2025: 100}}])


def test_capital_curve_by_factor_with_the_default_range(two_schemes):
    f = run_frontier(two_schemes, "capital", points=4, options=EXACT)
    # the plan that ignores the limit uses 150 = 1.5 x 100; at 0 a plan (nothing) exists
    assert [pt.p for pt in f.points] == pytest.approx([0.0, 0.5, 1.0, 1.5])
    assert [pt.values[2025] for pt in f.points] == pytest.approx([0, 50, 100, 150])
    assert objectives(f) == pytest.approx([0, 70, 200, 270])
    assert [(pt.entering, pt.leaving) for pt in f.points] == [([], []), (["B"], []), (["A"], ["B"]), (["B"], [])]
    assert all(pt.outcome.check.ok and pt.outcome.status.value == "optimal" for pt in f.points)
    assert [f.slack(pt) for pt in f.points] == pytest.approx([0, 0, 0, 0])
    assert f.rebuilds == 0 and f.solves == 2  # the free plan and the probe at 0
    table = f.table()
    assert list(table["objective"]) == pytest.approx([0, 70, 200, 270])
    assert list(table["entering"]) == ["", "B", "A", "B"] and list(table["leaving"]) == ["", "", "B", ""]
    assert list(table["bound:2025"]) == pytest.approx([0, 50, 100, 150])


def test_capital_curve_by_level_with_a_given_range(two_schemes):
    f = run_frontier(two_schemes, "capital", points=7, start=0, stop=150, level=True, options=EXACT)
    assert [pt.values[2025] for pt in f.points] == pytest.approx([0, 25, 50, 75, 100, 125, 150])
    assert objectives(f) == pytest.approx([0, 0, 70, 70, 200, 200, 270])
    assert f.solves == 0  # no range to find
    assert [pt.warm_start for pt in f.points] == [False] + [True] * 6  # each start from the tighter point


def test_a_hard_floor_runs_to_the_best_achievable_found_by_bisection():
    # Q2 and Q3 each reduce agency spend (30, 50) at a cost (20, 50) and exclude each other; Q1 saves 100.
    # The most any plan can reach is 50; the plan that ignores the floor reaches 0.
    inst = one_year(
        [{"id": "Q1", "recurrent_saving": 100, "agency": 0},
         {"id": "Q2", "one_off_cost": 20, "agency": 30},
         {"id": "Q3", "one_off_cost": 50, "agency": 50}],
        relations=[{"kind": "excludes", "a": "Q2", "b": "Q3"}],
        limits=[{"id": "agency-ceiling", "metric": "agency", "sense": ">=", "values": {2025: 10}}])
    f = run_frontier(inst, "agency-ceiling", points=3, options=EXACT)
    assert [pt.p for pt in f.points] == pytest.approx([0, 2.5, 5.0])  # factors on 10: floors 0, 25, 50
    assert objectives(f) == pytest.approx([100, 80, 50])
    assert [(pt.entering, pt.leaving) for pt in f.points] == [([], []), (["Q2"], []), (["Q3"], ["Q2"])]
    assert any("no plan exists at 8" in n for n in f.range_notes)  # 80 = 30 + 50 is not allowed together


def test_a_quality_floor_the_instance_does_not_have():
    # X: NPV 100, experience -1; Y: NPV 40, +1; Z: NPV 10, +1. All three sum to +1; the best is +2 (Y, Z).
    inst = one_year([{"id": "X", "recurrent_saving": 100, "experience": -1},
                     {"id": "Y", "recurrent_saving": 40, "experience": 1},
                     {"id": "Z", "recurrent_saving": 10, "experience": 1}])
    f = run_frontier(inst, "quality:experience", points=3, options=EXACT)
    assert [pt.p for pt in f.points] == pytest.approx([1, 1.5, 2])
    assert objectives(f) == pytest.approx([150, 50, 50])
    assert f.points[1].leaving == ["X"] and f.rebuilds == 0
    f = run_frontier(inst, "quality:experience", points=4, start=-1, stop=2, options=EXACT)
    assert objectives(f) == pytest.approx([150, 150, 150, 50])
    assert [f.slack(pt) for pt in f.points] == pytest.approx([2, 1, 0, 0])


def test_a_soft_target_from_nothing_to_unattainable():
    # S saves 100 a year for a one-off 150 (NPV -50); each unit short of the target costs 1.
    # Below 50 the shortfall is cheaper than S; above it S pays; above 100 nothing meets the target.
    inst = one_year([{"id": "S", "recurrent_saving": 100, "one_off_cost": 150}],
                    targets=[{"id": "underlying", "values": {2025: 100}, "shortfall_penalty": 1}])
    f = run_frontier(inst, "underlying", points=5, options=EXACT)
    assert [pt.p for pt in f.points] == pytest.approx([0, 0.25, 0.5, 0.75, 1.0])
    assert objectives(f) == pytest.approx([0, -25, -50, -50, -50])
    assert [pt.outcome.plan["S"] for pt in f.points][:2] == [None, None]
    assert [pt.outcome.plan["S"] for pt in f.points][3:] == [2025, 2025]
    assert f.solves == 0 and "asks for nothing" in f.range_notes[0]


def test_rules_that_cannot_be_varied_say_why(two_schemes):
    with pytest.raises(InputError, match="did you mean 'capital'"):
        resolve_rule(two_schemes, "captial")
    with pytest.raises(InputError, match="not a quality domain"):
        resolve_rule(two_schemes, "quality:joy")
    mixed = one_year([{"id": "W", "wte": -3}],
                     limits=[{"id": "wte", "metric": "wte", "sense": "==", "values": {2025: -3}},
                             {"id": "odd", "metric": "wte", "values": {2025: 0}}])
    with pytest.raises(InputError, match="--from and --to"):
        run_frontier(mixed, "wte", points=3, options=EXACT)
    with pytest.raises(InputError, match="use --level"):
        resolve_rule(mixed, "odd")
    assert resolve_rule(mixed, "odd", level=True).level


# -- holby ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def holby():
    return load_instance(HOLBY)


@pytest.fixture(scope="module")
def holby_without_bottom_line(holby):
    """An instance with `finance` is rebuilt for every variant by design (docs/finance.md): the
    in-place re-solve of a curve is tested on the rest of holby."""
    return holby.model_copy(update={"finance": None})


@pytest.mark.slow
def test_holby_capital_curve_rises_as_the_budget_loosens(holby):
    f = run_frontier(holby, "capital", points=3, options=EXACT)
    ps = [pt.p for pt in f.points]
    assert ps == sorted(ps) and ps[0] == 0 and ps[-1] > 1
    values = objectives(f)
    assert all(b >= a - 1e-6 for a, b in zip(values, values[1:])), values
    assert all(pt.outcome.check.ok and pt.outcome.status.value == "optimal" for pt in f.points)
    assert f.rebuilds >= len(f.points) - 1  # holby has a bottom line: every variant is a fresh build
    # at the loose end the limit no longer binds: the plan is the one that ignores it
    assert f.slack(f.points[-1]) == pytest.approx(0, abs=1e-6)


@pytest.mark.slow
def test_holby_experience_floor_curve_falls_as_the_floor_rises(holby_without_bottom_line):
    f = run_frontier(holby_without_bottom_line, "quality:experience", points=3, start=0, stop=2, options=EXACT)
    values = objectives(f)
    assert all(b <= a + 1e-6 for a, b in zip(values, values[1:])), values
    for pt in f.points:
        years = pt.outcome.years
        sums = years[(years["measure"] == "quality:experience") & (years["org"] == "all")]["value"]
        assert (sums >= pt.p - 1e-9).all() and pt.outcome.check.ok
    assert f.rebuilds == 0


# -- the command ---------------------------------------------------------------------------------

def test_frontier_command_writes_the_curve(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["frontier", str(TINY), "--vary", "capital", "--points", "3",
                                       "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "frontier [0/3 done]" in result.stderr
    table = pd.read_csv(out / "frontier.csv")
    assert len(table) == 3 and list(table.columns[:4]) == ["point", "factor", "status", "objective"]
    assert {"bound:2025", "use:2025", "slack", "entering", "leaving", "recurrent_net_saving:2027"} <= set(table.columns)
    assert (table["status"] == "optimal").all()
    assert table["objective"].is_monotonic_increasing
    summary = json.loads((out / "summary.json").read_text())
    assert summary["rule"]["id"] == "capital" and len(summary["points"]) == 3
    assert all(p["checker"] == "accepted" for p in summary["points"])
    assert "varying limit capital" in result.stdout


def test_frontier_command_refuses_bad_requests(tmp_path):
    result = CliRunner().invoke(main, ["frontier", str(TINY), "--vary", "captal"])
    assert result.exit_code == 2 and "did you mean 'capital'" in result.output
    result = CliRunner().invoke(main, ["frontier", str(TINY), "--vary", "capital", "--points", "1"])
    assert result.exit_code == 2
    folder = tmp_path / "tiny"
    shutil.copytree(TINY, folder)
    (folder / "scenarios").mkdir()
    (folder / "scenarios" / "bad.yaml").write_text("scale: [{limit: capital, factor: -1}]\n")
    result = CliRunner().invoke(main, ["frontier", str(folder), "--vary", "capital", "--scenario", "bad"])
    assert result.exit_code == 2 and "bad.yaml, key scale[0].factor" in result.output
