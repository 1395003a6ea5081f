"""Reading an instance folder: instance.yaml and the tables as text, every file by the rules of
docs/input-errors.md (inside the folder, regular, within its cap, text)."""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cipopt.io.tables import TABLES
from cipopt.io.text import MAX_YAML_BYTES, Table, read_table, read_text
from cipopt.io.yaml_files import parse_yaml
from cipopt.schema.problems import ProblemLog

CONTEXT_FILE = "instance.yaml"
_KNOWN_FILES = {CONTEXT_FILE} | {f"{name}.csv" for name in TABLES}
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls")
"""Paths read as a workbook, not a folder (io/excel.py reads them; an .xls is refused there)."""


def is_workbook_path(path: str | Path) -> bool:
    """Whether a path names a workbook (by its suffix), without loading the workbook reader."""
    return Path(path).suffix.lower() in WORKBOOK_SUFFIXES


@dataclass
class RawInstance:
    """An instance as read, before typing: what scenarios and other file forms work on."""

    source: str
    context: dict[str, Any]
    tables: dict[str, Table] = field(default_factory=dict)  # a workbook gives pandas frames
    labels: dict[str, str] = field(default_factory=dict)  # table -> name used in messages
    names: dict[str, str] = field(default_factory=dict)  # table -> how message text names it (SourceRows.names)
    unreadable: set[str] = field(default_factory=set)
    """Parts ("context" or a table name) that exist but could not be read: their checks stay silent."""

    def label(self, name: str) -> str:
        return self.labels.get(name, f"{name}.csv")


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
        table = read_table(text, str(file), log) if text is not None else None
        if table is None:
            raw.unreadable.add(name)
        else:
            raw.tables[name] = table
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
