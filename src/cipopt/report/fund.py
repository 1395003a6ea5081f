"""The fund panel's report, from a `cipopt rank --out` folder: the ranking a panel reads (entry
budgets, value for money, the core index), with no plan, target or quality charts, since a
fund's bids are judged on their appraisal score within the fund."""

from __future__ import annotations

import math

from cipopt.report.charts import BAD, GOOD, WARN, esc, hbar_chart
from cipopt.report.markup import legend, org_name, scheme_names, table
from cipopt.report.inputs import ReportInputs
from cipopt.report.units import Units, listing, plain, words

CLASS_COLOURS = {"core": GOOD, "borderline": WARN, "exterior": BAD}


def _num(v) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _true(v) -> bool:
    return str(v).strip().lower() in ("true", "1", "1.0")


def fund_sections(data: ReportInputs, units: Units) -> list[str]:
    inst, summary, bids = data.instance, data.summary, data.bids
    names = scheme_names(inst)
    bids = bids.sort_values("rank", kind="stable")
    fund_total = _num(summary.get("fund_total"))
    fund = summary.get("fund")
    in_full = bids[bids["in_at_full_budget"].map(_true)] if "in_at_full_budget" in bids else bids.iloc[0:0]
    optimal, greedy = _num(summary.get("optimal_value_at_full_budget")), _num(summary.get("greedy_value_at_full_budget"))
    loss = _num(summary.get("greedy_loss_at_full_budget"))
    vfm_unit = "score per £m" if units.pounds else f"score per {units.symbol}"
    # value_for_money is score per instance money unit; per £m it is that times the units in £1m
    per_m = Units.of(inst.money_unit, "m").factor ** -1 if units.pounds else 1.0

    lines = [f"{len(bids):,} bids ranked for the {words(fund) if fund else 'fund'} of "
             f"{units.money(fund_total) if fund_total is not None else 'its limit'}."]
    if optimal is not None:
        lines.append(f"At the full fund the best portfolio funds {len(in_full):,} bids with a weighted score of "
                     f"{plain(optimal, 2)}.")
    if greedy is not None and loss is not None:
        lines.append(f"Funding bids in order of value for money instead scores {plain(greedy, 2)}, "
                     f"{plain(loss, 2)} less.")
    if "nested" in summary:
        lines.append("The best portfolios are nested: a bid funded at one budget stays funded at every larger one."
                     if summary.get("nested") else
                     "The best portfolios are not nested: some bids funded at a smaller budget drop out at a larger "
                     "one (see the entry budgets).")
    classes = []
    meaning = {"core": "in the best portfolio under every weighting sampled",
               "borderline": "in under some weightings", "exterior": "in under none"}
    for kind in ("core", "borderline", "exterior"):
        ids = summary.get(kind)
        if isinstance(ids, list) and ids:
            classes.append(f"{len(ids):,} {kind} ({meaning[kind]}): {listing([names.get(b, b) for b in ids], 5)}.")
    summary_html = ('<section id="summary"><h2>Executive summary</h2><p class="recommendation">'
                    + esc(" ".join(lines[:2])) + "</p><p>" + esc(" ".join(lines[2:])) + "</p>"
                    + ("<h3>Under the disputed criteria weights</h3><ul>"
                       + "".join(f"<li>{esc(c)}</li>" for c in classes) + "</ul>" if classes else "")
                    + "</section>")

    rows = []
    for r in bids.itertuples():
        entry = _num(r.entry_budget)
        rows.append((names.get(r.bid, r.bid), units.value(entry) if entry is not None else float("inf"),
                     CLASS_COLOURS.get(str(getattr(r, "core_class", "")), "#4e79a7")))
    chart = hbar_chart(rows, axis=f"entry budget ({units.symbol})", tick=units.tick_in_unit,
                       show=lambda v: f"{plain(v, units.decimals)} {units.symbol}", label="entry budget of each bid")
    entry_html = ('<section id="entry"><h2>Entry budgets</h2><p class="lead">The smallest fund at which each bid is '
                  'in the best portfolio (bids in rank order; colour: core, borderline or exterior under the '
                  'disputed weights).</p>' + chart
                  + legend([(k, c) for k, c in CLASS_COLOURS.items()]) + "</section>")

    table_rows = []
    for r in bids.itertuples():
        vfm = _num(r.value_for_money)
        vfm_text = "-" if vfm is None else ("free" if math.isinf(vfm) else plain(vfm * per_m, 2))
        entry = _num(r.entry_budget)
        core = _num(getattr(r, "core_index", None))
        stays = getattr(r, "stays_in", "")
        table_rows.append([f"{int(r.rank):,}", names.get(r.bid, r.bid), org_name(inst, getattr(r, "org", None)),
                           plain(r.score, 2), units.number(_num(r.fund_cost)), vfm_text,
                           "-" if _num(r.greedy_rank) is None else f"{int(float(r.greedy_rank)):,}",
                           "never" if entry is None else units.number(entry),
                           "" if str(stays) in ("", "nan", "None") else ("yes" if _true(stays) else "no"),
                           "-" if core is None else f"{core:.2f}", words(getattr(r, "core_class", "") or "")])
    ranking_html = ('<section id="ranking"><h2>The ranking</h2>'
                    + table(["rank", "bid", "organisation", "score", f"fund cost ({units.symbol})", vfm_unit,
                             "value-for-money rank", f"entry budget ({units.symbol})", "stays in", "core index",
                             "class"], table_rows, {0, 3, 4, 5, 6, 7, 9}, "ranking")
                    + "</section>")
    levels_html = ""
    if data.levels is not None:
        rows = []
        for r in data.levels.itertuples():
            opt = _num(r.optimal_value)
            rows.append([units.number(_num(r.fund_budget)), "-" if opt is None else plain(opt, 2),
                         plain(_num(r.greedy_value), 2),
                         "-" if _num(getattr(r, "greedy_loss", None)) is None else plain(_num(r.greedy_loss), 2)])
        levels_html = ('<section id="levels"><h2>Value for money against the best portfolio</h2><p class="lead">At each '
                       'budget: the best portfolio\'s score and the score of funding bids in order of value for '
                       'money.</p>' + table([f"fund budget ({units.symbol})", "best score", "value-for-money order",
                                            "score lost"], rows, {0, 1, 2, 3}, "compact") + "</section>")
    return [summary_html, entry_html, ranking_html, levels_html]


