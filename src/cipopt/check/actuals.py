"""The checker's own reading of a re-plan (docs/replan.md): from the approved instance, the tracker
and the re-plan's start years alone, recompute the current year's forecast outturn per target, the
current year's limits, the recovery's recurrent and non-recurrent parts and the re-plan's objective,
and say where the re-plan breaks a rule of re-planning or reports another figure.

It shares nothing with the derived instance the optimiser solves (cipopt.analysis.replan): it works
on the original instance's plan figures (PlanFigures) and overwrites the current year with the
tracker's figures itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cipopt.check.checker import tolerance
from cipopt.check.figures import NOT_SELECTED, PlanFigures
from cipopt.schema.actuals import TO_DATE, Actuals
from cipopt.schema.instance import Instance

OUTTURN_COLUMNS = ("delivered_to_date", "forecast_started", "gap_before_recovery", "recovery_recurrent",
                   "recovery_nonrecurrent", "gap_closed_recurrent", "gap_closed_nonrecurrent", "forecast_outturn",
                   "shortfall")


@dataclass
class ActualsCheck:
    problems: list[str] = field(default_factory=list)
    objective: float | None = None
    outturn: pd.DataFrame | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def _full_year(instance: Instance, scheme) -> float:
    """The full-year saving: recurrent_saving, or a saving profile's offset 1 (offset 0 if alone)."""
    rows = {p.offset: p.value for p in instance.profiles
            if p.scheme == scheme.id and p.metric in ("saving", "recurrent_saving") and p.offset < len(instance.years)}
    if not rows and not any(p.scheme == scheme.id and p.metric in ("saving", "recurrent_saving")
                            for p in instance.profiles):
        return scheme.recurrent_saving
    later = {k: v for k, v in rows.items() if k >= 1 and v}
    return rows.get(1, 0.0) if later else rows.get(0, 0.0)


class ReplanFigures:
    """Plan values of the re-plan's years (as-at year on): the original instance's figures with the
    current year's column replaced by the tracker (started) and the month-phased start (new)."""

    def __init__(self, instance: Instance, actuals: Actuals, plan: dict[str, int | None]):
        self.instance, self.actuals = instance, actuals
        Y = actuals.as_at.year
        tracker = actuals.by_scheme
        starts = np.array([NOT_SELECTED if plan.get(s.id) is None else int(plan[s.id]) for s in instance.schemes],
                          dtype=np.int64)
        self.fig = PlanFigures(instance, starts)
        self.columns = np.flatnonzero(self.fig.years >= Y)
        self.years = self.fig.years[self.columns]
        self.current = int(np.flatnonzero(self.fig.years == Y)[0])
        self.started = np.array([s.id in tracker and tracker[s.id].is_started for s in instance.schemes])
        self.new_now = (starts == Y) & ~self.started
        remaining = sum(actuals.phasing[actuals.as_at.month:])
        self.bridges = [b for b in actuals.bridges if plan.get(b.id) == Y]
        self.replaced: dict[str, np.ndarray] = {}
        by_tracker = {"saving": "forecast_saving", "nonrecurrent_saving": "forecast_nonrecurrent",
                      "one_off_cost": "forecast_cost", "capital_cost": "forecast_capital"}
        for metric in ("saving", "nonrecurrent_saving", "one_off_cost", "capital_cost", "running_cost",
                       "double_running_cost"):
            now = self.fig.metric(metric)[:, self.current].copy()
            for i, s in enumerate(instance.schemes):
                if self.started[i]:
                    now[i] = getattr(tracker[s.id], by_tracker[metric]) if metric in by_tracker else 0.0
                elif self.new_now[i] and metric == "saving":
                    now[i] = _full_year(instance, s) * remaining
            self.replaced[metric] = now

    def values(self, metric: str) -> np.ndarray:
        """Schemes x re-plan years."""
        out = np.array(self.fig.metric(metric), dtype=float)
        if metric in self.replaced:
            out[:, self.current] = self.replaced[metric]
        return out[:, self.columns]

    def total(self, metric: str, org: str | None, expected: bool = False, rows=None) -> np.ndarray:
        weight = self.fig.org_weight(metric, org)
        if expected:
            weight = weight * self.fig.confidence()
        if rows is not None:
            weight = weight * rows
        return weight @ self.values(metric)

    def net(self, basis: str, org: str | None, rows=None, bridges: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """(recurrent part, non-recurrent part) of the net saving per re-plan year."""
        rec = self.total("saving", org, True, rows) - self.total("running_cost", org, rows=rows)
        non = (self.total("nonrecurrent_saving", org, True, rows) - self.total("one_off_cost", org, rows=rows)
               - self.total("double_running_cost", org, rows=rows))
        if bridges:
            non[0] += (self.bridge_total("nonrecurrent_saving", org, True) - self.bridge_total("one_off_cost", org))
        return rec, (non if basis == "in_year" else np.zeros_like(non))

    def bridge_total(self, metric: str, org: str | None, expected: bool = False) -> float:
        """The current year's sum over the bridges used (a bridge holds `monthly_saving` each month to its end)."""
        counts = self.instance.objective.counts_confidence and expected
        out = 0.0
        for b in self.bridges:
            if org is not None and b.org != org:
                continue
            value = {"nonrecurrent_saving": b.monthly_saving * max(0, b.until.month - self.actuals.as_at.month),
                     "one_off_cost": b.one_off_cost}.get(metric, b.metrics.get(metric, 0.0))
            out += value * (b.confidence if counts else 1.0)
        return out

    def delivered(self, basis: str, org: str | None) -> float:
        """The net saving delivered to date on a basis: the savings, and for in-year (a control
        total too) the one-off savings less the one-off costs."""
        done = self.to_date("saving_to_date", "saving", org)
        if basis == "in_year":
            done += (self.to_date("nonrecurrent_to_date", "nonrecurrent_saving", org)
                     - self.to_date("cost_to_date", "one_off_cost", org))
        return done

    def to_date(self, column: str, metric: str, org: str | None) -> float:
        weight = self.fig.org_weight(metric, org)
        return float(sum(getattr(r, column) * weight[self.fig.index[r.scheme]] for r in self.actuals.rows))


def check_replan(instance: Instance, actuals: Actuals, plan: dict[str, int | None], objective: float | None,
                 outturn: pd.DataFrame | None) -> ActualsCheck:
    """Recompute and compare; `plan` is the re-plan's start year of every scheme of `instance`."""
    report = ActualsCheck()
    Y = actuals.as_at.year
    tracker = actuals.by_scheme
    for s in instance.schemes:
        row, start = tracker.get(s.id), plan.get(s.id)
        if row is not None and row.is_started and start != row.started.year:
            report.problems.append(f"scheme {s.id} started in {row.started.calendar} but the re-plan starts it "
                                   f"in {start}")
        elif row is not None and row.status == "stopped" and start is not None:
            report.problems.append(f"scheme {s.id} is stopped but the re-plan starts it in {start}")
        elif (row is None or not row.is_started) and start is not None and (
                start < Y or (start == Y and actuals.as_at.month == 12)):
            report.problems.append(f"scheme {s.id} has not started by {actuals.as_at.calendar}; the re-plan cannot "
                                   f"start it in {start}")
    for b in actuals.bridges:
        if plan.get(b.id) not in (None, Y):
            report.problems.append(f"bridge {b.id} can only start in {Y}, not {plan.get(b.id)}")
    if report.problems:
        return report
    figs = ReplanFigures(instance, actuals, plan)
    n = len(figs.years)
    started = figs.started.astype(float)
    new = 1.0 - started
    rows, shortfalls = [], {}
    for t in instance.targets:
        bounds = np.array([t.values.get(int(y), np.nan) for y in figs.years])
        done = figs.delivered(t.basis, t.org)
        rec_all, non_all = figs.net(t.basis, t.org)
        achieved = rec_all + non_all
        achieved[0] += done
        short = np.where(np.isnan(bounds), 0.0, np.maximum(0.0, np.nan_to_num(bounds) - achieved))
        shortfalls[t.id] = short
        for j in range(n):
            if t.hard and not np.isnan(bounds[j]) and short[j] > tolerance(bounds[j], abs(achieved[j])):
                report.problems.append(f"hard target {t.id} in {int(figs.years[j])}: forecast outturn "
                                       f"{achieved[j]:,.1f} is below the required {bounds[j]:,.1f}")
        if not np.isnan(bounds[0]):
            rows.append(_recovery_row(t.id, float(bounds[0]), done, figs, t.basis, t.org, started, new,
                                      float(achieved[0]), float(short[0])))
    bottom = _bottom_line(instance, actuals, figs, plan, shortfalls, report.problems)
    for ct in (instance.finance.control_totals if instance.finance is not None else ()):
        if Y not in ct.values:
            continue
        # the in-year net saving the control total needs: less the do-nothing surplus and the year's gains
        required = ct.values[Y] - bottom.do_nothing_surplus(ct.org)[0] - bottom.gains(ct.org)[0]
        done = figs.delivered("in_year", ct.org)
        rec_all, non_all = figs.net("in_year", ct.org)
        achieved = float(done + rec_all[0] + non_all[0])
        rows.append(_recovery_row(ct.id, required, done, figs, "in_year", ct.org, started, new,
                                  achieved, max(0.0, required - achieved)))
    for lim in instance.limits:
        use = figs.total(lim.metric, lim.org)
        if instance.finance is not None and lim.id in instance.finance.receipts_raise:
            use = use - bottom.receipts(lim.org)
        use[0] += figs.bridge_total(lim.metric, lim.org)
        column = {m: c for c, m in TO_DATE.items()}.get(lim.metric)
        if column:
            use[0] += figs.to_date(column, lim.metric, lim.org)
        for j, y in enumerate(figs.years):
            bound = lim.values.get(int(y))
            if bound is None:
                continue
            slack = tolerance(bound, abs(use[j]))
            broken = {"<=": use[j] > bound + slack, ">=": use[j] < bound - slack,
                      "==": abs(use[j] - bound) > slack}[lim.sense]
            if broken:
                report.problems.append(f"limit {lim.id} in {int(y)}: {use[j]:,.1f} (to date included) is not "
                                       f"{lim.sense} {bound:,.1f}")
    report.outturn = pd.DataFrame(rows, columns=["target", *OUTTURN_COLUMNS])
    report.objective = _objective(instance, figs, shortfalls) + bottom.value
    if outturn is not None:
        mine = report.outturn.set_index("target")
        for r in outturn.itertuples():
            for column in OUTTURN_COLUMNS:
                theirs, ours = float(getattr(r, column)), float(mine.at[r.target, column])
                if abs(theirs - ours) > tolerance(ours, abs(ours)):
                    report.problems.append(f"target {r.target}: the re-plan reports {column} {theirs:,.6f}, "
                                           f"the checker finds {ours:,.6f}")
    if objective is not None and instance.objective.risk in ("none", "expected") and \
            abs(objective - report.objective) > 1e-6 * max(1.0, abs(objective), abs(report.objective)):
        report.problems.append(f"the re-plan's objective is {objective:,.6f}, the checker finds {report.objective:,.6f}")
    return report


class _BottomLine:
    """The re-plan's bottom line from the as-at year (docs/finance.md), in the checker's own terms:
    control totals as do-nothing surplus + in-year net saving (delivered to date included) + gains on
    disposal; incentive funds received only in a year every condition is met; disposals in the year
    the selling scheme's true start plus `offset` reaches."""

    def __init__(self, instance: Instance, figs: ReplanFigures, plan: dict[str, int | None]):
        self.instance, self.figs = instance, figs
        self.sales: list[tuple[str, np.ndarray, np.ndarray]] = []  # (org, receipt, gain) per disposal
        fin = instance.finance
        for r in (fin.capital_receipts if fin else ()):
            start = plan.get(r.scheme)
            year = None if start is None else start + r.offset
            hit = (figs.years == year).astype(float)
            org = next(s.org for s in instance.schemes if s.id == r.scheme)
            self.sales.append((org, hit * r.value, hit * (r.value - r.book_value)))
        self.value = 0.0

    def receipts(self, org: str | None) -> np.ndarray:
        return sum((rec for o, rec, _ in self.sales if org is None or o == org), np.zeros(len(self.figs.years)))

    def gains(self, org: str | None) -> np.ndarray:
        return sum((g for o, _, g in self.sales if org is None or o == org), np.zeros(len(self.figs.years)))

    def do_nothing_surplus(self, org: str | None) -> np.ndarray:
        out = np.zeros(len(self.figs.years))
        col = {int(y): j for j, y in enumerate(self.figs.years)}
        for p in self.instance.finance.organisations:
            if org is None or p.org == org:
                for y, year in p.do_nothing.items():
                    if int(y) in col:
                        out[col[int(y)]] += year.income - year.pay - year.non_pay - year.capital_charges
        return out


def _recovery_row(rule_id: str, required: float, done: float, figs: ReplanFigures, basis: str,
                  org: str | None, started: np.ndarray, new: np.ndarray, outturn: float, shortfall: float) -> dict:
    """recovery.csv's row of a target or control total this year: delivered, forecast from the
    schemes started, and how far the new and moved schemes close the gap."""
    rec_s, non_s = figs.net(basis, org, started, bridges=False)
    rec_n, non_n = figs.net(basis, org, new)
    gap = float(required - done - rec_s[0] - non_s[0])
    recurrently = min(max(gap, 0.0), max(float(rec_n[0]), 0.0))
    return {"target": rule_id, "delivered_to_date": done, "forecast_started": float(rec_s[0] + non_s[0]),
            "gap_before_recovery": gap, "recovery_recurrent": float(rec_n[0]),
            "recovery_nonrecurrent": float(non_n[0]), "gap_closed_recurrent": recurrently,
            "gap_closed_nonrecurrent": min(max(gap, 0.0) - recurrently, max(float(non_n[0]), 0.0)),
            "forecast_outturn": outturn, "shortfall": shortfall}


def _bottom_line(instance: Instance, actuals: Actuals, figs: ReplanFigures, plan: dict[str, int | None],
                 shortfalls: dict[str, np.ndarray], problems: list[str]) -> _BottomLine:
    """Control totals and incentive funds of the re-plan's years; `value` is what they add to the
    objective (incentives received, under net_present_value the disposals' proceeds, less the soft
    control totals' penalties), discounted to the as-at year."""
    bottom = _BottomLine(instance, figs, plan)
    fin = instance.finance
    if fin is None:
        return bottom
    d = (1.0 + instance.discount_rate) ** -(figs.years - figs.years[0]).astype(float)
    missed: dict[str, np.ndarray] = {}
    for t in instance.targets:
        bounds = np.array([t.values.get(int(y), np.nan) for y in figs.years])
        missed[t.id] = ~np.isnan(bounds) & (shortfalls[t.id] > np.array(
            [tolerance(b, abs(b)) if not np.isnan(b) else 0.0 for b in bounds]))
    for ct in fin.control_totals:
        rec, non = figs.net("in_year", ct.org)
        surplus = bottom.do_nothing_surplus(ct.org) + rec + non + bottom.gains(ct.org)
        surplus[0] += figs.delivered("in_year", ct.org)
        bounds = np.array([ct.values.get(int(y), np.nan) for y in figs.years])
        short = np.where(np.isnan(bounds), 0.0, np.maximum(0.0, np.nan_to_num(bounds) - surplus))
        slack = np.array([tolerance(b, abs(v)) for b, v in zip(np.nan_to_num(bounds), surplus)])
        missed[ct.id] = ~np.isnan(bounds) & (short > slack)
        if ct.hard:
            for j in np.flatnonzero(missed[ct.id]):
                problems.append(f"hard control total {ct.id} in {int(figs.years[j])}: forecast surplus "
                                f"{surplus[j]:,.1f} is below the required {bounds[j]:,.1f}")
        else:
            bottom.value -= ct.shortfall_penalty * float(d @ short)
    money = instance.objective.mode != "weighted_score"
    for f in fin.incentive_funds:
        amount = np.array([f.values.get(int(y), 0.0) for y in figs.years])
        lost = np.zeros(len(figs.years), dtype=bool)
        for c in f.conditions:
            lost |= missed[c]
        if money:
            bottom.value += float(d @ np.where(lost, 0.0, amount))
    if instance.objective.mode == "net_present_value":
        bottom.value += float(d @ bottom.receipts(None))
    return bottom


def _objective(instance: Instance, figs: ReplanFigures, shortfalls: dict[str, np.ndarray]) -> float:
    """Value of the remaining choice, discounted to the as-at year; to-date amounts are sunk."""
    d = (1.0 + instance.discount_rate) ** -(figs.years - figs.years[0]).astype(float)
    penalty = sum(t.shortfall_penalty * float(d @ shortfalls[t.id]) for t in instance.targets if not t.hard)
    mode = instance.objective.mode
    if mode == "weighted_score":
        weight = {c.id: (c.weight or 0.0) for c in instance.criteria}
        return float(sum(weight.get(sc.criterion, 0.0) * sc.score for sc in instance.scores
                         if figs.fig.selected[figs.fig.index[sc.scheme]])) - penalty
    expected = instance.objective.counts_confidence
    net = (figs.total("saving", None, expected) - figs.total("running_cost", None)
           + figs.total("nonrecurrent_saving", None, expected) - figs.total("one_off_cost", None)
           - figs.total("double_running_cost", None))
    net[0] += figs.bridge_total("nonrecurrent_saving", None, True) - figs.bridge_total("one_off_cost", None)
    if mode == "net_present_value":
        net = net - figs.total("capital_cost", None)
    return float(d @ net) - penalty
