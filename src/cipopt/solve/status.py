"""Our own solve status, mapped from HiGHS through one explicit table; unknown means error."""

from __future__ import annotations

from enum import Enum

from cipopt.errors import (  # noqa: F401  (EXIT_BAD_INPUT, EXIT_INTERRUPTED: kept importable from here)
    EXIT_BAD_INPUT, EXIT_INFEASIBLE, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_NO_PLAN, EXIT_OK,
)


class SolveStatus(str, Enum):
    OPTIMAL = "optimal"
    FEASIBLE = "feasible"  # a limit stopped the solver with an incumbent; the gap is reported
    INFEASIBLE = "infeasible"
    TIME_LIMIT_NO_SOLUTION = "time_limit_no_solution"
    ERROR = "error"

    def __str__(self) -> str:
        return self.value

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self]

    @property
    def has_plan(self) -> bool:
        return self in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)


EXIT_CODES = {
    SolveStatus.OPTIMAL: EXIT_OK,
    SolveStatus.FEASIBLE: EXIT_OK,
    SolveStatus.INFEASIBLE: EXIT_INFEASIBLE,
    SolveStatus.TIME_LIMIT_NO_SOLUTION: EXIT_NO_PLAN,
    SolveStatus.ERROR: EXIT_INTERNAL,
}


def map_status(model_status, has_incumbent: bool) -> SolveStatus:
    """HiGHS model status (+ whether a feasible solution exists) to our status.

    highspy is imported here, by the solve that needs it, so that the status enum (read by every
    command) does not load HiGHS."""
    import highspy

    _MS = highspy.HighsModelStatus
    _STOPPED_BY_A_LIMIT = {
        _MS.kTimeLimit, _MS.kIterationLimit, _MS.kSolutionLimit, _MS.kInterrupt,
        _MS.kObjectiveBound, _MS.kObjectiveTarget,
    }
    if hasattr(_MS, "kMemoryLimit"):
        _STOPPED_BY_A_LIMIT.add(_MS.kMemoryLimit)
    if model_status == _MS.kOptimal:
        return SolveStatus.OPTIMAL if has_incumbent else SolveStatus.ERROR
    if model_status in (_MS.kInfeasible, _MS.kUnboundedOrInfeasible):
        return SolveStatus.INFEASIBLE
    if model_status in _STOPPED_BY_A_LIMIT:
        return SolveStatus.FEASIBLE if has_incumbent else SolveStatus.TIME_LIMIT_NO_SOLUTION
    return SolveStatus.ERROR
