"""A third evaluator of plans, and a brute-force optimiser, for tiny instances in tests.

Written apart from `cipopt.check` on purpose (plain loops over schemes and years, straight from
instance-format.md and docs/semantics.md), so that the checker and the MIP are each compared
with something that cannot share their mistakes.
"""

from __future__ import annotations

import itertools

from cipopt.schema.instance import Instance

TOL = 1e-6  # a row holds if it misses its bound by at most TOL * (1 + |bound|)

SAVINGS = ("saving", "nonrecurrent_saving")
COSTS = ("one_off_cost", "capital_cost", "running_cost", "double_running_cost")


def _profile_table(instance: Instance) -> dict[tuple[str, str], dict[int, float]]:
    table: dict[tuple[str, str], dict[int, float]] = {}
    for row in instance.profiles:
        metric = "saving" if row.metric == "recurrent_saving" else row.metric
        offsets = table.setdefault((row.scheme, metric), {})
        if row.offset < len(instance.years):
            offsets[row.offset] = row.value
    return table


def scheme_value(scheme, metric: str, k: int, profiles) -> float:
    """What a scheme contributes to a metric at offset k >= 0 (plan value, no confidence)."""
    if (scheme.id, metric) in profiles:
        return profiles[(scheme.id, metric)].get(k, 0.0)
    if metric == "saving":
        if k == 0:
            return scheme.recurrent_saving * scheme.first_year_fraction
        return scheme.recurrent_saving
    if metric in ("nonrecurrent_saving", "one_off_cost", "capital_cost"):
        if k == 0:
            return getattr(scheme, metric)
        return 0.0
    if metric == "running_cost":
        return scheme.running_cost
    if metric == "double_running_cost":
        if k < scheme.double_running_years:
            return scheme.double_running_cost
        return 0.0
    if metric in ("safety", "effectiveness", "experience", "access"):
        return float(getattr(scheme, metric))
    return scheme.metrics.get(metric, 0.0)


def share_of(instance: Instance, scheme, org: str | None, metric: str) -> float:
    """The part of a scheme's metric that counts for `org` (None: everything)."""
    if org is None:
        return 1.0
    if metric in SAVINGS or metric in COSTS:
        rows = [sh for sh in instance.shares if sh.scheme == scheme.id]
        if not rows:
            return 1.0 if scheme.org == org else 0.0
        for sh in rows:
            if sh.org == org:
                return sh.saving_share if metric in SAVINGS else sh.cost_share
        return 0.0
    return 1.0 if scheme.org == org else 0.0


def eligible(instance: Instance, scheme) -> bool:
    q = instance.quality
    if q.hard_max_risk is not None and scheme.qia_risk > q.hard_max_risk:
        return False
    if scheme.qia_approved:
        return True
    for domain in q.scheme_min:
        if domain in ("safety", "effectiveness", "experience", "access"):
            score = getattr(scheme, domain)
        else:
            score = scheme.metrics.get(domain, 0.0)
        if score < q.scheme_min[domain]:
            return False
    if q.max_risk is not None and scheme.qia_risk > q.max_risk:
        return False
    return True


def evaluate(instance: Instance, plan: dict) -> tuple[bool, float]:
    """(does the plan keep every rule, its objective value) — the plan as in `check_plan`."""
    broken, objective = broken_rules(instance, plan)
    return not broken, objective


def _sums(instance: Instance, start: dict, profiles, expected: bool):
    """The plan's yearly sums by plain loops: (total, recurrent, in_year, discount, achieved_by)."""
    years = list(instance.years)
    first = years[0]
    stops = {e.scheme: e.years for e in (instance.finance.scheme_ends if instance.finance is not None else ())}

    def total(metric: str, org: str | None, year: int, with_confidence: bool) -> float:
        result = 0.0
        for s in instance.schemes:
            t = start[s.id]
            if t is None or year < t or year - t >= stops.get(s.id, len(years) + 1):
                continue
            value = scheme_value(s, metric, year - t, profiles) * share_of(instance, s, org, metric)
            if with_confidence and expected:
                value *= s.confidence
            result += value
        return result

    def recurrent(org, year):
        return total("saving", org, year, True) - total("running_cost", org, year, False)

    def in_year(org, year):
        return (recurrent(org, year) + total("nonrecurrent_saving", org, year, True)
                - total("one_off_cost", org, year, False) - total("double_running_cost", org, year, False))

    def discount(year):
        return (1.0 + instance.discount_rate) ** (-(year - first))

    def achieved_by(target, year):
        if target.basis == "recurrent":
            return recurrent(target.org, year)
        if target.basis == "full_year_effect":  # docs/finance.md: the exit run-rate
            achieved = recurrent(target.org, year)
            for s in instance.schemes:
                if start[s.id] == year and (s.id, "saving") not in profiles:
                    rest = s.recurrent_saving * (1 - s.first_year_fraction) * share_of(instance, s, target.org, "saving")
                    achieved += rest * (s.confidence if expected else 1.0)
            return achieved
        return in_year(target.org, year)

    return total, recurrent, in_year, discount, achieved_by


def broken_rules(instance: Instance, plan: dict) -> tuple[set[str], float]:
    """(the ids of the rules the plan breaks, as docs/checker.md names them, its objective)."""
    years = list(instance.years)
    first, last = years[0], years[-1]
    profiles = _profile_table(instance)
    expected = instance.objective.risk == "expected"
    broken: set[str] = set()

    by_id = {s.id: s for s in instance.schemes}
    for sid in plan:
        if sid not in by_id:
            broken.add("unknown_scheme")
    start = {s.id: plan.get(s.id) for s in instance.schemes}

    # each scheme starts at most once, within its window; eligible; not excluded; mandatory ones selected
    for s in instance.schemes:
        t = start[s.id]
        if t is None:
            if s.mandatory:
                broken.add("mandatory")
            continue
        lo = first if s.earliest_start is None else s.earliest_start
        hi = last if s.latest_start is None else s.latest_start
        if t < lo or t > hi:
            broken.add("window")
        if not eligible(instance, s):
            broken.add("eligibility")
        if s.excluded:
            broken.add("excluded")

    # relations
    for r in instance.relations:
        ta, tb = start[r.a], start[r.b]
        if r.kind == "requires":
            if ta is not None and (tb is None or tb > ta - r.lag):
                broken.add("relation:requires")
        elif r.kind == "excludes":
            if ta is not None and tb is not None:
                broken.add("relation:excludes")
        elif r.kind == "together":
            if (ta is None) != (tb is None):
                broken.add("relation:together")
        elif r.kind == "precedes":
            if ta is not None and tb is not None and tb < ta + r.lag:
                broken.add("relation:precedes")

    stops = {e.scheme: e.years for e in (instance.finance.scheme_ends if instance.finance is not None else ())}
    total, recurrent, in_year, discount, achieved_by = _sums(instance, start, profiles, expected)

    penalty = 0.0
    for target in instance.targets:
        for year, value in target.values.items():
            achieved = achieved_by(target, year)
            short = max(0.0, value - achieved)
            if target.hard:
                if short > TOL * (1 + abs(value)):
                    broken.add("target_hard")
            else:
                penalty += target.shortfall_penalty * discount(year) * short

    for limit in instance.limits:
        metric = "saving" if limit.metric == "recurrent_saving" else limit.metric
        for year, bound in limit.values.items():
            use = total(metric, limit.org, year, False)
            fin = instance.finance
            if fin is not None and limit.id in fin.receipts_raise:  # sales raise the capital envelope
                for r in fin.capital_receipts:
                    t = start[r.scheme]
                    if (limit.org is None or by_id[r.scheme].org == limit.org) and t is not None \
                            and t + r.offset == year:
                        use -= r.value
            slack = TOL * (1 + abs(bound))
            if limit.sense == "<=" and use > bound + slack:
                broken.add("limit")
            if limit.sense == ">=" and use < bound - slack:
                broken.add("limit")
            if limit.sense == "==" and abs(use - bound) > slack:
                broken.add("limit")

    for domain, minimum in instance.quality.portfolio_min.items():
        for year in years:
            if total(domain, None, year, False) < minimum - TOL * (1 + abs(minimum)):
                broken.add("quality_floor")

    mode = instance.objective.mode
    if mode == "weighted_score":
        weights = {c.id: c.weight for c in instance.criteria}
        objective = 0.0
        scale = instance.finance.score_scale if instance.finance is not None else None
        for sc in instance.scores:
            if start[sc.scheme] is not None and weights.get(sc.criterion) is not None:
                benefit = by_id[sc.scheme].metrics.get(scale, 0.0) if scale is not None else 1.0
                objective += weights[sc.criterion] * sc.score * benefit
    else:
        objective = 0.0
        for year in years:
            value = in_year(None, year)
            if mode == "net_present_value":
                value -= total("capital_cost", None, year, False)
            objective += discount(year) * value

    # docs/finance.md: control totals as a surplus, incentive funds with a cliff
    fin = instance.finance
    if fin is not None:
        def surplus_before_incentive(org, year):
            base = 0.0
            for position in fin.organisations:
                if org is None or position.org == org:
                    dn = position.do_nothing.get(year)
                    if dn is not None:
                        base += dn.income - dn.pay - dn.non_pay - dn.capital_charges
            for sid in set(fin.non_cash_releasing):  # productivity: no cash released
                s = by_id[sid]
                t = start[sid]
                if t is not None and t <= year < t + stops.get(sid, len(years) + 1):
                    for metric in ("saving", "nonrecurrent_saving"):
                        value = scheme_value(s, metric, year - t, profiles) * share_of(instance, s, org, metric)
                        base -= value * (s.confidence if expected else 1.0)
            for flow in fin.income_flows:  # signed income moved between organisations
                t = start[flow.scheme]
                if (org is None or flow.org == org) and t is not None and t <= year < t + stops.get(flow.scheme, len(years) + 1):
                    s = by_id[flow.scheme]
                    base += flow.factor * scheme_value(s, "saving", year - t, profiles) * (s.confidence if expected else 1.0)
            for r in fin.capital_receipts:  # a disposal: only the gain touches I&E
                if (org is None or by_id[r.scheme].org == org) and start[r.scheme] is not None \
                        and start[r.scheme] + r.offset == year:
                    base += r.value - r.book_value
            charges = fin.capital_charges
            if charges is not None:  # depreciation from the year after the spend, PDC on opening book value
                def spent(y):
                    return total("capital_cost", org, y, False) if y >= first else 0.0

                def dep(y):
                    return sum(spent(y - k) for k in range(1, charges.asset_life + 1)) / charges.asset_life
                book = sum(spent(y) - dep(y) for y in range(first, year))
                base -= dep(year) + charges.pdc_rate * book
            return base + in_year(org, year)

        def met(rule_id, year):
            for target in instance.targets:
                if target.id == rule_id:
                    if year not in target.values:
                        return True
                    got = achieved_by(target, year)
                    return got >= target.values[year] - TOL * (1 + abs(target.values[year]))
            ct = next(c for c in fin.control_totals if c.id == rule_id)
            if year not in ct.values:
                return True
            return surplus_before_incentive(ct.org, year) >= ct.values[year] - TOL * (1 + abs(ct.values[year]))

        for base in fin.cost_baselines:  # schemes cutting one cost base save at most the base together
            for year, bound in base.values.items():
                cut = 0.0
                for sid in set(base.schemes):
                    t = start[sid]
                    if t is not None and t <= year < t + stops.get(sid, len(years) + 1):
                        cut += scheme_value(by_id[sid], "saving", year - t, profiles)
                if cut > bound + TOL * (1 + abs(bound)):
                    broken.add("cost_baseline")
        for ct in fin.control_totals:
            for year, value in ct.values.items():
                short = max(0.0, value - surplus_before_incentive(ct.org, year))
                if ct.hard:
                    if short > TOL * (1 + abs(value)):
                        broken.add("control_total")
                else:
                    penalty += ct.shortfall_penalty * discount(year) * short
        if mode == "net_present_value" and fin.appraisal_years is not None:  # terminal value
            for k in range(len(years), fin.appraisal_years):
                objective += (1.0 + instance.discount_rate) ** (-k) * recurrent(None, last)
        if mode == "net_present_value":
            for r in fin.capital_receipts:
                if start[r.scheme] is not None and start[r.scheme] + r.offset in years:
                    objective += discount(start[r.scheme] + r.offset) * r.value
        if mode != "weighted_score":
            for fund in fin.incentive_funds:
                for year, amount in fund.values.items():
                    if all(met(c, year) for c in fund.conditions):
                        objective += discount(year) * amount
    return broken, objective - penalty


def all_plans(instance: Instance):
    """Every plan: each scheme not selected or started in a year of its window."""
    first, last = instance.years[0], instance.years[-1]
    choices = []
    for s in instance.schemes:
        lo = first if s.earliest_start is None else s.earliest_start
        hi = last if s.latest_start is None else s.latest_start
        choices.append([None] + list(range(lo, hi + 1)))
    ids = [s.id for s in instance.schemes]
    for combo in itertools.product(*choices):
        yield dict(zip(ids, combo))


def brute_force(instance: Instance, rel_tol: float = 1e-9) -> tuple[float | None, list[dict]]:
    """(best objective or None if no plan is feasible, every plan within rel_tol of the best)."""
    scored = []
    for plan in all_plans(instance):
        ok, value = evaluate(instance, plan)
        if ok:
            scored.append((value, plan))
    if not scored:
        return None, []
    best = max(v for v, _ in scored)
    close = rel_tol * max(1.0, abs(best))
    return best, [p for v, p in scored if v >= best - close]


def plan_figures(instance: Instance, plan: dict) -> dict:
    """The figures a board reads of a plan, by plain loops: `npv` (Σ_y d(y)·(in-year net saving −
    capital), no penalties, in every mode), `penalty` (Σ soft shortfall × penalty × d(y)),
    `achieved` and `shortfall` per (target, year), `use` per (limit, year), `quality` per (domain, year)."""
    years = list(instance.years)
    profiles = _profile_table(instance)
    expected = instance.objective.risk != "none"
    start = {s.id: plan.get(s.id) for s in instance.schemes}
    total, recurrent, in_year, d, achieved_by = _sums(instance, start, profiles, expected)

    out = {"npv": sum(d(y) * (in_year(None, y) - total("capital_cost", None, y, False)) for y in years),
           "penalty": 0.0, "achieved": {}, "shortfall": {}, "use": {}, "quality": {}}
    for t in instance.targets:
        for y, value in t.values.items():
            got = achieved_by(t, y)
            out["achieved"][t.id, y] = got
            out["shortfall"][t.id, y] = max(0.0, value - got)
            if not t.hard:
                out["penalty"] += t.shortfall_penalty * d(y) * max(0.0, value - got)
    for lim in instance.limits:
        metric = "saving" if lim.metric == "recurrent_saving" else lim.metric
        for y in lim.values:
            out["use"][lim.id, y] = total(metric, lim.org, y, False)
    for domain in instance.quality.portfolio_min:
        for y in years:
            out["quality"][domain, y] = total(domain, None, y, False)
    return out
