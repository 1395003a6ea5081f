"""Bad input to the new commands (rank, simulate) and the new instance parts, from the outside:
one line per problem naming the place, exit code 2, no traceback, nothing written to --out."""

from __future__ import annotations

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
