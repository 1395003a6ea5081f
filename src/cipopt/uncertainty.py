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

from cipopt.coefficients import IN_YEAR_TERMS, RECURRENT_TERMS, Coefficients
from cipopt.schema.instance import Instance

BATCH_SIZE = 10_000
STOCHASTIC_METRICS = ("saving", "nonrecurrent_saving")
"""Savings may not materialise; costs are paid as planned."""
_NET_TERMS = {"recurrent": RECURRENT_TERMS, "in_year": IN_YEAR_TERMS}  # the one definition, coefficients.py
COST_TERMS = {basis: tuple(m for c, m in terms if c < 0) for basis, terms in _NET_TERMS.items()}
SAVING_TERMS = {basis: tuple(m for c, m in terms if c > 0) for basis, terms in _NET_TERMS.items()}


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


def columns(risk: SchemeRisk) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The schemes (instance order) that draw a triangular multiplier, a PERT one, and a slip."""
    ranged = risk.high > risk.low
    return (np.flatnonzero(ranged & ~risk.pert), np.flatnonzero(ranged & risk.pert),
            np.flatnonzero(risk.slip > 0))


def triangular(low: np.ndarray, likely: np.ndarray, high: np.ndarray, u: np.ndarray) -> np.ndarray:
    """The triangular multiplier at probability u (N, k), low < high: its inverse distribution function."""
    width = high - low
    left = u < (likely - low) / width
    root = np.where(left, u * (width * (likely - low)), (1.0 - u) * (width * (high - likely)))
    np.sqrt(root, out=root)
    return np.where(left, low + root, high - root)


def sample_batch(risk: SchemeRisk, seed: int, batch: int, size: int) -> Draws:
    """One batch of draws, exactly as docs/risk.md says (the order of the calls is part of it)."""
    from scipy.special import ndtri  # here: only a risk-aware solve draws (about 0.1 s of start-up)

    rng = batch_generator(seed, batch)
    tri, pert, slips = columns(risk)
    factor = rng.standard_normal((size, risk.n_groups))
    latent = rng.standard_normal((size, len(risk.confidence)))
    u_multiplier = rng.random((size, len(tri)))
    a, m, b = risk.low[pert], risk.likely[pert], risk.high[pert]
    gamma_a = rng.standard_gamma(1.0 + 4.0 * (m - a) / (b - a), size=(size, len(pert)))
    gamma_b = rng.standard_gamma(1.0 + 4.0 * (b - m) / (b - a), size=(size, len(pert)))
    u_slip = rng.random((size, len(slips)))
    if risk.n_groups:  # grouped: sqrt(rho) x its group's factor + sqrt(1 - rho) x its own (in place)
        latent *= np.sqrt(1.0 - risk.correlation)  # x 1 exactly for the ungrouped
        shared = np.take(np.c_[factor, np.zeros(size)], risk.group, axis=1)  # group -1: the zero column
        shared *= np.sqrt(risk.correlation)
        latent += shared  # + 0 exactly for the ungrouped
    with np.errstate(divide="ignore"):
        threshold = ndtri(risk.confidence)  # -inf at confidence 0, +inf at 1
    multiplier = np.empty(latent.shape)
    multiplier[:] = risk.low  # no range: the multiplier is delivery_low (= likely = high)
    if len(tri):
        multiplier[:, tri] = triangular(risk.low[tri], risk.likely[tri], risk.high[tri], u_multiplier)
    if len(pert):
        multiplier[:, pert] = a + (b - a) * (gamma_a / (gamma_a + gamma_b))
    slipped = np.zeros(latent.shape, dtype=bool)
    slipped[:, slips] = u_slip < risk.slip[slips]
    return Draws(delivered=latent < threshold, multiplier=multiplier, slipped=slipped)


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


def split_by_slip(draws: Draws, schemes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, n) twice: the delivered share of each item's savings on time, and a year late."""
    amount = np.where(draws.delivered[:, schemes], draws.multiplier[:, schemes], 0.0)
    slipped = draws.slipped[:, schemes]
    late = np.where(slipped, amount, 0.0)
    return amount - late, late


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
