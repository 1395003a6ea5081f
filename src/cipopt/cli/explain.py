"""`cipopt explain`: why each scheme is in or out, and what each rule is worth."""

from __future__ import annotations

from pathlib import Path

import click

from cipopt.cli import options
from cipopt.cli.base import exit_without_plan, guarded, load, main, printing_warnings
from cipopt.io.write import check_output_dir, csv_text, json_text, write_folder
from cipopt.report import terminal
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
    from cipopt.pipeline import Planner, SolveOptions
    from cipopt.solve.result import objective_words
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
    terminal.show(terminal.explain_lines(result, inst, reference_note))
    if out:
        summary = {"instance_sha256": inst.sha256(), "reference": reference_note,
                   "objective": ref.objective, "objective_meaning": objective_words(inst),
                   "net_present_value": ref.net_present_value, "shortfall_penalty": ref.shortfall_penalty,
                   "risk_penalty": ref.risk_penalty, "objective_mode": inst.objective.mode}
        write_folder(out, {"explain_schemes.csv": csv_text(result.schemes), "explain_rules.csv": csv_text(result.rules),
                           "explain_summary.json": json_text(summary)}, force=force, kind="explain")
        click.echo(f"\nwrote explain_schemes.csv, explain_rules.csv, explain_summary.json to {out}")
