"""The short human summary a terminal shows after a solve."""

from __future__ import annotations

from collections import defaultdict

import pandas as pd

OBJECTIVE_WORDS = {
    "net_present_value": "net present value",
    "savings": "discounted net savings",
    "weighted_score": "weighted score",
}


def money(value: float | None) -> str:
    if value is None or value != value:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"


def solve_summary(outcome) -> list[str]:
    inst = outcome.instance
    lines = [inst.name]
    status = outcome.status.value
    if outcome.objective is not None:
        what = OBJECTIVE_WORDS[inst.objective.mode]
        unit = "" if inst.objective.mode == "weighted_score" else f", {inst.money_unit}"
        gap = "" if outcome.mip_gap is None else f"   gap: {outcome.mip_gap:.4%}"
        lines.append(f"status: {status}   objective ({what}{unit}): {money(outcome.objective)}{gap}")
    else:
        lines.append(f"status: {status}")
    for message in outcome.messages:
        lines.append(f"  {message}")
    timing = f"build {outcome.build_seconds + outcome.handoff_seconds:.2f} s, solve {outcome.solve_seconds:.2f} s"
    if outcome.check is not None:
        timing += ", independent check: " + ("every rule holds" if outcome.check.ok else "REJECTED")
    lines.append(timing)
    if outcome.plan is None or outcome.plan_frame is None:
        return lines
    lines.extend(_risk_lines(outcome))

    by_year: dict[int, list[str]] = defaultdict(list)
    for sid, year in outcome.plan.items():
        if year is not None:
            by_year[year].append(sid)
    lines.append("")
    lines.append(f"schemes selected: {len(outcome.selected)} of {len(inst.schemes)}")
    for year in sorted(by_year):
        lines.append(f"  start {year}: {', '.join(sorted(by_year[year]))}")

    years: pd.DataFrame = outcome.years
    targets = years[years["measure"].str.startswith("target:")]
    if not targets.empty:
        lines.append("")
        lines.append(f"savings against targets ({inst.money_unit}; achieved / required, shortfall):")
        header = ["target", "scope"] + [str(y) for y in inst.years]
        table = [header]
        for (measure, org), group in targets.groupby(["measure", "org"], sort=False):
            cells = {int(r.year): f"{money(r.value)} / {money(r.bound)}" + (
                f"  short {money(r.shortfall)}" if r.shortfall > 1e-6 else "") for r in group.itertuples()}
            table.append([measure.removeprefix("target:"), org] + [cells.get(y, "") for y in inst.years])
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        for row in table:
            lines.append("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    lines.extend(bottom_line(inst, years))
    return lines


BOTTOM_LINE_ROWS = (  # (measure, the words a board paper uses)
    ("do_nothing:surplus", "do-nothing surplus (deficit -)"),
    ("in_year_net_saving", "plan's in-year net saving"),
    ("non_cash_releasing_saving", "of which releases no cash"),
    ("income_flow", "income moved by schemes"),
    ("gain_on_disposal", "gain on disposal"),
    ("depreciation", "depreciation of new capital (-)"),
    ("pdc", "PDC dividend on new capital (-)"),
    ("incentive_received", "incentive funding received"),
    ("surplus", "surplus (deficit -)"),
    ("cash", "closing cash"),
)


def bottom_line(inst, years: pd.DataFrame) -> list[str]:
    """The system's bottom line per year and each incentive fund (docs/finance.md); none without `finance`."""
    if inst.finance is None:
        return []
    lines = ["", f"bottom line, all organisations ({inst.money_unit}):"]
    system = years[years["org"] == "all"]
    table = [["", *(str(y) for y in inst.years)]]
    for measure, words in BOTTOM_LINE_ROWS:
        rows = system[system["measure"] == measure].set_index("year")["value"]
        table.append([words, *(money(rows.get(y)) for y in inst.years)])
    for measure in years.loc[years["measure"].str.startswith(("control_total:", "incentive:")), "measure"].unique():
        rows = years[years["measure"] == measure].set_index("year")
        cells = []
        for y in inst.years:
            if y not in rows.index:
                cells.append("")
            elif measure.startswith("incentive:"):
                r = rows.loc[y]
                cells.append("received" if r.shortfall <= 1e-6 else f"LOST {money(r.shortfall)}")
            else:
                r = rows.loc[y]
                cells.append(f"{money(r.value)} / {money(r.bound)}" + (" missed" if r.shortfall > 1e-6 else ""))
        kind, _, ident = measure.partition(":")
        table.append([("control total " if kind == "control_total" else "incentive fund ") + ident, *cells])
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        lines.append("  " + "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                                      for i, (cell, w) in enumerate(zip(row, widths))).rstrip())
    return lines


def _risk_lines(outcome) -> list[str]:
    """risk: cvar or chance: the plan's figure over the model's scenarios (docs/risk.md)."""
    o, figures = outcome.instance.objective, (outcome.check.risk_figures if outcome.check else {})
    if o.risk == "cvar" and "risk_cvar" in figures:
        return [f"risk (cvar): the CVaR at alpha {o.alpha:g} of the discounted shortfall over {o.draws:,} scenarios "
                f"(seed {o.seed}) is {money(figures['risk_cvar'])}; its mean {money(figures['risk_loss_mean'])}"]
    if o.risk == "chance" and "risk_chance_met" in figures:
        return [f"risk (chance): target {o.chance_target} is met in every year in {figures['risk_chance_met']:.1%} "
                f"of {o.draws:,} scenarios (seed {o.seed}; at least {o.chance_probability:.1%} required); "
                "judge it on more draws with cipopt simulate"]
    return []
