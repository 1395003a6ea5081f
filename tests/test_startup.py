"""Start-up: `cipopt --help` and `cipopt validate` load none of the heavy libraries (issue 17).

Each command runs in a fresh interpreter that prints the top-level modules it ended up with, so a
module-level import anywhere on the way (a type hint, an exception class) fails the test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from probe import imported_by

ROOT = Path(__file__).resolve().parents[1]
HEAVY = {"pyomo", "highspy", "pandas", "scipy", "sqlalchemy", "dask", "distributed", "rich", "openpyxl"}

def test_the_probe_sees_a_heavy_import(tmp_path):
    """The probe itself can fail: building a model imports Pyomo and scipy.sparse, and it sees them;
    not scipy.stats, scipy.spatial, scipy.integrate, which Pyomo would import eagerly."""
    code, modules, out = imported_by("build", "instances/tiny", "--lp", str(tmp_path / "tiny.lp"))
    assert code == 0, out
    assert {"pyomo", "scipy", "scipy.sparse"} <= modules
    # Pyomo's dependency module would import these with scipy (cipopt/model/__init__.py defers them)
    assert not modules & {"scipy.stats", "scipy.spatial", "scipy.integrate"}


@pytest.mark.parametrize("args", [["--help"], ["solve", "--help"], ["whatif", "--help"], ["--version"]])
def test_help_imports_no_heavy_library(args):
    code, modules, out = imported_by(*args)
    assert code == 0
    assert "Example" in out or "cipopt" in out
    assert not modules & HEAVY, f"`cipopt {' '.join(args)}` imported {sorted(modules & HEAVY)}"


def test_validate_imports_neither_the_solver_nor_scipy_nor_the_run_history():
    code, modules, out = imported_by("validate", "instances/holby")
    assert code == 0, out
    assert "holby" in out.lower() or "schemes" in out.lower()
    # the instance reader reads text cells without pandas (io/tables.py): none of the heavy libraries
    assert not modules & (HEAVY | {"numpy"}), f"`cipopt validate` imported {sorted(modules & (HEAVY | {'numpy'}))}"
    assert "sound" in out  # the verdict


def test_a_command_that_records_no_run_imports_no_sqlalchemy(tmp_path):
    """Only the commands that record or read the run history (solve, runs) load SQLAlchemy."""
    plan = tmp_path / "plan.csv"
    plan.write_text("scheme,selected,start_year\nagency-cap,true,2025\n")
    code, modules, out = imported_by("check", "instances/tiny", str(plan))
    assert code in (0, 1), out  # 1: the plan breaks a rule; either way a verdict
    assert "sqlalchemy" not in modules and "dask" not in modules and "distributed" not in modules


def test_a_solve_loads_only_the_pyomo_and_scipy_it_uses_and_records_without_sqlalchemy(tmp_path):
    """A holby solve with --out: pyomo.core, not pyomo.environ's plugins (solvers, writers); scipy.sparse,
    not scipy.stats, scipy.special (only risk-aware draws use it); the run recorded into an existing
    SQLite history with sqlite3, not SQLAlchemy (cipopt.history)."""
    from cipopt.store import Store

    history = tmp_path / "runs.sqlite"
    Store(history).close()  # an existing history at the current schema, as after any first solve
    env = {**os.environ, "CIPOPT_STORE": str(history)}
    code, modules, out = imported_by("solve", "instances/holby", "--out", str(tmp_path / "out"), env=env, full=True)
    assert code == 0, out
    assert "recorded as run 1" in out
    assert {"pyomo.core", "highspy", "scipy.sparse", "sqlite3"} <= modules
    unneeded = {"pyomo.environ", "pyomo.solvers", "pyomo.contrib.solver", "pyomo.repn.plugins.lp_writer",
                "pyomo.repn.plugins.standard_form",  # the families record their rows (solve.highs.compile_model)
                "scipy.stats", "scipy.special", "scipy.spatial", "scipy.integrate", "sqlalchemy", "cipopt.store"}
    assert not modules & unneeded, f"`cipopt solve` imported {sorted(modules & unneeded)}"


FROZEN = """
import gc, json, sys
sys.argv = ["cipopt"] + json.loads(sys.argv[1])
if sys.argv[1:2] == ["in-process"]:  # the CLI imported, as tests and notebooks do: nothing frozen
    from click.testing import CliRunner
    from cipopt.cli import main
    code = CliRunner().invoke(main, sys.argv[2:]).exit_code
else:
    from cipopt.__main__ import run
    try:
        run()
    except SystemExit as exc:
        code = exc.code
print("\\nFROZEN " + json.dumps({"code": code, "frozen": gc.get_freeze_count(), "enabled": gc.isenabled()}))
"""


@pytest.mark.parametrize("in_process", [False, True])
def test_only_cipopts_own_process_freezes_what_a_solves_imports_made(tmp_path, in_process):
    """The cipopt process moves what a solve's imports made out of the collector's sight (about
    0.1 s of CPU a start, cipopt.bulk); a process that imports the CLI keeps its collector as it was."""
    args = ["solve", "instances/tiny", "--no-store", "--out", str(tmp_path / "out")]
    done = subprocess.run([sys.executable, "-c", FROZEN, json.dumps((["in-process"] if in_process else []) + args)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    line = [ln for ln in done.stdout.splitlines() if ln.startswith("FROZEN ")]
    assert line, done.stdout + done.stderr
    found = json.loads(line[-1][len("FROZEN "):])
    assert found["code"] == 0 and found["enabled"]
    if in_process:
        assert found["frozen"] == 0
    else:
        assert found["frozen"] > 100_000  # the modules of the CLI, Pyomo, HiGHS, numpy, scipy, pandas
