"""The options several commands share read and behave the same everywhere (cli/options.py)."""

from __future__ import annotations

import ast
import re
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


# What a command may print on standard output itself: where it wrote, where it recorded the run, how
# to re-create a plan, what a run command did to run N. Results go through report/terminal.py.
STATUS_LINES = re.compile(r"\n?wrote |recorded as run |to re-create the plan: |run \{\}: ")
PRINTS_A_DOCUMENT = {("reports.py", "schema")}  # the JSON Schema, printed as it is


def _echoes_to_stdout(tree: ast.AST):
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and ast.unparse(node.func) in ("click.echo", "echo")
                and not any(k.arg == "err" and ast.unparse(k.value) == "True" for k in node.keywords)):
            yield node


def _message_shape(node: ast.expr) -> str | None:
    """The start of an echoed message with each {value} as '{}', or None when it is not worded in place."""
    while isinstance(node, ast.BinOp):
        node = node.left
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    return None


def rendering_in_place(source: str, file: str = "cli.py") -> list[str]:
    """Where a CLI module renders a result itself: a stdout echo in a loop, or one that is not a status line."""
    found = []
    tree = ast.parse(source)
    for loop in ast.walk(tree):
        if isinstance(loop, (ast.For, ast.While, ast.comprehension)):
            found += [f"{file}:{e.lineno} echoes in a loop" for e in _echoes_to_stdout(loop)]
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef):
            continue
        for echo in _echoes_to_stdout(function):
            shape = _message_shape(echo.args[0]) if echo.args else None
            if (file, function.name) in PRINTS_A_DOCUMENT or (shape is not None and STATUS_LINES.match(shape)):
                continue
            found.append(f"{file}:{echo.lineno} prints {shape!r} itself")
    return sorted(set(found))


def test_commands_print_results_through_the_one_terminal_renderer():
    """No command words a result itself, line by line or not: report/terminal.py builds the lines and
    `terminal.show` prints them; the CLI prints only status lines (and errors on stderr)."""
    found = [f for path in sorted(CLI.glob("*.py")) for f in rendering_in_place(path.read_text(), path.name)]
    assert not found, found


def test_the_renderer_check_finds_a_result_worded_in_the_cli():
    wording = (
        "import click\n"
        "def show_run(run):\n"
        "    click.echo(f'run {run.id}   status: {run.status}')\n"
        "    for approval in run.approvals:\n"
        "        click.echo(f'approved by {approval}', err=False)\n"
        "    click.echo(f'run {run.id}: note set')\n"
        "    click.echo(f'warning: {run.id}', err=True)\n"
        "    click.echo(f'\\nwrote {run.id} to here')\n")
    assert rendering_in_place(wording) == ["cli.py:3 prints 'run {}   status: {}' itself",
                                           "cli.py:5 echoes in a loop", "cli.py:5 prints 'approved by {}' itself"]


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
