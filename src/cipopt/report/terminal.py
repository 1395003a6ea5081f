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
