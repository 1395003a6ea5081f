"""What a tracker export is: the actuals of schemes part way through a financial year.

A re-plan (docs/replan.md) starts from the approved plan and what has happened since: which
schemes started and when, what they delivered and cost to date, what they forecast for the rest
of the year. Money is in the instance's unit; amounts are for the current financial year only.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from cipopt.schema.instance import Frozen

STATUSES = ("not_started", "in_delivery", "complete", "stopped")
STARTED = ("in_delivery", "complete")
RAGS = ("red", "amber", "green", "")

# The tracker's money columns, and the scheme metric each one stands for in the current year.
TO_DATE = {"saving_to_date": "saving", "nonrecurrent_to_date": "nonrecurrent_saving",
           "cost_to_date": "one_off_cost", "capital_to_date": "capital_cost"}
FORECAST = {"forecast_saving": "saving", "forecast_nonrecurrent": "nonrecurrent_saving",
            "forecast_cost": "one_off_cost", "forecast_capital": "capital_cost"}
MONEY_COLUMNS = tuple(TO_DATE) + tuple(FORECAST)


class Month(Frozen):
    """A month as a financial year (named by the calendar year it starts in) and its month 1-12
    counted from April: calendar 2025-09 is month 6 of 2025/26, 2026-01 month 10 of 2025/26."""

    year: int
    """The financial year, by the calendar year it starts in."""
    month: int = Field(ge=1, le=12)
    """The month of the financial year, 1 (April) to 12 (March)."""

    @classmethod
    def of_calendar(cls, year: int, month: int) -> "Month":
        return cls(year=year, month=month - 3) if month >= 4 else cls(year=year - 1, month=month + 9)

    @property
    def calendar(self) -> str:
        m = self.month + 3
        return f"{self.year}-{m:02d}" if m <= 12 else f"{self.year + 1}-{m - 12:02d}"

    def __lt__(self, other: "Month") -> bool:
        return (self.year, self.month) < (other.year, other.month)

    def __le__(self, other: "Month") -> bool:
        return (self.year, self.month) <= (other.year, other.month)


class ActualRow(Frozen):
    """One scheme's line of the tracker (a row of actuals.csv or the workbook sheet `actuals`)."""

    scheme: str = Field(min_length=1)
    """Scheme id."""
    status: Literal["not_started", "in_delivery", "complete", "stopped"]
    """not_started, in_delivery, complete or stopped."""
    started: Month | None = None
    """The month it actually started (in_delivery, complete; a stopped scheme may give it)."""
    saving_to_date: float = 0.0
    """Recurrent saving delivered this financial year up to and including the as-at month."""
    nonrecurrent_to_date: float = 0.0
    """Non-recurrent saving delivered this financial year to date."""
    cost_to_date: float = Field(default=0.0, ge=0)
    """Revenue costs spent this year to date (one-off, running and double running together)."""
    capital_to_date: float = Field(default=0.0, ge=0)
    """Capital spent this financial year to date."""
    forecast_saving: float = 0.0
    """Recurrent saving forecast for the remaining months of the year."""
    forecast_nonrecurrent: float = 0.0
    """Non-recurrent saving forecast for the remaining months of the year."""
    forecast_cost: float = Field(default=0.0, ge=0)
    """Revenue costs forecast for the remaining months of the year."""
    forecast_capital: float = Field(default=0.0, ge=0)
    """Capital forecast for the remaining months of the year."""
    rag: Literal["red", "amber", "green", ""] = ""
    """The tracker's red, amber or green rating (empty: none), carried through."""
    row: int | None = None
    """Where the row was read (spreadsheet row), for messages."""

    @property
    def is_started(self) -> bool:
        return self.status in STARTED


class Bridge(Frozen):
    """A non-recurrent measure with an end, available only to close this year's gap: a vacancy hold,
    a pause on discretionary spend (a row of bridges.csv). It saves `monthly_saving` in every month
    from the first remaining month to `until`, once, and nothing in later years."""

    id: str = Field(min_length=1)
    """Unique id of the bridge (not a scheme id)."""
    name: str = ""
    """Name shown in reports (empty: the id)."""
    org: str = ""
    """Organisation that makes the saving (empty: the first organisation)."""
    monthly_saving: float = Field(gt=0)
    """The saving in each month it holds."""
    until: Month
    """The last month it holds."""
    one_off_cost: float = Field(default=0.0, ge=0)
    """Revenue cost of putting it in place, this year."""
    confidence: float = Field(default=1.0, ge=0, le=1)
    """Probability of delivery, 0 to 1."""
    safety: int = Field(default=0, ge=-2, le=2)
    """QIA score (patient safety), -2 to +2."""
    effectiveness: int = Field(default=0, ge=-2, le=2)
    """QIA score (clinical outcomes), -2 to +2."""
    experience: int = Field(default=0, ge=-2, le=2)
    """QIA score (patient experience), -2 to +2."""
    access: int = Field(default=0, ge=-2, le=2)
    """QIA score (access), -2 to +2."""
    qia_risk: float = Field(default=1, ge=1, le=25)
    """Residual quality risk after mitigation, likelihood (1-5) x consequence (1-5)."""
    qia_approved: bool = False
    """true: the medical and nursing directors signed off its quality impact assessment."""
    metrics: dict[str, float] = {}
    """Other numeric columns (pmo_days): the value in the current year."""
    row: int | None = None
    """Where the row was read (spreadsheet row), for messages."""

    def months(self, as_at: Month) -> int:
        """How many months it holds: from the month after `as_at` to `until`."""
        return max(0, self.until.month - as_at.month) if self.until.year == as_at.year else 0

    def saving(self, as_at: Month) -> float:
        return self.monthly_saving * self.months(as_at)


class Actuals(Frozen):
    """The tracker at an as-at month, with the month-by-month phasing of the current year."""

    as_at: Month
    """The last month the tracker covers."""
    rows: tuple[ActualRow, ...] = ()
    """One line per scheme of the tracker."""
    phasing: tuple[float, ...] = (1 / 12,) * 12
    """Share of a full year's saving delivered in each month (April first); default 1/12 each."""
    source: str = "actuals"
    """Where the tracker was read, for messages."""
    bridges: tuple[Bridge, ...] = ()
    """Non-recurrent measures available to close this year's gap (bridges.csv)."""

    @model_validator(mode="after")
    def _phasing_is_a_year(self) -> "Actuals":
        if len(self.phasing) != 12 or abs(sum(self.phasing) - 1.0) > 1e-6 or min(self.phasing) < 0:
            raise ValueError("the phasing must give 12 non-negative monthly shares summing to 1")
        return self

    @property
    def by_scheme(self) -> dict[str, ActualRow]:
        return {r.scheme: r for r in self.rows}

    def share_from(self, month: int) -> float:
        """Share of a full year delivered by a scheme active from `month` (1-12) to March."""
        return float(sum(self.phasing[month - 1:]))

    @property
    def remaining_share(self) -> float:
        """Share of a full year in the months after the as-at month."""
        return self.share_from(self.as_at.month + 1) if self.as_at.month < 12 else 0.0
