"""`cipopt whatif`: every scenario solved with one built model and compared with the base."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from cipopt.analysis.scenario import load_scenarios, scenario_files
from cipopt.analysis.whatif import compare_plans, run_whatif
from cipopt.cli import main
from cipopt.io.load import load_instance
from cipopt.pipeline import Planner, SolveOptions

ROOT = Path(__file__).resolve().parents[1]
HOLBY = ROOT / "instances" / "holby"
TINY = ROOT / "instances" / "tiny"
EXACT = SolveOptions(mip_gap=0.0, time_limit=120)


@pytest.fixture(scope="module")
def holby():
    return load_instance(HOLBY)


@pytest.fixture(scope="module")
def shipped(holby):
    return load_scenarios(HOLBY, holby, [p.stem for p in scenario_files(HOLBY)])


@pytest.fixture(scope="module")
def planner(holby):
    return Planner(holby)


@pytest.fixture(scope="module")
def result(holby, shipped, planner):
    return run_whatif(holby, shipped, EXACT, planner=planner)


def test_every_shipped_scenario_solves_and_its_plan_is_checked(result, shipped):
    assert [r.name for r in result.rows] == ["base"] + [a.name for a in shipped]
    for row, applied in zip(result.rows[1:], shipped):
        out = row.outcome
        assert out.instance is applied.instance
        assert out.status.value == "optimal", (row.name, out.messages)
        assert out.check is not None and out.check.ok, (row.name, out.check.lines())
        assert out.mip_gap == pytest.approx(0.0, abs=1e-9)
        base_plan = result.base.outcome.plan
        assert (row.schemes_in, row.schemes_out, row.moved) == compare_plans(base_plan, out.plan)


def test_the_base_row_is_a_plain_solve(result, holby):
    plain = Planner(holby).solve(EXACT)
    base = result.base.outcome
    assert base.status == plain.status and base.check.ok
    assert base.objective == pytest.approx(plain.objective, rel=1e-9)
    table = result.table()
    first = table.iloc[0]
    assert first["scenario"] == "base" and first["change_vs_base"] == 0
    assert first["objective"] == pytest.approx(plain.objective, rel=1e-9)
    system = plain.years[plain.years["org"] == "all"]
    for r in system[system["measure"] == "recurrent_net_saving"].itertuples():
        assert first[f"recurrent_net_saving:{r.year}"] == pytest.approx(r.value)


@pytest.fixture(scope="module")
def without_finance(holby):
    """Holby without its bottom line: an instance with `finance` is rebuilt for every variant
    (docs/finance.md: its big-M rows hold figures a variant may change), so the in-place re-solve
    is tested on the rest of it."""
    plain = holby.model_copy(update={"finance": None})
    names = [p.stem for p in scenario_files(HOLBY) if p.stem != "income-cut"]  # income-cut restates finance
    return plain, load_scenarios(HOLBY, plain, names)


def test_in_place_scenarios_reuse_the_model_and_structural_ones_are_rebuilt(without_finance, result):
    plain, scenarios = without_finance
    rows = {r.name: r for r in run_whatif(plain, scenarios, EXACT, planner=Planner(plain)).rows}
    for name in ("capital-halved", "experience-floor", "ed-rebuild", "ward-closure-refused", "pathology-network"):
        assert not rows[name].rebuilt, name
    assert rows["agency-slips"].rebuilt  # scaled savings change the model's coefficients
    assert all(r.rebuilt for r in result.rows[1:])  # with the bottom line, every variant is built afresh


def test_an_in_place_scenario_does_not_rebuild_and_matches_a_fresh_build(without_finance):
    plain, scenarios = without_finance
    planner = Planner(plain)
    capital = next(a for a in scenarios if a.name == "capital-halved")
    before = planner.rebuilds
    in_place = planner.solve(EXACT, variant=capital.instance)
    assert planner.rebuilds == before
    fresh = Planner(capital.instance).solve(EXACT)
    assert in_place.objective == pytest.approx(fresh.objective, rel=1e-9)


def test_the_scenarios_move_the_plan_the_way_they_say(result):
    rows = {r.name: r for r in result.rows}
    base = result.base.outcome
    assert rows["capital-halved"].outcome.objective < base.objective
    capital = rows["capital-halved"].outcome.years
    use = capital[capital["measure"] == "limit:capital"]
    assert (use["value"] <= use["bound"] + 1e-6).all() and use["bound"].max() == 1500
    assert rows["ed-rebuild"].outcome.plan["ed-rebuild"] is not None and "ed-rebuild" in rows["ed-rebuild"].schemes_in
    refused = rows["ward-closure-refused"].outcome.plan
    assert refused["ward-closure"] is None and refused["miu-closure"] is None
    floor = rows["experience-floor"].outcome.years
    experience = floor[(floor["measure"] == "quality:experience") & (floor["org"] == "all")]
    assert (experience["value"] >= 2).all()
    # the base leaves the pathology network out for the EPR's capital: forcing it in costs
    network = rows["pathology-network"].outcome
    assert network.plan["pathology-hub"] is not None and network.plan["pathology-lims"] is not None
    assert network.objective < base.objective
    # a 15% loss of income: no year after 2025/26 can meet its control total, so no PSF is paid then
    cut = rows["income-cut"].outcome.years
    assert (cut[(cut["measure"] == "incentive:psf") & (cut["year"] > 2025)]["value"] == 0).all()
    for row in result.rows[1:]:
        assert row.outcome.objective <= base.objective + 1e-6 * abs(base.objective), row.name


def test_the_comparison_tables(result):
    table = result.table()
    assert list(table.columns[:6]) == ["scenario", "description", "status", "objective", "change_vs_base",
                                       "change_pct"]
    years = [2025, 2026, 2027, 2028, 2029]
    for measure in ("recurrent_net_saving", "in_year_net_saving", "shortfall:underlying",
                    "quality:experience", "quality:safety"):
        assert all(f"{measure}:{y}" in table.columns for y in years), measure
    capital = table[table["scenario"] == "capital-halved"].iloc[0]
    assert capital["change_vs_base"] == pytest.approx(capital["objective"] - table.iloc[0]["objective"])
    row = next(r for r in result.rows if r.name == "capital-halved")
    assert capital["schemes_out"] == ";".join(row.schemes_out) and row.schemes_out
    tidy = result.years()
    assert set(tidy["scenario"]) == {r.name for r in result.rows}
    plans = result.plans()
    assert len(plans) == len(result.rows) * 40
    summary = result.summary()
    assert [s["scenario"] for s in summary["scenarios"]] == list(table["scenario"])
    assert all(s["checker"] == "accepted" for s in summary["scenarios"])
    text = "\n".join(result.lines())
    assert "capital-halved" in text and "out:" in text and "recurrent net saving by year" in text


# -- the command, on the tiny instance (fast) --------------------------------------------------------

@pytest.fixture()
def tiny(tmp_path):
    folder = tmp_path / "tiny"
    shutil.copytree(TINY, folder)
    (folder / "scenarios").mkdir()
    (folder / "scenarios" / "capital-halved.yaml").write_text(
        "description: capital halved\nscale: [{limit: capital, factor: 0.5}]\n")
    (folder / "scenarios" / "no-epr.yaml").write_text("description: no EPR\nforce_out: [epr]\n")
    (folder / "scenarios" / "skill-mix-forced.yaml").write_text(
        "description: the skill mix scheme the QIA bars is forced in\nforce_in: [skill-mix]\n")
    return folder


def test_whatif_command_writes_the_comparison_and_reports_infeasible_scenarios(tiny, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["whatif", str(tiny), "--all", "--out", str(out), "--gap", "0"])
    assert result.exit_code == 0, result.output
    assert "what-if [0/4 done] base" in result.stderr  # progress, one line per solve
    assert "skill-mix is barred by the QIA rules" in result.stderr
    table = pd.read_csv(out / "whatif.csv")
    assert list(table["scenario"]) == ["base", "capital-halved", "no-epr", "skill-mix-forced"]
    assert list(table["status"]) == ["optimal", "optimal", "optimal", "infeasible"]
    forced = table.iloc[3]
    assert pd.isna(forced["objective"]) and "skill-mix" in forced["notes"]
    no_epr = table.iloc[2]
    assert "epr" in no_epr["schemes_out"].split(";") and no_epr["change_vs_base"] < 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scenarios"][3]["status"] == "infeasible" and summary["scenarios"][3]["messages"]
    plans = pd.read_csv(out / "whatif_plans.csv")
    assert set(plans["scenario"]) == {"base", "capital-halved", "no-epr"}
    assert {"scenario", "year", "measure", "value"} <= set(pd.read_csv(out / "whatif_years.csv").columns)
    assert "skill-mix-forced: the skill mix scheme the QIA bars is forced in" in result.stdout
    assert "infeasible" in result.stdout


def test_whatif_command_combines_scenarios_and_is_quiet_on_request(tiny, tmp_path):
    result = CliRunner().invoke(main, ["whatif", str(tiny), "-s", "capital-halved+no-epr", "-s",
                                       str(tiny / "scenarios" / "no-epr.yaml"), "--quiet"])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert "capital-halved+no-epr" in result.stdout and "no-epr" in result.stdout
    result = CliRunner().invoke(main, ["whatif", str(tiny), "-s", "no-epr", "--all"])
    assert result.exit_code == 2 and "not both" in result.output
    out = tmp_path / "busy"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = CliRunner().invoke(main, ["whatif", str(tiny), "-s", "no-epr", "--out", str(out)])
    assert result.exit_code == 2 and "--force" in result.output


def test_progress_is_a_bar_on_a_terminal_and_silent_when_quiet():
    import io

    from rich.console import Console

    from cipopt.report.progress import ProgressLine

    screen = io.StringIO()
    bar = ProgressLine(False, "what-if", console=Console(file=screen, force_terminal=True, width=80))
    for done, label in enumerate(["base", "capital-halved", "done"]):
        bar(done, 2, label)
    bar.close()
    assert "what-if: capital-halved" in screen.getvalue() and "2/2" in screen.getvalue()
    piped = ProgressLine(False, "what-if", console=Console(file=io.StringIO()))
    assert piped._bar is None  # not a terminal: plain lines instead
    quiet = io.StringIO()
    ProgressLine(True, "what-if", console=Console(file=quiet, force_terminal=True))(0, 2, "base")
    assert quiet.getvalue() == ""


def test_whatif_command_without_scenarios(tmp_path):
    folder = tmp_path / "tiny"
    shutil.copytree(TINY, folder)
    result = CliRunner().invoke(main, ["whatif", str(folder)])
    assert result.exit_code == 2 and "holds no scenario files" in result.output
