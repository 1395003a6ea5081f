"""Time to a first plan, time to a 1% gap, memory, and whether the time limit holds: cipopt's whole
process against the direct highspy model of benchmarks/scale.py, side by side in one run.

For each size N x T (generated with benchmarks/generate.py, seed 1, reused from --workdir):

(a) `cipopt solve DIR --out OUT --gap 0.01 --time-limit L --threads H --no-store` as a child,
    timed from start to exit with its peak memory (os.wait4). `first plan` is when the first-plan
    heuristic's plan was in hand, from the child's start (summary.json first_plan.ready_seconds,
    counted from the command's start, plus the child's start-up: its whole wall time less the
    command's own); `to 1%` is the whole wall time when the run ended with a gap <= 1%, else
    "> L"; `over` is the wall time past the limit.
(b) the direct highspy model (scale.DirectBuilder: no cipopt model code) with the same gap, threads
    and limit, and the same 2 s watchdog; `first plan` and `to 1%` come from HiGHS's own
    callbacks (its first improving solution; the first moment its gap is <= 1%), plus the build.

    python benchmarks/first_plan.py --sizes 1000x5,5000x10 --time-limit 60
    nice python benchmarks/first_plan.py --sizes 20000x10,50000x10 --time-limit 60 --workdir /tmp/fp
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import highspy
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate  # noqa: E402
import scale  # noqa: E402

GAP = 0.01


def run_cipopt(folder: Path, out: Path, limit: float, threads: int) -> dict:
    cmd = [sys.executable, "-m", "cipopt", "solve", str(folder), "--out", str(out), "--force", "--no-store",
           "--gap", repr(GAP), "--time-limit", repr(limit), "--threads", str(threads), "--quiet"]
    started = time.perf_counter()
    child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    summary = json.loads((out / "summary.json").read_text()) if (out / "summary.json").exists() else {}
    first = summary.get("first_plan") or {}
    return {"wall": wall, "exit": os.waitstatus_to_exitcode(status), "peak_mib": usage.ru_maxrss / 1024,
            "summary": summary, "first_plan_at": first.get("ready_seconds")}


def run_direct(folder: Path, limit: float, threads: int) -> dict:
    """The direct model with callbacks for its first plan and its first gap <= 1%."""
    from cipopt.check import check_plan
    from cipopt.io.load import load_instance

    inst = load_instance(folder)
    started = time.perf_counter()
    b = scale.DirectBuilder(inst)
    m = b.build()
    a = m["A"]
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", GAP)
    h.setOptionValue("time_limit", limit)
    h.setOptionValue("threads", threads)
    h.passModel(a.shape[1], a.shape[0], a.nnz, 1, -1, 0.0, m["cost"], m["lower"], m["upper"], m["row_lower"],
                m["row_upper"], a.indptr.astype(np.int32), a.indices.astype(np.int32), a.data, m["integrality"])
    build = time.perf_counter() - started
    seen: dict[str, float] = {}

    def improving(e):
        seen.setdefault("first", time.perf_counter() - started)

    def interrupt(e):
        gap = e.data_out.mip_gap
        if np.isfinite(gap) and gap <= GAP and "gap" not in seen:
            seen["gap"] = time.perf_counter() - started

    h.cbMipImprovingSolution.subscribe(improving)
    h.cbMipInterrupt.subscribe(interrupt)
    h.HandleUserInterrupt = True
    solve_started = time.perf_counter()
    thread = h.startSolve()
    while not h.wait(0.05)[0]:
        if time.perf_counter() - solve_started > limit + 2.0:
            h.cancelSolve()
        if time.perf_counter() - solve_started > limit + 2.0 + 30.0:
            break  # HiGHS does not stop: leave it (daemon thread), as cipopt does
    else:
        thread.join(timeout=5)
    wall = time.perf_counter() - started
    info = h.getInfo() if not thread.is_alive() else None
    out = {"wall": wall, "build": build, "first": seen.get("first"), "to_gap": seen.get("gap"),
           "checked": None,
           "objective": None, "gap": None}
    if info is not None and info.primal_solution_status == highspy.kSolutionStatusFeasible:
        x = np.asarray(h.getSolution().col_value)
        plan = {sid: None for sid in b.ids}
        for p in np.flatnonzero(x[: b.P] > 0.5):
            plan[b.ids[b.pair_scheme[p]]] = int(inst.years[0] + b.pair_start[p])
        out["objective"], out["gap"] = float(info.objective_function_value), float(info.mip_gap)
        out["checked"] = check_plan(inst, plan).ok
    return out


def run_direct_child(folder: Path, limit: float, threads: int) -> dict:
    """run_direct in a child process, for its own peak memory (load included, as cipopt's)."""
    cmd = [sys.executable, __file__, "--direct", str(folder), "--time-limit", repr(limit), "--threads", str(threads)]
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    text = child.stdout.read()
    _, _, usage = os.wait4(child.pid, 0)
    out = json.loads(text.strip().splitlines()[-1])
    out["peak_mib"] = usage.ru_maxrss / 1024
    return out


def fmt(v, spec=".1f", none="-"):
    return none if v is None else format(v, spec)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000x5,5000x10,20000x10,50000x10")
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--workdir", default=None, help="keep (and reuse) the instances and outputs here")
    ap.add_argument("--skip-direct", action="store_true", help="cipopt only")
    ap.add_argument("--direct", help=argparse.SUPPRESS)  # the child that runs the direct model
    args = ap.parse_args(argv)
    if args.direct:
        print(json.dumps(run_direct(Path(args.direct), args.time_limit, args.threads)), flush=True)
        os._exit(0)  # a direct solve that would not stop is left behind, not waited for
    work = Path(args.workdir or tempfile.mkdtemp(prefix="first-plan-"))
    work.mkdir(parents=True, exist_ok=True)
    print(" | ".join(scale.machine()))
    print("| size | cipopt first plan | cipopt to 1% | cipopt wall | over limit | status | plan from | gap | "
          "checker | peak MiB | direct first plan | direct to 1% | direct wall | direct gap | direct checked | "
          "direct peak MiB | load avg |")
    print("|" + "---|" * 17)
    for n, T in scale.parse_sizes(args.sizes):
        folder = work / f"gen-{n}x{T}"
        if not (folder / "instance.yaml").exists():
            generate.write(generate.generate(n, T, generate.default_orgs(n), 1, 1.0), folder)
        load = os.getloadavg()[0]
        c = run_cipopt(folder, work / f"out-{n}x{T}", args.time_limit, args.threads)
        s = c["summary"]
        first = c["first_plan_at"]  # from the command's start, after Python start-up and imports
        reached = s.get("mip_gap") is not None and s["mip_gap"] <= GAP + 1e-12
        d = None if args.skip_direct else run_direct_child(folder, args.time_limit, args.threads)
        print(f"| {n}x{T} | {fmt(first, '.1f')} | {fmt(c['wall'] if reached else None, '.1f', f'> {args.time_limit:g}')} "
              f"| {c['wall']:.1f} | {max(0.0, c['wall'] - args.time_limit):.1f} | {s.get('status')} | {s.get('plan_source')} "
              f"| {fmt(s.get('mip_gap'), '.2%')} | {s.get('checker')} | {c['peak_mib']:,.0f} "
              + ("| - | - | - | - | - | - " if d is None else
                 f"| {fmt(d['first'], '.1f', 'none')} | {fmt(d['to_gap'], '.1f', f'> {args.time_limit:g}')} | {d['wall']:.1f} "
                 f"| {fmt(d['gap'], '.2%')} | {d['checked']} | {d['peak_mib']:,.0f} ")
              + f"| {load:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
