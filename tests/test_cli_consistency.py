"""The same options on every command, and progress counts that end at their totals (issue 20)."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pandas as pd
import pytest
from click.testing import CliRunner

from cipopt.cli import main
from cipopt.report.progress import ProgressLine

TINY = Path(__file__).resolve().parents[1] / "instances" / "tiny"
FUND = Path(__file__).resolve().parents[1] / "instances" / "fund"
# commands that write results: each shows progress for its slow steps, so each takes --quiet (-q),
# and each writes its results with -o/--out (template's one output is its argument: nothing else)
WITH_OUTPUT = ["solve", "check", "validate", "build", "convert", "report", "explain", "whatif", "frontier",
               "alternatives", "rank", "simulate", "schema", "runs list", "runs show", "runs diff"]


def _command(name: str) -> click.Command:
    command = main
    for part in name.split():
        command = command.commands[part]
    return command


def _flags(command: click.Command) -> set[str]:
    return {flag for p in command.params for flag in (*p.opts, *p.secondary_opts)}


@pytest.mark.parametrize("name", WITH_OUTPUT)
def test_every_command_with_output_takes_out_o_and_quiet(name):
    flags = _flags(_command(name))
    assert {"-o", "--out", "--quiet", "-q"} <= flags, name
    help_text = CliRunner().invoke(main, [*name.split(), "--help"]).output
    assert "Example" in help_text and "--quiet" in help_text


def test_every_command_with_an_out_option_also_takes_o():
    def walk(group, prefix=""):
        for name, command in group.commands.items():
            if isinstance(command, click.Group):
                yield from walk(command, f"{prefix}{name} ")
            else:
                yield f"{prefix}{name}", command
    for name, command in walk(main):
        flags = _flags(command)
        if "--out" in flags:
            assert "-o" in flags, name


def test_solve_with_o_writes_the_folder(tmp_path):
    out = tmp_path / "d"
    result = CliRunner().invoke(main, ["solve", str(TINY), "-o", str(out), "--no-store", "-q"])
    assert result.exit_code == 0, result.output
    assert {"plan.csv", "years.csv", "summary.json"} <= {p.name for p in out.iterdir()}
    assert result.stderr == ""  # quiet and not a terminal: nothing on stderr


def _phases(stderr: str, what: str) -> list[tuple[int, int]]:
    """(done, total) of every progress line of `what`, in order."""
    return [(int(d), int(t)) for d, t in re.findall(rf"^{re.escape(what)} \[(\d+)/(\d+) done\]", stderr, re.M)]


def _check_counts(seen: list[tuple[int, int]]) -> list[int]:
    """Each phase counts up from 0 to its total and ends with a line at done == total; the totals."""
    totals, current = [], None
    for done, total in seen:
        assert 0 <= done <= total
        if current is None:
            current = total
        assert total == current, seen  # a phase's total never changes under way
        if done == total:
            totals.append(total)
            current = None
    assert current is None, f"a phase never reached its total: {seen}"
    return totals


def test_explain_counts_every_re_solve_it_makes_and_reaches_each_total(tmp_path):
    out = tmp_path / "e"
    result = CliRunner().invoke(main, ["explain", str(TINY), "--out", str(out)])
    assert result.exit_code == 0, result.output
    totals = _check_counts(_phases(result.stderr, "explain"))
    schemes = pd.read_csv(out / "explain_schemes.csv", keep_default_na=False)
    rules = pd.read_csv(out / "explain_rules.csv", keep_default_na=False)
    # the schemes phase counts the forced re-solves: every scheme not ineligible, excluded or mandatory
    assert totals[0] == int((~schemes["kind"].isin(["ineligible", "excluded", "mandatory"])).sum())
    # the breakpoints phase: one search per rule and year, one per rule eased in every year (year "all")
    assert totals[1] == len(rules)
    # the rules phase: one re-solve per breakpoint found, one per quality floor for all its years
    eased = rules[rules["method"].str.contains(r"^(?:the re-solve|the first bound at which|eased by the same amount)")]
    floors = eased[eased["kind"] == "quality"]["rule"].nunique()
    assert (totals[2] if len(totals) > 2 else 0) == int((eased["kind"] != "quality").sum()) + floors


def test_alternatives_counts_its_searches_and_importance_re_solves(tmp_path):
    out = tmp_path / "a"
    result = CliRunner().invoke(main, ["alternatives", str(TINY), "--count", "3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    totals = _check_counts(_phases(result.stderr, "alternatives"))
    importance = pd.read_csv(out / "importance.csv")
    assert totals == [2, int((~importance["mandatory"]).sum())]


def test_simulate_shows_progress_and_is_quiet_on_request(tmp_path):
    sol = tmp_path / "sol"
    assert CliRunner().invoke(main, ["solve", str(TINY), "-o", str(sol), "--no-store", "-q"]).exit_code == 0
    result = CliRunner().invoke(main, ["simulate", str(TINY), str(sol / "plan.csv"), "--draws", "25000",
                                       "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert _check_counts(_phases(result.stderr, "simulate")) == [3]  # batches of 10,000 draws
    quiet = CliRunner().invoke(main, ["simulate", str(TINY), str(sol / "plan.csv"), "--draws", "25000",
                                      "--seed", "3", "-q", "-o", str(tmp_path / "sim")])
    assert quiet.exit_code == 0 and quiet.stderr == ""
    assert quiet.stdout.splitlines()[:-2] == result.stdout.splitlines()  # the same numbers
    assert (tmp_path / "sim" / "simulation.csv").exists()


@pytest.fixture(scope="module")
def two_workers():
    """One local cluster of 2 workers for the tests below (explain --workers 2 finds it open)."""
    from cipopt.analysis.sweep import Sweep, cluster

    with cluster(Sweep(workers=2)):
        yield Sweep(workers=2)


def test_explain_on_two_workers_counts_the_same_and_ends_at_each_total(two_workers, tmp_path):
    here = CliRunner().invoke(main, ["explain", str(TINY), "-q"])
    there = CliRunner().invoke(main, ["explain", str(TINY), "--workers", "2"])
    assert there.exit_code == 0, there.output
    assert here.stdout == there.stdout
    local = CliRunner().invoke(main, ["explain", str(TINY)])
    assert _check_counts(_phases(there.stderr, "explain")) == _check_counts(_phases(local.stderr, "explain"))


def test_progress_line_counts_finished_tasks_and_ends_each_phase(capsys):
    line = ProgressLine(False, "sweep")
    line(0, 3, "a")
    line(2, 3, "c")  # on a cluster two finished together; c is under way
    line(3, 3, "done")
    err = capsys.readouterr().err.splitlines()
    assert err == ["sweep [0/3 done] a ...", "sweep [2/3 done] c ...", "sweep [3/3 done]"]


def test_rank_shows_bid_ids_in_full(tmp_path):
    fund = tmp_path / "fund"
    import shutil

    shutil.copytree(FUND, fund)
    schemes = pd.read_csv(fund / "schemes.csv", dtype=str, keep_default_na=False)
    long_id = "a-bid-whose-identifier-runs-well-past-thirty-characters"
    old = schemes.loc[0, "id"]
    schemes.loc[0, "id"] = long_id
    schemes.to_csv(fund / "schemes.csv", index=False)
    for name in ("scores.csv", "relations.csv", "profiles.csv"):
        path = fund / name
        if path.exists():
            text = path.read_text()
            path.write_text(re.sub(rf"(?m)(^|,){re.escape(old)}(?=,|$)", rf"\g<1>{long_id}", text))
    result = CliRunner().invoke(main, ["rank", str(fund), "--steps", "4", "--samples", "0", "-q"])
    assert result.exit_code == 0, result.output
    assert long_id in result.stdout
    ranked = [ln for ln in result.stdout.splitlines() if long_id in ln]
    assert ranked and all(len(ln.split()) >= 5 for ln in ranked)


def test_a_dask_sweep_counts_finished_tasks_and_names_one_under_way(two_workers):
    from cipopt.analysis.sweep import run_sweep

    seen = []
    labels = [f"task {i}" for i in range(40)]
    # builtins as setup and work (abs(0) -> 0, max(0, task) -> task): the workers import nothing
    results = run_sweep(abs, 0, max, list(range(40)), sweep=two_workers,
                        progress=lambda d, t, label: seen.append((d, t, label)), labels=labels)
    assert results == list(range(40))
    assert seen[0] == (0, 40, "task 0") and seen[-1] == (40, 40, "done")
    done = [d for d, _, _ in seen]
    assert done == sorted(done) and all(t == 40 for _, t, _ in seen)
    for d, _, label in seen[:-1]:
        # the first task, in order, not yet finished: at most `done` tasks precede it
        assert labels.index(label) <= d
