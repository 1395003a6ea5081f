"""The board paper's sections on the plan itself: timeline, targets, the bottom line, limits,
shortfalls, alternatives and every scheme; report/html.py puts them in a board paper's order."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from cipopt.report.charts import ACCENT, BAD, INK, WARN, Mark, bar_chart, esc, savings_chart, timeline_chart
from cipopt.report.contributions import target_parts
from cipopt.report.inputs import ReportInputs
from cipopt.report.markup import (
    OBJECTIVE_NAMES, by_year, in_words, legend, org_name, rows_of, rule_rows, scheme_names, table, target_title,
)
from cipopt.report.reasons import plan_reasons
from cipopt.report.text import BOTTOM_LINE_ROWS
from cipopt.report.units import Units, fy, plain, words
from cipopt.schema.instance import CATEGORIES
from cipopt.schema.rules import RuleRef

CATEGORY_COLOURS = dict(zip(CATEGORIES, (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
    "#ff9da7", "#9c755f", "#6b6ecf", "#17becf", "#bcbd22", "#8c8c8c",
)))
TIMELINE_ROWS = 150  # schemes drawn on the timeline; the table lists them all


def targets_section(data: ReportInputs, units: Units) -> str:
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


def bottom_line_section(data: ReportInputs, units: Units) -> str:
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


def timeline_section(data: ReportInputs) -> str:
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


def quality_charts(data: ReportInputs) -> str:
    inst, years_list = data.instance, list(data.instance.years)
    if data.years is None:
        return ""
    groups = RuleRef.groups(data.years, "quality")
    charts = []
    for domain in inst.quality.domains:
        group = groups.get(RuleRef("quality", domain, org="all"))
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


def limits_section(data: ReportInputs, units: Units) -> str:
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


def shortfall_section(data: ReportInputs, units: Units) -> str:
    inst = data.instance
    if data.years is None or not inst.targets:
        return ""
    targets = {t.id: t for t in inst.targets}
    rows = []
    for ref, group in RuleRef.groups(data.years, "target").items():
        t, org = targets.get(ref.id), ref.org
        for _, r in group.iterrows():
            short = r.get("shortfall")
            if short is None or (isinstance(short, float) and math.isnan(short)) or short <= 1e-6:
                continue
            penalty = "hard" if t is not None and t.hard else (plain(t.shortfall_penalty, 2) if t is not None else "")
            rows.append([target_title(t) if t is not None else words(ref.id),
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


def schemes_section(data: ReportInputs, units: Units) -> str:
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


def alternatives_section(data: ReportInputs, units: Units) -> str:
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
