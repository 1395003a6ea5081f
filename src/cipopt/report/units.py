"""How the board paper writes money, years and names: one place, so every figure reads alike.

Money is shown in £k or £m (the reader's choice) with thousands separators everywhere; an
instance whose money unit is not pounds keeps its own unit, unscaled. Years are financial years
(2025 -> 2025/26). Ids and snake_case become words (`control-total` -> "control total").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

# the instance's money_unit -> how many pounds one unit is
POUNDS = {"gbp": 1.0, "gbp thousand": 1e3, "gbp thousands": 1e3, "gbp000": 1e3, "gbp 000": 1e3,
          "£k": 1e3, "£000": 1e3, "gbp million": 1e6, "gbp millions": 1e6, "£m": 1e6}
SCALES = {"k": (1e3, "£k", 0), "m": (1e6, "£m", 2)}


@dataclass(frozen=True)
class Units:
    """Money in the unit a board reads: `factor` turns an instance figure into it."""

    factor: float
    symbol: str  # "£k", "£m", or the instance's own unit when it is not pounds
    decimals: int
    pounds: bool = True

    @classmethod
    def of(cls, money_unit: str, scale: str = "k") -> "Units":
        per_unit = POUNDS.get(" ".join(str(money_unit).lower().split()))
        if per_unit is None:
            return cls(1.0, str(money_unit), 0, pounds=False)
        size, symbol, decimals = SCALES[scale]
        return cls(per_unit / size, symbol, decimals)

    def value(self, v: float) -> float:
        return float(v) * self.factor

    def number(self, v: float | None, decimals: int | None = None) -> str:
        """The figure in this unit, thousands separated, no unit: for tables headed with the unit."""
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "-"
        d = self.decimals if decimals is None else decimals
        shown = round(self.value(v), d) + 0.0  # no "-0"
        return f"{shown:,.{d}f}"

    def money(self, v: float | None) -> str:
        """The figure with its unit, for sentences: £1,414k, £51.43m."""
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "-"
        text = self.number(abs(v))
        sign = "-" if round(self.value(v), self.decimals) < 0 else ""
        if not self.pounds:
            return f"{sign}{text} {self.symbol}"
        return f"{sign}£{text}{self.symbol[1:]}"

    def tick(self, v: float, step: float) -> str:
        """An axis tick in this unit, with as many decimals as the step needs."""
        value = self.value(v) + 0.0
        s = abs(self.value(step)) or 1.0
        d = 0 if s >= 1 else min(3, int(math.ceil(-math.log10(s) - 1e-9)))
        return f"{round(value, d) + 0.0:,.{d}f}"


    def tick_in_unit(self, v: float, step: float) -> str:
        """An axis tick of a value already in this unit."""
        d = 0 if step >= 1 else min(3, int(math.ceil(-math.log10(step) - 1e-9)))
        return f"{round(v, d) + 0.0:,.{d}f}"


def fy(year: Any) -> str:
    """2025 -> 2025/26, as NHS finance writes a financial year."""
    try:
        y = int(year)
    except (TypeError, ValueError):
        return str(year)
    return f"{y}/{(y + 1) % 100:02d}"


ACRONYMS = {"pmo": "PMO", "wte": "WTE", "qia": "QIA", "ed": "ED", "mri": "MRI", "epr": "EPR", "nhs": "NHS",
            "ics": "ICS", "icb": "ICB", "it": "IT", "gp": "GP", "cip": "CIP", "npv": "NPV", "hca": "HCA"}


def words(identifier: Any) -> str:
    """An id or snake_case name as words: `control-total` -> "control total", `pmo_days` -> "PMO days"."""
    return " ".join(ACRONYMS.get(w, w) for w in str(identifier).replace("_", " ").replace("-", " ").split())


def plain(value: float | None, decimals: int = 0) -> str:
    """A count or score with thousands separators (not money)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{round(float(value), decimals) + 0.0:,.{decimals}f}"


def listing(items: list[str], limit: int = 0) -> str:
    """"a, b and c"; with a limit, "a, b and 3 more"."""
    items = list(items)
    if limit and len(items) > limit:
        shown, rest = items[:limit], len(items) - limit
        return ", ".join(shown) + f" and {rest} more"
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
