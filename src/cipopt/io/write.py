"""Write result folders atomically: every file complete or none, nothing overwritten unasked.

All files are first written into a hidden temporary folder beside the target; a new folder is
then renamed into place in one step, and with `force` each file replaces its old self with an
atomic rename. Files in an existing folder that this run does not write are left alone.
"""

from __future__ import annotations

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


def csv_text(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False, lineterminator="\n", float_format="%.10g")


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


def check_output_dir(out: str | Path, force: bool) -> Path:
    """Refuse early (before any work) when `out` would overwrite a user's files."""
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise OutputExists(f"{path}: exists and is not a folder")
    if path.is_dir() and any(path.iterdir()) and not force:
        raise OutputExists(f"{path}: the output folder already holds files; pass --force to overwrite them")
    return path


def write_folder(out: str | Path, files: dict[str, str | bytes], force: bool = False) -> list[Path]:
    path = check_output_dir(out, force)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        for name, content in files.items():
            mode = "wb" if isinstance(content, bytes) else "w"
            kwargs = {} if isinstance(content, bytes) else {"encoding": "utf-8", "newline": ""}
            with open(staging / name, mode, **kwargs) as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
        if not path.exists():
            os.replace(staging, path)
        else:
            for name in files:
                os.replace(staging / name, path / name)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return [path / name for name in files]


def write_file(target: str | Path, content: str | bytes, force: bool = False) -> Path:
    """One file, atomically (temporary file in the same folder, then rename)."""
    path = Path(target)
    if path.exists() and not force:
        raise OutputExists(f"{path}: already exists; pass --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb" if isinstance(content, bytes) else "w") as handle:
            handle.write(content)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
