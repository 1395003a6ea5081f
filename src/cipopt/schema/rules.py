"""A rule of the instance named by what it is: `RuleRef(kind, id, year, org)`, not a string.

Analyses ease, vary and report targets, limits and quality floors. Naming them by the years.csv
measure ("target:ID") and editing their bounds with `model_copy` let a misspelt kind or a NaN
bound through unseen; here the measure is only a spelling of the reference, and a rule's bounds
change only through `with_values`, which validates the edited rule again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from cipopt.schema.instance import Instance

KINDS = ("target", "limit", "quality")
SECTION = {"target": "targets", "limit": "limits"}


@dataclass(frozen=True)
class RuleRef:
    """One rule (a target, a limit, or a quality floor: id = the domain), optionally one year of it."""

    kind: str
    id: str
    year: int | None = None
    org: str | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"a rule is one of {', '.join(KINDS)}, not {self.kind!r}")

    @property
    def measure(self) -> str:
        """Its name in years.csv's measure column (and explain's rule column)."""
        return f"{self.kind}:{self.id}"

    @classmethod
    def from_measure(cls, measure: str, year: int | None = None, org: str | None = None) -> RuleRef | None:
        """The rule a years.csv measure names, None for a measure that is not a rule (a metric)."""
        kind, sep, rule_id = str(measure).partition(":")
        if not sep or kind not in KINDS:
            return None
        return cls(kind, rule_id, year, org)

    @classmethod
    def groups(cls, years, kind: str) -> dict[RuleRef, Any]:
        """years.csv's rows of one kind of rule, one group per rule and org (`all`: the system),
        keyed by the rule they measure; `years` is the table as read (a DataFrame)."""
        if kind not in KINDS:
            raise ValueError(f"a rule is one of {', '.join(KINDS)}, not {kind!r}")
        out: dict[RuleRef, Any] = {}
        for (measure, org), group in years.groupby(["measure", "org"], sort=False):
            ref = cls.from_measure(measure, org=str(org))
            if ref is not None and ref.kind == kind:
                out[ref] = group
        return out

    def at(self, year: int | None) -> RuleRef:
        return replace(self, year=year)

    def rule(self, instance: Instance):
        """The instance's Target or Limit (None for a quality floor, which is one number)."""
        if self.kind == "quality":
            return None
        found = next((r for r in getattr(instance, SECTION[self.kind]) if r.id == self.id), None)
        if found is None:
            raise ValueError(f"the instance has no {self.kind} {self.id!r}")
        return found

    def values(self, instance: Instance) -> dict[int, float]:
        """Its yearly bounds (a quality floor: the one floor in every plan year, {} if none is set)."""
        if self.kind == "quality":
            floor = instance.quality.portfolio_min.get(self.id)
            return {} if floor is None else {int(y): float(floor) for y in instance.years}
        return dict(self.rule(instance).values)

    def with_values(self, instance: Instance, values: dict[int, float]) -> Instance:
        """The instance with this rule's yearly bounds replaced, the edited rule validated again
        (finite bounds in plan years; a quality floor is one value, the same in every year)."""
        values = {int(y): float(v) for y, v in values.items()}
        bad = [y for y, v in values.items() if not math.isfinite(v)]
        if bad:
            raise ValueError(f"{self.measure}: the bound in {bad[0]} is not a finite number")
        outside = sorted(set(values) - {int(y) for y in instance.years})
        if outside:
            raise ValueError(f"{self.measure}: {outside[0]} is not a plan year")
        if self.kind == "quality":
            if self.id not in instance.quality.domains:
                raise ValueError(f"{self.measure}: {self.id!r} is not a quality domain of the instance")
            floors = set(values.values())
            if len(floors) != 1:
                raise ValueError(f"{self.measure}: a quality floor is one value for every year")
            q = instance.quality
            quality = type(q).model_validate({**q.model_dump(), "portfolio_min": {**q.portfolio_min,
                                                                                 self.id: floors.pop()}})
            return instance.model_copy(update={"quality": quality})
        old = self.rule(instance)
        new = type(old).model_validate({**old.model_dump(), "values": values})
        section = SECTION[self.kind]
        return instance.model_copy(update={section: tuple(new if r is old else r for r in getattr(instance, section))})

    def with_value(self, instance: Instance, year: int, value: float) -> Instance:
        """One year's bound set to `value` (a quality floor: its one value, every year)."""
        if self.kind == "quality":
            return self.with_values(instance, {int(y): value for y in instance.years})
        return self.with_values(instance, {**self.values(instance), int(year): value})
