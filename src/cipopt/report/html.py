"""`cipopt report`: one self-contained HTML board paper, from a solution folder.

The report reads what `cipopt solve --out` wrote (plan.csv, years.csv, summary.json, and the
files `simulate`, `alternatives` and `explain` add) and the instance; or, from a `cipopt rank
--out` folder, the fund panel's ranking. It holds no external reference at all: inline styles,
inline SVG charts drawn here, no script; it opens offline, prints on A4, and mails as one file.

Order (a board paper's): the executive summary in words (board.py), the plan, savings against
each target, quality (the QIA table with sign-offs, harms flagged), delivery risk, the use of
limits, alternatives and sensitivity, then every scheme in or out with the reason.

The page is put together here; its parts live along their seams: report/contributions.py (the
figures), report/markup.py (tables, legends, names in words), report/sections.py (the plan's
sections), board.py (summary, quality, risk), fund.py (the fund panel's ranking).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cipopt.report.charts import ACCENT, BAD, GOOD, GRID, INK, MUTED, WARN, esc
from cipopt.report.inputs import ReportInputs, read_solution
from cipopt.report.sections import (
    alternatives_section, bottom_line_section, limits_section, quality_charts,
    schemes_section, shortfall_section, targets_section, timeline_section,
)
from cipopt.report.units import Units, fy, plain
from cipopt.schema.instance import Instance
from cipopt.schema.problems import ProblemLog

__all__ = ["ReportInputs", "read_solution", "render_report", "build_report"]

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
            executive_summary(data, units), timeline_section(data), targets_section(data, units),
            bottom_line_section(data, units), quality_section(data, units, quality_charts(data)), delivery_risk_section(data, units),
            limits_section(data, units), shortfall_section(data, units), alternatives_section(data, units),
            schemes_section(data, units),
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
