"""Charts of the board paper as inline SVG (no script, no font, nothing fetched).

Every chart carries its unit on the value axis, and money charts draw savings up from zero and
costs down from the top of the savings, so the net level and the gap to a target read true.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from cipopt.report.units import Units, fy, plain

INK, MUTED, GRID, GOOD, BAD, WARN, ACCENT = "#1d2733", "#5b6675", "#dde2e8", "#2e7d32", "#c62828", "#ef8c00", "#1f4e79"
COST = "#9aa3ad"
LEFT, RIGHT, TOP, BOTTOM = 78, 16, 26, 30


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
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


def domain(lo: float, hi: float) -> tuple[float, float, list[float]]:
    """The plotted range and its ticks: nice ticks, but a nice tick far beyond the data gives way
    to a small margin, so the bars keep their height. Zero is always in range."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    ticks = nice_ticks(lo, hi)
    span = max(hi - lo, 1e-9)
    bottom = ticks[0] if ticks[0] >= lo - 0.25 * span else lo - 0.04 * span
    top = ticks[-1] if ticks[-1] <= hi + 0.25 * span else hi + 0.04 * span
    bottom, top = min(bottom, lo), max(top, hi)
    return bottom, top, [t for t in ticks if bottom - 1e-9 <= t <= top + 1e-9]


@dataclass
class Mark:
    """A per-year level drawn across each year's band (a target, a floor, a bound)."""

    label: str
    values: list[float | None]
    colour: str = INK
    dashed: bool = False


class _Frame:
    """The axes of a chart over years: value scale, ticks with the unit, year labels."""

    def __init__(self, years: list[int], lo: float, hi: float, width: int, height: int, axis: str,
                 tick: Callable[[float, float], str], css_class: str, label: str):
        self.years, self.width, self.height = years, width, height
        self.lo, self.hi, self.ticks = domain(lo, hi)
        self.plot_w, self.plot_h = width - LEFT - RIGHT, height - TOP - BOTTOM
        self.band = self.plot_w / max(len(years), 1)
        step = (self.ticks[1] - self.ticks[0]) if len(self.ticks) > 1 else 1.0
        self.parts = [f'<svg class="{css_class}" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
                      f'role="img" aria-label="{esc(label)}">',
                      f'<text class="axis" x="6" y="12" text-anchor="start">{esc(axis)}</text>']
        for t in self.ticks:
            self.parts.append(f'<line class="grid" x1="{LEFT}" x2="{width - RIGHT}" y1="{self.y(t):.1f}" '
                              f'y2="{self.y(t):.1f}" stroke="{GRID if t else MUTED}" stroke-width="1"/>')
            self.parts.append(f'<text x="{LEFT - 6}" y="{self.y(t) + 4:.1f}" text-anchor="end" class="tick">'
                              f'{esc(tick(t, step))}</text>')
        for i, year in enumerate(years):
            self.parts.append(f'<text x="{self.x(i):.1f}" y="{height - 10}" text-anchor="middle" class="tick">'
                              f'{esc(fy(year))}</text>')

    def y(self, value: float) -> float:
        return TOP + self.plot_h * (self.hi - value) / (self.hi - self.lo if self.hi > self.lo else 1)

    def x(self, i: int) -> float:
        return LEFT + self.band * (i + 0.5)

    def rect(self, i: int, a: float, b: float, fill: str, title: str, css: str = "bar", extra: str = "") -> None:
        w = self.band * 0.56
        y0, y1 = self.y(max(a, b)), self.y(min(a, b))
        self.parts.append(f'<rect class="{css}" x="{self.x(i) - w / 2:.1f}" y="{y0:.1f}" width="{w:.1f}" '
                          f'height="{max(y1 - y0, 0.5):.1f}" fill="{fill}"{extra}><title>{esc(title)}</title></rect>')

    def mark(self, i: int, m: Mark, v: float, text: str) -> None:
        dash = ' stroke-dasharray="6 4"' if m.dashed else ""
        self.parts.append(f'<line class="mark" x1="{self.x(i) - self.band * 0.42:.1f}" '
                          f'x2="{self.x(i) + self.band * 0.42:.1f}" y1="{self.y(v):.1f}" y2="{self.y(v):.1f}" '
                          f'stroke="{m.colour}" stroke-width="3"{dash}><title>{esc(m.label)} {esc(fy(self.years[i]))}: '
                          f'{esc(text)}</title></line>')

    def svg(self) -> str:
        return "".join(self.parts) + "</svg>"


def plain_tick(v: float, step: float) -> str:
    d = 0 if step >= 1 else min(3, int(math.ceil(-math.log10(step) - 1e-9)))
    return f"{round(v, d) + 0.0:,.{d}f}"


def bar_chart(years: list[int], stacks: list[tuple[str, str, list[float]]], marks: list[Mark] = (), *,
              axis: str, units: Units | None = None, width: int = 860, height: int = 280, label: str = "",
              bar_colours: list[str] | None = None, css_class: str = "chart") -> str:
    """Bars per year, stacked (positives up, negatives down), with level marks across each year.

    stacks: (name, colour, values per year); `bar_colours` colours a single series per year.
    `axis` names the unit of the value axis; with `units` the values are money, shown in it."""
    n = len(years)
    pos, neg = np.zeros(n), np.zeros(n)
    for _, _, values in stacks:
        v = np.nan_to_num(np.asarray(values, dtype=float))
        pos += np.where(v > 0, v, 0)
        neg += np.where(v < 0, v, 0)
    levels = [v for m in marks for v in m.values if v is not None and math.isfinite(v)]
    lo = min([0.0, float(neg.min()) if n else 0.0, *levels])
    hi = max([0.0, float(pos.max()) if n else 0.0, *levels])
    show = units.money if units else (lambda v: plain(v, 1 if abs(v) < 100 and v != round(v) else 0))
    frame = _Frame(years, lo, hi, width, height, axis, units.tick if units else plain_tick, css_class, label)
    for i, year in enumerate(years):
        up = down = 0.0
        for name, colour, values in stacks:
            v = values[i]
            if v is None or not math.isfinite(v) or abs(v) < 1e-9:
                continue
            start = up if v > 0 else down
            frame.rect(i, start, start + v, bar_colours[i] if bar_colours else colour, f"{name} {fy(year)}: {show(v)}")
            if v > 0:
                up += v
            else:
                down += v
        for m in marks:
            v = m.values[i]
            if v is not None and math.isfinite(v):
                frame.mark(i, m, v, show(v))
    return frame.svg()


def savings_chart(years: list[int], savings: list[tuple[str, str, list[float]]], costs: list[float],
                  required: list[float | None], units: Units, *, width: int = 860, height: int = 300,
                  label: str = "") -> str:
    """What a plan achieves against a target, drawn so the gap reads true.

    Each year: the savings of each category stacked up from zero; the costs (one-off, running,
    double running, all as positive amounts) as a grey block hanging down from the top of the
    savings, so the bar's solid part ends at the net achieved; a black line at the net, the
    required level across the year, and the shortfall in red between them, labelled."""
    n = len(years)
    gross = np.zeros(n)
    for _, _, values in savings:
        gross += np.nan_to_num(np.asarray(values, dtype=float))
    cost = np.nan_to_num(np.asarray(costs, dtype=float))
    net = gross - cost
    levels = [v for v in required if v is not None and math.isfinite(v)]
    lo = min([0.0, float(net.min()) if n else 0.0])
    hi = max([0.0, float(gross.max()) if n else 0.0, *levels])
    frame = _Frame(years, lo, hi, width, height, units.symbol, units.tick, "chart", label)
    need = Mark("required", list(required), INK)
    for i, year in enumerate(years):
        up = 0.0
        for name, colour, values in savings:
            v = float(values[i] or 0.0)
            if abs(v) < 1e-9:
                continue
            frame.rect(i, up, up + v, colour, f"{name} {fy(year)}: {units.money(v)}")
            up += v
        if cost[i] > 1e-9:
            frame.rect(i, gross[i] - cost[i], gross[i], COST, f"less costs {fy(year)}: {units.money(-cost[i])}",
                       css="bar cost", extra=' fill-opacity="0.9" stroke="#fff" stroke-dasharray="3 2"')
        frame.mark(i, Mark("net achieved", [], ACCENT), float(net[i]), units.money(float(net[i])))
        r = required[i]
        if r is None or not math.isfinite(r):
            continue
        frame.mark(i, need, r, units.money(r))
        short = r - net[i]
        if short > 1e-6:
            x = frame.x(i) + frame.band * 0.33
            frame.parts.append(f'<line class="gap" x1="{x:.1f}" x2="{x:.1f}" y1="{frame.y(r):.1f}" '
                               f'y2="{frame.y(net[i]):.1f}" stroke="{BAD}" stroke-width="3"><title>short '
                               f'{fy(year)}: {esc(units.money(short))}</title></line>')
            frame.parts.append(f'<text class="gaplabel" x="{x - 4:.1f}" y="{frame.y(r) - 4:.1f}" text-anchor="middle" '
                               f'fill="{BAD}">short {esc(units.money(short))}</text>')
    return frame.svg()


def band_chart(years: list[int], *, low: list | None, high: list | None, mid: list | None, mean: list | None,
               required: list | None, units: Units, width: int = 860, height: int = 260, label: str = "") -> str:
    """The risk view: the p10-p90 range as a band, the median as a line, the mean as dots and the
    required level as a dashed line."""
    series = [s for s in (low, high, mid, mean, required) if s is not None]
    values = [v for s in series for v in s if v is not None and math.isfinite(v)]
    lo, hi = (min(values + [0.0]), max(values + [0.0])) if values else (0.0, 1.0)
    frame = _Frame(years, lo, hi, width, height, units.symbol, units.tick, "chart", label)
    x, y, parts = frame.x, frame.y, frame.parts

    def points(s: list) -> list[tuple[float, float]]:
        return [(x(i), y(v)) for i, v in enumerate(s) if v is not None and math.isfinite(v)]

    if low is not None and high is not None:
        top_pts, bottom_pts = points(high), points(low)
        if top_pts and len(top_pts) == len(bottom_pts):
            outline = top_pts + bottom_pts[::-1]
            parts.append('<polygon class="band" fill="#9ecae1" fill-opacity="0.55" points="'
                         + " ".join(f"{px:.1f},{py:.1f}" for px, py in outline) + '"><title>P10 to P90</title></polygon>')
    if mid is not None and points(mid):
        parts.append(f'<polyline class="median" fill="none" stroke="{ACCENT}" stroke-width="2.5" points="'
                     + " ".join(f"{px:.1f},{py:.1f}" for px, py in points(mid)) + '"><title>median (P50)</title></polyline>')
    if required is not None and points(required):
        parts.append(f'<polyline class="required" fill="none" stroke="{INK}" stroke-width="2" stroke-dasharray="6 4" points="'
                     + " ".join(f"{px:.1f},{py:.1f}" for px, py in points(required)) + '"><title>required</title></polyline>')
    if mean is not None:
        for i, v in enumerate(mean):
            if v is not None and math.isfinite(v):
                parts.append(f'<circle class="mean" cx="{x(i):.1f}" cy="{y(v):.1f}" r="4.5" fill="{WARN}">'
                             f'<title>mean {esc(fy(years[i]))}: {esc(units.money(v))}</title></circle>')
    return frame.svg()


def timeline_chart(years: list[int], rows: list[tuple[str, str, str, int]], colours: dict[str, str], *,
                   width: int = 860) -> str:
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
        parts.append(f'<text x="{x0 + col / 2:.1f}" y="{top - 10}" text-anchor="middle" class="tick">{esc(fy(year))}</text>')
    for r, (sid, name, category, start) in enumerate(rows):
        yy = top + r * row_h
        colour = colours.get(category, "#8c8c8c")
        shown = name if len(name) <= 46 else name[:45] + "\u2026"
        parts.append(f'<text x="{label_w - 8}" y="{yy + 13}" text-anchor="end" class="label">{esc(shown)}<title>'
                     f'{esc(name)}</title></text>')
        i = years.index(start) if start in years else 0
        x0 = label_w + col * i
        parts.append(f'<rect class="bar start" x="{x0 + 2:.1f}" y="{yy + 3}" width="{col * (n - i) - 4:.1f}" '
                     f'height="{row_h - 6}" rx="3" fill="{colour}" fill-opacity="0.85"><title>{esc(name)} '
                     f'({esc(category.replace("_", " "))}): starts {esc(fy(start))}</title></rect>')
        parts.append(f'<circle class="startmark" cx="{x0 + 8:.1f}" cy="{yy + row_h / 2:.1f}" r="3.2" fill="#fff"/>')
    parts.append("</svg>")
    return "".join(parts)


def hbar_chart(rows: list[tuple[str, float, str]], *, axis: str, tick: Callable[[float, float], str],
               show: Callable[[float], str], width: int = 860, label: str = "") -> str:
    """Horizontal bars, one per named row (name, value, colour): the fund panel's entry budgets."""
    label_w, right, top, row_h = 300, 60, 26, 18
    height = top + row_h * len(rows) + 8
    values = [v for _, v, _ in rows if math.isfinite(v)]
    lo, hi, ticks = domain(0.0, max(values + [0.0]))
    plot_w = width - label_w - right

    def x(v: float) -> float:
        return label_w + plot_w * (v - lo) / (hi - lo if hi > lo else 1)

    step = (ticks[1] - ticks[0]) if len(ticks) > 1 else 1.0
    parts = [f'<svg class="chart hbar" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
             f'aria-label="{esc(label)}"><text class="axis" x="{label_w - 8}" y="{top - 10}" text-anchor="end">{esc(axis)}</text>']
    for t in ticks:
        parts.append(f'<line class="grid" x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{top - 6}" y2="{height - 4}" stroke="{GRID}"/>')
        parts.append(f'<text x="{x(t):.1f}" y="{top - 10}" text-anchor="middle" class="tick">{esc(tick(t, step))}</text>')
    for r, (name, value, colour) in enumerate(rows):
        yy = top + r * row_h
        shown = name if len(name) <= 46 else name[:45] + "\u2026"
        parts.append(f'<text x="{label_w - 8}" y="{yy + 13}" text-anchor="end" class="label">{esc(shown)}<title>'
                     f'{esc(name)}</title></text>')
        if math.isfinite(value):
            parts.append(f'<rect class="bar" x="{label_w:.1f}" y="{yy + 3}" width="{max(x(value) - label_w, 0.5):.1f}" '
                         f'height="{row_h - 6}" fill="{colour}"><title>{esc(name)}: {esc(show(value))}</title></rect>')
        else:
            parts.append(f'<text x="{label_w + 4}" y="{yy + 13}" class="label">never in</text>')
    parts.append("</svg>")
    return "".join(parts)
