"""Logical links between schemes: requires, excludes, together, precedes (with lags in years).

Timing rules use the aggregated "started by year tau" form, which is tighter than big-M:
  requires a b lag:  started_a(<= tau) <= started_b(<= tau - lag)            for every tau
  precedes a b lag:  started_b(<= tau) + started_a(> tau - lag) <= 1         for every tau

All rows of a kind are made at once with numpy over (relation, tau) pairs and the allowed starts
of the schemes involved, never relation by relation and year by year.
"""

from __future__ import annotations

import numpy as np
import pyomo.core as pyo
import scipy.sparse as sp

from cipopt.model.context import BuildNotes, ModelContext, add_rows
from cipopt.model.family import Family, fields, hard, no_rule_rows, no_rules, not_relaxed, nothing
from cipopt.schema.instance import Instance

KIND_ROWS = {"requires": "c_requires", "precedes": "c_precedes", "excludes": "c_excludes", "together": "c_together"}


def _strictest(ctx: ModelContext, kind: str) -> dict[tuple[str, str], int]:
    """One row set per (a, b) of a kind; a repeated relation keeps its largest lag."""
    out: dict[tuple[str, str], int] = {}
    for r in ctx.instance.relations:
        if r.kind == kind:
            out[(r.a, r.b)] = max(out.get((r.a, r.b), 0), r.lag)
    return out


def _starts(ctx: ModelContext, schemes: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(relation position, allowed start, start-year index) of every allowed start of `schemes`."""
    coef = ctx.coef
    found = [coef.pairs_of_scheme[coef.scheme_index[s]] for s in schemes]
    counts = np.array([len(p) for p in found], dtype=np.int64)
    pairs = np.concatenate(found) if found else np.zeros(0, dtype=np.int64)
    return np.repeat(np.arange(len(schemes)), counts), pairs, coef.pair_start[pairs]


def _spread(owner, pairs, first, last, coef_, n_years):
    """Entries (row id = owner * T + tau, start, coefficient) for every tau in first..last of each start."""
    first = np.maximum(first, 0)
    last = np.minimum(last, n_years - 1)
    counts = np.maximum(last - first + 1, 0)
    rep = np.repeat(np.arange(len(pairs)), counts)
    offset = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    tau = first[rep] + offset
    return owner[rep] * n_years + tau, pairs[rep], np.full(len(rep), coef_)


def _timing_rows(m, ctx, name: str, relations: dict, kind: str) -> None:
    coef = ctx.coef
    T, y0 = coef.n_years, int(coef.years[0])
    ab = list(relations)
    lag = np.array([relations[k] for k in ab], dtype=np.int64)
    a_own, a_pair, a_start = _starts(ctx, [a for a, _ in ab])
    b_own, b_pair, b_start = _starts(ctx, [b for _, b in ab])
    last = np.full(len(a_pair), T - 1)
    if kind == "requires":  # started_a(<= tau) - started_b(<= tau - lag) <= 0, where a can have started
        a_rows = _spread(a_own, a_pair, a_start, last, 1.0, T)
        b_rows = _spread(b_own, b_pair, b_start + lag[b_own], np.full(len(b_pair), T - 1), -1.0, T)
        present = np.unique(a_rows[0])
        rhs = 0.0
    else:  # precedes: started_b(<= tau) + started_a(> tau - lag) <= 1, where both terms can be there
        a_rows = _spread(a_own, a_pair, np.zeros(len(a_pair), dtype=np.int64), a_start + lag[a_own] - 1, 1.0, T)
        b_rows = _spread(b_own, b_pair, b_start, np.full(len(b_pair), T - 1), 1.0, T)
        present = np.intersect1d(a_rows[0], b_rows[0])
        rhs = 1.0
    row_id = np.concatenate([a_rows[0], b_rows[0]])
    keep = np.isin(row_id, present)
    rows = np.searchsorted(present, row_id[keep])
    matrix = sp.csr_array(
        (np.concatenate([a_rows[2], b_rows[2]])[keep], (rows, np.concatenate([a_rows[1], b_rows[1]])[keep])),
        shape=(len(present), coef.n_pairs))
    keys = [(*ab[r // T], y0 + r % T) for r in present.tolist()]
    add_rows(m, name, keys, matrix, -np.inf, rhs)


def _pair_rows(m, ctx, name: str, relations: dict, kind: str) -> None:
    coef = ctx.coef
    ab = list(relations)
    a_own, a_pair, _ = _starts(ctx, [a for a, _ in ab])
    b_own, b_pair, _ = _starts(ctx, [b for _, b in ab])
    has_a = np.bincount(a_own, minlength=len(ab)) > 0
    has_b = np.bincount(b_own, minlength=len(ab)) > 0
    present = np.flatnonzero(has_a & has_b if kind == "excludes" else has_a | has_b)
    pos = np.full(len(ab), -1)
    pos[present] = np.arange(len(present))
    owner = np.concatenate([a_own, b_own])
    pairs = np.concatenate([a_pair, b_pair])
    values = np.concatenate([np.ones(len(a_pair)), np.full(len(b_pair), 1.0 if kind == "excludes" else -1.0)])
    keep = pos[owner] >= 0
    matrix = sp.csr_array((values[keep], (pos[owner[keep]], pairs[keep])), shape=(len(present), coef.n_pairs))
    keys = [ab[i] for i in present.tolist()]
    if kind == "excludes":
        add_rows(m, name, keys, matrix, -np.inf, 1.0)
    else:
        add_rows(m, name, keys, matrix, 0.0, 0.0)


def add_to(m: pyo.ConcreteModel, ctx: ModelContext, notes: BuildNotes) -> None:
    for kind in ("requires", "precedes"):
        _timing_rows(m, ctx, KIND_ROWS[kind], _strictest(ctx, kind), kind)
    for kind in ("excludes", "together"):
        _pair_rows(m, ctx, KIND_ROWS[kind], _strictest(ctx, kind), kind)


def _words(name: str, index, instance: Instance, amount: float | None = None) -> str:
    kind = next(k for k, row in KIND_ROWS.items() if row == name)
    a, b = index[0], index[1]
    by = f" by {index[2]}" if len(index) > 2 else ""
    return f"{a} {kind} {b}{by}"


FAMILY = Family(
    name="relations", add_to=add_to, rows=tuple(KIND_ROWS.values()),
    reads=fields("relations", "schemes", "years"),
    rebounds=frozenset({"schemes"}), keeps_rows=nothing, rebound=nothing,
    price=hard, words=_words, proved=not_relaxed, rules=no_rules, rule_rows=no_rule_rows,
)
