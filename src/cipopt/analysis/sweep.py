"""Many independent solves (or simulation batches) as one map: in-process, or on a Dask cluster.

Every analysis that is many solves (ranking samples and budget steps, frontier points, explain
re-solves, what-if scenarios, simulation batches) states its work as a list of picklable tasks
and a module-level function `work(state, task) -> result`, where `state` is built once per
process by `setup(payload)` (typically a `Planner` of the base instance, built and handed to
HiGHS once, then re-solved for every task). `run_sweep` runs the tasks and returns the results
in task order, whatever ran where, so the serial and distributed paths give identical results.

`Sweep()` (the default) runs everything in this process, with no cluster. `Sweep(workers=N)`
starts a local Dask cluster of N worker processes for the run; `Sweep(scheduler=ADDRESS)` uses an
existing Dask cluster. The Dask path is implemented in issue 8; until then asking for it is an
error, never a silent serial run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

S = TypeVar("S")
T = TypeVar("T")
R = TypeVar("R")

Progress = Callable[[int, int, str], None]
"""progress(done, total, label): called before each task and once at the end (done == total)."""


@dataclass(frozen=True)
class Sweep:
    """Where a sweep runs: in this process (default), a local cluster of `workers`, or `scheduler`."""

    workers: int | None = None
    scheduler: str | None = None

    @property
    def in_process(self) -> bool:
        return self.workers is None and self.scheduler is None


IN_PROCESS = Sweep()


def run_sweep(setup: Callable[[Any], S], payload: Any, work: Callable[[S, T], R], tasks: Sequence[T], *,
              sweep: Sweep = IN_PROCESS, state: S | None = None, progress: Progress | None = None,
              labels: Sequence[str] | None = None) -> list[R]:
    """`[work(setup(payload), t) for t in tasks]`, with `setup` run once per process.

    `state`, when given, is used in this process instead of calling `setup` (a caller that
    already holds a built planner); workers elsewhere always call `setup(payload)`.
    """
    total = len(tasks)
    if not sweep.in_process:
        raise NotImplementedError("distributed sweeps (--workers, --scheduler) are not available yet")
    if state is None and total:
        state = setup(payload)
    results: list[R] = []
    for i, task in enumerate(tasks):
        if progress:
            progress(i, total, labels[i] if labels else f"{i + 1}")
        results.append(work(state, task))
    if progress:
        progress(total, total, "done")
    return results
