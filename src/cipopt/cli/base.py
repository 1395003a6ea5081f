"""The `cipopt` command group and what every command shares: the failure guard and loading.

Exit codes: 0 a plan (optimal or feasible) or a check that passes; 1 a check that fails, or an
internal error; 2 bad input; 3 infeasible; 4 no plan found within the limits; 130 interrupted.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import math
import os
import sys
import traceback

import click

from cipopt import __version__
from cipopt.analysis.sweep import NOTES, Sweep, address_problem, usable_cores
from cipopt.errors import (
    EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED, OutputExists, SolveInterrupted, SweepUnavailable,
)
from cipopt.schema.problems import InputError, Problem, ProblemLog


class Finite(click.FloatRange):
    """A number option that refuses nan and inf as well as values out of its range: `--time-limit nan`
    would remove the limit and `--gap inf` would call any plan optimal."""

    name = "finite number"

    def convert(self, value, param, ctx):
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return super().convert(number, param, ctx)


TIME_LIMIT = Finite(min=0, min_open=True, max=10 ** 7)  # seconds: up to about four months
GAP = Finite(min=0, max=1)  # a relative gap: 1 already accepts any plan
SEED = click.IntRange(min=0, max=2 ** 31 - 1)  # HiGHS random_seed's range


class TerminalText(io.TextIOBase):
    """Standard output or error as cipopt prints to it: control characters in what it prints
    (ids from untrusted files) are escaped, and a reader that went away (`cipopt solve | head`)
    silences the rest instead of failing the command, so files and the run history are kept."""

    def __init__(self, stream):
        self.raw = stream
        self.closed_by_reader = False

    @property
    def encoding(self):
        return getattr(self.raw, "encoding", "utf-8")

    @property
    def errors(self):
        return getattr(self.raw, "errors", "strict")

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self.raw.isatty()

    def fileno(self) -> int:
        return self.raw.fileno()

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError("write() argument must be str")
        if self.closed_by_reader:
            return len(text)
        from cipopt.report.text import printable

        try:
            self.raw.write(printable(text))
            self.raw.flush()
        except (BrokenPipeError, ValueError):  # ValueError: the stream was closed
            self._reader_gone()
        return len(text)

    def flush(self) -> None:
        if self.closed_by_reader:
            return
        try:
            self.raw.flush()
        except (BrokenPipeError, ValueError):
            self._reader_gone()

    def _reader_gone(self) -> None:
        """Point the descriptor at /dev/null, so that the interpreter's last flush succeeds too."""
        self.closed_by_reader = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.raw.fileno())
            os.close(devnull)
        except (OSError, ValueError, io.UnsupportedOperation):
            pass


def install_terminal_text() -> None:
    """Wrap sys.stdout and sys.stderr in `TerminalText` while the command runs (a notebook or a
    test that calls `main` gets its own streams back when the command ends)."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, TerminalText):
            wrapper = TerminalText(stream)
            setattr(sys, name, wrapper)
            click.get_current_context().call_on_close(functools.partial(_unwrap, name, wrapper))


def _unwrap(name: str, wrapper: TerminalText) -> None:
    if getattr(sys, name) is wrapper:
        setattr(sys, name, wrapper.raw)


def echo_problems(problems, limit: int = 200) -> None:
    shown = 0
    for p in problems:
        if shown == limit:
            click.echo(f"... and {len(problems) - limit} more", err=True)
            break
        click.echo(str(p), err=True)
        shown += 1


def guarded(command):
    """Turn every failure into a one-line message and a documented exit code, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        debug = click.get_current_context().find_root().params.get("debug", False)
        try:
            return command(*args, **kwargs)
        except InputError as exc:
            echo_problems(exc.problems)
            n = len(exc.errors)
            click.echo(f"cipopt: {n} problem{'s' if n != 1 else ''} in the input; nothing was written", err=True)
            sys.exit(EXIT_BAD_INPUT)
        except OutputExists as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_BAD_INPUT)
        except SweepUnavailable as exc:
            click.echo(f"cipopt: {exc}; nothing was written", err=True)
            sys.exit(EXIT_INTERNAL)
        except (SolveInterrupted, KeyboardInterrupt):
            click.echo("cipopt: interrupted; the solve was cancelled and nothing was written", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except click.exceptions.Exit:
            raise
        except Exception as exc:  # noqa: BLE001 - the last line of defence for the user
            if debug:
                traceback.print_exc()
            click.echo(f"cipopt: internal error: {type(exc).__name__}: {exc} "
                       "(run with --debug for the details); nothing was written", err=True)
            sys.exit(EXIT_INTERNAL)

    return wrapper


@contextlib.contextmanager
def printing_warnings(log: ProblemLog):
    """Print the log's warnings once: on an InputError the guard prints those the error carries."""
    try:
        yield log
    except InputError as exc:
        echo_problems([w for w in log.warnings if w not in exc.problems])
        raise
    echo_problems(log.warnings)


def load(path: str):
    """An instance from a folder, or from an .xlsx workbook (dispatched on the suffix; the workbook
    reader, and pandas with it, is imported only for a workbook)."""
    from cipopt.io.folder import is_workbook_path
    from cipopt.io.load import load_instance

    log = ProblemLog()
    with printing_warnings(log):
        if is_workbook_path(path):
            from cipopt.io.excel import load_workbook_instance

            return load_workbook_instance(path, log)
        allow = bool(click.get_current_context().find_root().params.get("allow_outside_links"))
        return load_instance(path, log, allow_outside_links=allow)


def load_plan(path: str, instance, within_years: bool = False):
    """A plan.csv (untrusted: any spreadsheet) for `instance`, its warnings printed."""
    from pathlib import Path

    from cipopt.io.plan import read_plan

    log = ProblemLog()
    with printing_warnings(log):
        return read_plan(Path(path), instance, log, within_years=within_years)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="cipopt")
@click.option("--debug", is_flag=True, help="Show a Python traceback on internal errors.")
@click.option("--allow-outside-links", is_flag=True,
              help="Read instance files that are links to files outside the instance folder (refused by default).")
def main(debug: bool, allow_outside_links: bool) -> None:
    """cipopt: choose NHS savings schemes and transformation bids over several years, with a
    mixed-integer program solved by HiGHS, under rules that protect safety and outcomes.

    \b
    Example:
      cipopt solve instances/holby --out out/holby
    """
    install_terminal_text()


def exit_without_plan(headline: str, outcome) -> None:
    """An analysis had no plan to start from: say why (the solve's messages) and exit with its code."""
    from cipopt.report import terminal

    terminal.show(terminal.no_plan_lines(headline, outcome))
    sys.exit(outcome.status.exit_code)


class _EchoNotes(logging.Handler):
    """A sweep's notes (analysis/sweep.py logs them) as `cipopt: ...` lines on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(f"cipopt: {record.getMessage()}", err=True)


if not any(isinstance(h, _EchoNotes) for h in NOTES.handlers):
    NOTES.addHandler(_EchoNotes())
    NOTES.setLevel(logging.INFO)


def sweep_of(workers: int | None, scheduler: str | None) -> Sweep:
    """Where a command's many solves run, from --workers and --scheduler (bad values: exit 2).

    --workers is capped at the cores this process may use: more worker processes than cores only
    make the solves take turns (docs/sweeps.md)."""
    if workers is not None and scheduler is not None:
        raise InputError([Problem("--workers", "give --workers N (a local cluster) or --scheduler ADDRESS "
                                               "(an existing one), not both")])
    if scheduler is not None:
        problem = address_problem(scheduler)
        if problem:
            raise InputError([Problem("--scheduler", problem)])
    cores = usable_cores()
    if workers is not None and workers > cores:
        click.echo(f"cipopt: --workers {workers} is more than the {cores} core{'s' if cores != 1 else ''} "
                   f"here: using {cores} worker{'s' if cores != 1 else ''}", err=True)
        workers = cores
    return Sweep(workers=workers, scheduler=scheduler)
