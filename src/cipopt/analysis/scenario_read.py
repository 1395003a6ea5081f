"""Reading a scenario file: its structure checked part by part, then against the file's models
(cipopt.schema.scenario), every problem logged with the file and the key path inside it
(`scale[0].factor`); unknown keys are warnings and are ignored. References to the instance are
checked when the scenario is applied (cipopt.analysis.scenario_apply)."""

from __future__ import annotations

import difflib
import math
import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cipopt.io.folder import outside_link_problem
from cipopt.io.messages import describe_error, suggestion_text
from cipopt.io.yaml_files import load_yaml
from cipopt.io.text import MAX_YAML_BYTES, read_text
from cipopt.schema.instance import CATEGORIES
from cipopt.schema.problems import ProblemLog
from cipopt.schema.scenario import (
    DELAY_KEYS, SCALE_KEYS, SCENARIO_KEYS, DelayRule, ScaleRule, Scenario, ScenarioFile, Selector,
)
from cipopt.schema.validate import canonical_metric

SCENARIO_FOLDER = "scenarios"


def scenario_files(instance_folder: str | Path) -> list[Path]:
    """The scenario files shipped with an instance folder, by name."""
    folder = Path(instance_folder) / SCENARIO_FOLDER
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in (".yaml", ".yml") and p.is_file())


def find_scenario(instance_folder: str | Path, name: str, log: ProblemLog, *,
                  allow_outside_links: bool = False) -> Path | None:
    """A scenario by NAME (`INSTANCE/scenarios/NAME.yaml`) or by the path of a YAML file (given by
    the user, so read where it is). A scenario of the folder that links outside it is refused
    unless allowed, as any instance file (docs/input-errors.md)."""
    path = Path(name)
    if path.suffix.lower() in (".yaml", ".yml") and path.is_file():
        return path
    for suffix in (".yaml", ".yml"):
        candidate = Path(instance_folder) / SCENARIO_FOLDER / f"{name}{suffix}"
        if os.path.lexists(candidate):
            problem = None if allow_outside_links else outside_link_problem(candidate, Path(instance_folder))
            if problem:
                log.error(str(candidate), problem)
                return None
            return candidate
    known = [p.stem for p in scenario_files(instance_folder)]
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    where = Path(instance_folder) / SCENARIO_FOLDER / f"{name}.yaml"
    choices = f"; the instance has {', '.join(known)}" if known else "; the instance has no scenarios folder"
    log.error(str(where), f"no scenario {name!r}{hint}{choices}")
    return None


def read_scenario(path: str | Path, log: ProblemLog) -> Scenario | None:
    """Read and check the structure of a scenario file; None (problems logged) when unusable."""
    path = Path(path)
    label = str(path)
    text = read_text(path, label, log, MAX_YAML_BYTES)
    if text is None:
        return None
    ok, data = load_yaml(text, label, log)
    if not ok:
        return None
    return parse_scenario(data, path.stem, label, log)


def parse_scenario(data: Any, name: str, file: str, log: ProblemLog) -> Scenario | None:
    """Check the structure of a scenario's data (a mapping read from YAML).

    None when the data is unusable as a whole; otherwise the scenario's sound parts, with the
    problems of the others logged (check `log.errors` before using it)."""
    if data is None:
        log.error(file, "is empty: expected a mapping with some of " + ", ".join(SCENARIO_KEYS))
        return None
    if not isinstance(data, dict):
        log.error(file, f"must be a mapping of keys ({', '.join(SCENARIO_KEYS)}), not {kind_of(data)}")
        return None
    errors_before = len(log.errors)
    for key in data:
        if key not in SCENARIO_KEYS:
            log.warn(file, f"is not a scenario key and is ignored{did_you_mean(key, SCENARIO_KEYS)}; expected "
                           f"{', '.join(SCENARIO_KEYS)}", key=str(key))
    description = data.get("description")
    if description is None:
        description = ""
    elif not isinstance(description, str):
        log.error(file, f"expected text, not {kind_of(description)}", key="description")
        description = ""
    context = data.get("context")
    if context is None:
        context = {}
    elif not isinstance(context, dict):
        log.error(file, f"expected a mapping of instance.yaml keys, not {kind_of(context)}", key="context")
        context = {}
    schemes = _parse_scheme_changes(data.get("schemes"), file, log)
    scale = tuple(r for r in (_parse_scale(e, f"scale[{i}]", file, log)
                              for i, e in enumerate(_list(data, "scale", file, log))) if r is not None)
    delay = tuple(r for r in (_parse_delay(e, f"delay[{i}]", file, log)
                              for i, e in enumerate(_list(data, "delay", file, log))) if r is not None)
    force_in = _ids(data.get("force_in"), "force_in", file, log)
    force_out = _ids(data.get("force_out"), "force_out", file, log)
    for sid in sorted(set(force_in) & set(force_out)):
        log.error(file, f"scheme {sid!r} is in both force_in and force_out",
                  key=f"force_out[{force_out.index(sid)}]")
    if len(log.errors) == errors_before:
        _model_problems(data, file, log)
    # with errors, the sound parts are still returned so that their references are checked too
    # (every problem at once); the caller must not use a scenario read with errors
    return Scenario(name=name, file=file, description=description.strip(), context=context,
                    schemes=schemes, scale=scale, delay=delay, force_in=force_in, force_out=force_out)


def _model_problems(data: dict, file: str, log: ProblemLog) -> None:
    """What the file's models refuse that the checks above let through: the models are the format,
    the checks its messages in a planner's words, so a rule added to a model holds at once."""
    entry_keys = {"scale": SCALE_KEYS, "delay": DELAY_KEYS}
    known = {}
    for key, value in data.items():
        if key not in SCENARIO_KEYS:
            continue  # warned and ignored
        keys = entry_keys.get(key)
        if keys is not None:  # an entry's unknown keys are warned and ignored too
            value = [{k: v for k, v in e.items() if k in keys} if isinstance(e, dict) else e
                     for e in (value if isinstance(value, list) else [value])]
        known[key] = value
    try:
        ScenarioFile.model_validate(known)
    except ValidationError as exc:
        for err in exc.errors():
            log.error(file, describe_error(err), key=_error_key(err["loc"]))


def _error_key(loc: tuple) -> str:
    """The key path of a model error: `scale[0].factor` (union branches and validators dropped)."""
    key = str(loc[0])
    fields = set(SCALE_KEYS) | set(DELAY_KEYS)
    for part in loc[1:]:
        if isinstance(part, int) and not isinstance(part, bool):
            key += f"[{part}]"
        elif part in fields and loc[0] in ("scale", "delay"):
            key += f".{part}"
            break
    return key


def kind_of(value: Any) -> str:
    """What a YAML value is, in words (a key that is not text)."""
    if value is None:
        return "nothing (null)"
    return {list: "a list", dict: "a mapping", str: f"the text {value!r}", bool: f"{value}",
            int: f"the number {value}", float: f"the number {value}"}.get(type(value), type(value).__name__)


def did_you_mean(value: Any, known) -> str:
    """io/messages.suggestion_text for a value and names of any type (scheme ids, years, keys)."""
    return suggestion_text(str(value), {str(k) for k in known})


def _list(data: dict, key: str, file: str, log: ProblemLog) -> list:
    value = data.get(key)
    if value is None:
        return []
    if isinstance(value, dict):
        return [value]  # one entry written without the list
    if not isinstance(value, list):
        log.error(file, f"expected a list of entries, not {kind_of(value)}", key=key)
        return []
    return value


def _ids(value: Any, key: str, file: str, log: ProblemLog) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        log.error(file, f"expected a list of scheme ids, not {kind_of(value)}", key=key)
        return ()
    out = []
    for i, v in enumerate(value):
        if not isinstance(v, str) or not v.strip():
            log.error(file, f"expected a scheme id, not {kind_of(v)}", key=f"{key}[{i}]")
        elif v.strip() in out:
            log.warn(file, f"scheme {v!r} is listed twice", key=f"{key}[{i}]")
        else:
            out.append(v.strip())
    return tuple(out)


def _parse_scheme_changes(value: Any, file: str, log: ProblemLog) -> dict[str, dict[str, Any]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        log.error(file, "expected a mapping from scheme id to the fields to change "
                        f"(e.g. epr: {{confidence: 0.6}}), not {kind_of(value)}", key="schemes")
        return {}
    out = {}
    for sid, changes in value.items():
        key = f"schemes.{sid}"
        if not isinstance(sid, str):
            log.error(file, f"a scheme id must be text, not {kind_of(sid)}", key=key)
        elif not isinstance(changes, dict) or not changes:
            log.error(file, f"expected a mapping of fields to change (e.g. confidence: 0.6), not "
                            f"{kind_of(changes) if changes != {} else 'an empty mapping'}", key=key)
        elif any(not isinstance(k, str) for k in changes):
            log.error(file, "field names must be text", key=key)
        else:
            out[sid] = dict(changes)
    return out


def _number(value: Any, key: str, file: str, log: ProblemLog) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        log.error(file, f"expected a number, not {kind_of(value)}", key=key)
        return None
    return float(value)


def _texts(value: Any, key: str, file: str, log: ProblemLog, what: str) -> tuple[str, ...] | None:
    """One text or a list of texts (a selector's categories, organisations or scheme ids)."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        log.error(file, f"expected {what} or a list of them, not {kind_of(value)}", key=key)
        return None
    bad = [i for i, v in enumerate(items) if not isinstance(v, str) or not v.strip()]
    for i in bad:
        log.error(file, f"expected {what}, not {kind_of(items[i])}", key=f"{key}[{i}]" if not isinstance(value, str) else key)
    return None if bad else tuple(v.strip() for v in items)


def _selector(entry: dict, key: str, file: str, log: ProblemLog) -> Selector | None:
    ok = True
    parts = {}
    for name, what, attr in (("category", "a category", "categories"), ("org", "an organisation id", "orgs"),
                             ("schemes", "a scheme id", "schemes")):
        if entry.get(name) is None:
            continue
        got = _texts(entry[name], f"{key}.{name}", file, log, what)
        if got is None:
            ok = False
        parts[attr] = got
    if ok and parts.get("categories"):
        for i, c in enumerate(parts["categories"]):
            if c not in CATEGORIES:
                log.error(file, f"unknown category {c!r}{did_you_mean(c, CATEGORIES)}: expected one of "
                                f"{', '.join(CATEGORIES)}", key=f"{key}.category" + (f"[{i}]" if isinstance(entry['category'], list) else ""))
                ok = False
    return Selector(**parts) if ok else None


def _unknown_keys(entry: dict, known: tuple[str, ...], key: str, file: str, log: ProblemLog) -> None:
    for k in entry:
        if k not in known:
            log.warn(file, f"is not a key of this entry and is ignored{did_you_mean(k, known)}; expected "
                           f"{', '.join(known)}", key=f"{key}.{k}")


def _parse_scale(entry: Any, key: str, file: str, log: ProblemLog) -> ScaleRule | None:
    if not isinstance(entry, dict):
        log.error(file, "expected a mapping such as {metric: saving, category: agency, factor: 0.8}, "
                        f"not {kind_of(entry)}", key=key)
        return None
    _unknown_keys(entry, SCALE_KEYS, key, file, log)
    what = [k for k in ("metric", "limit", "target") if entry.get(k) is not None]
    if len(what) != 1:
        log.error(file, "give exactly one of metric (scheme values), limit or target (its yearly values)"
                        + (f"; got {' and '.join(what)}" if what else ""), key=key)
        return None
    kind = what[0]
    name = entry[kind]
    ok = True
    if not isinstance(name, str) or not name.strip():
        log.error(file, f"expected a {kind} name, not {kind_of(name)}", key=f"{key}.{kind}")
        ok = False
    if "factor" not in entry:
        log.error(file, "is required: the factor to multiply by (0.8 for 80%)", key=f"{key}.factor")
        factor = None
    else:
        factor = _number(entry["factor"], f"{key}.factor", file, log)
        if factor is not None and factor < 0:
            log.error(file, f"{factor:g} is out of range: a factor must be 0 or more", key=f"{key}.factor")
            factor = None
    select = _selector(entry, key, file, log) if kind == "metric" else Selector()
    years = None
    if kind != "metric":
        for sel in ("category", "org", "schemes"):
            if entry.get(sel) is not None:
                log.error(file, f"{sel} selects schemes, which applies to metric entries only; a {kind}'s "
                                "values may be restricted to some years with years: [...]", key=f"{key}.{sel}")
                ok = False
        if entry.get("years") is not None:
            years = _year_list(entry["years"], f"{key}.years", file, log)
            ok = ok and years is not None
    elif entry.get("years") is not None:
        log.error(file, "years applies to limit and target entries; a metric is scaled in every year "
                        "(use delay to move schemes in time)", key=f"{key}.years")
        ok = False
    if not ok or factor is None or select is None:
        return None
    name = name.strip()
    if kind == "metric":
        return ScaleRule(key=key, factor=factor, metric=canonical_metric(name), select=select)
    return ScaleRule(key=key, factor=factor, years=years, **{kind: name})


def _year_list(value: Any, key: str, file: str, log: ProblemLog) -> tuple[int, ...] | None:
    items = value if isinstance(value, list) else [value]
    out = []
    for i, v in enumerate(items):
        if isinstance(v, str) and v.strip().isdigit():
            v = int(v)
        if isinstance(v, bool) or not isinstance(v, int):
            log.error(file, f"expected a year such as 2026, not {kind_of(v)}",
                      key=f"{key}[{i}]" if isinstance(value, list) else key)
            return None
        out.append(v)
    return tuple(out)


def _parse_delay(entry: Any, key: str, file: str, log: ProblemLog) -> DelayRule | None:
    if not isinstance(entry, dict):
        log.error(file, f"expected a mapping such as {{category: agency, years: 1}}, not {kind_of(entry)}", key=key)
        return None
    _unknown_keys(entry, DELAY_KEYS, key, file, log)
    years = entry.get("years")
    if years is None:
        log.error(file, "is required: how many years later the selected schemes may start (1 for a "
                        "year's delay; negative brings them forward)", key=f"{key}.years")
    elif isinstance(years, bool) or not isinstance(years, int):
        log.error(file, f"expected a whole number of years, not {kind_of(years)}", key=f"{key}.years")
        years = None
    elif years == 0:
        log.warn(file, "a delay of 0 years changes nothing", key=f"{key}.years")
    select = _selector(entry, key, file, log)
    if years is None or select is None:
        return None
    return DelayRule(key=key, years=years, select=select)
