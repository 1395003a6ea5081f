"""Meaning checks across the tables of an instance: references, horizons, shares, windows, relations.

Structure and ranges are checked by the pydantic models; here are the rules that need more
than one row or file. Every problem is logged with its place; nothing stops at the first.

When part of the input could not be read (a file unreadable, a row rejected for a bad cell, a
key of instance.yaml refused), the loader passes `Gaps`: checks that depend on the missing part
stay silent rather than report follow-on errors ("unknown scheme X" when X's row was rejected).

The checks live in context_rules.py (instance.yaml) and table_rules.py (the tables), on the shared
state of checks.py; relations.py finds schemes the relations make impossible; gaps.py holds
`SourceRows` and `Gaps`. This module puts them together and is the one import place.
"""

from __future__ import annotations

from cipopt.schema.context_rules import ContextRules
from cipopt.schema.finance import finance_problems, full_year_effect_problems
from cipopt.schema.gaps import (  # noqa: F401  (re-exported: cipopt.schema.validate is the API)
    MAX_MAGNITUDE, MAX_YEARS, METRIC_ALIASES, MONEY_FIELDS, RELATION_CHECK_BUDGET, SHARE_TOLERANCE, Gaps, SourceRows,
    canonical_metric, known_metrics, suggestion,
)
from cipopt.schema.instance import Instance
from cipopt.schema.problems import ProblemLog
from cipopt.schema.relations import RelationAnalysis  # noqa: F401
from cipopt.schema.table_rules import TableRules


def validate_instance(
    instance: Instance, log: ProblemLog, src: SourceRows | None = None, gaps: Gaps | None = None,
) -> None:
    """Log every meaning problem of an instance; `gaps` silences checks on parts not read."""
    src = src or SourceRows()
    gaps = gaps or Gaps()
    check = _Checks(instance, log, src, gaps)
    if not gaps.context:
        check.years()
        check.organisations()
        check.targets_and_limits()
        check.fair_shares()
        finance_problems(instance, check._org_ok, lambda message, key: log.error(check.ctx, message, key=key))
        full_year_effect_problems(instance, lambda message, key: log.error(check.ctx, message, key=key))
        check.quality()
        check.criteria()
    check.schemes()
    check.profiles()
    check.relations()
    check.shares()
    check.scores()
    check.delivery_risk(not gaps.context)
    check.magnitudes(not gaps.context)


class _Checks(ContextRules, TableRules):
    """Every check, grouped by the part of the instance it reads."""
