"""What `cipopt validate` says about a sound instance: its size, rules and QIA eligibility."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from cipopt.schema.instance import qia_ineligibility
from cipopt.schema.instance import Instance

if TYPE_CHECKING:  # pandas only for `--out` (scheme_table): checking an instance needs none
    import pandas as pd

SCHEME_COLUMNS = ("scheme", "name", "category", "org", "mandatory", "eligible", "ineligible_reason")


def instance_summary(inst: Instance) -> tuple[dict[str, Any], list[str], list[dict[str, Any]]]:
    """The summary (summary.json), the lines printed, and one row per scheme (schemes.csv)."""
    reasons = {s.id: qia_ineligibility(s, inst) for s in inst.schemes}
    schemes = [{"scheme": s.id, "name": s.name, "category": s.category, "org": s.org,
                "mandatory": s.mandatory, "eligible": reasons[s.id] is None,
                "ineligible_reason": reasons[s.id] or ""} for s in inst.schemes]
    categories = Counter(s.category for s in inst.schemes)
    relations = Counter(r.kind for r in inst.relations)
    summary = {
        "name": inst.name,
        "instance_sha256": inst.sha256(),
        "money_unit": inst.money_unit,
        "years": list(inst.years),
        "organisations": list(inst.org_ids),
        "schemes": len(inst.schemes),
        "by_category": dict(sorted(categories.items())),
        "mandatory": [s.id for s in inst.schemes if s.mandatory],
        "ineligible": {k: v for k, v in reasons.items() if v},
        "targets": [t.id for t in inst.targets],
        "limits": [lim.id for lim in inst.limits],
        "relations": dict(sorted(relations.items())),
        "objective": inst.objective.model_dump(),
    }
    if inst.fair_shares:
        summary["fair_shares"] = [r.id for r in inst.fair_shares]
    lines = [
        f"{inst.name}: sound",
        f"  years {inst.years[0]}-{inst.years[-1]}, money in {inst.money_unit}, "
        f"{len(inst.organisations)} organisation(s): {', '.join(inst.org_ids)}",
        f"  {len(inst.schemes)} schemes: " + ", ".join(f"{c} {n}" for c, n in sorted(categories.items())),
        f"  mandatory: {', '.join(summary['mandatory']) or 'none'}",
        "  targets: " + (", ".join(f"{t.id} ({t.basis}, {'hard' if t.hard else 'soft'})" for t in inst.targets) or "none"),
        "  limits: " + (", ".join(f"{lim.id} ({lim.metric} {lim.sense})" for lim in inst.limits) or "none"),
        "  relations: " + (", ".join(f"{k} {n}" for k, n in sorted(relations.items())) or "none"),
        f"  objective: {inst.objective.mode}, risk {inst.objective.risk}",
    ]
    if inst.fair_shares:
        lines.insert(-1, "  fair shares: " + ", ".join(
            f"{r.id} ({r.org or 'sector ' + r.sector} >= {r.min_share:g} of {r.metric})" for r in inst.fair_shares))
    ineligible = summary["ineligible"]
    lines.append(f"  ineligible under the QIA rules: {len(ineligible)}")
    for sid, why in ineligible.items():
        lines.append(f"    {sid}: {why}")
    return summary, lines, schemes


def scheme_table(schemes: list[dict[str, Any]]) -> "pd.DataFrame":
    """The per-scheme rows of `instance_summary` as a frame, for writing schemes.csv."""
    import pandas as pd

    return pd.DataFrame(schemes, columns=list(SCHEME_COLUMNS))
