"""The board paper (`cipopt report`): every figure of the executive summary against an independent
recomputation with the checker (cipopt.check) and the raw instance files, the fund panel's report,
the house style (units, separators, words not ids), and the printed A4 paper in headless Chromium."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from cipopt.check import check_plan
from cipopt.cli import main
from cipopt.io.load import load_instance
from cipopt.report.markup import target_label
from cipopt.report.units import Units, fy

ROOT = Path(__file__).resolve().parents[1]
HOLBY, FUND, TINY = ROOT / "instances" / "holby", ROOT / "instances" / "fund", ROOT / "instances" / "tiny"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def text_of(fragment: str) -> str:
    """What a reader sees: tags out, entities decoded, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def section(page: str, name: str) -> str:
    start = page.index(f'<section id="{name}">')
    return page[start:page.index("</section>", start)]


@pytest.fixture(scope="module")
def holby(tmp_path_factory):
    """Holby solved and simulated once: (solution folder, report in £k, report in £m, plan)."""
    tmp = tmp_path_factory.mktemp("board")
    solution = tmp / "solution"
    run("solve", HOLBY, "-o", solution, "--no-store", "-q")
    run("simulate", HOLBY, solution / "plan.csv", "--draws", "4000", "--seed", "5", "-o", tmp / "risk", "-q")
    shutil.copy(tmp / "risk" / "simulation.csv", solution / "simulation.csv")
    run("report", HOLBY, solution, "-o", tmp / "k.html", "-q")
    run("report", HOLBY, solution, "-o", tmp / "m.html", "--unit", "m", "-q")
    plan = pd.read_csv(solution / "plan.csv")
    starts = {r.scheme: (int(r.start_year) if r.selected else None) for r in plan.itertuples()}
    return solution, (tmp / "k.html").read_text(encoding="utf-8"), (tmp / "m.html").read_text(encoding="utf-8"), starts


def _raw_schemes() -> pd.DataFrame:
    return pd.read_csv(HOLBY / "schemes.csv", keep_default_na=False)


def test_the_summary_leads_and_recommends_the_plan_the_checker_accepts(holby):
    _, page, _, starts = holby
    inst = load_instance(HOLBY)
    assert page.index('<section id="summary">') < page.index('<section id="timeline">')
    summary = text_of(section(page, "summary"))
    verdict = check_plan(inst, starts)
    assert verdict.ok and verdict.selected == sum(y is not None for y in starts.values())
    assert f"approve a programme of {verdict.selected:,} of the {len(inst.schemes):,} candidate schemes" in summary
    by_year = pd.Series([y for y in starts.values() if y is not None]).value_counts()
    for year, n in by_year.items():
        assert f"{n:,} starting in {fy(year)}" in summary
    assert "independent check confirms" in summary


@pytest.mark.parametrize("scale", ["k", "m"])
def test_each_target_sentence_states_the_checkers_shortfall_each_year(holby, scale):
    _, page_k, page_m, starts = holby
    page = page_k if scale == "k" else page_m
    inst = load_instance(HOLBY)
    units = Units.of(inst.money_unit, scale)
    years = check_plan(inst, starts).years
    items = re.findall(r"<li>(.*?)</li>", section(page, "summary").split("<h3>Against each target</h3>")[1]
                       .split("</ul>")[0])
    assert len(items) == len(inst.targets)
    for t, item in zip(inst.targets, items):
        sentence = html.unescape(item)
        rows = years[years.measure == f"target:{t.id}"].set_index("year")
        short = [(int(y), float(s)) for y, s in rows["shortfall"].items() if s > 1e-6]
        met = [int(y) for y, s in rows["shortfall"].items() if s <= 1e-6]
        assert short, "Holby misses both targets in some years"
        for y, s in short:
            assert f"{units.money(s)} in {fy(y)}" in sentence, (sentence, y, s)
        for y in met:
            assert fy(y) in sentence.split("short by")[0]
        worst_year, worst_gap = max(short, key=lambda ys: ys[1])  # the worst year alone, never a sum (issue 14)
        assert f"Worst year's shortfall: {units.money(worst_gap)} in {fy(worst_year)}." in sentence
        assert sentence.count(" in 20") == len(short) + (1 if met else 0) + 1
    shorts = years[years.measure.str.startswith("target:") & (years.shortfall > 1e-6)]
    worst = shorts.loc[shorts.shortfall.idxmax()]
    target = next(t for t in inst.targets if f"target:{t.id}" == worst.measure)
    risks = text_of(page.split("<h3>The main risks</h3>")[1].split("</ul>")[0])
    assert (f"The largest gap is {units.money(worst.shortfall)} against {target_label(inst, target)} in "
            f"{fy(worst.year)}.") in risks


def test_bottom_line_shows_the_npv_apart_from_the_objective_it_never_calls_npv(holby):
    _, page, page_m, starts = holby
    inst = load_instance(HOLBY)
    verdict = check_plan(inst, starts)
    # the checker's objective is the NPV less the discounted shortfall penalties (npv mode)
    npv, penalty, objective = verdict.objective + verdict.penalty, verdict.penalty, verdict.objective
    fig = verdict.years
    recurrent = fig[(fig.measure == "recurrent_net_saving") & (fig.org == "all")].set_index("year")["value"]
    in_year = fig[(fig.measure == "in_year_net_saving") & (fig.org == "all")]["value"].sum()
    for scale, text in (("k", page), ("m", page_m)):
        units = Units.of(inst.money_unit, scale)
        bottom = text_of(text.split("<h3>The bottom line</h3>")[1].split("</p>")[0])
        assert f"net present value is {units.money(npv)}" in bottom
        assert f"net present value less target shortfall penalties: {units.money(objective)}" in bottom
        assert f"after {units.money(penalty)} of discounted penalties" in bottom
        assert f"takes {units.money(recurrent[inst.years[-1]])} a year out of the cost base" in bottom
        assert f"total {units.money(in_year)}" in bottom
    summary = json.loads((holby[0] / "summary.json").read_text())
    assert abs(summary["objective"] - objective) < 1e-6 * max(1, abs(objective))
    assert penalty > 1 and units.money(npv) != units.money(objective)  # a real difference the paper shows


def test_the_npv_of_summary_json_is_used_when_the_solve_wrote_one(holby, tmp_path):
    solution = tmp_path / "s"
    shutil.copytree(holby[0], solution)
    summary = json.loads((solution / "summary.json").read_text())
    summary["net_present_value"], summary["shortfall_penalty"] = 12345.0, 678.0
    (solution / "summary.json").write_text(json.dumps(summary))
    run("report", HOLBY, solution, "-o", tmp_path / "r.html")
    bottom = text_of((tmp_path / "r.html").read_text().split("<h3>The bottom line</h3>")[1].split("</p>")[0])
    assert "net present value is £12,345k" in bottom and "after £678k of discounted penalties" in bottom


def test_main_risks_name_the_harms_and_the_scheme_in_only_by_qia_approval(holby):
    _, page, _, starts = holby
    inst = load_instance(HOLBY)
    raw = _raw_schemes()
    selected = raw[raw["id"].map(lambda s: starts.get(s) is not None)]
    domains = ["safety", "effectiveness", "experience", "access"]
    scores = selected[domains].apply(pd.to_numeric, errors="coerce").fillna(0)
    harmed = selected[(scores < 0).any(axis=1)]
    approved = selected["qia_approved"].astype(str).str.lower() == "true"
    risk = pd.to_numeric(selected["qia_risk"])
    barred_unless = (scores["safety"] < 0) | (scores["effectiveness"] < 0) | (risk > inst.quality.max_risk)
    only_by_approval = selected[approved & barred_unless]
    assert len(only_by_approval) == 1 and len(harmed) > 1  # Holby's story: one such scheme
    risks = text_of(page.split("<h3>The main risks</h3>")[1].split("</ul>")[0])
    assert f"{len(harmed):,} selected schemes harm a quality domain" in risks
    name = only_by_approval.iloc[0]["name"]
    assert f"{name} is in the plan only because the QIA was approved" in risks
    # the QIA table flags it, and every selected scheme with a harm is a red row
    quality = section(page, "quality")
    rows = re.findall(r"<tr( class=\"flag\")?>(.*?)</tr>", quality.split("<tbody>")[1])
    flagged = {text_of(r[1]).split(" starts ")[0] for r in rows if r[0]}
    assert flagged == set(harmed["name"])
    row = next(text_of(r[1]) for r in rows if text_of(r[1]).startswith(name))
    assert "in the plan only because its QIA was approved" in row and "approved (medical and nursing" in row
    # every scheme with a harm in any domain is in the table, selected or not, with its sign-off
    all_scores = raw[domains].apply(pd.to_numeric, errors="coerce").fillna(0)
    listed = {text_of(r[1]) for r in rows}
    for sname in raw[(all_scores < 0).any(axis=1)]["name"]:
        assert any(r.startswith(sname) for r in listed), sname
    all_risk = pd.to_numeric(raw["qia_risk"])
    for i, r in raw.iterrows():
        row = next((x for x in listed if x.startswith(r["name"] + " ")), None)
        if row is None:
            continue
        needs = (all_scores.loc[i, "safety"] < 0 or all_scores.loc[i, "effectiveness"] < 0
                 or all_risk[i] > inst.quality.max_risk)
        sign = "approved (medical and nursing directors)" if str(r["qia_approved"]).lower() == "true" else \
            "not approved: barred" if needs else "not needed"
        assert sign in row, (row, sign)
        assert ("barred whatever the sign-off" in row) == (all_risk[i] > inst.quality.hard_max_risk), row


def test_limits_fully_used_and_left_out_schemes_match_the_checker(holby):
    _, page, _, starts = holby
    inst = load_instance(HOLBY)
    fig = check_plan(inst, starts).years
    risks = text_of(page.split("<h3>The main risks</h3>")[1].split("</ul>")[0])
    for lim in inst.limits:
        rows = fig[fig.measure == f"limit:{lim.id}"]
        at = [int(r.year) for r in rows.itertuples() if abs(r.value - r.bound) <= 1e-6 * max(1, abs(r.bound))]
        words = lim.id.replace("-", " ").replace("pmo", "PMO").replace("wte", "WTE")
        if at:
            assert f"The {words} limit is fully used in" in risks
            for y in at:
                assert fy(y) in risks.split(f"The {words} limit")[1].split(".")[0]
        else:
            assert f"The {words} limit" not in risks
    out = sum(y is None for y in starts.values())
    left = text_of(page.split("<h3>Left out</h3>")[1].split("</ul>")[0])
    assert f"{out:,} schemes are left out" in left
    counts = [int(n.replace(",", "")) for n in re.findall(r"(?:^|\. )([\d,]+) (?:barred|excluded|cannot|left out because)",
                                                          left)]
    assert sum(counts) == out


def test_delivery_risk_shows_p_meet_per_target_and_year_from_the_simulation(holby):
    solution, page, _, _ = holby
    inst = load_instance(HOLBY)
    sim = pd.read_csv(solution / "simulation.csv")
    table = section(page, "risk").split('<table class="compact pmeet">')[1].split("</table>")[0]
    rows = [re.findall(r"<td[^>]*>(.*?)</td>", r) for r in re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>")[1])]
    assert len(rows) == len(inst.targets)
    for t, cells in zip(inst.targets, rows):
        mine = sim[sim.target == t.id].set_index("year")["probability_met"]
        assert cells[1:] == [f"{mine[y]:.0%}" for y in inst.years]
        low_year = int(mine.idxmin())
        risks = text_of(page.split("<h3>The main risks</h3>")[1].split("</ul>")[0])
        assert f"the chance of meeting {target_label(inst, t)} is lowest in {fy(low_year)}, at {mine.min():.0%}" in risks


def test_a_board_reads_no_ids_snake_case_none_or_bare_thousands(holby):
    _, page, page_m, _ = holby
    inst = load_instance(HOLBY)
    for text in (page, page_m):
        body = text_of(text.split("<main>")[1].split("<footer>")[0])
        assert not re.search(r"\b[a-z]+_[a-z_]+\b", body), re.findall(r"\b[a-z]+_[a-z_]+\b", body)[:5]
        assert "None" not in body and "nan" not in body.split()
        bare = re.findall(r"(?<![\d,.\-/£])\d{4,}(?![\d/])", body)
        assert bare == [], bare[:5]  # every number of 1,000 or more is separated; years read 2025/26
        for s in inst.schemes:  # schemes by name: an id shows only where it is also the name
            if s.name and s.name != s.id and "-" in s.id:  # plain words (consumables) may be both
                assert not re.search(rf"(?<![\w-]){re.escape(s.id)}(?![\w-])", body), s.id
        footer = text_of(text.split("<footer>")[1])
        assert "=None" not in footer and "threads as HiGHS chooses" in footer
    # every value axis carries its unit: money charts in the chosen unit
    for text, symbol in ((page, "£k"), (page_m, "£m")):
        charts = re.findall(r'<svg class="chart"[^>]*>(.*?)</svg>', text, re.S)
        assert charts and all('<text class="axis"' in c for c in charts)
        targets = section(text, "targets")
        assert targets.count(f'<text class="axis" x="6" y="12" text-anchor="start">{symbol}</text>') == len(inst.targets)


def test_gaps_are_drawn_from_the_net_to_the_requirement(holby):
    """The red gap line of each year runs from the net achieved to the required level, at the
    scale of the axis: 2025/26's control-total gap of 1,414 is drawn as 1,414, not 0.6k."""
    solution, page, _, starts = holby
    inst = load_instance(HOLBY)
    fig = check_plan(inst, starts).years
    targets = section(page, "targets")
    charts = re.findall(r'<svg class="chart"[^>]*>(.*?)</svg>', targets, re.S)
    for t, chart in zip(inst.targets, charts):
        ticks = [(float(y), float(v.replace(",", ""))) for y, v in
                 re.findall(r'<text x="\d+" y="([\d.]+)" text-anchor="end" class="tick">([\d,.\-]+)</text>', chart)]
        (y0, v0), (y1, v1) = ticks[0], ticks[-1]
        per_unit = (y0 - y1) / (v1 - v0)  # pixels per £k
        gaps = re.findall(r'<line class="gap" x1="[\d.]+" x2="[\d.]+" y1="([\d.]+)" y2="([\d.]+)"', chart)
        short = fig[(fig.measure == f"target:{t.id}") & (fig.shortfall > 1e-6)]
        assert len(gaps) == len(short)
        for (a, b), s in zip(gaps, short["shortfall"]):
            assert abs((float(b) - float(a)) / per_unit - s) <= 0.2 / per_unit + 1e-6 * s
        # no bar is drawn below zero where the net is positive: costs hang from the savings
        zero = y0 + v0 * per_unit
        bars = re.findall(r'<rect class="bar[^"]*" x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="([\d.]+)"', chart)
        net = fig[fig.measure == f"target:{t.id}"]["value"]
        if (net > 0).all():
            assert all(float(y) + float(h) <= zero + 0.6 for y, h in bars)


def test_fund_panel_report_is_the_ranking(tmp_path):
    ranked = tmp_path / "rank"
    run("rank", FUND, "-o", ranked, "--steps", "8", "--samples", "40", "-q")
    run("report", FUND, ranked, "-o", tmp_path / "fund.html", "-q")
    page = (tmp_path / "fund.html").read_text()
    sections = re.findall(r'<section id="(\w+)">', page)
    assert sections == ["summary", "entry", "ranking", "levels"]
    assert "Every target is met" not in page and "QIA score" not in page and 'id="quality"' not in page
    inst = load_instance(FUND)
    bids = pd.read_csv(ranked / "bids.csv")
    table = section(page, "ranking").split("<tbody>")[1]
    rows = [[text_of(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", r)] for r in re.findall(r"<tr>(.*?)</tr>", table)]
    assert len(rows) == len(bids)
    names = {s.id: s.name for s in inst.schemes}
    for r, cells in zip(bids.sort_values("rank").itertuples(), rows):
        assert cells[1] == names[r.bid]
        assert cells[4] == ("-" if pd.isna(r.fund_cost) else f"{r.fund_cost:,.0f}")
        assert cells[5] == ("-" if pd.isna(r.value_for_money) else "free" if np.isinf(r.value_for_money)
                            else f"{r.value_for_money * 1000:,.2f}")  # score per £k -> per £m
        assert cells[7] == ("never" if pd.isna(r.entry_budget) else f"{r.entry_budget:,.0f}")
    summary = json.loads((ranked / "summary.json").read_text())
    lead = text_of(section(page, "summary"))
    assert f"{len(bids):,} bids ranked" in lead and f"£{summary['fund_total']:,.0f}k" in lead
    assert f"funds {int(bids['in_at_full_budget'].sum()):,} bids" in lead
    assert f"{summary['optimal_value_at_full_budget']:,.2f}" in lead
    assert page.count('<svg class="chart hbar"') == 1


def test_a_fund_solved_as_a_plan_shows_no_empty_charts_and_claims_no_targets(tmp_path):
    run("solve", FUND, "-o", tmp_path / "s", "--no-store", "-q")
    run("report", FUND, tmp_path / "s", "-o", tmp_path / "r.html", "-q")
    page = (tmp_path / "r.html").read_text()
    assert "Every target is met" not in page and 'id="shortfalls"' not in page
    assert "sets no savings targets" in text_of(section(page, "summary"))
    for chart in re.findall(r'<svg class="chart"[^>]*>(.*?)</svg>', page, re.S):
        assert "<rect" in chart  # every chart drawn has something in it


def test_tiny_without_harm_or_simulation_says_so(tmp_path):
    run("solve", TINY, "-o", tmp_path / "s", "--no-store", "-q")
    run("report", TINY, tmp_path / "s", "-o", tmp_path / "r.html", "-q")
    page = (tmp_path / "r.html").read_text()
    risks = text_of(page.split("<h3>The main risks</h3>")[1].split("</ul>")[0])
    assert "has not been simulated" in risks and 'id="risk"' not in page


# -- printed, in a real browser -----------------------------------------------------------------

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-extensions", "--disable-default-apps",
         "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9", "--hide-scrollbars"]
LAYOUT = """<script>
window.addEventListener('load', () => {
  const main = document.querySelector('main').getBoundingClientRect();
  const sections = [...document.querySelectorAll('main > section')].map(s => {
    const b = s.getBoundingClientRect(); return {id: s.id, top: b.top, height: b.height, right: b.right}; });
  const wide = [...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect().right > main.right + 1)
    .map(e => e.tagName + '.' + e.className).slice(0, 5);
  const pre = document.createElement('pre'); pre.id = 'layout';
  pre.textContent = JSON.stringify({sections, wide, scroll: document.documentElement.scrollWidth,
                                    inner: window.innerWidth});
  document.body.appendChild(pre);
});
</script>"""


def _chromium(args, home):
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={home}/profile", *args], capture_output=True,
                          text=True, timeout=180, env={"HOME": home, "PATH": "/usr/bin:/bin"})


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install chromium; "
                                               ".ci/run installs it): the paper was not laid out or printed")
@pytest.mark.parametrize("kind", ["plan", "fund"])
def test_the_paper_lays_out_in_order_and_prints_on_a4(holby, tmp_path, kind):
    if kind == "plan":
        page = holby[1]
        expected = ["summary", "timeline", "targets", "bottom-line", "quality", "risk", "limits", "shortfalls",
                    "schemes"]
    else:
        run("rank", FUND, "-o", tmp_path / "rank", "--steps", "5", "--samples", "20", "-q")
        run("report", FUND, tmp_path / "rank", "-o", tmp_path / "fund.html", "-q")
        page = (tmp_path / "fund.html").read_text()
        expected = ["summary", "entry", "ranking", "levels"]
    report = tmp_path / "paper.html"
    report.write_text(page, encoding="utf-8")
    probed = tmp_path / "probed.html"
    probed.write_text(page.replace("</body>", LAYOUT + "</body>"), encoding="utf-8")
    with tempfile.TemporaryDirectory() as home:
        dom = _chromium(["--window-size=1000,1400", "--dump-dom", probed.as_uri()], home)
        pdf = tmp_path / "paper.pdf"
        printed = _chromium(["--no-pdf-header-footer", f"--print-to-pdf={pdf}", report.as_uri()], home)
        shot = tmp_path / "paper.png"
        snap = _chromium(["--window-size=1000,1400", f"--screenshot={shot}", report.as_uri()], home)
    assert dom.returncode == 0 and printed.returncode == 0 and snap.returncode == 0, printed.stderr[-1000:]
    found = re.search(r'<pre id="layout">(.*?)</pre>', dom.stdout, re.S)
    layout = json.loads(html.unescape(found.group(1)))
    assert [s["id"] for s in layout["sections"]] == expected
    tops = [s["top"] for s in layout["sections"]]
    assert tops == sorted(tops) and all(s["height"] > 40 for s in layout["sections"])
    assert layout["sections"][0]["top"] < 200  # the summary is what a reader sees first
    assert layout["wide"] == [] and layout["scroll"] <= layout["inner"]  # nothing runs off the page
    data = pdf.read_bytes()
    assert data[:5] == b"%PDF-"
    pages = len(re.findall(rb"/Type\s*/Page(?!s)", data))
    boxes = {tuple(round(float(v)) for v in m) for m in re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", data)}
    assert boxes == {(595, 842)}  # A4 in points
    assert (6 <= pages <= 20) if kind == "plan" else (2 <= pages <= 6), pages
    width, height = _png_size(shot.read_bytes())
    assert (width, height) == (1000, 1400) and shot.stat().st_size > 40_000


def test_a_systems_targets_are_named_with_their_organisation_and_the_checkers_shortfalls(tmp_path):
    system = ROOT / "instances" / "system"
    run("solve", system, "-o", tmp_path / "s", "--no-store", "-q")
    run("report", system, tmp_path / "s", "-o", tmp_path / "r.html", "-q")
    page = (tmp_path / "r.html").read_text()
    inst = load_instance(system)
    plan = pd.read_csv(tmp_path / "s" / "plan.csv")
    starts = {r.scheme: (int(r.start_year) if r.selected else None) for r in plan.itertuples()}
    years = check_plan(inst, starts).years
    units = Units.of(inst.money_unit, "k")
    items = [text_of(i) for i in re.findall(r"<li>(.*?)</li>", page.split("<h3>Against each target</h3>")[1]
                                            .split("</ul>")[0])]
    assert len(items) == len(inst.targets)
    orgs = {o.id: o.name for o in inst.organisations}
    for t, sentence in zip(inst.targets, items):
        assert sentence.startswith(target_label(inst, t) + ":")
        assert (orgs[t.org] if t.org else "the whole system") in sentence
        rows = years[(years.measure == f"target:{t.id}") & years.bound.notna()]
        for r in rows.itertuples():
            if r.shortfall > 1e-6:
                assert f"{units.money(r.shortfall)} in {fy(r.year)}" in sentence
            else:
                assert fy(r.year) in sentence.split("short by")[0]
