"""Problems found in an instance, each with the place a person must look to fix it."""

from __future__ import annotations

from dataclasses import dataclass, field


def show(value: object, most: int = 60) -> str:
    """A value as a message quotes it: repr, cut short if long (a whole file can end up in a cell)."""
    text = repr(value)
    return text if len(text) <= most else text[: most - 4] + "...'"


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or suspicious) in the input, located as a spreadsheet user sees it."""

    file: str
    message: str
    row: int | None = None  # spreadsheet row: the header is row 1, the first data row is 2
    column: str | None = None
    key: str | None = None  # YAML key path, e.g. "targets[0].values.2031"
    severity: str = "error"  # error | warning
    scheme: str | None = None  # the scheme id of the row, so a person finds it without counting rows

    def where(self) -> str:
        parts = [self.file]
        if self.row is not None:
            parts.append(f"row {self.row}" + (f" ({self.scheme})" if self.scheme else ""))
        if self.column:
            parts.append(f"column {self.column}")
        if self.key:
            parts.append(f"key {self.key}")
        return ", ".join(parts)

    def __str__(self) -> str:
        label = "warning" if self.severity == "warning" else "error"
        return f"{label}: {self.where()}: {self.message}"


@dataclass
class ProblemLog:
    """Collects every problem so that all are reported together, not just the first."""

    problems: list[Problem] = field(default_factory=list)

    def error(self, file: str, message: str, **where) -> None:
        self.problems.append(Problem(file, message, severity="error", **where))

    def warn(self, file: str, message: str, **where) -> None:
        self.problems.append(Problem(file, message, severity="warning", **where))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def raise_if_errors(self) -> None:
        if self.errors:
            raise InputError(self.problems)


class InputError(Exception):
    """The instance cannot be used as given; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        errors = [p for p in self.problems if p.severity == "error"]
        super().__init__("\n".join(str(p) for p in errors) or "invalid input")

    def __reduce__(self):
        # rebuilt from its problems (not its message), so that it crosses to and from a Dask worker
        return (type(self), (self.problems,))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]
