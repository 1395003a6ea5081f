"""load -> validate -> build -> hand off -> solve -> extract -> check, as stages and as one call.

A `Planner` builds the model and hands it to HiGHS once; every later solve (what-if, ranking,
alternatives) reuses it. Every plan it returns has been re-checked by the independent checker:
a plan the checker rejects is never reported as a solution (status `error` with its words).
"""

from __future__ import annotations

import math
import os
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
from cipopt.solve.probe import Probe, probe_rows
from cipopt.solve.highs import HIGHS_VERSION, HighsSession, StandardForm, compile_model
from cipopt.solve.status import SolveStatus
from cipopt.solve.variant import Bounds, row_index, variant_bounds

OBJECTIVE_REL_TOL = 1e-6


@dataclass(frozen=True)
class SolveOptions:
    """Solver options; None takes the instance's `solver` section (the command line overrides it)."""

    time_limit: float | None = None
    mip_gap: float | None = None
    threads: int | None = None
    verbose: bool = False
    seed: int = 0  # HiGHS random_seed: the same inputs, options and seed give the same plan

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
              tables: bool = True, checked: bool = True) -> SolveOutcome:
        """Solve the instance, or a variant of it (see `cipopt.solve.variant`), reusing the model.

        A variant that changes only bounds, costs, windows or mandatory flags is solved in place;
        any other variant is built afresh (once: later calls with the same variant reuse it).
        `start` is a plan HiGHS is given as a first incumbent. `extra_rows`, given the loaded
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
        if start is not None:
            self.session.set_start(self.pair_columns, starts_from_plan(self.coef, start))
        added = self.session.add_rows(extra_rows(target)) if extra_rows else np.zeros(0, dtype=np.int32)
        try:
            raw = self.session.solve(time_limit=time_limit, mip_gap=mip_gap, threads=threads, seed=options.seed)
        finally:
            self.session.delete_rows(added)
        outcome = self._outcome(instance, raw.status, options=opts, solve_seconds=raw.seconds,
                                solver_objective=raw.objective, dual_bound=raw.dual_bound,
                                mip_gap=raw.mip_gap)
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


def solve_instance(instance: Instance, options: SolveOptions = SolveOptions()) -> SolveOutcome:
    """Build, solve and check one instance.

    One build and one solve: no cyclic garbage collection in between (see cipopt.bulk), since
    with the model alive every collection walks its millions of objects and frees nothing.
    """
    with no_cyclic_gc():
        return Planner(instance, verbose=options.verbose).solve(options)
