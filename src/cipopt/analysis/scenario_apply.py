"""Applying a scenario: a new, validated `Instance` with the same schemes in the same order, its
references checked against the instance it changes (parts applied in the order of docs/whatif.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from cipopt.analysis.scenario_read import did_you_mean, kind_of
from cipopt.io.messages import describe_error
from cipopt.schema.instance import (
    STANDARD_DOMAINS, Criterion, Instance, Limit, Objective, Organisation, Quality, Scheme, SolverOptions,
    Target, qia_ineligibility,
)
from cipopt.schema.problems import ProblemLog
from cipopt.schema.scenario import DelayRule, ScaleRule, Scenario, Selector
from cipopt.schema.validate import Gaps, SourceRows, canonical_metric, known_metrics, validate_instance

TABLE_KEYS = ("schemes", "profiles", "relations", "shares", "scores")
FIXED_CONTEXT_KEYS = {"format_version": "the format version", "years": "the plan years"}
ID_LISTS: dict[str, type[BaseModel]] = {
    "organisations": Organisation, "targets": Target, "limits": Limit, "criteria": Criterion,
}
NESTED: dict[str, type[BaseModel]] = {"quality": Quality, "objective": Objective, "solver": SolverOptions}
CONTEXT_FIELDS = tuple(f for f in Instance.model_fields if f not in TABLE_KEYS)
RULE_WORD = {"organisations": "organisation", "targets": "target", "limits": "limit", "criteria": "criterion"}
# Scheme fields whose value is a metric by offset (scaled with `scale: [{metric: ...}]`).
METRIC_FIELDS = {
    "saving": "recurrent_saving", "nonrecurrent_saving": "nonrecurrent_saving",
    "one_off_cost": "one_off_cost", "capital_cost": "capital_cost", "running_cost": "running_cost",
    "double_running_cost": "double_running_cost",
}


@dataclass
class Applied:
    """An instance with one or more scenarios applied, and what they did in words."""

    name: str
    instance: Instance
    description: str = ""
    changes: list[str] = field(default_factory=list)
    """One line per change, for the record (summary.json)."""
    notes: list[str] = field(default_factory=list)
    """What the reader must know: schemes that can no longer start, forced-in schemes the QIA bars."""


def apply_scenario(instance: Instance, scenario: Scenario, log: ProblemLog,
                   applied: Applied | None = None) -> Applied | None:
    """The instance changed by the scenario, or None when the scenario does not fit it (logged).

    `applied` continues an earlier application (scenarios combined with `+`).
    """
    file = scenario.file
    errors = len(log.errors)
    out = applied or Applied(name=scenario.name, instance=instance)
    if applied is not None:
        out.name = f"{applied.name}+{scenario.name}"
    if scenario.description:
        out.description = f"{out.description}; {scenario.description}" if out.description else scenario.description
    inst = out.instance
    ids = {s.id for s in inst.schemes}
    metrics = _known_metrics(inst)

    # check every reference before changing anything, so that all problems are reported together
    for sid in scenario.schemes:
        if sid not in ids:
            log.error(file, f"unknown scheme {sid!r}{did_you_mean(sid, ids)}: no scheme of the instance has this id",
                      key=f"schemes.{sid}")
    for key, sids in (("force_in", scenario.force_in), ("force_out", scenario.force_out)):
        for i, sid in enumerate(sids):
            if sid not in ids:
                log.error(file, f"unknown scheme {sid!r}{did_you_mean(sid, ids)}: no scheme of the instance has this id",
                          key=f"{key}[{i}]")
    for rule in (*scenario.scale, *scenario.delay):
        _check_selector(rule.select, rule.key, inst, file, log)
    for rule in scenario.scale:
        _check_scale(rule, inst, metrics, file, log)
    references_ok = len(log.errors) == errors

    where: dict[tuple[str, int], str] = {}
    if scenario.context:
        inst = _apply_context(inst, scenario.context, file, log, out, where) or inst
    if scenario.schemes:
        inst = _apply_scheme_changes(inst, scenario.schemes, file, log, out) or inst
    if not references_ok or len(log.errors) > errors:
        return None
    for rule in scenario.scale:
        inst = _apply_scale(inst, rule, file, log, out)
    for rule in scenario.delay:
        inst = _apply_delay(inst, rule, file, log, out)
    if scenario.force_in or scenario.force_out:
        inst = _apply_force(inst, scenario, file, log, out)
    if not _revalidate(out.instance if applied is not None else instance, inst, file, log, where):
        return None
    out.instance = inst
    return out


def _known_metrics(inst: Instance) -> set[str]:
    return {canonical_metric(m) for m in known_metrics(inst)}


def _check_selector(select: Selector, key: str, inst: Instance, file: str, log: ProblemLog) -> None:
    ids = {s.id for s in inst.schemes}
    orgs = set(inst.org_ids)
    for i, sid in enumerate(select.schemes or ()):
        if sid not in ids:
            log.error(file, f"unknown scheme {sid!r}{did_you_mean(sid, ids)}: no scheme of the instance has this id",
                      key=f"{key}.schemes" + (f"[{i}]" if len(select.schemes) > 1 else ""))
    for i, org in enumerate(select.orgs or ()):
        if org not in orgs:
            log.error(file, f"unknown organisation {org!r}{did_you_mean(org, orgs)}: expected {', '.join(sorted(orgs))}",
                      key=f"{key}.org" + (f"[{i}]" if len(select.orgs) > 1 else ""))


def _check_scale(rule: ScaleRule, inst: Instance, metrics: set[str], file: str, log: ProblemLog) -> None:
    if rule.metric is not None:
        m = rule.metric
        domains = set(STANDARD_DOMAINS) | set(inst.quality.domains)
        if m in domains:
            log.error(file, f"{m!r} is a quality impact score (whole numbers from -2 to 2) and is not scaled: "
                            "change a scheme's score under schemes", key=f"{rule.key}.metric")
        elif m != "confidence" and m not in metrics:
            known = sorted((metrics - domains) | {"confidence"})
            log.error(file, f"unknown metric {m!r}{did_you_mean(m, known)}: expected one of {', '.join(known)}",
                      key=f"{rule.key}.metric")
        return
    kind = "limit" if rule.limit is not None else "target"
    rid = rule.limit if rule.limit is not None else rule.target
    rules = {r.id: r for r in (inst.limits if kind == "limit" else inst.targets)}
    if rid not in rules:
        log.error(file, f"unknown {kind} {rid!r}{did_you_mean(rid, rules)}: expected "
                        f"{', '.join(rules) if rules else 'none (the instance has no ' + kind + 's)'}",
                  key=f"{rule.key}.{kind}")
        return
    for i, y in enumerate(rule.years or ()):
        if y not in rules[rid].values:
            log.error(file, f"{kind} {rid!r} has no value for {y} (it names {', '.join(map(str, sorted(rules[rid].values)))})",
                      key=f"{rule.key}.years" + (f"[{i}]" if len(rule.years) > 1 else ""))


# context ------------------------------------------------------------------------------------

def _str_keys(mapping: dict) -> dict[str, Any]:
    return {str(k): k for k in mapping}


def _merge_dict(base: dict, changes: dict) -> dict:
    """Deep merge: mappings merge key by key (keys compared as text: 2026 and "2026" are one),
    null removes a key, anything else replaces."""
    out = dict(base)
    names = _str_keys(out)
    for k, v in changes.items():
        target = names.get(str(k), k)
        if v is None:
            out.pop(target, None)
        elif isinstance(v, dict) and isinstance(out.get(target), dict):
            out[target] = _merge_dict(out[target], v)
        else:
            out[target] = v
    return out


def _strip(model: type[BaseModel], entry: dict, key: str, file: str, log: ProblemLog,
           fixed: tuple[str, ...] = ()) -> dict:
    """The entry without keys the model does not have (each a warning)."""
    known = tuple(model.model_fields)
    out = {}
    for k, v in entry.items():
        if k in fixed:
            log.error(file, f"{k} cannot be changed here", key=f"{key}.{k}")
        elif k not in known:
            log.warn(file, f"is not a key of instance.yaml and is ignored{did_you_mean(k, known)}", key=f"{key}.{k}")
        else:
            out[k] = v
    return out


def _apply_context(inst: Instance, changes: dict, file: str, log: ProblemLog, out: Applied,
                   where: dict[tuple[str, int], str]) -> Instance | None:
    """instance.yaml merged with the changes; `where` learns the scenario key of each rule the
    changes wrote, by (section, index in the merged list), so later problems can name it."""
    errors = len(log.errors)
    base = inst.model_dump(include=set(CONTEXT_FIELDS))
    merged = dict(base)
    for key, value in changes.items():
        path = f"context.{key}"
        if not isinstance(key, str):
            log.error(file, f"a key must be text, not {kind_of(key)}", key=path)
        elif key in FIXED_CONTEXT_KEYS:
            log.error(file, f"{FIXED_CONTEXT_KEYS[key]} cannot be changed by a scenario (every scheme's "
                            "window and profile refers to them)", key=path)
        elif key in TABLE_KEYS:
            hint = " (per-scheme changes go under the scenario's top-level schemes key)" if key == "schemes" else ""
            log.warn(file, f"is a table, not a key of instance.yaml, and is ignored{hint}", key=path)
        elif key not in CONTEXT_FIELDS:
            log.warn(file, f"is not a key of instance.yaml and is ignored{did_you_mean(key, CONTEXT_FIELDS)}", key=path)
        elif key in ID_LISTS:
            merged[key] = _merge_rules(key, base[key], value, file, log, where, out)
        elif key in NESTED:
            if value is None:
                merged.pop(key, None)
                out.changes.append(f"{key}: back to its defaults")
            elif not isinstance(value, dict):
                log.error(file, f"expected a mapping, not {kind_of(value)}", key=path)
            else:
                merged[key] = _merge_dict(base[key], _strip(NESTED[key], value, path, file, log))
                out.changes.append(f"{key}: {_words(value)}")
        elif key == "finance" and isinstance(value, dict) and isinstance(base.get(key), dict):
            merged[key] = {**base[key], **value}  # docs/finance.md: the parts named replace those parts
            out.changes.append(f"{key}: {_words(value)}")
        elif value is None:
            merged.pop(key, None)
            out.changes.append(f"{key}: back to its default")
        else:
            merged[key] = value
            out.changes.append(f"{key}: {value}")
    tables = {k: getattr(inst, k) for k in TABLE_KEYS}
    try:
        merged_instance = Instance.model_validate({**merged, **tables})
    except ValidationError as exc:
        for err in exc.errors():
            loc = [p for p in err["loc"] if p != "[key]"]
            model = NESTED.get(loc[0]) or ID_LISTS.get(loc[0]) or Instance
            log.error(file, describe_error(err, model=model), key=_context_key(loc, where))
        return None
    return None if len(log.errors) > errors else merged_instance


def _context_key(loc: list, where: dict[tuple[str, int], str]) -> str:
    if len(loc) > 1 and (loc[0], loc[1]) in where:
        head, rest = where[loc[0], loc[1]], loc[2:]
    else:
        head, rest = f"context.{loc[0]}", loc[1:]
    for part in rest:
        is_index = isinstance(part, int) and not head.endswith(("values", "values]"))
        head += f"[{part}]" if is_index else f".{part}"
    return head


def _words(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {_words(v)}" for k, v in value.items())
    return "removed" if value is None else str(value)


def _merge_rules(section: str, base: list[dict], value: Any, file: str, log: ProblemLog,
                 where: dict, out: Applied) -> list[dict]:
    model = ID_LISTS[section]
    word = RULE_WORD[section]
    path = f"context.{section}"
    if value is None:
        out.changes.append(f"{section}: all removed")
        return [] if section != "organisations" else [Organisation(id="trust").model_dump()]
    if isinstance(value, list):
        entries = []
        for i, e in enumerate(value):
            if not isinstance(e, dict):
                log.error(file, f"expected a mapping (a {word}), not {kind_of(e)}", key=f"{path}[{i}]")
                continue
            where[section, len(entries)] = f"{path}[{i}]"
            entries.append(_strip(model, e, f"{path}[{i}]", file, log))
        out.changes.append(f"{section}: replaced by {len(entries)} {word}{'s' if len(entries) != 1 else ''}")
        return entries
    if not isinstance(value, dict):
        log.error(file, f"expected a mapping from {word} id to the keys to change (or a list replacing all "
                        f"{section}), not {kind_of(value)}", key=path)
        return base
    merged = [dict(e) for e in base]
    index = {e["id"]: i for i, e in enumerate(merged)}
    removed = set()
    for rid, change in value.items():
        key = f"{path}.{rid}"
        rid = str(rid)
        if change is None:
            if rid not in index:
                log.error(file, f"there is no {word} {rid!r} to remove{did_you_mean(rid, index)}", key=key)
            else:
                removed.add(rid)
                out.changes.append(f"{word} {rid}: removed")
            continue
        if not isinstance(change, dict):
            log.error(file, f"expected a mapping of the {word}'s keys to change, not {kind_of(change)}", key=key)
            continue
        change = _strip(model, change, key, file, log)
        if "id" in change and str(change["id"]) != rid:
            log.error(file, f"the id of {word} {rid!r} cannot be changed", key=f"{key}.id")
            continue
        change.pop("id", None)
        if rid in index:
            merged[index[rid]] = _merge_dict(merged[index[rid]], change)
            out.changes.append(f"{word} {rid}: {_words(change)}")
        else:
            log.warn(file, f"adds a new {word} {rid!r}: instance.yaml has no {word} with this id"
                           f"{did_you_mean(rid, index)}", key=key)
            index[rid] = len(merged)
            merged.append({"id": rid, **change})
            out.changes.append(f"{word} {rid}: added ({_words(change)})")
        where[section, index[rid]] = key
    if removed:
        keep = [e for e in merged if e["id"] not in removed]
        new_where = {}
        for new_i, e in enumerate(keep):
            old_i = merged.index(e)
            if (section, old_i) in where:
                new_where[section, new_i] = where[section, old_i]
        for k in [k for k in where if k[0] == section]:
            del where[k]
        where.update(new_where)
        merged = keep
    return merged


# schemes ------------------------------------------------------------------------------------

def _apply_scheme_changes(inst: Instance, changes: dict[str, dict[str, Any]], file: str, log: ProblemLog,
                          out: Applied) -> Instance | None:
    errors = len(log.errors)
    fields = set(Scheme.model_fields) - {"metrics", "labels", "start_year_saving"}  # replan's own, not a column
    metric_columns = set()
    label_columns = set()
    for s in inst.schemes:
        metric_columns.update(s.metrics)
        label_columns.update(s.labels)
    profiled = {(p.scheme, canonical_metric(p.metric)) for p in inst.profiles}
    years = set(inst.years)
    orgs = set(inst.org_ids)
    by_id = {s.id: s for s in inst.schemes}
    new: dict[str, Scheme] = {}
    for sid, change in changes.items():
        if sid not in by_id:
            continue  # reported as an unknown scheme
        s = by_id[sid]
        data = s.model_dump()
        errors_before = len(log.errors)
        for name, value in change.items():
            key = f"schemes.{sid}.{name}"
            if name == "id":
                log.error(file, "a scheme's id cannot be changed", key=key)
            elif name in ("metrics", "labels"):
                log.error(file, f"write each custom column by its name (e.g. pmo_days: 40), not {name}", key=key)
            elif name in fields:
                if name in ("earliest_start", "latest_start") and value is not None and value not in years:
                    log.error(file, f"{value!r} is outside the plan years {inst.years[0]}-{inst.years[-1]}", key=key)
                if name == "org" and value not in orgs:
                    log.error(file, f"unknown organisation {value!r}{did_you_mean(value, orgs)}: expected "
                                    f"{', '.join(sorted(orgs))}", key=key)
                data[name] = value
                metric = {v: k for k, v in METRIC_FIELDS.items()}.get(name)
                if metric and (sid, metric) in profiled:
                    log.warn(file, f"scheme {sid} has profiles.csv rows for {metric}, which replace the value "
                                   f"derived from {name}: this change has no effect (use scale to change "
                                   "the profile)", key=key)
            elif name in metric_columns:
                data["metrics"] = {**data["metrics"], name: value}
                if (sid, name) in profiled:
                    log.warn(file, f"scheme {sid} has profiles.csv rows for {name}, which replace its column "
                                   "value: this change has no effect (use scale to change the profile)", key=key)
            elif name in label_columns:
                data["labels"] = {**data["labels"], name: "" if value is None else str(value)}
            else:
                known = sorted(fields - {"id"} | metric_columns | label_columns)
                log.error(file, f"unknown field or metric {name!r}{did_you_mean(name, known)}: expected a column of "
                                "schemes.csv", key=key)
        if len(log.errors) > errors_before:
            continue
        try:
            new[sid] = Scheme.model_validate(data)
        except ValidationError as exc:
            for err in exc.errors():
                loc = [p for p in err["loc"] if p != "[key]"]
                name = loc[1] if loc and loc[0] in ("metrics", "labels") and len(loc) > 1 else (loc[0] if loc else "")
                log.error(file, describe_error(err, model=Scheme), key=f"schemes.{sid}.{name}")
            continue
        lo = new[sid].earliest_start if new[sid].earliest_start is not None else inst.years[0]
        hi = new[sid].latest_start if new[sid].latest_start is not None else inst.years[-1]
        if lo > hi:
            log.error(file, f"the start window of {sid} is reversed: earliest_start {lo} is after latest_start {hi}",
                      key=f"schemes.{sid}")
        out.changes.append(f"scheme {sid}: {_words(change)}")
    if len(log.errors) > errors:
        return None
    return inst.model_copy(update={"schemes": tuple(new.get(s.id, s) for s in inst.schemes)})


# scale --------------------------------------------------------------------------------------

def _apply_scale(inst: Instance, rule: ScaleRule, file: str, log: ProblemLog, out: Applied) -> Instance:
    f = rule.factor
    if rule.limit is not None or rule.target is not None:
        section = "limits" if rule.limit is not None else "targets"
        rid = rule.limit or rule.target
        rules = []
        for r in getattr(inst, section):
            if r.id == rid:
                values = {y: (v * f if rule.years is None or y in rule.years else v) for y, v in r.values.items()}
                r = r.model_copy(update={"values": values})
            rules.append(r)
        years = "" if rule.years is None else f" in {', '.join(map(str, rule.years))}"
        out.changes.append(f"{section[:-1]} {rid}: values x{f:g}{years}")
        return inst.model_copy(update={section: tuple(rules)})

    metric = rule.metric
    chosen = [s for s in inst.schemes if rule.select.matches(s)]
    if not chosen:
        log.warn(file, f"selects no scheme ({rule.select.words()}), so it changes nothing", key=rule.key)
        return inst
    ids = {s.id for s in chosen}
    schemes = []
    clamped = []
    for s in inst.schemes:
        if s.id in ids:
            if metric == "confidence":
                value = s.confidence * f
                if value > 1:
                    clamped.append(s.id)
                    value = 1.0
                s = s.model_copy(update={"confidence": value})
            elif metric in METRIC_FIELDS:
                name = METRIC_FIELDS[metric]
                s = s.model_copy(update={name: getattr(s, name) * f})
            elif metric in s.metrics:
                s = s.model_copy(update={"metrics": {**s.metrics, metric: s.metrics[metric] * f}})
        schemes.append(s)
    if clamped:
        log.warn(file, f"confidence is at most 1: {', '.join(clamped)} set to 1", key=f"{rule.key}.factor")
    profiles = tuple(
        p.model_copy(update={"value": p.value * f})
        if p.scheme in ids and canonical_metric(p.metric) == metric else p
        for p in inst.profiles)
    out.changes.append(f"{metric} x{f:g} for {rule.select.words()} ({len(chosen)} scheme{'s' if len(chosen) != 1 else ''})")
    return inst.model_copy(update={"schemes": tuple(schemes), "profiles": profiles})


# delay --------------------------------------------------------------------------------------

def _apply_delay(inst: Instance, rule: DelayRule, file: str, log: ProblemLog, out: Applied) -> Instance:
    first, last = inst.years[0], inst.years[-1]
    chosen = [s for s in inst.schemes if rule.select.matches(s)]
    if not chosen:
        log.warn(file, f"selects no scheme ({rule.select.words()}), so it changes nothing", key=rule.key)
        return inst
    k = rule.years
    updates: dict[str, dict] = {}
    for s in chosen:
        lo = (s.earliest_start if s.earliest_start is not None else first) + k
        hi = (s.latest_start if s.latest_start is not None else last) + k
        if lo > last or hi < first:
            updates[s.id] = {"excluded": True, "earliest_start": min(max(lo, first), last),
                             "latest_start": min(max(lo, first), last)}
            must = " (it is mandatory, so no plan exists)" if s.mandatory else ""
            out.notes.append(f"{s.id} cannot start within the plan years after a delay of {k} year"
                             f"{'s' if abs(k) != 1 else ''} (its window would be {lo}-{hi}){must}")
        else:
            updates[s.id] = {"earliest_start": max(lo, first), "latest_start": min(hi, last)}
    out.changes.append(f"delay {k:+d} year{'s' if abs(k) != 1 else ''} for {rule.select.words()} "
                       f"({len(chosen)} scheme{'s' if len(chosen) != 1 else ''})")
    return inst.model_copy(update={"schemes": tuple(
        s.model_copy(update=updates[s.id]) if s.id in updates else s for s in inst.schemes)})


# force_in / force_out -------------------------------------------------------------------------

def _apply_force(inst: Instance, scenario: Scenario, file: str, log: ProblemLog, out: Applied) -> Instance:
    by_id = {s.id: s for s in inst.schemes}
    updates: dict[str, dict] = {}
    for i, sid in enumerate(scenario.force_in):
        s = by_id[sid]
        reason = qia_ineligibility(s, inst)
        if reason:
            log.warn(file, f"{sid} is barred by the QIA rules ({reason}): forcing it in leaves no plan "
                           f"unless its QIA is approved (schemes: {{{sid}: {{qia_approved: true}}}})",
                     key=f"force_in[{i}]")
            out.notes.append(f"{sid} is forced in but barred by the QIA rules: {reason}")
        if s.excluded:
            out.notes.append(f"{sid} was excluded; force_in makes it mandatory")
        updates[sid] = {"mandatory": True, "excluded": False}
    for i, sid in enumerate(scenario.force_out):
        if by_id[sid].mandatory:
            log.warn(file, f"{sid} is mandatory in the instance; force_out makes it optional and excludes it",
                     key=f"force_out[{i}]")
        updates[sid] = {"mandatory": False, "excluded": True}
    if scenario.force_in:
        out.changes.append(f"forced in: {', '.join(scenario.force_in)}")
    if scenario.force_out:
        out.changes.append(f"forced out: {', '.join(scenario.force_out)}")
    return inst.model_copy(update={"schemes": tuple(
        s.model_copy(update=updates[s.id]) if s.id in updates else s for s in inst.schemes)})


# the whole ----------------------------------------------------------------------------------

def _revalidate(base: Instance, new: Instance, file: str, log: ProblemLog,
                where: dict[tuple[str, int], str]) -> bool:
    """The changed instance must be as sound as the base: every new problem is the scenario's."""
    try:
        new = Instance.model_validate(new.model_dump())
    except ValidationError as exc:
        for err in exc.errors():
            log.error(file, "the changed instance is not valid: " + describe_error(err),
                      key=".".join(str(p) for p in err["loc"]))
        return False
    before, after = ProblemLog(), ProblemLog()
    validate_instance(base, before, SourceRows(), Gaps())
    validate_instance(new, after, SourceRows(), Gaps())
    seen = {(p.file, p.message, p.row, p.column, p.key) for p in before.problems}
    ok = True
    for p in after.problems:
        if (p.file, p.message, p.row, p.column, p.key) in seen:
            continue
        if p.file == "instance.yaml":
            key = _residual_key(p.key, where)
            text = f"with the scenario applied, instance.yaml would be invalid: {p.message}"
        else:
            key = "schemes"
            text = f"with the scenario applied, {p.where()}: {p.message}"
        if p.severity == "error":
            log.error(file, text, key=key)
            ok = False
        else:
            log.warn(file, text, key=key)
    return ok


def _residual_key(key: str | None, where: dict[tuple[str, int], str]) -> str:
    """An instance.yaml key path ("limits[2].metric") as the scenario wrote it."""
    if not key:
        return "context"
    match = re.match(r"^(\w+)\[(\d+)\](.*)$", key)
    if match and (match.group(1), int(match.group(2))) in where:
        return where[match.group(1), int(match.group(2))] + match.group(3)
    return f"context.{key}"
