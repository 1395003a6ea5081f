"""The shipped instances: instances/tiny (optimum derived by hand) and instances/holby (realistic).

tiny: the constants below are the optimum derived step by step in instances/tiny/README.md
("Derivation of the optimum"). They are checked three ways: against the data, by enumerating
every plan straight from docs/semantics.md (no solver, no cipopt model code), and by the solver.

holby: the structure promised by instances/holby/README.md (40 schemes covering every category,
the custom metrics, the limits, targets and quality rules), and the figures its "What the
optimal plan does" section quotes.
"""

from __future__ import annotations

import itertools
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
HOLBY_OBJECTIVE = 51426.111267  # GBP thousand, net present value
HOLBY_SELECTED = 30
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
    for lim in inst.limits:
        used = _yearly(inst, plan, lim.metric)
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
    return sum(inst.discount(y) * (in_year[y] - capital[y]) for y in inst.years) - penalty


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
    control = targets["control-total"]
    assert (control.basis, control.hard) == ("in_year", False)
    assert control.shortfall_penalty > 0
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
    assert (q.max_risk, q.hard_max_risk) == (12, 15)
    assert set(q.portfolio_min) == {"experience", "access"}
    assert (holby.solver.time_limit, holby.solver.mip_gap) == (60, 0.0001)


def test_holby_relations_and_quality_exclusions(holby):
    kinds = {r.kind for r in holby.relations}
    assert kinds == {"requires", "excludes", "together", "precedes"}
    assert ("requires", "e-rostering", "epr", 1) in {(r.kind, r.a, r.b, r.lag) for r in holby.relations}
    ineligible = {s.id for s in holby.schemes if not _eligible(holby, s)}
    assert ineligible == {"ward-skill-mix", "hospital-at-night", "miu-closure"}
    by_id = {s.id: s for s in holby.schemes}
    assert by_id["miu-closure"].qia_approved and by_id["miu-closure"].qia_risk > 15  # hard max
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
