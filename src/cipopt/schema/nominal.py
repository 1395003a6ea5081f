"""The nominal criteria weights of an instance: the single weights `weighted_score` maximises.

The format lets a panel give exact weights, ranges (`weight_min`..`weight_max`) or only an order
of importance (`criteria_order`). The weights it has not ruled out form the polytope

    W = { w : sum_c w_c = 1,  lo_c <= w_c <= hi_c,  w_o1 >= w_o2 >= ... }

(a criterion with only an exact weight is fixed at it unless an order is given; see
cipopt.analysis.weights). Its nominal point is the standard one, the centroid of W:

- every criterion exact: those weights (an order then only checks them);
- an order alone: the rank-order centroid w_(i) = (1/n) sum_{k>=i} 1/k (Barron and Barrett 1996),
  which is the centroid of the ordered simplex;
- otherwise the centroid of W, computed exactly: W's vertices (scipy's halfspace intersection),
  a triangulation into simplices, and their centroids weighted by volume.

It lives in the schema so that the model and the independent checker read the same meaning of
an instance (as they read its years), and `rank` centres on the same weights.
"""

from __future__ import annotations

import math

import numpy as np

TOL = 1e-9


def weight_bounds(instance) -> tuple[tuple[str, ...], np.ndarray, np.ndarray, tuple[int, ...]]:
    """(criterion ids, lo, hi, order as indices) of the weight polytope W the instance states."""
    criteria = list(instance.criteria)
    known = {c.id for c in criteria}
    ids = tuple(c.id for c in criteria) + tuple(c for c in (instance.criteria_order or ()) if c not in known)
    ordered = bool(instance.criteria_order)
    lo, hi = np.zeros(len(ids)), np.ones(len(ids))
    for i, c in enumerate(criteria):
        if c.weight_min is not None or c.weight_max is not None:
            lo[i] = c.weight_min if c.weight_min is not None else 0.0
            hi[i] = c.weight_max if c.weight_max is not None else 1.0
        elif c.weight is not None and not ordered:
            lo[i] = hi[i] = c.weight
    index = {c: i for i, c in enumerate(ids)}
    order = tuple(index[c] for c in (instance.criteria_order or ()) if c in index)
    return ids, lo, hi, order


def rank_order_centroid(n: int) -> np.ndarray:
    """ROC weights of n criteria, most important first."""
    return np.array([sum(1.0 / k for k in range(i + 1, n + 1)) / n for i in range(n)])


def polytope_centroid(lo: np.ndarray, hi: np.ndarray, order: tuple[int, ...]) -> np.ndarray | None:
    """The exact centroid of W, or None when W is empty or has no interior in its hyperplane
    (then no volume-weighted centre exists; the caller says so)."""
    from scipy.optimize import linprog
    from scipy.spatial import Delaunay, HalfspaceIntersection

    n = len(lo)
    free = np.flatnonzero(hi - lo > TOL)
    fixed = np.flatnonzero(hi - lo <= TOL)
    mass = 1.0 - float(lo[fixed].sum())
    m = len(free)
    if m == 0:
        return lo.copy() if abs(mass) <= 1e-7 else None
    position = {int(c): k for k, c in enumerate(free)}
    x0 = np.full(m, mass / m)
    # z lives in the plane sum x_F = mass: x_F = x0 + N z, N an orthonormal basis of ones^perp
    basis = np.linalg.svd(np.ones((1, m)))[2][1:].T  # (m, m-1)
    rows, rhs = [], []
    for k in range(m):  # lo <= x0 + N z <= hi
        c = free[k]
        rows.append(basis[k]); rhs.append(hi[c] - x0[k])
        rows.append(-basis[k]); rhs.append(x0[k] - lo[c])
    for a, b in zip(order, order[1:]):  # x_b - x_a <= 0
        row, const = np.zeros(m - 1), 0.0
        for c, sign in ((b, 1.0), (a, -1.0)):
            if c in position:
                row = row + sign * basis[position[c]]
                const += sign * x0[position[c]]
            else:
                const += sign * lo[c]
        rows.append(row); rhs.append(-const)
    a_ub, b_ub = np.array(rows), np.array(rhs)
    d = m - 1
    out = lo.copy()
    if d == 0:
        if (b_ub >= -1e-9).all():
            out[free] = x0
            return out
        return None
    norms = np.linalg.norm(a_ub, axis=1)
    # Chebyshev centre: an interior point, and whether W has one
    res = linprog(np.r_[np.zeros(d), -1.0], A_ub=np.c_[a_ub, norms], b_ub=b_ub,
                  bounds=[(None, None)] * d + [(0, None)], method="highs")
    if res.status != 0 or res.x[-1] <= 1e-9:
        return None
    centre = res.x[:d]
    if d == 1:
        lows = [b / a for a, b in zip(a_ub[:, 0], b_ub) if a < -TOL]
        highs = [b / a for a, b in zip(a_ub[:, 0], b_ub) if a > TOL]
        z = np.array([(max(lows) + min(highs)) / 2])
    else:
        hs = HalfspaceIntersection(np.c_[a_ub, -b_ub], centre)
        vertices = hs.intersections
        simplices = vertices[Delaunay(vertices).simplices]  # (k, d+1, d)
        volumes = np.abs(np.linalg.det(simplices[:, 1:] - simplices[:, :1])) / math.factorial(d)
        z = (volumes[:, None] * simplices.mean(axis=1)).sum(axis=0) / volumes.sum()
    out[free] = x0 + basis @ z
    return out


def nominal_weights(instance) -> tuple[dict[str, float], str] | None:
    """The weights `weighted_score` counts and how they were found; None without criteria or when
    W is empty or has no interior (validate reports that)."""
    ids, lo, hi, order = weight_bounds(instance)
    if not ids:
        return None
    criteria = {c.id: c for c in instance.criteria}
    if all(c in criteria and criteria[c].weight is not None for c in ids):  # an order then only checks them
        return {c: float(criteria[c].weight) for c in ids}, "the exact weights of instance.yaml"
    if (order and len(order) == len(ids) and (lo <= TOL).all() and (hi >= 1 - TOL).all()):
        w = np.zeros(len(ids))
        w[list(order)] = rank_order_centroid(len(ids))
        return dict(zip(ids, w.tolist())), "the rank-order centroid of criteria_order"
    w = polytope_centroid(lo, hi, order)
    if w is None:  # no interior: a single point when the lowest or highest weights already sum to 1
        for edge in (lo, hi):
            if abs(edge.sum() - 1.0) <= 1e-9 and all(edge[a] >= edge[b] - TOL for a, b in zip(order, order[1:])):
                w = edge.copy()
    if w is None:
        return None
    return dict(zip(ids, w.tolist())), "the centroid of the criteria's weight polytope (ranges and order)"
