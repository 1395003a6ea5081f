"""Read a CIP tracker export (actuals.csv, or the sheet `actuals` of a workbook) as untrusted input.

Columns: `scheme, status` (required), `started` (YYYY-MM, the month it actually started),
`saving_to_date, nonrecurrent_to_date, cost_to_date, capital_to_date, forecast_saving,
forecast_nonrecurrent, forecast_cost, forecast_capital, rag`; other columns (lead, notes) are
ignored. Every problem is logged with the file, row, column and scheme, and all are raised
together, as for instances (docs/replan.md).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pandas as pd

from cipopt.io.plan import scheme_rows
from cipopt.io.text import number_column, read_csv_table, read_text
from cipopt.schema.actuals import MONEY_COLUMNS, STARTED, STATUSES, Actuals, ActualRow, Month
from cipopt.schema.instance import Instance
from cipopt.schema.problems import InputError, Problem, ProblemLog, show

SHEET = "actuals"
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})(?:-\d{1,2})?(?:[ T].*)?$")
_RAG = {"red": "red", "r": "red", "amber": "amber", "a": "amber", "green": "green", "g": "green", "": ""}
_COST_COLUMNS = ("cost_to_date", "capital_to_date", "forecast_cost", "forecast_capital")


def _header(name: str) -> str:
    return name.strip().lower().replace(" ", "_").replace("-", "_")


_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_NAMED = re.compile(r"^([a-z]{3})[a-z]*[ \-/]+(\d{2}|\d{4})$")  # Sep 2025, September 2025, Sep-25
_UK_DATE = re.compile(r"^\d{1,2}/(\d{1,2})/(\d{4})$")  # 01/09/2025, as UK spreadsheets write dates


def parse_month(text: str) -> Month | None:
    """A calendar month as a financial month: 2025-09 (or 2025/09, a date 2025-09-01, 01/09/2025,
    Sep 2025, September 2025, Sep-25), as trackers write it."""
    text = text.strip().lower()
    match = _MONTH.match(text.replace("/", "-", 1) if re.match(r"^\d{4}/", text) else text)
    if match:
        year, month = int(match.group(1)), int(match.group(2))
    elif (named := _NAMED.match(text)) and named.group(1) in _NAMES:
        year, month = int(named.group(2)), _NAMES.index(named.group(1)) + 1
        year += 2000 if year < 100 else 0
    elif uk := _UK_DATE.match(text):
        year, month = int(uk.group(2)), int(uk.group(1))
    else:
        return None
    if not 1 <= month <= 12:
        return None
    return Month.of_calendar(year, month)


def as_at_month(text: str, instance: Instance, label: str = "--as-at") -> Month:
    """The as-at month of a re-plan: a calendar month inside the plan's years."""
    month = parse_month(text)
    if month is None:
        raise InputError([Problem(label, f"{show(text)} is not a month such as 2025-09")])
    if month.year not in instance.years:
        raise InputError([Problem(label, f"{text} is in financial year {month.year}/{(month.year + 1) % 100:02d}, "
                                             f"outside the plan years {instance.years[0]}-{instance.years[-1]}")])
    return month


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.strftime("%Y-%m")
    return str(value).strip()


def _workbook_frame(path: Path, label: str, log: ProblemLog) -> pd.DataFrame | None:
    import zipfile

    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as exc:
        log.error(str(path), f"is not a readable Excel workbook (.xlsx): {exc}")
        return None
    try:
        names = {n.strip().lower(): n for n in book.sheetnames}
        if SHEET not in names:
            log.error(str(path), f"has no sheet {SHEET!r} (its sheets: {', '.join(book.sheetnames)})")
            return None
        rows = []
        for number, cells in enumerate(book[names[SHEET]].iter_rows(values_only=True), start=1):
            texts = [_cell(c) for c in cells]
            if any(texts):
                rows.append((number, texts))
    finally:
        book.close()
    if not rows:
        log.error(label, "is empty: expected a header row", row=1)
        return None
    (_, header), body = rows[0], rows[1:]
    width = len(header)
    for number, texts in body:
        if len(texts) > width and any(texts[width:]):
            log.error(label, "has cells beyond the header's columns", row=number)
    return pd.DataFrame([(t + [""] * width)[:width] for _, t in body], columns=header,
                        index=[n for n, _ in body], dtype=object)


def _numbers(frame: pd.DataFrame, column: str, label: str, log: ProblemLog, key: str, word: str) -> pd.Series:
    """number_column, with each message naming the row's scheme (or bridge) as well as its place."""
    own = ProblemLog()
    values = number_column(frame, column, label, own)
    for p in own.problems:
        name = frame.at[p.row, key] if p.row in frame.index else ""
        log.problems.append(Problem(p.file, f"{word} {name}: {p.message}" if name else p.message, row=p.row,
                                    column=p.column, key=p.key, severity=p.severity))
    return values


def read_actuals(path: str | Path, instance: Instance, as_at: Month, log: ProblemLog) -> Actuals:
    """The tracker's rows for `instance` at `as_at`; schemes it does not list are not started."""
    path = Path(path)
    workbook = path.suffix.lower() in (".xlsx", ".xlsm")
    label = f"{path}, sheet {SHEET}" if workbook else str(path)
    if workbook:
        frame = _workbook_frame(path, label, log) if path.is_file() else None
        if not path.is_file():
            log.error(str(path), "no such workbook")
    else:
        text = read_text(path, label, log)
        frame = read_csv_table(text, label, log) if text is not None else None
    if frame is None:
        raise InputError(log.problems)
    frame = frame.rename(columns={c: _header(c) for c in frame.columns})
    for required in ("scheme", "status"):
        if required not in frame.columns:
            log.error(label, f"the required column {required!r} is missing", row=1)
    if log.errors:
        raise InputError(log.problems)
    for column in ("started", "rag", *MONEY_COLUMNS):
        if column not in frame.columns:
            frame[column] = ""
    money = {c: _numbers(frame, c, label, log, "scheme", "scheme") for c in MONEY_COLUMNS}

    schemes = {s.id: s for s in instance.schemes}
    given: set[str] = set()
    rows: list[ActualRow] = []
    for row, sid in scheme_rows(frame, schemes, label, log):
        given.add(sid)

        def error(message: str, column: str) -> None:
            log.error(label, f"scheme {sid}: {message}", row=row, column=column)

        status = _header(frame.at[row, "status"])
        if status not in STATUSES:
            error(f"status {show(frame.at[row, 'status'])} is not one of not started, in delivery, complete, "
                  "stopped", "status")
            continue
        rag = _RAG.get(frame.at[row, "rag"].strip().lower())
        if rag is None:
            error(f"RAG {show(frame.at[row, 'rag'])} is not red, amber or green", "rag")
            continue
        values = {c: money[c].at[row] for c in MONEY_COLUMNS}
        if any(v != v and frame.at[row, c] != "" for c, v in values.items()):
            continue  # not a number: already logged
        values = {c: (0.0 if v != v else float(v)) for c, v in values.items()}
        bad = False
        for c in _COST_COLUMNS:
            if values[c] < 0:
                error(f"{c} {values[c]:g} is negative (costs are positive amounts)", c)
                bad = True
        raw_start = frame.at[row, "started"]
        started = parse_month(raw_start) if raw_start else None
        if raw_start and started is None:
            error(f"started {show(raw_start)} is not a month such as 2025-05", "started")
            continue
        if status in STARTED and started is None:
            error(f"is {status.replace('_', ' ')} but gives no started month (YYYY-MM)", "started")
            continue
        if started is not None:
            if as_at < started:
                error(f"started {raw_start} is after the as-at month {as_at.calendar}", "started")
                continue
            if started.year < instance.years[0]:
                error(f"started {raw_start} is before the plan's first year {instance.years[0]}/"
                      f"{(instance.years[0] + 1) % 100:02d}; re-plan from an instance whose years include it",
                      "started")
                continue
        if status == "not_started":
            if started is not None:
                error("is not started but gives a started month", "started")
                bad = True
            for c in MONEY_COLUMNS:
                if values[c]:
                    error(f"is not started but has {c} {values[c]:g}", c)
                    bad = True
        if status == "stopped":
            for c in MONEY_COLUMNS:
                if c.startswith("forecast") and values[c]:
                    error(f"is stopped but forecasts {c} {values[c]:g} (a stopped scheme delivers no more)", c)
                    bad = True
        if bad:
            continue
        rows.append(ActualRow(scheme=sid, status=status, started=started, rag=rag, row=row, **values))
    log.raise_if_errors()
    missing = [s for s in schemes if s not in given]
    if missing:
        shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10:,} more" if len(missing) > 10 else "")
        log.warn(label, f"{len(missing):,} scheme(s) of the instance are not in the tracker and are taken "
                        f"as not started: {shown}")
    return Actuals(as_at=as_at, rows=tuple(rows), source=label)


def _side_table(path: str | Path, required: tuple[str, ...], log: ProblemLog):
    """A re-plan's own CSV (phasing, bridges): read, headers normalised, required columns present."""
    label = str(path)
    text = read_text(Path(path), label, log)
    frame = read_csv_table(text, label, log) if text is not None else None
    if frame is None:
        raise InputError(log.problems)
    frame = frame.rename(columns={c: _header(c) for c in frame.columns})
    for column in required:
        if column not in frame.columns:
            log.error(label, f"the required column {column!r} is missing", row=1)
    if log.errors:
        raise InputError(log.problems)
    return frame, label


def read_phasing(path: str | Path, log: ProblemLog) -> tuple[float, ...]:
    """A monthly profile: columns `month` (1-12 from April, or the month's name) and `share`."""
    frame, label = _side_table(path, ("month", "share"), log)
    names = ["apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec", "jan", "feb", "mar"]
    shares = number_column(frame, "share", label, log)
    out: dict[int, float] = {}
    for row, raw in frame["month"].items():
        row = int(row)
        key = raw.strip().lower()
        month = names.index(key[:3]) + 1 if key[:3] in names else (int(key) if key.isdigit() else None)
        if month is None or not 1 <= month <= 12:
            log.error(label, f"month {show(raw)} is not 1-12 (April = 1) or a month's name", row=row, column="month")
            continue
        if month in out:
            log.error(label, f"month {raw} is given twice", row=row, column="month")
            continue
        share = shares.at[row]
        if share != share or share < 0:
            if share == share:
                log.error(label, f"share {share:g} is negative", row=row, column="share")
            elif frame.at[row, "share"] == "":
                log.error(label, "share is empty", row=row, column="share")
            continue
        out[month] = float(share)
    if not log.errors:
        if len(out) != 12:
            log.error(label, f"gives {len(out)} months; a phasing gives all 12 (missing: "
                             f"{', '.join(str(m) for m in range(1, 13) if m not in out)})")
        elif abs(sum(out.values()) - 1.0) > 1e-6:
            log.error(label, f"the shares sum to {sum(out.values()):g}, not 1")
    log.raise_if_errors()
    return tuple(out[m] for m in range(1, 13))


_BRIDGE_NUMBERS = {"monthly_saving": None, "one_off_cost": 0.0, "confidence": 1.0, "safety": 0, "effectiveness": 0,
                   "experience": 0, "access": 0, "qia_risk": 1.0}


def read_bridges(path: str | Path, instance: Instance, as_at: Month, log: ProblemLog) -> tuple:
    """bridges.csv: `id, monthly_saving` (required), `until` (YYYY-MM, default the year's last month),
    `name, org, one_off_cost, confidence`, the QIA columns, other numeric columns as metrics."""
    from pydantic import ValidationError

    from cipopt.io.text import bool_column, is_numeric_column
    from cipopt.schema.actuals import Bridge

    frame, label = _side_table(path, ("id", "monthly_saving"), log)
    known = set(_BRIDGE_NUMBERS) | {"id", "name", "org", "until", "qia_approved"}
    custom = [c for c in frame.columns if c not in known and is_numeric_column(frame, c)]
    numbers = {c: _numbers(frame, c, label, log, "id", "bridge")
               for c in [*(_c for _c in _BRIDGE_NUMBERS if _c in frame.columns), *custom]}
    approved = bool_column(frame, "qia_approved", label, log) if "qia_approved" in frame.columns else None
    schemes = {s.id for s in instance.schemes}
    orgs = set(instance.org_ids)
    year_end = Month(year=as_at.year, month=12)
    seen: dict[str, int] = {}
    bridges = []
    for row, bid in frame["id"].items():
        row = int(row)
        if bid == "":
            log.error(label, "the bridge id is empty", row=row, column="id")
            continue
        if bid in schemes:
            log.error(label, f"bridge {bid}: the id is a scheme's id already", row=row, column="id")
            continue
        if bid in seen:
            log.error(label, f"bridge {bid!r} is given twice (first at row {seen[bid]})", row=row, column="id")
            continue
        seen[bid] = row
        fields = {}
        bad = False
        for c in _BRIDGE_NUMBERS:
            if c not in numbers:
                continue
            v = numbers[c].at[row]
            if v != v:
                bad |= frame.at[row, c] != ""
                continue
            fields[c] = int(v) if c in ("safety", "effectiveness", "experience", "access") and float(v).is_integer() else v
        if "monthly_saving" not in fields:
            if not bad:
                log.error(label, f"bridge {bid}: monthly_saving is empty", row=row, column="monthly_saving")
            continue
        until = year_end
        if "until" in frame.columns and frame.at[row, "until"]:
            until = parse_month(frame.at[row, "until"])
            if until is None:
                log.error(label, f"bridge {bid}: until {show(frame.at[row, 'until'])} is not a month such as 2026-03",
                          row=row, column="until")
                continue
            if until.year != as_at.year or not as_at < until:
                log.error(label, f"bridge {bid}: until {frame.at[row, 'until']} is not one of the remaining months "
                                 f"of {as_at.year}/{(as_at.year + 1) % 100:02d} after {as_at.calendar}",
                          row=row, column="until")
                continue
        org = frame.at[row, "org"] if "org" in frame.columns and frame.at[row, "org"] else instance.org_ids[0]
        if org not in orgs:
            log.error(label, f"bridge {bid}: unknown organisation {org!r}", row=row, column="org")
            continue
        metrics = {c: float(numbers[c].at[row]) for c in custom if numbers[c].at[row] == numbers[c].at[row]}
        if bad:
            continue
        try:
            bridges.append(Bridge(id=bid, name=frame.at[row, "name"] if "name" in frame.columns else "", org=org,
                                  until=until, metrics=metrics, row=row,
                                  qia_approved=bool(approved.at[row]) if approved is not None else False, **fields))
        except ValidationError as exc:
            for e in exc.errors():
                column = str(e["loc"][0]) if e["loc"] else None
                log.error(label, f"bridge {bid}: {column} {e['msg'].lower()}", row=row, column=column)
    log.raise_if_errors()
    return tuple(bridges)
