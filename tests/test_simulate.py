"""`cipopt simulate`: simulated figures against exact ones, reproducibility, batching, the CLI.

Statistical checks compare with the exact value within 4.5 standard errors of the estimate at a
fixed seed: a wrong model (a probability off by a few points) fails, a right one cannot flake
(the seed is fixed, and 4.5 SE is exceeded by chance once in ~150,000 seeds).
"""

from __future__ import annotations

import itertools
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from cipopt.analysis.simulate import setup, simulate_plan, work
from cipopt.analysis.sweep import run_sweep
from cipopt.check.risk import draws as checker_draws
from cipopt.cli import main
from cipopt.io.load import load_instance
from cipopt.uncertainty import BATCH_SIZE, SchemeRisk, sample, sample_batch
from instances_factory import make_instance, scheme

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "instances" / "tiny"
N = 20_000


def within(estimate: float, exact: float, sd: float, n: int = N) -> bool:
    return abs(estimate - exact) <= 4.5 * sd / math.sqrt(n) + 1e-12


def one_year(*schemes, targets=()):
    return make_instance(years=(2025,), discount_rate=0.0, schemes=tuple(schemes), targets=tuple(targets),
                         objective={"risk": "expected"})


def test_independent_bernoulli_delivery_matches_the_exact_distribution():
    savings, conf = (100.0, 200.0, 400.0), (0.3, 0.6, 0.8)
    inst = one_year(*(scheme(f"s{i}", recurrent_saving=v, first_year_fraction=1.0, confidence=c)
                      for i, (v, c) in enumerate(zip(savings, conf))),
                    targets=[{"id": "u", "values": {2025: 500.0}}])
    result = simulate_plan(inst, {"s0": 2025, "s1": 2025, "s2": 2025}, draws=N, seed=11)
    exact_met = exact_mean = exact_sq = 0.0
    for outcome in itertools.product((0, 1), repeat=3):
        p = math.prod(c if d else 1 - c for d, c in zip(outcome, conf))
        total = sum(v * d for v, d in zip(savings, outcome))
        exact_met += p * (total >= 500)
        exact_mean += p * total
        exact_sq += p * total * total
    row = result.targets.iloc[0]
    assert within(row["probability_met"], exact_met, math.sqrt(exact_met * (1 - exact_met)))
    assert within(row["mean"], exact_mean, math.sqrt(exact_sq - exact_mean ** 2))
    assert result.summary["probability_met_every_year"]["u"] == row["probability_met"]
    short = np.maximum(0.0, 500.0 - result.values[(None, "recurrent")][:, 0])
    assert row["expected_shortfall"] == pytest.approx(short.mean())
    # the mean under delivery risk is the expected value the model counts (confidence x value)
    assert exact_mean == pytest.approx(sum(v * c for v, c in zip(savings, conf)))


@pytest.mark.parametrize("shape", ["triangular", "pert"])
def test_multiplier_means_match_the_distributions(shape):
    a, m, b = 0.5, 0.8, 1.4
    inst = one_year(scheme("s", recurrent_saving=1000.0, first_year_fraction=1.0, delivery_low=a,
                           delivery_likely=m, delivery_high=b, delivery_distribution=shape))
    result = simulate_plan(inst, {"s": 2025}, draws=N, seed=5)
    values = result.values[(None, "recurrent")][:, 0] / 1000.0
    if shape == "triangular":
        mean, var = (a + m + b) / 3, (a * a + b * b + m * m - a * b - a * m - b * m) / 18
    else:
        mean = (a + 4 * m + b) / 6
        var = (mean - a) * (b - mean) / 7
    assert values.min() >= a and values.max() <= b
    assert within(values.mean(), mean, math.sqrt(var))
    assert within(values.var(), var, var * math.sqrt(2.0))  # loose: the variance tells the shapes apart
    # the triangular's mode: about (m - a) / (b - a) of the draws lie below it
    if shape == "triangular":
        share = (m - a) / (b - a)
        assert within((values < m).mean(), share, math.sqrt(share * (1 - share)))


def test_a_slipped_scheme_delivers_its_savings_a_year_later():
    inst = make_instance(years=(2025, 2026, 2027), discount_rate=0.0, objective={"risk": "expected"},
                         schemes=(scheme("s", recurrent_saving=100.0, first_year_fraction=0.5, slip_probability=0.25),),
                         targets=({"id": "u", "values": {2025: 50.0}},))
    result = simulate_plan(inst, {"s": 2025}, draws=N, seed=3)
    v = result.values[(None, "recurrent")]
    slipped = v[:, 0] == 0.0
    assert set(np.unique(v[:, 0])) == {0.0, 50.0}  # on time: half a year; slipped: nothing yet
    assert np.all(v[slipped, 1] == 50.0) and np.all(v[~slipped, 1] == 100.0)  # the first year, a year late
    assert np.all(v[:, 2] == 100.0)
    assert within(slipped.mean(), 0.25, math.sqrt(0.25 * 0.75))
    assert result.targets.iloc[0]["probability_met"] == pytest.approx(1 - slipped.mean())


@pytest.mark.parametrize("rho", [1.0, 0.0])
def test_a_risk_group_with_correlation_one_succeeds_or_fails_together(rho):
    inst = make_instance(
        years=(2025,), discount_rate=0.0, objective={"risk": "expected"},
        risk_groups=({"id": "wf", "correlation": rho},),
        schemes=(scheme("a", recurrent_saving=10.0, first_year_fraction=1.0, confidence=0.5, risk_group="wf"),
                 scheme("b", recurrent_saving=20.0, first_year_fraction=1.0, confidence=0.5, risk_group="wf"),
                 scheme("c", recurrent_saving=40.0, first_year_fraction=1.0, confidence=0.5)))
    draws = sample(inst, seed=2, draws=N)
    both = (draws.delivered[:, 0] & draws.delivered[:, 1]).mean()
    if rho == 1.0:
        assert np.array_equal(draws.delivered[:, 0], draws.delivered[:, 1])  # all or nothing
        assert within(draws.delivered[:, 0].mean(), 0.5, 0.5)
    else:
        assert within(both, 0.25, math.sqrt(0.25 * 0.75))
    # the ungrouped scheme stays independent of the group
    joint = (draws.delivered[:, 0] & draws.delivered[:, 2]).mean()
    assert within(joint, 0.25, math.sqrt(0.25 * 0.75))


def holby_plan():
    inst = load_instance(ROOT / "instances" / "holby")
    plan = {s.id: (inst.years[i % 3] if i % 4 else None) for i, s in enumerate(inst.schemes)}
    return inst, plan


def test_the_same_seed_gives_the_same_numbers_however_the_draws_are_batched():
    inst, plan = holby_plan()
    draws = 2 * BATCH_SIZE + 500
    a = simulate_plan(inst, plan, draws=draws, seed=9)
    b = simulate_plan(inst, plan, draws=draws, seed=9)
    assert a.targets.equals(b.targets) and a.savings.equals(b.savings)
    other = simulate_plan(inst, plan, draws=draws, seed=10)
    assert not a.targets.equals(other.targets)
    # batch by batch through run_sweep without a shared state (as workers elsewhere would)
    tasks = [(9, 2, 500), (9, 0, BATCH_SIZE), (9, 1, BATCH_SIZE)]
    parts = run_sweep(setup, (inst, {s: y for s, y in plan.items() if y}), work, tasks)
    joined = np.concatenate([parts[1][(None, "in_year")], parts[2][(None, "in_year")], parts[0][(None, "in_year")]])
    assert np.array_equal(joined, a.values[(None, "in_year")])
    # the first N draws of a seed do not depend on how many are drawn after them
    short = simulate_plan(inst, plan, draws=BATCH_SIZE + 7, seed=9)
    assert np.array_equal(short.values[(None, "recurrent")], a.values[(None, "recurrent")][:BATCH_SIZE + 7])


def test_the_checker_recreates_the_documented_draws_on_its_own():
    inst = make_instance(
        years=(2025, 2026), risk_groups=({"id": "g", "correlation": 0.4},),
        schemes=(scheme("a", recurrent_saving=10.0, confidence=0.7, risk_group="g", delivery_low=0.5,
                        delivery_high=1.2, slip_probability=0.3),
                 scheme("b", recurrent_saving=10.0, confidence=0.9, delivery_low=0.6, delivery_likely=0.9,
                        delivery_high=1.0, delivery_distribution="pert"),
                 scheme("c", recurrent_saving=10.0, confidence=0.0)))
    ours = sample(inst, seed=4, draws=BATCH_SIZE + 30)
    amount, slipped = checker_draws(inst, 4, BATCH_SIZE + 30)
    assert np.array_equal(slipped, ours.slipped)
    assert np.allclose(amount, ours.amount, rtol=1e-12, atol=1e-12)
    assert not ours.delivered[:, 2].any()
    one = sample_batch(SchemeRisk.of(inst), 4, 1, 30)
    assert np.array_equal(one.delivered, ours.delivered[BATCH_SIZE:])


# -- the command ---------------------------------------------------------------------------------

def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_simulate_prints_and_writes_tidy_tables(tmp_path):
    solution = tmp_path / "sol"
    assert run("solve", TINY, "--out", solution, "--no-store").exit_code == 0
    out = tmp_path / "sim"
    result = run("simulate", TINY, solution / "plan.csv", "--draws", "2000", "--seed", "1", "--out", out)
    assert result.exit_code == 0, result.output
    assert "target underlying" in result.output and "P(met)" in result.output
    import pandas as pd
    sim = pd.read_csv(out / "simulation.csv")
    assert list(sim.columns) == ["year", "target", "org", "basis", "required", "mean", "p10", "p50", "p90",
                                 "probability_met", "expected_shortfall"]
    assert len(sim) == 3 and (sim["p10"] <= sim["p50"]).all() and (sim["p50"] <= sim["p90"]).all()
    savings = pd.read_csv(out / "simulation_savings.csv")
    assert set(savings["measure"]) == {"recurrent_net_saving", "in_year_net_saving"}
    summary = json.loads((out / "simulation_summary.json").read_text())
    assert summary["draws"] == 2000 and summary["seed"] == 1 and summary["checker"] == "accepted"
    # tiny has no delivery risk (confidence 1, no ranges): every draw is the plan itself
    assert (sim["p10"] == sim["p90"]).all()
    again = run("simulate", TINY, solution / "plan.csv", "--draws", "2000", "--seed", "1", "--out", out)
    assert again.exit_code == 2 and "--force" in again.output
    assert run("simulate", TINY, solution / "plan.csv", "--draws", "2000", "--seed", "1", "--out", out,
               "--force").exit_code == 0
    assert (pd.read_csv(out / "simulation.csv")).equals(sim)


def tiny_with(tmp_path, columns: str, cells: dict[int, str], context: str = "") -> Path:
    """instances/tiny with extra schemes.csv columns (cells by data row, 1 = the first) and
    instance.yaml lines."""
    folder = tmp_path / "inst"
    shutil.copytree(TINY, folder)
    text = (folder / "schemes.csv").read_text().splitlines()
    text[0] += "," + columns
    for i in range(1, len(text)):
        text[i] += "," + cells.get(i, "," * columns.count(","))
    (folder / "schemes.csv").write_text("\n".join(text) + "\n")
    (folder / "instance.yaml").write_text((folder / "instance.yaml").read_text() + context)
    return folder


def test_simulate_refuses_bad_input_with_exit_2(tmp_path):
    plan = tmp_path / "plan.csv"
    plan.write_text("scheme,selected,start_year\nno-such-scheme,true,2025\n")
    result = run("simulate", TINY, plan)
    assert result.exit_code == 2 and "unknown scheme" in result.output and "Traceback" not in result.output
    plan.write_text("scheme,selected,start_year\nagency-cap,true,2031\n")
    result = run("simulate", TINY, plan)
    assert result.exit_code == 2 and "outside the plan years" in result.output
    bad = tiny_with(tmp_path, "delivery_low,delivery_likely,risk_group", {1: "0.9,0.7,", 2: ",,nowhere"})
    plan.write_text("scheme,selected,start_year\nagency-cap,true,2025\n")
    result = run("simulate", bad, plan)
    assert result.exit_code == 2, result.output
    assert "row 2 (agency-cap), column delivery_low: delivery_low 0.9 is above delivery_likely 0.7" in result.output
    assert "row 3 (epr), column risk_group: unknown risk group 'nowhere'" in result.output
    assert "nothing was written" in result.output


def test_uncertainty_columns_are_not_custom_metrics_and_round_trip(tmp_path):
    folder = tiny_with(tmp_path, "delivery_low,delivery_likely,delivery_high,delivery_distribution,slip_probability,"
                                 "risk_group", {1: "0.6,0.9,1.1,PERT,0.2,workforce"},
                       "risk_groups:\n  - {id: workforce, correlation: 0.5}\n")
    inst = load_instance(folder)
    s = inst.schemes[0]
    assert (s.delivery_low, s.delivery_likely, s.delivery_high, s.delivery_distribution, s.slip_probability,
            s.risk_group) == (0.6, 0.9, 1.1, "pert", 0.2, "workforce")
    assert not s.metrics and not s.labels  # standard columns, neither metrics nor labels
    from cipopt.io.export import instance_folder_files
    again = tmp_path / "again"
    again.mkdir()
    for name, content in instance_folder_files(inst).items():
        (again / name).write_text(content)
    assert load_instance(again).sha256() == inst.sha256()


def test_the_workbook_form_carries_risk_groups_and_the_new_columns(tmp_path):
    folder = tiny_with(tmp_path, "delivery_low,delivery_distribution,slip_probability,risk_group",
                       {1: "0.8,pert,0.1,wf"}, "risk_groups:\n  - {id: wf, correlation: 0.5}\n")
    book = tmp_path / "inst.xlsx"
    assert run("convert", folder, "-o", book).exit_code == 0
    back = tmp_path / "back"
    result = run("convert", book, "-o", back)
    assert result.exit_code == 0, result.output
    assert load_instance(back).sha256() == load_instance(folder).sha256()
    assert load_instance(back).risk_groups[0].correlation == 0.5


@pytest.mark.slow
def test_the_batches_give_the_same_numbers_on_a_dask_cluster():
    from cipopt.analysis.sweep import Sweep, cluster

    inst, plan = holby_plan()
    here = simulate_plan(inst, plan, draws=BATCH_SIZE + 300, seed=4)
    two = Sweep(workers=2)
    with cluster(two):  # opened here: two batches alone are too few to start a cluster for
        there = simulate_plan(inst, plan, draws=BATCH_SIZE + 300, seed=4, sweep=two)
    assert there.targets.equals(here.targets) and there.savings.equals(here.savings)
