"""Fair shares (format extension) and the fairness rules written with targets, on hand-worked cases.

The fund of 10 (capital_cost), one criterion of weight 1, bids (org, cost, score): a (acute, 6, 50),
b (acute, 4, 30), m (mental health, 2, 10). Without a fairness rule the best is {a, b} = 80 (mental
health gets nothing). With "mental health gets at least 15% of what is awarded": {a, b} gives 0%;
{a, m} costs 8 of which 2 (25%) to mental health: 60, the best that keeps the rule ({a, b, m} costs
12). At 30%: {a, m} (25%) fails, {b, m} (2 of 6, 33%) = 40 is the best.
"""

from __future__ import annotations

import textwrap

import pytest

from cipopt.analysis.rank import greedy_data, greedy_plan, ranking_instance
from cipopt.check import check_plan
from cipopt.coefficients import build_coefficients
from cipopt.io.load import load_instance
from cipopt.pipeline import Planner, SolveOptions
from cipopt.schema.instance import Criterion, FairShare, Limit, Objective, Organisation, Score, Target
from cipopt.schema.problems import InputError, ProblemLog
from instances_factory import make_instance, scheme

ORGS = (Organisation(id="acute", sector="acute"), Organisation(id="mh", sector="mental_health"))
BIDS = {"a": ("acute", 6, 50), "b": ("acute", 4, 30), "m": ("mh", 2, 10)}


def fund(*rules, **extra):
    fields = dict(
        years=(2025,), organisations=ORGS,
        schemes=tuple(scheme(s, org=o, capital_cost=float(c)) for s, (o, c, _) in BIDS.items()),
        limits=(Limit(id="fund", metric="capital_cost", values={2025: 10.0}),),
        criteria=(Criterion(id="value", weight=1.0),),
        scores=tuple(Score(scheme=s, criterion="value", score=float(v)) for s, (_, _, v) in BIDS.items()),
        objective=Objective(mode="weighted_score"), fair_shares=tuple(rules))
    fields.update(extra)
    return make_instance(**fields)


def chosen(outcome):
    return {s for s, y in outcome.plan.items() if y is not None}


@pytest.mark.parametrize("share, best, value", [(0.0, {"a", "b"}, 80.0), (0.15, {"a", "m"}, 60.0),
                                                (0.30, {"b", "m"}, 40.0)])
def test_minimum_share_of_the_fund_for_a_sector(share, best, value):
    rule = FairShare(id="mh-share", sector="mental_health", metric="capital_cost", min_share=share)
    outcome = Planner(fund(rule)).solve(SolveOptions(mip_gap=0))
    assert chosen(outcome) == best and outcome.objective == pytest.approx(value)
    assert outcome.check.ok  # the independent checker agrees the rule holds


def test_the_checker_reports_a_broken_fair_share_with_its_own_figures():
    inst = fund(FairShare(id="mh-share", org="mh", metric="capital_cost", min_share=0.15))
    report = check_plan(inst, {"a": 2025, "b": 2025, "m": None})
    [v] = report.violations
    assert v.rule == "fair_share" and v.amount == pytest.approx(1.5)  # 15% of 10 awarded, mental health 0
    assert "fair_share mh-share: mh gets 0 of capital_cost" in v.message
    assert check_plan(inst, {"a": 2025, "b": None, "m": 2025}).ok


def test_the_greedy_ranking_keeps_the_fair_share():
    inst = fund(FairShare(id="mh-share", sector="mental_health", metric="capital_cost", min_share=0.15))
    base, *_ = ranking_instance(inst)
    plan = greedy_plan(greedy_data(base, build_coefficients(base), "fund"), 1.0)
    assert {s for s, y in plan.items() if y is not None} == {"a", "m"}  # a waits until m is in
    assert check_plan(base, plan).ok


def test_no_organisation_worse_off_than_a_stated_amount_is_a_hard_in_year_target():
    # m's provider pays 2 (capital is not revenue, so use one_off_cost) and the acute trust saves 5:
    # "no organisation's net position worse than -1" bars m unless its cost is shared
    schemes = (scheme("a", org="acute", recurrent_saving=10.0, first_year_fraction=1.0),
               scheme("m", org="mh", one_off_cost=2.0))
    floor = Target(id="mh-no-worse", org="mh", basis="in_year", hard=True, values={2025: -1.0})
    inst = make_instance(years=(2025,), organisations=ORGS, schemes=schemes, targets=(floor,),
                         criteria=(Criterion(id="value", weight=1.0),),
                         scores=(Score(scheme="a", criterion="value", score=1.0),
                                 Score(scheme="m", criterion="value", score=5.0)),
                         objective=Objective(mode="weighted_score", risk="none"))
    assert chosen(Planner(inst).solve(SolveOptions(mip_gap=0))) == {"a"}
    from cipopt.schema.instance import Share

    shared = inst.model_copy(update={"shares": (Share(scheme="m", org="mh", saving_share=1.0, cost_share=0.5),
                                                Share(scheme="m", org="acute", saving_share=0.0, cost_share=0.5))})
    assert chosen(Planner(shared).solve(SolveOptions(mip_gap=0))) == {"a", "m"}


def _folder(tmp_path, fair_shares: str):
    (tmp_path / "instance.yaml").write_text(textwrap.dedent("""\
        format_version: 1
        years: [2025]
        organisations:
          - {id: acute, sector: acute}
          - {id: mh, sector: mental_health}
        limits: [{id: fund, metric: capital_cost, values: {2025: 10}}]
        """) + fair_shares)
    (tmp_path / "schemes.csv").write_text("id,org,capital_cost\na,acute,6\nm,mh,2\n")
    return tmp_path


def test_version_1_without_fair_shares_still_reads(tmp_path):
    inst = load_instance(_folder(tmp_path, ""), ProblemLog())
    assert inst.fair_shares == ()


def test_a_sound_fair_share_loads(tmp_path):
    inst = load_instance(_folder(tmp_path, "fair_shares:\n  - {id: mh, sector: mental_health, metric: capital_cost, "
                                           "min_share: 0.15, years: [2025]}\n"), ProblemLog())
    assert inst.fair_shares[0].min_share == 0.15


@pytest.mark.parametrize("rule, message", [
    ("{id: x, sector: mental_helth, metric: capital_cost, min_share: 0.15}",
     "fair_shares[0].sector: no organisation has sector 'mental_helth' (did you mean 'mental_health'?)"),
    ("{id: x, org: mh, sector: mental_health, metric: capital_cost, min_share: 0.15}",
     "fair_shares[0]: give exactly one of org and sector"),
    ("{id: x, org: nobody, metric: capital_cost, min_share: 0.15}", "fair_shares[0].org"),
    ("{id: x, org: mh, metric: fund_award, min_share: 0.15}", "fair_shares[0].metric: unknown metric 'fund_award'"),
    ("{id: x, org: mh, metric: capital_cost, min_share: 1.5}", "fair_shares[0].min_share"),
    ("{id: fund, org: mh, metric: capital_cost, min_share: 0.1}", "fair_shares[0].id: duplicate id 'fund'"),
    ("{id: x, org: mh, metric: capital_cost, min_share: 0.1, years: [2031]}",
     "fair_shares[0].years[0]: year 2031 is outside the plan years"),
])
def test_bad_fair_shares_are_located_errors(tmp_path, rule, message):
    with pytest.raises(InputError) as err:
        load_instance(_folder(tmp_path, f"fair_shares:\n  - {rule}\n"), ProblemLog())
    text = "\n".join(str(p) for p in err.value.errors)
    assert message in text, text


def test_fair_shares_survive_the_workbook_form(tmp_path):
    from cipopt.io.excel import instance_workbook, load_workbook_instance

    inst = fund(FairShare(id="mh-share", sector="mental_health", metric="capital_cost", min_share=0.15,
                          years=(2025,)))
    book = tmp_path / "fund.xlsx"
    book.write_bytes(instance_workbook(inst))
    log = ProblemLog()
    again = load_workbook_instance(book, log)
    assert [str(p) for p in log.problems] == []
    assert again.fair_shares == inst.fair_shares and again.sha256() == inst.sha256()


def test_an_impossible_fair_share_is_diagnosed_in_words():
    # mental health must get 90% of what is awarded, but its only bid costs 2 and the system must
    # spend at least 8 (a >= limit on the fund): no plan keeps both
    rule = FairShare(id="mh-share", sector="mental_health", metric="capital_cost", min_share=0.9)
    inst = fund(rule, limits=(Limit(id="fund", metric="capital_cost", values={2025: 10.0}),
                              Limit(id="spend", metric="capital_cost", sense=">=", values={2025: 8.0})))
    outcome = Planner(inst).solve(SolveOptions(mip_gap=0))
    assert outcome.status.value == "infeasible"
    text = " ".join(outcome.messages)
    # the smallest relative change: mental health short by 5.2 of its 90% (plan a + m: 2 - 0.9 x 8)
    assert "fair share mh-share: sector mental_health cannot get 90% of capital_cost" in text, text
    assert "short by at least 5.2" in text
