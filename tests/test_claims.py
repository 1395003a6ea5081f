"""Claims tests: every kind of figure or sentence a board reads, recomputed independently.

Each test recomputes a claim cipopt makes (net present value, shortfall penalty, the rules a scheme
"counts in", the value of easing a rule, a diagnosis's "at most", shortfalls) by brute force over
every plan of a small instance (tests/bruteforce.py: plain loops, no code shared with the model or
the checker) or with the checker's own code, so that a false claim fails.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from bruteforce import all_plans, brute_force, evaluate, plan_figures
from cipopt.analysis.explain import _with_bound, explain
from cipopt.check import check_plan
from cipopt.cli import main
from cipopt.pipeline import Planner, SolveOptions
from cipopt.report.text import solve_summary, worst_shortfalls
from cipopt.schema.instance import Target
from cipopt.solve.diagnose import diagnose
from golden import make
from instances_factory import load_clean

EXACT = SolveOptions(mip_gap=0.0)
HOLBY = Path(__file__).resolve().parents[1] / "instances" / "holby"


def lumpy(**context):
    """Four schemes competing for capital and PMO days under a soft and a hard-ish target: the
    optimum is lumpy, so easing a rule pays only at a breakpoint."""
    schemes = [
        {"id": "P", "recurrent_saving": 300, "capital_cost": 100, "pmo_days": 10, "first_year_fraction": 0.5},
        {"id": "R", "recurrent_saving": 250, "capital_cost": 100, "pmo_days": 20},
        {"id": "S", "recurrent_saving": 120, "one_off_cost": 60, "pmo_days": 25, "experience": -1},
        {"id": "T", "recurrent_saving": 80, "running_cost": 10, "confidence": 0.8, "experience": 1},
    ]
    data = {"years": [2025, 2026, 2027], "discount_rate": 0.035,
            "objective": {"mode": "net_present_value", "risk": "expected"},
            "limits": [{"id": "capital", "metric": "capital_cost", "values": {2025: 100, 2026: 100, 2027: 100}},
                       {"id": "pmo", "metric": "pmo_days", "values": {2025: 40, 2026: 40, 2027: 40}}],
            "targets": [{"id": "u", "values": {2025: 300, 2026: 700, 2027: 900}, "shortfall_penalty": 1.5}],
            "quality": {"portfolio_min": {"experience": 0}}}
    data.update(context)
    return make(schemes, **data)


# -- net present value, penalty, objective --------------------------------------------------------

@pytest.mark.parametrize("mode", ["net_present_value", "savings"])
def test_npv_and_penalty_are_the_plans_own_figures_in_every_mode(mode):
    inst = lumpy(objective={"mode": mode, "risk": "expected"})
    out = Planner(inst).solve(EXACT)
    fig = plan_figures(inst, out.plan)
    assert out.net_present_value == pytest.approx(fig["npv"], rel=1e-9)
    assert out.shortfall_penalty == pytest.approx(fig["penalty"], rel=1e-9)
    assert fig["penalty"] > 0  # the target is missed: the objective is not the NPV
    _, objective = evaluate(inst, out.plan)  # the brute-force objective (penalties inside)
    assert out.objective == pytest.approx(objective, rel=1e-9)
    if mode == "net_present_value":
        assert out.objective == pytest.approx(fig["npv"] - fig["penalty"], rel=1e-9)
    summary = out.summary()
    assert summary["net_present_value"] == pytest.approx(fig["npv"], rel=1e-9)
    assert summary["shortfall_penalty"] == pytest.approx(fig["penalty"], rel=1e-9)
    assert "net present value" not in summary["objective_meaning"].lower()
    # the terminal: the figure called "net present value" is the NPV; the objective is named as such
    lines = solve_summary(out)
    npv_line = next(line for line in lines if line.startswith("net present value"))
    assert f"{fig['npv']:,.0f}" in npv_line or f"{fig['npv']:,.1f}" in npv_line
    objective_line = next(line for line in lines if line.startswith("objective ("))
    assert "net present value" not in objective_line and "less shortfall penalties" in objective_line


def test_weighted_score_mode_still_reports_the_plans_npv():
    inst = lumpy(objective={"mode": "weighted_score", "risk": "none"},
                 criteria=[{"id": "value", "weight": 1.0}],
                 scores=[{"scheme": "P", "criterion": "value", "score": 10},
                         {"scheme": "T", "criterion": "value", "score": 90}])
    out = Planner(inst).solve(EXACT)
    fig = plan_figures(inst, out.plan)
    assert out.net_present_value == pytest.approx(fig["npv"], rel=1e-9)
    assert out.objective != pytest.approx(out.net_present_value)


def test_cvar_penalty_is_reported_apart_from_npv_and_shortfall_penalty():
    inst = lumpy(objective={"mode": "net_present_value", "risk": "cvar", "cvar_penalty": 2.0, "draws": 40,
                            "alpha": 0.8})
    out = Planner(inst).solve(EXACT)
    report = check_plan(inst, out.plan)
    fig = plan_figures(inst, out.plan)
    assert out.risk_penalty == pytest.approx(2.0 * report.risk_figures["risk_cvar"], rel=1e-7)
    assert out.risk_penalty > 0
    assert out.net_present_value == pytest.approx(fig["npv"], rel=1e-9)
    assert out.objective == pytest.approx(fig["npv"] - fig["penalty"] - out.risk_penalty, rel=1e-7)
    assert "CVaR penalty" in "\n".join(solve_summary(out))


def test_holby_headline_figures_are_the_checkers(tmp_path):
    # instances/holby/README.md: NPV 77,000 against an objective of 61,123 (15,877 of penalty weight)
    result = CliRunner().invoke(main, ["solve", str(HOLBY), "--out", str(tmp_path / "h")])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "h" / "summary.json").read_text())
    inst = load_clean(HOLBY)
    rows = pd.read_csv(tmp_path / "h" / "plan.csv")
    plan = {r.scheme: (None if pd.isna(r.start_year) else int(r.start_year)) for r in rows.itertuples()}
    report = check_plan(inst, plan)
    assert summary["net_present_value"] == pytest.approx(report.net_present_value, rel=1e-9)
    assert summary["shortfall_penalty"] == pytest.approx(report.penalty, rel=1e-9)
    assert summary["objective"] == pytest.approx(report.objective, rel=1e-9)
    assert round(report.net_present_value) == 77000 and round(report.objective) == 61123
    assert f"net present value (GBP thousand): {report.net_present_value:,.0f}" in result.output
    assert "net present value (GBP thousand): 61,123" not in result.output


# -- shortfalls ----------------------------------------------------------------------------------

def test_worst_shortfall_is_each_targets_worst_year_never_a_sum():
    inst = lumpy()
    out = Planner(inst).solve(EXACT)
    fig = plan_figures(inst, out.plan)
    worst = worst_shortfalls(out.years)
    for t in inst.targets:
        gaps = {y: fig["shortfall"][t.id, y] for y in t.values}
        year, value = worst[t.id]
        assert value == pytest.approx(max(gaps.values()), rel=1e-9)
        assert year == max(gaps, key=gaps.get)
        assert value < sum(gaps.values())  # the double count the issue found would be this sum


def test_report_headline_shows_each_targets_worst_year(tmp_path):
    out_dir = tmp_path / "h"
    assert CliRunner().invoke(main, ["solve", str(HOLBY), "--out", str(out_dir)]).exit_code == 0
    result = CliRunner().invoke(main, ["report", str(HOLBY), str(out_dir), "-o", str(tmp_path / "r.html")])
    assert result.exit_code == 0, result.output
    html = (tmp_path / "r.html").read_text()
    assert "total shortfall" not in html
    # the board paper's sentence for the underlying target ends with its worst year alone
    assert re.search(r"Underlying[^<]*Worst year(&#x27;|')s shortfall: £7,020k in 2029/30\.", html, re.I), \
        "the underlying target's worst year (2029, checked above against the checker) is not in the paper"
    assert "77,000" in html


def test_whatif_prints_worst_year_per_target_and_npv(tmp_path):
    result = CliRunner().invoke(main, ["whatif", str(HOLBY), "--scenario", "income-cut", "--out", str(tmp_path / "w")])
    assert result.exit_code == 0, result.output
    assert "12,042" not in result.output  # the old sum over targets and years
    rows = pd.read_csv(tmp_path / "w" / "whatif.csv")
    cut = rows[rows.scenario == "income-cut"].iloc[0]
    # the objective (NPV less the underlying target's penalty) is printed apart from the NPV
    assert round(cut.net_present_value) == 63782 and round(cut.objective) == 51836


# -- "uses": the binding rules a scheme counts in ---------------------------------------------------

CLAIM = re.compile(r"(\w+:[\w-]+) \(([^)]*)\)")


def parse_uses(text: str) -> dict[tuple[str, int], float]:
    out = {}
    for measure, years in CLAIM.findall(text):
        for part in years.split(", "):
            year, value = part.split(": ")
            out[measure, int(year)] = float(value.replace(",", ""))
    return out


def test_a_scheme_counts_in_exactly_the_binding_rules_where_its_coefficient_is_nonzero():
    inst = lumpy()
    result = explain(Planner(inst), EXACT)
    plan = result.reference.plan
    empty = plan_figures(inst, {})
    ref = plan_figures(inst, plan)
    binding = set()
    for lim in inst.limits:
        for y, b in lim.values.items():
            if abs(ref["use"][lim.id, y] - b) <= 1e-6:
                binding.add((f"limit:{lim.id}", y))
    for t in inst.targets:
        for y in t.values:
            if ref["shortfall"][t.id, y] > 1e-6 or abs(ref["achieved"][t.id, y] - t.values[y]) <= 1e-6:
                binding.add((f"target:{t.id}", y))
    for d, m in inst.quality.portfolio_min.items():
        for y in inst.years:
            if abs(ref["quality"][d, y] - m) <= 1e-6:
                binding.add((f"quality:{d}", y))
    checked = 0
    for row in result.schemes.itertuples():
        if row.kind != "worth it":
            continue
        alone = plan_figures(inst, {row.scheme: int(row.start_year)})
        expected = {}
        for measure, y in binding:
            kind, rid = measure.split(":")
            key = {"limit": "use", "target": "achieved", "quality": "quality"}[kind]
            coefficient = alone[key][rid, y] - empty[key][rid, y]  # linear: the scheme's own term
            if abs(coefficient) > 1e-9 and y >= row.start_year:
                expected[measure, y] = coefficient
        claimed = parse_uses(row.binding)
        assert claimed.keys() == expected.keys(), row.scheme
        for key, value in expected.items():
            assert claimed[key] == pytest.approx(value, rel=1e-3, abs=1e-3)
        checked += 1
    assert checked >= 2


# -- the value of easing a rule --------------------------------------------------------------------

def best(inst):
    value, _ = brute_force(inst)
    return value


@pytest.mark.parametrize("rule,year", [("limit:capital", 2025), ("limit:capital", 2026),
                                       ("limit:pmo", 2025), ("limit:pmo", 2027)])
def test_value_of_easing_is_at_the_exact_breakpoint(rule, year):
    inst = lumpy()
    result = explain(Planner(inst), EXACT)
    z0 = best(inst)
    row = result.rules[(result.rules.rule == rule) & (result.rules.year == year)].iloc[0]
    kind, rid = rule.split(":")
    bound = row.bound
    if row.breakpoint is None or row.breakpoint != row.breakpoint:
        # claimed: no easing up to removing the rule that year gives a better plan
        assert "no easing" in row.method and row.marginal_value == 0
        assert best(_with_bound(inst, kind, rid, year, 1e9)) == pytest.approx(z0, abs=1e-6)
        return
    b = row.breakpoint
    # at the breakpoint the optimum is the claimed gain better...
    assert best(_with_bound(inst, kind, rid, year, b)) == pytest.approx(z0 + row.gain, abs=1e-6)
    assert row.gain > 1e-6 and row.marginal_value == pytest.approx(row.gain / (b - bound))
    # ...and just before it, nothing changes: it is the first step at which the optimum moves
    assert best(_with_bound(inst, kind, rid, year, b - 1e-3)) == pytest.approx(z0, abs=1e-6)


@pytest.mark.parametrize("rule", ["capital", "pmo"])
def test_value_of_easing_a_limit_in_every_year_is_at_the_exact_breakpoint(rule):
    inst = lumpy()
    result = explain(Planner(inst), EXACT)
    z0 = best(inst)
    row = result.rules[(result.rules.rule == f"limit:{rule}") & (result.rules.year == "all")].iloc[0]
    lim = next(lim for lim in inst.limits if lim.id == rule)

    def eased(delta):
        values = {y: v + delta for y, v in lim.values.items()}
        return inst.model_copy(update={"limits": tuple(
            x if x.id != rule else x.model_copy(update={"values": values}) for x in inst.limits)})
    if row.step is None or row.step != row.step:
        assert row.marginal_value == 0 and "no easing in every year" in row.method
        assert best(eased(1e9)) == pytest.approx(z0, abs=1e-6)
        return
    assert best(eased(row.step)) == pytest.approx(z0 + row.gain, abs=1e-6) and row.gain > 1e-6
    assert best(eased(row.step - 1e-3)) == pytest.approx(z0, abs=1e-6)


def test_value_of_easing_a_soft_target_in_shortfall_is_its_discounted_penalty():
    inst = lumpy()
    result = explain(Planner(inst), EXACT)
    z0 = best(inst)
    rows = result.rules[(result.rules.rule == "target:u") & (result.rules.shortfall > 1e-6)]
    assert not rows.empty
    for row in rows.itertuples():
        step = min(1.0, row.step)
        eased = best(_with_bound(inst, "target", "u", row.year, row.bound - step))
        assert (eased - z0) / step == pytest.approx(row.marginal_value, rel=1e-6)


def test_a_rule_no_easing_helps_is_said_to_be_worth_nothing():
    # capital is never the constraint: removing it changes nothing, and explain says so
    inst = lumpy(limits=[{"id": "capital", "metric": "capital_cost", "values": {2025: 1000}}])
    result = explain(Planner(inst), EXACT)
    row = result.rules[result.rules.rule == "limit:capital"].iloc[0]
    assert row.marginal_value == 0 and "no easing, up to removing the rule" in row.method
    assert best(_with_bound(inst, "limit", "capital", 2025, 1e9)) == pytest.approx(best(inst), abs=1e-6)


# -- the infeasibility diagnosis ---------------------------------------------------------------------

def test_diagnosis_at_most_is_the_brute_force_maximum():
    # a hard target of 700 in 2026 is out of reach under the capital and PMO limits
    inst = lumpy(targets=[{"id": "u", "values": {2026: 700}, "hard": True}])
    out = Planner(inst).solve(EXACT)
    assert out.status == "infeasible"
    text = " | ".join(out.messages)
    found = re.search(r"hard target u needs 700 of recurrent net saving in 2026; at most ([\d,.]+) can be achieved",
                      text)
    assert found, text
    claimed = float(found.group(1).replace(",", ""))
    free = _with_bound(inst, "target", "u", 2026, -1e9)
    most = max(plan_figures(free, p)["achieved"]["u", 2026] for p in all_plans(free) if evaluate(free, p)[0])
    assert claimed == pytest.approx(most, abs=1e-3)


def test_holby_with_a_hard_control_total_states_no_false_limit(tmp_path):
    # the issue: "at most 5,995.25 can be achieved in 2025" although a plan meeting 6,500 exists
    # holby as the issue had it: an in-year control-total target (hard here) instead of the bottom line
    holby = load_clean(HOLBY)
    control = Target(id="control-total", org="holby", basis="in_year", hard=True,
                     values={2025: 6000, 2026: 12500, 2027: 18500, 2028: 24000, 2029: 29000})
    inst = holby.model_copy(update={"finance": None, "targets": (*holby.targets, control)})
    planner = Planner(inst)
    out = planner.solve()
    assert out.status == "infeasible"
    text = " | ".join(out.messages)
    assert "5,995.25" not in text
    # a plan meeting 6,500 in 2025 exists once the later years may bend
    t = next(t for t in inst.targets if t.id == "control-total")
    only_2025 = inst.model_copy(update={"targets": tuple(
        x if x.id != t.id else x.model_copy(update={"values": {2025: 6500}}) for x in inst.targets)})
    assert Planner(only_2025).solve().status.has_plan
    # every "not the only cause" claim: without that year the instance is still infeasible
    for year in (int(y) for y in re.findall(r"hard target control-total in (\d{4}) is not the only cause", text)):
        values = {y: v for y, v in t.values.items() if y != year}
        without = inst.model_copy(update={"targets": tuple(
            x if x.id != t.id else x.model_copy(update={"values": values}) for x in inst.targets)})
        assert Planner(without).solve().status == "infeasible"
    bent_limits = {(lid, int(y)) for lid, y in re.findall(r"limit ([\w-]+) in (\d{4}) by", text)}

    def with_values(values, set_aside=False):
        limits = inst.limits if not set_aside else tuple(
            lim.model_copy(update={"values": {y: v for y, v in lim.values.items() if (lim.id, y) not in bent_limits}})
            for lim in inst.limits)
        return inst.model_copy(update={"limits": limits, "targets": tuple(
            x if x.id != t.id else x.model_copy(update={"values": values}) for x in inst.targets)})
    bent = {int(y) for y in re.findall(r"hard target control-total in (\d{4}) by", text)}
    claims = re.findall(r"control-total needs [\d,.]+ of in-year net saving in (\d{4}); at most ([\d,.]+) can be "
                        r"achieved (together with the other rules|even with the other rules the relaxation bent set "
                        r"aside)", text)
    assert claims, text
    for year, most, how in claims:
        year, most = int(year), float(most.replace(",", ""))
        kept = {y: v for y, v in t.values.items() if y not in bent} if "set aside" in how else dict(t.values)
        # "at most": one more is out of reach; exactly that much (less a rounding) is reachable
        aside = "set aside" in how  # the rules the relaxation bent (limits too) are set aside
        assert Planner(with_values({**kept, year: most + 1.0}, aside)).solve().status == "infeasible"
        assert Planner(with_values({**kept, year: most - 0.01}, aside)).solve().status.has_plan


def test_a_diagnosis_stopped_by_its_time_limit_names_no_cause():
    inst = lumpy(targets=[{"id": "u", "values": {2026: 700}, "hard": True}])
    planner = Planner(inst)
    planner.solve(EXACT)
    words = diagnose(planner.session, inst, planner.coef, planner.pair_columns, time_limit=1e-9)
    text = " ".join(words)
    assert "stopped" in text and "no cause is named" in text
    assert "relations and start windows" not in text and "at most" not in text
