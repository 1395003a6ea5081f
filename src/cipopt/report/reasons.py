"""Why each scheme is in or out of a plan, in words: the reasons sheet and the report's table.

`reasons_table(outcome)` is the one place the reports take reasons from. Today it states what
is certain from the instance and the plan alone: the start year of a selected scheme (and that
it is mandatory), the quality impact assessment rule that bars an ineligible scheme, a start
window outside the plan years, and the relations that the plan's own choices close off (an
excluded partner selected, a required scheme left out). A scheme out of the plan with none of
these is one the solver left out because the plan is better without it; a deeper explanation
(what it would cost to force it in) can be plugged in here by `cipopt.analysis` later.
"""

from __future__ import annotations

import pandas as pd

from cipopt.schema.instance import Instance, qia_ineligibility

REASON_COLUMNS = ["scheme", "selected", "start_year", "reason"]

Plan = dict[str, int | None]


def reasons_table(outcome) -> pd.DataFrame:
    """One row per scheme: `scheme, selected, start_year, reason` for a solve's outcome."""
    return plan_reasons(outcome.instance, outcome.plan or {}, has_plan=outcome.plan is not None,
                        optimal=outcome.status.value == "optimal")


def plan_reasons(instance: Instance, plan: Plan, has_plan: bool = True, optimal: bool = False) -> pd.DataFrame:
    """The reasons for a plan given as scheme -> start year (None: not selected); `optimal` says
    whether the plan is proven optimal (the words for a scheme simply left out depend on it)."""
    by_id = {s.id: s for s in instance.schemes}
    relations = instance.relations
    rows = []
    for s in instance.schemes:
        start = plan.get(s.id)
        if not has_plan:
            rows.append({"scheme": s.id, "selected": False, "start_year": None,
                         "reason": "no plan was found, so no scheme is selected"})
            continue
        if start is not None:
            words = f"selected, starting in {start}/{(start + 1) % 100:02d}"
            if s.mandatory:
                words += " (mandatory)"
            rows.append({"scheme": s.id, "selected": True, "start_year": int(start), "reason": words})
            continue
        reasons = []
        qia = qia_ineligibility(s, instance)
        if qia:
            reasons.append(f"ineligible under the QIA rules: {qia}")
        first, last = instance.years[0], instance.years[-1]
        lo = s.earliest_start if s.earliest_start is not None else first
        hi = s.latest_start if s.latest_start is not None else last
        if max(lo, first) > min(hi, last):
            reasons.append(f"its start window {lo}-{hi} lies outside the plan years {first}-{last}")
        for r in relations:
            other = r.b if r.a == s.id else r.a if r.b == s.id else None
            if other is None or other not in by_id:
                continue
            chosen = plan.get(other) is not None
            if r.kind == "excludes" and chosen:
                reasons.append(f"excludes {other}, which is selected")
            elif r.kind == "requires" and r.a == s.id and not chosen:
                reasons.append(f"requires {other}, which is not selected")
            elif r.kind == "together" and not chosen:
                reasons.append(f"goes together with {other}, which is not selected")
        if not reasons:
            reasons.append("not chosen: no rule bars it, and the optimal plan does as well or better without it"
                           if optimal else "not chosen in the plan found; no rule bars it")
        rows.append({"scheme": s.id, "selected": False, "start_year": None, "reason": "; ".join(reasons)})
    frame = pd.DataFrame(rows, columns=REASON_COLUMNS)
    frame["start_year"] = frame["start_year"].astype("Int64")
    return frame
