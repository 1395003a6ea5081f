"""Packaging a user can trust: the licence, one version, typed, pinned test versions, and a
README Quick start that can be run twice."""

from __future__ import annotations

import importlib.metadata
import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import cipopt

ROOT = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_the_licence_is_mit_and_the_build_floor_accepts_the_spdx_form():
    project = _pyproject()
    assert project["project"]["license"] == "MIT"
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
    floor = [r for r in project["build-system"]["requires"] if r.startswith("setuptools")]
    assert floor and int(re.search(r">=(\d+)", floor[0])[1]) >= 77  # PEP 639 strings need 77+


def test_one_version_source():
    project = _pyproject()
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "cipopt.__version__"}
    assert importlib.metadata.version("cipopt") == cipopt.__version__
    assert f"## {cipopt.__version__}" in (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")


def test_the_package_says_it_is_typed():
    assert (Path(cipopt.__file__).parent / "py.typed").exists()
    assert "py.typed" in _pyproject()["tool"]["setuptools"]["package-data"]["cipopt"]


def test_the_constraints_pin_every_installed_requirement_to_one_version():
    pins = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not pinned with =="
            pins[re.sub(r"[-_.]+", "-", name.lower())] = version
    project = _pyproject()["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    for requirement in wanted:
        name = re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9_.-]+", requirement)[0].lower())
        assert name in pins, f"{name} is a requirement but constraints.txt does not pin it"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert 'export PIP_CONSTRAINT="$PWD/constraints.txt"' in ci


def test_the_quick_start_solve_runs_twice(tmp_path):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.search(r"^## Quick start\s*$(.*?)(?=^## )", text, re.M | re.S)[1]
    block = re.findall(r"^```[a-z]*\n(.*?)^```", section, re.M | re.S)[0]
    command = [line for line in block.splitlines() if line.startswith("cipopt solve")]
    assert len(command) == 1
    argv = shlex.split(command[0])
    (tmp_path / "instances").symlink_to(ROOT / "instances")
    env = {**os.environ, "CIPOPT_STORE": str(tmp_path / "runs.sqlite")}
    for attempt in (1, 2):
        done = subprocess.run([sys.executable, "-m", "cipopt", *argv[1:]], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"run {attempt}: {done.stderr}"
    assert (tmp_path / "out" / "holby" / "plan.csv").exists()
