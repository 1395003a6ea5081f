"""Read an instance folder (format v1) into a validated `Instance`, reporting every problem.

Stages: `read_folder` gives a `RawInstance` (the YAML context as a dict, each table as strings
with spreadsheet row numbers); `parse_raw` types and validates it. Other forms (a workbook) and
scenario overrides produce or change a `RawInstance`, so they share all the checking here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from pydantic import BaseModel, ValidationError

from cipopt.io.text import (
    bool_column, is_numeric_column, number_column, read_csv_table, read_text,
)
from cipopt.schema.instance import (
    Criterion, Instance, Limit, Objective, Organisation, ProfileRow, Quality, Relation, Scheme,
    Score, Share, SolverOptions, Target,
)
from cipopt.schema.problems import InputError, ProblemLog
from cipopt.schema.validate import SourceRows, validate_instance

CONTEXT_FILE = "instance.yaml"


@dataclass(frozen=True)
class Column:
    kind: str = "str"  # str | float | int | bool
    required: bool = False


@dataclass(frozen=True)
class TableSpec:
    model: type[BaseModel]
    columns: dict[str, Column]
    required: bool = False
    custom_columns: bool = False  # schemes.csv: other columns are metrics or labels


_F, _I, _B = Column("float"), Column("int"), Column("bool")
TABLES: dict[str, TableSpec] = {
    "schemes": TableSpec(
        Scheme,
        {
            "id": Column("str", True), "name": Column(), "category": Column(), "org": Column(),
            "earliest_start": _I, "latest_start": _I, "mandatory": _B, "confidence": _F,
            "recurrent_saving": _F, "first_year_fraction": _F, "nonrecurrent_saving": _F,
            "one_off_cost": _F, "capital_cost": _F, "running_cost": _F,
            "double_running_cost": _F, "double_running_years": _I,
            "safety": _I, "effectiveness": _I, "experience": _I, "access": _I,
            "qia_risk": _F, "qia_approved": _B,
        },
        required=True,
        custom_columns=True,
    ),
    "profiles": TableSpec(
        ProfileRow,
        {"scheme": Column("str", True), "offset": Column("int", True),
         "metric": Column("str", True), "value": Column("float", True)},
    ),
    "relations": TableSpec(
        Relation,
        {"kind": Column("str", True), "a": Column("str", True), "b": Column("str", True),
         "lag": _I},
    ),
    "shares": TableSpec(
        Share,
        {"scheme": Column("str", True), "org": Column("str", True),
         "saving_share": _F, "cost_share": _F},
    ),
    "scores": TableSpec(
        Score,
        {"scheme": Column("str", True), "criterion": Column("str", True),
         "score": Column("float", True)},
    ),
}

# Nested models of instance.yaml, so unknown keys can be reported (as warnings) at any depth.
_CONTEXT_NESTED: dict[str, tuple[type[BaseModel], bool]] = {
    "organisations": (Organisation, True), "targets": (Target, True), "limits": (Limit, True),
    "quality": (Quality, False), "objective": (Objective, False),
    "solver": (SolverOptions, False), "criteria": (Criterion, True),
}
_TABLE_FIELDS = set(TABLES)


@dataclass
class RawInstance:
    """An instance as read, before typing: what scenarios and other file forms work on."""

    source: str
    context: dict[str, Any]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)  # table -> name used in messages

    def label(self, name: str) -> str:
        return self.labels.get(name, f"{name}.csv")


class _UniqueKeyLoader(yaml.SafeLoader):
    """Safe loading that refuses duplicate keys instead of silently keeping the last."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False):
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            duplicate = key in seen
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a key is not a plain value", key_node.start_mark
            ) from None
        if duplicate:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping
)


def parse_yaml(text: str, label: str, log: ProblemLog) -> dict[str, Any] | None:
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        log.error(label, f"is not valid YAML{where}: {what}")
        return None
    if data is None:
        log.error(label, "is empty: expected the plan context (years, targets, ...)")
        return None
    if not isinstance(data, dict):
        log.error(label, f"must be a mapping of keys (years, targets, ...), not a {type(data).__name__}")
        return None
    return data


def read_folder(path: str | Path, log: ProblemLog) -> RawInstance | None:
    folder = Path(path)
    if not folder.exists():
        log.error(str(folder), "no such instance folder")
        return None
    if not folder.is_dir():
        log.error(str(folder), "is not a folder: an instance is a folder holding instance.yaml and schemes.csv")
        return None
    raw = RawInstance(source=str(folder), context={})
    context_path = folder / CONTEXT_FILE
    if not context_path.is_file():
        log.error(str(context_path), "is missing: every instance needs instance.yaml")
    else:
        text = read_text(context_path, str(context_path), log)
        if text is not None:
            raw.context = parse_yaml(text, str(context_path), log) or {}
    raw.labels = {name: str(folder / f"{name}.csv") for name in TABLES}
    for name, spec in TABLES.items():
        file = folder / f"{name}.csv"
        if not file.exists():
            if spec.required:
                log.error(str(file), f"is missing: every instance needs {name}.csv")
            continue
        text = read_text(file, str(file), log)
        if text is None:
            continue
        frame = read_csv_table(text, str(file), log)
        if frame is not None:
            raw.tables[name] = frame
    return raw


def _normalise_header(name: str) -> str:
    return name.strip().lower().replace(" ", "_").replace("-", "_")


def _strip_unknown_keys(
    model: type[BaseModel], data: Any, path: str, label: str, log: ProblemLog
) -> Any:
    if not isinstance(data, dict):
        return data
    known = set(model.model_fields)
    out = {}
    for key, value in data.items():
        key_path = f"{path}.{key}" if path else str(key)
        if key not in known:
            if not (model is Instance and key in _TABLE_FIELDS):
                log.warn(label, f"unknown key {key!r} ignored", key=key_path)
            continue
        if model is Instance and key in _CONTEXT_NESTED:
            nested, is_list = _CONTEXT_NESTED[key]
            if is_list and isinstance(value, list):
                value = [
                    _strip_unknown_keys(nested, item, f"{key_path}[{i}]", label, log)
                    for i, item in enumerate(value)
                ]
            elif not is_list:
                value = _strip_unknown_keys(nested, value, key_path, label, log)
        out[key] = value
    return out


def _loc_to_key(loc: tuple) -> str:
    key = ""
    for part in loc:
        if isinstance(part, int) and not isinstance(part, bool) and key and not key.endswith("values"):
            key += f"[{part}]"
        else:
            key += f".{part}" if key else str(part)
    return key


def _describe_pydantic_error(err: dict, cell: str | None = None) -> str:
    value = err.get("input") if cell is None else cell
    msg = err.get("msg", "invalid").removeprefix("Value error, ")
    if err.get("type") == "missing":
        return "is required"
    if isinstance(value, (dict, list)):
        return msg
    return f"{value!r}: {msg}"


def _parse_context(raw: RawInstance, label: str, log: ProblemLog) -> dict[str, Any] | None:
    context = _strip_unknown_keys(Instance, raw.context, "", label, log)
    if "years" not in context:
        log.error(label, "the plan years are required, e.g. years: [2025, 2026, 2027]", key="years")
        return None
    try:
        # Validate the context alone (tables are checked row by row, with their rows).
        Instance.model_validate(context)
    except ValidationError as exc:
        for err in exc.errors():
            log.error(label, _describe_pydantic_error(err), key=_loc_to_key(err["loc"]))
        return None
    return context


def _typed_rows(
    name: str, spec: TableSpec, frame: pd.DataFrame, label: str, log: ProblemLog,
    metric_columns: set[str],
) -> tuple[list[BaseModel], list[int]]:
    frame = frame.rename(columns={c: _normalise_header(c) for c in frame.columns})
    for column, col in spec.columns.items():
        if col.required and column not in frame.columns:
            log.error(label, f"the required column {column!r} is missing", row=1)
    if any(c.required and n not in frame.columns for n, c in spec.columns.items()):
        return [], []
    typed: dict[str, pd.Series] = {}
    for column in frame.columns:
        col = spec.columns.get(column)
        if col is None:
            if not spec.custom_columns:
                log.warn(label, f"unknown column {column!r} ignored", row=1)
                continue
            if column in metric_columns or is_numeric_column(frame, column):
                typed[column] = number_column(frame, column, label, log)
            continue
        if col.kind in ("float", "int"):
            typed[column] = number_column(frame, column, label, log, integer=col.kind == "int")
        elif col.kind == "bool":
            typed[column] = bool_column(frame, column, label, log)
        if col.required:
            for row in frame.index[(frame[column] == "").to_numpy()]:
                log.error(label, "is required but empty", row=int(row), column=column)
    rows: list[BaseModel] = []
    row_numbers: list[int] = []
    known = spec.columns
    records = frame.to_dict("index")
    for row, cells in records.items():
        data: dict[str, Any] = {}
        metrics: dict[str, float] = {}
        labels: dict[str, str] = {}
        bad = False
        for column, cell in cells.items():
            if column in typed:
                value = typed[column].at[row]
                if cell != "" and (value is None or value != value):
                    bad = True  # already reported by the column parser
                    continue
                if cell == "":
                    continue
                if column in known:
                    data[column] = int(value) if known[column].kind == "int" else (
                        bool(value) if known[column].kind == "bool" else float(value))
                else:
                    metrics[column] = float(value)
            elif column in known:
                if cell != "":
                    data[column] = cell
                elif known[column].required:
                    bad = True
            elif spec.custom_columns and cell != "":
                labels[column] = cell
        if bad:
            continue
        if spec.custom_columns:
            data["metrics"] = metrics
            data["labels"] = labels
        try:
            rows.append(spec.model.model_validate(data))
            row_numbers.append(int(row))
        except ValidationError as exc:
            for err in exc.errors():
                column = str(err["loc"][0]) if err["loc"] else None
                cell = cells.get(column) if column else None
                log.error(label, _describe_pydantic_error(err, cell), row=int(row), column=column)
    return rows, row_numbers


def _referenced_metrics(context: dict[str, Any]) -> set[str]:
    """Columns that must be numeric because a rule refers to them."""
    names = set()
    for limit in context.get("limits") or []:
        if isinstance(limit, dict) and isinstance(limit.get("metric"), str):
            names.add(_normalise_header(limit["metric"]))
    quality = context.get("quality") or {}
    if isinstance(quality, dict):
        for key in ("domains",):
            names.update(_normalise_header(str(d)) for d in quality.get(key) or [])
        for key in ("scheme_min", "portfolio_min"):
            if isinstance(quality.get(key), dict):
                names.update(_normalise_header(str(d)) for d in quality[key])
    return names


def parse_raw(raw: RawInstance, log: ProblemLog) -> tuple[Instance, SourceRows] | None:
    """Type and validate a raw instance; None when there are errors (all logged)."""
    context_label = raw.labels.get("context", str(Path(raw.source) / CONTEXT_FILE))
    context = _parse_context(raw, context_label, log)
    metric_columns = _referenced_metrics(raw.context if isinstance(raw.context, dict) else {})
    tables: dict[str, list[BaseModel]] = {}
    source_rows = SourceRows(labels={"context": context_label})
    for name, spec in TABLES.items():
        frame = raw.tables.get(name)
        label = raw.label(name)
        source_rows.labels[name] = label
        if frame is None:
            tables[name] = []
            continue
        rows, numbers = _typed_rows(name, spec, frame, label, log, metric_columns)
        tables[name] = rows
        source_rows.rows[name] = numbers
    if context is None or log.errors:
        return None
    orgs = context.get("organisations") or [{"id": "trust"}]
    first_org = orgs[0]["id"] if isinstance(orgs[0], dict) else orgs[0].id
    schemes = [
        s.model_copy(update={"name": s.name or s.id, "org": s.org or first_org})
        for s in tables["schemes"]
    ]
    try:
        instance = Instance.model_validate(
            {**context, "schemes": schemes, "profiles": tables["profiles"],
             "relations": tables["relations"], "shares": tables["shares"],
             "scores": tables["scores"]}
        )
    except ValidationError as exc:  # structure already checked piecewise; kept for safety
        for err in exc.errors():
            log.error(context_label, _describe_pydantic_error(err), key=_loc_to_key(err["loc"]))
        return None
    validate_instance(instance, log, source_rows)
    if log.errors:
        return None
    return instance, source_rows


def load_instance(path: str | Path, log: ProblemLog | None = None) -> Instance:
    """Read and validate an instance folder; raise `InputError` listing every problem."""
    log = log if log is not None else ProblemLog()
    raw = read_folder(path, log)
    parsed = parse_raw(raw, log) if raw is not None and not log.errors else None
    if parsed is None:
        raise InputError(log.problems)
    return parsed[0]
