"""Many independent solves (or simulation batches) as one map: in-process, or on a Dask cluster.

Every analysis that is many solves (ranking samples and budget steps, frontier points, explain
re-solves, what-if scenarios, simulation batches) states its work as a list of picklable tasks
and a module-level function `work(state, task) -> result`, where `state` is built once per
process by `setup(payload)` (typically a `Planner` of the base instance, built and handed to
HiGHS once, then re-solved for every task). `run_sweep` runs the tasks and returns the results
in task order, whatever ran where, so the serial and distributed paths give identical results.

`Sweep()` (the default) runs everything in this process, with no cluster. `Sweep(workers=N)`
starts a local Dask cluster of N worker processes (one thread each) for the run and closes it
afterwards; `Sweep(scheduler=ADDRESS)` uses an existing Dask cluster. On a worker, the state is
built once per (setup, payload) and kept for later tasks and later sweeps of the same payload,
one state per worker thread (a HiGHS model is not shared between threads). Tasks go to the
workers in chunks of consecutive tasks, so that a re-solve of 10-100 ms is not dwarfed by
scheduling. An exception raised by `work` on a worker is raised again here, with its own type.
See docs/sweeps.md.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import pickle
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from cipopt.errors import SweepUnavailable  # noqa: F401  (raised here; defined in the light module)

S = TypeVar("S")
T = TypeVar("T")
R = TypeVar("R")

Progress = Callable[[int, int, str], None]
"""progress(done, total, label): called before each task and once at the end (done == total).
On a cluster it is called as chunks of tasks complete: done counts the finished tasks and the
label names the first task, in order, not yet finished (one under way)."""

CHUNKS_PER_WORKER = 4
"""Chunks per worker thread: few enough to keep scheduling cheap, enough to balance the load."""
MIN_TASKS_PER_WORKER = 4
"""A local cluster started for fewer tasks than this per worker does not pay for itself (every
worker imports the libraries and builds the model before its first task: seconds, against
re-solves of 10-100 ms): such a sweep runs in this process instead, and says so."""
CONNECT_TIMEOUT = 10.0
"""Seconds to wait for an existing scheduler to answer."""
ADDRESS = re.compile(r"^(?:(?:tcp|tls|ucx|ws|wss|inproc)://)?[\w.\-\[\]:]+:\d+$")


@dataclass(frozen=True)
class Sweep:
    """Where a sweep runs: in this process (default), a local cluster of `workers`, or `scheduler`."""

    workers: int | None = None
    scheduler: str | None = None

    def __post_init__(self):
        if self.workers is not None and self.scheduler is not None:
            raise ValueError("a sweep runs on a local cluster (workers) or an existing one (scheduler), not both")
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"a local cluster needs at least 1 worker, not {self.workers}")

    @property
    def in_process(self) -> bool:
        return self.workers is None and self.scheduler is None

    def describe(self) -> str:
        if self.scheduler:
            return f"on the Dask cluster at {self.scheduler}"
        if self.workers:
            return f"on a local Dask cluster of {self.workers} worker{'s' if self.workers != 1 else ''}"
        return "in this process"


IN_PROCESS = Sweep()


def address_problem(address: str) -> str | None:
    """Why a scheduler address cannot be used, or None ("tcp://host:8786", "host:8786")."""
    if not ADDRESS.match(address.strip()):
        return (f"{address!r} is not a Dask scheduler address: give PROTOCOL://HOST:PORT, "
                "e.g. tcp://10.0.0.5:8786 (what `dask scheduler` prints)")
    return None


def usable_cores() -> int:
    """The cores this process may run on (its affinity where the system says, else the count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


NOTES = logging.getLogger("cipopt.sweep")
"""Where a sweep says how it ran when that differs from what was asked (the CLI prints these)."""


def too_small(sweep: Sweep, total: int) -> str | None:
    """Why a local cluster would not gain for `total` tasks (the sweep then runs in process), or None.

    Only a cluster this sweep would start itself: an existing scheduler, or a cluster kept open
    with `cluster(sweep)`, is used whatever the size."""
    if sweep.workers is None or sweep in _OPEN or total >= MIN_TASKS_PER_WORKER * sweep.workers:
        return None
    return (f"{total} solve{'s are' if total != 1 else ' is'} too few to gain from {sweep.workers} worker"
            f"{'s' if sweep.workers != 1 else ''} (a local cluster pays from {MIN_TASKS_PER_WORKER} per worker, "
            f"{MIN_TASKS_PER_WORKER * sweep.workers} here): running them in this process")


MAX_HANDSHAKE = 16 * 2**20
"""Bytes a Dask scheduler's first message may announce (its handshake is a few hundred)."""


def probe_scheduler(address: str, timeout: float) -> None:
    """Check that a tcp:// address answers as a Dask scheduler does, within `timeout` seconds.

    A scheduler sends its handshake first: 8 bytes giving the message's length, then the message.
    A web server, a database or a silent port would otherwise make Dask wait for ever, or read
    "HTTP/1.1" as a length and try to allocate exabytes. Raises SweepUnavailable."""
    import socket
    import struct
    import time

    text = address.strip()
    if "://" in text and not text.startswith("tcp://"):
        return  # tls, ws, ucx: Dask's own timeout applies
    host, _, port = text.removeprefix("tcp://").rpartition(":")
    host = host.strip("[]")
    deadline = time.monotonic() + timeout

    def left() -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        return remaining

    def read(conn, n: int) -> bytes:
        data = bytearray()
        while len(data) < n:
            conn.settimeout(left())
            chunk = conn.recv(min(n - len(data), 1 << 20))
            if not chunk:
                raise ConnectionError("the connection was closed")
            data += chunk
        return bytes(data)

    try:
        with socket.create_connection((host, int(port)), timeout=left()) as conn:
            (length,) = struct.unpack("<Q", read(conn, 8))
            if not 0 < length <= MAX_HANDSHAKE:
                raise ValueError
            message = read(conn, length)
        from distributed.protocol.utils import unpack_frames

        unpack_frames(message, partial=True)
    except (TimeoutError, socket.timeout):
        raise SweepUnavailable(f"cannot reach the Dask scheduler at {address}: no Dask handshake within "
                               f"{timeout:g} s (is it a Dask scheduler's address?)") from None
    except OSError as exc:
        raise SweepUnavailable(f"cannot reach the Dask scheduler at {address} "
                               f"({type(exc).__name__}: {exc})") from None
    except Exception:  # noqa: BLE001 - whatever the bytes were, they were not Dask's
        raise SweepUnavailable(f"the service at {address} is not a Dask scheduler (it does not answer with "
                               "Dask's handshake): give the address `dask scheduler` prints") from None


def solver_threads(options, instance, sweep: Sweep):
    """Solve options for the workers: one HiGHS thread each unless the command line or the
    instance says otherwise, so that N workers do not fight over the cores."""
    if sweep.in_process or options.threads is not None or instance.solver.threads is not None:
        return options
    return replace(options, threads=1)


def run_sweep(setup: Callable[[Any], S], payload: Any, work: Callable[[S, T], R], tasks: Sequence[T], *,
              sweep: Sweep = IN_PROCESS, state: S | None = None, progress: Progress | None = None,
              labels: Sequence[str] | None = None) -> list[R]:
    """`[work(setup(payload), t) for t in tasks]`, with `setup` run once per process.

    `state`, when given, is used in this process instead of calling `setup` (a caller that
    already holds a built planner); workers elsewhere always call `setup(payload)`.
    """
    total = len(tasks)
    note = too_small(sweep, total) if total else None
    if note:
        NOTES.warning(note)
    elif not sweep.in_process and total:
        return _run_on_dask(setup, payload, work, tasks, sweep, progress, labels)
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


# -- the Dask path ------------------------------------------------------------------------------

def payload_key(setup: Callable, payload: Any) -> str:
    """What identifies a worker's state: the setup function and a digest of its payload (an
    instance's meaning hash where the payload is an instance, else its pickle)."""
    digest = payload.sha256() if hasattr(payload, "sha256") else hashlib.sha256(
        pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)).hexdigest()
    return f"{setup.__module__}.{setup.__qualname__}:{digest}"


_LOCAL = threading.local()


def _state_for(key: str, setup: Callable, payload: Any):
    """This worker thread's state for `key`: built on first use, then kept (only the latest, to
    bound memory)."""
    held = getattr(_LOCAL, "held", None)
    if held is None or held[0] != key:
        _LOCAL.held = None  # free the old state before building the new one
        _LOCAL.held = (key, setup(payload))
    return _LOCAL.held[1]


def _run_chunk(setup: Callable, work: Callable, key: str, payload: Any, chunk: list) -> list:
    """On a worker: the results of consecutive tasks, with the worker's state for this payload."""
    try:
        state = _state_for(key, setup, payload)
        return [work(state, task) for task in chunk]
    except Exception as exc:
        raise _portable(exc) from None


def _portable(exc: Exception) -> Exception:
    """The exception itself if it survives pickling (so the caller gets its type), else a
    RuntimeError with its words."""
    try:
        again = pickle.loads(pickle.dumps(exc))
        if type(again) is type(exc) and str(again) == str(exc):
            return exc
    except Exception:  # noqa: BLE001 - any failure to pickle means: send the words instead
        pass
    return RuntimeError(f"{type(exc).__name__}: {exc}")


def chunk_sizes(total: int, slots: int) -> list[int]:
    """Consecutive chunk lengths: about CHUNKS_PER_WORKER chunks per worker thread."""
    n = max(1, min(total, slots * CHUNKS_PER_WORKER))
    base, extra = divmod(total, n)
    return [base + (1 if i < extra else 0) for i in range(n)]


@contextlib.contextmanager
def _quiet_dask() -> Iterator[None]:
    """Dask's INFO logging (cluster start and stop, worker chatter) is not for cipopt's users."""
    names = ("distributed", "distributed.scheduler", "distributed.nanny", "distributed.worker",
             "distributed.core", "distributed.http.proxy", "distributed.deploy")
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


@contextlib.contextmanager
def dask_client(sweep: Sweep):
    """A Dask client for the sweep: a fresh local cluster (closed on exit) or the given scheduler."""
    import dask
    from distributed import Client, LocalCluster

    # a loaded machine may pause the event loop for seconds: not worth a warning
    with _quiet_dask(), dask.config.set({"distributed.admin.tick.limit": "60s"}):
        cluster = None
        try:
            if sweep.scheduler:
                problem = address_problem(sweep.scheduler)
                if problem:
                    raise SweepUnavailable(problem)
                probe_scheduler(sweep.scheduler, CONNECT_TIMEOUT)
                try:
                    client = Client(sweep.scheduler.strip(), timeout=CONNECT_TIMEOUT)
                except (OSError, TimeoutError, ValueError) as exc:
                    raise SweepUnavailable(f"cannot reach the Dask scheduler at {sweep.scheduler} "
                                           f"within {CONNECT_TIMEOUT:g} s ({type(exc).__name__}: {exc})") from None
            else:
                try:
                    cluster = LocalCluster(n_workers=sweep.workers, threads_per_worker=1, processes=True,
                                           dashboard_address=None, silence_logs=logging.CRITICAL)
                except Exception as exc:  # noqa: BLE001 - say what failed, in one line
                    raise SweepUnavailable(f"cannot start a local Dask cluster of {sweep.workers} workers "
                                           f"({type(exc).__name__}: {exc})") from None
                client = Client(cluster)
            try:
                yield client
            finally:
                client.close()
        finally:
            if cluster is not None:
                cluster.close()


_OPEN: dict[Sweep, Any] = {}


@contextlib.contextmanager
def cluster(sweep: Sweep):
    """Keep the sweep's cluster (and its workers' built states) for every sweep run inside the
    block, instead of starting one per sweep: `with cluster(sweep): run_sweep(...); run_sweep(...)`.
    Does nothing in process."""
    if sweep.in_process or sweep in _OPEN:
        yield
        return
    with dask_client(sweep) as client:
        _OPEN[sweep] = client
        try:
            yield
        finally:
            del _OPEN[sweep]


def _run_on_dask(setup, payload, work, tasks, sweep: Sweep, progress: Progress | None, labels) -> list:
    from distributed import as_completed

    total = len(tasks)
    key = payload_key(setup, payload)
    with cluster(sweep):
        client = _OPEN[sweep]
        slots = sum(client.nthreads().values()) or 1
        sizes = chunk_sizes(total, slots)
        if progress:
            progress(0, total, labels[0] if labels else "1")
        shipped = client.scatter(payload, broadcast=True, hash=False)
        futures, starts = [], {}
        first = 0
        for size in sizes:
            future = client.submit(_run_chunk, setup, work, key, shipped, list(tasks[first:first + size]),
                                   pure=False)
            futures.append(future)
            starts[future.key] = (first, size)
            first += size
        results: list = [None] * total
        finished = [False] * total
        done = waiting = 0  # waiting: the first task in order not yet finished, shown as under way
        try:
            for future in as_completed(futures):
                begin, size = starts[future.key]
                results[begin:begin + size] = future.result()  # a worker's exception is raised here
                finished[begin:begin + size] = [True] * size
                done += size
                while waiting < total and finished[waiting]:
                    waiting += 1
                if progress and done < total:
                    progress(done, total, labels[waiting] if labels else f"{waiting + 1}")
        finally:
            for future in futures:
                future.cancel()
    if progress:
        progress(total, total, "done")
    return results


# -- the sweep most analyses run: variants of one instance, re-solved in one built model ----------

@dataclass(frozen=True)
class VariantTask:
    """One re-solve: a variant of the planner's instance, its options, and a plan to start from
    (given to HiGHS as is, or only where the checker says it keeps the variant's rules)."""

    variant: Any
    options: Any
    start: dict | None = None
    check_start: bool = False


@dataclass
class Resolved:
    outcome: Any
    warm_start: bool
    """The start was given to HiGHS."""
    rebuilt: bool
    """The variant changed the model's structure, so it was built afresh."""


def planner_setup(instance):
    """A worker's state for variant sweeps: the instance built and handed to HiGHS once."""
    from cipopt.pipeline import Planner

    return Planner(instance)


def feasible_start(instance, plan: dict | None) -> bool:
    """Whether a plan keeps every rule of `instance` (so it may be given to HiGHS as a start)."""
    from cipopt.check import check_plan

    if plan is None:
        return False
    return check_plan(instance, plan).ok


def solve_variant(planner, task: VariantTask) -> Resolved:
    """Re-solve one variant in the worker's (or the caller's) planner."""
    start = task.start
    if start is not None and task.check_start and not feasible_start(task.variant, start):
        start = None
    before = planner.rebuilds
    outcome = planner.solve(task.options, variant=task.variant, start=start)
    return Resolved(outcome=outcome, warm_start=start is not None, rebuilt=planner.rebuilds > before)
