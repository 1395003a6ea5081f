"""Outputs under hostile conditions: nothing lost, nothing half-written, nothing dangerous printed.

Signals, closed pipes and the umask are exercised in real subprocesses; every claim is checked
against the files themselves (modes, bytes, the CSV cells, the LP read back by HiGHS)."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from cipopt.analysis import sweep as sweep_module
from cipopt.cli import main
from cipopt.io.write import FORMULA_START, csv_text, neutralise, restore

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "instances" / "tiny"
CIPOPT = [sys.executable, "-m", "cipopt"]


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def cli(*args, cwd=None, **kwargs):
    return subprocess.run([*CIPOPT, *map(str, args)], capture_output=True, text=True, cwd=cwd, **kwargs)


def infeasible_tiny(tmp_path) -> Path:
    """Tiny with a hard recurrent target of 10,000 a year: no plan exists."""
    folder = tmp_path / "impossible"
    shutil.copytree(TINY, folder)
    text = (folder / "instance.yaml").read_text()
    text = text.replace("values: {2025: 100, 2026: 200, 2027: 300}\n    hard: false",
                        "values: {2025: 10000, 2026: 10000, 2027: 10000}\n    hard: true")
    (folder / "instance.yaml").write_text(text)
    return folder


def hidden_siblings(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.parent.iterdir() if p.name.startswith("."))


# -- nothing lost, nothing half-written ---------------------------------------------------------

def test_force_replaces_the_whole_folder_so_a_failed_resolve_leaves_no_stale_plan(tmp_path):
    out = tmp_path / "out"
    assert run("solve", TINY, "--out", out, "--no-store").exit_code == 0
    (out / "notes.txt").write_text("mine")
    assert run("explain", TINY, "--out", out, "--force", "--quiet").exit_code == 0
    assert (out / "explain_schemes.csv").exists()
    failed = run("solve", infeasible_tiny(tmp_path), "--out", out, "--force", "--no-store")
    assert failed.exit_code == 3, failed.output
    # the previous run's plan, years and its explanation are gone; the user's file is kept
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "summary.json"]
    assert json.loads((out / "summary.json").read_text())["status"] == "infeasible"
    assert (out / "notes.txt").read_text() == "mine"
    assert hidden_siblings(out) == []
    page = tmp_path / "r.html"
    assert run("report", infeasible_tiny(tmp_path / "x"), out, "-o", page).exit_code == 0
    assert "schemes selected" not in page.read_text()


def test_report_refuses_a_stale_plan_beside_an_infeasible_summary(tmp_path):
    """What an interrupted, non-atomic --force used to leave: a plan under an "infeasible" headline."""
    out = tmp_path / "out"
    assert run("solve", TINY, "--out", out, "--no-store").exit_code == 0
    summary = json.loads((out / "summary.json").read_text())
    (out / "summary.json").write_text(json.dumps({**summary, "status": "infeasible", "objective": None}))
    result = run("report", TINY, out, "-o", tmp_path / "r.html")
    assert result.exit_code == 2, result.output
    assert f"{out / 'plan.csv'}: lies beside a summary.json whose status is 'infeasible'" in result.output
    assert not (tmp_path / "r.html").exists()


def test_simulate_into_a_solution_folder_keeps_the_solves_files(tmp_path):
    out = tmp_path / "out"
    assert run("solve", TINY, "--out", out, "--no-store").exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    for attempt in range(2):  # the second replaces the first simulation, nothing else
        result = run("simulate", TINY, out / "plan.csv", "--draws", "200", "--out", out, "--force")
        assert result.exit_code == 0, result.output
        assert {p.name: p.read_bytes() for p in out.iterdir() if p.name in before} == before
        assert sorted(set(p.name for p in out.iterdir()) - set(before)) == [
            "simulation.csv", "simulation_savings.csv", "simulation_summary.json"]
    page = tmp_path / "r.html"
    assert run("report", TINY, out, "-o", page).exit_code == 0
    assert '<section id="risk">' in page.read_text()


@pytest.mark.parametrize("command", [
    ["check", TINY, "PLAN", "--out", "OUT"],
    ["validate", TINY, "--out", "OUT"],
    ["simulate", TINY, "PLAN", "--draws", "100", "--out", "OUT"],
])
def test_report_refuses_a_folder_that_is_not_a_solve_output(tmp_path, command):
    solution = tmp_path / "solution"
    assert run("solve", TINY, "--out", solution, "--no-store").exit_code == 0
    other = tmp_path / "other"
    args = [str(solution / "plan.csv") if a == "PLAN" else other if a == "OUT" else a for a in command]
    assert run(*args).exit_code == 0
    result = run("report", TINY, other, "-o", tmp_path / "r.html")
    assert result.exit_code == 2, result.output
    assert "is not the summary of cipopt solve" in result.output or "summary.json: is missing" in result.output
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize("key,value", [("mip_gap", "abc"), ("objective", "430"), ("status", 7),
                                       ("messages", "not a list"), ("solver", ["highs"])])
def test_odd_values_in_summary_json_are_located_errors(tmp_path, key, value):
    out = tmp_path / "out"
    assert run("solve", TINY, "--out", out, "--no-store").exit_code == 0
    summary = json.loads((out / "summary.json").read_text())
    (out / "summary.json").write_text(json.dumps({**summary, key: value}))
    result = run("report", TINY, out, "-o", tmp_path / "r.html")
    assert result.exit_code == 2, result.output
    assert f"{out / 'summary.json'}" in result.output and f"key {key}" in result.output
    assert "internal error" not in result.output and not (tmp_path / "r.html").exists()


SIGNAL_SCRIPT = """
import os, signal, sys
sig = getattr(signal, sys.argv[1])
real_fsync, calls = os.fsync, []
def fsync(fd):  # the signal arrives while the files are being written
    real_fsync(fd)
    calls.append(fd)
    if len(calls) == 2:
        os.kill(os.getpid(), sig)
os.fsync = fsync
from cipopt.__main__ import run
sys.argv = ["cipopt", *sys.argv[2:]]
run()
"""


@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGHUP", "SIGINT"])
def test_a_signal_while_writing_leaves_the_old_folder_and_no_staging(tmp_path, signal_name):
    out = tmp_path / "out"
    assert run("solve", TINY, "--out", out, "--no-store").exit_code == 0
    (out / "summary.json").write_text('{"marker": "the previous run"}')
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    script = tmp_path / "signal_while_writing.py"
    script.write_text(SIGNAL_SCRIPT)
    proc = subprocess.run([sys.executable, str(script), signal_name, "solve", str(TINY), "--out", str(out),
                           "--force", "--no-store"], capture_output=True, text=True)
    assert proc.returncode == 130, proc.stderr
    assert "interrupted" in proc.stderr and "Traceback" not in proc.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert hidden_siblings(out) == []


SOLVE_SIGNAL_SCRIPT = """
import os, signal, sys
import highspy
real_wait = highspy.Highs.wait
def wait(self, *args, **kwargs):  # the signal arrives while HiGHS is solving in its thread
    if not getattr(wait, "sent", False):
        wait.sent = True
        os.kill(os.getpid(), signal.SIGTERM)
    return real_wait(self, *args, **kwargs)
highspy.Highs.wait = wait
from cipopt.__main__ import run
sys.argv = ["cipopt", *sys.argv[1:]]
run()
"""


def test_sigterm_during_a_solve_cancels_it_and_writes_nothing(tmp_path):
    out, store = tmp_path / "out", tmp_path / "runs.sqlite"
    script = tmp_path / "signal_while_solving.py"
    script.write_text(SOLVE_SIGNAL_SCRIPT)
    proc = subprocess.run([sys.executable, str(script), "solve", str(ROOT / "instances" / "holby"), "--out", str(out),
                           "--store", str(store), "--quiet"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 130, proc.stderr
    assert "interrupted; the solve was cancelled" in proc.stderr and "Traceback" not in proc.stderr
    assert "status:" not in proc.stdout
    assert not out.exists() and not store.exists()
    assert hidden_siblings(out) == []


def test_an_unwritable_out_or_excel_is_refused_before_solving(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    for args in (["--out", blocker / "out"], ["--excel", blocker / "r.xlsx"], ["--out", "/proc/cipopt-out"]):
        result = run("solve", TINY, "--no-store", *args)
        assert result.exit_code == 2, result.output
        assert "status:" not in result.output  # refused before the solve
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and "cannot be written" in lines[0] and "internal error" not in lines[0]
    assert run("report", TINY, tmp_path, "-o", blocker / "r.html").exit_code == 2
    assert run("build", TINY, "--lp", blocker / "m.lp").exit_code == 2


def test_a_closed_stdout_loses_neither_the_files_nor_the_run(tmp_path):
    out, store = tmp_path / "out", tmp_path / "runs.sqlite"
    read_end, write_end = os.pipe()
    os.close(read_end)  # `cipopt solve ... | head` once head has gone
    try:
        proc = subprocess.run([*CIPOPT, "solve", str(TINY), "--out", str(out), "--store", str(store)],
                              stdout=write_end, stderr=subprocess.PIPE, text=True)
    finally:
        os.close(write_end)
    assert proc.returncode == 0, proc.stderr
    assert "internal error" not in proc.stderr and "BrokenPipeError" not in proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["plan.csv", "summary.json", "years.csv"]
    listed = cli("runs", "list", "--store", store)
    assert listed.returncode == 0 and re.search(r"^1\s+\S+ \S+\s+optimal\s+430", listed.stdout, re.M), listed.stdout


@pytest.mark.parametrize("mask,folder_mode,file_mode", [(0o022, 0o755, 0o644), (0o027, 0o750, 0o640),
                                                        (0o002, 0o775, 0o664)])
def test_outputs_follow_the_umask(tmp_path, mask, folder_mode, file_mode):
    out, book, page = tmp_path / "out", tmp_path / "r.xlsx", tmp_path / "r.html"
    assert cli("solve", TINY, "--out", out, "--excel", book, "--no-store", umask=mask).returncode == 0
    assert cli("report", TINY, out, "-o", page, umask=mask).returncode == 0
    assert stat.S_IMODE(out.stat().st_mode) == folder_mode
    for path in [*out.iterdir(), book, page]:
        assert stat.S_IMODE(path.stat().st_mode) == file_mode, path


# -- hostile ids ---------------------------------------------------------------------------------

def hostile_tiny(tmp_path) -> Path:
    """Tiny with ids and names a spreadsheet would run as formulas, and a name that drives terminals."""
    folder = tmp_path / "hostile"
    shutil.copytree(TINY, folder)
    schemes = (folder / "schemes.csv").read_text()
    schemes = schemes.replace("\nepr,Electronic patient record go-live,", "\n=epr,@SUM(A1) record,")
    schemes = schemes.replace("\npathology,Pathology", "\n-pathology,+Pathology")
    (folder / "schemes.csv").write_text(schemes)
    relations = (folder / "relations.csv").read_text().replace(",epr,", ",=epr,")
    (folder / "relations.csv").write_text(relations)
    text = (folder / "instance.yaml").read_text()
    text = re.sub(r"^name: .*$", lambda m: 'name: "=cmd|\' /C calc\'!A0 \\x1b]0;pwned\\x07 \\x1b[31mred \\u202eevil"',
                  text, count=1, flags=re.M)
    (folder / "instance.yaml").write_text(text)
    return folder


def dangerous_cells(path: Path) -> list[str]:
    cells = [c for row in csv.reader(io.StringIO(path.read_text())) for c in row]
    return [c for c in cells if c.startswith(FORMULA_START) and not _number(c)]


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_no_csv_cell_starts_a_formula_and_the_plan_reads_back(tmp_path):
    inst, out, store = hostile_tiny(tmp_path), tmp_path / "out", tmp_path / "runs.sqlite"
    solved = run("solve", inst, "--out", out, "--store", store)
    assert solved.exit_code == 0, solved.output
    assert run("validate", inst, "--out", tmp_path / "v").exit_code == 0
    assert run("check", inst, out / "plan.csv", "--out", tmp_path / "c").exit_code == 0
    assert run("runs", "list", "--store", store, "-o", tmp_path / "runs.csv").exit_code == 0
    written = [*out.glob("*.csv"), *(tmp_path / "v").glob("*.csv"), *(tmp_path / "c").glob("*.csv"),
               tmp_path / "runs.csv"]
    for path in written:
        assert dangerous_cells(path) == [], path
    # the neutralised cells are there, with their apostrophe, and negative numbers stay numbers
    plan_text = (out / "plan.csv").read_text()
    assert "'=epr" in plan_text and "'-pathology" in plan_text and "'@SUM(A1) record" in plan_text
    assert "'=cmd" in (tmp_path / "runs.csv").read_text()
    # round trip: cipopt check reads the plan back as the solve chose it, with the same objective
    checked = run("check", inst, out / "plan.csv")
    assert checked.exit_code == 0 and "every rule holds (4 schemes selected)" in checked.output
    summary = json.loads((out / "summary.json").read_text())
    assert f"objective (NPV less shortfall penalties; risk none): {summary['objective']:,.0f}" in checked.output
    page = tmp_path / "r.html"
    assert run("report", inst, out, "-o", page).exit_code == 0
    paper = page.read_text()  # the board paper names schemes (not ids), never with the CSV's apostrophe
    assert "@SUM(A1) record" in paper and "&#x27;@SUM" not in paper and "&#x27;=epr" not in paper


@given(st.text(alphabet=st.sampled_from(list("'=+-@\t\r0123456789.eE xa")), max_size=8))
def test_neutralise_is_safe_and_restore_undoes_it(text):
    safe = neutralise(text)
    assert restore(safe) == text
    assert not safe.startswith(FORMULA_START) or _number(safe)


def test_csv_text_leaves_numbers_alone():
    import pandas as pd

    text = csv_text(pd.DataFrame({"org": ["-x", "a"], "value": [-5.5, 2.0], "label": ["-5", "=1+1"]}))
    assert text.splitlines() == ["org,value,label", "'-x,-5.5,-5", "a,2,'=1+1"]


def on_a_terminal(*args) -> tuple[int, str]:
    """What cipopt prints when its output and errors go to a terminal (a pseudo-terminal here)."""
    import pty

    leader, follower = pty.openpty()
    proc = subprocess.Popen([*CIPOPT, *map(str, args)], stdout=follower, stderr=follower)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the process closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return proc.wait(timeout=60), b"".join(chunks).decode("utf-8")


def test_control_characters_in_ids_are_escaped_in_everything_printed(tmp_path):
    inst = hostile_tiny(tmp_path)
    code, printed = on_a_terminal("solve", inst, "--no-store", "--quiet")  # click keeps colour codes on a terminal
    assert code == 0, printed
    assert "\x1b" not in printed and "\x07" not in printed and "\u202e" not in printed
    assert "\\x1b]0;pwned\\x07 \\x1b[31mred \\u202eevil" in printed
    schemes = (inst / "schemes.csv").read_text().replace("\nskill-mix,", "\nskill\x1b[2Jmix,")
    (inst / "schemes.csv").write_text(schemes)
    plan = tmp_path / "plan.csv"
    plan.write_text("scheme,start_year\nskill\x1b[2Jmix,2025\n", encoding="utf-8")
    # --quiet: a spinner's own cursor codes are not the ids' (the spinner is tested in test_cli_consistency)
    for args in (["validate", inst, "--quiet"], ["check", inst, plan, "--quiet"], ["solve", inst, "--no-store", "--quiet"]):
        code, printed = on_a_terminal(*args)
        assert "\x1b" not in printed, args
        assert "skill\\x1b[2Jmix" in printed or args[0] == "solve", args  # not selected: solve does not name it


# -- other services, other names -----------------------------------------------------------------

def serve(reply: bytes | None):
    """A TCP service that is not Dask: it answers `reply` (or nothing) to every connection."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    held = []

    def loop():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            held.append(conn)
            if reply:
                conn.sendall(reply)

    threading.Thread(target=loop, daemon=True).start()
    return server, f"tcp://127.0.0.1:{server.getsockname()[1]}"


@pytest.mark.parametrize("reply,words", [(b"HTTP/1.1 400 Bad Request\r\n\r\n", "is not a Dask scheduler"),
                                         (b"\xff" * 64, "is not a Dask scheduler"),
                                         (None, "no Dask handshake within 1 s")])
def test_a_service_that_is_not_dask_is_a_clear_error_in_time(monkeypatch, tmp_path, reply, words):
    import time

    monkeypatch.setattr(sweep_module, "CONNECT_TIMEOUT", 1.0)
    server, address = serve(reply)
    try:
        started = time.monotonic()
        result = run("explain", TINY, "--scheduler", address, "--out", tmp_path / "x", "--quiet")
        assert time.monotonic() - started < 30
    finally:
        server.close()
    assert result.exit_code == 1, result.output
    assert f"{address}" in result.output and words in result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    assert not (tmp_path / "x").exists()


def test_lp_names_are_unique_whatever_the_ids(tmp_path):
    import highspy

    inst = tmp_path / "clash"
    shutil.copytree(TINY, inst)
    rows = (inst / "schemes.csv").read_text().splitlines()
    twin = next(r for r in rows if r.startswith("e-rostering,")).replace("e-rostering,", "e_rostering,", 1)
    (inst / "schemes.csv").write_text("\n".join([*rows, twin]) + "\n")
    lp = tmp_path / "m.lp"
    built = run("build", inst, "--lp", lp)
    assert built.exit_code == 0, built.output
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    assert h.readModel(str(lp)) == highspy.HighsStatus.kOk
    lp_model = h.getLp()
    assert len(set(lp_model.col_names_)) == lp_model.num_col_ and len(set(lp_model.row_names_)) == lp_model.num_row_
    twins = [n for n in lp_model.col_names_ if n.startswith("v_start(e_rostering")]
    assert len(twins) == 2 * 3  # both schemes, each of the three start years: none merged
    h.run()
    solved = run("solve", inst, "--out", tmp_path / "out", "--no-store")
    objective = json.loads((tmp_path / "out" / "summary.json").read_text())["objective"]
    assert solved.exit_code == 0
    assert abs(h.getInfo().objective_function_value - objective) <= 1e-6 * (1 + abs(objective))


def test_force_never_replaces_another_commands_output(tmp_path):
    solution, checked = tmp_path / "solution", tmp_path / "checked"
    assert run("solve", TINY, "--out", solution, "--no-store").exit_code == 0
    assert run("check", TINY, solution / "plan.csv", "--out", checked).exit_code == 0
    before = {p.name: p.read_bytes() for p in solution.iterdir()}
    over = run("check", TINY, solution / "plan.csv", "--out", solution, "--force")
    assert over.exit_code == 2 and "holds the output of another cipopt command (plan.csv)" in over.output
    assert {p.name: p.read_bytes() for p in solution.iterdir()} == before
    under = run("solve", TINY, "--out", checked, "--force", "--no-store")
    assert under.exit_code == 2 and "(violations.csv)" in under.output and "status:" not in under.output
    again = run("solve", TINY, "--out", solution, "--force", "--no-store")  # its own kind: replaced
    assert again.exit_code == 0, again.output


@pytest.mark.parametrize("exchange", [True, False])
def test_the_swap_replaces_the_folder_with_or_without_renameat2(tmp_path, monkeypatch, exchange):
    from cipopt.io import write

    if not exchange:  # systems without renameat2: two renames
        monkeypatch.setattr(write, "_exchange", lambda a, b: False)
    out = tmp_path / "out"
    write.write_folder(out, {"plan.csv": "a\n", "years.csv": "b\n", "summary.json": "{}\n"}, kind="solve")
    (out / "notes.txt").write_text("mine")
    write.write_folder(out, {"summary.json": '{"status": "infeasible"}\n'}, force=True, kind="solve")
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "summary.json"]
    assert (out / "summary.json").read_text() == '{"status": "infeasible"}\n'
    assert (out / "notes.txt").read_text() == "mine"
    assert hidden_siblings(out) == []
