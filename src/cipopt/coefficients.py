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

import numpy as np
import scipy.sparse as sp

from cipopt.schema.instance import (
    BUILTIN_METRICS, COST_METRICS, SAVING_METRICS, STANDARD_DOMAINS, Instance, Scheme,
)

ALL = None  # the whole system, in `org` arguments


def qia_ineligibility(scheme: Scheme, instance: Instance) -> str | None:
    """Why the QIA rules bar a scheme, in words, or None if it is eligible."""
    q = instance.quality
    if q.hard_max_risk is not None and scheme.qia_risk > q.hard_max_risk:
        return (f"QIA risk {scheme.qia_risk:g} exceeds the hard maximum {q.hard_max_risk:g} "
                "(not even an approved QIA can proceed)")
    if scheme.qia_approved:
        return None
    reasons = []
    for domain, minimum in q.scheme_min.items():
        score = scheme.domain_score(domain)
        if score < minimum:
            reasons.append(f"{domain} score {score:g} is below the minimum {minimum:g}")
    if q.max_risk is not None and scheme.qia_risk > q.max_risk:
        reasons.append(f"QIA risk {scheme.qia_risk:g} exceeds the maximum {q.max_risk:g}")
    if reasons:
        return "; ".join(reasons) + " and the QIA is not approved"
    return None


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

    def org_weight(self, metric: str, org: str | None) -> np.ndarray:
        """(S,) the part of each scheme's metric that counts for `org`, by the shares rule."""
        n = len(self.scheme_ids)
        if org is ALL:
            return np.ones(n)
        key = ("weight", metric in SAVING_METRICS, metric in COST_METRICS, org)
        if key in self._cache:
            return self._cache[key]
        runs = np.array([s.org == org for s in self.instance.schemes], dtype=float)
        weight = runs.copy()
        if metric in SAVING_METRICS or metric in COST_METRICS:
            column = "saving_share" if metric in SAVING_METRICS else "cost_share"
            shared = {sh.scheme for sh in self.instance.shares}
            for sid in shared:
                weight[self.scheme_index[sid]] = 0.0
            for sh in self.instance.shares:
                if sh.org == org:
                    weight[self.scheme_index[sh.scheme]] = getattr(sh, column)
        self._cache[key] = weight
        return weight

    def matrix(self, metric: str, org: str | None = ALL, expected: bool = False) -> sp.csr_array:
        """(T x P): what each allowed start adds to `metric` in each year for `org`.

        `expected` multiplies by the scheme's confidence (targets and objectives under
        `risk: expected`); limits and quality floors use plan values.
        """
        metric = "saving" if metric == "recurrent_saving" else metric  # the format's alias, as in profiles
        key = ("matrix", metric, org, expected)
        if key in self._cache:
            return self._cache[key]
        scale = self.org_weight(metric, org)
        if expected:
            scale = scale * self.confidence
        by_offset = self.profile(metric) * scale[:, None]  # (S, T)
        offsets = np.arange(self.n_years)[None, :] - self.pair_start[:, None]  # (P, T)
        active = offsets >= 0
        values = np.where(active, by_offset[self.pair_scheme[:, None], np.clip(offsets, 0, None)], 0.0)
        m = sp.csr_array(values.T)
        m.eliminate_zeros()
        self._cache[key] = m
        return m

    def combination(self, terms: tuple[tuple[float, str], ...], org: str | None, expected_savings: bool) -> sp.csr_array:
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
        return self.combination(((1.0, "saving"), (-1.0, "running_cost")), org, expected)

    def in_year_net_saving(self, org: str | None = ALL, expected: bool = False) -> sp.csr_array:
        """In-year net saving: recurrent + non-recurrent savings - one-off and double running costs."""
        return self.combination(
            ((1.0, "saving"), (-1.0, "running_cost"), (1.0, "nonrecurrent_saving"),
             (-1.0, "one_off_cost"), (-1.0, "double_running_cost")),
            org, expected,
        )

    def target_matrix(self, basis: str, org: str | None, expected: bool) -> sp.csr_array:
        if basis == "recurrent":
            return self.recurrent_net_saving(org, expected)
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
