"""What a scenario file is (`scenarios/NAME.yaml`, docs/whatif.md): overrides of an instance.

These models are the one description of the file: their docstrings are the reference
(docs/format.md's generated table), and the scenario reader (cipopt.analysis.scenario_read)
takes its keys, and so its warnings about unknown keys, from them and validates every file
against them. Its own checks come first, so that a problem is reported in the words and with the
key path a planner needs (`scale[0].factor`); tests hold that both refuse the same files. It
builds the parsed `Scenario`, whose references are checked against the instance when applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import Field, field_validator, model_validator

from cipopt.schema.base import Frozen
from cipopt.schema.instance import Scheme


class ScaleEntry(Frozen):
    """An entry of `scale`: a factor on a metric of the selected schemes, or on a limit's or a
    target's yearly values."""

    metric: str | None = None
    """A metric of the schemes (saving, one_off_cost, a custom column, or confidence) to multiply."""
    limit: str | None = None
    """A limit whose yearly values to multiply (instead of a metric)."""
    target: str | None = None
    """A target whose yearly values to multiply (instead of a metric)."""
    factor: float = Field(ge=0)
    """What to multiply by: 0.8 for 80%."""
    category: str | list[str] | None = None
    """metric only: scale only the schemes of this category (or these categories)."""
    org: str | list[str] | None = None
    """metric only: scale only the schemes this organisation (or these) runs."""
    schemes: str | list[str] | None = None
    """metric only: scale only these schemes."""
    years: int | list[int] | None = None
    """limit or target only: scale only these years' values."""

    @model_validator(mode="after")
    def _one_kind(self) -> "ScaleEntry":
        kinds = [k for k in ("metric", "limit", "target") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("give exactly one of metric (scheme values), limit or target (its yearly values)")
        if self.metric is None and any(getattr(self, k) is not None for k in ("category", "org", "schemes")):
            raise ValueError("category, org and schemes select schemes, which applies to metric entries only")
        if self.metric is not None and self.years is not None:
            raise ValueError("years applies to limit and target entries; a metric is scaled in every year")
        return self


class DelayEntry(Frozen):
    """An entry of `delay`: the start windows of the selected schemes move by whole years."""

    years: int
    """How many years later the selected schemes may start (negative brings them forward)."""
    category: str | list[str] | None = None
    """Delay only the schemes of this category (or these categories)."""
    org: str | list[str] | None = None
    """Delay only the schemes this organisation (or these) runs."""
    schemes: str | list[str] | None = None
    """Delay only these schemes."""


class ScenarioFile(Frozen):
    """A scenario file as written; its parts are applied in this order (docs/whatif.md)."""

    description: str = ""
    """What the scenario asks, in words: shown with its results."""
    context: dict[str, Any] = {}
    """A deep merge into instance.yaml; a rule list with ids may be given as a mapping by id (null removes one)."""
    schemes: dict[str, dict[str, Any]] = {}
    """Per scheme id, the fields to change (e.g. epr: {confidence: 0.6}), custom columns included."""
    scale: tuple[ScaleEntry, ...] = ()
    """Factors on metrics of selected schemes, or on a limit's or a target's yearly values."""
    delay: tuple[DelayEntry, ...] = ()
    """Shifts of the selected schemes' start windows by whole years."""
    force_in: tuple[str, ...] = ()
    """Schemes that become mandatory."""
    force_out: tuple[str, ...] = ()
    """Schemes that become excluded."""

    @field_validator("*", mode="before")
    @classmethod
    def _as_written(cls, value, info):
        """The shorthands a planner writes and the reader takes: a key left empty, one entry of
        `scale` or `delay` without its list, one scheme id without its list."""
        if value is None:
            return cls.model_fields[info.field_name].get_default(call_default_factory=True)
        if info.field_name in ("scale", "delay") and isinstance(value, dict):
            return [value]
        if info.field_name in ("force_in", "force_out") and isinstance(value, str):
            return [value]
        return value


SCENARIO_KEYS = tuple(ScenarioFile.model_fields)
SCALE_KEYS = tuple(ScaleEntry.model_fields)
DELAY_KEYS = tuple(DelayEntry.model_fields)


# -- the parsed scenario: its structure checked, its references not yet ---------------------------

@dataclass(frozen=True)
class Selector:
    """Which schemes a `scale` or `delay` entry applies to: all conditions together (none = all)."""

    categories: tuple[str, ...] | None = None
    orgs: tuple[str, ...] | None = None
    schemes: tuple[str, ...] | None = None

    def matches(self, scheme: Scheme) -> bool:
        return ((self.categories is None or scheme.category in self.categories)
                and (self.orgs is None or scheme.org in self.orgs)
                and (self.schemes is None or scheme.id in self.schemes))

    def words(self) -> str:
        parts = []
        if self.categories is not None:
            parts.append("category " + "/".join(self.categories))
        if self.orgs is not None:
            parts.append("organisation " + "/".join(self.orgs))
        if self.schemes is not None:
            parts.append("schemes " + ", ".join(self.schemes))
        return " and ".join(parts) or "every scheme"


@dataclass(frozen=True)
class ScaleRule:
    key: str  # where it is in the file, e.g. "scale[0]"
    factor: float
    metric: str | None = None  # canonical metric name, or "confidence"
    limit: str | None = None
    target: str | None = None
    select: Selector = Selector()
    years: tuple[int, ...] | None = None  # limit / target: only these years


@dataclass(frozen=True)
class DelayRule:
    key: str
    years: int
    select: Selector = Selector()


@dataclass(frozen=True)
class Scenario:
    """A scenario file as read: its structure checked, its references not yet (see `apply`)."""

    name: str
    file: str
    description: str = ""
    context: dict[str, Any] = field(default_factory=dict)
    schemes: dict[str, dict[str, Any]] = field(default_factory=dict)
    scale: tuple[ScaleRule, ...] = ()
    delay: tuple[DelayRule, ...] = ()
    force_in: tuple[str, ...] = ()
    force_out: tuple[str, ...] = ()
