"""Pause Python's cyclic garbage collector while a large structure is built.

Building hundreds of thousands of small objects (instance rows, Pyomo expression terms) makes
the collector walk every live object again and again: measured 4.5 s against 1.0 s for the
Pyomo model of 20,000 schemes x 5 years (benchmarks/README.md). Nothing built here is garbage,
so nothing is lost by collecting once afterwards, as Python then does by itself.
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
