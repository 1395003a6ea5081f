"""Which modules a cipopt command imports: the command run in a fresh interpreter that then lists
sys.modules (tests/test_startup.py, tests/test_readers.py)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import json, sys
sys.argv = ["cipopt"] + json.loads(sys.argv[1])
from cipopt.__main__ import run
try:
    run()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
sys.stdout.flush()
print("\\nMODULES " + json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def imported_by(*args: str, env: dict[str, str] | None = None, full: bool = False,
                stderr: bool = False) -> tuple[int, set[str], str]:
    """(exit code, modules, output) of `cipopt ARGS`: the top-level modules and scipy's subpackages,
    or with `full` every module's dotted name; the output is stdout, and stderr after it with
    `stderr`."""
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(list(args))], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, env=env)
    line = [ln for ln in done.stdout.splitlines() if ln.startswith("MODULES ")]
    assert line, done.stdout + done.stderr
    found = json.loads(line[-1][len("MODULES "):])
    names = set(found["modules"])
    if not full:
        names = {m.split(".")[0] for m in names} | {m for m in names if m.startswith("scipy.") and m.count(".") == 1}
    return found["code"], names, done.stdout + (done.stderr if stderr else "")
