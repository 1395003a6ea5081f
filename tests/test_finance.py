"""The bottom line (docs/finance.md): do-nothing I&E and cash, control totals as a surplus,
incentive funds with a cliff. Each figure is recomputed three ways (the model's results, the
checker, the brute-force evaluator of tests/bruteforce.py) and the MIP's optimum is brute force's."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cipopt.check import check_plan
from cipopt.io.load import load_instance
from cipopt.model.build import build_model
from cipopt.pipeline import SolveOptions, solve_instance
from cipopt.schema.finance import (
    CapitalCharges, CapitalReceipt, ControlTotal, CostBaseline, DoNothingYear, Finance, IncentiveFund, IncomeFlow, OrgFinance,
    SchemeEnd,
)
from cipopt.schema.problems import InputError

from bruteforce import broken_rules, brute_force
from golden import make
from instances_factory import instances, plans
from test_standard_form import assert_same_form

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def cliff_instance(fund: bool = True):
    """One trust, two years, r = 0, face value. Do-nothing deficits 40 and 80; control total -20
    both years; a fund of 30 a year paid only when the control total is met (docs/finance.md).

    Without the fund the best plan is A and B in 2025 (in-year 20 + (-10) = 10, then 85: NPV 95).
    Its 2025 surplus is -40 + 10 = -30, missing the control total; with C as well (a one-off
    saving of 12 bought with 20 of capital, NPV -8) 2025 reaches -18 and 2026 -80 + 85 = 5: both
    years paid, 95 - 8 + 60 = 147, against 125 for A and B alone (2026 paid only)."""
    finance = {
        "organisations": [{"org": "trust", "opening_cash": 100, "do_nothing": {
            2025: {"income": 1000, "pay": 700, "non_pay": 300, "capital_charges": 40},
            2026: {"income": 1000, "pay": 740, "non_pay": 300, "capital_charges": 40}}}],
        "control_totals": [{"id": "ct", "org": "trust", "values": {2025: -20, 2026: -20}}],
        "incentive_funds": [{"id": "psf", "org": "trust", "values": {2025: 30, 2026: 30}, "conditions": ["ct"]}]
        if fund else [],
    }
    return make(
        [{"id": "A", "recurrent_saving": 25, "one_off_cost": 5},
         {"id": "B", "recurrent_saving": 60, "one_off_cost": 70},
         {"id": "C", "nonrecurrent_saving": 12, "capital_cost": 20}],
        years=[2025, 2026], finance=finance)


def solve(instance):
    outcome = solve_instance(instance, SolveOptions(mip_gap=0.0))
    assert outcome.status == "optimal", outcome.messages
    assert outcome.check.ok, outcome.check.lines()
    return outcome


def figure(years, measure, org="all"):
    rows = years[(years["measure"] == measure) & (years["org"] == org)].sort_values("year")
    return rows["value"].to_numpy()


def test_the_cliff_buys_a_bridge_that_loses_money_on_its_own():
    without = solve(cliff_instance(fund=False))
    assert without.plan == {"A": 2025, "B": 2025, "C": None}
    assert without.objective == pytest.approx(95)
    outcome = solve(cliff_instance())
    assert outcome.plan == {"A": 2025, "B": 2025, "C": 2025}
    assert outcome.objective == pytest.approx(147)
    best, optima = brute_force(cliff_instance())
    assert best == pytest.approx(147) and optima == [outcome.plan]
    years = outcome.years
    assert list(figure(years, "do_nothing:surplus")) == pytest.approx([-40, -80])
    assert list(figure(years, "incentive_received")) == pytest.approx([30, 30])
    assert list(figure(years, "control_total:ct", "trust")) == pytest.approx([-18, 5])
    assert list(figure(years, "surplus")) == pytest.approx([-18 + 30, 5 + 30])
    # cash: 100 + (12 - 20 capital) = 92, then 92 + 35 = 127
    assert list(figure(years, "cash")) == pytest.approx([92, 127])


def test_a_missed_condition_loses_the_whole_year():
    inst = cliff_instance()
    report = check_plan(inst, {"A": 2025, "B": 2025, "C": None})
    assert list(figure(report.years, "incentive_received")) == pytest.approx([0, 30])
    assert report.objective == pytest.approx(125)
    assert broken_rules(inst, {"A": 2025, "B": 2025, "C": None}) == (set(), pytest.approx(125))


def test_a_hard_control_total_is_a_rule_and_the_checker_names_it():
    inst = cliff_instance()
    hard = inst.finance.control_totals[0].model_copy(update={"hard": True, "values": {2025: -10, 2026: -20}})
    inst = inst.model_copy(update={"finance": inst.finance.model_copy(update={"control_totals": (hard,)})})
    report = check_plan(inst, {"A": 2025, "B": 2025, "C": 2025})
    assert [v.rule for v in report.violations] == ["control_total"]
    assert "trust's surplus -18 misses the hard control total -10 by 8" in report.violations[0].message
    assert broken_rules(inst, {"A": 2025, "B": 2025, "C": 2025})[0] == {"control_total"}
    assert solve_instance(inst, SolveOptions(mip_gap=0.0)).status == "infeasible"
    assert brute_force(inst) == (None, [])


@st.composite
def with_finance(draw, base):
    """A random instance with a random bottom line: positions, control totals, incentive funds."""
    inst = draw(base)
    targets = tuple(t.model_copy(update={"basis": "full_year_effect"}) if t.basis == "recurrent" and draw(st.booleans())
                    else t for t in inst.targets)  # docs/finance.md: the exit run-rate, per target
    inst = inst.model_copy(update={"targets": targets})
    orgs = inst.org_ids
    grid = st.integers(-8, 8).map(lambda v: v * 5.0)
    positions = tuple(
        OrgFinance(org=o, opening_cash=draw(grid), do_nothing={
            y: DoNothingYear(income=100 + draw(grid), pay=60.0, non_pay=30.0, capital_charges=draw(st.sampled_from([0.0, 10.0])))
            for y in inst.years if draw(st.booleans())})
        for o in orgs if draw(st.booleans()))
    cts = tuple(
        ControlTotal(id=f"CT{i}", org=draw(st.sampled_from([None, *orgs])),
                     values={y: draw(grid) for y in inst.years if draw(st.booleans())},
                     hard=draw(st.sampled_from([False, False, True])), shortfall_penalty=draw(st.sampled_from([0.0, 1.5])))
        for i in range(draw(st.integers(0, 2))))
    names = [c.id for c in cts] + [t.id for t in inst.targets]
    funds = tuple(
        IncentiveFund(id=f"F{i}", org=draw(st.sampled_from(orgs)),
                      values={y: draw(st.sampled_from([0.0, 20.0, 60.0])) for y in inst.years},
                      conditions=tuple(draw(st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True))))
        for i in range(draw(st.integers(1, 2) if names else st.just(0))))
    ids = [sc.id for sc in inst.schemes]
    flows = tuple(IncomeFlow(scheme=draw(st.sampled_from(ids)), org=draw(st.sampled_from(orgs)),
                             factor=draw(st.sampled_from([-2.0, -1.0, 0.5, 1.5])))
                  for _ in range(draw(st.integers(0, 2))))
    no_cash = tuple(draw(st.lists(st.sampled_from(ids), max_size=2)))
    sales = tuple(CapitalReceipt(scheme=draw(st.sampled_from(ids)), value=draw(st.sampled_from([0.0, 40.0, 90.0])),
                                 book_value=draw(st.sampled_from([0.0, 50.0])), offset=draw(st.integers(0, 2)))
                  for _ in range(draw(st.integers(0, 2))))
    appraisal = draw(st.sampled_from([None, len(inst.years), len(inst.years) + 3]))
    charges = draw(st.sampled_from([None, CapitalCharges(asset_life=1, pdc_rate=0.5),
                                    CapitalCharges(asset_life=2, pdc_rate=0.035)]))
    grid_base = st.integers(-1, 30).map(lambda v: v * 5.0)
    bases = tuple(CostBaseline(id=f"B{i}", schemes=tuple(draw(st.lists(st.sampled_from(ids), min_size=1, max_size=3))),
                               values={y: draw(grid_base) for y in inst.years if draw(st.booleans())})
                  for i in range(draw(st.integers(0, 1))))
    return inst.model_copy(update={"finance": Finance(cost_baselines=bases, organisations=positions, control_totals=cts,
                                                      incentive_funds=funds, income_flows=flows,
                                                      non_cash_releasing=no_cash, capital_receipts=sales,
                                                      capital_charges=charges, appraisal_years=appraisal,
                                                      score_scale=draw(st.sampled_from([None, "pmo_days"])),
                                                      scheme_ends=tuple(SchemeEnd(scheme=sid, years=draw(st.integers(1, 2)))
                                                                        for sid in sorted(set(draw(st.lists(
                                                                            st.sampled_from(ids), max_size=2))))),
                                                      receipts_raise=tuple(
                                                          lim.id for lim in inst.limits
                                                          if lim.sense == "<=" and draw(st.booleans())))})


ALL_MODES = ("net_present_value", "savings", "weighted_score")


@SETTINGS
@given(st.data())
def test_checker_and_bruteforce_agree_on_the_bottom_line(data):
    instance = data.draw(with_finance(instances(max_schemes=5, max_years=3, modes=ALL_MODES)))
    plan = data.draw(plans(instance))
    report = check_plan(instance, plan)
    broken, value = broken_rules(instance, plan)
    assert {v.rule for v in report.violations} == broken, report.lines()
    assert report.objective == pytest.approx(value, rel=1e-9, abs=1e-9)


@settings(SETTINGS, max_examples=30)
@given(with_finance(instances(max_schemes=4, max_years=3, modes=ALL_MODES)))
def test_mip_optimum_with_cliffs_equals_bruteforce(instance):
    best, _ = brute_force(instance)
    outcome = solve_instance(instance, SolveOptions(mip_gap=0.0))
    if best is None:
        assert outcome.status == "infeasible", outcome.messages
        return
    assert outcome.status == "optimal", outcome.messages
    assert outcome.objective == pytest.approx(best, rel=1e-6, abs=1e-6)
    assert outcome.check.ok, outcome.check.lines()
    # every bottom-line figure of years.csv is the checker's
    ours = outcome.years[outcome.years["measure"].str.contains("do_nothing|surplus|cash|incentive|control_total")]
    theirs = outcome.check.years.set_index(["year", "org", "measure"])["value"]
    for row in ours.itertuples():
        assert row.value == pytest.approx(theirs[row.year, row.org, row.measure], abs=1e-6), row


@settings(SETTINGS, max_examples=15)
@given(with_finance(instances(max_schemes=4, max_years=3)))
def test_the_finance_family_in_both_standard_forms(instance):
    assert_same_form(build_model(instance).model)


def test_bad_finance_input_is_located(tmp_path):
    (tmp_path / "schemes.csv").write_text("id,recurrent_saving\nA,10\n")
    (tmp_path / "instance.yaml").write_text(
        "format_version: 1\nyears: [2025, 2026]\n"
        "finance:\n"
        "  organisations:\n"
        "    - {org: trst, do_nothing: {2031: {income: 5}}}\n"
        "  control_totals:\n"
        "    - {id: ct, values: {2025: -4000}}\n"
        "  incentive_funds:\n"
        "    - {id: psf, org: trust, values: {2025: 500}, conditions: [ctt], colour: red}\n")
    with pytest.raises(InputError) as err:
        load_instance(tmp_path)
    text = "\n".join(str(p) for p in err.value.problems)
    assert "finance.organisations[0].org" in text and "unknown organisation 'trst'" in text
    assert "finance.organisations[0].do_nothing.2031" in text and "outside the plan years 2025-2026" in text
    assert "finance.incentive_funds[0].conditions[0]" in text and "unknown condition 'ctt'" in text
    assert "finance.incentive_funds[0].colour" in text and "ignored" in text  # a warning, not a refusal


def test_a_v1_instance_has_no_bottom_line_rows():
    outcome = solve(make([{"id": "A", "recurrent_saving": 10}]))
    assert not outcome.years["measure"].str.contains("surplus|cash").any()
    assert np.isfinite(outcome.objective)


def test_the_terminal_shows_the_bottom_line_from_years_csv():
    from cipopt.report.text import solve_summary

    lines = solve_summary(solve(cliff_instance()))
    start = lines.index("bottom line, all organisations (GBP thousand):")
    table = {line.split("  ")[1].strip() if line.startswith("  ") else line: line for line in lines[start + 1:]}
    assert table["do-nothing surplus (deficit -)"].split()[-2:] == ["-40.0", "-80.0"]
    assert table["surplus (deficit -)"].split()[-2:] == ["12.0", "35.0"]
    assert table["closing cash"].split()[-2:] == ["92.0", "127"]
    assert table["incentive fund psf"].split()[-2:] == ["received", "received"]
    lost = check_plan(cliff_instance(), {"A": 2025, "B": 2025, "C": None})
    from cipopt.report.text import bottom_line
    text = "\n".join(bottom_line(cliff_instance(), lost.years))
    assert "LOST 30.0" in text and "-30.0 / -20.0 missed" in text


def test_the_bottom_line_survives_the_workbook_and_folder_forms(tmp_path):
    from cipopt.io.excel import instance_workbook, load_workbook_instance
    from cipopt.io.export import instance_folder_files

    inst = cliff_instance()
    book = tmp_path / "cliff.xlsx"
    book.write_bytes(instance_workbook(inst))
    again = load_workbook_instance(book)
    assert again.finance == inst.finance and again.sha256() == inst.sha256()
    folder = tmp_path / "cliff"
    folder.mkdir()
    for name, text in instance_folder_files(inst).items():
        (folder / name).write_text(text)
    assert load_instance(folder).sha256() == inst.sha256()


def test_a_variant_with_a_bottom_line_is_solved_as_a_fresh_instance():
    # the incentive rows hold the control totals' values and a big-M from them: a what-if easing
    # 2025's control total to -30 lets A and B clear it without the bridge C (95 + 30 + 30 = 155)
    from cipopt.pipeline import Planner

    base = cliff_instance()
    eased = base.finance.control_totals[0].model_copy(update={"values": {2025: -30.0, 2026: -20.0}})
    variant = base.model_copy(update={"finance": base.finance.model_copy(update={"control_totals": (eased,)})})
    planner = Planner(base)
    assert planner.solve(SolveOptions(mip_gap=0.0)).objective == pytest.approx(147)
    again = planner.solve(SolveOptions(mip_gap=0.0), variant=variant)
    fresh = solve(variant)
    assert again.plan == fresh.plan == {"A": 2025, "B": 2025, "C": None}
    assert again.objective == pytest.approx(fresh.objective) == pytest.approx(155)


def test_holby_income_cut_scenario_matches_its_readme():
    """instances/holby/README.md "A 15% loss of income": every figure quoted there."""
    import re
    from pathlib import Path

    from cipopt.analysis.scenario import apply_file

    root = Path(__file__).resolve().parents[1] / "instances" / "holby"
    base = load_instance(root)
    inst = apply_file(base, root / "scenarios" / "income-cut.yaml").instance
    before, after = base.finance.organisations[0], inst.finance.organisations[0]
    assert after.do_nothing[2025] == before.do_nothing[2025]
    for y in inst.years[1:]:  # 15% of income lost from 2026/27, costs unchanged
        assert after.do_nothing[y].income == pytest.approx(0.85 * before.do_nothing[y].income)
        assert (after.do_nothing[y].pay, after.do_nothing[y].non_pay) == (before.do_nothing[y].pay, before.do_nothing[y].non_pay)
    assert inst.finance.control_totals == base.finance.control_totals
    assert inst.finance.incentive_funds == base.finance.incentive_funds
    readme = (root / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### A 15% loss of income"):]
    quoted = [int(v.replace(",", "")) for v in re.search(r"\((238,850), (239,700), (240,550), (241,400)\)", section).groups()]
    assert quoted == [after.do_nothing[y].income for y in inst.years[1:]]

    outcome = solve_instance(inst, SolveOptions(mip_gap=0.0))
    assert outcome.status == "optimal" and outcome.check.ok
    assert round(outcome.objective) == 51836 and "objective 51,836" in section
    no_psf = base.model_copy(update={"finance": base.finance.model_copy(update={"incentive_funds": ()})})
    assert solve_instance(no_psf, SolveOptions(mip_gap=0.0)).plan == outcome.plan  # "the plan of no PSF"
    years = outcome.years
    assert list(figure(years, "incentive:psf", org="holby")) == [0, 0, 0, 0, 0]
    deficits = figure(years, "surplus")[1:]
    assert (deficits <= -46000).all() and (deficits >= -49000).all()  # "GBP 46m to 48m a year"
    assert figure(years, "cash")[-1] == pytest.approx(-191000, abs=500)
    assert outcome.plan["pathology-hub"] == 2025 and outcome.plan["epr"] == 2026


def test_the_html_report_has_the_bottom_line_from_years_csv(tmp_path):
    import re

    from click.testing import CliRunner

    from cipopt.cli import main
    from cipopt.io.export import instance_folder_files

    folder = tmp_path / "cliff"
    folder.mkdir()
    for name, text in instance_folder_files(cliff_instance()).items():
        (folder / name).write_text(text)
    runner = CliRunner()
    assert runner.invoke(main, ["solve", str(folder), "--out", str(tmp_path / "sol"), "--no-store"]).exit_code == 0
    result = runner.invoke(main, ["report", str(folder), str(tmp_path / "sol"), "-o", str(tmp_path / "r.html")])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    section = page[page.index('<section id="bottom-line">'):]
    section = section[:section.index("</section>")]
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", section)
    row = cells.index("surplus (deficit -)")
    assert cells[row + 1:row + 3] == ["12", "35"]  # £k, as the table heads it
    row = cells.index("closing cash")
    assert cells[row + 1:row + 3] == ["92", "127"]
    assert "incentive fund psf" in cells and cells.count("received") == 2


def admission_avoidance(take_out_capacity: bool):
    """Activity-based payment between a commissioner and an acute trust (docs/finance.md).

    Admission avoidance (run by the commissioner) saves it 100 a year of tariff; the acute trust
    loses the same income (factor -1 on the scheme's saving). Closing a ward (run by the acute)
    takes out 60 of its costs. Both years are at face value, r = 0, first-year fraction 1.
    """
    schemes = [{"id": "avoid", "org": "ccg", "recurrent_saving": 100}]
    if take_out_capacity:
        schemes.append({"id": "ward", "org": "acute", "recurrent_saving": 60, "mandatory": True})
    finance = {
        "organisations": [
            {"org": "acute", "do_nothing": {y: {"income": 1000, "pay": 700, "non_pay": 300} for y in (2025, 2026)}},
            {"org": "ccg", "do_nothing": {y: {"income": 2000, "non_pay": 2000} for y in (2025, 2026)}}],
        "income_flows": [{"scheme": "avoid", "org": "acute", "factor": -1.0}],
        "control_totals": [{"id": "acute-ct", "org": "acute", "values": {2025: -50, 2026: -50}}],
    }
    return make(schemes, years=[2025, 2026], organisations=[{"id": "ccg", "sector": "commissioner"},
                                                            {"id": "acute", "sector": "acute"}],
                finance=finance)


def test_admission_avoidance_cuts_the_acute_trusts_income_unless_capacity_is_taken_out():
    lost = check_plan(admission_avoidance(False), {"avoid": 2025})
    assert list(figure(lost.years, "income_flow", "acute")) == [-100, -100]
    assert list(figure(lost.years, "surplus", "acute")) == [-100, -100]
    assert list(figure(lost.years, "surplus", "ccg")) == [100, 100]
    assert list(figure(lost.years, "surplus")) == [0, 0]  # the system gains nothing: a transfer
    assert list(figure(lost.years, "control_total:acute-ct", "acute")) == [-100, -100]
    cut = check_plan(admission_avoidance(True), {"avoid": 2025, "ward": 2025})
    assert list(figure(cut.years, "surplus", "acute")) == [-40, -40]
    assert list(figure(cut.years, "surplus")) == [60, 60]
    assert brute_force(admission_avoidance(True))[0] == pytest.approx(solve(admission_avoidance(True)).objective)


def test_non_cash_releasing_savings_count_for_targets_but_not_for_cash():
    inst = make([{"id": "vfc", "recurrent_saving": 50}, {"id": "agency", "recurrent_saving": 30}],
                years=[2025], targets=[{"id": "cip", "basis": "in_year", "values": {2025: 80}, "hard": True}],
                finance={"organisations": [{"org": "trust", "opening_cash": 5}], "non_cash_releasing": ["vfc"]})
    report = check_plan(inst, {"vfc": 2025, "agency": 2025})
    assert report.ok
    assert list(figure(report.years, "in_year_net_saving")) == [80]
    assert list(figure(report.years, "non_cash_releasing_saving")) == [50]
    assert list(figure(report.years, "surplus")) == [30] and list(figure(report.years, "cash")) == [35]


def test_system_income_flows_match_its_readme():
    """instances/system/README.md "Who gains on the bottom line": every figure quoted there."""
    from pathlib import Path

    from cipopt.analysis.scenario import apply_file

    root = Path(__file__).resolve().parents[1] / "instances" / "system"
    base = load_instance(root)
    outcome = solve(base)
    assert outcome.objective == pytest.approx(39909.382689, abs=1e-3)  # the README's optimum: flows move no target
    assert outcome.plan["wch-admission-avoidance-gain-share"] == 2026
    y = outcome.years
    assert list(figure(y, "income_flow", "cgh")) == pytest.approx([0, -840, -1680, -1680])
    assert list(figure(y, "income_flow", "icb")) == pytest.approx([0, 840, 1680, 1680])
    assert list(figure(y, "income_flow")) == pytest.approx([0, 0, 0, 0])
    assert list(figure(y, "surplus", "cgh"))[1:] == pytest.approx([4861.5, 6733, 6733])
    kept = solve(apply_file(base, root / "scenarios" / "capacity-kept.yaml").instance)
    assert kept.plan == outcome.plan
    k = kept.years
    assert list(figure(k, "non_cash_releasing_saving", "cgh"))[1:] == pytest.approx([504, 1008, 1008])
    assert list(figure(k, "surplus", "cgh"))[1:] == pytest.approx([4357.5, 5725, 5725])
    assert list(figure(k, "surplus", "wch"))[1:] == pytest.approx([-260, -260, -260])
    assert list(figure(k, "surplus"))[1:] == pytest.approx([10237.5, 13465, 13465])
    assert list(figure(y, "surplus"))[1:] == pytest.approx([11077.5, 15145, 15145])


def test_a_disposal_and_the_charges_on_new_capital():
    """A sale of 100 (book value 70) and 40 of capital, asset life 2, PDC 10%: the gain 30 and
    then depreciation 20, 20 and PDC 10% x (40 - 20) = 2 in the third year hit I&E; the cash is
    the receipt less the spend."""
    inst = make([{"id": "sale", "earliest_start": 2025, "latest_start": 2025},
                 {"id": "kit", "capital_cost": 40, "recurrent_saving": 30, "latest_start": 2025}],
                years=[2025, 2026, 2027],
                finance={"organisations": [{"org": "trust", "opening_cash": 0}],
                         "capital_receipts": [{"scheme": "sale", "value": 100, "book_value": 70}],
                         "capital_charges": {"asset_life": 2, "pdc_rate": 0.1}})
    report = check_plan(inst, {"sale": 2025, "kit": 2025})
    y = report.years
    assert list(figure(y, "gain_on_disposal")) == [30, 0, 0]
    assert list(figure(y, "capital_receipt")) == [100, 0, 0]
    assert list(figure(y, "depreciation")) == [0, 20, 20]
    assert list(figure(y, "pdc")) == pytest.approx([0, 0.1 * 40, 0.1 * 20])
    assert list(figure(y, "surplus")) == pytest.approx([30 + 30, 30 - 20 - 4, 30 - 20 - 2])
    # cash: surplus - gain + depreciation + receipt - spend, cumulated
    flows = [60 - 30 + 0 + 100 - 40, 6 + 20, 8 + 20]
    assert list(figure(y, "cash")) == pytest.approx(list(np.cumsum(flows)))
    # under net_present_value the sale is cash in (100), so the optimum sells and buys the kit:
    # 100 + 30 + 30 + 30 - 40 = 150 at r = 0
    outcome = solve(inst)
    assert outcome.plan == {"sale": 2025, "kit": 2025}
    assert outcome.objective == pytest.approx(150) == pytest.approx(brute_force(inst)[0])
    ours = outcome.years.set_index(["year", "org", "measure"])["value"]
    for measure in ("gain_on_disposal", "depreciation", "pdc", "surplus", "cash"):
        for year in (2025, 2026, 2027):
            assert ours[year, "all", measure] == pytest.approx(
                report.years.set_index(["year", "org", "measure"])["value"][year, "all", measure])


def test_schemes_cutting_one_cost_base_save_at_most_the_base():
    """Agency spend of 100: bank-first (70) and agency price caps (50) cannot both count in full;
    the best plan keeps the larger pair within the base (A 70 + C 25 = 95)."""
    inst = make([{"id": "A", "recurrent_saving": 70}, {"id": "B", "recurrent_saving": 50},
                 {"id": "C", "recurrent_saving": 25}],
                years=[2025], finance={"cost_baselines": [{"id": "agency", "schemes": ["A", "B", "C"],
                                                           "values": {2025: 100}}]})
    outcome = solve(inst)
    assert outcome.plan == {"A": 2025, "B": None, "C": 2025} and outcome.objective == pytest.approx(95)
    assert brute_force(inst)[0] == pytest.approx(95)
    report = check_plan(inst, {"A": 2025, "B": 2025})
    assert [v.rule for v in report.violations] == ["cost_baseline"]
    assert "save 120, more than the base 100 by 20 (schemes: A, B)" in report.violations[0].message
    assert broken_rules(inst, {"A": 2025, "B": 2025})[0] == {"cost_baseline"}


def test_an_appraisal_period_values_savings_beyond_the_plan():
    """Two plan years, r = 0: A saves 10 a year for 30 of capital, B 25 once for 5. Over the plan
    years B is better (20 against -10); over a 10-year appraisal A's last-year saving runs on for
    8 more years (-10 + 80 = 70)."""
    schemes = [{"id": "A", "recurrent_saving": 10, "capital_cost": 30, "latest_start": 2025},
               {"id": "B", "nonrecurrent_saving": 25, "one_off_cost": 5, "latest_start": 2025}]
    relations = [{"kind": "excludes", "a": "A", "b": "B"}]
    short = solve(make(schemes, years=[2025, 2026], relations=relations, finance={}))
    assert short.plan == {"A": None, "B": 2025} and short.objective == pytest.approx(20)
    inst = make(schemes, years=[2025, 2026], relations=relations, finance={"appraisal_years": 10})
    long = solve(inst)
    assert long.plan == {"A": 2025, "B": None} and long.objective == pytest.approx(70)
    assert brute_force(inst)[0] == pytest.approx(70)


def test_fund_appraisal_by_size_scales_the_scores_by_a_benefit_column():
    """Bid A scores 80 for 1,000 people, B 50 for 4,000: by score alone A wins the one place the
    fund has; scaled by population reached B does (200,000 against 80,000)."""
    schemes = [{"id": "A", "capital_cost": 10, "population": 1000}, {"id": "B", "capital_cost": 10, "population": 4000}]
    context = dict(objective={"mode": "weighted_score", "risk": "none"}, criteria=[{"id": "benefit", "weight": 1.0}],
                   scores=[{"scheme": "A", "criterion": "benefit", "score": 80},
                           {"scheme": "B", "criterion": "benefit", "score": 50}],
                   years=[2025], limits=[{"id": "fund", "metric": "capital_cost", "values": {2025: 10}}])
    plain = solve(make(schemes, **context))
    assert [s for s, y in plain.plan.items() if y is not None] == ["A"] and plain.objective == pytest.approx(80)
    inst = make(schemes, finance={"score_scale": "population"}, **context)
    scaled = solve(inst)
    assert [s for s, y in scaled.plan.items() if y is not None] == ["B"]
    assert scaled.objective == pytest.approx(200_000) == pytest.approx(brute_force(inst)[0])
    assert check_plan(inst, {"A": 2025}).objective == pytest.approx(80_000)


def test_the_recurrent_cost_a_bid_leaves_after_the_fund_is_a_limit_on_the_last_year():
    """docs/finance.md: the recurrent cost left when the fund ends is the running cost of the bids
    active in the fund's last year; a v1 limit on running_cost in that year bounds it."""
    schemes = [{"id": "A", "recurrent_saving": 50, "running_cost": 30},
               {"id": "B", "recurrent_saving": 20, "running_cost": 5}]
    inst = make(schemes, limits=[{"id": "left-after-fund", "metric": "running_cost", "values": {2027: 10}}])
    outcome = solve(inst)
    assert outcome.plan["A"] is None and outcome.plan["B"] is not None
    assert brute_force(inst)[0] == pytest.approx(outcome.objective)


def test_a_capital_receipt_raises_the_capital_envelope_it_is_named_for():
    """Capital 50 a year; the kit costs 80. Selling the land (60, the same year) raises the envelope
    to 110 when receipts_raise names it, so the kit can be bought; otherwise it cannot."""
    schemes = [{"id": "land", "latest_start": 2025}, {"id": "kit", "capital_cost": 80, "recurrent_saving": 100}]
    context = dict(years=[2025, 2026], limits=[{"id": "capital", "metric": "capital_cost", "values": {2025: 50, 2026: 50}}])
    fin = {"capital_receipts": [{"scheme": "land", "value": 60, "book_value": 60}]}
    without = solve(make(schemes, finance=fin, **context))
    assert without.plan["kit"] is None
    inst = make(schemes, finance={**fin, "receipts_raise": ["capital"]}, **context)
    raised = solve(inst)
    assert raised.plan == {"land": 2025, "kit": 2025}
    assert raised.objective == pytest.approx(brute_force(inst)[0]) == pytest.approx(60 - 80 + 200)
    use = raised.years[raised.years["measure"] == "limit:capital"].sort_values("year")
    assert list(use["value"]) == [20, 0]
    report = check_plan(inst, {"land": None, "kit": 2025})
    assert [v.rule for v in report.violations] == ["limit"]


def test_the_results_workbook_has_a_bottom_line_sheet():
    import io

    import openpyxl

    from cipopt.io.excel import results_workbook

    outcome = solve(cliff_instance())
    book = openpyxl.load_workbook(io.BytesIO(results_workbook(outcome)))
    rows = list(book["bottom line"].iter_rows(values_only=True))
    assert rows[0] == ("org", "measure", "2025/26", "2026/27")
    table = {r[1]: r[2:] for r in rows[1:] if r[0] == "all"}
    assert table["do_nothing:surplus"] == (-40, -80)
    assert table["surplus"] == pytest.approx((12, 35)) and table["cash"] == pytest.approx((92, 127))
    assert table["incentive_received"] == pytest.approx((30, 30))


def test_every_finance_rule_is_checked_with_its_key(tmp_path):
    (tmp_path / "schemes.csv").write_text("id,recurrent_saving\nA,10\n")

    def problems(finance: str) -> str:
        (tmp_path / "instance.yaml").write_text(
            "format_version: 1\nyears: [2025, 2026]\n"
            "limits: [{id: capital, metric: capital_cost, sense: '>=', values: {2025: 5}}]\n" + finance)
        with pytest.raises(InputError) as err:
            load_instance(tmp_path)
        return "\n".join(str(p) for p in err.value.problems)

    # structure first (the finance key is then left out, so its meaning is not judged on top)
    text = problems("finance:\n"
                    "  capital_receipts: [{scheme: A, value: -5}]\n"
                    "  incentive_funds: [{id: psf, org: trust, values: {2025: -1}, conditions: [x]}]\n")
    assert "finance.capital_receipts[0].value" in text and "greater than or equal to 0" in text
    assert "finance.incentive_funds[0]" in text and "non-negative amount" in text
    text = problems("finance:\n"
                    "  organisations: [{org: trust}, {org: trust}]\n"
                    "  income_flows: [{scheme: Z, org: trust, factor: -1}]\n"
                    "  cost_baselines: [{id: capital, schemes: [A], values: {2025: 5}}]\n"
                    "  receipts_raise: [capital]\n"
                    "  appraisal_years: 1\n"
                    "  score_scale: population\n")
    for key, words in (("finance.organisations[1].org", "second do-nothing position"),
                       ("finance.income_flows[0].scheme", "unknown scheme 'Z'"),
                       ("finance.cost_baselines[0].id", "duplicate id 'capital'"),
                       ("finance.receipts_raise[0]", "receipts raise only an upper limit"),
                       ("finance.appraisal_years", "shorter than the 2 plan years"),
                       ("finance.score_scale", "not a numeric column")):
        assert key in text and words in text, (key, text)


def test_a_target_at_full_year_effect_counts_the_exit_run_rate():
    """A saves 100 a year from its start, half in its first year (first_year_fraction 0.5 in the
    format's default; `make` sets 1, so it is given). Started in 2025: recurrent 50, full-year
    effect 100. B has a profile (20 then 60): its profile is its phasing at full-year effect too."""
    schemes = [{"id": "A", "recurrent_saving": 100, "first_year_fraction": 0.5, "latest_start": 2025},
               {"id": "B", "recurrent_saving": 60, "first_year_fraction": 0.5, "latest_start": 2025}]
    profiles = [{"scheme": "B", "offset": 0, "metric": "saving", "value": 20},
                {"scheme": "B", "offset": 1, "metric": "saving", "value": 60}]
    fye = make(schemes, profiles=profiles, years=[2025, 2026],
               targets=[{"id": "u", "basis": "full_year_effect", "values": {2025: 120}, "hard": True}])
    report = check_plan(fye, {"A": 2025, "B": 2025})
    assert report.ok and list(figure(report.years, "target:u", "all"))[0] == pytest.approx(120)
    assert list(figure(report.years, "recurrent_net_saving"))[0] == pytest.approx(70)
    assert check_plan(fye, {"A": 2025}).violations[0].rule == "target_hard"
    assert "full-year-effect net saving" in check_plan(fye, {"A": 2025}).violations[0].message
    outcome = solve(fye)
    assert outcome.plan == {"A": 2025, "B": 2025}
    assert outcome.objective == pytest.approx(brute_force(fye)[0])
    recurrent = fye.model_copy(update={"targets": (fye.targets[0].model_copy(update={"basis": "recurrent"}),)})
    assert solve_instance(recurrent, SolveOptions(mip_gap=0.0)).status == "infeasible"


def test_full_year_effect_targets_are_refused_where_scenarios_cannot_draw_them(tmp_path):
    from cipopt.analysis.simulate import simulate_plan

    inst = make([{"id": "A", "recurrent_saving": 100}],
                targets=[{"id": "u", "basis": "full_year_effect", "values": {2025: 10}}])
    with pytest.raises(InputError, match="cannot draw full_year_effect targets"):
        simulate_plan(inst, {"A": 2025}, draws=10)
    (tmp_path / "schemes.csv").write_text("id,recurrent_saving\nA,10\n")
    (tmp_path / "instance.yaml").write_text(
        "format_version: 1\nyears: [2025]\n"
        "targets: [{id: u, basis: full_year_effect, values: {2025: 5}}]\n"
        "objective: {risk: chance, chance_target: u, chance_probability: 0.5}\n")
    with pytest.raises(InputError) as err:
        load_instance(tmp_path)
    assert "targets[0].basis" in str(err.value.problems) and "risk chance cannot sample" in str(err.value.problems)


def test_an_unreachable_full_year_effect_target_is_diagnosed():
    inst = make([{"id": "A", "recurrent_saving": 100}],
                targets=[{"id": "u", "basis": "full_year_effect", "values": {2025: 500}, "hard": True}])
    outcome = solve_instance(inst, SolveOptions(mip_gap=0.0))
    assert outcome.status == "infeasible"
    assert any("u" in m and "500" in m for m in outcome.messages), outcome.messages


def test_a_bridge_stops_after_its_years():
    """A vacancy freeze saves 40 a year but runs one year only; the permanent scheme saves 30.
    Recurrent target 30 in 2026: the freeze, started in 2025, no longer counts in 2026."""
    schemes = [{"id": "freeze", "recurrent_saving": 40},
               {"id": "skill-mix", "recurrent_saving": 30, "one_off_cost": 20}]
    inst = make(schemes, finance={"scheme_ends": [{"scheme": "freeze", "years": 1}]},
                targets=[{"id": "u", "values": {2026: 30}, "hard": True}])
    report = check_plan(inst, {"freeze": 2025})
    assert list(figure(report.years, "saving")) == [40, 0, 0]
    assert [v.rule for v in report.violations] == ["target_hard"]
    outcome = solve(inst)
    assert outcome.objective == pytest.approx(brute_force(inst)[0])
    assert outcome.plan["skill-mix"] is not None and outcome.plan["freeze"] is not None
    assert outcome.objective == pytest.approx(40 + 30 * (3 - (outcome.plan["skill-mix"] - 2025)) - 20)
