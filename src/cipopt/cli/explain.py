"""`cipopt explain`: why each scheme is in or out, and what each rule is worth."""

from __future__ import annotations

from pathlib import Path

import click

from cipopt.cli import options
from cipopt.cli.base import exit_without_plan, guarded, load, main, printing_warnings
from cipopt.io.write import check_output_dir, csv_text, json_text, write_folder
from cipopt.schema.problems import ProblemLog


@main.command()
@click.argument("instance", type=click.Path())
@click.option("--plan", "plan", type=click.Path(dir_okay=False), help="Explain this plan.csv instead of the optimal plan.")
@options.out("explain_schemes.csv, explain_rules.csv and explain_summary.json")
@options.force
@options.time_limit
@options.gap(0.0)
@options.quiet
@guarded
@options.workers
def explain(instance, plan, out, force, time_limit, gap, quiet, sweep):
    """Explain, for every scheme, why it is in or out of the plan, and for every limit, target and
    quality floor, what easing it would be worth.

    A scheme is ineligible (the QIA rule named), excluded, blocked (the rules that make it
    impossible), or has a price: the objective lost when the model is re-solved with it forced
    the other way, with the schemes that change places and the rules that bind. Each rule at its
    bound is re-solved with the bound eased by 10% (quality floors by 1 point): its value per unit.

    \b
    Example:
      cipopt explain instances/holby --out out/holby-explain
      cipopt explain instances/holby --workers 2
    """
    from cipopt.analysis.explain import NothingToExplain
    from cipopt.analysis.explain import explain as run_explain
    from cipopt.io.plan import read_plan
    from cipopt.pipeline import Planner, SolveOptions, objective_words
    from cipopt.report.progress import ProgressLine

    if out:
        check_output_dir(out, force, "explain")
    inst = load(instance)
    given = None
    if plan:
        with printing_warnings(ProblemLog()) as log:
            given = read_plan(Path(plan), inst, log)
    planner = Planner(inst)
    reference_note = "the given plan" if given else "the optimal plan"
    line = ProgressLine(quiet, "explain")
    try:
        result = run_explain(planner, SolveOptions(time_limit=time_limit, mip_gap=gap), plan=given,
                             progress=line, sweep=sweep)
    except NothingToExplain as exc:
        line.close()
        exit_without_plan("nothing to explain", exc.outcome)
    line.close()
    ref = result.reference
    click.echo(f"{inst.name}: explaining {reference_note} (objective, {objective_words(inst)}: {ref.objective:,.1f}; "
               f"net present value {ref.net_present_value:,.1f} {inst.money_unit})")
    click.echo("")
    click.echo("schemes:")
    for r in result.schemes.itertuples():
        click.echo(f"  {r.scheme:<28} {r.reason}")
    click.echo("")
    click.echo("value of easing each rule that binds or whose easing pays (objective gained per unit, at the first "
               "bound where the best plan changes):")
    shown = result.rules[result.rules.tight | (result.rules.gain.fillna(0).astype(float) > 0)]
    if shown.empty:
        click.echo("  none: no limit, target or floor binds")
    for r in shown.itertuples():
        value = "-" if r.marginal_value is None or r.marginal_value != r.marginal_value else f"{r.marginal_value:,.3f}"
        where = (f"{'every year':<10}  {'':>12} {r.sense} {'':<12}" if r.year == "all" else
                 f"{r.year!s:<10}  {r.value:>12,.1f} {r.sense} {r.bound:<12,.1f}")
        click.echo(f"  {r.rule:<28} {where} {value:>10} per unit  ({r.method})")
    if out:
        summary = {"instance_sha256": inst.sha256(), "reference": reference_note,
                   "objective": ref.objective, "objective_meaning": objective_words(inst),
                   "net_present_value": ref.net_present_value, "shortfall_penalty": ref.shortfall_penalty,
                   "risk_penalty": ref.risk_penalty, "objective_mode": inst.objective.mode}
        write_folder(out, {"explain_schemes.csv": csv_text(result.schemes), "explain_rules.csv": csv_text(result.rules),
                           "explain_summary.json": json_text(summary)}, force=force, kind="explain")
        click.echo(f"\nwrote explain_schemes.csv, explain_rules.csv, explain_summary.json to {out}")
