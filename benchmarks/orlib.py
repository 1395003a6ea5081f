"""All 28 OR-Library problems to proven optimality: cipopt's whole pipeline against HiGHS alone.

For each problem, measured side by side in one run: cipopt (write the instance folder, load,
validate, build, hand off, solve, check) and a direct highspy model built from numpy arrays
(the floor on modelling overhead), both to a zero gap; the ratio of the two, and whether each
reached the published optimum.

    python benchmarks/orlib.py [--time-limit 600] [--only cb5.100-00]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import highspy
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from test_orlib import PROBLEMS, write_instance  # noqa: E402

from cipopt.io.load import load_instance  # noqa: E402
from cipopt.pipeline import SolveOptions, solve_instance  # noqa: E402


def direct_highs(problem: dict, time_limit: float) -> tuple[float, float]:
    started = time.perf_counter()
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("time_limit", time_limit)
    n = problem["n_items"]
    weights = np.asarray(problem["weights"], dtype=float)
    a = weights.T.copy()  # column-wise: item i's weights are column i
    starts = np.arange(0, n * a.shape[1] + 1, a.shape[1], dtype=np.int32)
    index = np.tile(np.arange(a.shape[1], dtype=np.int32), n)
    h.passModel(n, a.shape[1], a.size, 1, -1, 0.0, np.asarray(problem["profits"], dtype=float),
                np.zeros(n), np.ones(n), np.full(a.shape[1], -highspy.kHighsInf),
                np.asarray(problem["capacities"], dtype=float), starts, index, a.ravel(),
                np.ones(n, dtype=np.int32))
    h.run()
    return time.perf_counter() - started, h.getInfo().objective_function_value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=600)
    parser.add_argument("--only", nargs="*")
    args = parser.parse_args()
    print(f"{'problem':<12} {'n':>4} {'m':>3} {'published':>10} {'cipopt':>10} {'status':>9} "
          f"{'cipopt s':>9} {'highspy s':>9} {'ratio':>6}")
    for problem in PROBLEMS:
        if args.only and problem["name"] not in args.only:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            instance = load_instance(write_instance(problem, Path(tmp) / problem["name"]))
            outcome = solve_instance(instance, SolveOptions(mip_gap=0.0, time_limit=args.time_limit))
            ours = time.perf_counter() - started
        theirs, value = direct_highs(problem, args.time_limit)
        print(f"{problem['name']:<12} {problem['n_items']:>4} {problem['n_constraints']:>3} "
              f"{problem['known_optimum']:>10g} {outcome.objective:>10g} {outcome.status.value:>9} "
              f"{ours:>9.2f} {theirs:>9.2f} {ours / theirs:>6.2f}"
              + ("" if abs(value - problem["known_optimum"]) < 1e-6 else "  (highspy alone did not reach it)"))


if __name__ == "__main__":
    main()
