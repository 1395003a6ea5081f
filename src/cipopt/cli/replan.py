"""`cipopt replan`: the recovery plan from a tracker's actuals (argument handling and printing only)."""

from __future__ import annotations

import sys

import click

from cipopt.cli import options
from cipopt.cli.base import guarded, load, main, printing_warnings
from cipopt.io.write import check_output_dir, csv_text, json_text, write_folder
from cipopt.report import terminal
from cipopt.schema.problems import InputError, Problem, ProblemLog


@main.command()
@click.argument("instance", type=click.Path())
@click.option("--actuals", "actuals", type=click.Path(), required=True,
              help="The tracker export: a CSV, or a workbook (.xlsx) with a sheet 'actuals' (docs/replan.md).")
@click.option("--as-at", "as_at", required=True, metavar="YYYY-MM",
              help="The last month the actuals cover, e.g. 2025-09 (month 6 of 2025/26).")
@click.option("--against", "against", type=click.IntRange(min=1), metavar="RUN",
              help="The approved plan: a run of the run history (cipopt runs list) to compare with.")
@click.option("--store", "store", type=click.Path(dir_okay=False),
              help="The run history --against reads (default $CIPOPT_STORE, else ~/.cipopt/runs.sqlite).")
@click.option("--phasing", "phasing", type=click.Path(),
              help="A monthly profile of the year (CSV month, share; April = 1); default 1/12 a month.")
@click.option("--bridges", "bridges", type=click.Path(),
              help="Non-recurrent measures with an end that may close this year's gap (CSV id, monthly_saving, "
                   "until, ...; docs/replan.md).")
@click.option("--plan", "plan", type=click.Path(dir_okay=False),
              help="Check and evaluate this re-plan (a plan.csv: start_year per scheme and bridge, started "
                   "schemes at their actual start year) instead of optimising; exit 1 if it breaks a rule.")
@options.out("plan.csv, outturn.csv, recovery.csv, months.csv, years.csv, summary.json, replan.xlsx "
             "and replan.html")
@options.force
@options.time_limit
@options.gap()
@options.threads
@options.quiet
@guarded
def replan(instance, actuals, as_at, against, store, phasing, bridges, plan, out, force, time_limit, gap, threads,
           quiet):
    """Re-plan INSTANCE part way through a year from a CIP tracker's actuals (--actuals).

    Schemes started are fixed at their start (costs spent are sunk: they do not count against
    the remaining choice), stopped ones are out, new starts begin only in the months after
    --as-at, schemes in delivery carry their forecast, and --bridges (vacancy holds, one-off
    measures with an end) may close this year's gap. Prints, per target, the year's
    forecast outturn (delivered to date + the remaining months) against its requirement, how
    much of the gap the recovery closes recurrently and non-recurrently, the recovery actions
    and what changed against the approved plan (--against RUN); the later years are
    re-optimised too. With --plan, a re-plan made elsewhere is checked and evaluated instead.
    Exit codes: 0 a plan, 1 a --plan that breaks a rule, 2 bad input, 3 infeasible, 4 no plan
    in time.

    \b
    Example:
      cipopt solve instances/holby --out out/holby          # recorded as run N
      cipopt replan instances/holby --actuals examples/holby-q1-recovery/actuals.csv \\
          --as-at 2025-06 --bridges examples/holby-q1-recovery/bridges.csv --against N \\
          --out out/holby-q1
    """
    from cipopt.analysis.replan import replan as run_replan
    from cipopt.io.actuals import as_at_month, read_actuals, read_bridges, read_phasing
    from cipopt.pipeline import SolveOptions
    from cipopt.report import replan as show
    from cipopt.report.progress import Steps

    if out:
        check_output_dir(out, force, "replan")
    steps = Steps(quiet)
    with steps.step(f"reading {instance}"):
        inst = load(instance)
    month = as_at_month(as_at, inst)
    log = ProblemLog()
    with printing_warnings(log):
        tracker = read_actuals(actuals, inst, month, log)
        if phasing:
            tracker = tracker.model_copy(update={"phasing": read_phasing(phasing, log)})
        if bridges:
            tracker = tracker.model_copy(update={"bridges": read_bridges(bridges, inst, month, log)})
    approved = _approved(against, store, inst) if against else None
    given = _given(plan, inst, tracker) if plan else None
    with steps.step("re-planning", limit=time_limit):
        result = run_replan(inst, tracker, approved, SolveOptions(time_limit=time_limit, mip_gap=gap, threads=threads),
                            given=given)
    terminal.show(show.lines(result))
    if out:
        files = {"summary.json": json_text(result.summary())}
        if result.schemes is not None:
            files = {"plan.csv": csv_text(result.schemes), "outturn.csv": csv_text(result.outturn),
                     "recovery.csv": csv_text(show.recovery_table(result)), "months.csv": csv_text(result.months),
                     "years.csv": csv_text(result.outcome.years), "replan.xlsx": show.workbook_bytes(result),
                     "replan.html": show.html_report(result), **files}
        write_folder(out, files, force=force, kind="replan")
        click.echo(f"\nwrote {', '.join(files)} to {out}")
    sys.exit(result.status.exit_code)


def _approved(run_id: int, store: str | None, instance):
    """The approved plan from the run history; a run of another instance is refused."""
    from pathlib import Path

    from cipopt.analysis.replan import Approved
    from cipopt.store import Store, StoreError, default_store_path

    path = Path(store) if store else default_store_path()
    if not path.exists():
        raise InputError([Problem("--against", f"no run history at {path} (solve first, or give --store)")])
    try:
        with Store(path) as db:
            run = db.run(run_id)
    except StoreError as exc:
        raise InputError([Problem("--against", str(exc))]) from None
    ids = {s.id for s in instance.schemes}
    unknown = sorted(set(run.plan) - ids)
    if unknown or run.status not in ("optimal", "feasible"):
        why = (f"its plan names schemes this instance does not have ({', '.join(unknown[:5])})" if unknown
               else f"it has no plan (status {run.status})")
        raise InputError([Problem("--against", f"run {run_id} cannot be the approved plan: {why}")])
    if run.instance_sha256 != instance.sha256():
        click.echo(f"warning: --against: run {run_id} was solved for another version of the instance "
                   f"({run.instance_name}); its plan is compared as it stands", err=True)
    return Approved(run_id=run_id, plan={s: run.plan.get(s) for s in ids}, instance_sha256=run.instance_sha256)


def _given(path: str, instance, tracker):
    """A re-plan made elsewhere: a plan.csv naming the instance's schemes and the bridges."""
    from cipopt.io.plan import read_plan
    from cipopt.schema.instance import Scheme

    bridges = tuple(Scheme(id=b.id) for b in tracker.bridges)
    log = ProblemLog()
    with printing_warnings(log):
        return read_plan(path, instance.model_copy(update={"schemes": instance.schemes + bridges}), log)
