"""An `Instance` written back as the tables of the instance format (folder or workbook).

The inverse of loading: `instance_context` is instance.yaml as a mapping, `instance_tables` the
tables with typed cells, `instance_folder_files` the folder's files as text. Numbers are written
with Python's shortest exact representation, so reading the files back gives the same instance
(the same `Instance.sha256()`): the run history re-creates approved instances this way, and the
workbook form is converted to and from folders with it.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import yaml

from cipopt.schema.instance import Instance, ProfileRow, Relation, Scheme, Score, Share


# Columns follow the models, so a column added to the format is written without a change here.
SCHEME_COLUMNS = tuple(f for f in Scheme.model_fields if f not in ("metrics", "labels", "start_year_saving"))  # replan's own
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "profiles": tuple(ProfileRow.model_fields),
    "relations": tuple(Relation.model_fields),
    "shares": tuple(Share.model_fields),
    "scores": tuple(Score.model_fields),
}
_TABLE_FIELDS = ("schemes", *TABLE_COLUMNS)


def _plain(value: Any) -> Any:
    """Tuples as lists, recursively (YAML's safe dumper writes lists, not tuples)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def instance_context(instance: Instance) -> dict[str, Any]:
    """instance.yaml as a mapping: every key given explicitly (defaults included), none left null."""
    data = instance.model_dump(mode="python", exclude=set(_TABLE_FIELDS), exclude_none=True)
    return _plain(data)


def instance_tables(instance: Instance) -> dict[str, pd.DataFrame]:
    """The tables with typed cells (None where empty); optional tables only when they have rows."""
    metric_names: dict[str, None] = {}
    label_names: dict[str, None] = {}
    for s in instance.schemes:
        metric_names.update(dict.fromkeys(s.metrics))
        label_names.update(dict.fromkeys(s.labels))
    rows = []
    for s in instance.schemes:
        row = {c: getattr(s, c) for c in SCHEME_COLUMNS}
        row.update({m: s.metrics.get(m) for m in metric_names})
        row.update({lab: s.labels.get(lab) for lab in label_names})
        rows.append(row)
    columns = [*SCHEME_COLUMNS, *metric_names, *label_names]
    tables = {"schemes": pd.DataFrame(rows, columns=columns, dtype=object)}
    for name, cols in TABLE_COLUMNS.items():
        items = getattr(instance, name)
        if items:
            tables[name] = pd.DataFrame([{c: getattr(i, c) for c in cols} for i in items],
                                        columns=list(cols), dtype=object)
    return tables


def cell_text(value: Any) -> str:
    """A cell as the instance format writes it: exact numbers, true/false, empty for None."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if not math.isfinite(value):
            return ""
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(value)


def yaml_text(context: dict[str, Any]) -> str:
    return yaml.safe_dump(context, sort_keys=False, allow_unicode=True, default_flow_style=None, width=100)


def instance_folder_files(instance: Instance) -> dict[str, str]:
    """instance.yaml and the CSV tables of an instance folder, as text."""
    files = {"instance.yaml": yaml_text(instance_context(instance))}
    for name, frame in instance_tables(instance).items():
        text = frame.map(cell_text) if len(frame) else frame
        files[f"{name}.csv"] = text.to_csv(index=False, lineterminator="\n")
    return files
