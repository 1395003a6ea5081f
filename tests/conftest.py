"""Shared test setup: no test writes the user's real run history (~/.cipopt/runs.sqlite); under CI
the property tests draw the same examples every run (a gate must not turn red by chance: new
cases are found by the random runs of developers, and each one found becomes a regression test)."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(autouse=True, scope="session")
def _private_run_history(tmp_path_factory):
    """Every `cipopt solve` in the suite records into a scratch history, never the real home's."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CIPOPT_STORE", str(tmp_path_factory.mktemp("run-history") / "runs.sqlite"))
        yield
