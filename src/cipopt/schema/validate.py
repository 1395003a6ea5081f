"""Meaning checks across the tables of an instance: references, horizons, shares, windows, relations.

Structure and ranges are checked by the pydantic models; here are the rules that need more
than one row or file. Every problem is logged with its place; nothing stops at the first.

When part of the input could not be read (a file unreadable, a row rejected for a bad cell, a
key of instance.yaml refused), the loader passes `Gaps`: checks that depend on the missing part
stay silent rather than report follow-on errors ("unknown scheme X" when X's row was rejected).
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from dataclasses import dataclass, field

from cipopt.schema.finance import finance_problems, full_year_effect_problems
from cipopt.schema.instance import (
    BUILTIN_METRICS, STANDARD_DOMAINS, Instance, Relation, Scheme,
)
from cipopt.schema.problems import ProblemLog, show

SHARE_TOLERANCE = 1e-6
METRIC_ALIASES = {"recurrent_saving": "saving"}
"""Metric names that mean another (docs/semantics.md: `recurrent_saving` in profiles.csv is `saving`)."""
RELATION_CHECK_BUDGET = 2_000_000
"""Work units (edges looked at) the relation analysis may spend before it stops with a warning."""


@dataclass
class SourceRows:
    """Where each validated row came from, so problems found later still name their cell."""

    labels: dict[str, str] = field(default_factory=dict)
    rows: dict[str, list[int]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    """How a message's text names a part: "schemes.csv" in a folder, "sheet schemes" in a workbook."""

    def label(self, table: str) -> str:
        return self.labels.get(table, "instance.yaml" if table == "context" else f"{table}.csv")

    def name(self, table: str) -> str:
        return self.names.get(table, "instance.yaml" if table == "context" else f"{table}.csv")

    def row(self, table: str, index: int) -> int:
        numbers = self.rows.get(table)
        return numbers[index] if numbers and index < len(numbers) else index + 2


@dataclass
class Gaps:
    """What could not be read, so that checks depending on it stay silent (no follow-on errors)."""

    context: bool = False
    """instance.yaml is missing or unreadable: nothing of it is known."""
    years: bool = False
    organisations: bool = False
    """The organisations list as a whole was refused: any organisation id may be meant."""
    rejected_organisations: set[str] = field(default_factory=set)
    criteria: bool = False
    rejected_criteria: set[str] = field(default_factory=set)
    quality: bool = False
    objective: bool = False
    tables: set[str] = field(default_factory=set)
    """Tables missing, unreadable or unusable (a required column is absent)."""
    rejected_schemes: dict[str, list[int]] = field(default_factory=dict)
    """Scheme ids of schemes.csv rows rejected for a bad cell, with their rows."""
    unnamed_schemes: bool = False
    """A schemes.csv row without an id was rejected: any unknown scheme id may be its."""
    rejected_share_schemes: set[str] = field(default_factory=set)
    metrics: set[str] = field(default_factory=set)
    """Metric names known from rows that were rejected (they exist, with unknown values)."""
    risk_groups: bool = False
    """Part of instance.yaml `risk_groups` was refused: any group id may be meant."""

    def years_known(self) -> bool:
        return not (self.context or self.years)

    def organisation_may_exist(self, org: str) -> bool:
        return self.context or self.organisations or org in self.rejected_organisations

    def criterion_may_exist(self, criterion: str) -> bool:
        return self.context or self.criteria or criterion in self.rejected_criteria

    def scheme_may_exist(self, scheme: str) -> bool:
        return "schemes" in self.tables or self.unnamed_schemes or scheme in self.rejected_schemes


def canonical_metric(name: str) -> str:
    """The metric a name means: `recurrent_saving` is `saving`; every other name is itself."""
    return METRIC_ALIASES.get(name, name)


def known_metrics(instance: Instance) -> set[str]:
    """Every metric a limit may name: built-in, custom columns, profile metrics, QIA domains.

    `recurrent_saving` is accepted as another name of `saving` (semantics.md); the loader
    stores it as `saving`, so the model and the checker see one name.
    """
    names = set(BUILTIN_METRICS) | set(STANDARD_DOMAINS) | set(METRIC_ALIASES)
    for scheme in instance.schemes:
        names.update(scheme.metrics)
    names.update(canonical_metric(p.metric) for p in instance.profiles)
    return names


def suggestion(value: str, known, *, limit: int = 5000) -> str:
    """" (did you mean 'x'?)" for a near miss (same text in another case, or a close spelling)."""
    lowered = value.lower()
    candidates = [k for k in known if isinstance(k, str)]
    for k in candidates:
        if k.lower() == lowered:
            return f" (did you mean {k!r}?)"
    if len(candidates) <= limit:
        close = difflib.get_close_matches(value, candidates, n=1, cutoff=0.8)
        if close:
            return f" (did you mean {close[0]!r}?)"
    return ""


def _choices(known, most: int = 12) -> str:
    items = sorted(known)
    if not items:
        return "a defined id, but none are defined"
    if len(items) > most:
        return f"one of {', '.join(items[:most])}, ... ({len(items)} in all)"
    return f"one of {', '.join(items)}"


MAX_YEARS = 100
"""The most plan years an instance may have (docs/input-errors.md, "Size caps")."""
MAX_MAGNITUDE = 1e15
"""Every number the model uses lies strictly between -1e15 and 1e15: HiGHS refuses matrix values
of 1e15 or more (its large_matrix_value) and reads bounds of 1e20 as infinite."""
MONEY_FIELDS = ("recurrent_saving", "nonrecurrent_saving", "one_off_cost", "capital_cost", "running_cost",
                "double_running_cost")


def validate_instance(
    instance: Instance, log: ProblemLog, src: SourceRows | None = None, gaps: Gaps | None = None,
) -> None:
    """Log every meaning problem of an instance; `gaps` silences checks on parts not read."""
    src = src or SourceRows()
    gaps = gaps or Gaps()
    check = _Checks(instance, log, src, gaps)
    if not gaps.context:
        check.years()
        check.organisations()
        check.targets_and_limits()
        check.fair_shares()
        finance_problems(instance, check._org_ok, lambda message, key: log.error(check.ctx, message, key=key))
        full_year_effect_problems(instance, lambda message, key: log.error(check.ctx, message, key=key))
        check.quality()
        check.criteria()
    check.schemes()
    check.profiles()
    check.relations()
    check.shares()
    check.scores()
    check.delivery_risk(not gaps.context)
    check.magnitudes(not gaps.context)


class _Checks:
    """The checks, grouped by table; each says in its message what is expected."""

    def __init__(self, instance: Instance, log: ProblemLog, src: SourceRows, gaps: Gaps):
        self.inst = instance
        self.log = log
        self.src = src
        self.gaps = gaps
        self.ctx = src.label("context")
        self.years_ok = gaps.years_known() and bool(instance.years)
        self.year_set = set(instance.years)
        self.org_ids = {o.id for o in instance.organisations}
        self.scheme_index: dict[str, int] = {}
        self.duplicate_schemes: set[str] = set()
        for i, s in enumerate(instance.schemes):
            if s.id in self.scheme_index:
                self.duplicate_schemes.add(s.id)
            else:
                self.scheme_index[s.id] = i

    # -- helpers ------------------------------------------------------------------------------
    def _span(self) -> str:
        years = self.inst.years
        return f"{years[0]}-{years[-1]}"

    def _unknown_org(self, org: str) -> str:
        return f"unknown organisation {show(org)}{suggestion(org, self.org_ids)}: expected {_choices(self.org_ids)}"

    def _org_ok(self, org: str) -> bool:
        return org in self.org_ids or self.gaps.organisation_may_exist(org)

    def _scheme_refs(self, table: str, column: str, values: list[str]) -> None:
        """Each value must be a scheme id (looked at row by row only where it is not: fast)."""
        unknown = set(values) - self.scheme_index.keys()
        unknown = {v for v in unknown if not self.gaps.scheme_may_exist(v)}
        if not unknown:
            return
        for i, value in enumerate(values):
            if value in unknown:
                self.log.error(
                    self.src.label(table),
                    f"unknown scheme {show(value)}"
                    f"{suggestion(value, self.scheme_index, limit=2000 if len(unknown) < 50 else 0)}: "
                    f"no row of {self.src.name('schemes')} has this id",
                    row=self.src.row(table, i), column=column)

    # -- magnitudes the solver can take ------------------------------------------------------------
    def _too_big(self, value: float) -> bool:
        return abs(value) >= MAX_MAGNITUDE

    def _magnitude_message(self, value: float, what: str) -> str:
        return (f"{what} {value:g} is too large for the solver: values must lie strictly between "
                f"-{MAX_MAGNITUDE:g} and {MAX_MAGNITUDE:g} (HiGHS treats 1e20 as infinite and refuses "
                f"coefficients of {MAX_MAGNITUDE:g} or more); check the unit")

    def magnitudes(self, context_known: bool) -> None:
        """Numbers HiGHS would refuse (or read as infinite) are input errors, located, before a build."""
        label = self.src.label("schemes")
        for i, s in enumerate(self.inst.schemes):
            cells = [(c, getattr(s, c)) for c in MONEY_FIELDS] + sorted(s.metrics.items())
            for column, value in cells:
                if self._too_big(value):
                    self.log.error(label, self._magnitude_message(value, column), row=self.src.row("schemes", i),
                                   column=column)
        plabel = self.src.label("profiles")
        for i, p in enumerate(self.inst.profiles):
            if self._too_big(p.value):
                self.log.error(plabel, self._magnitude_message(p.value, "value"), row=self.src.row("profiles", i),
                               column="value")
        if not context_known:
            return
        for group, rules in (("targets", self.inst.targets), ("limits", self.inst.limits)):
            for i, rule in enumerate(rules):
                for y, v in rule.values.items():
                    if self._too_big(v):
                        self.log.error(self.ctx, self._magnitude_message(v, "the value"), key=f"{group}[{i}].values.{y}")
                penalty = getattr(rule, "shortfall_penalty", 0.0)
                if self._too_big(penalty):
                    self.log.error(self.ctx, self._magnitude_message(penalty, "shortfall_penalty"),
                                   key=f"{group}[{i}].shortfall_penalty")
        for name in ("cvar_max", "cvar_penalty"):
            value = getattr(self.inst.objective, name)
            if value is not None and self._too_big(value):
                self.log.error(self.ctx, self._magnitude_message(value, name), key=f"objective.{name}")

    # -- instance.yaml ------------------------------------------------------------------------
    def years(self) -> None:
        """Years must be consecutive: a start year's offset and the discounting count on it."""
        years = self.inst.years
        if self.gaps.years:
            return
        if not years:
            self.log.error(self.ctx, "at least one plan year is required, e.g. years: [2025, 2026, 2027]",
                           key="years")
            self.years_ok = False
            return
        if len(years) > MAX_YEARS:
            self.log.error(self.ctx, f"{len(years):,} plan years is above the cap of {MAX_YEARS} "
                                     "(docs/input-errors.md): a plan covers a few years", key="years")
            self.years_ok = False
            return
        odd = [y for y in years if not 1900 <= y <= 2200]
        if odd:
            self.log.warn(self.ctx, f"year {odd[0]} does not look like a calendar year: a year is named by "
                                    "the calendar year it starts in, e.g. 2025 for 2025/26", key="years")
        for i, (a, b) in enumerate(zip(years, years[1:]), start=1):
            if b != a + 1:
                self.log.error(self.ctx, f"years must be consecutive and increasing: {b} follows {a} "
                                         f"(got {list(years)})", key=f"years[{i}]")
                self.years_ok = False
                break

    def unique_ids(self, items, what: str, key: str) -> None:
        """Each id of an instance.yaml list once; a repeat is named with the entry it repeats."""
        seen: dict[str, int] = {}
        for i, item in enumerate(items):
            if item.id in seen:
                self.log.error(self.ctx, f"duplicate {what} id {item.id!r} (also {key}[{seen[item.id]}])",
                               key=f"{key}[{i}].id")
            seen.setdefault(item.id, i)

    def organisations(self) -> None:
        if self.gaps.organisations:
            return
        if not self.inst.organisations:
            self.log.error(self.ctx, "is an empty list: name at least one organisation, or leave the "
                                     "key out for one organisation called 'trust'", key="organisations")
        self.unique_ids(self.inst.organisations, "organisation", "organisations")

    def targets_and_limits(self) -> None:
        """Ids unique, organisations known, years in the plan, limit metrics known."""
        seen: dict[str, str] = {}
        metrics = known_metrics(self.inst) | self.gaps.metrics
        metrics_known = "schemes" not in self.gaps.tables and "profiles" not in self.gaps.tables
        for kind, rules in (("targets", self.inst.targets), ("limits", self.inst.limits)):
            for i, rule in enumerate(rules):
                key = f"{kind}[{i}]"
                if rule.id in seen:
                    self.log.error(self.ctx, f"duplicate id {rule.id!r}: also {seen[rule.id]} (target and "
                                             "limit ids must be unique)", key=f"{key}.id")
                seen.setdefault(rule.id, key)
                if rule.org is not None and not self._org_ok(rule.org):
                    self.log.error(self.ctx, self._unknown_org(rule.org), key=f"{key}.org")
                if self.years_ok:
                    for y in rule.values:
                        if y not in self.year_set:
                            self.log.error(self.ctx, f"year {y} is outside the plan years {self._span()}",
                                           key=f"{key}.values.{y}")
                if kind == "limits" and metrics_known and rule.metric not in metrics:
                    self.log.error(
                        self.ctx,
                        f"unknown metric {rule.metric!r}{suggestion(rule.metric, metrics)}: expected a "
                        f"built-in metric ({', '.join(BUILTIN_METRICS)}), a QIA domain, a numeric column "
                        f"of {self.src.name('schemes')} or a metric of {self.src.name('profiles')}", key=f"{key}.metric")

    def fair_shares(self) -> None:
        """Fairness rules (format extension): ids unique, the group known, metric known, years in the plan."""
        metrics = known_metrics(self.inst) | self.gaps.metrics
        metrics_known = "schemes" not in self.gaps.tables and "profiles" not in self.gaps.tables
        rule_ids = {r.id for r in self.inst.targets} | {r.id for r in self.inst.limits}
        sectors = {o.sector for o in self.inst.organisations}
        seen: set[str] = set()
        for i, rule in enumerate(self.inst.fair_shares):
            key = f"fair_shares[{i}]"
            if rule.id in seen or rule.id in rule_ids:
                self.log.error(self.ctx, f"duplicate id {rule.id!r} (fair share, target and limit ids must be "
                                         "unique)", key=f"{key}.id")
            seen.add(rule.id)
            if rule.org is not None and not self._org_ok(rule.org):
                self.log.error(self.ctx, self._unknown_org(rule.org), key=f"{key}.org")
            if rule.sector is not None and rule.sector not in sectors and not self.gaps.organisations:
                self.log.error(self.ctx, f"no organisation has sector {rule.sector!r}{suggestion(rule.sector, sectors)}: "
                                         f"expected {_choices(sectors)}", key=f"{key}.sector")
            if metrics_known and rule.metric not in metrics:
                self.log.error(self.ctx, f"unknown metric {rule.metric!r}{suggestion(rule.metric, metrics)}: expected "
                                         f"a built-in metric ({', '.join(BUILTIN_METRICS)}), a QIA domain, a numeric "
                                         f"column of {self.src.name('schemes')} or a metric of "
                                         f"{self.src.name('profiles')}", key=f"{key}.metric")
            if self.years_ok:
                for j, y in enumerate(rule.years or ()):
                    if y not in self.year_set:
                        self.log.error(self.ctx, f"year {y} is outside the plan years {self._span()}",
                                       key=f"{key}.years[{j}]")
                if rule.years is not None and not rule.years:
                    self.log.error(self.ctx, "names no year: leave years out to mean every plan year",
                                   key=f"{key}.years")

    def quality(self) -> None:
        """Domains must be score columns; minimums must name domains; hard_max_risk >= max_risk."""
        if self.gaps.quality:
            return
        q = self.inst.quality
        columns = set(STANDARD_DOMAINS) | self.gaps.metrics
        for s in self.inst.schemes:
            columns.update(s.metrics)
        for i, d in enumerate(q.domains):
            if d not in columns and "schemes" not in self.gaps.tables:
                self.log.error(self.ctx, f"quality domain {d!r} is not a numeric column of {self.src.name('schemes')} "
                                         f"(add a column {d!r} holding each scheme's score)",
                               key=f"quality.domains[{i}]")
        if len(set(q.domains)) != len(q.domains):
            self.log.error(self.ctx, "a quality domain is listed twice", key="quality.domains")
        for key, mins in (("scheme_min", q.scheme_min), ("portfolio_min", q.portfolio_min)):
            for d in mins:
                if d not in q.domains:
                    self.log.error(self.ctx, f"{d!r}{suggestion(d, q.domains)} is not one of the quality "
                                             f"domains ({', '.join(q.domains)})",
                                   key=f"quality.{key}.{d}")
        if q.max_risk is not None and q.hard_max_risk is not None and q.hard_max_risk < q.max_risk:
            self.log.warn(self.ctx, f"hard_max_risk {q.hard_max_risk:g} is below max_risk {q.max_risk:g}, "
                                    "so an approved QIA can never lift the limit", key="quality.hard_max_risk")

    def criteria(self) -> None:
        """Criterion ids unique, weight ranges ordered, orders of importance naming criteria."""
        inst = self.inst
        self.unique_ids(inst.criteria, "criterion", "criteria")
        seen = {c.id for c in inst.criteria}
        for i, c in enumerate(inst.criteria):
            key = f"criteria[{i}]"
            for name, bound in (("weight_min", c.weight_min), ("weight_max", c.weight_max)):
                if bound is not None and bound > 1:
                    self.log.error(self.ctx, f"{name} {bound:g} is above 1 (weights with ranges are shares of 1)",
                                   key=f"{key}.{name}")
            if c.weight_min is not None and c.weight_max is not None and c.weight_min > c.weight_max:
                self.log.error(self.ctx, f"weight_min {c.weight_min:g} is above weight_max {c.weight_max:g}",
                               key=f"{key}.weight_min")
            if c.weight is not None and (
                (c.weight_min is not None and c.weight < c.weight_min)
                or (c.weight_max is not None and c.weight > c.weight_max)
            ):
                self.log.error(self.ctx, f"weight {c.weight:g} is outside weight_min..weight_max", key=f"{key}.weight")
        if inst.criteria_order is not None:
            order_seen: set[str] = set()
            for i, c in enumerate(inst.criteria_order):
                if c in order_seen:
                    self.log.error(self.ctx, f"criterion {c!r} is listed twice", key=f"criteria_order[{i}]")
                order_seen.add(c)
                if inst.criteria and c not in seen and not self.gaps.criterion_may_exist(c):
                    self.log.error(self.ctx, f"unknown criterion {c!r}{suggestion(c, seen)}: expected "
                                             f"{_choices(seen)}", key=f"criteria_order[{i}]")
        self._criteria_ranges()
        if self.gaps.objective or inst.objective.mode != "weighted_score":
            return
        if not inst.criteria and not self.gaps.criteria:
            self.log.error(self.ctx, "objective mode weighted_score needs criteria with weights "
                                     f"(and {self.src.name('scores')})", key="objective.mode")
        from cipopt.schema.nominal import nominal_weights  # numpy: only for an instance with criteria

        if (inst.criteria or inst.criteria_order) and not self.log.errors and nominal_weights(inst) is None:
            self.log.error(self.ctx, "objective mode weighted_score needs nominal weights, but the criteria's "
                                     "ranges and order leave no room around a centre: give exact weights",
                           key="criteria")

    def _criteria_ranges(self) -> None:
        """Ranges and orders state weights that sum to 1 (docs/ranking.md): the set must not be empty."""
        inst = self.inst
        ordered = bool(inst.criteria_order)
        if self.gaps.criteria or not (ordered or any(c.weight_min is not None or c.weight_max is not None
                                                     for c in inst.criteria)):
            return
        lo = hi = 0.0
        for c in inst.criteria:
            if c.weight_min is not None or c.weight_max is not None:
                lo += c.weight_min or 0.0
                hi += 1.0 if c.weight_max is None else c.weight_max
            elif c.weight is not None and not ordered:
                lo += c.weight
                hi += c.weight
            else:
                hi += 1.0
        known = {c.id for c in inst.criteria}
        hi += sum(1.0 for c in (inst.criteria_order or ()) if c not in known)
        if lo > 1 + 1e-9:
            self.log.error(self.ctx, f"the criteria's weight ranges cannot sum to 1: their lowest weights sum to "
                                     f"{lo:g} (weights with ranges are shares of 1)", key="criteria")
        elif hi < 1 - 1e-9:
            self.log.error(self.ctx, f"the criteria's weight ranges cannot sum to 1: their highest weights sum to "
                                     f"{hi:g} (weights with ranges are shares of 1)", key="criteria")
        weights = {c.id: c.weight for c in inst.criteria if c.weight is not None}
        chain = [c for c in (inst.criteria_order or ()) if c in weights]
        for a, b in zip(chain, chain[1:]):
            if weights[a] < weights[b]:
                self.log.warn(self.ctx, f"criterion {a!r} comes before {b!r} in criteria_order but has the smaller "
                                        f"weight ({weights[a]:g} < {weights[b]:g})", key="criteria_order")

    # -- schemes.csv --------------------------------------------------------------------------
    def schemes(self) -> None:
        """Ids unique (rejected rows count), organisations known, start windows inside the plan."""
        label = self.src.label("schemes")
        years = self.inst.years
        if not self.inst.schemes and not self.gaps.rejected_schemes and "schemes" not in self.gaps.tables:
            self.log.warn(label, "holds no schemes: there is nothing to choose from")
        first_rows: dict[str, int] = {}
        for sid, rows in self.gaps.rejected_schemes.items():
            first_rows[sid] = min(rows)
        bad_orgs = {s.org for s in self.inst.schemes} - self.org_ids
        bad_orgs = {o for o in bad_orgs if not self._org_ok(o)}
        year_set, first, last = self.year_set, years[0] if years else None, years[-1] if years else None
        for i, s in enumerate(self.inst.schemes):
            row = self.src.row("schemes", i)
            earlier = first_rows.get(s.id)
            if earlier is not None and earlier != row:
                first, later = sorted((earlier, row))
                self.log.error(label, f"duplicate scheme id {s.id!r} (first at row {first})", row=later,
                               column="id")
                first_rows[s.id] = first
            else:
                first_rows[s.id] = row
            if s.org in bad_orgs:
                self.log.error(label, self._unknown_org(s.org), row=row, column="org")
            if s.double_running_years and not s.double_running_cost:
                self.log.warn(label, f"double_running_years is {s.double_running_years} but "
                                     "double_running_cost is 0", row=row, column="double_running_years")
            if not self.years_ok or (s.earliest_start is None and s.latest_start is None):
                continue
            outside = False
            for column in ("earliest_start", "latest_start"):
                y = getattr(s, column)
                if y is not None and y not in year_set:
                    outside = True
                    self.log.error(label, f"{column} {y} is outside the plan years {self._span()}",
                                   row=row, column=column)
            lo = s.earliest_start if s.earliest_start is not None else first
            hi = s.latest_start if s.latest_start is not None else last
            if lo > hi and not outside:
                self.log.error(label, f"the start window is reversed: earliest_start {lo} is after "
                                      f"latest_start {hi}", row=row, column="earliest_start")

    # -- delivery risk (docs/risk.md) ---------------------------------------------------------
    def delivery_risk(self, context_known: bool) -> None:
        """Multipliers ordered, risk groups known and unique, risk settings complete."""
        label = self.src.label("schemes")
        self.unique_ids(self.inst.risk_groups, "risk group", "risk_groups")
        groups = {g.id for g in self.inst.risk_groups}
        groups_known = context_known and not self.gaps.risk_groups
        for i, s in enumerate(self.inst.schemes):
            row = self.src.row("schemes", i)
            if s.delivery_low > s.delivery_likely:
                self.log.error(label, f"delivery_low {s.delivery_low:g} is above delivery_likely "
                                      f"{s.delivery_likely:g} (empty cells are 1): expected low <= likely <= high",
                               row=row, column="delivery_low")
            elif s.delivery_likely > s.delivery_high:
                self.log.error(label, f"delivery_likely {s.delivery_likely:g} is above delivery_high "
                                      f"{s.delivery_high:g} (empty cells are 1): expected low <= likely <= high",
                               row=row, column="delivery_high")
            if s.risk_group and groups_known and s.risk_group not in groups:
                self.log.error(label, f"unknown risk group {show(s.risk_group)}{suggestion(s.risk_group, groups)}: "
                                      f"expected {_choices(groups)} ({self.src.name('context')} risk_groups)",
                               row=row, column="risk_group")
        if context_known and not self.gaps.objective:
            self._risk_objective()

    def _risk_objective(self) -> None:
        o = self.inst.objective
        target_ids = {t.id for t in self.inst.targets}
        if o.risk == "cvar":
            if o.cvar_max is None and o.cvar_penalty is None:
                self.log.error(self.ctx, "risk cvar needs cvar_max (a bound on the CVaR of the shortfall) or "
                                         "cvar_penalty (its price in the objective), or both", key="objective.risk")
            if not self.inst.targets:
                self.log.error(self.ctx, "risk cvar needs a target: its loss is the targets' shortfall",
                               key="objective.risk")
        if o.risk_targets is not None and not o.risk_targets and self.inst.targets:
            self.log.error(self.ctx, "is an empty list: name at least one target, or leave risk_targets out "
                                     "for every target", key="objective.risk_targets")
        for i, tid in enumerate(o.risk_targets or ()):
            if tid not in target_ids:
                self.log.error(self.ctx, f"unknown target {show(tid)}{suggestion(tid, target_ids)}: expected "
                                         f"{_choices(target_ids)}", key=f"objective.risk_targets[{i}]")
        if o.risk == "chance":
            if o.chance_target is None:
                self.log.error(self.ctx, "risk chance needs chance_target: the id of the target to meet",
                               key="objective.chance_target")
            elif o.chance_target not in target_ids:
                self.log.error(self.ctx, f"unknown target {show(o.chance_target)}"
                                         f"{suggestion(o.chance_target, target_ids)}: expected {_choices(target_ids)}",
                               key="objective.chance_target")
            if o.chance_probability is None:
                self.log.error(self.ctx, "risk chance needs chance_probability: the share of scenarios, 0 to 1, "
                                         "in which the target must be met", key="objective.chance_probability")
        for name, risk in (("cvar_max", "cvar"), ("cvar_penalty", "cvar"), ("risk_targets", "cvar"),
                           ("chance_target", "chance"), ("chance_probability", "chance")):
            if getattr(o, name) is not None and o.risk != risk:
                self.log.warn(self.ctx, f"{name} applies only to risk {risk} (risk is {o.risk}); it is ignored",
                              key=f"objective.{name}")

    # -- profiles.csv -------------------------------------------------------------------------
    def profiles(self) -> None:
        label = self.src.label("profiles")
        horizon = len(self.inst.years)
        profiles = self.inst.profiles
        self._scheme_refs("profiles", "scheme", [p.scheme for p in profiles])
        seen: dict[tuple, int] = {}
        for i, p in enumerate(profiles):
            key = (p.scheme, p.offset, canonical_metric(p.metric))
            if key in seen:
                self.log.error(label, f"scheme {p.scheme!r} offset {p.offset} metric {key[2]!r} is given "
                                      f"twice (also row {self.src.row('profiles', seen[key])})",
                               row=self.src.row("profiles", i), column="offset")
            else:
                seen[key] = i
            if self.years_ok and p.offset >= horizon:
                self.log.warn(label, f"offset {p.offset} is beyond the {horizon}-year plan (offsets 0 to "
                                     f"{horizon - 1}) and is ignored", row=self.src.row("profiles", i),
                              column="offset")

    # -- relations.csv ------------------------------------------------------------------------
    def relations(self) -> None:
        label = self.src.label("relations")
        self._scheme_refs("relations", "a", [r.a for r in self.inst.relations])
        self._scheme_refs("relations", "b", [r.b for r in self.inst.relations])
        seen: dict[tuple, int] = {}
        for i, r in enumerate(self.inst.relations):
            row = self.src.row("relations", i)
            key = (r.kind, *sorted((r.a, r.b))) if r.kind in ("excludes", "together") else (r.kind, r.a, r.b)
            if key in seen:
                self.log.warn(label, f"{r.kind} {r.a} {r.b} is given again (also row {seen[key]})", row=row)
            else:
                seen[key] = row
        if self.years_ok and self.inst.relations:
            _RelationAnalysis(self.inst, self.log, self.src, self.scheme_index, self.duplicate_schemes).run()

    # -- shares.csv ---------------------------------------------------------------------------
    def shares(self) -> None:
        """Known schemes and organisations, one row per pair, each share column summing to 1."""
        label = self.src.label("shares")
        rows_of: dict[str, list[int]] = defaultdict(list)
        sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
        seen: dict[tuple[str, str], int] = {}
        self._scheme_refs("shares", "scheme", [sh.scheme for sh in self.inst.shares])
        for i, sh in enumerate(self.inst.shares):
            row = self.src.row("shares", i)
            if not self._org_ok(sh.org):
                self.log.error(label, self._unknown_org(sh.org), row=row, column="org")
            if (sh.scheme, sh.org) in seen:
                self.log.error(label, f"scheme {sh.scheme!r} and organisation {sh.org!r} are given twice "
                                      f"(also row {seen[(sh.scheme, sh.org)]})", row=row, column="org")
            seen.setdefault((sh.scheme, sh.org), row)
            rows_of[sh.scheme].append(row)
            sums[sh.scheme][0] += sh.saving_share
            sums[sh.scheme][1] += sh.cost_share
        for scheme, (saving, cost) in sums.items():
            if scheme in self.gaps.rejected_share_schemes or scheme not in self.scheme_index:
                continue  # a row of it was rejected (or the scheme is unknown): the sum is not known
            rows = rows_of[scheme]
            where = f"row {rows[0]}" if len(rows) == 1 else f"rows {', '.join(map(str, rows))}"
            for column, total in (("saving_share", saving), ("cost_share", cost)):
                if abs(total - 1.0) > SHARE_TOLERANCE:
                    self.log.error(label, f"the {column} values of scheme {scheme!r} ({where}) sum to "
                                          f"{total:.6g}; they must sum to 1", row=rows[0], column=column)

    # -- scores.csv ---------------------------------------------------------------------------
    def scores(self) -> None:
        label = self.src.label("scores")
        criteria = {c.id for c in self.inst.criteria} | set(self.inst.criteria_order or ())
        seen: dict[tuple[str, str], int] = {}
        self._scheme_refs("scores", "scheme", [sc.scheme for sc in self.inst.scores])
        undefined = not criteria and not (self.gaps.context or self.gaps.criteria or self.gaps.rejected_criteria)
        if undefined and self.inst.scores:  # one message, not one per row
            self.log.error(label, f"scores {len({sc.criterion for sc in self.inst.scores})} criteria but "
                                  f"{self.src.name('context')} defines none: add criteria (or criteria_order)",
                           row=self.src.row("scores", 0), column="criterion")
        for i, sc in enumerate(self.inst.scores):
            row = self.src.row("scores", i)
            if undefined:
                pass
            elif sc.criterion not in criteria and not self.gaps.criterion_may_exist(sc.criterion):
                self.log.error(label, f"unknown criterion {sc.criterion!r}{suggestion(sc.criterion, criteria)}: "
                                      f"expected {_choices(criteria)} (the criteria of {self.src.name('context')})",
                               row=row, column="criterion")
            if (sc.scheme, sc.criterion) in seen:
                self.log.error(label, f"scheme {sc.scheme!r} is scored on {sc.criterion!r} twice "
                                      f"(also row {seen[(sc.scheme, sc.criterion)]})", row=row, column="score")
            seen.setdefault((sc.scheme, sc.criterion), row)
        self._unscored_schemes()

    def _unscored_schemes(self) -> None:
        """A scheme without a score on a criterion counts 0 there (docs/semantics.md): say so, once
        per scheme, wherever scores are weighed (a weighted_score objective, or criteria for rank).
        Criteria with no scores.csv at all are left to the commands that need scores (rank refuses)."""
        inst = self.inst
        if self.gaps.context or self.gaps.criteria or "scores" in self.gaps.tables or "schemes" in self.gaps.tables:
            return
        criteria = list(dict.fromkeys([c.id for c in inst.criteria] + list(inst.criteria_order or ())))
        if not (criteria and inst.scores) or not (inst.criteria or inst.objective.mode == "weighted_score"):
            return
        scored: dict[str, set[str]] = {}
        for sc in inst.scores:
            scored.setdefault(sc.scheme, set()).add(sc.criterion)
        label = self.src.label("schemes")
        for i, s in enumerate(inst.schemes):
            lacking = [c for c in criteria if c not in scored.get(s.id, ())]
            if lacking:
                self.log.warn(label, f"scheme {s.id!r} has no score for {', '.join(repr(c) for c in lacking)}: "
                                     f"counted as 0 there (no row of {self.src.name('scores')})",
                              row=self.src.row("schemes", i), column="id")


# -- relations: which schemes can never be selected ----------------------------------------------

@dataclass(frozen=True)
class _Edge:
    """One constraint t[head] <= t[tail] + weight (tail/head -1 is the plan's year zero), with its source."""

    tail: int
    head: int
    weight: int
    relation: int | None = None  # index into instance.relations; None for a start window
    bound: str = ""  # "earliest" or "latest" for a start window


class _Budget(Exception):
    pass


class _RelationAnalysis:
    """Find schemes that relations, start windows and the horizon make impossible to select.

    If a scheme is selected, so is everything it `requires` or goes `together` with (its closure
    S); choosing exactly S keeps every relation if and only if S holds no `excludes` pair and the
    start-year constraints of S have a solution. Those are difference constraints
    (t_b <= t_a - lag for requires, t_b >= t_a + lag for precedes, windows as bounds), which have
    an integer solution if and only if their graph has no negative cycle (Bellman-Ford). So the
    test is exact for relations and windows: a scheme reported can never be selected, and one not
    reported can be, as far as relations go (targets, limits, QIA rules and `excluded` may still
    bar it: those are left to the model).

    Schemes in one strongly connected part of the requires/together graph share their closure and
    are checked once; one that requires an impossible scheme is impossible too, and is named with
    the scheme that causes it. Impossible schemes are errors; so is a set of mandatory schemes that
    cannot all be selected. A scheme barred only because a mandatory scheme must be selected, and a
    `precedes` pair that can never both be selected, are warnings: the data is consistent, the
    option is merely dead.
    """

    def __init__(self, inst: Instance, log: ProblemLog, src: SourceRows,
                 index: dict[str, int], duplicates: set[str]):
        self.inst, self.log, self.src = inst, log, src
        self.label = src.label("relations")
        self.schemes: tuple[Scheme, ...] = inst.schemes
        self.first = inst.years[0]
        self.last_offset = len(inst.years) - 1
        self.budget = RELATION_CHECK_BUDGET
        self.window: dict[int, tuple[int, int]] = {}
        self.select: dict[int, list[tuple[int, int]]] = defaultdict(list)  # requires/together: a -> (b, rel)
        self.excludes: dict[int, list[tuple[int, int]]] = defaultdict(list)
        self.timing: dict[int, list[_Edge]] = defaultdict(list)  # start-year constraints by tail
        self._windows: dict[int, tuple[_Edge, _Edge]] = {}
        year_set = set(inst.years)
        usable = set()
        named = {r.a for r in inst.relations} | {r.b for r in inst.relations}
        for sid in named:
            i = index.get(sid)
            if i is None or sid in duplicates:
                continue
            s = self.schemes[i]
            if any(y is not None and y not in year_set for y in (s.earliest_start, s.latest_start)):
                continue  # already an error; its window would cause follow-on reports
            lo = (s.earliest_start - self.first) if s.earliest_start is not None else 0
            hi = (s.latest_start - self.first) if s.latest_start is not None else self.last_offset
            if lo <= hi:
                self.window[i] = (lo, hi)
                usable.add(sid)
        self.nodes: set[int] = set()
        for k, r in enumerate(inst.relations):
            if r.a not in usable or r.b not in usable:
                continue
            a, b = index[r.a], index[r.b]
            self.nodes.update((a, b))
            if r.kind == "requires":
                self.select[a].append((b, k))
                self._timing(_Edge(a, b, -r.lag, k))
            elif r.kind == "together":
                self.select[a].append((b, k))
                self.select[b].append((a, k))
            elif r.kind == "excludes":
                self.excludes[a].append((b, k))
                self.excludes[b].append((a, k))
            elif r.kind == "precedes":
                self._timing(_Edge(b, a, -r.lag, k))

    def _timing(self, edge: _Edge) -> None:
        self.timing[edge.tail].append(edge)  # by tail: each edge is met once, from its tail

    def _window_edges(self, i: int) -> tuple[_Edge, _Edge]:
        """lo <= t_i <= hi as two edges from and to the plan's year zero (made once per scheme)."""
        if i not in self._windows:
            lo, hi = self.window[i]
            self._windows[i] = (_Edge(-1, i, hi, bound="latest"), _Edge(i, -1, -lo, bound="earliest"))
        return self._windows[i]

    # -- words --------------------------------------------------------------------------------
    def _name(self, i: int) -> str:
        return self.schemes[i].id

    def _row(self, k: int) -> int:
        return self.src.row("relations", k)

    @staticmethod
    def _years(n: int) -> str:
        return f"{n} year" if n == 1 else f"{n} years"

    def _names(self, members, most: int = 8) -> str:
        names = [self._name(i) for i in members]
        if len(names) > most:
            names = names[:most] + [f"{len(names) - most} more"]
        return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]

    def _say_select(self, k: int) -> str:
        r: Relation = self.inst.relations[k]
        if r.kind == "together":
            return f"{r.a} and {r.b} go together (row {self._row(k)})"
        return f"{r.a} requires {r.b} (row {self._row(k)})"

    def _say_edge(self, e: _Edge) -> str:
        if e.relation is None:
            i = e.head if e.bound == "latest" else e.tail
            s = self.schemes[i]
            lo, hi = self.window[i]
            if e.bound == "latest":
                why = "its latest_start" if s.latest_start is not None else "the last plan year"
                return f"{s.id} can start no later than {self.first + hi} ({why})"
            why = "its earliest_start" if s.earliest_start is not None else "the first plan year"
            return f"{s.id} can start no earlier than {self.first + lo} ({why})"
        r = self.inst.relations[e.relation]
        row = self._row(e.relation)
        if r.kind == "requires":
            when = f"at least {self._years(r.lag)} before it" if r.lag else "no later than it"
            return f"{r.a} requires {r.b} to start {when} (row {row})"
        if r.lag:
            return f"{r.b} must start at least {self._years(r.lag)} after {r.a} (row {row})"
        return f"{r.b} must not start before {r.a} (row {row})"

    # -- graph work ---------------------------------------------------------------------------
    def _spend(self, units: int) -> None:
        self.budget -= units
        if self.budget < 0:
            raise _Budget

    def _closure(self, starts: list[int]) -> tuple[list[int], dict[int, tuple[int, int] | None]]:
        """Everything selected with `starts`, and how each was reached (parent, relation)."""
        parent: dict[int, tuple[int, int] | None] = {s: None for s in starts}
        order = list(starts)
        for u in order:
            self._spend(1 + len(self.select.get(u, ())))
            for v, k in self.select.get(u, ()):
                if v not in parent:
                    parent[v] = (u, k)
                    order.append(v)
        return order, parent

    def _path(self, node: int, parent) -> list[int]:
        """The relations that bring `node` into the closure, from a start outwards."""
        out = []
        while parent.get(node) is not None:
            node, k = parent[node]
            out.append(k)
        return out[::-1]

    def _conflict(self, members: list[int], parent) -> tuple[list[int], str] | None:
        """None if the set can be selected together; else (relation indices, reason in words)."""
        chosen = set(members)
        for u in members:
            for v, k in self.excludes.get(u, ()):
                if v in chosen:
                    via = self._path(u, parent)
                    via += [p for p in self._path(v, parent) if p not in via]
                    r = self.inst.relations[k]
                    return via + [k], self._reason(
                        [self._say_select(p) for p in via], [f"{r.a} excludes {r.b} (row {self._row(k)})"])
        cycle = self._negative_cycle(members, chosen)
        if cycle is None:
            return None
        touched = {e.tail for e in cycle} | {e.head for e in cycle}
        cycle_rels = [e.relation for e in cycle if e.relation is not None]
        via: list[int] = []
        for node in members:
            if node in touched:
                via += [p for p in self._path(node, parent) if p not in via and p not in cycle_rels]
        return via + cycle_rels, self._reason(
            [self._say_select(p) for p in via], [self._say_edge(e) for e in cycle])

    @staticmethod
    def _reason(how: list[str], clash: list[str]) -> str:
        """"A requires B (row 2), but B excludes A (row 3)": how the set arises, then the clash."""
        clash_text = "; ".join(clash)
        return f"{'; '.join(how)}, but {clash_text}" if how else clash_text

    def _negative_cycle(self, members: list[int], chosen: set[int]) -> list[_Edge] | None:
        """Bellman-Ford on the start-year constraints of `members`; a negative cycle, in order."""
        zero = -1
        self._spend(len(members))
        edges: list[_Edge] = []
        for i in members:
            edges += self._window_edges(i)
            edges += [e for e in self.timing.get(i, ()) if e.head in chosen]
        nodes = len(members) + 1
        dist = dict.fromkeys(members, 0)
        dist[zero] = 0
        pred: dict[int, _Edge] = {}
        updated = None
        for _ in range(nodes):
            self._spend(len(edges))
            updated = None
            for e in edges:
                if dist[e.tail] + e.weight < dist[e.head]:
                    dist[e.head] = dist[e.tail] + e.weight
                    pred[e.head] = e
                    updated = e.head
            if updated is None:
                return None
        node = updated
        for _ in range(nodes):
            node = pred[node].tail
        cycle = []
        start = node
        while True:
            e = pred[node]
            cycle.append(e)
            node = e.tail
            if node == start:
                break
        cycle.reverse()
        # Read it from the plan's year zero when the windows are part of the reason.
        at_zero = [n for n, e in enumerate(cycle) if e.tail == zero]
        if at_zero:
            start_at = at_zero[0]
        else:  # from the relation on the earliest row
            start_at = min(range(len(cycle)), key=lambda n: self._row(cycle[n].relation))
        return cycle[start_at:] + cycle[:start_at]

    def _components(self) -> list[list[int]]:
        """Strongly connected parts of the requires/together graph, sinks first (Tarjan)."""
        index: dict[int, int] = {}
        low: dict[int, int] = {}
        stack: list[int] = []
        on_stack: set[int] = set()
        out: list[list[int]] = []
        counter = 0
        for root in sorted(self.nodes):
            if root in index:
                continue
            work = [(root, iter(self.select.get(root, ())))]
            index[root] = low[root] = counter
            counter += 1
            stack.append(root)
            on_stack.add(root)
            while work:
                node, it = work[-1]
                advanced = False
                for v, _ in it:
                    if v not in index:
                        index[v] = low[v] = counter
                        counter += 1
                        stack.append(v)
                        on_stack.add(v)
                        work.append((v, iter(self.select.get(v, ()))))
                        advanced = True
                        break
                    if v in on_stack:
                        low[node] = min(low[node], index[v])
                if advanced:
                    continue
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    part = []
                    while True:
                        v = stack.pop()
                        on_stack.discard(v)
                        part.append(v)
                        if v == node:
                            break
                    out.append(sorted(part))
        return out

    # -- the analysis -------------------------------------------------------------------------
    def run(self) -> None:
        try:
            self._run()
        except _Budget:
            self.log.warn(self.label, "the relations link so many schemes that the check for impossible "
                                      "combinations stopped early; a contradiction it did not reach shows "
                                      "as an infeasible plan")

    def _run(self) -> None:
        parts = self._components()
        part_of = {i: n for n, part in enumerate(parts) for i in part}
        impossible: dict[int, int] = {}  # part -> the root part that makes it impossible
        roots: dict[int, tuple[list[int], list[str]]] = {}
        dependents: dict[int, list[int]] = defaultdict(list)
        for n, part in enumerate(parts):  # sinks first, so successors are settled
            cause = next((impossible[part_of[v]] for u in part for v, _ in self.select.get(u, ())
                          if part_of[v] != n and part_of[v] in impossible), None)
            if cause is not None:
                impossible[n] = cause
                dependents[cause].extend(part)
                continue
            members, parent = self._closure([part[0]])
            conflict = self._conflict(members, parent)
            if conflict is not None:
                impossible[n] = n
                roots[n] = conflict
        mandatory_blocked = set()
        for n, (rels, reason) in roots.items():
            part = parts[n]
            message = f"{self._names(part)} can never be selected: {reason}."
            deps = dependents.get(n, [])
            if deps:
                message += f" Nor can {self._names(deps)}, which depend on {'it' if len(part) == 1 else 'them'}."
            mandatory = [i for i in part + deps if self.schemes[i].mandatory]
            if mandatory:
                mandatory_blocked.update(mandatory)
                message += (f" {self._names(mandatory)} {'is' if len(mandatory) == 1 else 'are'} mandatory, "
                            "so no plan can keep these relations: the instance is infeasible.")
                self._report(self.log.warn, message, rels)  # valid format, infeasible: solve says so (exit 3)
            else:  # the data is consistent (the format allows it): the plan just leaves them out
                message += f" The plan leaves {'it' if len(part) + len(deps) == 1 else 'them'} out."
                self._report(self.log.warn, message, rels)
        self._mandatory(parts, impossible, mandatory_blocked)
        self._precedes_pairs(part_of, impossible)

    def _report(self, report, message: str, rels: list[int]) -> None:
        """Log at the first relations.csv row of the reason (column lag if one lag is the cause)."""
        rows = sorted(self._row(k) for k in rels)
        column = "lag" if len(set(rels)) == 1 and self.inst.relations[rels[0]].lag else None
        report(self.label, message, row=rows[0] if rows else None, column=column)

    def _groups(self) -> dict[int, int]:
        """Scheme -> its group: schemes linked by relations of any kind (union-find)."""
        root = {i: i for i in self.nodes}

        def find(i: int) -> int:
            while root[i] != i:
                root[i] = root[root[i]]
                i = root[i]
            return i

        links = [(a, b) for a, bs in self.select.items() for b, _ in bs]
        links += [(a, b) for a, bs in self.excludes.items() for b, _ in bs]
        links += [(e.tail, e.head) for edges in self.timing.values() for e in edges]
        for a, b in links:
            ra, rb = find(a), find(b)
            if ra != rb:
                root[ra] = rb
        return {i: find(i) for i in self.nodes}

    def _mandatory(self, parts, impossible, blocked: set[int]) -> None:
        """Mandatory schemes that cannot all be selected, which makes the instance infeasible, and
        options they rule out: warnings (the format allows both; solve reports the infeasibility).

        Only schemes linked by relations can interact, so each group is checked on its own.
        """
        group = self._groups()
        mandatory_of: dict[int, list[int]] = defaultdict(list)
        for i in sorted(self.nodes):
            if self.schemes[i].mandatory:
                mandatory_of[group[i]].append(i)
        parts_of: dict[int, list[int]] = defaultdict(list)
        for n, part in enumerate(parts):
            parts_of[group[part[0]]].append(n)
        for g, mandatory in mandatory_of.items():
            if blocked & set(mandatory):
                continue  # already reported as impossible
            members, parent = self._closure(mandatory)
            conflict = self._conflict(members, parent)
            ids = {self.schemes[i].id: i for i in mandatory}
            if conflict is not None:
                rels, reason = conflict
                involved = self._involved(rels, ids) or mandatory
                self._report(self.log.warn, f"the mandatory schemes {self._names(involved)} cannot all be "
                                            f"selected, so no plan is possible (the instance is infeasible): "
                                            f"{reason}.", rels)
                continue
            forced = set(members)
            for n in parts_of[g]:
                part = parts[n]
                if n in impossible or part[0] in forced:
                    continue
                members, parent = self._closure([part[0]] + mandatory)
                conflict = self._conflict(members, parent)
                if conflict is None:
                    continue
                rels, reason = conflict
                involved = self._involved(rels, ids) or mandatory
                verb = "is" if len(involved) == 1 else "are"
                self._report(self.log.warn, f"{self._names(part)} can never be selected, because "
                                            f"{self._names(involved)} {verb} mandatory: {reason}.", rels)
                impossible[n] = n

    def _involved(self, rels: list[int], ids: dict[str, int]) -> list[int]:
        """The schemes of `ids` that the relations `rels` name."""
        named = {x for k in rels for x in (self.inst.relations[k].a, self.inst.relations[k].b)}
        return sorted(ids[x] for x in named if x in ids)

    def _precedes_pairs(self, part_of, impossible) -> None:
        """A precedes pair that can never both be selected acts as `excludes`: worth a warning."""
        index = {self.schemes[i].id: i for i in self.nodes}
        for k, r in enumerate(self.inst.relations):
            if r.kind != "precedes" or r.a not in index or r.b not in index:
                continue
            a, b = index[r.a], index[r.b]
            if part_of[a] in impossible or part_of[b] in impossible:
                continue
            members, parent = self._closure([a, b])
            conflict = self._conflict(members, parent)
            if conflict is None:
                continue
            self.log.warn(self.label, f"{r.a} and {r.b} can never both be selected (so this precedes acts "
                                      f"as excludes): {conflict[1]}.", row=self._row(k), column="lag")
