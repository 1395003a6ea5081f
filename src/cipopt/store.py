"""The run history: every solve recorded in a database, so that a plan can be found again,
re-created exactly, and approved by name.

Where: `CIPOPT_STORE` or `--store`, a SQLAlchemy URL (`sqlite:///runs.sqlite`,
`postgresql+psycopg://user@host/cipopt` for a team) or a plain path to a SQLite file; by default
~/.cipopt/runs.sqlite. SQLite and PostgreSQL take the same migrations.

A run keeps the time, the instance (its canonical JSON, stored once per `instance_sha256`), the
options, the solver and its version, the status, the objective, the plan (one row per scheme),
the years table and the whole summary. `Store.instance(run_id)` gives the instance back; solved
again with the run's options it gives the same plan (tests/test_store.py holds this).

The schema is versioned by a small migration table of our own (docs/reports.md says why not
Alembic): `schema_version` holds the version the database is at, and `MIGRATIONS[v]` are the SQL
statements that take it from version v-1 to v, applied in one transaction under a lock when a
store is opened (so two processes opening a new history do not both create it). A database
written by a newer cipopt (a higher version) is refused rather than misread.

Several processes may record at once: SQLite runs in WAL mode and every write transaction takes
the write lock when it begins (BEGIN IMMEDIATE), waiting up to 30 s, and a transaction that still
finds the database busy is retried; PostgreSQL serialises what must be (the migrations) with an
advisory lock. Importing this module connects to nothing.

The schema (MIGRATIONS) is defined in cipopt.history, which also records a solve into an existing
SQLite history at the current schema without SQLAlchemy (`cipopt solve` starts quicker so).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from cipopt.history import (  # noqa: F401  (the schema and the defaults, kept importable from here)
    BUSY_SECONDS as _BUSY_SECONDS,
    ID_COLUMN as _ID_COLUMN,
    MIGRATIONS,
    SCHEMA_VERSION,
    STORE_ENV,
    busy as _busy,
    default_store,
    default_store_path,
    is_url,
    now as _now,
    retry_pause,
    run_rows,
)
from cipopt.schema.instance import Instance
from cipopt.solve.result import SolveResult

if TYPE_CHECKING:  # pandas only for Run.plan_frame: recording a run needs none
    import pandas as pd

MAX_RUN_ID = 2**63 - 1  # the largest key either database stores

_metadata = sa.MetaData()
instances_table = sa.Table(
    "instances", _metadata,
    sa.Column("sha256", sa.Text, primary_key=True), sa.Column("name", sa.Text),
    sa.Column("canonical_json", sa.Text), sa.Column("created_at", sa.Text),
)
# Numbers are read as stored (no type conversion), so a damaged value is reported, not raised.
runs_table = sa.Table(
    "runs", _metadata,
    sa.Column("id", sa.BigInteger, primary_key=True), sa.Column("created_at", sa.Text),
    sa.Column("instance_sha256", sa.Text), sa.Column("instance_name", sa.Text),
    sa.Column("source", sa.Text), sa.Column("options_json", sa.Text), sa.Column("solver", sa.Text),
    sa.Column("solver_version", sa.Text), sa.Column("cipopt_version", sa.Text),
    sa.Column("status", sa.Text), sa.Column("objective", sa.Double), sa.Column("mip_gap", sa.Double),
    sa.Column("selected", sa.Integer), sa.Column("summary_json", sa.Text),
    sa.Column("plan_csv", sa.Text), sa.Column("years_csv", sa.Text), sa.Column("note", sa.Text),
)
plan_table = sa.Table(
    "run_plan", _metadata,
    sa.Column("run_id", sa.BigInteger, primary_key=True), sa.Column("position", sa.Integer),
    sa.Column("scheme", sa.Text, primary_key=True), sa.Column("start_year", sa.Integer),
)
approvals_table = sa.Table(
    "approvals", _metadata,
    sa.Column("run_id", sa.BigInteger, primary_key=True), sa.Column("approved_by", sa.Text, primary_key=True),
    sa.Column("approved_at", sa.Text),
)


class StoreError(Exception):
    """The run history cannot be used (unreadable, a newer schema, an unknown run id)."""


def store_url(target: str | Path) -> sa.URL:
    """A SQLAlchemy URL from a URL or a plain path (a SQLite file)."""
    if isinstance(target, Path) or not is_url(target):
        return sa.engine.URL.create("sqlite", database=str(Path(target).expanduser()))
    try:
        return sa.engine.make_url(str(target))
    except (sa.exc.ArgumentError, ValueError) as exc:
        raise StoreError(f"{target}: is not a database URL ({exc})") from None


def sqlite_file(url: sa.URL) -> Path | None:
    """The file of a SQLite URL (None for another database, or SQLite in memory)."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database).expanduser()


def describe(url: sa.URL) -> str:
    """How messages name a history: the file of SQLite, else the URL without its password."""
    path = sqlite_file(url)
    return str(path) if path is not None else url.render_as_string(hide_password=True)


@dataclass
class Approval:
    approved_by: str
    approved_at: str


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
    approvals: list[Approval] = field(default_factory=list)

    @property
    def plan_frame(self) -> pd.DataFrame:
        import pandas as pd

        frame = pd.DataFrame(
            [{"scheme": s, "selected": y is not None, "start_year": y} for s, y in self.plan.items()],
            columns=["scheme", "selected", "start_year"])
        frame["start_year"] = frame["start_year"].astype("Int64")
        return frame


def _engine(target: str | Path | sa.URL) -> sa.Engine:
    """An engine for a history; SQLite in WAL mode with write transactions that lock when they begin."""
    url = target if isinstance(target, sa.URL) else store_url(target)
    if url.get_backend_name() not in _ID_COLUMN:
        raise StoreError(f"{describe(url)}: a run history is kept in SQLite or PostgreSQL, "
                         f"not {url.get_backend_name()}")
    if url.get_backend_name() != "sqlite":
        try:
            return sa.create_engine(url, pool_pre_ping=True)
        except (ImportError, sa.exc.NoSuchModuleError) as exc:
            extra = " (pip install 'cipopt[postgres]')" if url.get_backend_name() == "postgresql" else ""
            raise StoreError(f"{describe(url)}: the database driver is not installed{extra}: {exc}") from None
    # isolation_level None: the driver leaves transactions to us, so BEGIN IMMEDIATE is ours to send.
    engine = sa.create_engine(url, connect_args={"timeout": _BUSY_SECONDS, "isolation_level": None})

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record):  # noqa: ANN001
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA busy_timeout = {_BUSY_SECONDS * 1000}")
        if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn):  # noqa: ANN001
        # Take the write lock at once: a reader that later writes could otherwise meet another
        # writer and fail with "database is locked" without waiting (SQLite cannot upgrade it).
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _retrying(work, attempts: int = 8):
    """Run a transaction, again after a short random pause when the database was busy or another
    process inserted the same key first (the second try then finds it)."""
    for attempt in range(attempts):
        try:
            return work()
        except (sa.exc.OperationalError, sa.exc.IntegrityError) as exc:
            retry = isinstance(exc, sa.exc.IntegrityError) or _busy(exc)
            if not retry or attempt == attempts - 1:
                raise
            retry_pause(attempt)
    raise AssertionError("unreachable")


def schema_version(conn: sa.Connection) -> int:
    """The version a store is at: 0 for a new (empty) one."""
    tables = set(sa.inspect(conn).get_table_names())
    if "schema_version" not in tables:
        return 0
    value = conn.execute(sa.text("SELECT MAX(version) FROM schema_version")).scalar()
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        raise StoreError(f"schema_version holds {value!r}, not a version number") from None


def _lock_for_migration(conn: sa.Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(2026120301)"))  # SQLite: BEGIN IMMEDIATE did it


def migrate(engine: sa.Engine, upto: int = SCHEMA_VERSION) -> int:
    """Bring a store to version `upto`, one migration at a time, each in its own transaction, each
    under a lock and after reading the version again (another process may have migrated it)."""
    where = describe(engine.url)
    with engine.begin() as conn:
        _lock_for_migration(conn)
        conn.execute(sa.text(
            "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at TEXT NOT NULL)"))
    with engine.connect() as conn:
        try:
            current = schema_version(conn)
        except StoreError as exc:
            raise StoreError(f"{where}: {exc}") from None
    if current > SCHEMA_VERSION:
        raise StoreError(f"{where}: the run history is at schema version {current}, written by "
                         f"a newer cipopt (this one reads up to version {SCHEMA_VERSION}); upgrade cipopt")
    id_column = _ID_COLUMN.get(engine.dialect.name)
    if id_column is None:
        raise StoreError(f"{where}: a run history is kept in SQLite or PostgreSQL, not {engine.dialect.name}")
    for version in range(current + 1, upto + 1):
        with engine.begin() as conn:
            _lock_for_migration(conn)
            if schema_version(conn) >= version:
                continue  # another process got here first
            for statement in MIGRATIONS[version]:
                conn.execute(sa.text(statement.replace("{id}", id_column)))
            conn.execute(sa.text("INSERT INTO schema_version (version, applied_at) VALUES (:v, :t)"),
                         {"v": version, "t": _now()})
    return max(current, upto)


class Store:
    """The run history in one database (created, and migrated to the current schema, on open).

    `target` is a SQLAlchemy URL or a path to a SQLite file; None means `default_store()`."""

    def __init__(self, target: str | Path | sa.URL | None = None):
        url = target if isinstance(target, sa.URL) else store_url(target if target is not None else default_store())
        self.url = url
        self.where = describe(url)
        path = sqlite_file(url)
        self.path = path if path is not None else self.where
        """The SQLite file, or the URL (without password) of another database: how messages name it."""
        if path is not None and path.exists() and path.is_dir():
            raise StoreError(f"{path}: is a folder; the run history is a file (e.g. runs.sqlite)")
        try:
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
            self.engine = _engine(url)
            _retrying(lambda: migrate(self.engine))
        except sa.exc.DatabaseError as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise StoreError(f"{self.where}: is not a usable run history ({url.get_backend_name()} said: "
                             f"{reason})") from None
        except OSError as exc:
            raise StoreError(f"{self.where}: cannot be created: {exc.strerror or exc}") from None

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # writing -----------------------------------------------------------------------------------
    def record(self, outcome: SolveResult, source: str | None = None) -> int:
        """Record a solve's outcome; returns the run id (the values are cipopt.history.run_rows')."""
        instance_row, run_row, plan_rows = run_rows(outcome, source)
        sha = instance_row["sha256"]

        def write() -> int:
            with self.engine.begin() as conn:
                known = conn.execute(sa.select(instances_table.c.sha256)
                                     .where(instances_table.c.sha256 == sha)).first()
                if known is None:
                    conn.execute(instances_table.insert().values(**instance_row, created_at=_now()))
                run_id = conn.execute(runs_table.insert().values(created_at=_now(), **run_row)).inserted_primary_key[0]
                if plan_rows:
                    conn.execute(plan_table.insert(), [{"run_id": run_id, **r} for r in plan_rows])
            return int(run_id)

        return _retrying(write)

    def set_note(self, run_id: int, note: str | None) -> None:
        self.run(run_id)  # an unknown id is an error
        with self.engine.begin() as conn:
            conn.execute(runs_table.update().where(runs_table.c.id == run_id).values(note=note or None))

    def approve(self, run_id: int, by: str) -> tuple[Approval, bool]:
        """Record that `by` approved run `run_id`'s plan; (the approval, whether it is new). Only a
        run with a plan can be approved; approving again by the same name keeps the first record."""
        by = " ".join(str(by).split())
        if not by:
            raise StoreError("runs approve: --by needs the name of who approved the plan")
        run = self.run(run_id)
        if not run.plan:
            raise StoreError(f"{self.where}: run {run_id} has no plan to approve (status {run.status})")
        for existing in run.approvals:
            if existing.approved_by == by:
                return existing, False
        approval = Approval(by, _now())

        def write() -> None:
            with self.engine.begin() as conn:
                conn.execute(approvals_table.insert().values(
                    run_id=run_id, approved_by=by, approved_at=approval.approved_at))

        try:
            _retrying(write, attempts=2)
        except sa.exc.IntegrityError:  # the same name approved it at the same moment elsewhere
            return next(a for a in self.run(run_id).approvals if a.approved_by == by), False
        return approval, True

    # reading -----------------------------------------------------------------------------------
    def _check_id(self, run_id: Any) -> int:
        if isinstance(run_id, bool) or not isinstance(run_id, int) or not 1 <= run_id <= MAX_RUN_ID:
            raise StoreError(f"{self.where}: run id {run_id} is out of range (run ids are whole numbers "
                             f"from 1; see cipopt runs list)")
        return run_id

    def _number(self, value: Any, run_id: Any, column: str, whole: bool = False, optional: bool = True):
        """A stored number, checked: text or a non-finite value in a numeric column is reported
        with its place rather than printed or raised."""
        if value is None and optional:
            return None
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if ok and whole:
            ok = float(value).is_integer() and abs(value) <= MAX_RUN_ID
        if not ok:
            kind = "a whole number" if whole else "a number"
            raise StoreError(f"{self.where}: run {run_id}: column {column} holds {value!r}, not {kind} "
                             f"(the run history was edited or damaged)")
        return int(value) if whole else float(value)

    def _json(self, text: Any, run_id: Any, column: str) -> Any:
        try:
            return json.loads(text)
        except (TypeError, ValueError):
            raise StoreError(f"{self.where}: run {run_id}: column {column} is not valid JSON "
                             f"(the run history was edited or damaged)") from None

    def _run(self, row, plan: dict[str, int | None] | None = None, full: bool = False,
             approvals: list[Approval] | None = None) -> Run:
        m = row._mapping
        rid = self._number(m["id"], m["id"], "id", whole=True, optional=False)
        return Run(
            id=rid, created_at=str(m["created_at"]), instance_sha256=str(m["instance_sha256"]),
            instance_name=str(m["instance_name"]), source=m["source"],
            options=self._json(m["options_json"], rid, "options_json"),
            solver=str(m["solver"]), solver_version=str(m["solver_version"]),
            cipopt_version=str(m["cipopt_version"]), status=str(m["status"]),
            objective=self._number(m["objective"], rid, "objective"),
            mip_gap=self._number(m["mip_gap"], rid, "mip_gap"),
            selected=self._number(m["selected"], rid, "selected", whole=True, optional=False),
            note=m["note"], summary=self._json(m["summary_json"], rid, "summary_json") if full else {},
            plan=plan or {}, plan_csv=m["plan_csv"] if full else None,
            years_csv=m["years_csv"] if full else None, approvals=approvals or [],
        )

    def _approvals(self, conn, run_ids: list[int]) -> dict[int, list[Approval]]:
        found: dict[int, list[Approval]] = {}
        if not run_ids:
            return found
        rows = conn.execute(sa.select(approvals_table).where(approvals_table.c.run_id.in_(run_ids))
                            .order_by(approvals_table.c.approved_at, approvals_table.c.approved_by))
        for row in rows:
            found.setdefault(row.run_id, []).append(Approval(str(row.approved_by), str(row.approved_at)))
        return found

    def runs(self, instance: str | None = None, status: str | None = None, limit: int | None = 20,
             approved: bool = False) -> list[Run]:
        """Newest first; `instance` matches a name (part of it, any case) or a hash prefix;
        `approved` keeps only runs someone approved."""
        query = sa.select(runs_table).order_by(runs_table.c.id.desc())
        if instance:
            query = query.where(sa.or_(runs_table.c.instance_name.ilike(f"%{instance}%"),
                                       runs_table.c.instance_sha256.startswith(instance.lower())))
        if status:
            query = query.where(runs_table.c.status == status)
        if approved:
            query = query.where(runs_table.c.id.in_(sa.select(approvals_table.c.run_id)))
        if limit:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            rows = list(conn.execute(query))
            found = [self._run(row) for row in rows]
            approvals = self._approvals(conn, [r.id for r in found])
        for r in found:
            r.approvals = approvals.get(r.id, [])
        return found

    def run(self, run_id: int) -> Run:
        run_id = self._check_id(run_id)
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(runs_table).where(runs_table.c.id == run_id)).first()
            if row is None:
                last = conn.execute(sa.select(sa.func.max(runs_table.c.id))).scalar()
                known = f"runs are numbered 1 to {last}" if last else "the history is empty"
                raise StoreError(f"{self.where}: no run {run_id} ({known}; see cipopt runs list)")
            plan_rows = conn.execute(sa.select(plan_table.c.scheme, plan_table.c.start_year)
                                     .where(plan_table.c.run_id == run_id).order_by(plan_table.c.position))
            plan = {str(scheme): self._number(y, run_id, f"start_year of scheme {scheme} (table run_plan)",
                                              whole=True)
                    for scheme, y in plan_rows}
            approvals = self._approvals(conn, [run_id]).get(run_id, [])
        return self._run(row, plan, full=True, approvals=approvals)

    def instance(self, run_id: int) -> Instance:
        """The run's instance exactly as it was solved (checked against its hash)."""
        run = self.run(run_id)
        with self.engine.connect() as conn:
            text = conn.execute(sa.select(instances_table.c.canonical_json)
                                .where(instances_table.c.sha256 == run.instance_sha256)).scalar()
        if text is None:
            raise StoreError(f"{self.where}: run {run_id}: its instance {run.instance_sha256[:12]} is missing "
                             f"from table instances")
        try:
            instance = Instance.model_validate(json.loads(text))
        except ValueError:
            raise StoreError(f"{self.where}: run {run_id}: the stored instance {run.instance_sha256[:12]} "
                             f"cannot be read back (the run history was edited or damaged)") from None
        if instance.sha256() != run.instance_sha256:
            raise StoreError(f"{self.where}: run {run_id}: the stored instance no longer hashes to "
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
