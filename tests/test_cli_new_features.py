"""Bad input to the new commands (rank, simulate) and the new instance parts, from the outside:
one line per problem naming the place, exit code 2, no traceback, nothing written to --out."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from cipopt.cli import main

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "instances" / "tiny"
FUND = ROOT / "instances" / "fund"


def run(*args) -> object:
    return CliRunner().invoke(main, [str(a) for a in args])


def assert_refused(result, out: Path, *words: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output, result.output
    for w in words:
        assert w in result.output, result.output
    assert not out.exists(), "nothing may be written"


def test_rank_refuses_a_negative_seed(tmp_path):
    out = tmp_path / "out"
    assert_refused(run("rank", FUND, "--seed", "-1", "--out", out), out, "--seed")


def test_simulate_names_the_row_of_a_start_outside_the_plan_years(tmp_path):
    plan = tmp_path / "plan.csv"
    plan.write_text("scheme,selected,start_year\nagency-cap,false,\nepr,true,2031\n")
    out = tmp_path / "out"
    assert_refused(run("simulate", TINY, plan, "--out", out), out,
                   f"{plan}, row 3, column start_year: cannot be simulated: scheme epr starts in 2031")


def test_a_warning_is_printed_once_when_the_instance_is_also_refused(tmp_path):
    folder = tmp_path / "fund"
    shutil.copytree(FUND, folder)
    yaml = folder / "instance.yaml"
    text = yaml.read_text()
    assert "min_share: 0.15}" in text
    yaml.write_text(text.replace("min_share: 0.15}", "max_share: 0.15}"))
    out = tmp_path / "out"
    result = run("solve", folder, "--out", out)
    assert_refused(result, out, "fair_shares[0].min_share: is required")
    assert result.output.count("unknown key 'max_share'") == 1, result.output


def test_a_plan_warning_is_printed_once_when_the_plan_is_also_refused(tmp_path):
    plan = tmp_path / "plan.csv"
    plan.write_text("scheme,selected,start_year\nagency-cap,false,2025\nno-such,true,2025\n")
    out = tmp_path / "out"
    result = run("simulate", TINY, plan, "--out", out)
    assert_refused(result, out, "unknown scheme 'no-such'")
    assert result.output.count("is not selected, so its start_year") == 1, result.output


def test_build_writes_the_lp_file_without_a_pyomo_format_warning(tmp_path, caplog):
    lp = tmp_path / "fund.lp"
    result = run("build", FUND, "--lp", lp)
    assert result.exit_code == 0, result.output
    assert "o_objective:" in lp.read_text()
    assert not [r for r in caplog.records if r.levelname == "WARNING"], [r.getMessage() for r in caplog.records]
