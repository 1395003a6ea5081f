"""Small instances for tests: a builder for hand-made ones and hypothesis strategies for random ones.

The random instances exercise every rule of the format page at once (windows, QIA eligibility,
mandatory and excluded schemes, every relation kind with lags, limits of every sense per organisation,
shares between two organisations, hard and soft targets of both bases, profiles) while staying
small enough for brute force. Numbers are drawn from coarse grids so a broken rule is broken by a
clear margin and the checker's and the brute-force evaluator's tolerances cannot disagree.
"""

from __future__ import annotations

from hypothesis import assume, strategies as st

from cipopt.io.load import load_instance
from cipopt.schema.instance import (
    Criterion, Instance, Limit, Objective, Organisation, ProfileRow, Quality, Relation, Scheme,
    Score, Share, Target,
)
from cipopt.schema.problems import ProblemLog
from cipopt.schema.validate import validate_instance

ORGS = ("north", "south")


def load_clean(path):
    """A shipped instance, loaded with the assertion that it raises no warning."""
    log = ProblemLog()
    instance = load_instance(path, log)
    assert [str(p) for p in log.problems] == [], f"{path} must load without warnings"
    return instance


def scheme(id: str, org: str = "trust", **fields) -> Scheme:
    return Scheme(id=id, name=id, org=org, **fields)


def validated(**fields) -> tuple[Instance, ProblemLog]:
    fields.setdefault("years", (2025, 2026, 2027))
    instance = Instance(**fields)
    log = ProblemLog()
    validate_instance(instance, log)
    return instance, log


def make_instance(**fields) -> Instance:
    """An Instance built in Python and validated as the loader would, so tests use legal input."""
    instance, log = validated(**fields)
    assert not log.errors, [str(p) for p in log.errors]
    return instance


@st.composite
def schemes_strategy(draw, years: tuple[int, ...], orgs: tuple[str, ...], n: int):
    out = []
    for i in range(n):
        lo = draw(st.sampled_from(years))
        hi = draw(st.sampled_from([y for y in years if y >= lo]))
        window = draw(st.sampled_from(["none", "both", "earliest", "latest"]))
        fields = dict(
            org=draw(st.sampled_from(orgs)),
            earliest_start=lo if window in ("both", "earliest") else None,
            latest_start=hi if window in ("both", "latest") else None,
            mandatory=draw(st.integers(0, 5)) == 0,
            confidence=draw(st.sampled_from([1.0, 0.8, 0.5, 0.25])),
            recurrent_saving=float(draw(st.integers(0, 40)) * 5),
            first_year_fraction=draw(st.sampled_from([0.5, 0.25, 1.0, 0.0])),
            nonrecurrent_saving=float(draw(st.sampled_from([0, 0, 10, 30]))),
            one_off_cost=float(draw(st.sampled_from([0, 0, 5, 20]))),
            capital_cost=float(draw(st.sampled_from([0, 10, 40, 80]))),
            running_cost=float(draw(st.sampled_from([0, 0, 2, 10]))),
            double_running_cost=float(draw(st.sampled_from([0, 0, 15]))),
            double_running_years=draw(st.integers(0, 2)),
            safety=draw(st.sampled_from([0, 0, 1, -1])),
            effectiveness=draw(st.sampled_from([0, 1, -1])),
            experience=draw(st.integers(-2, 2)),
            access=draw(st.integers(-1, 1)),
            qia_risk=float(draw(st.sampled_from([1, 4, 12, 16, 20]))),
            qia_approved=draw(st.booleans()),
            excluded=draw(st.integers(0, 7)) == 0,
            metrics={"pmo_days": float(draw(st.integers(0, 4)))},
        )
        out.append(Scheme(id=f"S{i}", name=f"S{i}", **fields))
    return tuple(out)


def _values(draw, years, elements) -> dict[int, float]:
    chosen = draw(st.lists(st.sampled_from(years), min_size=1, max_size=len(years), unique=True))
    return {y: float(draw(elements)) for y in sorted(chosen)}


@st.composite
def instances(draw, min_schemes: int = 1, max_schemes: int = 5, max_years: int = 3,
              modes=("net_present_value", "savings")):
    """A random, valid, small instance with every kind of rule in play."""
    years = tuple(range(2025, 2025 + draw(st.integers(1, max_years))))
    two_orgs = draw(st.booleans())
    orgs = ORGS if two_orgs else ("trust",)
    n = draw(st.integers(min_schemes, max_schemes))
    schemes = draw(schemes_strategy(years, orgs, n))
    ids = [s.id for s in schemes]
    H = len(years)

    profiles = []
    for sid in draw(st.lists(st.sampled_from(ids), max_size=2, unique=True)):
        metric = draw(st.sampled_from(["saving", "recurrent_saving", "capital_cost", "pmo_days",
                                       "experience", "running_cost", "nonrecurrent_saving"]))
        offsets = draw(st.lists(st.integers(0, H), min_size=1, max_size=H + 1, unique=True))
        for k in offsets:
            profiles.append(ProfileRow(scheme=sid, offset=k, metric=metric,
                                       value=float(draw(st.integers(-2, 12)) * 5)))

    relations = []
    if n >= 2:
        for _ in range(draw(st.integers(0, 3))):
            a, b = draw(st.lists(st.sampled_from(ids), min_size=2, max_size=2, unique=True))
            kind = draw(st.sampled_from(["requires", "excludes", "together", "precedes"]))
            lag = draw(st.integers(0, min(2, H - 1))) if kind in ("requires", "precedes") else 0
            relations.append(Relation(kind=kind, a=a, b=b, lag=lag))

    shares = []
    if two_orgs:
        for sid in draw(st.lists(st.sampled_from(ids), max_size=n, unique=True)):
            saving = draw(st.sampled_from([0.0, 0.25, 0.5, 1.0]))
            cost = draw(st.sampled_from([0.0, 0.5, 0.75, 1.0]))
            if draw(st.booleans()):
                shares.append(Share(scheme=sid, org="north", saving_share=saving, cost_share=cost))
                shares.append(Share(scheme=sid, org="south", saving_share=1 - saving, cost_share=1 - cost))
            else:  # one row: everything to one organisation, maybe not the one that runs it
                shares.append(Share(scheme=sid, org=draw(st.sampled_from(ORGS)), saving_share=1.0, cost_share=1.0))

    scope = st.sampled_from([None, *orgs]) if two_orgs else st.sampled_from([None, "trust"])
    targets = []
    for i in range(draw(st.integers(0, 2))):
        targets.append(Target(
            id=f"T{i}", org=draw(scope), basis=draw(st.sampled_from(["recurrent", "in_year"])),
            values=_values(draw, years, st.integers(0, 40).map(lambda v: v * 5)),
            hard=draw(st.booleans()), shortfall_penalty=float(draw(st.sampled_from([0, 1, 2.5])))))
    limits = []
    for i in range(draw(st.integers(0, 2))):
        metric = draw(st.sampled_from(["capital_cost", "pmo_days", "one_off_cost", "saving",
                                       "running_cost", "experience"]))
        limits.append(Limit(
            id=f"L{i}", org=draw(scope), metric=metric, sense=draw(st.sampled_from(["<=", ">=", "=="])),
            values=_values(draw, years, st.integers(-2, 30).map(lambda v: v * 5))))

    quality = Quality(
        # the rule first: hypothesis leans towards the first choice, and rules are what we test
        scheme_min=draw(st.sampled_from([{"safety": 0}, {}, {"safety": 0, "effectiveness": 0}])),
        max_risk=draw(st.sampled_from([12.0, None])),
        hard_max_risk=draw(st.sampled_from([16.0, None])),
        portfolio_min=draw(st.sampled_from([{"experience": -1}, {}, {"access": 0, "experience": -3}])),
    )
    mode = draw(st.sampled_from(modes))
    criteria, scores = (), []
    if mode == "weighted_score":
        criteria = (Criterion(id="benefit", weight=0.7), Criterion(id="deliverability", weight=0.3))
        for sid in ids:
            for c in criteria:
                if draw(st.booleans()):
                    scores.append(Score(scheme=sid, criterion=c.id, score=float(draw(st.integers(0, 20)) * 5)))
    instance, log = validated(
        years=years,
        discount_rate=draw(st.sampled_from([0.0, 0.035, 0.1])),
        organisations=tuple(Organisation(id=o) for o in orgs),
        schemes=schemes, profiles=tuple(profiles), relations=tuple(relations), shares=tuple(shares),
        targets=tuple(targets), limits=tuple(limits), quality=quality,
        objective=Objective(mode=mode, risk=draw(st.sampled_from(["none", "expected"]))),
        criteria=criteria, scores=tuple(scores),
    )
    # The loader refuses some contradictions outright (e.g. relations that make a scheme
    # impossible); those are input errors, not instances.
    assume(not log.errors)
    return instance


@st.composite
def plans(draw, instance: Instance, outside: bool = True):
    """A random plan: each scheme not selected or started in a plan year (any, not only its window).

    With `outside`, a start may also fall just outside the horizon, which only the window rule bars.
    """
    years = list(instance.years)
    if outside:
        years = [years[0] - 1, *years, years[-1] + 1]
    choice = st.one_of(st.none(), st.sampled_from(years))
    return {s.id: draw(choice) for s in instance.schemes}
