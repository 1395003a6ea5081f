"""A plan's yearly figures recomputed from the instance alone: numpy over schemes × years.

This module is the checker's own reading of the format page's metric tables ("Built-in metrics by
offset", profiles.csv, shares.csv). It deliberately shares no code with the model or with
`cipopt.coefficients`, so that a mistake there cannot hide itself here.

Every array is (schemes, years): entry [s, y] is what scheme s contributes in plan year y under
the plan (0 where it is not active). Years are positions 0..H-1 in `instance.years`.
"""

from __future__ import annotations

from collections import defaultdict
from operator import attrgetter

import numpy as np

from cipopt.schema.instance import COST_METRICS, SAVING_METRICS, STANDARD_DOMAINS, Instance

NUMERIC_COLUMNS = (
    "confidence", "recurrent_saving", "first_year_fraction", "nonrecurrent_saving", "one_off_cost",
    "capital_cost", "running_cost", "double_running_cost", "double_running_years", "qia_risk",
    "qia_approved", *STANDARD_DOMAINS,
)
NOT_SELECTED = np.iinfo(np.int64).min // 4  # a start "year" that makes a scheme inactive everywhere


def metric_name(name: str) -> str:
    """semantics.md: in profiles.csv the metric name `recurrent_saving` means `saving`."""
    return "saving" if name == "recurrent_saving" else name


class PlanFigures:
    """Per-scheme, per-year plan values of any metric, and their totals for an organisation."""

    def __init__(self, instance: Instance, starts: np.ndarray):
        """`starts` is one start year per scheme of `instance.schemes`, NOT_SELECTED if none."""
        self.instance = instance
        self.schemes = instance.schemes
        self.years = np.asarray(instance.years, dtype=np.int64)
        self.horizon = len(self.years)
        self.selected = starts != NOT_SELECTED
        # offset[s, y] = y - start; a scheme is active from its start year to the horizon's end.
        self.offset = self.years[None, :] - np.where(self.selected, starts, 0)[:, None]
        self.active = self.selected[:, None] & (self.offset >= 0)
        self.index = {s.id: i for i, s in enumerate(self.schemes)}
        self._profiles = self._group_profiles()
        # Caches: each array is computed once per check, however many rules read it.
        self._columns: dict[str, np.ndarray] = {}
        self._custom: dict[str, np.ndarray] = {}
        self._metrics: dict[str, np.ndarray] = {}
        self._weights: dict[tuple[str, str], np.ndarray] = {}
        self._contributions: dict[tuple, np.ndarray] = {}
        self._members: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}

    # -- scheme attributes as vectors ---------------------------------------------------------
    def column(self, attribute: str) -> np.ndarray:
        """A numeric schemes.csv column as a vector (read once: 50,000 schemes make reads count)."""
        if not self._columns:
            read = attrgetter(*NUMERIC_COLUMNS)
            table = np.array([read(s) for s in self.schemes], dtype=float).reshape(len(self.schemes), -1)
            self._columns.update(zip(NUMERIC_COLUMNS, table.T))
        return self._columns[attribute]

    def score(self, name: str) -> np.ndarray:
        """The schemes.csv value of a QIA domain or custom numeric column (0 where a scheme has none)."""
        if name in STANDARD_DOMAINS:
            return self.column(name)
        if name not in self._custom:
            self._custom[name] = np.array([s.metrics.get(name, 0.0) for s in self.schemes], dtype=float)
        return self._custom[name]

    def confidence(self) -> np.ndarray:
        """c of the format page: confidence when `risk: expected` (or cvar, chance: docs/risk.md), else 1."""
        if self.instance.objective.counts_confidence:
            return self.column("confidence")
        return np.ones(len(self.schemes))

    # -- metrics ------------------------------------------------------------------------------
    def _group_profiles(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """metric -> (scheme indices, values by offset 0..H-1); offsets beyond the horizon dropped."""
        rows: dict[str, dict[int, np.ndarray]] = defaultdict(dict)
        for p in self.instance.profiles:
            by_scheme = rows[metric_name(p.metric)]
            s = self.index[p.scheme]
            if s not in by_scheme:
                by_scheme[s] = np.zeros(self.horizon)  # offsets not listed are 0
            if p.offset < self.horizon:  # semantics.md: offsets at or beyond the horizon are ignored
                by_scheme[s][p.offset] = p.value
        return {
            m: (np.array(list(by), dtype=np.int64), np.array(list(by.values())).reshape(len(by), self.horizon))
            for m, by in rows.items()
        }

    def _derived(self, metric: str) -> np.ndarray:
        """The format page's table "Built-in metrics by offset", or a constant for other metrics."""
        k = self.offset
        if metric == "saving":
            full = self.column("recurrent_saving")[:, None]
            return np.where(k == 0, full * self.column("first_year_fraction")[:, None], full)
        if metric in ("nonrecurrent_saving", "one_off_cost", "capital_cost"):
            return np.where(k == 0, self.column(metric)[:, None], 0.0)
        if metric == "running_cost":
            return np.broadcast_to(self.column("running_cost")[:, None], k.shape)
        if metric == "double_running_cost":
            cost = self.column("double_running_cost")[:, None]
            return np.where(k < self.column("double_running_years")[:, None], cost, 0.0)
        # A QIA domain score or a custom numeric column: the value in every active year.
        return np.broadcast_to(self.score(metric)[:, None], k.shape)

    def metric(self, name: str) -> np.ndarray:
        """Plan values (no confidence) of a metric, schemes × years, 0 where inactive."""
        name = metric_name(name)
        if name not in self._metrics:
            values = np.array(self._derived(name), dtype=float)
            if name in self._profiles:  # profiles replace the derived values entirely
                rows, table = self._profiles[name]
                k = self.offset[rows]
                inside = (k >= 0) & (k < self.horizon)
                picked = np.take_along_axis(table, np.clip(k, 0, self.horizon - 1), axis=1)
                values[rows] = np.where(inside, picked, 0.0)
            if name == "saving":
                self._start_year_savings(values)
            values[~self.active] = 0.0
            for end in (self.instance.finance.scheme_ends if self.instance.finance is not None else ()):
                i = self.index[end.scheme]  # docs/finance.md: a bridge's figures stop after `years` years
                values[i, self.offset[i] >= end.years] = 0.0
            self._metrics[name] = values
        return self._metrics[name]

    def _start_year_savings(self, values: np.ndarray) -> None:
        """Scheme.start_year_saving: a re-plan's start part way through a year saves its own amount then."""
        for s, scheme in enumerate(self.schemes):
            if scheme.start_year_saving and self.selected[s]:
                start = int(self.years[0] + (-self.offset[s, 0]))
                if start in scheme.start_year_saving:
                    values[s, start - int(self.years[0])] = scheme.start_year_saving[start]

    # -- organisations ------------------------------------------------------------------------
    def org_weight(self, metric: str, org: str | None) -> np.ndarray:
        """How much of each scheme's metric counts for `org` (None: the whole system, all of it).

        semantics.md: savings at the org's saving_share, the four costs at its cost_share, any
        other metric in full for the schemes the org runs. No shares.csv rows: all to its own org.
        """
        metric = metric_name(metric)
        if org is None:
            return np.ones(len(self.schemes))
        column = ("saving_share" if metric in SAVING_METRICS
                  else "cost_share" if metric in COST_METRICS else "runs")
        if (column, org) not in self._weights:
            self._weights[column, org] = self._org_weight(column, org)
        return self._weights[column, org]

    def _org_weight(self, column: str, org: str) -> np.ndarray:
        weight = np.zeros(len(self.schemes))
        rows, values = self.members(column, org)
        weight[rows] = values
        return weight

    def members(self, column: str, org: str) -> tuple[np.ndarray, np.ndarray]:
        """(scheme rows, weights) of the schemes that count for `org` under `column`, weight != 0.

        Found for every organisation at once, so that a rule of one organisation costs what its
        own schemes cost (a region has a hundred trusts and tens of thousands of schemes).
        """
        if not self._members:
            self._members.update(self._all_members())
        return self._members.get((column, org), (np.zeros(0, dtype=np.int64), np.zeros(0)))

    def _all_members(self) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
        runner = np.array([s.org for s in self.schemes], dtype=object)
        share_rows: dict[str, dict[str, object]] = defaultdict(dict)  # scheme -> org -> last row
        for sh in self.instance.shares:
            share_rows[sh.scheme][sh.org] = sh
        with_rows = np.zeros(len(self.schemes), dtype=bool)
        with_rows[[self.index[sid] for sid in share_rows]] = True
        out = {}
        order = np.argsort(runner, kind="stable")
        names, first = np.unique(runner[order], return_index=True)
        bounds = list(first) + [len(order)]
        for k, org in enumerate(names):
            rows = np.sort(order[bounds[k]:bounds[k + 1]])
            out["runs", org] = (rows, np.ones(len(rows)))
            own = rows[~with_rows[rows]]  # a scheme with rows gives unlisted orgs nothing
            for column in ("saving_share", "cost_share"):
                out[column, org] = (own, np.ones(len(own)))
        extra: dict[tuple[str, str], list[tuple[int, float]]] = defaultdict(list)
        for sid, by_org in share_rows.items():
            for org, sh in by_org.items():
                for column in ("saving_share", "cost_share"):
                    extra[column, org].append((self.index[sid], getattr(sh, column)))
        for key, listed in extra.items():
            rows, values = out.get(key, (np.zeros(0, dtype=np.int64), np.zeros(0)))
            rows = np.concatenate([rows, np.array([r for r, _ in listed], dtype=np.int64)])
            values = np.concatenate([values, np.array([v for _, v in listed], dtype=float)])
            keep = values != 0
            out[key] = (rows[keep], values[keep])
        return out

    def _weights_of(self, metric: str, org: str, expected: bool) -> tuple[np.ndarray, np.ndarray]:
        metric = metric_name(metric)
        column = ("saving_share" if metric in SAVING_METRICS
                  else "cost_share" if metric in COST_METRICS else "runs")
        rows, weight = self.members(column, org)
        if expected:
            weight = weight * self.confidence()[rows]
        return rows, weight

    def contribution(self, metric: str, org: str | None, expected: bool = False) -> np.ndarray:
        """Schemes × years: what each scheme adds to `org`'s total of `metric` (c-weighted if asked).

        Dense over all schemes: for the words of a broken rule; totals use `total`/`abs_total`.
        """
        key = (metric_name(metric), org, expected)
        if key not in self._contributions:
            values = self.metric(metric)
            if org is not None:
                out = np.zeros_like(values)
                rows, weight = self._weights_of(metric, org, False)
                out[rows] = values[rows] * weight[:, None]
                values = out
            if expected:
                values = values * self.confidence()[:, None]
            self._contributions[key] = values
        return self._contributions[key]

    def contributors(self, metric: str, org: str | None, year: int) -> np.ndarray:
        """Rows of the schemes whose term in plan year `year` of `org`'s `metric` is not 0, in
        scheme order: the words of a broken rule, without a dense array per organisation (a plan
        that breaks hundreds of limits at 50,000 schemes would otherwise take gigabytes)."""
        values = self.metric(metric)[:, year]
        if org is None:
            return np.flatnonzero(values != 0)
        rows, weight = self._weights_of(metric, org, False)
        return np.sort(rows[values[rows] * weight != 0])

    def total(self, metric: str, org: str | None, expected: bool = False) -> np.ndarray:
        """Per year: the sum over active schemes of `metric` for `org`."""
        if org is None:
            weight = self.confidence() if expected else np.ones(len(self.schemes))
            return weight @ self.metric(metric)
        rows, weight = self._weights_of(metric, org, expected)
        return weight @ self.metric(metric)[rows]

    def abs_total(self, metric: str, org: str | None, expected: bool = False) -> np.ndarray:
        """Per year: Σ |term| of `metric` for `org`, the scale a sum's rounding error grows with."""
        if org is None:
            weight = self.confidence() if expected else np.ones(len(self.schemes))
            return np.abs(weight) @ np.abs(self.metric(metric))
        rows, weight = self._weights_of(metric, org, expected)
        return np.abs(weight) @ np.abs(self.metric(metric)[rows])

    # -- net savings (the format page's "Meaning of a plan") ----------------------------------
    def first_year_rest(self, org: str | None) -> np.ndarray:
        """Per year: what full-year effect adds to the recurrent net saving (docs/finance.md): in its
        start year, a scheme without a `saving` profile counts recurrent_saving x (1 - first_year_fraction) more."""
        rest = self.column("recurrent_saving") * (1.0 - self.column("first_year_fraction"))
        if "saving" in self._profiles:
            rest = rest.copy()
            rest[self._profiles["saving"][0]] = 0.0
        terms = np.where(self.active & (self.offset == 0), rest[:, None], 0.0) * self.confidence()[:, None]
        if org is None:
            return terms.sum(axis=0)
        rows, weight = self.members("saving_share", org)
        return weight @ terms[rows]

    def net_saving_total(self, basis: str, org: str | None) -> np.ndarray:
        """Per year: R(o, y) or N(o, y), summed from the metrics' totals for `org`."""
        value = self.total("saving", org, expected=True) - self.total("running_cost", org)
        if basis == "full_year_effect":
            return value + self.first_year_rest(org)
        if basis == "in_year":
            value = (value + self.total("nonrecurrent_saving", org, expected=True)
                     - self.total("one_off_cost", org) - self.total("double_running_cost", org))
        return value

    def magnitude(self, basis: str, org: str | None) -> np.ndarray:
        """Per year: Σ |term| of a net-saving row, the scale its rounding error grows with."""
        names = ("saving", "running_cost")
        if basis == "in_year":
            names += ("nonrecurrent_saving", "one_off_cost", "double_running_cost")
        extra = np.abs(self.first_year_rest(org)) if basis == "full_year_effect" else 0.0
        return sum(self.abs_total(m, org, expected=m in SAVING_METRICS) for m in names) + extra
