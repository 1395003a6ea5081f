"""The options several commands share, each defined once, with one help text (issue #18).

A command stacks these decorators instead of declaring `--time-limit` or `--force` itself, so the
same option reads and behaves the same in every command (tests/test_cli_options.py holds this).
"""

from __future__ import annotations

import functools

import click

from cipopt.cli.base import GAP, SEED, TIME_LIMIT, sweep_of

time_limit = click.option(
    "--time-limit", type=TIME_LIMIT,
    help="Seconds; overrides instance.yaml solver.time_limit (in an analysis, for each of its solves).")

threads = click.option("--threads", type=click.IntRange(min=1), help="Solver threads; overrides solver.threads.")

force = click.option("--force", is_flag=True,
                     help="Overwrite existing output: files in an existing --out folder, or an existing file.")

quiet = click.option("--quiet", "-q", is_flag=True, help="No progress display on stderr.")

verbose = click.option("--verbose", is_flag=True, help="Show the HiGHS log.")


def workers(command):
    """--workers and --scheduler, handed to the command as one `sweep` argument (a `Sweep`).

    Put it below @guarded, so that a bad value is reported like any bad input."""

    @functools.wraps(command)
    def wrapper(*args, workers=None, scheduler=None, **kwargs):
        return command(*args, sweep=sweep_of(workers, scheduler), **kwargs)

    wrapper = click.option(
        "--scheduler", metavar="ADDRESS",
        help="Run the solves on an existing Dask cluster, e.g. tcp://10.0.0.5:8786 (docs/sweeps.md).")(wrapper)
    wrapper = click.option(
        "--workers", type=click.IntRange(min=1), metavar="N",
        help="Run the solves on a local Dask cluster of N worker processes, one solver thread each, "
             "at most one per core; a sweep of fewer than 4 solves per worker runs here instead "
             "(default: in this process, the fastest on a laptop). Results are the same.")(wrapper)
    return wrapper


GAP_HELP = "Relative MIP gap; overrides solver.mip_gap."


def gap(default: float | None = None):
    """--gap; an analysis that compares solves defaults to 0 (each solve optimal), shown in its help."""
    return click.option("--gap", type=GAP, default=default, show_default=default is not None, help=GAP_HELP)


def solver_seed(default: int = 0):
    """--seed as HiGHS's random seed (rank and simulate seed their own sampling: theirs are local)."""
    return click.option("--seed", type=SEED, default=default, show_default=True,
                        help="HiGHS random seed (same inputs and seed, same plans).")


_PATHS = {
    "folder": click.Path(file_okay=False),
    "file": click.Path(dir_okay=False),
    "any": click.Path(),
}


def out(what: str, *, path: str = "folder", required: bool = False, where: str = ""):
    """--out / -o: "Write WHAT here[: WHERE].", WHAT naming the files the command writes."""
    return click.option("--out", "-o", "out", type=_PATHS[path], required=required,
                        help=f"Write {what} here{': ' + where if where else ''}.")
