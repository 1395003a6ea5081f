"""The run history: every solve recorded, found again, compared, re-created exactly; a schema
that migrates; a history that cannot be written never costs the solve its outputs. Also the
progress display of `cipopt solve` and its --quiet."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from cipopt.cli import main
from cipopt.io.load import load_instance
from cipopt.pipeline import SolveOptions, solve_instance
from cipopt.store import (
    SCHEMA_VERSION, STORE_ENV, Store, StoreError, _engine, default_store_path, diff_runs, migrate,
    schema_version,
)

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "instances" / "tiny"


def run(*args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False, env=env)


def test_a_run_is_recorded_found_and_recreated_to_the_same_plan(tmp_path):
    store = tmp_path / "history" / "runs.sqlite"
    first = run("solve", TINY, "--out", tmp_path / "first", "--store", store, "--gap", "0")
    assert first.exit_code == 0, first.output
    assert f"recorded as run 1 in {store}" in first.output

    listed = run("runs", "list", "--store", store)
    assert listed.exit_code == 0
    lines = listed.output.splitlines()
    assert lines[0].split()[:3] == ["id", "time", "(UTC)"]
    assert lines[1].split()[0] == "1" and "optimal" in lines[1] and "Tiny NHS Trust" in lines[1]

    noted = run("runs", "note", "1", "approved by the board", "--store", store)
    assert noted.exit_code == 0
    assert "approved by the board" in run("runs", "list", "--store", store, "--instance", "tiny").output

    shown = run("runs", "show", "1", "--store", store, "--instance-out", tmp_path / "approved",
                "--out", tmp_path / "solution")
    assert shown.exit_code == 0, shown.output
    assert "status: optimal" in shown.output and "note: approved by the board" in shown.output
    assert "start 2025: agency-cap, epr" in shown.output
    assert f"to re-create the plan: cipopt solve {tmp_path / 'approved'} --time-limit 10 --gap 0" in shown.output
    # the solution folder comes back as solve wrote it
    for name in ("plan.csv", "years.csv"):
        assert (tmp_path / "solution" / name).read_text() == (tmp_path / "first" / name).read_text()
    assert json.loads((tmp_path / "solution" / "summary.json").read_text()) == \
        json.loads((tmp_path / "first" / "summary.json").read_text())

    # the instance written back is the one solved, and solving it again gives the same plan
    assert load_instance(tmp_path / "approved").sha256() == load_instance(TINY).sha256()
    again = run("solve", tmp_path / "approved", "--time-limit", "10", "--gap", "0", "--store", store,
                "--out", tmp_path / "again")
    assert again.exit_code == 0 and "recorded as run 2" in again.output
    assert (tmp_path / "again" / "plan.csv").read_text() == (tmp_path / "first" / "plan.csv").read_text()
    diff = run("runs", "diff", "1", "2", "--store", store)
    assert diff.exit_code == 0
    assert "instance: the same" in diff.output
    assert "schemes: 0 in, 0 out, 0 moved, 4 unchanged" in diff.output
    assert "option" not in diff.output  # the same options: nothing listed


def test_diff_shows_schemes_in_out_and_moved_and_the_objective(tmp_path):
    store = tmp_path / "runs.sqlite"
    base = load_instance(TINY)
    with Store(store) as db:
        a = db.record(solve_instance(base, SolveOptions(mip_gap=0)), source="tiny")
        # force pathology out, e-rostering to start later, and let the cheap scheme in
        schemes = []
        for s in base.schemes:
            if s.id == "pathology":
                s = s.model_copy(update={"latest_start": 2025, "earliest_start": 2025, "qia_risk": 20})
            if s.id == "e-rostering":
                s = s.model_copy(update={"earliest_start": 2027})
            schemes.append(s)
        b = db.record(solve_instance(base.model_copy(update={"schemes": tuple(schemes)}), SolveOptions(mip_gap=0)))
        ra, rb = db.run(a), db.run(b)
    d = diff_runs(ra, rb)
    assert not d["same_instance"]
    assert ("pathology", 2026) in d["removed"]
    assert ("e-rostering", 2026, 2027) in d["moved"]
    result = run("runs", "diff", a, b, "--store", store, "-o", tmp_path / "diff.json")
    assert result.exit_code == 0
    assert "instance: changed" in result.output
    assert "  - pathology (started 2026)" in result.output
    assert "  ~ e-rostering: 2026 -> 2027" in result.output
    assert f"objective: {ra.objective:,.0f} -> " in result.output
    saved = json.loads((tmp_path / "diff.json").read_text())
    assert saved["moved"] == [["e-rostering", 2026, 2027]]


def _record_an_infeasible_solve(tmp_path) -> Path:
    """Tiny with a hard target it cannot meet, solved into a new history (exit 3): the history's path."""
    inst = tmp_path / "inst"
    shutil.copytree(TINY, inst)
    text = (inst / "instance.yaml").read_text().replace("hard: false", "hard: true")
    (inst / "instance.yaml").write_text(text.replace("{2025: 100, 2026: 200, 2027: 300}", "{2025: 5000}"))
    store = tmp_path / "runs.sqlite"
    assert run("solve", inst, "--store", store).exit_code == 3
    return store


def test_infeasible_solves_are_recorded_too(tmp_path):
    store = _record_an_infeasible_solve(tmp_path)
    with Store(store) as db:
        (r,) = db.runs()
        assert r.status == "infeasible" and r.objective is None
        assert db.run(r.id).plan == {}
    shown = run("runs", "show", str(r.id), "--store", store)
    assert "status: infeasible" in shown.output


def test_a_v1_history_is_migrated_and_keeps_its_runs(tmp_path):
    path = tmp_path / "old.sqlite"
    engine = _engine(path)
    assert migrate(engine, upto=1) == 1
    outcome = solve_instance(load_instance(TINY))
    with engine.begin() as conn:  # a run as a version-1 cipopt wrote it (no note column)
        conn.execute(sa.text("INSERT INTO instances VALUES (:s, 'tiny', :j, '2025-01-01')"),
                     {"s": outcome.instance.sha256(), "j": json.dumps(outcome.instance.model_dump(mode="json"))})
        conn.execute(sa.text(
            "INSERT INTO runs (created_at, instance_sha256, instance_name, source, options_json, solver, "
            "solver_version, cipopt_version, status, objective, mip_gap, selected, summary_json) "
            "VALUES ('2025-01-01T09:00:00+00:00', :s, 'tiny', NULL, '{}', 'highs', '1', '0.0', 'optimal', "
            "430, 0, 4, '{}')"), {"s": outcome.instance.sha256()})
    engine.dispose()
    columns = [row[1] for row in sqlite3.connect(path).execute("PRAGMA table_info(runs)")]
    assert "note" not in columns

    with Store(path) as db:
        with db.engine.connect() as conn:
            assert schema_version(conn) == SCHEMA_VERSION == 3
        (old,) = db.runs()
        assert old.id == 1 and old.objective == 430 and old.note is None
        db.set_note(1, "approved")
        assert db.run(1).note == "approved"
        assert db.instance(1) == outcome.instance
        assert db.record(outcome) == 2
    versions = [row[0] for row in sqlite3.connect(path).execute("SELECT version FROM schema_version ORDER BY 1")]
    assert versions == [1, 2, 3]


def test_a_history_from_a_newer_cipopt_is_refused(tmp_path):
    path = tmp_path / "new.sqlite"
    Store(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO schema_version VALUES (99, 'later')")
    with pytest.raises(StoreError, match="schema version 99, written by a newer cipopt"):
        Store(path)
    result = run("runs", "list", "--store", path)
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "newer cipopt" in result.output


def test_a_history_that_cannot_be_written_warns_and_keeps_the_outputs(tmp_path):
    broken = tmp_path / "runs.sqlite"
    broken.write_text("this is not a database\n" * 100)
    out = tmp_path / "out"
    result = run("solve", TINY, "--out", out, "--store", broken)
    assert result.exit_code == 0
    warnings = [line for line in result.output.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "the run was not recorded in the run history" in warnings[0]
    assert {p.name for p in out.iterdir()} == {"plan.csv", "years.csv", "summary.json"}
    assert broken.read_text().startswith("this is not a database")  # left as it was


def test_no_store_records_nothing_and_the_default_location(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.delenv(STORE_ENV, raising=False)
    monkeypatch.setenv("HOME", str(home))
    assert default_store_path() == home / ".cipopt" / "runs.sqlite"
    result = run("solve", TINY, "--no-store")
    assert result.exit_code == 0 and "recorded" not in result.output
    assert not (home / ".cipopt").exists()
    monkeypatch.setenv(STORE_ENV, str(tmp_path / "elsewhere.sqlite"))
    assert default_store_path() == tmp_path / "elsewhere.sqlite"
    assert "recorded as run 1" in run("solve", TINY).output
    assert (tmp_path / "elsewhere.sqlite").exists() and not (home / ".cipopt").exists()
    assert run("solve", TINY, "--store", tmp_path / "x.sqlite", "--no-store").exit_code == 2


def test_unknown_runs_and_missing_histories_are_bad_input(tmp_path):
    store = tmp_path / "runs.sqlite"
    result = run("runs", "show", "1", "--store", store)
    assert result.exit_code == 2 and "no run history yet" in result.output
    assert not store.exists()  # looking does not create one
    assert run("solve", TINY, "--store", store).exit_code == 0
    result = run("runs", "show", "7", "--store", store)
    assert result.exit_code == 2
    assert result.output.strip() == f"error: {store}: no run 7 (runs are numbered 1 to 1; see cipopt runs list)"
    assert run("runs", "list", "--store", store, "--status", "infeasible").output.strip() == "no runs recorded that match"
    out = tmp_path / "runs.csv"
    assert run("runs", "list", "--store", store, "-o", out).exit_code == 0
    assert list(pd.read_csv(out)["status"]) == ["optimal"]
    assert run("runs", "list", "--store", store, "-o", out).exit_code == 2  # no overwrite without --force


def test_progress_is_shown_on_a_terminal_and_quiet_hides_it(tmp_path):
    env = {"FORCE_COLOR": "1", "TERM": "xterm", "COLUMNS": "100"}
    shown = run("solve", TINY, "--no-store", env=env)
    assert shown.exit_code == 0
    assert "building and solving the model" in shown.stderr
    assert "of 10 s" in shown.stderr  # a bar against the instance's time limit
    quiet = run("solve", TINY, "--no-store", "--quiet", env=env)
    assert quiet.exit_code == 0 and "building and solving" not in quiet.stderr
    assert "status: optimal" in quiet.stdout and "status: optimal" in shown.stdout
    plain = run("solve", TINY, "--no-store")  # not a terminal: nothing drawn
    assert "building and solving" not in plain.stderr


# -- approvals, odd values, URLs ------------------------------------------------------------------

def test_a_plan_is_approved_by_name_and_listed_as_approved(tmp_path):
    store = tmp_path / "runs.sqlite"
    for _ in range(2):
        assert run("solve", TINY, "--store", store).exit_code == 0
    approved = run("runs", "approve", "1", "--by", "Director of Finance", "--store", store)
    assert approved.exit_code == 0, approved.output
    assert approved.output.startswith("run 1: approved by Director of Finance at ")
    again = run("runs", "approve", "1", "--by", " Director  of Finance ", "--store", store)
    assert "already approved by Director of Finance" in again.output and "(kept)" in again.output
    assert run("runs", "approve", "1", "--by", "Medical Director", "--store", store).exit_code == 0

    listed = run("runs", "list", "--approved", "--store", store, "-o", tmp_path / "approved.csv")
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert "approved by" in lines[0]
    assert [line.split()[0] for line in lines[1:-1]] == ["1"]  # run 2 is not approved
    assert "Director of Finance, Medical Director" in lines[1]
    frame = pd.read_csv(tmp_path / "approved.csv")
    assert list(frame["id"]) == [1] and frame["approved_by"][0] == "Director of Finance; Medical Director"
    everything = run("runs", "list", "--store", store).output.splitlines()
    assert [line.split()[0] for line in everything[1:]] == ["2", "1"]
    shown = run("runs", "show", "1", "--store", store).output
    assert "approved by Director of Finance at " in shown and "approved by Medical Director at " in shown
    with Store(store) as db:  # the record, read independently of the CLI
        rows = db.engine.connect().execute(sa.text(
            "SELECT run_id, approved_by FROM approvals ORDER BY approved_by")).all()
    assert [tuple(r) for r in rows] == [(1, "Director of Finance"), (1, "Medical Director")]


def test_approving_nothing_or_no_one_is_bad_input(tmp_path):
    store = _record_an_infeasible_solve(tmp_path)
    no_plan = run("runs", "approve", "1", "--by", "Board", "--store", store)
    assert no_plan.exit_code == 2
    assert no_plan.output.strip() == f"error: {store}: run 1 has no plan to approve (status infeasible)"
    nobody = run("runs", "approve", "1", "--by", "  ", "--store", store)
    assert nobody.exit_code == 2 and "--by needs the name" in nobody.output
    assert run("runs", "list", "--approved", "--store", store).output.strip() == "no approved runs recorded"


@pytest.mark.parametrize("command", [["show", "{id}"], ["note", "{id}", "x"], ["approve", "{id}", "--by", "B"],
                                     ["diff", "1", "{id}"]])
@pytest.mark.parametrize("run_id", ["99999999999999999999999", "9223372036854775808", "0", "1.5", "two"])
def test_an_odd_run_id_is_one_line_and_exit_2(tmp_path, command, run_id):
    store = tmp_path / "runs.sqlite"
    assert run("solve", TINY, "--store", store).exit_code == 0
    args = [a.replace("{id}", run_id) for a in command]
    result = CliRunner().invoke(main, ["runs", *args, "--store", str(store)])
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    assert f"'{run_id}': run ids are whole numbers from 1 to 9223372036854775807" in result.output


@pytest.mark.parametrize("column, value, place", [
    ("objective", "'a lot'", "run 1: column objective holds 'a lot', not a number"),
    ("selected", "'four'", "run 1: column selected holds 'four', not a whole number"),
    ("mip_gap", "'none'", "run 1: column mip_gap holds 'none', not a number"),
    ("options_json", "'{broken'", "run 1: column options_json is not valid JSON"),
])
def test_odd_values_in_the_history_are_reported_with_their_place(tmp_path, column, value, place):
    store = tmp_path / "runs.sqlite"
    assert run("solve", TINY, "--store", store).exit_code == 0
    with sqlite3.connect(store) as conn:
        conn.execute(f"UPDATE runs SET {column} = {value} WHERE id = 1")
    for args in (["list"], ["show", "1"]):
        result = run("runs", *args, "--store", store)
        assert result.exit_code == 2, result.output
        assert result.output.strip() == f"error: {store}: {place} (the run history was edited or damaged)"


def test_a_start_year_that_is_text_is_reported_with_the_scheme(tmp_path):
    store = tmp_path / "runs.sqlite"
    assert run("solve", TINY, "--store", store).exit_code == 0
    with sqlite3.connect(store) as conn:
        conn.execute("UPDATE run_plan SET start_year = 'soon' WHERE scheme = 'epr'")
    result = run("runs", "show", "1", "--store", store)
    assert result.exit_code == 2
    assert "run 1: column start_year of scheme epr (table run_plan) holds 'soon', not a whole number" in result.output


def test_a_sqlalchemy_url_and_a_plain_path_name_the_same_history(tmp_path, monkeypatch):
    path = tmp_path / "runs.sqlite"
    assert run("solve", TINY, "--store", f"sqlite:///{path}").exit_code == 0
    assert run("solve", TINY, "--store", path).exit_code == 0
    monkeypatch.setenv(STORE_ENV, f"sqlite:///{path}")
    assert "recorded as run 3 in " + str(path) in run("solve", TINY).output
    assert [r.id for r in Store(path).runs()] == [3, 2, 1]
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    bad = run("runs", "list", "--store", "mysql://pmo:secret@db/cipopt")
    assert bad.exit_code == 2
    assert bad.output == "error: mysql://pmo:***@db/cipopt: a run history is kept in SQLite or PostgreSQL, not mysql\n"


# -- many processes at once -----------------------------------------------------------------------

PARALLEL = 8


_RECORDER = """
import pathlib, sys, time
from cipopt.io.load import load_instance
from cipopt.pipeline import solve_instance
from cipopt.cli.reports import record_run
store, gate, times, instance = sys.argv[1], pathlib.Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
outcome = solve_instance(load_instance(instance))
print("ready", flush=True)
while not gate.exists():  # every process records from the same moment on
    time.sleep(0.001)
for _ in range(times):
    record_run(outcome, instance, store)  # what `cipopt solve` does: a loss is a warning on stderr
"""


def _record_at_the_same_moment(store: str, gate: Path, times: int = 10) -> tuple[list[int], str]:
    """PARALLEL processes that each record `times` runs, all starting at one moment (the history
    new, so they also race to create it); the ids they were given and what they lost."""
    import subprocess
    import sys

    procs = [subprocess.Popen([sys.executable, "-c", _RECORDER, store, str(gate), str(times), str(TINY)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(PARALLEL)]
    for proc in procs:  # each has imported and solved
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    gate.touch()
    ids, lost = [], ""
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        ids += [int(line.split()[3]) for line in out.splitlines() if line.startswith("recorded as run ")]
        lost += err
    return ids, lost


def test_processes_recording_at_the_same_moment_lose_nothing(tmp_path):
    # Before WAL, BEGIN IMMEDIATE, locked migrations and retries, this lost 1 to 8 of the 80 runs
    # ("table instances already exists", "UNIQUE constraint failed: instances.sha256").
    ids, lost = _record_at_the_same_moment(str(tmp_path / "runs.sqlite"), tmp_path / "go")
    assert lost == ""
    assert sorted(ids) == list(range(1, PARALLEL * 10 + 1))
    with sqlite3.connect(tmp_path / "runs.sqlite") as conn:
        assert conn.execute("SELECT COUNT(DISTINCT run_id) FROM run_plan").fetchone()[0] == PARALLEL * 10


# -- PostgreSQL: a real server the tests start ----------------------------------------------------

def _postgres_binaries() -> Path | None:
    import glob

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    which = shutil.which("initdb")
    return Path(which).parent if which else None


@pytest.fixture(scope="module")
def postgres_server():
    """A throwaway PostgreSQL server on a free local port (as the postgres user when run as root);
    skips, saying why, where none can be started."""
    import os
    import socket
    import subprocess
    import tempfile

    pytest.importorskip("psycopg", reason="psycopg (the PostgreSQL driver, in the test extra) is not installed")
    bindir = _postgres_binaries()
    if bindir is None:
        pytest.skip("no PostgreSQL server binaries (initdb) here: apt-get install postgresql (.ci/run does)")
    prefix: list[str] = []
    if os.geteuid() == 0:
        import pwd

        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no postgres user to run a PostgreSQL server as")
        prefix = ["runuser", "-u", "postgres", "--"]
    base = Path(tempfile.mkdtemp(prefix="cipopt-pg-"))
    if prefix:
        os.chown(base, user.pw_uid, user.pw_gid)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = base / "data"
    try:
        subprocess.run([*prefix, str(bindir / "initdb"), "-D", str(data), "-U", "cipopt", "--auth=trust",
                        "-E", "UTF8"], check=True, capture_output=True, timeout=120)
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-w", "-o",
                        f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c max_connections=60",
                        "start"], check=True, capture_output=True, timeout=120)
    except (subprocess.SubprocessError, OSError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"a PostgreSQL server could not be started: {exc} {detail.decode(errors='replace')[:300]}")
    try:
        yield f"postgresql+psycopg://cipopt@127.0.0.1:{port}"
    finally:
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=120)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server, request):
    """A new, empty database on the test server for one test."""
    import re

    name = "t_" + re.sub(r"\W", "_", request.node.name.lower())[:50]
    admin = sa.create_engine(f"{postgres_server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{postgres_server}/{name}"


def test_postgresql_history_records_approves_and_recreates(tmp_path, postgres_url):
    first = run("solve", TINY, "--out", tmp_path / "first", "--store", postgres_url, "--gap", "0")
    assert first.exit_code == 0, first.output
    where = postgres_url.replace("postgresql+psycopg://", "postgresql+psycopg://")
    assert f"recorded as run 1 in {where}" in first.output
    assert run("runs", "approve", "1", "--by", "Director of Finance", "--store", postgres_url).exit_code == 0
    assert run("solve", TINY, "--store", postgres_url).exit_code == 0
    listed = run("runs", "list", "--approved", "--store", postgres_url)
    assert [line.split()[0] for line in listed.output.splitlines()[1:]] == ["1"]
    shown = run("runs", "show", "1", "--store", postgres_url, "--instance-out", tmp_path / "approved")
    assert shown.exit_code == 0, shown.output
    assert "approved by Director of Finance" in shown.output
    assert load_instance(tmp_path / "approved").sha256() == load_instance(TINY).sha256()
    with Store(postgres_url) as db:
        assert db.engine.dialect.name == "postgresql"
        run1 = db.run(1)
        assert run1.objective == 430 and run1.plan == Store(postgres_url).run(2).plan
        with db.engine.connect() as conn:
            assert [v for (v,) in conn.execute(sa.text("SELECT version FROM schema_version ORDER BY 1"))] == \
                list(range(1, SCHEMA_VERSION + 1))
            # the same tables as SQLite's migrations make
            assert set(sa.inspect(conn).get_table_names()) == {
                "schema_version", "instances", "runs", "run_plan", "approvals"}
    huge = run("runs", "show", "9223372036854775807", "--store", postgres_url)
    assert huge.exit_code == 2 and "no run 9223372036854775807 (runs are numbered 1 to 2" in huge.output


def test_postgresql_history_migrates_from_version_1(postgres_url):
    engine = _engine(postgres_url)
    assert migrate(engine, upto=1) == 1
    engine.dispose()
    with Store(postgres_url) as db:
        with db.engine.connect() as conn:
            assert schema_version(conn) == SCHEMA_VERSION
            columns = {c["name"] for c in sa.inspect(conn).get_columns("runs")}
        assert "note" in columns
        outcome = solve_instance(load_instance(TINY))
        assert db.record(outcome) == 1 and db.run(1).plan == outcome.plan


def test_processes_recording_into_postgresql_at_the_same_moment_lose_nothing(postgres_url, tmp_path):
    ids, lost = _record_at_the_same_moment(postgres_url, tmp_path / "go")
    assert lost == ""
    assert len(ids) == len(set(ids)) == PARALLEL * 10
    with Store(postgres_url) as db, db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM runs")).scalar() == PARALLEL * 10
        assert conn.execute(sa.text("SELECT COUNT(DISTINCT run_id) FROM run_plan")).scalar() == PARALLEL * 10
        assert conn.execute(sa.text("SELECT COUNT(*) FROM instances")).scalar() == 1


def test_the_store_is_off_the_import_path_of_commands_that_do_not_record(tmp_path):
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from cipopt.cli import main\n"
        f"assert CliRunner().invoke(main, ['validate', {str(TINY)!r}]).exit_code == 0\n"
        "print(sorted(m for m in ('cipopt.store', 'sqlalchemy', 'psycopg') if m in sys.modules))\n"
        "import cipopt.store\n"  # importing it connects to nothing and creates nothing
    )
    env = {"PATH": "", "HOME": str(tmp_path), "CIPOPT_STORE": str(tmp_path / "runs.sqlite")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
    assert list(tmp_path.iterdir()) == []
