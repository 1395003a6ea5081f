"""What an instance is: the pydantic models of instance format version 1.

Field docstrings are the reference documentation of each key and column. Structure and ranges
are checked here; meaning across tables (references, horizons, shares summing to 1) is checked
in `cipopt.schema.validate`, so that every problem is reported at once with its place.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import weakref
from typing import Literal

from pydantic import Field, field_validator, model_validator

from cipopt.schema.base import Frozen, FromYaml, Word, Year
from cipopt.schema.finance import Finance

CATEGORIES = (
    "agency", "workforce", "procurement", "medicines", "pathology", "imaging", "estates",
    "back_office", "outpatients", "digital", "transformation", "income", "other",
)
STANDARD_DOMAINS = ("safety", "effectiveness", "experience", "access")
SECTORS = ("acute", "community", "mental_health", "primary_care", "commissioner", "ambulance", "other")

# Built-in metrics and the share that splits them between organisations.
SAVING_METRICS = ("saving", "nonrecurrent_saving")
COST_METRICS = ("one_off_cost", "capital_cost", "running_cost", "double_running_cost")
BUILTIN_METRICS = SAVING_METRICS + COST_METRICS

Sense = Literal["<=", ">=", "=="]


class Organisation(Frozen):
    id: str = Field(min_length=1)
    """Short unique id used in schemes.csv `org`, shares.csv, targets and limits."""
    name: str | None = None
    """Full name, shown in reports."""
    sector: str = Field(default="other", json_schema_extra={"examples": list(SECTORS)})
    """acute, community, mental_health, primary_care, commissioner, ambulance, other."""


class Target(FromYaml):
    """Savings required against the do-nothing forecast, per year."""

    id: str = Field(min_length=1)
    """Unique id of the target, e.g. underlying."""
    org: str | None = None
    """The organisation whose share counts; omitted = the whole system."""
    basis: Literal["recurrent", "in_year", "full_year_effect"] = "recurrent"
    """recurrent: the underlying position (saving in its start year at first_year_fraction);
    in_year: the control total's savings; full_year_effect (extension, docs/finance.md): the
    underlying position at exit run-rate, a scheme's full recurrent saving from its start year."""
    values: dict[int, float]
    """Per year, the savings required against the do-nothing forecast (a year not listed: no target)."""
    hard: bool = False
    """hard: must be met; soft: a shortfall is allowed at `shortfall_penalty` per unit."""
    shortfall_penalty: float = Field(default=1.0, ge=0)
    """Objective lost per unit of shortfall, discounted like money."""


class Limit(FromYaml):
    """A per-year bound on the sum of a metric over the schemes active that year."""

    id: str = Field(min_length=1)
    """Unique id of the limit, e.g. capital."""
    org: str | None = None
    """The organisation whose part counts (its shares); omitted = everything."""
    metric: str = Field(min_length=1)
    """What is summed over active schemes: capital_cost, pmo_days, wte_nursing, ..."""
    sense: Sense = "<="
    """<=, >= or == (in a workbook pick it from the list, or type = or '==: Excel reads a bare == as a formula)."""
    values: dict[int, float]
    """Per year, the bound (a year not listed: no bound)."""


class Quality(FromYaml):
    """Quality impact assessment rules that protect safety and outcomes."""

    domains: tuple[str, ...] = STANDARD_DOMAINS
    """The quality domains: safety, effectiveness, experience, access, or numeric schemes.csv columns."""
    scheme_min: dict[str, float] = {}
    """A scheme scoring below this in a listed domain is ineligible unless qia_approved."""
    max_risk: float | None = None
    """A scheme whose qia_risk exceeds this is ineligible unless qia_approved."""
    hard_max_risk: float | None = None
    """Above this a scheme is ineligible even if approved (extreme risks do not proceed)."""
    portfolio_min: dict[str, float] = {}
    """Per year: the sum of the domain score over active schemes must be at least this."""


class Objective(FromYaml):
    mode: Literal["net_present_value", "savings", "weighted_score"] = "net_present_value"
    """What the plan maximises: net_present_value, savings or weighted_score (docs/format.md, Meaning of a plan)."""
    risk: Literal["none", "expected", "cvar", "chance"] = "expected"
    """expected: savings count at confidence x value; none: at face value; cvar and chance: as
    expected, plus a rule on sampled delivery scenarios (docs/risk.md)."""
    risk_targets: tuple[str, ...] | None = None
    """cvar: the targets whose scenario shortfalls make the loss; omitted = every target."""
    alpha: float = Field(default=0.9, ge=0, lt=1)
    """cvar: the loss's conditional value at risk is the mean of its worst (1 - alpha) share of scenarios."""
    draws: int = Field(default=200, ge=1, le=10_000)
    """cvar and chance: how many delivery scenarios the model samples."""
    seed: int = Field(default=0, ge=0)
    """cvar and chance: the seed of the scenario sample (`cipopt simulate --seed`)."""
    cvar_max: float | None = Field(default=None, ge=0)
    """cvar: the loss's CVaR may be at most this (money, discounted)."""
    cvar_penalty: float | None = Field(default=None, ge=0)
    """cvar: the objective loses this much per unit of the loss's CVaR."""
    chance_target: str | None = None
    """chance: the target that must be met, in every year it names, ..."""
    chance_probability: float | None = Field(default=None, ge=0, le=1)
    """chance: ... in at least this share of the sampled scenarios."""

    @property
    def counts_confidence(self) -> bool:
        """Savings in targets and the objective count at confidence x value (every risk but none)."""
        return self.risk != "none"


class RiskGroup(FromYaml):
    """Schemes that succeed or fail together through one shared factor (docs/risk.md)."""

    id: str = Field(min_length=1)
    """The id schemes.csv `risk_group` names."""
    correlation: float = Field(ge=0, le=1)
    """The correlation of any two members' delivery factors (Gaussian one-factor model)."""


class SolverOptions(FromYaml):
    time_limit: float | None = Field(default=None, gt=0)
    """Seconds the solver may take; empty = no limit."""
    mip_gap: float = Field(default=1e-4, ge=0)
    """Relative gap at which the solver may stop and call the plan optimal."""
    threads: int | None = Field(default=None, ge=1)
    """Solver threads (capped at the machine's cores); empty = the solver's choice."""


class Criterion(FromYaml):
    id: str = Field(min_length=1)
    """Criterion id used in scores.csv."""
    weight: float | None = Field(default=None, ge=0)
    """Exact weight."""
    weight_min: float | None = Field(default=None, ge=0)
    """Lowest plausible weight (for robust ranking)."""
    weight_max: float | None = Field(default=None, ge=0)
    """Highest plausible weight (for robust ranking)."""


class FairShare(FromYaml):
    """A panel's fairness rule (format extension): a group gets at least a share of a metric's total.

    Over the years listed (default every plan year), the metric counted for the group (one
    organisation, or every organisation of a sector, with the shares rule of targets and limits)
    is at least `min_share` of the metric counted for the whole system: "mental health gets at
    least 15% of the fund awarded".
    """

    id: str = Field(min_length=1)
    """Unique id of the rule (among targets, limits and fair shares)."""
    org: str | None = None
    """The organisation that is the group."""
    sector: str | None = Field(default=None, json_schema_extra={"examples": list(SECTORS)})
    """The sector whose organisations are the group; exactly one of `org` and `sector` names it."""
    metric: str = Field(min_length=1)
    """The metric shared out: a built-in metric or a custom schemes.csv column."""
    min_share: float = Field(ge=0, le=1)
    """The group's least share of the system's total, 0 to 1."""
    years: tuple[int, ...] | None = None
    """The years summed; empty = every plan year."""

    @model_validator(mode="after")
    def _one_group(self) -> "FairShare":
        if (self.org is None) == (self.sector is None):
            raise ValueError("give exactly one of org and sector")
        return self


class Scheme(Frozen):
    """One candidate CIP scheme or transformation bid (a row of schemes.csv)."""

    id: str = Field(min_length=1)
    """Unique short id of the scheme, e.g. agency-price-cap."""
    name: str = ""
    """Name shown in reports (empty: the id)."""
    category: Word = Field(default="other", json_schema_extra={"enum": list(CATEGORIES)})
    """agency, workforce, procurement, medicines, pathology, imaging, estates, back_office, outpatients, digital, transformation, income or other."""
    org: str = ""
    """Organisation that runs the scheme (empty: the first organisation)."""
    earliest_start: Year | None = None
    """First year the scheme may start, e.g. 2025 (empty: the first plan year)."""
    latest_start: Year | None = None
    """Last year the scheme may start (empty: the last plan year)."""
    mandatory: bool = False
    """true: the scheme must be selected."""
    confidence: float = Field(default=1.0, ge=0, le=1)
    """Probability of delivery, 0 to 1."""
    recurrent_saving: float = 0.0
    """Full-year effect of the recurrent saving, per year."""
    first_year_fraction: float = Field(default=0.5, ge=0, le=1)
    """Share of the recurrent saving delivered in the start year."""
    nonrecurrent_saving: float = 0.0
    """One-off saving in the start year."""
    one_off_cost: float = Field(default=0.0, ge=0)
    """Revenue cost in the start year."""
    capital_cost: float = Field(default=0.0, ge=0)
    """Capital cost in the start year (counts against limits and NPV, never targets)."""
    running_cost: float = Field(default=0.0, ge=0)
    """Recurrent revenue cost in every active year."""
    double_running_cost: float = Field(default=0.0, ge=0)
    """Revenue cost while old and new services run side by side, from the start year."""
    double_running_years: int = Field(default=0, ge=0)
    """How many years double running lasts, from the start year."""
    safety: int = Field(default=0, ge=-2, le=2)
    """QIA score (patient safety): -2 major harm, -1 minor harm, 0 neutral, +1 minor benefit, +2 major benefit."""
    effectiveness: int = Field(default=0, ge=-2, le=2)
    """QIA score (clinical outcomes), -2 to +2."""
    experience: int = Field(default=0, ge=-2, le=2)
    """QIA score (patient experience), -2 to +2."""
    access: int = Field(default=0, ge=-2, le=2)
    """QIA score (access), -2 to +2."""
    qia_risk: float = Field(default=1, ge=1, le=25)
    """Residual quality risk after mitigation, likelihood (1-5) x consequence (1-5); bands 1-3 low, 4-6 moderate, 8-12 high, 15-25 extreme."""
    qia_approved: bool = False
    """true: the medical and nursing directors signed off the quality impact assessment with mitigations."""
    excluded: bool = False
    """The scheme may not be selected: a decision already taken, or a what-if (`force_out`)."""
    delivery_low: float = Field(default=1.0, ge=0)
    """If the scheme delivers: the lowest multiplier of its savings (docs/risk.md)."""
    delivery_likely: float = Field(default=1.0, ge=0)
    """If the scheme delivers: the most likely multiplier of its savings."""
    delivery_high: float = Field(default=1.0, ge=0)
    """If the scheme delivers: the highest multiplier of its savings."""
    delivery_distribution: Literal["triangular", "pert"] = "triangular"
    """The shape of the multiplier between low and high."""
    slip_probability: float = Field(default=0.0, ge=0, le=1)
    """The probability that its savings start one year late."""
    risk_group: str = ""
    """A group of instance.yaml `risk_groups` whose members share a delivery factor; empty: none."""
    metrics: dict[str, float] = {}
    """Custom numeric columns: the value in every active year."""
    labels: dict[str, str] = {}
    """Custom text columns, carried through (division, lead, stage, RAG)."""
    start_year_saving: dict[int, float] = {}
    """Format extension made only by `cipopt replan` (docs/replan.md), never read from a file: the
    recurrent saving in the start year when the scheme starts in a year named here (a start part way
    through the current year); it replaces the start year's value of schemes.csv or profiles.csv."""

    @field_validator("category")
    @classmethod
    def _known_category(cls, v: str) -> str:
        if v not in CATEGORIES:
            close = difflib.get_close_matches(v, CATEGORIES, n=1, cutoff=0.75)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"unknown category {v!r}{hint}: expected one of {', '.join(CATEGORIES)}")
        return v

    def domain_score(self, domain: str) -> float:
        if domain in STANDARD_DOMAINS:
            return float(getattr(self, domain))
        return float(self.metrics.get(domain, 0.0))


class ProfileRow(Frozen):
    scheme: str = Field(min_length=1)
    """Scheme id."""
    offset: int = Field(ge=0)
    """Years after the start year (0 = the start year)."""
    metric: str = Field(min_length=1)
    """saving, nonrecurrent_saving, one_off_cost, capital_cost, running_cost, double_running_cost or a custom metric such as pmo_days."""
    value: float
    """The amount at that offset; the scheme's rows for a metric replace its derived values (offsets not listed are 0)."""


class Relation(Frozen):
    kind: Literal["requires", "excludes", "together", "precedes"]
    """requires (a needs b, b at least lag years earlier), excludes (not both), together (both or neither), precedes (if both, b starts at least lag years after a)."""
    a: str = Field(min_length=1)
    """Scheme id."""
    b: str = Field(min_length=1)
    """Scheme id."""
    lag: int = Field(default=0, ge=0)
    """Years; requires and precedes only."""

    @model_validator(mode="before")
    @classmethod
    def _lag_only_where_meaningful(cls, data):
        """A lag has no meaning on excludes/together (the format has the column for every kind): it is
        dropped, so that it changes neither the model nor the instance's hash (the loader warns)."""
        if isinstance(data, dict) and data.get("kind") in ("excludes", "together") and data.get("lag"):
            data = {**data, "lag": 0}
        return data

    @model_validator(mode="after")
    def _not_to_itself(self) -> "Relation":
        if self.a == self.b:
            raise ValueError(f"a scheme cannot be related to itself ({self.a})")
        return self

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.a}:{self.b}"


class Share(Frozen):
    scheme: str = Field(min_length=1)
    """Scheme id."""
    org: str = Field(min_length=1)
    """Organisation id."""
    saving_share: float = Field(default=0.0, ge=0, le=1)
    """Share of the savings this organisation gets, 0 to 1 (a scheme's shares sum to 1)."""
    cost_share: float = Field(default=0.0, ge=0, le=1)
    """Share of the costs this organisation pays, 0 to 1 (a scheme's shares sum to 1)."""


class Score(Frozen):
    scheme: str = Field(min_length=1)
    """Scheme id."""
    criterion: str = Field(min_length=1)
    """Criterion id (one of instance.yaml `criteria` or `criteria_order`)."""
    score: float = Field(ge=0, le=100)
    """Appraisal score, 0 to 100."""


class Instance(FromYaml):
    """A whole, validated instance: the plan context and its tables."""

    format_version: Literal[1] = 1
    """1: the version of the instance format the instance follows."""
    name: str = "unnamed instance"
    """The plan's name, shown on every report."""
    money_unit: str = "GBP thousand"
    """One unit for all money in the instance."""
    years: tuple[int, ...]
    """The plan's financial years, by the calendar year each starts in: 2025 is 2025/26."""
    discount_rate: float = Field(default=0.035, ge=0, lt=1)
    """Present values discount year y by (1+r)^-(y - first year); the default is HM Treasury's Green Book rate."""
    organisations: tuple[Organisation, ...] = (Organisation(id="trust"),)
    """The organisations of the plan; default one organisation with id trust."""
    targets: tuple[Target, ...] = ()
    """Savings required against the do-nothing forecast, per year."""
    limits: tuple[Limit, ...] = ()
    """Per-year bounds on the sum of a metric over the schemes active that year."""
    quality: Quality = Quality()
    """Quality impact assessment rules."""
    objective: Objective = Objective()
    """What the plan maximises, and how delivery risk counts."""
    solver: SolverOptions = SolverOptions()
    """Solver options."""
    criteria: tuple[Criterion, ...] = ()
    """Appraisal criteria of bids (scores.csv) and their weights, for weighted_score and ranking."""
    criteria_order: tuple[str, ...] | None = None
    """Criteria in order of importance, most important first (for robust ranking)."""
    fair_shares: tuple[FairShare, ...] = ()
    """Format extension (docs/semantics.md): minimum shares of a metric per organisation or sector."""
    risk_groups: tuple[RiskGroup, ...] = ()
    """Correlation groups of scheme delivery (docs/risk.md)."""
    finance: Finance | None = None
    """Format extension (docs/finance.md): do-nothing I&E and cash, control totals, incentive funds."""
    schemes: tuple[Scheme, ...] = ()
    """The candidate schemes (schemes.csv)."""
    profiles: tuple[ProfileRow, ...] = ()
    """Phased amounts that replace a scheme's derived values (profiles.csv)."""
    relations: tuple[Relation, ...] = ()
    """Logical links between two schemes (relations.csv)."""
    shares: tuple[Share, ...] = ()
    """Who gets the savings and pays the costs of a scheme (shares.csv)."""
    scores: tuple[Score, ...] = ()
    """Appraisal scores of bids per criterion (scores.csv)."""

    @property
    def first_year(self) -> int:
        return self.years[0]

    @property
    def org_ids(self) -> tuple[str, ...]:
        return tuple(o.id for o in self.organisations)

    def discount(self, year: int) -> float:
        """Present-value factor of a year: (1 + r)^-(year - first year)."""
        return (1.0 + self.discount_rate) ** -(year - self.first_year)

    def sha256(self) -> str:
        """A hash of the meaning of the instance, the same whichever form it was read from.

        Computed once per (immutable) instance: for 50,000 schemes it takes seconds, and a solve
        asks for it in its summary and again in the run history.
        """
        key = id(self)
        digest = _SHA256.get(key)
        if digest is None:
            dumped = self.model_dump(mode="json", exclude={"finance"} if self.finance is None else None)
            payload = json.dumps(dumped, sort_keys=True, separators=(",", ":"))
            digest = _SHA256[key] = hashlib.sha256(payload.encode()).hexdigest()
            weakref.finalize(self, _SHA256.pop, key, None)
        return digest


_SHA256: dict[int, str] = {}  # id of a live Instance -> its sha256 (dropped when it is freed)


def qia_ineligibility(scheme: Scheme, instance: Instance) -> str | None:
    """Why the QIA rules bar a scheme, in words, or None if it is eligible (here, with the rules,
    so that `cipopt validate` can say it without the model's arrays)."""
    q = instance.quality
    if q.hard_max_risk is not None and scheme.qia_risk > q.hard_max_risk:
        return (f"QIA risk {scheme.qia_risk:g} exceeds the hard maximum {q.hard_max_risk:g} "
                "(not even an approved QIA can proceed)")
    if scheme.qia_approved:
        return None
    reasons = []
    for domain, minimum in q.scheme_min.items():
        score = scheme.domain_score(domain)
        if score < minimum:
            reasons.append(f"{domain} score {score:g} is below the minimum {minimum:g}")
    if q.max_risk is not None and scheme.qia_risk > q.max_risk:
        reasons.append(f"QIA risk {scheme.qia_risk:g} exceeds the maximum {q.max_risk:g}")
    if reasons:
        return "; ".join(reasons) + " and the QIA is not approved"
    return None
