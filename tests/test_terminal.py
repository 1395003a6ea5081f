"""The terminal renderer's wording of the run history and of a solve without a plan (issue #18),
checked against the recorded data it words: two real runs of tiny, recorded and read back."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from cipopt.io.load import load_instance
from cipopt.pipeline import SolveOptions, solve_instance
from cipopt.report import terminal
from cipopt.solve.status import SolveStatus
from cipopt.store import Store, diff_runs

TINY = Path(__file__).resolve().parents[1] / "instances" / "tiny"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """Run 1: tiny, noted and approved twice. Run 2: tiny with pathology kept out and e-rostering
    held back a year, under a name longer than the table shows."""
    base = load_instance(TINY)
    schemes = [s.model_copy(update={"earliest_start": 2027}) if s.id == "e-rostering" else
               s.model_copy(update={"earliest_start": 2025, "latest_start": 2025, "qia_risk": 20})
               if s.id == "pathology" else s for s in base.schemes]
    changed = base.model_copy(update={"schemes": tuple(schemes), "name": "a longer name " * 5})
    with Store(tmp_path_factory.mktemp("history") / "runs.sqlite") as db:
        first = db.record(solve_instance(base, SolveOptions(mip_gap=0)), source="tiny")
        db.set_note(first, "approved by the board")
        db.approve(first, "Director of Finance")
        db.approve(first, "Chair")
        second = db.record(solve_instance(changed, SolveOptions(mip_gap=0, time_limit=5)))
        return db.runs(), db.run(first), db.run(second)


def _cells(line: str, starts: list[int]) -> list[str]:
    return [line[a:b].strip() for a, b in zip(starts, [*starts[1:], None])]


def test_the_runs_table_shows_each_recorded_run_in_aligned_columns(recorded):
    runs, _, _ = recorded
    header, *rows = terminal.runs_table_lines(runs)
    names = ["id", "time (UTC)", "status", "objective", "selected", "instance", "name", "approved by", "note"]
    starts = [header.index(n) for n in names]
    assert _cells(header, starts) == names and starts == sorted(starts)
    assert len(rows) == len(runs) == 2
    for line, run in zip(rows, runs):
        expected = [str(run.id), run.created_at[:16].replace("T", " "), run.status,
                    f"{run.objective:,.0f}", str(run.selected), run.instance_sha256[:12],
                    run.instance_name if len(run.instance_name) <= 48 else run.instance_name[:47] + "\u2026",
                    ", ".join(sorted(a.approved_by for a in run.approvals)), run.note or ""]
        got = _cells(line, starts)
        got[7] = ", ".join(sorted(got[7].split(", "))) if got[7] else ""
        assert got == expected
        assert line == line.rstrip()
    assert [int(r.split()[0]) for r in rows] == [2, 1]  # newest first, as the history gives them


def test_an_empty_runs_table_says_why():
    assert terminal.runs_table_lines([]) == ["no runs recorded"]
    assert terminal.runs_table_lines([], approved=True, filtered=True) == ["no approved runs recorded that match"]


def test_a_run_shows_its_plan_by_start_year_and_who_approved_it(recorded):
    _, run, _ = recorded
    text = terminal.run_lines(run)
    assert text[0].startswith(f"run {run.id}   {run.created_at[:16].replace('T', ' ')} UTC   status: optimal   "
                              f"objective: {run.objective:,.0f}   gap: ")
    assert text[1] == f"instance: {run.instance_name} (sha256 {run.instance_sha256[:12]}), from tiny"
    assert len(run.approvals) == 2
    assert [ln for ln in text if ln.startswith("approved by ")] == \
        [f"approved by {a.approved_by} at {a.approved_at[:16].replace('T', ' ')} UTC" for a in run.approvals]
    assert "note: approved by the board" in text
    chosen = {s: y for s, y in run.plan.items() if y is not None}
    assert f"\nschemes selected: {len(chosen)} of {len(run.plan)}" in text
    starts = [ln for ln in text if ln.startswith("  start ")]
    assert starts == [f"  start {year}: {', '.join(sorted(s for s in chosen if chosen[s] == year))}"
                      for year in sorted(set(chosen.values()))]


def test_a_diff_lists_each_scheme_in_out_and_moved(recorded):
    _, a, b = recorded
    d = diff_runs(a, b)
    text = terminal.run_diff_lines(a, b, d)
    assert text[:3] == [f"run {a.id} -> run {b.id}",
                        f"instance: changed ({a.instance_sha256[:12]} -> {b.instance_sha256[:12]})",
                        "status: optimal (both)"]
    assert f"objective: {a.objective:,.0f} -> {b.objective:,.0f} ({b.objective - a.objective:+,.1f})" in text
    assert "option time_limit: 10.0 -> 5" in text
    moved = {(s, ya, yb) for s, ya, yb in d["moved"]}
    assert moved == {("e-rostering", a.plan["e-rostering"], 2027)}
    assert [ln for ln in text if ln.startswith("  ~ ")] == [f"  ~ {s}: {ya} -> {yb}" for s, ya, yb in d["moved"]]
    assert [ln for ln in text if ln.startswith("  - ")] == [f"  - {s} (started {y})" for s, y in d["removed"]]
    assert ("pathology", a.plan["pathology"]) in d["removed"]
    unchanged = sum(1 for s in a.plan if a.plan[s] is not None and a.plan[s] == b.plan.get(s))
    assert (f"schemes: {len(d['added'])} in, {len(d['removed'])} out, {len(d['moved'])} moved, "
            f"{unchanged} unchanged") in text
    same = terminal.run_diff_lines(a, a, diff_runs(a, a))
    assert "instance: the same" in same and not any(ln.startswith(("option ", "  ")) for ln in same)


def test_a_solve_without_a_plan_gives_its_status_then_its_messages():
    outcome = SimpleNamespace(status=SolveStatus.INFEASIBLE, messages=["no plan keeps every rule:", "target t"])
    assert terminal.no_plan_lines("nothing to explain", outcome) == \
        ["nothing to explain: infeasible", "  no plan keeps every rule:", "  target t"]
