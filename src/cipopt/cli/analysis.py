"""The analysis commands: whatif (scenarios against the base) and frontier (trade-off curves)."""

from __future__ import annotations

import sys

import click

from cipopt.cli import options
from cipopt.cli.base import Finite, echo_problems, guarded, load, main
from cipopt.errors import EXIT_INTERNAL
from cipopt.io.write import check_output_dir, csv_text, json_text, write_folder
from cipopt.report import terminal
from cipopt.schema.problems import InputError, Problem, ProblemLog


def _options(time_limit, gap, threads, verbose=False):
    from cipopt.pipeline import SolveOptions

    return SolveOptions(time_limit=time_limit, mip_gap=gap, threads=threads, verbose=verbose)


def _outside_links_allowed() -> bool:
    return bool(click.get_current_context().find_root().params.get("allow_outside_links"))


def _scenario_names(instance: str, names: tuple[str, ...], all_: bool) -> list[str]:
    from cipopt.analysis.scenario import scenario_files

    if names and all_:
        raise InputError([Problem("--all", "give --scenario NAME or --all, not both")])
    if names:
        return list(names)
    found = [p.stem for p in scenario_files(instance)]
    if not found:
        raise InputError([Problem(f"{instance}/scenarios", "holds no scenario files (NAME.yaml): write one "
                                                          "(see docs/whatif.md) or name a file with --scenario")])
    return found


@main.command()
@click.argument("instance", type=click.Path())
@click.option("--scenario", "-s", "names", multiple=True, metavar="NAME",
              help="A scenario: NAME for INSTANCE/scenarios/NAME.yaml or the path of a YAML file; A+B applies "
                   "A then B as one scenario. Repeat for several.")
@click.option("--all", "all_", is_flag=True,
              help="Every scenario in INSTANCE/scenarios (the default when no --scenario is given).")
@options.out("whatif.csv, whatif_years.csv, whatif_plans.csv and summary.json")
@options.force
@options.time_limit
@options.gap()
@options.threads
@options.quiet
@guarded
@options.workers
def whatif(instance, names, all_, out, force, time_limit, gap, threads, quiet, sweep):
    """Solve INSTANCE and each what-if scenario, and compare them with the base plan.

    A scenario (INSTANCE/scenarios/NAME.yaml, format in docs/whatif.md) overrides the instance:
    instance.yaml keys, scheme fields, forced in or out schemes, scaled metrics, delayed
    schemes. All solves reuse one built model. Prints, per scenario, the status, objective and
    change against the base, savings, shortfalls and the schemes in, out and moved; with --out
    writes the comparison (one row per scenario), every scenario's years and plans, and
    summary.json. An infeasible scenario is reported with its reasons.
    Exit codes: 0 the comparison (infeasible scenarios included), 1 a solve ended in error,
    2 bad input (every problem named with its scenario file and key).

    \b
    Example:
      cipopt whatif instances/holby --all --out out/whatif
      cipopt whatif instances/holby --scenario capital-halved+agency-slips
      cipopt whatif instances/holby --all --workers 2
    """
    from cipopt.analysis.scenario import load_scenarios
    from cipopt.analysis.whatif import run_whatif
    from cipopt.report.progress import ProgressLine

    if out:
        check_output_dir(out, force, "whatif")
    inst = load(instance)
    log = ProblemLog()
    scenarios = load_scenarios(instance, inst, _scenario_names(instance, names, all_), log,  # errors: all listed
                               allow_outside_links=_outside_links_allowed())
    echo_problems(log.warnings)
    progress = ProgressLine(quiet, "what-if")
    try:
        result = run_whatif(inst, scenarios, _options(time_limit, gap, threads), progress=progress, sweep=sweep)
    finally:
        progress.close()
    terminal.show(result)
    if out:
        files = {"whatif.csv": csv_text(result.table()), "whatif_years.csv": csv_text(result.years()),
                 "whatif_plans.csv": csv_text(result.plans()), "summary.json": json_text(result.summary())}
        write_folder(out, files, force=force, kind="whatif")
        click.echo(f"\nwrote {', '.join(files)} to {out}")
    if any(row.outcome.status.value == "error" for row in result.rows):
        sys.exit(EXIT_INTERNAL)


@main.command()
@click.argument("instance", type=click.Path())
@click.option("--vary", required=True, metavar="RULE",
              help="The rule to vary: a limit id, a target id, or quality:DOMAIN for a portfolio floor.")
@click.option("--points", "-k", type=click.IntRange(min=2), default=11, show_default=True,
              help="Points on the curve, evenly spaced.")
@click.option("--from", "start", type=Finite(), help="First value (factor, or level with --level / for a floor).")
@click.option("--to", "stop", type=Finite(), help="Last value.")
@click.option("--level", is_flag=True,
              help="Give a limit or target the same value in every year it names, instead of a factor on "
                   "its yearly values.")
@click.option("--scenario", "-s", "scenario", metavar="NAME", help="Apply this scenario first (A+B for several).")
@options.out("frontier.csv and summary.json")
@options.force
@options.time_limit
@options.gap(0.0)
@options.threads
@options.quiet
@guarded
@options.workers
def frontier(instance, vary, points, start, stop, level, scenario, out, force, time_limit, gap, threads, quiet,
             sweep):
    """The trade-off curve of the objective against one rule of INSTANCE (epsilon-constraint).

    Each point sets the rule's bound and solves to optimality in one loaded model. A limit or
    target is varied by a factor on its yearly values (1 = as given; --level for one value every
    year); a quality floor by its value. The default range runs from the tightest bound with a
    plan to where the rule stops binding (docs/whatif.md). Prints each point's value, status,
    objective, savings, whether the rule binds, and the schemes entering and leaving against the
    previous point; with --out writes frontier.csv and summary.json.
    Exit codes: 0 the curve, 1 a solve ended in error, 2 bad input.

    \b
    Example:
      cipopt frontier instances/holby --vary capital --points 6
      cipopt frontier instances/holby --vary quality:experience --from 0 --to 4 --points 5
      cipopt frontier instances/holby --vary capital --points 21 --scheduler tcp://10.0.0.5:8786
    """
    from cipopt.analysis.frontier import run_frontier
    from cipopt.analysis.scenario import load_scenarios
    from cipopt.report.progress import ProgressLine

    if out:
        check_output_dir(out, force, "frontier")
    inst = load(instance)
    if scenario:
        log = ProblemLog()
        inst = load_scenarios(instance, inst, [scenario], log,  # errors: all listed
                              allow_outside_links=_outside_links_allowed())[0].instance
        echo_problems(log.warnings)
    progress = ProgressLine(quiet, "frontier")
    try:
        result = run_frontier(inst, vary, points=points, start=start, stop=stop, level=level,
                              options=_options(time_limit, gap, threads), progress=progress, sweep=sweep)
    finally:
        progress.close()
    terminal.show(result)
    if out:
        files = {"frontier.csv": csv_text(result.table()), "summary.json": json_text(result.summary())}
        write_folder(out, files, force=force, kind="frontier")
        click.echo(f"\nwrote {', '.join(files)} to {out}")
    if any(pt.outcome.status.value == "error" for pt in result.points):
        sys.exit(EXIT_INTERNAL)
