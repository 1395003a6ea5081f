"""The core commands: solve, check, validate, build."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cipopt.cli.base import EXIT_CHECK_FAILED, guarded, load, load_plan, main
from cipopt.io.write import OutputExists, check_output_dir, csv_text, json_text, write_file, write_folder


@main.command()
@click.argument("instance", type=click.Path())
@click.option("--out", "-o", "out", type=click.Path(file_okay=False), help="Write plan.csv, years.csv and summary.json here.")
@click.option("--force", is_flag=True, help="Overwrite files in an existing --out folder.")
@click.option("--time-limit", type=click.FloatRange(min=0, min_open=True), help="Seconds; overrides instance.yaml solver.time_limit.")
@click.option("--gap", type=click.FloatRange(min=0), help="Relative MIP gap; overrides solver.mip_gap.")
@click.option("--threads", type=click.IntRange(min=1), help="Solver threads; overrides solver.threads.")
@click.option("--verbose", is_flag=True, help="Show the HiGHS log.")
@click.option("--excel", "excel", type=click.Path(dir_okay=False),
              help="Also write the plan, targets, years, summary and reasons as a formatted workbook (.xlsx).")
@click.option("--store", "store", type=click.Path(dir_okay=False),
              help="Record the run in this history (default $CIPOPT_STORE, else ~/.cipopt/runs.sqlite).")
@click.option("--no-store", is_flag=True, help="Do not record the run in the run history.")
@click.option("--quiet", "-q", is_flag=True, help="No progress display on stderr.")
@guarded
def solve(instance, out, force, time_limit, gap, threads, verbose, excel, store, no_store, quiet):
    """Choose the best plan for INSTANCE (a folder in instance format v1, or an .xlsx workbook).

    Prints the status, objective, gap, the schemes selected and the savings against each
    target per year; with --out writes plan.csv, years.csv and summary.json; with --excel a
    workbook for people. Every run is recorded in the run history (cipopt runs list) unless
    --no-store. Exit codes: 0 optimal or feasible, 2 bad input, 3 infeasible, 4 no plan within
    the limits.

    \b
    Example:
      cipopt solve instances/holby --out out/holby --time-limit 30 --gap 0.001
      cipopt solve plan.xlsx --excel results.xlsx
    """
    from cipopt.cli.reports import BadArguments, check_excel_out, record_run, write_excel_results
    from cipopt.pipeline import SolveOptions, solve_instance
    from cipopt.report.progress import Steps
    from cipopt.report.text import solve_summary

    if store and no_store:
        raise BadArguments("--store and --no-store contradict each other")
    if out:
        check_output_dir(out, force)
    if excel:
        check_excel_out(excel, force)
    steps = Steps(quiet or verbose)
    with steps.step(f"reading {instance}"):
        inst = load(instance)
    options = SolveOptions(time_limit=time_limit, mip_gap=gap, threads=threads, verbose=verbose)
    with steps.step("building and solving the model", limit=options.resolve(inst)[0]):
        outcome = solve_instance(inst, options)
    for line in solve_summary(outcome):
        click.echo(line)
    if out:
        files = {"summary.json": json_text(outcome.summary())}
        if outcome.plan_frame is not None:
            files = {"plan.csv": csv_text(outcome.plan_frame), "years.csv": csv_text(outcome.years), **files}
        write_folder(out, files, force=force)
        click.echo(f"\nwrote {', '.join(files)} to {out}")
    if excel:
        with steps.step("writing the workbook"):
            write_excel_results(excel, outcome, force)
        click.echo(f"wrote {excel}")
    if not no_store:
        record_run(outcome, instance, store)
    sys.exit(outcome.status.exit_code)


@main.command()
@click.argument("instance", type=click.Path())
@click.argument("plan", type=click.Path())
@click.option("--out", "-o", "out", type=click.Path(file_okay=False), help="Write violations.csv, years.csv and summary.json here.")
@click.option("--force", is_flag=True, help="Overwrite files in an existing --out folder.")
@click.option("--quiet", "-q", is_flag=True, help="No progress display on stderr.")
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
        check_output_dir(out, force)
    steps = Steps(quiet)
    with steps.step(f"reading {instance}"):
        inst = load(instance)
        chosen = load_plan(plan, inst)
    with steps.step("checking the plan"):
        report = check_plan(inst, chosen)
    for line in report.lines():
        click.echo(line)
    if out:
        summary = {"ok": report.ok, "violations": len(report.violations), "objective": report.objective,
                   "objective_mode": inst.objective.mode, "instance_sha256": inst.sha256(),
                   "plan": str(plan)}
        write_folder(out, {"violations.csv": csv_text(report.violations_frame()),
                           "years.csv": csv_text(report.years), "summary.json": json_text(summary)}, force=force)
        click.echo(f"wrote violations.csv, years.csv, summary.json to {out}")
    sys.exit(0 if report.ok else EXIT_CHECK_FAILED)


@main.command()
@click.argument("instance", type=click.Path())
@click.option("--out", "-o", "out", type=click.Path(file_okay=False), help="Write summary.json and schemes.csv (eligibility) here.")
@click.option("--force", is_flag=True, help="Overwrite files in an existing --out folder.")
@click.option("--quiet", "-q", is_flag=True, help="No progress display on stderr.")
@guarded
def validate(instance, out, force, quiet):
    """Check INSTANCE without solving: every problem at once, then a summary when it is sound.

    Exit codes: 0 sound (warnings may be printed), 2 problems found.

    \b
    Example:
      cipopt validate instances/holby
    """
    from cipopt.report.instance import instance_summary
    from cipopt.report.progress import Steps

    if out:
        check_output_dir(out, force)
    with Steps(quiet).step(f"reading and checking {instance}"):
        inst = load(instance)
    summary, lines, schemes = instance_summary(inst)
    for line in lines:
        click.echo(line)
    if out:
        write_folder(out, {"summary.json": json_text(summary), "schemes.csv": csv_text(schemes)}, force=force)
        click.echo(f"wrote summary.json, schemes.csv to {out}")


@main.command()
@click.argument("instance", type=click.Path())
@click.option("--lp", "--out", "-o", "lp", type=click.Path(dir_okay=False), required=True,
              help="Write the model in LP format here.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@click.option("--quiet", "-q", is_flag=True, help="No progress display on stderr.")
@guarded
def build(instance, lp, force, quiet):
    """Build the model for INSTANCE without solving and write it as an LP file anyone can read.

    Constraint names are those of docs/formulation.md.

    \b
    Example:
      cipopt build instances/tiny --lp tiny.lp
    """
    import tempfile

    from cipopt.model.build import build_model
    from cipopt.report.progress import Steps

    if Path(lp).exists() and not force:
        raise OutputExists(f"{lp}: already exists; pass --force to overwrite it")
    steps = Steps(quiet)
    with steps.step(f"reading {instance}"):
        inst = load(instance)
    with steps.step("building the model"):
        built = build_model(inst)
    for note in built.notes.infeasibilities:
        click.echo(f"note: {note.message}", err=True)
    with steps.step("writing the LP file"), tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp) / "model.lp"
        built.model.write(str(scratch), io_options={"symbolic_solver_labels": True})
        write_file(lp, scratch.read_text(), force=force)
    click.echo(f"wrote {lp}")

