"""The sweep map: results in task order, setup once per process, a given state reused."""

from __future__ import annotations

from cipopt.analysis.sweep import Sweep, run_sweep

SETUPS: list[int] = []


def _setup(payload: int) -> dict:
    SETUPS.append(payload)
    return {"base": payload}


def _work(state: dict, task: int) -> int:
    return state["base"] * 10 + task


def test_in_process_sweep_keeps_task_order_and_sets_up_once():
    SETUPS.clear()
    seen = []
    results = run_sweep(_setup, 3, _work, [4, 1, 2], progress=lambda d, t, label: seen.append((d, t, label)),
                        labels=["a", "b", "c"])
    assert results == [34, 31, 32]
    assert SETUPS == [3]
    assert seen == [(0, 3, "a"), (1, 3, "b"), (2, 3, "c"), (3, 3, "done")]


def test_a_given_state_is_used_instead_of_setup():
    SETUPS.clear()
    assert run_sweep(_setup, 3, _work, [1], state={"base": 5}) == [51]
    assert SETUPS == []
    assert Sweep().in_process and not Sweep(workers=2).in_process
