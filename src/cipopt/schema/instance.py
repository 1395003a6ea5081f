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

# Built-in metrics and the share that splits them between organisations.
SAVING_METRICS = ("saving", "nonrecurrent_saving")
COST_METRICS = ("one_off_cost", "capital_cost", "running_cost", "double_running_cost")
BUILTIN_METRICS = SAVING_METRICS + COST_METRICS

Sense = Literal["<=", ">=", "=="]


class Organisation(Frozen):
    id: str = Field(min_length=1)
    """Short unique id used in schemes.csv `org`, shares.csv, targets and limits."""
    name: str | None = None
    sector: str = "other"
    """acute, community, mental_health, primary_care, commissioner, ambulance, other."""


class Target(FromYaml):
    """Savings required against the do-nothing forecast, per year."""

    id: str = Field(min_length=1)
    org: str | None = None
    """The organisation whose share counts; omitted = the whole system."""
    basis: Literal["recurrent", "in_year", "full_year_effect"] = "recurrent"
    """recurrent: the underlying position (saving in its start year at first_year_fraction);
    in_year: the control total's savings; full_year_effect (extension, docs/finance.md): the
    underlying position at exit run-rate, a scheme's full recurrent saving from its start year."""
    values: dict[int, float]
    hard: bool = False
    """hard: must be met; soft: a shortfall is allowed at `shortfall_penalty` per unit."""
    shortfall_penalty: float = Field(default=1.0, ge=0)


class Limit(FromYaml):
    """A per-year bound on the sum of a metric over the schemes active that year."""

    id: str = Field(min_length=1)
    org: str | None = None
    metric: str = Field(min_length=1)
    sense: Sense = "<="
    values: dict[int, float]


class Quality(FromYaml):
    """Quality impact assessment rules that protect safety and outcomes."""

    domains: tuple[str, ...] = STANDARD_DOMAINS
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
    """Seconds; None = no limit."""
    mip_gap: float = Field(default=1e-4, ge=0)
    """Relative gap at which the solver may stop and call the plan optimal."""
    threads: int | None = Field(default=None, ge=1)


class Criterion(FromYaml):
    id: str = Field(min_length=1)
    weight: float | None = Field(default=None, ge=0)
    weight_min: float | None = Field(default=None, ge=0)
    weight_max: float | None = Field(default=None, ge=0)


class FairShare(FromYaml):
    """A panel's fairness rule (format extension): a group gets at least a share of a metric's total.

    Over the years listed (default every plan year), the metric counted for the group (one
    organisation, or every organisation of a sector, with the shares rule of targets and limits)
    is at least `min_share` of the metric counted for the whole system: "mental health gets at
    least 15% of the fund awarded".
    """

    id: str = Field(min_length=1)
    org: str | None = None
    sector: str | None = None
    """Exactly one of `org` and `sector` names the group."""
    metric: str = Field(min_length=1)
    min_share: float = Field(ge=0, le=1)
    years: tuple[int, ...] | None = None
    """The years summed; None = every plan year."""

    @model_validator(mode="after")
    def _one_group(self) -> "FairShare":
        if (self.org is None) == (self.sector is None):
            raise ValueError("give exactly one of org and sector")
        return self


class Scheme(Frozen):
    """One candidate CIP scheme or transformation bid (a row of schemes.csv)."""

    id: str = Field(min_length=1)
    name: str = ""
    category: Word = "other"
    org: str = ""
    earliest_start: Year | None = None
    latest_start: Year | None = None
    mandatory: bool = False
    confidence: float = Field(default=1.0, ge=0, le=1)
    recurrent_saving: float = 0.0
    """Full-year effect of the recurrent saving, per year."""
    first_year_fraction: float = Field(default=0.5, ge=0, le=1)
    nonrecurrent_saving: float = 0.0
    one_off_cost: float = Field(default=0.0, ge=0)
    capital_cost: float = Field(default=0.0, ge=0)
    running_cost: float = Field(default=0.0, ge=0)
    double_running_cost: float = Field(default=0.0, ge=0)
    double_running_years: int = Field(default=0, ge=0)
    safety: int = Field(default=0, ge=-2, le=2)
    effectiveness: int = Field(default=0, ge=-2, le=2)
    experience: int = Field(default=0, ge=-2, le=2)
    access: int = Field(default=0, ge=-2, le=2)
    qia_risk: float = Field(default=1, ge=1, le=25)
    qia_approved: bool = False
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
    offset: int = Field(ge=0)
    metric: str = Field(min_length=1)
    value: float


class Relation(Frozen):
    kind: Literal["requires", "excludes", "together", "precedes"]
    a: str = Field(min_length=1)
    b: str = Field(min_length=1)
    lag: int = Field(default=0, ge=0)

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
    org: str = Field(min_length=1)
    saving_share: float = Field(default=0.0, ge=0, le=1)
    cost_share: float = Field(default=0.0, ge=0, le=1)


class Score(Frozen):
    scheme: str = Field(min_length=1)
    criterion: str = Field(min_length=1)
    score: float = Field(ge=0, le=100)


class Instance(FromYaml):
    """A whole, validated instance: the plan context and its tables."""

    format_version: Literal[1] = 1
    name: str = "unnamed instance"
    money_unit: str = "GBP thousand"
    years: tuple[int, ...]
    discount_rate: float = Field(default=0.035, ge=0, lt=1)
    """HM Treasury Green Book rate by default."""
    organisations: tuple[Organisation, ...] = (Organisation(id="trust"),)
    targets: tuple[Target, ...] = ()
    limits: tuple[Limit, ...] = ()
    quality: Quality = Quality()
    objective: Objective = Objective()
    solver: SolverOptions = SolverOptions()
    criteria: tuple[Criterion, ...] = ()
    criteria_order: tuple[str, ...] | None = None
    fair_shares: tuple[FairShare, ...] = ()
    """Format extension (docs/semantics.md): minimum shares of a metric per organisation or sector."""
    risk_groups: tuple[RiskGroup, ...] = ()
    """Correlation groups of scheme delivery (docs/risk.md)."""
    finance: Finance | None = None
    """Format extension (docs/finance.md): do-nothing I&E and cash, control totals, incentive funds."""
    schemes: tuple[Scheme, ...] = ()
    profiles: tuple[ProfileRow, ...] = ()
    relations: tuple[Relation, ...] = ()
    shares: tuple[Share, ...] = ()
    scores: tuple[Score, ...] = ()

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
