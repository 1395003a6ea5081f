"""What-if scenarios: `scenarios/NAME.yaml`, overrides of an instance (docs/whatif.md).

A scenario file is untrusted input. It is read with YAML safe loading (duplicate keys refused),
checked against the instance it changes, and every problem is logged with the scenario file and
the key path inside it (`scale[0].factor`, `schemes.epr.confidence`,
`context.limits.capital.values.2026`); unknown keys are warnings and are ignored.

Applying a scenario gives a new, validated `Instance` with the same schemes in the same order,
so that a `Planner` built for the base instance can re-solve it in place whenever only bounds,
windows, mandatory or excluded flags, penalties or weights changed, and rebuilds otherwise.

The parts of a scenario, applied in this order:

1. `context`: a deep merge into instance.yaml; lists of rules with ids (`organisations`,
   `targets`, `limits`, `criteria`) may be given as a mapping by id to change or remove one rule
   (`limits: {capital: {values: {2026: 1500}}}`, `limits: {pmo: null}`), or as a list to
   replace them all; in every mapping `null` removes the key, so its default applies.
2. `schemes`: per-scheme field changes by id, including custom metric columns and labels.
3. `scale`: factors on metrics (derived values and profiles.csv rows alike), selected by
   category, organisation or scheme ids; or on a limit's or target's yearly values.
4. `delay`: shifts the start windows of the selected schemes by whole years; a scheme whose
   window leaves the plan years cannot start (it is marked `excluded`) and a note says so.
5. `force_in` (the schemes become mandatory) and `force_out` (the schemes become `excluded`).

The work is split along its seams: the file's keys and the parsed scenario are models
(cipopt.schema.scenario); `scenario_read` checks a file's structure, `scenario_apply` applies it
to an instance; this module finds, reads and applies scenarios by name.
"""

from __future__ import annotations

from pathlib import Path

from cipopt.analysis.scenario_apply import Applied, apply_scenario
from cipopt.analysis.scenario_read import (
    SCENARIO_FOLDER, find_scenario, parse_scenario, read_scenario, scenario_files,
)
from cipopt.schema.instance import Instance
from cipopt.schema.problems import InputError, Problem, ProblemLog
from cipopt.schema.scenario import (
    DELAY_KEYS, SCALE_KEYS, SCENARIO_KEYS, DelayRule, ScaleRule, Scenario, Selector,
)

__all__ = [
    "DELAY_KEYS", "SCALE_KEYS", "SCENARIO_FOLDER", "SCENARIO_KEYS", "Applied", "DelayRule", "ScaleRule", "Scenario",
    "Selector", "apply_file", "apply_scenario", "find_scenario", "load_scenarios", "parse_scenario", "read_scenario",
    "scenario_files",
]


def load_scenarios(instance_folder: str | Path, instance: Instance, names: list[str],
                   log: ProblemLog | None = None, *, allow_outside_links: bool = False) -> list[Applied]:
    """Read and apply scenarios by name (`A+B` combines A then B into one); raise `InputError`
    listing every problem of every scenario."""
    log = log if log is not None else ProblemLog()
    out = []
    for name in names:
        parts = [name] if Path(name).is_file() else [p for p in name.split("+") if p]
        applied = None
        for part in parts:
            path = find_scenario(instance_folder, part, log, allow_outside_links=allow_outside_links)
            scenario = read_scenario(path, log) if path is not None else None
            applied = apply_scenario(instance, scenario, log, applied) if scenario is not None else None
            if applied is None:
                break
        if applied is not None:
            out.append(applied)
    if log.errors:
        raise InputError(log.problems)
    return out


def apply_file(instance: Instance, path: str | Path, log: ProblemLog | None = None) -> Applied:
    """One scenario file applied to an instance; raise `InputError` with every problem."""
    log = log if log is not None else ProblemLog()
    scenario = read_scenario(path, log)
    applied = apply_scenario(instance, scenario, log) if scenario is not None else None
    if applied is None or log.errors:  # errors in reading leave a scenario only to check further
        raise InputError(log.problems or [Problem(str(path), "cannot be applied")])
    return applied
