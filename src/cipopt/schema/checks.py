"""The state and helpers every meaning check shares (schema/validate.py puts the checks together)."""

from __future__ import annotations

from cipopt.schema.gaps import MAX_MAGNITUDE, MONEY_FIELDS, Gaps, SourceRows, choices as _choices, suggestion
from cipopt.schema.instance import Instance
from cipopt.schema.problems import ProblemLog, show

class CheckBase:
    """What the checks share: the instance, where its rows came from, what is missing, its ids."""

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

    def unique_ids(self, items, what: str, key: str) -> None:
        """Each id of an instance.yaml list once; a repeat is named with the entry it repeats."""
        seen: dict[str, int] = {}
        for i, item in enumerate(items):
            if item.id in seen:
                self.log.error(self.ctx, f"duplicate {what} id {item.id!r} (also {key}[{seen[item.id]}])",
                               key=f"{key}[{i}].id")
            seen.setdefault(item.id, i)
