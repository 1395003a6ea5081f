"""The board paper's small pieces of HTML and the names it writes: tables, legends, rows of a rule,
an organisation's, a target's and a scheme's name in words (report/html.py, board.py, fund.py)."""

from __future__ import annotations

import math
import re
from typing import Any

import pandas as pd

from cipopt.report.charts import esc
from cipopt.report.inputs import ReportInputs
from cipopt.report.units import fy, words
from cipopt.schema.instance import Instance
from cipopt.schema.rules import RuleRef


OBJECTIVE_NAMES = {
    "net_present_value": "net present value less target shortfall penalties",
    "savings": "discounted net savings less target shortfall penalties",
    "weighted_score": "weighted appraisal score less target shortfall penalties",
}


def table(header: list[str], rows: list[list[Any]], numeric: set[int] = frozenset(), css: str = "") -> str:
    head = "".join(f'<th{" class=num" if i in numeric else ""}>{esc(h)}</th>' for i, h in enumerate(header))
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            klass = "num" if i in numeric else ""
            if isinstance(cell, tuple):  # (text, extra class)
                cell, extra = cell
                klass = f"{klass} {extra}".strip()
            cells.append(f'<td{f" class={chr(34)}{klass}{chr(34)}" if klass else ""}>{esc(cell)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def legend(items: list[tuple[str, str]], marks: list[tuple[str, str, bool]] = ()) -> str:
    parts = [f'<span class="key"><span class="swatch" style="background:{c}"></span>{esc(n)}</span>' for n, c in items]
    parts += [f'<span class="key"><span class="line{" dashed" if d else ""}" style="border-color:{c}"></span>{esc(n)}</span>'
              for n, c, d in marks]
    return f'<div class="legend">{"".join(parts)}</div>'


def rows_of(years: pd.DataFrame, prefix: str) -> dict[tuple[str, str], pd.DataFrame]:
    sub = years[years["measure"].astype(str).str.startswith(prefix)]
    return {(str(m), str(o)): g for (m, o), g in sub.groupby(["measure", "org"], sort=False)}


def by_year(group: pd.DataFrame, column: str, years: list[int]) -> list[float | None]:
    values = {int(r["year"]): r[column] for _, r in group.iterrows()}
    out = []
    for y in years:
        v = values.get(y)
        out.append(None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v))
    return out


def rule_rows(data: ReportInputs, kind: str, rule_id: str, org: str | None) -> pd.DataFrame | None:
    """The years.csv rows of one target or limit."""
    if data.years is None:
        return None
    groups = RuleRef.groups(data.years, kind)
    group = groups.get(RuleRef(kind, rule_id, org=org or "all"))
    if group is None:
        match = [g for ref, g in groups.items() if ref.id == rule_id]
        group = match[0] if match else None
    return group


def org_name(inst: Instance, org: str | None) -> str:
    if org is None:
        return "the whole system" if len(inst.organisations) > 1 else \
            (inst.organisations[0].name or inst.organisations[0].id if inst.organisations else "the organisation")
    for o in inst.organisations:
        if o.id == org:
            return o.name or words(o.id)
    return words(org)


def target_title(t) -> str:
    """A target in words, its basis after it: "Control total (in-year)". An id that starts with its
    organisation's id (`cgh-control-total`) drops it: the organisation is named beside it."""
    ident = str(t.id)
    if t.org and ident.lower().startswith(str(t.org).lower()) and ident[len(t.org):len(t.org) + 1] in ("-", "_"):
        ident = ident[len(t.org) + 1:]
    name = words(ident)
    name = name[:1].upper() + name[1:]
    return f"{name} ({'recurrent' if t.basis == 'recurrent' else 'in-year'})"


def target_label(inst: Instance, t) -> str:
    """A target named so it cannot be mistaken for another: its title, and in a system its
    organisation ("Control total (in-year), Melchester District General Hospital NHS Trust")."""
    if len(inst.organisations) > 1:
        return f"{target_title(t)}, {org_name(inst, t.org)}"
    return target_title(t)


def scheme_names(inst: Instance) -> dict[str, str]:
    return {s.id: (s.name or words(s.id)) for s in inst.schemes}


def in_words(text: str, inst: Instance) -> str:
    """A reason or message as a board reads it: scheme ids as names, rule keys as words."""
    names = scheme_names(inst)
    replacements = {"qia_risk": "QIA risk", "hard_max_risk": "the hard maximum risk",
                    "max_risk": "the maximum risk", "scheme_min": "the scheme minimum",
                    "portfolio_min": "the portfolio floor"}
    for key, value in replacements.items():
        text = text.replace(key, value)
    if names:
        pattern = re.compile(r"(?<![\w-])(" + "|".join(re.escape(k) for k in sorted(names, key=len, reverse=True))
                             + r")(?![\w-])")
        text = pattern.sub(lambda m: names[m.group(1)], text)
    return re.sub(r"\b(20\d\d)(?!/)\b(?=[^\d]|$)", lambda m: fy(m.group(1)), text)
