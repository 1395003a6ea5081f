"""What the meaning checks know besides the instance: where each row came from (`SourceRows`), what
could not be read (`Gaps`), and the names and limits they share."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from cipopt.schema.instance import BUILTIN_METRICS, STANDARD_DOMAINS, Instance, Scheme

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


def choices(known, most: int = 12) -> str:
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
