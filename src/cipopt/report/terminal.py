"""What the commands print on the terminal, from one place (issue #18).

`show` is the one function that prints a result: a solve's result is worded by
`report.text.solve_summary`, a result that words itself (a check, a what-if, a frontier, a ranking)
gives its `lines()`, and the explanation, the alternatives and the simulation are worded here, so
no command builds its own lines.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

import click

from cipopt.report.text import money, solve_summary
from cipopt.solve.result import SolveResult, objective_words


@runtime_checkable
class Worded(Protocol):
    """A result that words itself for the terminal."""

    def lines(self) -> list[str]: ...


def lines(value: SolveResult | Worded | Iterable[str]) -> list[str]:
    """A result as the lines the terminal shows."""
    if isinstance(value, SolveResult):
        return solve_summary(value)
    if isinstance(value, Worded):
        return value.lines()
    return list(value)


def show(value: SolveResult | Worded | Iterable[str], *, err: bool = False) -> None:
    """Print a result (or lines already worded) on standard output, or standard error."""
    for line in lines(value):
        click.echo(line, err=err)


def explain_lines(result, inst, reference_note: str) -> list[str]:
    """`cipopt explain`: each scheme's reason, and the value of easing each rule that binds."""
    ref = result.reference
    text = [f"{inst.name}: explaining {reference_note} (objective, {objective_words(inst)}: {ref.objective:,.1f}; "
            f"net present value {ref.net_present_value:,.1f} {inst.money_unit})"]
    text.append("")
    text.append("schemes:")
    for r in result.schemes.itertuples():
        text.append(f"  {r.scheme:<28} {r.reason}")
    text.append("")
    text.append("value of easing each rule that binds or whose easing pays (objective gained per unit, at the first "
                "bound where the best plan changes):")
    shown = result.rules[result.rules.tight | (result.rules.gain.fillna(0).astype(float) > 0)]
    if shown.empty:
        text.append("  none: no limit, target or floor binds")
    for r in shown.itertuples():
        value = "-" if r.marginal_value is None or r.marginal_value != r.marginal_value else f"{r.marginal_value:,.3f}"
        where = (f"{'every year':<10}  {'':>12} {r.sense} {'':<12}" if r.year == "all" else
                 f"{r.year!s:<10}  {r.value:>12,.1f} {r.sense} {r.bound:<12,.1f}")
        text.append(f"  {r.rule:<28} {where} {value:>10} per unit  ({r.method})")
    return text


def alternatives_lines(result, inst, *, count: int, within: float, min_difference: int) -> list[str]:
    """`cipopt alternatives`: the plans found, and what each scheme of the optimal plan is worth."""
    unit = inst.money_unit
    text = [f"{inst.name}: {len(result.plans)} plan(s) within {within:g}% of the optimum, each differing "
            f"from every earlier one in at least {min_difference} scheme(s)"]
    text.append(f"  objective: {objective_words(inst)}; NPV: net present value, no penalties")
    if result.exhausted:
        text.append(f"  only {len(result.plans)} of the {count} requested exist under these rules")
    for r in result.summary.itertuples():
        change = "" if r.plan == 1 else (
            f"  vs best: -{r.below_best:,.1f} ({r.below_best_pct:.2f}%); "
            + "; ".join(f"{label} {getattr(r, label).replace(';', ', ')}"
                        for label in ("added", "removed", "moved") if getattr(r, label)))
        text.append(f"  plan {r.plan}: {r.objective:,.1f} objective; NPV {r.net_present_value:,.1f} {unit}; "
                    f"shortfall penalty {r.shortfall_penalty:,.1f}; {r.selected} schemes{change}")
    text.append("")
    text.append("importance of each scheme in the optimal plan (objective lost without it; "
                "'needed': no plan keeps the rules without it):")
    for r in result.importance.itertuples():
        loss = "mandatory" if r.mandatory else (
            f"{r.loss_when_excluded:,.1f}" if r.loss_when_excluded == r.loss_when_excluded and r.loss_when_excluded is not None
            else "needed" if r.status_when_excluded == "infeasible" else r.status_when_excluded)
        core = "core (in every plan)" if r.in_every_alternative else ""
        text.append(f"  {r.rank:>3}. {r.scheme:<28} {loss:>12}  {core}")
    return text


def simulation_lines(result) -> list[str]:
    """`cipopt simulate`: per target and year the spread of what the draws deliver, and net savings."""
    s = result.summary
    unit = result.instance.money_unit
    out = [f"{result.draws:,} draws, seed {result.seed} ({unit}); P10: 90% of draws deliver at least this"]
    header = f"  {'year':>6} {'required':>10} {'mean':>10} {'P10':>10} {'P50':>10} {'P90':>10} {'P(met)':>7} {'E[short]':>10}"
    for tid, frame in result.targets.groupby("target", sort=False):
        first = frame.iloc[0]
        out.append(f"\ntarget {tid} ({first['basis']}, {first['org']}): met in every year in "
                   f"{s['probability_met_every_year'][tid]:.1%} of draws")
        out.append(header)
        for r in frame.itertuples():
            out.append(f"  {r.year:>6} {money(r.required):>10} {money(r.mean):>10} {money(r.p10):>10} "
                       f"{money(r.p50):>10} {money(r.p90):>10} {r.probability_met:>7.1%} "
                       f"{money(r.expected_shortfall):>10}")
    out.append("\nnet savings (all organisations)")
    out.append(f"  {'year':>6} {'measure':<22} {'mean':>10} {'P10':>10} {'P50':>10} {'P90':>10}")
    for r in result.savings[result.savings["org"] == "all"].itertuples():
        out.append(f"  {r.year:>6} {r.measure:<22} {money(r.mean):>10} {money(r.p10):>10} {money(r.p50):>10} "
                   f"{money(r.p90):>10}")
    if s["loss_targets"]:
        out.append(f"\nshortfall of {', '.join(s['loss_targets'])}, discounted, over all years: mean "
                   f"{money(s['loss_mean'])}, CVaR at alpha {s['alpha']:g} {money(s['loss_cvar'])}")
    return out


def no_plan_lines(headline: str, outcome) -> list[str]:
    """An analysis had no plan to start from: the headline with the solve's status, then its messages."""
    return [f"{headline}: {outcome.status.value}", *(f"  {message}" for message in outcome.messages)]


# -- the run history (`cipopt runs`) --------------------------------------------------------------

def clip(text: str, width: int) -> str:
    """Text cut to `width` characters, an ellipsis marking the cut (a long instance name in a table)."""
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def when(created_at: str) -> str:
    """A recorded ISO time to the minute, as people read it (the tables say UTC)."""
    return created_at.replace("T", " ")[:16]


def run_objective(value) -> str:
    """A run's objective, or '-' for a run without a plan."""
    return money(value) if value is not None else "-"


RUNS_HEADER = ["id", "time (UTC)", "status", "objective", "selected", "instance", "name", "approved by", "note"]


def runs_table_lines(runs, *, approved: bool = False, filtered: bool = False) -> list[str]:
    """`cipopt runs list`: one row per run, columns as wide as their widest cell; or why none is listed
    (`approved`: only approved runs were asked for; `filtered`: an instance or status narrowed the list)."""
    rows = [[str(r.id), when(r.created_at), r.status, run_objective(r.objective), str(r.selected),
             r.instance_sha256[:12], clip(r.instance_name, 48), ", ".join(a.approved_by for a in r.approvals),
             r.note or ""] for r in runs]
    if not rows:
        return [("no approved runs recorded" if approved else "no runs recorded") + (" that match" if filtered else "")]
    widths = [max(len(row[i]) for row in [RUNS_HEADER, *rows]) for i in range(len(RUNS_HEADER))]
    return ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in [RUNS_HEADER, *rows]]


def run_lines(run) -> list[str]:
    """`cipopt runs show`: a run's status, instance, solver and options, approvals, note, messages and plan."""
    gap = f"   gap: {run.mip_gap:.4%}" if run.mip_gap is not None else ""
    options = ", ".join(f"{k}={v}" for k, v in run.options.items())
    out = [f"run {run.id}   {when(run.created_at)} UTC   status: {run.status}   "
           f"objective: {run_objective(run.objective)}{gap}",
           f"instance: {run.instance_name} (sha256 {run.instance_sha256[:12]})"
           + (f", from {run.source}" if run.source else ""),
           f"solver: {run.solver} {run.solver_version}; options: {options}; cipopt {run.cipopt_version}"]
    out += [f"approved by {a.approved_by} at {when(a.approved_at)} UTC" for a in run.approvals]
    if run.note:
        out.append(f"note: {run.note}")
    out += [f"  {message}" for message in run.summary.get("messages", [])]
    if run.plan:
        chosen = {s: y for s, y in run.plan.items() if y is not None}
        out.append(f"\nschemes selected: {len(chosen)} of {len(run.plan)}")
        out += [f"  start {year}: {', '.join(sorted(s for s, y in chosen.items() if y == year))}"
                for year in sorted(set(chosen.values()))]
    return out


def run_diff_lines(a, b, diff: dict) -> list[str]:
    """`cipopt runs diff`: what changed from run `a` to run `b`, `diff` being store.diff_runs(a, b)."""
    out = [f"run {a.id} -> run {b.id}",
           "instance: " + ("the same" if diff["same_instance"] else
                           f"changed ({a.instance_sha256[:12]} -> {b.instance_sha256[:12]})"),
           f"status: {a.status} -> {b.status}" if a.status != b.status else f"status: {a.status} (both)"]
    oa, ob, delta = diff["objective"]
    change = f" ({delta:+,.1f})" if delta is not None else ""
    out.append(f"objective: {run_objective(oa)} -> {run_objective(ob)}{change}")
    out += [f"option {key}: {va} -> {vb}" for key, (va, vb) in diff["options"].items()]
    if a.solver_version != b.solver_version:
        out.append(f"solver version: {a.solver_version} -> {b.solver_version}")
    out.append(f"schemes: {len(diff['added'])} in, {len(diff['removed'])} out, {len(diff['moved'])} moved, "
               f"{diff['unchanged']} unchanged")
    out += [f"  + {sid} (starts {year})" for sid, year in diff["added"]]
    out += [f"  - {sid} (started {year})" for sid, year in diff["removed"]]
    out += [f"  ~ {sid}: {ya} -> {yb}" for sid, ya, yb in diff["moved"]]
    return out
