"""The shipped instances: instances/tiny (optimum derived by hand) and instances/holby (realistic).

tiny: the constants below are the optimum derived step by step in instances/tiny/README.md
("Derivation of the optimum"). They are checked three ways: against the data, by enumerating
every plan straight from docs/semantics.md (no solver, no cipopt model code), and by the solver.

holby: the structure promised by instances/holby/README.md (40 schemes covering every category,
the custom metrics, the limits, targets, quality rules and the bottom line), and every figure of
its "What the optimal plan does" tables, read from the README and held against the solver and
the independent checker.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
from instances_factory import load_clean

from cipopt.io.load import load_instance
from cipopt.schema.instance import CATEGORIES
from cipopt.schema.problems import ProblemLog

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "instances" / "tiny"
HOLBY = ROOT / "instances" / "holby"

# --- tiny: the hand derivation of instances/tiny/README.md -------------------------------------
TINY_SCHEMES = 5
TINY_OPTIMUM = 430.0  # README "The optimum": net value 450 minus shortfall penalty 20
TINY_PLAN = {  # README plan A
    "agency-cap": 2025,
    "epr": 2025,
    "e-rostering": 2026,
    "pathology": 2026,
    "skill-mix": None,  # ineligible: safety -1, QIA not approved
}
TINY_RUNNER_UP = 410.0  # README plan B: pathology 2025, epr 2026, e-rostering 2027
TINY_FEASIBLE_PLANS = 64

# --- holby: figures quoted in instances/holby/README.md ----------------------------------------
HOLBY_OBJECTIVE = 61122.566972  # GBP thousand: NPV 76,999.69 less shortfall penalty 15,877.12
HOLBY_SELECTED = 29
HOLBY_UNDERLYING_SHORT_YEARS = {2028, 2029}



@pytest.fixture(scope="module")
def tiny():
    return load_clean(TINY)


@pytest.fixture(scope="module")
def holby():
    return load_clean(HOLBY)


@pytest.mark.parametrize("path", [TINY, HOLBY], ids=["tiny", "holby"])
def test_instance_loads_without_errors_or_warnings(path):
    log = ProblemLog()
    load_instance(path, log)
    assert [str(p) for p in log.problems] == []


# ------------------------------------------------------------------------------------------------
# An independent evaluator, written from docs/semantics.md alone (one organisation, no shares).
# ------------------------------------------------------------------------------------------------

def _by_offset(inst, s, metric: str) -> list[float]:
    horizon = len(inst.years)
    rows = [p for p in inst.profiles if p.scheme == s.id
            and ("saving" if p.metric == "recurrent_saving" else p.metric) == metric]
    if rows:
        values = [0.0] * horizon
        for p in rows:
            if p.offset < horizon:
                values[p.offset] = p.value
        return values
    if metric == "saving":
        return [s.recurrent_saving * s.first_year_fraction] + [s.recurrent_saving] * (horizon - 1)
    if metric in ("nonrecurrent_saving", "one_off_cost", "capital_cost"):
        return [getattr(s, metric)] + [0.0] * (horizon - 1)
    if metric == "running_cost":
        return [s.running_cost] * horizon
    if metric == "double_running_cost":
        return [s.double_running_cost if k < s.double_running_years else 0.0 for k in range(horizon)]
    if metric in ("safety", "effectiveness", "experience", "access"):
        return [float(getattr(s, metric))] * horizon
    return [s.metrics.get(metric, 0.0)] * horizon


def _eligible(inst, s) -> bool:
    q = inst.quality
    if q.hard_max_risk is not None and s.qia_risk > q.hard_max_risk:
        return False
    if s.qia_approved:
        return True
    if any(float(getattr(s, d)) < m for d, m in q.scheme_min.items()):
        return False
    return q.max_risk is None or s.qia_risk <= q.max_risk


def _choices(inst, s) -> list[int | None]:
    if not _eligible(inst, s):
        return [None]
    lo = s.earliest_start if s.earliest_start is not None else inst.years[0]
    hi = s.latest_start if s.latest_start is not None else inst.years[-1]
    starts = list(range(lo, hi + 1))
    return starts if s.mandatory else [None, *starts]


def _yearly(inst, plan, metric: str, expected: bool = False) -> dict[int, float]:
    out = {y: 0.0 for y in inst.years}
    for s in inst.schemes:
        t = plan[s.id]
        if t is None:
            continue
        c = s.confidence if expected and inst.objective.risk == "expected" else 1.0
        values = _by_offset(inst, s, metric)
        for y in inst.years:
            if y >= t:
                out[y] += c * values[y - t]
    return out


def _sales(inst, plan) -> dict[int, tuple[float, float]]:
    """Per year, the (proceeds, gain) of the disposals completing then (docs/finance.md)."""
    out = {y: (0.0, 0.0) for y in inst.years}
    for r in (inst.finance.capital_receipts if inst.finance else ()):
        t = plan[r.scheme]
        if t is not None and t + r.offset in out:
            proceeds, gain = out[t + r.offset]
            out[t + r.offset] = (proceeds + r.value, gain + r.value - r.book_value)
    return out


def _objective(inst, plan) -> float | None:
    """The plan's objective (net_present_value), or None if it breaks a rule."""
    for r in inst.relations:
        ta, tb = plan[r.a], plan[r.b]
        if r.kind == "requires" and ta is not None and (tb is None or tb > ta - r.lag):
            return None
        if r.kind == "excludes" and ta is not None and tb is not None:
            return None
        if r.kind == "together" and (ta is None) != (tb is None):
            return None
        if r.kind == "precedes" and ta is not None and tb is not None and tb < ta + r.lag:
            return None
    sales = _sales(inst, plan)
    for lim in inst.limits:
        used = _yearly(inst, plan, lim.metric)
        if inst.finance is not None and lim.id in inst.finance.receipts_raise:
            used = {y: v - sales[y][0] for y, v in used.items()}
        for y, bound in lim.values.items():
            if not {"<=": used[y] <= bound + 1e-9, ">=": used[y] >= bound - 1e-9,
                    "==": abs(used[y] - bound) <= 1e-9}[lim.sense]:
                return None
    for domain, minimum in inst.quality.portfolio_min.items():
        if any(v < minimum - 1e-9 for v in _yearly(inst, plan, domain).values()):
            return None
    saving = _yearly(inst, plan, "saving", expected=True)
    nonrecurrent = _yearly(inst, plan, "nonrecurrent_saving", expected=True)
    running, one_off, double, capital = (
        _yearly(inst, plan, m) for m in ("running_cost", "one_off_cost", "double_running_cost", "capital_cost"))
    recurrent = {y: saving[y] - running[y] for y in inst.years}
    in_year = {y: recurrent[y] + nonrecurrent[y] - one_off[y] - double[y] for y in inst.years}
    penalty = 0.0
    for t in inst.targets:
        achieved = recurrent if t.basis == "recurrent" else in_year
        for y, required in t.values.items():
            short = max(0.0, required - achieved[y])
            if t.hard and short > 1e-9:
                return None
            if not t.hard:
                penalty += t.shortfall_penalty * inst.discount(y) * short
    bonus, met = 0.0, {}
    fin = inst.finance
    for ct in (fin.control_totals if fin else ()):  # do-nothing surplus + in-year net saving + gains
        for y, required in ct.values.items():
            surplus = sum(p.do_nothing[y].surplus for p in fin.organisations if y in p.do_nothing) + in_year[y] + sales[y][1]
            short = max(0.0, required - surplus)
            met[ct.id, y] = short <= 1e-6 * (1 + abs(required))
            if ct.hard and not met[ct.id, y]:
                return None
            penalty += 0.0 if ct.hard else ct.shortfall_penalty * inst.discount(y) * short
    for f in (fin.incentive_funds if fin else ()):  # paid in full only in a year every condition is met
        bonus += sum(inst.discount(y) * v for y, v in f.values.items() if all(met.get((c, y), True) for c in f.conditions))
    bonus += sum(inst.discount(y) * sales[y][0] for y in inst.years)  # proceeds are cash in
    return sum(inst.discount(y) * (in_year[y] - capital[y]) for y in inst.years) + bonus - penalty


# ------------------------------------------------------------------------------------------------
# tiny
# ------------------------------------------------------------------------------------------------

def test_tiny_loads_cleanly_and_matches_the_readme_table(tiny):
    assert len(tiny.schemes) == TINY_SCHEMES
    assert tiny.years == (2025, 2026, 2027)
    assert tiny.discount_rate == 0 and tiny.objective.mode == "net_present_value"
    assert tiny.objective.risk == "none"
    by_id = {s.id: s for s in tiny.schemes}
    assert set(by_id) == set(TINY_PLAN)
    # README "The instance" table: (recurrent saving, first-year fraction, one-off, capital)
    table = {
        "agency-cap": (100, 0.5, 0, 0), "epr": (60, 0.5, 0, 100), "e-rostering": (80, 0.5, 20, 0),
        "pathology": (150, 0.0, 0, 100), "skill-mix": (150, 0.5, 0, 0),
    }
    for sid, (saving, fraction, one_off, capital) in table.items():
        s = by_id[sid]
        assert (s.recurrent_saving, s.first_year_fraction, s.one_off_cost, s.capital_cost) == \
            (saving, fraction, one_off, capital), sid
    assert by_id["pathology"].latest_start == 2026
    assert by_id["skill-mix"].safety == -1 and not by_id["skill-mix"].qia_approved
    assert [(r.kind, r.a, r.b, r.lag) for r in tiny.relations] == [("requires", "e-rostering", "epr", 1)]
    (limit,) = tiny.limits
    assert (limit.id, limit.metric, limit.sense, limit.values) == (
        "capital", "capital_cost", "<=", {2025: 100, 2026: 100, 2027: 100})
    (target,) = tiny.targets
    assert (target.basis, target.hard, target.shortfall_penalty, target.values) == (
        "recurrent", False, 1.0, {2025: 100, 2026: 200, 2027: 300})


def test_tiny_hand_optimum_is_the_unique_best_of_every_plan(tiny):
    """Enumerate every start-year choice (and not selected) and apply every rule by hand."""
    ids = [s.id for s in tiny.schemes]
    scored = []
    for combo in itertools.product(*(_choices(tiny, s) for s in tiny.schemes)):
        plan = dict(zip(ids, combo))
        value = _objective(tiny, plan)
        if value is not None:
            scored.append((value, plan))
    scored.sort(key=lambda item: -item[0])
    assert len(scored) == TINY_FEASIBLE_PLANS
    best, plan = scored[0]
    assert plan == TINY_PLAN
    assert best == pytest.approx(TINY_OPTIMUM, abs=1e-9)
    assert scored[1][0] == pytest.approx(TINY_RUNNER_UP, abs=1e-9)  # unique optimum


def test_tiny_solver_finds_the_hand_optimum(tiny):
    from cipopt.pipeline import SolveOptions, solve_instance

    outcome = solve_instance(tiny, SolveOptions(mip_gap=0.0))
    assert outcome.status == "optimal"
    assert outcome.objective == pytest.approx(TINY_OPTIMUM, abs=1e-6)
    assert outcome.plan == TINY_PLAN


# ------------------------------------------------------------------------------------------------
# holby
# ------------------------------------------------------------------------------------------------

def test_holby_schemes_cover_every_category(holby):
    assert 30 <= len(holby.schemes) <= 40
    assert holby.name.startswith("Holby")
    assert {s.category for s in holby.schemes} == set(CATEGORIES)
    assert holby.org_ids == ("holby",)
    assert holby.years == (2025, 2026, 2027, 2028, 2029)
    assert holby.discount_rate == 0.035 and holby.money_unit == "GBP thousand"
    assert (holby.objective.mode, holby.objective.risk) == ("net_present_value", "expected")
    assert 2 <= sum(s.mandatory for s in holby.schemes) <= 3
    assert not holby.scores  # not a weighted-score instance


def test_holby_scheme_figures_are_in_realistic_ranges(holby):
    savings = [s.recurrent_saving for s in holby.schemes if s.recurrent_saving > 0]
    assert sum(50 <= v <= 2000 for v in savings) > len(savings) / 2  # most GBP 50k-2m a year
    assert 3 <= sum(3000 <= v <= 8000 for v in savings)  # a few GBP 3m-8m
    assert all(0.5 <= s.confidence <= 0.95 for s in holby.schemes)
    assert sum(0.25 <= s.first_year_fraction <= 0.5 for s in holby.schemes) >= 20  # back-loaded
    assert all(-2 <= getattr(s, d) <= 2 for s in holby.schemes for d in ("safety", "experience"))
    products = {a * b for a in range(1, 6) for b in range(1, 6)}
    assert all(s.qia_risk in products for s in holby.schemes)  # likelihood x consequence
    assert any(s.qia_approved for s in holby.schemes)
    income = [s for s in holby.schemes if s.category == "income"]
    assert income and all(s.recurrent_saving == 0 for s in income)  # revenue is not CIP for FTs


def test_holby_custom_metrics_and_profiles(holby):
    assert all("pmo_days" in s.metrics for s in holby.schemes)
    wte = [s for s in holby.schemes if s.metrics.get("wte_nursing", 0)]
    assert len(wte) >= 3 and all(s.metrics["wte_nursing"] < 0 for s in wte)  # reductions only
    agency = [s for s in holby.schemes if s.metrics.get("agency_spend_reduction", 0)]
    assert all(s.metrics["agency_spend_reduction"] > 0 for s in agency)
    assert {s.id for s in holby.schemes if s.category == "agency"} <= {s.id for s in agency}
    profile = {(p.scheme, p.metric, p.offset): p.value for p in holby.profiles}
    hub_saving = [profile[("pathology-hub", "saving", k)] for k in range(5)]
    assert hub_saving == sorted(hub_saving) and hub_saving[0] == 0  # ramps up over offsets 0..4
    hub_pmo = [profile[("pathology-hub", "pmo_days", k)] for k in range(5)]
    assert hub_pmo == sorted(hub_pmo, reverse=True)  # front-loaded effort
    assert ("estates-consolidation", "capital_cost", 1) in profile


def test_holby_targets_limits_and_quality_rules(holby):
    targets = {t.id: t for t in holby.targets}
    underlying = targets["underlying"]
    assert (underlying.basis, underlying.hard) == ("recurrent", False)
    values = [underlying.values[y] for y in holby.years]
    assert values == sorted(values) and values[-1] == 28000  # cumulative recurrent target
    assert set(targets) == {"underlying"}  # the control total is the bottom line's, priced by the PSF
    fin = holby.finance
    position = fin.organisations[0]
    assert [position.do_nothing[y].surplus for y in holby.years] == [-10000, -16000, -21500, -26000, -30000]
    assert position.do_nothing[2025].income == 280000 and position.opening_cash == 12000
    (control,) = fin.control_totals
    assert [control.values[y] for y in holby.years] == [-4000, -3500, -3000, -2000, -1000]
    assert (control.hard, control.shortfall_penalty) == (False, 0.0)
    (psf,) = fin.incentive_funds
    assert psf.conditions == ("control",) and set(psf.values.values()) == {5000}
    (ash,) = fin.capital_receipts
    assert (ash.scheme, ash.value, ash.book_value, ash.offset) == ("ash-house-disposal", 3000, 1800, 1)
    assert fin.receipts_raise == ("capital",)
    by_id = {s.id: s for s in holby.schemes}
    assert by_id["ash-house-disposal"].nonrecurrent_saving == 0  # a receipt, not a saving
    bank = {p.offset: p.value for p in holby.profiles if p.scheme == "bank-first" and p.metric == "saving"}
    agency = {p.offset: p.value for p in holby.profiles if p.scheme == "bank-first" and p.metric == "agency_spend_reduction"}
    assert bank == {k: round(0.35 * v) for k, v in agency.items()}  # the agency premium only (README)
    limits = {lim.id: lim for lim in holby.limits}
    assert set(limits) == {"capital", "pmo", "nursing-wte", "agency-ceiling"}
    expected = {"capital": ("capital_cost", "<="), "pmo": ("pmo_days", "<="),
                "nursing-wte": ("wte_nursing", ">="), "agency-ceiling": ("agency_spend_reduction", ">=")}
    for lid, (metric, sense) in expected.items():
        assert (limits[lid].metric, limits[lid].sense) == (metric, sense)
        assert set(limits[lid].values) == set(holby.years)
    assert all(v < 0 for v in limits["nursing-wte"].values.values())
    ceiling = [limits["agency-ceiling"].values[y] for y in holby.years]
    assert ceiling == sorted(ceiling) and len(set(ceiling)) > 1  # the ceiling steps down
    q = holby.quality
    assert q.domains == ("safety", "effectiveness", "experience", "access")
    assert q.scheme_min == {"safety": 0, "effectiveness": 0}
    assert (q.max_risk, q.hard_max_risk) == (12, 12)  # extreme risks (15+) do not proceed
    assert set(q.portfolio_min) == {"experience", "access"}
    assert (holby.solver.time_limit, holby.solver.mip_gap) == (60, 0.0001)


def test_holby_relations_and_quality_exclusions(holby):
    kinds = {r.kind for r in holby.relations}
    assert kinds == {"requires", "excludes", "together", "precedes"}
    assert ("requires", "e-rostering", "epr", 1) in {(r.kind, r.a, r.b, r.lag) for r in holby.relations}
    ineligible = {s.id for s in holby.schemes if not _eligible(holby, s)}
    assert ineligible == {"ward-skill-mix", "hospital-at-night", "establishment-review", "miu-closure"}
    by_id = {s.id: s for s in holby.schemes}
    for sid in ("miu-closure", "establishment-review"):  # approved, but extreme: above the hard max
        assert by_id[sid].qia_approved and by_id[sid].qia_risk > 12
    assert by_id["ward-skill-mix"].safety < 0 and not by_id["ward-skill-mix"].qia_approved


def test_holby_optimal_plan_matches_the_readme(holby):
    from cipopt.pipeline import SolveOptions, solve_instance

    outcome = solve_instance(holby, SolveOptions(mip_gap=0.0))
    assert outcome.status == "optimal"
    assert outcome.objective == pytest.approx(HOLBY_OBJECTIVE, rel=1e-6)
    assert len(outcome.selected) == HOLBY_SELECTED
    years = outcome.years
    short = years[(years.measure == "target:underlying") & (years.shortfall > 1e-6)]
    assert set(short.year) == HOLBY_UNDERLYING_SHORT_YEARS
    limits = years[years.measure.str.startswith("limit:")]
    at_bound = limits[(limits.value - limits.bound).abs() < 1e-6]
    assert {"limit:capital", "limit:pmo", "limit:nursing-wte"} <= set(at_bound.measure)
    # the independent evaluator above values the solver's plan the same
    assert _objective(holby, outcome.plan) == pytest.approx(outcome.objective, rel=1e-9)


# -- the README's tables, read from the README --------------------------------------------------

README_ROWS = {  # row label of "Year by year" -> (measure in years.csv, column)
    "recurrent net saving": ("recurrent_net_saving", "value"),
    "`underlying` target": ("target:underlying", "bound"),
    "shortfall": ("target:underlying", "shortfall"),
    "in-year net saving": ("in_year_net_saving", "value"),
    "do-nothing surplus": ("do_nothing:surplus", "value"),
    "gain on disposal": ("gain_on_disposal", "value"),
    "surplus before PSF": ("control_total:control", "value"),
    "control total": ("control_total:control", "bound"),
    "control total missed by": ("control_total:control", "shortfall"),
    "PSF received (of 5,000)": ("incentive:psf", "value"),
    "surplus (deficit -)": ("surplus", "value"),
    "capital receipt": ("capital_receipt", "value"),
    "closing cash": ("cash", "value"),
    "capital used, net of receipts (limit)": ("limit:capital", "value"),
    "PMO days (limit)": ("limit:pmo", "value"),
    "nursing WTE (limit)": ("limit:nursing-wte", "value"),
    "agency spend reduction (floor)": ("limit:agency-ceiling", "value"),
    "experience / access (floor 0)": ("quality:experience", "value"),
}


def _readme_section(title: str) -> str:
    text = (HOLBY / "README.md").read_text(encoding="utf-8")
    start = text.index(title)
    return text[start:text.index("\n## ", start + 1)]


def _number(cell: str) -> float:
    return float(cell.replace("*", "").replace(",", "").replace(")", "").strip())


def _readme_year_table() -> dict[str, list[str]]:
    section = _readme_section("## What the optimal plan does")
    table = section[section.index("| | 2025/26"):]
    rows = {}
    for line in table.splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0]] = cells[1:]
    return rows


def _figure(years, measure: str, column: str, year: int) -> float:
    hit = years[(years["measure"] == measure) & (years["year"] == year)]
    assert len(hit) == 1, (measure, year)
    return float(hit[column].iloc[0])


@pytest.fixture(scope="module")
def holby_solved(holby):
    from cipopt.check.checker import check_plan
    from cipopt.pipeline import SolveOptions, solve_instance

    outcome = solve_instance(holby, SolveOptions(mip_gap=0.0))
    return outcome, check_plan(holby, outcome.plan)


def test_holby_readme_year_table_is_the_solvers_and_the_checkers(holby, holby_solved):
    outcome, checked = holby_solved
    assert checked.ok
    table = _readme_year_table()
    assert set(table) == set(README_ROWS)
    for label, (measure, column) in README_ROWS.items():
        for year, cell in zip(holby.years, table[label]):
            for source, years in (("solver", outcome.years), ("checker", checked.years)):
                if label == "experience / access (floor 0)":
                    shown = [_number(c) for c in cell.split("/")]
                    got = [_figure(years, f"quality:{d}", "value", year) for d in ("experience", "access")]
                    assert shown == got, (label, year, source)
                    continue
                main = cell.split("(")[0]
                assert _number(main) == pytest.approx(_figure(years, measure, column, year), abs=0.5), (
                    label, year, source)
                if "(" in cell:  # the limit's bound
                    bound = _number(cell.split("(")[1])
                    assert bound == pytest.approx(_figure(years, measure, "bound", year), abs=0.5), (label, year)


def test_holby_readme_plan_and_headline_are_the_solvers_and_the_checkers(holby, holby_solved):
    outcome, checked = holby_solved
    section = _readme_section("## What the optimal plan does")
    starts = {}
    for line in section.splitlines():
        m = re.match(r"\| (\d{4})/\d\d \| (.*) \|$", line)
        if m:
            for sid in m.group(2).split(","):
                starts[sid.split("(")[0].replace("*", "").strip()] = int(m.group(1))
    assert starts == {k: v for k, v in outcome.plan.items() if v is not None}
    npv, penalty, objective = (int(re.search(pattern, section).group(1).replace(",", "")) for pattern in (
        r"net present value GBP ([\d,]+)k", r"shortfall penalty ([\d,]+)k", r"objective ([\d,]+)k"))
    for source in (outcome, checked):
        assert (round(source.net_present_value), round(source.shortfall_penalty if source is outcome
                                                           else source.penalty), round(source.objective)) == (
            npv, penalty, objective)
    assert f"**{len(outcome.selected)} of the 40" in section


def test_holby_control_total_cannot_be_held_in_the_years_the_readme_says(holby):
    """README: "no eligible plan ... closes the gap (checked: with a hard control total in either
    year there is no plan)"; and with every year's control total hard there is none either."""
    from cipopt.pipeline import SolveOptions, solve_instance

    fin = holby.finance
    (control,) = fin.control_totals
    for years in ({2028: control.values[2028]}, {2029: control.values[2029]}, dict(control.values)):
        hard = control.model_copy(update={"id": "hard", "values": years, "hard": True})
        tighter = holby.model_copy(update={"finance": fin.model_copy(update={"control_totals": (control, hard)})})
        assert solve_instance(tighter, SolveOptions(mip_gap=0.0)).status == "infeasible", years
