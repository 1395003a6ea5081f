"""Coefficients.total / net_saving_total (the results tables' uncached sums) equal matrix @ x."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from cipopt.coefficients import build_coefficients
from cipopt.schema.instance import BUILTIN_METRICS
from instances_factory import instances


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(max_schemes=6, max_years=4))
def test_totals_equal_the_matrices(instance):
    fresh = build_coefficients(instance)  # nothing cached: the uncached path
    cached = build_coefficients(instance)
    x = (np.arange(fresh.n_pairs) % 2).astype(float)
    metrics = [*BUILTIN_METRICS, *instance.quality.domains, "pmo_days"]
    for org in [None, *instance.org_ids]:
        for expected in (False, True):
            for m in metrics:
                assert np.allclose(fresh.total(m, org, x, expected), cached.matrix(m, org, expected) @ x)
            for basis in ("recurrent", "in_year"):
                assert np.allclose(fresh.net_saving_total(basis, org, x, expected),
                                   cached.target_matrix(basis, org, expected) @ x)
