"""The sweep map: results in task order, setup once per process, a given state reused; on a local
Dask cluster of 2 workers: the same results as the serial path, one setup per worker, a worker's
exception raised here with its type, and --workers / --scheduler from the command line."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from cipopt.analysis import sweep as sweep_module
from cipopt.analysis.explain import explain
from cipopt.analysis.frontier import run_frontier
from cipopt.analysis.scenario import load_scenarios, scenario_files
from cipopt.analysis.sweep import Sweep, SweepUnavailable, chunk_sizes, cluster, run_sweep
from cipopt.analysis.whatif import run_whatif
from cipopt.cli import main
from cipopt.io.load import load_instance
from cipopt.pipeline import Planner, SolveOptions
from cipopt.schema.problems import InputError, Problem
from sweep_tasks import (  # light: the workers import the tasks' module
    SETUPS, _broken_setup, _counted_setup, _failing, _setup, _where, _work,
)

ROOT = Path(__file__).resolve().parents[1]
HOLBY = ROOT / "instances" / "holby"
TINY = ROOT / "instances" / "tiny"
EXACT = SolveOptions(mip_gap=0.0, time_limit=120)
TWO = Sweep(workers=2)

def test_in_process_sweep_keeps_task_order_and_sets_up_once():
    SETUPS.clear()
    seen = []
    results = run_sweep(_setup, 3, _work, [4, 1, 2], progress=lambda d, t, label: seen.append((d, t, label)),
                        labels=["a", "b", "c"])
    assert results == [34, 31, 32]
    assert SETUPS == [3]
    assert seen == [(0, 3, "a"), (1, 3, "b"), (2, 3, "c"), (3, 3, "done")]


def test_a_given_state_is_used_instead_of_setup():
    SETUPS.clear()
    assert run_sweep(_setup, 3, _work, [1], state={"base": 5}) == [51]
    assert SETUPS == []
    assert Sweep().in_process and not Sweep(workers=2).in_process


def test_chunks_are_consecutive_and_cover_every_task():
    assert chunk_sizes(10, 2) == [2, 2, 1, 1, 1, 1, 1, 1]
    assert chunk_sizes(100, 2) == [13, 13, 13, 13, 12, 12, 12, 12]
    assert chunk_sizes(3, 4) == [1, 1, 1]
    assert all(sum(chunk_sizes(n, s)) == n for n in (1, 7, 50) for s in (1, 2, 5))


@pytest.mark.slow
def test_a_local_cluster_runs_the_map_in_task_order_and_is_closed_afterwards():
    tasks = [7, 3, 9, 0, 5, 1, 8, 2, 6, 4, 11, 10]
    seen = []
    results = run_sweep(_setup, 4, _work, tasks, sweep=TWO, labels=[f"t{t}" for t in tasks],
                        progress=lambda d, t, label: seen.append((d, t, label)))
    assert results == [40 + t for t in tasks] == run_sweep(_setup, 4, _work, tasks)
    assert seen[0] == (0, 12, "t7") and seen[-1] == (12, 12, "done")
    assert [d for d, _, _ in seen] == sorted(d for d, _, _ in seen)
    assert not sweep_module._OPEN  # the cluster started for the call is gone


@pytest.fixture(scope="module")
def two_workers():
    """One local cluster of 2 workers for the tests below (each would otherwise start its own)."""
    with cluster(TWO):
        yield TWO


@pytest.mark.slow
def test_each_worker_sets_up_once_and_keeps_its_state(two_workers, tmp_path):
    log = tmp_path / "setups.txt"
    results = run_sweep(_counted_setup, str(log), _where, list(range(40)), sweep=two_workers)
    assert [r for r, _ in results] == [t * t for t in range(40)]
    setups = log.read_text().split()
    assert len(setups) == len(set(setups)) <= 2  # once per worker process
    assert {pid for _, pid in results} == {int(p) for p in setups}
    assert os.getpid() not in {pid for _, pid in results}  # the work ran on the workers
    run_sweep(_counted_setup, str(log), _where, list(range(10)), sweep=two_workers)
    assert log.read_text().split() == setups  # the same payload again: the workers' states are reused


@pytest.mark.slow
def test_a_worker_exception_is_raised_here_with_its_type(two_workers):
    with pytest.raises(InputError) as caught:
        run_sweep(_setup, 1, _failing, [1, 2, 3, 4], sweep=two_workers)
    assert caught.value.problems == [Problem("scenarios/cut.yaml", "factor: expected a number",
                                             key="scale[0].factor")]
    with pytest.raises(ZeroDivisionError, match="task 5 divides by zero"):
        run_sweep(_setup, 1, _failing, [5], sweep=two_workers)


def _same(a: pd.DataFrame, b: pd.DataFrame, skip=("solve_seconds",)) -> None:
    pd.testing.assert_frame_equal(a.drop(columns=list(skip)), b.drop(columns=list(skip)))


@pytest.mark.slow
def test_whatif_on_two_workers_is_the_serial_comparison(two_workers):
    holby = load_instance(HOLBY)
    scenarios = load_scenarios(HOLBY, holby, [p.stem for p in scenario_files(HOLBY)])
    serial = run_whatif(holby, scenarios, EXACT)
    spread = run_whatif(holby, scenarios, EXACT, sweep=two_workers)
    _same(serial.table(), spread.table())
    pd.testing.assert_frame_equal(serial.plans(), spread.plans())
    pd.testing.assert_frame_equal(serial.years(), spread.years())
    assert all(row.outcome.check.ok for row in spread.rows)
    assert [r.outcome.instance for r in spread.rows[1:]] == [a.instance for a in scenarios]


@pytest.mark.slow
def test_frontier_points_on_two_workers_are_the_serial_curve(two_workers):
    holby = load_instance(HOLBY)
    serial = run_frontier(holby, "capital", points=6, options=EXACT)
    spread = run_frontier(holby, "capital", points=6, options=EXACT, sweep=two_workers)
    # on the workers each point is solved on its own, with no start from the tighter point
    _same(serial.table(), spread.table(), skip=("solve_seconds", "warm_start"))
    assert not any(pt.warm_start for pt in spread.points)
    assert spread.summary()["points"] == serial.summary()["points"]


@pytest.mark.slow
def test_explain_on_two_workers_is_the_serial_explanation(two_workers):
    tiny = load_instance(TINY)
    serial = explain(Planner(tiny), EXACT)
    spread = explain(Planner(tiny), EXACT, sweep=two_workers)
    pd.testing.assert_frame_equal(serial.schemes, spread.schemes)
    pd.testing.assert_frame_equal(serial.rules, spread.rules)
    assert (serial.schemes["kind"] != "").all()


@pytest.mark.slow
def test_workers_from_the_command_line_write_the_serial_files(two_workers, tmp_path):
    runner = CliRunner()
    for name, extra in (("serial", []), ("spread", ["--workers", "2"])):
        # two scenarios (test_whatif_on_two_workers_is_the_serial_comparison solves them all)
        result = runner.invoke(main, ["whatif", str(HOLBY), "--scenario", "capital-halved", "--scenario",
                                      "ward-closure-refused", "--gap", "0", "-q",
                                      "--out", str(tmp_path / name), *extra])
        assert result.exit_code == 0, result.output
    serial, spread = (pd.read_csv(tmp_path / n / "whatif.csv") for n in ("serial", "spread"))
    _same(serial, spread)
    plans = [(tmp_path / n / "whatif_plans.csv").read_text() for n in ("serial", "spread")]
    assert plans[0] == plans[1]


@pytest.mark.slow
def test_bad_cluster_options_are_one_line_errors(monkeypatch, tmp_path):
    runner = CliRunner()
    both = runner.invoke(main, ["frontier", str(TINY), "--vary", "capital", "--workers", "2",
                                "--scheduler", "tcp://127.0.0.1:8786"])
    assert both.exit_code == 2 and "not both" in both.output and "Traceback" not in both.output
    bad = runner.invoke(main, ["explain", str(TINY), "--scheduler", "my laptop"])
    assert bad.exit_code == 2 and "--scheduler" in bad.output and "not a Dask scheduler address" in bad.output
    monkeypatch.setattr(sweep_module, "CONNECT_TIMEOUT", 1.0)
    gone = runner.invoke(main, ["whatif", str(HOLBY), "--scenario", "capital-halved",
                                "--scheduler", "tcp://127.0.0.1:9", "--out", str(tmp_path / "w")])
    assert gone.exit_code == 1, gone.output
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in gone.output and "Traceback" not in gone.output
    assert not (tmp_path / "w").exists()
    with pytest.raises(SweepUnavailable):
        run_sweep(_setup, 1, _work, [1], sweep=Sweep(scheduler="tcp://127.0.0.1:9"))


@pytest.mark.slow
def test_an_error_in_a_workers_setup_is_raised_here_too(two_workers):
    with pytest.raises(ZeroDivisionError):
        run_sweep(_broken_setup, 0, _work, [1, 2], sweep=two_workers)
    with pytest.raises(ValueError, match="not both"):
        Sweep(workers=2, scheduler="tcp://127.0.0.1:8786")
    with pytest.raises(ValueError, match="at least 1 worker"):
        Sweep(workers=0)


@pytest.mark.slow
def test_rank_on_two_workers_is_the_serial_ranking(two_workers, tmp_path):
    runner = CliRunner()
    fund = Path(__file__).parents[1] / "instances" / "fund"
    for name, extra in (("serial", []), ("spread", ["--workers", "2"])):
        result = runner.invoke(main, ["rank", str(fund), "--steps", "6", "--samples", "24", "--seed", "3", "-q",
                                      "--out", str(tmp_path / name), *extra])
        assert result.exit_code == 0, result.output
    for table in ("bids.csv", "budget_levels.csv", "portfolios.csv", "weight_samples.csv"):
        assert (tmp_path / "serial" / table).read_text() == (tmp_path / "spread" / table).read_text(), table


def test_an_internal_resolve_skips_the_tables_and_check_but_finds_the_same_plan():
    """Re-solves whose plan nobody is shown (rank's weight samples) skip the tables and the check;
    the plan, objective and status are those of the full finish, which checks and tables."""
    holby = load_instance(HOLBY)
    planner = Planner(holby)
    full = planner.solve(EXACT)
    bare = planner.solve(EXACT, tables=False, checked=False)
    shown = planner.solve(EXACT, tables=False)
    assert full.check.ok and full.years is not None and full.plan_frame is not None
    assert bare.check is None and bare.years is None and bare.plan_frame is None
    assert shown.check.ok and shown.years is None
    for other in (bare, shown):
        assert other.status == full.status and other.plan == full.plan
        assert other.objective == pytest.approx(full.objective, rel=1e-9)


def test_a_sweep_too_small_for_its_workers_runs_here_and_says_so(caplog, monkeypatch):
    """Fewer than MIN_TASKS_PER_WORKER tasks per worker: no cluster is started, the results are the
    same, and the note says why; an open cluster (or an existing scheduler) is used whatever the size."""
    three = Sweep(workers=3)  # no test keeps a cluster of 3 open
    small = list(range(sweep_module.MIN_TASKS_PER_WORKER * 3 - 1))
    SETUPS.clear()
    with caplog.at_level("INFO", logger="cipopt.sweep"):
        assert run_sweep(_setup, 2, _work, small, sweep=three) == [20 + t for t in small]
    assert SETUPS == [2]  # set up here, in this process
    assert f"{len(small)} solves are too few to gain from 3 workers" in caplog.text
    assert sweep_module.too_small(three, len(small) + 1) is None
    assert sweep_module.too_small(Sweep(scheduler="tcp://127.0.0.1:8786"), 1) is None
    assert sweep_module.too_small(Sweep(), 1) is None
    monkeypatch.setitem(sweep_module._OPEN, three, object())  # as inside `with cluster(three)`
    assert sweep_module.too_small(three, 1) is None


def test_workers_are_capped_at_the_cores(monkeypatch):
    from cipopt.cli.base import sweep_of

    monkeypatch.setattr("cipopt.cli.base.usable_cores", lambda: 2)
    runner = CliRunner()
    seen = []

    @main.command("probe-workers", hidden=True)
    def _probe():  # a throwaway command, to see the message through the CLI's stderr
        seen.append(sweep_of(16, None))

    try:
        result = runner.invoke(main, ["probe-workers"])
    finally:
        main.commands.pop("probe-workers")
    assert result.exit_code == 0, result.output
    assert seen == [Sweep(workers=2)]
    assert "--workers 16 is more than the 2 cores here: using 2 workers" in result.output
    assert sweep_of(2, None) == Sweep(workers=2) and sweep_of(None, None) == Sweep()


def _in_session(sid: int) -> list[str]:
    """Processes in session `sid` (Linux /proc), as 'pid command'."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name, rest = text[text.index("(") + 1:text.rindex(")")], text[text.rindex(")") + 2:].split()
        if int(rest[3]) == sid:  # field 6: session id
            found.append(f"{stat.parent.name} {name}")
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc to list processes")
def test_no_process_is_left_running_after_a_command_on_workers(tmp_path):
    """`cipopt frontier --workers 2` with 8 points starts a local Dask cluster (scheduler, nannies,
    workers); once the command has exited, no process of its session remains."""
    exe = Path(sys.executable).parent / "cipopt"
    proc = subprocess.Popen([str(exe), "frontier", str(TINY), "--vary", "capital", "--points", "8", "-q",
                             "--workers", "2", "--out", str(tmp_path / "f")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    output, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, output
    assert "too few" not in output  # 8 solves, 4 per worker: the cluster was started
    deadline = time.monotonic() + 10
    while _in_session(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _in_session(proc.pid) == []


def test_the_command_says_when_its_sweep_is_too_small_for_the_workers(monkeypatch, tmp_path):
    """Through the CLI: 3 frontier points on 3 workers run here, with the note, and the same curve."""
    monkeypatch.setattr("cipopt.cli.base.usable_cores", lambda: 3)
    runner = CliRunner()
    for name, extra in (("serial", []), ("small", ["--workers", "3"])):
        result = runner.invoke(main, ["frontier", str(TINY), "--vary", "capital", "--points", "3", "-q",
                                      "--out", str(tmp_path / name), *extra])
        assert result.exit_code == 0, result.output
    assert "cipopt: 3 solves are too few to gain from 3 workers" in result.output
    assert "running them in this process" in result.output
    serial, small = (pd.read_csv(tmp_path / n / "frontier.csv") for n in ("serial", "small"))
    _same(serial, small, skip=("solve_seconds", "warm_start"))  # asked for workers: independent points
