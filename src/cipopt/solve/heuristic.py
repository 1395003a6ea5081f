"""A first plan before HiGHS: greedy by value per unit of the binding resources, then repair and improve.

At 20,000 schemes and more HiGHS may find no plan at all within minutes (its root LP alone can
take that long), so the solve starts from this plan: it is handed to HiGHS as a MIP start and,
if HiGHS finds nothing better by the time limit, it is the plan returned (checked like any other,
with its gap to HiGHS's best bound). docs/formulation.md ("First plan") describes it.

It works on the model as HiGHS gets it (the standard form: rows over the start columns), so every
rule the model states (windows, QIA eligibility, mandatory schemes, start once, relations, limits,
fair shares, quality floors, hard targets) is kept by construction, and soft targets are valued
by their shortfall penalties exactly as the objective values them. It does not read the checker:
the checker confirms its plans independently. Models with other auxiliary variables (delivery
risk: CVaR or chance rows) are left to HiGHS: the heuristic says so and returns no plan.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

TOL = 1e-9  # relative slack allowed on a row bound: the checker's tolerance is far looser


@dataclass
class FirstPlan:
    """The heuristic's plan: `chosen` is 0/1 over the allowed starts (None when it found none)."""

    chosen: np.ndarray | None
    objective: float | None  # the model's objective at the plan (shortfalls at their least)
    seconds: float
    reason: str = ""  # why there is no plan, in words
    bound: float | None = None  # a bound no plan can beat: each scheme at its best start, every rule dropped


class _Rows:
    """The rows over the start columns, their bounds, and the soft rows' shortfall prices."""

    def __init__(self, form, pair_columns: np.ndarray):
        a = sp.csc_array(form.matrix)
        n_cols = a.shape[1]
        is_pair = np.zeros(n_cols, dtype=bool)
        present = pair_columns >= 0
        is_pair[pair_columns[present]] = True
        self.sense = 1.0 if form.maximize else -1.0
        self.lower = np.asarray(form.row_lower, dtype=float)
        self.upper = np.asarray(form.row_upper, dtype=float)
        m = a.shape[0]
        self.price = np.zeros(m)  # objective lost per unit of activity short of a soft row's lower bound
        self.soft = np.zeros(m, dtype=bool)
        self.unsupported = ""
        # all-or-nothing money (an incentive fund's binary): worth `value` if set, allowed only where each of
        # its >= rows still holds with its negative (big-M) coefficient; the greedy leaves it at 0 (always
        # allowed) and sets it at the end where the plan meets the conditions
        self.bonus: list[tuple[float, np.ndarray, np.ndarray]] = []
        aux = np.flatnonzero(~is_pair)
        if len(aux):
            sub = a[:, aux].tocsc()
            for k, j in enumerate(aux.tolist()):
                rows = sub.indices[sub.indptr[k]:sub.indptr[k + 1]]
                vals = sub.data[sub.indptr[k]:sub.indptr[k + 1]]
                cost = self.sense * form.col_cost[j]
                # a shortfall: continuous, >= 0, in one >= row with a positive coefficient, penalised
                if (form.integrality[j] == 0 and form.col_lower[j] == 0 and form.col_upper[j] >= 1e30
                        and len(rows) == 1 and vals[0] > 0 and self.upper[rows[0]] >= 1e30 and cost <= 0
                        and not self.soft[rows[0]]):
                    self.soft[rows[0]] = True
                    self.price[rows[0]] = -cost / vals[0]
                elif (form.integrality[j] != 0 and form.col_lower[j] == 0 and form.col_upper[j] == 1 and len(rows)
                      and np.all(vals < 0) and np.all(self.upper[rows] >= 1e30) and cost >= 0):
                    self.bonus.append((cost, rows.copy(), vals.copy()))
                elif len(rows) or cost:
                    self.unsupported = str(getattr(form.columns[j], "name", j))
                    return
        # the start columns, in the order of the allowed starts (absent ones have no rows and no value)
        # (a model may have no column at all: every start absent)
        at = np.flatnonzero(present)
        self.value = np.zeros(len(present))
        self.value[at] = self.sense * np.asarray(form.col_cost, dtype=float)[pair_columns[at]]
        picked = sp.csc_array((np.ones(len(at)), (pair_columns[at], at)), shape=(a.shape[1], len(present)))
        self.a = sp.csc_array(a @ picked)
        self.a.sort_indices()
        self.hard = ~self.soft
        self.tol = TOL * np.maximum(1.0, np.maximum(np.abs(np.where(np.isfinite(self.lower), self.lower, 0)),
                                                    np.abs(np.where(np.isfinite(self.upper), self.upper, 0))))


class _Greedy:
    def __init__(self, rows: _Rows, pair_scheme: np.ndarray, deadline: float | None):
        self.r = rows
        self.a = rows.a
        self.indptr, self.indices, self.data = rows.a.indptr, rows.a.indices, rows.a.data
        self.act = np.zeros(rows.a.shape[0])
        self.x = np.zeros(rows.a.shape[1], dtype=bool)
        self.pair_scheme = pair_scheme
        self.scheme_of = pair_scheme.tolist()
        self.taken = [0] * (int(pair_scheme.max(initial=-1)) + 1)  # chosen starts per scheme
        self.deadline = deadline
        lo, hi = rows.lower, rows.upper
        self.hard_lo = np.where(rows.hard & np.isfinite(lo) & (lo > -1e30), lo - rows.tol, -np.inf)
        self.hard_hi = np.where(np.isfinite(hi) & (hi < 1e30), hi + rows.tol, np.inf)
        # rows that only say "at most one of these" (start once, excludes): a choice, not a resource
        csr = sp.csr_array(rows.a)
        counts = np.diff(csr.indptr)
        unit = np.bincount(np.repeat(np.arange(len(counts)), counts), weights=(np.abs(csr.data) == 1.0),
                           minlength=len(counts))
        self.choice = (counts > 0) & (unit == counts) & (hi <= 1.0)

    def out_of_time(self) -> bool:
        return self.deadline is not None and time.perf_counter() > self.deadline

    def column(self, p: int):
        s, e = self.indptr[p], self.indptr[p + 1]
        return self.indices[s:e], self.data[s:e]

    def fits(self, rows: np.ndarray, new: np.ndarray, old: np.ndarray) -> bool:
        """No row above its upper bound, and no hard row pushed further below its lower bound."""
        worse = ((new > self.hard_hi[rows]) & (new > old)) | ((new < self.hard_lo[rows]) & (new < old))
        return not worse.any()

    def gain(self, rows: np.ndarray, old: np.ndarray, new: np.ndarray, value: float) -> float:
        """The change in the objective: the start's own value plus the shortfall it makes up."""
        price = self.r.price[rows]
        if not price.any():
            return value
        short_old = np.maximum(0.0, self.r.lower[rows] - old)
        short_new = np.maximum(0.0, self.r.lower[rows] - new)
        return value + float(price @ (short_old - short_new))

    def toggle(self, p: int, on: bool, need_gain: bool) -> bool:
        rows, vals = self.column(p)
        old = self.act[rows]
        new = old + vals if on else old - vals
        if not self.fits(rows, new, old):
            return False
        if need_gain:
            v = self.r.value[p] if on else -self.r.value[p]
            if self.gain(rows, old, new, v) <= 1e-12:
                return False
        self.act[rows] = new
        self.x[p] = on
        self.taken[self.scheme_of[p]] += 1 if on else -1
        return True

    def deficit(self) -> np.ndarray:
        return np.maximum(0.0, self.hard_lo - self.act)  # 0 on soft and unbounded rows

    def objective(self) -> float:
        short = np.maximum(0.0, self.r.lower - self.act)[self.r.soft]
        return float(self.r.value @ self.x - self.r.price[self.r.soft] @ short)

    def resource_use(self, candidates: np.ndarray) -> np.ndarray:
        """Each start's use of the binding resources: sum over rows whose upper bound the
        candidates together would exceed of (its coefficient / the row's slack)."""
        hi = self.hard_hi
        slack = hi - self.act
        finite = np.isfinite(hi)
        pos = self.a.copy()
        pos.data = np.maximum(pos.data, 0.0)
        demand = pos @ candidates.astype(float)
        binding = finite & (demand > slack) & (slack > 0) & ~self.choice
        weight = np.zeros(len(hi))
        weight[binding] = 1.0 / np.maximum(slack[binding], 1e-9)
        return pos.T @ weight

    def cover(self) -> None:
        """Meet the hard lower bounds (mandatory schemes, hard targets, floors) first: add the starts
        that make up most of what is still missing per unit of the binding resources."""
        for _ in range(100):
            short = self.deficit()
            if not short.any():
                return
            weight = np.where(short > 0, 1.0 / np.maximum(short, 1e-12), 0.0)
            helps = _column_sums(self.a, lambda rows, data: np.minimum(np.maximum(data, 0.0) * weight[rows], 1.0))
            helps[self.x] = 0.0
            candidates = np.flatnonzero(helps > 0)
            if not len(candidates):
                return
            use = self.resource_use(helps > 0)[candidates]
            order = candidates[np.lexsort((-self.r.value[candidates], -helps[candidates] / (1.0 + use)))]
            added = 0
            for p in order.tolist():
                rows, vals = self.column(p)
                if not np.any((vals > 0) & (self.act[rows] < self.hard_lo[rows])):
                    continue  # what it helped is met by now
                added += self.toggle(p, True, need_gain=False)
            if not added:
                return

    def fill(self, stop_at_deadline: bool = True) -> None:
        """Add starts in order of value per unit of the binding resources while they fit and pay."""
        rows = self.r
        # what a start could be worth: its value plus the shortfall it could make up now
        short = np.maximum(0.0, rows.lower - self.act) * rows.soft
        worth = rows.value + _column_sums(
            self.a, lambda r, data: rows.price[r] * np.minimum(np.maximum(data, 0.0), short[r]))
        candidates = (worth > 0) & ~self.x
        use = self.resource_use(candidates)
        idx = np.flatnonzero(candidates)
        order = idx[np.argsort(-(worth[idx] / (1.0 + use[idx])), kind="stable")]
        taken, scheme_of = self.taken, self.scheme_of
        for k, p in enumerate(order.tolist()):
            if stop_at_deadline and k % 1024 == 0 and self.out_of_time():
                return
            if taken[scheme_of[p]]:
                continue  # the scheme has its start: start-once (or mandatory) allows no other
            self.toggle(p, True, need_gain=True)

    def move_starts(self) -> None:
        """Improve: move each chosen scheme to another allowed start year, or drop it, when that pays."""
        for k, p in enumerate(np.flatnonzero(self.x).tolist()):
            if k % 512 == 0 and self.out_of_time():
                return
            s = self.pair_scheme[p]
            before = self.objective_local(p)
            if not self.toggle(p, False, need_gain=False):
                continue
            best, best_gain = p, before
            for q in self.starts_of(s):
                if q == p:
                    continue
                rows, vals = self.column(q)
                old = self.act[rows]
                new = old + vals
                if self.fits(rows, new, old):
                    g = self.gain(rows, old, new, self.r.value[q])
                    if g > best_gain + 1e-9 * max(1.0, abs(best_gain)):
                        best, best_gain = q, g
            if best_gain < -1e-12 and not self.deficit().any():
                continue  # dropping it pays and breaks no lower bound
            if not self.toggle(best, True, need_gain=False):
                self.toggle(p, True, need_gain=False)

    def apply(self, steps: list[tuple[int, bool]]) -> float | None:
        """Toggle starts together; kept if, at the end, no row is pushed further out of its bounds
        than before. The change in the objective, or None (and nothing changed)."""
        steps = [(p, on) for p, on in steps if self.x[p] != on]
        if not steps:
            self._done = []
            return 0.0
        touched = np.unique(np.concatenate([self.column(p)[0] for p, _ in steps]))
        before = self.act[touched].copy()
        value = 0.0
        for p, on in steps:
            rows, vals = self.column(p)
            self.act[rows] = self.act[rows] + vals if on else self.act[rows] - vals
            self.x[p] = on
            self.taken[self.scheme_of[p]] += 1 if on else -1
            value += self.r.value[p] if on else -self.r.value[p]
        self._done = steps
        after = self.act[touched]
        if not self.fits(touched, after, before):
            self.undo(steps)
            return None
        return self.gain(touched, before, after, value)

    def undo(self, done: list[tuple[int, bool]]) -> None:
        for p, on in reversed(done):
            rows, vals = self.column(p)
            self.act[rows] = self.act[rows] - vals if on else self.act[rows] + vals
            self.x[p] = not on
            self.taken[self.scheme_of[p]] += -1 if on else 1

    def best_start(self, scheme: int) -> tuple[int, float] | None:
        """The scheme's allowed start that fits and pays most now, with its gain."""
        best = None
        for q in self.starts_of(scheme):
            rows, vals = self.column(q)
            old = self.act[rows]
            new = old + vals
            if self.fits(rows, new, old):
                g = self.gain(rows, old, new, self.r.value[q])
                if best is None or g > best[1]:
                    best = (q, g)
        return best

    def starts_of(self, scheme: int) -> list[int]:
        if not hasattr(self, "_order"):
            self._order = np.argsort(self.pair_scheme, kind="stable")
            self._bounds = np.searchsorted(self.pair_scheme[self._order],
                                           np.arange(int(self.pair_scheme.max(initial=-1)) + 2))
        return self._order[self._bounds[scheme]:self._bounds[scheme + 1]].tolist()

    def make_room(self, limit_seconds: float | None = None, tries: int = 6) -> None:
        """Improve: for each start that would pay but does not fit, make room in the first row it
        would break: take out a chosen start there (and restart that scheme elsewhere if it fits),
        or add a start that row needs first (a scheme another requires); keep the exchange only if
        the objective rises."""
        if not hasattr(self, "csr"):
            self.csr = sp.csr_array(self.a)
        short = np.maximum(0.0, self.r.lower - self.act) * self.r.soft
        worth = self.r.value + _column_sums(
            self.a, lambda r, data: self.r.price[r] * np.minimum(np.maximum(data, 0.0), short[r]))
        idx = np.flatnonzero((worth > 0) & ~self.x)
        order = idx[np.argsort(-worth[idx], kind="stable")]
        started = time.perf_counter()
        for k, q in enumerate(order.tolist()):
            if k % 256 == 0 and (self.out_of_time() or (
                    limit_seconds is not None and time.perf_counter() - started > limit_seconds)):
                return
            if self.x[q]:
                continue
            rows, vals = self.column(q)
            old = self.act[rows]
            new = old + vals
            bad = np.flatnonzero(((new > self.hard_hi[rows]) & (new > old)) | ((new < self.hard_lo[rows]) & (new < old)))
            if not len(bad):
                self.apply([(q, True)]) if self.gain(rows, old, new, self.r.value[q]) > 1e-12 else None
                continue
            i = int(rows[bad[0]])
            up = new[bad[0]] > old[bad[0]]  # the row would go over its upper bound
            s, e = self.csr.indptr[i], self.csr.indptr[i + 1]
            cols, coefs = self.csr.indices[s:e], self.csr.data[s:e]
            # helpers: chosen starts that push the row the same way (taken out), or not chosen that push it back (added)
            out = cols[self.x[cols] & ((coefs > 0) == up)]
            out = out[np.argsort(self.r.value[out], kind="stable")][:tries]  # the least valuable first
            add = cols[~self.x[cols] & ((coefs < 0) == up) & (cols != q)]
            add = add[np.argsort(-self.r.value[add], kind="stable")][:tries]
            for h in out.tolist():
                total = self.apply([(h, False), (q, True)])
                if total is None:
                    continue
                done = self._done
                again = self.best_start(int(self.pair_scheme[h]))
                if again is not None and again[1] > 0 and self.pair_scheme[h] != self.pair_scheme[q]:
                    extra = self.apply([(again[0], True)])
                    if extra is not None:
                        total += extra
                        done = done + self._done
                if total > 1e-9:
                    break
                self.undo(done)
            else:
                for h in add.tolist():
                    total = self.apply([(h, True), (q, True)])
                    if total is None:
                        continue
                    if total > 1e-9:
                        break
                    self.undo(self._done)

    def objective_local(self, p: int) -> float:
        """What start p, chosen now, adds to the objective (its value and the shortfall it covers)."""
        rows, vals = self.column(p)
        new = self.act[rows]
        return self.gain(rows, new - vals, new, self.r.value[p])


def _kind_of(variable: str) -> str:
    """In the users' words, the rows a variable the greedy cannot set belongs to."""
    if variable.startswith("v_incentive"):
        return "an incentive fund, all or nothing in a year: its binary needs the solver's search"
    return "delivery risk rows"


def first_plan(form, pair_columns: np.ndarray, pair_scheme: np.ndarray, *,
               deadline: float | None = None, improve_seconds: float = 5.0) -> FirstPlan:
    """A plan that keeps every row of the model, found greedily; or none, with the reason.

    `deadline` (time.perf_counter) stops the improvement early (never the greedy: near linear).
    `improve_seconds` bounds the exchange pass (make_room), the one step that is not near linear.
    """
    started = time.perf_counter()
    rows = _Rows(form, pair_columns)
    if rows.unsupported:
        return FirstPlan(None, None, time.perf_counter() - started,
                         f"the first-plan heuristic does not handle the variable {rows.unsupported} "
                         f"({_kind_of(rows.unsupported)}); HiGHS searches alone")
    g = _Greedy(rows, pair_scheme, deadline)
    g.cover()  # the greedy itself runs whatever the deadline: a plan in hand is the point
    g.fill(stop_at_deadline=False)
    until = time.perf_counter() + improve_seconds
    g.deadline = until if deadline is None else min(deadline, until)  # the improvement is bounded
    g.move_starts()
    for _ in range(4):  # exchanges until they stop paying or the time for them is spent
        before = g.objective()
        g.make_room(limit_seconds=max(0.0, until - time.perf_counter()))
        g.fill()
        if g.objective() <= before + 1e-9 * max(1.0, abs(before)) or time.perf_counter() > until:
            break
    if g.deficit().any():
        row = int(np.flatnonzero(g.deficit() > 0)[0])
        name = _row_name(form, row)
        return FirstPlan(None, None, time.perf_counter() - started,
                         f"the first-plan heuristic found no plan meeting {name}")
    if np.any(g.act > g.hard_hi):
        return FirstPlan(None, None, time.perf_counter() - started,
                         f"the first-plan heuristic found no plan keeping {_row_name(form, int(np.flatnonzero(g.act > g.hard_hi)[0]))}")
    offset = float(form.offset)
    # with every row dropped, each scheme at its best start (or none); shortfalls only cost
    best = np.zeros(int(pair_scheme.max(initial=-1)) + 1)
    np.maximum.at(best, pair_scheme, rows.value)
    bound = rows.sense * (float(best.sum()) + rows.sense * offset)
    paid = sum(value for value, at, vals in rows.bonus
               if np.all(g.act[at] + vals >= rows.lower[at] - 1e-9 * np.maximum(1.0, np.abs(rows.lower[at]))))
    return FirstPlan(g.x.astype(float), rows.sense * (g.objective() + paid + rows.sense * offset),
                     time.perf_counter() - started, bound=bound)


def _column_sums(a: sp.csc_array, f) -> np.ndarray:
    """Per column, the sum of f(row, value) over its entries."""
    values = f(a.indices, a.data)
    owner = np.repeat(np.arange(a.shape[1]), np.diff(a.indptr))
    return np.bincount(owner, weights=values, minlength=a.shape[1]).astype(float)


def _row_name(form, row: int) -> str:
    try:
        return form.rows[row][0].name
    except (IndexError, AttributeError, TypeError):
        return f"row {row}"
