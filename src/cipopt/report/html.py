"""`cipopt report`: one self-contained HTML file for a board paper, from a solution folder.

The report reads what `cipopt solve --out` wrote (plan.csv, years.csv, summary.json, and a
simulation.csv when the risk analysis made one) and the instance. It holds no external
reference at all: the styles are inline, the charts are inline SVG drawn here, and there is no
script, so it opens offline, prints as it shows, and can be mailed as one file.

Contents: the headline figures; savings against each target per year, stacked by category;
the plan as a timeline of scheme starts; quality per domain per year against its floor; the use
of each limit; shortfalls; the risk view (only with simulation.csv); schemes in and out with
the reason.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cipopt.report.reasons import plan_reasons
from cipopt.report.text import BOTTOM_LINE_ROWS, OBJECTIVE_WORDS, money
from cipopt.schema.instance import CATEGORIES, Instance
from cipopt.schema.problems import InputError, ProblemLog

CATEGORY_COLOURS = dict(zip(CATEGORIES, (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
    "#ff9da7", "#9c755f", "#6b6ecf", "#17becf", "#bcbd22", "#8c8c8c",
)))
INK, MUTED, GRID, GOOD, BAD, WARN, ACCENT = "#1d2733", "#5b6675", "#dde2e8", "#2e7d32", "#c62828", "#ef8c00", "#1f4e79"
SIMULATION_FILE = "simulation.csv"
ALTERNATIVES_FILE, IMPORTANCE_FILE, EXPLAIN_FILE = "alternatives.csv", "importance.csv", "explain_schemes.csv"
TIMELINE_ROWS = 150  # schemes drawn on the timeline; the table lists them all


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


# -- inputs ------------------------------------------------------------------------------------

@dataclass
class ReportInputs:
    instance: Instance
    summary: dict[str, Any]
    plan: dict[str, int | None] | None
    years: pd.DataFrame | None
    simulation: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)
    solution_dir: str = ""
    alternatives: pd.DataFrame | None = None  # alternatives.csv of `cipopt alternatives`
    importance: pd.DataFrame | None = None  # importance.csv of `cipopt alternatives`
    explanations: pd.DataFrame | None = None  # explain_schemes.csv of `cipopt explain`


def _simulation_of(instance: Instance, sim: pd.DataFrame, label: str, log: ProblemLog) -> pd.DataFrame | None:
    """The simulation table if its years and targets are the instance's (else another instance's run)."""
    years, targets = {str(y) for y in instance.years}, {t.id for t in instance.targets}
    found = len(log.errors)
    for i, (year, target) in enumerate(zip(sim["year"], sim["target"] if "target" in sim.columns else
                                           [None] * len(sim))):
        shown = str(year).removesuffix(".0")
        if shown not in years:
            log.error(label, f"year {shown} is not a plan year ({instance.years[0]}-{instance.years[-1]}): "
                             "was it simulated for another instance?", row=i + 2, column="year")
        if target is not None and not pd.isna(target) and str(target) not in targets:
            log.error(label, f"target {str(target)!r} is not a target of the instance: was it simulated for "
                             "another instance?", row=i + 2, column="target")
        if len(log.errors) - found >= 5:
            break  # a file from another instance: a few rows say so
    return sim if len(log.errors) == found else None


def read_solution(instance: Instance, folder: str | Path, log: ProblemLog) -> ReportInputs:
    """The files of a solution folder, checked against the instance; InputError on bad input."""
    from cipopt.io.plan import read_plan

    folder = Path(folder)
    if not folder.is_dir():
        log.error(str(folder), "no such solution folder: give the --out folder of cipopt solve")
        raise InputError(log.problems)
    summary_path = folder / "summary.json"
    summary: dict[str, Any] = {}
    if not summary_path.exists():
        log.error(str(summary_path), "is missing: the solution folder of cipopt solve holds summary.json")
    else:
        try:
            summary = json.loads(summary_path.read_text(encoding="utf-8"))
            if not isinstance(summary, dict):
                raise ValueError("not a JSON object")
        except (ValueError, OSError) as exc:
            log.error(str(summary_path), f"is not a readable summary: {exc}")
    plan = None
    years = None
    plan_path, years_path = folder / "plan.csv", folder / "years.csv"
    if plan_path.exists():
        try:
            plan = read_plan(plan_path, instance, log)
        except InputError:
            pass
    elif summary.get("status") in ("optimal", "feasible"):
        log.error(str(plan_path), "is missing, though summary.json says a plan was found")
    if years_path.exists():
        try:
            years = pd.read_csv(years_path, keep_default_na=True)
            missing = {"year", "org", "measure", "value"} - set(years.columns)
            if missing:
                log.error(str(years_path), f"lacks the columns {', '.join(sorted(missing))}", row=1)
                years = None
        except (ValueError, OSError, pd.errors.ParserError) as exc:
            log.error(str(years_path), f"is not a readable years table: {exc}")
    elif plan is not None:
        log.error(str(years_path), "is missing: the solution folder of cipopt solve holds years.csv")
    simulation = None
    sim_path = folder / SIMULATION_FILE
    if sim_path.exists():
        try:
            simulation = pd.read_csv(sim_path)
            if "year" not in simulation.columns:
                log.error(str(sim_path), "needs a 'year' column", row=1)
                simulation = None
            else:
                simulation = _simulation_of(instance, simulation, str(sim_path), log)
        except (ValueError, OSError, pd.errors.ParserError) as exc:
            log.error(str(sim_path), f"is not a readable table: {exc}")
    optional = {}
    for name, needed in ((ALTERNATIVES_FILE, {"plan", "objective"}), (IMPORTANCE_FILE, {"scheme", "rank"}),
                         (EXPLAIN_FILE, {"scheme", "reason"})):
        path = folder / name
        if not path.exists():
            continue
        try:
            frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
        except (ValueError, OSError, pd.errors.ParserError) as exc:
            log.error(str(path), f"is not a readable table: {exc}")
            continue
        missing = needed - set(frame.columns)
        if missing:
            log.error(str(path), f"lacks the columns {', '.join(sorted(missing))}", row=1)
        else:
            optional[name] = frame
    if log.errors:
        raise InputError(log.problems)
    notes = []
    sha = summary.get("instance_sha256")
    if sha and sha != instance.sha256():
        message = (f"the solution was made for another instance (hash {sha[:12]}, this instance "
                   f"{instance.sha256()[:12]}): figures from the solution folder may not match it")
        log.warn(str(summary_path), message)
        notes.append(message)
    return ReportInputs(instance, summary, plan, years, simulation, notes, str(folder),
                        alternatives=optional.get(ALTERNATIVES_FILE), importance=optional.get(IMPORTANCE_FILE),
                        explanations=optional.get(EXPLAIN_FILE))


# -- figures -----------------------------------------------------------------------------------

def category_contributions(instance: Instance, plan: dict[str, int | None], basis: str, org: str | None
                           ) -> dict[str, np.ndarray] | None:
    """Per category, the plan's contribution to a target's measure in each year (None if the plan
    starts a scheme where it may not start: the checker says so; the report shows totals only)."""
    from cipopt.coefficients import build_coefficients
    from cipopt.results import starts_from_plan

    coef = build_coefficients(instance)
    try:
        x = starts_from_plan(coef, plan)
    except (ValueError, KeyError):
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


# -- SVG charts --------------------------------------------------------------------------------

def _nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if not math.isfinite(lo) or not math.isfinite(hi):
        return [0.0]
    if hi - lo < 1e-12:
        hi, lo = (hi + 1, lo - 1) if hi == 0 else (hi + abs(hi) * 0.5, lo - abs(lo) * 0.5)
    raw = (hi - lo) / n
    magnitude = 10 ** math.floor(math.log10(raw))
    step = min((m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw), default=raw)
    first = math.floor(lo / step) * step
    ticks = []
    value = first
    while value <= hi + step * 0.5 and len(ticks) < 40:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < hi:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _domain(lo: float, hi: float) -> tuple[float, float, list[float]]:
    """The plotted range and its ticks: nice ticks, but a nice tick far beyond the data (a -10k
    tick under a -300 bar) gives way to a small margin, so the bars keep the height."""
    ticks = _nice_ticks(lo, hi)
    span = max(hi - lo, 1e-9)
    bottom = ticks[0] if ticks[0] >= lo - 0.25 * span else lo - 0.04 * span
    top = ticks[-1] if ticks[-1] <= hi + 0.25 * span else hi + 0.04 * span
    bottom, top = min(bottom, lo), max(top, hi)
    return bottom, top, [t for t in ticks if bottom - 1e-9 <= t <= top + 1e-9]


def _short(value: float) -> str:
    value = value + 0.0  # no "-0"
    a = abs(value)
    if a >= 1e6:
        return f"{value / 1e6:,.1f}m"
    if a >= 1e4:
        return f"{value / 1e3:,.0f}k"
    if a >= 100 or value == round(value):
        return f"{value:,.0f}"
    return f"{value:,.2g}"


@dataclass
class Mark:
    """A per-year level drawn across each year's band (a target, a floor, a bound)."""

    label: str
    values: list[float | None]
    colour: str = INK
    dashed: bool = False


def bar_chart(years: list[int], stacks: list[tuple[str, str, list[float]]], marks: list[Mark] = (),
              *, width: int = 860, height: int = 280, label: str = "", bar_colours: list[str] | None = None,
              css_class: str = "chart") -> str:
    """Bars per year, stacked (positives up, negatives down), with level marks across each year.

    stacks: (name, colour, values per year); `bar_colours` colours a single series per year.
    """
    left, right, top, bottom = 64, 16, 14, 30
    n = len(years)
    pos = np.zeros(n)
    neg = np.zeros(n)
    for _, _, values in stacks:
        v = np.nan_to_num(np.asarray(values, dtype=float))
        pos += np.where(v > 0, v, 0)
        neg += np.where(v < 0, v, 0)
    levels = [v for m in marks for v in m.values if v is not None and math.isfinite(v)]
    lo = min([0.0, float(neg.min()) if n else 0.0, *levels])
    hi = max([0.0, float(pos.max()) if n else 0.0, *levels])
    lo, hi, ticks = _domain(lo, hi)
    plot_w, plot_h = width - left - right, height - top - bottom

    def y(value: float) -> float:
        return top + plot_h * (hi - value) / (hi - lo if hi > lo else 1)

    band = plot_w / max(n, 1)
    bar_w = band * 0.56
    parts = [f'<svg class="{css_class}" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
             f'role="img" aria-label="{esc(label)}">']
    for t in ticks:
        parts.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y(t):.1f}" y2="{y(t):.1f}" '
                     f'stroke="{GRID if t else MUTED}" stroke-width="1"/>')
        parts.append(f'<text x="{left - 6}" y="{y(t) + 4:.1f}" text-anchor="end" class="tick">{esc(_short(t))}</text>')
    for i, year in enumerate(years):
        cx = left + band * (i + 0.5)
        parts.append(f'<text x="{cx:.1f}" y="{height - 10}" text-anchor="middle" class="tick">{esc(_fy(year))}</text>')
        up = down = 0.0
        for name, colour, values in stacks:
            v = values[i]
            if v is None or not math.isfinite(v) or abs(v) < 1e-9:
                continue
            if v > 0:
                y0, y1 = y(up + v), y(up)
                up += v
            else:
                y0, y1 = y(down), y(down + v)
                down += v
            fill = bar_colours[i] if bar_colours else colour
            parts.append(f'<rect class="bar" x="{cx - bar_w / 2:.1f}" y="{y0:.1f}" width="{bar_w:.1f}" '
                         f'height="{max(y1 - y0, 0.5):.1f}" fill="{fill}"><title>{esc(name)} {esc(_fy(year))}: '
                         f'{esc(money(v))}</title></rect>')
        for m in marks:
            v = m.values[i]
            if v is None or not math.isfinite(v):
                continue
            dash = ' stroke-dasharray="6 4"' if m.dashed else ""
            parts.append(f'<line class="mark" x1="{cx - band * 0.42:.1f}" x2="{cx + band * 0.42:.1f}" '
                         f'y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="{m.colour}" stroke-width="3"{dash}>'
                         f'<title>{esc(m.label)} {esc(_fy(year))}: {esc(money(v))}</title></line>')
    parts.append("</svg>")
    return "".join(parts)


def band_chart(years: list[int], *, low: list | None, high: list | None, mid: list | None, mean: list | None,
               required: list | None, width: int = 860, height: int = 260, label: str = "") -> str:
    """The risk view: the p10-p90 range as a band, the median as a line, the mean as dots and the
    required level as a dashed line."""
    left, right, top, bottom = 64, 16, 14, 30
    series = [s for s in (low, high, mid, mean, required) if s is not None]
    values = [v for s in series for v in s if v is not None and math.isfinite(v)]
    lo, hi = (min(values + [0.0]), max(values + [0.0])) if values else (0.0, 1.0)
    lo, hi, ticks = _domain(lo, hi)
    n = len(years)
    plot_w, plot_h = width - left - right, height - top - bottom
    band = plot_w / max(n, 1)

    def x(i: int) -> float:
        return left + band * (i + 0.5)

    def y(value: float) -> float:
        return top + plot_h * (hi - value) / (hi - lo if hi > lo else 1)

    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
             f'aria-label="{esc(label)}">']
    for t in ticks:
        parts.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y(t):.1f}" y2="{y(t):.1f}" '
                     f'stroke="{GRID if t else MUTED}"/>')
        parts.append(f'<text x="{left - 6}" y="{y(t) + 4:.1f}" text-anchor="end" class="tick">{esc(_short(t))}</text>')
    for i, year in enumerate(years):
        parts.append(f'<text x="{x(i):.1f}" y="{height - 10}" text-anchor="middle" class="tick">{esc(_fy(year))}</text>')

    def points(series: list) -> list[tuple[float, float]]:
        return [(x(i), y(v)) for i, v in enumerate(series) if v is not None and math.isfinite(v)]

    if low is not None and high is not None:
        top_pts, bottom_pts = points(high), points(low)
        if top_pts and len(top_pts) == len(bottom_pts):
            outline = top_pts + bottom_pts[::-1]
            parts.append('<polygon class="band" fill="#9ecae1" fill-opacity="0.55" points="'
                         + " ".join(f"{px:.1f},{py:.1f}" for px, py in outline) + '"><title>p10 to p90</title></polygon>')
    if mid is not None and points(mid):
        parts.append(f'<polyline class="median" fill="none" stroke="{ACCENT}" stroke-width="2.5" points="'
                     + " ".join(f"{px:.1f},{py:.1f}" for px, py in points(mid)) + '"><title>median (p50)</title></polyline>')
    if required is not None and points(required):
        parts.append(f'<polyline class="required" fill="none" stroke="{INK}" stroke-width="2" stroke-dasharray="6 4" points="'
                     + " ".join(f"{px:.1f},{py:.1f}" for px, py in points(required)) + '"><title>required</title></polyline>')
    if mean is not None:
        for i, v in enumerate(mean):
            if v is not None and math.isfinite(v):
                parts.append(f'<circle class="mean" cx="{x(i):.1f}" cy="{y(v):.1f}" r="4.5" fill="{WARN}">'
                             f'<title>mean {esc(_fy(years[i]))}: {esc(money(v))}</title></circle>')
    parts.append("</svg>")
    return "".join(parts)


def timeline_chart(years: list[int], rows: list[tuple[str, str, str, int]], *, width: int = 860) -> str:
    """Scheme starts: one row per selected scheme (id, name, category, start), a bar from its start
    to the end of the plan, coloured by category, with a marker at the start."""
    label_w, right, top, row_h = 300, 16, 26, 18
    height = top + row_h * len(rows) + 8
    n = len(years)
    plot_w = width - label_w - right
    col = plot_w / max(n, 1)
    parts = [f'<svg class="chart timeline" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
             f'role="img" aria-label="scheme starts by year">']
    for i, year in enumerate(years):
        x0 = label_w + col * i
        parts.append(f'<line class="grid" x1="{x0:.1f}" x2="{x0:.1f}" y1="{top - 6}" y2="{height - 4}" stroke="{GRID}"/>')
        parts.append(f'<text x="{x0 + col / 2:.1f}" y="{top - 10}" text-anchor="middle" class="tick">{esc(_fy(year))}</text>')
    for r, (sid, name, category, start) in enumerate(rows):
        yy = top + r * row_h
        colour = CATEGORY_COLOURS.get(category, "#8c8c8c")
        shown = name if len(name) <= 46 else name[:45] + "\u2026"
        parts.append(f'<text x="{label_w - 8}" y="{yy + 13}" text-anchor="end" class="label">{esc(shown)}</text>')
        i = years.index(start) if start in years else 0
        x0 = label_w + col * i
        parts.append(f'<rect class="bar start" x="{x0 + 2:.1f}" y="{yy + 3}" width="{col * (n - i) - 4:.1f}" '
                     f'height="{row_h - 6}" rx="3" fill="{colour}" fill-opacity="0.85"><title>{esc(sid)} '
                     f'({esc(category)}): starts {esc(_fy(start))}</title></rect>')
        parts.append(f'<circle class="startmark" cx="{x0 + 8:.1f}" cy="{yy + row_h / 2:.1f}" r="3.2" fill="#fff"/>')
    parts.append("</svg>")
    return "".join(parts)


def _fy(year: Any) -> str:
    """2025 -> 2025/26, as NHS finance writes a financial year."""
    try:
        y = int(year)
    except (TypeError, ValueError):
        return str(year)
    return f"{y}/{(y + 1) % 100:02d}"


# -- sections ----------------------------------------------------------------------------------

def _table(header: list[str], rows: list[list[Any]], numeric: set[int] = frozenset(),
           css: str = "") -> str:
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


def _legend(items: list[tuple[str, str]], marks: list[tuple[str, str, bool]] = ()) -> str:
    parts = [f'<span class="key"><span class="swatch" style="background:{c}"></span>{esc(n)}</span>' for n, c in items]
    parts += [f'<span class="key"><span class="line{" dashed" if d else ""}" style="border-color:{c}"></span>{esc(n)}</span>'
              for n, c, d in marks]
    return f'<div class="legend">{"".join(parts)}</div>'


def _rows_of(years: pd.DataFrame, prefix: str) -> dict[tuple[str, str], pd.DataFrame]:
    sub = years[years["measure"].astype(str).str.startswith(prefix)]
    return {(str(m), str(o)): g for (m, o), g in sub.groupby(["measure", "org"], sort=False)}


def _by_year(group: pd.DataFrame, column: str, years: list[int]) -> list[float | None]:
    values = {int(r["year"]): r[column] for _, r in group.iterrows()}
    out = []
    for y in years:
        v = values.get(y)
        out.append(None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v))
    return out


def _targets_section(data: ReportInputs) -> str:
    inst, years_list = data.instance, list(data.instance.years)
    if data.years is None or not inst.targets:
        return ""
    groups = _rows_of(data.years, "target:")
    weighting = ", savings at confidence \u00d7 value" if inst.objective.counts_confidence else ""
    out = ['<section id="targets"><h2>Savings against targets</h2>',
           f'<p class="lead">What the plan achieves each year against each target ({esc(inst.money_unit)}'
           f'{weighting}), '
           'stacked by category of scheme (costs below zero); the black bar is what is required.</p>']
    for t in inst.targets:
        key = (f"target:{t.id}", t.org or "all")
        group = groups.get(key)
        if group is None:
            match = [g for (m, _), g in groups.items() if m == f"target:{t.id}"]
            group = match[0] if match else None
        if group is None:
            continue
        achieved = _by_year(group, "value", years_list)
        required = [t.values.get(y) for y in years_list]
        shortfall = _by_year(group, "shortfall", years_list) if "shortfall" in group else [None] * len(years_list)
        parts = category_contributions(inst, data.plan, t.basis, t.org) if data.plan is not None else None
        if parts is not None:
            stacks = [(c, CATEGORY_COLOURS[c], list(v)) for c, v in parts.items()]
            # what the plan achieves every year, also in years the target sets no value
            total = np.sum(list(parts.values()), axis=0) if parts else np.zeros(len(years_list))
            achieved = [float(v) if a is None else a for v, a in zip(total, achieved)]
        else:
            stacks = [("achieved", ACCENT, [v or 0.0 for v in achieved])]
        scope = f"organisation {t.org}" if t.org else "the whole system"
        kind = {"recurrent": "recurrent (underlying position)",
                "full_year_effect": "full-year effect (underlying position at exit run-rate)"}.get(
            t.basis, "in-year (control total)")
        rule = "hard: must be met" if t.hard else f"soft: shortfall penalty {t.shortfall_penalty:g} per unit"
        chart = bar_chart(years_list, stacks, [Mark("required", required, INK)],
                          label=f"target {t.id}: achieved by category against required")
        rows = []
        for i, y in enumerate(years_list):
            short = shortfall[i] or 0.0
            rows.append([_fy(y), money(achieved[i]), money(required[i]),
                         (money(short) if short > 1e-6 else "-", "bad" if short > 1e-6 else "")])
        out.append(f'<div class="figure"><h3>{esc(t.id)} <span class="tag">{esc(kind)}</span></h3>'
                   f'<p class="sub">{esc(scope)}; {esc(rule)}</p>{chart}'
                   + _legend([(s[0].replace("_", " "), s[1]) for s in stacks], [("required", INK, False)])
                   + _table(["year", "achieved", "required", "shortfall"], rows, {1, 2, 3}, "compact")
                   + "</div>")
    out.append("</section>")
    return "".join(out)


def _bottom_line_section(data: ReportInputs) -> str:
    """The finance extension (docs/finance.md): the do-nothing position, the plan, incentives, cash."""
    inst = data.instance
    if data.years is None or inst.finance is None:
        return ""
    years_list = list(inst.years)
    frame = data.years
    scopes = ["all"] + (list(inst.org_ids) if len(inst.organisations) > 1 else [])
    parts = ['<section id="bottom-line"><h2>The bottom line</h2>',
             f'<p class="lead">Income and expenditure and cash per year ({esc(inst.money_unit)}): the do-nothing '
             'surplus (a deficit is negative), what the plan adds, the incentive funding it secures and the '
             'resulting surplus and closing cash.</p>']
    for scope in scopes:
        here = frame[frame["org"].astype(str) == scope]
        rows = []
        for measure, words in BOTTOM_LINE_ROWS:
            values = _by_year(here[here["measure"] == measure], "value", years_list)
            rows.append([words, *(money(v) if v is not None else "" for v in values)])
        parts.append(f"<h3>{esc('all organisations' if scope == 'all' else scope)}</h3>"
                     + _table(["", *(_fy(y) for y in years_list)], rows, set(range(1, len(years_list) + 1))))
    rules = []
    for (measure, org), group in {**_rows_of(frame, "control_total:"), **_rows_of(frame, "incentive:")}.items():
        cells = []
        for y in years_list:
            row = group[group["year"].astype(int) == y]
            if row.empty or pd.isna(row["bound"].iloc[0]):
                cells.append("")
                continue
            r = row.iloc[0]
            if measure.startswith("incentive:"):
                cells.append(("received", "") if r["shortfall"] <= 1e-6 else (f"lost {money(r['shortfall'])}", "bad"))
            else:
                missed = r["shortfall"] > 1e-6
                cells.append((f"{money(r['value'])} / {money(r['bound'])}", "bad" if missed else ""))
        kind, _, ident = measure.partition(":")
        rules.append([("control total " if kind == "control_total" else "incentive fund ") + ident, org, *cells])
    if rules:
        parts.append('<p class="lead">Each control total (surplus before incentive funding / required) and '
                     'each incentive fund, received in full or lost in full.</p>'
                     + _table(["rule", "scope", *(_fy(y) for y in years_list)], rules,
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
    rows = [(sid, by_id[sid].name or sid, by_id[sid].category, y) for sid, y in chosen]
    more = ""
    if len(rows) > TIMELINE_ROWS:
        more = f"<p class=sub>The first {TIMELINE_ROWS} of {len(rows)} are drawn; the table below lists all.</p>"
        rows = rows[:TIMELINE_ROWS]
    counts = pd.Series([y for _, y in chosen]).value_counts().sort_index()
    starts = ", ".join(f"{n} in {_fy(y)}" for y, n in counts.items())
    used = list(dict.fromkeys(r[2] for r in rows))
    return (f'<section id="timeline"><h2>The plan: when schemes start</h2>'
            f'<p class="lead">{len(chosen)} of {len(inst.schemes)} schemes selected; starts: {esc(starts)}. '
            'A scheme runs from its start to the end of the plan.</p>'
            + timeline_chart(list(inst.years), rows) + more
            + _legend([(c.replace("_", " "), CATEGORY_COLOURS.get(c, "#8c8c8c")) for c in used]) + "</section>")


def _small_multiples(title: str, charts: list[str]) -> str:
    return f'<div class="multiples">{"".join(charts)}</div>' if charts else ""


def _quality_section(data: ReportInputs) -> str:
    inst, years_list = data.instance, list(data.instance.years)
    if data.years is None:
        return ""
    groups = _rows_of(data.years, "quality:")
    charts = []
    for domain in inst.quality.domains:
        group = groups.get((f"quality:{domain}", "all"))
        if group is None:
            continue
        values = _by_year(group, "value", years_list)
        floor = inst.quality.portfolio_min.get(domain)
        floors = [floor] * len(years_list) if floor is not None else [None] * len(years_list)
        colours = [BAD if floor is not None and v is not None and v < floor - 1e-9 else "#6a9fcf" for v in values]
        marks = [Mark("floor", floors, BAD, dashed=True)] if floor is not None else []
        chart = bar_chart(years_list, [(domain, "#6a9fcf", [v or 0.0 for v in values])], marks,
                          width=420, height=200, label=f"quality {domain}", bar_colours=colours)
        note = f"floor {floor:g} each year" if floor is not None else "no floor"
        charts.append(f'<div class="figure small"><h3>{esc(domain)}</h3><p class="sub">{esc(note)}</p>{chart}</div>')
    if not charts:
        return ""
    return ('<section id="quality"><h2>Quality impact by domain</h2><p class="lead">The summed quality impact '
            'assessment score of the schemes active each year (\u22122 major harm to +2 major benefit per '
            'scheme); the red dashed line is the floor the portfolio must keep.</p>'
            + _small_multiples("quality", charts) + "</section>")


def _limits_section(data: ReportInputs) -> str:
    inst, years_list = data.instance, list(data.instance.years)
    if data.years is None or not inst.limits:
        return ""
    groups = _rows_of(data.years, "limit:")
    charts, rows = [], []
    for lim in inst.limits:
        group = groups.get((f"limit:{lim.id}", lim.org or "all"))
        if group is None:
            match = [g for (m, _), g in groups.items() if m == f"limit:{lim.id}"]
            group = match[0] if match else None
        if group is None:
            continue
        use = _by_year(group, "value", years_list)
        bounds = [lim.values.get(y) for y in years_list]
        colours = []
        for u, b in zip(use, bounds):
            tight = b is not None and u is not None and abs(u - b) <= 1e-6 * max(1.0, abs(b))
            colours.append(WARN if tight else "#4e79a7")
        chart = bar_chart(years_list, [(lim.metric, "#4e79a7", [u or 0.0 for u in use])],
                          [Mark(f"bound ({lim.sense})", bounds, INK, dashed=True)], width=420, height=200,
                          label=f"limit {lim.id}", bar_colours=colours)
        scope = f" for {lim.org}" if lim.org else ""
        charts.append(f'<div class="figure small"><h3>{esc(lim.id)}</h3><p class="sub">{esc(lim.metric)}{esc(scope)} '
                      f'{esc(lim.sense)} bound; orange where the limit is reached</p>{chart}</div>')
        cells = []
        for u, b in zip(use, bounds):
            if b is None or u is None:
                cells.append(money(u) if u is not None else "-")
            elif lim.sense == "<=" and abs(b) > 1e-12:
                cells.append(f"{money(u)} / {money(b)} ({u / b:.0%})")
            else:
                cells.append(f"{money(u)} {lim.sense} {money(b)}")
        rows.append([lim.id, *cells])
    if not charts:
        return ""
    return ('<section id="limits"><h2>Use of limits</h2><p class="lead">What the plan uses of each limit each year '
            '(plan values, not weighted by confidence); the dashed line is the bound.</p>'
            + _small_multiples("limits", charts)
            + _table(["limit", *[_fy(y) for y in years_list]], rows, set(range(1, len(years_list) + 1)), "compact")
            + "</section>")


def _shortfall_section(data: ReportInputs) -> str:
    inst = data.instance
    if data.years is None:
        return ""
    targets = {t.id: t for t in inst.targets}
    rows = []
    for (measure, org), group in _rows_of(data.years, "target:").items():
        t = targets.get(measure.removeprefix("target:"))
        for _, r in group.iterrows():
            short = r.get("shortfall")
            if short is None or (isinstance(short, float) and math.isnan(short)) or short <= 1e-6:
                continue
            penalty = "hard" if t is not None and t.hard else (f"{t.shortfall_penalty:g}" if t is not None else "")
            rows.append([measure.removeprefix("target:"), org, _fy(r["year"]), money(r["value"]), money(r["bound"]),
                         (money(short), "bad"), penalty])
    if not rows:
        body = '<p class="ok">Every target is met in every year.</p>'
    else:
        body = ('<p class="lead">Where the plan falls short of a target; a soft target\'s shortfall costs '
                'its penalty per unit in the objective.</p>'
                + _table(["target", "scope", "year", "achieved", "required", "shortfall", "penalty per unit"],
                         rows, {3, 4, 5}))
    return f'<section id="shortfalls"><h2>Shortfalls</h2>{body}</section>'


def _risk_section(data: ReportInputs) -> str:
    sim = data.simulation
    if sim is None or sim.empty:
        return ""
    inst, years_list = data.instance, list(data.instance.years)
    columns = {c.lower().strip(): c for c in sim.columns}
    prob = next((columns[c] for c in columns if c.startswith("prob") or c in ("p_meet", "p_met")), None)
    group_cols = [columns[c] for c in ("target", "org") if c in columns]
    groups = sim.groupby(group_cols, sort=False) if group_cols else [((), sim)]
    targets = {t.id: t for t in inst.targets}
    parts = ['<section id="risk"><h2>Risk: what the plan may deliver</h2><p class="lead">From the delivery '
             'simulation: the shaded band runs from the 10th to the 90th percentile, the line is the median, '
             'dots are the mean; the dashed line is what is required.</p>']
    for key, group in groups:
        key = key if isinstance(key, tuple) else (key,)
        name = " / ".join(str(k) for k in key) or "plan"
        group = group.copy()
        group["_y"] = pd.to_numeric(group[columns["year"]], errors="coerce")

        def series(col: str | None, group: pd.DataFrame = group) -> list | None:
            if col is None or col not in columns:
                return None
            values = dict(zip(group["_y"], pd.to_numeric(group[columns[col]], errors="coerce")))
            return [None if y not in values or pd.isna(values[y]) else float(values[y]) for y in years_list]

        target = targets.get(str(key[0])) if key else None
        required = [target.values.get(y) for y in years_list] if target is not None else None
        chart = band_chart(years_list, low=series("p10"), high=series("p90"), mid=series("p50"),
                           mean=series("mean"), required=required, label=f"risk {name}")
        shown = [c for c in sim.columns if c not in group_cols and c != columns["year"]]
        rows = []
        for y in years_list:
            row_values = group[group["_y"] == y]
            if row_values.empty:
                continue
            r = row_values.iloc[0]
            cells = [_fy(y)]
            for c in shown:
                v = r[c]
                if c == prob and isinstance(v, (int, float)) and not pd.isna(v):
                    cells.append(f"{v:.0%}")
                elif isinstance(v, (int, float)) and not pd.isna(v):
                    cells.append(money(float(v)))
                else:
                    cells.append("" if pd.isna(v) else str(v))
            rows.append(cells)
        parts.append(f'<div class="figure"><h3>{esc(name)}</h3>{chart}'
                     + _legend([("p10 to p90", "#9ecae1")], [("median", ACCENT, False), ("required", INK, True)])
                     + _table(["year", *[("probability of meeting" if c == prob else c) for c in shown]], rows,
                              set(range(1, len(shown) + 1)), "compact") + "</div>")
    parts.append("</section>")
    return "".join(parts)


def _schemes_section(data: ReportInputs) -> str:
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
        start = "" if pd.isna(r["start_year"]) else _fy(int(r["start_year"]))
        rows.append([s.id, s.name, s.category.replace("_", " "), ("in", "in") if r["selected"] else ("out", "out"),
                     start, money(s.recurrent_saving), r["reason"]])
    n_in = int(reasons["selected"].sum())
    return (f'<section id="schemes"><h2>Schemes in and out</h2><p class="lead">{n_in} in, {len(rows) - n_in} out, '
            f'with the reason ({esc(inst.money_unit)}; recurrent saving is the full-year effect).</p>'
            + _table(["scheme", "name", "category", "", "start", "recurrent saving", "reason"], rows, {5}, "schemes")
            + "</section>")


def _alternatives_section(data: ReportInputs) -> str:
    """Other good plans and how much each pick of the best plan matters (`cipopt alternatives`)."""
    if data.alternatives is None and data.importance is None:
        return ""
    unit = esc(data.instance.money_unit)
    parts = ['<section id="alternatives"><h2>Alternatives and what each pick matters</h2>']
    if data.alternatives is not None:
        rows = []
        for r in data.alternatives.itertuples():
            changes = "; ".join(f"{label} {str(getattr(r, label)).replace(';', ', ')}"
                                for label in ("added", "removed", "moved")
                                if hasattr(r, label) and isinstance(getattr(r, label), str) and getattr(r, label))
            below = getattr(r, "below_best_pct", 0.0)
            rows.append([f"plan {r.plan}", money(r.objective), "best" if r.plan == 1 else f"{below:.2f}% below",
                         changes or ("the optimal plan" if r.plan == 1 else "")])
        parts.append(f'<p class="lead">Genuinely different plans close to the best ({unit}).</p>'
                     + _table(["plan", "objective", "against the best", "differences from the best plan"], rows, {1},
                              "alternatives"))
    if data.importance is not None:
        rows = []
        for r in data.importance.itertuples():
            loss = getattr(r, "loss_when_excluded", None)
            status = str(getattr(r, "status_when_excluded", "") or "")
            shown = "mandatory" if status == "mandatory" else "needed" if status == "infeasible" else (
                money(float(loss)) if loss is not None and loss == loss else status)
            core = "core" if str(getattr(r, "in_every_alternative", "")).lower() in ("true", "1") else ""
            rows.append([str(r.rank), r.scheme, shown, core])
        parts.append('<p class="lead">Each scheme of the best plan: the objective lost without it '
                     '("needed": no plan keeps the rules without it) and whether every alternative keeps it '
                     '(the core a board can treat as settled).</p>'
                     + _table(["rank", "scheme", "lost without it", "in every alternative"], rows, {2}, "importance"))
    return "".join(parts) + "</section>"


def _headline(data: ReportInputs) -> str:
    inst, summary = data.instance, data.summary
    status = summary.get("status", "unknown")
    objective = summary.get("objective")
    mode = summary.get("objective_mode", inst.objective.mode)
    what = OBJECTIVE_WORDS.get(mode, mode)
    gap = summary.get("mip_gap")
    cards = [
        ("status", status, "good" if status == "optimal" else "warn" if status == "feasible" else "bad"),
        (what, money(objective) if objective is not None else "-", ""),
        ("gap to optimal", f"{gap:.3%}" if isinstance(gap, (int, float)) else "-", ""),
    ]
    if data.plan is not None:
        chosen = sum(1 for y in data.plan.values() if y is not None)
        cards.append(("schemes selected", f"{chosen} of {len(inst.schemes)}", ""))
    if data.years is not None:
        targets = data.years[data.years["measure"].astype(str).str.startswith("target:")]
        total = float(pd.to_numeric(targets.get("shortfall"), errors="coerce").fillna(0).sum()) if len(targets) else 0.0
        cards.append(("total shortfall", money(total), "good" if total <= 1e-6 else "warn"))
    checker = summary.get("checker")
    if checker:
        cards.append(("independent check", "every rule holds" if checker == "accepted" else "REJECTED",
                      "good" if checker == "accepted" else "bad"))
    html_cards = "".join(f'<div class="card {k}"><div class="k">{esc(label)}</div><div class="v">{esc(value)}</div></div>'
                         for label, value, k in cards)
    messages = "".join(f"<li>{esc(m)}</li>" for m in summary.get("messages", []) + data.notes)
    return (f'<section id="headline"><div class="cards">{html_cards}</div>'
            + (f'<ul class="messages">{messages}</ul>' if messages else "") + "</section>")


CSS = """
*{box-sizing:border-box}
body{font-family:"Segoe UI",Arial,Helvetica,sans-serif;color:%(ink)s;margin:0;background:#f4f6f9;font-size:14px;line-height:1.45}
main{max-width:940px;margin:0 auto;padding:24px 28px 48px;background:#fff}
header h1{font-size:24px;margin:0 0 4px;color:%(accent)s}
header p{margin:0;color:%(muted)s}
h2{font-size:18px;margin:28px 0 6px;padding-bottom:4px;border-bottom:2px solid %(accent)s;color:%(accent)s}
h3{font-size:15px;margin:14px 0 2px}
.lead{margin:2px 0 10px;color:%(muted)s}.sub{margin:0 0 6px;color:%(muted)s;font-size:12.5px}
.tag{font-size:11px;font-weight:normal;background:#e8eef6;color:%(accent)s;padding:1px 6px;border-radius:8px;margin-left:6px}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin-top:14px}
.card{flex:1 1 110px;border:1px solid %(grid)s;border-left:5px solid %(accent)s;padding:8px 12px;border-radius:4px}
.card .k{font-size:12px;color:%(muted)s}.card .v{font-size:18px;font-weight:600;white-space:nowrap}
.card.good{border-left-color:%(good)s}.card.warn{border-left-color:%(warn)s}.card.bad{border-left-color:%(bad)s}
.messages{color:%(bad)s}
svg.chart{display:block;max-width:100%%;height:auto;font-size:11px}
svg .tick{fill:%(muted)s;font-size:11px}svg .label{fill:%(ink)s;font-size:11.5px}
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
td.bad{color:%(bad)s;font-weight:600}
td.in{color:%(good)s;font-weight:700}td.out{color:%(muted)s}
.ok{color:%(good)s;font-weight:600}
footer{margin-top:30px;color:%(muted)s;font-size:11.5px;border-top:1px solid %(grid)s;padding-top:8px;word-break:break-all}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}
@media print{body{background:#fff}main{max-width:none;padding:0}
 .figure,.card,tr{break-inside:avoid}h2{break-after:avoid}section{break-before:auto}}
@page{size:A4;margin:14mm}
""" % {"ink": INK, "muted": MUTED, "grid": GRID, "good": GOOD, "bad": BAD, "warn": WARN, "accent": ACCENT}


def render_report(data: ReportInputs, *, generated: dt.datetime | None = None) -> str:
    """The whole report as one HTML document."""
    inst, summary = data.instance, data.summary
    generated = generated or dt.datetime.now()
    years = list(inst.years)
    sections = [
        _headline(data), _targets_section(data), _bottom_line_section(data), _timeline_section(data), _quality_section(data),
        _limits_section(data), _shortfall_section(data), _risk_section(data), _alternatives_section(data),
        _schemes_section(data),
    ]
    options = summary.get("solver_options") or {}
    footer = (f"Instance {esc(inst.name)}; sha256 {esc(inst.sha256())}. Solved with "
              f"{esc(summary.get('solver', 'highs'))} {esc(summary.get('solver_version', ''))}"
              f"{'; options ' + esc(', '.join(f'{k}={v}' for k, v in options.items())) if options else ''}; "
              f"cipopt {esc(summary.get('cipopt_version', ''))}. Report made {esc(generated.strftime('%d %B %Y %H:%M'))} "
              f"from {esc(data.solution_dir)}.")
    weighting = "at confidence \u00d7 value" if inst.objective.counts_confidence else "at face value"
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{esc(inst.name)}: savings plan</title><style>{CSS}</style></head><body><main>"
        f"<header><h1>{esc(inst.name)}</h1><p>Savings plan {esc(_fy(years[0]))} to {esc(_fy(years[-1]))}; "
        f"money in {esc(inst.money_unit)}; objective: {esc(OBJECTIVE_WORDS.get(inst.objective.mode, inst.objective.mode))}"
        f" (savings {weighting}).</p></header>"
        + "".join(s for s in sections if s)
        + f"<footer>{footer}</footer></main></body></html>\n"
    )


def build_report(instance: Instance, solution_dir: str | Path, log: ProblemLog | None = None) -> str:
    log = log if log is not None else ProblemLog()
    return render_report(read_solution(instance, solution_dir, log))
