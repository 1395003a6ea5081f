"""Pause Python's cyclic garbage collector while a large structure is built.

Building hundreds of thousands of small objects (instance rows, Pyomo expression terms) makes
the collector walk every live object again and again: measured 4.5 s against 1.0 s for the
Pyomo model of 20,000 schemes x 5 years (benchmarks/README.md). Nothing built here is garbage,
so nothing is lost by collecting once afterwards, as Python then does by itself.

Loading a command's modules is the same (classes, functions, tables, all kept to the end), with
one difference: the collection once afterwards walks everything they made, and frees nothing.
In the cipopt process the entry point has them frozen instead (`loading_modules`).
"""

from __future__ import annotations

import contextlib
import gc


@contextlib.contextmanager
def no_cyclic_gc():
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


FREEZE_LOADED_MODULES = False
"""Set by the entry point (cipopt.__main__): the process is cipopt's own, so what a command's
imports made can be moved out of the collector's sight for good (gc.freeze). Left False when
the CLI is imported (tests, notebooks), whose pending garbage a freeze would keep forever."""


@contextlib.contextmanager
def loading_modules():
    """Pause the collector while a command imports its modules and, in the cipopt process, freeze
    what they made: a holby solve's imports cost about 0.1 s of CPU less (docs/performance.md)."""
    with no_cyclic_gc():
        yield
        if FREEZE_LOADED_MODULES:
            gc.freeze()
