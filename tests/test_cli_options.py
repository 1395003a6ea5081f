"""The options several commands share read and behave the same everywhere (cli/options.py)."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import click
import pytest

from cipopt.cli import main
from cipopt.cli import options

CLI = Path(options.__file__).parent
SHARED = {"--time-limit": options.time_limit, "--threads": options.threads, "--force": options.force,
          "--quiet": options.quiet, "--verbose": options.verbose, "--gap": options.gap(),
          "--workers": options.workers, "--scheduler": options.workers}


def _commands(group: click.Group, prefix: str = ""):
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _commands(command, f"{prefix}{name} ")
        else:
            yield f"{prefix}{name}", command


def _by_option() -> dict[str, list[tuple[str, click.Option]]]:
    found = defaultdict(list)
    for name, command in _commands(main):
        for param in command.params:
            if isinstance(param, click.Option):
                for flag in param.opts:
                    found[flag].append((name, param))
    return found


def _reference(flag: str) -> click.Option:
    """The option as cli/options.py defines it, on a throwaway command."""
    command = click.command()(SHARED[flag](lambda **kw: None))
    return next(p for p in command.params if flag in p.opts)


@pytest.mark.parametrize("flag", sorted(SHARED))
def test_a_shared_option_has_one_help_text_and_type_in_every_command(flag):
    uses = _by_option()[flag]
    assert uses, f"no command takes {flag}"
    reference = _reference(flag)
    for command, param in uses:
        assert param.help == reference.help, f"cipopt {command} {flag}: its own help text"
        assert type(param.type) is type(reference.type) and param.is_flag == reference.is_flag, (command, flag)
        assert param.opts == reference.opts and param.secondary_opts == reference.secondary_opts, (command, flag)


def test_time_limit_and_force_are_taken_by_every_command_that_solves_or_writes():
    uses = {flag: {c for c, _ in found} for flag, found in _by_option().items()}
    assert {"solve", "whatif", "frontier", "explain", "alternatives", "rank", "replan"} <= uses["--time-limit"]
    assert uses["--out"] <= uses["--force"]


def test_every_out_option_says_what_it_writes_in_one_form():
    for command, param in _by_option()["--out"]:
        if param.name == "lp":  # cipopt build --lp FILE, also spelt --out
            continue
        assert param.help.startswith("Write ") and " here" in param.help, (command, param.help)
        assert param.opts == ["--out", "-o"], command


def test_no_command_declares_a_shared_option_itself():
    """A new command reaches for cli/options.py, not click.option("--time-limit", ...)."""
    for path in sorted(CLI.glob("*.py")):
        if path.name in ("options.py", "base.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "option":
                flags = [a.value for a in node.args if isinstance(a, ast.Constant)]
                assert not set(flags) & set(SHARED) and flags[:1] != ["--out"], \
                    f"{path.name}:{node.lineno} declares {flags}"


def test_commands_print_results_through_the_one_terminal_renderer():
    """No command words a result line by line itself: `for line in ...: click.echo(line)` is
    report/terminal.py's `show`."""
    for path in sorted(CLI.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.For) and isinstance(node.target, ast.Name) and node.target.id == "line":
                body = node.body
                assert not (len(body) == 1 and "echo" in ast.unparse(body[0])), f"{path.name}:{node.lineno}"


def test_the_renderer_words_each_kind_of_result():
    from cipopt.check import check_plan
    from cipopt.io.load import load_instance
    from cipopt.pipeline import SolveOptions, solve_instance
    from cipopt.report import terminal
    from cipopt.report.text import solve_summary

    inst = load_instance(Path(__file__).resolve().parents[1] / "instances" / "tiny")
    solved = solve_instance(inst, SolveOptions(mip_gap=0.0))
    assert terminal.lines(solved) == solve_summary(solved)
    report = check_plan(inst, solved.plan)
    assert isinstance(report, terminal.Worded) and terminal.lines(report) == report.lines()
    assert terminal.lines(iter(["a", "b"])) == ["a", "b"]
