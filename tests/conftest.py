"""Shared test setup: no test writes the user's real run history (~/.cipopt/runs.sqlite)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_run_history(tmp_path_factory):
    """Every `cipopt solve` in the suite records into a scratch history, never the real home's."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CIPOPT_STORE", str(tmp_path_factory.mktemp("run-history") / "runs.sqlite"))
        yield
