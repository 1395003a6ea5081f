"""Published optima from Beasley's OR-Library, solved through the whole pipeline.

Each multidimensional knapsack (and multi-period capital budgeting) problem becomes an instance in
format v1 exactly as shared/reference/README.md says: every item a scheme that may start only in
the one plan year with its profit as a saving, every constraint a custom metric with a `<=` limit,
objective mode `savings`. The optimum cipopt proves must equal the published one.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cipopt.io.load import load_instance
from cipopt.pipeline import SolveOptions, solve_instance

# A copy of shared/reference/orlib-mknap-subset.json (public OR-Library data), kept with the tests
# so that they run from any clean checkout.
REFERENCE = Path(__file__).parent / "data" / "orlib-mknap-subset.json"
PROBLEMS = json.loads(REFERENCE.read_text())
# The two Chu-Beasley 5x100 problems take minutes to prove optimal on two cores; they are run
# (to optimality, with their times) by benchmarks/orlib.py instead of on every test run.
TEST_SET = [p for p in PROBLEMS if not p["name"].startswith("cb5.")]


def hard_knapsack(n_items: int = 250, n_constraints: int = 10, seed: int = 7) -> dict:
    """A correlated multidimensional knapsack drawn the way Chu and Beasley drew theirs (weights
    uniform 1..1000, profits correlated with the weights, capacities a quarter of the total):
    at 250 x 10 no solver proves it optimal in minutes, so it stands for a long solve in tests
    that must interrupt or time-limit one, whatever the solver version (cb5.100 became a 4 s
    solve with highspy 1.16)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    weights = rng.integers(1, 1001, size=(n_constraints, n_items))
    profits = weights.sum(axis=0) // n_constraints + rng.integers(0, 501, size=n_items)
    return {
        "name": f"hard{n_constraints}.{n_items}", "n_items": n_items, "n_constraints": n_constraints,
        "profits": profits.tolist(), "weights": weights.tolist(),
        "capacities": (weights.sum(axis=1) // 4).tolist(),
    }


def write_instance(problem: dict, folder: Path) -> Path:
    folder.mkdir()
    limits = "\n".join(
        f"  - {{id: c{k}, metric: w{k}, sense: '<=', values: {{2025: {cap}}}}}"
        for k, cap in enumerate(problem["capacities"])
    )
    (folder / "instance.yaml").write_text(
        f"format_version: 1\nname: {problem['name']}\nyears: [2025]\ndiscount_rate: 0\n"
        f"objective: {{mode: savings, risk: none}}\nlimits:\n{limits}\n"
    )
    header = ["id", "recurrent_saving", "first_year_fraction"] + [f"w{k}" for k in range(problem["n_constraints"])]
    rows = [",".join(header)]
    for i, profit in enumerate(problem["profits"]):
        weights = [str(problem["weights"][k][i]) for k in range(problem["n_constraints"])]
        rows.append(",".join([f"item{i:03d}", str(profit), "1"] + weights))
    (folder / "schemes.csv").write_text("\n".join(rows) + "\n")
    return folder


@pytest.mark.parametrize("problem", TEST_SET, ids=[p["name"] for p in TEST_SET])
def test_published_optimum(problem, tmp_path):
    instance = load_instance(write_instance(problem, tmp_path / problem["name"]))
    outcome = solve_instance(instance, SolveOptions(mip_gap=0.0, time_limit=120))
    assert outcome.status == "optimal"
    assert outcome.check.ok
    assert outcome.objective == pytest.approx(problem["known_optimum"], abs=1e-6)
    chosen = [i for i, s in enumerate(instance.schemes) if outcome.plan[s.id] is not None]
    for k, cap in enumerate(problem["capacities"]):
        assert sum(problem["weights"][k][i] for i in chosen) <= cap + 1e-9
