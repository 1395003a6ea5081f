"""Progress display (rich) for steps that may take more than a few seconds.

Drawn on standard error, only when it is a terminal and the user did not pass `--quiet`, and
erased when the step ends, so that piped output and logs stay clean. A solve with a time limit
shows a bar of the time used against the limit; other steps a spinner and the time elapsed.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:  # rich is imported only when something is drawn (cipopt validate | less: never)
    from rich.console import Console


def _is_terminal(stream) -> bool:
    """Whether a spinner would be drawn on `stream`, decided without importing rich (as rich decides:
    FORCE_COLOR set makes any stream a terminal)."""
    if os.environ.get("FORCE_COLOR"):
        return True
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


@functools.cache
def _limit_columns() -> tuple:
    """rich columns for a solve with a time limit: a bar of the time used, and the limit in words."""
    from rich.progress import ProgressColumn, Task
    from rich.progress_bar import ProgressBar
    from rich.text import Text

    class TimeLimitColumn(ProgressColumn):
        """A bar of the time elapsed against the time limit (solvers stop at the limit)."""

        def render(self, task: Task):
            limit = task.fields.get("limit")
            if not limit:
                return Text("")
            elapsed = task.elapsed or 0.0
            return ProgressBar(total=limit, completed=min(elapsed, limit), width=30)

    class LimitTextColumn(ProgressColumn):
        def render(self, task: Task):
            limit = task.fields.get("limit")
            return Text(f"of {limit:g} s" if limit else "", style="progress.elapsed")

    return TimeLimitColumn, LimitTextColumn


class Steps:
    """`with steps.step("solving", limit=60): ...` shows a live line while the block runs."""

    def __init__(self, quiet: bool = False, console: Console | None = None):
        self.console = console
        stream = getattr(sys.stderr, "raw", sys.stderr)
        self.enabled = not quiet and (console.is_terminal if console is not None else _is_terminal(stream))
        if self.enabled and self.console is None:
            from rich.console import Console

            self.console = Console(file=stream)

    @contextlib.contextmanager
    def step(self, text: str, limit: float | None = None) -> Iterator[None]:
        if not self.enabled:
            yield
            return
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        time_limit_column, limit_text_column = _limit_columns()
        progress = Progress(
            SpinnerColumn(), TextColumn("[progress.description]{task.description}"), time_limit_column(),
            TimeElapsedColumn(), limit_text_column(), console=self.console, transient=True,
            refresh_per_second=8,
        )
        with progress:
            progress.add_task(text, total=None, limit=limit)
            yield


class ProgressLine:
    """Progress of a run of many solves on stderr: a rich progress bar when stderr is a terminal,
    otherwise one plain line per call; nothing with --quiet.

    It takes the sweep protocol `(done, total, label)`: `done` tasks have finished and `label` is
    one under way (on a Dask cluster tasks finish out of order, so the count is of finished tasks,
    never of the task named). A call with done == total ends a phase: the plain line says so, so
    a log shows every count reach its total. A new total starts a new phase (explain's schemes,
    then its rules)."""

    def __init__(self, quiet: bool, what: str, console=None):
        self.quiet, self.what = quiet, what
        self._bar = None
        self._task = None
        if quiet:
            return
        if console is None and not _is_terminal(getattr(sys.stderr, "raw", sys.stderr)):
            return  # plain lines, and no rich to import
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        console = console or Console(stderr=True)
        if console.is_terminal:
            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=console, transient=True)

    def __call__(self, done: int, total: int, label: str) -> None:
        if self.quiet:
            return
        if self._bar is not None:
            if self._task is None:
                self._bar.start()
                self._task = self._bar.add_task(self.what, total=total)
            self._bar.update(self._task, completed=done, total=total, description=f"{self.what}: {label}",
                             refresh=True)
            return
        if done < total:
            click.echo(f"{self.what} [{done}/{total} done] {label} ...", err=True)
        else:
            finished = "" if label == "done" else f" {label}"
            click.echo(f"{self.what} [{total}/{total} done]{finished}", err=True)

    def close(self) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.stop()
            self._task = None
