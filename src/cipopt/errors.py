"""Exceptions and exit codes every command shares, in a module that imports nothing heavy.

The CLI's failure guard needs these classes before any command runs; defining them here (not
next to Pyomo, HiGHS or pandas code) keeps `cipopt --help` and `cipopt validate` from loading
those libraries (docs/performance.md, "Start-up").
"""

from __future__ import annotations

EXIT_OK = 0  # a plan (optimal or feasible), or a check that passes
EXIT_CHECK_FAILED = 1
EXIT_INTERNAL = 1  # an internal error, or the checker rejected the solver's plan
EXIT_BAD_INPUT = 2
EXIT_INFEASIBLE = 3  # no plan keeps every rule
EXIT_NO_PLAN = 4  # no plan found within the limits
EXIT_INTERRUPTED = 130


class SolveInterrupted(Exception):
    """The user pressed Ctrl-C during a solve; the solve was cancelled cleanly."""


class OutputExists(Exception):
    """The output folder already holds files and the user did not pass --force."""


class BadArguments(OutputExists):
    """Arguments that cannot work together or name the wrong kind of file: like an existing
    output, reported in one line with exit code 2, before any work."""


class SweepUnavailable(Exception):
    """The Dask cluster asked for cannot be started or reached (a runtime failure, exit code 1)."""
