"""Small instances built in code, for golden tests whose optimum is worked out by hand."""

from __future__ import annotations

from typing import Any

from cipopt.pipeline import SolveOptions, SolveOutcome, solve_instance
from cipopt.schema.instance import Instance, Scheme


def make(schemes: list[dict[str, Any]], **context: Any) -> Instance:
    """An instance with round defaults: no discounting, face-value savings, NPV objective."""
    data: dict[str, Any] = {
        "years": [2025, 2026, 2027],
        "discount_rate": 0.0,
        "objective": {"mode": "net_present_value", "risk": "none"},
    }
    data.update(context)
    rows = []
    for s in schemes:
        row = {"first_year_fraction": 1.0, **{k: v for k, v in s.items() if k in Scheme.model_fields}}
        row["metrics"] = {k: v for k, v in s.items() if k not in Scheme.model_fields}
        row.setdefault("org", (data.get("organisations") or [{"id": "trust"}])[0]["id"])
        row.setdefault("name", row["id"])
        rows.append(row)
    data["schemes"] = rows
    return Instance.model_validate(data)


def solve(instance: Instance) -> SolveOutcome:
    outcome = solve_instance(instance, SolveOptions(mip_gap=0.0, time_limit=60))
    if outcome.plan is not None:
        assert outcome.check is not None and outcome.check.ok, outcome.check.lines()
    return outcome


def chosen(outcome: SolveOutcome) -> dict[str, int]:
    return {s: y for s, y in outcome.plan.items() if y is not None}
