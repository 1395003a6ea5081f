"""`cipopt rank`: a ranking of transformation-fund bids a panel can defend."""

from __future__ import annotations

import sys

import click

from cipopt.cli import options
from cipopt.cli.base import SEED, guarded, load, main
from cipopt.errors import EXIT_INTERNAL
from cipopt.io.write import check_output_dir, csv_text, json_text, write_folder
from cipopt.report import terminal
from cipopt.solve.status import SolveStatus


@main.command()
@click.argument("instance", type=click.Path())
@click.option("--fund", metavar="LIMIT_ID",
              help="The '<=' limit that is the fund (default: the only one, or the one named fund/pot/budget).")
@click.option("--steps", "-k", type=click.IntRange(min=1), default=20, show_default=True,
              help="Budget steps: the fund is solved at 0, 1/K, ..., K/K of its value.")
@click.option("--samples", "-n", type=click.IntRange(min=0), default=200, show_default=True,
              help="Weight vectors sampled for the core index (0: no robust view).")
@click.option("--seed", type=SEED, default=1, show_default=True, help="Seed of the weight sampling.")
@options.time_limit
@options.out("bids.csv, budget_levels.csv, portfolios.csv, weight_samples.csv and summary.json")
@options.force
@options.quiet
@guarded
@options.workers
def rank(instance, fund, steps, samples, seed, time_limit, out, force, quiet, sweep):
    """Rank the bids of INSTANCE for a fund panel: entry budget, greedy loss and core index.

    The fund limit is scaled from 0 to its value in K steps and the weighted-score portfolio
    solved to optimality at each: a bid's entry budget is the smallest budget at which it is
    in, and the table says whether it stays in at every larger budget (optimal portfolios need
    not be nested). Each bid's score, fund cost, value for money and its place in the usual
    value-for-money ranking are shown, with the value that ranking leaves on the table at each
    budget. With weight ranges or an order of importance, the core index is the share of weight
    vectors (sampled uniformly, seeded) under which the bid is in the optimal portfolio at the
    full budget: core (1), borderline, exterior (0). See docs/ranking.md.
    Exit codes: 0 the ranking, 1 a solve ended in error, 2 bad input (an unknown --fund
    included), 3 no portfolio keeps the rules at the full budget.

    \b
    Example:
      cipopt rank instances/fund --out out/fund-rank
      cipopt rank instances/fund --fund fund --steps 10 --samples 500 --seed 7
      cipopt rank instances/fund --workers 2       # the solves on a local Dask cluster
    """
    from cipopt.analysis.rank import run_rank
    from cipopt.pipeline import SolveOptions
    from cipopt.report.progress import ProgressLine

    if out:
        check_output_dir(out, force, "rank")
    inst = load(instance)
    progress = ProgressLine(quiet, "rank")
    try:
        result = run_rank(inst, fund=fund, steps=steps, samples=samples, seed=seed,
                          options=SolveOptions(time_limit=time_limit, mip_gap=0.0), progress=progress,
                          sweep=sweep)
    finally:
        progress.close()
    full = result.levels[-1]
    if full["plan"] is None and full["status"] != "error":
        terminal.show([f"rank: at the full fund no portfolio keeps the rules ({full['status']})",
                       *(f"  {message}" for message in full["messages"])])
        sys.exit(SolveStatus(full["status"]).exit_code)
    terminal.show(result)
    if out:
        files = {"bids.csv": csv_text(result.bids()), "budget_levels.csv": csv_text(result.levels_table()),
                 "portfolios.csv": csv_text(result.portfolios()),
                 "weight_samples.csv": csv_text(result.samples_table()), "summary.json": json_text(result.summary())}
        write_folder(out, files, force=force, kind="rank")
        click.echo(f"\nwrote {', '.join(files)} to {out}")
    errors = result.errors()
    if errors:
        terminal.show(errors, err=True)
        sys.exit(EXIT_INTERNAL)
