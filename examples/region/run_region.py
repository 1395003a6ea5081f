"""A region of organisations, each with its own plan, each solved under the same 20 what-if
scenarios: serially in this process, then as one Dask sweep, with the wall times side by side.

    python examples/region/run_region.py                      # 40 organisations x 20 scenarios, 2 workers
    python examples/region/run_region.py --orgs 10 --schemes 40        # a quicker look
    python examples/region/run_region.py --scheduler tcp://10.0.0.5:8786 --skip-serial   # a cluster

Each organisation is a seeded instance from benchmarks/generate.py (its own schemes, targets,
limits and quality floors) with 20 scenario files in its `scenarios/` folder, in the format of
docs/whatif.md, so every organisation can also be looked at alone with
`cipopt whatif REGION/r01 --all`. The serial path is what `cipopt whatif` does for each
organisation in turn; the Dask path is one sweep whose tasks are the organisations: each task
builds that organisation's model once and re-solves it for the base and the 20 scenarios, on
whichever worker is free. Both paths must give the same comparison tables; the script checks it.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import generate  # noqa: E402  (benchmarks/generate.py: the seeded instance generator)

from cipopt.analysis.scenario import load_scenarios  # noqa: E402
from cipopt.analysis.sweep import Sweep, cluster, run_sweep  # noqa: E402
from cipopt.analysis.whatif import run_whatif  # noqa: E402
from cipopt.io.load import load_instance  # noqa: E402
from cipopt.pipeline import SolveOptions  # noqa: E402
from cipopt.schema.problems import ProblemLog  # noqa: E402

YEARS = 5


def scenarios_for(org: str) -> dict[str, dict]:
    """Twenty questions a region asks of every organisation's plan (docs/whatif.md format)."""
    def limit(rule, factor, words):
        return {"description": words, "scale": [{"limit": f"{org}-{rule}", "factor": factor}]}

    def target(rule, factor, words):
        return {"description": words, "scale": [{"target": f"{org}-{rule}", "factor": factor}]}

    return {
        "capital-halved": limit("capital", 0.5, "capital (CDEL) halved every year"),
        "capital-three-quarters": limit("capital", 0.75, "capital cut by a quarter"),
        "capital-plus-quarter": limit("capital", 1.25, "a quarter more capital"),
        "pmo-cut-20": limit("pmo", 0.8, "project office days cut by 20%"),
        "pmo-cut-40": limit("pmo", 0.6, "project office days cut by 40%"),
        "fund-halved": {"description": "the system transformation fund halved",
                        "scale": [{"limit": "transformation-fund", "factor": 0.5}]},
        "underlying-up-10": target("underlying", 1.1, "recurrent target up 10%"),
        "underlying-up-20": target("underlying", 1.2, "recurrent target up 20%"),
        "control-total-up-15": target("control-total", 1.15, "control total up 15%"),
        "agency-slips": {"description": "agency savings 20% lower",
                         "scale": [{"metric": "saving", "category": "agency", "factor": 0.8}]},
        "workforce-less-sure": {"description": "workforce schemes 15% less likely to deliver",
                                "scale": [{"metric": "confidence", "category": "workforce", "factor": 0.85}]},
        "optimism-bias": {"description": "capital of builds and systems +24% (optimism bias)",
                          "scale": [{"metric": "capital_cost", "category": ["estates", "digital", "transformation"],
                                     "factor": 1.24}]},
        "procurement-late": {"description": "procurement schemes a year late",
                             "delay": [{"category": "procurement", "years": 1}]},
        "medicines-late": {"description": "medicines schemes a year late",
                           "delay": [{"category": "medicines", "years": 1}]},
        "savings-down-10": {"description": "every saving 10% lower",
                            "scale": [{"metric": "saving", "factor": 0.9}]},
        "running-costs-up": {"description": "running costs 30% higher",
                             "scale": [{"metric": "running_cost", "factor": 1.3}]},
        "experience-floor": {"description": "no net harm to patient experience",
                             "context": {"quality": {"portfolio_min": {"experience": 0}}}},
        "access-floor": {"description": "no net harm to access",
                         "context": {"quality": {"portfolio_min": {"access": 0}}}},
        "stricter-risk": {"description": "QIA risk above 9 barred without approval",
                          "context": {"quality": {"max_risk": 9}}},
        "face-value": {"description": "savings at face value (no confidence weighting)",
                       "context": {"objective": {"risk": "none"}}},
    }


def write_region(folder: Path, orgs: int, schemes: int, seed: int, scenarios: int) -> list[Path]:
    """One instance folder per organisation (r01, r02, ...), each with its scenario files."""
    paths = []
    for i in range(orgs):
        org = f"r{i + 1:02d}"
        path = generate.write(generate.generate(schemes, YEARS, 1, seed * 1000 + i), folder / org)
        for file in path.iterdir():  # the generator names its one organisation o000
            file.write_text(file.read_text(encoding="utf-8").replace("o000", org), encoding="utf-8")
        spec = path / "instance.yaml"
        spec.write_text(spec.read_text(encoding="utf-8").replace(
            f'"name": "Synthetic system: {schemes} schemes, 1 organisations',
            f'"name": "Region organisation {org}: {schemes} schemes'), encoding="utf-8")
        (path / "scenarios").mkdir(exist_ok=True)
        for name, body in list(scenarios_for(org).items())[:scenarios]:
            (path / "scenarios" / f"{name}.yaml").write_text(yaml.safe_dump(body, sort_keys=False), encoding="utf-8")
        paths.append(path)
    return paths


def load_region(paths: list[Path]) -> dict[str, tuple]:
    """Every organisation's instance and its scenarios, read and validated as `cipopt whatif` does."""
    region = {}
    for path in paths:
        instance = load_instance(path)
        names = sorted(p.stem for p in (path / "scenarios").glob("*.yaml"))
        region[path.name] = (instance, load_scenarios(path, instance, names, ProblemLog()))
    return region


def whatif_table(region: dict, org: str, options: SolveOptions) -> pd.DataFrame:
    """One organisation's comparison (whatif.csv), solved in this process with one built model."""
    instance, scenarios = region[org]
    table = run_whatif(instance, scenarios, options).table().drop(columns=["solve_seconds"])
    return table.assign(org=org)


def _region_state(region: dict) -> dict:
    return region  # the region is the worker's state: every task builds its own organisation's model


def _region_task(region: dict, task: tuple[str, SolveOptions]) -> pd.DataFrame:
    org, options = task
    return whatif_table(region, org, options)


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {cpu}, load average {_load()}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orgs", type=int, default=40, help="organisations in the region (default 40)")
    ap.add_argument("--schemes", type=int, default=60, help="candidate schemes per organisation (default 60)")
    ap.add_argument("--scenarios", type=int, default=20, choices=range(1, 21), metavar="1-20",
                    help="scenarios per organisation (default 20)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2, help="local Dask workers (default 2)")
    ap.add_argument("--scheduler", metavar="ADDRESS", help="an existing Dask cluster instead, e.g. tcp://host:8786")
    ap.add_argument("--skip-serial", action="store_true", help="do not run (and time) the serial path")
    ap.add_argument("--region", metavar="DIR", help="write the region's instance folders here (kept)")
    ap.add_argument("--out", metavar="DIR", help="write region_whatif.csv (every organisation's comparison) here")
    args = ap.parse_args(argv)

    folder = Path(args.region) if args.region else Path(tempfile.mkdtemp(prefix="cipopt-region-"))
    try:
        started = time.perf_counter()
        paths = write_region(folder, args.orgs, args.schemes, args.seed, args.scenarios)
        region = load_region(paths)
        prepared = time.perf_counter() - started
        orgs = list(region)
        solves = sum(len(s) + 1 for _, s in region.values())
        print(f"region: {len(orgs)} organisations x {args.schemes} schemes x {YEARS} years, "
              f"{args.scenarios} scenarios each: {solves} solves (generated and read in {prepared:.1f} s)")
        print(f"machine: {machine()}")
        options = SolveOptions()  # each instance's own solver settings (gap 0.01%)

        serial_s = serial = None
        if not args.skip_serial:
            started = time.perf_counter()
            serial = [whatif_table(region, org, options) for org in orgs]
            serial_s = time.perf_counter() - started
            print(f"serial, in this process:          {serial_s:7.1f} s   (load average now {_load()})")

        sweep = Sweep(scheduler=args.scheduler) if args.scheduler else Sweep(workers=args.workers)
        started = time.perf_counter()
        with cluster(sweep):
            up_s = time.perf_counter() - started
            # one HiGHS thread per worker, as cipopt's own sweeps do, so the workers share the cores
            on_workers = SolveOptions(threads=1)
            spread = run_sweep(_region_state, region, _region_task, [(org, on_workers) for org in orgs], sweep=sweep)
        spread_s = time.perf_counter() - started
        print(f"Dask, {sweep.describe()[3:]}: {spread_s:7.1f} s   (load average now {_load()}; "
              f"{up_s:.1f} s of it starting or reaching the cluster)")
        if serial is not None:
            same = all(a.equals(b) for a, b in zip(serial, spread))
            print(f"speed-up: {serial_s / spread_s:.2f}x; results identical to the serial path: "
                  f"{'yes' if same else 'NO'}")
            if not same:
                return 1
        table = pd.concat(spread, ignore_index=True)
        worst = table[table.scenario != "base"].sort_values("change_vs_base").head(3)
        print("largest losses against each organisation's base plan:")
        for r in worst.itertuples():
            print(f"  {r.org} {r.scenario:<24} {r.change_vs_base:>12,.1f} GBP k ({r.change_pct:.1f}%)")
        if args.out:
            Path(args.out).mkdir(parents=True, exist_ok=True)
            table.to_csv(Path(args.out) / "region_whatif.csv", index=False)
            print(f"wrote {Path(args.out) / 'region_whatif.csv'}")
    finally:
        if not args.region:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
