"""Write result folders atomically: every file complete or none, nothing overwritten unasked.

A folder is written in full into a hidden sibling and then swapped into place in one step, so a
reader (or an interrupt) sees the old folder or the new one, never a mix: with `force` the whole
earlier output of cipopt is replaced, so a failed re-solve leaves no stale plan beside its
summary; files cipopt does not write (a user's notes) are carried across. The analyses that add
to a solution folder (simulate, explain, alternatives) replace only their own file names.

Outputs follow the umask; text cells that a spreadsheet would run as a formula are neutralised
in every CSV (`neutralise` and its inverse `restore`, which cipopt's own readers apply).
"""

from __future__ import annotations

import ctypes
import errno
import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cipopt.errors import OutputExists  # noqa: F401  (raised here; defined in the light module)

if TYPE_CHECKING:  # pandas is imported by the commands that make tables, not by `--help`
    import pandas as pd


ANALYSIS_FILES = frozenset({
    "simulation.csv", "simulation_savings.csv", "simulation_summary.json",
    "explain_schemes.csv", "explain_rules.csv", "explain_summary.json",
    "alternatives.csv", "alternative_plans.csv", "alternative_years.csv", "importance.csv",
    "alternatives_summary.json",
})
"""Files of the analyses that may sit in a solution folder beside the solve's own files."""

_ANALYSES = {
    "simulate": {"simulation.csv", "simulation_savings.csv", "simulation_summary.json"},
    "explain": {"explain_schemes.csv", "explain_rules.csv", "explain_summary.json"},
    "alternatives": {"alternatives.csv", "alternative_plans.csv", "alternative_years.csv", "importance.csv",
                     "alternatives_summary.json"},
}
COMMAND_FILES: dict[str, frozenset[str]] = {k: frozenset(v) for k, v in {
    # a solve's folder also holds the analyses of its plan: a new solve replaces them with the plan
    "solve": {"plan.csv", "years.csv", "summary.json"} | ANALYSIS_FILES,
    "check": {"violations.csv", "years.csv", "summary.json"},
    "validate": {"summary.json", "schemes.csv"},
    "whatif": {"whatif.csv", "whatif_years.csv", "whatif_plans.csv", "summary.json"},
    "frontier": {"frontier.csv", "summary.json"},
    "rank": {"bids.csv", "budget_levels.csv", "portfolios.csv", "weight_samples.csv", "summary.json"},
    "replan": {"plan.csv", "outturn.csv", "recovery.csv", "months.csv", "years.csv", "replan.xlsx", "replan.html",
               "summary.json"},
    "instance": {"instance.yaml", "schemes.csv", "profiles.csv", "relations.csv", "shares.csv", "scores.csv"},
    **_ANALYSES,
}.items()}
"""The files each kind of output folder holds: `--force` replaces a folder of its own kind only."""

OUTPUT_FILES = frozenset().union(*COMMAND_FILES.values())
"""Every file name a cipopt command writes into a folder."""

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_SUSPECT = frozenset("'=+-@\t\r")


# -- CSV formula injection ---------------------------------------------------------------------

def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def neutralise(text: str) -> str:
    """A cell a spreadsheet would run as a formula (=, +, -, @, tab, CR first) gets a leading
    apostrophe, as OWASP advises; numbers stay numbers. Reversible: `restore` undoes it."""
    bare = text.lstrip("'")
    if bare.startswith(FORMULA_START) and not _is_number(bare):
        return "'" + text
    return text


def restore(text: str) -> str:
    """The inverse of `neutralise`, for reading cipopt's own CSVs back (a plan.csv into check)."""
    if text.startswith("'") and text.lstrip("'").startswith(FORMULA_START) and not _is_number(text.lstrip("'")):
        return text[1:]
    return text


def _neutral_frame(frame: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd  # a caller that has a frame has pandas loaded already

    suspects = {}
    for c in frame.columns:
        if frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c]):
            try:  # only the few cells that may start a formula are looked at one by one
                suspect = frame[c].str[:1].isin(_SUSPECT)
            except AttributeError:  # no text in the column
                continue
            if suspect.any():
                suspects[c] = suspect
    renamed = {c: neutralise(c) for c in frame.columns if isinstance(c, str) and neutralise(c) != c}
    if not suspects and not renamed:
        return frame
    frame = frame.copy()
    for c, suspect in suspects.items():
        frame.loc[suspect, c] = frame.loc[suspect, c].map(lambda v: neutralise(v) if isinstance(v, str) else v)
    return frame.rename(columns=renamed)


def csv_text(frame: pd.DataFrame) -> str:
    """A tidy table as CSV, its text cells neutralised against formula injection."""
    return _neutral_frame(frame).to_csv(index=False, lineterminator="\n", float_format="%.10g")


def json_text(data: Any) -> str:
    def clean(value):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {str(k): clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        return value

    return json.dumps(clean(data), indent=2, default=str) + "\n"


# -- where outputs may go ----------------------------------------------------------------------

def umask() -> int:
    """The process's umask (outputs follow it, as any file the user makes would)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def check_writable(target: str | Path) -> None:
    """Refuse, before any work, an output whose folder cannot be created or written to."""
    path = Path(target)
    ancestor = path.parent if str(path.parent) else Path(".")
    while not ancestor.exists():
        if ancestor.is_symlink():
            raise OutputExists(f"{path}: cannot be written: {ancestor} is a broken link")
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutputExists(f"{path}: cannot be written: {ancestor} is a file, not a folder")
    try:
        probe = tempfile.mkdtemp(prefix=".cipopt-probe.", dir=ancestor)
        os.rmdir(probe)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise OutputExists(f"{path}: cannot be written: the folder {ancestor} is not writable ({reason})") from None


def check_file_out(target: str | Path, force: bool) -> Path:
    """Refuse early an output file that would overwrite a file unasked or cannot be written."""
    path = Path(target)
    if path.is_dir():
        raise OutputExists(f"{path}: is a folder; give a file name")
    if path.exists() and not force:
        raise OutputExists(f"{path}: already exists; pass --force to overwrite it")
    check_writable(path)
    return path


def _replaced(kind: str | None, files) -> frozenset[str]:
    """The names a new output of `kind` replaces in its folder (None: any output of cipopt)."""
    if kind is None:
        return OUTPUT_FILES if not set(files) <= ANALYSIS_FILES else frozenset(files)
    return COMMAND_FILES[kind]


def check_output_dir(out: str | Path, force: bool, kind: str | None = None) -> Path:
    """Refuse early (before any work) when `out` would overwrite files unasked, would replace
    another command's output (`kind`: the command's entry in COMMAND_FILES), or cannot be written."""
    path = Path(out)
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        raise OutputExists(f"{path}: exists and is not a folder")
    if path.is_dir() and any(path.iterdir()):
        if not force:
            raise OutputExists(f"{path}: the output folder already holds files; pass --force to overwrite them")
        if kind is not None and kind not in _ANALYSES:
            others = sorted(e.name for e in path.iterdir() if e.name in OUTPUT_FILES - COMMAND_FILES[kind])
            if others:
                raise OutputExists(f"{path}: holds the output of another cipopt command ({', '.join(others)}); "
                                   f"--force replaces only an earlier output of this one: choose another folder")
    check_writable(path)
    return path


# -- atomic writing ----------------------------------------------------------------------------

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2); False where the system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    if ctypes.get_errno() in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()), str(b))


def _swap_in(staging: Path, path: Path) -> None:
    """Put `staging` at `path`; the old folder ends at `staging` (deleted by the caller)."""
    if not path.exists():
        os.replace(staging, path)
        return
    if _exchange(staging, path):
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{path.name}.old.", dir=path.parent))
    os.rmdir(aside)
    os.replace(path, aside)
    try:
        os.replace(staging, path)
    except BaseException:
        os.replace(aside, path)
        raise
    os.replace(aside, staging)


def _link_or_copy(source, target) -> None:
    try:
        os.link(source, target, follow_symlinks=False)
    except OSError:
        shutil.copy2(source, target, follow_symlinks=False)


def write_folder(out: str | Path, files: dict[str, str | bytes], force: bool = False,
                 kind: str | None = None) -> list[Path]:
    """Write `files` as the folder `out` in one step (see the module's docstring); `kind` names the
    command's entry in COMMAND_FILES (None: any earlier output of cipopt is replaced)."""
    replaced = _replaced(kind, files)
    unknown = set(files) - replaced
    if unknown:
        raise ValueError(f"not an output file of {kind or 'cipopt'}: {', '.join(sorted(unknown))}")
    path = check_output_dir(out, force, kind)
    path.parent.mkdir(parents=True, exist_ok=True)
    mask = umask()
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        if path.is_dir():
            for entry in path.iterdir():
                if entry.name in replaced or entry.name.startswith(".cipopt-probe."):
                    continue
                if entry.is_dir() and not entry.is_symlink():
                    shutil.copytree(entry, staging / entry.name, symlinks=True, copy_function=_link_or_copy)
                    continue
                _link_or_copy(entry, staging / entry.name)
        for name, content in files.items():
            mode = "wb" if isinstance(content, bytes) else "w"
            kwargs = {} if isinstance(content, bytes) else {"encoding": "utf-8", "newline": ""}
            with open(staging / name, mode, **kwargs) as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(staging, 0o777 & ~mask)
        _swap_in(staging, path)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return [path / name for name in files]


def write_file(target: str | Path, content: str | bytes, force: bool = False) -> Path:
    """One file, atomically (temporary file in the same folder, then rename), following the umask."""
    path = Path(target)
    if path.exists() and not force:
        raise OutputExists(f"{path}: already exists; pass --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~umask())
        with os.fdopen(fd, "wb" if isinstance(content, bytes) else "w") as handle:
            handle.write(content)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
