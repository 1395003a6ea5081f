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


def test_infeasible_solves_are_recorded_too(tmp_path):
    inst = tmp_path / "inst"
    shutil.copytree(TINY, inst)
    text = (inst / "instance.yaml").read_text().replace("hard: false", "hard: true")
    (inst / "instance.yaml").write_text(text.replace("{2025: 100, 2026: 200, 2027: 300}", "{2025: 5000}"))
    store = tmp_path / "runs.sqlite"
    assert run("solve", inst, "--store", store).exit_code == 3
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
            assert schema_version(conn) == SCHEMA_VERSION == 2
        (old,) = db.runs()
        assert old.id == 1 and old.objective == 430 and old.note is None
        db.set_note(1, "approved")
        assert db.run(1).note == "approved"
        assert db.instance(1) == outcome.instance
        assert db.record(outcome) == 2
    versions = [row[0] for row in sqlite3.connect(path).execute("SELECT version FROM schema_version ORDER BY 1")]
    assert versions == [1, 2]


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
