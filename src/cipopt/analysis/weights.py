"""The set of criteria weights a panel has not ruled out, and uniform samples from it.

A panel that disputes its weights states what it agrees on: a range per criterion
(`weight_min`..`weight_max`), an order of importance (`criteria_order`), or both. The feasible
weight set is

    W = { w : sum_c w_c = 1,  lo_c <= w_c <= hi_c,  w_o1 >= w_o2 >= ... (criteria_order) }

where a criterion with a range has `lo, hi = weight_min, weight_max` (defaults 0 and 1), and a
criterion with only an exact `weight` is fixed at it (`lo = hi = weight`) unless a
`criteria_order` is given, which then states the disagreement (exact weights become the panel's
central view only). When every criterion has an exact weight and there is no range and no order,
W is that one point and nothing is sampled.

Sampling is exact, not approximate: the free weights are drawn from the flat Dirichlet(1)
distribution scaled to the mass the fixed weights leave (uniform on that simplex); the members
of `criteria_order` that are free are sorted into the order (a measure-preserving fold of a
symmetric distribution, so still uniform on the ordered part); a draw outside a range, or one
breaking an order relation with a fixed weight, is rejected. What is accepted is uniform on W.
When W is too thin for rejection to hit it, hit-and-run takes over (uniform in the limit).
docs/ranking.md states the method; tests check that samples lie in W and look uniform.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cipopt.schema.instance import Criterion, Instance
from cipopt.schema.nominal import polytope_centroid, rank_order_centroid
from cipopt.schema.problems import InputError, Problem

TOL = 1e-9
MAX_DRAWS = 4_000_000
"""Rejection draws allowed in all before hit-and-run takes over (the set is too thin to hit)."""
CENTRE_SAMPLES = 20_000
CENTRE_SEED = 0


@dataclass(frozen=True)
class WeightSet:
    ids: tuple[str, ...]
    lo: np.ndarray
    hi: np.ndarray
    order: tuple[int, ...]  # indices into ids, most important first
    exact: np.ndarray | None  # every criterion's exact weight, when all have one

    @property
    def fixed(self) -> np.ndarray:
        return self.hi - self.lo <= TOL

    @property
    def is_point(self) -> bool:
        return bool(self.fixed.all()) and not self.order

    def contains(self, w: np.ndarray, tol: float = 1e-7) -> np.ndarray:
        """(n,) whether each row of `w` (n x criteria) lies in W."""
        w = np.atleast_2d(w)
        ok = (w >= self.lo - tol).all(axis=1) & (w <= self.hi + tol).all(axis=1)
        if not self.is_point:
            ok &= np.abs(w.sum(axis=1) - 1.0) <= tol
        for a, b in zip(self.order, self.order[1:]):
            ok &= w[:, a] >= w[:, b] - tol
        return ok

    def describe(self) -> str:
        if self.is_point:
            return "exact weights: " + ", ".join(f"{c} {v:g}" for c, v in zip(self.ids, self.lo))
        parts = []
        for c, lo, hi in zip(self.ids, self.lo, self.hi):
            parts.append(f"{c} {lo:g}" if hi - lo <= TOL else f"{c} {lo:g}..{hi:g}")
        text = "weights summing to 1 with " + ", ".join(parts)
        if self.order:
            text += "; in the order " + " >= ".join(self.ids[i] for i in self.order)
        return text


def weight_set(instance: Instance) -> WeightSet:
    """The feasible weight set the instance states (see the module docstring)."""
    criteria = list(instance.criteria)
    known = {c.id for c in criteria}
    criteria += [Criterion(id=c) for c in (instance.criteria_order or ()) if c not in known]
    ids = tuple(c.id for c in criteria)
    ordered = bool(instance.criteria_order)
    lo, hi = np.zeros(len(ids)), np.ones(len(ids))
    for i, c in enumerate(criteria):
        ranged = c.weight_min is not None or c.weight_max is not None
        if ranged:
            lo[i] = c.weight_min if c.weight_min is not None else 0.0
            hi[i] = c.weight_max if c.weight_max is not None else 1.0
        elif c.weight is not None and not ordered:
            lo[i] = hi[i] = c.weight
    exact = np.array([c.weight for c in criteria], dtype=float) if all(c.weight is not None for c in criteria) else None
    index = {c: i for i, c in enumerate(ids)}
    order = tuple(index[c] for c in (instance.criteria_order or ()))
    return WeightSet(ids, lo, hi, order, exact)


def feasibility_problem(ws: WeightSet) -> str | None:
    """Why W is empty, in words, or None. Found by a small LP (scipy's HiGHS)."""
    if ws.is_point:
        return None
    if ws.lo.sum() > 1 + TOL:
        return f"the criteria's weight_min values sum to {ws.lo.sum():g}, above 1"
    if ws.hi.sum() < 1 - TOL:
        return f"the criteria's weight_max values sum to {ws.hi.sum():g}, below 1"
    from scipy.optimize import linprog

    n = len(ws.ids)
    a_ub = []
    for a, b in zip(ws.order, ws.order[1:]):
        row = np.zeros(n)
        row[a], row[b] = -1.0, 1.0
        a_ub.append(row)
    res = linprog(np.zeros(n), A_ub=np.array(a_ub) if a_ub else None, b_ub=np.zeros(len(a_ub)) if a_ub else None,
                  A_eq=np.ones((1, n)), b_eq=[1.0], bounds=list(zip(ws.lo, ws.hi)), method="highs")
    if res.status != 0:
        return "no weights summing to 1 keep every weight range and the order of importance together"
    return None


def require_feasible(ws: WeightSet) -> None:
    problem = feasibility_problem(ws)
    if problem:
        raise InputError([Problem("instance.yaml", problem, key="criteria")])


REJECTION = "rejection"
HIT_AND_RUN = "hit-and-run"


def sample_weights(ws: WeightSet, n: int, rng: np.random.Generator, *, max_draws: int = MAX_DRAWS) -> np.ndarray:
    """(n x criteria) weight vectors drawn uniformly from W (see `sample_weights_how`)."""
    return sample_weights_how(ws, n, rng, max_draws=max_draws)[0]


def sample_weights_how(ws: WeightSet, n: int, rng: np.random.Generator, *,
                       max_draws: int = MAX_DRAWS) -> tuple[np.ndarray, str]:
    """Samples of W and the method: exact rejection, or hit-and-run when W is too thin to hit."""
    if ws.is_point:
        return np.repeat(ws.lo[None, :], n, axis=0), "none (one point)"
    require_feasible(ws)
    found = _rejection(ws, n, rng, max_draws)
    if found is not None:
        return found, REJECTION
    return _hit_and_run(ws, n, rng), HIT_AND_RUN


def _rejection(ws: WeightSet, n: int, rng: np.random.Generator, max_draws: int) -> np.ndarray | None:
    fixed = ws.fixed
    free = np.flatnonzero(~fixed)
    mass = 1.0 - ws.lo[fixed].sum()
    chain_free = [i for i in ws.order if not fixed[i]]
    out: list[np.ndarray] = []
    have, drawn = 0, 0
    batch = max(1024, 4 * n)
    while have < n:
        if drawn >= max_draws:
            return None
        w = np.empty((batch, len(ws.ids)))
        w[:, fixed] = ws.lo[fixed]
        if len(free):
            w[:, free] = rng.dirichlet(np.ones(len(free)), size=batch) * mass
        if len(chain_free) > 1:
            w[:, chain_free] = -np.sort(-w[:, chain_free], axis=1)  # into the order, most important first
        keep = w[ws.contains(w, tol=TOL)]
        out.append(keep)
        have += len(keep)
        drawn += batch
        batch = min(batch * 2, 1_000_000)
    return np.concatenate(out)[:n]


def _free_polytope(ws: WeightSet) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """W over its free weights z: G z <= h and sum z = mass. Returns (free indices, G, h, mass)."""
    fixed = ws.fixed
    free = np.flatnonzero(~fixed)
    pos = {int(i): k for k, i in enumerate(free)}
    f = len(free)
    rows, rhs = [], []
    for k, i in enumerate(free):
        e = np.zeros(f)
        e[k] = 1.0
        rows += [e, -e]
        rhs += [ws.hi[i], -ws.lo[i]]
    for a, b in zip(ws.order, ws.order[1:]):  # w_a >= w_b  <=>  w_b - w_a <= 0
        g = np.zeros(f)
        h = 0.0
        for i, sign in ((b, 1.0), (a, -1.0)):
            if i in pos:
                g[pos[i]] += sign
            else:
                h -= sign * ws.lo[i]
        if np.any(g):
            rows.append(g)
            rhs.append(h)
    return free, np.array(rows), np.array(rhs), float(1.0 - ws.lo[fixed].sum())


def _hit_and_run(ws: WeightSet, n: int, rng: np.random.Generator) -> np.ndarray:
    """Hit-and-run (Smith 1984) inside W from its Chebyshev centre: uniform in the limit.

    Each step picks a uniform random direction in the plane sum z = mass and a uniform point on
    the chord of W through the current point in that direction. After a burn-in of 100 f steps
    every 10 f-th point is kept (f free weights), which makes the draws close to independent.
    """
    from scipy.optimize import linprog

    free, g, h, mass = _free_polytope(ws)
    f = len(free)
    projected = g - g.mean(axis=1, keepdims=True)  # the rows' directions within the plane
    norms = np.linalg.norm(projected, axis=1)
    # maximise r: g z + r |proj g| <= h, sum z = mass (the centre of the largest ball inside W)
    res = linprog(np.r_[np.zeros(f), -1.0], A_ub=np.c_[g, norms], b_ub=h,
                  A_eq=np.r_[np.ones(f), 0.0][None, :], b_eq=[mass],
                  bounds=[(None, None)] * f + [(0, 1)], method="highs")
    if res.status != 0 or res.x[-1] <= 1e-9:
        raise InputError([Problem("instance.yaml", "the weight ranges and order leave no room to vary the weights "
                                                   "(the feasible set is flat): widen the ranges", key="criteria")])
    z = res.x[:f]
    thin, burn = 10 * f, 100 * f
    out = np.empty((n, len(ws.ids)))
    out[:, ws.fixed] = ws.lo[ws.fixed]
    kept, step = 0, 0
    while kept < n:
        d = rng.standard_normal(f)
        d -= d.mean()
        d /= np.linalg.norm(d)
        gd = g @ d
        slack = h - g @ z
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = slack / gd
        upper = ratio[gd > 1e-12].min(initial=np.inf)
        lower = ratio[gd < -1e-12].max(initial=-np.inf)
        z = z + rng.uniform(lower, upper) * d
        step += 1
        if step > burn and (step - burn) % thin == 0:
            out[kept, free] = z
            kept += 1
    return out


def central_weights(ws: WeightSet) -> tuple[np.ndarray, str]:
    """The weights of the panel's central view, and how they were found.

    Exact weights when every criterion has one; for an order of importance alone, the
    rank-order centroid (w_i = (1/n) sum_{k>=i} 1/k, the centre of the ordered simplex); else the
    exact centroid of W (cipopt.schema.nominal: the weights weighted_score counts), or, when W has
    no interior, the mean of CENTRE_SAMPLES uniform samples (seed 0).
    """
    if ws.exact is not None:
        return ws.exact.copy(), "the exact weights of instance.yaml"
    n = len(ws.ids)
    if ws.order and len(ws.order) == n and not ws.fixed.any() and (ws.lo <= TOL).all() and (ws.hi >= 1 - TOL).all():
        w = np.zeros(n)
        w[list(ws.order)] = rank_order_centroid(n)
        return w, "the rank-order centroid of criteria_order"
    exact = polytope_centroid(ws.lo, ws.hi, ws.order)  # what weighted_score counts (cipopt.schema.nominal)
    if exact is not None:
        return exact, "the centroid of the feasible weight set (exact: its vertices, triangulated)"
    rng = np.random.default_rng(CENTRE_SEED)
    require_feasible(ws)
    draws = _rejection(ws, CENTRE_SAMPLES, rng, MAX_DRAWS)
    if draws is None:  # too thin for rejection: fewer hit-and-run draws (each costs 10 f steps)
        draws = _hit_and_run(ws, CENTRE_SAMPLES // 10, rng)
    return draws.mean(axis=0), \
        f"the centre of the feasible weight set (mean of {len(draws):,} uniform samples, seed {CENTRE_SEED})"


def with_weights(instance: Instance, ids: tuple[str, ...], w: np.ndarray) -> Instance:
    """The instance with exact weights `w` for criteria `ids` (ranges kept; criteria named only in
    the order added), for the objective weighted_score."""
    by_id = {c.id: c for c in instance.criteria}
    criteria = tuple(
        (by_id[c].model_copy(update={"weight": float(v)}) if c in by_id else Criterion(id=c, weight=float(v)))
        for c, v in zip(ids, w))
    return instance.model_copy(update={"criteria": criteria})
