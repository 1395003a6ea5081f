"""docs/architecture.md draws the code as it is: every module it names exists, every top-level
package has a floor, imports point down the floors, and the light modules stay light."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "cipopt"
DOC = (ROOT / "docs" / "architecture.md").read_text()


def _tree_paths() -> list[str]:
    """The paths the doc's folder tree names (two spaces of indent per level)."""
    block = re.search(r"```text\nsrc/cipopt/\n(.*?)```", DOC, re.S).group(1)
    stack: list[str] = []
    paths = []
    for line in block.splitlines():
        if not line.strip():
            continue
        depth = (len(line) - len(line.lstrip(" "))) // 2 - 1
        name = line.split()[0]
        stack = stack[:depth] + [name]
        paths.append("".join(stack))
    return paths


def _floors() -> dict[str, int]:
    """Top-level package or module name (`cli`, `store`, `cipopt` for __init__.py) -> its floor."""
    floors = {}
    for number, cells in re.findall(r"^\| (\d+) \| (.+?) \|$", DOC, re.M):
        for name in re.findall(r"`([^`]+)`", cells):
            key = "cipopt" if name == "__init__.py" else name.rstrip("/").removesuffix(".py")
            floors[key] = int(number)
    return floors


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "cipopt"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """cipopt modules a file imports (at any depth, lazily too), leaving out TYPE_CHECKING blocks."""
    tree = ast.parse(path.read_text())
    hints = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
             for n in ast.walk(node)}
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = []
    for node in ast.walk(tree):
        if id(node) in hints:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            found.append((node.lineno, base))
    return [(line, name) for line, name in found if name == "cipopt" or name.startswith("cipopt.")]


def test_the_doc_parses_into_a_tree_and_floors():
    paths, floors = _tree_paths(), _floors()
    assert len(paths) > 50 and "solve/result.py" in paths and "cli/options.py" in paths
    assert floors["cli"] == 1 and floors["analysis"] < floors["solve"] < floors["model"] < floors["schema"]


@pytest.mark.parametrize("path", _tree_paths())
def test_every_module_and_package_the_doc_names_exists(path):
    target = PACKAGE / path
    assert target.is_dir() if path.endswith("/") else target.is_file(), f"docs/architecture.md names {path}"


def test_every_path_the_doc_quotes_exists():
    for quoted in set(re.findall(r"`((?:[a-z_]+/)*[a-z_]+\.py|[a-z_]+/)`", DOC)):
        assert (PACKAGE / quoted).exists() or (ROOT / quoted).exists(), f"docs/architecture.md quotes {quoted}"


def test_every_top_level_package_and_module_has_a_floor():
    floors = _floors()
    for path in PACKAGE.iterdir():
        if path.name.startswith(("_", ".")) and path.name not in ("__init__.py", "__main__.py"):
            continue
        if path.is_dir() and (path / "__init__.py").exists() or path.suffix == ".py":
            key = "cipopt" if path.name == "__init__.py" else path.name.removesuffix(".py")
            assert key in floors, f"{path.name} has no floor in docs/architecture.md"


def test_imports_point_down_the_floors():
    floors = _floors()
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        here = _top(_module_name(path))
        for line, name in _imports(path):
            there = _top(name)
            if floors[there] < floors[here]:
                wrong.append(f"{path.relative_to(PACKAGE)}:{line} ({here}, floor {floors[here]}) imports {name} "
                             f"(floor {floors[there]})")
    assert not wrong, "\n".join(wrong)


def test_the_floor_check_sees_an_upward_import(tmp_path):
    """The check above can fail: a model module importing the pipeline is caught."""
    fake = tmp_path / "cipopt" / "model" / "bad.py"
    fake.parent.mkdir(parents=True)
    fake.write_text("def f():\n    from cipopt.pipeline import Planner\n")
    global PACKAGE
    saved, PACKAGE = PACKAGE, tmp_path / "cipopt"
    try:
        assert _imports(fake) == [(2, "cipopt.pipeline")]
        assert _floors()[_top(_module_name(fake))] > _floors()[_top("cipopt.pipeline")]
    finally:
        PACKAGE = saved


@pytest.mark.parametrize("module", ["cipopt.errors", "cipopt.solve.result", "cipopt.solve.status"])
def test_the_light_modules_import_nothing_heavy(module):
    heavy = ("pandas", "numpy", "pyomo", "highspy", "pydantic", "sqlalchemy", "scipy", "dask", "openpyxl",
             "cipopt.schema", "cipopt.check")
    code = (f"import sys, {module}\n"
            f"print(sorted(m for m in {heavy!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", f"{module} loads {out.stdout.strip()}"


def test_every_pipeline_stage_the_doc_names_is_a_function_there():
    from cipopt import pipeline

    named = set(re.findall(r"`pipeline\.(\w+)", DOC)) - {"py"}
    assert {"build", "solve", "extract", "evaluate", "check", "with_tables", "result_files"} <= named
    for name in named:
        assert callable(getattr(pipeline, name, None)), f"docs/architecture.md names pipeline.{name}"
