"""The board paper's own sections: the executive summary in words, quality (the QIA table with
its sign-offs, harms flagged) and delivery risk (the probability of meeting each target).

Every sentence is a claim: each figure is read from the solution folder (years.csv,
summary.json, simulation.csv) or the instance, never estimated, and tests/test_board_paper.py
recomputes each with the independent checker.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cipopt.report.charts import band_chart, esc
from cipopt.report.markup import (
    OBJECTIVE_NAMES, by_year, in_words, legend, org_name, rule_rows, scheme_names, table, target_label,
    target_title,
)
from cipopt.report.inputs import ReportInputs
from cipopt.report.units import Units, fy, listing, plain, words
from cipopt.schema.instance import Instance
from cipopt.schema.rules import RuleRef

TIGHT = 1e-6  # a limit counts as reached when use is within this (relative) of its bound
NAMES_SHOWN = 6  # names listed in a sentence before "and N more"


# -- facts -------------------------------------------------------------------------------------

@dataclass
class TargetFacts:
    target: object
    achieved: list[float | None]
    required: list[float | None]
    shortfall: list[float]  # 0 where met or no value that year


@dataclass
class Facts:
    """What the executive summary says, as numbers (instance money unit)."""

    status: str
    gap: float | None
    checker: str | None
    selected: list[str] = field(default_factory=list)
    starts: dict[int, int] = field(default_factory=dict)  # year -> schemes starting
    targets: list[TargetFacts] = field(default_factory=list)
    net_present_value: float | None = None
    objective: float | None = None
    penalty: float | None = None
    recurrent_final: float | None = None  # recurrent net saving in the last plan year (whole system)
    in_year_total: float | None = None  # in-year net savings summed over the plan years
    harms: list[str] = field(default_factory=list)  # selected schemes scoring below 0 in a domain
    approved_only: list[str] = field(default_factory=list)  # selected, eligible only because approved
    reached: list[tuple[str, list[int]]] = field(default_factory=list)  # limit id, years at the bound
    probability: list[tuple[str, int, float]] = field(default_factory=list)  # target, year, P(meet)
    left_out: dict[str, list[str]] = field(default_factory=dict)  # kind -> schemes


def harm_domains(inst: Instance, scheme) -> list[str]:
    return [d for d in inst.quality.domains if scheme.domain_score(d) < 0]


def eligible_only_because_approved(inst: Instance, scheme) -> bool:
    """Approved, and the QIA rules would bar it were it not (a domain below scheme_min, or a
    risk above max_risk): a decision the medical and nursing directors signed off."""
    q = inst.quality
    if not scheme.qia_approved:
        return False
    below = any(scheme.domain_score(d) < m for d, m in q.scheme_min.items())
    risky = q.max_risk is not None and scheme.qia_risk > q.max_risk
    return below or risky


def _measure(years: pd.DataFrame, measure: str, org: str = "all") -> pd.Series:
    rows = years[(years["measure"] == measure) & (years["org"].astype(str) == org)]
    return pd.Series(rows["value"].to_numpy(dtype=float), index=rows["year"].astype(int).to_numpy())


def _npv_from_years(inst: Instance, years: pd.DataFrame) -> float | None:
    """The net present value the objective is built on: in-year net savings less capital, each
    year discounted to the first (docs/semantics.md), from years.csv."""
    net, capital = _measure(years, "in_year_net_saving"), _measure(years, "capital_cost")
    if net.empty:
        return None
    capital = capital.reindex(net.index).fillna(0.0)
    d = (1.0 + inst.discount_rate) ** -(net.index.to_numpy() - inst.years[0]).astype(float)
    return float(d @ (net.to_numpy() - capital.to_numpy()))


def _penalty_from_years(inst: Instance, years: pd.DataFrame) -> float:
    total = 0.0
    for t in inst.targets:
        if t.hard:
            continue
        rows = years[years["measure"] == RuleRef("target", t.id).measure]
        for r in rows.itertuples():
            short = float(r.shortfall) if r.shortfall == r.shortfall else 0.0
            total += t.shortfall_penalty * short * (1.0 + inst.discount_rate) ** -(int(r.year) - inst.years[0])
    return total


def facts(data: ReportInputs) -> Facts:
    inst, summary = data.instance, data.summary
    out = Facts(status=str(summary.get("status", "unknown")), gap=summary.get("mip_gap"),
                checker=summary.get("checker"))
    out.objective = summary.get("objective")
    plan = data.plan or {}
    by_id = {s.id: s for s in inst.schemes}
    out.selected = [s.id for s in inst.schemes if plan.get(s.id) is not None]
    for sid in out.selected:
        out.starts[int(plan[sid])] = out.starts.get(int(plan[sid]), 0) + 1
    years_list = list(inst.years)
    if data.years is not None:
        for t in inst.targets:
            group = rule_rows(data, "target", t.id, t.org)
            if group is None:
                continue
            short = [v or 0.0 for v in by_year(group, "shortfall", years_list)] if "shortfall" in group \
                else [0.0] * len(years_list)
            out.targets.append(TargetFacts(t, by_year(group, "value", years_list),
                                           [t.values.get(y) for y in years_list], short))
        npv = summary.get("net_present_value")
        out.net_present_value = float(npv) if isinstance(npv, (int, float)) else _npv_from_years(inst, data.years)
        penalty = summary.get("shortfall_penalty")
        out.penalty = float(penalty) if isinstance(penalty, (int, float)) else _penalty_from_years(inst, data.years)
        recurrent = _measure(data.years, "recurrent_net_saving")
        out.recurrent_final = float(recurrent.get(years_list[-1])) if years_list[-1] in recurrent.index else None
        in_year = _measure(data.years, "in_year_net_saving")
        out.in_year_total = float(in_year.sum()) if not in_year.empty else None
        for lim in inst.limits:
            group = rule_rows(data, "limit", lim.id, lim.org)
            if group is None or lim.sense == "==":
                continue
            at = [y for y, u, b in zip(years_list, by_year(group, "value", years_list),
                                       [lim.values.get(y) for y in years_list])
                  if u is not None and b is not None and abs(u - b) <= TIGHT * max(1.0, abs(b))]
            if at:
                out.reached.append((lim.id, at))
    out.harms = [sid for sid in out.selected if harm_domains(inst, by_id[sid])]
    out.approved_only = [sid for sid in out.selected if eligible_only_because_approved(inst, by_id[sid])]
    sim = data.simulation
    if sim is not None and "target" in sim.columns:
        prob = next((c for c in sim.columns if str(c).lower().startswith("prob")), None)
        if prob is not None:
            for r in sim.itertuples(index=False):
                p = getattr(r, prob)
                if p == p and p is not None:
                    out.probability.append((str(r.target), int(float(r.year)), float(p)))
    if data.plan is not None:
        from cipopt.schema.instance import qia_ineligibility

        for s in inst.schemes:
            if plan.get(s.id) is not None:
                continue
            if s.excluded:
                kind = "excluded"
            elif qia_ineligibility(s, inst):
                kind = "qia"
            else:
                first, last = inst.years[0], inst.years[-1]
                lo = s.earliest_start if s.earliest_start is not None else first
                hi = s.latest_start if s.latest_start is not None else last
                kind = "window" if max(lo, first) > min(hi, last) else "choice"
            out.left_out.setdefault(kind, []).append(s.id)
    return out


# -- the executive summary ---------------------------------------------------------------------

def _years_phrase(years: list[int]) -> str:
    return listing([fy(y) for y in years])


def _target_sentence(tf: TargetFacts, inst: Instance, units: Units) -> str:
    t = tf.target
    years_list = list(inst.years)
    set_years = [y for y, r in zip(years_list, tf.required) if r is not None]
    short = [(y, s) for y, s, r in zip(years_list, tf.shortfall, tf.required) if r is not None and s > 1e-6]
    met = [y for y in set_years if y not in {y for y, _ in short}]
    who = org_name(inst, t.org)
    head = f"{target_title(t)}, {who}:"
    if not short:
        return f"{head} met in every year it sets ({_years_phrase(set_years)})."
    misses = listing([f"{units.money(s)} in {fy(y)}" for y, s in short])
    # the worst year alone, never a sum: a cumulative target counts an earlier year's gap again
    worst_year, worst = max(short, key=lambda ys: ys[1])
    worst_words = f" Worst year's shortfall: {units.money(worst)} in {fy(worst_year)}."
    if not met:
        return f"{head} missed in every year: short by {misses}.{worst_words}"
    return f"{head} met in {_years_phrase(met)}; short by {misses}.{worst_words}"


def executive_summary(data: ReportInputs, units: Units) -> str:
    inst = data.instance
    f = facts(data)
    names = scheme_names(inst)
    parts = ['<section id="summary"><h2>Executive summary</h2>']
    messages = [in_words(str(m), inst) for m in [*data.summary.get("messages", []), *data.notes]]
    if data.plan is None:
        status = {"infeasible": "no plan keeps every rule", "time_limit_no_solution":
                  "no plan was found within the time limit"}.get(f.status, f"the solve ended: {f.status}")
        parts.append(f'<p class="recommendation">No recommendation: {esc(status)}.</p>')
        if messages:
            parts.append("<ul class=\"messages\">" + "".join(f"<li>{esc(m)}</li>" for m in messages) + "</ul>")
        return "".join(parts) + "</section>"
    starts = listing([f"{n:,} starting in {fy(y)}" for y, n in sorted(f.starts.items())])
    if f.status == "optimal":
        quality = "It is the best plan the rules allow (proven optimal)"
    elif isinstance(f.gap, (int, float)):
        quality = (f"It is within {f.gap:.2%} of the best plan the rules allow (the search stopped at its "
                   "time limit)")
    else:
        quality = f"The solver's status is {words(f.status)}"
    check = {"accepted": ", and the independent check confirms that it keeps every rule.",
             "rejected": "; the independent check found a broken rule (see below)."}.get(f.checker or "", ".")
    parts.append(f'<p class="recommendation">Recommendation: approve a programme of {len(f.selected):,} of the '
                 f'{len(inst.schemes):,} candidate schemes, {esc(starts)}. {esc(quality)}{esc(check)}</p>')

    # what it achieves against each target, by year
    if f.targets:
        parts.append("<h3>Against each target</h3><ul>"
                     + "".join(f"<li>{esc(_target_sentence(tf, inst, units))}</li>" for tf in f.targets) + "</ul>")
        years_list = list(inst.years)
        rows = []
        for tf in f.targets:
            cells = []
            for a, r, s in zip(tf.achieved, tf.required, tf.shortfall):
                if r is None:
                    cells.append(units.number(a))
                elif s > 1e-6:
                    cells.append((f"{units.number(a)} (short {units.number(s)})", "bad"))
                else:
                    cells.append(f"{units.number(a)} (met)")
            rows.append([target_label(inst, tf.target), *cells])
        parts.append(table([f"achieved ({units.symbol})", *[fy(y) for y in years_list]], rows,
                           set(range(1, len(years_list) + 1)), "compact targets-by-year"))
    else:
        parts.append("<p>The instance sets no savings targets: the plan is judged by its objective alone.</p>")

    # the bottom line
    bottom = []
    if f.net_present_value is not None and inst.objective.mode != "weighted_score":
        rate = f"{inst.discount_rate:.1%}".replace(".0%", "%")
        weighting = " (savings at confidence \u00d7 value)" if inst.objective.counts_confidence else ""
        bottom.append(f"The plan's net present value is {units.money(f.net_present_value)}: in-year net savings "
                      f"less capital, discounted at {rate} a year{weighting}.")
        if f.penalty and f.penalty > 1e-6 and f.objective is not None:
            bottom.append(f"The plan is chosen on its {OBJECTIVE_NAMES[inst.objective.mode]}: "
                          f"{units.money(f.objective)}, after {units.money(f.penalty)} of discounted penalties for "
                          "missing targets.")
    elif f.objective is not None:
        bottom.append(f"The plan's weighted appraisal score is {plain(f.objective, 1)}.")
    if f.recurrent_final is not None:
        bottom.append(f"By {fy(inst.years[-1])} it takes {units.money(f.recurrent_final)} a year out of the cost "
                      f"base (recurrent net saving, full-year effect); in-year net savings over the "
                      f"{len(inst.years)} years total {units.money(f.in_year_total)}.")
    if bottom:
        parts.append("<h3>The bottom line</h3><p>" + esc(" ".join(bottom)) + "</p>")

    # the main risks
    risks = []
    worst = [(tf, y, s) for tf in f.targets for y, s in zip(inst.years, tf.shortfall) if s > 1e-6]
    if worst:
        tf, y, s = max(worst, key=lambda w: w[2])
        risks.append(f"The largest gap is {units.money(s)} against {target_label(inst, tf.target)} in {fy(y)}.")
    if f.harms:
        risks.append(f"{len(f.harms):,} selected scheme{'s' if len(f.harms) != 1 else ''} harm a quality domain: "
                     f"{listing([names[s] for s in f.harms], NAMES_SHOWN)} (flagged in the quality table).")
    if f.approved_only:
        risks.append(f"{listing([names[s] for s in f.approved_only])} "
                     f"{'is' if len(f.approved_only) == 1 else 'are'} in the plan only because the QIA was approved "
                     "by the medical and nursing directors; without that sign-off the QIA rules would bar "
                     f"{'it' if len(f.approved_only) == 1 else 'them'}.")
    if f.probability:
        by_target = {}
        for tid, y, p in f.probability:
            if tid not in by_target or p < by_target[tid][1]:
                by_target[tid] = (y, p)
        targets = {t.id: t for t in inst.targets}
        for tid, (y, p) in by_target.items():
            name = target_label(inst, targets[tid]) if tid in targets else words(tid)
            risks.append(f"Delivery risk: the chance of meeting {name} is lowest in {fy(y)}, at {p:.0%} "
                         "(from the delivery simulation).")
    else:
        risks.append("Delivery risk has not been simulated for this plan (cipopt simulate adds it).")
    for lid, at in f.reached:
        risks.append(f"The {words(lid)} limit is fully used in {_years_phrase(at)}: no headroom for overruns.")
    parts.append("<h3>The main risks</h3><ul>" + "".join(f"<li>{esc(r)}</li>" for r in risks) + "</ul>")

    # what was left out, and why
    out_count = sum(len(v) for v in f.left_out.values())
    if out_count:
        why = []
        labels = {"qia": "barred by the quality impact assessment rules",
                  "excluded": "excluded by a decision already taken",
                  "window": "cannot start within the plan years",
                  "choice": ("left out because the plan does as well or better without them (or the rules "
                             "they are tied to close them off)") if f.status == "optimal" else
                            "not chosen in the plan found, though no rule bars them"}
        by_id = {s.id: s for s in inst.schemes}
        for kind in ("qia", "excluded", "window", "choice"):
            ids = f.left_out.get(kind, [])
            if not ids:
                continue
            if kind == "choice":
                ids = sorted(ids, key=lambda s: -by_id[s].recurrent_saving)
            why.append(f"{len(ids):,} {labels[kind]}: {listing([names[s] for s in ids], NAMES_SHOWN)}")
        parts.append(f"<h3>Left out</h3><p>{out_count:,} scheme{'s are' if out_count != 1 else ' is'} left out. "
                     "</p><ul>" + "".join(f"<li>{esc(w)}.</li>" for w in why) + "</ul>")
    if messages:
        parts.append('<ul class="messages">' + "".join(f"<li>{esc(m)}</li>" for m in messages) + "</ul>")
    return "".join(parts) + "</section>"


# -- quality -----------------------------------------------------------------------------------

def quality_section(data: ReportInputs, units: Units, charts: str) -> str:
    """The QIA table (every scheme with a harm in any domain, every approved QIA, every selected
    scheme with a QIA risk above the low band), with sign-offs, then the portfolio charts."""
    inst = data.instance
    plan = data.plan or {}
    domains = list(inst.quality.domains)
    shown = [s for s in inst.schemes if harm_domains(inst, s) or s.qia_approved
             or (plan.get(s.id) is not None and s.qia_risk > 3)]
    if not shown and not charts:
        return ""
    rows_html = []
    head = ["scheme", "in plan", *[words(d) for d in domains], "QIA risk", "sign-off", "flag"]
    for s in sorted(shown, key=lambda s: (plan.get(s.id) is None, -s.qia_risk, s.name or s.id)):
        selected = plan.get(s.id) is not None
        harms = harm_domains(inst, s)
        flags = []
        if selected and eligible_only_because_approved(inst, s):
            flags.append("in the plan only because its QIA was approved")
        if harms:
            flags.append("harm to " + listing([words(d) for d in harms]) + (" (selected)" if selected else ""))
        q = inst.quality
        needs = any(s.domain_score(d) < m for d, m in q.scheme_min.items()) or \
            (q.max_risk is not None and s.qia_risk > q.max_risk)
        if s.qia_approved:
            sign = "approved (medical and nursing directors)"
        else:
            sign = "not approved: barred" if needs else "not needed"
        if q.hard_max_risk is not None and s.qia_risk > q.hard_max_risk:
            flags.append(f"barred whatever the sign-off (risk above {plain(q.hard_max_risk, 0)})")
        cells = [esc(s.name or words(s.id)), f"starts {fy(plan[s.id])}" if selected else "no"]
        cells += [esc(plain(s.domain_score(d), 0 if float(s.domain_score(d)).is_integer() else 1)) for d in domains]
        cells += [esc(plain(s.qia_risk, 0)), esc(sign), esc("; ".join(flags))]
        klass = ' class="flag"' if selected and harms else ""
        rows_html.append(f"<tr{klass}>" + "".join(
            f'<td{" class=num" if 2 <= i < 2 + len(domains) + 1 else ""}>{c}</td>' for i, c in enumerate(cells)) + "</tr>")
    header = "".join(f'<th{" class=num" if 2 <= i < 2 + len(domains) + 1 else ""}>{esc(h)}</th>' for i, h in enumerate(head))
    q = inst.quality
    rules = []
    if q.scheme_min:
        rules.append("a scheme scoring below " + listing([f"{plain(m, 0)} in {words(d)}" for d, m in q.scheme_min.items()])
                     + " needs an approved QIA")
    if q.max_risk is not None:
        rules.append(f"so does a QIA risk above {plain(q.max_risk, 0)}")
    if q.hard_max_risk is not None:
        rules.append(f"nothing above {plain(q.hard_max_risk, 0)} proceeds, approved or not")
    table_html = (f'<table class="qia"><thead><tr>{header}</tr></thead><tbody>{"".join(rows_html)}</tbody></table>'
                  if rows_html else "<p>No scheme harms a quality domain, none has an approved QIA.</p>")
    return ('<section id="quality"><h2>Quality impact</h2>'
            '<p class="lead">Quality impact assessments (scores from \u22122, major harm, to +2, major benefit; risk '
            f'is likelihood \u00d7 consequence, 1 to 25). The rules: {esc("; ".join(rules) or "none set")}. The table '
            'lists every scheme that harms a domain, every approved QIA and every selected scheme above the low risk '
            'band; rows in red are selected schemes with a harm.</p>'
            + table_html + charts + "</section>")


# -- delivery risk -----------------------------------------------------------------------------

def delivery_risk_section(data: ReportInputs, units: Units) -> str:
    sim = data.simulation
    if sim is None or sim.empty:
        return ""
    inst, years_list = data.instance, list(data.instance.years)
    columns = {str(c).lower().strip(): c for c in sim.columns}
    prob = next((columns[c] for c in columns if c.startswith("prob") or c in ("p_meet", "p_met")), None)
    group_cols = [columns[c] for c in ("target", "org") if c in columns]
    groups = sim.groupby(group_cols, sort=False) if group_cols else [((), sim)]
    targets = {t.id: t for t in inst.targets}
    parts = ['<section id="risk"><h2>Delivery risk: what the plan may deliver</h2><p class="lead">From the delivery '
             'simulation: the shaded band runs from the 10th to the 90th percentile (P10 to P90), the line is the '
             f'median, dots are the mean; the dashed line is what is required ({esc(units.symbol)}).</p>']
    if prob is not None and "target" in columns:
        rows = []
        for key, group in groups:
            key = key if isinstance(key, tuple) else (key,)
            t = targets.get(str(key[0]))
            values = dict(zip(pd.to_numeric(group[columns["year"]], errors="coerce"),
                              pd.to_numeric(group[prob], errors="coerce")))
            cells = []
            for y in years_list:
                p = values.get(y)
                if p is None or pd.isna(p):
                    cells.append("-")
                else:
                    cells.append((f"{p:.0%}", "bad" if p < 0.5 else "warn" if p < 0.8 else ""))
            rows.append([target_label(inst, t) if t is not None else words(key[0]), *cells])
        parts.append("<h3>Probability of meeting each target</h3>"
                     + table(["target", *[fy(y) for y in years_list]], rows, set(range(1, len(years_list) + 1)),
                             "compact pmeet"))
    for key, group in groups:
        key = key if isinstance(key, tuple) else (key,)
        target = targets.get(str(key[0])) if key else None
        name = target_label(inst, target) if target is not None else (" / ".join(words(k) for k in key) or "plan")
        group = group.copy()
        group["_y"] = pd.to_numeric(group[columns["year"]], errors="coerce")

        def series(col: str | None, group: pd.DataFrame = group) -> list | None:
            if col is None or col not in columns:
                return None
            values = dict(zip(group["_y"], pd.to_numeric(group[columns[col]], errors="coerce")))
            return [None if y not in values or pd.isna(values[y]) else float(values[y]) for y in years_list]

        required = [target.values.get(y) for y in years_list] if target is not None else None
        chart = band_chart(years_list, low=series("p10"), high=series("p90"), mid=series("p50"),
                           mean=series("mean"), required=required, units=units, label=f"risk {name}")
        shown = [c for c in sim.columns if c not in group_cols and c != columns["year"]
                 and str(c).lower() not in ("basis", "org")]
        rows = []
        for y in years_list:
            row_values = group[group["_y"] == y]
            if row_values.empty:
                continue
            r = row_values.iloc[0]
            cells = [fy(y)]
            for c in shown:
                v = r[c]
                number = isinstance(v, (int, float, np.number)) and not isinstance(v, bool)
                if c == prob and number and not pd.isna(v):
                    cells.append(f"{v:.0%}")
                elif number and not pd.isna(v):
                    cells.append(units.number(float(v)))
                else:
                    cells.append("" if pd.isna(v) else str(v))
            rows.append(cells)
        header = ["year", *[("probability of meeting" if c == prob else
                             f"{words(c).replace('p10', 'P10').replace('p50', 'P50').replace('p90', 'P90')} "
                             f"({units.symbol})") for c in shown]]
        parts.append(f'<div class="figure"><h3>{esc(name)}</h3>{chart}'
                     + legend([("P10 to P90", "#9ecae1"), ("mean (dots)", "#ef8c00")],
                              [("median", "#1f4e79", False), ("required", "#1d2733", True)])
                     + table(header, rows, set(range(1, len(shown) + 1)), "compact") + "</div>")
    parts.append("</section>")
    return "".join(parts)

