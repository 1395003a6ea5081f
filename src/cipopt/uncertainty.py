"""Delivery scenarios: the one sampling procedure that `cipopt simulate` and the risk model share.

docs/risk.md states the procedure exactly, so that anyone (the independent checker does) can
re-create the same scenarios from the instance and the seed. In short, for every scheme of the
instance (selected or not, so that every plan meets the same scenarios), each draw says whether
it delivers at all (probability `confidence`, correlated within a risk group through a Gaussian
one-factor model), by what multiplier of its savings if it does (triangular or PERT between
`delivery_low` and `delivery_high`, mode `delivery_likely`), and whether its savings slip a year.

Draws come in batches of `BATCH_SIZE` (the last one shorter), batch b from the b-th child of
`numpy.random.SeedSequence(seed)`, so the first N draws of a seed are the same whether they are
made at once, in batches, or on other machines.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import betaincinv, ndtri

from cipopt.coefficients import Coefficients
from cipopt.schema.instance import Instance

BATCH_SIZE = 10_000
STOCHASTIC_METRICS = ("saving", "nonrecurrent_saving")
"""Savings may not materialise; costs are paid as planned."""
COST_TERMS = {
    "recurrent": ("running_cost",),
    "in_year": ("running_cost", "one_off_cost", "double_running_cost"),
}
SAVING_TERMS = {"recurrent": ("saving",), "in_year": STOCHASTIC_METRICS}


@dataclass(frozen=True)
class Draws:
    """Per draw (rows) and scheme (columns, instance order) what delivery brings."""

    delivered: np.ndarray  # (N, S) bool: the scheme delivers at all
    multiplier: np.ndarray  # (N, S): the multiplier of its savings if it does
    slipped: np.ndarray  # (N, S) bool: its savings start a year late

    @property
    def n(self) -> int:
        return self.delivered.shape[0]

    @property
    def amount(self) -> np.ndarray:
        """(N, S): the share of the planned savings delivered (0 when it does not deliver)."""
        return np.where(self.delivered, self.multiplier, 0.0)


@dataclass(frozen=True)
class SchemeRisk:
    """The instance's uncertainty columns as vectors (schemes in instance order)."""

    confidence: np.ndarray
    low: np.ndarray
    likely: np.ndarray
    high: np.ndarray
    pert: np.ndarray  # bool
    slip: np.ndarray
    group: np.ndarray  # index into risk_groups, -1 for none
    n_groups: int
    correlation: np.ndarray  # per scheme: its group's correlation, 0 for none

    @classmethod
    def of(cls, instance: Instance) -> "SchemeRisk":
        schemes = instance.schemes
        index = {g.id: i for i, g in enumerate(instance.risk_groups)}
        rho = np.array([g.correlation for g in instance.risk_groups] + [0.0])
        group = np.array([index.get(s.risk_group, -1) if s.risk_group else -1 for s in schemes], dtype=np.int64)
        return cls(
            confidence=np.array([s.confidence for s in schemes], dtype=float),
            low=np.array([s.delivery_low for s in schemes], dtype=float),
            likely=np.array([s.delivery_likely for s in schemes], dtype=float),
            high=np.array([s.delivery_high for s in schemes], dtype=float),
            pert=np.array([s.delivery_distribution == "pert" for s in schemes], dtype=bool),
            slip=np.array([s.slip_probability for s in schemes], dtype=float),
            group=group, n_groups=len(instance.risk_groups), correlation=rho[group],
        )


def batches(draws: int) -> list[tuple[int, int]]:
    """(batch index, size) for the first `draws` draws of a seed."""
    return [(b, min(BATCH_SIZE, draws - b * BATCH_SIZE)) for b in range((draws + BATCH_SIZE - 1) // BATCH_SIZE)]


def batch_generator(seed: int, batch: int) -> np.random.Generator:
    """The generator of batch `batch`: the batch-th child of SeedSequence(seed), PCG64."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(batch,))))


def multipliers(risk: SchemeRisk, u: np.ndarray) -> np.ndarray:
    """The multiplier at probability u (N, S): the inverse distribution function, triangular or PERT."""
    a, m, b = risk.low, risk.likely, risk.high
    width = b - a
    flat = width <= 0
    safe = np.where(flat, 1.0, width)
    mode_at = np.where(flat, 0.0, (m - a) / safe)
    left = a + np.sqrt(u * safe * (m - a))
    right = b - np.sqrt((1.0 - u) * safe * (b - m))
    out = np.where(u < mode_at, left, right)
    if risk.pert.any():
        cols = np.flatnonzero(risk.pert & ~flat)
        alpha = 1.0 + 4.0 * (m[cols] - a[cols]) / width[cols]
        beta = 1.0 + 4.0 * (b[cols] - m[cols]) / width[cols]
        out[:, cols] = a[cols] + width[cols] * betaincinv(alpha, beta, u[:, cols])
    return np.where(flat, a, out)


def sample_batch(risk: SchemeRisk, seed: int, batch: int, size: int) -> Draws:
    """One batch of draws, exactly as docs/risk.md says (the order of the calls is part of it)."""
    rng = batch_generator(seed, batch)
    n_schemes = len(risk.confidence)
    factor = rng.standard_normal((size, risk.n_groups))
    own = rng.standard_normal((size, n_schemes))
    u_multiplier = rng.random((size, n_schemes))
    u_slip = rng.random((size, n_schemes))
    rho = risk.correlation
    shared = factor[:, np.clip(risk.group, 0, None)] if risk.n_groups else np.zeros((size, n_schemes))
    latent = np.sqrt(rho) * np.where(risk.group >= 0, shared, 0.0) + np.sqrt(1.0 - rho) * own
    with np.errstate(divide="ignore"):
        threshold = ndtri(risk.confidence)  # -inf at confidence 0, +inf at 1
    return Draws(delivered=latent < threshold, multiplier=multipliers(risk, u_multiplier),
                 slipped=u_slip < risk.slip)


def sample(instance: Instance, seed: int, draws: int) -> Draws:
    """The first `draws` draws of `seed` (all batches joined)."""
    risk = SchemeRisk.of(instance)
    parts = [sample_batch(risk, seed, b, n) for b, n in batches(draws)]
    return Draws(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("delivered", "multiplier", "slipped")))


def offset_values(coef: Coefficients, metric: str, org: str | None, schemes: np.ndarray, starts: np.ndarray,
                  shift: int = 0) -> np.ndarray:
    """(n, T): what scheme schemes[i] started in year index starts[i] adds to `metric` for `org`,
    with its values `shift` years later than planned (0 before that)."""
    by_offset = coef.profile(metric) * coef.org_weight(metric, org)[:, None]
    offsets = np.arange(coef.n_years)[None, :] - starts[:, None] - shift
    return np.where(offsets >= 0, by_offset[schemes[:, None], np.clip(offsets, 0, None)], 0.0)


@dataclass(frozen=True)
class NetTerms:
    """A net-saving row (basis, org) split into what delivery changes and what it does not.

    Item i (a start: scheme, start year index) adds, in a draw,
    amount * (on_time if not slipped else slipped) + fixed, per year.
    """

    schemes: np.ndarray  # (n,) scheme index of each item
    on_time: np.ndarray  # (n, T) planned savings
    late: np.ndarray  # (n, T) the same savings a year later
    fixed: np.ndarray  # (n, T) minus the costs

    def per_item(self, draws: Draws) -> np.ndarray:
        """(N, n, T): each item's net saving in each draw (for the model's scenario rows)."""
        amount = draws.amount[:, self.schemes][:, :, None]
        slipped = draws.slipped[:, self.schemes][:, :, None]
        return amount * np.where(slipped, self.late[None], self.on_time[None]) + self.fixed[None]

    def total(self, draws: Draws) -> np.ndarray:
        """(N, T): the items' summed net saving in each draw (for a plan: two matrix products)."""
        amount = draws.amount[:, self.schemes]
        slipped = draws.slipped[:, self.schemes]
        return (amount * ~slipped) @ self.on_time + (amount * slipped) @ self.late + self.fixed.sum(axis=0)


def net_terms(coef: Coefficients, basis: str, org: str | None, schemes: np.ndarray, starts: np.ndarray) -> NetTerms:
    """The recurrent or in-year net saving of items (scheme, start year index) for `org` (None: all)."""
    on_time = sum(offset_values(coef, m, org, schemes, starts) for m in SAVING_TERMS[basis])
    late = sum(offset_values(coef, m, org, schemes, starts, shift=1) for m in SAVING_TERMS[basis])
    fixed = -sum(offset_values(coef, m, org, schemes, starts) for m in COST_TERMS[basis])
    return NetTerms(schemes=schemes, on_time=on_time, late=late, fixed=fixed)


def cvar(losses: np.ndarray, alpha: float) -> float:
    """The mean of the worst (1 - alpha) share of equally likely losses (a fraction of the last one
    counted when (1 - alpha) N is not whole): the minimum of Rockafellar and Uryasev's function."""
    n = len(losses)
    ordered = np.sort(losses)[::-1]
    tail = (1.0 - alpha) * n
    whole = int(np.floor(tail + 1e-9))
    total = ordered[:whole].sum()
    if whole < n:
        total += (tail - whole) * ordered[whole]
    return float(total / tail)
