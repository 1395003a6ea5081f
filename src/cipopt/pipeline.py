"""load -> validate -> build -> hand off -> solve -> extract -> evaluate -> check -> tables -> write,
as stages and as one call.

Each stage is a function here (`build`, `solve`, `extract`, `evaluate`, `check`, `with_tables`,
`result_files`) taking and giving a frozen `SolveResult` (solve/result.py); analyses may call them
one by one, and `Planner.solve` and `solve_instance` chain them (docs/architecture.md).

A `Planner` builds the model and hands it to HiGHS once; every later solve (what-if, ranking,
alternatives) reuses it. Every plan it returns has been re-checked by the independent checker:
a plan the checker rejects is never reported as a solution (status `error` with its words).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from cipopt.bulk import no_cyclic_gc
from cipopt.check import check_plan
from cipopt.coefficients import build_coefficients
from cipopt.model.build import BuiltModel, build_model
from cipopt.model.context import ModelContext
from cipopt.results import (
    Plan, objective_parts, plan_from_starts, plan_table, starts_from_plan, years_table,
)
from cipopt.schema.instance import Instance
from cipopt.solve.diagnose import diagnose
from cipopt.solve.heuristic import first_plan
from cipopt.solve.probe import Probe, probe_rows
from cipopt.solve.highs import HIGHS_VERSION, HighsSession, StandardForm, compile_model
from cipopt.solve.result import SolveResult
from cipopt.solve.result import json_number as _json_number
from cipopt.solve.status import SolveStatus
from cipopt.solve.variant import Bounds, NotInPlace, row_index, variant_bounds

OBJECTIVE_REL_TOL = 1e-6
FINISH_SECONDS_PER_START = 2e-5  # checking a plan and writing its tables, per allowed start (docs/performance.md)
FINISH_SECONDS_MIN = 0.2
SOLVE_SECONDS_MIN = 0.1  # with less than this left, HiGHS is not started: the first plan is returned
DEADLINE_GRACE = 0.5  # under a whole-command deadline, the watchdog cancels HiGHS this soon past its limit


@dataclass(frozen=True)
class SolveOptions:
    """Solver options; None takes the instance's `solver` section (the command line overrides it)."""

    time_limit: float | None = None
    mip_gap: float | None = None
    threads: int | None = None
    verbose: bool = False
    seed: int = 0  # HiGHS random_seed: the same inputs, options and seed give the same plan
    first_plan: bool = False  # run the first-plan heuristic before HiGHS (solve/heuristic.py)
    deadline: float | None = None  # time.perf_counter() by which the whole command should be done
    started: float | None = None  # time.perf_counter() when the command began (for first_plan.ready_seconds)

    def resolve(self, instance: Instance) -> tuple[float | None, float, int | None]:
        """The options in force; threads capped at the machine's cores (more only slow HiGHS down,
        and `threads: 100000` in a file must not start a hundred thousand)."""
        s = instance.solver
        threads = self.threads if self.threads is not None else s.threads
        return (
            self.time_limit if self.time_limit is not None else s.time_limit,
            self.mip_gap if self.mip_gap is not None else s.mip_gap,
            None if threads is None else min(threads, os.cpu_count() or 1),
        )


SolveOutcome = SolveResult  # the older name, kept for analyses, benchmarks and tests


# -- the stages: each can be called alone; Planner.solve and solve_instance chain them ----------

def build(instance: Instance, *, verbose: bool = False) -> "Planner":
    """Stage build: coefficients, the Pyomo model, and its hand-off to HiGHS (once per instance)."""
    return Planner(instance, verbose=verbose)


def solve(planner: "Planner", options: SolveOptions = SolveOptions(), **kw) -> SolveResult:
    """Stage solve (with extract, evaluate, check and tables): `Planner.solve`'s chain."""
    return planner.solve(options, **kw)


def extract(coef, pair_columns: np.ndarray, x: np.ndarray, forced_pairs: list[int] | None = None) -> Plan:
    """Stage extract: the plan in the solver's columns (starts the compiled model dropped but the
    variant forces are put back)."""
    chosen = np.zeros(coef.n_pairs)  # per allowed start (pair), the solver's value of its column
    present = pair_columns >= 0
    chosen[present] = x[pair_columns[present]]
    if forced_pairs:
        chosen[list(forced_pairs)] = 1.0
    return plan_from_starts(coef, chosen)


def solver_messages(raw, time_limit: float | None, *, with_cuts: bool,
                    diagnosis: Callable[[], list[str]]) -> list[str]:
    """How the solver's run ended, in words; `diagnosis` (why no plan exists) is asked only then."""
    messages = []
    if raw.stopped_by_watchdog:
        messages.append(f"the solve overran its time limit of {time_limit:g} s and was stopped")
    if raw.status == SolveStatus.INFEASIBLE and with_cuts:
        messages.append("no plan keeps every rule together with the added cuts")
    elif raw.status == SolveStatus.INFEASIBLE:
        messages.append("no plan keeps every rule:")
        messages.extend(diagnosis())
    if raw.status == SolveStatus.TIME_LIMIT_NO_SOLUTION:
        messages.append(f"the solver stopped ({raw.model_status}) before finding any plan")
    if raw.status == SolveStatus.ERROR:
        messages.append(f"the solver ended with status {raw.model_status!r}")
    return messages


def evaluate(result: SolveResult, ctx: ModelContext, plan: Plan) -> SolveResult:
    """Stage evaluate: the plan's exact objective, NPV and penalties from the model's coefficients."""
    parts = objective_parts(ctx, starts_from_plan(ctx.coef, plan))
    return replace(result, plan=plan, objective=parts.objective, net_present_value=parts.net_present_value,
                   shortfall_penalty=parts.shortfall_penalty, risk_penalty=parts.risk_penalty)


def check(result: SolveResult, ctx: ModelContext) -> SolveResult:
    """Stage check: the independent checker confirms the evaluated plan and its figures; a plan it
    rejects comes back with status `error` and the checker's words, never as a solution."""
    started = time.perf_counter()
    report = check_plan(ctx.instance, result.plan)
    result = replace(result, check=report, check_seconds=time.perf_counter() - started)
    problems = []
    if not report.ok:
        problems += [v.message for v in report.violations]
    if not _close(report.objective, result.objective):
        problems.append(f"the checker values the plan at {report.objective:,.6f}, "
                        f"the model at {result.objective:,.6f}")
    for what, mine, theirs in (("net present value", result.net_present_value, report.net_present_value),
                               ("shortfall penalty", result.shortfall_penalty, report.penalty)):
        if not _close(theirs, mine):
            problems.append(f"the checker's {what} is {theirs:,.6f}, the model's {mine:,.6f}")
    # The plan's exact value may exceed the solver's (an incumbent's shortfall variables need
    # not be at their least), never fall below it.
    if result.solver_objective is not None and result.objective < result.solver_objective \
            and not _close(result.solver_objective, result.objective, 1e-5):
        problems.append(f"the solver reports {result.solver_objective:,.6f} for a plan worth "
                        f"{result.objective:,.6f}")
    if problems:
        return replace(result, status=SolveStatus.ERROR, messages=[
            *result.messages, "internal error: the independent checker rejected the solver's plan", *problems])
    return result


def with_gap(result: SolveResult) -> SolveResult:
    """The gap between the plan's exact value and the solver's bound (a feasible, not optimal, plan)."""
    if result.dual_bound is not None and result.status == SolveStatus.FEASIBLE:
        return replace(result, mip_gap=_gap(result))
    return result


def with_tables(result: SolveResult, ctx: ModelContext) -> SolveResult:
    """Stage tables: plan.csv's and years.csv's frames for the plan."""
    x = starts_from_plan(ctx.coef, result.plan)
    return replace(result, plan_frame=plan_table(ctx, result.plan), years=years_table(ctx, x))


def result_files(result: SolveResult) -> dict[str, str]:
    """Stage write: the files a solve writes (plan.csv and years.csv when there is a plan, summary.json)."""
    from cipopt.io.write import csv_text, json_text

    files = {"summary.json": json_text(result.summary())}
    if result.plan_frame is not None:
        files = {"plan.csv": csv_text(result.plan_frame), "years.csv": csv_text(result.years), **files}
    return files


def _gap(result: SolveResult) -> float:
    return max(0.0, result.dual_bound - result.objective) / max(abs(result.objective), 1e-9)


class Planner:
    """One instance built and loaded into HiGHS once, solved as often as analyses need."""

    def __init__(self, instance: Instance, *, verbose: bool = False):
        self.instance = instance
        started = time.perf_counter()
        self.coef = build_coefficients(instance)
        self.built: BuiltModel = build_model(instance, self.coef)
        self.build_seconds = time.perf_counter() - started
        started = time.perf_counter()
        self.form: StandardForm | None = None
        self.session: HighsSession | None = None
        if not self.built.notes.infeasibilities:
            self.form = compile_model(self.built.model)
            self.session = HighsSession(self.form, verbose=verbose)
        self.handoff_seconds = time.perf_counter() - started
        self.pair_columns = (
            self.form.columns_for(self.built.model.pair_vars) if self.form else np.zeros(0, dtype=np.int64)
        )
        self._rows = row_index(self.form) if self.form else {}
        self._base_bounds = Bounds.of(self.form) if self.form else None
        self._loaded = self._base_bounds  # what the HiGHS model holds now
        self._rebuilt: dict[str, Planner] = {}
        self._by_row = None  # the constraint matrix by rows, for probes
        self.rebuilds = 0  # how many variants needed a fresh build (for tests and benchmarks)

    @property
    def ctx(self):
        return self.built.ctx

    def _outcome(self, instance: Instance, status: SolveStatus, **kw) -> SolveResult:
        return SolveResult(
            instance=instance, status=status, build_seconds=self.build_seconds,
            handoff_seconds=self.handoff_seconds, solver_version=HIGHS_VERSION, **kw)

    def solve(self, options: SolveOptions = SolveOptions(), *, variant: Instance | None = None,
              start: Plan | None = None, extra_rows: Callable[["Bounds"], list] | None = None,
              tables: bool = True, checked: bool = True, given_start: Plan | None = None) -> SolveResult:
        """Solve the instance, or a variant of it (see `cipopt.solve.variant`), reusing the model.

        A variant that changes only bounds, costs, windows or mandatory flags is solved in place;
        any other variant is built afresh (once: later calls with the same variant reuse it).
        `start` is a plan HiGHS is given as a first incumbent (an analysis's own, allowed starts only);
        `given_start` is the user's (solve --start): checked, reported, and returned if HiGHS finds
        nothing better. With `options.first_plan` and no start, the first-plan heuristic
        (solve/heuristic.py) gives HiGHS its start. `extra_rows`, given the loaded
        bounds and costs, returns rows (lower, upper, columns, values) added for this solve only
        (cuts: an objective floor, no-good cuts); they need the in-place path.

        An analysis's internal re-solve whose plan nobody is shown passes `tables=False` (no
        plan_frame or years table: in rank they cost twice the re-solve) and `checked=False` (no
        independent check; `check` stays None): every plan a user sees is still checked.

        The chain: apply the variant's bounds, solve (HiGHS, with a start), extract, evaluate,
        check, tables (the module's stage functions).
        """
        finish = {"tables": tables, "checked": checked}
        instance = variant if variant is not None else self.instance
        time_limit, mip_gap, threads = options.resolve(instance)
        opts = {"time_limit": time_limit, "mip_gap": mip_gap, "threads": threads, "seed": options.seed}
        if self.session is None:
            if variant is not None and variant != self.instance:
                return self._fresh(variant).solve(options, start=start, extra_rows=extra_rows, **finish)
            return self._outcome(instance, SolveStatus.INFEASIBLE, options=opts,
                                 messages=[i.message for i in self.built.notes.infeasibilities])
        target = self._base_bounds
        if variant is not None and variant is not self.instance:
            try:
                target = variant_bounds(self.built, self.form, self._rows, self.pair_columns, variant)
            except NotInPlace:
                return self._fresh(variant).solve(options, start=start, extra_rows=extra_rows, **finish)
        if target.infeasible:
            return self._outcome(instance, SolveStatus.INFEASIBLE, options=opts, messages=list(target.infeasible))
        self.session.apply(target, self._loaded)
        self._loaded = target
        in_place_base = target is self._base_bounds and not extra_rows
        fallback: tuple[str, np.ndarray, float] | None = None  # (source, starts, objective) if HiGHS finds nothing
        weak_bound = None  # the heuristic's bound with every rule dropped, when HiGHS reports none
        notes: list[str] = []
        start_info = heuristic_info = None
        if start is not None:
            self.session.set_start(self.pair_columns, starts_from_plan(self.coef, start))
        elif given_start is not None:
            x_start, start_info, start_notes = self._start(instance, given_start)
            notes += start_notes
            self.session.set_start(self.pair_columns, x_start)
            if in_place_base and start_info["accepted"]:
                fallback = ("start", x_start, objective_parts(self.ctx, x_start).objective)
        elif options.first_plan and in_place_base:
            found = first_plan(self.form, self.pair_columns, self.coef.pair_scheme, deadline=self._left(options, 0.0))
            heuristic_info = {"objective": _json_number(found.objective), "seconds": round(found.seconds, 4),
                              "ready_seconds": None if options.started is None
                              else round(time.perf_counter() - options.started, 4),
                              "note": found.reason or None}
            if found.chosen is not None:
                self.session.set_start(self.pair_columns, found.chosen)
                fallback = ("first-plan heuristic", found.chosen, found.objective)
                weak_bound = found.bound
            else:
                notes.append(found.reason)
        finished = None  # the fallback plan checked and tabled ahead, under a deadline
        reserve = self._finish_reserve()
        if fallback is not None and options.deadline is not None:
            # check and table the plan in hand now: if HiGHS finds nothing better it is returned at
            # once, and what this took sizes the reserve kept for a better plan from HiGHS
            began = time.perf_counter()
            finished = self._finish(self._outcome(instance, SolveStatus.FEASIBLE, options=opts,
                                                  solver_objective=fallback[2]),
                                    self.ctx, plan_from_starts(self.coef, fallback[1]))
            reserve = max(FINISH_SECONDS_MIN, 1.5 * (time.perf_counter() - began) + 0.2)
            if finished.status != SolveStatus.FEASIBLE:  # the checker rejected it: never returned
                finished, fallback = None, None
        highs_limit = time_limit
        deadline = self._left(options, reserve)
        if deadline is not None:
            left = deadline - time.perf_counter()
            highs_limit = left if highs_limit is None else min(highs_limit, left)
        if highs_limit is not None and highs_limit < SOLVE_SECONDS_MIN and fallback is not None:
            raw = None  # no time left for HiGHS: the plan in hand is the answer
            notes.append(f"no time was left for HiGHS within the time limit of {time_limit:g} s")
        else:
            added = self.session.add_rows(extra_rows(target)) if extra_rows else np.zeros(0, dtype=np.int32)
            hasher = None
            if options.deadline is not None:  # the summary's hash (seconds at 50,000 schemes) while HiGHS works
                hasher = threading.Thread(target=instance.sha256, daemon=True)
                hasher.start()
            try:
                raw = self.session.solve(time_limit=max(highs_limit, 0.01) if highs_limit is not None else None,
                                         mip_gap=mip_gap, threads=threads, seed=options.seed,
                                         **({} if deadline is None else {"grace": DEADLINE_GRACE}))
            finally:
                if not self.session.abandoned:
                    self.session.delete_rows(added)
                if hasher is not None:
                    hasher.join()
        if raw is None or (fallback is not None and (
                raw.x is None or not raw.status.has_plan or raw.objective < fallback[2] - 1e-9 * max(1.0, abs(fallback[2])))):
            source, x_fallback, value = fallback
            bound = None if raw is None else raw.best_bound
            outcome = finished or self._outcome(instance, SolveStatus.FEASIBLE, options=opts, solver_objective=value)
            messages = [*outcome.messages, *notes]
            if bound is None and weak_bound is not None:
                messages.append("HiGHS reported no bound: the gap is to the plan value with every rule "
                                "dropped (each scheme at its best start), a weak bound")
            if raw is not None and raw.stopped_by_watchdog:
                messages.append(f"the solve overran its time limit of {time_limit:g} s and was stopped")
            messages.append(f"HiGHS found no better plan in time: the plan is the {source}'s")
            abandoned = raw is not None and raw.abandoned
            if abandoned:
                messages.append("HiGHS did not stop when cancelled; its plan, if any, is lost")
            outcome = replace(outcome, solve_seconds=0.0 if raw is None else raw.seconds,
                              dual_bound=bound if bound is not None else weak_bound, messages=messages,
                              plan_source=source, first_plan=heuristic_info, start=start_info,
                              solver_abandoned=abandoned)
            if finished is None:
                return self._finish(outcome, self.ctx, plan_from_starts(self.coef, x_fallback))
            return with_gap(outcome)  # the plan checked ahead: feasible, and only its gap is new
        messages = [*notes, *solver_messages(
            raw, time_limit, with_cuts=bool(extra_rows),
            diagnosis=lambda: diagnose(self.session, instance, self.coef, self.pair_columns, time_limit))]
        outcome = self._outcome(instance, raw.status, options=opts, solve_seconds=raw.seconds,
                                solver_objective=raw.objective, dual_bound=raw.dual_bound,
                                mip_gap=raw.mip_gap, messages=messages, first_plan=heuristic_info,
                                start=start_info, solver_abandoned=raw.abandoned)
        if raw.x is None or not raw.status.has_plan:
            return outcome
        plan = extract(self.coef, self.pair_columns, raw.x, target.forced_pairs)
        source = "solver"
        if fallback is not None and plan == plan_from_starts(self.coef, fallback[1]):
            source = fallback[0]  # HiGHS kept the start it was given
        ctx = self.ctx if instance is self.instance else ModelContext(instance=instance, coef=self.coef)
        return self._finish(replace(outcome, plan_source=source), ctx, plan, **finish)

    def row_of(self, constraint: str, index) -> int | None:
        """The loaded model's row of a constraint (e.g. ("c_limit", ("capital", 2026))), None if absent."""
        return self._rows.get((constraint, index))

    def probe(self, rows: list[int], sense: str, *, objective_floor: float | None = None,
              options: SolveOptions = SolveOptions(), shift_from: list[float] | None = None) -> Probe:
        """`cipopt.solve.probe.probe_rows` on the instance as given (not a variant), on a copy."""
        self.session.apply(self._base_bounds, self._loaded)
        self._loaded = self._base_bounds
        if self._by_row is None:
            self._by_row = self.form.matrix.tocsr()
        time_limit, _, threads = options.resolve(self.instance)
        return probe_rows(self.session.highs, self._by_row, rows, sense, objective_floor=objective_floor,
                          time_limit=time_limit, threads=threads, shift_from=shift_from)

    def _left(self, options: SolveOptions, reserve: float) -> float | None:
        """The time.perf_counter() by which a stage must end to leave `reserve` seconds before the deadline."""
        return None if options.deadline is None else options.deadline - reserve

    def _finish_reserve(self) -> float:
        """Seconds kept after HiGHS for checking the plan and writing its tables and files."""
        return max(FINISH_SECONDS_MIN, FINISH_SECONDS_PER_START * self.coef.n_pairs)

    def _start(self, instance: Instance, start: Plan) -> tuple[np.ndarray, dict[str, Any], list[str]]:
        """A given plan as a MIP start: checked like any plan; a plan breaking rules is still
        handed to HiGHS (it repairs what it can), and what it breaks is reported."""
        x = np.zeros(self.coef.n_pairs)
        pairs = self.coef.pairs_of_scheme
        outside = []
        for sid, year in start.items():
            s = self.coef.scheme_index.get(sid)
            if year is None or s is None:
                continue
            match = [p for p in pairs[s] if self.coef.years[self.coef.pair_start[p]] == year]
            if match:
                x[match[0]] = 1.0
            else:
                outside.append(f"{sid} ({year})")
        report = check_plan(instance, {sid: y for sid, y in start.items() if sid in self.coef.scheme_index})
        info = {"schemes": int(sum(1 for y in start.values() if y is not None)),
                "accepted": bool(report.ok and not outside), "rules_broken": len(report.violations)}
        notes = []
        if not info["accepted"]:
            notes.append(f"the start plan breaks {len(report.violations)} rule(s); HiGHS was given it as a "
                         "start all the same:")
            notes += [f"  {v.message}" for v in report.violations[:10]]
            if len(report.violations) > 10:
                notes.append(f"  ... and {len(report.violations) - 10} more (cipopt check shows them all)")
            if outside:
                notes.append(f"  starts no model column allows, left out of the start: {', '.join(outside[:10])}")
        return x, info, notes

    def evaluate(self, plan: Plan) -> SolveResult:
        """A plan made elsewhere, checked and evaluated like a solve's (status `feasible`, no gap).

        A plan that breaks a rule comes back with status `error` and the checker's words.
        """
        report = check_plan(self.instance, plan)
        outcome = self._outcome(self.instance, SolveStatus.FEASIBLE,
                                messages=["a given plan, evaluated and checked (not solved)"])
        if not report.ok:
            return replace(outcome, status=SolveStatus.ERROR, check=report,
                           messages=["the given plan breaks rules:"] + [v.message for v in report.violations])
        full = {s.id: plan.get(s.id) for s in self.instance.schemes}
        return self._finish(outcome, self.ctx, full)

    def _fresh(self, variant: Instance) -> "Planner":
        key = variant.sha256()
        if key not in self._rebuilt:
            self.rebuilds += 1
            self._rebuilt = {key: Planner(variant)}  # keep only the latest, to bound memory
        return self._rebuilt[key]

    def _finish(self, outcome: SolveResult, ctx: ModelContext, plan: Plan, *, tables: bool = True,
                checked: bool = True) -> SolveResult:
        """The last stages: evaluate the plan exactly, have the independent checker confirm it,
        build its tables."""
        with no_cyclic_gc():  # after a big build every collection walks the whole model (bulk.py)
            outcome = evaluate(outcome, ctx, plan)
            if checked:
                outcome = check(outcome, ctx)
                if outcome.status == SolveStatus.ERROR:
                    return outcome
            outcome = with_gap(outcome)
            return with_tables(outcome, ctx) if tables else outcome


def _close(a: float, b: float, rel: float = OBJECTIVE_REL_TOL) -> bool:
    return abs(a - b) <= rel * max(1.0, abs(a), abs(b))


def solve_instance(instance: Instance, options: SolveOptions = SolveOptions(), *,
                   start: Plan | None = None) -> SolveResult:
    """Build, solve and check one instance.

    One build and one solve: no cyclic garbage collection in between (see cipopt.bulk), since
    with the model alive every collection walks its millions of objects and frees nothing.
    """
    with no_cyclic_gc():
        return solve(build(instance, verbose=options.verbose), options, given_start=start)
