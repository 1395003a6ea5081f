"""Monte Carlo of a plan's delivery: what the board may actually get, year by year, with its odds.

The draws are those of `cipopt.uncertainty` (docs/risk.md), in fixed-size batches, each batch a
task of `run_sweep`; the batches' delivered savings are joined in task order before any statistic
is taken, so the numbers are the same however the batches are run. Within a batch everything is
vectorised over draws and schemes: a plan's net saving per draw is two matrix products.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cipopt.analysis.sweep import IN_PROCESS, Progress, Sweep, run_sweep
from cipopt.check import check_plan
from cipopt.coefficients import build_coefficients
from cipopt.schema.instance import Instance
from cipopt.schema.problems import InputError, Problem
from cipopt.uncertainty import BATCH_SIZE, SchemeRisk, batches, cvar, net_terms, sample_batch, split_by_slip

BASES = ("recurrent", "in_year")
MEASURE = {"recurrent": "recurrent_net_saving", "in_year": "in_year_net_saving"}
QUANTILES = (10, 50, 90)
SAVINGS_COLUMNS = ["year", "org", "measure", "mean", "p10", "p50", "p90"]
TARGET_COLUMNS = ["year", "target", "org", "basis", "required", "mean", "p10", "p50", "p90",
                  "probability_met", "expected_shortfall"]


@dataclass
class _State:
    """What every batch needs: the scheme risk vectors and the plan's net-saving terms per scope."""

    risk: SchemeRisk
    schemes: np.ndarray  # the plan's schemes (indices), the items of every NetTerms below
    terms: dict[tuple[str | None, str], Any]
    years: tuple[int, ...] = ()

    def __post_init__(self):
        """The scopes' terms side by side, so a batch takes two matrix products for all of them."""
        terms = list(self.terms.values())
        self.on_time = np.hstack([t.on_time for t in terms])
        self.late = np.hstack([t.late for t in terms])
        self.fixed = np.hstack([t.fixed.sum(axis=0) for t in terms])


def setup(payload: tuple[Instance, dict[str, int | None]]) -> _State:
    instance, plan = payload
    coef = build_coefficients(instance)
    first = instance.years[0]
    chosen = [(coef.scheme_index[s], y - first) for s, y in plan.items() if y is not None]
    schemes = np.array([c[0] for c in chosen], dtype=np.int64)
    starts = np.array([c[1] for c in chosen], dtype=np.int64)
    scopes = _scopes(instance)
    terms = {(org, basis): net_terms(coef, basis, org, schemes, starts) for org in scopes for basis in BASES}
    return _State(risk=SchemeRisk.of(instance), schemes=schemes, terms=terms, years=instance.years)


def work(state: _State, task: tuple[int, int, int]) -> dict[tuple[str | None, str], np.ndarray]:
    """One batch (seed, batch index, size): each scope's net saving per draw and year."""
    seed, batch, size = task
    draws = sample_batch(state.risk, seed, batch, size)
    on_time, late = split_by_slip(draws, state.schemes)  # every scope has the plan's schemes, in order
    joined = on_time @ state.on_time + late @ state.late + state.fixed  # all scopes in two products
    width = len(state.years)
    return {key: joined[:, k * width:(k + 1) * width] for k, key in enumerate(state.terms)}


def _scopes(instance: Instance) -> list[str | None]:
    return [None] + (list(instance.org_ids) if len(instance.organisations) > 1 else [])


@dataclass
class SimulationResult:
    instance: Instance
    draws: int
    seed: int
    savings: pd.DataFrame  # SAVINGS_COLUMNS
    targets: pd.DataFrame  # TARGET_COLUMNS (simulation.csv, which the HTML report reads)
    summary: dict[str, Any] = field(default_factory=dict)
    values: dict[tuple[str | None, str], np.ndarray] = field(default_factory=dict, repr=False)
    """(draws, years) net savings per (org, basis): the raw draws, for tests and further analysis."""


def simulate_plan(instance: Instance, plan: dict[str, int | None], *, draws: int = 10_000, seed: int | None = None,
                  alpha: float | None = None, sweep: Sweep = IN_PROCESS,
                  progress: Progress | None = None) -> SimulationResult:
    """Simulate `draws` deliveries of `plan` (scheme -> start year or None) from `seed`.

    `seed` and `alpha` default to the instance's `objective.seed` and `objective.alpha`, so that
    `draws = objective.draws` reproduces exactly the scenarios a `risk: cvar` or `chance` solve used.
    Starts must lie in the plan years (the caller checks); other broken rules are only reported.
    """
    fye = [t.id for t in instance.targets if t.basis == "full_year_effect"]
    if fye:  # docs/finance.md: the delivery scenarios know only the recurrent and in-year bases
        raise InputError([Problem(instance.name, "cipopt simulate cannot draw full_year_effect targets ("
                                  + ", ".join(fye) + "): give them basis recurrent to simulate")])
    started = time.perf_counter()
    seed = instance.objective.seed if seed is None else seed
    alpha = instance.objective.alpha if alpha is None else alpha
    plan = {s: y for s, y in plan.items() if y is not None}
    payload = (instance, plan)
    tasks = [(seed, b, n) for b, n in batches(draws)]
    state = setup(payload) if sweep.in_process else None
    parts = run_sweep(setup, payload, work, tasks, sweep=sweep, state=state, progress=progress,
                      labels=[f"batch {b + 1}" for _, b, _ in tasks])
    values = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]} if parts else {}
    result = _statistics(instance, values, draws, seed, alpha)
    report = check_plan(instance, plan)
    result.summary.update({
        "plan_selected": len(plan),
        "checker": "accepted" if report.ok else "rejected",
        "checker_messages": [v.message for v in report.violations],
        "seconds": round(time.perf_counter() - started, 4),
    })
    return result


def _quantiles(values: np.ndarray) -> np.ndarray:
    return np.percentile(values, QUANTILES, axis=0)


def _statistics(instance: Instance, values: dict, draws: int, seed: int, alpha: float) -> SimulationResult:
    years = list(instance.years)
    rows = []
    for (org, basis), v in values.items():
        q = _quantiles(v)
        for yi, y in enumerate(years):
            rows.append([y, org or "all", MEASURE[basis], float(v[:, yi].mean()), *map(float, q[:, yi])])
    savings = pd.DataFrame(rows, columns=SAVINGS_COLUMNS)

    discount = np.array([instance.discount(y) for y in years])
    loss_targets = set(instance.objective.risk_targets or [t.id for t in instance.targets])
    loss = np.zeros(draws)
    target_rows, met_all = [], {}
    for t in instance.targets:
        v = values[(t.org, t.basis)] if (t.org, t.basis) in values else _org_values(values, t)
        met = np.ones(draws, dtype=bool)
        q = _quantiles(v)
        for y, required in sorted(t.values.items()):
            yi = years.index(y)
            shortfall = np.maximum(0.0, required - v[:, yi])
            met &= v[:, yi] >= required
            if t.id in loss_targets:
                loss += discount[yi] * shortfall
            target_rows.append([y, t.id, t.org or "all", t.basis, required, float(v[:, yi].mean()),
                                *map(float, q[:, yi]), float((v[:, yi] >= required).mean()),
                                float(shortfall.mean())])
        met_all[t.id] = float(met.mean())
    targets = pd.DataFrame(target_rows, columns=TARGET_COLUMNS)
    summary = {
        "draws": draws, "seed": seed, "batch_size": BATCH_SIZE,
        "instance_name": instance.name, "instance_sha256": instance.sha256(), "money_unit": instance.money_unit,
        "probability_met_every_year": met_all,
        "loss_targets": sorted(loss_targets),
        "loss_mean": float(loss.mean()) if draws else None,
        "alpha": alpha,
        "loss_cvar": cvar(loss, alpha) if draws else None,
        "expected_in_year_net_saving_total": float(values[(None, "in_year")].sum(axis=1).mean()) if draws else None,
        "expected_recurrent_net_saving_last_year": float(values[(None, "recurrent")][:, -1].mean()) if draws else None,
        "p10_recurrent_net_saving_last_year": float(np.percentile(values[(None, "recurrent")][:, -1], 10))
        if draws else None,
    }
    return SimulationResult(instance, draws, seed, savings, targets, summary, values)


def _org_values(values: dict, target) -> np.ndarray:
    """A target's organisation in a one-organisation instance is the system itself."""
    return values[(None, target.basis)]
