"""How fast cipopt starts: the CPU of `cipopt --help`, `validate` and a small solve, side by side.

    python benchmarks/startup.py                # 7 runs of each, median CPU
    python benchmarks/startup.py --repeat 15
    git archive a2f2e83 src | tar -x -C /tmp/before     # an earlier cipopt's source, then:
    python benchmarks/startup.py --before /tmp/before/src   # the same commands of both, side by side

Every command runs as a fresh process in one go, interleaved (one run of each, then the next), so
that a busy machine weighs on all of them alike. CPU is user + system time of the child process
(resource.getrusage), which a shared machine disturbs much less than wall time; wall time is
shown too, and the fastest and slowest run of each. Goals (issue 17): `cipopt --help` within 3x
`python -c "import click"`, and `cipopt solve instances/holby --out DIR` under 1.5 s of CPU. The run history is written to a
scratch file (CIPOPT_STORE), never the user's; the warm-up run creates it, so the measured solves
record as every solve after a user's first does (with sqlite3; the first, which creates the
history, loads SQLAlchemy: about 0.2 s more). PYTHONDONTWRITEBYTECODE is cleared for the
children, so that, as after any `pip install`, modules are not compiled again at every start
(with it set, the compile alone costs a holby solve about 0.4 s).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CIPOPT = Path(sys.executable).parent / "cipopt"


def commands(scratch: Path, before: Path | None) -> dict[str, list[str]]:
    cmds = {
        "python -c pass": [sys.executable, "-c", "pass"],
        'python -c "import click"': [sys.executable, "-c", "import click"],
        "cipopt --help": [str(CIPOPT), "--help"],
        "cipopt validate instances/holby": [str(CIPOPT), "validate", "instances/holby"],
        "cipopt solve instances/holby --out DIR": [str(CIPOPT), "solve", "instances/holby", "--out",
                                                   str(scratch / "out"), "--force"],
    }
    if before is not None:  # the same cipopt commands run from another source tree (python -m)
        runner = ["env", f"PYTHONPATH={before}", sys.executable, "-m", "cipopt"]
        for name in [n for n in cmds if n.startswith("cipopt ")]:
            cmds[f"(before) {name}"] = runner + cmds[name][1:]
    return cmds


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one run of `argv` as a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.decode()[-500:]}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--before", type=Path, help="another cipopt's src folder, run side by side")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        env = {**os.environ, "CIPOPT_STORE": str(scratch / "runs.sqlite")}
        # as on a user's machine: the warm-up run leaves compiled modules (__pycache__) behind
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        cmds = commands(scratch, args.before)
        for argv in cmds.values():  # warm the file cache once (not measured)
            run_once(argv, env)
        cpu: dict[str, list[float]] = {name: [] for name in cmds}
        wall: dict[str, list[float]] = {name: [] for name in cmds}
        for _ in range(args.repeat):
            for name, argv in cmds.items():
                c, w = run_once(argv, env)
                cpu[name].append(c)
                wall[name].append(w)
    med = {name: statistics.median(v) for name, v in cpu.items()}
    click = med['python -c "import click"']
    print(f"median of {args.repeat} runs each, interleaved; load average {os.getloadavg()[0]:.1f}")
    print(f"{'command':<50} {'CPU s':>7} {'min-max':>13} {'wall s':>7} {'x click':>8}")
    for name in cmds:
        print(f"{name:<50} {med[name]:>7.3f} {min(cpu[name]):>6.3f}-{max(cpu[name]):<6.3f} "
              f"{statistics.median(wall[name]):>7.3f} {med[name] / click:>8.1f}")
    if args.before is not None:  # the same figures side by side, as benchmarks/README.md shows them
        print("\n| command | CPU s now | x click | CPU s before | x click |\n|---|---|---|---|---|")
        for name in [n for n in cmds if n.startswith("cipopt ")]:
            then = med[f"(before) {name}"]
            print(f"| `{name}` | {med[name]:.3f} | {med[name] / click:.1f} | {then:.3f} | {then / click:.1f} |")
    help_ratio = med["cipopt --help"] / click
    solve = med["cipopt solve instances/holby --out DIR"]
    print(f"\ngoal `cipopt --help` within 3x `import click`: {help_ratio:.1f}x "
          f"({'met' if help_ratio <= 3 else 'NOT met'})")
    print(f"goal holby solve under 1.5 s CPU: {solve:.2f} s ({'met' if solve < 1.5 else 'NOT met'}; "
          f"slowest of {args.repeat}: {max(cpu['cipopt solve instances/holby --out DIR']):.2f} s)")

if __name__ == "__main__":
    main()
