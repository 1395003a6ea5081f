"""`cipopt report`: one self-contained HTML board paper, from a solution folder.

The report reads what `cipopt solve --out` wrote (plan.csv, years.csv, summary.json, and the
files `simulate`, `alternatives` and `explain` add) and the instance; or, from a `cipopt rank
--out` folder, the fund panel's ranking. It holds no external reference at all: inline styles,
inline SVG charts drawn here, no script; it opens offline, prints on A4, and mails as one file.

Order (a board paper's): the executive summary in words (board.py), the plan, savings against
each target, quality (the QIA table with sign-offs, harms flagged), delivery risk, the use of
limits, alternatives and sensitivity, then every scheme in or out with the reason.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cipopt.report.charts import ACCENT, BAD, GOOD, GRID, INK, MUTED, WARN, Mark, bar_chart, esc, \
    savings_chart, timeline_chart
from cipopt.report.inputs import ReportInputs, read_solution
from cipopt.report.reasons import plan_reasons
from cipopt.report.units import Units, fy, plain, words
from cipopt.report.text import BOTTOM_LINE_ROWS
from cipopt.schema.instance import CATEGORIES, Instance
from cipopt.schema.problems import ProblemLog

CATEGORY_COLOURS = dict(zip(CATEGORIES, (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
    "#ff9da7", "#9c755f", "#6b6ecf", "#17becf", "#bcbd22", "#8c8c8c",
)))
TIMELINE_ROWS = 150  # schemes drawn on the timeline; the table lists them all
OBJECTIVE_NAMES = {
    "net_present_value": "net present value less target shortfall penalties",
    "savings": "discounted net savings less target shortfall penalties",
    "weighted_score": "weighted appraisal score less target shortfall penalties",
}

__all__ = ["ReportInputs", "read_solution", "render_report", "build_report", "category_contributions",
           "target_parts"]


# -- figures -----------------------------------------------------------------------------------

def _starts(instance: Instance, plan: dict[str, int | None]):
    from cipopt.coefficients import build_coefficients
    from cipopt.results import starts_from_plan

    coef = build_coefficients(instance)
    try:
        return coef, starts_from_plan(coef, plan)
    except (ValueError, KeyError):
        return coef, None


def category_contributions(instance: Instance, plan: dict[str, int | None], basis: str, org: str | None
                           ) -> dict[str, np.ndarray] | None:
    """Per category, the plan's net contribution to a target's measure in each year (None if the
    plan starts a scheme where it may not start: the checker says so; the report shows totals)."""
    coef, x = _starts(instance, plan)
    if x is None:
        return None
    matrix = coef.target_matrix(basis, org, instance.objective.counts_confidence)
    category = np.array([instance.schemes[s].category for s in coef.pair_scheme], dtype=object) \
        if coef.n_pairs else np.array([], dtype=object)
    out: dict[str, np.ndarray] = {}
    for c in CATEGORIES:
        mask = (category == c).astype(float)
        if not mask.any():
            continue
        values = matrix @ (x * mask)
        if np.any(np.abs(values) > 1e-9):
            out[c] = np.asarray(values, dtype=float)
    return out


def target_parts(instance: Instance, plan: dict[str, int | None], basis: str, org: str | None
                 ) -> tuple[dict[str, np.ndarray], np.ndarray] | None:
    """A target's measure split the way a board reads it: the savings per category (at confidence
    x value when the objective counts confidence) and the costs it nets off, as positive amounts.
    savings - costs is the measure (years.csv's achieved)."""
    from cipopt.coefficients import IN_YEAR_TERMS, RECURRENT_TERMS
    from cipopt.schema.instance import SAVING_METRICS

    coef, x = _starts(instance, plan)
    if x is None:
        return None
    expected = instance.objective.counts_confidence
    terms = RECURRENT_TERMS if basis == "recurrent" else IN_YEAR_TERMS
    category = np.array([instance.schemes[s].category for s in coef.pair_scheme], dtype=object) \
        if coef.n_pairs else np.array([], dtype=object)
    savings: dict[str, np.ndarray] = {}
    costs = np.zeros(len(instance.years))
    for sign, metric in terms:
        if sign < 0:
            costs += coef.total(metric, org, x)
            continue
        for c in CATEGORIES:
            mask = (category == c).astype(float)
            if mask.any():
                part = coef.total(metric, org, x * mask, expected and metric in SAVING_METRICS)
                if np.any(np.abs(part) > 1e-9):
                    savings[c] = savings.get(c, 0.0) + np.asarray(part, dtype=float)
    return savings, costs


# -- pieces ------------------------------------------------------------------------------------

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
    groups = rows_of(data.years, f"{kind}:")
    group = groups.get((f"{kind}:{rule_id}", org or "all"))
    if group is None:
        match = [g for (m, _), g in groups.items() if m == f"{kind}:{rule_id}"]
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


# -- sections ----------------------------------------------------------------------------------

def _targets_section(data: ReportInputs, units: Units) -> str:
    inst, years_list = data.instance, list(data.instance.years)
    if data.years is None or not inst.targets:
        return ""
    weighting = ", savings at confidence \u00d7 value" if inst.objective.counts_confidence else ""
    out = ['<section id="targets"><h2>Savings against targets</h2>',
           f'<p class="lead">What the plan achieves each year against each target ({esc(units.symbol)}{weighting}). '
           'The coloured blocks are the savings by category of scheme; the grey block hanging from their top '
           'is the costs netted off them, so the bar\'s coloured part below the blue line is the net achieved. '
           'The black line is what is required; a red line marks a shortfall.</p>']
    for t in inst.targets:
        group = rule_rows(data, "target", t.id, t.org)
        if group is None:
            continue
        achieved = by_year(group, "value", years_list)
        required = [t.values.get(y) for y in years_list]
        shortfall = by_year(group, "shortfall", years_list) if "shortfall" in group else [None] * len(years_list)
        parts = target_parts(inst, data.plan, t.basis, t.org) if data.plan is not None else None
        if parts is not None:
            savings, costs = parts
            stacks = [(words(c), CATEGORY_COLOURS[c], list(v)) for c, v in savings.items()]
            total = (np.sum(list(savings.values()), axis=0) if savings else np.zeros(len(years_list))) - costs
            achieved = [float(v) if a is None else a for v, a in zip(total, achieved)]
        else:
            stacks = [("net achieved", ACCENT, [max(v or 0.0, 0.0) for v in achieved])]
            costs = [max(-(v or 0.0), 0.0) for v in achieved]
        rule = "hard: must be met" if t.hard else \
            f"soft: each {units.symbol} short costs {plain(t.shortfall_penalty, 2)} in the objective"
        chart = savings_chart(years_list, stacks, list(costs), required, units,
                              label=f"{words(t.id)}: savings by category less costs, against what is required")
        rows = []
        for i, y in enumerate(years_list):
            short = shortfall[i] or 0.0
            rows.append([fy(y), units.number(achieved[i]), units.number(required[i]),
                         (units.number(short) if short > 1e-6 else "-", "bad" if short > 1e-6 else "")])
        out.append(f'<div class="figure"><h3>{esc(target_title(t))}</h3>'
                   f'<p class="sub">{esc(org_name(inst, t.org))}; {esc(rule)}</p>{chart}'
                   + legend([(s[0], s[1]) for s in stacks] + [("less costs", "#9aa3ad")],
                            [("net achieved", ACCENT, False), ("required", INK, False), ("shortfall", BAD, False)])
                   + table(["year", f"achieved ({units.symbol})", f"required ({units.symbol})",
                            f"shortfall ({units.symbol})"], rows, {1, 2, 3}, "compact")
                   + "</div>")
    out.append("</section>")
    return "".join(out)


def _bottom_line_section(data: ReportInputs, units: Units) -> str:
    """The finance extension (docs/finance.md): the do-nothing position, the plan, incentives, cash."""
    inst = data.instance
    if data.years is None or inst.finance is None:
        return ""
    years_list = list(inst.years)
    frame = data.years
    scopes = ["all"] + (list(inst.org_ids) if len(inst.organisations) > 1 else [])
    parts = ['<section id="bottom-line"><h2>The bottom line</h2>',
             f'<p class="lead">Income and expenditure and cash per year ({esc(units.symbol)}): the do-nothing '
             'surplus (a deficit is negative), what the plan adds, the incentive funding it secures and the '
             'resulting surplus and closing cash.</p>']
    for scope in scopes:
        here = frame[frame["org"].astype(str) == scope]
        rows = []
        for measure, label in BOTTOM_LINE_ROWS:
            values = by_year(here[here["measure"] == measure], "value", years_list)
            rows.append([label, *(units.number(v) if v is not None else "" for v in values)])
        parts.append(f"<h3>{esc('all organisations' if scope == 'all' else org_name(inst, scope))}</h3>"
                     + table(["", *(fy(y) for y in years_list)], rows, set(range(1, len(years_list) + 1))))
    rules = []
    for (measure, org), group in {**rows_of(frame, "control_total:"), **rows_of(frame, "incentive:")}.items():
        cells = []
        for y in years_list:
            row = group[group["year"].astype(int) == y]
            if row.empty or pd.isna(row["bound"].iloc[0]):
                cells.append("")
                continue
            r = row.iloc[0]
            if measure.startswith("incentive:"):
                cells.append(("received", "") if r["shortfall"] <= 1e-6 else (f"lost {units.money(r['shortfall'])}", "bad"))
            else:
                missed = r["shortfall"] > 1e-6
                cells.append((f"{units.money(r['value'])} / {units.money(r['bound'])}", "bad" if missed else ""))
        kind, _, ident = measure.partition(":")
        rules.append([("control total " if kind == "control_total" else "incentive fund ") + ident, org, *cells])
    if rules:
        parts.append('<p class="lead">Each control total (surplus before incentive funding / required) and '
                     'each incentive fund, received in full or lost in full.</p>'
                     + table(["rule", "scope", *(fy(y) for y in years_list)], rules,
                              set(range(2, len(years_list) + 2))))
    parts.append("</section>")
    return "".join(parts)


def _timeline_section(data: ReportInputs) -> str:
    inst = data.instance
    if data.plan is None:
        return ""
    by_id = {s.id: s for s in inst.schemes}
    chosen = [(sid, y) for sid, y in data.plan.items() if y is not None and sid in by_id]
    chosen.sort(key=lambda p: (p[1], CATEGORIES.index(by_id[p[0]].category) if by_id[p[0]].category in CATEGORIES else 99, p[0]))
    if not chosen:
        return '<section id="timeline"><h2>The plan</h2><p>No scheme is selected.</p></section>'
    rows = [(sid, by_id[sid].name or words(sid), by_id[sid].category, y) for sid, y in chosen]
    more = ""
    if len(rows) > TIMELINE_ROWS:
        more = f"<p class=sub>The first {TIMELINE_ROWS:,} of {len(rows):,} are drawn; the table at the end lists all.</p>"
        rows = rows[:TIMELINE_ROWS]
    counts = pd.Series([y for _, y in chosen]).value_counts().sort_index()
    starts = ", ".join(f"{n:,} in {fy(y)}" for y, n in counts.items())
    used = list(dict.fromkeys(r[2] for r in rows))
    return (f'<section id="timeline"><h2>The plan: when schemes start</h2>'
            f'<p class="lead">{len(chosen):,} of {len(inst.schemes):,} schemes selected; starts: {esc(starts)}. '
            'A scheme runs from its start to the end of the plan.</p>'
            + timeline_chart(list(inst.years), rows, CATEGORY_COLOURS) + more
            + legend([(words(c), CATEGORY_COLOURS.get(c, "#8c8c8c")) for c in used]) + "</section>")


def _quality_charts(data: ReportInputs) -> str:
    inst, years_list = data.instance, list(data.instance.years)
    if data.years is None:
        return ""
    groups = rows_of(data.years, "quality:")
    charts = []
    for domain in inst.quality.domains:
        group = groups.get((f"quality:{domain}", "all"))
        if group is None:
            continue
        values = by_year(group, "value", years_list)
        floor = inst.quality.portfolio_min.get(domain)
        if floor is None and not any(v for v in values if v):
            continue  # nothing to see: no floor and no scheme scores in this domain
        floors = [floor] * len(years_list) if floor is not None else [None] * len(years_list)
        colours = [BAD if floor is not None and v is not None and v < floor - 1e-9 else "#6a9fcf" for v in values]
        marks = [Mark("floor", floors, BAD, dashed=True)] if floor is not None else []
        chart = bar_chart(years_list, [(domain, "#6a9fcf", [v or 0.0 for v in values])], marks, axis="QIA score",
                          width=420, height=200, label=f"quality {domain}", bar_colours=colours)
        note = f"floor {plain(floor, 1)} each year" if floor is not None else "no floor"
        charts.append(f'<div class="figure small"><h3>{esc(words(domain).capitalize())}</h3>'
                      f'<p class="sub">{esc(note)}</p>{chart}</div>')
    if not charts:
        return ""
    return ('<p class="lead">The summed QIA score of the schemes active each year (\u22122 major harm to +2 major '
            'benefit per scheme); the red dashed line is the floor the portfolio must keep.</p>'
            f'<div class="multiples">{"".join(charts)}</div>')


def _limits_section(data: ReportInputs, units: Units) -> str:
    from cipopt.schema.instance import BUILTIN_METRICS

    inst, years_list = data.instance, list(data.instance.years)
    if data.years is None or not inst.limits:
        return ""
    charts, rows = [], []
    for lim in inst.limits:
        group = rule_rows(data, "limit", lim.id, lim.org)
        if group is None:
            continue
        money = lim.metric in BUILTIN_METRICS
        use = by_year(group, "value", years_list)
        bounds = [lim.values.get(y) for y in years_list]
        colours = []
        for u, b in zip(use, bounds):
            tight = b is not None and u is not None and abs(u - b) <= 1e-6 * max(1.0, abs(b))
            colours.append(WARN if tight else "#4e79a7")
        axis = units.symbol if money else words(lim.metric)
        chart = bar_chart(years_list, [(words(lim.metric), "#4e79a7", [u or 0.0 for u in use])],
                          [Mark(f"bound ({lim.sense})", bounds, INK, dashed=True)], axis=axis,
                          units=units if money else None, width=420, height=200, label=f"limit {words(lim.id)}",
                          bar_colours=colours)
        scope = f" for {org_name(inst, lim.org)}" if lim.org else ""
        sense = {"<=": "at most", ">=": "at least", "==": "exactly"}[lim.sense]
        charts.append(f'<div class="figure small"><h3>{esc(words(lim.id).capitalize())}</h3><p class="sub">'
                      f'{esc(words(lim.metric))}{esc(scope)}: {sense} the dashed bound; orange where it is reached'
                      f'</p>{chart}</div>')
        show = units.number if money else (lambda v: plain(v, 0 if v is None or abs(v) >= 100 else 1))
        cells = []
        for u, b in zip(use, bounds):
            if b is None or u is None:
                cells.append(show(u) if u is not None else "-")
            elif lim.sense == "<=" and abs(b) > 1e-12:
                cells.append(f"{show(u)} of {show(b)} ({u / b:.0%})")
            else:
                cells.append(f"{show(u)} ({sense} {show(b)})")
        rows.append([f"{words(lim.id)} ({units.symbol if money else words(lim.metric)})", *cells])
    if not charts:
        return ""
    return ('<section id="limits"><h2>Use of limits</h2><p class="lead">What the plan uses of each limit each year '
            '(plan values, not weighted by confidence).</p>'
            f'<div class="multiples">{"".join(charts)}</div>'
            + table(["limit", *[fy(y) for y in years_list]], rows, set(range(1, len(years_list) + 1)), "compact")
            + "</section>")


def _shortfall_section(data: ReportInputs, units: Units) -> str:
    inst = data.instance
    if data.years is None or not inst.targets:
        return ""
    targets = {t.id: t for t in inst.targets}
    rows = []
    for (measure, org), group in rows_of(data.years, "target:").items():
        t = targets.get(measure.removeprefix("target:"))
        for _, r in group.iterrows():
            short = r.get("shortfall")
            if short is None or (isinstance(short, float) and math.isnan(short)) or short <= 1e-6:
                continue
            penalty = "hard" if t is not None and t.hard else (plain(t.shortfall_penalty, 2) if t is not None else "")
            rows.append([target_title(t) if t is not None else words(measure.removeprefix("target:")),
                         org_name(inst, None if org == "all" else org), fy(r["year"]), units.number(r["value"]),
                         units.number(r["bound"]), (units.number(short), "bad"), penalty])
    if not rows:
        body = '<p class="ok">Every target is met in every year.</p>'
    else:
        body = ('<p class="lead">Where the plan falls short of a target; a soft target\'s shortfall costs '
                'its penalty per unit in the objective.</p>'
                + table(["target", "organisation", "year", f"achieved ({units.symbol})", f"required ({units.symbol})",
                         f"shortfall ({units.symbol})", "penalty per unit short"], rows, {3, 4, 5, 6}))
    return f'<section id="shortfalls"><h2>Shortfalls</h2>{body}</section>'


def _schemes_section(data: ReportInputs, units: Units) -> str:
    inst = data.instance
    optimal = data.summary.get("status") == "optimal"
    reasons = plan_reasons(inst, data.plan or {}, has_plan=data.plan is not None, optimal=optimal)
    if data.explanations is not None:  # `cipopt explain` wrote its reasons here: they say more
        explained = dict(zip(data.explanations["scheme"], data.explanations["reason"]))
        reasons["reason"] = [explained.get(s, r) for s, r in zip(reasons["scheme"], reasons["reason"])]
    by_id = {s.id: s for s in inst.schemes}
    rows = []
    order = reasons.assign(_k=reasons["start_year"].astype("Float64").fillna(1e9)).sort_values(["_k", "scheme"], kind="stable")
    for _, r in order.iterrows():
        s = by_id[r["scheme"]]
        start = "" if pd.isna(r["start_year"]) else fy(int(r["start_year"]))
        rows.append([s.name or words(s.id), words(s.category), ("in", "in") if r["selected"] else ("out", "out"),
                     start, units.number(s.recurrent_saving), in_words(str(r["reason"]), inst)])
    n_in = int(reasons["selected"].sum())
    return (f'<section id="schemes"><h2>Schemes in and out</h2><p class="lead">{n_in:,} in, {len(rows) - n_in:,} out, '
            'with the reason (recurrent saving is the full-year effect, at face value).</p>'
            + table(["scheme", "category", "", "start", f"recurrent saving ({units.symbol})", "reason"], rows, {4},
                    "schemes")
            + "</section>")


def _alternatives_section(data: ReportInputs, units: Units) -> str:
    """Other good plans and how much each pick of the best plan matters (`cipopt alternatives`)."""
    if data.alternatives is None and data.importance is None:
        return ""
    inst = data.instance
    names = scheme_names(inst)
    parts = ['<section id="alternatives"><h2>Alternatives and sensitivity</h2>']
    if data.alternatives is not None:
        rows = []
        for r in data.alternatives.itertuples():
            changes = "; ".join(f"{label} " + ", ".join(names.get(x, x) for x in str(getattr(r, label)).split(";"))
                                for label in ("added", "removed", "moved")
                                if hasattr(r, label) and isinstance(getattr(r, label), str) and getattr(r, label))
            below = getattr(r, "below_best_pct", 0.0)
            rows.append([f"plan {r.plan}", units.number(r.objective), "best" if r.plan == 1 else f"{below:.2f}% below",
                         changes or ("the optimal plan" if r.plan == 1 else "")])
        parts.append('<p class="lead">Genuinely different plans close to the best, by the objective the plan '
                     f'maximises ({esc(OBJECTIVE_NAMES.get(inst.objective.mode, "objective"))}).</p>'
                     + table(["plan", f"objective ({units.symbol})", "against the best", "differences from the best plan"],
                             rows, {1}, "alternatives"))
    if data.importance is not None:
        rows = []
        for r in data.importance.itertuples():
            loss = getattr(r, "loss_when_excluded", None)
            status = str(getattr(r, "status_when_excluded", "") or "")
            shown = "mandatory" if status == "mandatory" else "needed" if status == "infeasible" else (
                units.number(float(loss)) if loss is not None and loss == loss else words(status))
            core = "core" if str(getattr(r, "in_every_alternative", "")).lower() in ("true", "1") else ""
            rows.append([f"{int(r.rank):,}", names.get(r.scheme, r.scheme), shown, core])
        parts.append('<p class="lead">Each scheme of the best plan: the objective lost without it '
                     '("needed": no plan keeps the rules without it) and whether every alternative keeps it '
                     '(the core a board can treat as settled).</p>'
                     + table(["rank", "scheme", f"lost without it ({units.symbol})", "in every alternative"], rows, {2},
                             "importance"))
    return "".join(parts) + "</section>"


CSS = """
*{box-sizing:border-box}
body{font-family:"Segoe UI",Arial,Helvetica,sans-serif;color:%(ink)s;margin:0;background:#f4f6f9;font-size:14px;line-height:1.45}
main{max-width:940px;margin:0 auto;padding:24px 28px 48px;background:#fff}
header h1{font-size:24px;margin:0 0 4px;color:%(accent)s}
header p{margin:0;color:%(muted)s}
h2{font-size:18px;margin:28px 0 6px;padding-bottom:4px;border-bottom:2px solid %(accent)s;color:%(accent)s}
h3{font-size:15px;margin:14px 0 2px}
.lead{margin:2px 0 10px;color:%(muted)s}.sub{margin:0 0 6px;color:%(muted)s;font-size:12.5px}
#summary p,#summary li{font-size:14.5px}#summary ul{margin:4px 0 10px 0;padding-left:20px}
#summary .recommendation{font-size:15.5px;font-weight:600;border-left:5px solid %(accent)s;padding:6px 12px;background:#f2f6fb}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin-top:14px}
.card{flex:1 1 110px;border:1px solid %(grid)s;border-left:5px solid %(accent)s;padding:8px 12px;border-radius:4px}
.card .k{font-size:12px;color:%(muted)s}.card .v{font-size:18px;font-weight:600;white-space:nowrap}
.card.good{border-left-color:%(good)s}.card.warn{border-left-color:%(warn)s}.card.bad{border-left-color:%(bad)s}
.messages{color:%(bad)s}
svg.chart{display:block;max-width:100%%;height:auto;font-size:11px}
svg .tick{fill:%(muted)s;font-size:11px}svg .label{fill:%(ink)s;font-size:11.5px}
svg .axis{fill:%(ink)s;font-size:11.5px;font-weight:600}svg .gaplabel{font-size:11px;font-weight:600}
.multiples{display:grid;grid-template-columns:1fr 1fr;gap:8px 20px}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;margin:4px 0 8px;font-size:12px;color:%(muted)s}
.key{display:inline-flex;align-items:center;gap:5px}
.swatch{display:inline-block;width:11px;height:11px;border-radius:2px}
.line{display:inline-block;width:18px;border-top:3px solid}.line.dashed{border-top-style:dashed}
table{border-collapse:collapse;width:100%%;margin:6px 0 12px;font-size:12.5px}
th,td{padding:3px 7px;border-bottom:1px solid %(grid)s;text-align:left;vertical-align:top}
th{background:#eef2f7;font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.compact{width:auto;min-width:50%%}
td.bad{color:%(bad)s;font-weight:600}td.warn{color:%(warn)s;font-weight:600}
td.in{color:%(good)s;font-weight:700}td.out{color:%(muted)s}
tr.flag td{background:#fdecea}
table.ranking,table.qia{font-size:11.5px}table.ranking th,table.qia th{white-space:normal}
.ok{color:%(good)s;font-weight:600}
footer{margin-top:30px;color:%(muted)s;font-size:11.5px;border-top:1px solid %(grid)s;padding-top:8px;overflow-wrap:anywhere}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}
@media print{body{background:#fff;font-size:11pt}main{max-width:none;padding:0}
 .figure,.card,tr,.recommendation,svg{break-inside:avoid}h2,h3{break-after:avoid}
 section#targets,section#quality,section#risk,section#schemes{break-before:page}
 thead{display:table-header-group}.multiples{grid-template-columns:1fr 1fr}}
@page{size:A4;margin:14mm}
""" % {"ink": INK, "muted": MUTED, "grid": GRID, "good": GOOD, "bad": BAD, "warn": WARN, "accent": ACCENT}


def _options_in_words(options: dict) -> str:
    """Solver options as a person writes them; unset ones are HiGHS's defaults, not 'None'."""
    said = []
    if options.get("time_limit") is not None:
        said.append(f"time limit {plain(options['time_limit'], 0)} seconds")
    if options.get("mip_gap") is not None:
        said.append(f"stopping within {options['mip_gap']:.2%} of the best possible")
    said.append(f"{options['threads']} threads" if options.get("threads") is not None else "threads as HiGHS chooses")
    if options.get("seed") is not None:
        said.append(f"random seed {options['seed']}")
    return ", ".join(said)


def render_report(data: ReportInputs, *, generated: dt.datetime | None = None, scale: str = "k") -> str:
    """The whole report as one HTML document; money in £k (scale "k") or £m ("m")."""
    from cipopt.report.board import delivery_risk_section, executive_summary, quality_section
    from cipopt.report.fund import fund_sections

    inst, summary = data.instance, data.summary
    units = Units.of(inst.money_unit, scale)
    generated = generated or dt.datetime.now()
    years = list(inst.years)
    if data.is_ranking:
        title = "fund panel ranking"
        sections = fund_sections(data, units)
        options = ""
    else:
        title = "savings plan"
        sections = [
            executive_summary(data, units), _timeline_section(data), _targets_section(data, units),
            _bottom_line_section(data, units), quality_section(data, units, _quality_charts(data)), delivery_risk_section(data, units),
            _limits_section(data, units), _shortfall_section(data, units), _alternatives_section(data, units),
            _schemes_section(data, units),
        ]
        opts = summary.get("solver_options") or {}
        options = f" ({esc(_options_in_words(opts))})" if opts else ""
    footer = (f"Instance {esc(inst.name)}; fingerprint (sha256) {esc(inst.sha256())}. Solved with "
              f"{esc(str(summary.get('solver', 'highs')).upper())} {esc(summary.get('solver_version', ''))}{options}; "
              f"cipopt {esc(summary.get('cipopt_version', ''))}. Report made "
              f"{esc(generated.strftime('%d %B %Y %H:%M'))} from {esc(data.solution_dir)}.")
    unit_note = f"money in {units.symbol}" if units.pounds else f"money in {inst.money_unit}"
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{esc(inst.name)}: {title}</title><style>{CSS}</style></head><body><main>"
        f"<header><h1>{esc(inst.name)}</h1><p>{title.capitalize()}, {esc(fy(years[0]))} to {esc(fy(years[-1]))}; "
        f"{esc(unit_note)}.</p></header>"
        + "".join(s for s in sections if s)
        + f"<footer>{footer}</footer></main></body></html>\n"
    )


def build_report(instance: Instance, solution_dir: str | Path, log: ProblemLog | None = None, scale: str = "k") -> str:
    log = log if log is not None else ProblemLog()
    return render_report(read_solution(instance, solution_dir, log), scale=scale)
