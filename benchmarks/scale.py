"""How cipopt scales: its whole process against a direct highspy model of the same instance.

For each size N x T, generated with benchmarks/generate.py (seeded) into a temporary folder, one
run of this script measures side by side:

(a) cipopt's whole process, `cipopt solve DIR --out OUT --gap G --time-limit L --threads H`, as a
    child process timed from start to exit (Python start-up, imports, load, validate, build,
    hand-off, solve, check, results, files written, the run recorded in a run history that this
    script points at a scratch file with CIPOPT_STORE), with the child's peak resident memory
    (os.wait4), its status, objective and gap (summary.json) and the stage times cipopt itself
    reports (build, handoff, solve, check); load, validate and write are timed here by running those
    stages once more in this process (cipopt.io.load.read_folder + parse_raw, validate_instance,
    plan_table + years_table + write_folder), with build, hand-off and check re-timed alongside as a
    cross-check (in the CSV);
(b) a direct highspy model of the same instance, built by this script's own code from the loaded
    `Instance` with numpy and scipy (no cipopt model, coefficient or checker code), passed to HiGHS
    with one passModel call and solved with the same gap, threads and time limit: the floor on
    modelling overhead. Timed from the loaded instance to the solution (build + solve). Its plan is
    then confirmed by cipopt's independent checker (outside the timing), and its objective is
    compared with cipopt's.

The ratio is (a)'s whole-process time over (b)'s build + solve time. Both solve the same MIP to the
same relative gap, but HiGHS may take a different path through each (row order differs), so on
instances that take many branch-and-bound nodes the ratio also holds solver luck: both solve
times are shown.

    python benchmarks/scale.py                          # every size (long: see README.md)
    python benchmarks/scale.py --sizes 100x5,1000x5     # a subset
    python benchmarks/scale.py --sizes 5000x5 --gap 0.001 --time-limit 120 --csv out.csv
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import highspy
import numpy as np
import scipy.sparse as sp

HERE = Path(__file__).resolve().parent
# this file's folder goes last on the path: its profile.py must not shadow the standard library's
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE] + [str(HERE)]

import generate as gen

DEFAULT_SIZES = "100x5,1000x5,5000x5,20000x5,20000x10,50000x10"
INF = highspy.kHighsInf
SAVING = ("saving", "nonrecurrent_saving")
COST = ("one_off_cost", "capital_cost", "running_cost", "double_running_cost")


# -- (b) the direct highspy model, from the loaded Instance with numpy ---------------------------

@dataclass
class Direct:
    n_cols: int = 0
    n_rows: int = 0
    nnz: int = 0
    build_s: float = 0.0
    solve_s: float = 0.0
    cpu_s: float = 0.0
    status: str = ""
    objective: float | None = None
    dual_bound: float | None = None
    gap: float | None = None
    plan: dict = field(default_factory=dict)


def _ragged_arange(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """concatenate(arange(s, s + c) for s, c in zip(starts, counts)), vectorised."""
    counts = np.asarray(counts, dtype=np.int64)
    first = np.cumsum(counts) - counts
    return np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(first - np.asarray(starts, np.int64), counts)


class DirectBuilder:
    """The MIP of docs/formulation.md, written afresh with numpy from the format's rules."""

    def __init__(self, inst):
        self.inst = inst
        sch = inst.schemes
        S = self.S = len(sch)
        T = self.T = len(inst.years)
        y0 = inst.years[0]
        self.ids = [s.id for s in sch]
        index = {s.id: i for i, s in enumerate(sch)}
        self.index = index
        orgs = [o.id for o in inst.organisations]
        org_ix = {o: i for i, o in enumerate(orgs)}
        self.O = len(orgs)
        self.org_ix = org_ix

        def col(name, dtype=float):
            return np.fromiter((getattr(s, name) for s in sch), dtype=dtype, count=S)

        lo = np.fromiter((y0 if s.earliest_start is None else s.earliest_start for s in sch), np.int64, S) - y0
        hi = np.fromiter((inst.years[-1] if s.latest_start is None else s.latest_start for s in sch), np.int64, S) - y0
        lo, hi = np.maximum(lo, 0), np.minimum(hi, T - 1)
        q = inst.quality
        risk = col("qia_risk")
        approved = col("qia_approved", bool)
        bad = np.zeros(S, bool)
        for domain, minimum in q.scheme_min.items():
            bad |= np.fromiter((s.domain_score(domain) for s in sch), float, S) < minimum
        if q.max_risk is not None:
            bad |= risk > q.max_risk
        inel = ~approved & bad
        if q.hard_max_risk is not None:
            inel |= risk > q.hard_max_risk
        allowed = ~inel & ~col("excluded", bool)
        nstart = np.where(allowed, np.maximum(hi - lo + 1, 0), 0)
        self.nstart = nstart
        self.ptr = np.concatenate([[0], np.cumsum(nstart)])
        self.P = int(self.ptr[-1])
        self.pair_scheme = np.repeat(np.arange(S), nstart)
        self.pair_start = _ragged_arange(lo, nstart)  # start-year index of each pair
        self.mandatory = col("mandatory", bool)
        self.conf = col("confidence") if inst.objective.risk == "expected" else np.ones(S)
        self.org_of = np.fromiter((org_ix[s.org] for s in sch), np.int64, S)

        # values by offset (S x T) of every metric, derived by the format page's table
        k = np.arange(T)[None, :]
        rec = col("recurrent_saving")
        V = {
            "saving": np.where(k == 0, (rec * col("first_year_fraction"))[:, None], rec[:, None]),
            "running_cost": np.repeat(col("running_cost")[:, None], T, axis=1),
            "double_running_cost": np.where(k < col("double_running_years", np.int64)[:, None],
                                            col("double_running_cost")[:, None], 0.0),
        }
        for m in ("nonrecurrent_saving", "one_off_cost", "capital_cost"):
            V[m] = np.where(k == 0, col(m)[:, None], 0.0)
        custom = set()
        for s in sch:
            custom.update(s.metrics)
        for m in custom:
            V[m] = np.repeat(np.fromiter((s.metrics.get(m, 0.0) for s in sch), float, S)[:, None], T, axis=1)
        for d in set(q.domains) | {"safety", "effectiveness", "experience", "access"}:
            V[d] = np.repeat(np.fromiter((s.domain_score(d) for s in sch), float, S)[:, None], T, axis=1)
        # profiles.csv replaces a (scheme, metric) wholesale
        if inst.profiles:
            ps = np.fromiter((index[p.scheme] for p in inst.profiles), np.int64, len(inst.profiles))
            po = np.fromiter((p.offset for p in inst.profiles), np.int64, len(inst.profiles))
            pv = np.fromiter((p.value for p in inst.profiles), float, len(inst.profiles))
            pm = np.array(["saving" if p.metric == "recurrent_saving" else p.metric for p in inst.profiles])
            for m in np.unique(pm):
                sel = pm == m
                if m not in V:
                    V[m] = np.zeros((S, T))
                V[m][np.unique(ps[sel])] = 0.0
                inside = sel & (po < T)
                V[m][ps[inside], po[inside]] = pv[inside]
        self.V = V

        # organisation weights (S x O, sparse): savings by saving_share, costs by cost_share,
        # anything else in full for the organisation that runs the scheme
        own = sp.csr_array((np.ones(S), (np.arange(S), self.org_of)), shape=(S, self.O))
        self.W_other = own
        if inst.shares:
            shared = np.zeros(S, bool)
            si = np.fromiter((index[x.scheme] for x in inst.shares), np.int64, len(inst.shares))
            oi = np.fromiter((org_ix[x.org] for x in inst.shares), np.int64, len(inst.shares))
            shared[si] = True
            keep = ~shared
            base = sp.csr_array((keep.astype(float), (np.arange(S), self.org_of)), shape=(S, self.O))
            sv = np.fromiter((x.saving_share for x in inst.shares), float, len(inst.shares))
            cv = np.fromiter((x.cost_share for x in inst.shares), float, len(inst.shares))
            self.W_saving = (base + sp.csr_array((sv, (si, oi)), shape=(S, self.O))).tocsr()
            self.W_cost = (base + sp.csr_array((cv, (si, oi)), shape=(S, self.O))).tocsr()
        else:
            self.W_saving = self.W_cost = own

        self.discount = (1.0 + inst.discount_rate) ** -np.arange(T, dtype=float)
        self.rows_i: list[np.ndarray] = []
        self.rows_j: list[np.ndarray] = []
        self.rows_v: list[np.ndarray] = []
        self.row_lo: list[np.ndarray] = []
        self.row_hi: list[np.ndarray] = []
        self.n_rows = 0
        self.extra_cols: list[tuple[float, float, float]] = []  # (cost, lower, upper) after the pairs

    # rows ----------------------------------------------------------------------------------
    def _new_rows(self, lower: np.ndarray, upper: np.ndarray) -> int:
        first = self.n_rows
        self.row_lo.append(np.asarray(lower, float))
        self.row_hi.append(np.asarray(upper, float))
        self.n_rows += len(lower)
        return first

    def _add(self, i, j, v) -> None:
        self.rows_i.append(np.asarray(i, np.int64))
        self.rows_j.append(np.asarray(j, np.int64))
        self.rows_v.append(np.asarray(v, float))

    def _weights(self, metric: str, orgs: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(group, scheme, weight) triplets: group g counts scheme s at weight w for orgs[g]."""
        W = self.W_saving if metric in SAVING else self.W_cost if metric in COST else self.W_other
        W = W.tocsc()
        gs, ss, ws = [], [], []
        for g, o in enumerate(orgs):
            if o is None:
                gs.append(np.full(self.S, g))
                ss.append(np.arange(self.S))
                ws.append(np.ones(self.S))
            else:
                c = self.org_ix[o]
                lo, hi = W.indptr[c], W.indptr[c + 1]
                gs.append(np.full(hi - lo, g))
                ss.append(W.indices[lo:hi])
                ws.append(W.data[lo:hi])
        if not gs:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
        return np.concatenate(gs), np.concatenate(ss), np.concatenate(ws)

    def _metric_block(self, rowmap: np.ndarray, orgs: list, terms: list[tuple[float, str, bool]]) -> None:
        """Entries sum_s sum_t coef * w(o,s) * [conf] * V_m(s, y - t) x_{s,t} into rows rowmap[g, y]."""
        for coef, metric, expected in terms:
            if metric not in self.V:
                continue
            g, s, w = self._weights(metric, orgs)
            keep = (w != 0) & (self.nstart[s] > 0)
            g, s, w = g[keep], s[keep], w[keep] * coef
            if expected:
                w = w * self.conf[s]
            counts = self.nstart[s]
            rep = np.repeat(np.arange(len(s)), counts)
            pair = _ragged_arange(self.ptr[s], counts)
            gg, ss, ww = g[rep], s[rep], w[rep]
            start = self.pair_start[pair]
            Vm = self.V[metric]
            for k in range(self.T):
                y = start + k
                ok = y < self.T
                if not ok.any():
                    continue
                rows = rowmap[gg[ok], y[ok]]
                vals = Vm[ss[ok], k] * ww[ok]
                good = (rows >= 0) & (vals != 0)
                self._add(rows[good], pair[ok][good], vals[good])

    def _year_rowmap(self, items: list[dict[int, float]], lower_of, upper_of) -> np.ndarray:
        """One row per (item, named year); returns the (items x T) row index map (-1: no row)."""
        y0 = self.inst.years[0]
        rowmap = np.full((len(items), self.T), -1, dtype=np.int64)
        lows, highs = [], []
        for g, values in enumerate(items):
            for y, v in sorted(values.items()):
                rowmap[g, int(y) - y0] = self.n_rows + len(lows)
                lows.append(lower_of(g, v))
                highs.append(upper_of(g, v))
        self._new_rows(np.array(lows), np.array(highs))
        return rowmap

    def build(self):
        inst, P, T = self.inst, self.P, self.T
        # selection
        mand = np.flatnonzero(self.mandatory)
        first = self._new_rows(np.ones(len(mand)), np.ones(len(mand)))
        pairs = _ragged_arange(self.ptr[mand], self.nstart[mand])
        self._add(first + np.repeat(np.arange(len(mand)), self.nstart[mand]), pairs, np.ones(len(pairs)))
        several = np.flatnonzero(~self.mandatory & (self.nstart > 1))
        first = self._new_rows(np.full(len(several), -INF), np.ones(len(several)))
        pairs = _ragged_arange(self.ptr[several], self.nstart[several])
        self._add(first + np.repeat(np.arange(len(several)), self.nstart[several]), pairs, np.ones(len(pairs)))

        # targets, with a shortfall column per soft (target, year)
        expected = inst.objective.risk == "expected"
        terms_rec = [(1.0, "saving", expected), (-1.0, "running_cost", False)]
        terms_iny = terms_rec + [(1.0, "nonrecurrent_saving", expected), (-1.0, "one_off_cost", False),
                                 (-1.0, "double_running_cost", False)]
        y0 = inst.years[0]
        for basis, terms in (("recurrent", terms_rec), ("in_year", terms_iny)):
            ts = [t for t in inst.targets if t.basis == basis]
            if not ts:
                continue
            rowmap = self._year_rowmap([t.values for t in ts], lambda g, v: v, lambda g, v: INF)
            self._metric_block(rowmap, [t.org for t in ts], terms)
            for g, t in enumerate(ts):
                if t.hard:
                    continue
                for y in sorted(t.values):
                    col = P + len(self.extra_cols)
                    self.extra_cols.append((-t.shortfall_penalty * self.discount[int(y) - y0], 0.0, INF))
                    self._add([rowmap[g, int(y) - y0]], [col], [1.0])
        # limits (plan values)
        for sense_metric in sorted({lim.metric for lim in inst.limits}):
            ls = [lim for lim in inst.limits if lim.metric == sense_metric]
            rowmap = self._year_rowmap(
                [lim.values for lim in ls],
                lambda g, v, ls=ls: v if ls[g].sense in (">=", "==") else -INF,
                lambda g, v, ls=ls: v if ls[g].sense in ("<=", "==") else INF)
            self._metric_block(rowmap, [lim.org for lim in ls], [(1.0, sense_metric, False)])
        # quality floors (the whole system, every year)
        floors = list(inst.quality.portfolio_min.items())
        if floors:
            years = {y: 0.0 for y in inst.years}
            rowmap = self._year_rowmap([years for _ in floors], lambda g, v: floors[g][1], lambda g, v: INF)
            for g, (domain, _) in enumerate(floors):
                sub = np.full((1, T), -1, dtype=np.int64)
                sub[0] = rowmap[g]
                self._metric_block(sub, [None], [(1.0, domain, False)])
        # relations, in the aggregated "started by year tau" form
        self._relations()

        # objective per pair: discounted in-year net saving less capital (npv) or without (savings)
        mode = inst.objective.mode
        if mode not in ("net_present_value", "savings"):
            raise NotImplementedError(f"the direct model does not do objective mode {mode}")
        s, t = self.pair_scheme, self.pair_start
        cost = np.zeros(P)
        for k in range(T):
            y = t + k
            ok = y < T
            net = (self.conf[s[ok]] * (self.V["saving"][s[ok], k] + self.V["nonrecurrent_saving"][s[ok], k])
                   - self.V["running_cost"][s[ok], k] - self.V["one_off_cost"][s[ok], k]
                   - self.V["double_running_cost"][s[ok], k])
            if mode == "net_present_value":
                net = net - self.V["capital_cost"][s[ok], k]
            cost[ok] += self.discount[y[ok]] * net

        n_extra = len(self.extra_cols)
        extra = np.array(self.extra_cols).reshape(n_extra, 3)
        n = P + n_extra
        i = np.concatenate(self.rows_i) if self.rows_i else np.zeros(0, np.int64)
        j = np.concatenate(self.rows_j) if self.rows_j else np.zeros(0, np.int64)
        v = np.concatenate(self.rows_v) if self.rows_v else np.zeros(0)
        A = sp.csc_array((v, (i, j)), shape=(self.n_rows, n))
        A.sum_duplicates()
        return {
            "cost": np.concatenate([cost, extra[:, 0]]),
            "lower": np.concatenate([np.zeros(P), extra[:, 1]]),
            "upper": np.concatenate([np.ones(P), extra[:, 2]]),
            "integrality": np.concatenate([np.ones(P, np.int32), np.zeros(n_extra, np.int32)]),
            "row_lower": np.concatenate(self.row_lo) if self.row_lo else np.zeros(0),
            "row_upper": np.concatenate(self.row_hi) if self.row_hi else np.zeros(0),
            "A": A,
        }

    def _relations(self) -> None:
        strictest: dict[tuple[str, str, str], int] = {}
        for r in self.inst.relations:
            key = (r.kind, r.a, r.b)
            strictest[key] = max(strictest.get(key, 0), r.lag)
        rows_i, rows_j, rows_v, lows, highs = [], [], [], [], []

        def pairs(sid):
            i = self.index[sid]
            p = np.arange(self.ptr[i], self.ptr[i + 1])
            return p, self.pair_start[p]

        def row(cols, vals, lo, hi):
            if len(cols) == 0:
                return
            rows_i.append(np.full(len(cols), len(lows)))
            rows_j.append(np.asarray(cols))
            rows_v.append(np.asarray(vals, float))
            lows.append(lo)
            highs.append(hi)

        for (kind, a, b), lag in strictest.items():
            pa, ta = pairs(a)
            pb, tb = pairs(b)
            if kind == "requires":
                for tau in range(self.T):
                    by_a = pa[ta <= tau]
                    if len(by_a):
                        by_b = pb[tb <= tau - lag]
                        row(np.concatenate([by_a, by_b]), np.r_[np.ones(len(by_a)), -np.ones(len(by_b))], -INF, 0.0)
            elif kind == "precedes":
                for tau in range(self.T):
                    later_a = pa[ta > tau - lag]
                    b_by = pb[tb <= tau]
                    if len(later_a) and len(b_by):
                        row(np.concatenate([b_by, later_a]), np.ones(len(b_by) + len(later_a)), -INF, 1.0)
            elif kind == "excludes" and len(pa) and len(pb):
                row(np.concatenate([pa, pb]), np.ones(len(pa) + len(pb)), -INF, 1.0)
            elif kind == "together" and (len(pa) or len(pb)):
                row(np.concatenate([pa, pb]), np.r_[np.ones(len(pa)), -np.ones(len(pb))], 0.0, 0.0)
        if lows:
            first = self._new_rows(np.array(lows), np.array(highs))
            self._add(first + np.concatenate(rows_i), np.concatenate(rows_j), np.concatenate(rows_v))


def solve_direct(inst, gap: float, threads: int, time_limit: float) -> Direct:
    """Build the direct model from the loaded instance, pass it to HiGHS in one call, solve."""
    out = Direct()
    cpu = time.process_time()
    started = time.perf_counter()
    b = DirectBuilder(inst)
    m = b.build()
    A = m["A"]
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", gap)
    h.setOptionValue("time_limit", time_limit)
    h.setOptionValue("threads", threads)
    status = h.passModel(A.shape[1], A.shape[0], A.nnz, 1, -1, 0.0, m["cost"], m["lower"], m["upper"],
                         m["row_lower"], m["row_upper"], A.indptr.astype(np.int32), A.indices.astype(np.int32),
                         A.data, m["integrality"])
    if status == highspy.HighsStatus.kError:
        raise RuntimeError("HiGHS refused the direct model")
    out.build_s = time.perf_counter() - started
    started = time.perf_counter()
    # HiGHS does not check its time limit inside a long root LP: stop it as cipopt does, with a
    # watchdog 2 s past the limit (solve/highs.py WATCHDOG_GRACE), so both get the same time
    h.HandleUserInterrupt = True
    thread = h.startSolve()
    while not h.wait(0.05)[0]:
        if time.perf_counter() - started > time_limit + 2.0:
            h.cancelSolve()
    thread.join(timeout=5)
    x = np.asarray(h.getSolution().col_value)
    out.solve_s = time.perf_counter() - started
    out.cpu_s = time.process_time() - cpu
    info = h.getInfo()
    out.status = h.modelStatusToString(h.getModelStatus())
    out.n_cols, out.n_rows, out.nnz = A.shape[1], A.shape[0], A.nnz
    if info.primal_solution_status == highspy.kSolutionStatusFeasible:
        out.objective = float(info.objective_function_value)
        out.dual_bound = float(info.mip_dual_bound)
        out.gap = float(info.mip_gap)
        chosen = np.flatnonzero(x[: b.P] > 0.5)
        out.plan = {sid: None for sid in b.ids}
        y0 = inst.years[0]
        for p in chosen:
            out.plan[b.ids[b.pair_scheme[p]]] = int(y0 + b.pair_start[p])
    return out


# -- (a) cipopt: the whole process as a child, and its stages in this process --------------------

def run_cipopt(folder: Path, out: Path, gap: float, threads: int, time_limit: float, store: Path) -> dict:
    cmd = [str(Path(sys.executable).with_name("cipopt")), "solve", str(folder), "--out", str(out),
           "--gap", repr(gap), "--threads", str(threads), "--time-limit", repr(time_limit)]
    if not Path(cmd[0]).exists():
        cmd[:1] = [sys.executable, "-m", "cipopt"]
    env = dict(os.environ, CIPOPT_STORE=str(store))
    with open(out.parent / f"{out.name}.log", "w") as log:  # what cipopt printed
        started = time.perf_counter()
        child = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own resource usage
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
    summary = json.loads((out / "summary.json").read_text()) if (out / "summary.json").exists() else {}
    return {"wall_s": wall, "peak_rss_mib": usage.ru_maxrss / 1024.0, "exit": child.returncode,
            "cpu_s": usage.ru_utime + usage.ru_stime, "summary": summary}


def cipopt_stages(folder: Path, plan_csv: Path, scratch: Path, threads: int) -> tuple[dict, object]:
    """Load, validate, build, hand-off, check and write once more in this process, each timed."""
    from cipopt.check import check_plan
    from cipopt.coefficients import build_coefficients
    from cipopt.io.folder import read_folder
    from cipopt.io.load import parse_raw
    from cipopt.io.plan import read_plan
    from cipopt.io.write import csv_text, json_text, write_folder
    from cipopt.model.build import build_model
    from cipopt.model.context import ModelContext
    from cipopt.results import (
        objective_value,
        plan_table,
        starts_from_plan,
        years_table,
    )
    from cipopt.schema.problems import ProblemLog
    from cipopt.schema.validate import validate_instance
    from cipopt.solve.highs import HighsSession, compile_model

    t = {}
    log = ProblemLog()
    gc.disable()  # as load_instance does
    try:
        started = time.perf_counter()
        raw = read_folder(folder, log)
        inst, _ = parse_raw(raw, log)
        read_parse = time.perf_counter() - started
        started = time.perf_counter()
        validate_instance(inst, ProblemLog())
        t["validate_s"] = time.perf_counter() - started
    finally:
        gc.enable()
    t["load_s"] = max(0.0, read_parse - t["validate_s"])
    started = time.perf_counter()
    coef = build_coefficients(inst)
    built = build_model(inst, coef)
    t["build_here_s"] = time.perf_counter() - started
    started = time.perf_counter()
    form = compile_model(built.model)
    session = HighsSession(form)
    t["handoff_here_s"] = time.perf_counter() - started
    del session, form, built
    gc.collect()
    plan = read_plan(plan_csv, inst, ProblemLog()) if plan_csv.exists() else None
    if plan is not None:
        started = time.perf_counter()
        report = check_plan(inst, plan)
        t["check_here_s"] = time.perf_counter() - started
        t["check_ok"] = report.ok
        started = time.perf_counter()
        ctx = ModelContext(instance=inst, coef=coef)
        x = starts_from_plan(coef, plan)
        objective_value(ctx, x)
        files = {"plan.csv": csv_text(plan_table(ctx, plan)), "years.csv": csv_text(years_table(ctx, x)),
                 "summary.json": json_text({"objective": 0.0})}
        write_folder(scratch, files, force=True)
        t["write_s"] = time.perf_counter() - started
    return t, inst


def binding(years_csv: Path) -> dict:
    """How many limit and quality-floor rows of cipopt's plan are at (within 1% of) their bound,
    and how many target rows are in shortfall: evidence that the generated limits bind."""
    if not years_csv.exists():
        return {}
    import pandas as pd
    y = pd.read_csv(years_csv)
    rows = y[y["measure"].str.startswith(("limit:", "quality:")) & y["bound"].notna()]
    near = 0.01 * rows["bound"].abs() + 1e-6
    at = (((rows["sense"] == "<=") | (rows["sense"] == "==")) & (rows["value"] >= rows["bound"] - near)) | \
         (((rows["sense"] == ">=") | (rows["sense"] == "==")) & (rows["value"] <= rows["bound"] + near))
    targets = y[y["measure"].str.startswith("target:")]
    return {"bound_rows": len(rows), "binding_rows": int(at.sum()),
            "target_rows": len(targets), "targets_short": int((targets["shortfall"] > 1e-6).sum())}


# -- one size -----------------------------------------------------------------------------------

def parse_sizes(text: str) -> list[tuple[int, int]]:
    out = []
    for part in text.split(","):
        n, _, T = part.strip().lower().partition("x")
        out.append((int(n.replace("_", "")), int(T or 5)))
    return out


def measure(n: int, T: int, args, work: Path) -> dict:
    orgs = args.orgs if args.orgs is not None else gen.default_orgs(n)
    folder = work / f"inst-{n}x{T}"
    started = time.perf_counter()
    gen.write(gen.generate(n, T, orgs, args.seed, args.budget), folder)
    gen_s = time.perf_counter() - started
    row = {"size": f"{n}x{T}", "schemes": n, "years": T, "orgs": orgs, "seed": args.seed, "budget": args.budget, "gap_asked": args.gap,
           "threads": args.threads, "time_limit": args.time_limit, "generate_s": gen_s,
           "load_avg_start": os.getloadavg()[0]}  # the machine may be shared: say how busy it was
    out = work / f"out-{n}x{T}"
    a = run_cipopt(folder, out, args.gap, args.threads, args.time_limit, work / "runs.sqlite")
    s = a["summary"]
    row.update({
        "cipopt_exit": a["exit"], "status": s.get("status"), "objective": s.get("objective"),
        "gap": s.get("mip_gap"), "dual_bound": s.get("dual_bound"),
        "build_s": s.get("build_seconds"), "handoff_s": s.get("handoff_seconds"),
        "solve_s": s.get("solve_seconds"), "check_s": s.get("check_seconds"),
        "whole_s": a["wall_s"], "cpu_s": a["cpu_s"], "peak_mib": a["peak_rss_mib"],
        "selected": s.get("selected"),
    })
    row.update(binding(out / "years.csv"))
    stages, inst = cipopt_stages(folder, out / "plan.csv", work / f"scratch-{n}x{T}", args.threads)
    row.update(stages)
    known = sum(row.get(k) or 0.0 for k in ("load_s", "validate_s", "build_s", "handoff_s", "solve_s",
                                             "check_s", "write_s"))
    row["other_s"] = row["whole_s"] - known  # start-up and imports, printing, the run history
    gc.collect()
    d = solve_direct(inst, args.gap, args.threads, args.time_limit)
    row.update({"direct_build_s": d.build_s, "direct_solve_s": d.solve_s, "direct_s": d.build_s + d.solve_s,
                "direct_cpu_s": d.cpu_s,
                "direct_status": d.status, "direct_objective": d.objective, "direct_gap": d.gap,
                "rows": d.n_rows, "cols": d.n_cols, "nnz": d.nnz})
    row["ratio"] = row["whole_s"] / row["direct_s"] if row["direct_s"] else None
    row["cpu_ratio"] = row["cpu_s"] / row["direct_cpu_s"] if row["direct_cpu_s"] else None
    # everything but the solve: cipopt's whole process less its solve, against the direct build
    row["overhead_s"] = row["whole_s"] - (row["solve_s"] or 0.0)
    row["overhead_ratio"] = row["overhead_s"] / d.build_s if d.build_s else None
    if d.plan and args.check_direct:
        from cipopt.check import check_plan
        rep = check_plan(inst, d.plan)
        row["direct_check"] = "accepted" if rep.ok else f"rejected ({len(rep.violations)})"
        row["direct_checked_objective"] = rep.objective
    row["load_avg_end"] = os.getloadavg()[0]
    oc, od = row["objective"], row["direct_objective"]
    if oc is not None and od is not None:
        diff = abs(oc - od) / max(1.0, abs(oc), abs(od))
        allowed = max(args.gap, row["gap"] or 0.0, row["direct_gap"] or 0.0) + 1e-6
        row["objective_rel_diff"] = diff
        row["same_objective"] = diff <= allowed
    return row


# -- report -------------------------------------------------------------------------------------

COLUMNS = [  # header, key, format
    ("size", "size", "{}"), ("orgs", "orgs", "{}"), ("rows", "rows", "{:,}"), ("nnz", "nnz", "{:,}"),
    ("load", "load_s", "{:.2f}"), ("valid.", "validate_s", "{:.2f}"), ("build", "build_s", "{:.2f}"),
    ("hand-off", "handoff_s", "{:.2f}"), ("solve", "solve_s", "{:.2f}"), ("check", "check_s", "{:.2f}"),
    ("write", "write_s", "{:.2f}"), ("other", "other_s", "{:.2f}"), ("cipopt", "whole_s", "{:.2f}"),
    ("cpu", "cpu_s", "{:.2f}"), ("status", "status", "{}"), ("gap", "gap", "{:.2e}"), ("peak MiB", "peak_mib", "{:,.0f}"),
    ("direct build", "direct_build_s", "{:.2f}"), ("direct solve", "direct_solve_s", "{:.2f}"),
    ("direct", "direct_s", "{:.2f}"), ("direct cpu", "direct_cpu_s", "{:.2f}"), ("direct gap", "direct_gap", "{:.2e}"),
    ("binding", "binding_rows", "{}"), ("short", "targets_short", "{}"),
    ("overhead", "overhead_s", "{:.2f}"), ("overhead ratio", "overhead_ratio", "{:.1f}"),
    ("ratio", "ratio", "{:.2f}"), ("cpu ratio", "cpu_ratio", "{:.2f}"), ("same obj.", "same_objective", "{}"),
    ("load avg", "load_avg_start", "{:.1f}"),
]


def fmt(row: dict, key: str, spec: str) -> str:
    v = row.get(key)
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "NO"
    try:
        return spec.format(v)
    except (ValueError, TypeError):
        return str(v)


def table(rows: list[dict]) -> str:
    head = "| " + " | ".join(h for h, _, _ in COLUMNS) + " |"
    sep = "|" + "|".join("---" for _ in COLUMNS) + "|"
    body = ["| " + " | ".join(fmt(r, k, f) for _, k, f in COLUMNS) + " |" for r in rows]
    return "\n".join([head, sep, *body])


GIB = 1024.0


def goals(rows: list[dict]) -> list[str]:
    by = {r["size"]: r for r in rows}
    out = []

    def verdict(ok):
        return "PASS" if ok else "FAIL"

    def limited(row) -> str:
        """Both solves stopped by the time limit: the ratio then holds equal solver time."""
        stopped = [k for k in ("status", "direct_status") if str(row.get(k)).lower() != "optimal"]
        return (f"; NOTE: {' and '.join('cipopt' if k == 'status' else 'direct' for k in stopped)} stopped "
                f"short of the gap (time limit), overhead ratio {fmt(row, 'overhead_ratio', '{:.1f}')}"
                if stopped else "")

    if "5000x5" in by and by["5000x5"].get("ratio"):
        r = by["5000x5"]["ratio"]
        out.append(f"{verdict(r <= 3.0)}: 5,000 x 5 whole process / direct highspy = {r:.2f} (goal <= 3)"
                   + limited(by["5000x5"]))
    if "20000x10" in by and by["20000x10"].get("ratio"):
        r = by["20000x10"]["ratio"]
        out.append(f"{verdict(r <= 1.5)}: 20,000 x 10 whole process / direct highspy = {r:.2f} (goal <= 1.5)"
                   + limited(by["20000x10"]))
    if "1000x5" in by:
        r = by["1000x5"]
        ok = r["whole_s"] < 3.0 and r.get("status") == "optimal" and (r.get("gap") or 0.0) <= 1e-4 + 1e-12
        out.append(f"{verdict(ok)}: 1,000 x 5 to 0.01% gap in {r['whole_s']:.2f} s all told, status "
                   f"{r.get('status')}, gap {fmt(r, 'gap', '{:.2e}')} (goal < 3 s at gap <= 1e-4)")
    if "50000x10" in by:
        r = by["50000x10"]
        out.append(f"{verdict(r['peak_mib'] < 4 * GIB)}: 50,000 x 10 peak memory {r['peak_mib'] / GIB:.2f} GiB "
                   f"(goal < 4 GiB); status {r.get('status')}, gap {fmt(r, 'gap', '{:.2e}')}")
    return out


def machine() -> list[str]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    import pyomo.version
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",)
    import scipy
    versions = (f"python {platform.python_version()}, highspy {highspy.HIGHS_VERSION_MAJOR}."
                f"{highspy.HIGHS_VERSION_MINOR}.{highspy.HIGHS_VERSION_PATCH}, pyomo {pyomo.version.version}, "
                f"numpy {np.__version__}, scipy {scipy.__version__}")
    return [f"cpu: {cpu}, {os.cpu_count()} logical cores; memory {mem}; load average {load[0]:.1f}", versions]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--sizes", default=DEFAULT_SIZES, help=f"comma-separated NxT (default {DEFAULT_SIZES})")
    ap.add_argument("--gap", type=float, default=0.0001, help="relative MIP gap for both (default 0.0001)")
    ap.add_argument("--time-limit", type=float, default=300.0, help="seconds per solve, both (default 300)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="HiGHS threads, both (default: all)")
    ap.add_argument("--orgs", type=int, default=None, help="organisations (default: one per 150 schemes)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--budget", type=float, default=1.0, help="generator's limit scale (default 1.5)")
    ap.add_argument("--csv", default=str(HERE / "scale-results.csv"), help="where to write the table as CSV")
    ap.add_argument("--workdir", default=None, help="keep the instances and outputs here (default: a temp folder)")
    ap.add_argument("--no-check-direct", dest="check_direct", action="store_false",
                    help="do not confirm the direct model's plan with cipopt's checker")
    args = ap.parse_args(argv)

    sizes = parse_sizes(args.sizes)
    tmp = None
    if args.workdir:
        work = Path(args.workdir)
        work.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="cipopt-scale-")
        work = Path(tmp.name)
    for line in machine():
        print(line, flush=True)
    print(f"gap {args.gap:g}, threads {args.threads}, time limit {args.time_limit:g} s, seed {args.seed}", flush=True)
    rows = []
    keys: list[str] = []
    try:
        for n, T in sizes:
            print(f"\n== {n} x {T}", flush=True)
            row = measure(n, T, args, work)
            rows.append(row)
            for k in row:
                if k not in keys:
                    keys.append(k)
            print(table([row]), flush=True)
            if row.get("direct_check"):
                print(f"direct plan: {row['direct_check']} by the checker; cipopt {row['objective']}, direct "
                      f"{row['direct_objective']}", flush=True)
            with open(args.csv, "w", newline="") as f:  # rewritten after every size: a long run keeps its rows
                w = csv.DictWriter(f, fieldnames=keys)
                w.writeheader()
                w.writerows(rows)
    finally:
        if tmp is not None:
            tmp.cleanup()
    print("\n" + table(rows))
    print()
    for line in goals(rows):
        print(line)
    print(f"\nwrote {args.csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
