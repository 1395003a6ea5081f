"""The standard form assembled from the families' recorded rows is Pyomo's compiler's, exactly.

compile_model hands HiGHS the arrays the families recorded (cipopt.model.context.add_rows)
instead of walking every expression term through LinearStandardFormCompiler; this holds the two
identical, array for array and in the same order, on hand-made, random and generated instances.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pyomo.environ as pyo
import pytest
from hypothesis import HealthCheck, given, settings

from cipopt.io.load import load_instance
from cipopt.model.build import build_model
from cipopt.solve.highs import assemble_recorded, compile_model, compile_with_pyomo
from instances_factory import instances
from test_formulation import every_family_instance, finance_instance, risk_instances

ROOT = Path(__file__).resolve().parents[1]


def assert_same_form(model) -> None:
    fast = assemble_recorded(model)
    slow = compile_with_pyomo(model)
    assert fast is not None, "every row and the objective were recorded"
    assert [id(v) for v in fast.columns] == [id(v) for v in slow.columns]
    assert [(id(c), s) for c, s in fast.rows] == [(id(c), s) for c, s in slow.rows]
    for name in ("col_cost", "col_lower", "col_upper", "integrality", "row_lower", "row_upper"):
        assert np.array_equal(getattr(fast, name), getattr(slow, name)), name
    a, b = fast.matrix, slow.matrix
    b.sort_indices()
    assert a.shape == b.shape
    assert np.array_equal(a.indptr, b.indptr) and np.array_equal(a.indices, b.indices)
    assert np.allclose(a.data, b.data, rtol=1e-15, atol=0)
    assert fast.maximize == slow.maximize and fast.offset == slow.offset


def test_every_family_and_the_shipped_instances():
    assert_same_form(build_model(every_family_instance()).model)
    assert_same_form(build_model(finance_instance()).model)
    for name in ("holby", "tiny"):
        assert_same_form(build_model(load_instance(ROOT / "instances" / name)).model)


def test_the_risk_family_in_both_forms():
    # cvar with its bound and its price in the objective; chance with its binaries
    for instance in risk_instances():
        model = build_model(instance).model
        assert_same_form(model)
        assert compile_model(model).col_cost.any()


def test_a_generated_system(tmp_path):
    sys.path.append(str(ROOT / "benchmarks"))
    import generate

    inst = load_instance(generate.write(generate.generate(300, 5, 3, 7, 1.0), tmp_path / "gen-300x5"))
    assert_same_form(build_model(inst).model)


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(max_schemes=6, max_years=4, modes=("net_present_value", "savings", "weighted_score")))
def test_random_instances(instance):
    assert_same_form(build_model(instance).model)


def test_a_model_with_rows_not_recorded_goes_through_pyomo():
    model = build_model(every_family_instance()).model
    model.c_extra = pyo.Constraint(expr=model.pair_vars[0] <= 0)
    assert assemble_recorded(model) is None
    form = compile_model(model)
    assert ("c_extra", None) in {(c.parent_component().name, c.index()) for c, _ in form.rows}
