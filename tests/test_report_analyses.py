"""The HTML report shows alternatives, importance and explanations when their files are present."""

from __future__ import annotations

from click.testing import CliRunner

from cipopt.cli import main


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


def test_report_with_alternatives_and_explanations(tmp_path):
    out = tmp_path / "solution"
    run("solve", "instances/tiny", "--out", out, "--no-store")
    run("alternatives", "instances/tiny", "--count", "2", "--within", "50", "--out", out, "--force")
    run("explain", "instances/tiny", "--out", out, "--force", "--quiet")
    report = tmp_path / "report.html"
    run("report", "instances/tiny", out, "-o", report)
    text = report.read_text()
    assert 'id="alternatives"' in text and "plan 2" in text
    assert "in every alternative" in text and ">core<" in text
    assert "forcing it out loses 390" in text  # agency-cap's price, from explain_schemes.csv
    assert "http://" not in text and "https://" not in text
    assert "status: optimal" in text.lower() or "optimal" in text  # the solve's summary.json is intact


def test_report_without_analyses_has_no_alternatives_section(tmp_path):
    out = tmp_path / "solution"
    run("solve", "instances/tiny", "--out", out, "--no-store")
    report = tmp_path / "report.html"
    run("report", "instances/tiny", out, "-o", report)
    assert 'id="alternatives"' not in report.read_text()
