"""Meaning checks across the tables of an instance: references, horizons, shares, windows.

Structure and ranges are checked by the pydantic models; here are the rules that need more
than one row or file. Every problem is logged with its place; nothing stops at the first.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from cipopt.schema.instance import BUILTIN_METRICS, STANDARD_DOMAINS, Instance
from cipopt.schema.problems import ProblemLog

SHARE_TOLERANCE = 1e-6


@dataclass
class SourceRows:
    """Where each validated row came from, so problems found later still name their cell."""

    labels: dict[str, str] = field(default_factory=dict)
    rows: dict[str, list[int]] = field(default_factory=dict)

    def label(self, table: str) -> str:
        return self.labels.get(table, "instance.yaml" if table == "context" else f"{table}.csv")

    def row(self, table: str, index: int) -> int:
        numbers = self.rows.get(table)
        return numbers[index] if numbers and index < len(numbers) else index + 2


def known_metrics(instance: Instance) -> set[str]:
    """Every metric a limit may name: built-in, custom columns, profile metrics, QIA domains."""
    names = set(BUILTIN_METRICS) | set(STANDARD_DOMAINS)
    for scheme in instance.schemes:
        names.update(scheme.metrics)
    names.update(p.metric for p in instance.profiles)
    return names


def validate_instance(instance: Instance, log: ProblemLog, src: SourceRows | None = None) -> None:
    src = src or SourceRows()
    ctx = src.label("context")
    years = instance.years
    year_set = set(years)

    if not years:
        log.error(ctx, "at least one plan year is required", key="years")
        return
    if any(b != a + 1 for a, b in zip(years, years[1:])):
        log.error(ctx, f"years must be consecutive and increasing, got {list(years)}", key="years")

    org_ids = [o.id for o in instance.organisations]
    _duplicates(org_ids, lambda i, v: log.error(ctx, f"duplicate organisation id {v!r}", key=f"organisations[{i}].id"))
    orgs = set(org_ids)

    rule_ids = [t.id for t in instance.targets] + [lim.id for lim in instance.limits]
    _duplicates(rule_ids, lambda i, v: log.error(ctx, f"target and limit ids must be unique: {v!r} is used twice", key="targets/limits"))

    metrics = known_metrics(instance)
    for kind, rules in (("targets", instance.targets), ("limits", instance.limits)):
        for i, rule in enumerate(rules):
            if rule.org is not None and rule.org not in orgs:
                log.error(ctx, f"unknown organisation {rule.org!r}", key=f"{kind}[{i}].org")
            for y in rule.values:
                if y not in year_set:
                    log.error(ctx, f"year {y} is outside the plan years {years[0]}-{years[-1]}",
                              key=f"{kind}[{i}].values.{y}")
            if kind == "limits" and rule.metric not in metrics:
                log.error(ctx, f"unknown metric {rule.metric!r}: not a built-in metric, a numeric "
                               "column of schemes.csv or a metric of profiles.csv", key=f"{kind}[{i}].metric")

    q = instance.quality
    for d in q.domains:
        if d not in STANDARD_DOMAINS and d not in metrics:
            log.error(ctx, f"quality domain {d!r} is not a score column of schemes.csv", key="quality.domains")
    for key, mins in (("scheme_min", q.scheme_min), ("portfolio_min", q.portfolio_min)):
        for d in mins:
            if d not in q.domains:
                log.error(ctx, f"{d!r} is not one of the quality domains {list(q.domains)}", key=f"quality.{key}.{d}")

    # schemes
    scheme_ids: dict[str, int] = {}
    for i, s in enumerate(instance.schemes):
        row = src.row("schemes", i)
        label = src.label("schemes")
        if s.id in scheme_ids:
            log.error(label, f"duplicate scheme id {s.id!r} (first at row {src.row('schemes', scheme_ids[s.id])})",
                      row=row, column="id")
        else:
            scheme_ids[s.id] = i
        if s.org not in orgs:
            log.error(label, f"unknown organisation {s.org!r}", row=row, column="org")
        for column in ("earliest_start", "latest_start"):
            y = getattr(s, column)
            if y is not None and y not in year_set:
                log.error(label, f"year {y} is outside the plan years {years[0]}-{years[-1]}", row=row, column=column)
        lo = s.earliest_start if s.earliest_start is not None else years[0]
        hi = s.latest_start if s.latest_start is not None else years[-1]
        if lo > hi:
            log.error(label, f"the start window is reversed: earliest_start {lo} is after latest_start {hi}",
                      row=row, column="earliest_start")
        if s.double_running_years and not s.double_running_cost:
            log.warn(label, "double_running_years is set but double_running_cost is 0", row=row,
                     column="double_running_years")

    def check_scheme_ref(table: str, i: int, column: str, value: str) -> None:
        if value not in scheme_ids:
            log.error(src.label(table), f"unknown scheme {value!r}", row=src.row(table, i), column=column)

    seen_profile: dict[tuple, int] = {}
    for i, p in enumerate(instance.profiles):
        check_scheme_ref("profiles", i, "scheme", p.scheme)
        key = (p.scheme, p.offset, p.metric)
        if key in seen_profile:
            log.error(src.label("profiles"), f"{p.scheme} offset {p.offset} metric {p.metric} is given twice "
                      f"(also row {src.row('profiles', seen_profile[key])})", row=src.row("profiles", i))
        seen_profile[key] = i
        if p.offset >= len(years):
            log.warn(src.label("profiles"), f"offset {p.offset} is beyond the {len(years)}-year horizon and is ignored",
                     row=src.row("profiles", i), column="offset")

    for i, r in enumerate(instance.relations):
        check_scheme_ref("relations", i, "a", r.a)
        check_scheme_ref("relations", i, "b", r.b)

    share_sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    seen_share: set[tuple[str, str]] = set()
    for i, sh in enumerate(instance.shares):
        check_scheme_ref("shares", i, "scheme", sh.scheme)
        if sh.org not in orgs:
            log.error(src.label("shares"), f"unknown organisation {sh.org!r}", row=src.row("shares", i), column="org")
        if (sh.scheme, sh.org) in seen_share:
            log.error(src.label("shares"), f"{sh.scheme} / {sh.org} is given twice", row=src.row("shares", i))
        seen_share.add((sh.scheme, sh.org))
        share_sums[sh.scheme][0] += sh.saving_share
        share_sums[sh.scheme][1] += sh.cost_share
    for scheme, (saving, cost) in share_sums.items():
        for column, total in (("saving_share", saving), ("cost_share", cost)):
            if abs(total - 1.0) > SHARE_TOLERANCE:
                log.error(src.label("shares"), f"the {column} of scheme {scheme!r} sums to {total:g}, not 1",
                          column=column)

    criteria = {c.id for c in instance.criteria}
    for i, sc in enumerate(instance.scores):
        check_scheme_ref("scores", i, "scheme", sc.scheme)
        if sc.criterion not in criteria:
            log.error(src.label("scores"), f"unknown criterion {sc.criterion!r} (not in instance.yaml criteria)",
                      row=src.row("scores", i), column="criterion")
    if instance.objective.mode == "weighted_score" and not instance.criteria:
        log.error(ctx, "objective mode weighted_score needs criteria (and scores.csv)", key="objective.mode")


def _duplicates(values: list[str], report) -> None:
    seen = set()
    for i, v in enumerate(values):
        if v in seen:
            report(i, v)
        seen.add(v)
