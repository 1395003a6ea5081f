"""What one solve (or one evaluated plan) gives back: a frozen, typed value.

It is defined here, below every layer that reads it (io/excel.py, store.py, report/, analysis/),
and imports nothing heavy at import time, so those layers name the type instead of relying on
duck typing. A stage that learns more makes a new value with `dataclasses.replace`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cipopt import __version__
from cipopt.solve.status import SolveStatus

if TYPE_CHECKING:  # pandas, the schema and the checker are only names here
    import pandas as pd

    from cipopt.check import CheckReport
    from cipopt.schema.instance import Instance

Plan = dict[str, int | None]  # scheme id -> start year (None: not selected), as cipopt.results.Plan

MODE_WORDS = {"net_present_value": "NPV", "savings": "discounted net savings", "weighted_score": "weighted score"}


@dataclass(frozen=True)
class SolveResult:
    """A solve's status, figures, plan, check and tables; never changed once made."""

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
    messages: list[str] = field(default_factory=list)  # a list: callers join it with their own lists
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
            "objective": json_number(self.objective),
            "objective_meaning": objective_words(inst),
            "net_present_value": json_number(self.net_present_value),
            "shortfall_penalty": json_number(self.shortfall_penalty),
            "risk_penalty": json_number(self.risk_penalty),
            "mip_gap": json_number(self.mip_gap),
            "dual_bound": json_number(self.dual_bound),
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


def objective_words(instance: Instance) -> str:
    """What the objective is, named as such: never "net present value" (docs/figures.md)."""
    less = " less shortfall penalties"
    if instance.objective.risk == "cvar" and instance.objective.cvar_penalty:
        less += " and the CVaR penalty"
    return MODE_WORDS[instance.objective.mode] + less


def json_number(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)
