"""Commands for people who read and keep plans: template, convert, report, runs, schema."""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import click

from cipopt.cli import options
from cipopt.cli.base import guarded, load, main
from cipopt.errors import EXIT_BAD_INPUT, BadArguments
from cipopt.io.write import check_file_out, check_output_dir, csv_text, json_text, write_file, write_folder
from cipopt.report import terminal


def _store_errors(command):
    """A run history that cannot be used, or an unknown run id, is bad input: one line, exit 2."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        import sqlalchemy

        from cipopt.store import StoreError

        try:
            return command(*args, **kwargs)
        except StoreError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_BAD_INPUT)
        except sqlalchemy.exc.SQLAlchemyError as exc:  # a damaged or foreign database file
            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            click.echo(f"error: the run history cannot be read: {reason}", err=True)
            sys.exit(EXIT_BAD_INPUT)

    return wrapper


def _refuse_existing_file(path: str, force: bool) -> None:
    check_file_out(path, force)


def _needs_suffix(path: str, suffix: str, what: str) -> None:
    if Path(path).suffix.lower() != suffix:
        raise BadArguments(f"{path}: {what} must be a {suffix} file")


# -- what `cipopt solve` adds: the results workbook and the run history --------------------------

def check_excel_out(path: str, force: bool) -> None:
    """Refuse, before any work, an --excel file that is not .xlsx or would be overwritten unasked."""
    _needs_suffix(path, ".xlsx", "the results workbook (--excel)")
    _refuse_existing_file(path, force)


def write_excel_results(path: str, outcome, force: bool) -> None:
    from cipopt.io.excel import results_workbook
    from cipopt.report.reasons import reasons_table

    write_file(path, results_workbook(outcome, reasons_table(outcome)), force=force)


def record_run(outcome, source: str, store_path: str | None) -> int | None:
    """Record a solve in the run history; a failure warns in one line and loses nothing else.

    An existing SQLite history at the current schema is written with sqlite3 alone (quicker to
    start than SQLAlchemy, cipopt.history); any other goes through Store."""
    from cipopt.history import default_store, is_url, record_in_sqlite

    target = str(store_path) if store_path else default_store()
    where = target
    try:
        run_id = None
        if not is_url(target):
            where = str(Path(target).expanduser())
            run_id = record_in_sqlite(Path(where), outcome, source=str(Path(source).resolve()))
        if run_id is None:
            from cipopt.store import Store, describe, store_url

            where = describe(store_url(target))
            with Store(target) as db:
                run_id = db.record(outcome, source=str(Path(source).resolve()))
    except Exception as exc:  # noqa: BLE001 - the solve's own outputs are already written
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        click.echo(f"warning: the run was not recorded in the run history {where}: {reason}", err=True)
        return None
    click.echo(f"recorded as run {run_id} in {where} (cipopt runs show {run_id})")
    return run_id


# -- workbooks ---------------------------------------------------------------------------------

@main.command()
@click.argument("out", type=click.Path(dir_okay=False))
@options.force
@guarded
def template(out, force):
    """Write a blank, annotated instance workbook OUT (.xlsx) to fill in.

    Sheets: README, context (settings, organisations, targets, limits, quality, criteria), schemes,
    profiles, relations, shares, scores. Headers carry notes; categories, relation kinds, bases,
    senses and booleans have drop-down lists. docs/reports.md describes the layout.

    \b
    Example:
      cipopt template plan-2026.xlsx
      cipopt solve plan-2026.xlsx --excel results.xlsx
    """
    from cipopt.io.excel import template_workbook

    _needs_suffix(out, ".xlsx", "the template")
    _refuse_existing_file(out, force)
    write_file(out, template_workbook(), force=force)
    click.echo(f"wrote {out}")


@main.command()
@click.argument("instance", type=click.Path())
@options.out("the instance", path="any", required=True,
             where="an .xlsx file (the workbook form) or a folder (the folder form)")
@options.force
@options.quiet
@guarded
def convert(instance, out, force, quiet):
    """Convert INSTANCE between its forms: a folder to one workbook, or a workbook to a folder.

    The instance is read and checked in full, then written with every value explicit; reading the
    result gives the same instance (the same instance_sha256).

    \b
    Example:
      cipopt convert instances/holby -o holby.xlsx
      cipopt convert holby.xlsx -o holby-folder
    """
    from cipopt.io.excel import instance_workbook
    from cipopt.io.export import instance_folder_files
    from cipopt.report.progress import Steps

    to_workbook = Path(out).suffix.lower() == ".xlsx"
    if to_workbook:
        _refuse_existing_file(out, force)
    else:
        check_output_dir(out, force, "instance")
    steps = Steps(quiet)
    with steps.step(f"reading {instance}"):
        inst = load(instance)
    with steps.step(f"writing {out}"):
        if to_workbook:
            write_file(out, instance_workbook(inst), force=force)
        else:
            write_folder(out, instance_folder_files(inst), force=force, kind="instance")
    click.echo(f"wrote {out} (instance sha256 {inst.sha256()[:12]})")


# -- the HTML report ----------------------------------------------------------------------------

@main.command()
@click.argument("instance", type=click.Path())
@click.argument("solution_dir", type=click.Path())
@options.out("the report, an .html file", path="file", required=True)
@options.force
@click.option("--unit", "scale", type=click.Choice(["k", "m"]), default="k", show_default=True,
              help="Money in £k (thousands) or £m (millions), when the instance's money unit is pounds.")
@options.quiet
@guarded
def report(instance, solution_dir, out, force, scale, quiet):
    """Write one self-contained HTML board paper of the plan in SOLUTION_DIR (from cipopt solve
    --out), or of a fund panel's ranking (from cipopt rank --out).

    A plan's paper leads with an executive summary in words (the recommendation, what it achieves
    against each target by year, the bottom line, the main risks, what was left out and why), then
    the plan, savings against each target, quality (the QIA table with sign-offs, harms flagged),
    delivery risk (when SOLUTION_DIR holds simulation.csv from cipopt simulate), the use of limits,
    alternatives and sensitivity (alternatives.csv, importance.csv), and every scheme in or out
    with the reason. A ranking's paper shows entry budgets, value for money and core indices.
    It opens offline and prints on A4.

    \b
    Example:
      cipopt solve instances/holby --out out/holby
      cipopt simulate instances/holby out/holby/plan.csv --out out/holby-risk
      cp out/holby-risk/simulation.csv out/holby/
      cipopt report instances/holby out/holby -o holby-report.html --unit m
      cipopt rank instances/fund --out out/fund-rank
      cipopt report instances/fund out/fund-rank -o fund-panel.html
    """
    from cipopt.report.html import read_solution, render_report
    from cipopt.report.progress import Steps
    from cipopt.schema.problems import ProblemLog

    _refuse_existing_file(out, force)
    if (Path(solution_dir) / "outturn.csv").exists():  # a `cipopt replan --out` folder: its own page
        from cipopt.report.replan import html_from_folder

        write_file(out, html_from_folder(solution_dir), force=force)
        click.echo(f"wrote {out} (a re-plan)")
        return
    steps = Steps(quiet)
    with steps.step(f"reading {instance}"):
        inst = load(instance)
    log = ProblemLog()
    with steps.step("drawing the report"):
        from cipopt.cli.base import printing_warnings

        with printing_warnings(log):
            data = read_solution(inst, solution_dir, log)
        page = render_report(data, scale=scale)
    write_file(out, page, force=force)
    click.echo(f"wrote {out}")


# -- the run history ----------------------------------------------------------------------------

def _store_option(command):
    return click.option("--store", "store", metavar="URL|PATH",
                        help="The run history: a SQLAlchemy URL (sqlite:///runs.sqlite, "
                             "postgresql+psycopg://user@host/db) or a SQLite file (default $CIPOPT_STORE, "
                             "else ~/.cipopt/runs.sqlite).")(command)


def _open_store(target):
    """An existing run history; looking never creates a SQLite file."""
    from cipopt.store import Store, StoreError, default_store, sqlite_file, store_url

    url = store_url(str(target) if target else default_store())
    path = sqlite_file(url)
    if path is not None and not path.exists():
        raise StoreError(f"{path}: no run history yet (cipopt solve records every run there)")
    return Store(url)


def _run_id(value: str, name: str = "RUN_ID") -> int:
    """A run id as typed: a whole number from 1 (a huge one is refused here, not by the database)."""
    from cipopt.store import MAX_RUN_ID

    text = str(value).strip()
    if not text.isdigit() or not 1 <= int(text) <= MAX_RUN_ID:
        raise BadArguments(f"{name} {text!r}: run ids are whole numbers from 1 to {MAX_RUN_ID}; "
                           f"see cipopt runs list")
    return int(text)


@main.group()
def runs():
    """The run history: every solve is recorded, so an approved plan can be found and re-created.

    \b
    Example:
      cipopt runs list
      cipopt runs show 12 --instance-out approved-instance
    """


@runs.command("list")
@_store_option
@click.option("--instance", "instance", help="Only runs of instances whose name contains this, or whose hash starts so.")
@click.option("--status", type=click.Choice(["optimal", "feasible", "infeasible", "time_limit_no_solution", "error"]))
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="How many runs, newest first.")
@click.option("--all", "everything", is_flag=True, help="Every run (no --limit).")
@click.option("--approved", is_flag=True, help="Only runs whose plan someone approved (cipopt runs approve).")
@options.out("the list as CSV as well", path="file")
@options.force
@options.quiet
@guarded
@_store_errors
def runs_list(store, instance, status, limit, everything, approved, out, force, quiet):
    """List recorded runs, newest first: id, time (UTC), status, objective, schemes, instance,
    who approved the plan, note.

    \b
    Example:
      cipopt runs list --instance holby --status optimal
      cipopt runs list --approved --store postgresql+psycopg://pmo@db.trust.nhs.uk/cipopt
    """
    import pandas as pd

    from cipopt.report.progress import Steps

    if out:
        _refuse_existing_file(out, force)
    with Steps(quiet).step("reading the run history"), _open_store(store) as db:
        found = db.runs(instance=instance, status=status, limit=None if everything else limit, approved=approved)
    terminal.show(terminal.runs_table_lines(found, approved=approved, filtered=bool(instance or status)))
    if out:
        frame = pd.DataFrame([{"id": r.id, "created_at": r.created_at, "status": r.status, "objective": r.objective,
                               "mip_gap": r.mip_gap, "selected": r.selected, "instance_sha256": r.instance_sha256,
                               "instance_name": r.instance_name, "source": r.source,
                               "approved_by": "; ".join(a.approved_by for a in r.approvals) or None,
                               "approved_at": "; ".join(a.approved_at for a in r.approvals) or None,
                               "note": r.note} for r in found],
                             columns=["id", "created_at", "status", "objective", "mip_gap", "selected",
                                      "instance_sha256", "instance_name", "source", "approved_by", "approved_at",
                                      "note"])
        write_file(out, csv_text(frame), force=force)
        click.echo(f"wrote {out}")


def reproduce_command(run, folder: str) -> str:
    opts = run.options
    parts = ["cipopt", "solve", folder]
    if opts.get("time_limit") is not None:
        parts += ["--time-limit", f"{opts['time_limit']:g}"]
    if opts.get("mip_gap") is not None:
        parts += ["--gap", f"{opts['mip_gap']:g}"]
    if opts.get("threads") is not None:
        parts += ["--threads", str(opts["threads"])]
    return " ".join(parts)


@runs.command("show")
@click.argument("run_id")
@_store_option
@options.out("the run's solution folder (plan.csv, years.csv, summary.json)")
@click.option("--instance-out", type=click.Path(),
              help="Write the run's instance here, exactly as solved: a folder, or an .xlsx workbook.")
@options.force
@options.quiet
@guarded
@_store_errors
def runs_show(run_id, store, out, instance_out, force, quiet):
    """Show run RUN_ID: its summary and plan; write its solution and its instance to re-create it.

    \b
    Example:
      cipopt runs show 12 --instance-out approved --out approved-solution
      cipopt solve approved --gap 0.0001      # gives run 12's plan again
    """
    from cipopt.io.excel import instance_workbook
    from cipopt.io.export import instance_folder_files
    from cipopt.report.progress import Steps

    run_id = _run_id(run_id)
    if out:
        check_output_dir(out, force, "solve")
    steps = Steps(quiet)
    to_workbook = bool(instance_out) and Path(instance_out).suffix.lower() == ".xlsx"
    if instance_out:
        if to_workbook:
            _refuse_existing_file(instance_out, force)
        else:
            check_output_dir(instance_out, force, "instance")
    with steps.step("reading the run history"), _open_store(store) as db:
        run = db.run(run_id)
        inst = db.instance(run_id) if (instance_out or out) else None
    terminal.show(terminal.run_lines(run))
    if out:
        files = {"summary.json": json_text(run.summary)}
        if run.plan_csv or run.plan:
            files["plan.csv"] = run.plan_csv or csv_text(run.plan_frame)
        if run.years_csv:
            files["years.csv"] = run.years_csv
        write_folder(out, files, force=force, kind="solve")
        click.echo(f"\nwrote {', '.join(files)} to {out}")
    if instance_out:
        with steps.step(f"writing {instance_out}"):
            if to_workbook:
                write_file(instance_out, instance_workbook(inst), force=force)
            else:
                write_folder(instance_out, instance_folder_files(inst), force=force, kind="instance")
        click.echo(f"wrote the instance (sha256 {inst.sha256()[:12]}) to {instance_out}")
        click.echo(f"to re-create the plan: {reproduce_command(run, instance_out)}")


@runs.command("diff")
@click.argument("run_a")
@click.argument("run_b")
@_store_option
@options.out("the differences as JSON as well", path="file")
@options.force
@options.quiet
@guarded
@_store_errors
def runs_diff(run_a, run_b, store, out, force, quiet):
    """What changed from run RUN_A to run RUN_B: schemes in, out and moved; status, objective, options.

    \b
    Example:
      cipopt runs diff 12 15
    """
    from cipopt.store import diff_runs

    from cipopt.report.progress import Steps

    run_a, run_b = _run_id(run_a, "RUN_A"), _run_id(run_b, "RUN_B")
    if out:
        _refuse_existing_file(out, force)
    with Steps(quiet).step("reading the run history"), _open_store(store) as db:
        a, b = db.run(run_a), db.run(run_b)
    d = diff_runs(a, b)
    terminal.show(terminal.run_diff_lines(a, b, d))
    if out:
        write_file(out, json_text(d), force=force)
        click.echo(f"wrote {out}")


@runs.command("note")
@click.argument("run_id")
@click.argument("text")
@_store_option
@guarded
@_store_errors
def runs_note(run_id, text, store):
    """Attach a note to run RUN_ID (e.g. that the board approved it); an empty TEXT removes it.

    \b
    Example:
      cipopt runs note 12 "approved by the board, 12 March 2026"
      cipopt runs list --instance holby
    """
    run_id = _run_id(run_id)
    with _open_store(store) as db:
        db.set_note(run_id, text)
    click.echo(f"run {run_id}: " + (f"note set: {text}" if text else "note removed"))


@runs.command("approve")
@click.argument("run_id")
@click.option("--by", "by", required=True, help="Who approved the plan (a name or a role), recorded with the time.")
@_store_option
@guarded
@_store_errors
def runs_approve(run_id, by, store):
    """Record that BY approved the plan of run RUN_ID; a plan may carry several approvals.

    Approved runs are listed by `cipopt runs list --approved`; `cipopt runs show` names who
    approved and when. Only a run with a plan can be approved.

    \b
    Example:
      cipopt runs approve 12 --by "Director of Finance"
      cipopt runs list --approved
    """
    run_id = _run_id(run_id)
    with _open_store(store) as db:
        approval, new = db.approve(run_id, by)
    if new:
        click.echo(f"run {run_id}: approved by {approval.approved_by} at {terminal.when(approval.approved_at)} UTC")
    else:
        click.echo(f"run {run_id}: already approved by {approval.approved_by} at "
                   f"{terminal.when(approval.approved_at)} UTC (kept)")


# -- the JSON Schema --------------------------------------------------------------------------

@main.command()
@options.out("the schema (instead of printing it)", path="file")
@options.force
@options.quiet
@guarded
def schema(out, force, quiet):
    """Print the JSON Schema of an instance (instance format v1), from cipopt's pydantic models.

    For front ends that build instances: the schema of the whole instance as one JSON document,
    the tables as arrays of rows; field descriptions come from the models' documentation.

    \b
    Example:
      cipopt schema -o instance.schema.json
    """
    from cipopt.report.progress import Steps

    with Steps(quiet).step("generating the schema"):
        text = json.dumps(instance_json_schema(), indent=2) + "\n"
    if out:
        _refuse_existing_file(out, force)
        write_file(out, text, force=force)
        click.echo(f"wrote {out}")
    else:
        click.echo(text, nl=False)


def instance_json_schema() -> dict:
    """The JSON Schema (draft 2020-12) of an instance; descriptions are the models' field docstrings."""
    from cipopt.schema.instance import Instance

    schema = Instance.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "cipopt-instance-format-1", **schema}
