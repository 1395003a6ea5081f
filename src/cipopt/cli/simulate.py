"""`cipopt simulate`: the Monte Carlo of a plan's delivery (argument handling and printing only)."""

from __future__ import annotations

import sys

import click

from cipopt.cli import options
from cipopt.cli.base import SEED, guarded, load, load_plan, main
from cipopt.io.write import check_output_dir, csv_text, json_text, write_folder
from cipopt.report import terminal


@main.command()
@click.argument("instance", type=click.Path())
@click.argument("plan", type=click.Path())
@click.option("--draws", type=click.IntRange(min=1, max=2_000_000), default=10_000, show_default=True,
              help="How many delivery scenarios to draw.")
@click.option("--seed", type=SEED, default=None,
              help="Seed of the draws (default: instance.yaml objective.seed, 0 unless set); the same seed "
                   "gives the same numbers.")
@options.out("simulation.csv (per target and year), simulation_savings.csv (per year and organisation) and "
             "simulation_summary.json", where="a folder of its own, or the --out folder of cipopt solve (its other "
             "files are kept), for the report's risk view")
@options.force
@options.quiet
@guarded
@options.workers
def simulate(instance, plan, draws, seed, out, force, quiet, sweep):
    """Simulate how PLAN (a plan.csv) may deliver, under the schemes' delivery risk.

    Each draw decides for every scheme whether it delivers at all (confidence), by how much
    (delivery_low / delivery_likely / delivery_high, triangular or PERT), and whether its savings
    slip a year (slip_probability), schemes in one risk group failing together (docs/risk.md).
    Prints per target and year the mean, P10, P50 and P90 of the net saving, the probability of
    meeting the target and the expected shortfall; and the probability of meeting each target in
    every year it names. The same --seed gives the same numbers, however many draws at a time
    and wherever the batches of 10,000 draws run (--workers, --scheduler: docs/sweeps.md).
    Exit codes: 0 simulated (a plan that breaks rules is simulated with a warning), 2 bad input.

    \b
    Example:
      cipopt solve instances/holby --out out/holby
      cipopt simulate instances/holby out/holby/plan.csv --draws 100000 --seed 7 --out out/holby --force
    """
    from cipopt.analysis.simulate import simulate_plan
    from cipopt.report.progress import ProgressLine, Steps

    if out:
        check_output_dir(out, force, "simulate")
    with Steps(quiet).step(f"reading {instance}"):
        inst = load(instance)
        chosen = load_plan(plan, inst, within_years=True)
    line = ProgressLine(quiet, "simulate")
    try:
        result = simulate_plan(inst, chosen, draws=draws, seed=seed, sweep=sweep, progress=line)
    finally:
        line.close()
    terminal.show((f"warning: the plan breaks a rule: {m}" for m in result.summary["checker_messages"]), err=True)
    terminal.show(terminal.simulation_lines(result))
    if out:
        files = {"simulation.csv": csv_text(result.targets), "simulation_savings.csv": csv_text(result.savings),
                 "simulation_summary.json": json_text(result.summary)}
        write_folder(out, files, force=force, kind="simulate")
        click.echo(f"\nwrote {', '.join(files)} to {out}")
    sys.exit(0)
