"""One behaviour per constraint family, on instances whose optimum is worked out in the comments.

Each test shows the rule binds: the optimal plan differs with and without it. Unless stated, the
years are 2025-2027, there is no discounting, savings count at face value (risk none) and
`first_year_fraction` is 1, so a recurrent saving of s started in year t is worth s x (2028 - t).
Every plan is also confirmed by the independent checker inside `solve`.
"""

from __future__ import annotations

import pytest

from golden import chosen, make, solve


# --- selection ------------------------------------------------------------------------------

def test_best_start_year_and_window():
    # A: saving 100/yr. Start 2025 = 300, 2026 = 200, 2027 = 100: the earliest start wins.
    free = solve(make([{"id": "A", "recurrent_saving": 100}]))
    assert chosen(free) == {"A": 2025} and free.objective == pytest.approx(300)
    # With earliest_start 2026 the best is 2026 = 200.
    late = solve(make([{"id": "A", "recurrent_saving": 100, "earliest_start": 2026}]))
    assert chosen(late) == {"A": 2026} and late.objective == pytest.approx(200)


def test_first_year_fraction_and_offsets():
    # saving 100 with first_year_fraction 0.25 from 2025: 25 + 100 + 100 = 225.
    out = solve(make([{"id": "A", "recurrent_saving": 100, "first_year_fraction": 0.25}]))
    assert out.objective == pytest.approx(225)
    years = out.years[(out.years.measure == "saving")]
    assert list(years.value) == pytest.approx([25, 100, 100])


def test_mandatory_scheme_is_selected_at_its_cheapest_start():
    # B costs 100 once and saves nothing: left out unless mandatory. Discounting at 10% makes the
    # last year cheapest: -100 / 1.1^2 = -82.6446...
    base = {"id": "B", "one_off_cost": 100}
    assert chosen(solve(make([base], discount_rate=0.1))) == {}
    out = solve(make([{**base, "mandatory": True}], discount_rate=0.1))
    assert chosen(out) == {"B": 2027}
    assert out.objective == pytest.approx(-100 / 1.1 ** 2)


def test_mandatory_but_ineligible_is_infeasible_in_words():
    inst = make([{"id": "B", "mandatory": True, "safety": -1}], quality={"scheme_min": {"safety": 0}})
    out = solve(inst)
    assert out.status == "infeasible"
    assert "mandatory scheme B cannot be selected" in out.messages[0]
    assert "safety score -1 is below the minimum 0" in out.messages[0]


def test_costs_and_double_running():
    # saving 100/yr, running 10/yr, double running 30 for 2 years, one-off 20, capital 50:
    # from 2025: savings 300 - running 30 - double running 60 - one-off 20 - capital 50 = 140.
    out = solve(make([{"id": "A", "recurrent_saving": 100, "running_cost": 10, "double_running_cost": 30,
                       "double_running_years": 2, "one_off_cost": 20, "capital_cost": 50}]))
    assert chosen(out) == {"A": 2025} and out.objective == pytest.approx(140)
    y = out.years.set_index(["year", "measure"]).value
    assert y[2025, "double_running_cost"] == 30 and y[2026, "double_running_cost"] == 30
    assert y[2027, "double_running_cost"] == 0
    assert y[2025, "in_year_net_saving"] == pytest.approx(100 - 10 - 30 - 20)
    assert y[2025, "recurrent_net_saving"] == pytest.approx(90)


def test_profiles_replace_derived_values():
    # The profile ramps the saving 0, 50, 100 (offsets not listed are 0): from 2025 worth 150,
    # from 2026 worth 0 + 50 = 50. Without the profile it would be 100 x 3 = 300.
    inst = make([{"id": "A", "recurrent_saving": 100}],
                profiles=[{"scheme": "A", "offset": 1, "metric": "saving", "value": 50},
                          {"scheme": "A", "offset": 2, "metric": "saving", "value": 100}])
    out = solve(inst)
    assert chosen(out) == {"A": 2025} and out.objective == pytest.approx(150)


def test_savings_objective_ignores_capital_but_limits_still_bind():
    # A saves 100/yr and needs capital 250: NPV from 2025 is 300 - 250 = 50; savings mode 300.
    inst = make([{"id": "A", "recurrent_saving": 100, "capital_cost": 250}],
                objective={"mode": "savings", "risk": "none"})
    assert solve(inst).objective == pytest.approx(300)
    capped = make([{"id": "A", "recurrent_saving": 100, "capital_cost": 250}],
                  objective={"mode": "savings", "risk": "none"},
                  limits=[{"id": "capital", "metric": "capital_cost", "values": {2025: 200}}])
    out = solve(capped)
    assert chosen(out) == {"A": 2026} and out.objective == pytest.approx(200)


def test_expected_risk_weights_savings_by_confidence():
    scheme = {"id": "A", "recurrent_saving": 100, "confidence": 0.5, "one_off_cost": 40}
    none = solve(make([scheme], years=[2025]))
    assert none.objective == pytest.approx(60)
    expected = solve(make([scheme], years=[2025], objective={"mode": "net_present_value", "risk": "expected"}))
    assert expected.objective == pytest.approx(10)  # 0.5 x 100 - 40 (costs are not discounted by confidence)


def test_discounting():
    # 3.5%: saving 100 in 2025, 2026, 2027 = 100 + 100/1.035 + 100/1.035^2.
    out = solve(make([{"id": "A", "recurrent_saving": 100}], discount_rate=0.035))
    assert out.objective == pytest.approx(100 + 100 / 1.035 + 100 / 1.035 ** 2)


# --- targets ----------------------------------------------------------------------------------

C = {"id": "C", "recurrent_saving": 100, "one_off_cost": 500}  # NPV from 2025: 300 - 500 = -200


def target(**kw):
    return {"id": "underlying", "basis": "recurrent", "values": {2027: 100}, **kw}


def test_soft_recurrent_target_trades_penalty_against_cost():
    assert chosen(solve(make([C]))) == {}
    # penalty 3: missing 100 costs 300 > 200, so C runs from 2025 (meets 2027's 100).
    out = solve(make([C], targets=[target(shortfall_penalty=3)]))
    assert chosen(out) == {"C": 2025} and out.objective == pytest.approx(-200)
    # penalty 1: missing costs 100 < 200: accept the shortfall.
    out = solve(make([C], targets=[target(shortfall_penalty=1)]))
    assert chosen(out) == {} and out.objective == pytest.approx(-100)
    row = out.years[out.years.measure == "target:underlying"].iloc[0]
    assert row.shortfall == pytest.approx(100) and row.bound == 100


def test_hard_target_must_be_met_or_infeasible():
    out = solve(make([C], targets=[target(hard=True)]))
    assert chosen(out) == {"C": 2025}
    assert solve(make([C], targets=[target(hard=True, values={2027: 101})])).status == "infeasible"


def test_in_year_target_counts_nonrecurrent_savings_recurrent_does_not():
    # D: one-off saving 60 in its start year, capital 100: NPV -40, so left out by itself.
    d = {"id": "D", "nonrecurrent_saving": 60, "capital_cost": 100}
    in_year = solve(make([d], targets=[{"id": "cash", "basis": "in_year", "values": {2025: 50}, "hard": True}]))
    assert chosen(in_year) == {"D": 2025} and in_year.objective == pytest.approx(-40)
    recurrent = solve(make([d], targets=[{"id": "u", "basis": "recurrent", "values": {2025: 50}, "hard": True}]))
    assert recurrent.status == "infeasible"


def test_target_under_expected_risk_needs_more_schemes():
    # Hard recurrent target 80 in 2025; A saves 100 at confidence 0.5 (worth 50 expected).
    a = {"id": "A", "recurrent_saving": 100, "confidence": 0.5}
    t = [{"id": "u", "values": {2025: 80}, "hard": True}]
    assert solve(make([a], years=[2025], targets=t)).status == "optimal"
    risky = make([a], years=[2025], targets=t, objective={"mode": "net_present_value", "risk": "expected"})
    assert solve(risky).status == "infeasible"


def test_per_organisation_target_uses_saving_shares():
    # S is run by acute, saves 100/yr, 30% of it falls to community. Community's hard recurrent
    # target of 30 in 2025 is met only by S; with a 20% share it cannot be.
    orgs = [{"id": "acute"}, {"id": "community"}]
    s = {"id": "S", "recurrent_saving": 100, "one_off_cost": 1000, "org": "acute"}
    t = [{"id": "community-cip", "org": "community", "values": {2025: 30}, "hard": True}]

    def shares(community):
        return [{"scheme": "S", "org": "acute", "saving_share": 1 - community, "cost_share": 1},
                {"scheme": "S", "org": "community", "saving_share": community, "cost_share": 0}]
    out = solve(make([s], organisations=orgs, targets=t, shares=shares(0.3)))
    assert chosen(out) == {"S": 2025}
    assert solve(make([s], organisations=orgs, targets=t, shares=shares(0.2))).status == "infeasible"


# --- limits -----------------------------------------------------------------------------------

P = {"id": "P", "recurrent_saving": 100, "capital_cost": 100}  # 2025: 300-100=200; 2026: 100; 2027: 0
Q = {"id": "Q", "recurrent_saving": 80, "capital_cost": 100}   # 2025: 140; 2026: 60; 2027: -20


def test_capital_limit_staggers_starts():
    assert chosen(solve(make([P, Q]))) == {"P": 2025, "Q": 2025}
    # capital <= 100 in 2025 and 2026: P in 2025 (200) + Q in 2026 (60) = 260.
    out = solve(make([P, Q], limits=[{"id": "capital", "metric": "capital_cost",
                                      "values": {2025: 100, 2026: 100}}]))
    assert chosen(out) == {"P": 2025, "Q": 2026} and out.objective == pytest.approx(260)
    use = out.years[out.years.measure == "limit:capital"]
    assert list(use.value) == [100, 100]


def test_at_least_and_equal_limits_on_custom_metrics():
    # agency_spend_reduction >= 5 in 2027 forces R (worth -30) in by 2027 (its cheapest start).
    r = {"id": "R", "one_off_cost": 30, "agency_spend_reduction": 5}
    inst = make([r], limits=[{"id": "agency", "metric": "agency_spend_reduction", "sense": ">=", "values": {2027: 5}}])
    assert solve(make([r])).objective == 0
    out = solve(inst)
    assert out.objective == pytest.approx(-30) and "R" in chosen(out)
    # pmo_days == 3 in 2025: exactly one of the two 3-day schemes runs in 2025; both are worth running.
    a = {"id": "A", "recurrent_saving": 10, "pmo_days": 3}
    b = {"id": "B", "recurrent_saving": 20, "pmo_days": 3}
    eq = solve(make([a, b], limits=[{"id": "pmo", "metric": "pmo_days", "sense": "==", "values": {2025: 3}}]))
    # B from 2025 (60) + A from 2026 (20) = 80; pmo in 2025 is exactly 3.
    assert chosen(eq) == {"B": 2025, "A": 2026} and eq.objective == pytest.approx(80)


def test_per_organisation_limit_uses_cost_shares():
    orgs = [{"id": "acute"}, {"id": "mh"}]
    s = {"id": "S", "recurrent_saving": 100, "capital_cost": 100, "org": "acute"}
    lim = [{"id": "mh-capital", "org": "mh", "metric": "capital_cost", "values": {2025: 40, 2026: 40, 2027: 40}}]

    def shares(mh):
        return [{"scheme": "S", "org": "acute", "saving_share": 1, "cost_share": 1 - mh},
                {"scheme": "S", "org": "mh", "saving_share": 0, "cost_share": mh}]
    assert chosen(solve(make([s], organisations=orgs, limits=lim, shares=shares(0.3)))) == {"S": 2025}
    assert chosen(solve(make([s], organisations=orgs, limits=lim, shares=shares(0.5)))) == {}


def test_limit_on_a_metric_of_schemes_run_by_an_organisation():
    # pmo_days counts for the organisation that runs the scheme, whatever the shares.
    orgs = [{"id": "acute"}, {"id": "mh"}]
    a = {"id": "A", "recurrent_saving": 10, "pmo_days": 5, "org": "acute"}
    m = {"id": "M", "recurrent_saving": 10, "pmo_days": 5, "org": "mh"}
    lim = [{"id": "mh-pmo", "org": "mh", "metric": "pmo_days", "values": {2025: 4, 2026: 4, 2027: 4}}]
    assert chosen(solve(make([a, m], organisations=orgs, limits=lim))) == {"A": 2025}


# --- quality ----------------------------------------------------------------------------------

def test_qia_eligibility_and_approval_override():
    rules = {"scheme_min": {"safety": 0}, "max_risk": 12, "hard_max_risk": 15}
    harm = {"id": "H", "recurrent_saving": 100, "safety": -1}
    assert chosen(solve(make([harm], quality=rules))) == {}
    assert chosen(solve(make([{**harm, "qia_approved": True}], quality=rules))) == {"H": 2025}
    risky = {"id": "R", "recurrent_saving": 100, "qia_risk": 16, "qia_approved": True}
    assert chosen(solve(make([risky], quality=rules))) == {}  # above the hard maximum
    moderate = {"id": "M", "recurrent_saving": 100, "qia_risk": 15}
    assert chosen(solve(make([moderate], quality=rules))) == {}
    assert chosen(solve(make([{**moderate, "qia_approved": True}], quality=rules))) == {"M": 2025}


def test_portfolio_quality_floor_limits_harm_per_year():
    # E1 and E2 each lower experience by 1; the floor -1 allows one at a time in any year.
    e1 = {"id": "E1", "recurrent_saving": 100, "experience": -1}
    e2 = {"id": "E2", "recurrent_saving": 90, "experience": -1}
    assert solve(make([e1, e2])).objective == pytest.approx(570)
    out = solve(make([e1, e2], quality={"portfolio_min": {"experience": -1}}))
    assert chosen(out) == {"E1": 2025} and out.objective == pytest.approx(300)
    # A scheme that improves experience (+1) makes room for both.
    g = {"id": "G", "experience": 1}
    out = solve(make([e1, e2, g], quality={"portfolio_min": {"experience": -1}}))
    assert chosen(out) == {"E1": 2025, "E2": 2025, "G": 2025}


# --- relations --------------------------------------------------------------------------------

A = {"id": "A", "recurrent_saving": 100}            # 300 from 2025
B = {"id": "B", "recurrent_saving": 10, "one_off_cost": 25}  # 5 from 2025, -5 from 2026, -15 from 2027


def test_requires_with_lag():
    # A requires B one year earlier: B 2025 (5) + A 2026 (200) = 205 beats nothing (0).
    out = solve(make([A, B], relations=[{"kind": "requires", "a": "A", "b": "B", "lag": 1}]))
    assert chosen(out) == {"B": 2025, "A": 2026} and out.objective == pytest.approx(205)
    # lag 0: both in 2025 = 305.
    out = solve(make([A, B], relations=[{"kind": "requires", "a": "A", "b": "B"}]))
    assert chosen(out) == {"A": 2025, "B": 2025}
    # B not allowed before 2027 and lag 1: A could start only in 2028: A is left out.
    late_b = {**B, "earliest_start": 2027}
    out = solve(make([A, late_b], relations=[{"kind": "requires", "a": "A", "b": "B", "lag": 1}]))
    assert chosen(out) == {}


def test_excludes_and_together():
    a2 = {"id": "A2", "recurrent_saving": 90}
    out = solve(make([A, a2], relations=[{"kind": "excludes", "a": "A", "b": "A2"}]))
    assert chosen(out) == {"A": 2025}
    # together: B is worth running only because A must come with it: 300 + 5.
    loss = {"id": "L", "one_off_cost": 400}
    assert chosen(solve(make([A, loss], relations=[{"kind": "together", "a": "A", "b": "L"}]))) == {}
    out = solve(make([A, B], relations=[{"kind": "together", "a": "B", "b": "A"}]))
    assert chosen(out) == {"A": 2025, "B": 2025}


def test_precedes_with_lag():
    # B must start at least 2 years after A if both run: A 2025 + B 2027 = 300 - 15 (B's worst)
    # would lose; the optimum is A alone (300) rather than A + B at 2027 (285).
    out = solve(make([A, B], relations=[{"kind": "precedes", "a": "A", "b": "B", "lag": 2}]))
    assert chosen(out) == {"A": 2025} and out.objective == pytest.approx(300)
    # With B worth running late (saving 50, cost 25: from 2027 it is worth 25), A 2025 + B 2027.
    good_b = {"id": "B", "recurrent_saving": 50, "one_off_cost": 25}
    out = solve(make([A, good_b], relations=[{"kind": "precedes", "a": "A", "b": "B", "lag": 2}]))
    assert chosen(out) == {"A": 2025, "B": 2027} and out.objective == pytest.approx(325)
    # precedes says nothing when only one runs: B alone may start in 2025.
    out = solve(make([good_b], relations=[]))
    assert chosen(out) == {"B": 2025}


# --- weighted score ---------------------------------------------------------------------------

def test_weighted_score_with_a_fund_limit():
    # Bids X (cost 60), Y (cost 50), Z (cost 40), fund 100 in the one year. Scores on two criteria
    # with weights 0.5/0.5: X 80, Y 55, Z 50. Best affordable: X + Z = 130 (X+Y costs 110).
    schemes = [{"id": "X", "capital_cost": 60}, {"id": "Y", "capital_cost": 50}, {"id": "Z", "capital_cost": 40}]
    scores = [("X", 90, 70), ("Y", 60, 50), ("Z", 40, 60)]
    inst = make(
        schemes, years=[2025], objective={"mode": "weighted_score", "risk": "none"},
        criteria=[{"id": "health", "weight": 0.5}, {"id": "value", "weight": 0.5}],
        scores=[{"scheme": s, "criterion": c, "score": v}
                for s, h, val in scores for c, v in (("health", h), ("value", val))],
        limits=[{"id": "fund", "metric": "capital_cost", "values": {2025: 100}}],
    )
    out = solve(inst)
    assert chosen(out) == {"X": 2025, "Z": 2025} and out.objective == pytest.approx(130)
