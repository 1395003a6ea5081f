"""The finance director's bottom line (format extension, docs/finance.md): the do-nothing income
and expenditure position and cash per organisation, control totals stated as a surplus or
deficit, and incentive funds paid in full only in a year their conditions are met.

Kept apart from the format-v1 models so that an instance without `finance` means exactly what it
meant before.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from cipopt.schema.base import FromYaml


class DoNothingYear(FromYaml):
    """One organisation's do-nothing I&E for one year (before any scheme): income less costs."""

    income: float = 0.0
    """Operating income (patient care income, education and training, other)."""
    pay: float = Field(default=0.0, ge=0)
    """Pay costs: substantive, bank and agency staff."""
    non_pay: float = Field(default=0.0, ge=0)
    """Non-pay costs: drugs, clinical supplies, premises, services bought in."""
    capital_charges: float = Field(default=0.0, ge=0)
    """Depreciation and the public dividend capital charge, as charged to I&E."""

    @property
    def surplus(self) -> float:
        """The do-nothing surplus (negative: a deficit)."""
        return self.income - self.pay - self.non_pay - self.capital_charges


class OrgFinance(FromYaml):
    """One organisation's do-nothing position and opening cash."""

    org: str = Field(min_length=1)
    """The organisation (an id of `organisations`)."""
    opening_cash: float = 0.0
    """Cash at the start of the first plan year."""
    do_nothing: dict[int, DoNothingYear] = {}
    """Per plan year, the I&E without any scheme; a year not listed counts as all zero."""


class ControlTotal(FromYaml):
    """A control total as the board states it: the I&E surplus (negative: deficit) to deliver.

    Measured before incentive funding (the funds' own condition), with the plan's in-year net
    saving for the organisation (its shares) added to the do-nothing surplus.
    """

    id: str = Field(min_length=1)
    """Unique id (among targets, limits, fair shares, control totals and incentive funds)."""
    org: str | None = None
    """The organisation; omitted = the system (every organisation with a do-nothing position)."""
    values: dict[int, float]
    """Per year, the surplus required (a deficit as a negative number)."""
    hard: bool = False
    """hard: must be met; soft: a shortfall is allowed at `shortfall_penalty` per unit."""
    shortfall_penalty: float = Field(default=0.0, ge=0)
    """Money lost per unit of shortfall, discounted; 0: the cliff of an incentive fund prices it."""


class IncentiveFund(FromYaml):
    """Incentive money (e.g. STF/PSF) paid to an organisation in a year only if every condition
    that names the year is met that year: received in full, or lost in full."""

    id: str = Field(min_length=1)
    """Unique id (among targets, limits, fair shares, control totals and incentive funds)."""
    org: str = Field(min_length=1)
    """The organisation whose I&E and cash receive it."""
    values: dict[int, float]
    """Per year, the amount paid if the conditions are met."""
    conditions: tuple[str, ...] = Field(min_length=1)
    """Ids of control totals or targets that must be met (no shortfall) in the year."""

    @model_validator(mode="after")
    def _positive(self) -> "IncentiveFund":
        if any(v < 0 for v in self.values.values()):
            raise ValueError("an incentive fund pays a non-negative amount each year")
        return self


class IncomeFlow(FromYaml):
    """A signed flow of income a scheme causes between organisations (activity-based payment):
    avoided admissions cut the acute trust's tariff income while the commissioner saves."""

    scheme: str = Field(min_length=1)
    """The scheme (an id of schemes.csv)."""
    org: str = Field(min_length=1)
    """The organisation whose income changes."""
    factor: float
    """The income change per unit of the scheme's recurrent saving, each active year (negative: lost
    income); at confidence x value when savings are."""


class CapitalReceipt(FromYaml):
    """A disposal (land, a building) a scheme makes `offset` years after it starts: the cash funds capital;
    only the gain or loss against the asset's book value touches I&E."""

    scheme: str = Field(min_length=1)
    """The scheme that sells (an id of schemes.csv); the receipt is its organisation's."""
    value: float = Field(ge=0)
    """The sale proceeds, received in the scheme's start year."""
    book_value: float = Field(default=0.0, ge=0)
    """The asset's net book value: value - book_value is the gain (loss if negative) on disposal."""
    offset: int = Field(default=0, ge=0)
    """Years after the scheme's start that the sale completes (0: the start year); at face value."""


class CapitalCharges(FromYaml):
    """How the capital the plan spends is charged to I&E: depreciation and the PDC dividend."""

    asset_life: int = Field(ge=1)
    """Years over which a scheme's capital cost is depreciated, straight line, from the year after it is spent."""
    pdc_rate: float = Field(default=0.035, ge=0, lt=1)
    """Public dividend capital charge on the new assets' net book value at the start of each year."""


class CostBaseline(FromYaml):
    """A cost base several schemes cut (agency spend, a pay group): together, in any year, their
    recurrent savings (plan values) cannot exceed it."""

    id: str = Field(min_length=1)
    """Unique id (among targets, limits, fair shares, control totals and incentive funds)."""
    schemes: tuple[str, ...] = Field(min_length=1)
    """The schemes that cut this base."""
    values: dict[int, float]
    """Per year, the size of the base; a year not listed has no bound."""


class SchemeEnd(FromYaml):
    """A scheme that stops (a bridge: a vacancy freeze, a one-year rate holiday): after `years`
    active years every figure it has (savings, costs, quality scores, custom metrics) ends."""

    scheme: str = Field(min_length=1)
    """The scheme (an id of schemes.csv)."""
    years: int = Field(ge=1)
    """How many years it runs from its start year, that year included."""


class Finance(FromYaml):
    """The bottom line: do-nothing positions, control totals, incentive funds, income flows."""

    organisations: tuple[OrgFinance, ...] = ()
    """Each organisation's do-nothing I&E and opening cash."""
    control_totals: tuple[ControlTotal, ...] = ()
    """Surplus (deficit) figures per organisation or system and year."""
    incentive_funds: tuple[IncentiveFund, ...] = ()
    """Money paid in full only in a year every condition is met."""
    income_flows: tuple[IncomeFlow, ...] = ()
    """Signed income changes between organisations caused by schemes."""
    capital_receipts: tuple[CapitalReceipt, ...] = ()
    """Disposals by schemes: cash in the start year, the gain on disposal to I&E."""
    capital_charges: CapitalCharges | None = None
    """Depreciation and PDC on the plan's capital spend (None: the plan's capital touches only cash)."""
    cost_baselines: tuple[CostBaseline, ...] = ()
    """Shared cost bases: the schemes cutting one base save at most the base together."""
    appraisal_years: int | None = Field(default=None, ge=1)
    """Green Book appraisal period from the first plan year (e.g. 10): under net_present_value the
    last plan year's recurrent net saving continues, discounted, to its end (a terminal value)."""
    receipts_raise: tuple[str, ...] = ()
    """Ids of `<=` limits (a capital envelope) that capital receipts raise: in a year, the limit counts
    its metric less the receipts of its organisation (or of all) received that year."""
    score_scale: str | None = None
    """Fund appraisal by size: a numeric schemes.csv column (population reached, a stated benefit)
    that multiplies each bid's weighted criteria score in the weighted_score objective."""
    scheme_ends: tuple[SchemeEnd, ...] = ()
    """Schemes that stop after a number of years (bridges)."""
    non_cash_releasing: tuple[str, ...] = ()
    """Schemes whose savings release no cash (productivity): counted in targets, not in the
    surplus, control totals or cash."""


def finance_problems(instance, org_ok, error) -> None:
    """Log every meaning problem of `instance.finance`: `error(message, key)`, `org_ok(org)`.

    Organisations known, one position per organisation, years within the plan, ids unique
    (among targets, limits and fair shares too), every condition a control total or a target.
    """
    fin = instance.finance
    if fin is None:
        return
    years = set(instance.years)
    span = f"{instance.years[0]}-{instance.years[-1]}" if instance.years else "none"

    def years_in_plan(values: dict, key: str) -> None:
        for y in values:
            if y not in years:
                error(f"year {y} is outside the plan years {span}", f"{key}.{y}")

    def known_org(org: str, key: str) -> None:
        if not org_ok(org):
            error(f"unknown organisation {org!r}: expected one of {', '.join(instance.org_ids)}", key)

    seen_orgs: set[str] = set()
    for i, o in enumerate(fin.organisations):
        key = f"finance.organisations[{i}]"
        known_org(o.org, f"{key}.org")
        if o.org in seen_orgs:
            error(f"organisation {o.org!r} has a second do-nothing position: give one per organisation",
                  f"{key}.org")
        seen_orgs.add(o.org)
        years_in_plan(o.do_nothing, f"{key}.do_nothing")
    taken = {r.id for r in (*instance.targets, *instance.limits, *instance.fair_shares)}
    for kind, rules in (("control_totals", fin.control_totals), ("incentive_funds", fin.incentive_funds),
                        ("cost_baselines", fin.cost_baselines)):
        for i, rule in enumerate(rules):
            key = f"finance.{kind}[{i}]"
            if rule.id in taken:
                error(f"duplicate id {rule.id!r} (targets, limits, fair shares, control totals and incentive "
                      "funds need unique ids)", f"{key}.id")
            taken.add(rule.id)
            if getattr(rule, "org", None) is not None:
                known_org(rule.org, f"{key}.org")
            years_in_plan(rule.values, f"{key}.values")
    if fin.appraisal_years is not None and fin.appraisal_years < len(instance.years):
        error(f"appraisal period {fin.appraisal_years} is shorter than the {len(instance.years)} plan years",
              "finance.appraisal_years")
    if fin.score_scale is not None and instance.schemes \
            and not any(fin.score_scale in sc.metrics for sc in instance.schemes):
        error(f"score_scale {fin.score_scale!r} is not a numeric column of schemes.csv", "finance.score_scale")
    limits = {lim.id: lim for lim in instance.limits}
    for i, lid in enumerate(fin.receipts_raise):
        if lid not in limits:
            error(f"unknown limit {lid!r}: expected one of {', '.join(limits) or 'none defined'}",
                  f"finance.receipts_raise[{i}]")
        elif limits[lid].sense != "<=":
            error(f"limit {lid!r} has sense {limits[lid].sense!r}: receipts raise only an upper limit (<=)",
                  f"finance.receipts_raise[{i}]")
    schemes = {sc.id for sc in instance.schemes}
    for i, flow in enumerate(fin.income_flows):
        known_org(flow.org, f"finance.income_flows[{i}].org")
        if flow.scheme not in schemes:
            error(f"unknown scheme {flow.scheme!r}: no row of schemes.csv has this id",
                  f"finance.income_flows[{i}].scheme")
    for i, receipt in enumerate(fin.capital_receipts):
        if receipt.scheme not in schemes:
            error(f"unknown scheme {receipt.scheme!r}: no row of schemes.csv has this id",
                  f"finance.capital_receipts[{i}].scheme")
    for i, base in enumerate(fin.cost_baselines):
        for j, sid in enumerate(base.schemes):
            if sid not in schemes:
                error(f"unknown scheme {sid!r}: no row of schemes.csv has this id",
                      f"finance.cost_baselines[{i}].schemes[{j}]")
    ended: set[str] = set()
    for i, end in enumerate(fin.scheme_ends):
        if end.scheme not in schemes:
            error(f"unknown scheme {end.scheme!r}: no row of schemes.csv has this id", f"finance.scheme_ends[{i}].scheme")
        elif end.scheme in ended:
            error(f"scheme {end.scheme!r} is given a second end: give one per scheme", f"finance.scheme_ends[{i}].scheme")
        ended.add(end.scheme)
    for i, sid in enumerate(fin.non_cash_releasing):
        if sid not in schemes:
            error(f"unknown scheme {sid!r}: no row of schemes.csv has this id", f"finance.non_cash_releasing[{i}]")
    conditions = {t.id for t in instance.targets} | {c.id for c in fin.control_totals}
    for i, fund in enumerate(fin.incentive_funds):
        for j, c in enumerate(fund.conditions):
            if c not in conditions:
                error(f"unknown condition {c!r}: expected the id of a control total or a target "
                      f"({', '.join(sorted(conditions)) or 'none defined'})",
                      f"finance.incentive_funds[{i}].conditions[{j}]")


def full_year_effect_problems(instance, error) -> None:
    """Full-year-effect targets (docs/finance.md) are not drawn in delivery scenarios: refuse them
    with `risk: cvar` or `chance`, whose scenario rows know only the recurrent and in-year bases."""
    if instance.objective.risk not in ("cvar", "chance"):
        return
    for i, t in enumerate(instance.targets):
        if t.basis == "full_year_effect":
            error(f"target {t.id!r} has basis full_year_effect, which risk {instance.objective.risk} cannot "
                  "sample: use recurrent or in_year, or risk expected", f"targets[{i}].basis")
