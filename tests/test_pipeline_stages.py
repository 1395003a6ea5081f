"""The pipeline as stages (build, solve, extract, evaluate, check, tables, files) and its frozen result."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cipopt import pipeline
from cipopt.io.load import load_instance
from cipopt.pipeline import SolveOptions, SolveOutcome, solve_instance
from cipopt.solve.result import SolveResult
from cipopt.solve.status import SolveStatus
from cipopt.solve.variant import NotInPlace, row_index, variant_bounds

TINY = Path(__file__).resolve().parents[1] / "instances" / "tiny"
OPTIONS = SolveOptions(mip_gap=0.0, time_limit=60)


@pytest.fixture(scope="module")
def tiny():
    return load_instance(TINY)


@pytest.fixture(scope="module")
def solved(tiny):
    return solve_instance(tiny, OPTIONS)


def test_the_result_is_frozen_and_the_old_name_is_the_same_type(solved):
    assert SolveOutcome is SolveResult
    assert isinstance(solved, SolveResult)
    with pytest.raises(dataclasses.FrozenInstanceError):
        solved.status = SolveStatus.ERROR
    with pytest.raises(dataclasses.FrozenInstanceError):
        solved.messages = []
    changed = dataclasses.replace(solved, status=SolveStatus.ERROR)
    assert changed.status == SolveStatus.ERROR and solved.status == SolveStatus.OPTIMAL


def test_stage_by_stage_gives_what_the_chain_gives(tiny, solved):
    planner = pipeline.build(tiny)
    whole = pipeline.solve(planner, OPTIONS)
    assert whole.plan == solved.plan and whole.objective == pytest.approx(solved.objective)
    # the later stages, called alone on the plan the chain found
    bare = SolveResult(instance=tiny, status=SolveStatus.FEASIBLE)
    evaluated = pipeline.evaluate(bare, planner.ctx, solved.plan)
    assert evaluated.objective == pytest.approx(solved.objective)
    assert evaluated.net_present_value == pytest.approx(solved.net_present_value)
    assert bare.plan is None and bare.objective is None  # the stage made a new value
    checked = pipeline.check(evaluated, planner.ctx)
    assert checked.status == SolveStatus.FEASIBLE and checked.check is not None and checked.check.ok
    tabled = pipeline.with_tables(checked, planner.ctx)
    pd.testing.assert_frame_equal(tabled.plan_frame, solved.plan_frame)
    pd.testing.assert_frame_equal(tabled.years, solved.years)


def test_extract_reads_the_plan_from_the_solver_columns(tiny, solved):
    planner = pipeline.build(tiny)
    x = np.zeros(len(planner.form.col_cost))
    chosen = pipeline.starts_from_plan(planner.coef, solved.plan)
    present = planner.pair_columns >= 0
    x[planner.pair_columns[present]] = chosen[present]
    assert pipeline.extract(planner.coef, planner.pair_columns, x) == solved.plan
    nothing = pipeline.extract(planner.coef, planner.pair_columns, np.zeros_like(x))
    assert set(nothing) == set(solved.plan) and all(y is None for y in nothing.values())


def test_the_check_stage_turns_a_rejected_plan_into_an_error(tiny, solved):
    planner = pipeline.build(tiny)
    both = {s.id: 2025 if s.id in ("epr", "pathology") else None for s in tiny.schemes}  # capital 200 > 100
    evaluated = pipeline.evaluate(SolveResult(instance=tiny, status=SolveStatus.FEASIBLE), planner.ctx, both)
    checked = pipeline.check(evaluated, planner.ctx)
    assert checked.status == SolveStatus.ERROR
    assert "internal error: the independent checker rejected the solver's plan" in checked.messages
    assert any("capital" in m for m in checked.messages)
    assert evaluated.status == SolveStatus.FEASIBLE and evaluated.messages == []


def test_the_files_stage_names_the_files_a_solve_writes(tiny, solved):
    files = pipeline.result_files(solved)
    assert list(files) == ["plan.csv", "years.csv", "summary.json"]
    assert json.loads(files["summary.json"])["status"] == "optimal"
    no_plan = dataclasses.replace(solved, status=SolveStatus.INFEASIBLE, plan=None, plan_frame=None, years=None)
    assert list(pipeline.result_files(no_plan)) == ["summary.json"]


def test_a_variant_that_changes_the_structure_is_refused_in_place(tiny):
    planner = pipeline.build(tiny)
    fewer = tiny.model_copy(update={"schemes": tiny.schemes[:-1]})
    with pytest.raises(NotInPlace, match="other schemes"):
        variant_bounds(planner.built, planner.form, row_index(planner.form), planner.pair_columns, fewer)
    # the solve routes it to a fresh build and still answers
    assert planner.solve(OPTIONS, variant=fewer).status.has_plan and planner.rebuilds == 1


def test_the_solver_s_ending_in_words_asks_for_a_diagnosis_only_when_no_plan_exists():
    from types import SimpleNamespace

    asked = []

    def diagnosis():
        asked.append(True)
        return ["  target t in 2025 cannot be met"]

    def raw(status, watchdog=False):
        return SimpleNamespace(status=status, stopped_by_watchdog=watchdog, model_status="kTimeLimit")

    assert pipeline.solver_messages(raw(SolveStatus.OPTIMAL), 10, with_cuts=False, diagnosis=diagnosis) == []
    assert pipeline.solver_messages(raw(SolveStatus.INFEASIBLE), 10, with_cuts=True, diagnosis=diagnosis) == [
        "no plan keeps every rule together with the added cuts"]
    assert not asked
    assert pipeline.solver_messages(raw(SolveStatus.INFEASIBLE), 10, with_cuts=False, diagnosis=diagnosis) == [
        "no plan keeps every rule:", "  target t in 2025 cannot be met"]
    assert asked == [True]
    words = pipeline.solver_messages(raw(SolveStatus.TIME_LIMIT_NO_SOLUTION, watchdog=True), 2.5, with_cuts=False,
                                     diagnosis=diagnosis)
    assert words == ["the solve overran its time limit of 2.5 s and was stopped",
                     "the solver stopped (kTimeLimit) before finding any plan"]


def test_the_layers_that_read_a_result_name_its_type():
    """io/excel.py and store.py take a SolveResult by name, not by duck typing."""
    import typing

    from cipopt.io.excel import results_workbook
    from cipopt.store import Store

    assert typing.get_type_hints(results_workbook)["outcome"] is SolveResult
    assert typing.get_type_hints(Store.record)["outcome"] is SolveResult
