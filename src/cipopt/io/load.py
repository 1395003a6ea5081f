"""Read an instance folder (format v1) into a validated `Instance`, reporting every problem.

Stages: `read_folder` (io/folder.py) gives a `RawInstance` (the YAML context as a dict, each table
as strings with spreadsheet row numbers); `parse_raw` types and validates it: instance.yaml in
io/context.py, the tables in io/tables.py. Other forms (a workbook) and scenario overrides produce
or change a `RawInstance`, so they share all the checking here.

The aim is one run that reports everything that can be reported soundly: a table with a bad
cell still has its other rows checked, and cross-table checks still run on what could be read,
told by `Gaps` which parts are missing so that they do not report follow-on errors.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from cipopt.bulk import no_cyclic_gc
from cipopt.io.context import (
    CONTEXT_FILE, Context, check_format_version, first_org, referenced_metrics, strip_unknown_keys,
)
from cipopt.io.folder import RawInstance, read_folder
from cipopt.io.messages import describe_error, loc_to_key, normalise_header
from cipopt.io.tables import ROW_ID, TABLES, TypedTable, typed_rows
from cipopt.io.text import Table
from cipopt.schema.instance import Instance, Scheme
from cipopt.schema.problems import InputError, ProblemLog
from cipopt.schema.validate import Gaps, SourceRows, canonical_metric, validate_instance


def parse_raw(raw: RawInstance, log: ProblemLog) -> tuple[Instance, SourceRows] | None:
    """Type and validate a raw instance; None when there are errors (all logged). Each problem at
    a row of a table keyed by scheme names that scheme's id too ("row 4 (S02)")."""
    first = len(log.problems)
    try:
        return _parse_raw(raw, log)
    finally:
        _name_schemes(raw, log, first)


_SCHEME_COLUMN = {"schemes": "id", "profiles": "scheme", "shares": "scheme", "scores": "scheme"}


def _name_schemes(raw: RawInstance, log: ProblemLog, first: int) -> None:
    ids: dict[str, dict[int, str]] = {}
    for name, column in _SCHEME_COLUMN.items():
        table = raw.tables.get(name)
        if table is None:
            continue
        header = {normalise_header(c): c for c in table.columns}
        if column in header:
            ids[raw.label(name)] = {r: v for r, v in zip(table.rows, table[header[column]]) if isinstance(v, str) and v}
    if not ids:
        return
    for k in range(first, len(log.problems)):
        p = log.problems[k]
        scheme = ids.get(p.file, {}).get(p.row) if p.row is not None and p.scheme is None else None
        if scheme:
            log.problems[k] = dataclasses.replace(p, scheme=scheme)


def _parse_raw(raw: RawInstance, log: ProblemLog) -> tuple[Instance, SourceRows] | None:
    context_label = raw.labels.get("context", str(Path(raw.source) / CONTEXT_FILE))
    gaps = Gaps(context="context" in raw.unreadable)
    gaps.tables.update(name for name in raw.unreadable if name in TABLES)
    context: dict[str, Any] = {"years": [2000]}
    if gaps.context:
        gaps.years = True
    else:
        data = raw.context if isinstance(raw.context, dict) else {}
        if not check_format_version(data, context_label, log):
            return None  # another version may mean something else: checking it as v1 would mislead
        data = strip_unknown_keys(Instance, data, "", context_label, log)
        reader = Context(data, context_label, log, gaps)
        reader.lenient()
        context = reader.validate()
    metric_columns = referenced_metrics(context if not gaps.context else {}, raw.names.get("context", CONTEXT_FILE))
    org = first_org(context)

    tables: dict[str, list[BaseModel]] = {}
    source_rows = SourceRows(labels={"context": context_label}, names=dict(raw.names))
    for name, spec in TABLES.items():
        label = raw.label(name)
        source_rows.labels[name] = label
        read = raw.tables.get(name)
        tables[name] = []
        source_rows.rows[name] = []
        if read is None:
            continue
        defaults = {"name": ROW_ID, "org": org} if name == "schemes" else None
        table = typed_rows(name, spec, read, label, log, metric_columns, defaults)
        if not table.usable:
            gaps.tables.add(name)
            continue
        tables[name] = table.rows
        source_rows.rows[name] = table.numbers
        _note_rejected(name, table, gaps)
    _contradictory_flags(tables["schemes"], source_rows, log)

    try:
        instance = Instance.model_validate(
            {**context, "schemes": tables["schemes"], "profiles": tables["profiles"],
             "relations": tables["relations"], "shares": tables["shares"],
             "scores": tables["scores"]}
        )
    except ValidationError as exc:  # structure already checked piecewise; kept for safety
        for err in exc.errors():
            log.error(context_label, describe_error(err), key=loc_to_key(err["loc"]))
        return None
    validate_instance(instance, log, source_rows, gaps)
    if not gaps.context:
        _warn_missing_qia(instance, raw.tables.get("schemes"), source_rows, log)
    if log.errors:
        return None
    return instance, source_rows


def _warn_missing_qia(instance: Instance, table: Table | None, src: SourceRows, log: ProblemLog) -> None:
    """A scheme with no quality impact assessment at all (every QIA cell empty, or no QIA columns) reads
    as neutral (0 in every domain) and lowest risk (1), which the QIA rules let through: the format's
    defaults, kept, but said per scheme, because an assessment nobody made is not a safe one."""
    q = instance.quality
    if table is None or not (q.scheme_min or q.max_risk is not None or q.hard_max_risk is not None or q.portfolio_min):
        return
    header = {normalise_header(c): c for c in table.columns}
    columns = [table[header[c]] for c in (*q.domains, "qia_risk") if c in header]
    filled = [any(cells) for cells in zip(*columns)] if columns else [False] * len(table)
    empty_rows = {r for r, f in zip(table.rows, filled) if not f}
    label = src.label("schemes")
    names = ", ".join((*q.domains, "qia_risk"))
    for i, s in enumerate(instance.schemes):
        row = src.row("schemes", i)
        if row in empty_rows:
            log.warn(label, f"scheme {s.id!r} has no quality impact assessment ({names} all empty): it is read as "
                            "neutral and lowest risk, so the QIA rules let it through; fill in its QIA",
                     row=row, column="qia_risk")


def _contradictory_flags(schemes: list[Scheme], src: SourceRows, log: ProblemLog) -> None:
    """A schemes.csv row both mandatory and excluded says two opposite things. (A what-if may make
    a mandatory scheme unable to start on purpose, so this is a check of the file, not of meaning.)"""
    for i, s in enumerate(schemes):
        if s.mandatory and s.excluded:
            log.error(src.label("schemes"), "the scheme is both mandatory and excluded: it must be selected "
                                            "and may not be; clear one of the two",
                      row=src.row("schemes", i), column="excluded")


def _note_rejected(name: str, table: TypedTable, gaps: Gaps) -> None:
    """Remember what rejected rows named, so references to them are not reported as unknown."""
    gaps.metrics.update(table.metric_columns)
    rejected = table.rejected
    if rejected is None:
        return
    if name == "schemes":
        for row, sid in zip(rejected.rows, rejected["id"]):
            if sid:
                gaps.rejected_schemes.setdefault(sid, []).append(row)
            else:
                gaps.unnamed_schemes = True
    elif name == "shares":
        gaps.rejected_share_schemes.update(s for s in rejected["scheme"] if s)
    elif name == "profiles":
        gaps.metrics.update(canonical_metric(normalise_header(m)) for m in rejected["metric"] if m)


def load_instance(path: str | Path, log: ProblemLog | None = None, *, allow_outside_links: bool = False) -> Instance:
    """Read and validate an instance folder; raise `InputError` listing every problem."""
    log = log if log is not None else ProblemLog()
    # No cyclic garbage collection while hundreds of thousands of rows are built: the collector
    # would walk every live row again and again (several times slower on 50,000 schemes).
    with no_cyclic_gc():
        raw = read_folder(path, log, allow_outside_links=allow_outside_links)
        parsed = parse_raw(raw, log) if raw is not None else None
    if parsed is None:
        raise InputError(log.problems)
    return parsed[0]
