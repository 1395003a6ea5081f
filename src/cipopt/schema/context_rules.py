"""The meaning checks of instance.yaml: years, organisations, targets and limits, fair shares, QIA
rules, criteria, and the delivery-risk settings (with the schemes' multipliers they govern)."""

from __future__ import annotations

from cipopt.schema.checks import CheckBase
from cipopt.schema.gaps import MAX_YEARS, choices as _choices, known_metrics, suggestion
from cipopt.schema.instance import BUILTIN_METRICS, STANDARD_DOMAINS
from cipopt.schema.problems import show

class ContextRules(CheckBase):
    """The checks of instance.yaml (each says in its message what is expected)."""

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
