"""Progress display (rich) for steps that may take more than a few seconds.

Drawn on standard error, only when it is a terminal and the user did not pass `--quiet`, and
erased when the step ends, so that piped output and logs stay clean. A solve with a time limit
shows a bar of the time used against the limit; other steps a spinner and the time elapsed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rich.console import Console
from rich.progress import (
    Progress, ProgressColumn, SpinnerColumn, Task, TextColumn, TimeElapsedColumn,
)
from rich.progress_bar import ProgressBar
from rich.text import Text


class _TimeLimitColumn(ProgressColumn):
    """A bar of the time elapsed against the time limit (solvers stop at the limit)."""

    def render(self, task: Task):
        limit = task.fields.get("limit")
        if not limit:
            return Text("")
        elapsed = task.elapsed or 0.0
        return ProgressBar(total=limit, completed=min(elapsed, limit), width=30)


class _LimitTextColumn(ProgressColumn):
    def render(self, task: Task):
        limit = task.fields.get("limit")
        return Text(f"of {limit:g} s" if limit else "", style="progress.elapsed")


class Steps:
    """`with steps.step("solving", limit=60): ...` shows a live line while the block runs."""

    def __init__(self, quiet: bool = False, console: Console | None = None):
        self.console = console or Console(stderr=True)
        self.enabled = not quiet and self.console.is_terminal

    @contextlib.contextmanager
    def step(self, text: str, limit: float | None = None) -> Iterator[None]:
        if not self.enabled:
            yield
            return
        progress = Progress(
            SpinnerColumn(), TextColumn("[progress.description]{task.description}"), _TimeLimitColumn(),
            TimeElapsedColumn(), _LimitTextColumn(), console=self.console, transient=True,
            refresh_per_second=8,
        )
        with progress:
            progress.add_task(text, total=None, limit=limit)
            yield
