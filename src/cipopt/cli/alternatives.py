"""`cipopt alternatives`: several genuinely different near-optimal plans, and what each pick is worth."""

from __future__ import annotations


import click

from cipopt.cli import options
from cipopt.cli.base import Finite, exit_without_plan, guarded, load, main
from cipopt.io.write import check_output_dir, csv_text, json_text, write_folder
from cipopt.report import terminal


@main.command()
@click.argument("instance", type=click.Path())
@click.option("--count", "count", type=click.IntRange(min=1), default=3, show_default=True, help="How many plans at most.")
@click.option("--within", "within", type=Finite(min=0, max=100), default=2.0, show_default=True,
              help="Percent: each plan's objective is within this of the optimum.")
@click.option("--min-difference", "min_difference", type=click.IntRange(min=1), default=1, show_default=True,
              help="Schemes decided differently (in/out or start year) from every earlier plan.")
@options.out("alternatives.csv, alternative_plans.csv, alternative_years.csv, importance.csv and "
             "alternatives_summary.json")
@options.force
@options.time_limit
@options.gap(0.0)
@options.solver_seed(0)
@options.quiet
@guarded
def alternatives(instance, count, within, min_difference, out, force, time_limit, gap, seed, quiet):
    """Find up to COUNT plans for INSTANCE, best first, each within WITHIN percent of the optimum
    and differing from every earlier one in at least MIN-DIFFERENCE schemes or start years; and,
    for each scheme of the optimal plan, the objective lost without it and whether every
    alternative keeps it (the plan's core).

    \b
    Example:
      cipopt alternatives instances/holby --count 3 --within 2 --min-difference 3 --out out/holby-alt
    """
    from cipopt.analysis.alternatives import NoOptimum, find_alternatives
    from cipopt.pipeline import Planner, SolveOptions
    from cipopt.solve.result import objective_words
    from cipopt.report.progress import ProgressLine

    if out:
        check_output_dir(out, force, "alternatives")
    inst = load(instance)
    line = ProgressLine(quiet, "alternatives")
    try:
        result = find_alternatives(Planner(inst), SolveOptions(time_limit=time_limit, mip_gap=gap, seed=seed),
                                   count=count, within=within / 100.0, min_difference=min_difference,
                                   progress=line)
    except NoOptimum as exc:
        line.close()
        exit_without_plan("no plan to start from", exc.outcome)
    line.close()
    terminal.show(terminal.alternatives_lines(result, inst, count=count, within=within,
                                              min_difference=min_difference))
    if out:
        summary = {"instance_sha256": inst.sha256(), "requested": count, "found": len(result.plans),
                   "within_pct": within, "min_difference": min_difference, "seed": seed,
                   "objective_meaning": objective_words(inst),
                   "objectives": [p.objective for p in result.plans],
                   "net_present_values": [p.net_present_value for p in result.plans],
                   "shortfall_penalties": [p.shortfall_penalty for p in result.plans],
                   "core": [r.scheme for r in result.importance.itertuples() if r.in_every_alternative]}
        write_folder(out, {"alternatives.csv": csv_text(result.summary),
                           "alternative_plans.csv": csv_text(result.starts),
                           "alternative_years.csv": csv_text(result.years),
                           "importance.csv": csv_text(result.importance),
                           "alternatives_summary.json": json_text(summary)}, force=force, kind="alternatives")
        click.echo(f"\nwrote alternatives.csv, alternative_plans.csv, alternative_years.csv, importance.csv, alternatives_summary.json to {out}")
