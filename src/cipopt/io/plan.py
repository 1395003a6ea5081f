"""Read a plan.csv written by anyone (cipopt, a spreadsheet, by hand) as untrusted input.

Columns `scheme, selected, start_year`; other columns are ignored. Every problem is logged with
its file, row and column, and errors raise `InputError` together, as for instances.
"""

from __future__ import annotations

from collections.abc import Container, Iterator
from pathlib import Path

from cipopt.io.text import bool_column, number_column, read_csv_table, read_text
from cipopt.io.write import restore
from cipopt.schema.instance import Instance
from cipopt.schema.problems import InputError, ProblemLog


def _header(name: str) -> str:
    return name.strip().lower().replace(" ", "_").replace("-", "_")


def scheme_rows(frame, known: Container[str], label: str, log: ProblemLog) -> Iterator[tuple[int, str]]:
    """(row, scheme id) of each row of a per-scheme table (a plan, a tracker) whose `scheme` is
    given, a scheme of the instance and not repeated; the others are logged at their row."""
    first_row: dict[str, int] = {}
    for row, sid in frame["scheme"].items():
        row = int(row)
        if sid == "":
            log.error(label, "the scheme id is empty", row=row, column="scheme")
        elif sid not in known:
            log.error(label, f"unknown scheme {sid!r} (not in the instance)", row=row, column="scheme")
        elif sid in first_row:
            log.error(label, f"scheme {sid!r} is given twice (first at row {first_row[sid]})", row=row, column="scheme")
        else:
            first_row[sid] = row
            yield row, sid


def read_plan(path: str | Path, instance: Instance, log: ProblemLog,
              within_years: bool = False) -> dict[str, int | None]:
    """Scheme id -> start year, or None when not selected, for every scheme of the instance.

    `selected` decides when given (true needs a start_year; false with a start_year is a warning
    and the scheme is not selected); without the column, or with the cell empty, a scheme is
    selected when its start_year is filled. Schemes missing from the file are not selected.
    Whether the start year is allowed is the checker's business, not the reader's; only with
    `within_years` (simulate: a start outside the plan years cannot be drawn) is one an error, at its row.
    """
    path = Path(path)
    label = str(path)
    text = read_text(path, label, log)
    frame = read_csv_table(text, label, log) if text is not None else None
    if frame is None:
        raise InputError(log.problems)
    # cipopt writes a cell that a spreadsheet would run as a formula with a leading apostrophe
    frame = frame.map(lambda v: restore(v) if isinstance(v, str) else v)
    frame = frame.rename(columns={c: _header(restore(c)) for c in frame.columns})
    if "scheme" not in frame.columns:
        log.error(label, "the required column 'scheme' is missing", row=1)
        raise InputError(log.problems)
    if "start_year" not in frame.columns:
        frame["start_year"] = ""
    starts = number_column(frame, "start_year", label, log, integer=True)
    selected = bool_column(frame, "selected", label, log) if "selected" in frame.columns else None

    known = {s.id for s in instance.schemes}
    plan: dict[str, int | None] = {}
    for row, sid in scheme_rows(frame, known, label, log):
        raw_start = frame.at[row, "start_year"]
        start = starts.at[row]
        has_start = raw_start != ""
        if has_start and start != start:  # NaN: not a whole number, already logged
            continue
        choice = selected.at[row] if selected is not None else None
        if not isinstance(choice, bool):
            if selected is not None and frame.at[row, "selected"] != "":
                continue  # not a boolean, already logged
            choice = has_start  # no selected column, or an empty cell
        if choice and not has_start:
            log.error(label, f"scheme {sid!r} is selected but has no start_year", row=row, column="start_year")
            continue
        if not choice and has_start:
            log.warn(label, f"scheme {sid!r} is not selected, so its start_year {raw_start} is ignored",
                     row=row, column="start_year")
        if choice and within_years and int(start) not in instance.years:
            log.error(label, f"cannot be simulated: scheme {sid} starts in {int(start)}, outside the plan years "
                             f"{instance.years[0]}-{instance.years[-1]}", row=row, column="start_year")
            continue
        plan[sid] = int(start) if choice else None
    log.raise_if_errors()
    missing = [s.id for s in instance.schemes if s.id not in plan]
    if missing:
        shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10:,} more" if len(missing) > 10 else "")
        log.warn(label, f"{len(missing):,} scheme(s) of the instance are not in the plan and are taken "
                        f"as not selected: {shown}")
    return {s.id: plan.get(s.id) for s in instance.schemes}
