"""The independent checker on hand-made instances whose figures are worked out in the comments,
plans broken on purpose (each must be caught in the right words), and reading plan.csv files."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cipopt.check import ABS_TOL, CheckReport, Violation, check_plan
from cipopt.io.load import load_instance
from cipopt.io.plan import read_plan
from cipopt.schema.instance import (
    Criterion, Limit, Objective, Organisation, ProfileRow, Quality, Relation, Score, Share, Target,
)
from cipopt.schema.problems import InputError, ProblemLog

from instances_factory import make_instance, scheme


def figure(report: CheckReport, measure: str, org: str = "all", column: str = "value") -> list[float]:
    rows = report.years[(report.years["measure"] == measure) & (report.years["org"] == org)]
    return [float(v) for v in rows.sort_values("year")[column]]


def rules(report: CheckReport) -> list[str]:
    return [v.rule for v in report.violations]


# --- Scheme A, worked by hand -------------------------------------------------------------------
# recurrent 100 at first_year_fraction 0.5, confidence 0.8, nonrecurrent 20, one-off 10,
# capital 50, running 5, double running 7 for 2 years; started 2025 in 2025-2027 it gives
#   saving 50, 100, 100      c·saving 40, 80, 80      running 5, 5, 5
#   recurrent net R = 35, 75, 75
#   + c·nonrecurrent 16, 0, 0 − one-off 10, 0, 0 − double running 7, 7, 0
#   in-year net N = 34, 68, 75;  capital 50, 0, 0
def scheme_a(**extra):
    return scheme("A", recurrent_saving=100, first_year_fraction=0.5, confidence=0.8,
                  nonrecurrent_saving=20, one_off_cost=10, capital_cost=50, running_cost=5,
                  double_running_cost=7, double_running_years=2, **extra)


def test_yearly_figures_of_one_scheme_by_hand():
    report = check_plan(make_instance(schemes=(scheme_a(),), discount_rate=0.0), {"A": 2025})
    assert report.ok, report.lines()
    assert figure(report, "saving") == [50, 100, 100]
    assert figure(report, "nonrecurrent_saving") == [20, 0, 0]
    assert figure(report, "one_off_cost") == [10, 0, 0]
    assert figure(report, "capital_cost") == [50, 0, 0]
    assert figure(report, "running_cost") == [5, 5, 5]
    assert figure(report, "double_running_cost") == [7, 7, 0]
    assert figure(report, "recurrent_net_saving") == pytest.approx([35, 75, 75])
    assert figure(report, "in_year_net_saving") == pytest.approx([34, 68, 75])
    # NPV with r = 0: (34 − 50) + 68 + 75
    assert report.objective == pytest.approx(127)


def test_npv_discounts_each_year_from_the_first():
    report = check_plan(make_instance(schemes=(scheme_a(),), discount_rate=0.1), {"A": 2025})
    assert report.objective == pytest.approx(-16 + 68 / 1.1 + 75 / 1.1**2)  # 107.8016...


def test_savings_mode_ignores_capital():
    inst = make_instance(schemes=(scheme_a(),), discount_rate=0.0, objective=Objective(mode="savings"))
    assert check_plan(inst, {"A": 2025}).objective == pytest.approx(34 + 68 + 75)


def test_risk_none_counts_savings_at_face_value():
    inst = make_instance(schemes=(scheme_a(),), discount_rate=0.0, objective=Objective(risk="none"))
    report = check_plan(inst, {"A": 2025})
    # R = 45, 95, 95; N = 45 + 20 − 10 − 7 = 48, 88, 95; minus capital 50 in 2025
    assert figure(report, "recurrent_net_saving") == pytest.approx([45, 95, 95])
    assert figure(report, "in_year_net_saving") == pytest.approx([48, 88, 95])
    assert report.objective == pytest.approx(-2 + 88 + 95)


def test_a_later_start_shifts_the_offsets():
    report = check_plan(make_instance(schemes=(scheme_a(),), discount_rate=0.0), {"A": 2026})
    assert figure(report, "saving") == [0, 50, 100]
    assert figure(report, "double_running_cost") == [0, 7, 7]
    assert figure(report, "in_year_net_saving") == pytest.approx([0, 34, 68])
    assert report.objective == pytest.approx(-16 + 68)


def test_nothing_selected_is_worth_nothing():
    report = check_plan(make_instance(schemes=(scheme_a(),)), {})
    assert report.ok and report.objective == 0.0 and report.selected == 0


def test_soft_target_shortfall_is_penalised_and_discounted():
    # R(2026) = 75 misses 100 by 25; penalty 2 per unit, discounted to 2025 at 10 %.
    # In-year N(2027) = 75 misses 80 by 5 at penalty 1: 5 / 1.1^2.
    targets = (Target(id="underlying", values={2026: 100}, shortfall_penalty=2.0),
               Target(id="cash", basis="in_year", values={2027: 80}))
    inst = make_instance(schemes=(scheme_a(),), discount_rate=0.1, targets=targets)
    report = check_plan(inst, {"A": 2025})
    assert report.ok  # soft targets never break the plan
    penalty = 2 * 25 / 1.1 + 5 / 1.1**2
    assert report.penalty == pytest.approx(penalty)
    assert report.objective == pytest.approx(-16 + 68 / 1.1 + 75 / 1.1**2 - penalty)
    assert figure(report, "target:underlying") == pytest.approx([35, 75, 75])
    assert figure(report, "target:underlying", column="bound")[1] == 100
    assert math.isnan(figure(report, "target:underlying", column="bound")[0])
    assert figure(report, "target:underlying", column="shortfall")[1] == pytest.approx(25)
    assert figure(report, "target:cash", column="shortfall")[2] == pytest.approx(5)


def test_target_met_has_no_shortfall():
    inst = make_instance(schemes=(scheme_a(),), targets=(Target(id="t", values={2025: 30}),))
    report = check_plan(inst, {"A": 2025})
    assert report.penalty == 0 and figure(report, "target:t", column="shortfall")[0] == 0


# --- two organisations sharing savings and costs ------------------------------------------------
# A (run by north): recurrent 100 (fraction 1), running 10, capital 40, pmo_days 3;
#   shares: north saving 0.25 cost 1, south saving 0.75 cost 0.
# B (run by south): recurrent 40 (fraction 0.5), capital 20, one-off 8, pmo_days 2; no shares.
# Plan A 2025, B 2026, risk none, r = 0:
#   2025 north: saving 25, running 10, capital 40, pmo 3: R = N = 15
#        south: saving 75: R = N = 75;      all: R = N = 90, capital 40, pmo 3
#   2026 north: saving 25, running 10, pmo 3: R = N = 15
#        south: saving 75 + 20, capital 20, one-off 8, pmo 2: R = 95, N = 87
#        all: saving 120, running 10, capital 20, one-off 8, pmo 5: R = 110, N = 102
def shared_instance(**fields):
    schemes = (
        scheme("A", org="north", recurrent_saving=100, first_year_fraction=1.0, running_cost=10,
               capital_cost=40, metrics={"pmo_days": 3}),
        scheme("B", org="south", recurrent_saving=40, capital_cost=20, one_off_cost=8,
               metrics={"pmo_days": 2}),
    )
    fields.setdefault("shares", (Share(scheme="A", org="north", saving_share=0.25, cost_share=1.0),
                                 Share(scheme="A", org="south", saving_share=0.75, cost_share=0.0)))
    return make_instance(
        years=(2025, 2026), discount_rate=0.0, objective=Objective(risk="none"),
        organisations=(Organisation(id="north"), Organisation(id="south")), schemes=schemes, **fields)


def test_shares_split_savings_and_costs_between_organisations():
    report = check_plan(shared_instance(), {"A": 2025, "B": 2026})
    assert figure(report, "saving", "north") == [25, 25]
    assert figure(report, "saving", "south") == [75, 95]
    assert figure(report, "saving") == [100, 120]
    assert figure(report, "capital_cost", "north") == [40, 0]
    assert figure(report, "capital_cost", "south") == [0, 20]
    assert figure(report, "recurrent_net_saving", "north") == [15, 15]
    assert figure(report, "in_year_net_saving", "south") == [75, 87]
    assert figure(report, "in_year_net_saving") == [90, 102]
    assert report.objective == pytest.approx((90 - 40) + (102 - 20))
    assert set(report.years["org"]) == {"all", "north", "south"}


def test_one_organisation_has_only_system_rows():
    report = check_plan(make_instance(schemes=(scheme_a(),)), {"A": 2025})
    assert set(report.years["org"]) == {"all"}
    assert list(report.years.columns) == ["year", "org", "measure", "value", "bound", "shortfall"]
    assert len(report.years) == report.years[["year", "org", "measure"]].drop_duplicates().shape[0]


def test_organisation_targets_and_limits_use_shares_and_who_runs_what():
    limits = (
        Limit(id="north-capital", org="north", metric="capital_cost", values={2025: 30}),
        Limit(id="south-capital", org="south", metric="capital_cost", values={2026: 15}),
        Limit(id="north-pmo", org="north", metric="pmo_days", sense=">=", values={2026: 5}),
        Limit(id="pmo-exact", metric="pmo_days", sense="==", values={2025: 4, 2026: 5}),
    )
    targets = (Target(id="south-underlying", org="south", values={2025: 80}),)
    report = check_plan(shared_instance(limits=limits, targets=targets), {"A": 2025, "B": 2026})
    found = {(v.rule, v.year): v for v in report.violations}
    assert set(found) == {("limit", 2025), ("limit", 2026)} or len(report.violations) == 4
    by_limit = {v.message.split(" ")[1]: v for v in report.violations}
    assert set(by_limit) == {"north-capital", "south-capital", "north-pmo", "pmo-exact"}
    assert by_limit["north-capital"].amount == pytest.approx(10)
    assert by_limit["north-capital"].schemes == ("A",)
    assert "north-capital in 2025" in by_limit["north-capital"].message
    assert "exceeds the bound 30 by 10" in by_limit["north-capital"].message
    assert by_limit["south-capital"].amount == pytest.approx(5) and by_limit["south-capital"].schemes == ("B",)
    assert by_limit["north-pmo"].amount == pytest.approx(2)
    assert "is below the bound 5 by 2" in by_limit["north-pmo"].message
    assert by_limit["pmo-exact"].year == 2025 and by_limit["pmo-exact"].amount == pytest.approx(1)
    assert "differs from the required 4 by 1" in by_limit["pmo-exact"].message
    # the soft south target: R(south, 2025) = 75 against 80, penalty 1
    assert figure(report, "target:south-underlying", "south") == [75, 95]
    assert report.objective == pytest.approx(132 - 5)
    assert figure(report, "limit:north-pmo", "north") == [3, 3]


def test_a_scheme_with_one_share_row_gives_its_own_org_nothing():
    inst = shared_instance(shares=(Share(scheme="B", org="north", saving_share=1, cost_share=1),))
    report = check_plan(inst, {"B": 2025})
    assert figure(report, "saving", "north") == [20, 40]
    assert figure(report, "saving", "south") == [0, 0]
    assert figure(report, "capital_cost", "north") == [20, 0]


# --- profiles ----------------------------------------------------------------------------------
# P: recurrent 100 and capital 60 in schemes.csv, but profiles give saving (named
# recurrent_saving) 10, 30 at offsets 0, 1 (offset 2 unlisted: 0; offset 5 beyond the horizon:
# ignored), capital 25 at offset 1 only, experience −2, +1 and pmo_days 4 at offset 0.
def profiled_instance(**fields):
    rows = [("recurrent_saving", 0, 10), ("recurrent_saving", 1, 30), ("recurrent_saving", 5, 999),
            ("capital_cost", 1, 25), ("experience", 0, -2), ("experience", 1, 1), ("pmo_days", 0, 4)]
    return make_instance(
        schemes=(scheme("P", recurrent_saving=100, capital_cost=60, experience=1, metrics={"pmo_days": 2}),),
        profiles=tuple(ProfileRow(scheme="P", offset=k, metric=m, value=v) for m, k, v in rows),
        discount_rate=0.0, objective=Objective(risk="none"), **fields)


def test_profiles_replace_the_derived_values_entirely():
    limits = (Limit(id="pmo", metric="pmo_days", values={2025: 100}),)
    report = check_plan(profiled_instance(limits=limits), {"P": 2025})
    assert figure(report, "saving") == [10, 30, 0]
    assert figure(report, "capital_cost") == [0, 25, 0]
    assert figure(report, "quality:experience") == [-2, 1, 0]
    assert figure(report, "limit:pmo") == [4, 0, 0]
    assert report.objective == pytest.approx(10 + (30 - 25) + 0)
    later = check_plan(profiled_instance(), {"P": 2026})
    assert figure(later, "saving") == [0, 10, 30]
    assert figure(later, "capital_cost") == [0, 0, 25]


def test_a_domain_profile_changes_the_floor_not_eligibility():
    quality = Quality(scheme_min={"experience": 0}, portfolio_min={"experience": -1})
    report = check_plan(profiled_instance(quality=quality), {"P": 2025})
    assert rules(report) == ["quality_floor"]  # not "eligibility": schemes.csv says +1
    v = report.violations[0]
    assert v.year == 2025 and v.amount == pytest.approx(1) and v.schemes == ("P",)
    assert "quality_floor experience in 2025" in v.message and "below portfolio_min -1 by 1" in v.message
    assert figure(report, "quality:experience", column="bound") == [-1, -1, -1]
    assert check_plan(profiled_instance(quality=quality), {"P": 2026}).violations[0].year == 2026


# --- weighted score ----------------------------------------------------------------------------
def test_weighted_score_sums_exact_weights_minus_discounted_penalties():
    # A: 0.7·80 + 0.3·50 = 71; B: 0.7·40 = 28; together 99.
    # recurrent target 100 in 2025 and 2026 at penalty 0.5: R = 30, 60 (A: 60 at fraction 0.5)
    # penalty 0.5·70 + 0.5·40/1.035
    inst = make_instance(
        years=(2025, 2026), objective=Objective(mode="weighted_score", risk="none"),
        schemes=(scheme("A", recurrent_saving=60), scheme("B"), scheme("C")),
        criteria=(Criterion(id="benefit", weight=0.7), Criterion(id="deliverability", weight=0.3)),
        scores=(Score(scheme="A", criterion="benefit", score=80),
                Score(scheme="A", criterion="deliverability", score=50),
                Score(scheme="B", criterion="benefit", score=40),
                Score(scheme="C", criterion="benefit", score=100)),
        targets=(Target(id="t", values={2025: 100, 2026: 100}, shortfall_penalty=0.5),),
    )
    report = check_plan(inst, {"A": 2025, "B": 2026})
    assert report.objective == pytest.approx(99 - 35 - 20 / 1.035)
    assert report.lines()[-1].startswith("objective (weighted score less shortfall penalties; risk none): ")


# --- plans broken on purpose -------------------------------------------------------------------
def only(report: CheckReport) -> Violation:
    assert len(report.violations) == 1, report.lines()
    return report.violations[0]


def test_a_start_before_the_window_is_caught():
    inst = make_instance(schemes=(scheme("W", earliest_start=2026),))
    v = only(check_plan(inst, {"W": 2025}))
    assert (v.rule, v.year, v.schemes, v.amount) == ("window", 2025, ("W",), 1.0)
    assert v.message == "window: scheme W starts in 2025, outside its window 2026-2027 by 1 year"
    assert check_plan(inst, {"W": 2026}).ok


def test_a_start_after_the_window_or_the_horizon_is_caught():
    inst = make_instance(schemes=(scheme("W", latest_start=2025),))
    v = only(check_plan(inst, {"W": 2027}))
    assert v.rule == "window" and v.amount == 2 and "outside its window 2025-2025 by 2 years" in v.message
    v = only(check_plan(make_instance(schemes=(scheme("W"),)), {"W": 2030}))
    assert v.rule == "window" and v.amount == 3


def test_a_start_that_is_not_a_whole_year_is_caught():
    inst = make_instance(schemes=(scheme("W"),))
    v = only(check_plan(inst, {"W": 2025.5}))
    assert v.rule == "window" and "not a whole-number year" in v.message
    assert check_plan(inst, {"W": 2026.0}).ok
    assert check_plan(inst, {"W": np.int64(2026)}).ok


def test_a_scheme_unknown_to_the_instance_is_caught():
    v = only(check_plan(make_instance(schemes=(scheme("A"),)), {"Z": 2025}))
    assert v.rule == "unknown_scheme" and v.schemes == ("Z",)


@pytest.mark.parametrize("fields, approved_ok, words", [
    ({"qia_risk": 16}, True, "qia_risk 16 is above max_risk 12 and the QIA is not approved"),
    ({"safety": -1}, True, "safety score -1 is below scheme_min 0 and the QIA is not approved"),
    ({"qia_risk": 20}, False, "qia_risk 20 is above hard_max_risk 16"),
])
def test_an_ineligible_scheme_is_caught_and_approval_overrides_all_but_the_hard_maximum(fields, approved_ok, words):
    quality = Quality(scheme_min={"safety": 0}, max_risk=12, hard_max_risk=16)
    inst = make_instance(schemes=(scheme("Q", **fields),), quality=quality)
    v = only(check_plan(inst, {"Q": 2026}))
    assert (v.rule, v.year, v.schemes) == ("eligibility", 2026, ("Q",))
    assert words in v.message
    approved = make_instance(schemes=(scheme("Q", qia_approved=True, **fields),), quality=quality)
    assert check_plan(approved, {"Q": 2026}).ok is approved_ok
    assert check_plan(inst, {}).ok  # an ineligible scheme left out is fine


def test_eligibility_thresholds_are_strict():
    quality = Quality(scheme_min={"safety": 0}, max_risk=12, hard_max_risk=15)
    inst = make_instance(schemes=(scheme("E", safety=0, qia_risk=12),
                                  scheme("H", qia_risk=15, qia_approved=True)), quality=quality)
    assert check_plan(inst, {"E": 2025, "H": 2025}).ok


def test_a_missing_mandatory_scheme_is_caught():
    inst = make_instance(schemes=(scheme("M", mandatory=True), scheme("N")))
    v = only(check_plan(inst, {"N": 2025}))
    assert (v.rule, v.year, v.schemes) == ("mandatory", None, ("M",))
    assert v.message == "mandatory: scheme M is mandatory but not selected"


def test_an_excluded_scheme_that_is_selected_is_caught():
    inst = make_instance(schemes=(scheme("X", excluded=True), scheme("N")))
    v = only(check_plan(inst, {"X": 2026, "N": 2025}))
    assert (v.rule, v.year, v.schemes) == ("excluded", 2026, ("X",))
    assert "excluded: scheme X is excluded" in v.message
    assert check_plan(inst, {"N": 2025}).ok


def relation_instance(kind: str, lag: int = 0):
    return make_instance(years=(2025, 2026, 2027, 2028), schemes=(scheme("A"), scheme("B")),
                         relations=(Relation(kind=kind, a="A", b="B", lag=lag),))


@pytest.mark.parametrize("kind, lag, plan, amount, words", [
    ("requires", 0, {"A": 2026}, 1, "relation:requires A B: A is selected (start 2026) but B is not"),
    ("requires", 1, {"A": 2026, "B": 2026}, 1, "B starts in 2026, 1 year(s) too late for A"),
    ("requires", 2, {"A": 2026, "B": 2025}, 1, "relation:requires A B (lag 2): B starts in 2025"),
    ("excludes", 0, {"A": 2025, "B": 2027}, 1, "relation:excludes A B: both are selected"),
    ("together", 0, {"B": 2027}, 1, "relation:together A B: B is selected but A is not"),
    ("precedes", 0, {"A": 2027, "B": 2025}, 2, "relation:precedes A B: B starts in 2025, 2 year(s) too early"),
    ("precedes", 2, {"A": 2025, "B": 2026}, 1, "needs 2027 or later"),
])
def test_each_broken_relation_is_caught(kind, lag, plan, amount, words):
    v = only(check_plan(relation_instance(kind, lag), plan))
    assert v.rule == f"relation:{kind}" and v.schemes == ("A", "B")
    assert v.amount == amount and words in v.message


@pytest.mark.parametrize("kind, lag, plan", [
    ("requires", 0, {"A": 2026, "B": 2026}),
    ("requires", 2, {"A": 2027, "B": 2025}),
    ("requires", 1, {"B": 2025}),
    ("excludes", 0, {"A": 2025}),
    ("together", 0, {}),
    ("together", 0, {"A": 2025, "B": 2028}),
    ("precedes", 1, {"A": 2025, "B": 2026}),
    ("precedes", 3, {"B": 2025}),
])
def test_kept_relations_pass(kind, lag, plan):
    assert check_plan(relation_instance(kind, lag), plan).ok


@pytest.mark.parametrize("sense, bound, excess, words", [
    ("<=", 80, 20, "limit cap in 2025: capital_cost 100 exceeds the bound 80 by 20 (schemes: A, B)"),
    (">=", 130, 30, "limit cap in 2025: capital_cost 100 is below the bound 130 by 30 (schemes: A, B)"),
    ("==", 90, 10, "differs from the required 90 by 10"),
    ("==", 110, 10, "differs from the required 110 by 10"),
])
def test_a_limit_broken_in_each_sense_is_caught(sense, bound, excess, words):
    inst = make_instance(schemes=(scheme("A", capital_cost=60), scheme("B", capital_cost=40), scheme("C")),
                         limits=(Limit(id="cap", metric="capital_cost", sense=sense, values={2025: bound}),))
    v = only(check_plan(inst, {"A": 2025, "B": 2025, "C": 2025}))
    assert (v.rule, v.year, v.schemes) == ("limit", 2025, ("A", "B"))
    assert v.amount == pytest.approx(excess) and words in v.message
    kept = make_instance(schemes=inst.schemes, limits=(Limit(id="cap", metric="capital_cost", sense=sense,
                                                             values={2025: 100}),))
    assert check_plan(kept, {"A": 2025, "B": 2025}).ok


def test_limits_use_plan_values_not_confidence():
    inst = make_instance(schemes=(scheme("A", recurrent_saving=100, first_year_fraction=1, confidence=0.5),),
                         limits=(Limit(id="s", metric="saving", sense=">=", values={2025: 100}),))
    assert check_plan(inst, {"A": 2025}).ok


def test_a_missed_hard_target_is_caught():
    inst = make_instance(schemes=(scheme_a(),), targets=(
        Target(id="cash", basis="in_year", values={2026: 100}, hard=True, shortfall_penalty=9),))
    report = check_plan(inst, {"A": 2025})
    v = only(report)
    assert (v.rule, v.year, v.amount) == ("target_hard", 2026, pytest.approx(32))
    assert v.message == ("target_hard cash in 2026: in-year net saving for the system 68 misses the "
                         "hard target 100 by 32")
    assert report.penalty == 0  # a hard target is a rule, never a penalty


def test_a_missed_hard_organisation_target_names_the_organisation():
    targets = (Target(id="north-cip", org="north", values={2026: 20}, hard=True),)
    v = only(check_plan(shared_instance(targets=targets), {"A": 2025, "B": 2026}))
    assert v.rule == "target_hard" and "recurrent net saving for north 15 misses the hard target 20 by 5" in v.message


def test_a_broken_quality_floor_names_the_harmful_schemes():
    inst = make_instance(schemes=(scheme("X", access=-2), scheme("Y", access=1), scheme("Z", access=-1)),
                         quality=Quality(portfolio_min={"access": -1}))
    report = check_plan(inst, {"X": 2025, "Y": 2026, "Z": 2027})
    assert [(v.rule, v.year, v.amount, v.schemes) for v in report.violations] == [
        ("quality_floor", 2025, 1.0, ("X",)), ("quality_floor", 2027, 1.0, ("X", "Z"))]
    assert figure(report, "quality:access") == [-2, -1, -2]


def test_tolerance_is_explicit_and_small():
    inst = make_instance(schemes=(scheme("A", capital_cost=100 + ABS_TOL / 10),),
                         limits=(Limit(id="cap", metric="capital_cost", values={2025: 100}),))
    assert check_plan(inst, {"A": 2025}).ok
    inst = make_instance(schemes=(scheme("A", capital_cost=100.001),), limits=inst.limits)
    assert rules(check_plan(inst, {"A": 2025})) == ["limit"]


def test_report_tables_and_lines():
    inst = make_instance(schemes=(scheme("M", mandatory=True), scheme("W", earliest_start=2027)))
    report = check_plan(inst, {"W": 2025})
    frame = report.violations_frame()
    assert list(frame.columns) == ["rule", "year", "schemes", "amount", "message"]
    assert list(frame["rule"]) == ["window", "mandatory"]
    assert frame["year"].isna().tolist() == [False, True]
    lines = report.lines()
    assert lines[:2] == [v.message for v in report.violations]
    assert lines[-1].startswith("objective (NPV less shortfall penalties; risk expected): ")
    assert not report.ok
    ok = check_plan(inst, {"M": 2025})
    assert ok.ok and ok.violations_frame().empty and ok.lines()[0] == "every rule holds (1 schemes selected)"


def test_violations_are_frozen():
    v = Violation("limit", 2025, ("A",), 1.0, "limit x")
    with pytest.raises(AttributeError):
        v.amount = 2.0  # type: ignore[misc]


@pytest.mark.slow
def test_many_schemes_are_checked_quickly():
    """50,000 schemes × 10 years: the checker is vectorised, not a loop over schemes × years."""
    import time

    rng = np.random.default_rng(3)
    years = tuple(range(2025, 2035))
    schemes = tuple(scheme(f"S{i}", recurrent_saving=float(v), capital_cost=float(c))
                    for i, (v, c) in enumerate(zip(rng.integers(0, 500, 50_000), rng.integers(0, 90, 50_000))))
    inst = make_instance(years=years, schemes=schemes,
                         limits=(Limit(id="cap", metric="capital_cost", values={y: 1e5 for y in years}),),
                         targets=(Target(id="t", values={y: 1e6 for y in years}),))
    plan = {s.id: int(rng.choice(years)) for s in schemes[::2]}
    started = time.process_time()  # CPU time: a busy shared machine must not fail the test
    report = check_plan(inst, plan)
    assert time.process_time() - started < 20
    expected = sum(s.capital_cost for s in schemes if plan.get(s.id) == 2030)
    assert figure(report, "capital_cost")[5] == pytest.approx(expected)


# --- a folder on disk and plan.csv files -------------------------------------------------------
@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "instance.yaml").write_text(
        "format_version: 1\nyears: [2025, 2026, 2027]\ndiscount_rate: 0\n"
        "objective: {mode: savings, risk: none}\n"
        "limits: [{id: cap, metric: capital_cost, values: {2025: 50}}]\n")
    (tmp_path / "schemes.csv").write_text(
        "id,recurrent_saving,capital_cost,earliest_start\nA,100,40,\nB,50,30,2026\nC,10,0,\n")
    return tmp_path


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_text(text, encoding=encoding)
    return path


def test_a_plan_file_read_and_checked(folder: Path):
    inst = load_instance(folder)
    log = ProblemLog()
    plan = read_plan(write(folder / "plan.csv",
                           "\ufeffscheme,selected,start_year,name\nA,TRUE,2025,first\nB,yes,2026,\nC,0,,\n"),
                     inst, log)
    assert plan == {"A": 2025, "B": 2026, "C": None}
    assert not log.problems
    report = check_plan(inst, plan)
    # savings: A 50, 100, 100; B 0, 25, 50
    assert report.ok and report.objective == pytest.approx(50 + 125 + 150)


def test_without_a_selected_column_a_start_year_selects(folder: Path):
    inst = load_instance(folder)
    log = ProblemLog()
    plan = read_plan(write(folder / "p.csv", "Scheme,Start Year\nA,2026\nB,\n"), inst, log)
    assert plan == {"A": 2026, "B": None, "C": None}
    assert [p.severity for p in log.problems] == ["warning"] and "C" in log.problems[0].message


def test_selected_false_with_a_start_year_is_a_warning(folder: Path):
    inst = load_instance(folder)
    log = ProblemLog()
    plan = read_plan(write(folder / "p.csv", "scheme,selected,start_year\nA,false,2025\nB,,2027\nC,no,\n"), inst, log)
    assert plan == {"A": None, "B": 2027, "C": None}
    (warning,) = log.problems
    assert warning.severity == "warning" and warning.row == 2 and warning.column == "start_year"


def test_a_plan_file_in_windows_1252_is_read(folder: Path):
    inst = load_instance(folder)
    plan = read_plan(write(folder / "p.csv", "scheme,start_year,note\nA,2025,caf\u00e9 \u00a3\n", "cp1252"),
                     inst, ProblemLog())
    assert plan["A"] == 2025


def test_every_problem_of_a_plan_file_is_reported_with_its_place(folder: Path):
    inst = load_instance(folder)
    log = ProblemLog()
    text = ("scheme,selected,start_year\n"
            "A,true,\n"          # row 2: selected without a start year
            "Z,true,2025\n"      # row 3: unknown scheme
            "B,maybe,2026\n"     # row 4: not a boolean
            "C,true,2026.5\n"    # row 5: not a whole number
            "A,false,\n"         # row 6: duplicate
            "C,true,soon\n")     # row 7: not a number (and a duplicate)
    with pytest.raises(InputError) as caught:
        read_plan(write(folder / "p.csv", text), inst, log)
    errors = {(p.row, p.column): p.message for p in caught.value.errors}
    assert "selected but has no start_year" in errors[(2, "start_year")]
    assert "unknown scheme 'Z'" in errors[(3, "scheme")]
    assert "'maybe' is not true" in errors[(4, "selected")]
    assert "'2026.5' is not a whole number" in errors[(5, "start_year")]
    assert "given twice (first at row 2)" in errors[(6, "scheme")]
    assert "'soon' is not a whole number" in errors[(7, "start_year")]
    assert all(p.file.endswith("p.csv") for p in caught.value.errors)


def test_a_plan_file_without_a_scheme_column_is_refused(folder: Path):
    inst = load_instance(folder)
    with pytest.raises(InputError) as caught:
        read_plan(write(folder / "p.csv", "id,start_year\nA,2025\n"), inst, ProblemLog())
    assert "'scheme' is missing" in str(caught.value)


def test_a_missing_plan_file_is_an_input_error(folder: Path):
    with pytest.raises(InputError):
        read_plan(folder / "nope.csv", load_instance(folder), ProblemLog())


def test_a_start_outside_the_window_is_read_and_left_to_the_checker(folder: Path):
    inst = load_instance(folder)
    plan = read_plan(write(folder / "p.csv", "scheme,start_year\nB,2025\nA,2025\n"), inst, ProblemLog())
    report = check_plan(inst, plan)
    assert rules(report) == ["window", "limit"]
    assert report.violations[1].message == ("limit cap in 2025: capital_cost 70 exceeds the bound 50 by 20 "
                                            "(schemes: A, B)")
    assert isinstance(report.years, pd.DataFrame)


def test_the_checker_imports_nothing_from_the_model_side():
    """Independence is the point: the checker may use the schema, numpy and pandas, and itself."""
    import ast

    import cipopt.check

    forbidden = ("cipopt.model", "cipopt.coefficients", "cipopt.solve", "cipopt.results", "cipopt.pipeline",
                 "cipopt.analysis")
    folder = Path(cipopt.check.__file__).parent
    modules = sorted(folder.glob("*.py"))
    assert {m.name for m in modules} >= {"__init__.py", "checker.py", "figures.py", "report.py", "risk.py"}
    for module in modules:
        for node in ast.walk(ast.parse(module.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level:  # `from ..model import x` is cipopt.model
                package = ["cipopt", "check"][:3 - node.level]  # level 1: cipopt.check, 2: cipopt
                names = [".".join(package + ([node.module] if node.module else []))]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                assert not name.startswith(forbidden), f"{module.name} imports {name}"
                assert not name.startswith("cipopt.") or name.startswith(("cipopt.check", "cipopt.schema")), \
                    f"{module.name} imports {name}"


def test_a_start_that_is_no_year_at_all_is_caught():
    inst = make_instance(schemes=(scheme("A", recurrent_saving=10, metrics={"pmo_days": 5}),),
                         limits=(Limit(id="pmo", metric="pmo_days", values={2025: 1}),))
    for start in (10**30, float("nan"), True, "2025"):
        v = only(check_plan(inst, {"A": start}))
        assert v.rule == "window" and "not a whole-number year" in v.message
