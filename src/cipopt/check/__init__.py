"""The independent plan checker: does a plan keep every rule of the instance format, and what is it worth?

It recomputes everything from the validated `Instance` alone (see docs/checker.md), so it can
confirm a plan from the optimiser, a spreadsheet or a person.
"""

from cipopt.check.checker import ABS_TOL, REL_TOL, check_plan, tolerance
from cipopt.check.report import CheckReport, Violation

__all__ = ["ABS_TOL", "REL_TOL", "CheckReport", "Violation", "check_plan", "tolerance"]
