"""The `cipopt` command: argument handling and printing only; one module per group of commands."""

from cipopt.cli import core  # noqa: F401  (registers solve, check, validate, build)
from cipopt.cli import reports  # noqa: F401  (registers template, convert, report, runs, schema)
from cipopt.cli import analysis  # noqa: F401  (registers whatif, frontier)
from cipopt.cli import alternatives, explain  # noqa: F401
from cipopt.cli import rank  # noqa: F401  (registers rank)
from cipopt.cli import simulate  # noqa: F401  (registers simulate)
from cipopt.cli import replan  # noqa: F401  (registers replan)
from cipopt.cli.base import main

__all__ = ["main"]
