"""cipopt rank: entry budgets, the greedy loss and the core index on golden cases worked out by hand.

The golden fund (`golden_fund`): one year, a fund of 10 on capital_cost, one criterion of weight 1,
four bids (cost, score): a (6, 50), b (4, 30), c (4, 28), d (1, 5). By enumeration (and by
`bruteforce.brute_force`, which the test also runs), the optimal portfolio at each budget is

    budget 0: {}   1-3: {d}   4: {b}   5: {b,d}   6: {a}   7: {a,d}   8: {b,c}   9: {b,c,d}  10: {a,b}

so the entry budgets are d 1, b 4, a 6, c 8, and none stays in at every larger budget (b leaves at
6, a at 8, c at 10, d at 4): not nested. Greedy by value for money (a 8.33, b 7.5, c 7, d 5 per unit)
funds a first whenever it fits: at 8 it ends with {a,d} = 55 against 58 (loss 3), at 9 with
{a,d} = 55 against 63 (loss 8); at every other budget it matches the optimum.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy import stats

from bruteforce import brute_force
from cipopt.analysis.rank import fund_limit, greedy_data, greedy_plan, ranking_instance, run_rank, scaled_fund
from cipopt.analysis.weights import central_weights, sample_weights, weight_set
from cipopt.check import check_plan
from cipopt.cli import main
from cipopt.coefficients import build_coefficients
from cipopt.schema.instance import Criterion, Limit, Objective, Relation, Score, Target
from cipopt.schema.problems import InputError
from instances_factory import make_instance, scheme

ROOT = Path(__file__).resolve().parents[1]
FUND = ROOT / "instances" / "fund"

GOLDEN_BIDS = {"a": (6, 50), "b": (4, 30), "c": (4, 28), "d": (1, 5)}
GOLDEN_OPTIMAL = {0: set(), 1: {"d"}, 2: {"d"}, 3: {"d"}, 4: {"b"}, 5: {"b", "d"}, 6: {"a"}, 7: {"a", "d"},
                  8: {"b", "c"}, 9: {"b", "c", "d"}, 10: {"a", "b"}}
GOLDEN_ENTRY = {"d": 1, "b": 4, "a": 6, "c": 8}
GOLDEN_GREEDY_LOSS = {8: 3.0, 9: 8.0}


def golden_fund(**extra):
    fields = dict(
        years=(2025,),
        schemes=tuple(scheme(s, capital_cost=float(c)) for s, (c, _) in GOLDEN_BIDS.items()),
        limits=(Limit(id="fund", metric="capital_cost", sense="<=", values={2025: 10.0}),),
        criteria=(Criterion(id="value", weight=1.0),),
        scores=tuple(Score(scheme=s, criterion="value", score=float(v)) for s, (_, v) in GOLDEN_BIDS.items()),
        objective=Objective(mode="weighted_score"),
    )
    fields.update(extra)
    return make_instance(**fields)


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def golden():
    return run_rank(golden_fund(), steps=10, samples=0)


def test_golden_optimal_portfolios_match_brute_force(golden):
    inst = golden_fund()
    for k, expected in GOLDEN_OPTIMAL.items():
        best, plans = brute_force(scaled_fund(inst, "fund", k / 10))
        assert [{s for s, y in p.items() if y is not None} for p in plans] == [expected]  # unique optimum
        level = golden.levels[k]
        assert {s for s, y in level["plan"].items() if y is not None} == expected
        assert level["objective"] == pytest.approx(best)


def test_golden_entry_budgets_and_non_nestedness(golden):
    bids = golden.bids().set_index("bid")
    for bid, budget in GOLDEN_ENTRY.items():
        assert bids.loc[bid, "entry_budget"] == pytest.approx(budget)
        assert not bids.loc[bid, "stays_in"]
    assert list(golden.bids()["bid"]) == ["d", "b", "a", "c"]  # ranked by entry budget
    left = {(b, i, o) for b, i, o in golden.non_nested()}
    assert left == {("d", 1, 4), ("b", 4, 6), ("a", 6, 8), ("c", 8, 10)}
    assert golden.summary()["nested"] is False
    assert any("NOT nested" in line for line in golden.lines())


def test_golden_greedy_loss(golden):
    levels = golden.levels_table()
    for k in range(11):
        row = levels.iloc[k]
        assert row["greedy_keeps_rules"]
        assert row["greedy_loss"] == pytest.approx(GOLDEN_GREEDY_LOSS.get(k, 0.0))
    assert levels.iloc[8]["greedy_portfolio"] == "a d" and levels.iloc[8]["optimal_portfolio"] == "b c"
    bids = golden.bids().set_index("bid")
    assert bids["greedy_rank"].to_dict() == {"a": 1, "b": 2, "c": 3, "d": 4}
    assert bids.loc["a", "value_for_money"] == pytest.approx(50 / 6)
    assert golden.summary()["largest_greedy_loss"] == pytest.approx(8.0)


def test_nested_case_is_reported_nested():
    # bids of equal cost: the best k bids are optimal at budget k, so portfolios are nested
    bids = {"p": 40, "q": 30, "r": 20}
    inst = golden_fund(
        schemes=tuple(scheme(s, capital_cost=1.0) for s in bids),
        limits=(Limit(id="fund", metric="capital_cost", sense="<=", values={2025: 3.0}),),
        scores=tuple(Score(scheme=s, criterion="value", score=float(v)) for s, v in bids.items()))
    result = run_rank(inst, steps=3, samples=0)
    assert result.non_nested() == [] and result.summary()["nested"] is True
    entry = result.bids().set_index("bid")["entry_budget"].to_dict()
    assert entry == {"p": 1, "q": 2, "r": 3}
    assert result.bids()["stays_in"].all()


def test_greedy_keeps_relations_and_funds_together_groups_as_one():
    # x and y must join together (cost 3+3, score 20+20: value for money 6.67); z requires w
    inst = golden_fund(
        schemes=(scheme("x", capital_cost=3.0), scheme("y", capital_cost=3.0), scheme("w", capital_cost=2.0),
                 scheme("z", capital_cost=1.0), scheme("v", capital_cost=4.0)),
        limits=(Limit(id="fund", metric="capital_cost", sense="<=", values={2025: 9.0}),),
        relations=(Relation(kind="together", a="x", b="y"), Relation(kind="requires", a="z", b="w")),
        scores=tuple(Score(scheme=s, criterion="value", score=v) for s, v in
                     {"x": 20.0, "y": 20.0, "w": 2.0, "z": 9.0, "v": 30.0}.items()))
    base, *_ = ranking_instance(inst)
    data = greedy_data(base, build_coefficients(base), "fund")
    plan = greedy_plan(data, 1.0)
    chosen = {s for s, y in plan.items() if y is not None}
    # order: z 9, v 7.5, x+y 6.67, w 1. Step 1: z needs w (not in), so v (4). Step 2: z still waits,
    # x+y (6 > 5 left) does not fit, w (2). Step 3: z (1) now that w is in. x+y never fits: 4+2+1 = 7.
    assert chosen == {"v", "w", "z"}
    assert check_plan(base, plan).ok


def test_fund_limit_choice():
    inst = golden_fund()
    assert fund_limit(inst, None) == "fund"
    two = golden_fund(limits=(Limit(id="capital", metric="capital_cost", values={2025: 10.0}),
                              Limit(id="pmo", metric="capital_cost", values={2025: 10.0})))
    with pytest.raises(InputError, match="name the fund with --fund"):
        fund_limit(two, None)
    with pytest.raises(InputError, match="unknown limit 'nope'"):
        fund_limit(inst, "nope")
    floor = golden_fund(limits=(Limit(id="fund", metric="capital_cost", sense=">=", values={2025: 1.0}),))
    with pytest.raises(InputError, match="must be a '<=' limit"):
        fund_limit(floor, "fund")


# -- the robust view ------------------------------------------------------------------------------

def robust_fund(samples: int, seed: int):
    """p (100, 100) is in under every weight; s (10, 10) never; q (90, 0) when w_x > w_y, else r (0, 90)."""
    scores = {"p": (100, 100), "q": (90, 0), "r": (0, 90), "s": (10, 10)}
    inst = golden_fund(
        schemes=tuple(scheme(s, capital_cost=1.0) for s in scores),
        limits=(Limit(id="fund", metric="capital_cost", sense="<=", values={2025: 2.0}),),
        criteria=(Criterion(id="x", weight_min=0.2, weight_max=1.0), Criterion(id="y", weight_min=0.0, weight_max=0.8)),
        scores=tuple(Score(scheme=s, criterion=c, score=float(v))
                     for s, vs in scores.items() for c, v in zip("xy", vs)),
        objective=Objective())  # weighted_score needs exact weights; rank weighs the scores itself
    return run_rank(inst, steps=2, samples=samples, seed=seed)


@pytest.mark.slow
def test_core_index_core_exterior_and_borderline():
    result = robust_fund(400, seed=3)
    bids = result.bids().set_index("bid")
    assert bids.loc["p", "core_index"] == 1.0 and bids.loc["p", "core_class"] == "core"
    assert bids.loc["s", "core_index"] == 0.0 and bids.loc["s", "core_class"] == "exterior"
    # w_x is uniform on [0.2, 1]: P(w_x > 0.5) = 0.625; 400 samples give a standard error of 0.024
    assert bids.loc["q", "core_index"] == pytest.approx(0.625, abs=0.1)
    assert bids.loc["q", "core_index"] + bids.loc["r", "core_index"] == pytest.approx(1.0)
    assert bids.loc["q", "core_class"] == "borderline"
    w = result.samples_table()
    assert len(w) == 400 and ((w["weight:x"] > 0.5) == w["portfolio"].str.contains("q")).all()


@pytest.mark.slow
def test_robust_view_is_reproducible_with_a_seed():
    a, b, c = robust_fund(30, seed=5), robust_fund(30, seed=5), robust_fund(30, seed=6)
    assert np.array_equal(a.samples, b.samples)
    assert a.bids().equals(b.bids())
    assert not np.array_equal(a.samples, c.samples)


def _instance_with(criteria, order=None):
    return make_instance(schemes=(scheme("a"),), criteria=tuple(criteria), criteria_order=order)


def test_samples_lie_in_the_set_and_follow_the_uniform_marginal():
    # three free weights with w1 <= 0.5: uniform on that part of the simplex, w1 has the Beta(1, 2)
    # law truncated to [0, 0.5]: CDF (1 - (1 - x)^2) / 0.75
    inst = _instance_with([Criterion(id="a", weight_max=0.5), Criterion(id="b", weight_min=0.0),
                           Criterion(id="c", weight_min=0.0)])
    ws = weight_set(inst)
    w = sample_weights(ws, 4000, np.random.default_rng(11))
    assert ws.contains(w).all() and w.shape == (4000, 3)
    assert np.allclose(w.sum(axis=1), 1.0) and (w[:, 0] <= 0.5 + 1e-12).all()
    p = stats.kstest(w[:, 0], lambda x: (1 - (1 - np.clip(x, 0, 0.5)) ** 2) / 0.75).pvalue
    assert p > 1e-3
    # b and c are exchangeable: each is the larger about half the time
    assert abs((w[:, 1] > w[:, 2]).mean() - 0.5) < 0.05


def test_order_of_importance_samples_centre_on_the_rank_order_centroid():
    inst = _instance_with([], order=("a", "b", "c"))
    ws = weight_set(inst)
    w = sample_weights(ws, 20000, np.random.default_rng(2))
    assert ws.contains(w).all()
    assert (w[:, 0] >= w[:, 1]).all() and (w[:, 1] >= w[:, 2]).all()
    roc = np.array([11, 5, 2]) / 18
    assert np.allclose(w.mean(axis=0), roc, atol=0.01)
    centre, how = central_weights(ws)
    assert np.allclose(centre, roc) and "rank-order centroid" in how


def test_fixed_weights_stay_fixed_and_empty_sets_are_refused():
    inst = _instance_with([Criterion(id="a", weight=0.5), Criterion(id="b", weight_min=0.1, weight_max=0.4),
                           Criterion(id="c")])
    w = sample_weights(weight_set(inst), 500, np.random.default_rng(0))
    assert np.allclose(w[:, 0], 0.5) and ((w[:, 1] >= 0.1 - 1e-12) & (w[:, 1] <= 0.4 + 1e-12)).all()
    assert np.allclose(w.sum(axis=1), 1.0)
    from cipopt.schema.instance import Instance

    # the validator refuses this set (test below); the sampler refuses it too, for callers that skip it
    empty = Instance(years=(2025,), schemes=(scheme("a"),),
                     criteria=(Criterion(id="a", weight_min=0.6), Criterion(id="b", weight_min=0.6)))
    with pytest.raises(InputError, match="sum to 1.2, above 1"):
        sample_weights(weight_set(empty), 10, np.random.default_rng(0))


# -- the shipped fund and the command ---------------------------------------------------------------

@pytest.mark.slow
def test_rank_command_on_the_fund_instance(tmp_path):
    out = tmp_path / "rank"
    result = run("rank", FUND, "--steps", 4, "--samples", 20, "--seed", 3, "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    assert "entry budget" in result.output and "core" in result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "bids.csv", "budget_levels.csv", "portfolios.csv", "summary.json", "weight_samples.csv"]
    bids = pd.read_csv(out / "bids.csv")
    assert len(bids) == 29 and bids["rank"].tolist() == list(range(1, 30))
    levels = pd.read_csv(out / "budget_levels.csv")
    assert len(levels) == 5 and levels["greedy_keeps_rules"].all()
    assert (levels["greedy_loss"] >= -1e-6).all()  # the optimum is never beaten by the greedy ranking
    assert len(pd.read_csv(out / "weight_samples.csv")) == 20
    summary = json.loads((out / "summary.json").read_text())
    assert summary["fund"] == "fund" and summary["fund_total"] == 24000 and summary["samples"] == 20
    # not overwritten without --force
    assert run("rank", FUND, "--steps", 1, "--samples", 0, "--out", out).exit_code == 2


def test_rank_bad_fund_is_one_line_and_exit_2(tmp_path):
    result = run("rank", FUND, "--fund", "capitl", "--out", tmp_path / "x")
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if "--fund" in line]
    assert len(lines) == 1 and "unknown limit 'capitl'" in lines[0]
    assert not (tmp_path / "x").exists()
    result = run("rank", FUND, "--fund", "clinical-leads", "--steps", 1, "--samples", 0)
    assert result.exit_code == 0  # any '<=' limit may be ranked against


def test_rank_without_scores_is_bad_input():
    result = run("rank", ROOT / "instances" / "tiny")
    assert result.exit_code == 2
    assert "scores.csv" in result.output


def test_validator_refuses_weight_ranges_that_cannot_sum_to_one():
    from instances_factory import validated

    _, log = validated(schemes=(scheme("a"),), criteria=(Criterion(id="a", weight_min=0.7),
                                                       Criterion(id="b", weight_min=0.4, weight_max=0.5)))
    assert any("lowest weights sum to 1.1" in str(p) for p in log.errors)
    _, log = validated(schemes=(scheme("a"),), criteria=(Criterion(id="a", weight_max=0.3),
                                                       Criterion(id="b", weight=0.2)))
    assert any("highest weights sum to 0.5" in str(p) for p in log.errors)
    _, log = validated(schemes=(scheme("a"),), criteria=(Criterion(id="a", weight=0.2), Criterion(id="b", weight=0.8)),
                       criteria_order=("a", "b"))
    assert not log.errors and any("smaller weight" in str(p) for p in log.warnings)
    _, log = validated(schemes=(scheme("a"),), criteria=(Criterion(id="a", weight=2.0), Criterion(id="b", weight=1.0)))
    assert not log.problems  # exact weights alone need not sum to 1


def test_sweep_tasks_are_picklable_and_a_fresh_setup_gives_the_same_answers():
    """What a distributed run_sweep needs: a picklable payload and tasks, module-level setup/work."""
    import pickle

    from cipopt.analysis import rank as rank_module
    from cipopt.pipeline import SolveOptions

    base, *_ = ranking_instance(golden_fund())
    payload = pickle.loads(pickle.dumps(rank_module.RankPayload(base, "fund", SolveOptions(mip_gap=0.0))))
    tasks = pickle.loads(pickle.dumps([rank_module.LevelTask(8, 0.8), rank_module.WeightTask(0, (1.0,))]))
    state = rank_module.setup(payload)
    level, weights = (rank_module.work(state, t) for t in tasks)
    assert {s for s, y in level["plan"].items() if y is not None} == {"b", "c"}
    assert level["greedy_value"] == pytest.approx(55.0)
    assert weights["objective"] == pytest.approx(80.0)


@pytest.mark.slow
def test_rank_with_an_order_of_importance_only_and_a_hard_floor_at_low_budgets():
    # criteria_order alone: the centre is the rank-order centroid (0.75, 0.25 for two criteria);
    # a hard recurrent target of 10 needs at least one bid, so the budget-0 level has no plan
    bids = {"p": (1.0, 80, 20), "q": (1.0, 20, 80)}
    inst = golden_fund(
        schemes=tuple(scheme(s, capital_cost=c, recurrent_saving=20.0) for s, (c, _, _) in bids.items()),
        limits=(Limit(id="fund", metric="capital_cost", sense="<=", values={2025: 1.0}),),
        targets=(Target(id="floor", basis="recurrent", hard=True, values={2025: 10.0}),),
        criteria=(), criteria_order=("x", "y"),
        scores=tuple(Score(scheme=s, criterion=c, score=float(v))
                     for s, (_, vx, vy) in bids.items() for c, v in (("x", vx), ("y", vy))),
        objective=Objective(risk="none"))
    result = run_rank(inst, steps=1, samples=100, seed=4)
    assert np.allclose(result.centre, [0.75, 0.25])
    levels = result.levels_table()
    assert levels.iloc[0]["status"] == "infeasible" and levels.iloc[1]["optimal_portfolio"] == "p"
    assert not levels.iloc[0]["greedy_keeps_rules"] and "floor" in levels.iloc[0]["greedy_breaks"]
    bids_table = result.bids().set_index("bid")
    assert bids_table.loc["p", "core_index"] == 1.0  # w_x >= w_y always, so p (80 on x) always wins
    assert bids_table.loc["q", "core_class"] == "exterior"


def test_rank_command_exits_3_when_no_portfolio_keeps_the_rules_at_the_full_fund(tmp_path):
    from cipopt.io.export import instance_folder_files

    inst = golden_fund(schemes=tuple(scheme(s, capital_cost=float(c), recurrent_saving=1.0)
                                     for s, (c, _) in GOLDEN_BIDS.items()),
                       targets=(Target(id="impossible", hard=True, values={2025: 100.0}),))
    folder = tmp_path / "fund"
    folder.mkdir()
    for name, text in instance_folder_files(inst).items():
        (folder / name).write_text(text)
    result = run("rank", folder, "--steps", 2, "--samples", 0, "--out", tmp_path / "out")
    assert result.exit_code == 3
    assert "no portfolio keeps the rules" in result.output and "impossible" in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_hit_and_run_takes_over_when_the_set_is_too_thin_and_agrees_with_exact_sampling():
    from cipopt.analysis.weights import sample_weights_how
    from cipopt.schema.instance import Instance

    inst = Instance(years=(2025,), schemes=(scheme("a"),),
                    criteria=(Criterion(id="a", weight_min=0.3, weight_max=0.5),
                              Criterion(id="b", weight_min=0.1, weight_max=0.4), Criterion(id="c")),
                    criteria_order=("a", "b", "c"))
    ws = weight_set(inst)
    exact, how = sample_weights_how(ws, 3000, np.random.default_rng(1))
    assert how == "rejection"
    walked, how = sample_weights_how(ws, 3000, np.random.default_rng(2), max_draws=100)  # force the fallback
    assert how == "hit-and-run"
    assert ws.contains(walked).all()
    for k in range(3):
        assert stats.ks_2samp(exact[:, k], walked[:, k]).pvalue > 1e-3


def test_a_missing_score_counts_zero_and_is_warned_once_per_scheme():
    """a has no deliverability row: its score is 0.5 x 60 + 0.5 x 0 = 30 < b's 40, so the fund of
    10 (room for one) goes to b; counting a on its scored criterion alone (60) would pick a."""
    from golden import chosen, solve
    from instances_factory import validated

    from cipopt.model.objective import scheme_scores

    fields = dict(years=(2025,), schemes=(scheme("a", capital_cost=6.0), scheme("b", capital_cost=6.0)),
                  limits=(Limit(id="fund", metric="capital_cost", sense="<=", values={2025: 10.0}),),
                  criteria=(Criterion(id="value", weight=0.5), Criterion(id="deliverability", weight=0.5)),
                  scores=(Score(scheme="a", criterion="value", score=60.0),
                          Score(scheme="b", criterion="value", score=40.0),
                          Score(scheme="b", criterion="deliverability", score=40.0)),
                  objective=Objective(mode="weighted_score"))
    inst, log = validated(**fields)
    assert not log.errors
    assert [str(p) for p in log.warnings] == [
        "warning: schemes.csv, row 2, column id: scheme 'a' has no score for 'deliverability': counted as 0 there "
        "(no row of scores.csv)"]
    np.testing.assert_allclose(scheme_scores(inst, build_coefficients(inst)), [30.0, 40.0])
    outcome = solve(inst)
    assert chosen(outcome) == {"b": 2025} and outcome.objective == pytest.approx(40.0)
    # no criteria and no weighted_score objective: the scores weigh nothing, nothing to say
    _, quiet = validated(**{**fields, "criteria": (), "scores": (), "objective": Objective(mode="net_present_value")})
    assert not quiet.warnings
