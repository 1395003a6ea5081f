"""In-year re-planning (docs/replan.md): the tracker's reading, the derived re-plan, its
independent check, brute force on small instances with fixed starts, and the command."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from bruteforce import scheme_value, share_of
from cipopt.analysis.replan import Approved, replan
from cipopt.check.actuals import check_replan
from cipopt.io.actuals import as_at_month, read_actuals, read_phasing
from cipopt.schema.actuals import Actuals, ActualRow, Bridge, Month
from cipopt.schema.instance import Limit, ProfileRow, Relation, Target
from cipopt.schema.problems import InputError, ProblemLog
from instances_factory import make_instance, scheme

TOL = 1e-6
ROOT = Path(__file__).resolve().parents[1]
TINY = str(ROOT / "instances" / "tiny")
HOLBY = str(ROOT / "instances" / "holby")


# -- months ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, year, month", [("2025-09", 2025, 6), ("2025-04", 2025, 1), ("2026-03", 2025, 12),
                                               ("2026-01", 2025, 10), ("2025-06-30", 2025, 3)])
def test_a_calendar_month_is_a_month_of_a_financial_year(text, year, month):
    inst = make_instance(schemes=(scheme("A"),))
    m = as_at_month(text, inst)
    assert (m.year, m.month) == (year, month)
    assert m.calendar == text[:7]


@pytest.mark.parametrize("text", ["2025-09", "2025/09", "2025-09-01", "01/09/2025", "Sep 2025", "September 2025",
                                  "sep-25", "SEPT 2025"])
def test_a_month_is_read_as_trackers_write_it(text):
    from cipopt.io.actuals import parse_month

    assert parse_month(text) == Month(year=2025, month=6)


@pytest.mark.parametrize("text, words", [("2025-13", "is not a month such as 2025-09"),
                                         ("autumn 2025", "is not a month such as 2025-09"),
                                         ("2028-05", "outside the plan years 2025-2027")])
def test_an_as_at_month_that_is_no_month_of_the_plan_is_refused(text, words):
    inst = make_instance(schemes=(scheme("A"),))
    with pytest.raises(InputError) as exc:
        as_at_month(text, inst)
    assert words in str(exc.value.problems[0]) and exc.value.problems[0].file == "--as-at"


# -- reading the tracker -----------------------------------------------------------------------------

HEADER = "scheme,status,started,saving_to_date,cost_to_date,forecast_saving,forecast_cost,rag\n"


def tracker_instance():
    return make_instance(schemes=(scheme("A", recurrent_saving=120), scheme("B", recurrent_saving=60),
                                  scheme("C", nonrecurrent_saving=30)))


@pytest.mark.parametrize("row, column, words", [
    ("Z,in delivery,2025-04,1,0,1,0,green", "scheme", "unknown scheme 'Z'"),
    ("A,going well,2025-04,1,0,1,0,green", "status", "scheme A: status 'going well' is not one of"),
    ("A,in delivery,,1,0,1,0,green", "started", "scheme A: is in delivery but gives no started month"),
    ("A,in delivery,2025-08,1,0,1,0,green", "started", "scheme A: started 2025-08 is after the as-at month 2025-06"),
    ("A,in delivery,2024-12,1,0,1,0,green", "started", "before the plan's first year 2025/26"),
    ("A,in delivery,April,1,0,1,0,green", "started", "scheme A: started 'April' is not a month such as 2025-05"),
    ("A,in delivery,2025-04,1,-5,1,0,green", "cost_to_date", "scheme A: cost_to_date -5 is negative"),
    ("A,not started,,10,0,0,0,", "saving_to_date", "scheme A: is not started but has saving_to_date 10"),
    ("A,stopped,2025-04,10,0,5,0,red", "forecast_saving", "scheme A: is stopped but forecasts forecast_saving 5"),
    ("A,complete,2025-04,10,0,5,0,purple", "rag", "scheme A: RAG 'purple' is not red, amber or green"),
    ("A,complete,2025-04,ten,0,5,0,green", "saving_to_date", "scheme A: 'ten' is not a number"),
])
def test_each_bad_tracker_row_is_named_by_file_row_column_and_scheme(tmp_path, row, column, words):
    path = tmp_path / "actuals.csv"
    path.write_text(HEADER + "B,in delivery,2025-04,10,0,30,0,green\n" + row + "\n")
    inst = tracker_instance()
    with pytest.raises(InputError) as exc:
        read_actuals(path, inst, Month(year=2025, month=3), ProblemLog())
    errors = [p for p in exc.value.problems if p.severity == "error"]
    assert len(errors) == 1, [str(p) for p in errors]
    assert (errors[0].file, errors[0].row, errors[0].column) == (str(path), 3, column)
    assert words in errors[0].message


def test_the_tracker_reads_statuses_months_and_rags_as_people_write_them(tmp_path):
    path = tmp_path / "actuals.csv"
    path.write_text(HEADER + "A,In Delivery,2025-05,20,5,80,10,A\nB,Stopped,2025-04,6,1,,,R\nC,not started,,,,,,\n")
    log = ProblemLog()
    actuals = read_actuals(path, tracker_instance(), Month(year=2025, month=3), log)
    a = actuals.by_scheme["A"]
    assert (a.status, a.started, a.rag, a.saving_to_date, a.cost_to_date, a.forecast_saving, a.forecast_cost) == (
        "in_delivery", Month(year=2025, month=2), "amber", 20, 5, 80, 10)
    assert actuals.by_scheme["B"].status == "stopped" and actuals.by_scheme["C"].status == "not_started"
    assert log.warnings == []


def test_a_workbook_sheet_reads_as_the_csv_does(tmp_path):
    import datetime as dt

    import openpyxl

    csv_path = tmp_path / "actuals.csv"
    csv_path.write_text(HEADER + "A,in delivery,2025-05,20,5,80,10,amber\nB,stopped,2025-04,6,1,,,red\n")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "actuals"
    sheet.append(HEADER.strip().split(","))
    sheet.append(["A", "in delivery", dt.date(2025, 5, 1), 20, 5, 80, 10, "amber"])
    sheet.append(["B", "stopped", "2025-04", 6.0, 1, None, None, "red"])
    xlsx = tmp_path / "tracker.xlsx"
    book.save(xlsx)
    inst, month = tracker_instance(), Month(year=2025, month=3)
    from_csv = read_actuals(csv_path, inst, month, ProblemLog())
    from_book = read_actuals(xlsx, inst, month, ProblemLog())
    assert [r.model_dump(exclude={"row"}) for r in from_csv.rows] == [r.model_dump(exclude={"row"}) for r in from_book.rows]
    sheet.title = "tracker"
    book.save(xlsx)
    with pytest.raises(InputError) as exc:
        read_actuals(xlsx, inst, month, ProblemLog())
    assert "has no sheet 'actuals'" in str(exc.value.problems[0])


def test_a_phasing_must_be_twelve_shares_of_one(tmp_path):
    path = tmp_path / "phasing.csv"
    path.write_text("month,share\n" + "".join(f"{m},{1/12}\n" for m in range(1, 12)))
    with pytest.raises(InputError) as exc:
        read_phasing(path, ProblemLog())
    assert "gives 11 months" in str(exc.value.problems[0])
    path.write_text("month,share\n" + "".join(f"{m},0.1\n" for m in ["apr", "may", "jun", "jul", "aug", "sep", "oct",
                                                                      "nov", "dec", "jan", "feb", "march"]))
    with pytest.raises(InputError) as exc:
        read_phasing(path, ProblemLog())
    assert "the shares sum to 1.2, not 1" in str(exc.value.problems[0])


# -- an independent evaluator for brute force (plain loops, from docs/replan.md) ---------------------

def plain_value(inst, actuals: Actuals, plan: dict) -> tuple[bool, float, dict]:
    """(every rule of the re-plan kept, its objective, each target's current-year outturn)."""
    Y, now = actuals.as_at.year, actuals.as_at.month
    remaining = sum(actuals.phasing[now:])
    rows = actuals.by_scheme
    profiles = {}
    for p in inst.profiles:
        profiles.setdefault((p.scheme, "saving" if p.metric == "recurrent_saving" else p.metric), {})[p.offset] = p.value
    years = [y for y in inst.years if y >= Y]
    conf = inst.objective.risk != "none"
    for s in inst.schemes:
        start, row = plan[s.id], rows.get(s.id)
        if row is not None and row.status in ("in_delivery", "complete"):
            if start != row.started.year:
                return False, 0.0, {}
        elif start is not None:
            if (row is not None and row.status == "stopped") or start < Y or (start == Y and now == 12):
                return False, 0.0, {}
            if not ((s.earliest_start or inst.years[0]) <= start <= (s.latest_start or inst.years[-1])):
                return False, 0.0, {}
        elif s.mandatory and not (row is not None and row.status == "stopped"):
            return False, 0.0, {}
    if any(plan.get(b.id) not in (None, Y) for b in actuals.bridges) or (
            now == 12 and any(plan.get(b.id) for b in actuals.bridges)):
        return False, 0.0, {}

    def value(s, metric, y):
        start, row = plan[s.id], rows.get(s.id)
        if start is None or y < start:
            return 0.0
        if y == Y and row is not None and row.status in ("in_delivery", "complete"):
            return {"saving": row.forecast_saving, "nonrecurrent_saving": row.forecast_nonrecurrent,
                    "one_off_cost": row.forecast_cost, "capital_cost": row.forecast_capital}.get(
                metric, 0.0 if metric in ("running_cost", "double_running_cost") else scheme_value(s, metric, y - start, profiles))
        if y == Y == start and metric == "saving":
            full = profiles[(s.id, "saving")].get(1, 0.0) if (s.id, "saving") in profiles else s.recurrent_saving
            return full * remaining
        return scheme_value(s, metric, y - start, profiles)

    def total(metric, org, y, expected=False):
        out = sum(value(s, metric, y) * share_of(inst, s, org, metric) * (s.confidence if expected and conf else 1)
                  for s in inst.schemes)
        for b in actuals.bridges:
            if y == Y and plan.get(b.id) == Y and org in (None, b.org):
                amount = {"nonrecurrent_saving": b.monthly_saving * (b.until.month - now),
                          "one_off_cost": b.one_off_cost}.get(metric, b.metrics.get(metric, 0.0))
                out += amount * (b.confidence if expected and conf else 1)
        if y == Y:
            column = {"saving": "saving_to_date", "nonrecurrent_saving": "nonrecurrent_to_date",
                      "one_off_cost": "cost_to_date", "capital_cost": "capital_to_date"}.get(metric)
            if column:
                out += sum(getattr(r, column) * share_of(inst, next(s for s in inst.schemes if s.id == r.scheme), org, metric)
                           for r in actuals.rows)
        return out

    def net(basis, org, y):
        rec = total("saving", org, y, True) - total("running_cost", org, y)
        if basis == "recurrent":
            return rec
        return rec + total("nonrecurrent_saving", org, y, True) - total("one_off_cost", org, y) - total(
            "double_running_cost", org, y)

    ok, penalty, outturn = True, 0.0, {}
    d = {y: (1 + inst.discount_rate) ** -(y - Y) for y in years}
    met = {}  # (target or control total, year) -> met
    for t in inst.targets:
        for y in years:
            if y in t.values:
                achieved = net(t.basis, t.org, y)
                short = max(0.0, t.values[y] - achieved)
                met[t.id, y] = short <= TOL * (1 + abs(t.values[y]))
                if y == Y:
                    outturn[t.id] = achieved
                if t.hard and short > TOL * (1 + abs(t.values[y])):
                    ok = False
                penalty += 0 if t.hard else t.shortfall_penalty * short * d[y]
    fin, bonus = inst.finance, 0.0  # the bottom line (docs/finance.md): control totals, funds, disposals
    if fin is not None:
        sold = {y: [0.0, 0.0] for y in years}  # proceeds, gain
        for r in fin.capital_receipts:
            if plan[r.scheme] is not None and plan[r.scheme] + r.offset in sold:
                sold[plan[r.scheme] + r.offset][0] += r.value
                sold[plan[r.scheme] + r.offset][1] += r.value - r.book_value
        for ct in fin.control_totals:
            for y in years:
                if y in ct.values:
                    surplus = sum(p.do_nothing[y].surplus for p in fin.organisations
                                  if y in p.do_nothing and ct.org in (None, p.org)) + net("in_year", ct.org, y) + sold[y][1]
                    short = max(0.0, ct.values[y] - surplus)
                    met[ct.id, y] = short <= TOL * (1 + abs(ct.values[y]))
                    if y == Y:  # the outturn reads a control total in savings terms: the in-year net saving
                        outturn[ct.id] = net("in_year", ct.org, y)
                    if ct.hard and not met[ct.id, y]:
                        ok = False
                    penalty += 0 if ct.hard else ct.shortfall_penalty * short * d[y]
        for f in fin.incentive_funds:
            bonus += sum(d[y] * v for y, v in f.values.items() if y in d and all(met.get((c, y), True) for c in f.conditions))
        bonus += sum(d[y] * sold[y][0] for y in years)
    def proceeds(y):  # capital receipts landing in year y (they raise the limits `receipts_raise` names)
        return sum(r.value for r in inst.finance.capital_receipts
                   if plan[r.scheme] is not None and plan[r.scheme] + r.offset == y)

    for lim in inst.limits:
        for y in years:
            if y in lim.values:
                use = total(lim.metric, lim.org, y)
                if inst.finance is not None and lim.id in inst.finance.receipts_raise:
                    use -= proceeds(y)
                if (lim.sense == "<=" and use > lim.values[y] + TOL * (1 + abs(lim.values[y]))) or (
                        lim.sense == ">=" and use < lim.values[y] - TOL * (1 + abs(lim.values[y]))):
                    ok = False
    for r in inst.relations:
        a, b = plan[r.a], plan[r.b]
        if r.kind == "excludes" and a is not None and b is not None:
            ok = False
    objective = 0.0
    for y in years:
        flows = net("in_year", None, y) - total("capital_cost", None, y)
        if y == Y:  # what was delivered and spent to date is not part of the remaining choice
            flows -= sum(r.saving_to_date + r.nonrecurrent_to_date - r.cost_to_date - r.capital_to_date
                         for r in actuals.rows)
        objective += d[y] * flows
    return ok, objective + bonus - penalty, outturn


def brute_force_replan(inst, actuals):
    Y = actuals.as_at.year
    rows = actuals.by_scheme
    choices = []
    for s in inst.schemes:
        row = rows.get(s.id)
        if row is not None and row.is_started:
            choices.append([row.started.year])
        else:
            choices.append([None] + [y for y in inst.years if y >= Y])
    for _ in actuals.bridges:
        choices.append([None, Y])
    best, best_plan = None, None
    ids = [s.id for s in inst.schemes] + [b.id for b in actuals.bridges]
    for combo in itertools.product(*choices):
        plan = dict(zip(ids, combo))
        ok, value, _ = plain_value(inst, actuals, plan)
        if ok and (best is None or value > best + 1e-9):
            best, best_plan = value, plan
    return best, best_plan


def small_case(as_at_month: int, risk: str = "expected", hard: bool = False, bridges: bool = False):
    inst = make_instance(
        years=(2025, 2026, 2027),
        schemes=(
            scheme("started", recurrent_saving=400, first_year_fraction=0.5, one_off_cost=50, running_cost=20,
                   confidence=0.8, metrics={"pmo_days": 10}),
            scheme("slipping", recurrent_saving=300, capital_cost=100, confidence=0.9, metrics={"pmo_days": 5}),
            scheme("stopped", recurrent_saving=250, mandatory=True, metrics={"pmo_days": 5}),
            scheme("new-a", recurrent_saving=240, one_off_cost=60, confidence=0.75, metrics={"pmo_days": 10}),
            scheme("new-b", recurrent_saving=180, capital_cost=150, double_running_cost=40, double_running_years=1,
                   metrics={"pmo_days": 10}),
            scheme("bridge", nonrecurrent_saving=200, first_year_fraction=1, latest_start=2026, confidence=0.9,
                   metrics={"pmo_days": 5}),
            scheme("profiled", confidence=0.7, metrics={"pmo_days": 5}),
        ),
        profiles=(ProfileRow(scheme="profiled", offset=0, metric="saving", value=50),
                  ProfileRow(scheme="profiled", offset=1, metric="saving", value=210),
                  ProfileRow(scheme="profiled", offset=2, metric="saving", value=260)),
        relations=(Relation(kind="excludes", a="new-a", b="bridge"),),
        targets=(Target(id="underlying", basis="recurrent", values={2025: 700, 2026: 1100, 2027: 1300},
                        hard=hard, shortfall_penalty=2.0),
                 Target(id="in-year", basis="in_year", values={2025: 800, 2026: 1000}, shortfall_penalty=1.5)),
        limits=(Limit(id="capital", metric="capital_cost", values={2025: 200, 2026: 200}),
                Limit(id="pmo", metric="pmo_days", values={2025: 40, 2026: 40, 2027: 40})),
        objective={"risk": risk},
    )
    actuals = Actuals(as_at=Month(year=2025, month=as_at_month), rows=(
        ActualRow(scheme="started", status="in_delivery", started=Month(year=2025, month=1), saving_to_date=90,
                  cost_to_date=45, forecast_saving=250, forecast_cost=25, rag="green"),
        ActualRow(scheme="slipping", status="in_delivery", started=Month(year=2025, month=2), saving_to_date=20,
                  capital_to_date=100, forecast_saving=80, rag="red"),
        ActualRow(scheme="stopped", status="stopped", started=Month(year=2025, month=1), saving_to_date=15,
                  cost_to_date=5, rag="red"),
    ))
    if bridges and as_at_month < 12:
        actuals = actuals.model_copy(update={"bridges": (
            Bridge(id="vacancy-hold", monthly_saving=30, until=Month(year=2025, month=min(12, as_at_month + 4)),
                   confidence=0.9, metrics={"pmo_days": 5}),
            Bridge(id="agency-pause", monthly_saving=15, until=Month(year=2025, month=12), one_off_cost=10),
        )})
    return inst, actuals


@pytest.mark.parametrize("as_at, risk, hard, bridges", [
    (3, "expected", False, False), (6, "none", False, False), (9, "expected", False, False),
    (12, "expected", False, False), (3, "expected", True, False), (3, "expected", False, True),
    (8, "none", False, True), (10, "expected", False, True)])
def test_the_replan_is_the_best_plan_brute_force_finds_with_the_starts_fixed(as_at, risk, hard, bridges):
    inst, actuals = small_case(as_at, risk, hard, bridges)
    check_against_brute_force(inst, actuals)


@pytest.mark.parametrize("as_at, bridges", [(3, False), (6, True), (12, False)])
def test_a_replan_with_a_bottom_line_is_the_best_plan_brute_force_finds(as_at, bridges):
    """A finance instance (docs/finance.md): a control total the delivered-to-date saving counts
    towards, an incentive fund lost in full in a year it is missed, a disposal whose gain counts in
    the surplus and whose proceeds in the objective. The re-plan, the checker and plain loops agree."""
    inst, actuals = small_case(as_at, bridges=bridges)
    position = {y: {"income": 10000, "pay": 7000, "non_pay": 3000 + 300 * k, "capital_charges": 0}
                for k, y in enumerate(inst.years)}
    inst = make_instance(**{**dict(inst), "finance": {
        "organisations": [{"org": inst.org_ids[0], "opening_cash": 500, "do_nothing": position}],
        "control_totals": [{"id": "control", "org": inst.org_ids[0], "values": {2025: 330, 2026: 450, 2027: 600}}],
        "incentive_funds": [{"id": "psf", "org": inst.org_ids[0], "values": {2025: 400, 2026: 400, 2027: 400},
                             "conditions": ["control"]}],
        "capital_receipts": [{"scheme": "new-b", "value": 120, "book_value": 50, "offset": 1}],
        "receipts_raise": ["capital"]}})
    result = check_against_brute_force(inst, actuals)
    assert result.check.objective == pytest.approx(result.outcome.objective, rel=1e-9)
    fund = result.outcome.years.query("measure == 'incentive:psf'")
    assert 0 < fund["value"].sum() < fund["bound"].sum()  # received in some years, lost in others: the cliff bites
    without = check_replan(inst.model_copy(update={"finance": None}), actuals, result.plan, None, None)
    assert without.objective != pytest.approx(result.check.objective)  # the bottom line is counted


def test_replan_refuses_the_finance_parts_it_cannot_carry_yet():
    inst, actuals = small_case(3)
    inst = make_instance(**{**dict(inst), "finance": {"non_cash_releasing": ["new-a"]}})
    result = replan(inst, actuals)
    assert result.status.value == "error"
    assert "does not carry finance.non_cash_releasing" in result.outcome.messages[0]


def test_a_back_loaded_phasing_is_brute_forced_too():
    """Plans are often back-loaded: with 60% of the year in the last four months, a start in month
    7 saves 0.7 of its full-year effect (2 x 0.05 + 4 x 0.15), not 0.5."""
    inst, actuals = small_case(6, bridges=True)
    phasing = (0.05,) * 8 + (0.15,) * 4
    actuals = actuals.model_copy(update={"phasing": phasing})
    result = check_against_brute_force(inst, actuals)
    assert {s.id: s for s in result.derived.schemes}["new-a"].start_year_saving == {2025: pytest.approx(240 * 0.7)}


def check_against_brute_force(inst, actuals):
    best, best_plan = brute_force_replan(inst, actuals)
    result = replan(inst, actuals)
    if best is None:
        assert result.status.value == "infeasible"
        return result
    assert result.status.value == "optimal", result.outcome.messages + result.messages
    assert result.outcome.objective == pytest.approx(best, rel=1e-6, abs=1e-6)
    ok, value, outturn = plain_value(inst, actuals, result.plan)
    assert ok and value == pytest.approx(best, rel=1e-6, abs=1e-6)
    for r in result.outturn.itertuples():  # the printed outturn is the plain loops' outturn
        assert r.forecast_outturn == pytest.approx(outturn[r.target], abs=1e-6)
        assert r.forecast_outturn == pytest.approx(r.delivered_to_date + r.forecast_started + r.recovery_recurrent
                                                   + r.recovery_nonrecurrent, abs=1e-9)
        assert r.shortfall == pytest.approx(max(0.0, r.required - outturn[r.target]), abs=1e-6)
        gap = r.required - r.delivered_to_date - r.forecast_started
        assert r.gap_before_recovery == pytest.approx(gap, abs=1e-9)
        if r.recovery_recurrent >= 0 and r.recovery_nonrecurrent >= 0:  # recurrent first, then the bridges
            assert r.gap_closed_recurrent == pytest.approx(min(max(gap, 0), r.recovery_recurrent), abs=1e-9)
            assert r.gap_closed_recurrent + r.gap_closed_nonrecurrent == pytest.approx(
                min(max(gap, 0), r.recovery_recurrent + r.recovery_nonrecurrent), abs=1e-9)
        assert 0 <= r.gap_closed_recurrent <= max(r.recovery_recurrent, 0) + 1e-9
        assert 0 <= r.gap_closed_nonrecurrent <= max(r.recovery_nonrecurrent, 0) + 1e-9
    assert result.plan["started"] == 2025 and result.plan["slipping"] == 2025 and result.plan["stopped"] is None
    assert result.check.ok
    return result


def test_sunk_costs_do_not_count_against_the_remaining_choice():
    """The capital spent to date (100 of 200) leaves 100: new-b (150) cannot start this year; the
    objective does not move whatever was spent to date, since it is sunk."""
    inst, actuals = small_case(3)
    result = replan(inst, actuals)
    assert result.plan["new-b"] != 2025
    rows = tuple(r.model_copy(update={"cost_to_date": r.cost_to_date + 1000}) if r.scheme == "started" else r
                 for r in actuals.rows)
    dearer = replan(inst, actuals.model_copy(update={"rows": rows}))
    assert dearer.outcome.objective < result.outcome.objective  # the in-year target's shortfall grows ...
    ok, value, _ = plain_value(inst, actuals.model_copy(update={"rows": rows}), dearer.plan)
    assert ok and value == pytest.approx(dearer.outcome.objective, rel=1e-6)


def test_a_new_start_this_year_saves_its_full_year_effect_from_the_first_remaining_month():
    inst, actuals = small_case(9)  # three months left: a quarter of the year
    result = replan(inst, actuals)
    derived = {s.id: s for s in result.derived.schemes}
    assert derived["new-a"].start_year_saving == {2025: pytest.approx(240 * 0.25)}
    assert derived["profiled"].start_year_saving == {2025: pytest.approx(210 * 0.25)}  # the first full year
    assert derived["stopped"].excluded and not derived["stopped"].mandatory
    year_end = replan(*small_case(12))
    assert all(y != 2025 for s, y in year_end.plan.items() if s not in ("started", "slipping"))


def test_the_checker_catches_a_replan_that_moves_a_started_scheme_or_misreports_the_outturn():
    inst, actuals = small_case(3)
    result = replan(inst, actuals)
    moved = dict(result.plan, started=2026)
    assert "started in 2025-04 but the re-plan starts it in 2026" in check_replan(inst, actuals, moved, None, None).problems[0]
    revived = dict(result.plan, stopped=2026)
    assert "scheme stopped is stopped" in check_replan(inst, actuals, revived, None, None).problems[0]
    early = dict(result.plan, **{"new-b": 2025})
    assert "has not started by" not in " ".join(check_replan(inst, actuals, early, None, None).problems)
    wrong = result.outturn.copy()
    wrong.loc[0, "forecast_outturn"] += 1.0
    problems = check_replan(inst, actuals, result.plan, result.outcome.objective, wrong).problems
    assert problems and "reports forecast_outturn" in problems[0]
    assert check_replan(inst, actuals, result.plan, result.outcome.objective + 1, result.outturn).problems


# -- the command ---------------------------------------------------------------------------------------

def test_replan_command_writes_tidy_tables_and_compares_with_the_approved_run(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from cipopt.cli import main

    store = tmp_path / "runs.sqlite"
    runner = CliRunner()
    solved = runner.invoke(main, ["solve", TINY, "--out", str(tmp_path / "approved"), "--store", str(store),
                                  "--quiet"])
    assert solved.exit_code == 0, solved.output
    plan = {r.split(",")[0]: r.split(",")[2] for r in (tmp_path / "approved" / "plan.csv").read_text().splitlines()[1:]}
    started = [s for s, y in plan.items() if y == "2025"]
    lines = [f"{started[0]},in delivery,2025-04,10,0,20,0,amber"]
    (tmp_path / "actuals.csv").write_text(HEADER + "\n".join(lines) + "\n")
    out = tmp_path / "replan"
    result = runner.invoke(main, ["replan", TINY, "--actuals", str(tmp_path / "actuals.csv"),
                                  "--as-at", "2025-06", "--against", "1", "--store", str(store), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "re-plans run 1 of the run history" in result.output
    for name in ("plan.csv", "outturn.csv", "recovery.csv", "months.csv", "years.csv", "summary.json", "replan.xlsx",
                 "replan.html"):
        assert (out / name).exists(), name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["against_run"] == 1 and summary["as_at"] == "2025-06" and summary["replan_checker"] == "accepted"
    import pandas as pd

    months = pd.read_csv(out / "months.csv")
    mine = months[months["scheme"] == started[0]]
    assert mine["actual"].sum() == pytest.approx(10) and mine["forecast"].sum() == pytest.approx(20)
    assert mine["actual"].notna().sum() == 3 and mine["forecast"].notna().sum() == 9
    table = pd.read_csv(out / "plan.csv")
    row = table[table["scheme"] == started[0]].iloc[0]
    assert row["change"] == "started as approved" and row["start_month"] == "2025-04"
    assert (row["actual_to_date"], row["forecast_remaining"], row["forecast_year"]) == (10, 20, 30)
    from cipopt.io.load import load_instance

    tiny = load_instance(TINY, ProblemLog())
    s = next(x for x in tiny.schemes if x.id == started[0])
    profiles = {}
    for p in tiny.profiles:
        profiles.setdefault((p.scheme, p.metric), {})[p.offset] = p.value
    assert row["plan_year"] == pytest.approx(scheme_value(s, "saving", 0, profiles)
                                             + scheme_value(s, "nonrecurrent_saving", 0, profiles))
    html = (out / "replan.html").read_text()
    assert "Recovery actions" in html and "re-plans run 1" in html
    drawn = runner.invoke(main, ["report", TINY, str(out), "-o", str(tmp_path / "report.html")])
    assert drawn.exit_code == 0, drawn.output
    assert (tmp_path / "report.html").read_text() == html  # `cipopt report` on a re-plan folder draws its page
    book = pd.read_excel(out / "replan.xlsx", sheet_name=None)
    assert list(book) == ["README", "schemes", "recovery", "outturn", "months", "years"]
    readme = dict(zip(book["README"]["item"], book["README"]["value"]))
    assert readme["re-plans"] == "re-plans run 1 of the run history" and readme["as at"] == "2025-06"
    assert book["months"]["actual"].sum() == pytest.approx(months["actual"].sum())
    (tmp_path / "bad.csv").write_text(HEADER + f"{started[0]},in delivery,2025-09,10,0,20,0,amber\n")
    refused = runner.invoke(main, ["replan", TINY, "--actuals", str(tmp_path / "bad.csv"),
                                   "--as-at", "2025-06", "--out", str(tmp_path / "y")])
    assert refused.exit_code == 2 and "Traceback" not in refused.output and not (tmp_path / "y").exists()
    assert f"bad.csv, row 2, column started: scheme {started[0]}: started 2025-09 is after the as-at month" in refused.output
    bad = runner.invoke(main, ["replan", TINY, "--actuals", str(tmp_path / "actuals.csv"),
                               "--as-at", "2025-06", "--against", "7", "--store", str(store), "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "no run 7" in bad.output and not (tmp_path / "x").exists()
    assert "Traceback" not in bad.output


def test_the_holby_q1_example_prints_what_its_readme_quotes(tmp_path):
    """examples/holby-q1-recovery/README.md quotes this run's output; every quoted line must be printed."""
    from click.testing import CliRunner

    from cipopt.cli import main

    folder = ROOT / "examples" / "holby-q1-recovery"
    store = str(tmp_path / "runs.sqlite")
    runner = CliRunner()
    assert runner.invoke(main, ["solve", HOLBY, "--store", store, "--quiet", "--out",
                                str(tmp_path / "approved")]).exit_code == 0
    result = runner.invoke(main, ["replan", HOLBY, "--actuals", str(folder / "actuals.csv"), "--as-at",
                                  "2025-06", "--bridges", str(folder / "bridges.csv"), "--against", "1", "--store",
                                  store, "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    readme = (folder / "README.md").read_text()
    quoted = readme.split("## What it says (GBP thousand)\n\n```\n")[1].split("```")[0]
    printed = result.output.splitlines()
    for line in quoted.splitlines():
        assert line in printed, line
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    to_date = summary["to_date"]
    assert to_date["delivered_saving"] / to_date["planned_saving"] == pytest.approx(0.8, abs=1e-3)  # 20% behind
    assert f"{summary['objective']:,.0f}" in readme and summary["replan_checker"] == "accepted"
    control = next(r for r in summary["outturn"] if r["target"] == "control")  # the control total, in savings terms
    assert control["recovery_nonrecurrent"] == pytest.approx(0.9 * 55 * 9 + 0.95 * 40 * 6)
    assert control["required"] == 6000  # -4,000 control total less the -10,000 do-nothing surplus
    import pandas as pd

    plan = pd.read_csv(tmp_path / "out" / "plan.csv", keep_default_na=False)
    solved = pd.read_csv(tmp_path / "approved" / "plan.csv", keep_default_na=False)
    approved = dict(zip(solved["scheme"], solved["start_year"].astype(str)))
    for r in plan.itertuples():  # each change is what the approved and re-planned starts say
        assert str(r.approved_start_year) == approved.get(r.scheme, ""), r.scheme
        a, b = str(r.approved_start_year), str(r.start_year)
        expected = {"stopped": "stopped", "bridge": "recovery: bridge until" if b else "bridge not used"}.get(r.status)
        if expected is None and r.status in ("in_delivery", "complete"):
            expected = "started as approved" if a == b else "started"
        if expected is None:
            expected = ("recovery: new start this year" if b == "2025" else "not selected" if not a and not b
                        else "dropped" if not b else "added" if not a else "as approved" if a == b
                        else f"moved from {a} to {b}")
        assert r.change.startswith(expected), (r.scheme, r.change, expected)
        assert (r.start_month == "2025-07") == (b == "2025" and r.status not in ("in_delivery", "complete"))


def test_a_replan_in_a_later_year_ages_the_schemes_started_earlier():
    """As at 2026-08, schemes started in 2025 are in their second year: the tracker's figures for
    2026, the instance's at offset 2 in 2027; brute force agrees."""
    inst, actuals = small_case(3, bridges=True)
    actuals = actuals.model_copy(update={"as_at": Month(year=2026, month=5), "bridges": (
        Bridge(id="vacancy-hold", monthly_saving=30, until=Month(year=2026, month=9)),)})
    result = check_against_brute_force(inst, actuals)
    derived = {s.id: s for s in result.derived.schemes}
    assert result.derived.years == (2026, 2027)
    saving = {p.offset: p.value for p in result.derived.profiles if p.scheme == "started" and p.metric == "saving"}
    assert saving == {0: 250, 1: 400}  # the forecast, then the full year at offset 2
    assert derived["started"].mandatory and derived["started"].earliest_start == 2026


def test_a_later_year_replan_with_a_bottom_line_drops_past_years_and_reages_disposals():
    """As at 2026-05 with a bottom line: 2025 is history for the do-nothing position, the control
    total and the fund; a started scheme's sale due the year after its start (2026) completes in
    the re-plan's first year, one due in its start year (2025) is gone; brute force agrees."""
    inst, actuals = small_case(3, bridges=True)
    actuals = actuals.model_copy(update={"as_at": Month(year=2026, month=5), "bridges": (
        Bridge(id="vacancy-hold", monthly_saving=30, until=Month(year=2026, month=9)),)})
    position = {y: {"income": 10000, "pay": 7000, "non_pay": 3000 + 300 * k} for k, y in enumerate(inst.years)}
    inst = make_instance(**{**dict(inst), "finance": {
        "organisations": [{"org": inst.org_ids[0], "opening_cash": 500, "do_nothing": position}],
        "control_totals": [{"id": "control", "org": inst.org_ids[0], "values": {2025: 330, 2026: 450, 2027: 600}}],
        "incentive_funds": [{"id": "psf", "org": inst.org_ids[0], "values": {2025: 400, 2026: 400, 2027: 400},
                             "conditions": ["control"]}],
        "capital_receipts": [{"scheme": "started", "value": 90, "book_value": 30, "offset": 1},
                             {"scheme": "slipping", "value": 500, "book_value": 0, "offset": 0}]}})
    result = check_against_brute_force(inst, actuals)
    fin = result.derived.finance
    assert set(fin.organisations[0].do_nothing) == {2026, 2027} and set(fin.incentive_funds[0].values) == {2026, 2027}
    assert [(r.scheme, r.offset) for r in fin.capital_receipts] == [("started", 0)]
    receipts = result.outcome.years.query("measure == 'capital_receipt' and org == 'all'").sort_values("year")
    assert list(receipts["value"]) == [90, 0]


def test_a_started_scheme_the_qia_rules_bar_is_kept_with_a_warning():
    inst, actuals = small_case(3)
    barred = inst.model_copy(update={
        "schemes": tuple(s.model_copy(update={"safety": -1}) if s.id == "started" else s for s in inst.schemes),
        "quality": inst.quality.model_copy(update={"scheme_min": {"safety": 0}})})
    result = replan(barred, actuals)
    assert result.status.value == "optimal" and result.plan["started"] == 2025
    assert any("scheme started has started although the QIA rules bar it" in m for m in result.messages)


@pytest.mark.parametrize("row, column, words", [
    ("hold,,2026-03,", "monthly_saving", "bridge hold: monthly_saving is empty"),
    ("hold,20,2025-05,", "until", "bridge hold: until 2025-05 is not one of the remaining months of 2025/26 after 2025-06"),
    ("hold,20,2026-04,", "until", "is not one of the remaining months"),
    ("A,20,2026-03,", "id", "bridge A: the id is a scheme's id already"),
    ("hold,20,2026-03,1.5", "confidence", "bridge hold: confidence input should be less than or equal to 1"),
    ("hold,-20,2026-03,", "monthly_saving", "bridge hold: monthly_saving input should be greater than 0"),
    ("hold,lots,2026-03,", "monthly_saving", "bridge hold: 'lots' is not a number"),
])
def test_each_bad_bridge_is_named_by_file_row_column_and_id(tmp_path, row, column, words):
    from cipopt.io.actuals import read_bridges

    path = tmp_path / "bridges.csv"
    path.write_text("id,monthly_saving,until,confidence\nfine,10,,\n" + row + "\n")
    with pytest.raises(InputError) as exc:
        read_bridges(path, tracker_instance(), Month(year=2025, month=3), ProblemLog())
    errors = [p for p in exc.value.problems if p.severity == "error"]
    assert len(errors) == 1, [str(p) for p in errors]
    assert (errors[0].row, errors[0].column) == (3, column) and words in errors[0].message, str(errors[0])


def test_a_bridge_holds_from_the_first_remaining_month_to_its_end(tmp_path):
    from cipopt.io.actuals import read_bridges

    path = tmp_path / "bridges.csv"
    path.write_text("id,monthly_saving,until,pmo_days,experience\nhold,20,2025-12,4,-1\npause,10,,,\n")
    hold, pause = read_bridges(path, tracker_instance(), Month(year=2025, month=3), ProblemLog())
    as_at = Month(year=2025, month=3)
    assert (hold.months(as_at), hold.saving(as_at), hold.metrics, hold.experience) == (6, 120, {"pmo_days": 4}, -1)
    assert (pause.until, pause.saving(as_at)) == (Month(year=2025, month=12), 90)


def test_a_replan_made_elsewhere_is_checked_and_evaluated():
    inst, actuals = small_case(3, bridges=True)
    best = replan(inst, actuals)
    again = replan(inst, actuals, given=best.plan)
    assert again.status.value == "feasible" and again.outcome.objective == pytest.approx(best.outcome.objective)
    assert again.check.ok and again.outturn.equals(best.outturn)
    moved = replan(inst, actuals, given=dict(best.plan, started=2026))
    assert moved.status.value == "error" and moved.outturn is None
    assert "scheme started started in 2025-04 but the re-plan starts it in 2026" in " ".join(moved.outcome.messages)
    over = dict(best.plan, **{"new-b": 2025})  # capital: 100 spent to date + 150 > 200
    broken = replan(inst, actuals, given=over)
    assert broken.status.value == "error" and any("capital" in m for m in broken.outcome.messages)
    ok, _, _ = plain_value(inst, actuals, over)
    assert not ok  # the plain loops agree it breaks a rule


def test_replan_plan_option_reads_the_commands_own_plan_csv(tmp_path):
    from click.testing import CliRunner

    from cipopt.cli import main

    folder = ROOT / "examples" / "holby-q1-recovery"
    common = ["replan", HOLBY, "--actuals", str(folder / "actuals.csv"), "--as-at", "2025-06", "--bridges",
              str(folder / "bridges.csv")]
    runner = CliRunner()
    first = runner.invoke(main, [*common, "--out", str(tmp_path / "best")])
    assert first.exit_code == 0, first.output
    again = runner.invoke(main, [*common, "--plan", str(tmp_path / "best" / "plan.csv"), "--out", str(tmp_path / "again")])
    assert again.exit_code == 0, again.output
    assert "a given re-plan, evaluated and checked (not optimised)" in again.output
    a = json.loads((tmp_path / "best" / "summary.json").read_text())
    b = json.loads((tmp_path / "again" / "summary.json").read_text())
    assert b["status"] == "feasible" and b["objective"] == pytest.approx(a["objective"]) and b["outturn"] == a["outturn"]
    rows = (tmp_path / "best" / "plan.csv").read_text().splitlines()
    rows = [r.replace(",2025,2025-04,", ",2026,2025-04,", 1) if r.startswith("biosimilars,") else r for r in rows]
    (tmp_path / "moved.csv").write_text("\n".join(rows) + "\n")
    moved = runner.invoke(main, [*common, "--plan", str(tmp_path / "moved.csv")])
    assert moved.exit_code == 1 and "scheme biosimilars started in 2025-04 but the re-plan starts it in 2026" in moved.output


def test_an_infeasible_replan_says_why_in_the_years_own_figures():
    inst, actuals = small_case(3)
    inst = inst.model_copy(update={"targets": (Target(id="u", basis="recurrent", values={2025: 99999}, hard=True),)})
    result = replan(inst, actuals)
    assert result.status.value == "infeasible" and result.outturn is None
    words = " ".join(result.outcome.messages + result.messages)
    assert "hard target u needs 99,874" in words  # 99,999 less the 125 delivered to date (90 + 20 + 15)
    assert "target u's figures above are what remains after the 125 delivered to date (the year requires 99,999)" in words
