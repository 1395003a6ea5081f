"""The checker's own reading of docs/risk.md: a plan's delivery scenarios, its CVaR, its chance.

Written from the page, not from `cipopt.uncertainty` or the model: the draws are re-created from
the instance and the seed by the documented calls to numpy, scheme by scheme, and a plan's net
saving in a draw comes from the checker's own yearly figures (`PlanFigures`) of the plan as
given and of the plan with every start a year later (what a slipped scheme delivers).
"""

from __future__ import annotations

import math

import numpy as np

from cipopt.check.figures import NOT_SELECTED, PlanFigures
from cipopt.check.report import Violation, fmt
from cipopt.schema.instance import Instance

BATCH = 10_000  # docs/risk.md: draws come in batches of 10,000


def _triangular(s, u: np.ndarray) -> np.ndarray:
    """docs/risk.md: the inverse distribution function of the triangular multiplier at u."""
    a, m, b = s.delivery_low, s.delivery_likely, s.delivery_high
    cut = (m - a) / (b - a)
    return np.where(u < cut, a + np.sqrt(u * (b - a) * (m - a)), b - np.sqrt((1 - u) * (b - a) * (b - m)))


def _pert(s) -> bool:
    return s.delivery_distribution == "pert" and s.delivery_high > s.delivery_low


def draws(instance: Instance, seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(amount, slipped), each (n, schemes): the share of planned savings delivered, and the slips."""
    from scipy.special import ndtri  # here: only a risk-aware check draws (about 0.1 s of start-up)

    schemes = instance.schemes
    groups = {g.id: (i, g.correlation) for i, g in enumerate(instance.risk_groups)}
    tri = [j for j, s in enumerate(schemes) if s.delivery_high > s.delivery_low and not _pert(s)]
    pert = [j for j, s in enumerate(schemes) if _pert(s)]
    slips = [j for j, s in enumerate(schemes) if s.slip_probability > 0]
    shape_a, shape_b = [], []
    for j in pert:
        s = schemes[j]
        shape_a.append(1 + 4 * (s.delivery_likely - s.delivery_low) / (s.delivery_high - s.delivery_low))
        shape_b.append(1 + 4 * (s.delivery_high - s.delivery_likely) / (s.delivery_high - s.delivery_low))
    tri_at, pert_at, slip_at = ({j: k for k, j in enumerate(c)} for c in (tri, pert, slips))
    amounts, slip_parts = [], []
    for b in range(math.ceil(n / BATCH)):
        size = min(BATCH, n - b * BATCH)
        rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(b + 1)[b])
        factor = rng.standard_normal((size, len(groups)))
        own = rng.standard_normal((size, len(schemes)))
        u_mult = rng.random((size, len(tri)))
        gamma_a = rng.standard_gamma(np.array(shape_a), size=(size, len(pert)))
        gamma_b = rng.standard_gamma(np.array(shape_b), size=(size, len(pert)))
        u_slip = rng.random((size, len(slips)))
        amount = np.zeros((size, len(schemes)))
        slipped = np.zeros((size, len(schemes)), dtype=bool)
        for j, s in enumerate(schemes):
            if s.risk_group in groups:
                g, rho = groups[s.risk_group]
                latent = math.sqrt(rho) * factor[:, g] + math.sqrt(1 - rho) * own[:, j]
            else:
                latent = own[:, j]
            with np.errstate(divide="ignore"):
                delivers = latent < ndtri(s.confidence)
            if j in pert_at:  # PERT: low + width x Beta, the Beta as a ratio of two gamma draws
                k = pert_at[j]
                got = s.delivery_low + (s.delivery_high - s.delivery_low) * (
                    gamma_a[:, k] / (gamma_a[:, k] + gamma_b[:, k]))
            elif j in tri_at:
                got = _triangular(s, u_mult[:, tri_at[j]])
            else:
                got = np.full(size, s.delivery_low)
            amount[:, j] = np.where(delivers, got, 0.0)
            if j in slip_at:
                slipped[:, j] = u_slip[:, slip_at[j]] < s.slip_probability
        amounts.append(amount)
        slip_parts.append(slipped)
    return np.concatenate(amounts), np.concatenate(slip_parts)


def late_figures(instance: Instance, starts: np.ndarray) -> PlanFigures:
    """The plan's figures with every start a year later: what a slipped scheme delivers."""
    return PlanFigures(instance, np.where(starts == NOT_SELECTED, NOT_SELECTED, starts + 1))


def scenario_net_savings(fig: PlanFigures, late: PlanFigures, target,
                         amount: np.ndarray, slipped: np.ndarray) -> np.ndarray:
    """(n, years): the target's net saving (recurrent or in-year, its org) of the plan in each draw."""
    savings = ("saving",) if target.basis == "recurrent" else ("saving", "nonrecurrent_saving")
    costs = ("running_cost",) if target.basis == "recurrent" else ("running_cost", "one_off_cost",
                                                                   "double_running_cost")
    on_time = sum(fig.contribution(m, target.org) for m in savings)
    slipped_values = sum(late.contribution(m, target.org) for m in savings)
    fixed = sum(fig.contribution(m, target.org).sum(axis=0) for m in costs)
    return (amount * ~slipped) @ on_time + (amount * slipped) @ slipped_values - fixed


def tail_mean(losses: np.ndarray, alpha: float) -> float:
    """CVaR: the mean of the worst (1 - alpha) N of N equally likely losses (the last one in part)."""
    worst_first = sorted(losses.tolist(), reverse=True)
    mass = (1 - alpha) * len(worst_first)
    total, left = 0.0, mass
    for value in worst_first:
        take = min(1.0, left)
        if take <= 1e-12:
            break
        total += take * value
        left -= take
    return total / mass


def check_risk(instance: Instance, fig: PlanFigures, starts: np.ndarray) -> tuple[list[Violation], dict]:
    """The `risk_cvar` / `risk_chance` rules of docs/checker.md and the plan's risk figures."""
    o = instance.objective
    if o.risk not in ("cvar", "chance"):
        return [], {}
    amount, slipped = draws(instance, o.seed, o.draws)
    late = late_figures(instance, starts)  # once for every target
    if o.risk == "chance":
        target = next(t for t in instance.targets if t.id == o.chance_target)
        achieved = scenario_net_savings(fig, late, target, amount, slipped)
        missed = np.zeros(o.draws, dtype=bool)
        for y, required in target.values.items():
            k = instance.years.index(y)
            slack = 1e-6 + 1e-9 * (abs(required) + np.abs(achieved[:, k]))
            missed |= achieved[:, k] < required - slack
        allowed = math.floor((1 - o.chance_probability) * o.draws + 1e-9)
        figures = {"risk_chance_met": 1 - missed.mean(), "risk_chance_misses": int(missed.sum())}
        if missed.sum() > allowed:
            return [Violation(
                "risk_chance", None, (), float(missed.sum() - allowed),
                f"risk_chance: target {target.id} is met in {o.draws - missed.sum():,} of {o.draws:,} scenarios "
                f"({1 - missed.mean():.1%}); at least {o.chance_probability:.1%} is required "
                f"(at most {allowed:,} may miss)")], figures
        return [], figures
    ids = set(o.risk_targets) if o.risk_targets is not None else {t.id for t in instance.targets}
    loss = np.zeros(o.draws)
    for target in instance.targets:
        if target.id not in ids:
            continue
        achieved = scenario_net_savings(fig, late, target, amount, slipped)
        for y, required in target.values.items():
            loss += instance.discount(y) * np.maximum(0.0, required - achieved[:, instance.years.index(y)])
    value = tail_mean(loss, o.alpha)
    figures = {"risk_cvar": value, "risk_loss_mean": float(loss.mean())}
    if o.cvar_max is not None and value > o.cvar_max + 1e-6 + 1e-9 * (o.cvar_max + loss.max(initial=0)):
        return [Violation(
            "risk_cvar", None, (), value - o.cvar_max,
            f"risk_cvar: the CVaR at alpha {o.alpha:g} of the discounted shortfall over {o.draws:,} scenarios "
            f"is {fmt(value)}, above cvar_max {fmt(o.cvar_max)} by {fmt(value - o.cvar_max)}")], figures
    return [], figures
