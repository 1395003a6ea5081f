"""The base models of every part of an instance: frozen, no unknown fields, no YAML booleans as numbers."""

from __future__ import annotations

import typing
from typing import Annotated

from pydantic import BaseModel, ConfigDict, field_validator


class CellKind(str):
    """How a CSV column is read when its type alone does not say (io/tables.py derives the rest)."""


Year = Annotated[int, CellKind("year")]
"""A plan year: a cell may be written "2025/26" (read as 2025, with a warning)."""
Word = Annotated[str, CellKind("word")]
"""A word from a fixed list: compared in lower case, spaces and hyphens as underscores."""


def _is_number_type(annotation) -> bool:
    """float, int or an optional one (not bool): the fields a YAML true/false must not fill as 1/0."""
    if annotation in (float, int):
        return True
    args = typing.get_args(annotation)
    return bool(args) and type(None) in args and all(a in (float, int, type(None)) for a in args)


class Frozen(BaseModel):
    # Field docstrings become the fields' descriptions: the one reference of the format, which
    # `cipopt schema`, docs/format.md's table and the workbook template's notes all read.
    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True, use_attribute_docstrings=True)


class FromYaml(Frozen):
    """A part of instance.yaml (not a CSV row: those arrive as text, and there are many of them)."""

    @field_validator("*", mode="before")
    @classmethod
    def _no_boolean_as_number(cls, value, info):
        """YAML reads `yes`/`true` as a boolean, which pydantic would take as the number 1."""
        if isinstance(value, bool) and _is_number_type(cls.model_fields[info.field_name].annotation):
            raise ValueError(f"{value!r} is not a number")
        return value
