"""The run history: every solve recorded in an embedded SQLite database, so that a plan can be
found again and re-created exactly.

A run keeps the time, the instance (its canonical JSON, stored once per `instance_sha256`), the
options, the solver and its version, the status, the objective, the plan (one row per scheme),
the years table and the whole summary. `Store.instance(run_id)` gives the instance back; solved
again with the run's options it gives the same plan (tests/test_store.py holds this).

The schema is versioned by a small migration table of our own (docs/reports.md says why not
Alembic): `schema_version` holds the version the file is at, and `MIGRATIONS[v]` are the SQL
statements that take a file from version v-1 to v, applied in one transaction when a store is
opened. A file written by a newer cipopt (a higher version) is refused rather than misread.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from cipopt.schema.instance import Instance

STORE_ENV = "CIPOPT_STORE"

MIGRATIONS: dict[int, list[str]] = {
    1: [
        """CREATE TABLE instances (
               sha256 TEXT PRIMARY KEY,
               name TEXT NOT NULL,
               canonical_json TEXT NOT NULL,
               created_at TEXT NOT NULL)""",
        """CREATE TABLE runs (
               id INTEGER PRIMARY KEY AUTOINCREMENT,
               created_at TEXT NOT NULL,
               instance_sha256 TEXT NOT NULL REFERENCES instances(sha256),
               instance_name TEXT NOT NULL,
               source TEXT,
               options_json TEXT NOT NULL,
               solver TEXT NOT NULL,
               solver_version TEXT NOT NULL,
               cipopt_version TEXT NOT NULL,
               status TEXT NOT NULL,
               objective REAL,
               mip_gap REAL,
               selected INTEGER NOT NULL,
               summary_json TEXT NOT NULL,
               plan_csv TEXT,
               years_csv TEXT)""",
        "CREATE INDEX runs_by_instance ON runs (instance_sha256, created_at)",
        """CREATE TABLE run_plan (
               run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
               position INTEGER NOT NULL,
               scheme TEXT NOT NULL,
               start_year INTEGER,
               PRIMARY KEY (run_id, scheme))""",
    ],
    2: [
        # A note on a run ("approved by the board, 12 March") so that an approved plan can be found.
        "ALTER TABLE runs ADD COLUMN note TEXT",
    ],
}
SCHEMA_VERSION = max(MIGRATIONS)

_metadata = sa.MetaData()
instances_table = sa.Table(
    "instances", _metadata,
    sa.Column("sha256", sa.Text, primary_key=True), sa.Column("name", sa.Text),
    sa.Column("canonical_json", sa.Text), sa.Column("created_at", sa.Text),
)
runs_table = sa.Table(
    "runs", _metadata,
    sa.Column("id", sa.Integer, primary_key=True), sa.Column("created_at", sa.Text),
    sa.Column("instance_sha256", sa.Text), sa.Column("instance_name", sa.Text),
    sa.Column("source", sa.Text), sa.Column("options_json", sa.Text), sa.Column("solver", sa.Text),
    sa.Column("solver_version", sa.Text), sa.Column("cipopt_version", sa.Text),
    sa.Column("status", sa.Text), sa.Column("objective", sa.Float), sa.Column("mip_gap", sa.Float),
    sa.Column("selected", sa.Integer), sa.Column("summary_json", sa.Text),
    sa.Column("plan_csv", sa.Text), sa.Column("years_csv", sa.Text), sa.Column("note", sa.Text),
)
plan_table = sa.Table(
    "run_plan", _metadata,
    sa.Column("run_id", sa.Integer, primary_key=True), sa.Column("position", sa.Integer),
    sa.Column("scheme", sa.Text, primary_key=True), sa.Column("start_year", sa.Integer),
)


class StoreError(Exception):
    """The run history cannot be used (unreadable, a newer schema, an unknown run id)."""


def default_store_path() -> Path:
    """$CIPOPT_STORE, else ~/.cipopt/runs.sqlite (one history per user, whatever the folder)."""
    env = os.environ.get(STORE_ENV)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cipopt" / "runs.sqlite"


@dataclass
class Run:
    id: int
    created_at: str
    instance_sha256: str
    instance_name: str
    source: str | None
    options: dict[str, Any]
    solver: str
    solver_version: str
    cipopt_version: str
    status: str
    objective: float | None
    mip_gap: float | None
    selected: int
    note: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    plan: dict[str, int | None] = field(default_factory=dict)
    plan_csv: str | None = None
    """plan.csv and years.csv exactly as `cipopt solve --out` wrote them."""
    years_csv: str | None = None

    @property
    def plan_frame(self) -> pd.DataFrame:
        frame = pd.DataFrame(
            [{"scheme": s, "selected": y is not None, "start_year": y} for s, y in self.plan.items()],
            columns=["scheme", "selected", "start_year"])
        frame["start_year"] = frame["start_year"].astype("Int64")
        return frame


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _engine(path: Path) -> sa.Engine:
    url = sa.engine.URL.create("sqlite", database=str(path))
    engine = sa.create_engine(url, connect_args={"timeout": 30})

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record):  # noqa: ANN001
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    return engine


def schema_version(conn: sa.Connection) -> int:
    """The version a store file is at: 0 for a new (empty) file."""
    tables = set(sa.inspect(conn).get_table_names())
    if "schema_version" not in tables:
        return 0
    return int(conn.execute(sa.text("SELECT MAX(version) FROM schema_version")).scalar() or 0)


def migrate(engine: sa.Engine, upto: int = SCHEMA_VERSION) -> int:
    """Bring a store file to version `upto`, one migration at a time, each in its own transaction."""
    with engine.begin() as conn:
        conn.execute(sa.text(
            "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at TEXT NOT NULL)"))
        current = schema_version(conn)
    if current > SCHEMA_VERSION:
        raise StoreError(f"{engine.url.database}: the run history is at schema version {current}, written by "
                         f"a newer cipopt (this one reads up to version {SCHEMA_VERSION}); upgrade cipopt")
    for version in range(current + 1, upto + 1):
        with engine.begin() as conn:
            for statement in MIGRATIONS[version]:
                conn.execute(sa.text(statement))
            conn.execute(sa.text("INSERT INTO schema_version (version, applied_at) VALUES (:v, :t)"),
                         {"v": version, "t": _now()})
    return max(current, upto)


class Store:
    """The run history in one SQLite file (created, and migrated to the current schema, on open)."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path).expanduser() if path is not None else default_store_path()
        if self.path.exists() and self.path.is_dir():
            raise StoreError(f"{self.path}: is a folder; the run history is a file (e.g. runs.sqlite)")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.engine = _engine(self.path)
            migrate(self.engine)
        except sa.exc.DatabaseError as exc:
            raise StoreError(f"{self.path}: is not a usable run history (SQLite said: {exc.orig})") from None
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot be created: {exc.strerror or exc}") from None

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # writing -----------------------------------------------------------------------------------
    def record(self, outcome, source: str | None = None) -> int:
        """Record a solve's outcome; returns the run id."""
        inst: Instance = outcome.instance
        summary = outcome.summary()
        sha = summary["instance_sha256"]
        plan = outcome.plan or {}
        from cipopt.io.write import csv_text

        plan_csv = csv_text(outcome.plan_frame) if outcome.plan_frame is not None else None
        years_csv = csv_text(outcome.years) if outcome.years is not None else None
        with self.engine.begin() as conn:
            known = conn.execute(sa.select(instances_table.c.sha256).where(instances_table.c.sha256 == sha)).first()
            if known is None:
                conn.execute(instances_table.insert().values(
                    sha256=sha, name=inst.name, created_at=_now(),
                    canonical_json=json.dumps(inst.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))))
            run_id = conn.execute(runs_table.insert().values(
                created_at=_now(), instance_sha256=sha, instance_name=inst.name, source=source,
                options_json=json.dumps(summary["solver_options"], sort_keys=True), solver=summary["solver"],
                solver_version=summary["solver_version"], cipopt_version=summary["cipopt_version"],
                status=summary["status"], objective=summary["objective"], mip_gap=summary["mip_gap"],
                selected=summary["selected"] if outcome.plan is not None else 0,
                summary_json=json.dumps(summary, sort_keys=True, default=str), plan_csv=plan_csv,
                years_csv=years_csv,
            )).inserted_primary_key[0]
            if plan:
                conn.execute(plan_table.insert(), [
                    {"run_id": run_id, "position": i, "scheme": s.id, "start_year": plan.get(s.id)}
                    for i, s in enumerate(inst.schemes)])
        return int(run_id)

    def set_note(self, run_id: int, note: str | None) -> None:
        self.run(run_id)  # an unknown id is an error
        with self.engine.begin() as conn:
            conn.execute(runs_table.update().where(runs_table.c.id == run_id).values(note=note or None))

    # reading -----------------------------------------------------------------------------------
    def _run(self, row, plan: dict[str, int | None] | None = None, full: bool = False) -> Run:
        m = row._mapping
        return Run(
            id=m["id"], created_at=m["created_at"], instance_sha256=m["instance_sha256"],
            instance_name=m["instance_name"], source=m["source"], options=json.loads(m["options_json"]),
            solver=m["solver"], solver_version=m["solver_version"], cipopt_version=m["cipopt_version"],
            status=m["status"], objective=m["objective"], mip_gap=m["mip_gap"], selected=m["selected"],
            note=m["note"], summary=json.loads(m["summary_json"]) if full else {},
            plan=plan or {}, plan_csv=m["plan_csv"] if full else None,
            years_csv=m["years_csv"] if full else None,
        )

    def runs(self, instance: str | None = None, status: str | None = None, limit: int | None = 20) -> list[Run]:
        """Newest first; `instance` matches a name (part of it, any case) or a hash prefix."""
        query = sa.select(runs_table).order_by(runs_table.c.id.desc())
        if instance:
            query = query.where(sa.or_(runs_table.c.instance_name.ilike(f"%{instance}%"),
                                       runs_table.c.instance_sha256.startswith(instance.lower())))
        if status:
            query = query.where(runs_table.c.status == status)
        if limit:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            return [self._run(row) for row in conn.execute(query)]

    def run(self, run_id: int) -> Run:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(runs_table).where(runs_table.c.id == run_id)).first()
            if row is None:
                last = conn.execute(sa.select(sa.func.max(runs_table.c.id))).scalar()
                known = f"runs are numbered 1 to {last}" if last else "the history is empty"
                raise StoreError(f"{self.path}: no run {run_id} ({known}; see cipopt runs list)")
            plan_rows = conn.execute(sa.select(plan_table.c.scheme, plan_table.c.start_year)
                                     .where(plan_table.c.run_id == run_id).order_by(plan_table.c.position))
            plan = {scheme: (int(y) if y is not None else None) for scheme, y in plan_rows}
        return self._run(row, plan, full=True)

    def instance(self, run_id: int) -> Instance:
        """The run's instance exactly as it was solved (checked against its hash)."""
        run = self.run(run_id)
        with self.engine.connect() as conn:
            text = conn.execute(sa.select(instances_table.c.canonical_json)
                                .where(instances_table.c.sha256 == run.instance_sha256)).scalar()
        instance = Instance.model_validate(json.loads(text))
        if instance.sha256() != run.instance_sha256:
            raise StoreError(f"{self.path}: run {run_id}: the stored instance no longer hashes to "
                             f"{run.instance_sha256[:12]} (was it written by another version of cipopt?)")
        return instance


def diff_runs(a: Run, b: Run) -> dict[str, Any]:
    """What changed from run a to run b: schemes in, out and moved; status, objective, options."""
    schemes = list(dict.fromkeys([*a.plan, *b.plan]))
    added, removed, moved = [], [], []
    for s in schemes:
        ya, yb = a.plan.get(s), b.plan.get(s)
        if ya is None and yb is not None:
            added.append((s, yb))
        elif ya is not None and yb is None:
            removed.append((s, ya))
        elif ya is not None and yb is not None and ya != yb:
            moved.append((s, ya, yb))
    options = {k: (a.options.get(k), b.options.get(k))
               for k in sorted(set(a.options) | set(b.options)) if a.options.get(k) != b.options.get(k)}
    delta = None
    if a.objective is not None and b.objective is not None:
        delta = b.objective - a.objective
    return {
        "a": a.id, "b": b.id,
        "same_instance": a.instance_sha256 == b.instance_sha256,
        "status": (a.status, b.status),
        "objective": (a.objective, b.objective, delta),
        "options": options,
        "solver_version": (a.solver_version, b.solver_version),
        "added": added, "removed": removed, "moved": moved,
        "unchanged": sum(1 for s in schemes if a.plan.get(s) == b.plan.get(s) and a.plan.get(s) is not None),
    }
