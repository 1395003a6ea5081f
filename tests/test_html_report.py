"""`cipopt report`: one self-contained HTML file, checked as text and opened in a real browser
(headless Debian chromium) for console errors, rendered charts and a screenshot."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from cipopt.cli import main
from cipopt.io.load import load_instance
from cipopt.report.contributions import category_contributions, target_parts
from cipopt.report.markup import target_title

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "instances" / "tiny"
HOLBY = ROOT / "instances" / "holby"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def holby(tmp_path_factory) -> tuple[Path, Path]:
    """Holby solved once for the module: (solution folder, report.html)."""
    tmp = tmp_path_factory.mktemp("holby")
    solution = tmp / "solution"
    assert run("solve", HOLBY, "--out", solution, "--no-store").exit_code == 0
    report = tmp / "report.html"
    result = run("report", HOLBY, solution, "-o", report)
    assert result.exit_code == 0, result.output
    return solution, report


def test_report_is_self_contained_with_every_section(holby):
    _, report = holby
    page = report.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    # nothing is fetched: no URL of any kind, no script, stylesheet link, image or font file
    assert not re.search(r"https?:|//[a-z]|\burl\(|<script|<link|<img|<iframe|@import", page, re.I)
    assert not re.search(r"\b(?:src|href)=", page, re.I)
    for section in ("summary", "targets", "timeline", "quality", "limits", "shortfalls", "schemes"):
        assert f'<section id="{section}">' in page
    order = [page.index(f'<section id="{s}">') for s in ("summary", "timeline", "targets", "quality", "limits",
                                                          "schemes")]
    assert order == sorted(order)  # a board paper's order: the summary first, the detail last
    assert '<section id="risk">' not in page  # no simulation.csv in the folder
    inst = load_instance(HOLBY)
    # one stacked chart per target, one per quality domain and limit, and the timeline
    assert page.count('<svg class="chart"') == len(inst.targets) + len(inst.quality.domains) + len(inst.limits)
    assert page.count('<svg class="chart timeline"') == 1
    for t in inst.targets:  # named in words, not by id
        assert f"<h3>{target_title(t)}</h3>" in page
    # the schemes table lists every scheme once, in or out, with its reason
    schemes = page[page.index('<section id="schemes">'):]
    assert schemes.count("<tr>") == len(inst.schemes) + 1
    assert "ineligible under the QIA rules" in schemes
    assert "@media print" in page


def test_category_bars_add_up_to_what_years_csv_reports(holby):
    solution, _ = holby
    inst = load_instance(HOLBY)
    plan = pd.read_csv(solution / "plan.csv")
    starts = {r.scheme: (int(r.start_year) if r.selected else None) for r in plan.itertuples()}
    years = pd.read_csv(solution / "years.csv")
    for t in inst.targets:
        parts = category_contributions(inst, starts, t.basis, t.org)
        total = np.sum(list(parts.values()), axis=0)
        reported = years[(years.measure == f"target:{t.id}")].sort_values("year")["value"].to_numpy()
        assert np.allclose(total, reported, atol=1e-6)
        assert len(parts) > 3  # a real breakdown, not one bar


def test_shortfalls_are_listed_with_their_penalty(holby):
    solution, report = holby
    page = report.read_text(encoding="utf-8")
    years = pd.read_csv(solution / "years.csv")
    short = years[years.measure.str.startswith("target:") & (years.shortfall > 1e-6)]
    assert len(short) > 0
    section = page[page.index('<section id="shortfalls">'):page.index('<section id="schemes">')]
    assert section.count("<tr>") == len(short) + 1
    assert "Every target is met" not in section


def _tiny_solution(tmp_path) -> Path:
    solution = tmp_path / "solution"
    assert run("solve", TINY, "--out", solution, "--no-store").exit_code == 0
    return solution


def test_risk_view_appears_only_with_simulation_results(tmp_path):
    solution = _tiny_solution(tmp_path)
    sim = pd.DataFrame({
        "year": [2025, 2026, 2027], "target": ["underlying"] * 3,
        "mean": [70.0, 180.0, 350.0], "p10": [40.0, 120.0, 250.0], "p50": [72.0, 185.0, 355.0],
        "p90": [95.0, 230.0, 420.0], "probability_met": [0.1, 0.45, 0.9],
    })
    sim.to_csv(solution / "simulation.csv", index=False)
    out = tmp_path / "risk.html"
    assert run("report", TINY, solution, "-o", out).exit_code == 0
    page = out.read_text(encoding="utf-8")
    risk = page[page.index('<section id="risk">'):page.index('<section id="schemes">')]
    assert risk.count('<polygon class="band"') == 1 and risk.count('<circle class="mean"') == 3
    assert '<polyline class="median"' in risk and '<polyline class="required"' in risk
    assert "probability of meeting" in risk and "45%" in risk and "90%" in risk

    # a file with only some of the columns shows what it has
    sim[["year", "target", "mean", "p50"]].to_csv(solution / "simulation.csv", index=False)
    assert run("report", TINY, solution, "-o", out, "--force").exit_code == 0
    risk = out.read_text(encoding="utf-8").split('<section id="risk">')[1].split("</section>")[0]
    assert "<polygon" not in risk and risk.count('<circle class="mean"') == 3 and "probability" not in risk


def test_report_refuses_bad_input_and_overwrites_only_with_force(tmp_path):
    solution = _tiny_solution(tmp_path)
    out = tmp_path / "r.html"
    assert run("report", TINY, solution, "-o", out).exit_code == 0
    again = run("report", TINY, solution, "-o", out)
    assert again.exit_code == 2 and "--force" in again.output
    missing = run("report", TINY, tmp_path / "nowhere", "-o", tmp_path / "x.html")
    assert missing.exit_code == 2 and "no such solution folder" in missing.output
    (solution / "summary.json").write_text("{not json")
    broken = run("report", TINY, solution, "-o", tmp_path / "y.html")
    assert broken.exit_code == 2 and "summary.json: is not a readable summary" in broken.output
    assert not (tmp_path / "y.html").exists()


def test_report_warns_when_the_solution_is_for_another_instance(tmp_path):
    solution = _tiny_solution(tmp_path)
    other = tmp_path / "other"
    shutil.copytree(TINY, other)
    text = (other / "instance.yaml").read_text().replace("values: {2025: 100,", "values: {2025: 110,")
    (other / "instance.yaml").write_text(text)
    result = run("report", other, solution, "-o", tmp_path / "r.html")
    assert result.exit_code == 0
    assert "warning:" in result.output and "made for another instance" in result.output
    assert "made for another instance" in (tmp_path / "r.html").read_text(encoding="utf-8")


def test_report_of_a_workbook_instance(tmp_path):
    book = tmp_path / "tiny.xlsx"
    assert run("convert", TINY, "-o", book).exit_code == 0
    solution = tmp_path / "solution"
    assert run("solve", book, "--out", solution, "--no-store").exit_code == 0
    assert run("report", book, solution, "-o", tmp_path / "r.html").exit_code == 0


# -- in a real browser --------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-extensions", "--disable-default-apps", "--no-pings", "--disable-breakpad",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # no name resolves: nothing can leave the machine
    "--proxy-server=127.0.0.1:9", "--hide-scrollbars",
]
# Appended to a copy of the report only: measures what the browser drew, lists every resource the
# page loaded, and logs one console line that proves console capture works.
PROBE = """<script>
window.addEventListener('load', () => {
  const charts = [...document.querySelectorAll('svg.chart')];
  const sized = charts.filter(s => { const b = s.getBoundingClientRect(); return b.width > 100 && b.height > 50; });
  const bars = [...document.querySelectorAll('svg.chart rect.bar')];
  const drawn = bars.filter(r => { const b = r.getBBox(); return b.width > 0 && b.height > 0; });
  const marks = document.querySelectorAll('svg.chart line.mark').length;
  const result = {charts: charts.length, sized: sized.length, bars: bars.length, drawn: drawn.length, marks,
                  resources: performance.getEntriesByType('resource').map(e => e.name),
                  width: document.querySelector('main').getBoundingClientRect().width};
  const pre = document.createElement('pre');
  pre.id = 'cipopt-probe';
  pre.textContent = JSON.stringify(result);
  document.body.appendChild(pre);
  console.log('cipopt-probe ' + pre.textContent);
});
</script>"""


def _chromium(args: list[str], home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HOME": str(home)}
    return subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={home / 'profile'}", *args],
                          capture_output=True, text=True, timeout=180, env=env)


def _console_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install chromium; "
                                               ".ci/run installs it): the report was not opened in a browser")
@pytest.mark.slow
def test_report_opens_in_chromium_without_errors_and_draws_its_charts(holby, tmp_path):
    _, report = holby
    page = report.read_text(encoding="utf-8")
    probed = tmp_path / "probed.html"
    probed.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    with tempfile.TemporaryDirectory() as home:
        dom = _chromium(["--enable-logging=stderr", "--v=0", "--window-size=1280,2000", "--dump-dom",
                         probed.as_uri()], Path(home))
    assert dom.returncode == 0, dom.stderr[-2000:]
    console = _console_lines(dom.stderr)
    assert any("cipopt-probe" in line for line in console), "the console was not captured"
    errors = [line for line in console if "cipopt-probe" not in line]
    assert errors == [], errors
    found = re.search(r'<pre id="cipopt-probe">(.*?)</pre>', dom.stdout, re.S)
    assert found, "the page did not finish loading"
    probe = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert probe["resources"] == []  # the page loaded nothing beyond itself
    assert probe["charts"] == page.count('<svg class="chart') >= 10
    assert probe["sized"] == probe["charts"]  # every chart laid out at a readable size
    assert probe["bars"] > 100 and probe["drawn"] == probe["bars"]
    assert probe["marks"] > 0

    screenshot = tmp_path / "report.png"
    with tempfile.TemporaryDirectory() as home:
        shot = _chromium(["--window-size=1280,2000", f"--screenshot={screenshot}", report.as_uri()], Path(home))
    assert shot.returncode == 0, shot.stderr[-2000:]
    png = screenshot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50_000  # a page of charts, not a blank one
    print(f"screenshot: {screenshot}")


def test_report_refuses_a_simulation_of_another_instance(tmp_path):
    """Holby's simulation.csv in a tiny solution folder would draw targets and years tiny has not."""
    solution = _tiny_solution(tmp_path)
    pd.DataFrame({"year": [2025, 2029], "target": ["underlying", "control-total"], "mean": [1.0, 2.0]}) \
        .to_csv(solution / "simulation.csv", index=False)
    out = tmp_path / "r.html"
    result = run("report", TINY, solution, "-o", out)
    assert result.exit_code == 2 and not out.exists(), result.output
    assert f"{solution / 'simulation.csv'}, row 3, column year: year 2029 is not a plan year" in result.output
    assert "row 3, column target: target 'control-total' is not a target of the instance" in result.output
    assert "row 2" not in result.output
