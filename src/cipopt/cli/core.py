"""The core commands: solve, check, validate, build."""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from pathlib import Path

import click

from cipopt.bulk import loading_modules
from cipopt.cli import options
from cipopt.cli.base import guarded, load, load_plan, main
from cipopt.errors import EXIT_CHECK_FAILED, BadArguments
from cipopt.io.write import check_file_out, check_output_dir, csv_text, json_text, write_file, write_folder
from cipopt.report import terminal


@main.command()
@click.argument("instance", type=click.Path())
@options.out("plan.csv, years.csv and summary.json")
@options.force
@options.time_limit
@options.gap()
@options.threads
@click.option("--start", "start", type=click.Path(dir_okay=False),
              help="Warm-start from this plan (a plan.csv, e.g. a run's from cipopt runs show); checked and "
                   "reported, handed to HiGHS even if it breaks rules.")
@click.option("--no-first-plan", is_flag=True,
              help="Skip the first-plan heuristic that gives HiGHS a start (docs/formulation.md).")
@options.verbose
@click.option("--excel", "excel", type=click.Path(dir_okay=False),
              help="Also write the plan, targets, years, summary and reasons as a formatted workbook (.xlsx).")
@click.option("--store", "store", type=click.Path(dir_okay=False),
              help="Record the run in this history (default $CIPOPT_STORE, else ~/.cipopt/runs.sqlite).")
@click.option("--no-store", is_flag=True, help="Do not record the run in the run history.")
@options.quiet
@guarded
def solve(instance, out, force, time_limit, gap, threads, start, no_first_plan, verbose, excel, store, no_store,
          quiet):
    """Choose the best plan for INSTANCE (a folder in instance format v1, or an .xlsx workbook).

    Prints the status, objective, gap, the schemes selected and the savings against each
    target per year; with --out writes plan.csv, years.csv and summary.json; with --excel a
    workbook for people. Every run is recorded in the run history (cipopt runs list) unless
    --no-store. Exit codes: 0 optimal or feasible, 2 bad input, 3 infeasible, 4 no plan within
    the limits.

    The time limit is the whole command's (reading, building, solving, checking, writing): it
    returns within it plus a small margin (goal 10 s, docs/performance.md), with the best plan found
    by then. A first plan from a greedy heuristic is HiGHS's start, and the answer if HiGHS finds
    nothing better; summary.json's plan_source says where the plan came from.

    \b
    Example:
      cipopt solve instances/holby --out out/holby --time-limit 30 --gap 0.001
      cipopt solve instances/holby --start out/holby/plan.csv --out out/holby2
      cipopt solve plan.xlsx --excel results.xlsx
    """
    began = time.perf_counter()
    with loading_modules():  # the collector paused, what they make frozen (cipopt.bulk)
        from cipopt.cli.reports import check_excel_out, record_run, write_excel_results
        from cipopt.pipeline import SolveOptions, result_files, solve_instance
        from cipopt.report.progress import Steps

    if store and no_store:
        raise BadArguments("--store and --no-store contradict each other")
    if out:
        check_output_dir(out, force, "solve")
    if excel:
        check_excel_out(excel, force)
    steps = Steps(quiet or verbose)
    with steps.step(f"reading {instance}"):
        inst = load(instance)
        given = load_plan(start, inst) if start else None
    options = SolveOptions(time_limit=time_limit, mip_gap=gap, threads=threads, verbose=verbose,
                           first_plan=not no_first_plan, started=began)
    limit = options.resolve(inst)[0]
    if limit is not None:
        options = dataclasses.replace(options, deadline=began + limit)
    with steps.step("building and solving the model", limit=limit):
        outcome = solve_instance(inst, options, start=given)
    terminal.show(outcome)
    if out:
        files = result_files(outcome)
        write_folder(out, files, force=force, kind="solve")
        click.echo(f"\nwrote {', '.join(files)} to {out}")
    if excel:
        with steps.step("writing the workbook"):
            write_excel_results(excel, outcome, force)
        click.echo(f"wrote {excel}")
    if not no_store:
        record_run(outcome, instance, store)
    if outcome.solver_abandoned:  # HiGHS still runs in its thread: end now, not at its pace
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(outcome.status.exit_code)
    sys.exit(outcome.status.exit_code)


@main.command()
@click.argument("instance", type=click.Path())
@click.argument("plan", type=click.Path())
@options.out("violations.csv, years.csv and summary.json")
@options.force
@options.quiet
@guarded
def check(instance, plan, out, force, quiet):
    """Check PLAN (a plan.csv from cipopt, a spreadsheet or by hand) against every rule of INSTANCE.

    Prints every broken rule in words and the plan's objective and yearly figures.
    Exit codes: 0 every rule holds, 1 a rule is broken, 2 bad input.

    \b
    Example:
      cipopt check instances/holby out/holby/plan.csv
    """
    from cipopt.check import check_plan
    from cipopt.report.progress import Steps

    if out:
        check_output_dir(out, force, "check")
    steps = Steps(quiet)
    with steps.step(f"reading {instance}"):
        inst = load(instance)
        chosen = load_plan(plan, inst)
    with steps.step("checking the plan"):
        report = check_plan(inst, chosen)
    terminal.show(report)
    if out:
        summary = {"ok": report.ok, "violations": len(report.violations), "objective": report.objective,
                   "net_present_value": report.net_present_value, "shortfall_penalty": report.penalty,
                   "risk_penalty": report.risk_penalty, "objective_mode": inst.objective.mode, "instance_sha256": inst.sha256(),
                   "plan": str(plan)}
        write_folder(out, {"violations.csv": csv_text(report.violations_frame()),
                           "years.csv": csv_text(report.years), "summary.json": json_text(summary)}, force=force, kind="check")
        click.echo(f"wrote violations.csv, years.csv, summary.json to {out}")
    sys.exit(0 if report.ok else EXIT_CHECK_FAILED)


@main.command()
@click.argument("instance", type=click.Path())
@options.out("summary.json and schemes.csv (eligibility)")
@options.force
@options.quiet
@guarded
def validate(instance, out, force, quiet):
    """Check INSTANCE without solving: every problem at once, then a summary when it is sound.

    Exit codes: 0 sound (warnings may be printed), 2 problems found.

    \b
    Example:
      cipopt validate instances/holby
    """
    from cipopt.report.instance import instance_summary, scheme_table
    from cipopt.report.progress import Steps

    if out:
        check_output_dir(out, force, "validate")
    with Steps(quiet).step(f"reading and checking {instance}"):
        inst = load(instance)
    summary, lines, schemes = instance_summary(inst)
    terminal.show(lines)
    if out:
        write_folder(out, {"summary.json": json_text(summary), "schemes.csv": csv_text(scheme_table(schemes))}, force=force,
                     kind="validate")
        click.echo(f"wrote summary.json, schemes.csv to {out}")


@main.command()
@click.argument("instance", type=click.Path())
@click.option("--lp", "--out", "-o", "lp", type=click.Path(dir_okay=False), required=True,
              help="Write the model in LP format here.")
@options.force
@options.quiet
@guarded
def build(instance, lp, force, quiet):
    """Build the model for INSTANCE without solving and write it as an LP file anyone can read.

    Constraint names are those of docs/formulation.md.

    \b
    Example:
      cipopt build instances/tiny --lp tiny.lp
    """
    import tempfile

    from cipopt.model.build import build_model, write_lp
    from cipopt.report.progress import Steps

    check_file_out(lp, force)
    steps = Steps(quiet)
    with steps.step(f"reading {instance}"):
        inst = load(instance)
    with steps.step("building the model"):
        built = build_model(inst)
    for note in built.notes.infeasibilities:
        click.echo(f"note: {note.message}", err=True)
    with steps.step("writing the LP file"), tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp) / "model.lp"
        write_lp(built.model, str(scratch))
        write_file(lp, scratch.read_text(), force=force)
    click.echo(f"wrote {lp}")

