"""The short human summary a terminal shows after a solve."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # a type hint only: importing pandas here would load it for `--help`
    import pandas as pd

OBJECTIVE_WORDS = {  # what was maximised, named as such: never "net present value" (docs/figures.md)
    "net_present_value": "NPV less shortfall penalties",
    "savings": "discounted net savings less shortfall penalties",
    "weighted_score": "weighted score less shortfall penalties",
}


_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """`text` safe for a terminal: control characters (escape sequences, carriage returns,
    backspaces) and bidirectional overrides in ids are shown as \\xNN or \\uNNNN, not obeyed."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                        else f"\\u{ord(m.group()):04x}", text)


def money(value: float | None) -> str:
    if value is None or value != value:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"


def solve_summary(outcome) -> list[str]:
    inst = outcome.instance
    lines = [inst.name]
    status = outcome.status.value
    if outcome.objective is not None:
        gap = "" if outcome.mip_gap is None else f"   gap: {outcome.mip_gap:.4%}"
        lines.append(f"status: {status}{gap}")
        lines.extend(figure_lines(outcome))
    else:
        lines.append(f"status: {status}")
    for message in outcome.messages:
        lines.append(f"  {message}")
    timing = f"build {outcome.build_seconds + outcome.handoff_seconds:.2f} s, solve {outcome.solve_seconds:.2f} s"
    if outcome.check is not None:
        timing += ", independent check: " + ("every rule holds" if outcome.check.ok else "REJECTED")
    if getattr(outcome, "plan_source", None):
        timing += f", plan from: {outcome.plan_source}"
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
    from cipopt.schema.rules import RuleRef  # the summary's own import: --help loads this module

    targets = RuleRef.groups(years, "target")
    if targets:
        lines.append("")
        lines.append(f"savings against targets ({inst.money_unit}; achieved / required, shortfall):")
        header = ["target", "scope"] + [str(y) for y in inst.years]
        table = [header]
        for ref, group in targets.items():
            cells = {int(r.year): f"{money(r.value)} / {money(r.bound)}" + (
                f"  short {money(r.shortfall)}" if r.shortfall > 1e-6 else "") for r in group.itertuples()}
            table.append([ref.id, ref.org] + [cells.get(y, "") for y in inst.years])
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


SHORTFALL_TOL = 1e-6


def worst_shortfalls(years: pd.DataFrame) -> dict[str, tuple[int | None, float]]:
    """Per target: (the year of its largest shortfall, that shortfall), (None, 0) when met every year.

    Shortfalls are never added across years (a cumulative target counts last year's gap again)
    nor across targets (recurrent and in-year bases measure the same schemes twice)."""
    from cipopt.schema.rules import RuleRef

    out: dict[str, tuple[int | None, float]] = {}
    for ref, group in RuleRef.groups(years, "target").items():
        short = group["shortfall"].fillna(0.0).to_numpy()
        k = int(short.argmax()) if len(short) else 0
        worst = float(short[k]) if len(short) else 0.0
        out[ref.id] = (
            (int(group["year"].iloc[k]), worst) if worst > SHORTFALL_TOL else (None, 0.0))
    return out


def describe_worst(year: int | None, shortfall: float) -> str:
    return "met every year" if year is None else f"{money(shortfall)} in {year}"


def figure_lines(outcome) -> list[str]:
    """The plan's NPV, the penalties and the objective, each named for what it is (docs/figures.md)."""
    inst = outcome.instance
    unit = inst.money_unit
    lines = [f"net present value ({unit}): {money(outcome.net_present_value)}   "
             "(in-year net savings less capital, discounted; no penalties)",
             f"shortfall penalty: {money(outcome.shortfall_penalty)}   "
             "(soft targets' shortfall x penalty, discounted)"]
    what = OBJECTIVE_WORDS[inst.objective.mode]
    if outcome.risk_penalty:
        lines.append(f"CVaR penalty: {money(outcome.risk_penalty)}   (cvar_penalty x the CVaR of the shortfall)")
        what += " and the CVaR penalty"
    scale = "" if inst.objective.mode == "weighted_score" else f", {unit}"
    lines.append(f"objective ({what}{scale}), the figure maximised: {money(outcome.objective)}")
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
