"""instance.yaml as read: unknown keys warned at any depth, lenient readings (a year written
"2025/26", a number written "5%") warned, and what pydantic refuses cut away so that the rest is
still checked (`Gaps` says what was cut)."""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ValidationError

from cipopt.io.folder import CONTEXT_FILE
from cipopt.io.messages import describe_error, fields_of, loc_to_key, normalise_header, suggestion_text
from cipopt.io.tables import TABLES
from cipopt.io.text import parse_number, parse_year
from cipopt.io.yaml_files import load_yaml
from cipopt.schema.finance import (
    CapitalReceipt, ControlTotal, CostBaseline, DoNothingYear, Finance, IncentiveFund, IncomeFlow, OrgFinance, SchemeEnd,
)
from cipopt.schema.instance import (
    Criterion, FairShare, Instance, Limit, Objective, Organisation, Quality, RiskGroup, SolverOptions, Target,
)
from cipopt.schema.problems import ProblemLog
from cipopt.schema.validate import Gaps, canonical_metric

FORMAT_VERSION = 1

# Nested models of instance.yaml, so unknown keys can be reported (as warnings) at any depth.
_CONTEXT_NESTED: dict[str, tuple[type[BaseModel], bool]] = {
    "organisations": (Organisation, True), "targets": (Target, True), "limits": (Limit, True),
    "quality": (Quality, False), "objective": (Objective, False),
    "solver": (SolverOptions, False), "criteria": (Criterion, True), "fair_shares": (FairShare, True),
    "risk_groups": (RiskGroup, True), "finance": (Finance, False),
}
# The parts of `finance` (docs/finance.md), each list item's unknown keys warned like the rest.
_FINANCE_LISTS = {"organisations": OrgFinance, "control_totals": ControlTotal, "incentive_funds": IncentiveFund,
                  "income_flows": IncomeFlow, "capital_receipts": CapitalReceipt, "cost_baselines": CostBaseline,
                  "scheme_ends": SchemeEnd}
_LIST_KEYS = {k for k, (_, is_list) in _CONTEXT_NESTED.items() if is_list}
_TABLE_FIELDS = set(TABLES)


def _model_at(loc: tuple) -> type[BaseModel]:
    """The model whose field a context error location names."""
    if loc and loc[0] in _CONTEXT_NESTED and len(loc) > 1:
        return _CONTEXT_NESTED[loc[0]][0]
    return Instance


def strip_unknown_keys(
    model: type[BaseModel], data: Any, path: str, label: str, log: ProblemLog
) -> Any:
    """A copy without unknown keys (each a warning, at any depth) and without empty values."""
    if not isinstance(data, dict):
        return data
    known = fields_of(model)
    out = {}
    for key, value in data.items():
        key_path = f"{path}.{key}" if path else str(key)
        if key not in known:
            if not (model is Instance and key in _TABLE_FIELDS):
                hint = suggestion_text(str(key), known)
                log.warn(label, f"unknown key {key!r}{hint} is ignored", key=key_path)
            else:
                log.warn(label, f"{key!r} is a table: give it as {key}.csv; the key is ignored", key=key_path)
            continue
        if value is None:  # `key:` with nothing after it: the key's default, as an empty cell
            continue
        if model is Instance and key == "finance" and isinstance(value, str):  # a workbook's one cell
            ok, value = load_yaml(value, f"{label} finance", log)
            if not ok:
                continue
        if model is Instance and key in _CONTEXT_NESTED:
            nested, is_list = _CONTEXT_NESTED[key]
            if is_list and isinstance(value, list):
                value = [
                    strip_unknown_keys(nested, item, f"{key_path}[{i}]", label, log)
                    for i, item in enumerate(value)
                ]
            elif not is_list:
                value = strip_unknown_keys(nested, value, key_path, label, log)
        if model is Finance and key in _FINANCE_LISTS and isinstance(value, list):
            value = [strip_unknown_keys(_FINANCE_LISTS[key], item, f"{key_path}[{i}]", label, log)
                     for i, item in enumerate(value)]
        if model is OrgFinance and key == "do_nothing" and isinstance(value, dict):
            value = {y: strip_unknown_keys(DoNothingYear, v, f"{key_path}.{y}", label, log) for y, v in value.items()}
        out[key] = value
    return out


class Context:
    """instance.yaml read leniently, checked, and cut back to what is valid (with `Gaps`)."""

    def __init__(self, data: dict[str, Any], label: str, log: ProblemLog, gaps: Gaps):
        self.label, self.log, self.gaps = label, log, gaps
        self.data = data

    def warn(self, message: str, key: str) -> None:
        self.log.warn(self.label, message, key=key)

    def error(self, message: str, key: str) -> None:
        self.log.error(self.label, message, key=key)

    # lenient readings, each warned ------------------------------------------------------------
    def _lenient(self, parse, value: Any, key: str) -> Any:
        """A text value read by `parse` (parse_number, parse_year), warned as it was read; any
        other value, or text `parse` cannot read, is left for pydantic to judge."""
        if isinstance(value, str):
            read, warning = parse(value)
            if read is not None:
                if warning:
                    self.warn(warning, key)
                return read
        return value

    def _number(self, value: Any, key: str) -> Any:
        return self._lenient(parse_number, value, key)

    def _year(self, value: Any, key: str) -> Any:
        return self._lenient(parse_year, value, key)

    def _text(self, value: Any) -> Any:
        """Ids and names written as numbers (id: 2025) are text."""
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value) if not isinstance(value, float) or not value.is_integer() else str(int(value))
        return value

    def _year_values(self, values: Any, key: str) -> Any:
        """values: {2025: 6000} with years as numbers or strings; a year given twice is an error."""
        if not isinstance(values, dict):
            return values
        out: dict[Any, Any] = {}
        first_key: dict[Any, Any] = {}
        for year, amount in values.items():
            y = self._year(year, f"{key}.{year}")
            if isinstance(y, float) and y.is_integer():
                y = int(y)
            if isinstance(y, str) and y.strip().lstrip("+-").isdigit():
                y = int(y)
            if y in first_key:
                self.error(f"year {y} is given twice ({first_key[y]!r} and {year!r})", f"{key}.{year}")
                continue
            first_key[y] = year
            out[y] = self._number(amount, f"{key}.{year}")
        return out

    def lenient(self) -> None:
        d = self.data
        if "years" in d and isinstance(d["years"], list):
            d["years"] = [self._year(y, f"years[{i}]") for i, y in enumerate(d["years"])]
        if "discount_rate" in d:
            d["discount_rate"] = self._number(d["discount_rate"], "discount_rate")
        for key in ("name", "money_unit"):
            if key in d:
                d[key] = self._text(d[key])
        if isinstance(d.get("organisations"), list):
            d["organisations"] = [
                {"id": self._text(o)} if isinstance(o, (str, int)) and not isinstance(o, bool) else o
                for o in d["organisations"]
            ]
            for o in d["organisations"]:
                if isinstance(o, dict) and "id" in o:
                    o["id"] = self._text(o["id"])
        for kind in ("targets", "limits"):
            for i, rule in enumerate(d.get(kind) or [] if isinstance(d.get(kind), list) else []):
                if not isinstance(rule, dict):
                    continue
                key = f"{kind}[{i}]"
                for name in ("id", "org"):
                    if name in rule:
                        rule[name] = self._text(rule[name])
                if "values" in rule:
                    rule["values"] = self._year_values(rule["values"], f"{key}.values")
                if "shortfall_penalty" in rule:
                    rule["shortfall_penalty"] = self._number(rule["shortfall_penalty"], f"{key}.shortfall_penalty")
                if kind == "limits" and isinstance(rule.get("metric"), str):
                    rule["metric"] = canonical_metric(normalise_header(rule["metric"]))
        quality = d.get("quality")
        if isinstance(quality, dict):
            if isinstance(quality.get("domains"), list):
                quality["domains"] = [normalise_header(x) if isinstance(x, str) else x for x in quality["domains"]]
            for name in ("scheme_min", "portfolio_min"):
                if isinstance(quality.get(name), dict):
                    quality[name] = {
                        (normalise_header(k) if isinstance(k, str) else k): self._number(v, f"quality.{name}.{k}")
                        for k, v in quality[name].items()
                    }
            for name in ("max_risk", "hard_max_risk"):
                if name in quality:
                    quality[name] = self._number(quality[name], f"quality.{name}")
        solver = d.get("solver")
        if isinstance(solver, dict):
            for name in ("time_limit", "mip_gap"):
                if name in solver:
                    solver[name] = self._number(solver[name], f"solver.{name}")
        if isinstance(d.get("criteria"), list):
            for i, c in enumerate(d["criteria"]):
                if isinstance(c, dict):
                    if "id" in c:
                        c["id"] = self._text(c["id"])
                    for name in ("weight", "weight_min", "weight_max"):
                        if name in c:
                            c[name] = self._number(c[name], f"criteria[{i}].{name}")
        if isinstance(d.get("criteria_order"), list):
            d["criteria_order"] = [self._text(c) for c in d["criteria_order"]]
        for i, rule in enumerate(d["fair_shares"] if isinstance(d.get("fair_shares"), list) else []):
            if isinstance(rule, dict):
                for name in ("id", "org", "sector"):
                    if name in rule:
                        rule[name] = self._text(rule[name])
                if isinstance(rule.get("metric"), str):
                    rule["metric"] = canonical_metric(normalise_header(rule["metric"]))
                if "min_share" in rule:
                    rule["min_share"] = self._number(rule["min_share"], f"fair_shares[{i}].min_share")
                if isinstance(rule.get("years"), list):
                    rule["years"] = [self._year(y, f"fair_shares[{i}].years[{j}]") for j, y in enumerate(rule["years"])]
        if isinstance(d.get("risk_groups"), list):
            for i, g in enumerate(d["risk_groups"]):
                if isinstance(g, dict):
                    if "id" in g:
                        g["id"] = self._text(g["id"])
                    if "correlation" in g:
                        g["correlation"] = self._number(g["correlation"], f"risk_groups[{i}].correlation")
        objective = d.get("objective")
        if isinstance(objective, dict):
            for name in ("alpha", "cvar_max", "cvar_penalty", "chance_probability"):
                if name in objective:
                    objective[name] = self._number(objective[name], f"objective.{name}")
            if "chance_target" in objective:
                objective["chance_target"] = self._text(objective["chance_target"])

    # validation with recovery ------------------------------------------------------------------
    def validate(self) -> dict[str, Any]:
        """The valid part of the context; every refused key or list item logged once."""
        d = self.data
        if "years" not in d:
            self.error("the plan years are required, e.g. years: [2025, 2026, 2027]", "years")
            self.gaps.years = True
            d["years"] = [2000]  # a placeholder so the rest can be checked; never leaves this module
        bad_numbers = _non_finite(d, ())
        for loc, value in bad_numbers:
            self.error(f"{value!r} is not a finite number", loc_to_key(loc))
        self._drop_at([loc for loc, _ in bad_numbers])
        for attempt in range(5):
            try:
                Instance.model_validate(d)
                return d
            except ValidationError as exc:
                errors = exc.errors()
            if attempt == 0:
                for err in errors:
                    self.error(describe_error(err, model=_model_at(err["loc"])), loc_to_key(err["loc"]))
            self._drop_at([err["loc"] for err in errors])
        return d

    def _drop_at(self, locs: list[tuple]) -> None:
        """Leave out what each location refused: a list item where possible, else its top key."""
        drops: dict[Any, set[int] | None] = {}
        for loc in locs:
            top = loc[0] if loc else None
            if top in _LIST_KEYS and len(loc) > 1 and isinstance(loc[1], int):
                if drops.get(top, set()) is not None:
                    drops.setdefault(top, set()).add(loc[1])
            else:
                drops[top] = None
        for top, items in drops.items():
            self._drop(top, items)

    def _drop(self, top: Any, items: set[int] | None) -> None:
        d = self.data
        if items is None:
            d.pop(top, None)
            if top == "years":
                self.gaps.years = True
                d["years"] = [2000]
            elif top == "organisations":
                self.gaps.organisations = True
            elif top in ("criteria", "criteria_order"):
                self.gaps.criteria = True
            elif top == "quality":
                self.gaps.quality = True
            elif top == "objective":
                self.gaps.objective = True
            elif top == "risk_groups":
                self.gaps.risk_groups = True
            return
        kept = []
        for i, item in enumerate(d[top]):
            if i not in items:
                kept.append(item)
                continue
            ident = item.get("id") if isinstance(item, dict) else None
            if top == "organisations":
                if isinstance(ident, str):
                    self.gaps.rejected_organisations.add(ident)
                else:
                    self.gaps.organisations = True
            elif top == "criteria":
                if isinstance(ident, str):
                    self.gaps.rejected_criteria.add(ident)
                else:
                    self.gaps.criteria = True
            elif top == "risk_groups":
                self.gaps.risk_groups = True
        d[top] = kept


def _non_finite(value: Any, loc: tuple) -> list[tuple[tuple, float]]:
    """Locations of NaN and infinite numbers (YAML .nan, .inf), which no rule can use."""
    if isinstance(value, float) and not math.isfinite(value):
        return [(loc, value)]
    if isinstance(value, dict):
        return [hit for k, v in value.items() for hit in _non_finite(v, loc + (k,))]
    if isinstance(value, list):
        return [hit for i, v in enumerate(value) for hit in _non_finite(v, loc + (i,))]
    return []


def check_format_version(context: dict[str, Any], label: str, log: ProblemLog) -> bool:
    """False (with a clear message) for any version but 1: its meaning may differ from version 1."""
    if "format_version" not in context:
        return True
    version = context["format_version"]
    number = version
    if isinstance(version, str):
        number = parse_number(version)[0]
    if isinstance(number, (int, float)) and not isinstance(number, bool) and number == FORMAT_VERSION:
        context["format_version"] = FORMAT_VERSION
        return True
    log.error(label, f"format version {version!r} is not supported: this cipopt reads format version "
                     f"{FORMAT_VERSION} (write format_version: 1)", key="format_version")
    return False


def referenced_metrics(context: dict[str, Any], where: str = CONTEXT_FILE) -> dict[str, str]:
    """Columns that must be numeric because a rule refers to them, with the rule in words."""
    names: dict[str, str] = {}
    limits = context.get("limits")
    for limit in limits if isinstance(limits, list) else []:
        if isinstance(limit, dict) and isinstance(limit.get("metric"), str):
            name = normalise_header(limit["metric"])
            names.setdefault(name, f"limit {limit.get('id')!r} of {where} counts it")
    quality = context.get("quality") or {}
    if isinstance(quality, dict):
        domains = quality.get("domains")
        for d in domains if isinstance(domains, list) else []:
            names.setdefault(normalise_header(str(d)), f"it is a quality domain in {where}")
    return names


def first_org(context: dict[str, Any]) -> str:
    """schemes.csv `org` defaults to the first organisation (or "trust" when none are listed)."""
    orgs = context.get("organisations")
    if isinstance(orgs, (list, tuple)) and orgs:
        first = orgs[0]
        ident = first.get("id") if isinstance(first, dict) else getattr(first, "id", None)
        if isinstance(ident, str) and ident:
            return ident
    return "trust"
