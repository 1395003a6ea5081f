"""The meaning checks of the tables: schemes.csv, profiles.csv, relations.csv, shares.csv, scores.csv."""

from __future__ import annotations

from collections import defaultdict

from cipopt.schema.checks import CheckBase
from cipopt.schema.gaps import SHARE_TOLERANCE, canonical_metric, choices as _choices, suggestion
from cipopt.schema.relations import RelationAnalysis

class TableRules(CheckBase):
    """The checks of the tables (each says in its message what is expected)."""

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
            RelationAnalysis(self.inst, self.log, self.src, self.scheme_index, self.duplicate_schemes).run()

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
