"""Profile one `cipopt solve` with cProfile: where does the Python time go?

    python benchmarks/profile.py --schemes 5000 --years 5            # generate (seeded), then profile
    python benchmarks/profile.py --instance instances/holby --top 40
    python benchmarks/profile.py --schemes 20000 --years 10 --save /tmp/solve.prof   # for snakeviz etc.

Runs the `cipopt solve INSTANCE --out OUT` command in this process (the same code path as the
command line, run history pointed at a scratch file, made beforehand unless --new-history) under
cProfile, then prints:

1. the share of the whole run spent in each stage (read + validate, coefficients, Pyomo build,
   compile to standard form, HiGHS hand-off, solve, check, results tables, writing, run history),
   from the cumulative times of the functions that implement them;
2. the top functions by cumulative time and by own time.

The solve itself runs inside HiGHS in a C++ thread: cProfile sees it as time in `HighsSession.solve`
(waiting), which is the solver's share, not Python's. cProfile adds overhead to every Python call
(roughly doubling pure-Python code), so read the shares, not the absolute seconds; the timings
without a profiler are benchmarks/scale.py's.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# this file's folder goes last on the path: its profile.py must not shadow the standard library's
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE] + [str(HERE)]

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import subprocess
import tempfile
import time

# (label, file suffix, function name): the functions whose cumulative time is a stage's
STAGES = [
    ("imports (every module loaded, within any stage below)", "importlib._bootstrap>", "_find_and_load"),
    ("read + parse + validate (load_instance)", "io/load.py", "load_instance"),
    ("  of which validate_instance", "schema/validate.py", "validate_instance"),
    ("coefficients (build_coefficients)", "cipopt/coefficients.py", "build_coefficients"),
    ("Pyomo model (build_model)", "model/build.py", "build_model"),
    ("  of which coefficient matrices (Coefficients.matrix)", "cipopt/coefficients.py", "matrix"),
    ("standard form (compile_model)", "solve/highs.py", "compile_model"),
    ("  of which LinearStandardFormCompiler.write", "plugins/standard_form.py", "write"),
    ("HiGHS hand-off (HighsSession.__init__)", "solve/highs.py", "__init__"),
    ("solve (HighsSession.solve, in HiGHS)", "solve/highs.py", "solve"),
    ("plan extraction (starts_from_plan)", "cipopt/results.py", "starts_from_plan"),
    ("objective re-evaluation (objective_value)", "cipopt/results.py", "objective_value"),
    ("independent check (check_plan)", "check/checker.py", "check_plan"),
    ("plan.csv table (plan_table)", "cipopt/results.py", "plan_table"),
    ("years.csv table (years_table)", "cipopt/results.py", "years_table"),
    ("terminal summary (solve_summary)", "report/text.py", "solve_summary"),
    ("files written (write_folder)", "io/write.py", "write_folder"),
    ("run history (record_run)", "cli/reports.py", "record_run"),
]


def stage_lines(stats: pstats.Stats, total: float) -> list[str]:
    table = stats.stats  # (file, line, name) -> (cc, nc, tt, ct, callers)
    out = []
    for label, suffix, name in STAGES:
        ct = 0.0
        for (file, _line, func), (_cc, _nc, _tt, cum, _callers) in table.items():
            if func == name and file.replace("\\", "/").endswith(suffix):
                ct = max(ct, cum)  # recursion-safe: the outermost entry carries the total
        out.append(f"  {label:58s} {ct:8.2f} s {100.0 * ct / total:6.1f}%")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--instance", help="an instance folder to profile")
    src.add_argument("--schemes", type=int, help="generate an instance of this many schemes (benchmarks/generate.py)")
    ap.add_argument("--years", type=int, default=5)
    ap.add_argument("--orgs", type=int, default=None)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--budget", type=float, default=1.0)
    ap.add_argument("--gap", type=float, default=0.0001)
    ap.add_argument("--time-limit", type=float, default=300.0)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--top", type=int, default=30, help="how many functions to list (default 30)")
    ap.add_argument("--save", help="also save the raw profile here (pstats format)")
    ap.add_argument("--new-history", action="store_true",
                    help="record into a new run history (a user's first solve: SQLAlchemy creates it); "
                         "by default one is created beforehand, as for every later solve")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="cipopt-profile-") as tmp:
        work = Path(tmp)
        if args.instance:
            folder = Path(args.instance)
        else:
            import generate as gen
            orgs = args.orgs if args.orgs is not None else gen.default_orgs(args.schemes)
            folder = gen.write(gen.generate(args.schemes, args.years, orgs, args.seed, args.budget),
                               work / "instance")
            print(f"generated {args.schemes} x {args.years}, {orgs} organisations, seed {args.seed}")
        os.environ["CIPOPT_STORE"] = str(work / "runs.sqlite")
        if not args.new_history:  # in another process: its imports must not leave this one warm
            subprocess.run([sys.executable, "-c", "import sys; from cipopt.store import Store; Store(sys.argv[1]).close()",
                            os.environ["CIPOPT_STORE"]], check=True)
        cli_args = ["solve", str(folder), "--out", str(work / "out"), "--gap", repr(args.gap),
                    "--time-limit", repr(args.time_limit), "--threads", str(args.threads), "--quiet"]
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        from cipopt.cli import (
            main as cli,  # imports inside the profile: they are part of a run
        )
        printed = io.StringIO()  # the command's own report (for 50,000 schemes, every id selected)
        try:
            with contextlib.redirect_stdout(printed):
                cli.main(cli_args, standalone_mode=False)
        except SystemExit as exc:
            code = exc.code
        else:
            code = 0
        profiler.disable()
        total = time.perf_counter() - started
        head = printed.getvalue().splitlines()
        print("\n".join(line[:160] for line in head[:3]))
        print(f"\ncipopt {' '.join(cli_args[:2])} ...: exit {code}, {total:.2f} s under cProfile "
              f"({len(printed.getvalue()):,} characters printed)\n")
        stats = pstats.Stats(profiler)
        print("stages (cumulative time of the function that implements each; nested ones indented):")
        for line in stage_lines(stats, total):
            print(line)
        for order in ("cumulative", "tottime"):
            buf = io.StringIO()
            pstats.Stats(profiler, stream=buf).strip_dirs().sort_stats(order).print_stats(args.top)
            text = buf.getvalue()
            start = text.find("   ncalls")
            print(f"\ntop {args.top} by {order} time:")
            print(text[start:] if start >= 0 else text)
        if args.save:
            stats.dump_stats(args.save)
            print(f"saved {args.save}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
