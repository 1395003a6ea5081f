"""`cipopt replan`: re-optimise the rest of the year and the later years from a tracker's actuals.

The re-plan is an ordinary instance derived from the approved one (docs/replan.md), so the model,
the solver and the independent checker need nothing new: its years run from the as-at year;
schemes started are mandatory at the as-at year with the tracker's forecast as their current-year
values and their later years shifted to their true age; stopped ones are excluded; a new start in
the current year begins in the first remaining month and saves its full-year effect times the
remaining months' share (Scheme.start_year_saving); what was delivered and spent to date is a
constant, taken off the current year's targets and limits, so sunk costs do not count against the
remaining choice. The checker's own replan check (cipopt.check.actuals) recomputes the year's
outturn from the original instance and the tracker and must agree with what is reported here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cipopt.check.actuals import ActualsCheck, check_replan
from cipopt.coefficients import Coefficients, build_coefficients
from cipopt.pipeline import Planner, SolveOptions, SolveOutcome
from cipopt.schema.actuals import FORECAST, TO_DATE, Actuals, Month
from cipopt.schema.instance import BUILTIN_METRICS, COST_METRICS, SAVING_METRICS, Instance, ProfileRow, Scheme
from cipopt.solve.status import SolveStatus


@dataclass
class Approved:
    """The plan a re-plan is compared with: a run of the history, or none."""

    run_id: int | None
    plan: dict[str, int | None]
    instance_sha256: str | None = None


@dataclass
class Replan:
    instance: Instance
    actuals: Actuals
    derived: Instance
    outcome: SolveOutcome
    approved: Approved | None
    plan: dict[str, int | None] = field(default_factory=dict)  # scheme -> start year in the original instance
    schemes: pd.DataFrame | None = None
    months: pd.DataFrame | None = None
    outturn: pd.DataFrame | None = None
    check: ActualsCheck | None = None
    messages: list[str] = field(default_factory=list)

    @property
    def status(self) -> SolveStatus:
        return self.outcome.status

    def summary(self) -> dict[str, Any]:
        a = self.actuals
        out = self.outcome.summary()
        out.update({
            "command": "replan",
            "as_at": a.as_at.calendar,
            "as_at_year": a.as_at.year,
            "as_at_month": a.as_at.month,
            "remaining_share": a.remaining_share,
            "phasing": list(a.phasing),
            "actuals": a.source,
            "against_run": None if self.approved is None else self.approved.run_id,
            "approved_instance_sha256": self.instance.sha256(),
            "objective_note": f"net value of the remaining choice, discounted to {a.as_at.year}; "
                              "delivered and spent to date excluded",
            "replan_checker": None if self.check is None else ("accepted" if self.check.ok else "rejected"),
            "messages": list(self.outcome.messages) + list(self.messages),
        })
        if self.outturn is not None:
            out["outturn"] = self.outturn.to_dict(orient="records")
        if self.months is not None and self.approved is not None:
            done = self.months[self.months["month_number"] <= a.as_at.month]
            out["to_date"] = {"planned_saving": float(done["plan"].sum()), "delivered_saving": float(done["actual"].sum())}
        if self.schemes is not None:
            counts = self.schemes["change"].value_counts()
            out["changes"] = {str(k): int(v) for k, v in counts.items()}
        return out


# -- the derived instance ----------------------------------------------------------------------

def full_year_saving(instance: Instance, coef: Coefficients, s: int) -> float:
    """A scheme's full-year recurrent saving: recurrent_saving, or where profiles.csv gives the
    saving, its first full year (offset 1; offset 0 when the profile has nothing later)."""
    scheme = instance.schemes[s]
    profiled = any(p.scheme == scheme.id and p.metric in ("saving", "recurrent_saving") for p in instance.profiles)
    if not profiled:
        return scheme.recurrent_saving
    row = coef.profile("saving")[s]
    return float(row[1]) if len(row) > 1 and np.any(row[1:]) else float(row[0])


def _shifted(values: np.ndarray, age: int, horizon: int) -> np.ndarray:
    """Values by offset for a scheme `age` years old at the new first year."""
    out = np.zeros(horizon)
    n = max(0, min(horizon, len(values) - age))
    out[:n] = values[age:age + n]
    return out


def _share(instance: Instance, scheme, org: str | None, metric: str) -> float:
    if org is None:
        return 1.0
    rows = [sh for sh in instance.shares if sh.scheme == scheme.id]
    if metric in SAVING_METRICS or metric in COST_METRICS:
        if not rows:
            return 1.0 if scheme.org == org else 0.0
        column = "saving_share" if metric in SAVING_METRICS else "cost_share"
        return sum(getattr(r, column) for r in rows if r.org == org)
    return 1.0 if scheme.org == org else 0.0


def to_date(instance: Instance, actuals: Actuals, metric: str, org: str | None) -> float:
    """What the tracker says a metric reached to date this year, for `org` (plan values)."""
    column = {v: k for k, v in TO_DATE.items()}.get(metric)
    if column is None:
        return 0.0
    schemes = {s.id: s for s in instance.schemes}
    return sum(getattr(r, column) * _share(instance, schemes[r.scheme], org, metric) for r in actuals.rows)


def net_to_date(instance: Instance, actuals: Actuals, basis: str, org: str | None) -> float:
    """Net saving delivered to date this year (face value: it has happened) on a target's basis."""
    value = to_date(instance, actuals, "saving", org)
    if basis == "in_year":
        value += to_date(instance, actuals, "nonrecurrent_saving", org) - to_date(instance, actuals, "one_off_cost", org)
    return value


def derive_instance(instance: Instance, actuals: Actuals, coef: Coefficients | None = None) -> Instance:
    """The re-plan as an instance of its own, from the as-at year to the plan's end."""
    Y = actuals.as_at.year
    years = tuple(y for y in instance.years if y >= Y)
    horizon = len(years)
    R = actuals.remaining_share
    coef = coef or build_coefficients(instance)
    tracker = actuals.by_scheme
    metrics = set(BUILTIN_METRICS) | {("saving" if p.metric == "recurrent_saving" else p.metric) for p in instance.profiles}
    schemes, profiles = [], []
    started_ids = set()
    for i, s in enumerate(instance.schemes):
        row = tracker.get(s.id)
        status = row.status if row else "not_started"
        if status == "stopped":
            schemes.append(s.model_copy(update={"excluded": True, "mandatory": False}))
        elif row is not None and row.is_started:
            started_ids.add(s.id)
            age = Y - row.started.year
            current = {m: getattr(row, c) for c, m in FORECAST.items()}
            current.update({"running_cost": 0.0, "double_running_cost": 0.0})
            for metric in sorted(metrics):
                by_offset = _shifted(coef.profile(metric)[i], age, horizon)
                if metric in current:
                    by_offset[0] = current[metric]
                profiles.extend(ProfileRow(scheme=s.id, offset=k, metric=metric, value=float(v))
                                for k, v in enumerate(by_offset) if v != 0 or k == 0)
            # It has started: a fact, whatever its window or the QIA rules said (replan() warns).
            hard = instance.quality.hard_max_risk
            schemes.append(s.model_copy(update={
                "earliest_start": Y, "latest_start": Y, "mandatory": True, "excluded": False, "start_year_saving": {},
                "qia_approved": True, "qia_risk": s.qia_risk if hard is None else min(s.qia_risk, hard)}))
        else:
            lo = max(s.earliest_start if s.earliest_start is not None else instance.years[0], Y if R > 0 else Y + 1)
            update: dict[str, Any] = {"earliest_start": lo}
            if lo == Y:
                update["start_year_saving"] = {Y: full_year_saving(instance, coef, i) * R}
            schemes.append(s.model_copy(update=update))
    profiles = [p for p in instance.profiles if p.scheme not in started_ids] + profiles
    for b in actuals.bridges:  # active in the current year only: its QIA scores and metrics count then
        scores = {d: getattr(b, d) for d in ("safety", "effectiveness", "experience", "access")}
        schemes.append(Scheme(
            id=b.id, name=b.name or b.id, org=b.org, earliest_start=Y, latest_start=Y, confidence=b.confidence,
            nonrecurrent_saving=b.saving(actuals.as_at), one_off_cost=b.one_off_cost, qia_risk=b.qia_risk,
            qia_approved=b.qia_approved, metrics=dict(b.metrics), **scores))
        profiles.extend(ProfileRow(scheme=b.id, offset=0, metric=m, value=float(v))
                        for m, v in {**scores, **b.metrics}.items() if v)
        profiles.extend(ProfileRow(scheme=b.id, offset=0, metric=m, value=0.0)
                        for m, v in {**scores, **b.metrics}.items() if not v)

    def current_year(values: dict[int, float], constant: float) -> dict[int, float]:
        return {y: (v - constant if y == Y else v) for y, v in values.items() if y >= Y}

    targets = tuple(
        t.model_copy(update={"values": current_year(t.values, net_to_date(instance, actuals, t.basis, t.org))})
        for t in instance.targets)
    limits = tuple(
        lim.model_copy(update={"values": current_year(lim.values, to_date(instance, actuals, lim.metric, lim.org))})
        for lim in instance.limits)
    fair = []
    for f in instance.fair_shares:
        if f.years is None:
            fair.append(f)
        elif any(y >= Y for y in f.years):
            fair.append(f.model_copy(update={"years": tuple(y for y in f.years if y >= Y)}))
    quality = instance.quality
    return instance.model_copy(update={
        "name": f"{instance.name} (re-plan at {actuals.as_at.calendar})",
        "years": years, "schemes": tuple(schemes), "profiles": tuple(profiles), "targets": targets,
        "limits": limits, "fair_shares": tuple(fair), "quality": quality,
        "finance": derive_finance(instance, actuals),
    })


# Parts of `finance` a re-plan does not carry yet: each would need the tracker's year restated in
# its own terms (income moved to date, charges on capital spent to date, a bridge's end re-aged).
NOT_REPLANNED = ("income_flows", "non_cash_releasing", "capital_charges", "cost_baselines", "scheme_ends",
                 "appraisal_years", "score_scale")


def finance_not_replanned(instance: Instance) -> list[str]:
    """The keys of `finance` the instance uses that `cipopt replan` cannot carry (docs/replan.md)."""
    fin = instance.finance
    if fin is None:
        return []
    return [f"finance.{k}" for k in NOT_REPLANNED if getattr(fin, k) not in (None, (), [])]


def derive_finance(instance: Instance, actuals: Actuals):
    """The bottom line from the as-at year: years before it dropped; the current year's control
    totals less the in-year net saving delivered to date (as the targets are), so the surplus the
    plan still has to find is what remains; a started scheme's disposal `offset` re-aged (a sale
    completed before the as-at year is gone)."""
    fin = instance.finance
    if fin is None:
        return None
    Y = actuals.as_at.year
    tracker = actuals.by_scheme

    def later(values: dict) -> dict:
        return {y: v for y, v in values.items() if y >= Y}

    organisations = tuple(o.model_copy(update={"do_nothing": later(o.do_nothing)}) for o in fin.organisations)
    control_totals = tuple(
        c.model_copy(update={"values": {y: (v - net_to_date(instance, actuals, "in_year", c.org) if y == Y else v)
                                        for y, v in later(c.values).items()}})
        for c in fin.control_totals)
    funds = tuple(f.model_copy(update={"values": later(f.values)}) for f in fin.incentive_funds)
    receipts = []
    for r in fin.capital_receipts:
        row = tracker.get(r.scheme)
        age = Y - row.started.year if row is not None and row.is_started else 0
        if r.offset >= age:
            receipts.append(r.model_copy(update={"offset": r.offset - age}))
    return fin.model_copy(update={"organisations": organisations, "control_totals": control_totals,
                                  "incentive_funds": funds, "capital_receipts": tuple(receipts)})


# -- the re-plan ---------------------------------------------------------------------------------

def replan(instance: Instance, actuals: Actuals, approved: Approved | None = None,
           options: SolveOptions = SolveOptions(), given: dict[str, int | None] | None = None) -> Replan:
    """The best re-plan; or, with `given` (scheme or bridge id -> start year, started schemes at
    their actual start year), that re-plan checked and evaluated instead of optimised."""
    coef = build_coefficients(instance)
    derived = derive_instance(instance, actuals, coef)
    unsupported = finance_not_replanned(instance)
    if unsupported:
        return Replan(instance=instance, actuals=actuals, derived=derived, approved=approved,
                      outcome=SolveOutcome(instance=derived, status=SolveStatus.ERROR, messages=[
                          f"cipopt replan does not carry {', '.join(unsupported)} yet (docs/replan.md): "
                          "re-plan without them or solve the instance afresh"]))
    planner = Planner(derived, verbose=options.verbose)
    if given is None:
        outcome = planner.solve(options)
    else:
        broken = check_replan(instance, actuals, given, None, None).problems
        if broken:
            outcome = SolveOutcome(instance=derived, status=SolveStatus.ERROR,
                                   messages=["the given re-plan breaks rules:", *broken])
        else:
            started = {r.scheme for r in actuals.rows if r.is_started}
            Y = actuals.as_at.year
            outcome = planner.evaluate({s.id: (Y if s.id in started else given.get(s.id)) for s in derived.schemes})
            outcome = dataclasses.replace(outcome, messages=[
                "a given re-plan, evaluated and checked (not optimised)" if m.startswith("a given plan")
                else m for m in outcome.messages])
    result = Replan(instance=instance, actuals=actuals, derived=derived, outcome=outcome, approved=approved)
    for r in actuals.rows:
        if r.is_started and coef.ineligible.get(r.scheme):
            result.messages.append(f"warning: scheme {r.scheme} has started although the QIA rules bar it "
                                   f"({coef.ineligible[r.scheme]}); it is kept as started")
    if outcome.plan is None:
        Y = actuals.as_at.year
        for t in instance.targets:
            done = net_to_date(instance, actuals, t.basis, t.org)
            if Y in t.values and done:
                result.messages.append(f"note: in {Y} target {t.id}'s figures above are what remains after the "
                                       f"{done:,.6g} delivered to date (the year requires {t.values[Y]:,.6g})")
        return result
    tracker = actuals.by_scheme
    plan = {}
    for s in instance.schemes:
        row = tracker.get(s.id)
        plan[s.id] = row.started.year if row is not None and row.is_started else outcome.plan.get(s.id)
    for b in actuals.bridges:
        plan[b.id] = outcome.plan.get(b.id)
    result.plan = plan
    result.outturn = outturn_table(instance, actuals, planner.coef, outcome)
    result.months = month_table(instance, actuals, plan, approved, coef, planner.coef)
    result.schemes = scheme_table(instance, actuals, plan, approved, result.months)
    result.check = check_replan(instance, actuals, plan, outcome.objective, result.outturn)
    if not result.check.ok:
        result.outcome = dataclasses.replace(outcome, status=SolveStatus.ERROR)
        result.messages.append("internal error: the independent checker rejected the re-plan")
        result.messages.extend(result.check.problems)
    return result


def outturn_table(instance: Instance, actuals: Actuals, coef: Coefficients, outcome: SolveOutcome) -> pd.DataFrame:
    """Per target, the current year: required, delivered to date, the started schemes' forecast, the
    gap, what the recovery (new starts) adds recurrently and non-recurrently, the forecast outturn."""
    Y = actuals.as_at.year
    derived = coef.instance  # the derived instance's coefficients
    x = np.zeros(coef.n_pairs)
    for p, (s, t) in enumerate(zip(coef.pair_scheme, coef.pair_start)):
        if outcome.plan.get(coef.scheme_ids[s]) == int(coef.years[t]):
            x[p] = 1.0
    started = {r.scheme for r in actuals.rows if r.is_started}
    is_new = np.array([coef.scheme_ids[s] not in started for s in coef.pair_scheme], dtype=float)
    expected = derived.objective.counts_confidence
    rows = []
    for t in instance.targets:
        if Y not in t.values:
            continue
        def part(metric: str, conf: bool, mask: np.ndarray) -> float:
            return float((coef.matrix(metric, t.org, expected and conf) @ (x * mask))[0])
        def parts(mask: np.ndarray) -> tuple[float, float]:
            rec = part("saving", True, mask) - part("running_cost", False, mask)
            non = (part("nonrecurrent_saving", True, mask) - part("one_off_cost", False, mask)
                   - part("double_running_cost", False, mask))
            return rec, (non if t.basis == "in_year" else 0.0)
        done = net_to_date(instance, actuals, t.basis, t.org)
        committed = sum(parts(1.0 - is_new))
        rec, non = parts(is_new)
        required = t.values[Y]
        gap = required - done - committed
        outturn = done + committed + rec + non
        closed_rec = min(max(gap, 0.0), max(rec, 0.0))  # recurrent first: the board prefers it
        closed_non = min(max(gap, 0.0) - closed_rec, max(non, 0.0))
        rows.append({"target": t.id, "org": t.org or "all", "basis": t.basis, "year": Y, "required": required,
                     "delivered_to_date": done, "forecast_started": committed, "gap_before_recovery": gap,
                     "recovery_recurrent": rec, "recovery_nonrecurrent": non, "gap_closed_recurrent": closed_rec,
                     "gap_closed_nonrecurrent": closed_non, "forecast_outturn": outturn,
                     "shortfall": max(0.0, required - outturn)})
    fin = instance.finance
    for ct in (fin.control_totals if fin is not None else ()):
        if Y not in ct.values:
            continue
        # in savings terms, as a board reads the year: the in-year net saving the control total needs is
        # the control total less the do-nothing surplus and this year's gains on disposal
        surplus = sum(year.income - year.pay - year.non_pay - year.capital_charges
                      for p in fin.organisations if ct.org in (None, p.org) for y, year in p.do_nothing.items() if y == Y)
        gains = sum(r.value - r.book_value for r in derived.finance.capital_receipts if r.offset == 0
                    and outcome.plan.get(r.scheme) == Y
                    and (ct.org is None or derived.schemes[coef.scheme_index[r.scheme]].org == ct.org))
        t = ct.model_copy(update={"values": {Y: ct.values[Y] - surplus - gains}})
        rows.append(_saving_row(instance, actuals, coef, x, is_new, expected, t, "in_year", "control total"))
    return pd.DataFrame(rows, columns=["target", "org", "basis", "year", "required", "delivered_to_date",
                                       "forecast_started", "gap_before_recovery", "recovery_recurrent",
                                       "recovery_nonrecurrent", "gap_closed_recurrent", "gap_closed_nonrecurrent",
                                       "forecast_outturn", "shortfall"])


def _saving_row(instance, actuals, coef, x, is_new, expected, t, basis: str, label: str) -> dict:
    """The current year's outturn row of a requirement in savings terms (a control total's)."""
    Y = actuals.as_at.year

    def part(metric: str, conf: bool, mask) -> float:
        return float((coef.matrix(metric, t.org, expected and conf) @ (x * mask))[0])

    def parts(mask) -> tuple[float, float]:
        rec = part("saving", True, mask) - part("running_cost", False, mask)
        return rec, (part("nonrecurrent_saving", True, mask) - part("one_off_cost", False, mask)
                     - part("double_running_cost", False, mask))
    done = net_to_date(instance, actuals, basis, t.org)
    committed = sum(parts(1.0 - is_new))
    rec, non = parts(is_new)
    required = t.values[Y]
    gap = required - done - committed
    outturn = done + committed + rec + non
    closed_rec = min(max(gap, 0.0), max(rec, 0.0))
    return {"target": t.id, "org": t.org or "all", "basis": label, "year": Y, "required": required,
            "delivered_to_date": done, "forecast_started": committed, "gap_before_recovery": gap,
            "recovery_recurrent": rec, "recovery_nonrecurrent": non, "gap_closed_recurrent": closed_rec,
            "gap_closed_nonrecurrent": min(max(gap, 0.0) - closed_rec, max(non, 0.0)), "forecast_outturn": outturn,
            "shortfall": max(0.0, required - outturn)}


def _change(status: str, approved: int | None, start: int | None, Y: int, have_approved: bool) -> str:
    if status == "stopped":
        return "stopped"
    if status in ("in_delivery", "complete"):
        if not have_approved or approved == start:
            return "started as approved" if have_approved else "started"
        return "started, not in the approved plan" if approved is None else f"started in {start}, approved for {approved}"
    if start is None:
        return "dropped" if have_approved and approved is not None else "not selected"
    if start == Y:
        return "recovery: new start this year"
    if not have_approved:
        return "later start"
    if approved is None:
        return "added"
    return "as approved" if approved == start else f"moved from {approved} to {start}"


def scheme_table(instance: Instance, actuals: Actuals, plan: dict, approved: Approved | None,
                 months: pd.DataFrame) -> pd.DataFrame:
    """Every scheme and bridge: status, RAG, approved and re-planned start, the change, and the year's
    savings: the approved plan's, delivered to date, forecast for the remaining months, forecast outturn."""
    Y = actuals.as_at.year
    tracker = actuals.by_scheme
    m0 = Month(year=Y, month=actuals.as_at.month + 1).calendar if actuals.as_at.month < 12 else ""
    rows = []
    for s in instance.schemes:
        row = tracker.get(s.id)
        status = row.status if row else "not_started"
        a = approved.plan.get(s.id) if approved else None
        start = plan.get(s.id)
        month = row.started.calendar if row is not None and row.started is not None and row.is_started else (
            m0 if start == Y else "")
        rows.append({"scheme": s.id, "name": s.name or s.id, "status": status, "rag": row.rag if row else "",
                     "approved_start_year": a, "start_year": start, "start_month": month,
                     "change": _change(status, a, start, Y, approved is not None)})
    for b in actuals.bridges:
        used = plan.get(b.id) == Y
        rows.append({"scheme": b.id, "name": b.name or b.id, "status": "bridge", "rag": "", "approved_start_year": None,
                     "start_year": Y if used else None, "start_month": m0 if used else "",
                     "change": f"recovery: bridge until {b.until.calendar}" if used else "bridge not used"})
    frame = pd.DataFrame(rows)
    for c in ("approved_start_year", "start_year"):
        frame[c] = frame[c].astype("Int64")
    sums = months.groupby("scheme")[["plan", "actual", "forecast"]].sum(min_count=1)
    frame["plan_year"] = frame["scheme"].map(sums["plan"]).fillna(0.0) if approved is not None else np.nan
    frame["actual_to_date"] = frame["scheme"].map(sums["actual"]).fillna(0.0)
    frame["forecast_remaining"] = frame["scheme"].map(sums["forecast"]).fillna(0.0)
    frame["forecast_year"] = frame["actual_to_date"] + frame["forecast_remaining"]
    return frame


def month_table(instance: Instance, actuals: Actuals, plan: dict, approved: Approved | None,
                coef: Coefficients, dcoef: Coefficients) -> pd.DataFrame:
    """Plan, actual and forecast savings (recurrent + non-recurrent) by scheme and month of the
    current year. The approved plan's year amount and the tracker's totals are spread over their
    months by the phasing (docs/replan.md)."""
    Y, now = actuals.as_at.year, actuals.as_at.month
    w = np.array(actuals.phasing)
    first = instance.years[0]
    tracker = actuals.by_scheme
    derived = dcoef.instance
    rows = []

    def spread(total: float, months: range) -> dict[int, float]:
        share = sum(w[m - 1] for m in months)
        return {m: (total * w[m - 1] / share if share > 0 else 0.0) for m in months}

    for i, s in enumerate(instance.schemes):
        row = tracker.get(s.id)
        a = approved.plan.get(s.id) if approved else None
        planned: dict[int, float] = {}
        if approved is not None and a is not None and first <= a <= Y:
            amount = sum(float(coef.profile(m)[i][Y - a]) for m in SAVING_METRICS)
            planned = spread(amount, range(1, 13))  # the plan's year amount, phased over the year
        actual: dict[int, float] = {}
        forecast: dict[int, float] = {}
        if row is not None and row.status != "not_started":
            begun = row.started.month if row.started is not None and row.started.year == Y else 1
            actual = spread(row.saving_to_date + row.nonrecurrent_to_date, range(begun, now + 1))
            if row.is_started and now < 12:
                forecast = spread(row.forecast_saving + row.forecast_nonrecurrent, range(now + 1, 13))
        elif plan.get(s.id) == Y and now < 12:
            d = dcoef.scheme_index[s.id]
            amount = float(dcoef.profile("nonrecurrent_saving")[d][0]) + derived.schemes[d].start_year_saving.get(Y, 0.0)
            forecast = spread(amount, range(now + 1, 13))
        if not (planned or actual or forecast):
            continue
        for m in range(1, 13):
            rows.append({"scheme": s.id, "month": Month(year=Y, month=m).calendar, "month_number": m,
                         "plan": planned.get(m, 0.0) if approved is not None else None,
                         "actual": actual.get(m, 0.0) if m <= now else None,
                         "forecast": forecast.get(m, 0.0) if m > now else None})
    for b in actuals.bridges:
        if plan.get(b.id) != Y:
            continue
        for m in range(1, 13):
            rows.append({"scheme": b.id, "month": Month(year=Y, month=m).calendar, "month_number": m,
                         "plan": 0.0 if approved is not None else None, "actual": 0.0 if m <= now else None,
                         "forecast": (b.monthly_saving if m <= b.until.month else 0.0) if m > now else None})
    return pd.DataFrame(rows, columns=["scheme", "month", "month_number", "plan", "actual", "forecast"])
