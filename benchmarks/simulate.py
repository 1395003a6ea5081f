"""How fast `cipopt simulate` is: 100,000 draws of a 200-scheme five-year plan (goal: well under 2 s).

    python benchmarks/simulate.py                      # 200 schemes, 5 years, 100,000 draws
    python benchmarks/simulate.py --schemes 1000 --draws 200000

The instance comes from benchmarks/generate.py (seeded); it has no uncertainty columns, so this
script gives every scheme seeded ones (`add_delivery_risk`): a delivery range by category
(transformation and digital wide, procurement narrow), PERT for a third of the schemes, a slip
probability up to 30%, and one risk group per category with correlation 0.3-0.7. The plan starts
every scheme that may start at its earliest allowed year (the most columns a plan can have). The
time (wall clock, and this process's CPU time) is `simulate_plan` alone (draws, net savings per year and organisation, the statistics and
the independent check of the plan), best of --repeat runs; the instance is loaded beforehand.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate  # noqa: E402  (benchmarks/generate.py)

from cipopt.analysis.simulate import simulate_plan  # noqa: E402
from cipopt.coefficients import qia_ineligibility  # noqa: E402
from cipopt.io.load import load_instance  # noqa: E402
from cipopt.schema.instance import Instance, RiskGroup  # noqa: E402

WIDE = {"transformation", "digital", "estates", "outpatients"}


def add_delivery_risk(instance: Instance, seed: int) -> Instance:
    """The instance with seeded delivery ranges, slips and one risk group per category."""
    rng = np.random.default_rng(seed)
    categories = sorted({s.category for s in instance.schemes})
    groups = tuple(RiskGroup(id=c, correlation=float(rng.uniform(0.3, 0.7))) for c in categories)
    schemes = []
    for s in instance.schemes:
        spread = 0.4 if s.category in WIDE else 0.15
        low = float(round(rng.uniform(1 - 2 * spread, 1 - spread / 2), 3))
        high = float(round(rng.uniform(1, 1 + spread), 3))
        likely = float(round(rng.uniform(low, high), 3))
        schemes.append(s.model_copy(update={
            "delivery_low": low, "delivery_likely": likely, "delivery_high": high,
            "delivery_distribution": "pert" if rng.random() < 1 / 3 else "triangular",
            "slip_probability": float(round(rng.uniform(0, 0.3), 2)), "risk_group": s.category}))
    return instance.model_copy(update={"schemes": tuple(schemes), "risk_groups": groups})


def earliest_plan(instance: Instance) -> dict[str, int | None]:
    first, last = instance.years[0], instance.years[-1]
    plan = {}
    for s in instance.schemes:
        start = max(first, s.earliest_start or first)
        ok = not s.excluded and qia_ineligibility(s, instance) is None and start <= min(last, s.latest_start or last)
        plan[s.id] = start if ok else None
    return plan


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--schemes", type=int, default=200)
    ap.add_argument("--years", type=int, default=5)
    ap.add_argument("--draws", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = generate.write(generate.generate(args.schemes, args.years, generate.default_orgs(args.schemes),
                                                  args.seed), Path(tmp) / "instance")
        instance = add_delivery_risk(load_instance(folder), args.seed)
    plan = earliest_plan(instance)
    times, cpu = [], []
    for _ in range(args.repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        result = simulate_plan(instance, plan, draws=args.draws, seed=args.seed)
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    selected = sum(y is not None for y in plan.values())
    print(f"simulate: {args.draws:,} draws of a {args.schemes}-scheme {args.years}-year plan "
          f"({selected} schemes selected, {len(instance.organisations)} organisation(s), "
          f"{len(instance.targets)} targets): best {min(times):.3f} s of {args.repeat} "
          f"({', '.join(f'{t:.3f}' for t in times)}); CPU time {min(cpu):.3f} s "
          f"(more than the wall time when numpy's BLAS runs threads; a loaded machine shows in the wall time)")
    system = result.summary["probability_met_every_year"]
    print(f"  probability of meeting each target in every year: "
          + ", ".join(f"{k} {v:.1%}" for k, v in system.items()))


if __name__ == "__main__":
    main()
