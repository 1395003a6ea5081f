"""An instance as arrays: allowed starts and, per metric, a (year x allowed start) matrix.

The model builds its rows from these matrices and the results turn a plan into yearly figures
with the same matrices, so the two cannot disagree. The independent checker does not use this
module: it recomputes everything from the instance alone.

A column of a matrix is one allowed (scheme, start year) pair; entry (y, p) is what scheme s_p
contributes in year y if it starts in t_p: its value at offset y - t_p (0 before the start).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # scipy is imported by the methods that make matrices: `cipopt validate` needs none
    import scipy.sparse as sp

from cipopt.schema.instance import (
    BUILTIN_METRICS, COST_METRICS, SAVING_METRICS, STANDARD_DOMAINS, Instance, Scheme, qia_ineligibility,
)

ALL = None  # the whole system, in `org` arguments
RECURRENT_TERMS = ((1.0, "saving"), (-1.0, "running_cost"))
IN_YEAR_TERMS = RECURRENT_TERMS + ((1.0, "nonrecurrent_saving"), (-1.0, "one_off_cost"), (-1.0, "double_running_cost"))


def _builtin_profile(schemes: tuple[Scheme, ...], metric: str, horizon: int) -> np.ndarray:
    """Values by offset (schemes x offsets) derived from schemes.csv, as the format page says."""
    n = len(schemes)
    out = np.zeros((n, horizon))
    if metric == "saving":
        full = np.array([s.recurrent_saving for s in schemes])
        out[:, :] = full[:, None]
        out[:, 0] = full * np.array([s.first_year_fraction for s in schemes])
    elif metric in ("nonrecurrent_saving", "one_off_cost", "capital_cost"):
        out[:, 0] = [getattr(s, metric) for s in schemes]
    elif metric == "running_cost":
        out[:, :] = np.array([s.running_cost for s in schemes])[:, None]
    elif metric == "double_running_cost":
        cost = np.array([s.double_running_cost for s in schemes])
        years = np.array([s.double_running_years for s in schemes])
        out[:, :] = np.where(np.arange(horizon)[None, :] < years[:, None], cost[:, None], 0.0)
    else:
        raise KeyError(metric)
    return out


@dataclass(frozen=True)
class Coefficients:
    instance: Instance
    scheme_ids: tuple[str, ...]
    years: np.ndarray  # (T,) calendar years
    pair_scheme: np.ndarray  # (P,) scheme index of each allowed start
    pair_start: np.ndarray  # (P,) start-year index of each allowed start
    ineligible: dict[str, str]  # scheme id -> QIA reason
    confidence: np.ndarray  # (S,)
    _profiles: dict[str, np.ndarray] = field(repr=False)  # metric -> (S, T) by offset
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def memo(self, key, make):
        """The value stored under `key`, made once by `make()`: derived arrays (risk draws, scenario
        values) live as long as these coefficients, so re-solves in place reuse them."""
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    @property
    def n_pairs(self) -> int:
        return len(self.pair_scheme)

    @property
    def n_years(self) -> int:
        return len(self.years)

    @cached_property
    def scheme_index(self) -> dict[str, int]:
        return {s: i for i, s in enumerate(self.scheme_ids)}

    @cached_property
    def pairs_of_scheme(self) -> list[np.ndarray]:
        """For each scheme, the indices of its allowed starts (in start order)."""
        order = np.argsort(self.pair_scheme, kind="stable")
        bounds = np.searchsorted(self.pair_scheme[order], np.arange(len(self.scheme_ids) + 1))
        return [order[bounds[i]:bounds[i + 1]] for i in range(len(self.scheme_ids))]

    @cached_property
    def discount(self) -> np.ndarray:
        return np.array([self.instance.discount(int(y)) for y in self.years])

    def metric_names(self) -> set[str]:
        return set(self._profiles)

    def profile(self, metric: str) -> np.ndarray:
        """(S, T) values by offset; zeros for a metric no scheme has."""
        if metric in self._profiles:
            return self._profiles[metric]
        return np.zeros((len(self.scheme_ids), self.n_years))

    def _weight_column(self, metric: str) -> str:
        """Which share counts a metric for an organisation: savings, costs, or the runner's all."""
        return "saving" if metric in SAVING_METRICS else "cost" if metric in COST_METRICS else "runs"

    @cached_property
    def _org_weights(self) -> dict[str, sp.csc_array]:
        """(S x O) sparse: the part of each scheme's metric that counts for each organisation.

        Built once for all organisations, so that a rule for one organisation costs what its own
        schemes cost, not what the whole system costs (thousands of schemes, a hundred trusts).
        """
        import scipy.sparse as sp
        inst = self.instance
        orgs = list(inst.org_ids)
        col = {o: j for j, o in enumerate(orgs)}
        n, k = len(self.scheme_ids), len(orgs)
        runner = np.fromiter((col.get(s.org, -1) for s in inst.schemes), dtype=np.int64, count=n)
        known = runner >= 0
        rows, cols = np.flatnonzero(known), runner[known]
        out = {"runs": sp.csc_array((np.ones(len(rows)), (rows, cols)), shape=(n, k))}
        # shares.csv: a scheme with rows gives unlisted organisations nothing; a repeated
        # (scheme, org) row replaces the earlier one
        listed: dict[tuple[int, int], object] = {}
        for x in inst.shares:
            listed[self.scheme_index[x.scheme], col.get(x.org, -1)] = x
        shared = np.zeros(n, dtype=bool)
        shared[[si for si, _ in listed]] = True
        keep = known & ~shared
        base_r, base_c = np.flatnonzero(keep), runner[keep]
        pairs = [(si, oi, x) for (si, oi), x in listed.items() if oi >= 0]
        sh_s = np.array([si for si, _, _ in pairs], dtype=np.int64)
        sh_o = np.array([oi for _, oi, _ in pairs], dtype=np.int64)
        for name in ("saving", "cost"):
            values = np.array([getattr(x, f"{name}_share") for _, _, x in pairs], dtype=float)
            out[name] = sp.csc_array(
                (np.concatenate([np.ones(len(base_r)), values]),
                 (np.concatenate([base_r, sh_s]), np.concatenate([base_c, sh_o]))), shape=(n, k))
        return out

    @cached_property
    def _org_column(self) -> dict[str, int]:
        return {o: j for j, o in enumerate(self.instance.org_ids)}

    def _org_schemes(self, metric: str, org: str) -> tuple[np.ndarray, np.ndarray]:
        """(scheme indices, weights) of the schemes whose `metric` counts for `org` (weight != 0)."""
        weights = self._org_weights[self._weight_column(metric)]
        j = self._org_column.get(org, -1)
        if j < 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        lo, hi = weights.indptr[j], weights.indptr[j + 1]
        idx, val = weights.indices[lo:hi].astype(np.int64), weights.data[lo:hi]
        nz = val != 0
        return idx[nz], val[nz]

    def org_weight(self, metric: str, org: str | None) -> np.ndarray:
        """(S,) the part of each scheme's metric that counts for `org`, by the shares rule."""
        n = len(self.scheme_ids)
        if org is ALL:
            return np.ones(n)
        out = np.zeros(n)
        idx, val = self._org_schemes(metric, org)
        out[idx] = val
        return out

    @cached_property
    def _pair_order(self) -> tuple[np.ndarray, np.ndarray]:
        """Allowed starts grouped by scheme: (order, bounds), scheme s owns order[bounds[s]:bounds[s+1]]."""
        order = np.argsort(self.pair_scheme, kind="stable")
        bounds = np.searchsorted(self.pair_scheme[order], np.arange(len(self.scheme_ids) + 1))
        return order, bounds

    def _pairs_of(self, schemes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(allowed starts of `schemes`, the position in `schemes` each belongs to), vectorised."""
        order, bounds = self._pair_order
        counts = bounds[schemes + 1] - bounds[schemes]
        owner = np.repeat(np.arange(len(schemes)), counts)
        first = np.cumsum(counts) - counts
        pos = np.arange(int(counts.sum())) - np.repeat(first, counts) + np.repeat(bounds[schemes], counts)
        return order[pos], owner

    def _system_matrix(self, metric: str) -> sp.csc_array:
        """(T x P) plan values of `metric` for the whole system (no shares, no confidence)."""
        import scipy.sparse as sp
        key = ("system", metric)
        if key not in self._cache:
            by_offset = self.profile(metric)  # (S, T)
            offsets = np.arange(self.n_years)[None, :] - self.pair_start[:, None]  # (P, T)
            values = np.where(offsets >= 0, by_offset[self.pair_scheme[:, None], np.clip(offsets, 0, None)], 0.0)
            if metric == "saving":
                self._start_year_savings(values)
            m = sp.csc_array(values.T)
            m.eliminate_zeros()
            self._cache[key] = m
        return self._cache[key]

    def _start_year_savings(self, values: np.ndarray) -> None:
        """A re-plan's start part way through a year saves its own amount in that year (Scheme.start_year_saving)."""
        schemes = self.instance.schemes
        for s in (i for i, sc in enumerate(schemes) if sc.start_year_saving):
            for p in self.pairs_of_scheme[s]:
                year = int(self.years[self.pair_start[p]])
                if year in schemes[s].start_year_saving:
                    values[p, self.pair_start[p]] = schemes[s].start_year_saving[year]

    def matrix(self, metric: str, org: str | None = ALL, expected: bool = False) -> sp.csr_array:
        """(T x P): what each allowed start adds to `metric` in each year for `org`.

        `expected` multiplies by the scheme's confidence (targets and objectives under
        `risk: expected`); limits and quality floors use plan values.
        """
        import scipy.sparse as sp
        metric = "saving" if metric == "recurrent_saving" else metric  # the format's alias, as in profiles
        key = ("matrix", metric, org, expected)
        if key in self._cache:
            return self._cache[key]
        system = self._system_matrix(metric)
        if org is ALL:
            scale = self.confidence[self.pair_scheme] if expected else None
            m = system if scale is None else system @ sp.diags_array(scale)
        else:  # only the columns of the org's own (and shared) schemes: linear in the org's size
            schemes, weight = self._org_schemes(metric, org)
            if expected:
                weight = weight * self.confidence[schemes]
            pairs, owner = self._pairs_of(schemes)
            sub = system[:, pairs].tocoo()
            data = sub.data * weight[owner][sub.col]
            m = sp.csr_array((data, (sub.row, pairs[sub.col])), shape=(self.n_years, self.n_pairs))
        m = sp.csr_array(m)
        m.eliminate_zeros()
        m.sort_indices()
        self._cache[key] = m
        return m

    def combination(self, terms: tuple[tuple[float, str], ...], org: str | None, expected_savings: bool) -> sp.csr_array:
        import scipy.sparse as sp
        key = ("combination", terms, org, expected_savings)
        if key not in self._cache:
            total = sp.csr_array((self.n_years, self.n_pairs))
            for coef, metric in terms:
                total = total + coef * self.matrix(metric, org, expected_savings and metric in SAVING_METRICS)
            total.eliminate_zeros()
            self._cache[key] = total.tocsr()
        return self._cache[key]

    def recurrent_net_saving(self, org: str | None = ALL, expected: bool = False) -> sp.csr_array:
        """Recurrent net saving: confidence x saving - running cost (the underlying position)."""
        return self.combination(RECURRENT_TERMS, org, expected)

    def in_year_net_saving(self, org: str | None = ALL, expected: bool = False) -> sp.csr_array:
        """In-year net saving: recurrent + non-recurrent savings - one-off and double running costs."""
        return self.combination(IN_YEAR_TERMS, org, expected)

    def total(self, metric: str, org: str | None, x: np.ndarray, expected: bool = False) -> np.ndarray:
        """(T,) `matrix(metric, org, expected) @ x`, without keeping the matrix: the results tables
        ask for every metric of every organisation once, which cached would be hundreds of MiB at
        50,000 schemes while HiGHS still holds the model."""
        metric = "saving" if metric == "recurrent_saving" else metric
        cached = self._cache.get(("matrix", metric, org, expected))
        if cached is not None:
            return cached @ x
        system = self._system_matrix(metric)
        if org is ALL:
            return system @ (x * self.confidence[self.pair_scheme] if expected else x)
        schemes, weight = self._org_schemes(metric, org)
        if expected:
            weight = weight * self.confidence[schemes]
        pairs, owner = self._pairs_of(schemes)
        return system[:, pairs] @ (x[pairs] * weight[owner])

    def net_saving_total(self, basis: str, org: str | None, x: np.ndarray, expected: bool) -> np.ndarray:
        """(T,) `target_matrix(basis, org, expected) @ x`, without keeping matrices (see `total`)."""
        if basis == "full_year_effect":
            return self.full_year_effect_net_saving(org, expected) @ x
        cached = self._cache.get(("combination", RECURRENT_TERMS if basis == "recurrent" else IN_YEAR_TERMS,
                                  org, expected))
        if cached is not None:
            return cached @ x
        terms = RECURRENT_TERMS if basis == "recurrent" else IN_YEAR_TERMS
        return sum(c * self.total(m, org, x, expected and m in SAVING_METRICS) for c, m in terms)

    def full_year_effect_net_saving(self, org: str | None = ALL, expected: bool = False) -> sp.csr_array:
        """The recurrent net saving at full-year effect (exit run-rate): in its start year a scheme
        without a `saving` profile counts its whole recurrent_saving, not the first-year fraction."""
        key = ("full_year_effect", org, expected)
        if key not in self._cache:
            import scipy.sparse as sp

            inst = self.instance
            profiled = {p.scheme for p in inst.profiles if p.metric in ("saving", "recurrent_saving")}
            missing = np.array([0.0 if s.id in profiled else s.recurrent_saving * (1.0 - s.first_year_fraction)
                                for s in inst.schemes])
            weight = self.org_weight("saving", org) * (self.confidence if expected else 1.0)
            values = (missing * weight)[self.pair_scheme]
            extra = sp.csr_array((values, (self.pair_start, np.arange(self.n_pairs))),
                                 shape=(self.n_years, self.n_pairs))
            total = sp.csr_array(self.recurrent_net_saving(org, expected) + extra)
            total.eliminate_zeros()
            total.sort_indices()
            self._cache[key] = total
        return self._cache[key]

    def target_matrix(self, basis: str, org: str | None, expected: bool) -> sp.csr_array:
        if basis == "recurrent":
            return self.recurrent_net_saving(org, expected)
        if basis == "full_year_effect":
            return self.full_year_effect_net_saving(org, expected)
        return self.in_year_net_saving(org, expected)

    def year_index(self, year: int) -> int:
        return int(year - self.years[0])


def build_coefficients(instance: Instance) -> Coefficients:
    years = np.array(instance.years)
    horizon = len(years)
    schemes = instance.schemes
    first, last = instance.years[0], instance.years[-1]

    ineligible = {}
    pair_scheme, pair_start = [], []
    for i, s in enumerate(schemes):
        reason = qia_ineligibility(s, instance)
        if reason:
            ineligible[s.id] = reason
            continue
        if s.excluded:
            continue
        lo = s.earliest_start if s.earliest_start is not None else first
        hi = s.latest_start if s.latest_start is not None else last
        for y in range(max(lo, first), min(hi, last) + 1):
            pair_scheme.append(i)
            pair_start.append(y - first)

    profiles: dict[str, np.ndarray] = {m: _builtin_profile(schemes, m, horizon) for m in BUILTIN_METRICS}
    index = {s.id: i for i, s in enumerate(schemes)}
    custom = set(STANDARD_DOMAINS) | set(instance.quality.domains)
    for s in schemes:
        custom.update(s.metrics)
    for metric in custom - set(BUILTIN_METRICS):
        values = np.array([
            s.domain_score(metric) if metric in STANDARD_DOMAINS else s.metrics.get(metric, 0.0)
            for s in schemes
        ])
        profiles[metric] = np.repeat(values[:, None], horizon, axis=1)
    # profiles.csv replaces the derived values of a (scheme, metric) wholesale; unlisted offsets are 0
    overridden: set[tuple[int, str]] = set()
    for p in instance.profiles:
        metric = "saving" if p.metric == "recurrent_saving" else p.metric
        if metric not in profiles:
            profiles[metric] = np.zeros((len(schemes), horizon))
        key = (index[p.scheme], metric)
        if key not in overridden:
            profiles[metric][key[0], :] = 0.0
            overridden.add(key)
        if p.offset < horizon:
            profiles[metric][key[0], p.offset] = p.value

    # docs/finance.md: a scheme that stops has no figure of any metric from offset `years` on
    for end in (instance.finance.scheme_ends if instance.finance is not None else ()):
        if end.scheme in index:
            for table in profiles.values():
                table[index[end.scheme], end.years:] = 0.0

    return Coefficients(
        instance=instance,
        scheme_ids=tuple(s.id for s in schemes),
        years=years,
        pair_scheme=np.array(pair_scheme, dtype=np.int64),
        pair_start=np.array(pair_start, dtype=np.int64),
        ineligible=ineligible,
        confidence=np.array([s.confidence for s in schemes], dtype=float),
        _profiles=profiles,
    )
