"""How the instance readers word a problem: pydantic errors in users' words, keys, near misses."""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel

from cipopt.io.text import parse_number
from cipopt.schema.problems import show


def normalise_header(name: str) -> str:
    """A column name or word as compared: lower case, spaces and hyphens as underscores."""
    return "_".join(name.strip().lower().replace("-", " ").split())


def loc_to_key(loc: tuple) -> str:
    """A pydantic error location as the key path a message names ("targets[0].values.2025")."""
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
    shown = show(value) if not isinstance(value, (dict, list, tuple)) else f"a {yaml_type(value)}"
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


def yaml_type(value: Any) -> str:
    """What a YAML value is, in words."""
    return {list: "list", str: "text", int: "number", float: "number", bool: "true/false"}.get(
        type(value), type(value).__name__)


def suggestion_text(value: str, known) -> str:
    """" (did you mean 'x'?)" for a close spelling, else ""."""
    close = difflib.get_close_matches(value, sorted(known), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


_FIELDS: dict[type, dict[str, Any]] = {}


def fields_of(model: type[BaseModel]) -> dict[str, Any]:
    """A model's fields (looked up once: pydantic builds the mapping on every access)."""
    if model not in _FIELDS:
        _FIELDS[model] = dict(model.model_fields)
    return _FIELDS[model]

