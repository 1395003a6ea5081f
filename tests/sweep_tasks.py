"""Tiny sweep tasks for tests/test_sweep.py, in a module that imports nothing heavy.

A Dask worker unpickles a task function by importing its module: from test_sweep.py that would be
Pyomo, pandas and the whole CLI in every worker process (seconds each on 2 cores), for tasks that
multiply two integers.
"""

from __future__ import annotations

import os

from cipopt.schema.problems import InputError, Problem

SETUPS: list[int] = []


def _setup(payload: int) -> dict:
    SETUPS.append(payload)
    return {"base": payload}


def _work(state: dict, task: int) -> int:
    return state["base"] * 10 + task


def _counted_setup(payload: str) -> dict:
    """Records each setup in a file (the workers are other processes), with the process id."""
    with open(payload, "a") as f:
        f.write(f"{os.getpid()}\n")
    return {"pid": os.getpid()}


def _where(state: dict, task: int) -> tuple[int, int]:
    return task * task, state["pid"]


def _failing(state: dict, task: int) -> int:
    if task == 3:
        raise InputError([Problem("scenarios/cut.yaml", "factor: expected a number", key="scale[0].factor")])
    if task == 5:
        raise ZeroDivisionError("task 5 divides by zero")
    return task


def _broken_setup(payload: int) -> dict:
    return {"base": 1 / payload}
