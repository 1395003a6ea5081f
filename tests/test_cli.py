"""The `cipopt` command end to end: outputs, exit codes, honest statuses, and failures that keep
the user's files intact."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import cipopt.pipeline
from cipopt.cli import main
from cipopt.solve.highs import HighsSession, RawSolution, SolveInterrupted
from cipopt.solve.status import SolveStatus
from test_orlib import hard_knapsack, write_instance

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "instances" / "tiny"
HOLBY = ROOT / "instances" / "holby"


def run(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_solve_writes_the_solution_folder(tmp_path):
    out = tmp_path / "out"
    result = run("solve", TINY, "--out", out, "--gap", "0")
    assert result.exit_code == 0, result.output
    assert "status: optimal" in result.output
    assert "schemes selected" in result.output and "underlying" in result.output
    plan = pd.read_csv(out / "plan.csv")
    assert list(plan.columns[:3]) == ["scheme", "selected", "start_year"]
    assert len(plan) == 5
    years = pd.read_csv(out / "years.csv")
    assert {"year", "org", "measure", "value", "bound", "shortfall"} <= set(years.columns)
    summary = json.loads((out / "summary.json").read_text())
    for key in ("status", "objective", "mip_gap", "build_seconds", "solve_seconds", "solver",
                "solver_version", "instance_sha256"):
        assert key in summary
    assert summary["status"] == "optimal" and summary["checker"] == "accepted"
    assert summary["solver_options"]["mip_gap"] == 0.0  # the command line overrides instance.yaml


def test_solved_plan_passes_check_with_the_same_objective(tmp_path):
    out = tmp_path / "out"
    assert run("solve", HOLBY, "--out", out).exit_code == 0
    summary = json.loads((out / "summary.json").read_text())
    result = run("check", HOLBY, out / "plan.csv", "--out", tmp_path / "check")
    assert result.exit_code == 0, result.output
    checked = json.loads((tmp_path / "check" / "summary.json").read_text())
    assert checked["ok"] is True
    assert checked["objective"] == pytest.approx(summary["objective"], rel=1e-9)


def test_years_csv_agrees_with_the_independent_checker(tmp_path):
    out = tmp_path / "out"
    assert run("solve", HOLBY, "--out", out).exit_code == 0
    assert run("check", HOLBY, out / "plan.csv", "--out", tmp_path / "check").exit_code == 0
    ours = pd.read_csv(out / "years.csv")
    theirs = pd.read_csv(tmp_path / "check" / "years.csv")
    merged = ours.merge(theirs, on=["year", "org", "measure"], suffixes=("", "_checker"))
    assert len(merged) == len(theirs), "every figure the checker reports is in years.csv"
    rules = ours[ours.measure.str.contains(":")]
    assert len(rules) == len(theirs[theirs.measure.str.contains(":")])
    for column in ("value", "bound", "shortfall"):
        a, b = merged[column], merged[f"{column}_checker"]
        both = a.notna() & b.notna()
        assert (abs(a[both] - b[both]) <= 1e-6 * (1 + abs(a[both]))).all(), column


def test_existing_output_is_not_overwritten_without_force(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    result = run("solve", TINY, "--out", out)
    assert result.exit_code == 2
    assert "--force" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    result = run("solve", TINY, "--out", out, "--force")
    assert result.exit_code == 0
    assert (out / "notes.txt").read_text() == "mine"  # files we do not write are left alone
    assert (out / "plan.csv").exists()


def test_bad_input_is_one_line_per_problem_and_exit_2(tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(TINY, broken)
    schemes = (broken / "schemes.csv").read_text().replace(",100,0.5,0,0,", ",12k,0.5,0,0,", 1)
    (broken / "schemes.csv").write_text(schemes)
    result = run("solve", broken, "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "schemes.csv, row 2 (agency-cap), column recurrent_saving: '12k' is not a number" in result.output
    assert not (tmp_path / "out").exists()


def test_missing_instance_folder():
    result = run("solve", "no/such/folder")
    assert result.exit_code == 2
    assert "no/such/folder: no such instance folder" in result.output


def test_infeasible_exit_3_with_reason_and_no_plan(tmp_path):
    inst = tmp_path / "inst"
    shutil.copytree(TINY, inst)
    text = (inst / "instance.yaml").read_text().replace("hard: false", "hard: true")
    text = text.replace("values: {2025: 100, 2026: 200, 2027: 300}", "values: {2025: 1000}")
    (inst / "instance.yaml").write_text(text)
    out = tmp_path / "out"
    result = run("solve", inst, "--out", out)
    assert result.exit_code == 3
    assert "status: infeasible" in result.output
    assert not (out / "plan.csv").exists()
    assert json.loads((out / "summary.json").read_text())["status"] == "infeasible"


def test_time_limit_with_an_incumbent_is_feasible_with_its_gap(tmp_path):
    hard = hard_knapsack()
    folder = write_instance(hard, tmp_path / "cb")
    out = tmp_path / "out"
    result = run("solve", folder, "--out", out, "--time-limit", "1", "--gap", "0")
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "feasible"
    assert summary["mip_gap"] > 0 and summary["dual_bound"] >= summary["objective"]
    assert summary["checker"] == "accepted"
    assert summary["solve_seconds"] < 1 + 5  # stopped near the limit (watchdog grace included)


def fake_solve(result):
    def solve(self, **kwargs):
        if isinstance(result, BaseException):
            raise result
        return result
    return solve


def test_time_limit_without_a_plan_exits_4_and_writes_no_plan(tmp_path, monkeypatch):
    raw = RawSolution(SolveStatus.TIME_LIMIT_NO_SOLUTION, "Time limit reached", None, None, None, None, 1.0)
    monkeypatch.setattr(HighsSession, "solve", fake_solve(raw))
    out = tmp_path / "out"
    result = run("solve", TINY, "--out", out, "--no-first-plan")  # else the first plan is the answer
    assert result.exit_code == 4
    assert "before finding any plan" in result.output
    assert not (out / "plan.csv").exists()


def test_when_highs_finds_no_plan_the_first_plan_is_returned_checked(tmp_path, monkeypatch):
    from cipopt.check import check_plan
    from cipopt.io.load import load_instance
    from cipopt.io.plan import read_plan
    from cipopt.schema.problems import ProblemLog

    raw = RawSolution(SolveStatus.TIME_LIMIT_NO_SOLUTION, "Time limit reached", None, None, None, None, 1.0,
                      best_bound=500.0)
    monkeypatch.setattr(HighsSession, "solve", fake_solve(raw))
    out = tmp_path / "out"
    result = run("solve", TINY, "--out", out)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "feasible" and summary["plan_source"] == "first-plan heuristic"
    assert "the plan is the first-plan heuristic's" in result.output
    instance = load_instance(TINY)
    report = check_plan(instance, read_plan(out / "plan.csv", instance, ProblemLog()))
    assert report.ok and abs(report.objective - summary["objective"]) < 1e-6
    assert summary["dual_bound"] == 500.0
    assert abs(summary["mip_gap"] - (500.0 - report.objective) / report.objective) < 1e-9


@pytest.mark.parametrize("failure, code, words", [
    (RuntimeError("HiGHS crashed"), 1, "internal error: RuntimeError: HiGHS crashed"),
    (SolveInterrupted(), 130, "interrupted"),
])
def test_solver_failures_are_one_clear_line_and_leave_nothing(tmp_path, monkeypatch, failure, code, words):
    monkeypatch.setattr(HighsSession, "solve", fake_solve(failure))
    out = tmp_path / "out"
    result = run("solve", TINY, "--out", out)
    assert result.exit_code == code
    assert words in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_a_plan_the_checker_rejects_is_never_reported(monkeypatch):
    from cipopt.check import Violation
    from cipopt.io.load import load_instance

    real = cipopt.pipeline.check_plan

    def lying_checker(instance, plan):
        report = real(instance, plan)
        report.violations.append(Violation(rule="limit", year=2025, schemes=("epr",), amount=1.0,
                                           message="planted violation"))
        return report

    monkeypatch.setattr(cipopt.pipeline, "check_plan", lying_checker)
    outcome = cipopt.pipeline.solve_instance(load_instance(TINY))
    assert outcome.status == "error"
    assert outcome.plan_frame is None
    assert "planted violation" in " ".join(outcome.messages)


def wait_for_cpu(pid: int, seconds: float, within: float) -> None:
    """Until the process has used `seconds` of CPU (its start-up and build are about 1.5 s, so it is
    then solving, however loaded the machine), or `within` seconds have passed; without /proc
    (not Linux), a fixed sleep of `within` / 2."""
    stat = Path(f"/proc/{pid}/stat")
    if not stat.exists():
        time.sleep(within / 2)
        return
    tick = os.sysconf("SC_CLK_TCK")
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            return  # the process ended: the test's own checks say why
        if (int(fields[11]) + int(fields[12])) / tick >= seconds:  # utime + stime
            return
        time.sleep(0.1)


@pytest.mark.slow
def test_ctrl_c_during_a_long_solve(tmp_path):
    hard = hard_knapsack()
    folder = write_instance(hard, tmp_path / "cb")
    out = tmp_path / "out"
    exe = Path(sys.executable).parent / "cipopt"
    proc = subprocess.Popen([str(exe), "solve", str(folder), "--out", str(out), "--gap", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wait_for_cpu(proc.pid, seconds=2.5, within=30.0)  # into the branch and bound (exit 130 at any stage)
    assert proc.poll() is None, proc.communicate()[0]
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, output
    assert "interrupted" in output and "Traceback" not in output
    assert not out.exists()


def test_check_reports_broken_rules_with_exit_1(tmp_path):
    plan = tmp_path / "plan.csv"
    plan.write_text("scheme,selected,start_year\nskill-mix,true,2025\ne-rostering,true,2025\n")
    result = run("check", TINY, plan)
    assert result.exit_code == 1
    assert "skill-mix" in result.output and "e-rostering" in result.output


def test_validate_summarises_a_sound_instance(tmp_path):
    result = run("validate", HOLBY, "--out", tmp_path / "v")
    assert result.exit_code == 0, result.output
    assert "sound" in result.output and "ineligible under the QIA rules" in result.output
    schemes = pd.read_csv(tmp_path / "v" / "schemes.csv")
    assert (~schemes.eligible).sum() >= 1


def test_build_writes_a_readable_lp_file(tmp_path):
    lp = tmp_path / "tiny.lp"
    assert run("build", TINY, "--lp", lp).exit_code == 0
    text = lp.read_text()
    assert "c_requires" in text and "c_limit" in text and "v_start" in text
    assert run("build", TINY, "--lp", lp).exit_code == 2  # not overwritten without --force


@pytest.mark.parametrize("command", ["solve", "check", "validate", "build"])
def test_every_command_has_help_with_an_example(command):
    result = run(command, "--help")
    assert result.exit_code == 0 and "Example:" in result.output
