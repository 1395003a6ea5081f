"""Read an instance folder (format v1) into a validated `Instance`, reporting every problem.

Stages: `read_folder` gives a `RawInstance` (the YAML context as a dict, each table as strings
with spreadsheet row numbers); `parse_raw` types and validates it. Other forms (a workbook) and
scenario overrides produce or change a `RawInstance`, so they share all the checking here.

The aim is one run that reports everything that can be reported soundly: a table with a bad
cell still has its other rows checked, and cross-table checks still run on what could be read,
told by `Gaps` which parts are missing so that they do not report follow-on errors.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError

from cipopt.bulk import no_cyclic_gc
from cipopt.io.text import (
    MAX_YAML_BYTES, bool_column, filled_mask, is_numeric_column, number_column, parse_number, parse_year,
    read_csv_table, read_text,
)
from cipopt.schema.finance import (
    CapitalReceipt, ControlTotal, CostBaseline, DoNothingYear, Finance, IncentiveFund, IncomeFlow, OrgFinance, SchemeEnd,
)
from cipopt.schema.instance import (
    Criterion, FairShare, Instance, Limit, Objective, Organisation, ProfileRow, Quality, Relation, RiskGroup,
    Scheme, Score, Share, SolverOptions, Target,
)
from cipopt.schema.problems import InputError, ProblemLog, show
from cipopt.schema.validate import Gaps, SourceRows, canonical_metric, validate_instance

CONTEXT_FILE = "instance.yaml"
FORMAT_VERSION = 1


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


_F, _I, _B, _Y = Column("float"), Column("int"), Column("bool"), Column("year")
MONEY_COLUMNS = frozenset({"recurrent_saving", "nonrecurrent_saving", "one_off_cost", "capital_cost", "running_cost",
                           "double_running_cost"})
"""schemes.csv columns in money: a percentage there ("5%") is refused, never read as 0.05."""
TABLES: dict[str, TableSpec] = {
    "schemes": TableSpec(
        Scheme,
        {
            "id": Column("str", True), "name": Column(), "category": Column(word=True), "org": Column(),
            "earliest_start": _Y, "latest_start": _Y, "mandatory": _B, "confidence": _F,
            "recurrent_saving": _F, "first_year_fraction": _F, "nonrecurrent_saving": _F,
            "one_off_cost": _F, "capital_cost": _F, "running_cost": _F,
            "double_running_cost": _F, "double_running_years": _I,
            "safety": _I, "effectiveness": _I, "experience": _I, "access": _I,
            "qia_risk": _F, "qia_approved": _B, "excluded": _B,
            "delivery_low": _F, "delivery_likely": _F, "delivery_high": _F,
            "delivery_distribution": Column(word=True), "slip_probability": _F, "risk_group": Column(),
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
        {"kind": Column("str", True, word=True), "a": Column("str", True), "b": Column("str", True),
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
    "solver": (SolverOptions, False), "criteria": (Criterion, True), "fair_shares": (FairShare, True),
    "risk_groups": (RiskGroup, True), "finance": (Finance, False),
}
# The parts of `finance` (docs/finance.md), each list item's unknown keys warned like the rest.
_FINANCE_LISTS = {"organisations": OrgFinance, "control_totals": ControlTotal, "incentive_funds": IncentiveFund,
                  "income_flows": IncomeFlow, "capital_receipts": CapitalReceipt, "cost_baselines": CostBaseline,
                  "scheme_ends": SchemeEnd}
_LIST_KEYS = {k for k, (_, is_list) in _CONTEXT_NESTED.items() if is_list}
_TABLE_FIELDS = set(TABLES)
_KNOWN_FILES = {CONTEXT_FILE} | {f"{name}.csv" for name in TABLES}


@dataclass
class RawInstance:
    """An instance as read, before typing: what scenarios and other file forms work on."""

    source: str
    context: dict[str, Any]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)  # table -> name used in messages
    names: dict[str, str] = field(default_factory=dict)  # table -> how message text names it (SourceRows.names)
    unreadable: set[str] = field(default_factory=set)
    """Parts ("context" or a table name) that exist but could not be read: their checks stay silent."""

    def label(self, name: str) -> str:
        return self.labels.get(name, f"{name}.csv")


# -- reading the folder ------------------------------------------------------------------------

class _UniqueKeyLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml's parser when present
    """Safe loading that refuses duplicate keys instead of silently keeping the last."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False):
    seen: dict = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            duplicate = key in seen
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a key is not a plain value (a list or mapping cannot be a key)",
                key_node.start_mark,
            ) from None
        if duplicate:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} appears twice (also at line {seen[key] + 1})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping
)


MAX_YAML_VALUES = 200_000
"""The most values a YAML file may stand for once its aliases are expanded (docs/input-errors.md):
a 1 KB "billion laughs" file of nested aliases stands for billions and would take minutes."""


class _YamlTooBig(Exception):
    pass


def _expanded_size(node: yaml.Node, memo: dict[int, int], open_: set[int]) -> int:
    """How many values the node stands for with every alias expanded (shared nodes counted per use)."""
    key = id(node)
    if key in memo:
        return memo[key]
    if key in open_:
        raise _YamlTooBig("an alias refers to the value that holds it (a recursive structure)")
    open_.add(key)
    if isinstance(node, yaml.MappingNode):
        size = 1 + sum(_expanded_size(k, memo, open_) + _expanded_size(v, memo, open_) for k, v in node.value)
    elif isinstance(node, yaml.SequenceNode):
        size = 1 + sum(_expanded_size(v, memo, open_) for v in node.value)
    else:
        size = 1
    open_.discard(key)
    if size > MAX_YAML_VALUES:
        raise _YamlTooBig(f"its aliases expand to more than {MAX_YAML_VALUES:,} values (the cap; "
                          "docs/input-errors.md)")
    memo[key] = size
    return size


def load_yaml(text: str, label: str, log: ProblemLog) -> tuple[bool, Any]:
    """Untrusted YAML, safely: (True, data), or (False, None) with the first error's line logged.

    The one reader of every YAML file (instance.yaml, scenarios): safe types only, duplicate keys
    refused, and the document's size with aliases expanded checked before anything is built.
    """
    if len(text) > MAX_YAML_BYTES:
        log.error(label, f"is above the cap of {MAX_YAML_BYTES / 2**20:g} MiB for a YAML file (docs/input-errors.md)")
        return False, None
    loader = _UniqueKeyLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _expanded_size(node, {}, set())
        return True, (loader.construct_document(node) if node is not None else None)
    except _YamlTooBig as exc:
        log.error(label, f"is refused: {exc}")
        return False, None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and context_mark is not None and mark is not None and context_mark.line != mark.line:
            what += f" ({context} that starts at line {context_mark.line + 1})"
        lines = text.splitlines()
        if mark is not None and mark.line < len(lines) and "\t" in lines[mark.line][: mark.column + 1]:
            what += "; YAML indents with spaces, not tabs"
        log.error(label, f"is not valid YAML{where}: {what}")
        return False, None
    except RecursionError:
        log.error(label, "is not valid YAML: it is nested too deeply")
        return False, None
    finally:
        loader.dispose()


def parse_yaml(text: str, label: str, log: ProblemLog) -> dict[str, Any] | None:
    """The mapping of instance.yaml, or None with the problem logged."""
    ok, data = load_yaml(text, label, log)
    if not ok:
        return None
    if data is None:
        log.error(label, "is empty: expected the plan context (format_version, years, targets, ...)")
        return None
    if not isinstance(data, dict):
        log.error(label, f"must be a mapping of keys (format_version, years, ...), not a "
                         f"{_yaml_type(data)}")
        return None
    return data


def _yaml_type(value: Any) -> str:
    return {list: "list", str: "text", int: "number", float: "number", bool: "true/false"}.get(
        type(value), type(value).__name__)


def present(path: Path) -> bool:
    """Whether a name is there at all: a dangling or looping link is there (and unreadable), not absent."""
    return os.path.lexists(path)


def _find_file(folder: Path, name: str, log: ProblemLog) -> Path:
    """`folder/name`, or a file whose name differs only in case (Windows does not tell them apart)."""
    path = folder / name
    if present(path):
        return path
    try:
        matches = [p for p in folder.iterdir() if p.name.lower() == name.lower()]
    except OSError:
        return path
    if len(matches) == 1:
        log.warn(str(matches[0]), f"read as {name} (the name differs only in upper/lower case)")
        return matches[0]
    return path


def outside_link_problem(file: Path, folder: Path) -> str | None:
    """A link that leads out of the instance folder is refused unless the user allowed it: an
    instance from elsewhere must not make cipopt read (and quote) /etc/passwd or a colleague's files."""
    try:
        target = file.resolve()
        root = folder.resolve()
    except (OSError, RuntimeError):
        return None  # a loop: reported when the file is read
    if target == root or root in target.parents:
        return None
    return ("is a link to a file outside the instance folder, which is not read: copy the file into the "
            "folder, or give cipopt --allow-outside-links if you trust where it leads")


def read_input_text(file: Path, folder: Path, log: ProblemLog, *, allow_outside_links: bool = False,
                    cap: int | None = None) -> str | None:
    """An input file's text by every rule of docs/input-errors.md: inside the folder (links
    included) unless allowed, a regular file, within its size cap, text."""
    if not allow_outside_links:
        problem = outside_link_problem(file, folder)
        if problem:
            log.error(str(file), problem)
            return None
    return read_text(file, str(file), log, cap) if cap else read_text(file, str(file), log)


def read_folder(path: str | Path, log: ProblemLog, *, allow_outside_links: bool = False) -> RawInstance | None:
    """Read instance.yaml and the tables as text; None only when the folder itself is unusable."""
    folder = Path(path)
    if not folder.exists():
        log.error(str(folder), "no such instance folder")
        return None
    if not folder.is_dir():
        hint = ""
        if folder.name.lower() in _KNOWN_FILES:
            hint = f"; give the folder that holds it: {folder.parent}"
        log.error(str(folder), "is a file, not a folder: an instance is a folder holding instance.yaml "
                               f"and schemes.csv{hint}")
        return None
    raw = RawInstance(source=str(folder), context={})
    context_path = _find_file(folder, CONTEXT_FILE, log)
    raw.labels = {"context": str(context_path)}
    if not present(context_path):
        log.error(str(context_path), "is missing: every instance needs instance.yaml (years, targets, ...)")
        raw.unreadable.add("context")
    else:
        text = read_input_text(context_path, folder, log, allow_outside_links=allow_outside_links,
                               cap=MAX_YAML_BYTES)
        data = parse_yaml(text, str(context_path), log) if text is not None else None
        if data is None:
            raw.unreadable.add("context")
        else:
            raw.context = data
    for name, spec in TABLES.items():
        file = _find_file(folder, f"{name}.csv", log)
        raw.labels[name] = str(file)
        if not present(file):
            if spec.required:
                log.error(str(file), f"is missing: every instance needs {name}.csv, one row per scheme")
                raw.unreadable.add(name)
            continue
        text = read_input_text(file, folder, log, allow_outside_links=allow_outside_links)
        frame = read_csv_table(text, str(file), log) if text is not None else None
        if frame is None:
            raw.unreadable.add(name)
        else:
            raw.tables[name] = frame
    _warn_unknown_files(folder, log)
    return raw


def _warn_unknown_files(folder: Path, log: ProblemLog) -> None:
    """A misspelt table name (relation.csv) would otherwise be silently ignored."""
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return
    known = {n.lower() for n in _KNOWN_FILES}
    for entry in entries:
        if entry.suffix.lower() not in (".csv", ".yaml", ".yml") or entry.name.lower() in known:
            continue
        close = difflib.get_close_matches(entry.name.lower(), sorted(known), n=1, cutoff=0.75)
        hint = f" (did you mean {close[0]}?)" if close else ""
        log.warn(str(entry), f"is not a file of the instance format and is ignored{hint}")


# -- instance.yaml ------------------------------------------------------------------------------

def _normalise_header(name: str) -> str:
    return "_".join(name.strip().lower().replace("-", " ").split())


def _loc_to_key(loc: tuple) -> str:
    key = ""
    for part in loc:
        if part == "[key]":
            continue
        if isinstance(part, int) and not isinstance(part, bool) and key and not key.endswith("values"):
            key += f"[{part}]"
        else:
            key += f".{part}" if key else str(part)
    return key


def _field_range(model: type[BaseModel] | None, name: Any) -> str | None:
    """The allowed range of a numeric field in words ("from 0 to 1", "at least 0")."""
    if model is None or name not in getattr(model, "model_fields", {}):
        return None
    lo = hi = None
    lo_strict = hi_strict = False
    for m in model.model_fields[name].metadata:
        if getattr(m, "ge", None) is not None:
            lo = m.ge
        if getattr(m, "gt", None) is not None:
            lo, lo_strict = m.gt, True
        if getattr(m, "le", None) is not None:
            hi = m.le
        if getattr(m, "lt", None) is not None:
            hi, hi_strict = m.lt, True
    if lo is not None and hi is not None:
        if lo_strict or hi_strict:
            return (f"{'more than' if lo_strict else 'at least'} {lo:g} and "
                    f"{'less than' if hi_strict else 'at most'} {hi:g}")
        return f"a number from {lo:g} to {hi:g}"
    if lo is not None:
        return f"more than {lo:g}" if lo_strict else f"{lo:g} or more"
    if hi is not None:
        return f"less than {hi:g}" if hi_strict else f"{hi:g} or less"
    return None


def describe_error(err: dict, cell: Any = None, model: type[BaseModel] | None = None) -> str:
    """A pydantic error in words: the value given and what is expected."""
    kind = err.get("type", "")
    value = err.get("input") if cell is None else cell
    shown = show(value) if not isinstance(value, (dict, list, tuple)) else f"a {_yaml_type(value)}"
    loc = [p for p in err.get("loc", ()) if p != "[key]"]
    name = loc[-1] if loc else None
    ctx = err.get("ctx") or {}
    if kind == "missing":
        return "is required"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        words = _field_range(model, name) or err.get("msg", "").replace("Input should be ", "")
        hint = ""
        if words == "a number from 0 to 1" and isinstance(value, (int, float, str)):
            number = parse_number(str(value))[0]
            if number is not None and 2 <= number <= 100 and number == round(number):
                hint = f" (a fraction: write {number / 100:g} or {number:g}%)"
        return f"{shown} is out of range: expected {words}{hint}"
    if kind == "literal_error":
        return f"{shown} is not allowed: expected {ctx.get('expected', 'one of the listed values')}"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        if "[key]" in err.get("loc", ()) or (loc and loc[0] == "years"):
            return f"{shown} is not a year: write the year the financial year starts in, e.g. 2025"
        return f"{shown} is not a whole number"
    if kind in ("float_parsing", "float_type", "finite_number"):
        return f"{shown} is not a number"
    if kind in ("bool_parsing", "bool_type"):
        return f"{shown} is not true or false"
    if kind == "string_type":
        return f"{shown} is not text"
    if kind == "string_too_short":
        return "is empty: a value is required"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"expected a mapping (key: value, ...), not {shown}"
    if kind in ("list_type", "tuple_type"):
        return f"expected a list ([a, b, ...]), not {shown}"
    if kind == "extra_forbidden":
        return "is not a known key"
    message = err.get("msg", "invalid").removeprefix("Value error, ")
    if value is None or isinstance(value, (dict, list)) or repr(value) in message:
        return message
    return f"{shown}: {message}"


def _model_at(loc: tuple) -> type[BaseModel]:
    """The model whose field a context error location names."""
    if loc and loc[0] in _CONTEXT_NESTED and len(loc) > 1:
        return _CONTEXT_NESTED[loc[0]][0]
    return Instance


_FIELDS: dict[type, dict[str, Any]] = {}


def _fields(model: type[BaseModel]) -> dict[str, Any]:
    """A model's fields (looked up once: pydantic builds the mapping on every access)."""
    if model not in _FIELDS:
        _FIELDS[model] = dict(model.model_fields)
    return _FIELDS[model]


def _strip_unknown_keys(
    model: type[BaseModel], data: Any, path: str, label: str, log: ProblemLog
) -> Any:
    """A copy without unknown keys (each a warning, at any depth) and without empty values."""
    if not isinstance(data, dict):
        return data
    known = _fields(model)
    out = {}
    for key, value in data.items():
        key_path = f"{path}.{key}" if path else str(key)
        if key not in known:
            if not (model is Instance and key in _TABLE_FIELDS):
                hint = suggestion_text(str(key), known)
                log.warn(label, f"unknown key {key!r}{hint} is ignored", key=key_path)
            else:
                log.warn(label, f"{key!r} is a table: give it as {key}.csv; the key is ignored", key=key_path)
            continue
        if value is None:  # `key:` with nothing after it: the key's default, as an empty cell
            continue
        if model is Instance and key == "finance" and isinstance(value, str):  # a workbook's one cell
            ok, value = load_yaml(value, f"{label} finance", log)
            if not ok:
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
        if model is Finance and key in _FINANCE_LISTS and isinstance(value, list):
            value = [_strip_unknown_keys(_FINANCE_LISTS[key], item, f"{key_path}[{i}]", label, log)
                     for i, item in enumerate(value)]
        if model is OrgFinance and key == "do_nothing" and isinstance(value, dict):
            value = {y: _strip_unknown_keys(DoNothingYear, v, f"{key_path}.{y}", label, log) for y, v in value.items()}
        out[key] = value
    return out


def suggestion_text(value: str, known) -> str:
    close = difflib.get_close_matches(value, sorted(known), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


class _Context:
    """instance.yaml read leniently, checked, and cut back to what is valid (with `Gaps`)."""

    def __init__(self, data: dict[str, Any], label: str, log: ProblemLog, gaps: Gaps):
        self.label, self.log, self.gaps = label, log, gaps
        self.data = data

    def warn(self, message: str, key: str) -> None:
        self.log.warn(self.label, message, key=key)

    def error(self, message: str, key: str) -> None:
        self.log.error(self.label, message, key=key)

    # lenient readings, each warned ------------------------------------------------------------
    def _number(self, value: Any, key: str) -> Any:
        if isinstance(value, str):
            number, warning = parse_number(value)
            if number is not None:
                if warning:
                    self.warn(warning, key)
                return number
        return value

    def _year(self, value: Any, key: str) -> Any:
        if isinstance(value, str):
            year, warning = parse_year(value)
            if year is not None:
                if warning:
                    self.warn(warning, key)
                return year
        return value

    def _text(self, value: Any) -> Any:
        """Ids and names written as numbers (id: 2025) are text."""
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value) if not isinstance(value, float) or not value.is_integer() else str(int(value))
        return value

    def _year_values(self, values: Any, key: str) -> Any:
        """values: {2025: 6000} with years as numbers or strings; a year given twice is an error."""
        if not isinstance(values, dict):
            return values
        out: dict[Any, Any] = {}
        first_key: dict[Any, Any] = {}
        for year, amount in values.items():
            y = self._year(year, f"{key}.{year}")
            if isinstance(y, float) and y.is_integer():
                y = int(y)
            if isinstance(y, str) and y.strip().lstrip("+-").isdigit():
                y = int(y)
            if y in first_key:
                self.error(f"year {y} is given twice ({first_key[y]!r} and {year!r})", f"{key}.{year}")
                continue
            first_key[y] = year
            out[y] = self._number(amount, f"{key}.{year}")
        return out

    def lenient(self) -> None:
        d = self.data
        if "years" in d and isinstance(d["years"], list):
            d["years"] = [self._year(y, f"years[{i}]") for i, y in enumerate(d["years"])]
        if "discount_rate" in d:
            d["discount_rate"] = self._number(d["discount_rate"], "discount_rate")
        for key in ("name", "money_unit"):
            if key in d:
                d[key] = self._text(d[key])
        if isinstance(d.get("organisations"), list):
            d["organisations"] = [
                {"id": self._text(o)} if isinstance(o, (str, int)) and not isinstance(o, bool) else o
                for o in d["organisations"]
            ]
            for o in d["organisations"]:
                if isinstance(o, dict) and "id" in o:
                    o["id"] = self._text(o["id"])
        for kind in ("targets", "limits"):
            for i, rule in enumerate(d.get(kind) or [] if isinstance(d.get(kind), list) else []):
                if not isinstance(rule, dict):
                    continue
                key = f"{kind}[{i}]"
                for name in ("id", "org"):
                    if name in rule:
                        rule[name] = self._text(rule[name])
                if "values" in rule:
                    rule["values"] = self._year_values(rule["values"], f"{key}.values")
                if "shortfall_penalty" in rule:
                    rule["shortfall_penalty"] = self._number(rule["shortfall_penalty"], f"{key}.shortfall_penalty")
                if kind == "limits" and isinstance(rule.get("metric"), str):
                    rule["metric"] = canonical_metric(_normalise_header(rule["metric"]))
        quality = d.get("quality")
        if isinstance(quality, dict):
            if isinstance(quality.get("domains"), list):
                quality["domains"] = [_normalise_header(x) if isinstance(x, str) else x for x in quality["domains"]]
            for name in ("scheme_min", "portfolio_min"):
                if isinstance(quality.get(name), dict):
                    quality[name] = {
                        (_normalise_header(k) if isinstance(k, str) else k): self._number(v, f"quality.{name}.{k}")
                        for k, v in quality[name].items()
                    }
            for name in ("max_risk", "hard_max_risk"):
                if name in quality:
                    quality[name] = self._number(quality[name], f"quality.{name}")
        solver = d.get("solver")
        if isinstance(solver, dict):
            for name in ("time_limit", "mip_gap"):
                if name in solver:
                    solver[name] = self._number(solver[name], f"solver.{name}")
        if isinstance(d.get("criteria"), list):
            for i, c in enumerate(d["criteria"]):
                if isinstance(c, dict):
                    if "id" in c:
                        c["id"] = self._text(c["id"])
                    for name in ("weight", "weight_min", "weight_max"):
                        if name in c:
                            c[name] = self._number(c[name], f"criteria[{i}].{name}")
        if isinstance(d.get("criteria_order"), list):
            d["criteria_order"] = [self._text(c) for c in d["criteria_order"]]
        for i, rule in enumerate(d["fair_shares"] if isinstance(d.get("fair_shares"), list) else []):
            if isinstance(rule, dict):
                for name in ("id", "org", "sector"):
                    if name in rule:
                        rule[name] = self._text(rule[name])
                if isinstance(rule.get("metric"), str):
                    rule["metric"] = canonical_metric(_normalise_header(rule["metric"]))
                if "min_share" in rule:
                    rule["min_share"] = self._number(rule["min_share"], f"fair_shares[{i}].min_share")
                if isinstance(rule.get("years"), list):
                    rule["years"] = [self._year(y, f"fair_shares[{i}].years[{j}]") for j, y in enumerate(rule["years"])]
        if isinstance(d.get("risk_groups"), list):
            for i, g in enumerate(d["risk_groups"]):
                if isinstance(g, dict):
                    if "id" in g:
                        g["id"] = self._text(g["id"])
                    if "correlation" in g:
                        g["correlation"] = self._number(g["correlation"], f"risk_groups[{i}].correlation")
        objective = d.get("objective")
        if isinstance(objective, dict):
            for name in ("alpha", "cvar_max", "cvar_penalty", "chance_probability"):
                if name in objective:
                    objective[name] = self._number(objective[name], f"objective.{name}")
            if "chance_target" in objective:
                objective["chance_target"] = self._text(objective["chance_target"])

    # validation with recovery ------------------------------------------------------------------
    def validate(self) -> dict[str, Any]:
        """The valid part of the context; every refused key or list item logged once."""
        d = self.data
        if "years" not in d:
            self.error("the plan years are required, e.g. years: [2025, 2026, 2027]", "years")
            self.gaps.years = True
            d["years"] = [2000]  # a placeholder so the rest can be checked; never leaves this module
        bad_numbers = _non_finite(d, ())
        for loc, value in bad_numbers:
            self.error(f"{value!r} is not a finite number", _loc_to_key(loc))
        self._drop_at([loc for loc, _ in bad_numbers])
        for attempt in range(5):
            try:
                Instance.model_validate(d)
                return d
            except ValidationError as exc:
                errors = exc.errors()
            if attempt == 0:
                for err in errors:
                    self.error(describe_error(err, model=_model_at(err["loc"])), _loc_to_key(err["loc"]))
            self._drop_at([err["loc"] for err in errors])
        return d

    def _drop_at(self, locs: list[tuple]) -> None:
        """Leave out what each location refused: a list item where possible, else its top key."""
        drops: dict[Any, set[int] | None] = {}
        for loc in locs:
            top = loc[0] if loc else None
            if top in _LIST_KEYS and len(loc) > 1 and isinstance(loc[1], int):
                if drops.get(top, set()) is not None:
                    drops.setdefault(top, set()).add(loc[1])
            else:
                drops[top] = None
        for top, items in drops.items():
            self._drop(top, items)

    def _drop(self, top: Any, items: set[int] | None) -> None:
        d = self.data
        if items is None:
            d.pop(top, None)
            if top == "years":
                self.gaps.years = True
                d["years"] = [2000]
            elif top == "organisations":
                self.gaps.organisations = True
            elif top in ("criteria", "criteria_order"):
                self.gaps.criteria = True
            elif top == "quality":
                self.gaps.quality = True
            elif top == "objective":
                self.gaps.objective = True
            elif top == "risk_groups":
                self.gaps.risk_groups = True
            return
        kept = []
        for i, item in enumerate(d[top]):
            if i not in items:
                kept.append(item)
                continue
            ident = item.get("id") if isinstance(item, dict) else None
            if top == "organisations":
                if isinstance(ident, str):
                    self.gaps.rejected_organisations.add(ident)
                else:
                    self.gaps.organisations = True
            elif top == "criteria":
                if isinstance(ident, str):
                    self.gaps.rejected_criteria.add(ident)
                else:
                    self.gaps.criteria = True
            elif top == "risk_groups":
                self.gaps.risk_groups = True
        d[top] = kept


def _non_finite(value: Any, loc: tuple) -> list[tuple[tuple, float]]:
    """Locations of NaN and infinite numbers (YAML .nan, .inf), which no rule can use."""
    if isinstance(value, float) and not math.isfinite(value):
        return [(loc, value)]
    if isinstance(value, dict):
        return [hit for k, v in value.items() for hit in _non_finite(v, loc + (k,))]
    if isinstance(value, list):
        return [hit for i, v in enumerate(value) for hit in _non_finite(v, loc + (i,))]
    return []


def _check_format_version(context: dict[str, Any], label: str, log: ProblemLog) -> bool:
    """False (with a clear message) for any version but 1: its meaning may differ from version 1."""
    if "format_version" not in context:
        return True
    version = context["format_version"]
    number = version
    if isinstance(version, str):
        number = parse_number(version)[0]
    if isinstance(number, (int, float)) and not isinstance(number, bool) and number == FORMAT_VERSION:
        context["format_version"] = FORMAT_VERSION
        return True
    log.error(label, f"format version {version!r} is not supported: this cipopt reads format version "
                     f"{FORMAT_VERSION} (write format_version: 1)", key="format_version")
    return False


# -- tables -------------------------------------------------------------------------------------

@dataclass
class _Table:
    """The rows of a table that passed, their spreadsheet rows, and what was rejected."""

    rows: list[BaseModel] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)
    rejected: pd.DataFrame | None = None
    usable: bool = True
    metric_columns: set[str] = field(default_factory=set)


_MISSING = object()
_ID = object()  # a default that is the row's id
# Values put in required cells that are empty: such rows are rejected anyway (already reported).
_PLACEHOLDER = {"offset": 0, "value": 0.0, "score": 0.0}
_ADAPTERS: dict[type, TypeAdapter] = {}


def _adapter(model: type[BaseModel]) -> TypeAdapter:
    if model not in _ADAPTERS:
        _ADAPTERS[model] = TypeAdapter(list[model])
    return _ADAPTERS[model]


def _word(values: pd.Series) -> pd.Series:
    """'Back office' -> 'back_office': words from a fixed list compared leniently."""
    return values.str.lower().str.replace(r"[\s\-]+", "_", regex=True)


def _typed_rows(
    name: str, spec: TableSpec, frame: pd.DataFrame, label: str, log: ProblemLog,
    metric_columns: dict[str, str], defaults: dict[str, Any] | None = None,
) -> _Table:
    """Type a table column by column (vectorised), then validate its rows as models in one call."""
    out = _Table()
    defaults = defaults or {}
    head = int(frame.attrs.get("header_row", 1))
    renamed = {c: _normalise_header(c) for c in frame.columns}
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
                             f"header has {', '.join(map(repr, frame.columns)) or 'no columns'}",
                      row=head, column=column)
            out.usable = False
    if not out.usable:
        return out
    frame = frame.rename(columns=renamed)
    n = len(frame)
    index = frame.index
    bad = np.zeros(n, dtype=bool)
    reported: set[tuple[int, str]] = set()
    values: dict[str, list] = {}
    metrics: dict[str, list] = {}
    labels: dict[str, list] = {}

    def mark(mask: np.ndarray, column: str) -> None:
        nonlocal bad
        bad |= mask
        for row in index[mask]:
            reported.add((int(row), column))

    for column in frame.columns:
        raw = frame[column]
        filled = filled_mask(raw)
        col = spec.columns.get(column)
        if col is None:
            if not spec.custom_columns:
                log.warn(label, f"unknown column {column!r}{suggestion_text(column, spec.columns)} is "
                                f"ignored", row=head, column=column)
                continue
            parsed = _custom_column(spec, frame, column, label, log, metric_columns, head)
            if parsed is None:
                labels[column] = raw.tolist()
            else:
                mark(filled & parsed.isna().to_numpy(), column)
                metrics[column] = parsed.fillna(0.0).tolist()  # an empty cell: a custom metric's default, 0
                out.metric_columns.add(column)
            continue
        if col.kind in ("float", "int", "year"):
            parsed = number_column(frame, column, label, log, integer=col.kind == "int",
                                   year=col.kind == "year", money=name == "schemes" and column in MONEY_COLUMNS)
            numbers = parsed.to_numpy()
            mark(filled & np.isnan(numbers), column)
            values[column] = [_MISSING if v != v else v for v in numbers.tolist()]
        elif col.kind == "bool":
            parsed = bool_column(frame, column, label, log)
            mark(filled & parsed.isna().to_numpy(), column)
            values[column] = [_MISSING if v is None else v for v in parsed.tolist()]
        else:
            cells = _word(raw) if col.word else raw
            values[column] = [v if v != "" else _MISSING for v in cells.tolist()]
        if col.required:
            empty = ~filled
            for row in index[empty]:
                log.error(label, "is required but empty", row=int(row), column=column)
            mark(empty, column)
    if name == "relations" and "kind" in values and "lag" in values:
        _warn_meaningless_lags(values, index, label, log)
    if name == "profiles" and "metric" in values:
        names = {v: canonical_metric(_normalise_header(v)) for v in set(values["metric"]) if v is not _MISSING}
        values["metric"] = [names.get(v, v) for v in values["metric"]]
    for column, default in defaults.items():  # schemes.csv: name defaults to id, org to the first org
        source = values.get("id") if default is _ID else None
        cells = values.get(column, [_MISSING] * n)
        values[column] = [
            (src if source is not None else default) if v is _MISSING else v
            for v, src in zip(cells, source if source is not None else cells)
        ]
    records = _records(spec.model, values, metrics, labels, n)
    models, failed = _validate_rows(spec.model, records, frame, label, log, reported)
    bad |= failed
    rows = index.to_numpy()
    out.rows = [m for m, b in zip(models, bad) if not b]
    out.numbers = [int(r) for r, b in zip(rows, bad) if not b]
    if bad.any():
        out.rejected = frame[bad]
    return out


def _warn_meaningless_lags(values: dict[str, list], index, label: str, log: ProblemLog) -> None:
    """relations.csv has a lag column for every kind; on excludes/together it means nothing."""
    for i, (kind, lag) in enumerate(zip(values["kind"], values["lag"])):
        if kind in ("excludes", "together") and lag is not _MISSING and lag == lag and lag != 0:
            log.warn(label, f"lag {lag:g} is ignored: a lag applies only to requires and precedes, not {kind}",
                     row=int(index[i]), column="lag")


def _custom_column(
    spec: TableSpec, frame: pd.DataFrame, column: str, label: str, log: ProblemLog,
    metric_columns: dict[str, str], head: int,
) -> pd.Series | None:
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
    if column in metric_columns or is_numeric_column(frame, column):
        why = metric_columns.get(column)
        return number_column(frame, column, label, log, expected=f"a number ({why})" if why else None)
    _warn_mostly_numbers(frame, column, label, log)
    return None


def _records(model: type[BaseModel], values: dict[str, list], metrics: dict[str, list],
             labels: dict[str, list], n: int) -> list[dict[str, Any]]:
    """Row dicts for pydantic, empty cells taking the field's default (built column-wise: fast)."""
    fields = _fields(model)
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
    model: type[BaseModel], records: list[dict], frame: pd.DataFrame, label: str, log: ProblemLog,
    reported: set[tuple[int, str]],
) -> tuple[list[BaseModel | None], np.ndarray]:
    """All rows validated in one pydantic call; rows with errors are logged and left out."""
    failed = np.zeros(len(records), dtype=bool)
    try:
        return _adapter(model).validate_python(records), failed
    except ValidationError as exc:
        errors = exc.errors()
    index = frame.index
    for err in errors:
        loc = err["loc"]
        i = loc[0]
        failed[i] = True
        row = int(index[i])
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
        cell = frame.iat[i, frame.columns.get_loc(column)] if column in frame.columns and not message_only else None
        log.error(label, describe_error(err, cell, model), row=row, column=column)
    good = [r for r, f in zip(records, failed) if not f]
    models: list[BaseModel | None] = [None] * len(records)
    if good:
        try:
            valid = iter(_adapter(model).validate_python(good))
        except ValidationError:  # cannot happen: each row was valid on its own
            failed[:] = True
            return models, failed
        for i in np.flatnonzero(~failed):
            models[i] = next(valid)
    return models, failed


def _warn_mostly_numbers(frame: pd.DataFrame, column: str, label: str, log: ProblemLog) -> None:
    """A custom column that is numbers but for a few cells would silently become text labels."""
    raw = frame[column]
    filled = raw[raw != ""]
    if len(filled) < 2:
        return
    numeric = pd.to_numeric(filled, errors="coerce").notna()
    if numeric.mean() < 0.5:
        return
    odd = filled[~numeric.to_numpy()]
    odd = odd[[parse_number(c)[0] is None for c in odd]]
    if len(odd):
        row = int(odd.index[0])
        more = f" and {len(odd) - 1} more cells that are not numbers" if len(odd) > 1 else ""
        log.warn(label, f"column {column!r} holds numbers but also {show(odd.iloc[0])}{more}, so it is read "
                        "as text labels, not as a metric", row=row, column=column)


def _referenced_metrics(context: dict[str, Any], where: str = CONTEXT_FILE) -> dict[str, str]:
    """Columns that must be numeric because a rule refers to them, with the rule in words."""
    names: dict[str, str] = {}
    limits = context.get("limits")
    for limit in limits if isinstance(limits, list) else []:
        if isinstance(limit, dict) and isinstance(limit.get("metric"), str):
            name = _normalise_header(limit["metric"])
            names.setdefault(name, f"limit {limit.get('id')!r} of {where} counts it")
    quality = context.get("quality") or {}
    if isinstance(quality, dict):
        domains = quality.get("domains")
        for d in domains if isinstance(domains, list) else []:
            names.setdefault(_normalise_header(str(d)), f"it is a quality domain in {where}")
    return names


# -- the whole ----------------------------------------------------------------------------------

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
        frame = raw.tables.get(name)
        if frame is None:
            continue
        header = {_normalise_header(c): c for c in frame.columns}
        if column in header:
            ids[raw.label(name)] = {int(r): v for r, v in frame[header[column]].items() if isinstance(v, str) and v}
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
        if not _check_format_version(data, context_label, log):
            return None  # another version may mean something else: checking it as v1 would mislead
        data = _strip_unknown_keys(Instance, data, "", context_label, log)
        reader = _Context(data, context_label, log, gaps)
        reader.lenient()
        context = reader.validate()
    metric_columns = _referenced_metrics(context if not gaps.context else {}, raw.names.get("context", CONTEXT_FILE))
    first_org = _first_org(context)

    tables: dict[str, list[BaseModel]] = {}
    source_rows = SourceRows(labels={"context": context_label}, names=dict(raw.names))
    for name, spec in TABLES.items():
        label = raw.label(name)
        source_rows.labels[name] = label
        frame = raw.tables.get(name)
        tables[name] = []
        source_rows.rows[name] = []
        if frame is None:
            continue
        defaults = {"name": _ID, "org": first_org} if name == "schemes" else None
        table = _typed_rows(name, spec, frame, label, log, metric_columns, defaults)
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
            log.error(context_label, describe_error(err), key=_loc_to_key(err["loc"]))
        return None
    validate_instance(instance, log, source_rows, gaps)
    if not gaps.context:
        _warn_missing_qia(instance, raw.tables.get("schemes"), source_rows, log)
    if log.errors:
        return None
    return instance, source_rows


def _warn_missing_qia(instance: Instance, frame: pd.DataFrame | None, src: SourceRows, log: ProblemLog) -> None:
    """A scheme with no quality impact assessment at all (every QIA cell empty, or no QIA columns) reads
    as neutral (0 in every domain) and lowest risk (1), which the QIA rules let through: the format's
    defaults, kept, but said per scheme, because an assessment nobody made is not a safe one."""
    q = instance.quality
    if frame is None or not (q.scheme_min or q.max_risk is not None or q.hard_max_risk is not None or q.portfolio_min):
        return
    header = {_normalise_header(c): c for c in frame.columns}
    columns = [header[c] for c in (*q.domains, "qia_risk") if c in header]
    filled = np.zeros(len(frame), dtype=bool)
    for column in columns:
        filled |= filled_mask(frame[column])
    empty_rows = {int(r) for r in frame.index[~filled]}
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


def _first_org(context: dict[str, Any]) -> str:
    """schemes.csv `org` defaults to the first organisation (or "trust" when none are listed)."""
    orgs = context.get("organisations")
    if isinstance(orgs, (list, tuple)) and orgs:
        first = orgs[0]
        ident = first.get("id") if isinstance(first, dict) else getattr(first, "id", None)
        if isinstance(ident, str) and ident:
            return ident
    return "trust"


def _note_rejected(name: str, table: _Table, gaps: Gaps) -> None:
    """Remember what rejected rows named, so references to them are not reported as unknown."""
    gaps.metrics.update(table.metric_columns)
    rejected = table.rejected
    if rejected is None:
        return
    if name == "schemes":
        for row, sid in rejected["id"].items():
            if sid:
                gaps.rejected_schemes.setdefault(sid, []).append(int(row))
            else:
                gaps.unnamed_schemes = True
    elif name == "shares":
        gaps.rejected_share_schemes.update(s for s in rejected["scheme"] if s)
    elif name == "profiles":
        gaps.metrics.update(canonical_metric(_normalise_header(m)) for m in rejected["metric"] if m)


# No cyclic garbage collection while hundreds of thousands of rows are built: the collector
# would walk every live row again and again (several times slower on 50,000 schemes).
_bulk = no_cyclic_gc


def load_instance(path: str | Path, log: ProblemLog | None = None, *, allow_outside_links: bool = False) -> Instance:
    """Read and validate an instance folder; raise `InputError` listing every problem."""
    log = log if log is not None else ProblemLog()
    with _bulk():
        raw = read_folder(path, log, allow_outside_links=allow_outside_links)
        parsed = parse_raw(raw, log) if raw is not None else None
    if parsed is None:
        raise InputError(log.problems)
    return parsed[0]
