"""Recording a solve with sqlite3 alone (cipopt.history) writes what Store.record writes, and
leaves every history it does not know to Store: missing, older, newer, damaged."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from cipopt.history import SCHEMA_VERSION, record_in_sqlite
from cipopt.io.load import load_instance
from cipopt.pipeline import solve_instance
from cipopt.store import Store, _engine, migrate

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "instances" / "tiny"


@pytest.fixture(scope="module")
def outcome():
    return solve_instance(load_instance(TINY))


def _rows(path: Path, run_id: int) -> tuple[dict, list]:
    """Every column of a run, with SQLite's type of each value, and its plan rows."""
    with sqlite3.connect(path) as conn:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(runs)")]
        values = conn.execute(f"SELECT {', '.join(f'{c}, typeof({c})' for c in columns)} FROM runs WHERE id = ?",
                              (run_id,)).fetchone()
        plan = conn.execute("SELECT position, scheme, start_year, typeof(start_year) FROM run_plan "
                            "WHERE run_id = ? ORDER BY position", (run_id,)).fetchall()
    row = {c: (values[2 * i], values[2 * i + 1]) for i, c in enumerate(columns)}
    return row, plan


def test_sqlite3_records_what_store_records(tmp_path, outcome):
    path = tmp_path / "runs.sqlite"
    with Store(path) as db:
        first = db.record(outcome, source="tiny")
    second = record_in_sqlite(path, outcome, source="tiny")
    assert (first, second) == (1, 2)
    a, plan_a = _rows(path, first)
    b, plan_b = _rows(path, second)
    for moment in ("id", "created_at"):
        a.pop(moment), b.pop(moment)
    assert a == b
    assert plan_a == plan_b and len(plan_a) == len(outcome.instance.schemes)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM instances").fetchone()[0] == 1  # stored once
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with Store(path) as db:  # and Store reads it back as its own
        assert db.run(second).plan == db.run(first).plan == outcome.plan


def test_histories_it_does_not_know_are_left_to_store(tmp_path, outcome):
    missing = tmp_path / "missing.sqlite"
    assert record_in_sqlite(missing, outcome, source=None) is None
    assert not missing.exists()  # nothing created: Store creates and migrates

    broken = tmp_path / "broken.sqlite"
    broken.write_text("this is not a database\n" * 100)
    assert record_in_sqlite(broken, outcome, source=None) is None
    assert broken.read_text().startswith("this is not a database")

    empty = tmp_path / "empty.sqlite"
    sqlite3.connect(empty).close()
    assert record_in_sqlite(empty, outcome, source=None) is None

    old = tmp_path / "old.sqlite"
    engine = _engine(old)
    assert migrate(engine, upto=1) == 1
    engine.dispose()
    assert record_in_sqlite(old, outcome, source=None) is None  # Store migrates it first
    with sqlite3.connect(old) as conn:
        assert conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0
        conn.execute("INSERT INTO schema_version VALUES (?, 'later')", (SCHEMA_VERSION + 1,))
    assert record_in_sqlite(old, outcome, source=None) is None  # a newer cipopt's: Store refuses it
