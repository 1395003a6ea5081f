"""The shipped system and fund instances: the structure their READMEs promise and the figures they quote.

instances/system (README "What the optimal plan does"): five organisations of four sectors, the
pathology network joined together, community admission avoidance whose savings fall to the acute
trust (shares.csv), control totals per organisation and a hard system control total; the optimum
takes the gain-share version of admission avoidance because the community trust's no-worse-off
floor bars the other.

instances/fund (README): a three-year fund of GBP 24m, 29 bids from five organisations, five
criteria with disputed weight ranges, mental health's fair share.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from instances_factory import load_clean

from cipopt.check import check_plan
from cipopt.pipeline import Planner, SolveOptions

ROOT = Path(__file__).resolve().parents[1]
SYSTEM = ROOT / "instances" / "system"
FUND = ROOT / "instances" / "fund"

SYSTEM_OBJECTIVE = 39909.382689  # GBP thousand, README
SYSTEM_SELECTED = 19
FUND_OBJECTIVE = 1308.75  # weighted score at the chair's weights, README
FUND_SELECTED = 22


@pytest.fixture(scope="module")
def system():
    inst = load_clean(SYSTEM)
    return inst, Planner(inst).solve(SolveOptions(mip_gap=0))


@pytest.fixture(scope="module")
def fund():
    inst = load_clean(FUND)
    return inst, Planner(inst).solve(SolveOptions(mip_gap=0))


def test_system_structure(system):
    inst, _ = system
    sectors = {o.sector for o in inst.organisations}
    assert {"acute", "community", "mental_health", "commissioner"} <= sectors and len(inst.organisations) >= 4
    together = {(r.a, r.b) for r in inst.relations if r.kind == "together"}
    assert {("path-hub", "path-spoke-mdgh"), ("path-hub", "path-lims")} <= together
    orgs = {s.id: s.org for s in inst.schemes}
    assert orgs["path-hub"] != orgs["path-spoke-mdgh"]  # across trusts
    shares = {(sh.scheme, sh.org): sh for sh in inst.shares}
    caa = "wch-admission-avoidance"
    assert orgs[caa] == "wch" and shares[caa, "cgh"].saving_share == 1 and shares[caa, "wch"].cost_share == 1
    per_org = {t.org for t in inst.targets if t.basis == "in_year" and t.org}
    assert per_org == {o.id for o in inst.organisations}
    assert any(t.org is None and t.hard for t in inst.targets)


def test_system_optimum_as_the_readme_says(system):
    inst, outcome = system
    assert outcome.status.value == "optimal" and outcome.check.ok
    assert outcome.objective == pytest.approx(SYSTEM_OBJECTIVE, rel=1e-9)
    chosen = set(outcome.selected)
    assert len(chosen) == SYSTEM_SELECTED
    assert {"path-hub", "path-spoke-mdgh", "path-lims"} <= chosen
    assert "wch-admission-avoidance-gain-share" in chosen and "wch-admission-avoidance" not in chosen
    # the version without a gain share would leave the community trust worse off than its floor
    forced = {**outcome.plan, "wch-admission-avoidance-gain-share": None, "wch-admission-avoidance": 2026}
    assert any(v.message.startswith("target_hard wch-no-worse-than") for v in check_plan(inst, forced).violations)


def test_fund_structure(fund):
    inst, _ = fund
    assert len(inst.schemes) >= 25 and len({s.org for s in inst.schemes}) >= 4
    assert len(inst.years) == 3 and 4 <= len(inst.criteria) <= 5
    assert all(c.weight_min is not None and c.weight_max is not None for c in inst.criteria)
    assert sum(c.weight for c in inst.criteria) == pytest.approx(1.0)
    fund_limit = next(lim for lim in inst.limits if lim.id == "fund")
    assert sum(fund_limit.values.values()) == 24000
    assert {sc.scheme for sc in inst.scores} == {s.id for s in inst.schemes}


def test_fund_optimum_and_mental_health_share(fund):
    inst, outcome = fund
    assert outcome.status.value == "optimal" and outcome.check.ok
    assert outcome.objective == pytest.approx(FUND_OBJECTIVE)
    assert len(outcome.selected) == FUND_SELECTED
    years = outcome.years
    award = years[years["measure"] == "fund_award"]
    total = award[award["org"] == "all"]["value"].sum()
    mh = award[award["org"] == "anytown-mh"]["value"].sum()
    assert mh >= 0.15 * total - 1e-6


@pytest.mark.slow
def test_fund_ranking_figures_quoted_in_the_example():
    from cipopt.analysis.rank import run_rank

    result = run_rank(load_clean(FUND), steps=20, samples=0)
    summary = result.summary()
    assert summary["greedy_loss_at_full_budget"] == pytest.approx(53.5)
    assert summary["largest_greedy_loss"] == pytest.approx(118.25)
    assert summary["largest_greedy_loss_budget"] == pytest.approx(8400)
    assert summary["nested"] is False
    bids = result.bids().set_index("bid")
    assert bids.loc["virtual-fracture-clinic", "entry_budget"] == 1200 and bids.loc["virtual-fracture-clinic", "stays_in"]
    assert bids.loc["cdc-hospital-site", "entry_budget"] == 21600
    assert bids.loc["elective-hub", "entry_budget"] != bids.loc["elective-hub", "entry_budget"]  # never: NaN


def test_system_shares_end_to_end_by_hand(system):
    """The community trust's 2026/27 in-year position, worked by hand from the format page.

    wch-estates (2025 start): 0.8 x 500 = 400; wch-digital (2025): 0.75 x 400 - 60 running = 240;
    admission avoidance under the gain share (2026 start, first-year fraction 0.5): 40% of
    0.7 x 2,400 x 0.5 = 336 of saving, all of the 900 running cost. 400 + 240 + 336 - 900 = 76.
    """
    _, outcome = system
    years = outcome.years

    def value(org, measure, year):
        row = years[(years["org"] == org) & (years["measure"] == measure) & (years["year"] == year)]
        return float(row["value"].iloc[0])
    assert value("wch", "in_year_net_saving", 2026) == pytest.approx(76.0)
    assert value("wch", "running_cost", 2026) == pytest.approx(900 + 60)
    assert value("wch", "saving", 2026) == pytest.approx(500 + 400 + 0.4 * 2400 * 0.5)  # plan values


@pytest.mark.slow
def test_the_worked_example_shows_the_real_output(tmp_path):
    """examples/fund-panel.md quotes `cipopt rank instances/fund --out out/fund-rank --quiet` verbatim."""
    import re

    from click.testing import CliRunner

    from cipopt.cli import main

    text = (ROOT / "examples" / "fund-panel.md").read_text()
    block = re.search(r"\$ cipopt rank instances/fund --out out/fund-rank --quiet\n(.*?)\n```", text, re.S).group(1)
    out = tmp_path / "fund-rank"
    result = CliRunner().invoke(main, ["rank", str(FUND), "--out", str(out), "--quiet"], catch_exceptions=False)
    assert result.exit_code == 0
    assert result.output.rstrip("\n").replace(str(out), "out/fund-rank") == block
