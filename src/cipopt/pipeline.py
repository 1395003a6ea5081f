"""load -> validate -> build -> hand off -> solve -> extract -> check, as stages and as one call.

A `Planner` builds the model and hands it to HiGHS once; every later solve (what-if, ranking,
alternatives) reuses it. Every plan it returns has been re-checked by the independent checker:
a plan the checker rejects is never reported as a solution (status `error` with its words).
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cipopt import __version__
from cipopt.bulk import no_cyclic_gc
from cipopt.check import CheckReport, check_plan
from cipopt.coefficients import build_coefficients
from cipopt.model.build import BuiltModel, build_model
from cipopt.model.context import ModelContext
from cipopt.results import (
    Plan, objective_parts, plan_from_starts, plan_table, starts_from_plan, years_table,
)
from cipopt.schema.instance import Instance
from cipopt.schema.problems import InputError, Problem
from cipopt.solve.diagnose import diagnose
from cipopt.solve.heuristic import first_plan
from cipopt.solve.probe import Probe, probe_rows
from cipopt.solve.highs import HIGHS_VERSION, HighsSession, StandardForm, compile_model
from cipopt.solve.status import SolveStatus
from cipopt.solve.variant import Bounds, row_index, variant_bounds

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


@dataclass
class SolveOutcome:
    instance: Instance
    status: SolveStatus
    objective: float | None = None  # what was maximised: the mode's value less the penalties
    net_present_value: float | None = None  # the plan's NPV, no penalties, in every mode
    shortfall_penalty: float | None = None  # the discounted soft-target shortfall penalties
    risk_penalty: float | None = None  # risk cvar: cvar_penalty x CVaR (else 0)
    solver_objective: float | None = None
    dual_bound: float | None = None
    mip_gap: float | None = None
    plan: Plan | None = None
    messages: list[str] = field(default_factory=list)
    check: CheckReport | None = None
    build_seconds: float = 0.0
    handoff_seconds: float = 0.0
    solve_seconds: float = 0.0
    check_seconds: float = 0.0
    solver_version: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    plan_frame: pd.DataFrame | None = None
    years: pd.DataFrame | None = None
    plan_source: str | None = None  # "solver", "first-plan heuristic" or "start" (docs/performance.md)
    first_plan: dict[str, Any] | None = None  # the heuristic's objective, seconds and note, when it ran
    start: dict[str, Any] | None = None  # the given start plan: schemes, rules broken
    solver_abandoned: bool = False  # HiGHS would not stop and still runs in its thread (end the process fast)

    @property
    def selected(self) -> list[str]:
        return [s for s, y in (self.plan or {}).items() if y is not None]

    def summary(self) -> dict[str, Any]:
        inst = self.instance
        return {
            "status": self.status.value,
            "objective": _json_number(self.objective),
            "objective_meaning": objective_words(inst),
            "net_present_value": _json_number(self.net_present_value),
            "shortfall_penalty": _json_number(self.shortfall_penalty),
            "risk_penalty": _json_number(self.risk_penalty),
            "mip_gap": _json_number(self.mip_gap),
            "dual_bound": _json_number(self.dual_bound),
            "objective_mode": inst.objective.mode,
            "risk": inst.objective.risk,
            "money_unit": inst.money_unit,
            "instance_name": inst.name,
            "instance_sha256": inst.sha256(),
            "years": list(inst.years),
            "schemes": len(inst.schemes),
            "selected": len(self.selected),
            "build_seconds": round(self.build_seconds, 4),
            "handoff_seconds": round(self.handoff_seconds, 4),
            "solve_seconds": round(self.solve_seconds, 4),
            "check_seconds": round(self.check_seconds, 4),
            "solver": "highs",
            "solver_version": self.solver_version,
            "solver_options": self.options,
            "checker": None if self.check is None else ("accepted" if self.check.ok else "rejected"),
            "plan_source": self.plan_source,
            "first_plan": self.first_plan,
            "start": self.start,
            "risk_figures": {} if self.check is None else dict(self.check.risk_figures),  # docs/risk.md
            "messages": list(self.messages),
            "cipopt_version": __version__,
        }


MODE_WORDS = {"net_present_value": "NPV", "savings": "discounted net savings", "weighted_score": "weighted score"}


def objective_words(instance: Instance) -> str:
    """What the objective is, named as such: never "net present value" (docs/figures.md)."""
    less = " less shortfall penalties"
    if instance.objective.risk == "cvar" and instance.objective.cvar_penalty:
        less += " and the CVaR penalty"
    return MODE_WORDS[instance.objective.mode] + less


def _json_number(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


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

    def _outcome(self, instance: Instance, status: SolveStatus, **kw) -> SolveOutcome:
        return SolveOutcome(
            instance=instance, status=status, build_seconds=self.build_seconds,
            handoff_seconds=self.handoff_seconds, solver_version=HIGHS_VERSION, **kw)

    def solve(self, options: SolveOptions = SolveOptions(), *, variant: Instance | None = None,
              start: Plan | None = None, extra_rows: Callable[["Bounds"], list] | None = None,
              tables: bool = True, checked: bool = True, given_start: Plan | None = None) -> SolveOutcome:
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
            target = variant_bounds(self.built, self.form, self._rows, self.pair_columns, variant)
            if isinstance(target, str):
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
            outcome.solve_seconds = 0.0 if raw is None else raw.seconds
            outcome.dual_bound = bound if bound is not None else weak_bound
            outcome.messages += notes
            if bound is None and weak_bound is not None:
                outcome.messages.append("HiGHS reported no bound: the gap is to the plan value with every rule "
                                        "dropped (each scheme at its best start), a weak bound")
            if raw is not None and raw.stopped_by_watchdog:
                outcome.messages.append(f"the solve overran its time limit of {time_limit:g} s and was stopped")
            outcome.messages.append(f"HiGHS found no better plan in time: the plan is the {source}'s")
            outcome.plan_source, outcome.first_plan, outcome.start = source, heuristic_info, start_info
            outcome.solver_abandoned = raw is not None and raw.abandoned
            if outcome.solver_abandoned:
                outcome.messages.append("HiGHS did not stop when cancelled; its plan, if any, is lost")
            if finished is None:
                return self._finish(outcome, self.ctx, plan_from_starts(self.coef, x_fallback))
            if outcome.dual_bound is not None:
                outcome.mip_gap = max(0.0, outcome.dual_bound - outcome.objective) / max(abs(outcome.objective), 1e-9)
            return outcome
        outcome = self._outcome(instance, raw.status, options=opts, solve_seconds=raw.seconds,
                                solver_objective=raw.objective, dual_bound=raw.dual_bound,
                                mip_gap=raw.mip_gap)
        outcome.messages += notes
        outcome.first_plan, outcome.start = heuristic_info, start_info
        outcome.solver_abandoned = raw.abandoned
        if raw.stopped_by_watchdog:
            outcome.messages.append(f"the solve overran its time limit of {time_limit:g} s and was stopped")
        if raw.status == SolveStatus.INFEASIBLE and extra_rows:
            outcome.messages.append("no plan keeps every rule together with the added cuts")
        elif raw.status == SolveStatus.INFEASIBLE:
            outcome.messages.append("no plan keeps every rule:")
            outcome.messages.extend(diagnose(self.session, instance, self.coef, self.pair_columns, time_limit))
        if raw.status == SolveStatus.TIME_LIMIT_NO_SOLUTION:
            outcome.messages.append(f"the solver stopped ({raw.model_status}) before finding any plan")
        if raw.status == SolveStatus.ERROR:
            outcome.messages.append(f"the solver ended with status {raw.model_status!r}")
        if raw.x is None or not raw.status.has_plan:
            return outcome
        chosen = np.zeros(self.coef.n_pairs)
        present = self.pair_columns >= 0
        chosen[present] = raw.x[self.pair_columns[present]]
        chosen[target.forced_pairs] = 1.0
        outcome.plan_source = "solver"
        if fallback is not None and np.array_equal(chosen > 0.5, fallback[1] > 0.5):
            outcome.plan_source = fallback[0]  # HiGHS kept the start it was given
        ctx = self.ctx if instance is self.instance else ModelContext(instance=instance, coef=self.coef)
        return self._finish(outcome, ctx, plan_from_starts(self.coef, chosen), **finish)

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

    def evaluate(self, plan: Plan) -> SolveOutcome:
        """A plan made elsewhere, checked and evaluated like a solve's (status `feasible`, no gap).

        A plan that breaks a rule comes back with status `error` and the checker's words.
        """
        report = check_plan(self.instance, plan)
        outcome = self._outcome(self.instance, SolveStatus.FEASIBLE,
                                messages=["a given plan, evaluated and checked (not solved)"])
        if not report.ok:
            outcome.status = SolveStatus.ERROR
            outcome.check = report
            outcome.messages = ["the given plan breaks rules:"] + [v.message for v in report.violations]
            return outcome
        full = {s.id: plan.get(s.id) for s in self.instance.schemes}
        return self._finish(outcome, self.ctx, full)

    def _fresh(self, variant: Instance) -> "Planner":
        key = variant.sha256()
        if key not in self._rebuilt:
            self.rebuilds += 1
            self._rebuilt = {key: Planner(variant)}  # keep only the latest, to bound memory
        return self._rebuilt[key]

    def _finish(self, outcome: SolveOutcome, ctx: ModelContext, plan: Plan, *, tables: bool = True,
                checked: bool = True) -> SolveOutcome:
        """Evaluate the plan exactly, have the independent checker confirm it, build its tables."""
        with no_cyclic_gc():  # after a big build every collection walks the whole model (bulk.py)
            return self._finish_checked(outcome, ctx, plan, tables=tables, checked=checked)

    def _finish_checked(self, outcome: SolveOutcome, ctx: ModelContext, plan: Plan, *, tables: bool = True,
                        checked: bool = True) -> SolveOutcome:
        x = starts_from_plan(self.coef, plan)
        outcome.plan = plan
        parts = objective_parts(ctx, x)
        outcome.objective = parts.objective
        outcome.net_present_value = parts.net_present_value
        outcome.shortfall_penalty = parts.shortfall_penalty
        outcome.risk_penalty = parts.risk_penalty
        if not checked:
            self._gap(outcome)
            if tables:
                outcome.plan_frame = plan_table(ctx, plan)
                outcome.years = years_table(ctx, x)
            return outcome
        started = time.perf_counter()
        outcome.check = check_plan(ctx.instance, plan)
        outcome.check_seconds = time.perf_counter() - started
        problems = []
        if not outcome.check.ok:
            problems += [v.message for v in outcome.check.violations]
        if not _close(outcome.check.objective, outcome.objective):
            problems.append(f"the checker values the plan at {outcome.check.objective:,.6f}, "
                            f"the model at {outcome.objective:,.6f}")
        for what, mine, theirs in (("net present value", parts.net_present_value, outcome.check.net_present_value),
                                   ("shortfall penalty", parts.shortfall_penalty, outcome.check.penalty)):
            if not _close(theirs, mine):
                problems.append(f"the checker's {what} is {theirs:,.6f}, the model's {mine:,.6f}")
        # The plan's exact value may exceed the solver's (an incumbent's shortfall variables need
        # not be at their least), never fall below it.
        if outcome.solver_objective is not None and outcome.objective < outcome.solver_objective \
                and not _close(outcome.solver_objective, outcome.objective, 1e-5):
            problems.append(f"the solver reports {outcome.solver_objective:,.6f} for a plan worth "
                            f"{outcome.objective:,.6f}")
        if problems:
            outcome.status = SolveStatus.ERROR
            outcome.messages.append("internal error: the independent checker rejected the solver's plan")
            outcome.messages.extend(problems)
            return outcome
        self._gap(outcome)
        if tables:
            outcome.plan_frame = plan_table(ctx, plan)
            outcome.years = years_table(ctx, x)
        return outcome

    @staticmethod
    def _gap(outcome: SolveOutcome) -> None:
        if outcome.dual_bound is not None and outcome.status == SolveStatus.FEASIBLE:
            outcome.mip_gap = max(0.0, outcome.dual_bound - outcome.objective) / max(abs(outcome.objective), 1e-9)


def _close(a: float, b: float, rel: float = OBJECTIVE_REL_TOL) -> bool:
    return abs(a - b) <= rel * max(1.0, abs(a), abs(b))


def solve_instance(instance: Instance, options: SolveOptions = SolveOptions(), *,
                   start: Plan | None = None) -> SolveOutcome:
    """Build, solve and check one instance.

    One build and one solve: no cyclic garbage collection in between (see cipopt.bulk), since
    with the model alive every collection walks its millions of objects and frees nothing.
    """
    with no_cyclic_gc():
        return Planner(instance, verbose=options.verbose).solve(options, given_start=start)
