"""The tables of an instance (schemes.csv, profiles.csv, ...) typed and validated row by row.

Each table's columns are its pydantic row model's fields, read by the field's type: the models
are the one description of the format (a `Year` or `Word` field says how its cell is read; a
mapping field, such as a scheme's custom metrics, is not a column). A table is typed column by
column, then its rows are validated as models in one call; a bad cell rejects its row only.
"""

from __future__ import annotations

import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, TypeAdapter, ValidationError

from cipopt.io.messages import describe_error, fields_of, normalise_header, suggestion_text
from cipopt.io.text import Table, bool_cells, is_numeric_cells, number_cells, parse_number, plain_number
from cipopt.schema.base import CellKind
from cipopt.schema.instance import ProfileRow, Relation, Scheme, Score, Share
from cipopt.schema.problems import ProblemLog, show
from cipopt.schema.validate import MONEY_FIELDS, canonical_metric


@dataclass(frozen=True)
class Column:
    kind: str = "str"  # str | float | int | bool | year
    required: bool = False
    word: bool = False  # a word from a fixed list: compared in lower case, spaces as underscores


@dataclass(frozen=True)
class TableSpec:
    model: type[BaseModel]
    columns: dict[str, Column]
    required: bool = False
    custom_columns: bool = False  # schemes.csv: other columns are metrics or labels


_KINDS = {str: "str", float: "float", int: "int", bool: "bool"}


def column_of(model: type[BaseModel], name: str) -> Column | None:
    """How a row model's field is read from its column; None for a mapping (not a column).

    A field of a type no column can hold is an error here, so the models and the readers cannot
    drift apart."""
    info = model.model_fields[name]
    annotation, marks = info.annotation, [m for m in info.metadata if isinstance(m, CellKind)]
    while True:
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
        if origin in (typing.Union, types.UnionType) and type(None) in args and len(args) == 2:
            annotation = next(a for a in args if a is not type(None))
        elif origin is typing.Annotated:
            annotation = args[0]
            marks += [m for m in args[1:] if isinstance(m, CellKind)]
        else:
            break
    if origin is dict:
        return None
    required = info.is_required()
    if origin is Literal:
        return Column("str", required, word=True)
    kind = _KINDS.get(annotation)
    if kind is None:
        raise TypeError(f"{model.__name__}.{name}: no CSV column reads a {annotation!r}")
    if "year" in marks:
        if kind != "int":
            raise TypeError(f"{model.__name__}.{name}: a year is a whole number")
        kind = "year"
    return Column(kind, required, word="word" in marks)


def table_columns(model: type[BaseModel]) -> dict[str, Column]:
    """A table's columns, in the model's field order."""
    columns = {name: column_of(model, name) for name in model.model_fields}
    return {name: column for name, column in columns.items() if column is not None}


TABLES: dict[str, TableSpec] = {
    "schemes": TableSpec(Scheme, table_columns(Scheme), required=True, custom_columns=True),
    "profiles": TableSpec(ProfileRow, table_columns(ProfileRow)),
    "relations": TableSpec(Relation, table_columns(Relation)),
    "shares": TableSpec(Share, table_columns(Share)),
    "scores": TableSpec(Score, table_columns(Score)),
}
MONEY_COLUMNS = frozenset(MONEY_FIELDS)
"""schemes.csv columns in money: a percentage there ("5%") is refused, never read as 0.05."""


@dataclass
class TypedTable:
    """The rows of a table that passed, their spreadsheet rows, and what was rejected."""

    rows: list[BaseModel] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)
    rejected: Table | None = None
    usable: bool = True
    metric_columns: set[str] = field(default_factory=set)


_MISSING = object()
ROW_ID = object()
"""A default that is the row's id (schemes.csv `name`)."""
# Values put in required cells that are empty: such rows are rejected anyway (already reported).
_PLACEHOLDER = {"offset": 0, "value": 0.0, "score": 0.0}
_ADAPTERS: dict[type, TypeAdapter] = {}
_WORD_GAP = re.compile(r"[\s\-]+")


def _adapter(model: type[BaseModel]) -> TypeAdapter:
    if model not in _ADAPTERS:
        _ADAPTERS[model] = TypeAdapter(list[model])
    return _ADAPTERS[model]


def typed_rows(
    name: str, spec: TableSpec, table: Table, label: str, log: ProblemLog,
    metric_columns: dict[str, str], defaults: dict[str, Any] | None = None,
) -> TypedTable:
    """Type a table column by column, then validate its rows as models in one call."""
    out = TypedTable()
    defaults = defaults or {}
    head = table.header_row
    renamed = {c: normalise_header(c) for c in table.columns}
    by_name: dict[str, str] = {}
    for original, normal in renamed.items():
        if normal in by_name:
            log.error(label, f"columns {by_name[normal]!r} and {original!r} both mean {normal!r}", row=head,
                      column=original)
            out.usable = False
        by_name.setdefault(normal, original)
    for column, col in spec.columns.items():
        if col.required and column not in by_name:
            hint = suggestion_text(column, by_name)
            log.error(label, f"the required column {column!r} is missing from the header{hint}; the "
                             f"header has {', '.join(map(repr, table.columns)) or 'no columns'}",
                      row=head, column=column)
            out.usable = False
    if not out.usable:
        return out
    table = table.renamed(renamed)
    n = len(table)
    index = table.rows
    bad = [False] * n
    reported: set[tuple[int, str]] = set()
    values: dict[str, list] = {}
    metrics: dict[str, list] = {}
    labels: dict[str, list] = {}

    def mark(failed: list[int], column: str) -> None:
        for i in failed:
            bad[i] = True
            reported.add((index[i], column))

    for column in table.columns:
        cells = table[column]
        col = spec.columns.get(column)
        if col is None:
            if not spec.custom_columns:
                log.warn(label, f"unknown column {column!r}{suggestion_text(column, spec.columns)} is "
                                f"ignored", row=head, column=column)
                continue
            parsed = _custom_column(spec, table, column, label, log, metric_columns, head)
            if parsed is None:
                labels[column] = cells
            else:
                mark([i for i, (c, v) in enumerate(zip(cells, parsed)) if c and v != v], column)
                metrics[column] = [0.0 if v != v else v for v in parsed]  # an empty cell: a custom metric's default, 0
                out.metric_columns.add(column)
            continue
        if col.kind in ("float", "int", "year"):
            numbers = number_cells(cells, index, column, label, log, integer=col.kind == "int",
                                   year=col.kind == "year", money=name == "schemes" and column in MONEY_COLUMNS)
            mark([i for i, (c, v) in enumerate(zip(cells, numbers)) if c and v != v], column)
            values[column] = [_MISSING if v != v else v for v in numbers]
        elif col.kind == "bool":
            flags = bool_cells(cells, index, column, label, log)
            mark([i for i, (c, v) in enumerate(zip(cells, flags)) if c and v is None], column)
            values[column] = [_MISSING if v is None else v for v in flags]
        else:
            words = [_WORD_GAP.sub("_", c.lower()) for c in cells] if col.word else cells
            values[column] = [v if v != "" else _MISSING for v in words]
        if col.required:
            empty = [i for i, c in enumerate(cells) if not c]
            for i in empty:
                log.error(label, "is required but empty", row=index[i], column=column)
            mark(empty, column)
    if name == "relations" and "kind" in values and "lag" in values:
        _warn_meaningless_lags(values, index, label, log)
    if name == "profiles" and "metric" in values:
        names = {v: canonical_metric(normalise_header(v)) for v in set(values["metric"]) if v is not _MISSING}
        values["metric"] = [names.get(v, v) for v in values["metric"]]
    for column, default in defaults.items():  # schemes.csv: name defaults to id, org to the first org
        source = values.get("id") if default is ROW_ID else None
        cells = values.get(column, [_MISSING] * n)
        values[column] = [
            (src if source is not None else default) if v is _MISSING else v
            for v, src in zip(cells, source if source is not None else cells)
        ]
    records = _records(spec.model, values, metrics, labels, n)
    models, failed = _validate_rows(spec.model, records, table, label, log, reported)
    bad = [b or f for b, f in zip(bad, failed)]
    out.rows = [m for m, b in zip(models, bad) if not b]
    out.numbers = [r for r, b in zip(index, bad) if not b]
    if any(bad):
        out.rejected = table.take(bad)
    return out


def _warn_meaningless_lags(values: dict[str, list], index: list[int], label: str, log: ProblemLog) -> None:
    """relations.csv has a lag column for every kind; on excludes/together it means nothing."""
    for i, (kind, lag) in enumerate(zip(values["kind"], values["lag"])):
        if kind in ("excludes", "together") and lag is not _MISSING and lag == lag and lag != 0:
            log.warn(label, f"lag {lag:g} is ignored: a lag applies only to requires and precedes, not {kind}",
                     row=index[i], column="lag")


def _custom_column(
    spec: TableSpec, table: Table, column: str, label: str, log: ProblemLog,
    metric_columns: dict[str, str], head: int,
) -> list[float] | None:
    """A column schemes.csv does not define: numbers (a custom metric) or None (text labels).

    A column that a rule uses must be numeric; any other is a metric when every filled cell is a
    number. A name close to a standard column is probably a typo, so it gets a warning.
    """
    close = suggestion_text(column, spec.columns)
    if close:  # `safty` read as a custom column would leave safety at 0 and make a barred scheme eligible
        log.error(label, f"column {column!r}{close} is not a standard column but is so close to one that it is "
                         "probably misspelt: rename it (a custom column needs a name not close to a standard "
                         "one)", row=head, column=column)
        return None
    cells = table[column]
    if column in metric_columns or is_numeric_cells(cells):
        why = metric_columns.get(column)
        return number_cells(cells, table.rows, column, label, log, expected=f"a number ({why})" if why else None)
    _warn_mostly_numbers(table, column, label, log)
    return None


def _records(model: type[BaseModel], values: dict[str, list], metrics: dict[str, list],
             labels: dict[str, list], n: int) -> list[dict[str, Any]]:
    """Row dicts for pydantic, empty cells taking the field's default (built column-wise: fast)."""
    fields = fields_of(model)
    keys, lists = [], []
    for column, cells in values.items():
        info = fields[column]
        default = _PLACEHOLDER.get(column, "?") if info.is_required() else info.default
        keys.append(column)
        lists.append([default if v is _MISSING else v for v in cells])
    records = [dict(zip(keys, row)) for row in zip(*lists)] if lists else [{} for _ in range(n)]
    if metrics or labels or "metrics" in fields:
        metric_keys, metric_lists = list(metrics), list(metrics.values())
        label_keys, label_lists = list(labels), list(labels.values())
        metric_rows = zip(*metric_lists) if metric_lists else ((),) * n
        label_rows = zip(*label_lists) if label_lists else ((),) * n
        for record, m, lab in zip(records, metric_rows, label_rows):
            record["metrics"] = dict(zip(metric_keys, m))
            record["labels"] = {k: v for k, v in zip(label_keys, lab) if v}
    return records


def _validate_rows(
    model: type[BaseModel], records: list[dict], table: Table, label: str, log: ProblemLog,
    reported: set[tuple[int, str]],
) -> tuple[list[BaseModel | None], list[bool]]:
    """All rows validated in one pydantic call; rows with errors are logged and left out."""
    failed = [False] * len(records)
    try:
        return _adapter(model).validate_python(records), failed
    except ValidationError as exc:
        errors = exc.errors()
    index = table.rows
    for err in errors:
        loc = err["loc"]
        i = loc[0]
        failed[i] = True
        row = index[i]
        column = str(loc[1]) if len(loc) > 1 else None
        message_only = column is None
        if column is None:  # a check across the row's cells (a relation's lag or ends)
            text = err.get("msg", "").removeprefix("Value error, ")
            column = "lag" if "lag" in text else ("b" if "itself" in text else None)
        if column in ("metrics", "labels") and len(loc) > 2:
            column = str(loc[2])
        if column is not None and (row, column) in reported:
            continue
        if column is not None:
            reported.add((row, column))
        cell = table.cells[column][i] if column in table.cells and not message_only else None
        log.error(label, describe_error(err, cell, model), row=row, column=column)
    good = [r for r, f in zip(records, failed) if not f]
    models: list[BaseModel | None] = [None] * len(records)
    if good:
        try:
            valid = iter(_adapter(model).validate_python(good))
        except ValidationError:  # cannot happen: each row was valid on its own
            return models, [True] * len(records)
        for i, f in enumerate(failed):
            if not f:
                models[i] = next(valid)
    return models, failed


def _warn_mostly_numbers(table: Table, column: str, label: str, log: ProblemLog) -> None:
    """A custom column that is numbers but for a few cells would silently become text labels."""
    filled = [(row, c) for row, c in zip(table.rows, table[column]) if c != ""]
    if len(filled) < 2:
        return
    numeric = [plain_number(c) is not None for _, c in filled]
    if sum(numeric) / len(filled) < 0.5:
        return
    odd = [(row, c) for (row, c), ok in zip(filled, numeric) if not ok and parse_number(c)[0] is None]
    if odd:
        row, cell = odd[0]
        more = f" and {len(odd) - 1} more cells that are not numbers" if len(odd) > 1 else ""
        log.warn(label, f"column {column!r} holds numbers but also {show(cell)}{more}, so it is read "
                        "as text labels, not as a metric", row=row, column=column)
